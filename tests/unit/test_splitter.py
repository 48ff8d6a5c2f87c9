import pytest

from mi_warehouse.engine.splitter import split_statements
from mi_warehouse.errors import SqlSplitError


def sqls(script):
    return [s.sql for s in split_statements(script)]


def test_splits_on_semicolons_outside_quotes_and_comments():
    script = """
-- a comment; with a semicolon
SELECT 'a;b' AS x, "c;d" AS y;  /* block; comment */
SELECT `we;ird` FROM t; -- trailing ; comment
"""
    assert sqls(script) == ["SELECT 'a;b' AS x, \"c;d\" AS y", "SELECT `we;ird` FROM t"]


def test_escaped_quotes_and_backslashes_inside_strings():
    script = r"SELECT 'it\'s;', 'back\\'; SELECT 2"
    assert sqls(script) == [r"SELECT 'it\'s;', 'back\\'", "SELECT 2"]


def test_doubled_backtick_is_part_of_identifier():
    assert sqls("SELECT `a``;b` FROM t; SELECT 1") == ["SELECT `a``;b` FROM t", "SELECT 1"]


def test_comment_markers_inside_strings_are_text():
    assert sqls("SELECT '--not a comment', '/* nor this */'; SELECT 3") == [
        "SELECT '--not a comment', '/* nor this */'", "SELECT 3"]


def test_statement_numbers_and_start_lines():
    script = "-- header\n\nCREATE TABLE a (x INT);\n/* multi\nline */\nSELECT\n 1;\n\n"
    stmts = split_statements(script)
    assert [(s.number, s.line) for s in stmts] == [(1, 3), (2, 6)]


def test_multiline_string_counts_lines():
    stmts = split_statements("SELECT 'a\nb\nc';\nSELECT 2;")
    assert stmts[1].line == 4


def test_empty_and_comment_only_scripts_have_no_statements():
    assert sqls("") == []
    assert sqls("-- only\n/* comments */ ;;\n") == []


@pytest.mark.parametrize("bad, what", [("SELECT 'abc", "string"), ("SELECT `abc", "identifier"),
                                       ("SELECT 1 /* open", "comment")])
def test_unterminated_tokens_name_source_and_line(bad, what):
    with pytest.raises(SqlSplitError, match=rf"^V9__x\.sql: line 1: unterminated .*{what}"):
        split_statements(bad, "V9__x.sql")
