"""metastore.describe_all: several tables described in fewer HiveServer2 statements, with the same
answers as one at a time. The statements are answered here as Spark's Thrift Server answers them
(tests/integration/test_load.py runs the real ones)."""

from __future__ import annotations

import pytest

from mi_warehouse.engine import metastore
from mi_warehouse.engine.connection import Result

TABLES = {"mi": {"dicom_metadata": ("file:/w/mi/dicom_metadata", "16", {"bucketing_version": "2"}),
                 "load_errors": ("file:/w/mi/load_errors", None, {"x": "1"})},
          "mi_phi": {"image_locations": ("file:/w/mi_phi/image_locations", None, {})}}


class FakeSession:
    def __init__(self):
        self.statements: list[str] = []

    def table_names(self, database):
        self.statements.append(f"SHOW DATABASES; SHOW TABLES IN {database}")
        return set(TABLES.get(database, {}))

    def execute(self, sql):
        self.statements.append(sql)
        kind, table = sql.rsplit(" ", 1)
        db, name = table.replace("`", "").split(".")
        location, buckets, props = TABLES[db][name]
        if kind == "DESCRIBE FORMATTED":
            rows = [("col", "string", None), ("Location", location, None)] + \
                ([("Num Buckets", buckets, None)] if buckets else [])
        else:
            rows = list(props.items())
        return Result(["a", "b"], rows, sql)


def test_tables_are_described_with_one_listing_per_database_and_properties_where_asked():
    s = FakeSession()
    names = ["mi.dicom_metadata", "mi.load_errors", "mi_phi.image_locations"]
    found = metastore.describe_all(s, names, properties=["mi.dicom_metadata"])
    assert found["mi.dicom_metadata"] == metastore.TableInfo(
        "mi.dicom_metadata", "file:///w/mi/dicom_metadata", 16, {"bucketing_version": "2"})
    assert found["mi.load_errors"].location == "file:///w/mi/load_errors"
    assert found["mi.load_errors"].buckets == -1 and found["mi.load_errors"].properties == {}
    assert sum(st.startswith("SHOW DATABASES") for st in s.statements) == 2  # a listing per database
    assert sum(st.startswith("SHOW TBLPROPERTIES") for st in s.statements) == 1
    assert len(s.statements) == 2 + 3 + 1


def test_describe_one_table_reads_its_properties():
    info = metastore.describe(FakeSession(), "mi.load_errors")
    assert info.properties == {"x": "1"} and info.buckets == -1


def test_a_missing_table_names_itself_before_any_describe():
    s = FakeSession()
    with pytest.raises(metastore.TableMissing, match=r"mi\.file_refs does not exist: run `mi-warehouse apply`"):
        metastore.describe_all(s, ["mi.dicom_metadata", "mi.file_refs"])
    assert not any(st.startswith("DESCRIBE") for st in s.statements)
