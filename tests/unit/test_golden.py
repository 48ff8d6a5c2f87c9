"""Golden files: the HiveQL that every shipped model, test and migration compiles to, for Hive and
for Spark, checked in under tests/golden/compiled/{hive,spark}/ and compared here byte for byte.

    models/<model>.sql              what `mi-warehouse compile` writes (incremental models also as
    models/<model>.incremental.sql  compiled for a run onto their existing table)
    tests/<test>.sql                compiled schema and SQL tests
    migrations/<script>.sql         what `apply --dry-run` prints for the script
    engine.sql                      the statements that engine/dialects.py makes differ: probes,
                                    dynamic-partition settings, refresh, the inference preamble

After an intended change to a model, macro, migration or the dialect table, regenerate them and
review the diff:

    MIW_UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/unit/test_golden.py
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from mi_warehouse.config import Settings
from mi_warehouse.dbt_like.compiler import compile_project
from mi_warehouse.dbt_like.materialize import Existing, plan, probe
from mi_warehouse.dbt_like.model_config import ModelConfig
from mi_warehouse.dbt_like.project import load_project
from mi_warehouse.dbt_like.relation import Relation
from mi_warehouse.engine import dialects
from mi_warehouse.engine.target import Target
from mi_warehouse.inference.sql import cluster_preamble
from mi_warehouse.migrations.scripts import listing, load

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "golden" / "compiled"
VERSIONS = {"hive": "4.0.1", "spark": "4.3.0"}
# Fixed settings, so that the files do not depend on this machine's paths or mi-warehouse.toml.
SETTINGS = Settings(project_dir=REPO, home=Path("/srv/mi-warehouse/.miw"), hive_url="hive://hive.example:10000/default",
                    storage_root="hdfs://namenode:8020/warehouse/mi", model_store="hdfs://namenode:8020/models")
UPDATE = os.environ.get("MIW_UPDATE_GOLDEN") == "1"


def _compiled(engine: str, out: Path) -> dict[str, str]:
    target = Target.from_settings(SETTINGS, engine, VERSIONS[engine])
    project = load_project(REPO / "sql")
    files: dict[str, str] = {}
    m = compile_project(project, target, target_dir=out / "plain")
    for node in m.models.values():
        files[f"models/{node.name}.sql"] = (out / "plain" / node.compiled_path).read_text()
    for t in m.tests.values():
        files[f"tests/{t.test.name}.sql"] = (out / "plain" / t.compiled_path).read_text()
    incremental = sorted(n for n, node in m.models.items() if node.config.materialized == "incremental")
    again = compile_project(project, target, select=incremental, table_exists=lambda rel: True,
                            target_dir=out / "incremental")
    for name in incremental:
        files[f"models/{name}.incremental.sql"] = (out / "incremental" / again.models[name].compiled_path).read_text()
    for s in load(REPO / "sql" / "migrations", SETTINGS, target):
        files[f"migrations/{s.name}"] = "\n".join([f"-- {s.name} for {engine}", *listing(s)]) + "\n"
    files["engine.sql"] = _engine_statements(engine)
    return files


def _engine_statements(engine: str) -> str:
    """What the runner, the loader and `infer --print-sql` say differently on this engine."""
    d = dialects.get(engine)
    rel = Relation("mi", "example")
    select = "SELECT sop_instance_uid, study_year FROM `mi`.`dicom_metadata`"
    cols = [("sop_instance_uid", "string"), ("study_year", "int")]
    p = probe("example", select, rel, engine)
    overwrite = ModelConfig(materialized="incremental", incremental_strategy="insert_overwrite",
                            partition_by=("study_year",))
    sections = {
        "probe: the SELECT's columns": [*p.setup, p.describe, *p.teardown],
        "incremental insert_overwrite into an existing partitioned table":
            plan("example", select, overwrite, rel, engine=engine, existing=Existing("table"), columns=cols),
        "after the loader writes files beside the engine": [d.refresh_statement("`mi`.`dicom_metadata`")
                                                            or "-- (nothing: the engine lists files on each query)"],
        "infer --print-sql preamble": cluster_preamble("hdfs://namenode:8020/models/m/1/model.onnx",
                                                       "hdfs://namenode:8020/models/m/1/card.yaml", engine),
    }
    out = [f"-- engine-specific statements for {engine}"]
    for title, stmts in sections.items():
        out.append(f"\n-- {title}")
        out += [s if s.startswith("--") or s.endswith(";") else f"{s};" for s in stmts]
    return "\n".join(out) + "\n"


def _on_disk(engine: str) -> dict[str, str]:
    root = GOLDEN / engine
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*.sql"))}


def _write(engine: str, files: dict[str, str]) -> None:
    root = GOLDEN / engine
    for rel in set(_on_disk(engine)) - set(files):
        (root / rel).unlink()
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


@pytest.fixture()
def no_network(monkeypatch):
    def refuse(*a, **kw):
        raise AssertionError("compiling golden files tried to connect to something")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize("engine", dialects.ENGINES)
def test_compiled_hiveql_matches_the_golden_files(engine, tmp_path, no_network):
    files = _compiled(engine, tmp_path)
    if UPDATE:
        _write(engine, files)
    have = _on_disk(engine)
    regen = "if the change is intended: MIW_UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/unit/test_golden.py"
    assert sorted(have) == sorted(files), f"golden files of {engine} are missing or stale; {regen}"
    for rel, text in files.items():
        assert have[rel] == text, f"tests/golden/compiled/{engine}/{rel} differs from what compiles now; {regen}"


def test_golden_files_cover_every_shipped_model_and_migration():
    models = {p.stem for p in (REPO / "sql" / "models").rglob("*.sql")}
    migrations = {p.name for p in (REPO / "sql" / "migrations").glob("*.sql")}
    for engine in dialects.ENGINES:
        have = _on_disk(engine)
        assert {f"models/{m}.sql" for m in models} <= set(have)
        assert {f"migrations/{m}" for m in migrations} <= set(have)


def test_golden_files_differ_where_the_engines_differ():
    hive, spark = _on_disk("hive"), _on_disk("spark")
    grant = "migrations/V0002__restrict_phi_database.sql"
    assert "GRANT SELECT ON TABLE mi_phi.patient_map TO ROLE mi_phi_reader;" in hive[grant]
    assert "GRANT" not in spark[grant]
    assert "DESCRIBE QUERY SELECT" in spark["engine.sql"] and "DESCRIBE QUERY" not in hive["engine.sql"]
    assert "CREATE VIEW `mi`.`example__mi_probe`" in hive["engine.sql"]
    assert "SET spark.sql.sources.partitionOverwriteMode=dynamic;" in spark["engine.sql"]
    assert "partitionOverwriteMode" not in hive["engine.sql"]
    assert "REFRESH TABLE `mi`.`dicom_metadata`;" in spark["engine.sql"] and "REFRESH" not in hive["engine.sql"]
    assert "SET tez.queue.name=gpu;" in hive["engine.sql"] and "SET tez.queue.name" not in spark["engine.sql"]
    # the model SQL itself is portable: the same on both engines but for the header naming the engine
    for rel in (r for r in hive if r.startswith("models/")):
        assert hive[rel].split("\n", 1)[1] == spark[rel].split("\n", 1)[1], rel
        assert "compiled for hive" in hive[rel].split("\n", 1)[0] and "compiled for spark" in spark[rel].split("\n")[0]
