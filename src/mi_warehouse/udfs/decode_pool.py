"""Decode + preprocess whole batches of images off the main thread: in a thread pool, or in a
pool of worker processes.

The unit of work is one batch: a list of ``(uri, frame, problem)`` items (``problem`` set when
the input row itself is unusable; such an item is never decoded). :func:`decode_batch` turns it
into a :class:`Decoded`: the tensors of the items that decoded, already stacked, plus per item
an error (or ``None``) and the milliseconds it took. It never raises for a bad image: the
error text is exactly what the script writes into that row's ``error`` column.

:class:`ThreadDecoder`
    A ``ThreadPoolExecutor``. pydicom decoding is pure Python and holds the GIL, so more than
    one thread rarely helps; the thread mostly lets the main thread run onnxruntime (which
    releases the GIL) while the next batch is decoded.

:class:`ProcessDecoder`
    A ``ProcessPoolExecutor`` (``forkserver`` context where available, else ``spawn``: never
    ``fork``, the parent has onnxruntime and reader threads). Each worker loads the card once
    (initializer) and returns float32 arrays. Order is kept by the caller, which waits on the
    batches' futures in input order. When a worker process dies (a decoder plugin crashing on
    a hostile file, the OOM killer...), the pool is replaced and the batches it held are decoded
    again one image at a time in a separate single-worker pool, so the image that kills a worker
    gets its own error row and the others are scored. When workers keep dying on consecutive
    images the decoder gives up with :class:`DecodeWorkerError` (one line), never a hang.
    As with any ``spawn``/``forkserver`` pool, a program that runs this in process must guard
    its entry point with ``if __name__ == "__main__":`` (``onnx_infer`` does).
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import threading
import time
import warnings
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .errors import ImageError, SetupError, one_line

__all__ = ["Item", "Decoded", "Decoder", "decode_batch", "ThreadDecoder", "ProcessDecoder",
           "DecodeWorkerError", "usable_cpus", "auto_processes", "make_decoder",
           "quiet_decoding"]

Decoder = Callable[[str, int], np.ndarray]
Item = tuple  # (uri | None, frame, problem | None)

#: The error row text of an image whose decoding killed the worker process.
WORKER_DIED = "decode worker process died while decoding this image"
#: Consecutive images that kill a worker before the decoder gives up.
MAX_CONSECUTIVE_DEATHS = 5


class DecodeWorkerError(RuntimeError):
    """Decode worker processes cannot do any work (they keep dying); the message is one line."""


@dataclass
class Decoded:
    """One decoded batch. ``tensors``: the tensors of the items whose ``errors[i]`` is ``None``,
    in order, stacked into one array (a list when their shapes differ). ``ms``: per item."""

    tensors: np.ndarray | list | None
    errors: list
    ms: list

    def __reduce__(self):  # a plain tuple on the wire
        return (Decoded, (self.tensors, self.errors, self.ms))


def quiet_decoding() -> None:
    """pydicom warns about many real-world files; millions of rows would flood the task log."""
    warnings.filterwarnings("ignore", module=r"pydicom(\..*)?")
    warnings.filterwarnings("ignore", category=UserWarning)
    logging.getLogger("pydicom").setLevel(logging.ERROR)


def _decode_one(uri: str, frame: int, decode: Decoder) -> tuple[np.ndarray | None, str | None]:
    try:
        return decode(uri, frame), None
    except ImageError as exc:
        return None, one_line(exc)
    except Exception as exc:  # a bug or an exotic file: still one error row, never a crash
        return None, one_line(f"{type(exc).__name__}: {exc}")


def decode_batch(items: Sequence[Item], decode: Decoder) -> Decoded:
    """Decode every item of a batch; never raises for a bad image (see the module docstring)."""
    tensors, errors, ms = [], [], []
    clock = time.perf_counter
    for uri, frame, problem in items:
        if problem:
            errors.append(problem)
            ms.append(0.0)
            continue
        start = clock()
        tensor, error = _decode_one(uri, frame, decode)
        ms.append((clock() - start) * 1000.0)
        errors.append(error)
        if error is None:
            tensors.append(tensor)
    return Decoded(_stack(tensors), errors, ms)


def _stack(tensors: list) -> np.ndarray | list | None:
    if not tensors:
        return None
    try:
        return np.stack(tensors)
    except (ValueError, TypeError):  # odd shapes: the scorer reports them per image
        return tensors


def _card_decoder(card) -> Decoder:
    from .preprocess import load_tensor

    def decode(uri: str, frame: int) -> np.ndarray:
        return load_tensor(uri, frame, card)

    return decode


# --- threads ------------------------------------------------------------------------------------

class ThreadDecoder:
    """Batches decoded by ``threads`` threads of this process."""

    def __init__(self, card, threads: int = 1, decode: Decoder | None = None):
        self.decode = decode if decode is not None else _card_decoder(card)
        self.pool = ThreadPoolExecutor(max_workers=max(1, threads),
                                       thread_name_prefix="onnx-infer-decode")

    def ready(self) -> None:
        """Nothing to wait for."""

    def submit(self, items: list) -> Future:
        return self.pool.submit(decode_batch, items, self.decode)

    def result(self, handle: Future, items: list) -> Decoded:
        return handle.result()

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


# --- processes ----------------------------------------------------------------------------------

_worker_decode: Decoder | None = None


def _init_worker(card, decode: Decoder | None) -> None:
    """Worker initializer: quiet pydicom, build the decoder once (the card travels pickled)."""
    global _worker_decode
    quiet_decoding()
    _worker_decode = decode if decode is not None else _card_decoder(card)


def _decode_in_worker(items: list) -> Decoded:
    return decode_batch(items, _worker_decode)


def _ping() -> int:
    return os.getpid()


def _context():
    """``forkserver`` (workers forked from a server that imported the decoder once), else
    ``spawn``."""
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["mi_warehouse.udfs.decode_pool",
                                    "mi_warehouse.udfs.preprocess"])
        return ctx
    return multiprocessing.get_context("spawn")


def _result_pipe_bytes(card, batch_size: int) -> int:
    """Room for two decoded batches in the pipe that brings results back (64 KiB..1 MiB)."""
    spec = getattr(card, "input", None)
    try:
        image = int(spec.channels) * int(spec.height) * int(spec.width) * 4
    except (AttributeError, TypeError, ValueError):
        return 0
    return min(1 << 20, max(1 << 16, 2 * max(1, batch_size) * image + (1 << 12)))


def _widen_result_pipe(pool: ProcessPoolExecutor, nbytes: int) -> None:
    """Best effort (Linux): a 64 KiB pipe makes a worker wait for the parent to read each batch
    in pieces; a pipe that holds a whole batch lets it go on decoding at once."""
    if nbytes <= 0:
        return
    try:
        import fcntl
        fd = pool._result_queue._reader.fileno()  # noqa: SLF001 - CPython internals, guarded
        if fcntl.fcntl(fd, _F_GETPIPE_SZ) < nbytes:
            fcntl.fcntl(fd, _F_SETPIPE_SZ, nbytes)
    except (ImportError, AttributeError, OSError, ValueError):
        pass


_F_SETPIPE_SZ, _F_GETPIPE_SZ = 1031, 1032


class ProcessDecoder:
    """Batches decoded by ``processes`` worker processes (see the module docstring).

    ``submit`` may be called from another thread than ``result`` (the pipeline's reader thread
    submits, the main thread collects). ``decode``, when given, must be picklable (a module-level
    function); by default the workers use :func:`preprocess.load_tensor` with ``card``.
    """

    def __init__(self, card, processes: int, decode: Decoder | None = None,
                 start_timeout: float = 300.0, batch_size: int = 16):
        self.processes = max(1, processes)
        self._initargs = (card, decode)
        self._pipe_bytes = _result_pipe_bytes(card, batch_size)
        self._ctx = _context()
        self._lock = threading.Lock()
        self._start_timeout = start_timeout
        self._generation = 0
        self._pool = self._new_pool(self.processes)
        self._single: ProcessPoolExecutor | None = None  # for images redone one at a time
        self._consecutive_deaths = 0
        # Start the workers now (they import numpy + pydicom) so that this overlaps the caller's
        # own set-up; ready() waits for them.
        self._pings = [self._pool.submit(_ping) for _ in range(self.processes)]

    def _new_pool(self, workers: int) -> ProcessPoolExecutor:
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=self._ctx,
                                   initializer=_init_worker, initargs=self._initargs)
        _widen_result_pipe(pool, self._pipe_bytes)
        return pool

    def ready(self) -> None:
        """Wait until the workers answer; :class:`SetupError` when they cannot start."""
        try:
            for fut in self._pings:
                fut.result(timeout=self._start_timeout)
        except Exception as exc:
            self.close()
            raise SetupError(f"cannot start decode worker processes: "
                             f"{type(exc).__name__}: {one_line(exc, 300)}") from None

    def submit(self, items: list) -> tuple[Future | None, int]:
        with self._lock:
            pool, generation = self._pool, self._generation
        try:
            return pool.submit(_decode_in_worker, items), generation
        except (BrokenProcessPool, RuntimeError):  # broken, or replaced and shut down
            return None, generation

    def result(self, handle: tuple[Future | None, int], items: list) -> Decoded:
        future, generation = handle
        if future is not None:
            try:
                decoded = future.result()
            except (BrokenProcessPool, CancelledError):
                pass
            else:
                self._consecutive_deaths = 0
                return decoded
        self._replace(generation)
        return self._one_by_one(items)

    def _replace(self, generation: int) -> None:
        """A fresh main pool, unless the pool of ``generation`` was already replaced."""
        with self._lock:
            if generation != self._generation:
                return
            old = self._pool
            self._pool = self._new_pool(self.processes)
            self._generation += 1
        old.shutdown(wait=True, cancel_futures=True)

    def _one_by_one(self, items: list) -> Decoded:
        """Decode a batch that was in a pool when a worker died, one image at a time in a
        single-worker pool of its own, so that a death is the fault of that image."""
        tensors, errors, ms = [], [], []
        for item in items:
            part = self._alone(item)
            errors.extend(part.errors)
            ms.extend(part.ms)
            if part.tensors is not None:
                tensors.extend(part.tensors)
        return Decoded(_stack(tensors), errors, ms)

    def _alone(self, item: Item) -> Decoded:
        if item[2]:  # an unusable input row: nothing to decode
            return Decoded(None, [item[2]], [0.0])
        if self._single is None:
            self._single = self._new_pool(1)
        start = time.perf_counter()
        try:
            decoded = self._single.submit(_decode_in_worker, [item]).result()
        except (BrokenProcessPool, CancelledError) as exc:
            self._single.shutdown(wait=True, cancel_futures=True)
            self._single = None
            self._consecutive_deaths += 1
            if self._consecutive_deaths >= MAX_CONSECUTIVE_DEATHS:
                raise DecodeWorkerError(
                    f"decode worker processes died on {self._consecutive_deaths} images in a "
                    f"row (last: {one_line(item[0], 200)}): {one_line(exc, 200)}; "
                    f"try --decode-processes 0") from None
            return Decoded(None, [WORKER_DIED], [(time.perf_counter() - start) * 1000.0])
        self._consecutive_deaths = 0
        if decoded.tensors is not None and isinstance(decoded.tensors, np.ndarray):
            decoded.tensors = list(decoded.tensors)
        return decoded

    def close(self) -> None:
        """Cancel what has not started and wait for the workers to exit (waiting also avoids a
        race of Python 3.11's executor with interpreter exit, which prints EBADF tracebacks)."""
        with self._lock:
            pools = [self._pool, self._single]
        for pool in pools:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)


