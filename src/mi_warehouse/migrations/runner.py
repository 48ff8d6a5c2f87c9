"""Plan and apply migrations: pending, applied, failed and drifted scripts, and the apply loop.

`plan()` only reads; `preview()` (`apply --dry-run`) renders every script for the configured engine
without a server. `apply()` holds the file lock, appends a history row per attempt, resumes a
failed script after the last statement that succeeded when the statements before it are
unchanged, and stops at the first failing statement with its file, number and line.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..config import Settings
from ..engine.connection import Result, Session
from ..engine.target import Target
from ..errors import ChecksumDrift, MigrationFailed, QueryFailed
from .history import Entry, History
from ..runtime.locks import FileLock, command_lock
from .scripts import Script, listing, load

APPLIED, PENDING, FAILED, DRIFTED, CHANGED = "applied", "pending", "failed", "drifted", "changed"


def preview(settings: Settings, target: Target, directory: Path | None = None) -> str:
    """`apply --dry-run`: every script rendered for `target`, statement by statement. It opens no
    connection, so it cannot tell what is applied already (`apply --status` does)."""
    scripts = load(directory or settings.sql_dir / "migrations", settings, target)
    engine = f"{target.engine} {target.version}".rstrip()
    out = [f"-- {len(scripts)} script(s) rendered for {engine}; `mi-warehouse apply --status` shows which are pending"]
    for s in scripts:
        out.append(f"-- {s.name} ({len(s.statements)} statements)")
        out += listing(s)
    return "\n".join(out)


@dataclass
class PlanItem:
    script: Script
    state: str  # applied | pending | failed | drifted | changed (repeatable to re-apply)
    last: Entry | None
    resume_at: int = 1  # first statement to run

    @property
    def to_run(self) -> bool:
        return self.state in (PENDING, FAILED, CHANGED)


class Migrator:
    def __init__(self, session: Session, settings: Settings, directory: Path | None = None,
                 log: Callable[[str], None] = lambda msg: None):
        self.session = session
        self.settings = settings
        self.directory = directory or settings.sql_dir / "migrations"
        self.history = History(session, settings)
        self.log = log
        self.scripts = load(self.directory, settings, Target.from_settings(settings, session.info.name,
                                                                            session.info.version))

    # --- read-only ------------------------------------------------------------
    def plan(self) -> list[PlanItem]:
        latest = History.latest(self.history.entries())
        items = []
        for s in self.scripts:
            last = latest.get(s.name)
            items.append(self._state(s, last))
        return items

    def _state(self, s: Script, last: Entry | None) -> PlanItem:
        if last is None:
            return PlanItem(s, PENDING, None)
        ok = last.status in ("succeeded", "repaired")
        if s.kind == "repeatable":
            same = ok and last.rendered_checksum == s.rendered_checksum
            return PlanItem(s, APPLIED if same else (FAILED if not ok else CHANGED), last)
        if ok:
            drift = last.template_checksum != s.template_checksum
            return PlanItem(s, DRIFTED if drift else APPLIED, last)
        # failed, or started with no end row (the process died): resume where it stopped
        resume = 1
        reached = last.statement_reached or 0
        if reached > 1 and last.done_checksum and s.prefix_checksum(reached - 1) == last.done_checksum:
            resume = reached
        return PlanItem(s, FAILED, last, resume_at=resume)

    def status_table(self) -> Result:
        rows = []
        for item in self.plan():
            last = item.last
            note = ""
            if item.state == FAILED and last:
                note = f"{last.status} at statement {last.statement_reached}: {last.error or ''}".rstrip(": ")
            elif item.state == DRIFTED:
                note = "edited after it was applied"
            elif item.state == CHANGED:
                note = "changed since last applied: will re-apply"
            rows.append((item.script.name, item.state, str(last.applied_at) if last else "", note))
        return Result(["script", "state", "last_at", "note"], rows)

    # --- writing ----------------------------------------------------------------
    def lock(self) -> FileLock:
        return command_lock(self.settings, "migrations", "apply")

    def apply(self, repair: bool = False, lock_timeout: float = 30.0) -> list[PlanItem]:
        """Apply what is pending; return the items that ran (or were repaired)."""
        with self.lock() as lock:
            lock.acquire(lock_timeout, on_wait=lambda h: self.log(f"waiting for the migration lock ({h})"))
            self.history.ensure()
            plan = self.plan()
            drifted = [i for i in plan if i.state == DRIFTED]
            if drifted and not repair:
                names = ", ".join(
                    f"{i.script.name} (applied {i.last.template_checksum[:12]}, file now "
                    f"{i.script.template_checksum[:12]})" for i in drifted)
                raise ChecksumDrift(
                    f"applied migration edited: {names}; restore the file, put the change in a new "
                    "migration, or run `mi-warehouse apply --repair` to accept the new checksum"
                )
            done: list[PlanItem] = []
            for item in drifted:
                self._record(item.script, "repaired", str(uuid.uuid4()), item.last.statement_reached, 0,
                             error=f"checksum repaired; was {item.last.template_checksum}")
                self.log(f"repaired {item.script.name}: recorded the new checksum")
                done.append(item)
            for item in plan:
                if item.to_run:
                    self._run(item)
                    done.append(item)
            return done

    def _run(self, item: PlanItem) -> None:
        s = item.script
        attempt = str(uuid.uuid4())
        total = len(s.statements)
        resume = item.resume_at
        note = f", resuming at statement {resume}" if resume > 1 else ""
        self.log(f"applying {s.name} ({total} statements{note})")
        self._record(s, "started", attempt, resume, 0)
        t0 = time.monotonic()
        for st in s.statements[resume - 1:]:
            try:
                self.session.execute(st.sql)
            except QueryFailed as e:
                ms = int((time.monotonic() - t0) * 1000)
                self._record(s, "failed", attempt, st.number, ms, error=e.engine_message or str(e))
                raise MigrationFailed(
                    f"{s.name}: statement {st.number} of {total} (line {st.line}) failed: "
                    f"{e.engine_message or e}; fix it and run `mi-warehouse apply` again"
                ) from None
        ms = int((time.monotonic() - t0) * 1000)
        self._record(s, "succeeded", attempt, total, ms)
        self.log(f"applied {s.name} in {ms / 1000:.1f}s")

    def _record(self, s: Script, status: str, attempt: str, reached: int, ms: int,
                error: str | None = None) -> None:
        # statements completed: all of them on success; those before the one reached otherwise
        done = reached if status in ("succeeded", "repaired") else max(reached - 1, 0)
        self.history.append(
            attempt_id=attempt, version=s.version or None, description=s.description, script=s.name,
            kind=s.kind, template_checksum=s.template_checksum, rendered_checksum=s.rendered_checksum,
            status=status, statements_total=len(s.statements), statement_reached=reached,
            done_checksum=s.prefix_checksum(done), error=error, execution_ms=ms,
            engine=self.session.info.label,
        )
