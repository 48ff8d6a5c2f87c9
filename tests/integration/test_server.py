"""`mi-warehouse server start|stop|status|logs` and its errors."""

import json
import os
import socket

from mi_warehouse.engine.server import _alive, free_port


def test_status_and_start_when_running(cli, server_env, env_for):
    env = env_for()
    r = cli(["server", "status"], env)
    assert r.returncode == 0 and "running (pid" in r.stdout
    r = cli(["server", "start"], env)
    assert r.returncode == 0, r.stderr
    assert "already running" in r.stdout and server_env["MIW_HIVE_URL"] in r.stdout
    r = cli(["server", "logs", "-n", "5"], env)
    assert r.returncode == 0 and r.stdout.strip()


def test_port_in_use_is_reported_not_hung_on(cli, env_for, tmp_path):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        env = env_for(MIW_HOME=tmp_path / "other", MIW_HIVE_URL=f"hive://127.0.0.1:{port}/default")
        r = cli(["server", "start"], env, timeout=60)
    assert r.returncode == 1
    (error,) = [ln for ln in r.stderr.splitlines() if ln.startswith("Error:")]
    assert f"port {port} on 127.0.0.1 is already in use" in error


def test_missing_java_names_the_package(cli, env_for, tmp_path):
    env = env_for(MIW_HOME=tmp_path / "nojava", MIW_HIVE_URL=f"hive://127.0.0.1:{free_port()}/default")
    env.pop("JAVA_HOME", None)
    env["PATH"] = str(tmp_path)  # no java here
    r = cli(["server", "start"], env, timeout=60)
    assert r.returncode == 1
    assert "openjdk-17-jre-headless" in r.stderr and "no Java runtime" in r.stderr


def test_stop_never_touches_a_process_that_is_not_ours(cli, env_for, tmp_path):
    home = tmp_path / "foreign"
    home.mkdir()
    (home / "hiveserver2.pid").write_text(json.dumps({"pid": os.getpid(), "port": 1}))
    env = env_for(MIW_HOME=home, MIW_HIVE_URL=f"hive://127.0.0.1:{free_port()}/default")
    r = cli(["server", "stop"], env)
    assert r.returncode == 0 and "not running" in r.stdout
    r = cli(["server", "status"], env)
    assert r.returncode == 3 and "not running" in r.stdout


def test_full_lifecycle_of_a_second_server(cli, env_for, tmp_path):
    port = free_port()
    env = env_for(MIW_HOME=tmp_path / "second", MIW_HIVE_URL=f"hive://127.0.0.1:{port}/default",
                  MIW_DRIVER_MEMORY="512m")
    r = cli(["server", "start"], env)
    assert r.returncode == 0, r.stderr
    assert f"started: Spark SQL" in r.stdout and f"127.0.0.1:{port}" in r.stdout
    pid = json.loads((tmp_path / "second" / "hiveserver2.pid").read_text())["pid"]
    assert (tmp_path / "second" / "metastore" / "metastore_db").is_dir()
    r = cli(["sql", "SELECT 1 + 1 AS two", "--format", "csv"], env)
    assert r.stdout == "two\n2\n", r.stderr
    r = cli(["server", "stop"], env)
    assert r.returncode == 0 and f"stopped (pid {pid}, gracefully)" in r.stdout
    assert not (tmp_path / "second" / "hiveserver2.pid").exists()
    assert not _alive(pid)  # gone, or a zombie waiting for a parent that is not ours to reap
    r = cli(["server", "status"], env)
    assert r.returncode == 3
