"""Hive's own parser (Hive 2.3 ParseDriver, through py4j) as a gate on compiled HiveQL.

One JVM serves the whole module. Every statement in REJECTED is accepted by Spark 4's parser
(checked with `sessionState.sqlParser.parsePlan`) but not by Hive 2.3's.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from mi_warehouse.dbt_like.compiler import compile_project
from mi_warehouse.dbt_like.hive_parser import (
    HiveParseError,
    HiveParser,
    check_manifest,
    check_sql,
)
from mi_warehouse.dbt_like.project import load_project
from mi_warehouse.dbt_like.relation import Target
from mi_warehouse.errors import JavaMissing, MiWarehouseError

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "dbt_like" / "imaging"
TARGET = Target("core", "core_phi")


@pytest.fixture(scope="module")
def parser():
    p = HiveParser()
    try:
        p.start()
    except JavaMissing as e:
        pytest.skip(f"Hive's parser runs in a JVM and no Java runtime is installed: {e}")
    yield p
    p.close()


ACCEPTED = {
    "window functions": (
        "SELECT patient_key, study_date,\n"
        "       row_number() OVER (PARTITION BY patient_key ORDER BY study_date DESC) AS rn,\n"
        "       sum(n) OVER (PARTITION BY patient_key ORDER BY study_date\n"
        "                    ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running\n"
        "FROM `core`.`studies`"),
    "CTE": "WITH s AS (SELECT study_uid FROM core.studies) SELECT count(*) AS n FROM s",
    "LATERAL VIEW explode": (
        "SELECT t.id, e.label FROM core.t LATERAL VIEW OUTER explode(t.labels) e AS label"),
    "get_json_object and CAST to DATE": (
        "SELECT get_json_object(j, '$.a.b') AS x, CAST('2024-01-01' AS DATE) AS d,\n"
        "       CAST(n AS DECIMAL(10,2)) AS amount FROM `core`.`t` WHERE d >= DATE '2024-01-01'"),
    "backticked identifiers and `rows`": (
        "SELECT `rows`, `user`, `date`, `a b` AS `order` FROM `core_phi`.`patient map`"),
    "INSERT OVERWRITE ... PARTITION": (
        "INSERT OVERWRITE TABLE core.studies PARTITION (study_year)\n"
        "SELECT study_uid, year(study_date) AS study_year FROM core.stg_instances"),
    "LEFT SEMI JOIN, GROUP BY, HAVING": (
        "SELECT a, count(*) AS n FROM t LEFT SEMI JOIN u ON t.a = u.a GROUP BY a HAVING count(*) > 1"),
    "UNION ALL, IN subquery, CASE, RLIKE": (
        "SELECT CASE WHEN a RLIKE '^x' THEN 1 ELSE 0 END AS f FROM t WHERE a IN (SELECT b FROM u)\n"
        "UNION ALL SELECT 2 AS f FROM v"),
    "trailing semicolon and comments": "-- header\nSELECT 1 AS one -- a comment\n;",
    "LIMIT ... OFFSET (Hive 2.0+)": "SELECT a FROM t ORDER BY a LIMIT 10 OFFSET 20",
}

# statement, the token Hive's message names
REJECTED = {
    "ILIKE": ("SELECT a FROM t WHERE a ILIKE 'x%'", "line 1:24", "ILIKE"),
    "SELECT * EXCEPT (...)": ("SELECT * EXCEPT (a) FROM t", "line 1:", "'a'"),
    "lambda": ("SELECT transform(arr, x -> x + 1) AS y FROM t", "line 1:", "'>'"),
    "QUALIFY": ("SELECT a FROM t QUALIFY row_number() OVER (ORDER BY a) = 1", "line 1:", "QUALIFY"),
    "LEFT ANTI JOIN": ("SELECT t.a FROM t LEFT ANTI JOIN u ON t.a = u.a", "line 1:", "ANTI"),
    "a::int cast": ("SELECT a::int FROM t", "line 1:", "':'"),
    "reserved word as a bare alias": ("SELECT a AS user FROM t", "line 1:", "'user'"),
    "subquery without alias": ("SELECT a FROM (SELECT 1 AS a)", "line 1:", "subquery source"),
    "IS DISTINCT FROM": ("SELECT a FROM t WHERE a IS DISTINCT FROM b", "line 1:", "DISTINCT"),
    "DESCRIBE QUERY": ("DESCRIBE QUERY SELECT 1", "line 1:", "QUERY"),
}


@pytest.mark.parametrize("sql", list(ACCEPTED.values()), ids=list(ACCEPTED))
def test_hive_accepts(parser, sql):
    assert parser.parse(sql) is None


@pytest.mark.parametrize("sql,where,token", list(REJECTED.values()), ids=list(REJECTED))
def test_hive_rejects_spark_only_syntax(parser, sql, where, token):
    with pytest.raises(HiveParseError) as info:
        parser.parse(sql)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(where) and token in message, message
    assert info.value.sql == sql


def test_error_names_line_column_and_token(parser):
    with pytest.raises(HiveParseError) as info:
        parser.parse("SELECT a,\n       b\nFROM t\nWHERE a ILIKE 'x'")
    assert str(info.value) == "line 4:8 missing EOF at 'ILIKE' near 'a'"


def test_several_hive_errors_come_on_one_line(parser):
    with pytest.raises(HiveParseError) as info:
        parser.parse("SELECT struct(1 AS a)")  # Spark's named struct field; Hive reports two errors
    message = str(info.value)
    assert "\n" not in message and message.count("line 1:") == 2 and "; " in message


def test_parse_error_is_a_mi_warehouse_error(parser):
    assert issubclass(HiveParseError, MiWarehouseError)
    with pytest.raises(MiWarehouseError):
        parser.parse("")


def test_one_jvm_started_once(parser):
    assert parser.running and parser.start() is parser
    assert parser.start_seconds is not None and 0 < parser.start_seconds < 60


def test_check_sql_numbers_the_statements(parser):
    problems = check_sql([ACCEPTED["CTE"], REJECTED["ILIKE"][0], "SELECT 1;", REJECTED["QUALIFY"][0]],
                         parser=parser)
    assert problems == [
        "statement 2: line 1:24 missing EOF at 'ILIKE' near 'a'",
        "statement 4: line 1:24 missing EOF at 'row_number' near 'QUALIFY'",
    ]
    assert check_sql([], parser=parser) == []


def test_check_manifest_passes_the_fixture_project(parser, tmp_path):
    root = shutil.copytree(FIXTURE, tmp_path / "imaging")
    manifest = compile_project(load_project(root), TARGET, vars={"since": "2024-01-01"})
    assert manifest.selected and manifest.selected_tests
    assert check_manifest(manifest, parser=parser) == []


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))
    return root


def test_check_manifest_names_model_test_and_file(parser, tmp_path):
    root = _write(tmp_path / "proj", {
        "models/good.sql": "SELECT id, name FROM {{ source('raw', 'people') }}\n",
        "models/bad.sql": "SELECT id FROM {{ ref('good') }}\nWHERE name ILIKE 'a%'\n",
        "models/schema.yml": """\
            version: 2
            sources:
              - name: raw
                schema: core
                tables:
                  - name: people
            models:
              - name: good
                columns:
                  - name: id
                    tests: [not_null, unique]
            """,
        "tests/no_dupes.sql": "SELECT * EXCEPT (name) FROM {{ ref('good') }}\n",
    })
    manifest = compile_project(load_project(root), TARGET)
    assert set(manifest.selected) == {"good", "bad"}
    problems = check_manifest(manifest, parser=parser)
    assert problems == [
        "`bad` (models/bad.sql): line 2:11 missing EOF at 'ILIKE' near 'name'",
        f"`no_dupes` (tests/no_dupes.sql): {_message(parser, 'SELECT * EXCEPT (name) FROM x')}",
    ]
    assert all("\n" not in p for p in problems)


def _message(parser: HiveParser, sql: str) -> str:
    with pytest.raises(HiveParseError) as info:
        parser.parse(sql)
    return str(info.value)


def test_shared_parser_is_one_per_process():
    assert HiveParser.shared() is HiveParser.shared()  # lazy: no JVM is started here


def test_missing_java_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-jdk"))
    monkeypatch.setenv("PATH", str(tmp_path))
    p = HiveParser()
    with pytest.raises(JavaMissing, match="Java"):
        p.start()
    assert not p.running
    p.close()  # closing a parser that never started is fine
