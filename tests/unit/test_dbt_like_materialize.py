"""Materialisation statements: views, table swaps, incremental inserts, refusals."""

from __future__ import annotations

import pytest

from mi_warehouse.dbt_like.errors import MaterializationError
from mi_warehouse.dbt_like.materialize import (ABSENT, UNKNOWN, Existing, is_incremental_run, needs_columns,
                                               parse_describe, plan, probe)
from mi_warehouse.dbt_like.model_config import ModelConfig, build_config
from mi_warehouse.dbt_like.relation import Relation
from mi_warehouse.engine.splitter import split_statements

REL = Relation("mi", "studies")
SELECT = "SELECT study_uid, patient_key, study_year, n FROM src -- trailing comment\n"
COLS = [("study_uid", "string"), ("patient_key", "string"), ("study_year", "int"), ("n", "bigint")]


def cfg(**kw) -> ModelConfig:
    return build_config({}, kw)


def test_view_on_nothing_or_a_view():
    for existing in (ABSENT, Existing("view"), UNKNOWN):
        assert plan("studies", SELECT, cfg(), REL, engine="hive", existing=existing) == [
            "CREATE OR REPLACE VIEW `mi`.`studies` AS\nSELECT study_uid, patient_key, study_year, n FROM src"]


def test_view_replaces_a_table_only_when_the_lookup_confirmed_it():
    stmts = plan("studies", SELECT, cfg(), REL, engine="hive", existing=Existing("table"))
    assert stmts[0] == "DROP TABLE IF EXISTS `mi`.`studies`"
    assert stmts[1].startswith("CREATE OR REPLACE VIEW `mi`.`studies` AS")
    unconfirmed = plan("studies", SELECT, cfg(), REL, engine="hive", existing=Existing("table", confirmed=False))
    assert not any(s.startswith("DROP") for s in unconfirmed)


def test_table_swap_order_keeps_the_old_table_readable_until_the_new_one_is_built():
    stmts = plan("studies", SELECT, cfg(materialized="table"), REL, engine="hive",
                 existing=Existing("table"), columns=COLS)
    heads = [s.splitlines()[0] for s in stmts]
    assert heads == [
        "DROP TABLE IF EXISTS `mi`.`studies__mi_tmp`",
        "CREATE TABLE `mi`.`studies__mi_tmp` (",
        "INSERT OVERWRITE TABLE `mi`.`studies__mi_tmp`",
        "DROP TABLE IF EXISTS `mi`.`studies__mi_old`",
        "ALTER TABLE `mi`.`studies` RENAME TO `mi`.`studies__mi_old`",
        "ALTER TABLE `mi`.`studies__mi_tmp` RENAME TO `mi`.`studies`",
        "DROP TABLE IF EXISTS `mi`.`studies__mi_old`",
    ]
    # nothing touches the live table before the new one is complete
    first_touch = next(i for i, s in enumerate(stmts) if "`mi`.`studies`" in s)  # tmp/old names differ
    assert first_touch > heads.index("INSERT OVERWRITE TABLE `mi`.`studies__mi_tmp`")
    assert "STORED AS PARQUET" in stmts[1]
    assert stmts[2].endswith("SELECT study_uid, patient_key, study_year, n FROM src")


def test_table_on_nothing_and_over_a_view():
    absent = plan("studies", SELECT, cfg(materialized="table"), REL, engine="spark", existing=ABSENT, columns=COLS)
    assert absent[-1] == "ALTER TABLE `mi`.`studies__mi_tmp` RENAME TO `mi`.`studies`"
    assert not any("__mi_old" in s for s in absent)
    view = plan("studies", SELECT, cfg(materialized="table"), REL, engine="spark", existing=Existing("view"), columns=COLS)
    assert view[-2:] == ["DROP VIEW IF EXISTS `mi`.`studies`",
                         "ALTER TABLE `mi`.`studies__mi_tmp` RENAME TO `mi`.`studies`"]


def test_table_refuses_when_the_lookup_failed():
    with pytest.raises(MaterializationError, match="^studies: cannot tell whether mi.studies exists"):
        plan("studies", SELECT, cfg(materialized="table"), REL, engine="hive", existing=UNKNOWN, columns=COLS)


