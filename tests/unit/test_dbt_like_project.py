"""Loading a model project: files, names, schema.yml and sources."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from mi_warehouse.dbt_like.errors import ModelProjectError
from mi_warehouse.dbt_like.project import load_project
from mi_warehouse.errors import MiWarehouseError

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "dbt_like" / "imaging"


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))
    return root


def test_fixture_project_loads(tmp_path):
    root = shutil.copytree(FIXTURE, tmp_path / "p")
    p = load_project(root)
    assert sorted(p.models) == ["instance_labels", "stg_instances", "studies"]
    assert p.models["studies"].origin == "models/marts/studies.sql"
    assert [m.origin for m in p.macros] == ["macros/filters.sql"]
    assert list(p.tests) == ["assert_no_future_studies"]
    assert p.docs["studies"].config == {"tags": ["daily", "marts"]}
    cols = {c.name: c for c in p.docs["studies"].columns}
    assert [t.kind for t in cols["study_uid"].tests] == ["not_null", "unique"]
    rel = [t for c in p.docs["instance_labels"].columns for t in c.tests if t.kind == "relationships"][0]
    assert rel.to == ("ref", "stg_instances") and rel.field == "sop_instance_uid"
    assert p.sources[("mi", "dicom_metadata")].database == "target.database"
    assert p.sources[("mi_phi", "patient_map")].database == "target.phi_database"


def test_default_directory_is_settings_sql_dir(tmp_path):
    from mi_warehouse.config import load_settings

    write(tmp_path / "sql", {"models/a.sql": "SELECT 1 AS x"})
    settings = load_settings(tmp_path, env={"MIW_HOME": str(tmp_path / ".miw")})
    assert list(load_project(settings=settings).models) == ["a"]


def test_duplicate_model_names_name_both_files(tmp_path):
    write(tmp_path, {"models/a/x.sql": "SELECT 1", "models/b/x.sql": "SELECT 2"})
    with pytest.raises(ModelProjectError) as e:
        load_project(tmp_path)
    assert "models/a/x.sql" in str(e.value) and "models/b/x.sql" in str(e.value)
    assert isinstance(e.value, MiWarehouseError)


def test_bad_model_file_name(tmp_path):
    write(tmp_path, {"models/my-model.sql": "SELECT 1"})
    with pytest.raises(ModelProjectError, match="models/my-model.sql"):
        load_project(tmp_path)


def test_missing_directory(tmp_path):
    with pytest.raises(ModelProjectError, match="no model project"):
        load_project(tmp_path / "nope")


@pytest.mark.parametrize("yml, message", [
    ("models: [{name: ghost}]", "describes model ghost"),
    ("models: [{name: a, colour: red}]", "unknown key 'colour'"),
    ("models: [{name: a, columns: [{name: x, tests: [positive]}]}]", "unknown test 'positive'"),
    ("models: [{name: a, columns: [{name: x, tests: [{accepted_values: {values: []}}]}]}]", "non-empty values"),
    ("models: [{name: a, columns: [{name: x, tests: [{relationships: {to: b, field: y}}]}]}]", "relationships to"),
    ("models: [{name: a, columns: [{name: 'x; y'}]}]", "letters, digits"),
    ("sources: [{name: other, tables: [t]}]", "needs schema"),
    ("models: [\n  {name: a\n", "invalid YAML"),
])
def test_schema_yml_errors_name_the_file(tmp_path, yml, message):
    write(tmp_path, {"models/a.sql": "SELECT 1 AS x", "models/schema.yml": yml})
    with pytest.raises(ModelProjectError) as e:
        load_project(tmp_path)
    assert str(e.value).startswith("models/schema.yml")
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_model_described_twice_names_both_files(tmp_path):
    write(tmp_path, {"models/a.sql": "SELECT 1", "models/one.yml": "models: [{name: a}]",
                     "models/two.yml": "models: [{name: a}]"})
    with pytest.raises(ModelProjectError) as e:
        load_project(tmp_path)
    assert "models/one.yml" in str(e.value) and "models/two.yml" in str(e.value)


def test_source_schema_forms(tmp_path):
    write(tmp_path, {"models/sources.yml": """
        sources:
          - name: raw
            schema: "{{ target.phi_database }}"
            tables: [{name: t1}]
          - name: ext
            schema: external_db
            tables: [t2]
        """})
    p = load_project(tmp_path)
    assert p.sources[("raw", "t1")].database_for({"phi_database": "phi"}) == "phi"
    assert p.sources[("ext", "t2")].database_for({}) == "external_db"