# --- choosing ----------------------------------------------------------------------------------

def usable_cpus() -> int:
    """CPUs this process may use: its affinity mask, capped by a CPU quota of its cgroup
    (v2 ``cpu.max`` or v1 ``cpu.cfs_quota_us``, this cgroup and its parents)."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    if quota is not None:
        n = min(n, max(1, math.ceil(quota)))
    return max(1, n)


def _cgroup_cpu_quota() -> float | None:
    """The tightest CPU quota (in CPUs) over this process's cgroup and its ancestors."""
    try:
        with open("/proc/self/cgroup", encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    found = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            found += _walk(path, ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"], _v2_quota)
        elif "cpu" in controllers.split(","):
            found += _walk(path, ["/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"], _v1_quota)
    return min(found) if found else None


def _walk(path: str, roots: list[str], read) -> list[float]:
    quotas = []
    for root in roots:
        if not os.path.isdir(root):
            continue
        parts = [p for p in path.split("/") if p]
        for depth in range(len(parts), -1, -1):
            q = read(os.path.join(root, *parts[:depth]))
            if q is not None:
                quotas.append(q)
    return quotas


def _v2_quota(folder: str) -> float | None:
    try:
        with open(os.path.join(folder, "cpu.max"), encoding="ascii") as fh:
            quota, period = fh.read().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError, ZeroDivisionError):
        return None


def _v1_quota(folder: str) -> float | None:
    try:
        with open(os.path.join(folder, "cpu.cfs_quota_us"), encoding="ascii") as fh:
            quota = int(fh.read().strip())
        with open(os.path.join(folder, "cpu.cfs_period_us"), encoding="ascii") as fh:
            period = int(fh.read().strip())
        return None if quota <= 0 else quota / period
    except (OSError, ValueError, ZeroDivisionError):
        return None


def auto_processes(cpus: int | None = None) -> int:
    """``--decode-processes auto``: two worker processes where two CPUs are usable, else 0
    (decode in a thread: one CPU gains nothing from processes)."""
    cpus = usable_cpus() if cpus is None else cpus
    return min(2, cpus) if cpus >= 2 else 0


def make_decoder(card, threads: int = 1, processes: int = 0, decode: Decoder | None = None,
                 batch_size: int = 16):
    """:class:`ProcessDecoder` when ``processes > 0``, else :class:`ThreadDecoder`."""
    if processes > 0:
        return ProcessDecoder(card, processes, decode, batch_size=batch_size)
    return ThreadDecoder(card, threads, decode)
