"""Shortcut learning exposed by the warehouse: eval_site_shortcut and eval_within_site_auc on a
corpus where one site marks its positives and has a much higher prevalence
(synth.Shortcut), checked against scikit-learn and numpy; and the dataset_profile counts the
report's profile plots draw.

The predictions are those of tests/integration/test_models_warehouse.py (ties, failures, a
constant-score version and one that scores positives only) plus a "site reader" version whose
score depends on the site alone: its pooled AUC is high, its within-site AUC is 0.5.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from collections import Counter, defaultdict

import numpy as np
import pydicom
import pytest
import sklearn.metrics as sk  # scikit-learn is declared in the test extra

from mi_warehouse.config import load_settings
from mi_warehouse.dbt_like.runner import run_models
from mi_warehouse.dbt_like.runner import test_models as run_data_tests
from mi_warehouse.engine.connection import connect
from mi_warehouse.loaders.labels import load_labels
from mi_warehouse.loaders.load import LoadOptions, run_load
from mi_warehouse.migrations.runner import Migrator
from mi_warehouse.reports.profile_plots import NONE_LABEL, load_profile, profile_plots
from mi_warehouse.synth import Shortcut, generate

from ..conftest import REPO
from .test_models_warehouse import (T0, TOL, in_adult_chest_xr, latest_ok, make_predictions, record_runs,
                                    register_versions, split_of, write_predictions)

SITE = "SAM"
GROUP = ("model_name", "model_version", "cohort", "split")
READER = ("site_reader", "1")


def site_reader(truth: dict[str, int], site_of: dict[str, str], rng) -> list[dict]:
    """Scores from the site alone (0.8 at the marker site, 0.2 elsewhere, rounded noise: ties)."""
    rows = []
    for sop in sorted(truth):
        p = float(np.clip(round((0.8 if site_of[sop] == SITE else 0.2) + rng.normal(0, 0.05), 2), 0, 1))
        rows.append(dict(sop_instance_uid=sop, predicted_label="finding" if p >= 0.5 else "normal",
                         probability=p, scores=[1 - p, p], status="ok", error=None, latency_ms=1.0,
                         provider="CPUExecutionProvider", run_id="run-reader", predicted_at=T0))
    return rows


@pytest.fixture(scope="module")
def sw(server_env, tmp_path_factory):
    root = tmp_path_factory.mktemp("shortcut_corpus")
    env = dict(server_env, MIW_DATABASE=f"sct_{os.getpid()}", MIW_PHI_DATABASE=f"sct_{os.getpid()}_phi")
    settings = load_settings(REPO, env=env)
    session = connect(settings)
    corpus = root / "synth"
    summary = generate(corpus, patients=60, seed=17, image_size=32, shortcut=Shortcut(SITE))
    Migrator(session, settings).apply()
    run_load(session, settings, [str(corpus)], LoadOptions(workers=2, batch_rows=200))
    load_labels(session, settings, corpus / "labels.csv")
    with open(corpus / "labels.csv", newline="") as f:
        truth = {r["sop_instance_uid"]: int(r["label_value"]) for r in csv.DictReader(f)}
    site_of = {}
    for path in corpus.rglob("*.dcm"):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        site_of[ds.SOPInstanceUID] = ds.AccessionNumber[:3]  # accession numbers start with the site code
    db = settings.database
    meta = {m["sop_instance_uid"]: m for m in session.execute(
        f"SELECT sop_instance_uid, patient_key, study_uid, study_date, modality, body_part, view_position, "
        f"patient_age_years, institution_key, manufacturer, `rows`, `columns` FROM {db}.dicom_metadata").dicts()}
    others = sorted(s for s in meta if s not in truth)
    preds = make_predictions(truth, others)
    preds[READER] = site_reader(truth, site_of, np.random.default_rng(5))
    write_predictions(session, settings, preds)
    register_versions(session, settings)
    record_runs(session, settings, preds, [])
    run = run_models(session, settings, select="+eval_within_site_auc +dataset_profile eval_calibration "
                                               "eval_metrics_by_site")
    tests = run_data_tests(session, settings, select="eval_site_shortcut eval_within_site_auc dataset_profile")
    yield dict(session=session, settings=settings, db=db, truth=truth, meta=meta, preds=preds, site_of=site_of,
               summary=summary, run=run, tests=tests)
    session.close()


def q(sw, sql: str) -> list[dict]:
    return sw["session"].execute(sql).dicts()


def scored(sw) -> dict[tuple, list[dict]]:
    """The evaluated images per (model, version, cohort, split incl. 'all'): latest valid score, truth, site."""
    out: dict[tuple, list[dict]] = defaultdict(list)
    for (name, version), rows in sw["preds"].items():
        for sop, p in latest_ok(rows).items():
            if sop not in sw["truth"]:
                continue
            m = sw["meta"][sop]
            for cohort in ["all"] + (["adult_chest_xr"] if in_adult_chest_xr(m) else []):
                for split in (split_of(m["patient_key"]), "all"):
                    out[(name, version, cohort, split)].append(
                        dict(y=sw["truth"][sop], p=p, site=m["institution_key"]))
    return out


def auc_or_none(y, s) -> float | None:
    y = np.asarray(y)
    return float(sk.roc_auc_score(y, s)) if len(set(y.tolist())) == 2 else None


def close(got, want, where) -> None:
    if want is None or got is None:
        assert got is None and want is None, (where, got, want)
    else:
        assert abs(float(got) - float(want)) <= TOL, (where, got, want)


def expected_sites(rows: list[dict]) -> dict:
    y = np.array([r["y"] for r in rows])
    p = np.array([r["p"] for r in rows], dtype=float)
    site = np.array([r["site"] for r in rows], dtype=object)
    out = {}
    for s in set(site.tolist()):
        at = site == s
        out[s] = dict(n=int(at.sum()), n_positive=int(y[at].sum()), n_negative=int((1 - y[at]).sum()),
                      prevalence=float(y[at].mean()), mean_score=float(p[at].mean()),
                      mean_score_positive=float(p[at & (y == 1)].mean()) if (at & (y == 1)).any() else None,
                      mean_score_negative=float(p[at & (y == 0)].mean()) if (at & (y == 0)).any() else None,
                      auc=auc_or_none(y[at], p[at]), site_auc=auc_or_none(at.astype(int), p),
                      site_auc_positive=auc_or_none(at[y == 1].astype(int), p[y == 1]),
                      site_auc_negative=auc_or_none(at[y == 0].astype(int), p[y == 0]), group_n=len(y))
    return out


def test_models_build_and_their_data_tests_pass(sw):
    assert sw["run"].ok, [(r.name, r.message) for r in sw["run"].results if r.status != "success"]
    assert {"eval_site_shortcut", "eval_within_site_auc", "dataset_profile"} <= {r.name for r in sw["run"].results}
    assert sw["tests"].ok, [(r.name, r.message) for r in sw["tests"].results if r.status != "pass"]
    assert {t.test.model for t in sw["tests"].manifest.tests.values() if t.test.model} >= {
        "eval_site_shortcut", "eval_within_site_auc"}


def test_the_corpus_has_the_shortcut(sw):
    """Every marked image is a positive of the marker site, which has the higher prevalence."""
    by_site = defaultdict(list)
    for sop, y in sw["truth"].items():
        by_site[sw["site_of"][sop]].append(y)
    assert sw["summary"].marked == sum(by_site[SITE]) > 0
    others = [y for s, ys in by_site.items() if s != SITE for y in ys]
    assert np.mean(by_site[SITE]) > np.mean(others) + 0.3


def test_eval_site_shortcut_matches_sklearn(sw):
    got = defaultdict(dict)
    for r in q(sw, f"SELECT * FROM {sw['db']}.eval_site_shortcut"):
        got[tuple(r[k] for k in GROUP)][r["institution_key"]] = r
    want = scored(sw)
    assert set(got) == set(want)
    nulls = Counter()
    for key, rows in want.items():
        exp = expected_sites(rows)
        assert set(got[key]) == set(exp), key
        for site, e in exp.items():
            for col, w in e.items():
                close(got[key][site][col], w, (key, site, col))
                nulls[col] += w is None
    # one class only gives NULL, not an error: the positives-only version has no negatives
    assert nulls["auc"] and nulls["site_auc_negative"] and nulls["mean_score_negative"]
    ties = sum(len(rows) - len({r["p"] for r in rows}) for rows in want.values())
    assert ties > 50


def test_eval_within_site_auc_matches_sklearn(sw):
    got = {tuple(r[k] for k in GROUP): r for r in q(sw, f"SELECT * FROM {sw['db']}.eval_within_site_auc")}
    want = scored(sw)
    assert set(got) == set(want)
    for key, rows in want.items():
        sites = expected_sites(rows)
        aucs = [s["auc"] for s in sites.values() if s["auc"] is not None]
        pairs = [(s["auc"], s["n_positive"] * s["n_negative"]) for s in sites.values() if s["auc"] is not None]
        pooled = auc_or_none([r["y"] for r in rows], [r["p"] for r in rows])
        prev = np.array([s["prevalence"] for s in sites.values()])
        mean = np.array([s["mean_score"] for s in sites.values()])
        corr = (float(np.corrcoef(prev, mean)[0, 1]) if len(sites) > 1 and prev.std() > 0 and mean.std() > 0
                else None)

        def top(col):
            vals = [s[col] for s in sites.values() if s[col] is not None]
            return max(vals) if vals else None

        e = dict(n=len(rows), n_sites=len(sites), n_sites_with_auc=len(aucs), pooled_auc=pooled,
                 within_site_auc_mean=float(np.mean(aucs)) if aucs else None,
                 within_site_auc_pairs=sum(a * w for a, w in pairs) / sum(w for _, w in pairs) if pairs else None,
                 within_site_auc_min=min(aucs) if aucs else None, within_site_auc_max=max(aucs) if aucs else None,
                 auc_gap=pooled - float(np.mean(aucs)) if aucs and pooled is not None else None,
                 max_site_auc=top("site_auc"), max_site_auc_positive=top("site_auc_positive"),
                 max_site_auc_negative=top("site_auc_negative"), prevalence_score_corr=corr)
        for col, w in e.items():
            close(got[key][col], w, (key, col))
    assert any(r["prevalence_score_corr"] is None for r in got.values())  # a constant score


def test_a_site_reader_is_exposed_and_an_honest_score_is_not(sw):
    rows = {(r["model_name"], r["model_version"]): r for r in q(
        sw, f"SELECT * FROM {sw['db']}.eval_within_site_auc WHERE cohort = 'all' AND split = 'all'")}
    reader, honest = rows[READER], rows[("chest_finding", "1.1")]
    assert reader["pooled_auc"] > 0.7 and reader["within_site_auc_mean"] < 0.65
    assert reader["auc_gap"] > 0.15 and reader["max_site_auc_positive"] > 0.95
    assert reader["prevalence_score_corr"] > 0.9
    assert abs(honest["auc_gap"]) < 0.1  # its score follows the finding, not the site
    assert honest["max_site_auc_positive"] < reader["max_site_auc_positive"] - 0.2


def test_dataset_profile_counts_behind_the_plots(sw):
    rows = load_profile(sw["session"], sw["settings"])
    by_split = {r["split"]: r for r in rows}
    assert set(by_split) == {"train", "validation", "test", "all"}
    for split, r in by_split.items():
        ms = [m for m in sw["meta"].values() if split in ("all", split_of(m["patient_key"]))]
        sites, makers, sizes = Counter(), Counter(), Counter()
        pos, neg = Counter(), Counter()
        for m in ms:
            sites[m["institution_key"]] += 1
            makers[m["manufacturer"]] += 1
            sizes[(m["rows"], m["columns"])] += 1
            y = sw["truth"].get(m["sop_instance_uid"])
            pos[m["institution_key"]] += y == 1
            neg[m["institution_key"]] += y == 0
        assert {d["institution_key"]: (d["n_images"], d["n_positive"], d["n_negative"]) for d in r["images_by_site"]} \
            == {k: (v, pos[k], neg[k]) for k, v in sites.items()}
        assert {d["manufacturer"]: d["n_images"] for d in r["images_by_manufacturer"]} == dict(makers)
        assert {(d["image_rows"], d["image_columns"]): d["n_images"] for d in r["images_by_size"]} == dict(sizes)
    plots = {p.key: p for p in profile_plots(rows)}
    overall = by_split["all"]
    assert dict(zip(plots["sites"].labels, plots["sites"].series["positive"])) == {
        (NONE_LABEL if d["institution_key"] is None else d["institution_key"]): d["n_positive"]
        for d in overall["images_by_site"]}
    assert sum(plots["manufacturers"].series["images"]) == overall["n_images"] == len(sw["meta"])
    assert plots["class_balance"].series["positive"][plots["class_balance"].labels.index("all")] == sum(sw["truth"].values())


def test_report_shows_the_profile_from_the_warehouse(sw, tmp_path):
    import re

    from mi_warehouse.reports import write_eval_report

    path = write_eval_report(sw["session"], sw["settings"], "chest_finding:1.1", "adult_chest_xr", tmp_path / "r",
                             split="all")
    text = path.read_text(encoding="utf-8")
    assert sorted(re.findall(r'<img [^>]*data-plot="(\w+)"', text)) == ["class_balance", "image_sizes",
                                                                        "manufacturers", "sites"]
    table = re.search(r'<table class=profile data-plot="manufacturers">(.*?)</table>', text, re.S).group(1)
    shown = {k: int(v) for k, v in re.findall(r"<td class=key>([^<]*)</td><td>(\d+)</td>", table)}
    want = Counter(m["manufacturer"] for m in sw["meta"].values())
    assert shown == {k.replace("&", "&amp;"): v for k, v in want.items()}
