"""Model registry, `mi-warehouse infer` (Hive TRANSFORM through the real engine) and lineage."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mi_warehouse.config import load_settings
from mi_warehouse.engine.connection import connect
from mi_warehouse.inference.run import InferenceFailed, print_sql, run_inference
from mi_warehouse.loaders.load import LoadOptions, run_load
from mi_warehouse.synth import generate
from mi_warehouse.migrations.runner import Migrator
from mi_warehouse.models.registry import VersionConflict, register, require

from mi_warehouse.inference.run import build_plan
from mi_warehouse.inference.sql import Spread
from mi_warehouse.udfs.providers import driver_device_count, gpu_providers_built

from ..conftest import REPO
from ..unit.udfs_builders import card_dict, write_model


@pytest.fixture(scope="module")
def world(server_env, tmp_path_factory):
    root = tmp_path_factory.mktemp("infer")
    generate(root / "dicom", patients=16, seed=5, image_size=32)
    env = dict(server_env, MIW_DATABASE=f"inf_{os.getpid()}", MIW_PHI_DATABASE=f"inf_{os.getpid()}_phi")
    settings = load_settings(REPO, env=env)
    session = connect(settings)
    Migrator(session, settings).apply()
    run_load(session, settings, [str(root / "dicom")], LoadOptions(workers=1))
    model, sha, card = write_model(root / "model", card_dict(version="1.0.0"))
    mv, new = register(session, settings, model, "tiny-cnn", "1.0.0", card)
    assert new
    db = settings.database
    session.execute(f"CREATE TABLE {db}.chest AS SELECT sop_instance_uid FROM {db}.dicom_metadata "
                    f"WHERE modality IN ('CR', 'DX')")
    yield {"root": root, "settings": settings, "session": session, "model": model, "card": card, "sha": sha}
    session.close()


def chest_files(world) -> list[str]:
    s, st = world["session"], world["settings"]
    return [r[0] for r in s.execute(
        f"SELECT l.image_uri FROM {st.database}.chest c JOIN {st.phi_database}.image_locations l "
        f"ON l.sop_instance_uid = c.sop_instance_uid").rows]


def test_register_is_immutable_and_idempotent(world, tmp_path):
    s, st = world["session"], world["settings"]
    mv = require(s, st, "tiny-cnn:1.0.0")
    assert mv.sha256 == world["sha"] and mv.labels == ["normal", "finding"] and mv.decision_threshold == 0.5
    assert Path(mv.uri[7:]).read_bytes() == world["model"].read_bytes()
    again, new = register(s, st, world["model"], "tiny-cnn", "1.0.0", world["card"])
    assert not new and again.sha256 == mv.sha256
    other, _, card = write_model(tmp_path / "other", card_dict(version="1.0.0"), kind="logits")
    with pytest.raises(VersionConflict, match="tiny-cnn:1.0.0 is registered with sha256"):
        register(s, st, other, "tiny-cnn", "1.0.0", card)
    assert s.execute(f"SELECT count(*) FROM {st.database}.model_versions").scalar() == 1


def test_infer_scores_the_cohort_with_one_error_for_one_corrupt_image(world):
    s, st = world["session"], world["settings"]
    files = chest_files(world)
    victim = Path(files[0][7:])
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) - 500])  # pixel data cut short after loading
    summary = run_inference(s, st, "tiny-cnn:1.0.0", "chest")
    assert summary.input_rows == len(files) and summary.scored == len(files)
    assert (summary.rows_ok, summary.rows_error) == (len(files) - 1, 1)
    assert summary.provider.split(" ")[0] == "cpu"
    if gpu_providers_built() and driver_device_count() == 0:  # a GPU wheel on a CPU node: not silent
        assert summary.provider.startswith("cpu (fallback: ") and "CUDA" in summary.provider
    rows = s.execute(f"SELECT sop_instance_uid, status, error, probability, size(scores) "
                     f"FROM {st.database}.predictions WHERE model_name = 'tiny-cnn' AND model_version = '1.0.0'").rows
    assert len(rows) == len(files) == len({r[0] for r in rows})
    errors = [r for r in rows if r[1] == "error"]
    assert len(errors) == 1 and errors[0][2] and "\n" not in errors[0][2]
    assert all(0.0 <= r[3] <= 1.0 and r[4] == 2 for r in rows if r[1] == "ok")
    run = s.execute(f"SELECT status, rows_ok, rows_error, input_rows, partitions_read, model_sha256 "
                    f"FROM {st.database}.inference_runs WHERE run_id = '{summary.run_id}'").rows
    assert run[0][:4] == ("succeeded", len(files) - 1, 1, len(files))
    assert "study_year=" in run[0][4] and run[0][5] == world["sha"]

    # a re-run computes only the error; after the repair it succeeds; nothing is duplicated
    victim.write_bytes(data)
    again = run_inference(s, st, "tiny-cnn:1.0.0", "chest")
    assert again.scored == 1 and again.rows_ok == 1
    rows2 = s.execute(f"SELECT sop_instance_uid, status, probability FROM {st.database}.predictions "
                      f"WHERE model_name = 'tiny-cnn'").rows
    assert len(rows2) == len(files) and all(r[1] == "ok" for r in rows2)
    before = {r[0]: r[3] for r in rows}
    diffs = [(sop, before[sop], p) for sop, _, p in rows2 if before[sop] is not None and before[sop] != p]
    assert not diffs, diffs[:3]  # kept as they were

    forced = run_inference(s, st, "tiny-cnn:1.0.0", "chest", force=True)
    assert forced.scored == len(files)
    rows3 = s.execute(f"SELECT sop_instance_uid, probability, run_id FROM {st.database}.predictions "
                      f"WHERE model_name = 'tiny-cnn'").rows
    assert len(rows3) == len(files) and {r[2] for r in rows3} == {forced.run_id}
    assert {r[0]: r[1] for r in rows3} == {r[0]: r[2] for r in rows2}


def test_lineage_prints_the_chain(world, cli, env_for):
    s, st = world["session"], world["settings"]
    sop = s.execute(f"SELECT sop_instance_uid FROM {st.database}.predictions WHERE status = 'ok' LIMIT 1").scalar()
    env = env_for(MIW_DATABASE=st.database, MIW_PHI_DATABASE=st.phi_database)
    r = cli(["lineage", sop], env)
    assert r.returncode == 0, r.stderr
    assert f"image {sop}" in r.stdout and "modality=" in r.stdout
    assert "model     tiny-cnn:1.0.0 sha256 " + world["sha"] in r.stdout
    assert "MISMATCH" not in r.stdout and "run       inf-" in r.stdout


def test_missing_model_file_fails_the_query_clearly(world):
    s, st = world["session"], world["settings"]
    mv = require(s, st, "tiny-cnn:1.0.0")
    path = Path(mv.uri[7:])
    saved = path.read_bytes()
    path.write_bytes(saved + b"tampered")
    try:
        with pytest.raises(InferenceFailed, match="sha256"):
            run_inference(s, st, "tiny-cnn:1.0.0", "chest", force=True)
    finally:
        path.write_bytes(saved)
    last = s.execute(f"SELECT status, error FROM {st.database}.inference_runs ORDER BY started_at DESC LIMIT 1").rows
    assert last[0][0] == "failed" and "sha256" in last[0][1]


def test_print_sql_is_a_cluster_script(world):
    s, st = world["session"], world["settings"]
    text = print_sql(s, st, "tiny-cnn:1.0.0", "chest")
    assert "ADD FILE file://" in text and "card.json;" in text
    assert "USING 'python3 -m mi_warehouse.udfs.onnx_infer --model-file model.onnx" in text
    assert "INSERT OVERWRITE TABLE" in text and "PARTITION (model_name = 'tiny-cnn'" in text


# a TRANSFORM whose script answers with its process id: how many script instances ran
_PID_SCRIPT = ('{python} -c "import os, sys; [print(line.rstrip(chr(10)).split(chr(9))[0] + chr(9) + str(os.getpid())) '
               'for line in sys.stdin]"')


@pytest.mark.parametrize("instances", [1, 2])
def test_the_transform_runs_as_many_script_instances_as_asked(world, instances):
    import sys

    s, st = world["session"], world["settings"]
    mv = require(s, st, "tiny-cnn:1.0.0")
    plan = build_plan(s, st, mv, "chest", "r_spread", force=True, spread=Spread(instances, 0))
    assert f"--decode-processes 0" in plan.command
    script = _PID_SCRIPT.format(python=sys.executable)
    rows = s.execute(f"SELECT TRANSFORM (todo.sop_instance_uid) USING '{script}' AS (sop STRING, pid STRING)\n"
                     f"FROM (\n{plan.transform_input()}\n) todo").rows
    assert sorted(r[0] for r in rows) == sorted(r[0] for r in s.execute(plan.todo_query()).rows)
    per_pid = {}
    for _, pid in rows:
        per_pid[pid] = per_pid.get(pid, 0) + 1
    assert len(per_pid) == instances, per_pid
    assert max(per_pid.values()) - min(per_pid.values()) <= 1  # round robin: balanced


def test_default_spread_scores_the_cohort_on_every_core(world):
    s, st = world["session"], world["settings"]
    summary = run_inference(s, st, "tiny-cnn:1.0.0", "chest", force=True, spread=Spread(2, 0))
    assert summary.rows_ok + summary.rows_error == summary.input_rows == len(chest_files(world))
    run = s.execute(f"SELECT provider FROM {st.database}.inference_runs WHERE run_id = '{summary.run_id}'").scalar()
    assert run == summary.provider and run.split(" ")[0] == "cpu"
