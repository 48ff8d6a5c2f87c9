"""`mi-warehouse run` and `mi-warehouse test`: execute a compiled project through HiveServer2.

Models build in DAG order; a failing model stops its descendants only (they are `skipped`), and
the summary names it with the engine's error. Every run appends one row per model to
`<db>.run_results`. What stands at a relation is looked up before each build; a lookup that
fails is never taken for a missing table (the build is refused instead).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from ..config import Settings
from ..engine import literals as lit
from ..engine.connection import Session
from ..errors import MiWarehouseError, QueryFailed
from ..runtime import rows as table_rows
from ..runtime.lineage import Emitter
from ..runtime.runs import new_run_id
from ..runtime.tables import RUN_RESULTS
from .compiler import compile_project
from .manifest import Manifest
from .materialize import ABSENT, UNKNOWN, Existing, needs_columns, parse_describe, plan, probe
from .project import load_project
from .relation import Relation, Target



@dataclass
class NodeResult:
    name: str
    status: str  # success | error | skipped | pass | fail
    seconds: float = 0.0
    rows: int | None = None
    message: str = ""
    checksum: str | None = None
    materialized: str = ""
    started_at: dt.datetime = field(default_factory=dt.datetime.now)


@dataclass
class RunSummary:
    run_id: str
    results: list[NodeResult]
    manifest: Manifest

    @property
    def ok(self) -> bool:
        return all(r.status in ("success", "pass") for r in self.results)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)


def target_for(session: Session, settings: Settings) -> Target:
    return Target.from_settings(settings, session.info.name, session.info.version)


def lookup(session: Session, relation: Relation) -> Existing:
    """What stands at `relation`: nothing, a view or a table (with its columns); UNKNOWN on failure."""
    try:
        if not session.table_exists(relation.database, relation.name):
            return ABSENT
        rows = session.execute(f"DESCRIBE FORMATTED {relation.quoted}").rows
    except QueryFailed:
        return UNKNOWN
    kind = "table"
    for r in rows:
        if str(r[0]).strip().rstrip(":") == "Type" and "VIEW" in str(r[1]).upper():
            kind = "view"
    cols = tuple(parse_describe(rows)) if kind == "table" else None
    return Existing(kind, True, cols)


def compile_for(session: Session, settings: Settings, select=None, vars: Mapping[str, Any] | None = None,
                full_refresh: bool = False) -> Manifest:
    project = load_project(settings.sql_dir, settings)

    def table_exists(rel: Relation) -> bool:
        found = lookup(session, rel)
        if not found.confirmed:
            raise MiWarehouseError(f"cannot tell whether {rel.unquoted} exists; not compiling it as incremental")
        return found.kind == "table"

    return compile_project(project, target_for(session, settings), select, vars, table_exists, full_refresh,
                           target_dir=settings.project_dir / "target")


def run_models(session: Session, settings: Settings, select=None, vars: Mapping[str, Any] | None = None,
               full_refresh: bool = False, log: Callable[[str], None] = lambda m: None) -> RunSummary:
    manifest = compile_for(session, settings, select, vars, full_refresh)
    engine = session.info.name
    run_id = new_run_id("run")
    results: list[NodeResult] = []
    broken: set[str] = set()
    emitter = Emitter(settings)
    for name in manifest.selected:
        node = manifest.models[name]
        res = NodeResult(name, "success", checksum=node.checksum, materialized=node.config.materialized)
        failed_parents = [p for p in node.depends_on_models if p in broken]
        if failed_parents:
            res.status, res.message = "skipped", f"upstream model {failed_parents[0]} failed"
            broken.add(name)
            results.append(res)
            log(f"SKIP  {name}: {res.message}")
            continue
        t0 = time.monotonic()
        inputs = [f"{manifest.models[p].relation.unquoted}" for p in node.depends_on_models] + [
            f"{(settings.phi_database if src == 'mi_phi' else settings.database)}.{tbl}"
            for src, tbl in node.depends_on_sources]
        try:
            with emitter.run(f"model.{name}", f"{run_id}.{name}", inputs, [node.relation.unquoted]) as lineage:
                res.rows = _build(session, node, engine, full_refresh)
            if lineage.warnings:  # recorded with the model's result, never a failure
                res.message = "warning: " + "; ".join(lineage.warnings)
        except MiWarehouseError as e:
            res.status = "error"
            res.message = f"{node.path}: {getattr(e, 'engine_message', '') or e}"
            broken.add(name)
        res.seconds = time.monotonic() - t0
        results.append(res)
        log(f"{'OK   ' if res.status == 'success' else 'ERROR'} {name} ({res.materialized}) "
            f"{res.rows if res.rows is not None else ''} rows in {res.seconds:.1f}s"
            + (f": {res.message}" if res.message else ""))
    _record(session, settings, run_id, results)
    return RunSummary(run_id, results, manifest)


def _build(session: Session, node, engine: str, full_refresh: bool) -> int:
    """Materialise one model; return its row count."""
    existing = lookup(session, node.relation)
    columns = None
    if needs_columns(node.config):
        p = probe(node.name, node.compiled_sql, node.relation, engine)
        for stmt in p.setup:
            session.execute(stmt)
        try:
            columns = parse_describe(session.execute(p.describe).rows)
        finally:
            for stmt in p.teardown:
                session.execute(stmt)
    for stmt in plan(node.name, node.compiled_sql, node.config, node.relation, engine=engine,
                     existing=existing, columns=columns, full_refresh=full_refresh):
        session.execute(stmt)
    return session.execute(f"SELECT count(*) FROM {node.relation.quoted}").scalar()


def test_models(session: Session, settings: Settings, select=None, vars: Mapping[str, Any] | None = None,
                log: Callable[[str], None] = lambda m: None) -> RunSummary:
    manifest = compile_for(session, settings, select, vars)
    run_id = new_run_id("test")
    results = []
    for name in manifest.selected_tests:
        t = manifest.tests[name].test
        res = NodeResult(name, "pass", materialized="test")
        t0 = time.monotonic()
        try:
            failures = session.execute(t.count_sql).scalar() or 0
            res.rows = int(failures)
            if failures:
                res.status, res.message = "fail", f"{failures} failing row(s); query: target/compiled/tests/{name}.sql"
        except MiWarehouseError as e:
            res.status, res.message = "error", f"{t.origin}: {getattr(e, 'engine_message', '') or e}"
        res.seconds = time.monotonic() - t0
        results.append(res)
        log(f"{res.status.upper():5} {name}" + (f": {res.message}" if res.message else ""))
    return RunSummary(run_id, results, manifest)


def _record(session: Session, settings: Settings, run_id: str, results: Sequence[NodeResult]) -> None:
    if not results:
        return
    engine = session.info.label
    table_rows.insert(session, settings, RUN_RESULTS, [
        (run_id, r.name, r.status, r.rows, r.seconds, r.checksum, r.message[:2000] or None, r.materialized,
         r.started_at, engine) for r in results])
