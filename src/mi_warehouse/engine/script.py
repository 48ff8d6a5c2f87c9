"""Running a HiveQL script (`mi-warehouse sql "QUERY"`, `sql -f FILE`): split it before anything
runs, run each statement in order, and name the statement that failed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import QueryFailed, ScriptUnreadable
from .connection import Result, Session
from .splitter import Statement, split_statements


@dataclass(frozen=True)
class StatementResult:
    statement: Statement
    result: Result
    only: bool  # the script holds this one statement

    def worth_showing(self, fmt: str) -> bool:
        """Rows are worth printing; so is an empty result in csv/json, or that of a lone query."""
        return bool(self.result.columns) and bool(self.result.rows or fmt != "table" or self.only)


@dataclass(frozen=True)
class Script:
    source: str  # the file name, or <query>
    statements: tuple[Statement, ...]

    @classmethod
    def parse(cls, text: str, source: str = "<query>") -> "Script":
        """Split `text`; an unterminated string or comment fails here, before any statement runs."""
        return cls(source, tuple(split_statements(text, source)))

    @classmethod
    def read(cls, path: Path) -> "Script":
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ScriptUnreadable(f"cannot read {path}: {e}; give a UTF-8 text file of HiveQL") from None
        return cls.parse(text, str(path))

    def run(self, session: Session) -> Iterator[StatementResult]:
        """Run the statements one by one; a failure names the source, the statement and its line."""
        for st in self.statements:
            try:
                result = session.execute(st.sql)
            except QueryFailed as e:
                raise QueryFailed(f"{self.source}: statement {st.number} (line {st.line}): {e}",
                                  e.engine_message) from None
            yield StatementResult(st, result, len(self.statements) == 1)
