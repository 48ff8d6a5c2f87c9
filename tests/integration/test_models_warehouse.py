"""The shipped models (sql/models) on a synthetic corpus, checked against scikit-learn and numpy.

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

from mi_warehouse.config import load_settings
from mi_warehouse.dbt_like.errors import UnsafeVariable
from mi_warehouse.dbt_like.runner import run_models, test_models
from mi_warehouse.engine import literals as lit
from mi_warehouse.engine import metastore
from mi_warehouse.engine.connection import connect
from mi_warehouse.loaders.labels import load_labels
from mi_warehouse.loaders.load import LoadOptions, run_load
from mi_warehouse.loaders.storage import filesystem, join, write_parquet_atomic
from mi_warehouse.loaders.synth import generate
from mi_warehouse.migrations.runner import Migrator

from ..conftest import REPO

sk = pytest.importorskip("sklearn.metrics")

Z = 1.959963984540054  # scipy.stats.norm.ppf(0.975)
TOL = 1e-9
MODEL_NAMES = ["cohort_adult_chest_xr", "cohort_ct_pet", "cohort_longitudinal", "patient_split",
               "dataset_profile", "eval_predictions", "eval_metrics", "eval_calibration",
               "eval_metrics_by_site", "eval_metrics_by_manufacturer", "eval_compare_versions",
               "longitudinal_scores", "model_lineage"]
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
