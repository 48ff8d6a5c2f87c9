"""The shipped models (sql/models) on a synthetic corpus, checked against scikit-learn and numpy,
and against reference implementations written here from the papers (each named where it is used):
DeLong, DeLong & Clarke-Pearson (1988) for one AUC and for two correlated AUCs, Obuchowski (1997)
for the patient-clustered AUC variance, the cluster-robust ratio-estimator variance for
proportions, McNemar (1947) with Edwards' continuity correction.

One module fixture generates and loads a small corpus, loads its labels, writes predictions of
four model versions straight into the predictions table (Parquet files + ADD PARTITION, as the
inference code does), registers the versions, runs every model and every data test once. The
tests then recompute each number in Python from the same inputs.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import math
import os
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import sklearn.metrics as sk  # scikit-learn is declared in the test extra
from scipy import stats  # scipy comes with scikit-learn

from mi_warehouse.config import load_settings
from mi_warehouse.dbt_like.errors import UnsafeVariable
from mi_warehouse.dbt_like.runner import run_models
from mi_warehouse.dbt_like.runner import test_models as run_data_tests
from mi_warehouse.engine import literals as lit
from mi_warehouse.engine import metastore
from mi_warehouse.engine.connection import connect
from mi_warehouse.loaders.labels import load_labels
from mi_warehouse.loaders.load import LoadOptions, run_load
from mi_warehouse.runtime.storage import filesystem, join, write_parquet_atomic
from mi_warehouse.synth import generate
from mi_warehouse.migrations.runner import Migrator
from mi_warehouse.reports import write_eval_report

from ..conftest import REPO

Z = 1.959963984540054  # scipy.stats.norm.ppf(0.975)
TOL = 1e-9
SQRT_TOL = 1e-7
MODEL_NAMES = ["cohort_adult_chest_xr", "cohort_ct_pet", "cohort_longitudinal", "patient_split",
               "dataset_profile", "eval_predictions", "eval_unscored", "eval_metrics", "eval_calibration",
               "eval_metrics_by_site", "eval_metrics_by_manufacturer", "eval_compare_versions",
               "eval_site_shortcut", "eval_within_site_auc", "longitudinal_scores", "model_lineage"]
GROUP = ("model_name", "model_version", "cohort", "split")
T0 = dt.datetime(2025, 3, 1, 12, 0, 0)

# name, version, threshold, parent, registered_at
VERSIONS = [("chest_finding", "1.0", 0.5, None, dt.datetime(2024, 1, 1)),
            ("chest_finding", "1.1", 0.4, "1.0", dt.datetime(2024, 6, 1)),
            ("edge", "const", 0.5, None, dt.datetime(2024, 1, 1)),
            ("edge", "posonly", 0.5, None, dt.datetime(2024, 2, 1))]


# --- building the corpus ----------------------------------------------------------------------
PRED_SCHEMA = pa.schema([("sop_instance_uid", pa.string()), ("predicted_label", pa.string()),
                         ("probability", pa.float64()), ("scores", pa.list_(pa.float64())),
                         ("status", pa.string()), ("error", pa.string()), ("latency_ms", pa.float64()),
                         ("provider", pa.string()), ("run_id", pa.string()),
                         ("predicted_at", pa.timestamp("us"))])


def make_predictions(truth: dict[str, int], other_sops: list[str]) -> dict[tuple[str, str], list[dict]]:
    """Rows per (model, version). Ties on purpose (1.0 rounds to 0.1), a superseded earlier run,
    error rows, images without labels, a constant-score version and one scoring positives only."""
    rng = np.random.default_rng(2024)
    sops = sorted(truth)
    out: dict[tuple[str, str], list[dict]] = defaultdict(list)

    def row(key, sop, p, run, at, status="ok"):
        out[key].append(dict(sop_instance_uid=sop, predicted_label=None if p is None else ("finding" if p >= 0.5 else "normal"),
                             probability=p, scores=None if p is None else [1.0 - p, p], status=status,
                             error=None if status == "ok" else "decode failed", latency_ms=1.0,
                             provider="CPUExecutionProvider", run_id=run, predicted_at=at))

    for sop in sops:
        y = truth[sop]
        p10 = float(np.clip(round(0.25 + 0.3 * y + rng.normal(0, 0.22), 1), 0.0, 1.0))
        p11 = float(np.clip(round(0.2 + 0.45 * y + rng.normal(0, 0.2), 3), 0.0, 1.0))
        row(("chest_finding", "1.0"), sop, p10, "run-cf10", T0)
        row(("chest_finding", "1.1"), sop, p11, "run-cf11", T0 + dt.timedelta(days=1))
        row(("edge", "const"), sop, 0.5, "run-const", T0)
        if y == 1:
            row(("edge", "posonly"), sop, float(round(rng.uniform(), 2)), "run-pos", T0)
    for sop in sops[:6]:  # an earlier run of 1.1, superseded by run-cf11
        row(("chest_finding", "1.1"), sop, 0.999, "run-cf11-old", T0 - dt.timedelta(days=3))
    for sop in sops[6:9]:  # later failures do not hide the ok rows; they never reach evaluation
        row(("chest_finding", "1.1"), sop, None, "run-cf11-err", T0 + dt.timedelta(days=2), status="error")
    for sop in other_sops[:5]:  # images without labels: in lineage, not in evaluation
        row(("chest_finding", "1.1"), sop, 0.3, "run-cf11", T0 + dt.timedelta(days=1))
    # coverage: 1.0 fails on some images (error rows only, a NaN and an out-of-range probability
    # marked ok) and has no row for others; 1.1 has no row for a third set: the versions are
    # compared on the images both scored
    failed, invalid, missing10, missing11 = sops[10:16], sops[16:18], sops[18:22], sops[22:30]
    out[("chest_finding", "1.0")] = [r for r in out[("chest_finding", "1.0")]
                                     if r["sop_instance_uid"] not in failed + invalid + missing10]
    out[("chest_finding", "1.1")] = [r for r in out[("chest_finding", "1.1")]
                                     if r["sop_instance_uid"] not in missing11]
    for sop in failed:
        row(("chest_finding", "1.0"), sop, None, "run-cf10", T0, status="error")
    for sop, p in zip(invalid, (float("nan"), 1.7)):
        row(("chest_finding", "1.0"), sop, p, "run-cf10", T0)
    return out


def write_predictions(session, settings, preds) -> None:
    table = f"{settings.database}.predictions"
    info = metastore.describe(session, table)
    fs, base = filesystem(info.location)
    for (name, version), rows in preds.items():
        cols = {f.name: pa.array([r[f.name] for r in rows], type=f.type) for f in PRED_SCHEMA}
        folder = join(base, f"model_name={name}", f"model_version={version}")
        fs.create_dir(folder, recursive=True)
        write_parquet_atomic(fs, join(folder, "part-00000.parquet"), pa.table(cols, schema=PRED_SCHEMA))
        session.execute(f"ALTER TABLE {lit.identifier(table)} ADD IF NOT EXISTS PARTITION "
                        f"(model_name = {lit.string(name)}, model_version = {lit.string(version)})")
    metastore.refresh(session, table)


def register_versions(session, settings) -> None:
    rows = []
    for name, version, threshold, parent, at in VERSIONS:
        sha = hashlib.sha256(f"{name}:{version}".encode()).hexdigest()
        vals = [name, version, sha, f"file:///models/{name}/{version}/model.onnx", 17, None, "{}", None,
                threshold, f"train_{name}", f"train-run-{version}", "{}", "test", at, parent]
        types = ["STRING", "STRING", "STRING", "STRING", "INT", "ARRAY<INT>", "STRING", "ARRAY<STRING>",
                 "DOUBLE", "STRING", "STRING", "STRING", "STRING", "TIMESTAMP", "STRING"]
        rows.append("SELECT " + ", ".join(f"CAST({lit.value(v)} AS {t})" for v, t in zip(vals, types)))
    session.execute(f"INSERT INTO TABLE {settings.database}.model_versions " + " UNION ALL ".join(rows))


def record_runs(session, settings, preds, partitions: list[str]) -> None:
    rows = []
    runs = sorted({(r["run_id"], k) for k, rs in preds.items() for r in rs})
    for run_id, (name, version) in runs:
        sha = hashlib.sha256(f"{name}:{version}".encode()).hexdigest()
        vals = [run_id, name, version, sha, "cohort_adult_chest_xr", json.dumps(partitions), 1, 1, 0,
                "CPUExecutionProvider", "host", T0, T0, "succeeded", None]
        types = ["STRING"] * 6 + ["BIGINT"] * 3 + ["STRING"] * 2 + ["TIMESTAMP"] * 2 + ["STRING"] * 2
        rows.append("SELECT " + ", ".join(f"CAST({lit.value(v)} AS {t})" for v, t in zip(vals, types)))
    session.execute(f"INSERT INTO TABLE {settings.database}.inference_runs " + " UNION ALL ".join(rows))


def build(session, settings, root: Path) -> dict:
    generate(root / "synth", patients=40, seed=5, image_size=32)
    Migrator(session, settings).apply()
    run_load(session, settings, [str(root / "synth")], LoadOptions(workers=2, batch_rows=200))
    load_labels(session, settings, root / "synth" / "labels.csv")
    with open(root / "synth" / "labels.csv", newline="") as f:
        truth = {r["sop_instance_uid"]: int(r["label_value"]) for r in csv.DictReader(f)}
    db = settings.database
    meta = session.execute(
        f"SELECT sop_instance_uid, patient_key, study_uid, study_date, modality, body_part, view_position, "
        f"patient_age_years, institution_key, manufacturer, study_year, study_month FROM {db}.dicom_metadata").dicts()
    others = sorted(m["sop_instance_uid"] for m in meta if m["sop_instance_uid"] not in truth)
    preds = make_predictions(truth, others)
    write_predictions(session, settings, preds)
    register_versions(session, settings)
    partitions = sorted({f"study_year={m['study_year']}/study_month={m['study_month']}/modality={m['modality']}"
                         for m in meta if m["modality"] in ("CR", "DX")})
    record_runs(session, settings, preds, partitions)
    return {"truth": truth, "meta": {m["sop_instance_uid"]: m for m in meta}, "preds": preds,
            "partitions": partitions}


@pytest.fixture(scope="module")
def wh(server_env, tmp_path_factory):
    """A fresh database with the corpus, labels, predictions and registry; every model built once."""
    root = tmp_path_factory.mktemp("models_corpus")
    env = dict(server_env, MIW_DATABASE=f"mdl_{os.getpid()}", MIW_PHI_DATABASE=f"mdl_{os.getpid()}_phi")
    settings = load_settings(REPO, env=env)
    session = connect(settings)
    data = build(session, settings, root)
    run = run_models(session, settings)
    tests = run_data_tests(session, settings)
    data.update(session=session, settings=settings, run=run, tests=tests, db=settings.database)
    yield data
    session.close()


# --- expectations, computed in Python from the same inputs ------------------------------------
def q(wh, sql: str) -> list[dict]:
    return wh["session"].execute(sql).dicts()


def split_of(patient_key: str, salt: str = "mi", train: float = 0.7, validation: float = 0.15) -> str:
    u = int(hashlib.md5(f"{salt}:{patient_key}".encode()).hexdigest()[:8], 16) / 2**32
    return "train" if u < train else "validation" if u < train + validation else "test"


def in_adult_chest_xr(m: dict) -> bool:
    return (m["modality"] in ("CR", "DX") and (m["body_part"] or "").upper() == "CHEST"
            and (m["view_position"] or "").upper() in ("PA", "AP") and m["patient_age_years"] is not None
            and m["patient_age_years"] >= 18 and m["study_date"] is not None)


def latest_ok(rows: list[dict]) -> dict[str, float]:
    best: dict[str, dict] = {}
    for r in rows:
        p = r["probability"]
        if r["status"] != "ok" or p is None or not 0.0 <= p <= 1.0:  # NaN fails the comparison
            continue
        cur = best.get(r["sop_instance_uid"])
        if cur is None or (r["predicted_at"], r["run_id"]) > (cur["predicted_at"], cur["run_id"]):
            best[r["sop_instance_uid"]] = r
    return {s: r["probability"] for s, r in best.items()}


def eval_rows(wh) -> list[dict]:
    """What eval_predictions must hold, with split 'all' added: one dict per (version, cohort, split, image)."""
    thresholds = {(n, v): t for n, v, t, _, _ in VERSIONS}
    out = []
    for (name, version), rows in wh["preds"].items():
        for sop, p in latest_ok(rows).items():
            if sop not in wh["truth"]:
                continue
            m = wh["meta"][sop]
            cohorts = ["all"] + (["adult_chest_xr"] if in_adult_chest_xr(m) else [])
            for cohort in cohorts:
                for split in (split_of(m["patient_key"]), "all"):
                    out.append(dict(model_name=name, model_version=version, cohort=cohort, split=split,
                                    sop=sop, y=wh["truth"][sop], p=p, t=thresholds[(name, version)],
                                    patient_key=m["patient_key"],
                                    institution_key=m["institution_key"], manufacturer=m["manufacturer"]))
    return out


def unscored_rows(wh) -> list[dict]:
    """What eval_unscored must hold, with split 'all' added: the cohort images (labelled) that a
    version with predictions has no valid prediction for; status 'error' when it has rows."""
    thresholds = {(n, v): t for n, v, t, _, _ in VERSIONS}
    out = []
    for (name, version), rows in wh["preds"].items():
        ok, seen = latest_ok(rows), {r["sop_instance_uid"] for r in rows}
        for sop, y in wh["truth"].items():
            if sop in ok:
                continue
            m = wh["meta"][sop]
            for cohort in ["all"] + (["adult_chest_xr"] if in_adult_chest_xr(m) else []):
                for split in (split_of(m["patient_key"]), "all"):
                    out.append(dict(model_name=name, model_version=version, cohort=cohort, split=split,
                                    sop=sop, y=y, t=thresholds[(name, version)],
                                    status="error" if sop in seen else "unscored",
                                    patient_key=m["patient_key"], institution_key=m["institution_key"],
                                    manufacturer=m["manufacturer"]))
    return out


def grouped(rows: list[dict], keys) -> dict[tuple, list[dict]]:
    out: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        out[tuple(r[k] for k in keys)].append(r)
    return out


def delong(y: np.ndarray, p: np.ndarray) -> tuple[float, float] | None:
    """AUC and its DeLong standard error from the full matrix of pairwise comparisons."""
    pos, neg = p[y == 1], p[y == 0]
    if len(pos) < 2 or len(neg) < 2:
        return None
    psi = (pos[:, None] > neg[None, :]).astype(float) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    se = math.sqrt(np.var(v10, ddof=1) / len(pos) + np.var(v01, ddof=1) / len(neg))
    return float(psi.mean()), se


def wilson(k: int, n: int) -> tuple[float | None, float | None]:
    if n == 0:
        return None, None
    centre = (k + Z * Z / 2) / (n + Z * Z)
    half = Z / (n + Z * Z) * math.sqrt(k * (n - k) / n + Z * Z / 4)
    return max(0.0, centre - half), min(1.0, centre + half)


def psi_matrix(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """psi(X_i, Y_j) for every (positive i, negative j): 1 above, 1/2 tied, 0 below."""
    pos, neg = p[y == 1], p[y == 0]
    return (pos[:, None] > neg[None, :]).astype(float) + 0.5 * (pos[:, None] == neg[None, :])


def obuchowski_se(y: np.ndarray, p: np.ndarray, cluster: list) -> float | None:
    """Obuchowski (1997, Biometrics 53:567), the clustered AUC variance as published: I clusters,
    m_i / n_i positives / negatives of cluster i, M / N in all, V10_i / V01_i the cluster sums of
    the structural components, S10 = I / ((I-1) M) sum (V10_i - m_i A)^2, S01 likewise with N,
    S11 = I / (I-1) sum (V10_i - m_i A)(V01_i - n_i A), var = S10 / M + S01 / N + 2 S11 / (M N)."""
    M, N = int((y == 1).sum()), int((y == 0).sum())
    clusters = sorted(set(cluster))
    if not M or not N or len(clusters) < 2:
        return None
    psi = psi_matrix(y, p)
    A = psi.mean()
    c = np.array(cluster, dtype=object)
    cpos, cneg = c[y == 1], c[y == 0]
    v10, v01 = psi.sum(axis=1) / N, psi.sum(axis=0) / M
    dev10 = np.array([v10[cpos == k].sum() - (cpos == k).sum() * A for k in clusters])
    dev01 = np.array([v01[cneg == k].sum() - (cneg == k).sum() * A for k in clusters])
    I = len(clusters)
    S10 = I / ((I - 1) * M) * (dev10 ** 2).sum()
    S01 = I / ((I - 1) * N) * (dev01 ** 2).sum()
    S11 = I / (I - 1) * (dev10 * dev01).sum()
    return math.sqrt(max(0.0, S10 / M + S01 / N + 2 * S11 / (M * N)))


def clustered_wilson(hits: list[int], cluster: list) -> tuple[float | None, float | None]:
    """A proportion's interval that allows for several images per patient: the ratio estimator's
    cluster-robust variance var = I / (I-1) sum (k_i - p m_i)^2 / n^2 over the I clusters in the
    denominator, then Wilson's interval at the effective size min(n, p (1 - p) / var) (n when
    that cannot be formed)."""
    n = len(hits)
    if n == 0:
        return None, None
    p = sum(hits) / n
    per: dict = defaultdict(lambda: [0, 0])
    for h, k in zip(hits, cluster):
        per[k][0] += h
        per[k][1] += 1
    I = len(per)
    var = I / (I - 1) * sum((k - p * m) ** 2 for k, m in per.values()) / n ** 2 if I > 1 else 0.0
    neff = min(n, p * (1 - p) / var) if var > 0 and 0 < p < 1 else n
    return wilson(p * neff, neff)


def nan_none(x) -> float | None:
    x = float(x)
    return None if math.isnan(x) else x


def expected_coverage(rows: list[dict], failed: list[dict]) -> dict:
    """Coverage and the metrics with every failed or unscored image counted as wrong: the AUC by
    scikit-learn with failed positives scored below and failed negatives above every image."""
    y = np.array([r["y"] for r in rows + failed])
    yhat = np.array([int(r["p"] >= r["t"]) for r in rows] + [1 - r["y"] for r in failed])
    worst = np.array([r["p"] for r in rows] + [-1.0 if r["y"] else 2.0 for r in failed])
    n1, n0 = int(y.sum()), int(len(y) - y.sum())
    tp, tn = int(((y == 1) & (yhat == 1)).sum()), int(((y == 0) & (yhat == 0)).sum())
    e = dict(n_scored=len(rows), n_error=sum(r["status"] == "error" for r in failed),
             n_unscored=sum(r["status"] == "unscored" for r in failed), n_cohort=len(y),
             coverage=len(rows) / len(y), cohort_positive=n1, cohort_negative=n0,
             sensitivity_failed_as_wrong=tp / n1 if n1 else None,
             specificity_failed_as_wrong=tn / n0 if n0 else None,
             accuracy_failed_as_wrong=sk.accuracy_score(y, yhat),
             auc_failed_as_wrong=sk.roc_auc_score(y, worst) if n1 and n0 else None)
    e["sensitivity_failed_as_wrong_ci_lower"], e["sensitivity_failed_as_wrong_ci_upper"] = wilson(tp, n1)
    e["specificity_failed_as_wrong_ci_lower"], e["specificity_failed_as_wrong_ci_upper"] = wilson(tn, n0)
    return e


def expected_clustered(rows: list[dict]) -> dict:
    y = np.array([r["y"] for r in rows])
    p = np.array([r["p"] for r in rows], dtype=float)
    pk = [r["patient_key"] for r in rows]
    se = obuchowski_se(y, p, pk)
    auc = sk.roc_auc_score(y, p) if len(set(y.tolist())) == 2 else None
    e = dict(n_patients=len(set(pk)), auc_se_clustered=se,
             auc_ci_lower_clustered=None if se is None else max(0.0, auc - Z * se),
             auc_ci_upper_clustered=None if se is None else min(1.0, auc + Z * se))
    for name, cls in (("sensitivity", 1), ("specificity", 0)):
        sel = [r for r in rows if r["y"] == cls]
        hits = [int((r["p"] >= r["t"]) == bool(cls)) for r in sel]
        lo, hi = clustered_wilson(hits, [r["patient_key"] for r in sel])
        e[f"{name}_ci_lower_clustered"], e[f"{name}_ci_upper_clustered"] = lo, hi
    return e


def check_metric_table(got: dict, scored: dict, failed: dict) -> int:
    """Compare every group of a metric table; returns how many groups have patients with several
    images and a clustered AUC standard error that differs from the image-level one."""
    assert set(got) == set(scored) | set(failed)
    wider = 0
    for key in got:
        rows, fails = scored.get(key, []), failed.get(key, [])
        assert_close(got[key], expected_coverage(rows, fails), key)
        if rows:
            assert_close(got[key], expected_metrics(rows) | expected_clustered(rows), key)
            se, se_cl = got[key]["auc_se"], got[key]["auc_se_clustered"]
            wider += (se is not None and se_cl is not None and abs(se_cl - se) > 1e-6
                      and got[key]["n_patients"] < got[key]["n"])
        else:
            assert got[key]["n"] == 0 and got[key]["auc"] is None and got[key]["sensitivity"] is None
    return wider


def expected_metrics(rows: list[dict]) -> dict:
    y = np.array([r["y"] for r in rows])
    p = np.array([r["p"] for r in rows], dtype=float)
    yhat = (p >= rows[0]["t"]).astype(int)
    tn, fp, fn, tp = (int(v) for v in sk.confusion_matrix(y, yhat, labels=[0, 1]).ravel())
    n = len(y)
    both = len(set(y.tolist())) == 2
    e = dict(n=n, n_positive=int(y.sum()), n_negative=int(n - y.sum()), tp=tp, fp=fp, tn=tn, fn=fn,
             prevalence=y.mean(), decision_threshold=rows[0]["t"],
             accuracy=sk.accuracy_score(y, yhat),
             sensitivity=nan_none(sk.recall_score(y, yhat, pos_label=1, zero_division=np.nan)),
             specificity=nan_none(sk.recall_score(y, yhat, pos_label=0, zero_division=np.nan)),
             ppv=nan_none(sk.precision_score(y, yhat, pos_label=1, zero_division=np.nan)),
             npv=nan_none(sk.precision_score(y, yhat, pos_label=0, zero_division=np.nan)),
             f1=nan_none(sk.f1_score(y, yhat, zero_division=np.nan)) if tp + fp + fn else None,
             auc=sk.roc_auc_score(y, p) if both else None,
             brier=sk.brier_score_loss(y, p, pos_label=1))
    bins = np.minimum(np.floor(p * 10).astype(int), 9)
    e["ece"] = sum((bins == b).sum() / n * abs(y[bins == b].mean() - p[bins == b].mean())
                   for b in range(10) if (bins == b).any())
    for name, (k, m) in dict(accuracy=(tp + tn, n), sensitivity=(tp, tp + fn), specificity=(tn, tn + fp)).items():
        e[f"{name}_ci_lower"], e[f"{name}_ci_upper"] = wilson(k, m)
    d = delong(y, p)
    if d is None:
        e.update(auc_se=None, auc_ci_lower=None, auc_ci_upper=None)
    else:
        assert abs(d[0] - e["auc"]) < 1e-12
        e.update(auc_se=d[1], auc_ci_lower=max(0.0, d[0] - Z * d[1]), auc_ci_upper=min(1.0, d[0] + Z * d[1]))
    return e


def assert_close(got: dict, want: dict, where) -> None:
    for k, w in want.items():
        g = got[k]
        if w is None or g is None:
            assert g is None and w is None, (where, k, g, w)
        else:
            assert abs(float(g) - float(w)) <= tolerance(k), (where, k, g, w)


def tolerance(column: str) -> float:
    """TOL, or for a standard error and the bounds built from it, SQRT_TOL: a variance that is zero
    but for rounding (a group with perfect separation) is about 1e-18 one way and 0 the other, and
    its square root differs by about 1e-9; any real error in a formula is orders larger."""
    return SQRT_TOL if "_se" in column or "_ci_" in column else TOL


# --- the tests --------------------------------------------------------------------------------
def test_every_model_builds_and_every_data_test_passes(wh):
    run, tests = wh["run"], wh["tests"]
    assert sorted(r.name for r in run.results) == sorted(MODEL_NAMES)
    assert run.ok, [(r.name, r.message) for r in run.results if r.status != "success"]
    assert all(r.rows for r in run.results), [(r.name, r.rows) for r in run.results]
    assert tests.ok, [(r.name, r.message) for r in tests.results if r.status != "pass"]
    tested = {t.test.model for t in tests.manifest.tests.values() if t.test.model}
    assert tested == set(MODEL_NAMES)  # every model has at least one test
    assert len(tests.results) >= 60


def test_cohort_adult_chest_xr_is_the_python_filter(wh):
    got = {r["sop_instance_uid"] for r in q(wh, f"SELECT sop_instance_uid FROM {wh['db']}.cohort_adult_chest_xr")}
    want = {s for s, m in wh["meta"].items() if in_adult_chest_xr(m)}
    assert got == want and len(want) >= 10
    views = {wh["meta"][s]["view_position"] for s in got}
    assert views <= {"PA", "AP"} and "LL" not in views


def test_cohorts_ct_pet_and_longitudinal(wh):
    studies = defaultdict(dict)
    for m in wh["meta"].values():
        if m["study_date"] is not None:
            studies[m["study_uid"]] = m
    pairs = set()
    for a in studies.values():
        for b in studies.values():
            if a["modality"] == "CT" and b["modality"] == "PT" and a["patient_key"] == b["patient_key"]:
                days = abs((dt.date.fromisoformat(str(b["study_date"])) - dt.date.fromisoformat(str(a["study_date"]))).days)
                if days <= 30:
                    pairs.add((a["study_uid"], b["study_uid"], days))
    got = {(r["ct_study_uid"], r["pt_study_uid"], r["days_apart"])
           for r in q(wh, f"SELECT * FROM {wh['db']}.cohort_ct_pet")}
    assert got == pairs and pairs

    per = defaultdict(set)
    for m in wh["meta"].values():
        if m["study_date"] is not None and m["body_part"]:
            per[(m["patient_key"], m["body_part"].upper())].add((str(m["study_date"]), m["study_uid"]))
    want = {}
    for key, ss in per.items():
        if len(ss) >= 2:
            ordered = sorted(ss)
            first = dt.date.fromisoformat(ordered[0][0])
            prev = None
            for i, (d, uid) in enumerate(ordered, start=1):
                d = dt.date.fromisoformat(d)
                want[(key[0], key[1], uid)] = (i, len(ordered), None if prev is None else (d - prev).days,
                                               (d - first).days)
                prev = d
    got = {(r["patient_key"], r["body_part"], r["study_uid"]):
           (r["study_seq"], r["n_studies"], r["days_since_previous"], r["days_since_first"])
           for r in q(wh, f"SELECT * FROM {wh['db']}.cohort_longitudinal")}
    assert got == want and want


def test_patient_split_is_deterministic_and_disjoint(wh):
    rows = q(wh, f"SELECT patient_key, split, split_fraction FROM {wh['db']}.patient_split")
    patients = {m["patient_key"] for m in wh["meta"].values()}
    assert {r["patient_key"] for r in rows} == patients and len(rows) == len(patients)
    for r in rows:
        assert r["split"] == split_of(r["patient_key"]), r
    assert {r["split"] for r in rows} == {"train", "validation", "test"}
    leaks = q(wh, f"SELECT patient_key FROM {wh['db']}.eval_predictions GROUP BY patient_key "
                  f"HAVING count(DISTINCT split) > 1")
    assert leaks == []
    # every image of a patient is in the patient's split
    per_patient = defaultdict(set)
    for r in q(wh, f"SELECT patient_key, split FROM {wh['db']}.eval_predictions"):
        per_patient[r["patient_key"]].add(r["split"])
    assert all(len(v) == 1 for v in per_patient.values())


def test_dataset_profile(wh):
    prof = {r["split"]: r for r in q(wh, f"SELECT * FROM {wh['db']}.dataset_profile")}
    assert set(prof) == {"train", "validation", "test", "all"}
    for split in ("train", "validation", "test", "all"):
        ms = [m for m in wh["meta"].values() if split in ("all", split_of(m["patient_key"]))]
        r = prof[split]
        assert r["n_images"] == len(ms)
        assert r["n_patients"] == len({m["patient_key"] for m in ms})
        labelled = [wh["truth"][m["sop_instance_uid"]] for m in ms if m["sop_instance_uid"] in wh["truth"]]
        assert (r["n_labelled"], r["n_positive"]) == (len(labelled), sum(labelled))
        assert r["sites"] == ",".join(sorted({m["institution_key"] for m in ms if m["institution_key"]}))
    assert sum(prof[s]["n_patients"] for s in ("train", "validation", "test")) == prof["all"]["n_patients"]


def test_eval_predictions_use_the_latest_ok_prediction(wh):
    got = {(r["model_name"], r["model_version"], r["cohort"], r["sop_instance_uid"]): r
           for r in q(wh, f"SELECT * FROM {wh['db']}.eval_predictions")}
    want = {(r["model_name"], r["model_version"], r["cohort"], r["sop"]): r for r in eval_rows(wh) if r["split"] != "all"}
    assert set(got) == set(want)
    for k, w in want.items():
        g = got[k]
        assert (g["probability"], g["label_value"], g["decision_threshold"], g["split"]) == (w["p"], w["y"], w["t"], w["split"])
        assert g["predicted_positive"] == int(w["p"] >= w["t"])
    assert all(g["probability"] != 0.999 for g in got.values())  # the superseded run is not used


def test_eval_unscored_is_the_rest_of_the_cohort(wh):
    got = {(r["model_name"], r["model_version"], r["cohort"], r["sop_instance_uid"]): r
           for r in q(wh, f"SELECT * FROM {wh['db']}.eval_unscored")}
    want = {(r["model_name"], r["model_version"], r["cohort"], r["sop"]): r
            for r in unscored_rows(wh) if r["split"] != "all"}
    assert set(got) == set(want)
    for k, w in want.items():
        g = got[k]
        assert (g["status"], g["label_value"], g["split"], g["decision_threshold"]) == (w["status"], w["y"], w["split"], w["t"])
        assert (g["error"] is not None) == (w["status"] == "error")
    statuses = {(k[0], k[1], g["status"]) for k, g in got.items()}
    assert {("chest_finding", "1.0", "error"), ("chest_finding", "1.0", "unscored"),
            ("chest_finding", "1.1", "unscored"), ("edge", "posonly", "unscored")} <= statuses
    scored = {(r["model_name"], r["model_version"], r["cohort"], r["sop_instance_uid"])
              for r in q(wh, f"SELECT * FROM {wh['db']}.eval_predictions")}
    assert not scored & set(got)  # NaN and 1.7 marked ok are errors, not scores


def test_eval_metrics_match_sklearn_and_numpy(wh):
    got = {tuple(r[k] for k in GROUP): r for r in q(wh, f"SELECT * FROM {wh['db']}.eval_metrics")}
    want = grouped(eval_rows(wh), GROUP)
    wider = check_metric_table(got, want, grouped(unscored_rows(wh), GROUP))
    assert wider >= 3  # several images per patient: the clustered AUC interval is not the image-level one
    assert any(r["n_error"] and r["n_unscored"] for r in got.values())
    assert any(r["auc_failed_as_wrong"] is not None and r["auc"] is not None
               and r["auc_failed_as_wrong"] < r["auc"] - 1e-6 for r in got.values())
    ties = delong_checked = 0
    for key, rows in want.items():
        ps = [r["p"] for r in rows]
        ties += len(ps) - len(set(ps))
        delong_checked += got[key]["auc_se"] is not None and 0 < got[key]["auc_se"]
    assert ties > 50  # the data has plenty of tied scores
    assert delong_checked >= 8  # DeLong intervals of non-zero width, compared with numpy's


def test_edge_cases_one_class_and_equal_scores(wh):
    rows = q(wh, f"SELECT * FROM {wh['db']}.eval_metrics WHERE model_name = 'edge'")
    const = [r for r in rows if r["model_version"] == "const"]
    both = [r for r in const if r["n_positive"] and r["n_negative"]]
    assert both and all(r["auc"] == 0.5 for r in both)  # all scores equal: AUC 0.5
    assert all(r["auc"] is None for r in const if not (r["n_positive"] and r["n_negative"]))  # one class: NULL
    assert all(r["auc_ci_lower"] == r["auc_ci_upper"] == 0.5 for r in const if r["auc_se"] is not None)
    pos = [r for r in rows if r["model_version"] == "posonly" and r["n_scored"]]
    assert pos and all(r["auc"] is None and r["specificity"] is None and r["auc_ci_lower"] is None
                       and r["n_negative"] == 0 and r["sensitivity"] is not None for r in pos)
    # strata with one class only are common by site; they hold NULL, never an error
    site = q(wh, f"SELECT auc, n_positive, n_negative FROM {wh['db']}.eval_metrics_by_site")
    assert any(r["auc"] is None for r in site)
    assert all((r["auc"] is None) == (r["n_positive"] == 0 or r["n_negative"] == 0) for r in site)


@pytest.mark.parametrize("model,column", [("eval_metrics_by_site", "institution_key"),
                                          ("eval_metrics_by_manufacturer", "manufacturer")])
def test_stratified_metrics(wh, model, column):
    keys = GROUP + (column,)
    got = {tuple(r[k] for k in keys): r for r in q(wh, f"SELECT * FROM {wh['db']}.{model}")}
    check_metric_table(got, grouped(eval_rows(wh), keys), grouped(unscored_rows(wh), keys))
    assert len({k[-1] for k in got}) >= 2


def test_calibration_bins_and_ece(wh):
    got = grouped(q(wh, f"SELECT * FROM {wh['db']}.eval_calibration"), GROUP)
    want = grouped(eval_rows(wh), GROUP)
    assert set(got) == set(want)
    metrics = {tuple(r[k] for k in GROUP): r for r in q(wh, f"SELECT * FROM {wh['db']}.eval_metrics")}
    for key, rows in want.items():
        p = np.array([r["p"] for r in rows])
        y = np.array([r["y"] for r in rows])
        bins = np.minimum(np.floor(p * 10).astype(int), 9)
        by_bin = {r["bin"]: r for r in got[key]}
        assert sorted(by_bin) == list(range(10))
        for b in range(10):
            sel = bins == b
            r = by_bin[b]
            assert r["n"] == int(sel.sum())
            assert abs(r["bin_lower"] - b / 10) <= TOL and abs(r["bin_upper"] - (b + 1) / 10) <= TOL
            if sel.any():
                assert abs(r["mean_predicted"] - p[sel].mean()) <= TOL and abs(r["observed_rate"] - y[sel].mean()) <= TOL
            else:
                assert r["mean_predicted"] is None and r["observed_rate"] is None
        ece = expected_metrics(rows)["ece"]
        assert all(abs(r["ece"] - ece) <= TOL for r in got[key])
        assert abs(metrics[key]["ece"] - ece) <= TOL


def delong_paired(y: np.ndarray, pb: np.ndarray, pc: np.ndarray) -> tuple[float, float, float] | None:
    """DeLong, DeLong & Clarke-Pearson (1988, Biometrics 44:837), two correlated AUCs: the 2 x 2
    covariance matrices S10, S01 of the versions' structural components, S = S10 / m + S01 / n,
    var(AUC_c - AUC_b) = L S L' with L = (-1, 1). (difference, its se, two-sided p-value)."""
    m, n = int((y == 1).sum()), int((y == 0).sum())
    if m < 2 or n < 2:
        return None
    psis = [psi_matrix(y, pb), psi_matrix(y, pc)]
    S10 = np.cov(np.vstack([ps.mean(axis=1) for ps in psis]), ddof=1)
    S01 = np.cov(np.vstack([ps.mean(axis=0) for ps in psis]), ddof=1)
    L = np.array([-1.0, 1.0])
    se = math.sqrt(L @ (S10 / m + S01 / n) @ L)
    diff = psis[1].mean() - psis[0].mean()
    return diff, se, (2 * stats.norm.sf(abs(diff / se)) if se > 0 else None)


