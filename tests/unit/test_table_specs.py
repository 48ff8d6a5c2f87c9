"""Every table's spec (runtime/tables.py) is what the migrations create, and both writers encode it."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pyarrow as pa
import pytest

from mi_warehouse.config import load_settings
from mi_warehouse.engine.target import Target
from mi_warehouse.migrations import scripts
from mi_warehouse.runtime import rows, tables
from mi_warehouse.runtime.storage import filesystem, read_parquet

ROOT = Path(__file__).resolve().parents[2]
_CREATE = re.compile(r"CREATE EXTERNAL TABLE IF NOT EXISTS (\w+)\.(\w+) \((.*?)\n\)\n(.*?)(?:;|$)", re.S)
_ALTER = re.compile(r"ALTER TABLE (\w+)\.(\w+) ADD COLUMNS \((.*?)\n\);", re.S)
_COLUMN = re.compile(r"^\s*`(\w+)` ([A-Z<>]+)", re.M)


def _migrated_tables(engine: str) -> dict[str, dict]:
    """{db.table: {columns, partitions}} after every migration, in order, rendered for `engine`."""
    settings = load_settings(ROOT, env={})
    found = scripts.load(settings.sql_dir / "migrations", settings, Target.from_settings(settings, engine, "4.0.0"))
    out: dict[str, dict] = {}
    for s in found:
        for stmt in s.statements:
            stmt = stmt.sql.strip().rstrip(";") + ";"
            for db, name, body, rest in _CREATE.findall(stmt):
                parts = re.search(r"PARTITIONED BY \((.*?)\)\n", rest)
                out[f"{db}.{name}"] = {
                    "columns": _COLUMN.findall(body),
                    "partitions": re.findall(r"`(\w+)` (\w+)", parts.group(1)) if parts else [],
                }
            for db, name, body in _ALTER.findall(stmt):
                out[f"{db}.{name}"]["columns"] += _COLUMN.findall(body)
    return out


@pytest.mark.parametrize("engine", ["spark", "hive"])
def test_every_migrated_table_has_exactly_its_spec(engine):
    settings = load_settings(ROOT, env={})
    migrated = _migrated_tables(engine)
    hive_specs = {t.qualified(settings): t for t in tables.ALL if t.hive and t.name != "schema_migrations"}
    assert set(migrated) == set(hive_specs), "a table without a spec, or a spec without a migration"
    for name, spec in hive_specs.items():
        assert migrated[name]["columns"] == spec.ddl_columns(), name
        assert migrated[name]["partitions"] == [(c.name, c.hive_type) for c in spec.partitions], name


def test_history_ddl_is_rendered_from_its_spec():
    from mi_warehouse.migrations.history import History

    class NoSession:  # History.ddl() only formats text
        pass

    ddl = History(NoSession(), load_settings(ROOT, env={})).ddl()[1]
    assert _COLUMN.findall(ddl) == tables.SCHEMA_MIGRATIONS.ddl_columns()


def test_dicom_metadata_spec_is_the_catalog():
    from mi_warehouse.serde import catalog as cat

    assert tables.DICOM_METADATA.arrow_schema() == cat.arrow_schema()


def test_arrow_types_follow_one_rule():
    assert tables.arrow_type("ARRAY<INT>") == pa.list_(pa.int32())
    assert tables.arrow_type("timestamp") == pa.timestamp("us")
    with pytest.raises(ValueError, match="MAP<STRING,STRING>"):
        tables.arrow_type("MAP<STRING,STRING>")


def test_rows_from_mappings_and_sequences_encode_alike(tmp_path):
    spec = tables.LABELS
    now = dt.datetime(2026, 1, 2, 3, 4, 5)
    as_dict = {"sop_instance_uid": "1.2", "label": "finding", "label_value": 1, "source": "s", "loaded_at": now}
    as_tuple = ("1.2", None, "finding", 1, "s", now)
    assert spec.to_arrow([as_dict]).equals(spec.to_arrow([as_tuple]))
    with pytest.raises(ValueError, match="no column"):
        spec.record({"sop_instance_uid": "1", "bogus": 2})
    with pytest.raises(ValueError, match="5 values for 6 columns"):
        spec.record(as_tuple[:5])
    rows.write_file(tmp_path.as_uri(), spec, [as_dict, as_tuple], "x.parquet")
    fs, path = filesystem(tmp_path.as_uri())
    back = read_parquet(fs, f"{path}/x.parquet")
    assert back.schema.names == spec.names  # timestamps are INT96 on disk (what Hive reads): ns on read
    assert back.cast(spec.arrow_schema()).equals(spec.to_arrow([as_dict, as_tuple]))
    assert back.column("study_uid").to_pylist() == [None, None]


def test_insert_sql_types_every_value_and_null():
    sql = rows.insert_sql("mi.model_versions", tables.MODEL_VERSIONS, [
        {"name": "m", "version": "1", "opset": 17, "input_shape": [1, 1, 64, 64], "labels": ["a", "b"],
         "decision_threshold": 0.5, "registered_at": dt.datetime(2026, 1, 1)}])
    assert sql.startswith("INSERT INTO TABLE `mi`.`model_versions` SELECT CAST('m' AS STRING)")
    assert "array(CAST(1 AS INT), CAST(1 AS INT), CAST(64 AS INT), CAST(64 AS INT))" in sql
    assert "CAST(NULL AS STRING)" in sql and "CAST(NULL AS STRING), CAST(17 AS INT)" in sql
    assert sql.count(" AS ") == len(tables.MODEL_VERSIONS.columns) - 2 + 4 + 2


def test_python_records_follow_their_table_specs():
    from dataclasses import fields

    from mi_warehouse.migrations.history import Entry
    from mi_warehouse.models.registry import ModelVersion

    assert [f.name for f in fields(ModelVersion)] == tables.MODEL_VERSIONS.names
    assert [f.name for f in fields(Entry)] == tables.SCHEMA_MIGRATIONS.names
