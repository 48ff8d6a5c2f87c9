"""engine/dialects.py: the table of Hive/Spark differences, version parsing, and choosing the
engine without a server; engine/target.py: the one `target` both template contexts render with."""

from __future__ import annotations

import pytest

from mi_warehouse.config import load_settings
from mi_warehouse.dbt_like.context import ParseFunctions, make_environment
from mi_warehouse.dbt_like.project import load_project
from mi_warehouse.engine import dialects
from mi_warehouse.engine.dialects import HIVE, SPARK
from mi_warehouse.engine.target import Target
from mi_warehouse.errors import ConfigError, MiWarehouseError
from mi_warehouse.migrations.scripts import template_context


def test_show_tables_reads_the_name_column_of_each_engine():
    spark_rows = [("mi", "dicom_metadata", False), ("mi", "load_runs", False), ("", "tmp_view", True)]
    assert SPARK.names_from_show("TABLES", ["namespace", "tableName", "isTemporary"], spark_rows) == [
        "dicom_metadata", "load_runs"]
    assert SPARK.names_from_show("VIEWS", ["namespace", "viewName", "isTemporary"],
                                 [("mi", "model_lineage", False)]) == ["model_lineage"]
    assert HIVE.names_from_show("TABLES", ["tab_name"], [("dicom_metadata",), ("labels",)]) == [
        "dicom_metadata", "labels"]
    # a qualified column label (hive.resultset.use.unique.column.names) still matches
    assert HIVE.names_from_show("VIEWS", ["r.tab_name"], [("v",)]) == ["v"]
    with pytest.raises(MiWarehouseError, match="without tab_name"):
        HIVE.names_from_show("TABLES", ["namespace", "tableName", "isTemporary"], spark_rows)


def test_the_differences_are_fields_not_branches():
    assert SPARK.dynamic_partition_settings(overwrite=True)[0] == "SET spark.sql.sources.partitionOverwriteMode=dynamic"
    assert SPARK.dynamic_partition_settings(overwrite=False) == HIVE.dynamic_partition_settings(overwrite=True) == [
        "SET hive.exec.dynamic.partition=true", "SET hive.exec.dynamic.partition.mode=nonstrict"]
    assert SPARK.refresh_statement("`mi`.`t`") == "REFRESH TABLE `mi`.`t`" and HIVE.refresh_statement("`mi`.`t`") is None
    assert HIVE.queue_preamble[0] == "SET tez.queue.name=gpu;"
    assert all(line.startswith("--") for line in SPARK.queue_preamble)
    assert dialects.from_dbms_name("Spark SQL") is SPARK and dialects.from_dbms_name("Apache Hive") is HIVE
    with pytest.raises(ConfigError, match="engine must be one of hive, spark"):
        dialects.get("presto")


@pytest.mark.parametrize("text, version, major", [
    ("4.3.0", "4.3.0", 4), ("4.0.1-SNAPSHOT", "4.0.1", 4), (" 3.1.3.3.1.5.0-152", "3.1.3.3.1.5.0", 3),
    ("unknown", "", 0), ("", "", 0),
])
def test_one_version_parser(text, version, major):
    assert dialects.parse_version(text) == version
    assert dialects.major(text) == major
    assert Target("mi", "mi_phi", "hive", text).major == major


def test_offline_engine_comes_from_settings(tmp_path):
    embedded = load_settings(tmp_path, env={})
    t = Target.offline(embedded)
    assert t.engine == "spark" and t.major >= 4  # the pyspark wheel's version, read without a server
    assert Target.offline(embedded, "hive").engine == "hive"
    remote = load_settings(tmp_path, env={"MIW_HIVE_URL": "hive://hive.example:10000/default"})
    with pytest.raises(ConfigError, match=r'compile does not connect.*\[hive\] engine.*MIW_ENGINE.*--engine') as e:
        Target.offline(remote, command="compile")
    assert "\n" not in str(e.value)
    hive = load_settings(tmp_path, env={"MIW_HIVE_URL": "hive://hive.example:10000/default", "MIW_ENGINE": "hive"})
    assert (Target.offline(hive).engine, Target.offline(hive).version) == ("hive", "")
    assert Target.offline(hive, "spark").engine == "spark"  # the option wins over the setting


def test_models_and_migrations_render_with_the_same_target(tmp_path):
    s = load_settings(tmp_path, env={})
    target = Target.from_settings(s, "hive", "4.0.1")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "a.sql").write_text("SELECT 1 AS x")
    project = load_project(tmp_path)
    funcs = ParseFunctions(project, target, project.models["a"], True, {})
    in_models = funcs.namespace(make_environment({}), False)["target"]
    in_migrations = template_context(s, target)["target"]
    assert in_models == in_migrations == {"engine": "hive", "version": "4.0.1", "major": 4, "database": "mi",
                                          "phi_database": "mi_phi", "sql_authorization": True}