def mcnemar(b: int, c: int) -> tuple[float | None, float | None]:
    """McNemar (1947) with Edwards' continuity correction, floored at 0: chi2 = max(|b - c| - 1,
    0)^2 / (b + c), p from scipy's chi-square distribution with 1 degree of freedom."""
    if b + c == 0:
        return None, None
    chi2 = max(abs(b - c) - 1, 0) ** 2 / (b + c)
    return chi2, float(stats.chi2.sf(chi2, 1))


def test_compare_versions_paired(wh):
    rows = q(wh, f"SELECT * FROM {wh['db']}.eval_compare_versions")
    pairs = {(r["model_name"], r["base_version"], r["candidate_version"]) for r in rows}
    assert pairs == {("chest_finding", "1.0", "1.1"), ("edge", "const", "posonly")}
    scored = grouped(eval_rows(wh), GROUP)
    tested = 0
    for r in rows:
        assert r["is_parent"] == (r["model_name"] == "chest_finding")
        b = {x["sop"]: x for x in scored.get((r["model_name"], r["base_version"], r["cohort"], r["split"]), [])}
        c = {x["sop"]: x for x in scored.get((r["model_name"], r["candidate_version"], r["cohort"], r["split"]), [])}
        both = sorted(set(b) & set(c))
        want = dict(base_n_scored=len(b), candidate_n_scored=len(c), n_paired=len(both),
                    n_base_only=len(set(b) - set(c)), n_candidate_only=len(set(c) - set(b)))
        if both:
            y = np.array([b[s]["y"] for s in both])
            pb, pc = (np.array([v[s]["p"] for s in both]) for v in (b, c))
            hb, hc = ((pv >= v[both[0]]["t"]).astype(int) for pv, v in ((pb, b), (pc, c)))
            two = len(set(y.tolist())) == 2
            d = delong_paired(y, pb, pc)
            want.update(n_paired_positive=int(y.sum()), n_paired_negative=int((1 - y).sum()),
                        base_auc=sk.roc_auc_score(y, pb) if two else None,
                        candidate_auc=sk.roc_auc_score(y, pc) if two else None,
                        delta_auc=sk.roc_auc_score(y, pc) - sk.roc_auc_score(y, pb) if two else None,
                        delta_auc_se=None if d is None else d[1], delong_p=None if d is None else d[2],
                        delta_brier=sk.brier_score_loss(y, pc) - sk.brier_score_loss(y, pb))
            if d is not None:
                want.update(delta_auc_ci_lower=max(-1.0, d[0] - Z * d[1]), delta_auc_ci_upper=min(1.0, d[0] + Z * d[1]))
                tested += d[2] is not None
            for name, cls in (("sensitivity", 1), ("specificity", 0)):
                sel = y == cls
                ok_b, ok_c = (h[sel] == cls for h in (hb, hc))
                nb, nc = int((ok_b & ~ok_c).sum()), int((~ok_b & ok_c).sum())
                chi2, p = mcnemar(nb, nc)
                want.update({f"{name}_base_only_correct": nb, f"{name}_candidate_only_correct": nc,
                             f"{name}_mcnemar_chi2": chi2, f"{name}_mcnemar_p": p,
                             f"base_{name}": ok_b.mean() if sel.any() else None,
                             f"candidate_{name}": ok_c.mean() if sel.any() else None})
        assert_close(r, want, r)
    chest = [r for r in rows if r["model_name"] == "chest_finding"]
    # a version has a group where eval_metrics has one: images scored or left unscored there (a
    # group whose images one version all failed is still paired, with n_paired 0)
    metric_groups = set(scored) | set(grouped(unscored_rows(wh), GROUP))
    groups = {v: {(k[2], k[3]) for k in metric_groups if k[0] == "chest_finding" and k[1] == v} for v in ("1.0", "1.1")}
    assert sorted((r["cohort"], r["split"]) for r in chest) == sorted(groups["1.0"] & groups["1.1"])
    assert len(chest) >= 4  # both cohorts, several splits: the comparison is not vacuous
    assert all(r["n_base_only"] and r["n_candidate_only"] for r in chest if r["split"] == "all")
    assert tested >= 4 and any(r["sensitivity_mcnemar_p"] is not None for r in chest)
    edge = [r for r in rows if r["model_name"] == "edge"]
    assert edge and all(r["delta_auc"] is None and r["delong_p"] is None for r in edge)  # positives only


