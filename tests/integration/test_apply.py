"""`mi-warehouse apply` through the real engine."""

import subprocess
import sys

import pytest

from mi_warehouse.engine.connection import connect
from mi_warehouse.errors import ChecksumDrift, MigrationFailed
from mi_warehouse.migrations.runner import Migrator

from ..conftest import REPO

CORE_TABLES = {"dicom_metadata", "load_runs", "load_errors", "model_versions", "inference_runs", "run_results",
               "predictions", "labels", "schema_migrations"}


def tables(session, db):
    return {r[1] for r in session.execute(f"SHOW TABLES IN {db}").rows}


def history(session, db):
    return session.execute(
        f"SELECT script, status, statement_reached FROM {db}.schema_migrations ORDER BY event_seq").rows


def test_fresh_apply_then_reapply_is_a_no_op(session, cli, env_for):
    db = session.settings.database
    m = Migrator(session, session.settings)
    done = m.apply()
    shipped = sorted(p.name for p in (REPO / "sql" / "migrations").glob("V*.sql"))
    assert [i.script.name for i in done] == shipped
    assert shipped[:4] == ["V0001__create_core_tables.sql", "V0002__restrict_phi_database.sql",
                           "V0003__run_results.sql", "V0004__deid_key_fingerprint_and_file_refs.sql"]
    assert tables(session, db) == CORE_TABLES
    assert "patient_map" in tables(session, session.settings.phi_database)
    ddl = session.execute(f"SHOW CREATE TABLE {db}.dicom_metadata").scalar()
    assert "PARTITIONED BY (study_year, study_month, modality)" in ddl
    assert "CLUSTERED BY (patient_key)" in ddl and "SORTED BY (patient_key, study_uid)" in ddl
    assert "'bucketing_version' = '1'" in ddl
    rows = history(session, db)
    assert [r[1] for r in rows] == ["started", "succeeded"] * len(shipped)
    assert Migrator(session, session.settings).apply() == []
    assert history(session, db) == rows
    assert {i.state for i in Migrator(session, session.settings).plan()} == {"applied"}


def test_cli_apply_status_and_dry_run_touch_nothing(session, cli, env_for):
    env_db = session.settings.database
    full = env_for(MIW_DATABASE=env_db, MIW_PHI_DATABASE=session.settings.phi_database)
    r = cli(["apply", "--dry-run"], full)
    assert r.returncode == 0, r.stderr
    assert "-- V0001__create_core_tables.sql (11 statements)" in r.stdout
    assert f"CREATE EXTERNAL TABLE IF NOT EXISTS {env_db}.dicom_metadata" in r.stdout
    assert not session.database_exists(env_db)  # dry run created nothing
    r = cli(["apply", "--status"], full)
    assert r.returncode == 0 and "pending" in r.stdout
    assert not session.database_exists(env_db)
    shipped = len(list((REPO / "sql" / "migrations").glob("*.sql")))
    r = cli(["apply"], full)
    assert r.returncode == 0, r.stderr
    assert f"applied {shipped} script(s)" in r.stdout
    r = cli(["apply"], full)
    assert "nothing to apply: up to date" in r.stdout
    r = cli(["apply", "--status"], full)
    assert r.stdout.count("| applied |") == shipped


def write(d, name, text):
    d.mkdir(exist_ok=True)
    (d / name).write_text(text)


def test_drift_is_refused_then_repaired(session, tmp_path):
    d = tmp_path / "mig"
    db = session.settings.database
    write(d, "V1__base.sql", f"CREATE TABLE IF NOT EXISTS {{{{ db }}}}.a (x INT) STORED AS PARQUET;")
    Migrator(session, session.settings, d).apply()
    write(d, "V1__base.sql", f"CREATE TABLE IF NOT EXISTS {{{{ db }}}}.a (x INT, y INT) STORED AS PARQUET;")
    write(d, "V2__next.sql", "CREATE TABLE IF NOT EXISTS {{ db }}.b (x INT) STORED AS PARQUET;")
    m = Migrator(session, session.settings, d)
    assert [i.state for i in m.plan()] == ["drifted", "pending"]
    with pytest.raises(ChecksumDrift, match=r"V1__base\.sql \(applied [0-9a-f]{12}, file now [0-9a-f]{12}\)"):
        m.apply()
    assert "b" not in tables(session, db)  # nothing ran after the refusal
    m.apply(repair=True)
    assert [i.state for i in Migrator(session, session.settings, d).plan()] == ["applied", "applied"]
    assert [r[1] for r in history(session, db)][-3:] == ["repaired", "started", "succeeded"]


