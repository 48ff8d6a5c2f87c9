"""The error policy, through the CLI: every command's typical failure reaches the user as exactly
one line on stderr, exit status 1 for a named error, 2 for an unexpected exception (a bug)."""

from __future__ import annotations

import contextlib

import pytest
from click.testing import CliRunner

from mi_warehouse.cli import main
from mi_warehouse.engine.server import free_port
from mi_warehouse.errors import JavaMissing, QueryFailed, ServerStartFailed

from .test_cli_help import walk

NO_SERVER = "no HiveServer2 answers at 127.0.0.1:"


@pytest.fixture()
def invoke(tmp_path, monkeypatch):
    """Run `mi-warehouse ARGS` in an empty project whose HiveServer2 port has no server."""
    for var in ("MIW_PROJECT_DIR", "MIW_DEBUG", "MIW_HIVE_URL", "MIW_DATABASE", "MIW_PHI_DATABASE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MIW_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MIW_HIVE_URL", f"hive://127.0.0.1:{free_port()}/default")

    def run(*args: str, env: dict | None = None):
        return CliRunner().invoke(main, ["--project-dir", str(tmp_path), *args], env=env)

    return run


def one_line(result) -> str:
    assert result.stdout == "", result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


def raiser(exc: BaseException):
    def f(*args, **kwargs):
        raise exc

    return f


def test_every_command_goes_through_reports_errors():
    for path, cmd in walk(main):
        if cmd.callback is not None and not hasattr(cmd, "commands"):
            assert getattr(cmd.callback, "reports_errors", False), f"mi-warehouse {' '.join(path)}"


NO_SERVER_CASES = [
    ["apply", "--status"], ["labels", "load", "{csv}"], ["model", "list"], ["model", "show", "m:1"],
    ["model", "register", "{csv}", "--name", "m", "--version", "1", "--card", "{csv}"],
    ["infer", "--model", "m:1", "--cohort", "mi.cohort"], ["lineage", "1.2.3"],
    ["explain", "--model", "m:1", "--cohort", "mi.cohort", "--out", "maps"],
    ["run"], ["test"], ["sql", "SELECT 1"], ["load", "{csv}"], ["compact"],
]


@pytest.mark.parametrize("args", NO_SERVER_CASES)
def test_no_server_is_one_line_saying_how_to_start_one(invoke, tmp_path, args):
    csv = tmp_path / "x.csv"
    csv.write_text("sop_instance_uid,study_uid,label,label_value\n")
    r = invoke(*[a.replace("{csv}", str(csv)) for a in args])
    assert r.exit_code == 1
    line = one_line(r)
    assert NO_SERVER in line and "mi-warehouse server start" in line


NAMED_ERROR_CASES = [
    (["load", "--private-allow", "0009100", "/nowhere"], "'0009100' is not a tag of 8 hex digits: write it as"),
    (["run", "--vars", "{min_age: 18}"], "--vars is not JSON"),
    (["test", "--vars", "[18]"], "--vars must be a JSON object, not a list"),
    (["compile", "--engine", "hive"], "no model project directory here"),
    (["sql", "SELECT 'unterminated"], "unterminated"),
    (["server", "start"], "Java 17"),
    (["server", "stop"], "cannot stop"),
    (["server", "logs"], "cannot read"),
    (["demo"], "see its log"),
    (["synth", "--out", "{tmp}/corpus"], "no space left"),
    (["beeline"], "no Beeline at"),
    (["audit", "phi", "--no-phi-db"], "no core database at"),
]


def test_every_command_has_a_failure_case_here():
    groups = {path[0] for path, cmd in walk(main) if hasattr(cmd, "commands")}
    covered = {tuple(a[:2]) if a[0] in groups else (a[0],)
               for a in [*NO_SERVER_CASES, *(args for args, _ in NAMED_ERROR_CASES)]}
    covered |= {("config",), ("catalog",), ("server", "status")}  # the tests below
    commands = {path for path, cmd in walk(main) if not hasattr(cmd, "commands")}
    assert commands - covered == set(), "add a typical failure of each new command to this file"


