"""The shipped models (sql/models) compile for both engines without a server; vars cannot inject.

No engine is started here: these tests only render templates (compile_project).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from mi_warehouse.dbt_like import context
from mi_warehouse.dbt_like.compiler import compile_project
from mi_warehouse.dbt_like.errors import ModelRenderError, UnsafeVariable
from mi_warehouse.dbt_like.project import load_project
from mi_warehouse.dbt_like.relation import Target

REPO = Path(__file__).resolve().parents[2]
SQL = REPO / "sql"
MODELS = {"cohort_adult_chest_xr", "cohort_ct_pet", "cohort_longitudinal", "patient_split", "dataset_profile",
          "eval_predictions", "eval_unscored", "eval_metrics", "eval_calibration", "eval_metrics_by_site",
          "eval_metrics_by_manufacturer", "eval_compare_versions", "longitudinal_scores", "model_lineage",
          "eval_site_shortcut", "eval_within_site_auc"}


def _compile(tmp_path, engine="spark", vars=None, exists=False, full_refresh=False, select=None, root=SQL):
    target = Target("mi", "mi_phi", engine, "4.3.0" if engine == "spark" else "4.0.1")
    return compile_project(load_project(root), target, select, vars, lambda rel: exists, full_refresh,
                           target_dir=tmp_path / "target")


@pytest.mark.parametrize("engine", ["hive", "spark"])
@pytest.mark.parametrize("exists", [False, True])
def test_every_model_compiles(tmp_path, engine, exists):
    m = _compile(tmp_path, engine, exists=exists)
    assert set(m.models) == MODELS and set(m.selected) == MODELS
    for name, node in m.models.items():
        sql = node.compiled_sql
        assert sql.lstrip().upper().startswith("SELECT"), name  # no WITH: Hive can reorder and wrap it
        assert "mi_phi" not in sql, name  # shipped models never read the PHI database
        assert "{{" not in sql and "{%" not in sql, name
        assert not re.search(r"\bhash\(", sql), name  # engine-dependent
        assert not re.search(r"(?<![\w.])\d+\.\d+(?![\w.])", re.sub(r"CAST\([^()]*AS DOUBLE\)|'[^']*'", "", sql)), \
            name  # decimal literals are DECIMAL on Spark: every one is a CAST(... AS DOUBLE) or a var
    assert m.models["cohort_adult_chest_xr"].incremental_run is exists
    assert ("LEFT JOIN `mi`.`cohort_adult_chest_xr` t" in m.models["cohort_adult_chest_xr"].compiled_sql) is exists


def test_every_model_is_documented_and_tested(tmp_path):
    project = load_project(SQL)
    m = _compile(tmp_path)
    tested = {t.test.model for t in m.tests.values() if t.test.model}
    singular = {r for t in m.tests.values() if t.test.kind == "singular" for r in t.test.depends_on_models}
    assert tested == MODELS
    assert {"eval_metrics", "eval_calibration", "eval_predictions"} <= singular
    for name in MODELS:
        assert project.docs[name].description.strip(), name
    assert {t for s, t in project.sources if s == "mi"} == {
        "dicom_metadata", "labels", "predictions", "model_versions", "inference_runs", "load_runs"}
    assert m.models["cohort_adult_chest_xr"].config.tags == ("cohort_refresh", "cohorts")
    assert m.models["cohort_adult_chest_xr"].config.partition_by == ("study_year",)
    assert m.models["model_lineage"].config.materialized == "view"


def test_vars_reach_the_sql_quoted(tmp_path):
    m = _compile(tmp_path, vars={"min_age": 21, "start_date": "2020-01-01", "end_date": "2021-12-31",
                                 "views": ["PA"], "max_days": 7, "split_salt": "s'1", "train_ratio": 0.6,
                                 "validation_ratio": 0.2, "study_score": "mean", "label_source": "reader'2"})
    cohort = m.models["cohort_adult_chest_xr"].compiled_sql
    assert "patient_age_years >= 21" in cohort and "IN ('PA')" in cohort
    assert "study_date >= CAST('2020-01-01' AS DATE)" in cohort and "<= CAST('2021-12-31' AS DATE)" in cohort
    assert "<= 7" in m.models["cohort_ct_pet"].compiled_sql
    split = m.models["patient_split"].compiled_sql
    assert "md5(concat('s\\'1', ':', patient_key))" in split
    assert "u < CAST(0.6 AS DOUBLE) THEN 'train'" in split and "u < CAST(0.8 AS DOUBLE) THEN 'validation'" in split
    assert "avg(p.probability)" in m.models["longitudinal_scores"].compiled_sql
    assert "source = 'reader\\'2'" in m.models["eval_predictions"].compiled_sql


@pytest.mark.parametrize("vars", [
    {"min_age": "18 OR 1=1"}, {"min_age": "18; DROP TABLE mi.labels"}, {"min_age": True}, {"min_age": float("nan")},
    {"start_date": "2020-01-01' OR '1'='1"}, {"end_date": "2020-02-30"}, {"end_date": "now()"},
    {"max_days": "30) OR (1=1"}, {"train_ratio": "0.7"}, {"validation_ratio": "0.1"},
    {"default_threshold": "0.5 OR 1=1"}, {"min_studies": "2 --"},
])
def test_hostile_vars_are_refused(tmp_path, vars):
    with pytest.raises(UnsafeVariable):
        _compile(tmp_path, vars=vars)


@pytest.mark.parametrize("vars,match", [
    ({"train_ratio": 0.9, "validation_ratio": 0.2}, "add up to at most 1"),
    ({"train_ratio": -0.1}, "must be in"),
    ({"study_score": "median"}, "study_score"),
])
def test_var_values_are_checked(tmp_path, vars, match):
    with pytest.raises(ModelRenderError, match=match):
        _compile(tmp_path, vars=vars)


def test_hostile_strings_stay_inside_literals(tmp_path):
    evil = "PA') OR ('1'='1"
    m = _compile(tmp_path, vars={"views": [evil, "AP\\'; DROP TABLE x; --"]})
    sql = m.models["cohort_adult_chest_xr"].compiled_sql
    assert "IN ('PA\\') OR (\\'1\\'=\\'1', 'AP\\\\\\'; DROP TABLE x; --')" in sql


# --- dicom_tag(): the keyword -> tag mapping is pydicom's dictionary (context.dicom_tag_hex) ---------
def _tag_project(tmp_path: Path, body: str) -> Path:
    root = tmp_path / "proj"
    shutil.copytree(SQL / "macros", root / "macros")
    (root / "models").mkdir(parents=True)
    (root / "models" / "sources.yml").write_text(
        "version: 2\nsources:\n  - name: mi\n    tables: [{name: dicom_metadata}]\n")
    (root / "models" / "tags.sql").write_text(body)
    return root


def test_dicom_tag_expands_from_pydicoms_dictionary(tmp_path):
    root = _tag_project(tmp_path, "SELECT {{ dicom_tag('SliceThickness') }} AS st, "
                                  "{{ dicom_tag('PixelData', 'hdr') }} AS px, "
                                  "{{ dicom_tag(var('kw', 'PatientAge')) }} AS age "
                                  "FROM {{ source('mi', 'dicom_metadata') }}")
    sql = _compile(tmp_path, root=root).models["tags"].compiled_sql
    assert "get_json_object(`header_json`, '$.00180050.Value[0]') AS st" in sql
    assert "get_json_object(`hdr`, '$.7FE00010.Value[0]') AS px" in sql
    assert "'$.00101010.Value[0]') AS age" in sql
    for bad in ("NotAKeyword", "SliceThickness'); DROP TABLE x; --"):
        with pytest.raises(ModelRenderError, match="not a keyword"):
            _compile(tmp_path, root=root, vars={"kw": bad})


def test_dicom_tag_without_the_global_says_what_is_missing(tmp_path, monkeypatch):
    real = context.make_environment

    def make(files):
        env = real(files)
        env.globals.pop("dicom_tag_hex", None)
        return env

    monkeypatch.setattr(context, "make_environment", make)
    root = _tag_project(tmp_path, "SELECT {{ dicom_tag('SliceThickness') }} AS st FROM {{ source('mi', 'dicom_metadata') }}")
    with pytest.raises(ModelRenderError, match="dicom_tag_hex"):
        _compile(tmp_path, root=root)


@pytest.mark.parametrize("exists", [False, True])
def test_shipped_models_parse_with_hives_own_parser(tmp_path, exists):
    """`compile --check-hive`: every compiled model and test is HiveQL that Hive 2.3's parser accepts."""
    from mi_warehouse.dbt_like.hive_parser import check_manifest

    m = _compile(tmp_path, "hive", exists=exists)
    assert len(m.selected) == len(MODELS) and m.selected_tests
    assert check_manifest(m) == []
