"""A SQLAlchemy dialect for HiveServer2 that lists real table, view and column names on Hive and
on the Spark Thrift Server: `hive+mi://HOST:PORT/DATABASE`.

PyHive's own `hive://` dialect reads the first column of `SHOW TABLES`, which on Spark is the
database (namespace, tableName, isTemporary), so every table of `mi` is listed as `mi`, and it
lists views as tables. This one asks the server what it is (thrift GetInfo) and reads the
columns that engine's row of `dialects.py` names. It is registered under `hive.mi` with
SQLAlchemy's registry (entry point `sqlalchemy.dialects` in pyproject.toml, and `register()`), so
pandas, Superset or any SQLAlchemy tool gets it from the URL alone:

    engine = sqlalchemy.create_engine("hive+mi://127.0.0.1:10000/default")
    sqlalchemy.inspect(engine).get_table_names(schema="mi")   # ['dicom_metadata', 'labels', ...]
    pandas.read_sql_table("load_runs", engine, schema="mi")
"""

from __future__ import annotations

import re

from pyhive.sqlalchemy_hive import HiveDialect, _type_map
from sqlalchemy import exc, types, util
from sqlalchemy.sql import text

from .connection import EngineInfo, detect_engine, open_dbapi_connection
from .dialects import Dialect

URL_SCHEME = "hive+mi"
_PARTITIONS = "# partition information"


def register() -> None:
    """Make `hive+mi://` URLs use `MiHiveDialect` in this process (the entry point does it for
    installed packages)."""
    from sqlalchemy.dialects import registry

    registry.register("hive.mi", __name__, "MiHiveDialect")


class MiHiveDialect(HiveDialect):
    driver = "mi"
    supports_statement_cache = False

    @classmethod
    def import_dbapi(cls):
        from pyhive import hive

        return hive

    def connect(self, *cargs, **cparams):
        return open_dbapi_connection(*cargs, **cparams)

    def initialize(self, connection) -> None:
        super().initialize(connection)
        self._engine_info = detect_engine(connection.connection.dbapi_connection)

    def _get_server_version_info(self, connection):
        info = self._info(connection)
        return tuple(int(p) for p in re.findall(r"\d+", info.version)) or None

    def _info(self, connection) -> EngineInfo:
        info = getattr(self, "_engine_info", None)
        if info is None:
            info = self._engine_info = detect_engine(connection.connection.dbapi_connection)
        return info

    def _engine(self, connection) -> Dialect:
        return self._info(connection).dialect

    def _show(self, connection, kind: str, schema: str | None) -> list[str]:
        query = f"SHOW {kind}"
        if schema:
            query += " IN " + self.identifier_preparer.quote_identifier(schema)
        result = connection.execute(text(query))
        columns = list(result.keys())
        return self._engine(connection).names_from_show(kind, columns, result.fetchall())

    # --- names ------------------------------------------------------------------------------
    def get_schema_names(self, connection, **kw):
        return [str(r[0]) for r in connection.execute(text("SHOW DATABASES"))]

    def get_view_names(self, connection, schema=None, **kw):
        return self._show(connection, "VIEWS", schema)

    def get_table_names(self, connection, schema=None, **kw):
        views = set(self.get_view_names(connection, schema))
        return [n for n in self._show(connection, "TABLES", schema) if n not in views]

    def has_table(self, connection, table_name, schema=None, **kw):
        return table_name.lower() in (n.lower() for n in self._show(connection, "TABLES", schema))

    # --- columns ----------------------------------------------------------------------------
    def _describe(self, connection, table_name: str, schema: str | None) -> list[tuple[str, str, str]]:
        if not self.has_table(connection, table_name, schema):
            raise exc.NoSuchTableError(f"{schema}.{table_name}" if schema else table_name)
        q = self.identifier_preparer
        full = f"{q.quote_identifier(schema)}.{q.quote_identifier(table_name)}" if schema \
            else q.quote_identifier(table_name)
        rows = connection.execute(text(f"DESCRIBE {full}")).fetchall()
        return [tuple((str(c).strip() if c is not None else "") for c in (*r, "", "")[:3]) for r in rows]

    @staticmethod
    def _sections(rows) -> tuple[list[tuple[str, str, str]], list[str]]:
        """(columns in table order, partition column names) from DESCRIBE rows.

        Both engines list the columns, partition columns included, then a `# Partition
        Information` block that repeats the partition columns under a `# col_name` header.
        """
        columns, partitions, seen = [], [], set()
        section = "columns"
        for name, typ, comment in rows:
            if name.startswith("#"):
                section = "partitions" if name.lower() == _PARTITIONS else (
                    section if name.lower() == "# col_name" else "other")
                continue
            if not name:
                continue
            if section == "columns" and name.lower() not in seen:
                seen.add(name.lower())
                columns.append((name, typ, comment))
            elif section == "partitions":
                partitions.append(name)
        return columns, partitions

    def get_columns(self, connection, table_name, schema=None, **kw):
        columns, _ = self._sections(self._describe(connection, table_name, schema))
        out = []
        for name, typ, comment in columns:
            m = re.match(r"\w+", typ)
            base = m.group(0).lower() if m else ""
            coltype = _type_map.get(base)
            if coltype is None:
                util.warn(f"Did not recognize type '{typ}' of column '{name}'")
                coltype = types.NullType
            out.append({"name": name, "type": coltype, "nullable": True, "default": None,
                        "comment": comment or None})
        return out

    def get_indexes(self, connection, table_name, schema=None, **kw):
        _, partitions = self._sections(self._describe(connection, table_name, schema))
        return [{"name": "partition", "column_names": partitions, "unique": False}] if partitions else []

    def get_pk_constraint(self, connection, table_name, schema=None, **kw):
        return {"constrained_columns": [], "name": None}