def test_failing_statement_is_recorded_and_a_fixed_rerun_resumes(session, tmp_path):
    d = tmp_path / "mig"
    db = session.settings.database
    write(d, "V1__base.sql", "CREATE TABLE IF NOT EXISTS {{ db }}.log (x INT) STORED AS PARQUET;")
    write(d, "V2__three.sql", "INSERT INTO {{ db }}.log VALUES (1);\n\n"
                              "INSERT INTO {{ db }}.missing_table VALUES (2);\n"
                              "INSERT INTO {{ db }}.log VALUES (3);\n")
    with pytest.raises(MigrationFailed) as e:
        Migrator(session, session.settings, d).apply()
    msg = str(e.value)
    assert msg.startswith("V2__three.sql: statement 2 of 3 (line 3) failed: [TABLE_OR_VIEW_NOT_FOUND]")
    assert "\n" not in msg
    last = history(session, db)[-1]
    assert last == ("V2__three.sql", "failed", 2)
    err = session.execute(f"SELECT error FROM {db}.schema_migrations WHERE status = 'failed'").scalar()
    assert "missing_table" in err
    plan = Migrator(session, session.settings, d).plan()
    assert plan[1].state == "failed" and plan[1].resume_at == 2
    # fix the failing statement: the run resumes at statement 2, so row 1 is not inserted twice
    write(d, "V2__three.sql", "INSERT INTO {{ db }}.log VALUES (1);\n\n"
                              "INSERT INTO {{ db }}.log VALUES (2);\n"
                              "INSERT INTO {{ db }}.log VALUES (3);\n")
    Migrator(session, session.settings, d).apply()
    assert sorted(r[0] for r in session.execute(f"SELECT x FROM {db}.log").rows) == [1, 2, 3]
    assert history(session, db)[-1] == ("V2__three.sql", "succeeded", 3)


def test_repeatable_reapplied_only_when_changed(session, tmp_path):
    d = tmp_path / "mig"
    db = session.settings.database
    write(d, "V1__base.sql", "CREATE TABLE IF NOT EXISTS {{ db }}.t (x INT) STORED AS PARQUET;")
    write(d, "R__view.sql", "CREATE OR REPLACE VIEW {{ db }}.v AS SELECT x FROM {{ db }}.t;")
    assert len(Migrator(session, session.settings, d).apply()) == 2
    assert Migrator(session, session.settings, d).apply() == []
    write(d, "R__view.sql", "CREATE OR REPLACE VIEW {{ db }}.v AS SELECT x, x * 2 AS y FROM {{ db }}.t;")
    m = Migrator(session, session.settings, d)
    assert [i.state for i in m.plan()] == ["applied", "changed"]
    assert [i.script.name for i in m.apply()] == ["R__view.sql"]
    assert session.execute(f"SELECT * FROM {db}.v").columns == ["x", "y"]


def test_two_applies_at_once_never_interleave(session, env_for, tmp_path):
    d = tmp_path / "mig"
    write(d, "V1__a.sql", "CREATE TABLE IF NOT EXISTS {{ db }}.a (x INT) STORED AS PARQUET;\n"
                          "INSERT INTO {{ db }}.a VALUES (1);\nINSERT INTO {{ db }}.a VALUES (2);")
    write(d, "V2__b.sql", "INSERT INTO {{ db }}.a VALUES (3);")
    env = env_for(MIW_DATABASE=session.settings.database, MIW_PHI_DATABASE=session.settings.phi_database)
    cmd = [sys.executable, "-m", "mi_warehouse", "apply", "--dir", str(d), "--lock-timeout", "120"]
    procs = [subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    stdout = sorted(o[0].strip() for o in outs)
    assert stdout == ["applied 2 script(s)", "nothing to apply: up to date"]
    assert any("waiting for the migration lock" in o[1] for o in outs)
    db = session.settings.database
    assert sorted(r[0] for r in session.execute(f"SELECT x FROM {db}.a").rows) == [1, 2, 3]
    statuses = [r[1] for r in history(session, db)]
    assert statuses == ["started", "succeeded", "started", "succeeded"]


def test_lock_refusal_is_clear(session, tmp_path):
    from mi_warehouse.errors import MigrationLocked

    m = Migrator(session, session.settings, REPO / "sql" / "migrations")
    holder = m.lock()
    holder.acquire()
    try:
        with pytest.raises(MigrationLocked, match=r"another `mi-warehouse apply` holds the lock .*\(pid \d+ on"):
            m.apply(lock_timeout=0)
    finally:
        holder.release()
