"""Progress for long work: a live bar on a terminal, a line every few seconds otherwise."""

from __future__ import annotations

import sys
import time


class LoadProgress:
    """Shows files/s and errors so far for `mi-warehouse load`."""

    def __init__(self, stream=None, every: float = 5.0):
        self.stream = stream or sys.stderr
        self.every = every
        self._live = None
        self._last = 0.0

    def __enter__(self) -> "LoadProgress":
        if self.stream.isatty():
            from rich.console import Console
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._live = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                                  console=Console(file=self.stream), transient=False)
            self._live.__enter__()
            self._task = self._live.add_task("loading", total=None)
        return self

    def __exit__(self, *exc) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)

    def update(self, s) -> None:
        text = (f"{s.files_seen} files, {s.loaded} loaded, {s.skipped} skipped, "
                f"{s.errors + s.duplicates} errors, {s.rate:.0f} files/s")
        if self._live is not None:
            self._live.update(self._task, description=text)
        elif time.monotonic() - self._last >= self.every:
            self._last = time.monotonic()
            print(text, file=self.stream, flush=True)

    def log(self, msg: str) -> None:
        if self._live is not None:
            self._live.console.print(msg)
        else:
            print(msg, file=self.stream, flush=True)


class Spinner:
    """Elapsed time for one long statement (the engine reports no progress for TRANSFORM)."""

    def __init__(self, what: str, stream=None):
        self.what = what
        self.stream = stream or sys.stderr
        self._status = None

    def __enter__(self) -> "Spinner":
        if self.stream.isatty():
            from rich.console import Console

            self._console = Console(file=self.stream)
            self._status = self._console.status(self.what + " ...")
            self._status.__enter__()
        else:
            print(self.what + " ...", file=self.stream, flush=True)
        return self

    def __exit__(self, *exc) -> None:
        if self._status is not None:
            self._status.__exit__(*exc)

    def log(self, msg: str) -> None:
        if self._status is not None:
            self._console.print(msg)
        else:
            print(msg, file=self.stream, flush=True)
