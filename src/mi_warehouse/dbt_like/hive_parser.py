"""Hive's own parser as a gate: compiled HiveQL must also parse with Hive 2.3's `ParseDriver`.

The embedded engine is Spark, whose SQL parser accepts more than Hive's (`ILIKE`, lambdas,
`SELECT * EXCEPT (...)`, `LEFT ANTI JOIN`, `a::int`, reserved words as bare aliases, a subquery
without an alias, ...). A model that only runs on Spark would fail on the Hive cluster, so every
model SELECT and data test is also parsed by `org.apache.hadoop.hive.ql.parse.ParseDriver` from
the `hive-exec-2.3.*-core.jar` that the pyspark wheel ships, in a JVM reached through py4j:

    parser = HiveParser.shared()          # one JVM per process, started on first use (~1-2 s)
    parser.parse("SELECT 1 FROM t")       # None, or HiveParseError("line 1:24 missing EOF at ...")
    check_sql(["SELECT ...", ...])        # ["statement 2: line 1:24 missing EOF at 'ILIKE' near 'a'"]
    check_manifest(manifest)              # ["`orders` (models/orders.sql): line 3:7 ..."]
    parser.close()

How ParseDriver is called (Hive 2.3): `new ParseDriver().parse(sql, ctx)` with a
`org.apache.hadoop.hive.ql.Context` built on a plain Hadoop `Configuration`. The one-argument
`parse(sql)` leaves the lexer without a configuration, and then `allowQuotedId()` is false: Hive
would reject backticked identifiers such as `` `a b` `` that a cluster (default
`hive.support.quoted.identifiers=column`) accepts. `Context(conf)` needs a session path; outside a
Hive `SessionState` it reads `_hive.hdfs.session.path` / `_hive.local.session.path` from the conf
(nothing is created there: the parser never writes scratch files). Only parsing happens: no
metastore, no semantic analysis, so unknown tables and functions are not reported.

Hive's parser prints a stack trace to stderr for each syntax error; the JVM's stdout and stderr go
to os.devnull unless `log=` names a file.
"""

from __future__ import annotations

import atexit
import os
import re
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from ..errors import MiWarehouseError

if TYPE_CHECKING:  # pragma: no cover
    from .manifest import Manifest

PARSE_DRIVER = "org.apache.hadoop.hive.ql.parse.ParseDriver"
JAVA_OPTS = (
    "-Xmx256m",  # the parser needs little memory
    "-Xss16m",  # ANTLR 3 recursive descent: deep expressions need a deep stack
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",  # C1 only: quicker start, and parsing is short work
    "-Djava.awt.headless=true",
)


class HiveParseError(MiWarehouseError):
    """Hive's parser rejects a statement; the message is Hive's, on one line (line L:C, the token)."""

    def __init__(self, message: str, sql: str = ""):
        super().__init__(message)
        self.sql = sql


class HiveParserUnavailable(MiWarehouseError):
    """The JVM that runs Hive's parser cannot be started or stopped answering."""


def _jars_dir() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent / "jars"


def _one_line(text: str) -> str:
    return "; ".join(part.strip() for part in str(text).splitlines() if part.strip())


def _strip_terminator(sql: str) -> str:
    """Drop trailing `;` (Beeline and the Hive CLI strip them; ParseDriver does not accept them)."""
    body = sql.strip()
    while body.endswith(";"):
        body = body[:-1].rstrip()
    return body


