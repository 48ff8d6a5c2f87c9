"""`compile` and `apply --dry-run` take the engine from the settings and open no connection: with
the URL on a closed port they succeed, and create no server state."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from mi_warehouse.cli import main
from mi_warehouse.engine.server import free_port

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def project(tmp_path, monkeypatch):
    """A copy of the warehouse project, the URL on a closed port, and any connection attempt an error."""
    shutil.copytree(REPO / "sql", tmp_path / "sql", ignore=shutil.ignore_patterns("target"))

    def refuse(*a, **kw):
        raise AssertionError("an offline command tried to connect")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return tmp_path


def invoke(project: Path, args: list[str], url: str | None = None, **env: str):
    env = {"MIW_PROJECT_DIR": str(project), "MIW_HOME": str(project / ".miw"),
           "MIW_HIVE_URL": url or f"hive://127.0.0.1:{free_port()}/default", "MIW_ENGINE": "", **env}
    return CliRunner().invoke(main, args, env=env, catch_exceptions=False)


def test_compile_on_an_embedded_url_is_spark_without_a_server(project):
    r = invoke(project, ["compile"])
    assert r.exit_code == 0, r.output
    assert "for spark into" in r.output
    header = (project / "target" / "compiled" / "patient_split.sql").read_text().splitlines()[0]
    assert header.endswith("compiled for spark")
    assert not (project / ".miw").exists()  # no server state, no lock files


def test_dry_run_on_an_embedded_url_renders_for_spark_and_creates_nothing(project):
    r = invoke(project, ["apply", "--dry-run"])
    assert r.exit_code == 0, r.output
    assert "-- V0001__create_core_tables.sql (11 statements)" in r.output
    assert "CREATE EXTERNAL TABLE IF NOT EXISTS mi.dicom_metadata" in r.output
    assert "GRANT" not in r.output
    assert not (project / ".miw").exists() and not (project / "target").exists()


def test_a_remote_url_needs_the_engine_said(project):
    remote = "hive://hive.example:10000/default"
    for args in (["compile"], ["apply", "--dry-run"]):
        r = invoke(project, args, url=remote)
        assert r.exit_code == 1
        lines = r.output.strip().splitlines()
        assert len(lines) == 1 and "[hive] engine" in lines[0] and "--engine" in lines[0], r.output
    r = invoke(project, ["apply", "--dry-run", "--engine", "hive"], url=remote)
    assert r.exit_code == 0, r.output
    assert "GRANT SELECT ON TABLE mi_phi.patient_map TO ROLE mi_phi_reader;" in r.output
    r = invoke(project, ["compile"], url=remote, MIW_ENGINE="hive")
    assert r.exit_code == 0 and "for hive into" in r.output