def test_partitioned_bucketed_table_ddl_and_reordered_insert():
    c = cfg(materialized="table", partition_by=["study_year"], clustered_by=["patient_key"], buckets=8,
            sorted_by=["patient_key"])
    stmts = plan("studies", SELECT, c, REL, engine="hive", existing=ABSENT, columns=COLS,
                 table_properties={"bucketing_version": "1"})
    assert stmts[:2] == ["SET hive.exec.dynamic.partition=true", "SET hive.exec.dynamic.partition.mode=nonstrict"]
    create = stmts[3]
    assert create == (
        "CREATE TABLE `mi`.`studies__mi_tmp` (\n  `study_uid` string,\n  `patient_key` string,\n  `n` bigint\n)\n"
        "PARTITIONED BY (`study_year` int)\n"
        "CLUSTERED BY (`patient_key`) SORTED BY (`patient_key` ASC) INTO 8 BUCKETS\n"
        "STORED AS PARQUET\n"
        "TBLPROPERTIES ('mi_warehouse.model' = 'studies', 'bucketing_version' = '1')")
    assert stmts[4] == ("INSERT OVERWRITE TABLE `mi`.`studies__mi_tmp` PARTITION (`study_year`)\n"
                        "SELECT `study_uid`, `patient_key`, `n`, `study_year`\nFROM (\n"
                        "SELECT study_uid, patient_key, study_year, n FROM src\n) mi_q")
    for s in stmts:
        assert len(split_statements(s)) == 1


def test_no_wrapping_when_partition_columns_are_already_last():
    cols = [COLS[0], COLS[1], COLS[3], COLS[2]]
    stmts = plan("studies", "SELECT study_uid, patient_key, n, study_year FROM src", cfg(
        materialized="table", partition_by=["study_year"]), REL, engine="hive", existing=ABSENT, columns=cols)
    assert stmts[4].endswith("PARTITION (`study_year`)\nSELECT study_uid, patient_key, n, study_year FROM src")


def test_hive_cannot_wrap_a_with_query_but_spark_can():
    with_sql = "WITH q AS (SELECT * FROM src) SELECT study_uid, patient_key, study_year, n FROM q"
    c = cfg(materialized="table", partition_by=["study_year"])
    with pytest.raises(MaterializationError, match="^studies: on Hive a query starting with WITH"):
        plan("studies", with_sql, c, REL, engine="hive", existing=ABSENT, columns=COLS)
    assert "FROM (\nWITH q" in plan("studies", with_sql, c, REL, engine="spark", existing=ABSENT, columns=COLS)[4]


def test_incremental_insert_overwrite_without_partition_by_is_refused():
    c = ModelConfig(materialized="incremental", incremental_strategy="insert_overwrite")  # bypasses build_config
    for existing in (ABSENT, Existing("table")):
        with pytest.raises(MaterializationError, match="^studies: incremental insert_overwrite needs partition_by"):
            plan("studies", SELECT, c, REL, engine="spark", existing=existing, columns=COLS)
    with pytest.raises(ValueError, match="needs partition_by"):
        cfg(materialized="incremental")


@pytest.mark.parametrize("engine, settings", [
    ("hive", ["SET hive.exec.dynamic.partition=true", "SET hive.exec.dynamic.partition.mode=nonstrict"]),
    ("spark", ["SET spark.sql.sources.partitionOverwriteMode=dynamic", "SET hive.exec.dynamic.partition=true",
               "SET hive.exec.dynamic.partition.mode=nonstrict"]),
])
def test_incremental_insert_overwrite_into_an_existing_table(engine, settings):
    c = cfg(materialized="incremental", partition_by=["study_year"])
    stmts = plan("studies", SELECT, c, REL, engine=engine, existing=Existing("table"), columns=COLS)
    assert stmts[:-1] == settings
    assert stmts[-1].startswith("INSERT OVERWRITE TABLE `mi`.`studies` PARTITION (`study_year`)\n"
                                "SELECT `study_uid`, `patient_key`, `n`, `study_year`\nFROM (")
    assert is_incremental_run(c, Existing("table"), False)


