"""Parse context (records refs, sources, config) and runtime context (resolves)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mi_warehouse.dbt_like.context import RuntimeFunctions, render
from mi_warehouse.dbt_like.errors import (DependencyCycle, ModelProjectError, ModelRenderError, UnknownRef,
                                          UnknownSource)
from mi_warehouse.dbt_like.graph import Graph
from mi_warehouse.dbt_like.parser import parse_project
from mi_warehouse.dbt_like.project import load_project
from mi_warehouse.dbt_like.relation import Target

TARGET = Target("core", "core_phi", engine="spark", version="4.3.0")
SOURCES = """
sources:
  - name: mi
    tables: [{name: dicom_metadata}, {name: labels}]
  - name: mi_phi
    tables: [{name: patient_map}]
"""


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))
    return root


def parse(tmp_path, files, variables=None):
    project = load_project(write(tmp_path, {"models/sources.yml": SOURCES, **files}))
    return parse_project(project, TARGET, variables)


def runtime_render(parsed, name, incremental=False, variables=None):
    node = parsed.models[name]
    funcs = RuntimeFunctions(parsed.project, parsed.target, node.file, True, variables or {},
                             declared_refs=node.refs)
    return render(parsed.env, parsed.project, node.file, funcs, incremental)


def test_parse_records_refs_sources_and_config(tmp_path):
    parsed = parse(tmp_path, {
        "models/base.sql": "SELECT * FROM {{ source('mi', 'dicom_metadata') }}",
        "models/top.sql": """
            {{ config(materialized='table', partition_by=['study_year'], tags=['nightly']) }}
            SELECT * FROM {{ ref('base') }} b JOIN {{ source('mi_phi', 'patient_map') }} m
            ON b.patient_key = m.patient_key JOIN {{ ref('base') }} c ON 1 = 1
            """,
        "models/top.yml": "models: [{name: top, config: {tags: [pii], materialized: view}}]",
    })
    top = parsed.models["top"]
    assert top.refs == ("base",)
    assert top.sources == (("mi_phi", "patient_map"),)
    assert top.config.materialized == "table"  # the file's config() beats schema.yml
    assert top.config.partition_by == ("study_year",)
    assert top.config.tags == ("pii", "nightly")
    assert parsed.models["base"].config.materialized == "view"
    assert parsed.models["base"].sources == (("mi", "dicom_metadata"),)


def test_runtime_resolves_relations_this_and_target(tmp_path):
    parsed = parse(tmp_path, {
        "models/base.sql": "SELECT 1 AS x",
        "models/top.sql": ("SELECT '{{ target.engine }}' AS e FROM {{ ref('base') }} "
                           "JOIN {{ source('mi_phi', 'patient_map') }} -- {{ this }}"),
    })
    sql = runtime_render(parsed, "top")
    assert "FROM `core`.`base` JOIN `core_phi`.`patient_map` -- `core`.`top`" in sql
    assert "'spark' AS e" in sql


def test_unknown_ref_names_file_and_ref(tmp_path):
    with pytest.raises(UnknownRef) as e:
        parse(tmp_path, {"models/sub/a.sql": "SELECT 1\n\nFROM {{ ref('nowhere') }}"})
    msg = str(e.value)
    assert msg.startswith("models/sub/a.sql line 3:") and "ref('nowhere')" in msg


def test_unknown_source_names_file(tmp_path):
    with pytest.raises(UnknownSource) as e:
        parse(tmp_path, {"models/a.sql": "SELECT * FROM {{ source('mi', 'nope') }}"})
    assert str(e.value).startswith("models/a.sql") and "declares no table nope" in str(e.value)
    with pytest.raises(UnknownSource, match="no source elsewhere is declared"):
        parse(tmp_path, {"models/a.sql": "SELECT * FROM {{ source('elsewhere', 't') }}"})


def test_cycle_names_the_files(tmp_path):
    parsed = parse(tmp_path, {
        "models/a.sql": "SELECT * FROM {{ ref('c') }}",
        "models/b.sql": "SELECT * FROM {{ ref('a') }}",
        "models/c.sql": "SELECT * FROM {{ ref('b') }}",
        "models/d.sql": "SELECT * FROM {{ ref('a') }}",
    })
    with pytest.raises(DependencyCycle) as e:
        Graph({n: p.refs for n, p in parsed.models.items()},
              origins={n: p.file.origin for n, p in parsed.models.items()})
    msg = str(e.value)
    for f in ("models/a.sql", "models/b.sql", "models/c.sql"):
        assert f in msg
    assert "models/d.sql" not in msg
    assert msg == "dependency cycle: models/a.sql -> models/b.sql -> models/c.sql -> models/a.sql"


def test_self_ref_is_a_cycle(tmp_path):
    parsed = parse(tmp_path, {"models/a.sql": "SELECT * FROM {{ ref('a') }}"})
    with pytest.raises(DependencyCycle, match="models/a.sql -> models/a.sql"):
        Graph({"a": parsed.models["a"].refs}, origins={"a": "models/a.sql"})


def test_is_incremental_refs_are_recorded_at_parse(tmp_path):
    parsed = parse(tmp_path, {
        "models/base.sql": "SELECT 1 AS x, 2024 AS y",
        "models/watermark.sql": "SELECT 1 AS x",
        "models/inc.sql": """
            {{ config(materialized='incremental', partition_by=['y']) }}
            SELECT * FROM {{ ref('base') }}
            {% if is_incremental() %} WHERE x > (SELECT MAX(x) FROM {{ ref('watermark') }}) {% endif %}
            """,
    })
    assert parsed.models["inc"].refs == ("base", "watermark")
    assert "watermark" not in runtime_render(parsed, "inc", incremental=False)
    assert "`core`.`watermark`" in runtime_render(parsed, "inc", incremental=True)


def test_runtime_refuses_a_ref_parse_did_not_see(tmp_path):
    parsed = parse(tmp_path, {
        "models/base.sql": "SELECT 1 AS x",
        "models/sneaky.sql": "SELECT 1 {% if var('late', False) %} FROM {{ ref('base') }}{% endif %}",
    })
    assert parsed.models["sneaky"].refs == ()
    with pytest.raises(ModelRenderError, match="depends_on"):
        runtime_render(parsed, "sneaky", variables={"late": True})


def test_macros_are_available_and_can_call_each_other(tmp_path):
    parsed = parse(tmp_path, {
        "macros/a.sql": "{% macro outer(c) %}UPPER({{ inner(c) }}){% endmacro %}",
        "macros/b.sql": "{% macro inner(c) %}TRIM({{ c | ident }}){% endmacro %}",
        "macros/c.sql": "{% macro base_rel() %}{{ ref('base') }}{% endmacro %}",
        "models/base.sql": "SELECT 'a' AS x",
        "models/top.sql": "SELECT {{ outer('x') }} AS x FROM {{ base_rel() }}",
    })
    assert parsed.models["top"].refs == ("base",)  # a ref inside a macro is recorded too
    assert runtime_render(parsed, "top") == "SELECT UPPER(TRIM(`x`)) AS x FROM `core`.`base`"


def test_duplicate_macro_names_both_files(tmp_path):
    with pytest.raises(ModelProjectError) as e:
        parse(tmp_path, {"macros/a.sql": "{% macro m() %}1{% endmacro %}",
                         "macros/b.sql": "{% macro m() %}2{% endmacro %}"})
    assert "macros/a.sql" in str(e.value) and "macros/b.sql" in str(e.value)


def test_errors_in_templates_name_the_file(tmp_path):
    with pytest.raises(ModelRenderError, match=r"^models/a.sql line 2: .*undefined"):
        parse(tmp_path, {"models/a.sql": "SELECT 1\nFROM {{ nothing }}"})
    with pytest.raises(ModelRenderError, match=r"^models/b.sql line 1"):
        parse(tmp_path / "2", {"models/b.sql": "SELECT {% if %}"})
    with pytest.raises(ModelRenderError, match=r"^macros/m.sql line 1"):
        parse(tmp_path / "3", {"macros/m.sql": "{% macro m( %}"})


def test_bad_config_names_the_file(tmp_path):
    with pytest.raises(ModelRenderError, match=r"^models/a.sql: config: unknown config key 'materialised'"):
        parse(tmp_path, {"models/a.sql": "{{ config(materialised='table') }} SELECT 1"})
    with pytest.raises(ModelRenderError, match=r"^models/a.sql: config: incremental insert_overwrite needs partition_by"):
        parse(tmp_path / "2", {"models/a.sql": "{{ config(materialized='incremental') }} SELECT 1"})
    with pytest.raises(ModelProjectError, match=r"^models/a.yml: model a config: buckets"):
        parse(tmp_path / "3", {"models/a.sql": "SELECT 1", "models/a.yml": "models: [{name: a, config: {buckets: -1}}]"})


def test_config_in_a_singular_test_is_refused(tmp_path):
    with pytest.raises(ModelRenderError, match="^tests/t.sql line 1: config.. is for models"):
        parse(tmp_path, {"tests/t.sql": "{{ config(materialized='table') }} SELECT 1"})


def test_singular_tests_record_refs(tmp_path):
    parsed = parse(tmp_path, {"models/a.sql": "SELECT 1 AS x",
                              "tests/no_negatives.sql": "SELECT * FROM {{ ref('a') }} WHERE x < 0"})
    assert parsed.tests["no_negatives"].refs == ("a",)
