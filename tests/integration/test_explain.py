"""`mi-warehouse explain` and the report's saliency gallery through the real engine.

One module fixture loads a small synthetic corpus, loads its labels with two positives and two
negatives flipped (so that confident errors exist), registers the demo CNN, scores the chest
cohort with `infer` and builds the evaluation models. The tests then check that explain writes
its PNGs and manifest on the PHI side only (the core database's files are the same before and
after, and `audit phi` finds nothing), that it scores images as inference did (the manifest's
probability against `predictions`), and that the gallery shows exactly the most confident errors
(and true positives), recomputed here from `eval_predictions`, under the PHI rule.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from mi_warehouse.audit.phi import scan
from mi_warehouse.config import load_settings
from mi_warehouse.dbt_like.runner import run_models
from mi_warehouse.engine.connection import connect
from mi_warehouse.explain.errors import ExplainError
from mi_warehouse.explain.locations import EXPLAIN_DIR, phi_location
from mi_warehouse.explain.manifest import read_manifest
from mi_warehouse.explain.run import explain
from mi_warehouse.inference.run import run_inference
from mi_warehouse.loaders.labels import load_labels
from mi_warehouse.loaders.load import LoadOptions, run_load
from mi_warehouse.migrations.runner import Migrator
from mi_warehouse.models.demo import DEMO_CARD, DEMO_MODEL
from mi_warehouse.models.registry import register
from mi_warehouse.reports import gallery
from mi_warehouse.reports.eval_report import ReportError, write_eval_report
from mi_warehouse.synth import generate

from ..conftest import REPO, run_cli

MODEL = "chest-finding-resnet:1.0.0"
COHORT = "adult_chest_xr"


def _flip_some(labels: Path, out: Path) -> None:
    rows = list(csv.DictReader(labels.open(newline="")))
    pos = sorted(r["sop_instance_uid"] for r in rows if r["label_value"] == "1")[:2]
    neg = sorted(r["sop_instance_uid"] for r in rows if r["label_value"] == "0")[:2]
    for r in rows:
        if r["sop_instance_uid"] in pos + neg:
            r["label_value"] = "0" if r["label_value"] == "1" else "1"
            r["label"] = "normal" if r["label_value"] == "0" else "finding"
    with out.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def _files(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")
            if p.is_file()}


@pytest.fixture(scope="module")
def world(server_env, tmp_path_factory):
    root = tmp_path_factory.mktemp("explain")
    generate(root / "dicom", patients=14, seed=31, image_size=64)
    _flip_some(root / "dicom" / "labels.csv", root / "flipped.csv")
    names = {"MIW_DATABASE": f"xpl_{os.getpid()}", "MIW_PHI_DATABASE": f"xpl_{os.getpid()}_phi"}
    env = dict(os.environ, **server_env, **names)
    settings = load_settings(REPO, env=env)
    session = connect(settings)
    Migrator(session, settings).apply()
    run_load(session, settings, [str(root / "dicom")], LoadOptions(workers=1))
    load_labels(session, settings, root / "flipped.csv", "synthetic")
    register(session, settings, DEMO_MODEL, *MODEL.split(":"), DEMO_CARD)
    assert run_models(session, settings, select=["+cohort_adult_chest_xr"]).ok
    run_inference(session, settings, MODEL, f"{settings.database}.cohort_adult_chest_xr")
    assert run_models(session, settings, select=["+eval_metrics", "+eval_metrics_by_site", "+eval_calibration"]).ok
    yield {"root": root, "settings": settings, "session": session, "env": env}
    session.close()


def _core_dir(settings) -> Path:
    return settings.local_storage_dir / settings.database


def _phi_dir(world) -> Path:
    return Path(phi_location(world["session"], world["settings"])[len("file://"):])


def test_explain_writes_on_the_phi_side_only_and_the_audit_finds_nothing(world):
    s, st = world["session"], world["settings"]
    before, findings_before = _files(_core_dir(st)), scan(st)
    r = run_cli(["explain", "--model", MODEL, "--cohort", f"{st.database}.cohort_adult_chest_xr",
                 "--out", "review", "--limit", "3"], world["env"])
    assert r.returncode == 0, r.stderr
    assert "3 of 3 images explained" in r.stdout and "(cam)" in r.stdout
    folder = _phi_dir(world) / EXPLAIN_DIR / "review"
    pngs = sorted(p.name for p in folder.glob("*.png"))
    manifest = read_manifest(folder.as_uri())
    assert len(pngs) == 3 and sorted(e["file"] for e in manifest["images"].values()) == pngs
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in folder.glob("*.png"))
    assert _files(_core_dir(st)) == before  # nothing written or touched in the core database
    assert not any(p.suffix == ".png" or EXPLAIN_DIR in str(p) for p in _core_dir(st).rglob("*"))
    after = scan(st)
    assert after == findings_before  # explain left nothing the audit can see
    assert after == [], after
    audit = run_cli(["audit", "phi"], world["env"])
    assert audit.returncode == (1 if after else 0), audit.stdout + audit.stderr


@pytest.mark.parametrize("method", ["cam", "occlusion"])
def test_explain_scores_images_as_inference_did(world, method):
    s, st = world["session"], world["settings"]
    summary = explain(s, st, MODEL, f"{st.database}.cohort_adult_chest_xr", f"parity-{method}", method, limit=4)
    assert summary.method == method and summary.written == 4 and not summary.errors
    stored = dict(s.execute(f"SELECT sop_instance_uid, probability FROM {st.database}.predictions "
                            f"WHERE model_name = 'chest-finding-resnet' AND status = 'ok'").rows)
    manifest = read_manifest(summary.out)
    for uid, entry in manifest["images"].items():
        assert entry["probability"] == pytest.approx(stored[uid], abs=1e-5)
        assert entry["file"].startswith(uid) and entry["method"] == method


def test_an_output_folder_off_the_phi_side_is_refused(world, tmp_path):
    s, st = world["session"], world["settings"]
    with pytest.raises(ExplainError, match="only under the PHI database's location"):
        explain(s, st, MODEL, f"{st.database}.cohort_adult_chest_xr", str(tmp_path / "maps"))
    core = _core_dir(st)
    r = run_cli(["explain", "--model", MODEL, "--cohort", "cohort_adult_chest_xr", "--out", str(core / "maps")],
                world["env"])
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "PHI database's location" in r.stderr
    assert not (core / "maps").exists() and list(tmp_path.iterdir()) == []


def test_the_report_gallery_shows_the_most_confident_errors(world, tmp_path):
    s, st = world["session"], world["settings"]
    rows = s.execute(f"SELECT sop_instance_uid, label_value, probability, predicted_positive "
                     f"FROM {st.database}.eval_predictions WHERE cohort = '{COHORT}'").rows
    fps = sorted((r for r in rows if r[1] == 0 and r[3] == 1), key=lambda r: (-r[2], r[0]))[:2]
    fns = sorted((r for r in rows if r[1] == 1 and r[3] == 0), key=lambda r: (r[2], r[0]))[:2]
    tps = sorted((r for r in rows if r[1] == 1 and r[3] == 1), key=lambda r: (-r[2], r[0]))[:2]
    assert fps and fns  # the flipped labels made both kinds
    cases = gallery.confident_errors(s, st, MODEL, COHORT, "all", k=2)
    assert [c.sop_instance_uid for c in cases] == [r[0] for r in fps + fns + tps]
    maps = gallery.explain_cases(s, st, MODEL, cases, "gallery")
    assert maps.written == len(cases)

    on_phi = _phi_dir(world) / "reports" / "gallery"
    page = write_eval_report(s, st, MODEL, COHORT, on_phi, split="all", gallery=maps.out, gallery_size=2)
    text = page.read_text()
    assert "Saliency gallery" in text and "Contains patient images (PHI)" in text
    assert text.count(' saliency"><figcaption>') == len(cases)  # one embedded map per case
    for c in cases:
        assert c.sop_instance_uid in text
    with pytest.raises(ReportError, match="embeds patient pixels"):
        write_eval_report(s, st, MODEL, COHORT, tmp_path / "plain", split="all", gallery=maps.out)
    flagged = write_eval_report(s, st, MODEL, COHORT, tmp_path / "flagged", split="all", gallery=maps.out,
                                embed_phi=True, gallery_size=2)
    assert "Contains patient images (PHI)" in flagged.read_text()
    with pytest.raises(ReportError, match="inside the core database"):
        write_eval_report(s, st, MODEL, COHORT, _core_dir(st) / "r", split="all", gallery=maps.out, embed_phi=True)
    plain = write_eval_report(s, st, MODEL, COHORT, tmp_path / "nogallery", split="all").read_text()
    assert "Saliency gallery" not in plain and "Contains patient images" not in plain
    assert not (_core_dir(st) / "r").exists()
    assert scan(st) == []
