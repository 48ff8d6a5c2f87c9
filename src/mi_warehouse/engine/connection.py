"""The connection layer: pyhive sessions and a SQLAlchemy engine from the same settings.

Everything that talks to HiveServer2 goes through `connect()`. It knows which engine answers
(Spark Thrift Server or Apache Hive, and its version; `Session.info.dialect` is its row of
`dialects.py`), checks it against the `[hive] engine` setting, and works around PyHive's failure
on result sets that Spark 3.5+ returns without columns. `sqlalchemy_engine()` gives SQLAlchemy
the same connections through the `hive+mi://` dialect (sqlalchemy_dialect.py).
"""

from __future__ import annotations

import functools
import re
import socket
import time
from dataclasses import dataclass
from typing import Any

from ..config import Settings
from ..errors import ConfigError, QueryFailed, ServerUnavailable
from . import dialects


class EngineMismatch(ConfigError):
    """The server is not the engine the `[hive] engine` setting names."""


@dataclass(frozen=True)
class EngineInfo(dialects.EngineFacts):
    name: str  # "spark" or "hive"
    version: str  # e.g. "4.3.0"
    dbms_name: str  # as the server reports it, e.g. "Spark SQL", "Apache Hive"
    engine_attribute = "name"

    @property
    def label(self) -> str:
        """"spark 4.3.0": what history and run_results rows record."""
        return f"{self.name} {self.version}"


@dataclass
class Result:
    columns: list[str]
    rows: list[tuple]
    statement: str = ""

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, r)) for r in self.rows]

    def scalar(self) -> Any:
        return self.rows[0][0] if self.rows else None


def engine_message(exc: BaseException) -> str:
    """The engine's own error text from a PyHive/thrift exception, on one line."""
    text = ""
    resp = exc.args[0] if exc.args else None
    status = getattr(resp, "status", None)
    if status is not None:
        text = status.errorMessage or ""
    if not text:
        text = str(exc)
        m = re.search(r"errorMessage=(['\"])(.*?)\1, (?:sqlState|errorCode)", text, re.S)
        if m:
            text = m.group(2).replace("\\n", "\n")
    text = re.sub(r"^Error running query:\s*", "", text.strip())
    # "[CODE] org.apache...AnalysisException: [CODE] message" -> "[CODE] message"
    text = re.sub(r"^(\[[A-Z_.]+\]\s*)?(?:[a-z]+\.)+[A-Za-z]*(?:Exception|Error):\s*", "", text)
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), text.strip())
    return first[:1000]


class Session:
    """One HiveServer2 session. Use as a context manager."""

    def __init__(self, settings: Settings, conn, info: EngineInfo):
        self.settings = settings
        self._conn = conn
        self.info = info

    # --- running statements ---------------------------------------------------
    def execute(self, sql: str, parameters: dict | None = None) -> Result:
        """Run one statement; return its columns and rows (both empty for DDL)."""
        cur = _Cursor(self._conn)
        try:
            cur.execute(sql, parameters)
            columns = [d[0].split(".")[-1] for d in (cur.description or [])]
            rows = cur.fetchall() if columns else []
            return Result(columns, [tuple(r) for r in rows], sql)
        except _connection_errors() as e:
            raise ServerUnavailable(
                f"lost the connection to HiveServer2 at {self.settings.host}:{self.settings.port}: {e}"
            ) from None
        except Exception as e:  # pyhive.exc.OperationalError, DatabaseError, thrift errors
            msg = engine_message(e)
            raise QueryFailed(msg, msg) from None
        finally:
            try:
                cur.close()
            except Exception:
                pass

    def query(self, sql: str, parameters: dict | None = None) -> list[dict[str, Any]]:
        return self.execute(sql, parameters).dicts()

    def execute_with_logs(self, sql: str) -> tuple[Result, list[str]]:
        """Run a statement and return the operation log lines the server kept for it."""
        cur = _Cursor(self._conn)
        try:
            cur.execute(sql)
            columns = [d[0].split(".")[-1] for d in (cur.description or [])]
            rows = cur.fetchall() if columns else []
            return Result(columns, [tuple(r) for r in rows], sql), cur.fetch_logs()
        except Exception as e:
            msg = engine_message(e)
            raise QueryFailed(msg, msg) from None
        finally:
            cur.close()

    def table_exists(self, database: str, table: str) -> bool:
        if not self.database_exists(database):
            return False
        res = self.execute(f"SHOW TABLES IN `{database}` LIKE '{table}'")
        names = self.info.dialect.names_from_show("TABLES", res.columns, res.rows)
        return table.lower() in (n.lower() for n in names)

    def table_names(self, database: str) -> set[str]:
        """The tables and views of a database, lower-cased (none if the database does not exist):
        one listing for a command that needs several of them."""
        if not self.database_exists(database):
            return set()
        res = self.execute(f"SHOW TABLES IN `{database}`")
        return {n.lower() for n in self.info.dialect.names_from_show("TABLES", res.columns, res.rows)}

    def database_exists(self, database: str) -> bool:
        rows = self.execute(f"SHOW DATABASES LIKE '{database}'").rows
        return any(str(r[0]).lower() == database.lower() for r in rows)

    def close(self) -> None:
        try:
            self._conn.close()
        except Exception:
            pass

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _connection_errors() -> tuple[type[BaseException], ...]:
    from thrift.transport.TTransport import TTransportException

    return (TTransportException, ConnectionError, socket.timeout, BrokenPipeError)


def _hive_module():
    from pyhive import hive

    return hive


def _Cursor(conn):
    return _cursor_class()(conn)


