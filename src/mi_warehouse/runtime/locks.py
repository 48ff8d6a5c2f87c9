"""Command locks, held outside Hive: an exclusive lock on a file beside the warehouse.

`fcntl.flock` is released by the kernel when its holder dies, even by SIGKILL, so a crashed
command never leaves a stale lock. The file records who holds it, for the message a waiter sees.

One path rule for every lock: `<storage root>/_locks/<database>.<name>.lock` when the storage
root is a local directory, else `$MIW_HOME/locks/_locks/...` (then run the commands that share a
lock from one host). Each command passes its own name and the option that sets its timeout, so
a waiter's error names the option it can actually pass.
"""

from __future__ import annotations

import fcntl
import getpass
import json
import os
import socket
import time
from pathlib import Path

from ..errors import MigrationLocked


def lock_dir(settings) -> Path:
    """Where every lock file of this warehouse lives (see the module docstring)."""
    return (settings.local_storage_dir or settings.home / "locks") / "_locks"


def command_lock(settings, name: str, command: str, timeout_option: str | None = "--lock-timeout") -> "FileLock":
    """The lock `name` (e.g. 'load', 'migrations', 'infer.<model>.<version>') of the configured database."""
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name)
    return FileLock(lock_dir(settings) / f"{settings.database}.{safe}.lock", command, timeout_option)


class FileLock:
    def __init__(self, path: Path, what: str = "apply", timeout_option: str | None = "--lock-timeout"):
        self.path = path
        self.what = what
        self.timeout_option = timeout_option
        self._fd: int | None = None

    def acquire(self, timeout: float = 0.0, on_wait=None) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + timeout
        announced = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = self.holder()
                    os.close(fd)
                    advice = "try again when it has finished"
                    if self.timeout_option:
                        advice += f", or pass a longer {self.timeout_option}"
                    raise MigrationLocked(
                        f"another `mi-warehouse {self.what}` holds the lock {self.path} ({holder}); "
                        f"waited {timeout:.0f}s: {advice}"
                    ) from None
                if on_wait and not announced:
                    on_wait(self.holder())
                    announced = True
                time.sleep(0.5)
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({
            "host": socket.gethostname(), "pid": os.getpid(), "user": getpass.getuser(),
            "since": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }).encode())
        os.fsync(fd)
        self._fd = fd

    def holder(self) -> str:
        try:
            h = json.loads(self.path.read_text() or "{}")
            return f"pid {h['pid']} on {h['host']}, user {h['user']}, since {h['since']}"
        except (OSError, ValueError, KeyError):
            return "holder unknown"

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "FileLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()
