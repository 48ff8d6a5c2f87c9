"""`mi-warehouse infer`: score a cohort with a registered model, through Hive TRANSFORM.

The client resolves everything the worker-side script needs (model file, checksum, card) and
passes it on the command line; the run is recorded in `<db>.inference_runs`, failed or not.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable

from ..config import Settings
from ..engine import literals as lit
from ..engine import metastore
from ..engine.connection import Session
from ..errors import MiWarehouseError
from ..runtime.storage import filesystem
from ..runtime.locks import command_lock
from ..models import registry
from ..runtime import rows as table_rows
from ..runtime import runs
from ..runtime.lineage import Emitter
from ..runtime.tables import INFERENCE_RUNS
from .sql import InferPlan, Spread, cluster_preamble, cohort_relation, node_spread, script_command



class InferenceFailed(MiWarehouseError):
    """The TRANSFORM query failed; the run is recorded as failed with the engine's message."""


@dataclass
class InferSummary:
    run_id: str
    input_rows: int = 0
    scored: int = 0
    rows_ok: int = 0
    rows_error: int = 0
    provider: str = ""
    seconds: float = 0.0
    transform_seconds: float = 0.0  # the SELECT TRANSFORM statement alone
    partitions_read: int = 0
    lineage_warnings: list = field(default_factory=list)  # OpenLineage events that could not be sent

    @property
    def rate(self) -> float:
        return self.scored / self.seconds if self.seconds else 0.0


def new_run_id() -> str:
    return runs.new_run_id("inf")


def this_node_spread() -> Spread:
    """The spread of the embedded engine, which runs its tasks on this machine (local[*]): its
    usable cores and the GPUs the script could use, counted as the script counts them."""
    from ..udfs.decode_pool import usable_cpus
    from ..udfs.providers import driver_device_count, gpu_providers_built

    gpus = driver_device_count() if gpu_providers_built() else 0
    return node_spread(usable_cpus(), gpus)


def build_plan(session: Session, settings: Settings, model: registry.ModelVersion, cohort: str, run_id: str,
               force: bool = False, batch_size: int = 32, python: str | None = None,
               for_cluster: bool = False, providers: str = "auto",
               spread: Spread | None = None) -> InferPlan:
    """The statements of one run. `spread`: script instances and their decode pools (default: this
    node's for the embedded engine; none on a cluster, where the engine's own plan stands)."""
    table = metastore.describe(session, f"{settings.database}.predictions")
    db_location = table.location.rsplit("/", 1)[0]
    if for_cluster:
        model_file, card_file = "model.onnx", "card.json"  # shipped with ADD FILE
        python = python or "python3"
    else:
        fs, model_path = filesystem(model.uri)
        if type(fs).__name__ != "LocalFileSystem":
            raise MiWarehouseError(f"model {model.name}:{model.version} lives at {model.uri}: the embedded "
                                   "engine reads models from a local model store (use --print-sql on a cluster)")
        model_file, card_file = model_path, filesystem(model.card_uri)[1]
        python = python or sys.executable
    if spread is None and not for_cluster:
        spread = this_node_spread()
    cmd = script_command(python, model_file, model.sha256, card_file, model.name, model.version, batch_size,
                         ["--providers", providers, *(spread.script_args() if spread else [])])
    return InferPlan(run_id, model.name, model.version, settings.database, settings.phi_database,
                     cohort_relation(cohort, settings.database), f"{db_location}/_work/infer_{run_id}", cmd, force,
                     instances=spread.instances if spread else 0, engine=session.info.name)


def print_sql(session: Session, settings: Settings, model_ref: str, cohort: str, force: bool = False,
              batch_size: int = 32, spread: Spread | None = None) -> str:
    model = registry.require(session, settings, model_ref)
    plan = build_plan(session, settings, model, cohort, "RUN_ID", force, batch_size, for_cluster=True,
                      spread=spread)
    lines = [f"-- mi-warehouse infer --model {model_ref} (sha256 {model.sha256}) --cohort {cohort}"]
    lines += cluster_preamble(model.uri, model.card_uri, session.info.name)
    lines += [s + ";" for s in plan.statements()] + [s + ";" for s in plan.cleanup()]
    return "\n".join(lines) + "\n"


