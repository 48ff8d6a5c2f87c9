"""Which GPU this script instance uses, and the provider choice that follows from it.

:func:`choose` puts :mod:`.gpu_lock` and :mod:`.providers` together:

* ``--providers cpu``, or an onnxruntime build without GPU providers: CPU, no lock.
* Otherwise the GPUs the driver reports (restricted by ``CUDA_VISIBLE_DEVICES``, and to
  ``--device-id N`` when given) are candidates; the instance locks the first free one, waiting up
  to ``wait_s`` (see :mod:`.gpu_lock` for the policy), and the providers are probed on it.
* No GPU at all: the provider probe gives the reason (no driver, hidden devices...), which
  :func:`.providers.provider_label` records as ``cpu (fallback: ...)``.
* Every GPU held past the wait: CPU with ``gpu: every visible GPU is held by another script
  instance`` as the reason, or, when a GPU provider was asked for explicitly, a
  :class:`SetupError` (no silent CPU run).

Everything the machine answers (provider list, device count, environment, probe, lock folder)
can be injected, so the choice is tested on a CPU-only machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from .errors import SetupError
from .gpu_lock import GpuLease, claim_gpu, lock_dir, visible_devices
from .providers import (PROVIDERS, ProviderChoice, driver_device_count, gpu_providers_built,
                        select_providers)

__all__ = ["Assignment", "choose"]


@dataclass
class Assignment:
    """The providers to use, and the GPU lease that must live as long as the session."""

    choice: ProviderChoice
    lease: GpuLease | None = None


def choose(requested: str = "auto", device_id: int | None = None, *,
           fp16: bool = False, trt_cache_dir: str | None = None, wait_s: float = 300.0,
           available: Sequence[str] | None = None, count: int | None = None,
           env: Mapping[str, str] | None = None, probe: Callable | None = None,
           folder: str | None = None, claim=claim_gpu) -> Assignment:
    """See the module docstring. ``device_id`` ``None`` means "any free GPU"."""
    kw = dict(available=available, env=env, probe=probe, trt_cache_dir=trt_cache_dir, fp16=fp16)
    if requested == "cpu" or not gpu_providers_built(available):
        return Assignment(select_providers(requested, device_id or 0, **kw))
    count = driver_device_count() if count is None else count
    devices = visible_devices(count, env)
    if device_id is not None:
        devices = [d for d in devices if d[0] == device_id]
    if not devices:  # the probe says why (no driver, hidden, beyond the visible ones)
        return Assignment(select_providers(requested, device_id or 0, **kw))
    try:
        lease = claim(devices, folder or lock_dir(env), wait_s)
    except OSError as exc:
        reason = f"cannot use the GPU lock folder: {exc}"
        lease = None
    else:
        reason = (f"every visible GPU ({', '.join(p for _, p in devices)}) is held by another "
                  f"script instance (waited {wait_s:g}s)")
    if lease is None:
        if requested != "auto":
            raise SetupError(f"--providers {requested}: {reason}")
        return Assignment(ProviderChoice([(PROVIDERS["cpu"], {})], "cpu", (f"gpu: {reason}",)))
    try:
        choice = select_providers(requested, lease.device_id, **kw)
    except BaseException:
        lease.release()
        raise
    if choice.short == "cpu":  # the GPU is there but unusable: do not keep others off it
        lease.release()
        lease = None
    return Assignment(choice, lease)