class HiveParser:
    """Hive 2.3's `ParseDriver` in a py4j-launched JVM. Starts lazily; `close()` stops the JVM."""

    _shared: "HiveParser | None" = None
    _shared_pid: int | None = None
    _shared_lock = threading.Lock()

    def __init__(self, jars_dir: Path | str | None = None, java: str | None = None,
                 log: Path | str | None = None):
        self.jars_dir = Path(jars_dir) if jars_dir is not None else None
        self.java = java
        self.log = Path(log) if log is not None else None
        self.start_seconds: float | None = None  # how long starting the JVM and the parser took
        self._lock = threading.RLock()
        self._gateway = None
        self._proc = None
        self._driver = None
        self._ctx = None
        self._log_file = None
        self._pid: int | None = None

    # --- the process-wide instance -------------------------------------------------------
    @classmethod
    def shared(cls) -> "HiveParser":
        """The one parser of this process (a forked child gets its own JVM)."""
        with cls._shared_lock:
            if cls._shared is None or cls._shared_pid != os.getpid():
                cls._shared = cls()
                cls._shared_pid = os.getpid()
            return cls._shared

    # --- life cycle ----------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._gateway is not None and self._pid == os.getpid() and (
            self._proc is None or self._proc.poll() is None)

    def start(self) -> "HiveParser":
        """Start the JVM if it is not running; idempotent. Raises JavaMissing or HiveParserUnavailable."""
        with self._lock:
            if self.running:
                return self
            if self._gateway is not None:  # died, or inherited through fork: forget it
                self._forget()
            from py4j.java_gateway import GatewayParameters, JavaGateway, launch_gateway

            from ..engine.server import java_executable

            java = self.java or java_executable()  # JavaMissing names the package to install
            jars = self.jars_dir or _jars_dir()
            if not any(jars.glob("hive-exec-*.jar")):
                raise HiveParserUnavailable(
                    f"no hive-exec jar in {jars}: Hive's parser ships with the pyspark wheel "
                    "(pip install pyspark)")
            t0 = time.monotonic()
            if self.log is not None:
                self.log.parent.mkdir(parents=True, exist_ok=True)
                self._log_file = open(self.log, "a", encoding="utf-8")
                out = err = self._log_file
            else:
                out = err = None  # py4j sends both to os.devnull
            try:
                port, token, proc = launch_gateway(
                    classpath=str(jars / "*"), javaopts=list(JAVA_OPTS), die_on_exit=True,
                    redirect_stdout=out, redirect_stderr=err, java_path=java, enable_auth=True,
                    return_proc=True)
            except Exception as e:  # the JVM exited before announcing its port
                self._close_log()
                hint = f"; its output is in {self.log}" if self.log else "; pass log=PATH to see its output"
                raise HiveParserUnavailable(
                    f"the JVM for Hive's parser did not start ({java}, classpath {jars}/*): "
                    f"{_one_line(e) or type(e).__name__}{hint}") from None
            self._proc = proc
            self._gateway = JavaGateway(gateway_parameters=GatewayParameters(
                port=port, auth_token=token, auto_convert=True))
            self._pid = os.getpid()
            try:
                jvm = self._gateway.jvm
                conf = jvm.org.apache.hadoop.conf.Configuration(False)
                scratch = str(Path(tempfile.gettempdir()) / "mi-warehouse-hive-parser")
                conf.set("_hive.hdfs.session.path", scratch)
                conf.set("_hive.local.session.path", scratch)
                self._ctx = jvm.org.apache.hadoop.hive.ql.Context(conf)
                self._driver = jvm.org.apache.hadoop.hive.ql.parse.ParseDriver()
                self._driver.parse("SELECT 1", self._ctx)  # load the parser classes now
            except Exception as e:
                self.close()
                raise HiveParserUnavailable(
                    f"Hive's ParseDriver could not be set up in the JVM: {_java_message(e)}") from None
            self.start_seconds = time.monotonic() - t0
            atexit.register(self.close)
            return self

    def close(self) -> None:
        """Stop the JVM (idempotent). A later `parse` starts a new one."""
        with self._lock:
            gateway, proc = self._gateway, self._proc
            mine = self._pid == os.getpid()
            self._forget()
            try:
                atexit.unregister(self.close)
            except Exception:  # pragma: no cover
                pass
            if gateway is None or not mine:
                return
            try:
                gateway.shutdown()
            except Exception:
                pass
            if proc is not None:
                try:
                    if proc.stdin:
                        proc.stdin.close()  # --die-on-broken-pipe
                    proc.wait(timeout=10)
                except Exception:
                    proc.kill()
                    try:
                        proc.wait(timeout=5)
                    except Exception:  # pragma: no cover
                        pass

    def _forget(self) -> None:
        self._gateway = self._proc = self._driver = self._ctx = None
        self._pid = None
        self._close_log()

    def _close_log(self) -> None:
        if self._log_file is not None:
            try:
                self._log_file.close()
            except OSError:  # pragma: no cover
                pass
            self._log_file = None

    def __enter__(self) -> "HiveParser":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # --- parsing -------------------------------------------------------------------------
    def parse(self, sql: str) -> None:
        """Parse one statement (a trailing `;` is allowed) with Hive's parser, or raise HiveParseError."""
        from py4j.protocol import Py4JError, Py4JJavaError, Py4JNetworkError

        body = _strip_terminator(sql)
        with self._lock:
            self.start()
            try:
                self._driver.parse(body, self._ctx)
            except Py4JJavaError as e:
                raise HiveParseError(_java_message(e) or "Hive's parser rejects the statement", sql) from None
            except (Py4JNetworkError, Py4JError) as e:
                self.close()
                raise HiveParserUnavailable(
                    f"the JVM for Hive's parser stopped answering: {_one_line(e)}") from None


def _java_message(e: BaseException) -> str:
    """Hive's message of a Java exception, on one line (`line 1:24 missing EOF at 'ILIKE' near 'a'`)."""
    java = getattr(e, "java_exception", None)
    if java is not None:
        try:
            msg = java.getMessage()
            if not msg:
                msg = java.toString()
            return _one_line(msg)
        except Exception:
            pass
    text = _one_line(e)
    m = re.search(r"ParseException:?\s*(.*)", text)
    return m.group(1) if m else text


def check_sql(statements: Iterable[str], parser: HiveParser | None = None) -> list[str]:
    """One line per statement Hive's parser rejects: `statement N: <Hive's message>` (N from 1)."""
    parser = parser or HiveParser.shared()
    problems = []
    for i, sql in enumerate(statements, 1):
        try:
            parser.parse(sql)
        except HiveParseError as e:
            problems.append(f"statement {i}: {e}")
    return problems


def check_manifest(manifest: "Manifest", parser: HiveParser | None = None) -> list[str]:
    """Parse each selected model's compiled SELECT and each selected test with Hive's parser.

    Returns one line per rejected one: "`<name>` (<file>): <Hive's message>", where the line and
    column count in the compiled SQL (the compiled file, less its one-line header comment).
    """
    parser = parser or HiveParser.shared()
    problems = []
    for name in manifest.selected:
        node = manifest.models.get(name)
        if node is None or node.compiled_sql is None:
            continue
        try:
            parser.parse(node.compiled_sql)
        except HiveParseError as e:
            problems.append(f"`{name}` ({node.path}): {e}")
    for name in manifest.selected_tests:
        ct = manifest.tests.get(name)
        if ct is None or not ct.test.sql.strip():
            continue
        try:
            parser.parse(ct.test.sql)
        except HiveParseError as e:
            problems.append(f"`{name}` ({ct.test.origin}): {e}")
    return problems