@functools.lru_cache(maxsize=None)
def _connection_class():
    """A pyhive connection whose cursors are the tolerant ones (for SQLAlchemy too)."""
    hive = _hive_module()

    class TolerantConnection(hive.Connection):
        def cursor(self, *args, **kwargs):
            return _cursor_class()(self, *args, **kwargs)

    return TolerantConnection


def open_dbapi_connection(**kwargs):
    """A DB-API connection (pyhive's, with tolerant cursors) from pyhive.hive.connect() arguments."""
    return _connection_class()(**kwargs)


@functools.lru_cache(maxsize=None)
def _cursor_class():
    """A pyhive cursor that tolerates result sets without columns and servers without GetLog."""
    from TCLIService import ttypes

    hive = _hive_module()

    class TolerantCursor(hive.Cursor):
        def _fetch_more(self):
            # Spark 3.5+ answers a fetch on an empty or column-less result with `columns=None`,
            # on which PyHive's own loop fails with "'NoneType' object is not iterable".
            if not self._operationHandle.hasResultSet:
                self._state = self._STATE_FINISHED
                return
            req = ttypes.TFetchResultsReq(
                operationHandle=self._operationHandle,
                orientation=ttypes.TFetchOrientation.FETCH_NEXT,
                maxRows=self.arraysize,
            )
            response = self._connection.client.FetchResults(req)
            hive._check_status(response)
            schema = self.description or []
            cols = response.results.columns if response.results else None
            if not cols or not schema:
                self._state = self._STATE_FINISHED
                return
            columns = [hive._unwrap_column(col, s[1]) for col, s in zip(cols, schema)]
            new_data = list(zip(*columns))
            self._data += new_data
            if not new_data:
                self._state = self._STATE_FINISHED

        def fetch_logs(self):
            try:
                return super().fetch_logs()
            except Exception:  # servers without GetLog, or logging disabled
                return []

    return TolerantCursor


def connect(settings: Settings, database: str | None = None, timeout: float | None = None) -> Session:
    """Open a session against the configured HiveServer2."""
    kwargs: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "database": database or settings.url_database,
        "auth": settings.auth,
    }
    if settings.auth in ("LDAP", "CUSTOM"):
        kwargs["username"] = settings.username or None
        kwargs["password"] = settings.password or None
    elif settings.username:
        kwargs["username"] = settings.username
    if settings.auth == "KERBEROS":
        kwargs["kerberos_service_name"] = settings.kerberos_service_name
    _check_reachable(settings, timeout or 5.0)
    try:
        conn = open_dbapi_connection(**kwargs)
    except Exception as e:
        raise ServerUnavailable(
            f"cannot open a HiveServer2 session at {settings.host}:{settings.port} "
            f"(auth {settings.auth}): {engine_message(e)}"
        ) from None
    info = detect_engine(conn)
    if settings.engine != dialects.AUTO and settings.engine != info.name:
        conn.close()
        raise EngineMismatch(
            f"[hive] engine is {settings.engine!r} but the server at {settings.host}:{settings.port} is "
            f"{info.dbms_name} {info.version}: set [hive] engine (MIW_ENGINE) to {info.name!r} or 'auto'")
    return Session(settings, conn, info)


def _check_reachable(settings: Settings, timeout: float) -> None:
    try:
        with socket.create_connection((settings.host, settings.port), timeout=timeout):
            return
    except OSError:
        hint = " (start the embedded one with `mi-warehouse server start`)" if settings.is_embedded else ""
        raise ServerUnavailable(
            f"no HiveServer2 answers at {settings.host}:{settings.port}{hint}"
        ) from None


def detect_engine(conn) -> EngineInfo:
    """Ask the server what it is (thrift GetInfo), as JDBC's DatabaseMetaData does."""
    from TCLIService import ttypes

    def info(kind) -> str:
        try:
            resp = conn.client.GetInfo(ttypes.TGetInfoReq(conn.sessionHandle, kind))
            return resp.infoValue.stringValue or ""
        except Exception:
            return ""

    dbms = info(ttypes.TGetInfoType.CLI_DBMS_NAME)
    version = info(ttypes.TGetInfoType.CLI_DBMS_VER)
    return EngineInfo(name=dialects.from_dbms_name(dbms).name, version=dialects.parse_version(version) or "unknown",
                      dbms_name=dbms or "unknown")


def wait_until_answering(settings: Settings, timeout: float, alive=lambda: True) -> EngineInfo:
    """Poll until `SELECT 1` answers; `alive()` returning False stops the wait early."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if not alive():
            raise ServerUnavailable(f"the server process exited while starting ({last})")
        try:
            with connect(settings, timeout=2.0) as s:
                s.execute("SELECT 1")
                return s.info
        except (ServerUnavailable, QueryFailed) as e:
            last = str(e)
        time.sleep(1.0)
    raise ServerUnavailable(f"no answer from {settings.host}:{settings.port} after {timeout:.0f}s ({last})")


def sqlalchemy_engine(settings: Settings, database: str | None = None):
    """A SQLAlchemy engine (`hive+mi://`, the dialect that lists real table names on both engines)
    built from the same settings as `connect()`."""
    from sqlalchemy import create_engine

    from .sqlalchemy_dialect import URL_SCHEME, register

    register()

    db = database or settings.url_database
    user = f"{settings.username}@" if settings.username else ""
    connect_args: dict[str, Any] = {"auth": settings.auth}
    if settings.auth in ("LDAP", "CUSTOM") and settings.password:
        connect_args["password"] = settings.password
    if settings.auth == "KERBEROS":
        connect_args["kerberos_service_name"] = settings.kerberos_service_name
    return create_engine(
        f"{URL_SCHEME}://{user}{settings.host}:{settings.port}/{db}", connect_args=connect_args
    )
