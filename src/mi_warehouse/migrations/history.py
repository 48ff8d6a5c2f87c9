"""The append-only migration history, `<db>.schema_migrations`.

Hive tables without ACID cannot UPDATE, so every attempt appends rows: `started`, then
`succeeded` or `failed` (with the statement reached and the engine's error); `--repair` appends
`repaired`. The state of a script is its latest row by `event_seq`.
"""

from __future__ import annotations

import datetime as dt
import getpass
import socket
import time
from dataclasses import dataclass

from ..config import Settings
from ..engine import literals as lit
from ..engine.connection import Session
from ..runtime import rows, tables

SPEC = tables.SCHEMA_MIGRATIONS


@dataclass(frozen=True)
class Entry:
    event_seq: int
    attempt_id: str
    version: str
    description: str
    script: str
    kind: str
    template_checksum: str
    rendered_checksum: str
    status: str
    statements_total: int
    statement_reached: int
    done_checksum: str
    error: str
    applied_by: str
    applied_at: object
    execution_ms: int
    engine: str


def applied_by() -> str:
    return f"{getpass.getuser()}@{socket.gethostname()}"


class History:
    def __init__(self, session: Session, settings: Settings):
        self.session = session
        self.db = settings.database
        self.table = f"{lit.identifier(self.db)}.`schema_migrations`"
        self.location = f"{settings.storage_path}/{self.db}/schema_migrations"
        self.database_location = f"{settings.storage_path}/{self.db}"

    def ddl(self) -> list[str]:
        cols = ",\n  ".join(f"`{n}` {t}" for n, t in SPEC.ddl_columns())
        return [
            f"CREATE DATABASE IF NOT EXISTS {lit.identifier(self.db)} "
            f"LOCATION {lit.string(self.database_location)}",
            f"CREATE EXTERNAL TABLE IF NOT EXISTS {self.table} (\n  {cols}\n)\n"
            f"STORED AS PARQUET\nLOCATION {lit.string(self.location)}",
        ]

    def exists(self) -> bool:
        return self.session.table_exists(self.db, "schema_migrations")

    def ensure(self) -> None:
        for stmt in self.ddl():
            self.session.execute(stmt)

    def entries(self) -> list[Entry]:
        """All rows, oldest first; empty when the table does not exist yet (read-only)."""
        if not self.exists():
            return []
        entries = [Entry(**r) for r in rows.select(self.session, SPEC, f"{self.db}.schema_migrations")]
        return sorted(entries, key=lambda e: e.event_seq)

    @staticmethod
    def latest(entries: list[Entry]) -> dict[str, Entry]:
        """The latest row of each script, by file name."""
        out: dict[str, Entry] = {}
        for e in entries:
            out[e.script] = e
        return out

    def append(self, **values) -> None:
        values.setdefault("event_seq", time.time_ns() // 1000)
        values.setdefault("applied_by", applied_by())
        values.setdefault("applied_at", dt.datetime.now())
        self.session.execute(rows.insert_sql(f"{self.db}.schema_migrations", SPEC, [values]))
