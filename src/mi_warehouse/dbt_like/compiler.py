"""`compile`: render the selected models and their tests to plain HiveQL, without a database.

    manifest = compile_project(project, settings_or_target, select="+studies",
                               vars={"since": "2024-01-01"},
                               table_exists=lambda rel: False, full_refresh=False)

writes `<target_dir>/compiled/<model>.sql` (one SELECT, ending in `;`, ready for Beeline or Hue),
`<target_dir>/compiled/tests/<test>.sql` and `<target_dir>/manifest.json`. `target_dir` defaults to
`<project root>/target`. `table_exists(relation) -> bool` is asked only for selected incremental
models when not `full_refresh`; the default answers False, so compile alone never needs a server.
Given settings, the engine is `Target.offline()`'s: `[hive] engine`, or spark for an embedded URL.
The runner passes its own lookup (and a `Target` with the detected engine) so `is_incremental()`
matches what `materialize.plan()` will do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from ..config import Settings
from ..engine.splitter import single_statement
from ..errors import SqlSplitError
from .context import RuntimeFunctions, render
from .errors import ModelRenderError
from .graph import Graph
from .manifest import CompiledTest, Manifest, ModelNode
from .parser import ParsedProject, parse_project
from .project import Project, sha256
from .relation import Relation, Target
from .schema_tests import generic_tests, singular_test

TableExists = Callable[[Relation], bool]


def compile_project(project: Project, target: Settings | Target, select: str | Sequence[str] | None = None,
                    vars: Mapping[str, Any] | None = None, table_exists: TableExists = lambda rel: False,
                    full_refresh: bool = False, target_dir: Path | str | None = None) -> Manifest:
    """Parse, order, select and render; write compiled files and the manifest; return the manifest."""
    if isinstance(target, Settings):
        target = Target.offline(target, command="compile")
    out_dir = Path(target_dir) if target_dir is not None else project.root / "target"
    parsed = parse_project(project, target, vars)
    graph = Graph({n: p.refs for n, p in parsed.models.items()},
                  origins={n: p.file.origin for n, p in parsed.models.items()},
                  tags={n: p.config.tags for n, p in parsed.models.items()})
    selected = graph.select(select)
    models = {n: ModelNode(n, p.file.origin, Relation(target.database, n), p.config, p.refs, p.sources,
                           p.file.checksum, p.doc) for n, p in parsed.models.items()}
    compiled_dir = out_dir / "compiled"
    compiled_dir.mkdir(parents=True, exist_ok=True)
    for name in selected:
        _compile_model(parsed, models[name], vars or {}, table_exists, full_refresh, out_dir)

    tests = {t.name: CompiledTest(t) for t in generic_tests(project, target)}
    for name, p in parsed.tests.items():
        tests[name] = CompiledTest(singular_test(name, p.file.origin, "", p.refs, p.sources))
    chosen = set(selected)
    everything = select is None or not _has_tokens(select)
    selected_tests = sorted(n for n, t in tests.items()
                            if everything or chosen & set(t.test.depends_on_models))
    for name in selected_tests:
        _compile_test(parsed, tests[name], vars or {}, out_dir)

    manifest = Manifest(target, project.root, models, tests, dict(project.sources), graph, selected,
                        selected_tests, full_refresh, sorted(vars or {}))
    _remove_stale(compiled_dir, set(models), set(tests))
    manifest.write(out_dir / "manifest.json")
    return manifest


def _has_tokens(select: str | Sequence[str]) -> bool:
    items = [select] if isinstance(select, str) else list(select)
    return any(str(s).split() for s in items)


def _one_statement(origin: str, sql: str, what: str) -> str:
    try:
        return single_statement(sql, origin, f"a {what}")
    except SqlSplitError as e:
        raise ModelRenderError(str(e)) from None


def _file_text(header: str, sql: str) -> str:
    body = sql.strip()
    if body.endswith(";"):
        return f"{header}\n{body}\n"
    last = body.splitlines()[-1] if body else ""
    return f"{header}\n{body}\n;\n" if "--" in last else f"{header}\n{body};\n"


def _write(out_dir: Path, rel: str, text: str) -> str:
    path = out_dir / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return sha256(text)


def _compile_model(parsed: ParsedProject, node: ModelNode, variables: Mapping[str, Any],
                   table_exists: TableExists, full_refresh: bool, out_dir: Path) -> None:
    f = parsed.project.models[node.name]
    incremental = (node.config.materialized == "incremental" and not full_refresh
                   and bool(table_exists(node.relation)))
    funcs = RuntimeFunctions(parsed.project, parsed.target, f, True, variables, declared_refs=node.depends_on_models)
    sql = render(parsed.env, parsed.project, f, funcs, incremental)
    _one_statement(f.origin, sql, "model")
    header = (f"-- {node.name}: {node.config.materialized} {node.relation.unquoted}, from {f.origin}, "
              f"compiled for {parsed.target.engine}" + (" (incremental run)" if incremental else ""))
    node.compiled_sql = sql.strip()
    node.incremental_run = incremental
    node.compiled_path = f"compiled/{node.name}.sql"
    node.checksum = _write(out_dir, node.compiled_path, _file_text(header, sql))


def _compile_test(parsed: ParsedProject, ct: CompiledTest, variables: Mapping[str, Any], out_dir: Path) -> None:
    t = ct.test
    if t.kind == "singular":
        f = parsed.project.tests[t.name]
        funcs = RuntimeFunctions(parsed.project, parsed.target, f, False, variables,
                                 declared_refs=t.depends_on_models)
        body = _one_statement(f.origin, render(parsed.env, parsed.project, f, funcs, False), "test")
        t = singular_test(t.name, t.origin, body, t.depends_on_models, t.depends_on_sources)
        ct.test = t
    header = f"-- test {t.name} ({t.kind}, from {t.origin}): passes when this returns no rows"
    ct.compiled_path = f"compiled/tests/{t.name}.sql"
    ct.checksum = _write(out_dir, ct.compiled_path, _file_text(header, t.sql))


def _remove_stale(compiled_dir: Path, models: set[str], tests: set[str]) -> None:
    """Delete compiled files of models and tests that no longer exist in the project."""
    for path in compiled_dir.glob("*.sql"):
        if path.stem not in models:
            path.unlink()
    for path in (compiled_dir / "tests").glob("*.sql"):
        if path.stem not in tests:
            path.unlink()
