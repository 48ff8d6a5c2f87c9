"""`mi-warehouse beeline` (the real Beeline) and `mi-warehouse sql`."""

import json


def test_beeline_sees_the_tables_that_apply_created(cli, env_for):
    env = env_for()
    db = env["MIW_DATABASE"]
    r = cli(["apply"], env)
    assert r.returncode == 0, r.stderr
    r = cli(["beeline", "--silent=true", "--outputformat=csv2", "-e", f"SHOW TABLES IN {db}"], env)
    assert r.returncode == 0, r.stderr
    listed = {line.split(",")[1] for line in r.stdout.splitlines() if line.startswith(f"{db},")}
    assert {"dicom_metadata", "load_errors", "predictions", "schema_migrations"} <= listed


def test_sql_formats_and_script_files(cli, env_for, tmp_path):
    env = env_for()
    db = env["MIW_DATABASE"]
    script = tmp_path / "q.sql"
    script.write_text(f"""
CREATE DATABASE IF NOT EXISTS {db};
-- semicolons in strings stay put
CREATE TABLE {db}.s (a INT, b STRING) STORED AS PARQUET;
INSERT INTO {db}.s VALUES (1, 'x;y'), (2, NULL);
SELECT a, b FROM {db}.s ORDER BY a;
""")
    r = cli(["sql", "-f", str(script), "--format", "csv"], env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.endswith("a,b\n1,x;y\n2,\n")
    r = cli(["sql", f"SELECT a, b FROM {db}.s ORDER BY a", "--format", "json"], env)
    assert [json.loads(x) for x in r.stdout.splitlines()] == [{"a": 1, "b": "x;y"}, {"a": 2, "b": None}]
    r = cli(["sql", f"SELECT count(*) AS n FROM {db}.s"], env)
    assert "| n |" in r.stdout and "| 2 |" in r.stdout


def test_sql_error_names_file_statement_and_line(cli, env_for, tmp_path):
    env = env_for()
    script = tmp_path / "bad.sql"
    script.write_text("SELECT 1;\n\nSELECT * FROM no_db_zz.nope;\n")
    r = cli(["sql", "-f", str(script)], env)
    assert r.returncode == 1
    line = r.stderr.strip()
    assert line.startswith(f"Error: {script}: statement 2 (line 3): [TABLE_OR_VIEW_NOT_FOUND]")
    assert len(line.splitlines()) == 1


def test_config_prints_effective_settings_without_secrets(cli, env_for):
    env = env_for(MIW_HIVE_PASSWORD="hunter2-secret")
    r = cli(["config", "--json"], env)
    d = json.loads(r.stdout)
    assert d["hive_url"] == env["MIW_HIVE_URL"] and d["database"] == env["MIW_DATABASE"]
    assert d["password"] == "(set)" and "hunter2-secret" not in r.stdout