@pytest.mark.parametrize("args, says", NAMED_ERROR_CASES)
def test_named_errors_are_one_line_with_status_1(invoke, tmp_path, monkeypatch, args, says):
    from mi_warehouse.engine import beeline, server

    monkeypatch.setattr(server, "java_executable", raiser(JavaMissing("no Java runtime: install Java 17")))
    monkeypatch.setattr(server.EmbeddedServer, "stop", raiser(ServerStartFailed("cannot stop pid 1")))
    monkeypatch.setattr(server.EmbeddedServer, "tail", raiser(ServerStartFailed("cannot read the log")))
    monkeypatch.setattr("mi_warehouse.demo.run_demo", raiser(ServerStartFailed("exited: see its log")))
    monkeypatch.setattr("mi_warehouse.synth.generate", raiser(QueryFailed("no space left\non device")))
    monkeypatch.setattr(beeline, "spark_home", lambda: tmp_path)
    r = invoke(*[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert r.exit_code == 1, r.output
    line = one_line(r) if args != ["server", "start"] else r.stderr.splitlines()[-1]
    assert says in line
    assert "\n" not in line and "Traceback" not in r.output


def test_config_error_is_one_line(invoke, tmp_path):
    (tmp_path / "mi-warehouse.toml").write_text('[hive]\nauth = "TOKEN"\n')
    r = invoke("config")
    assert r.exit_code == 1
    assert "auth 'TOKEN' is not one of" in one_line(r)


def test_sql_script_that_is_not_text_is_a_named_error(invoke, tmp_path):
    f = tmp_path / "bad.sql"
    f.write_bytes(b"SELECT '\xff\xfe'")
    r = invoke("sql", "-f", str(f))
    assert r.exit_code == 1
    assert "give a UTF-8 text file of HiveQL" in one_line(r)


def test_unexpected_exception_is_one_line_with_its_type_and_status_2(invoke, monkeypatch):
    # e.g. the ValueError a malformed de-identification key file raises while loading
    monkeypatch.setattr("mi_warehouse.engine.connection.connect", lambda settings: contextlib.nullcontext())
    monkeypatch.setattr("mi_warehouse.loaders.load.run_load",
                        raiser(ValueError("key file /k must hold at least 64 hex digits")))
    r = invoke("load", "/nowhere")
    assert r.exit_code == 2
    assert one_line(r) == ("Error: ValueError: key file /k must hold at least 64 hex digits "
                           "(run with MIW_DEBUG=1 for the traceback)")


def test_unexpected_exception_in_a_command_without_a_server(invoke, monkeypatch):
    monkeypatch.setattr("mi_warehouse.serde.catalog.markdown_table", raiser(KeyError("tag")))
    r = invoke("catalog")
    assert r.exit_code == 2
    assert one_line(r) == "Error: KeyError: 'tag' (run with MIW_DEBUG=1 for the traceback)"


def test_miw_debug_shows_the_traceback(invoke, monkeypatch):
    monkeypatch.setattr("mi_warehouse.serde.catalog.markdown_table", raiser(KeyError("tag")))
    r = invoke("catalog", env={"MIW_DEBUG": "1"})
    assert r.exit_code == 2
    assert r.stderr.startswith("Traceback (most recent call last):")
    assert r.stderr.splitlines()[-1] == "Error: KeyError: 'tag'"


def test_a_named_error_without_a_message_says_its_docstring(invoke, monkeypatch):
    monkeypatch.setattr("mi_warehouse.serde.catalog.markdown_table", raiser(JavaMissing()))
    r = invoke("catalog")
    assert r.exit_code == 1
    assert one_line(r) == f"Error: {JavaMissing.__doc__}"


def test_status_and_usage_exits_are_left_to_click(invoke):
    r = invoke("server", "status")
    assert (r.exit_code, r.stdout.strip()) == (3, "not running")
    r = invoke("sql")
    assert r.exit_code == 2 and "give a QUERY or -f FILE" in r.stderr