def test_longitudinal_scores(wh):
    got = {(r["model_name"], r["model_version"], r["study_uid"]): r
           for r in q(wh, f"SELECT * FROM {wh['db']}.longitudinal_scores")}
    want = {}
    for (name, version), rows in wh["preds"].items():
        per_study = defaultdict(list)
        for sop, p in latest_ok(rows).items():
            m = wh["meta"][sop]
            if m["study_date"] is not None:
                per_study[(m["patient_key"], m["study_uid"], str(m["study_date"]))].append(p)
        per_patient = defaultdict(list)
        for (pk, uid, d), ps in per_study.items():
            per_patient[pk].append((d, uid, max(ps), len(ps)))
        for pk, studies in per_patient.items():
            studies.sort()
            first = dt.date.fromisoformat(studies[0][0])
            x = np.array([(dt.date.fromisoformat(d) - first).days for d, *_ in studies], dtype=float)
            ys = np.array([s for _, _, s, _ in studies])
            slope = float(np.polyfit(x, ys, 1)[0]) if len(set(x.tolist())) > 1 else None
            prev = None
            for (d, uid, s, n), xi in zip(studies, x):
                want[(name, version, uid)] = dict(patient_key=pk, score=s, n_images=n, days_since_first=int(xi),
                                                  previous_score=prev, score_change=None if prev is None else s - prev,
                                                  n_studies=len(studies), slope_per_day=slope)
                prev = s
    assert set(got) == set(want)
    multi = 0
    for k, w in want.items():
        assert_close(got[k], {kk: vv for kk, vv in w.items() if kk != "patient_key"}, k)
        assert got[k]["patient_key"] == w["patient_key"]
        multi += w["slope_per_day"] is not None
    assert multi >= 3