def test_incremental_builds_a_table_when_missing_or_full_refresh():
    c = cfg(materialized="incremental", partition_by=["study_year"])
    missing = plan("studies", SELECT, c, REL, engine="hive", existing=ABSENT, columns=COLS)
    assert any(s.startswith("CREATE TABLE `mi`.`studies__mi_tmp`") for s in missing)
    full = plan("studies", SELECT, c, REL, engine="hive", existing=Existing("table"), columns=COLS, full_refresh=True)
    assert "ALTER TABLE `mi`.`studies` RENAME TO `mi`.`studies__mi_old`" in full
    assert not is_incremental_run(c, Existing("table"), True)
    assert not is_incremental_run(c, Existing("view"), False)
    with pytest.raises(MaterializationError, match="cannot tell"):
        plan("studies", SELECT, c, REL, engine="hive", existing=UNKNOWN, columns=COLS)


def test_incremental_append():
    c = cfg(materialized="incremental", incremental_strategy="append")
    stmts = plan("studies", SELECT, c, REL, engine="spark", existing=Existing("table"), columns=COLS)
    assert stmts == ["INSERT INTO TABLE `mi`.`studies`\nSELECT study_uid, patient_key, study_year, n FROM src"]
    p = cfg(materialized="incremental", incremental_strategy="append", partition_by=["study_year"])
    stmts = plan("studies", SELECT, p, REL, engine="spark", existing=Existing("table"), columns=COLS)
    assert stmts[-1].startswith("INSERT INTO TABLE `mi`.`studies` PARTITION (`study_year`)")
    assert "SET spark.sql.sources.partitionOverwriteMode=dynamic" not in stmts


def test_incremental_follows_the_existing_tables_column_order_and_refuses_drift():
    c = cfg(materialized="incremental", partition_by=["study_year"])
    table_cols = (("n", "bigint"), ("study_uid", "string"), ("patient_key", "string"), ("study_year", "int"))
    stmts = plan("studies", SELECT, c, REL, engine="hive", existing=Existing("table", columns=table_cols), columns=COLS)
    assert "SELECT `n`, `study_uid`, `patient_key`, `study_year`" in stmts[-1]
    with pytest.raises(MaterializationError, match="new: n; missing: extra.*--full-refresh"):
        plan("studies", SELECT, c, REL, engine="hive", columns=COLS,
             existing=Existing("table", columns=(("extra", "int"),) + table_cols[1:]))
    with pytest.raises(MaterializationError, match="partition_by differs"):
        plan("studies", SELECT, c, REL, engine="hive", columns=COLS,
             existing=Existing("table", columns=table_cols[::-1]))


@pytest.mark.parametrize("columns, message", [
    (None, "columns are needed"),
    ([("count(1)", "bigint")], "give it an alias"),
    ([("a", "int"), ("A", "int")], "appears twice"),
    ([("a", "int; DROP TABLE t")], "unusable type"),
    ([("n", "bigint")], "partition column study_year is not in the SELECT"),
    ([("study_year", "int")], "at least one column besides"),
])
def test_bad_columns(columns, message):
    with pytest.raises(MaterializationError, match=message):
        plan("studies", "SELECT 1", cfg(materialized="table", partition_by=["study_year"]), REL,
             engine="hive", existing=ABSENT, columns=columns)


def test_a_model_is_one_statement():
    with pytest.raises(MaterializationError, match="^studies: a model renders to one SELECT statement, found 2"):
        plan("studies", "SELECT 1; DROP TABLE t", cfg(), REL, engine="hive", existing=ABSENT)


def test_probe_and_describe():
    p = probe("studies", SELECT, REL, "hive")
    assert p.setup == ("DROP VIEW IF EXISTS `mi`.`studies__mi_probe`",
                       "CREATE VIEW `mi`.`studies__mi_probe` AS\nSELECT study_uid, patient_key, study_year, n FROM src")
    assert p.describe == "DESCRIBE `mi`.`studies__mi_probe`"
    assert p.teardown == ("DROP VIEW IF EXISTS `mi`.`studies__mi_probe`",)
    s = probe("studies", SELECT, REL, "spark")
    assert s.setup == () and s.describe.startswith("DESCRIBE QUERY SELECT")
    rows = [("study_uid", "string", ""), ("study_year ", "int", None), ("", "", ""),
            ("# Partition Information", "", ""), ("study_year", "int", "")]
    assert parse_describe(rows) == [("study_uid", "string"), ("study_year", "int")]
    assert needs_columns(cfg(materialized="table")) and not needs_columns(cfg())
