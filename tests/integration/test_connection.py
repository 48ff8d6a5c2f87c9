"""The connection layer against the real embedded engine."""

import pytest

from mi_warehouse.config import load_settings
from mi_warehouse.engine.connection import connect, sqlalchemy_engine
from mi_warehouse.errors import QueryFailed, ServerUnavailable
from mi_warehouse.engine.server import free_port

from ..conftest import REPO


def test_engine_is_detected_as_spark(session):
    assert session.info.name == "spark"
    assert session.info.major >= 3
    assert "Spark" in session.info.dbms_name


def test_ddl_empty_results_and_logs_do_not_break(session):
    db = session.settings.database
    assert session.execute(f"CREATE DATABASE IF NOT EXISTS {db}").rows == []
    session.execute(f"CREATE TABLE IF NOT EXISTS {db}.e (a INT, b STRING) STORED AS PARQUET")
    empty = session.execute(f"SELECT a, b FROM {db}.e WHERE a > 5")
    assert empty.columns == ["a", "b"] and empty.rows == []
    result, logs = session.execute_with_logs(f"SELECT count(*) FROM {db}.e")
    assert result.scalar() == 0 and isinstance(logs, list)
    session.execute(f"INSERT INTO {db}.e VALUES (1, 'x;y'), (2, NULL)")
    assert session.execute(f"SELECT a, b FROM {db}.e ORDER BY a").rows == [(1, "x;y"), (2, None)]
    assert session.table_exists(db, "e") and not session.table_exists(db, "nope")
    assert not session.table_exists("no_such_db_here", "e")


def test_engine_error_is_one_line_with_the_engines_words(session):
    with pytest.raises(QueryFailed) as e:
        session.execute("SELECT * FROM no_such_db_x.no_such_table")
    msg = str(e.value)
    assert "TABLE_OR_VIEW_NOT_FOUND" in msg and "\n" not in msg
    assert "org.apache" not in msg


def test_sqlalchemy_engine_uses_the_same_settings(session):
    import sqlalchemy as sa

    eng = sqlalchemy_engine(session.settings)
    with eng.connect() as c:
        assert c.execute(sa.text("SELECT 40 + 2 AS answer")).scalar() == 42


def test_unreachable_server_is_one_clear_line():
    s = load_settings(REPO, env={"MIW_HIVE_URL": f"hive://127.0.0.1:{free_port()}/default"})
    with pytest.raises(ServerUnavailable, match="no HiveServer2 answers at 127.0.0.1:.*mi-warehouse server start"):
        connect(s)


# --- the SQLAlchemy dialect (hive+mi://): real names for inspectors, pandas, Superset ------------
@pytest.fixture()
def warehouse(session):
    """The migrated warehouse in fresh databases, plus a partitioned table with rows and a view."""
    from mi_warehouse.migrations.runner import Migrator

    Migrator(session, session.settings).apply()
    db = session.settings.database
    session.execute(f"CREATE TABLE {db}.scores (uid STRING, score DOUBLE, seen TIMESTAMP) "
                    "PARTITIONED BY (site STRING) STORED AS PARQUET")
    session.execute(f"INSERT INTO {db}.scores PARTITION (site='a') VALUES ('u1', 0.25, TIMESTAMP'2024-01-02 03:04:05')")
    session.execute(f"INSERT INTO {db}.scores PARTITION (site='b') VALUES ('u2', 0.75, NULL)")
    session.execute(f"CREATE VIEW {db}.scores_view AS SELECT uid, score FROM {db}.scores")
    return session


def test_the_inspector_lists_real_table_view_and_column_names(warehouse):
    import sqlalchemy as sa

    from mi_warehouse.engine.sqlalchemy_dialect import MiHiveDialect

    db = warehouse.settings.database
    eng = sqlalchemy_engine(warehouse.settings)
    assert isinstance(eng.dialect, MiHiveDialect)
    insp = sa.inspect(eng)
    tables = insp.get_table_names(schema=db)
    assert {"dicom_metadata", "load_runs", "labels", "predictions", "schema_migrations", "scores"} <= set(tables)
    assert db not in tables and "scores_view" not in tables
    assert insp.get_view_names(schema=db) == ["scores_view"]
    assert db in insp.get_schema_names()
    cols = insp.get_columns("scores", schema=db)
    assert [c["name"] for c in cols] == ["uid", "score", "seen", "site"]  # the partition column once
    assert [type(c["type"]).__name__ for c in cols] == ["String", "Float", "HiveTimestamp", "String"]
    meta = [c["name"] for c in insp.get_columns("dicom_metadata", schema=db)]
    assert meta[-3:] == ["study_year", "study_month", "modality"] and len(meta) == len(set(meta))
    assert not any(n.startswith("#") for n in meta)
    assert insp.get_indexes("scores", schema=db) == [{"name": "partition", "column_names": ["site"], "unique": False}]
    assert insp.has_table("scores", schema=db) and not insp.has_table("nope", schema=db)
    with pytest.raises(sa.exc.NoSuchTableError):
        insp.get_columns("nope", schema=db)


def test_pandas_reads_a_table_and_a_query(warehouse):
    import pandas as pd

    db = warehouse.settings.database
    eng = sqlalchemy_engine(warehouse.settings)
    frame = pd.read_sql_table("scores", eng, schema=db).sort_values("uid").reset_index(drop=True)
    assert list(frame.columns) == ["uid", "score", "seen", "site"]
    assert frame["uid"].tolist() == ["u1", "u2"] and frame["site"].tolist() == ["a", "b"]
    assert frame["score"].tolist() == [0.25, 0.75]
    assert str(frame["seen"][0]) == "2024-01-02 03:04:05"
    runs = pd.read_sql_table("load_runs", eng, schema=db)
    assert "run_id" in runs.columns and runs.empty
    q = pd.read_sql(f"SELECT site, count(*) AS n FROM {db}.scores GROUP BY site ORDER BY site", eng)
    assert q.to_dict("records") == [{"site": "a", "n": 1}, {"site": "b", "n": 1}]


def test_hive_mi_urls_reach_the_dialect_by_entry_point_alone():
    """Tools that only see a URL (Superset, pandas) find the dialect through the package's entry point."""
    from importlib.metadata import entry_points

    (ep,) = entry_points(group="sqlalchemy.dialects", name="hive.mi")
    from mi_warehouse.engine.sqlalchemy_dialect import MiHiveDialect

    assert ep.load() is MiHiveDialect


def test_a_configured_engine_that_is_not_the_server_is_refused(settings_for):
    from mi_warehouse.engine.connection import EngineMismatch

    with pytest.raises(EngineMismatch, match=r"\[hive\] engine is 'hive' but the server .* is Spark SQL"):
        connect(settings_for(MIW_ENGINE="hive"))
    with connect(settings_for(MIW_ENGINE="spark")) as s:
        assert s.info.dialect.name == "spark"
