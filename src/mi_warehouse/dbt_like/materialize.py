"""Materialisations as pure functions: the ordered HiveQL statements that build one model.

The runner supplies what only a database knows, and executes the list in one session, in order:

    existing   what stands at the model's relation now: `Existing(kind=None|'view'|'table',
               confirmed=True|False, columns=...)`; `UNKNOWN` when the lookup failed
    columns    the SELECT's output columns [(name, type), ...], in order — needed for tables and
               incremental models (`needs_columns()`); get them with `probe()` + `parse_describe()`

Rules:
  view         CREATE OR REPLACE VIEW; a table of that name is dropped first, but only when the
               lookup confirmed it is a table.
  table        built under `<name>__mi_tmp` (CREATE TABLE with columns, PARTITIONED BY / CLUSTERED
               BY / STORED AS, then INSERT OVERWRITE), then swapped in by renames, so a failed
               build leaves the old table readable.
  incremental  insert_overwrite needs partition_by and overwrites only the partitions the SELECT
               produces; append inserts. A missing table, a view, or full refresh builds a table.

Dynamic-partition inserts need partition columns last: the SELECT is wrapped to reorder its
columns when needed. On Hive a query starting with WITH cannot be wrapped (CTEs are not allowed in
subqueries), so such a model must list its partition columns last itself. What differs between the
engines (probes, dynamic-partition settings, CTEs in subqueries) comes from engine/dialects.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Sequence

from ..engine import dialects
from ..engine import literals as lit
from ..engine.splitter import single_statement
from ..errors import SqlSplitError
from .errors import MaterializationError
from .model_config import ModelConfig
from .relation import ENGINES, Relation

TMP_SUFFIX = "__mi_tmp"
OLD_SUFFIX = "__mi_old"
PROBE_SUFFIX = "__mi_probe"
_TYPE = re.compile(r"^[A-Za-z][A-Za-z0-9_<>,:() ]*$")
_WITH = re.compile(r"^\s*with\b", re.IGNORECASE)


@dataclass(frozen=True)
class Existing:
    """What the runner found at a relation. `confirmed=False` means the lookup itself failed."""

    kind: str | None  # None (nothing there), "view" or "table"
    confirmed: bool = True
    columns: tuple[tuple[str, str], ...] | None = None  # an existing table's columns, partition columns last

    def __post_init__(self) -> None:
        if self.kind not in (None, "view", "table"):
            raise ValueError(f"Existing.kind must be None, 'view' or 'table', got {self.kind!r}")


ABSENT = Existing(None)
UNKNOWN = Existing(None, confirmed=False)


@dataclass(frozen=True)
class Probe:
    """How to learn a SELECT's columns: run `setup`, fetch rows of `describe`, run `teardown`."""

    setup: tuple[str, ...]
    describe: str
    teardown: tuple[str, ...]


def select_body(model: str, select_sql: str) -> str:
    """The model's single SELECT without comments or a trailing semicolon."""
    try:
        return single_statement(select_sql, model)
    except SqlSplitError as e:
        raise MaterializationError(str(e)) from None


def needs_columns(config: ModelConfig) -> bool:
    """Whether `plan()` needs the SELECT's columns (the runner then probes for them): not for views."""
    return config.materialized != "view"


def probe(model: str, select_sql: str, relation: Relation, engine: str) -> Probe:
    """Statements that describe the SELECT's output columns without running it."""
    body = select_body(model, select_sql)
    if dialects.get(engine).probe_with_describe_query:
        return Probe((), f"DESCRIBE QUERY {body}", ())
    view = relation.with_suffix(PROBE_SUFFIX)
    return Probe((f"DROP VIEW IF EXISTS {view}", f"CREATE VIEW {view} AS\n{body}"),
                 f"DESCRIBE {view}", (f"DROP VIEW IF EXISTS {view}",))


def parse_describe(rows: Sequence[Sequence[object]]) -> list[tuple[str, str]]:
    """(name, type) pairs from DESCRIBE rows, up to the first blank or `#` section line."""
    out: list[tuple[str, str]] = []
    for row in rows:
        name = str(row[0] or "").strip()
        if not name or name.startswith("#"):
            break
        out.append((name, str(row[1] or "").strip()))
    return out


