"""The column catalog is the one definition: the migration and the Arrow schema agree with it."""

import re
from pathlib import Path

import pyarrow as pa
from pydicom.datadict import tag_for_keyword

from mi_warehouse.serde import catalog as cat

MIGRATIONS = Path(__file__).resolve().parents[2] / "sql" / "migrations"
V0001 = MIGRATIONS / "V0001__create_core_tables.sql"


def test_migration_declares_exactly_the_catalog_columns():
    text = V0001.read_text()
    ddl = text[text.index(".dicom_metadata ("):text.index("COMMENT 'DICOM headers")]
    cols = re.findall(r"^\s*`(\w+)` ([A-Z<>]+)", ddl, re.M)
    for later in sorted(MIGRATIONS.glob("V*.sql"))[1:]:  # ADD COLUMNS appends, in migration order
        for body in re.findall(r"\.dicom_metadata ADD COLUMNS \((.*?)\n\);", later.read_text(), re.S):
            cols += re.findall(r"^\s*`(\w+)` ([A-Z<>]+)", body, re.M)
    assert cols == cat.ddl_columns()
    parts = re.search(r"PARTITIONED BY \((.*?)\)\n", text).group(1)
    assert re.findall(r"`(\w+)` (\w+)", parts) == [(c.name, c.hive_type) for c in cat.PARTITIONS]


def test_tags_match_pydicoms_dictionary_and_types_match():
    for c in cat.COLUMNS + cat.PARTITIONS:
        if c.keyword:
            assert f"{tag_for_keyword(c.keyword):08X}" == c.tag, c.name
    hive_to_arrow = {"STRING": pa.string(), "INT": pa.int32(), "BIGINT": pa.int64(), "DOUBLE": pa.float64(),
                     "DATE": pa.date32(), "ARRAY<DOUBLE>": pa.list_(pa.float64())}
    for c in cat.COLUMNS:
        assert hive_to_arrow[c.hive_type] == c.arrow_type, c.name
    assert cat.arrow_schema().names == [c.name for c in cat.COLUMNS]
    assert "| `patient_key` | STRING | (derived)" in cat.markdown_table()
