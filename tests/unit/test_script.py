"""engine.script: a script is split before anything runs; a failure names its statement."""

from __future__ import annotations

import pytest

from mi_warehouse.engine.connection import Result
from mi_warehouse.engine.script import Script
from mi_warehouse.errors import QueryFailed, ScriptUnreadable, SqlSplitError


class FakeSession:
    def __init__(self, fail_on: str = ""):
        self.ran: list[str] = []
        self.fail_on = fail_on

    def execute(self, sql: str) -> Result:
        if self.fail_on and self.fail_on in sql:
            raise QueryFailed("[TABLE_OR_VIEW_NOT_FOUND] t", "[TABLE_OR_VIEW_NOT_FOUND] t")
        self.ran.append(sql)
        return Result(["v"], [(1,)] if sql.startswith("SELECT 1") else []) if sql.startswith("SELECT") \
            else Result([], [])


def test_statements_run_in_order_and_a_failure_names_source_statement_and_line():
    script = Script.parse("CREATE TABLE a (x INT);\nSELECT 1;\n\nSELECT * FROM t;\nSELECT 3", "f.sql")
    session = FakeSession(fail_on="FROM t")
    with pytest.raises(QueryFailed) as e:
        list(script.run(session))
    assert str(e.value) == "f.sql: statement 3 (line 4): [TABLE_OR_VIEW_NOT_FOUND] t"
    assert e.value.engine_message == "[TABLE_OR_VIEW_NOT_FOUND] t"
    assert session.ran == ["CREATE TABLE a (x INT)", "SELECT 1"]


def test_a_script_that_does_not_split_runs_nothing():
    with pytest.raises(SqlSplitError):
        Script.parse("SELECT 1; SELECT 'open")


def test_what_is_worth_showing():
    done = list(Script.parse("CREATE TABLE a (x INT); SELECT 1; SELECT 2").run(FakeSession()))
    assert [d.worth_showing("table") for d in done] == [False, True, False]  # DDL; rows; empty
    assert [d.worth_showing("csv") for d in done] == [False, True, True]  # csv keeps the header
    (lone,) = Script.parse("SELECT 2").run(FakeSession())
    assert lone.only and lone.worth_showing("table")


def test_reading_a_file(tmp_path):
    f = tmp_path / "s.sql"
    f.write_text("SELECT 1;\nSELECT 2;\n")
    script = Script.read(f)
    assert script.source == str(f) and [s.line for s in script.statements] == [1, 2]
    f.write_bytes(b"\xff\xfe")
    with pytest.raises(ScriptUnreadable, match="UTF-8"):
        Script.read(f)
    with pytest.raises(ScriptUnreadable, match="No such file"):
        Script.read(tmp_path / "missing.sql")