def test_model_lineage(wh):
    rows = q(wh, f"SELECT * FROM {wh['db']}.model_lineage")
    assert len(rows) == sum(len(v) for v in wh["preds"].values())  # one row per prediction row
    assert all(r["sha256_matches"] is True for r in rows)
    assert all(r["training_cohort"] == f"train_{r['model_name']}" for r in rows)
    assert all(r["run_input_table"] == "cohort_adult_chest_xr" for r in rows)
    for r in rows:
        m = wh["meta"][r["sop_instance_uid"]]
        assert r["image_partition"] == f"study_year={m['study_year']}/study_month={m['study_month']}/modality={m['modality']}"
        assert r["image_partition_read"] is (m["modality"] in ("CR", "DX"))
        assert json.loads(r["run_partitions_read"]) == wh["partitions"]


def _snapshot(wh, table: str) -> list[tuple]:
    return sorted(tuple(str(v) for v in r) for r in wh["session"].execute(f"SELECT * FROM {wh['db']}.{table}").rows)


def _files(wh, table: str) -> dict[str, float]:
    """The table's data files and their modification times."""
    fs, base = filesystem(metastore.describe(wh["session"], f"{wh['db']}.{table}").location)
    base_path = Path(base)
    return {str(p.relative_to(base_path)): p.stat().st_mtime for p in base_path.rglob("*")
            if p.is_file() and not p.name.startswith((".", "_"))}


