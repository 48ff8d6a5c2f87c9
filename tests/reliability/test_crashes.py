"""Crash safety: loads killed with SIGKILL, concurrent loads, the server killed mid-run.

Each test prints what it tried and what survived (run with -s to see it).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mi_warehouse.config import load_settings
from mi_warehouse.engine.connection import connect
from mi_warehouse.engine.server import EmbeddedServer, free_port
from mi_warehouse.synth import generate
from mi_warehouse.migrations.runner import Migrator

from ..conftest import REPO
from ..corpus import synth_files


def sops(session, settings) -> list[str]:
    return [r[0] for r in session.execute(f"SELECT sop_instance_uid FROM {settings.database}.dicom_metadata").rows]


def expected_sops(files) -> set[str]:
    import pydicom

    return {pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID for f in files}


def load_proc(env, sources, workers=2):
    return subprocess.Popen([sys.executable, "-m", "mi_warehouse", "load", *map(str, sources), "--workers",
                             str(workers), "--batch-rows", "50"], env=env, cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


@pytest.fixture()
def fresh(env_for, tmp_path):
    env = env_for()
    settings = load_settings(REPO, env=env)
    session = connect(settings)
    Migrator(session, settings).apply()
    yield env, settings, session
    session.close()


def test_load_killed_at_random_points_then_rerun_is_exact(fresh, tmp_path):
    env, settings, session = fresh
    generate(tmp_path / "d", patients=30, seed=3, image_size=32)
    files = synth_files(tmp_path / "d")
    want = expected_sops(files)
    rng = random.Random(1234)
    tried = []
    for base in (0.2, 0.8, 1.5, 2.5):  # spawn, walk and extract, stage, commit: kill somewhere in each
        p = load_proc(env, [tmp_path / "d"])
        delay = base + rng.uniform(0.0, 0.5)
        time.sleep(delay)
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        got = sops(session, settings)
        tried.append((round(delay, 1), p.returncode, len(got)))
        assert len(got) == len(set(got)), "a killed load left duplicate rows"
        assert set(got) <= want
    assert any(code == -signal.SIGKILL for _, code, _ in tried), "no load was killed mid-run"
    final = load_proc(env, [tmp_path / "d"])
    out, err = final.communicate(timeout=600)
    assert final.returncode == 0, err
    got = sops(session, settings)
    print(f"\nkilled loads (delay s, exit code, rows visible): {tried}; after the re-run: {len(got)} rows "
          f"of {len(want)} expected")
    assert sorted(got) == sorted(want)
    table_dir = settings.local_storage_dir / settings.database / "dicom_metadata"
    leftovers = [p for p in table_dir.rglob(".*") if p.is_file()]
    assert not leftovers, leftovers[:3]


def test_two_loads_of_overlapping_trees_at_once(fresh, tmp_path):
    env, settings, session = fresh
    for name, seed in (("a", 21), ("b", 22), ("c", 23)):
        generate(tmp_path / name, patients=6, seed=seed, image_size=32)
    want = expected_sops(synth_files(tmp_path))
    p1 = load_proc(env, [tmp_path / "a", tmp_path / "b"], workers=1)
    p2 = load_proc(env, [tmp_path / "b", tmp_path / "c"], workers=1)
    outs = [p.communicate(timeout=600) for p in (p1, p2)]
    assert p1.returncode == 0 and p2.returncode == 0, outs
    got = sops(session, settings)
    print(f"\ntwo overlapping loads: {len(got)} rows, {len(set(got))} distinct, {len(want)} expected")
    assert sorted(got) == sorted(want)
    runs = session.execute(f"SELECT files_loaded, files_skipped FROM {settings.database}.load_runs").rows
    assert sum(r[0] for r in runs) == len(want)


def test_compaction_killed_at_random_points_leaves_every_row_exactly_once(fresh, tmp_path):
    """SIGKILL `mi-warehouse compact` at random points: after each kill every partition reads with
    every row exactly once; the next compact finishes the work and changes no row."""
    env, settings, session = fresh
    generate(tmp_path / "d", patients=12, seed=31, image_size=32)
    files = synth_files(tmp_path / "d")
    for part in (0, 1, 2):  # three appends into the same partitions and buckets: copy files to merge
        (tmp_path / f"p{part}").mkdir()
        for f in files[part::3]:
            f.rename(tmp_path / f"p{part}" / f.name)
        out = load_proc(env, [tmp_path / f"p{part}"], workers=1).communicate(timeout=600)
    want = sorted(expected_sops(synth_files(tmp_path)))
    assert sorted(sops(session, settings)) == want, out
    table_dir = settings.local_storage_dir / settings.database / "dicom_metadata"
    assert any("_copy_" in p.name for p in table_dir.rglob("*")), "nothing to compact: the test would prove nothing"
    rng = random.Random(4321)
    tried = []
    for _ in range(4):
        p = subprocess.Popen([sys.executable, "-m", "mi_warehouse", "compact"], env=env, cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        delay = rng.uniform(1.0, 4.0)  # after the interpreter starts: somewhere among the partitions
        time.sleep(delay)
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        got = sops(session, settings)
        tried.append((round(delay, 1), p.returncode, len(got)))
        assert sorted(got) == want, f"after a compaction killed at {delay:.1f}s: {len(got)} rows, " \
                                    f"{len(set(got))} distinct, {len(want)} expected"
    final = subprocess.run([sys.executable, "-m", "mi_warehouse", "compact"], env=env, cwd=REPO,
                           capture_output=True, text=True, timeout=600)
    assert final.returncode == 0, final.stderr
    print(f"\nkilled compactions (delay s, exit code, rows): {tried}")
    assert any(code == -signal.SIGKILL for _, code, _ in tried), "no compaction was killed mid-run"
    assert sorted(sops(session, settings)) == want
    assert not any("_copy_" in p.name or p.name.startswith("_compact-") for p in table_dir.rglob("*"))


@pytest.fixture()
def own_server(tmp_path):
    """A second server that this test may kill."""
    env = dict(os.environ, MIW_HOME=str(tmp_path / "home"), MIW_PROJECT_DIR=str(REPO),
               MIW_HIVE_URL=f"hive://127.0.0.1:{free_port()}/default", MIW_DRIVER_MEMORY="768m")
    settings = load_settings(REPO, env=env)
    server = EmbeddedServer(settings)
    server.start()
    yield env, settings, server
    server.stop(grace=5)


def kill_server(server: EmbeddedServer) -> None:
    pid = server.status().pid
    os.killpg(pid, signal.SIGKILL)
    for _ in range(100):
        if not server.status().running:
            return
        time.sleep(0.1)


def test_server_killed_during_a_load_fails_clearly_and_a_rerun_completes(own_server, tmp_path):
    env, settings, server = own_server
    with connect(settings) as s:
        Migrator(s, settings).apply()
    generate(tmp_path / "d", patients=150, seed=8, image_size=32)
    want = expected_sops(synth_files(tmp_path / "d"))
    p = load_proc(env, [tmp_path / "d"], workers=2)
    children = Path(f"/proc/{p.pid}/task/{p.pid}/children")
    for _ in range(600):  # the worker pool starts once the load has talked to the server
        if p.poll() is not None or (children.exists() and children.read_text().split()):
            break
        time.sleep(0.05)
    kill_server(server)  # while the files are being extracted
    out, err = p.communicate(timeout=600)
    print(f"\nload with the server killed: exit {p.returncode}, said: {err.strip().splitlines()[-1:]}")
    assert p.returncode == 1
    last = err.strip().splitlines()[-1]
    assert last.startswith("Error: ") and "HiveServer2" in last
    server.start()
    r = subprocess.run([sys.executable, "-m", "mi_warehouse", "load", str(tmp_path / "d")], env=env, cwd=REPO,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    with connect(settings) as s:
        got = sops(s, settings)
    print(f"after restart and re-run: {len(got)} rows, {len(want)} expected")
    assert sorted(got) == sorted(want)


def _transform_running(marker: str) -> bool:
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if "mi_warehouse.udfs.onnx_infer" in cmd and marker in cmd:
                return True
    return False


def test_server_killed_during_an_inference_fails_clearly_and_a_rerun_completes(own_server, tmp_path):
    from mi_warehouse.loaders.load import LoadOptions, run_load
    from mi_warehouse.models.registry import register

    from ..unit.udfs_builders import card_dict, write_model

    env, settings, server = own_server
    generate(tmp_path / "d", patients=150, seed=31, image_size=32)
    model, _, card = write_model(tmp_path / "model", card_dict(version="1.0.0"))
    with connect(settings) as s:
        Migrator(s, settings).apply()
        run_load(s, settings, [str(tmp_path / "d")], LoadOptions(workers=2))
        register(s, settings, model, "tiny-cnn", "1.0.0", card)
        s.execute(f"CREATE TABLE {settings.database}.chest AS SELECT sop_instance_uid "
                  f"FROM {settings.database}.dicom_metadata WHERE modality IN ('CR', 'DX')")
        n = s.execute(f"SELECT count(*) FROM {settings.database}.chest").scalar()
    cmd = [sys.executable, "-m", "mi_warehouse", "infer", "--model", "tiny-cnn:1.0.0", "--cohort", "chest",
           "--batch-size", "4"]
    p = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    marker = str(settings.home)  # the model store of this test's server
    while p.poll() is None and not _transform_running(marker):
        time.sleep(0.02)
    kill_server(server)  # while the TRANSFORM scores images
    out, err = p.communicate(timeout=300)
    print(f"\ninfer with the server killed: exit {p.returncode}, said: {err.strip().splitlines()[-1:]}")
    assert p.returncode == 1
    assert err.strip().splitlines()[-1].startswith("Error: ") and "HiveServer2" in err
    server.start()
    r = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    with connect(settings) as s:
        rows = s.execute(f"SELECT sop_instance_uid, status FROM {settings.database}.predictions").rows
    print(f"after restart and re-run: {len(rows)} predictions for {n} images")
    assert len(rows) == n == len({r[0] for r in rows}) and all(r[1] == "ok" for r in rows)
