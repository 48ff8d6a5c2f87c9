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