def run_inference(session: Session, settings: Settings, model_ref: str, cohort: str, force: bool = False,
                  batch_size: int = 32, providers: str = "auto",
                  log: Callable[[str], None] = lambda m: None, lock_timeout: float = 3600.0,
                  spread: Spread | None = None) -> InferSummary:
    model = registry.require(session, settings, model_ref)
    run_id = new_run_id()
    plan = build_plan(session, settings, model, cohort, run_id, force, batch_size, providers=providers,
                      spread=spread)
    lock = command_lock(settings, f"infer.{model.name}.{model.version}", "infer")
    lock.acquire(lock_timeout, on_wait=lambda h: log(f"waiting for another inference with this model ({h})"))
    cohort_ds = [plan.cohort.replace("`", "")] if not plan.cohort.startswith("(") else []
    with Emitter(settings).run(f"infer.{model.name}", run_id,
                               cohort_ds + [f"{settings.database}.dicom_metadata", f"{settings.database}.model_versions",
                                            f"{settings.phi_database}.image_locations"],
                               [f"{settings.database}.predictions", f"{settings.database}.inference_runs"]) as lineage:
        summary = _run(session, settings, model, model_ref, cohort, plan, run_id, lock, log)
        summary.lineage_warnings = lineage.warnings
        return summary


def _run(session, settings, model, model_ref, cohort, plan, run_id, lock, log) -> InferSummary:
    summary = InferSummary(run_id)
    started = dt.datetime.now()
    t0 = time.monotonic()
    error: str | None = None
    partitions: list[str] = []
    try:
        summary.input_rows = session.execute(
            f"SELECT count(DISTINCT sop_instance_uid) FROM {plan.cohort}").scalar() or 0
        parts = session.execute(
            f"SELECT DISTINCT m.study_year, m.study_month, m.modality FROM {settings.database}.dicom_metadata m "
            f"JOIN (SELECT DISTINCT sop_instance_uid FROM {plan.cohort}) c "
            f"ON c.sop_instance_uid = m.sop_instance_uid").rows
        partitions = sorted(f"study_year={y}/study_month={m}/modality={x}" for y, m, x in parts)
        summary.partitions_read = len(partitions)
        log(f"run {run_id}: {summary.input_rows} images in the cohort, {len(partitions)} partitions; scoring ...")
        for i, stmt in enumerate(plan.statements()):
            t_stmt = time.monotonic()
            session.execute(stmt)
            if i == plan.TRANSFORM_STATEMENT:
                summary.transform_seconds = time.monotonic() - t_stmt
        for status, n, provider in session.execute(
                f"SELECT status, count(*), max(provider) FROM {lit.identifier(plan.work_new)} GROUP BY status").rows:
            if status == "ok":
                summary.rows_ok = n
            else:
                summary.rows_error += n
            summary.provider = summary.provider or (provider or "")
        summary.scored = summary.rows_ok + summary.rows_error
    except MiWarehouseError as e:
        error = getattr(e, "engine_message", "") or str(e)
        raise InferenceFailed(f"inference run {run_id} with {model_ref} failed: {error}") from None
    finally:
        summary.seconds = time.monotonic() - t0
        try:
            for stmt in plan.cleanup():
                session.execute(stmt)
            _remove_dir(plan.work_location)
            _record(session, settings, model, cohort, summary, started, json.dumps(partitions), error)
        except MiWarehouseError as e:
            if error is None:  # the run succeeded but could not be recorded: say so
                raise InferenceFailed(f"inference run {run_id} scored its images but could not be "
                                      f"recorded: {e}") from None
            log(f"could not record the failed run {run_id}: {e}")  # the original error goes on up
        finally:
            lock.release()
    return summary


def _remove_dir(uri: str) -> None:
    fs, path = filesystem(uri)
    try:
        fs.delete_dir(path)
    except (OSError, FileNotFoundError):
        pass


def _record(session: Session, settings: Settings, model: registry.ModelVersion, cohort: str,
            s: InferSummary, started: dt.datetime, partitions: str, error: str | None) -> None:
    vals = [s.run_id, model.name, model.version, model.sha256, cohort, partitions, s.input_rows, s.rows_ok,
            s.rows_error, s.provider or None, socket.gethostname(), started, dt.datetime.now(),
            "failed" if error else "succeeded", error]
    table_rows.insert(session, settings, INFERENCE_RUNS, [vals])