def test_second_cohort_refresh_changes_nothing(wh):
    session, settings = wh["session"], wh["settings"]
    tables = ["cohort_adult_chest_xr", "cohort_ct_pet", "cohort_longitudinal"]
    before = {t: _snapshot(wh, t) for t in tables}
    files_before = _files(wh, "cohort_adult_chest_xr")
    assert files_before
    again = run_models(session, settings, select="tag:cohort_refresh")
    assert again.ok and sorted(r.name for r in again.results) == sorted(tables)
    assert again.manifest.models["cohort_adult_chest_xr"].incremental_run
    assert {t: _snapshot(wh, t) for t in tables} == before
    assert _files(wh, "cohort_adult_chest_xr") == files_before  # nothing new: no partition rewritten
    # a year that lost its partition is rebuilt whole by the next incremental run
    year = session.execute(f"SELECT max(study_year) FROM {settings.database}.cohort_adult_chest_xr").scalar()
    session.execute(f"ALTER TABLE {settings.database}.cohort_adult_chest_xr DROP PARTITION (study_year = {int(year)})")
    assert _snapshot(wh, "cohort_adult_chest_xr") != before["cohort_adult_chest_xr"]
    assert run_models(session, settings, select="cohort_adult_chest_xr").ok
    assert _snapshot(wh, "cohort_adult_chest_xr") == before["cohort_adult_chest_xr"]


