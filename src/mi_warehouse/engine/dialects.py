"""Every difference between Apache Hive and the Spark Thrift Server, as data: one table per engine.

Code that must behave differently on the two engines reads a field of `Dialect` instead of
branching on the engine's name, so this file is the whole list of differences:

    probe_with_describe_query   learn a SELECT's columns with DESCRIBE QUERY (Spark), or through
                                a temporary view (Hive has no DESCRIBE QUERY)
    wraps_cte_in_subquery       a query starting with WITH may sit in a subquery (Hive: no)
    refresh_after_write         files written beside the engine need REFRESH TABLE (Spark caches
                                file listings; Hive lists on every query)
    overwrite_settings          extra SETs before a dynamic-partition INSERT OVERWRITE
    queue_preamble              how a cluster script routes the TRANSFORM to GPU nodes
    show_tables_column          the table-name column of SHOW TABLES (Spark: namespace, tableName,
                                isTemporary; Hive: tab_name)
    show_views_column           the same for SHOW VIEWS
    sql_authorization           GRANT/REVOKE are enforced (Hive with SQL-standard authorization)

`resolve()` picks the dialect for commands that must not connect (`compile`, `apply --dry-run`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from ..errors import ConfigError, MiWarehouseError

AUTO = "auto"

# Dynamic-partition inserts need these on both engines (Hive's defaults are strict).
_DYNAMIC_PARTITIONS = ("SET hive.exec.dynamic.partition=true", "SET hive.exec.dynamic.partition.mode=nonstrict")


@dataclass(frozen=True)
class Dialect:
    name: str
    probe_with_describe_query: bool
    wraps_cte_in_subquery: bool
    refresh_after_write: bool
    overwrite_settings: tuple[str, ...]
    queue_preamble: tuple[str, ...]
    show_tables_column: str
    show_views_column: str
    show_temporary_column: str | None  # Spark lists session temporary views in SHOW TABLES
    sql_authorization: bool

    def dynamic_partition_settings(self, overwrite: bool) -> list[str]:
        """The SETs a dynamic-partition INSERT (OVERWRITE when `overwrite`) needs, in order."""
        return [*(self.overwrite_settings if overwrite else ()), *_DYNAMIC_PARTITIONS]

    def refresh_statement(self, quoted_table: str) -> str | None:
        """The statement that makes the engine see files written beside it, or None."""
        return f"REFRESH TABLE {quoted_table}" if self.refresh_after_write else None

    def names_from_show(self, kind: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
        """The names in the result of `SHOW TABLES` or `SHOW VIEWS` (kind "TABLES" or "VIEWS"),
        without session temporary views."""
        wanted = self.show_tables_column if kind.upper() == "TABLES" else self.show_views_column
        cols = [c.split(".")[-1] for c in columns]
        if wanted in cols:
            at = cols.index(wanted)
        elif len(cols) == 1:
            at = 0
        else:
            raise MiWarehouseError(
                f"SHOW {kind.upper()} on {self.name} answered columns {cols}, without {wanted}: "
                "is [hive] engine (MIW_ENGINE) right for this server?")
        temp = cols.index(self.show_temporary_column) if self.show_temporary_column in cols else None
        return [str(r[at]) for r in rows if temp is None or str(r[temp]).lower() != "true"]


HIVE = Dialect(
    name="hive",
    probe_with_describe_query=False,
    wraps_cte_in_subquery=False,
    refresh_after_write=False,
    overwrite_settings=(),
    queue_preamble=("SET tez.queue.name=gpu;", "SET mapreduce.job.queuename=gpu;"),
    show_tables_column="tab_name",
    show_views_column="tab_name",
    show_temporary_column=None,
    sql_authorization=True,
)

SPARK = Dialect(
    name="spark",
    probe_with_describe_query=True,
    wraps_cte_in_subquery=True,
    refresh_after_write=True,
    overwrite_settings=("SET spark.sql.sources.partitionOverwriteMode=dynamic",),
    queue_preamble=("-- Spark: start the Thrift Server with GPU executors (spark.executor.resource.gpu.amount=1 "
                    "and a discovery script) or a GPU resource profile;",
                    "-- SQL cannot request GPUs per query."),
    show_tables_column="tableName",
    show_views_column="viewName",
    show_temporary_column="isTemporary",
    sql_authorization=False,
)

DIALECTS = {d.name: d for d in (HIVE, SPARK)}
ENGINES = tuple(DIALECTS)


def get(name: str) -> Dialect:
    """The dialect called `name` ("hive" or "spark")."""
    try:
        return DIALECTS[name]
    except KeyError:
        raise ConfigError(f"engine must be one of {', '.join(ENGINES)}, got {name!r}") from None


def from_dbms_name(dbms_name: str) -> Dialect:
    """The dialect of a server from the name it reports (thrift GetInfo CLI_DBMS_NAME)."""
    return SPARK if "spark" in (dbms_name or "").lower() else HIVE


def parse_version(text: str) -> str:
    """The dotted version at the start of `text` ("4.0.1" from "4.0.1-SNAPSHOT"), or ""."""
    m = re.match(r"\d+(?:\.\d+)*", (text or "").strip())
    return m.group(0) if m else ""


def major(version: str) -> int:
    """The major version of `version` ("4.0.1" -> 4), 0 when unknown."""
    v = parse_version(version)
    return int(v.split(".")[0]) if v else 0


def embedded_spark_version() -> str:
    """The version of the pyspark wheel that the embedded server runs, read without starting it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return parse_version(version("pyspark"))
    except PackageNotFoundError:
        return ""


@dataclass(frozen=True)
class Resolved:
    dialect: Dialect
    version: str  # "" when it cannot be known without a server


def resolve(setting: str, embedded: bool, explicit: str | None = None, command: str = "this command") -> Resolved:
    """The engine for a command that must not connect.

    `explicit` (a command-line option) wins, then the `[hive] engine` setting; `auto` means the
    embedded Spark Thrift Server when the URL is a loopback one, and is refused otherwise.
    """
    name = explicit or setting or AUTO
    if name == AUTO:
        if not embedded:
            raise ConfigError(
                f"{command} does not connect, so it needs the engine: set [hive] engine = \"hive\" or "
                f"\"spark\" in mi-warehouse.toml, MIW_ENGINE, or pass --engine")
        return Resolved(SPARK, embedded_spark_version())
    d = get(name)
    return Resolved(d, embedded_spark_version() if d is SPARK and embedded else "")


class EngineFacts:
    """`dialect` and `major` of anything naming an engine and its version (the connected server's
    EngineInfo, a compilation Target): `engine_attribute` names the field holding the engine."""

    engine_attribute = "engine"

    @property
    def dialect(self) -> Dialect:
        return get(getattr(self, self.engine_attribute))

    @property
    def major(self) -> int:
        return major(self.version)
