import pytest

from mi_warehouse.config import load_settings
from mi_warehouse.errors import MigrationFileError
from mi_warehouse.engine.target import Target
from mi_warehouse.migrations.scripts import discover, render, template_context

from ..conftest import REPO


def make(tmp_path, files: dict[str, str]):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return discover(tmp_path)


def test_order_is_numeric_then_repeatables(tmp_path):
    scripts = make(tmp_path, {"V10__ten.sql": "", "V2__two.sql": "", "V2_1__two_one.sql": "",
                              "R__views.sql": ""})
    assert [s.name for s in scripts] == ["V2__two.sql", "V2_1__two_one.sql", "V10__ten.sql", "R__views.sql"]
    assert scripts[1].version == "2.1" and scripts[1].description == "two one"


@pytest.mark.parametrize("files, message", [
    ({"V1_create.sql": ""}, "V1_create.sql: migration names are"),
    ({"V1__a.sql": "", "V001__b.sql": ""}, "same version as"),
])
def test_bad_names(tmp_path, files, message):
    with pytest.raises(MigrationFileError, match=message):
        make(tmp_path, files)


def test_render_names_file_and_line_of_undefined_variable(tmp_path):
    scripts = make(tmp_path, {"V1__a.sql": "SELECT 1;\nSELECT {{ nope }};"})
    with pytest.raises(MigrationFileError, match=r"V1__a\.sql.*cannot render: 'nope' is undefined"):
        render(scripts, {})


def test_hive_only_statements_vanish_on_spark():
    s = load_settings(REPO, env={})
    scripts = discover(REPO / "sql" / "migrations")
    render(scripts, template_context(s, Target.from_settings(s, "spark", "4.3.0")))
    phi = next(x for x in scripts if "phi" in x.name)
    assert phi.statements == []
    render(scripts, template_context(s, Target.from_settings(s, "hive", "4.0.1")))
    assert any("GRANT SELECT" in st.sql for st in phi.statements)
    core = scripts[0]
    ddl = next(st.sql for st in core.statements if "dicom_metadata" in st.sql)
    assert "CLUSTERED BY (`patient_key`)" in ddl and "INTO 8 BUCKETS" in ddl
    assert "'bucketing_version' = '1'" in ddl


def test_prefix_checksum_depends_only_on_prefix(tmp_path):
    (a,) = make(tmp_path, {"V1__a.sql": "SELECT 1; SELECT 2; SELECT 3;"})
    render([a], {})
    before = a.prefix_checksum(2)
    a.template = "SELECT 1; SELECT 2; SELECT 33;"
    render([a], {})
    assert a.prefix_checksum(2) == before and a.prefix_checksum(3) != before
