"""Variables reach SQL only through quoting filters; hostile values stay inside one token."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from mi_warehouse.dbt_like.compiler import compile_project
from mi_warehouse.dbt_like.context import RuntimeFunctions, render
from mi_warehouse.dbt_like.errors import ModelRenderError, UnsafeVariable
from mi_warehouse.dbt_like.parser import parse_project
from mi_warehouse.dbt_like.project import load_project
from mi_warehouse.dbt_like.quoting import VarValue, bool_, date, ident, number, sqlstring
from mi_warehouse.dbt_like.relation import Target
from mi_warehouse.engine.splitter import split_statements

TARGET = Target("core", "core_phi")
HOSTILE = [
    "x'; DROP TABLE t; --",
    "back\\",
    "a\\'b",
    "line\nbreak'; DROP TABLE t; --",
    "`tick`; DROP TABLE t",
    "/* c */ ; -- ;",
    '"; DROP TABLE t; --',
    "\\\\'; SELECT 1; --",
    "tab\tand\rcr",
]


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))
    return root


def render_model(tmp_path, template: str, variables: dict, macros: str = "") -> str:
    files = {"models/m.sql": template}
    if macros:
        files["macros/q.sql"] = macros
    project = load_project(write(tmp_path, files))
    parsed = parse_project(project, TARGET, variables)
    node = parsed.models["m"]
    funcs = RuntimeFunctions(project, TARGET, node.file, True, variables, declared_refs=node.refs)
    return render(parsed.env, project, node.file, funcs, False)


def hive_unescape(literal: str) -> str:
    """Read back a single-quoted HiveQL literal as Hive does (backslash escapes)."""
    assert literal[0] == "'" and literal[-1] == "'"
    body, out, i = literal[1:-1], [], 0
    escapes = {"n": "\n", "r": "\r", "t": "\t", "'": "'", "\\": "\\", '"': '"'}
    while i < len(body):
        c = body[i]
        if c == "\\":
            out.append(escapes[body[i + 1]])
            i += 2
            continue
        assert c != "'", "an unescaped quote would end the literal early"
        out.append(c)
        i += 1
    return "".join(out)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_sqlstring_keeps_hostile_text_in_one_literal(tmp_path, hostile):
    sql = render_model(tmp_path, "SELECT * FROM t WHERE modality = {{ var('m') | sqlstring }}", {"m": hostile})
    stmts = split_statements(sql + ";\nSELECT 2")
    assert len(stmts) == 2
    prefix = "SELECT * FROM t WHERE modality = "
    assert stmts[0].sql.startswith(prefix)
    assert hive_unescape(stmts[0].sql[len(prefix):]) == hostile
    assert stmts[1].sql == "SELECT 2"


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_list_values_each_stay_in_their_literal(tmp_path, hostile):
    sql = render_model(tmp_path, "SELECT 1 FROM t WHERE m IN ({{ var('ms') | sqlstring }})",
                       {"ms": ["CT", hostile]})
    stmts = split_statements(sql)
    assert len(stmts) == 1
    assert stmts[0].sql.endswith(f"IN ('CT', {sqlstring(hostile)})")


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_any_text_is_one_literal(text):
    lit = sqlstring(text)
    stmts = split_statements(f"SELECT {lit} AS v; SELECT 2")
    assert [s.sql for s in stmts] == [f"SELECT {lit} AS v", "SELECT 2"]
    assert hive_unescape(lit) == text.replace("\0", "")


@pytest.mark.parametrize("expr", [
    "{{ var('m') }}", "{{ var('m') ~ '' }}", "{{ var('m') | string }}", "{{ var('m') | upper }}",
    "{{ var('m') | safe }}", "{{ '%s' | format(var('m')) }}", "{{ var('m') | int }}",
    "{% for x in var('ms') %}{{ x }}{% endfor %}", "{{ var('ms') | join(',') }}",
])
def test_plain_rendering_is_refused_naming_the_model(tmp_path, expr):
    with pytest.raises(UnsafeVariable) as e:
        render_model(tmp_path, f"SELECT 1\nWHERE x = {expr}", {"m": "x'; DROP TABLE t; --", "ms": ["a", "b"]})
    msg = str(e.value)
    assert msg.startswith("models/m.sql line 2: var('m")
    if "| int" in expr:  # a filter that would let text through: pointed at the one that refuses it
        assert msg.endswith("| int: use | number, which refuses non-numbers")
    else:
        assert "rendered without a quoting filter; write {{ var('m" in msg and "| sqlstring }}" in msg
    assert "DROP" not in msg


def test_refusal_inside_a_macro_names_model_and_macro(tmp_path):
    with pytest.raises(UnsafeVariable) as e:
        render_model(tmp_path, "SELECT {{ leak() }}", {"m": "v"},
                     macros="{% macro leak() %}\n{{ var('m') }}\n{% endmacro %}")
    assert str(e.value).startswith("models/m.sql (via macros/q.sql line 2): var('m')")


def test_vars_can_be_tested_compared_and_iterated(tmp_path):
    sql = render_model(tmp_path, """\
        {%- if var('flag') and var('mode') == 'full' and var('n') > 2 and 'CT' in var('ms') -%}
        {% for m in var('ms') %}{{ m | sqlstring }}{% if not loop.last %},{% endif %}{% endfor %}
        {%- endif %}""", {"flag": True, "mode": "full", "n": 3, "ms": ["CT", "MR"]})
    assert sql.strip() == "'CT','MR'"


def test_defaults_and_missing_vars(tmp_path):
    assert render_model(tmp_path, "{{ var('n', 5) | number }}", {}) == "5"
    with pytest.raises(ModelRenderError, match=r"^models/m.sql line 1: var\('n'\) is not set"):
        render_model(tmp_path / "2", "{{ var('n') | number }}", {})


def test_filters_on_good_values():
    assert ident(VarValue("t", "mi.dicom_metadata")) == "`mi`.`dicom_metadata`"
    assert ident(["a", "b"]) == "`a`, `b`"
    assert number(VarValue("n", 3)) == "3" and number(2.5) == "2.5" and number([1, 2]) == "1, 2"
    assert date(VarValue("d", "2024-02-29")) == "CAST('2024-02-29' AS DATE)"
    assert date(dt.date(2024, 1, 2)) == "CAST('2024-01-02' AS DATE)"
    assert bool_(VarValue("b", False)) == "FALSE" and bool_(True) == "TRUE"
    assert sqlstring(VarValue("s", 7)) == "'7'"


@pytest.mark.parametrize("flt, value", [
    (ident, "x`; DROP TABLE t"), (ident, "a b"), (ident, 3),
    (number, "1; DROP TABLE t"), (number, "5"), (number, True), (number, float("nan")), (number, None),
    (date, "2024-01-01'; DROP TABLE t; --"), (date, "2024-02-30"), (date, "20240101"),
    (date, dt.datetime(2024, 1, 1)), (bool_, "true"), (bool_, 1),
    (sqlstring, None), (sqlstring, True), (sqlstring, {"a": 1}), (sqlstring, []),
])
def test_filters_refuse_bad_values(flt, value):
    with pytest.raises(UnsafeVariable) as e:
        flt(VarValue("v", value))
    assert str(e.value).startswith("var('v")


def test_refused_filter_names_the_model_file(tmp_path):
    with pytest.raises(UnsafeVariable, match=r"^models/m.sql line 1: var\('t'\) \| ident"):
        render_model(tmp_path, "SELECT * FROM {{ var('t') | ident }}", {"t": "t; DROP TABLE x"})


def test_compiled_model_with_hostile_var_is_one_statement(tmp_path):
    write(tmp_path, {"models/m.sql": "SELECT {{ var('a') | sqlstring }} AS a, {{ var('b') | sqlstring }} AS b"})
    manifest = compile_project(load_project(tmp_path), TARGET, vars={"a": HOSTILE[0], "b": HOSTILE[3]})
    text = (tmp_path / "target" / "compiled" / "m.sql").read_text()
    stmts = split_statements(text)
    assert len(stmts) == 1
    assert stmts[0].sql == manifest.models["m"].compiled_sql
    assert sqlstring(HOSTILE[0]) in text and sqlstring(HOSTILE[3]) in text