def plan(model: str, select_sql: str, config: ModelConfig, relation: Relation, *, engine: str,
         existing: Existing, columns: Sequence[tuple[str, str]] | None = None, full_refresh: bool = False,
         table_properties: Mapping[str, str] | None = None) -> list[str]:
    """The statements that materialise `model`, to run in order in one session.

    For incremental models the runner must have compiled `select_sql` with `is_incremental()`
    true exactly when this returns an incremental insert (`is_incremental_run()`).
    """
    if engine not in ENGINES:
        raise MaterializationError(f"{model}: engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    body = select_body(model, select_sql)
    if config.materialized == "view":
        return _view(body, relation, existing)
    if config.materialized == "incremental":
        if config.incremental_strategy == "insert_overwrite" and not config.partition_by:
            raise MaterializationError(
                f"{model}: incremental insert_overwrite needs partition_by; it would replace the whole table")
        if not existing.confirmed:
            raise MaterializationError(f"{model}: cannot tell whether {relation.unquoted} exists; not building it")
        if is_incremental_run(config, existing, full_refresh):
            cols = _columns(model, columns)
            return _incremental(model, body, config, relation, engine, existing, cols)
    elif config.materialized != "table":
        raise MaterializationError(f"{model}: unknown materialization {config.materialized!r}")
    if not existing.confirmed:
        raise MaterializationError(f"{model}: cannot tell whether {relation.unquoted} exists; not replacing it")
    return _table(model, body, config, relation, engine, existing, _columns(model, columns), table_properties)


def is_incremental_run(config: ModelConfig, existing: Existing, full_refresh: bool) -> bool:
    """True when an incremental model inserts into its existing table (the `is_incremental()` rule)."""
    return (config.materialized == "incremental" and existing.confirmed and existing.kind == "table"
            and not full_refresh)


# --- views ------------------------------------------------------------------------------------
def _view(body: str, relation: Relation, existing: Existing) -> list[str]:
    out = []
    if existing.confirmed and existing.kind == "table":
        out.append(f"DROP TABLE IF EXISTS {relation}")
    out.append(f"CREATE OR REPLACE VIEW {relation} AS\n{body}")
    return out


# --- tables -----------------------------------------------------------------------------------
def _columns(model: str, columns: Sequence[tuple[str, str]] | None) -> list[tuple[str, str]]:
    if not columns:
        raise MaterializationError(f"{model}: the SELECT's columns are needed (probe() and parse_describe())")
    out, seen = [], set()
    for name, typ in columns:
        try:
            lit.identifier(name)
        except ValueError:
            raise MaterializationError(
                f"{model}: output column {name!r} is not a plain name; give it an alias (AS name)") from None
        if "." in name:
            raise MaterializationError(f"{model}: output column {name!r} is not a plain name; give it an alias")
        if name.lower() in seen:
            raise MaterializationError(f"{model}: output column {name} appears twice; alias one of them")
        if not _TYPE.match(typ or ""):
            raise MaterializationError(f"{model}: column {name} has an unusable type {typ!r}")
        seen.add(name.lower())
        out.append((name, typ))
    return out


def _split(model: str, config: ModelConfig, cols: list[tuple[str, str]]):
    """(data columns, partition columns in partition_by order), checked against the SELECT."""
    by_name = {n.lower(): (n, t) for n, t in cols}
    missing = [p for p in config.partition_by if p.lower() not in by_name]
    if missing:
        raise MaterializationError(f"{model}: partition column {missing[0]} is not in the SELECT")
    for c in config.clustered_by + config.sorted_by:
        if c.lower() not in by_name:
            raise MaterializationError(f"{model}: clustered/sorted column {c} is not in the SELECT")
    parts = [by_name[p.lower()] for p in config.partition_by]
    pset = {p.lower() for p in config.partition_by}
    data = [c for c in cols if c[0].lower() not in pset]
    if not data:
        raise MaterializationError(f"{model}: a table needs at least one column besides its partition columns")
    return data, parts


def _dynamic_partition_settings(engine: str, overwrite: bool) -> list[str]:
    return dialects.get(engine).dynamic_partition_settings(overwrite)


def _q(name: str) -> str:
    return lit.identifier(name)


def _ordered_select(model: str, body: str, engine: str, select_cols: list[tuple[str, str]],
                    wanted: list[str]) -> str:
    """`body` as is when its columns are already in `wanted` order, else wrapped to reorder them."""
    if [c.lower() for c, _ in select_cols] == [w.lower() for w in wanted]:
        return body
    if not dialects.get(engine).wraps_cte_in_subquery and _WITH.match(body):
        raise MaterializationError(
            f"{model}: on Hive a query starting with WITH cannot be reordered; list the columns as "
            f"{', '.join(wanted)} (partition columns last)")
    return f"SELECT {', '.join(_q(w) for w in wanted)}\nFROM (\n{body}\n) mi_q"


def _create_table(rel: Relation, config: ModelConfig, data, parts, model: str,
                  table_properties: Mapping[str, str] | None) -> str:
    lines = [f"CREATE TABLE {rel} (", ",\n".join(f"  {_q(n)} {t}" for n, t in data), ")"]
    if parts:
        lines.append(f"PARTITIONED BY ({', '.join(f'{_q(n)} {t}' for n, t in parts)})")
    if config.clustered_by:
        clause = f"CLUSTERED BY ({', '.join(_q(c) for c in config.clustered_by)})"
        if config.sorted_by:
            clause += f" SORTED BY ({', '.join(_q(c) + ' ASC' for c in config.sorted_by)})"
        lines.append(f"{clause} INTO {config.buckets} BUCKETS")
    lines.append(f"STORED AS {config.file_format.upper()}")
    props = {"mi_warehouse.model": model, **(table_properties or {})}
    lines.append("TBLPROPERTIES (" + ", ".join(f"{lit.string(k)} = {lit.string(v)}" for k, v in props.items()) + ")")
    return "\n".join(lines)


def _partition_clause(parts) -> str:
    return f" PARTITION ({', '.join(_q(n) for n, _ in parts)})" if parts else ""


def _table(model: str, body: str, config: ModelConfig, relation: Relation, engine: str, existing: Existing,
           cols: list[tuple[str, str]], table_properties: Mapping[str, str] | None) -> list[str]:
    data, parts = _split(model, config, cols)
    tmp, old = relation.with_suffix(TMP_SUFFIX), relation.with_suffix(OLD_SUFFIX)
    select = _ordered_select(model, body, engine, cols, [n for n, _ in data + parts])
    out = _dynamic_partition_settings(engine, overwrite=False) if parts else []
    out += [
        f"DROP TABLE IF EXISTS {tmp}",
        _create_table(tmp, config, data, parts, model, table_properties),
        f"INSERT OVERWRITE TABLE {tmp}{_partition_clause(parts)}\n{select}",
    ]
    if existing.kind == "table":
        out += [f"DROP TABLE IF EXISTS {old}",
                f"ALTER TABLE {relation} RENAME TO {old}",
                f"ALTER TABLE {tmp} RENAME TO {relation}",
                f"DROP TABLE IF EXISTS {old}"]
    elif existing.kind == "view":
        out += [f"DROP VIEW IF EXISTS {relation}", f"ALTER TABLE {tmp} RENAME TO {relation}"]
    else:
        out += [f"ALTER TABLE {tmp} RENAME TO {relation}"]
    return out


# --- incremental ------------------------------------------------------------------------------
def _incremental(model: str, body: str, config: ModelConfig, relation: Relation, engine: str,
                 existing: Existing, cols: list[tuple[str, str]]) -> list[str]:
    data, parts = _split(model, config, cols)
    wanted = [n for n, _ in data + parts]
    if existing.columns is not None:
        wanted = _existing_order(model, config, existing.columns, wanted)
    select = _ordered_select(model, body, engine, cols, wanted)
    overwrite = config.incremental_strategy == "insert_overwrite"
    out = _dynamic_partition_settings(engine, overwrite) if parts else []
    verb = "INSERT OVERWRITE TABLE" if overwrite else "INSERT INTO TABLE"
    out.append(f"{verb} {relation}{_partition_clause(parts)}\n{select}")
    return out


def _existing_order(model: str, config: ModelConfig, table_cols, wanted: list[str]) -> list[str]:
    """The table's own column order; refuse when the SELECT's columns or partitioning changed."""
    have = [n.lower() for n, _ in table_cols]
    if sorted(have) != sorted(w.lower() for w in wanted):
        added = sorted(set(w.lower() for w in wanted) - set(have))
        gone = sorted(set(have) - set(w.lower() for w in wanted))
        raise MaterializationError(
            f"{model}: the SELECT's columns differ from the table's (new: {', '.join(added) or '-'}; "
            f"missing: {', '.join(gone) or '-'}); run with --full-refresh")
    k = len(config.partition_by)
    if [p.lower() for p in config.partition_by] != have[len(have) - k:]:
        raise MaterializationError(f"{model}: partition_by differs from the table's partitioning; run with --full-refresh")
    return [n for n, _ in table_cols]
