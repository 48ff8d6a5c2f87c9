import datetime as dt

import pytest

from mi_warehouse.engine import literals as lit
from mi_warehouse.engine.splitter import split_statements
from mi_warehouse.errors import InvalidIdentifier, MiWarehouseError


@pytest.mark.parametrize("hostile", ["x'; DROP TABLE t; --", "a\\'b", "back\\", "line\nbreak", "tab\there",
                                     "uni ü 日本", "`tick`", "/* c */"])
def test_string_literal_stays_one_token(hostile):
    sql = f"SELECT {lit.string(hostile)} AS v; SELECT 2"
    stmts = split_statements(sql)
    assert len(stmts) == 2
    assert stmts[0].sql.startswith("SELECT '") and stmts[0].sql.endswith("' AS v")


def test_identifier_quoting_refuses_anything_but_names():
    assert lit.identifier("mi.dicom_metadata") == "`mi`.`dicom_metadata`"
    for bad in ["a`b", "a b", "x;drop", "", "1abc"]:
        with pytest.raises(InvalidIdentifier, match="use only letters, digits and underscores") as e:
            lit.identifier(bad)
        assert isinstance(e.value, MiWarehouseError) and isinstance(e.value, ValueError)


def test_values():
    assert lit.value(None) == "NULL"
    assert lit.value(True) == "TRUE"
    assert lit.value(3) == "3"
    assert lit.value(2**40) == f"CAST({2**40} AS BIGINT)"
    assert lit.value(dt.date(2024, 1, 2)) == "CAST('2024-01-02' AS DATE)"
    assert lit.value(dt.datetime(2024, 1, 2, 3, 4, 5)) == "CAST('2024-01-02 03:04:05.000000' AS TIMESTAMP)"
    assert lit.value(float("nan")) == "CAST(NULL AS DOUBLE)"
