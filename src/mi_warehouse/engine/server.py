"""The embedded HiveServer2: Spark Thrift Server from the pyspark wheel, Derby metastore.

All state lives under `MIW_HOME`: `metastore/` (Derby), `warehouse/` (managed tables),
`logs/hiveserver2.log`, `hiveserver2.pid`. `stop` only ever signals the process recorded in the
pid file, and only after checking that it is still our Thrift Server.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..config import Settings
from ..errors import JavaMissing, PortInUse, ServerStartFailed, ServerUnavailable
from .connection import EngineInfo, wait_until_answering

THRIFT_CLASS = "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"
JAVA_PACKAGE = "openjdk-17-jre-headless"


@dataclass(frozen=True)
class ServerState:
    running: bool
    pid: int | None
    url: str
    log: Path
    message: str


def spark_home() -> Path:
    env = os.environ.get("SPARK_HOME")
    if env and (Path(env) / "bin" / "spark-submit").exists():
        return Path(env)
    import pyspark

    return Path(pyspark.__file__).parent


def java_executable() -> str:
    """Path of a Java 17+ runtime, or JavaMissing with the package to install."""
    candidates = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(str(Path(os.environ["JAVA_HOME"]) / "bin" / "java"))
    if shutil.which("java"):
        candidates.append(shutil.which("java"))
    for java in candidates:
        if not os.access(java, os.X_OK):
            continue
        try:
            out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        m = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
        if m:
            major = int(m.group(1)) if m.group(1) != "1" else int(m.group(2) or 0)
            if major >= 17:
                return java
            raise JavaMissing(
                f"Java {major} found at {java}, the embedded server needs Java 17+: "
                f"apt-get install -y {JAVA_PACKAGE}"
            )
    raise JavaMissing(
        f"no Java runtime found (java on PATH or JAVA_HOME): apt-get install -y {JAVA_PACKAGE}"
    )


class EmbeddedServer:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.home = settings.home
        self.pid_file = self.home / "hiveserver2.pid"
        self.log_file = self.home / "logs" / "hiveserver2.log"

    @property
    def url(self) -> str:
        return f"hive://{self.settings.host}:{self.settings.port}/{self.settings.url_database}"

    # --- pid bookkeeping ----------------------------------------------------
    def _recorded(self) -> dict | None:
        try:
            return json.loads(self.pid_file.read_text())
        except (OSError, ValueError):
            return None

    def _our_pid(self) -> int | None:
        """The pid in the pid file if that process is alive and is our Thrift Server."""
        rec = self._recorded()
        if not rec:
            return None
        pid = int(rec.get("pid", 0))
        if pid <= 0 or not _alive(pid):
            return None
        cmdline = _cmdline(pid)
        if cmdline is not None and (THRIFT_CLASS not in cmdline or str(self.home) not in cmdline):
            return None  # the pid was reused by another process: not ours to touch
        return pid

    # --- commands -------------------------------------------------------------
    def status(self) -> ServerState:
        pid = self._our_pid()
        if pid:
            return ServerState(True, pid, self.url, self.log_file, f"running (pid {pid}) at {self.url}")
        return ServerState(False, None, self.url, self.log_file, "not running")

    def start(self, timeout: float | None = None) -> tuple[ServerState, EngineInfo | None, bool]:
        """Start and wait until a query answers. Returns (state, engine, started_now)."""
        if not self.settings.is_embedded:
            raise ServerStartFailed(
                f"the configured server {self.settings.host} is not local: the embedded server only "
                "runs on 127.0.0.1 (set MIW_HIVE_URL=hive://127.0.0.1:PORT/default to use it)"
            )
        pid = self._our_pid()
        if pid:
            info = wait_until_answering(self.settings, timeout or self.settings.start_timeout,
                                        alive=lambda: _alive(pid))
            return self.status(), info, False
        java = java_executable()
        if _port_taken(self.settings.host, self.settings.port):
            raise PortInUse(
                f"port {self.settings.port} on {self.settings.host} is already in use by another "
                f"process; stop it or choose another port (MIW_HIVE_URL=hive://127.0.0.1:PORT/default)"
            )
        self.pid_file.unlink(missing_ok=True)
        for d in (self.home, self.home / "logs", self.home / "metastore", self.home / "warehouse"):
            d.mkdir(parents=True, exist_ok=True)
        cmd = self.command()
        env = dict(os.environ)
        env["SPARK_HOME"] = str(spark_home())
        env.setdefault("JAVA_HOME", str(Path(os.path.realpath(java)).parent.parent))
        env["PYSPARK_PYTHON"] = sys.executable
        env["SPARK_LOCAL_IP"] = "127.0.0.1"
        env["SPARK_LOCAL_HOSTNAME"] = "localhost"
        # The TRANSFORM scripts that the server runs use this interpreter first on PATH.
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
        with open(self.log_file, "ab") as log:
            log.write(f"\n==== mi-warehouse server start {time.strftime('%Y-%m-%dT%H:%M:%S')} ====\n".encode())
            log.flush()
            proc = subprocess.Popen(
                cmd, cwd=self.home, env=env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
        self.pid_file.write_text(json.dumps({
            "pid": proc.pid, "port": self.settings.port, "home": str(self.home),
            "started_at": time.time(),
        }))
        try:
            info = wait_until_answering(
                self.settings, timeout or self.settings.start_timeout, alive=lambda: proc.poll() is None
            )
        except ServerUnavailable as e:
            self._terminate(proc.pid, grace=10)
            self.pid_file.unlink(missing_ok=True)
            raise ServerStartFailed(
                f"the embedded HiveServer2 did not start: {e}; last log lines:\n{self.tail(15)}"
            ) from None
        return self.status(), info, True

    def stop(self, grace: float = 30.0) -> str:
        pid = self._our_pid()
        if not pid:
            self.pid_file.unlink(missing_ok=True)
            return "not running"
        how = self._terminate(pid, grace)
        self.pid_file.unlink(missing_ok=True)
        return f"stopped (pid {pid}, {how})"

    def tail(self, lines: int = 50) -> str:
        try:
            with open(self.log_file, "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - 256 * 1024))
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return f"(no log at {self.log_file})"
        return "\n".join(text.splitlines()[-lines:])

    def command(self) -> list[str]:
        home = self.home
        metastore = home / "metastore"
        warehouse = home / "warehouse"
        s = self.settings
        java_opts = f"-Dderby.system.home={metastore} -Djava.io.tmpdir={home / 'tmp'}"
        (home / "tmp").mkdir(parents=True, exist_ok=True)
        return [
            str(spark_home() / "bin" / "spark-submit"),
            "--class", THRIFT_CLASS,
            "--name", f"mi-warehouse-hiveserver2 {home}",
            "--master", "local[*]",
            "--driver-memory", s.driver_memory,
            "--conf", "spark.ui.enabled=false",
            "--conf", f"spark.sql.warehouse.dir={warehouse.as_uri()}",
            "--conf", f"spark.driver.extraJavaOptions={java_opts}",
            "--conf", "spark.driver.bindAddress=127.0.0.1",
            "--conf", "spark.driver.host=127.0.0.1",
            "--conf", "spark.sql.shuffle.partitions=4",
            "--conf", "spark.sql.sources.partitionOverwriteMode=dynamic",
            # No per-session cache of partition file listings: files are written beside the engine
            # (loads, compactions), and a session that cached a listing would miss new files, or
            # fail on a file a compaction replaced (FAILED_READ_FILE.FILE_NOT_EXIST), until it
            # ran REFRESH TABLE itself; another session's REFRESH does not clear it.
            "--conf", "spark.sql.hive.filesourcePartitionFileCacheSize=0",
            "--conf", "spark.hadoop.javax.jdo.option.ConnectionURL="
                      f"jdbc:derby:;databaseName={metastore / 'metastore_db'};create=true",
            "--conf", "spark.hadoop.hive.exec.dynamic.partition.mode=nonstrict",
            "--conf", f"spark.hadoop.hive.metastore.warehouse.dir={warehouse.as_uri()}",
            "--hiveconf", f"hive.server2.thrift.port={s.port}",
            "--hiveconf", f"hive.server2.thrift.bind.host={s.host}",
            "--hiveconf", "hive.server2.transport.mode=binary",
            "--hiveconf", "hive.server2.authentication=NONE" if s.auth == "NONE"
                          else f"hive.server2.authentication={s.auth}",
            "spark-internal",
        ]

    def _terminate(self, pid: int, grace: float) -> str:
        """SIGTERM the server's process group, then SIGKILL after `grace` seconds."""
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                return "already gone"
            except PermissionError:
                os.kill(pid, sig)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                if not _alive(pid):
                    return "gracefully" if sig == signal.SIGTERM else "killed"
                time.sleep(0.2)
        return "killed"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours counts as gone
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        return state != "Z"
    except OSError:
        return True


def _cmdline(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None  # not Linux: trust the pid file


def _port_taken(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is not "in use"
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
