"""compile: files under target/ and manifest.json, written without any database."""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import textwrap
from pathlib import Path

import pytest

from mi_warehouse.dbt_like.compiler import compile_project
from mi_warehouse.dbt_like.errors import ModelProjectError, ModelRenderError, SelectorError
from mi_warehouse.dbt_like.project import load_project
from mi_warehouse.dbt_like.relation import Relation, Target
from mi_warehouse.engine.splitter import split_statements

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "dbt_like" / "imaging"
TARGET = Target("core", "core_phi")


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))
    return root


@pytest.fixture()
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test."""

    def refuse(*a, **kw):
        raise AssertionError("compile tried to connect to something")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture()
def imaging(tmp_path) -> Path:
    return shutil.copytree(FIXTURE, tmp_path / "imaging")


def test_compile_writes_compiled_sql_and_manifest(imaging, no_network):
    manifest = compile_project(load_project(imaging), TARGET, vars={"since": "2024-01-01"})
    target = imaging / "target"
    assert manifest.selected == ["stg_instances", "instance_labels", "studies"]
    for name in manifest.selected:
        text = (target / "compiled" / f"{name}.sql").read_text()
        stmts = split_statements(text)
        assert len(stmts) == 1 and stmts[0].sql.startswith("SELECT")
        assert hashlib.sha256(text.encode()).hexdigest() == manifest.models[name].checksum
    stg = (target / "compiled" / "stg_instances.sql").read_text()
    assert "FROM `core`.`dicom_metadata`" in stg
    assert "`modality` IN ('CT', 'MR')" in stg and "CAST('2024-01-01' AS DATE)" in stg
    assert "{{" not in stg and "{%" not in stg

    data = json.loads((target / "manifest.json").read_text())
    studies = data["nodes"]["model.studies"]
    assert studies["path"] == "models/marts/studies.sql"
    assert studies["depends_on"] == {"models": ["stg_instances"], "sources": []}
    assert studies["config"]["materialized"] == "table"
    assert studies["config"]["partition_by"] == ["study_year"]
    assert studies["tags"] == ["daily", "marts"]
    assert studies["columns"]["study_uid"]["description"] == "DICOM StudyInstanceUID"
    assert studies["checksum"] == manifest.models["studies"].checksum
    assert studies["relation"] == "core.studies"
    labels = data["nodes"]["model.instance_labels"]
    assert labels["depends_on"]["sources"] == ["mi.labels"]
    assert labels["incremental_run"] is False
    assert data["parent_map"]["model.instance_labels"] == ["model.stg_instances", "source.mi.labels"]
    assert data["child_map"]["model.stg_instances"] == [
        "model.instance_labels", "model.studies",
        "test.relationships_instance_labels_sop_instance_uid__stg_instances_sop_instance_uid"]
    assert data["child_map"]["source.mi.dicom_metadata"] == ["model.stg_instances"]
    assert data["sources"]["source.mi_phi.patient_map"]["relation"] == "core_phi.patient_map"
    assert data["metadata"]["vars"] == ["since"]
    assert "test.unique_studies_study_uid" in data["nodes"]
    assert (target / "compiled" / "tests" / "assert_no_future_studies.sql").read_text().count("`core`.`studies`") == 1


def test_compile_accepts_settings(tmp_path, no_network):
    from mi_warehouse.config import load_settings

    write(tmp_path / "sql", {"models/a.sql": "SELECT 1 AS x FROM {{ this }}"})
    settings = load_settings(tmp_path, env={"MIW_HOME": str(tmp_path / ".miw"), "MIW_DATABASE": "warehouse"})
    m = compile_project(load_project(settings=settings), settings)
    assert m.models["a"].compiled_sql == "SELECT 1 AS x FROM `warehouse`.`a`"
    assert (tmp_path / "sql" / "target" / "manifest.json").is_file()


def test_selection_compiles_only_the_selected_models_and_their_tests(imaging, no_network):
    m = compile_project(load_project(imaging), TARGET, select="tag:daily", target_dir=imaging / "out")
    assert m.selected == ["studies"]
    assert sorted(p.name for p in (imaging / "out" / "compiled").glob("*.sql")) == ["studies.sql"]
    assert m.selected_tests == ["assert_no_future_studies", "not_null_studies_patient_key",
                                "not_null_studies_study_uid", "unique_studies_study_uid"]
    data = json.loads((imaging / "out" / "manifest.json").read_text())
    assert data["nodes"]["model.stg_instances"]["compiled"] is False  # still described, not compiled
    with pytest.raises(SelectorError):
        compile_project(load_project(imaging), TARGET, select="+missing")


def test_is_incremental_asks_the_callers_lookup_only_for_incremental_models(imaging, no_network):
    asked: list[Relation] = []

    def exists(rel: Relation) -> bool:
        asked.append(rel)
        return True

    m = compile_project(load_project(imaging), TARGET, vars={"since": "2024-06-01"}, table_exists=exists)
    assert asked == [Relation("core", "instance_labels")]
    assert m.models["instance_labels"].incremental_run
    assert "WHERE i.study_date >= CAST('2024-06-01' AS DATE)" in m.models["instance_labels"].compiled_sql
    asked.clear()
    m = compile_project(load_project(imaging), TARGET, table_exists=exists, full_refresh=True)
    assert asked == [] and not m.models["instance_labels"].incremental_run
    assert "WHERE i.study_date" not in m.models["instance_labels"].compiled_sql


def test_compiled_files_end_with_a_terminator_even_after_a_comment(tmp_path):
    write(tmp_path, {"models/a.sql": "SELECT 1 AS x -- the end", "models/b.sql": "SELECT 2 AS y;\n"})
    compile_project(load_project(tmp_path), TARGET)
    a = (tmp_path / "target" / "compiled" / "a.sql").read_text()
    assert a.endswith("SELECT 1 AS x -- the end\n;\n")
    assert len(split_statements(a + "SELECT 3")) == 2
    assert (tmp_path / "target" / "compiled" / "b.sql").read_text().endswith("SELECT 2 AS y;\n")


def test_a_model_rendering_to_two_statements_is_refused(tmp_path):
    write(tmp_path, {"models/a.sql": "SELECT 1; DROP TABLE t"})
    with pytest.raises(ModelRenderError, match="^models/a.sql: a model renders to one SELECT statement, found 2"):
        compile_project(load_project(tmp_path), TARGET)


def test_stale_compiled_files_are_removed(tmp_path):
    write(tmp_path, {"models/a.sql": "SELECT 1 AS x", "models/b.sql": "SELECT 2 AS x"})
    compile_project(load_project(tmp_path), TARGET)
    (tmp_path / "models" / "b.sql").unlink()
    compile_project(load_project(tmp_path), TARGET)
    assert [p.name for p in (tmp_path / "target" / "compiled").glob("*.sql")] == ["a.sql"]


def test_schema_test_sql(imaging):
    m = compile_project(load_project(imaging), TARGET)
    t = {n: c.test for n, c in m.tests.items()}
    assert t["not_null_studies_study_uid"].sql == "SELECT *\nFROM `core`.`studies`\nWHERE `study_uid` IS NULL"
    assert t["unique_studies_study_uid"].sql == (
        "SELECT `study_uid`, COUNT(*) AS n_records\nFROM `core`.`studies`\nWHERE `study_uid` IS NOT NULL\n"
        "GROUP BY `study_uid`\nHAVING COUNT(*) > 1")
    assert "NOT IN (0, 1)" in t["accepted_values_instance_labels_label_value"].sql
    rel = t["relationships_instance_labels_sop_instance_uid__stg_instances_sop_instance_uid"]
    assert rel.depends_on_models == ("instance_labels", "stg_instances")
    assert "LEFT JOIN `core`.`stg_instances` mi_parent" in rel.sql
    singular = t["assert_no_future_studies"]
    assert singular.kind == "singular" and singular.depends_on_models == ("studies",)
    assert singular.sql == "SELECT study_uid, study_date\nFROM `core`.`studies`\nWHERE study_date > CURRENT_DATE"
    assert singular.count_sql == f"SELECT COUNT(*) AS failures FROM (\n{singular.sql}\n) mi_t"
    for test in t.values():
        assert len(split_statements(test.sql)) == 1


def test_accepted_values_are_quoted_literals(tmp_path):
    write(tmp_path, {"models/a.sql": "SELECT 'x' AS m", "models/a.yml": """
        models:
          - name: a
            columns:
              - name: m
                tests: [{accepted_values: {values: ["CT", "x'); DROP TABLE t; --"]}}]
        """})
    m = compile_project(load_project(tmp_path), TARGET)
    sql = m.tests["accepted_values_a_m"].test.sql
    assert "NOT IN ('CT', 'x\\'); DROP TABLE t; --')" in sql
    assert len(split_statements(sql + "; SELECT 2")) == 2


def test_relationship_to_a_source_and_duplicate_tests(tmp_path):
    write(tmp_path, {"models/a.sql": "SELECT 1 AS k", "models/a.yml": """
        sources: [{name: mi_phi, tables: [patient_map]}]
        models:
          - name: a
            columns:
              - name: k
                tests: [{relationships: {to: "source('mi_phi', 'patient_map')", field: patient_key}}]
        """})
    m = compile_project(load_project(tmp_path), TARGET)
    t = m.tests["relationships_a_k__mi_phi_patient_map_patient_key"].test
    assert "LEFT JOIN `core_phi`.`patient_map` mi_parent" in t.sql
    assert t.depends_on_sources == (("mi_phi", "patient_map"),)
    write(tmp_path, {"models/a.yml": "models: [{name: a, columns: [{name: k, tests: [unique, unique]}]}]"})
    with pytest.raises(ModelProjectError, match="^models/a.yml: test unique_a_k is declared twice"):
        compile_project(load_project(tmp_path), TARGET)
    write(tmp_path, {"models/a.yml": "models: [{name: a, columns: [{name: k, tests: "
                                     "[{relationships: {to: \"ref('zz')\", field: k}}]}]}]"})
    with pytest.raises(ModelProjectError, match=r"^models/a.yml: .*ref\('zz'\) names no model"):
        compile_project(load_project(tmp_path), TARGET)
