"""`mi-warehouse demo`: the main job end to end on the embedded engine, safe to re-run.

start the server -> apply migrations -> synthesise a corpus (one site burns a marker into its
positive chest images) -> load it -> load its labels -> register the demo model and the shortcut
model (trained to read that marker) -> build the chest cohort -> infer with both -> build every
model (splits,
evaluation, lineage) -> explain the most confident errors (saliency maps on the PHI side) ->
print the evaluation table and write the HTML report with their gallery.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .config import Settings
from .engine.connection import Result, connect
from .engine.server import EmbeddedServer

DEMO_MODEL_REF = "chest-finding-resnet:1.0.0"
SHORTCUT_MODEL_REF = "chest-finding-shortcut:1.0.0"  # reads the marker site's burned-in label
SHORTCUT_SITE = "SAM"  # this site burns its code into its positive chest images (synth.Shortcut)
CHEST_COHORT = "cohort_adult_chest_xr"
EVAL_COHORT = "adult_chest_xr"  # the cohort's name in the evaluation models
GALLERY_SIZE = 4  # most confident false positives, false negatives and true positives shown with their maps


@dataclass
class DemoResult:
    evaluation: Result
    report: Path | None
    seconds: float
    steps: list[tuple[str, float]]
    shortcut: Result | None = None  # pooled against within-site AUC of both models (eval_within_site_auc)
    shortcut_report: Path | None = None  # the shortcut model's report: its gallery shows the marker


def run_demo(settings: Settings, patients: int = 300, seed: int = 2026,
             log: Callable[[str], None] = print) -> DemoResult:
    from .dbt_like.runner import run_models
    from .inference.run import run_inference
    from .loaders.labels import load_labels
    from .loaders.load import LoadOptions, run_load
    from .synth import Shortcut, generate
    from .migrations.runner import Migrator
    from .models.demo import DEMO_CARD, DEMO_MODEL, SHORTCUT_CARD, SHORTCUT_MODEL
    from .models.registry import register

    t_start = time.monotonic()
    steps: list[tuple[str, float]] = []

    def step(name: str, t0: float) -> None:
        steps.append((name, time.monotonic() - t0))
        log(f"[{time.monotonic() - t_start:6.1f}s] {name} ({steps[-1][1]:.1f}s)")

    t0 = time.monotonic()
    state, info, started = EmbeddedServer(settings).start()
    step(f"server {'started' if started else 'already running'} at {state.url}", t0)
    corpus = settings.home / "demo" / "dicom"
    with connect(settings) as session:
        t0 = time.monotonic()
        Migrator(session, settings, log=log).apply()
        step("migrations applied", t0)

        t0 = time.monotonic()
        labels_csv = corpus / "labels.csv"
        if not labels_csv.exists():
            s = generate(corpus, patients, seed=seed, image_size=64, shortcut=Shortcut(SHORTCUT_SITE))
            step(f"synthetic corpus: {s.files_written} files, {s.patients} patients, "
                 f"{len(s.modality_counts)} modalities; site {SHORTCUT_SITE} marks its {s.marked} positive "
                 f"chest images", t0)
        else:
            step(f"synthetic corpus already at {corpus}", t0)

        t0 = time.monotonic()
        summary = run_load(session, settings, [str(corpus)], LoadOptions())
        step(f"load: {summary.loaded} loaded, {summary.skipped} already loaded, {summary.errors} errors "
             f"(labels.csv is not DICOM: recorded in load_errors)", t0)

        t0 = time.monotonic()
        n = load_labels(session, settings, labels_csv, "synthetic")
        step(f"labels: {n}", t0)

        models = [(DEMO_MODEL_REF, DEMO_MODEL, DEMO_CARD), (SHORTCUT_MODEL_REF, SHORTCUT_MODEL, SHORTCUT_CARD)]
        for ref, onnx_file, card in models:
            t0 = time.monotonic()
            mv, new = register(session, settings, onnx_file, *ref.split(":"), card)
            step(f"model {ref} {'registered' if new else 'already registered'} (sha256 {mv.sha256[:12]})", t0)

        t0 = time.monotonic()
        cohort = run_models(session, settings, select=[f"+{CHEST_COHORT}"], log=log)
        _check(cohort)
        step("chest cohort built", t0)

        for ref, _, _ in models:
            t0 = time.monotonic()
            inf = run_inference(session, settings, ref, f"{settings.database}.{CHEST_COHORT}", log=log)
            step(f"inference {ref}: {inf.scored} scored ({inf.rows_ok} ok, {inf.rows_error} errors) on "
                 f"{inf.provider or '-'}", t0)

        t0 = time.monotonic()
        everything = run_models(session, settings, log=log)
        _check(everything)
        step(f"models built: {everything.count('success')}", t0)

        evaluation = session.execute(
            f"SELECT model_name, model_version, split, n, round(prevalence, 3) AS prevalence, round(auc, 4) AS auc, "
            f"round(auc_ci_lower, 3) AS auc_lo, round(auc_ci_upper, 3) AS auc_hi, round(sensitivity, 3) AS sens, "
            f"round(specificity, 3) AS spec, round(brier, 4) AS brier FROM {settings.database}.eval_metrics "
            f"WHERE cohort = '{EVAL_COHORT}' ORDER BY model_name, split")
        # neither model was trained on this corpus, so every split is unseen data: split 'all'
        # gives each site enough positives for a within-site AUC
        shortcut = session.execute(
            f"SELECT model_name, n, round(pooled_auc, 3) AS pooled_auc, round(within_site_auc_mean, 3) "
            f"AS within_site_auc, round(within_site_auc_min, 3) AS worst_site_auc, round(max_site_auc_positive, 3) "
            f"AS site_from_score_auc_pos, round(prevalence_score_corr, 3) AS prev_score_corr "
            f"FROM {settings.database}.eval_within_site_auc WHERE cohort = '{EVAL_COHORT}' AND split = 'all' "
            f"ORDER BY model_name")
        report = shortcut_report = None
        try:
            report = _report(session, settings, DEMO_MODEL_REF, "report", step)
            shortcut_report = _report(session, settings, SHORTCUT_MODEL_REF, "report-shortcut", step)
        except ImportError as e:  # matplotlib missing
            log(f"no report: {e}")
    return DemoResult(evaluation, report, time.monotonic() - t_start, steps, shortcut, shortcut_report)


def _report(session, settings, model_ref: str, folder: str, step) -> Path:
    """The model's report with its saliency gallery: the test split's gallery cases (most
    confident errors and true positives) explained on the PHI side, then embedded in a report
    flagged as PHI (`.miw/demo` holds the source DICOM too)."""
    from .reports import gallery
    from .reports.eval_report import write_eval_report

    t0 = time.monotonic()
    cases = gallery.confident_errors(session, settings, model_ref, EVAL_COHORT, "test", GALLERY_SIZE)
    maps = gallery.explain_cases(session, settings, model_ref, cases, f"demo-{model_ref.split(':')[0]}")
    step(f"saliency maps of {model_ref}'s gallery: {maps.written} ({maps.method}) on the PHI side at {maps.out}"
         if maps else f"saliency maps of {model_ref}: no image to explain", t0)
    t0 = time.monotonic()
    path = write_eval_report(session, settings, model_ref, EVAL_COHORT, settings.home / "demo" / folder,
                             gallery=maps.out if maps else "", embed_phi=True, gallery_size=GALLERY_SIZE)
    step(f"report written: {path}", t0)
    return path


def _check(summary) -> None:
    from .errors import MiWarehouseError

    if not summary.ok:
        bad = [f"{r.name}: {r.message}" for r in summary.results if r.status == "error"]
        raise MiWarehouseError("model build failed: " + "; ".join(bad))
