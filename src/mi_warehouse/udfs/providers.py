"""Choose the onnxruntime execution provider that really works on this worker.

``onnxruntime.get_available_providers()`` of the -gpu wheel lists CUDA and TensorRT even on a
node without a GPU or without the CUDA/cuDNN/TensorRT libraries, and a session asked for them
then logs a loud error and falls back. So the choice here probes quietly first:

1. ``CUDA_VISIBLE_DEVICES`` empty, ``-1`` or ``NoDevFiles`` means no GPU; ``--device-id`` must be
   below the number of devices it lists.
2. The CUDA driver (``libcuda.so.1``) must load, initialise and report a device ``device_id``.
3. The provider's shared library (``libonnxruntime_providers_cuda.so`` /
   ``..._tensorrt.so``) must load with ``ctypes``: this fails, silently, exactly when one of
   cuBLAS, cuDNN, TensorRT... is missing.

``auto`` takes the first of TensorRT, CUDA, CPU that passes; an explicitly requested provider
that fails raises :class:`SetupError` (the user asked for a GPU: no silent CPU run). For tests,
``available``, ``env`` and ``probe`` can be injected.

Half precision: with ``fp16`` TensorRT builds fp16 engines (``trt_fp16_enable``; layers it cannot
run in fp16 stay fp32). The CUDA provider runs the model's own types, so fp16 there needs a model
exported with float16 weights and input (the runner feeds a float16 input as float16).

A CPU run on a build that has GPU providers is never silent: :func:`provider_label` is what the
rows' ``provider`` column (and so ``inference_runs.provider``) records, ``cpu (fallback: ...)``
with the reason, unless ``CUDA_VISIBLE_DEVICES`` hid the GPUs on purpose or CPU was asked for.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import io
import os
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

from .errors import SetupError

__all__ = ["PROVIDERS", "ProviderChoice", "select_providers", "visible_gpu_problem",
           "system_probe", "short_name", "provider_label", "driver_device_count",
           "gpu_providers_built"]

PROVIDERS = {"tensorrt": "TensorrtExecutionProvider", "cuda": "CUDAExecutionProvider",
             "cpu": "CPUExecutionProvider"}
_SHORT = {v: k for k, v in PROVIDERS.items()}
_LIBS = {"cuda": "libonnxruntime_providers_cuda.so",
         "tensorrt": "libonnxruntime_providers_tensorrt.so"}
_CUDNN = "libcudnn.so.9"

Probe = Callable[[str, int], "str | None"]


@dataclass(frozen=True)
class ProviderChoice:
    """What to hand to ``InferenceSession(providers=...)``.

    ``providers``: ``(name, options)`` pairs, best first, CPU last. ``short``: ``tensorrt``,
    ``cuda`` or ``cpu``. ``skipped``: why better providers were passed over (for stderr).
    """

    providers: list[tuple[str, dict]]
    short: str
    skipped: tuple[str, ...] = field(default=())

    @property
    def names(self) -> list[str]:
        """The provider names alone."""
        return [name for name, _ in self.providers]


def short_name(provider: str) -> str:
    """``CUDAExecutionProvider`` -> ``cuda``; unknown names are lower-cased as they are."""
    return _SHORT.get(provider, provider.lower())


def visible_gpu_problem(device_id: int, env: Mapping[str, str] | None = None) -> str | None:
    """Why ``CUDA_VISIBLE_DEVICES`` rules GPU ``device_id`` out, or ``None`` if it does not."""
    env = os.environ if env is None else env
    if device_id < 0:
        return f"--device-id {device_id} is negative"
    if "CUDA_VISIBLE_DEVICES" not in env:
        return None
    listed = []
    for token in env["CUDA_VISIBLE_DEVICES"].split(","):
        token = token.strip()
        if not token or token.startswith("-") or token == "NoDevFiles":
            break  # CUDA stops enumerating at the first invalid entry
        listed.append(token)
    if not listed:
        return f"CUDA_VISIBLE_DEVICES={env['CUDA_VISIBLE_DEVICES']!r} hides every GPU"
    if device_id >= len(listed):
        return (f"--device-id {device_id} but CUDA_VISIBLE_DEVICES="
                f"{env['CUDA_VISIBLE_DEVICES']!r} makes {len(listed)} GPU(s) visible")
    return None


def provider_options(short: str, device_id: int, trt_cache_dir: str | None = None,
                     fp16: bool = False) -> dict:
    """Deterministic-minded options for one provider (``fp16``: TensorRT fp16 engines)."""
    if short == "cuda":
        # HEURISTIC picks cuDNN algorithms without timing them (EXHAUSTIVE may pick differently
        # from run to run).
        return {"device_id": device_id, "cudnn_conv_algo_search": "HEURISTIC"}
    if short == "tensorrt":
        opts = {"device_id": device_id, "trt_timing_cache_enable": True}
        if fp16:
            opts["trt_fp16_enable"] = True
        if trt_cache_dir:
            opts.update(trt_engine_cache_enable=True, trt_engine_cache_path=trt_cache_dir,
                        trt_timing_cache_path=trt_cache_dir)
        return opts
    return {}


def select_providers(requested: str = "auto", device_id: int = 0, *,
                     available: Sequence[str] | None = None,
                     env: Mapping[str, str] | None = None,
                     probe: Probe | None = None,
                     trt_cache_dir: str | None = None, fp16: bool = False) -> ProviderChoice:
    """Pick the providers for ``requested`` (``auto``, ``cpu``, ``cuda`` or ``tensorrt``); see
    the module docstring. ``available`` defaults to ``onnxruntime.get_available_providers()``,
    ``probe(short, device_id)`` (returns a reason or ``None``) to :func:`system_probe`."""
    requested = requested.lower()
    if requested not in ("auto", *PROVIDERS):
        raise SetupError(f"--providers must be auto, cpu, cuda or tensorrt, not {requested!r}")
    if available is None:
        import onnxruntime as ort
        available = ort.get_available_providers()
    probe = system_probe if probe is None else probe
    wanted = ["tensorrt", "cuda"] if requested == "auto" else [requested]
    skipped: list[str] = []
    for short in wanted:
        if short == "cpu":
            break
        if requested == "auto" and PROVIDERS[short] not in available:
            continue  # not in this onnxruntime build: nothing worth reporting
        reason = _problem(short, device_id, available, env, probe)
        if reason is None:
            chain = ["tensorrt", "cuda", "cpu"][["tensorrt", "cuda"].index(short):]
            chain = [s for s in chain if s == "cpu" or PROVIDERS[s] in available]
            return ProviderChoice(
                [(PROVIDERS[s], provider_options(s, device_id, trt_cache_dir, fp16)) for s in chain],
                short, tuple(skipped))
        if requested != "auto":
            raise SetupError(f"--providers {requested}: {PROVIDERS[short]} is not usable here: "
                             f"{reason}")
        if skipped and skipped[-1].endswith(f": {reason}"):  # same cause: say it once
            skipped[-1] = f"{skipped[-1].split(':')[0]}, {short}: {reason}"
        else:
            skipped.append(f"{short}: {reason}")
    return ProviderChoice([(PROVIDERS["cpu"], {})], "cpu", tuple(skipped))


def _problem(short: str, device_id: int, available: Sequence[str],
             env: Mapping[str, str] | None, probe: Probe) -> str | None:
    if PROVIDERS[short] not in available:
        return f"{PROVIDERS[short]} is not in this onnxruntime build"
    hidden = visible_gpu_problem(device_id, env)
    if hidden:
        return hidden
    if short == "tensorrt":
        # TensorRT runs on top of CUDA: both libraries must load.
        return probe("cuda", device_id) or probe("tensorrt", device_id)
    return probe(short, device_id)


_ON_PURPOSE = "hides every GPU"  # in a skipped reason: CUDA_VISIBLE_DEVICES chose CPU


def provider_label(choice: ProviderChoice, used: str, limit: int = 200) -> str:
    """The one line the ``provider`` column records: ``used`` (the provider the session really
    runs on), plus ``(fallback: ...)`` when it is CPU and a GPU was passed over (absent, its
    libraries missing, or onnxruntime failing to start it), unless ``CUDA_VISIBLE_DEVICES`` hid
    every GPU on purpose."""
    notes = [r for r in choice.skipped if _ON_PURPOSE not in r]
    if used != choice.short:
        notes.append(f"onnxruntime could not start {choice.short}")
    if used != "cpu" or not notes:
        return used
    text = f"{used} (fallback: {'; '.join(notes)})"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 4] + "...)"


def gpu_providers_built(available: Sequence[str] | None = None) -> bool:
    """Whether this onnxruntime build has the CUDA or TensorRT provider."""
    if available is None:
        import onnxruntime as ort
        available = ort.get_available_providers()
    return PROVIDERS["cuda"] in available or PROVIDERS["tensorrt"] in available


def driver_device_count() -> int:
    """GPUs the CUDA driver reports to this process (0 without a driver or when it fails)."""
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
        count = ctypes.c_int(0)
        if cuda.cuInit(0) != 0 or cuda.cuDeviceGetCount(ctypes.byref(count)) != 0:
            return 0
        return max(0, count.value)
    except (OSError, AttributeError):
        return 0


# --- the real probe -----------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def system_probe(short: str, device_id: int) -> str | None:
    """Quietly check that GPU ``device_id`` exists and the provider library loads; returns the
    reason it cannot be used, or ``None``."""
    reason = _driver_problem(device_id)
    if reason:
        return reason
    _quiet_preload()
    try:
        import onnxruntime as ort
        capi = os.path.join(os.path.dirname(ort.__file__), "capi")
        ctypes.CDLL(os.path.join(capi, "libonnxruntime_providers_shared.so"),
                    mode=ctypes.RTLD_GLOBAL)
        ctypes.CDLL(os.path.join(capi, _LIBS[short]))
    except OSError as exc:
        return f"cannot load {_LIBS[short]}: {exc}"
    if short == "cuda":
        # cuDNN is opened lazily by the CUDA provider; without it the session would fail loudly.
        try:
            ctypes.CDLL(_CUDNN)
        except OSError as exc:
            return f"cannot load {_CUDNN}: {exc}"
    return None


def _driver_problem(device_id: int) -> str | None:
    """Why the CUDA driver cannot give us device ``device_id`` (``None`` when it can)."""
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return "no CUDA driver (libcuda.so.1 not found)"
    try:
        if cuda.cuInit(0) != 0:
            return "the CUDA driver failed to initialise (cuInit)"
        count = ctypes.c_int(0)
        if cuda.cuDeviceGetCount(ctypes.byref(count)) != 0:
            return "cuDeviceGetCount failed"
    except AttributeError:
        return "libcuda.so.1 lacks cuInit/cuDeviceGetCount"
    if device_id >= count.value:
        return f"--device-id {device_id} but the driver sees {count.value} GPU(s)"
    return None


def _quiet_preload() -> None:
    """Let onnxruntime preload CUDA/cuDNN from nvidia-* wheels, with its prints swallowed (they
    would otherwise land in the rows Hive reads)."""
    try:
        import onnxruntime as ort
        preload = getattr(ort, "preload_dlls", None)
        if preload is None:
            return
        sink = io.StringIO()
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            preload(directory="")
    except Exception:
        pass
