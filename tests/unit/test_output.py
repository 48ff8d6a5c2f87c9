import csv
import io
import json

import pytest

from mi_warehouse.engine.connection import Result, engine_message
from mi_warehouse.engine.output import render
from mi_warehouse.errors import UnknownFormat

R = Result(["a", "b"], [(1, "x,y"), (None, "ü")])


def test_csv_has_header_and_quotes():
    rows = list(csv.reader(io.StringIO(render(R, "csv"))))
    assert rows == [["a", "b"], ["1", "x,y"], ["", "ü"]]


def test_json_lines():
    lines = [json.loads(x) for x in render(R, "json").splitlines()]
    assert lines == [{"a": 1, "b": "x,y"}, {"a": None, "b": "ü"}]


def test_table_shows_null_and_count():
    out = render(R, "table")
    assert "| NULL |" in out and out.rstrip().endswith("2 rows")


def test_unknown_format_is_a_named_error_naming_the_choices():
    with pytest.raises(UnknownFormat, match="'xml': use one of table, csv, json"):
        render(R, "xml")


def test_engine_message_is_one_line_without_java_class_names():
    class Status:
        errorMessage = ("Error running query: [TABLE_OR_VIEW_NOT_FOUND] org.apache.spark.sql.AnalysisException: "
                        "[TABLE_OR_VIEW_NOT_FOUND] The table `x` cannot be found.\nstack line\n")

    class Resp:
        status = Status()

    msg = engine_message(Exception(Resp()))
    assert msg == "[TABLE_OR_VIEW_NOT_FOUND] The table `x` cannot be found."
