"""The one row writer: rows of a `TableSpec` into Hive, as Parquet files or through HiveServer2.

Two ways in, one encoding (the spec's), one NULL rule (None is NULL, typed as the column):

- `append_file`: the rows become one Parquet file in the table's location, written hidden and
  renamed into place, then the engine is told to look again. For what the loader and labels
  write: the client already reaches the storage root, and a file per run is idempotent by name.
- `insert`: `INSERT INTO TABLE ... SELECT <typed literals> [UNION ALL ...]` through HiveServer2,
  for commands that need only HiveServer2 (apply's history, run results, the registry, inference
  runs): nothing but the server has to reach the storage.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from ..engine import literals as lit
from ..engine import metastore
from ..engine.connection import Session
from .storage import filesystem, join, write_parquet_atomic
from .tables import TableSpec

Row = Mapping[str, Any] | Sequence[Any]


def write_file(location: str, spec: TableSpec, rows: Iterable[Row], file_name: str) -> None:
    """Rows as one Parquet file `file_name` under `location` (atomic: hidden name, then rename)."""
    fs, path = filesystem(location)
    write_parquet_atomic(fs, join(path, file_name), spec.to_arrow(rows))


def append_file(session: Session, settings, spec: TableSpec, rows: Iterable[Row], file_name: str) -> int:
    """Rows into the table as one Parquet file in its location; returns the number of rows."""
    rows = list(rows)
    if not rows:
        return 0
    return append_to(session, metastore.describe(session, spec.qualified(settings)), spec, rows, file_name)


def append_to(session: Session, table: metastore.TableInfo, spec: TableSpec, rows: list, file_name: str) -> int:
    """`append_file` for a table already described; returns the number of rows (none: no file)."""
    if rows:
        write_file(table.location, spec, rows, file_name)
        metastore.refresh(session, table.name)
    return len(rows)


def literal(v: Any, hive_type: str) -> str:
    """A value as a HiveQL expression of the column's type."""
    t = hive_type.upper()
    if t.startswith("ARRAY<"):
        if v is None:
            return "NULL"
        inner = t[6:-1]
        return "array(" + ", ".join(literal(x, inner) for x in v) + ")"
    expr = lit.value(v)
    if expr.startswith("CAST(") and expr.endswith(f" AS {t})"):  # already typed (timestamps, big ints)
        return expr
    return f"CAST({expr} AS {t})"


def insert_sql(table: str, spec: TableSpec, rows: Iterable[Row]) -> str:
    selects = []
    for r in rows:
        rec = spec.record(r)
        selects.append("SELECT " + ", ".join(literal(rec[c.name], c.hive_type) for c in spec.columns))
    if not selects:
        raise ValueError(f"no rows to insert into {table}")
    return f"INSERT INTO TABLE {lit.identifier(table)} " + " UNION ALL ".join(selects)


def insert(session: Session, settings, spec: TableSpec, rows: Iterable[Row], table: str | None = None) -> int:
    """Rows into the table through HiveServer2; returns the number of rows."""
    rows = list(rows)
    if rows:
        session.execute(insert_sql(table or spec.qualified(settings), spec, rows))
    return len(rows)


def select(session: Session, spec: TableSpec, table: str, where: str = "") -> list[dict[str, Any]]:
    """Every row of the table (optionally filtered) as {column: value}, columns by the spec."""
    sql = f"SELECT {spec.select_list()} FROM {lit.identifier(table)}" + (f" WHERE {where}" if where else "")
    return [dict(zip(spec.names, r)) for r in session.execute(sql).rows]