@pytest.mark.parametrize("vars", [
    {"min_age": "18; DROP TABLE x"},
    {"min_age": "1 OR 1=1"},
    {"start_date": "2020-01-01' OR '1'='1"},
    {"end_date": "2999-12-31') UNION SELECT * FROM mi_phi.patient_map --"},
    {"train_ratio": "0.7) OR (1=1"},
    {"max_days": True},
])
def test_hostile_vars_are_refused(wh, vars):
    session, settings = wh["session"], wh["settings"]
    with pytest.raises(UnsafeVariable):
        run_models(session, settings, select="tag:cohort_refresh patient_split", vars=vars)


def test_hostile_string_vars_stay_string_literals(wh):
    from mi_warehouse.dbt_like.runner import compile_for

    session, settings = wh["session"], wh["settings"]
    hostile = {"views": ["PA') OR ('1'='1", "AP'; DROP TABLE t; --", "\\' OR 1=1 --"],
               "split_salt": "mi'), 'x') OR 1=1 --", "label_source": "x' OR '1'='1"}
    manifest = compile_for(session, settings, select="cohort_adult_chest_xr patient_split eval_predictions",
                           vars=hostile, full_refresh=True)
    cohort = session.execute(manifest.models["cohort_adult_chest_xr"].compiled_sql).rows
    assert cohort == []  # the views are compared as text: no view is called "PA') OR ('1'='1"
    split = session.execute(manifest.models["patient_split"].compiled_sql).dicts()
    assert {r["split"] for r in split} <= {"train", "validation", "test"}
    assert all(r["split"] == split_of(r["patient_key"], salt=hostile["split_salt"]) for r in split)
    assert session.execute(manifest.models["eval_predictions"].compiled_sql).rows == []
    assert session.table_exists(settings.database, "cohort_adult_chest_xr")


def test_eval_report_from_the_warehouse(wh, tmp_path):
    path = write_eval_report(wh["session"], wh["settings"], "chest_finding:1.1", "adult_chest_xr", tmp_path / "r",
                             split="all")
    text = path.read_text(encoding="utf-8")
    m = q(wh, f"SELECT * FROM {wh['db']}.eval_metrics WHERE model_name = 'chest_finding' AND model_version = '1.1' "
              f"AND cohort = 'adult_chest_xr' AND split = 'all'")[0]
    assert f"{m['auc']:.3f}" in text and f"TP {m['tp']}" in text and f"TN {m['tn']}" in text
    assert f"{m['n_unscored']}" in text and "Obuchowski" in text and "includes training images" in text
    assert text.count("data:image/png;base64,") == 2 + 4  # ROC, calibration, the dataset profile's four
    sites = {r["institution_key"] for r in q(wh, f"SELECT institution_key FROM {wh['db']}.eval_metrics_by_site "
                                                 f"WHERE model_version = '1.1' AND cohort = 'adult_chest_xr' AND split = 'all'")}
    assert sites and all(s in text for s in sites if s)
