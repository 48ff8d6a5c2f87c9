"""Shared fixtures. One embedded HiveServer2 per test session, in a temporary MIW_HOME on a free
port, so that a server the user already runs on 10000 is neither used nor touched."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_counter = itertools.count(1)


def pytest_collection_modifyitems(items):
    for item in items:
        if "/integration/" in str(item.fspath) or "/reliability/" in str(item.fspath):
            item.add_marker(pytest.mark.engine)


@pytest.fixture(scope="session")
def server_env(tmp_path_factory):
    """Environment variables that point mi-warehouse at the test server; starts and stops it."""
    from mi_warehouse.config import load_settings
    from mi_warehouse.engine.server import EmbeddedServer, free_port

    home = tmp_path_factory.mktemp("miw_home")
    env = {
        "MIW_HOME": str(home),
        "MIW_HIVE_URL": f"hive://127.0.0.1:{free_port()}/default",
        "MIW_PROJECT_DIR": str(REPO),
        "MIW_DRIVER_MEMORY": "1g",
    }
    settings = load_settings(REPO, env=env)
    server = EmbeddedServer(settings)
    server.start()
    yield env
    server.stop()


@pytest.fixture()
def env_for(server_env):
    """Make an environment with its own databases (`t<N>`, `t<N>_phi`), so tests do not share state."""

    def make(**extra) -> dict[str, str]:
        n = next(_counter)
        env = dict(os.environ)
        env.update(server_env)
        env.update({"MIW_DATABASE": f"t{n}_{os.getpid()}", "MIW_PHI_DATABASE": f"t{n}_{os.getpid()}_phi"})
        env.update({k: str(v) for k, v in extra.items()})
        return env

    return make


@pytest.fixture()
def settings_for(env_for):
    from mi_warehouse.config import load_settings

    def make(**extra):
        return load_settings(REPO, env=env_for(**extra))

    return make


@pytest.fixture()
def session(settings_for):
    """A session on the test server with fresh database names in `session.settings`."""
    from mi_warehouse.engine.connection import connect

    s = connect(settings_for())
    yield s
    s.close()


def run_cli(args: list[str], env: dict[str, str], timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    """Run `mi-warehouse ARGS` as a user would, in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "mi_warehouse", *args], env=env, cwd=REPO,
        capture_output=True, text=True, timeout=timeout, **kw,
    )


@pytest.fixture()
def cli():
    return run_cli
