"""What the metastore knows about a table, and registering what Python wrote beside it.

Everything goes through HiveServer2: the embedded Derby metastore admits one process, and on a
cluster the metastore is the server's business anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from ..errors import MiWarehouseError, QueryFailed
from . import literals as lit
from .connection import Session


class TableMissing(MiWarehouseError):
    """A table the command needs does not exist: run `mi-warehouse apply` first."""


@dataclass(frozen=True)
class TableInfo:
    name: str
    location: str
    buckets: int
    properties: dict[str, str]

    @property
    def bucketing_version(self) -> int:
        return int(self.properties.get("bucketing_version", "1"))


def describe(session: Session, table: str) -> TableInfo:
    return describe_all(session, [table])[table]


def describe_all(session: Session, tables: list[str], properties: Iterable[str] | None = None
                 ) -> dict[str, TableInfo]:
    """`db.table` -> TableInfo for several tables, each database listed once (the load describes
    five tables: 9 statements instead of 20, each a round trip to HiveServer2).

    `properties`: the tables whose TBLPROPERTIES are read (one more statement each); None: all.
    The others get empty `properties`: ask only for tables whose properties are not used.
    """
    by_db: dict[str, list[str]] = {}
    for t in tables:
        db, name = t.split(".")
        by_db.setdefault(db, []).append(name)
    for db, names in by_db.items():
        try:
            present = session.table_names(db)
        except QueryFailed as e:  # never take a failed lookup for a missing table
            raise MiWarehouseError(f"cannot look up {db}.{names[0]}: {e}") from None
        for name in names:
            if name.lower() not in present:
                raise TableMissing(f"table {db}.{name} does not exist: run `mi-warehouse apply` first")
    wanted = set(tables if properties is None else properties)
    out = {}
    for table in tables:
        rows = session.execute(f"DESCRIBE FORMATTED {lit.identifier(table)}").rows
        info = {str(r[0]).strip().rstrip(":"): (str(r[1]).strip() if r[1] is not None else "") for r in rows}
        props = {}
        if table in wanted:
            for r in session.execute(f"SHOW TBLPROPERTIES {lit.identifier(table)}").rows:
                props[str(r[0])] = str(r[1])
        buckets = info.get("Num Buckets") or "-1"
        out[table] = TableInfo(table, _normalise(info.get("Location", "")),
                               int(buckets) if buckets.lstrip("-").isdigit() else -1, props)
    return out


def _normalise(location: str) -> str:
    # Spark reports local locations as file:/path; write them as file:///path
    if location.startswith("file:/") and not location.startswith("file:///"):
        return "file:///" + location[len("file:/"):].lstrip("/")
    return location


def partition_spec(key: tuple[int, int, str]) -> str:
    """`PARTITION (...)` of dicom_metadata for a (study_year, study_month, modality) key."""
    y, m, mod = key
    return f"PARTITION (study_year={int(y)}, study_month={int(m)}, modality={lit.string(mod)})"


def partition_location(session: Session, table: str, key: tuple[int, int, str]) -> str:
    """Where the metastore says a partition's files are."""
    rows = session.execute(f"DESCRIBE FORMATTED {lit.identifier(table)} {partition_spec(key)}").rows
    for r in rows:
        if str(r[0]).strip().rstrip(":") == "Location" and r[1]:
            return _normalise(str(r[1]).strip())
    raise MiWarehouseError(f"the metastore gives no location for {table} {partition_spec(key)}")


def set_partition_location(session: Session, table: str, key: tuple[int, int, str], location: str) -> None:
    """Point a partition at another directory: one metastore update, so readers switch at once."""
    session.execute(f"ALTER TABLE {lit.identifier(table)} {partition_spec(key)} SET LOCATION {lit.string(location)}")
    refresh(session, table)


def add_partitions(session: Session, table: str, location: str, specs: list[tuple[int, int, str]],
                   chunk: int = 100) -> None:
    """ALTER TABLE ... ADD IF NOT EXISTS PARTITION for (study_year, study_month, modality) specs."""
    for i in range(0, len(specs), chunk):
        parts = []
        for y, m, mod in specs[i:i + chunk]:
            loc = f"{location.rstrip('/')}/study_year={y}/study_month={m}/modality={mod}"
            parts.append(f"{partition_spec((y, m, mod))} LOCATION {lit.string(loc)}")
        session.execute(f"ALTER TABLE {lit.identifier(table)} ADD IF NOT EXISTS " + " ".join(parts))


def refresh(session: Session, table: str) -> None:
    """Make the engine see files written beside it (Spark caches file listings; Hive needs nothing)."""
    stmt = session.info.dialect.refresh_statement(lit.identifier(table))
    if stmt:
        session.execute(stmt)
