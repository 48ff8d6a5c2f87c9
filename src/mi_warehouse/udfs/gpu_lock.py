"""One TRANSFORM script instance per GPU: a per-GPU file lock under a local folder.

The engine may start several script instances on one node (one per task). Two onnxruntime
sessions on one GPU fight over its memory and its streams, so each instance takes a GPU by
locking ``<folder>/gpu-<id>.lock`` with ``flock`` (exclusive, non-blocking) and keeps it until
it exits; the kernel releases the lock when the process dies, however it dies. ``<id>`` is the
physical device (the entry of ``CUDA_VISIBLE_DEVICES`` when it is set, so that two instances
seeing the same GPU under different ordinals still share one lock file); the ordinal that
onnxruntime gets (``device_id``) is its position among the visible devices.

Policy when every GPU is held: **wait**, polling, up to ``wait_s`` seconds (the
``--gpu-wait`` of the script), then fall back to CPU with the reason recorded in the
provider column. Waiting is the better default because `infer` spreads a cohort over one
script instance per GPU on GPU nodes: a second instance only meets a held GPU when another
query (or a retried task) has it, and it then gets the GPU soon; a CPU run of a ResNet-class
model would be much slower than the wait.

The folder is ``$MIW_GPU_LOCK_DIR``, else ``<tmp>/mi_warehouse_gpu_locks``; it must be local to
the node (flock on NFS is not reliable).
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

__all__ = ["GpuLease", "lock_dir", "visible_devices", "claim_gpu"]


def lock_dir(env: Mapping[str, str] | None = None) -> str:
    """The lock folder (see the module docstring)."""
    env = os.environ if env is None else env
    return env.get("MIW_GPU_LOCK_DIR") or os.path.join(tempfile.gettempdir(),
                                                       "mi_warehouse_gpu_locks")


def visible_devices(count: int, env: Mapping[str, str] | None = None) -> list[tuple[int, str]]:
    """``(ordinal, physical id)`` of the GPUs this process may use, given the driver's
    ``count`` of visible devices: ``CUDA_VISIBLE_DEVICES`` entries (up to the first invalid
    one, as CUDA enumerates) when set, else ``0..count-1``."""
    env = os.environ if env is None else env
    if "CUDA_VISIBLE_DEVICES" not in env:
        return [(i, str(i)) for i in range(max(0, count))]
    listed = []
    for token in env["CUDA_VISIBLE_DEVICES"].split(","):
        token = token.strip()
        if not token or token.startswith("-") or token == "NoDevFiles":
            break
        listed.append(token)
    return [(i, token) for i, token in enumerate(listed[:max(0, count)])]


@dataclass
class GpuLease:
    """A held GPU: ``device_id`` for onnxruntime, the lock file and its descriptor."""

    device_id: int
    physical: str
    path: str
    fd: int
    waited_s: float = 0.0

    def release(self) -> None:
        """Give the GPU back (also happens when the process exits)."""
        if self.fd >= 0:
            os.close(self.fd)  # closing the only descriptor drops the flock
            self.fd = -1


def _try_lock(path: str) -> int | None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def claim_gpu(devices: Sequence[tuple[int, str]], folder: str, wait_s: float = 300.0,
              poll_s: float = 0.5, clock: Callable[[], float] = time.monotonic,
              sleep: Callable[[float], None] = time.sleep) -> GpuLease | None:
    """Lock the first free GPU of ``devices`` (``(ordinal, physical id)``, see
    :func:`visible_devices`), waiting up to ``wait_s`` seconds for one; ``None`` when none was
    free in time (or ``devices`` is empty). Raises ``OSError`` when ``folder`` cannot be
    created."""
    if not devices:
        return None
    os.makedirs(folder, exist_ok=True)
    start = clock()
    while True:
        for ordinal, physical in devices:
            path = os.path.join(folder, f"gpu-{_safe(physical)}.lock")
            fd = _try_lock(path)
            if fd is not None:
                return GpuLease(ordinal, physical, path, fd, clock() - start)
        if clock() - start >= wait_s:
            return None
        sleep(poll_s)
