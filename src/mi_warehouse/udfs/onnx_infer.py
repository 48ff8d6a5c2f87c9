"""Hive TRANSFORM script that scores images with an ONNX model.

Usage (the client resolves the model file, its checksum and its card)::

    SELECT TRANSFORM (sop_instance_uid, image_uri, frame)
      USING 'python -m mi_warehouse.udfs.onnx_infer --model-file /models/m.onnx
             --sha256 <hex> --card /models/m.card.json --model-name m --model-version 3'
      AS (sop_instance_uid, model_name, model_version, predicted_label, probability,
          scores array<double>, status, error, latency_ms double, provider)
    FROM ...

Input rows: ``sop_instance_uid, image_uri[, frame]``. Output columns: see
:data:`mi_warehouse.models.card.OUTPUT_COLUMNS` (plus ``embedding array<double>`` with
``--embeddings``). The card is the registry's JSON (``card.json``), validated by
:mod:`mi_warehouse.models.card` exactly as at registration. A bad image gives an error row; a
missing model, a checksum mismatch, an unreadable or invalid card, an unusable explicitly
requested provider, or decode worker processes that keep dying exit with status 2 and one
line on stderr.

Decoding (pydicom, pure Python) is the slow part, so it runs ahead of inference:
``--decode-processes N`` decodes in N worker processes (``auto``, the default: 2 where at least
2 CPUs are usable by this process, counting its affinity mask and cgroup CPU quota; else 0);
with 0 it runs in ``--decode-threads`` threads of this process (default 1: the GIL makes more
threads slower). On a node where Hive runs one script per core, ``--decode-processes 1`` or
``0`` keeps each script to about one busy core. The rows written are the same bit for bit
whichever is chosen (only ``latency_ms`` varies).

GPUs (:mod:`.device`): each instance locks one GPU (``--device-id auto``, the default: the first
free one; others wait up to ``--gpu-wait`` seconds, then run on CPU), runs TensorRT or CUDA on
it (``--fp16``: TensorRT fp16 engines) with I/O binding, and decodes JPEG 2000 / HTJ2K /
baseline JPEG on the GPU through nvImageCodec where it is installed (``--gpu-decode auto``).
Batches are decoded ahead of inference (``--prefetch`` batches in a bounded queue), so decode
and inference overlap. The ``provider`` column says what ran: ``tensorrt fp16 gpu0; decode
nvimgcodec``, ``cuda gpu1; decode cpu (nvimgcodec not installed ...)``, ``cpu``, or
``cpu (fallback: <why the GPU was not used>)``.

This module only parses arguments and wires :mod:`mi_warehouse.models.card`,
:mod:`.model_file`, :mod:`.providers`, :mod:`.runner` and :mod:`.pipeline` together.
"""

from __future__ import annotations

import os

# One BLAS thread per process: Hive runs many of these scripts per node, and decoding already
# runs in parallel with inference. Must happen before numpy is imported (decode worker processes
# inherit the environment).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from typing import IO, Iterable, Sequence  # noqa: E402

from .errors import SetupError, one_line  # noqa: E402

PROG = "onnx_infer"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line arguments (see the module docstring)."""
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    p.add_argument("--model-file", required=True, help="local path of the .onnx file")
    p.add_argument("--sha256", required=True, help="expected SHA-256 of the model file (hex)")
    p.add_argument("--card", required=True, help="model card JSON")
    p.add_argument("--model-name", required=True)
    p.add_argument("--model-version", required=True)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--prefetch", type=int, default=4, help="decoded batches kept ready")
    p.add_argument("--decode-threads", type=int, default=1,
                   help="threads decoding images when --decode-processes is 0 (default 1: "
                        "pydicom holds the GIL, more threads only add contention)")
    p.add_argument("--decode-processes", default="auto", type=_processes,
                   help="worker processes decoding images; 0 decodes in threads of this "
                        "process; auto (the default): 2 where 2 or more CPUs are usable "
                        "(affinity and cgroup quota), else 0")
    p.add_argument("--intra-op-threads", type=int, default=1,
                   help="onnxruntime intra-op threads (default 1)")
    p.add_argument("--device-id", type=_device, default=None,
                   help="GPU ordinal to lock and use, or auto (the default): the first free one")
    p.add_argument("--gpu-wait", type=float, default=300.0,
                   help="seconds to wait for a free GPU before running on CPU (default 300)")
    p.add_argument("--fp16", action="store_true",
                   help="let TensorRT build fp16 engines (trt_fp16_enable); also when the card "
                        "says fp16: true")
    p.add_argument("--gpu-decode", default="auto", choices=("auto", "off"),
                   help="decode JPEG 2000 / JPEG on the GPU with nvImageCodec where installed")
    p.add_argument("--providers", default="auto", choices=("auto", "cpu", "cuda", "tensorrt"))
    trt_cache = (os.environ.get("MIW_TRT_CACHE_DIR")
                 or os.path.join(tempfile.gettempdir(), "mi_warehouse_trt_cache"))
    p.add_argument("--trt-cache-dir", default=trt_cache,
                   help="TensorRT engine cache folder (default $MIW_TRT_CACHE_DIR, else "
                        "<tmp>/mi_warehouse_trt_cache)")
    p.add_argument("--embeddings", action="store_true", help="add the embedding column")
    p.add_argument("--escape", action="store_true",
                   help="rows are escaped (hive.transform.escape.input=true)")
    args = p.parse_args(argv)
    for name in ("batch_size", "prefetch", "decode_threads", "intra_op_threads"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    args.explicit_processes = args.decode_processes != "auto"
    if args.decode_processes == "auto":
        from .decode_pool import auto_processes
        args.decode_processes = auto_processes()
    return args


def _device(text: str) -> int | None:
    """``--device-id``: a GPU ordinal, or ``None`` for auto."""
    value = _processes(text)
    return None if value == "auto" else value


def _processes(text: str) -> int | str:
    if text.strip().lower() == "auto":
        return "auto"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number or 'auto'") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0 or 'auto'")
    return value


def _claim_stdout() -> IO[str]:
    """A private text stream on the real stdout; fd 1 and ``sys.stdout`` then point at stderr,
    so stray prints from any library cannot corrupt the rows Hive reads."""
    sys.stdout.flush()
    fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(fd, "w", encoding="utf-8", newline="\n", buffering=1 << 16)


def _quiet_libraries() -> None:
    """pydicom warns about many real-world files; millions of rows would flood the task log."""
    from .decode_pool import quiet_decoding
    quiet_decoding()


def _setup(args: argparse.Namespace):
    """Card, decoder, verified model bytes, providers and session; raises :class:`SetupError`.
    Decode worker processes are started first so that their start-up overlaps the session's."""
    from .decode_pool import make_decoder
    from .device import choose
    from .model_file import read_verified_model
    from .runner import OnnxRunner, model_dir_of

    for name in ("model_name", "model_version"):
        value = getattr(args, name)
        if not value or any(c in value for c in "\t\n\r\x01") or value == "\\N":
            raise SetupError(f"--{name.replace('_', '-')} {value!r} cannot be written in a row")
    card = load_script_card(args.card)
    if card.name != args.model_name or card.version != args.model_version:
        raise SetupError(f"model card {args.card} describes {card.name} version {card.version}, "
                         f"not {args.model_name} version {args.model_version}")
    try:
        decoder = make_decoder(card, args.decode_threads, args.decode_processes,
                               batch_size=args.batch_size)
    except Exception as exc:  # no forkserver/spawn here (no /dev/shm, no temp dir...)
        decoder = _threads_instead(SetupError(f"cannot start decode worker processes: "
                                              f"{type(exc).__name__}: {one_line(exc, 300)}"),
                                   card, args)
    args.fp16 = args.fp16 or card.fp16  # the card allows it, or the command line asks
    try:
        model = read_verified_model(args.model_file, args.sha256)
        assignment = choose(args.providers, args.device_id, fp16=args.fp16,
                            trt_cache_dir=args.trt_cache_dir, wait_s=args.gpu_wait)
        choice = assignment.choice
        if choice.short == "tensorrt":
            try:
                os.makedirs(args.trt_cache_dir, exist_ok=True)
            except OSError as exc:
                raise SetupError(f"cannot create the TensorRT cache {args.trt_cache_dir}: "
                                 f"{exc}") from exc
        runner = OnnxRunner(model, card, choice, batch_size=args.batch_size,
                            embeddings=args.embeddings, intra_op_threads=args.intra_op_threads,
                            strict_provider=args.providers != "auto",
                            model_dir=model_dir_of(args.model_file))
        runner.lease = assignment.lease  # the GPU stays locked while the session lives
        if runner.lease is not None and runner.provider == "cpu":  # onnxruntime fell back
            runner.lease.release()
        decoder, runner.label = _gpu_decoder(decoder, card, runner, choice, args)
        decoder = _ready(decoder, card, args)
    except BaseException:
        decoder.close()
        raise
    return card, runner, choice, decoder


def _gpu_decoder(decoder, card, runner, choice, args):
    """On a GPU provider with nvImageCodec: a thread decoder that decodes on that GPU (the CPU
    decoder is closed). Returns the decoder and the provider column's text."""
    from .providers import provider_label

    label = provider_label(choice, runner.provider)
    if runner.provider == "cpu":
        return decoder, label
    label = f"{label}{' fp16' if args.fp16 and runner.provider == 'tensorrt' else ''} " \
            f"gpu{runner.device_id}"
    if args.gpu_decode == "off":
        return decoder, f"{label}; decode cpu (--gpu-decode off)"
    from .gpu_decode import GpuFrameDecoder, nvimgcodec_problem
    problem = nvimgcodec_problem()
    if problem is None:
        try:
            pixels = GpuFrameDecoder(runner.device_id)
        except Exception as exc:
            problem = f"nvimgcodec failed to start: {type(exc).__name__}: {one_line(exc, 100)}"
    if problem is not None:
        return decoder, f"{label}; decode cpu ({problem})"
    from .decode_pool import ThreadDecoder
    from .preprocess import load_tensor

    decoder.close()
    threads = max(2, args.decode_processes, args.decode_threads)
    return (ThreadDecoder(card, threads, lambda uri, frame: load_tensor(uri, frame, card, pixels)),
            f"{label}; decode nvimgcodec")


def load_script_card(path: str):
    """The model card at ``path`` (see :func:`mi_warehouse.models.card.load_card`); an
    unreadable or invalid card is a :class:`SetupError` (one line naming the file and field)."""
    from ..models.card import ModelCardInvalid, load_card

    try:
        return load_card(path)
    except ModelCardInvalid as exc:
        raise SetupError(str(exc)) from None


def _ready(decoder, card, args: argparse.Namespace):
    """Wait for the decoder to be ready (see :func:`_threads_instead`)."""
    try:
        decoder.ready()
    except SetupError as exc:
        decoder = _threads_instead(exc, card, args)
    return decoder


def _threads_instead(exc: SetupError, card, args: argparse.Namespace):
    """Worker processes that cannot start: an error when asked for explicitly, else a decode
    thread (with a note on stderr)."""
    from .decode_pool import ThreadDecoder
    if args.explicit_processes:
        raise exc
    print(f"{PROG}: {one_line(exc, 300)}; decoding in threads instead", file=sys.stderr,
          flush=True)
    return ThreadDecoder(card, args.decode_threads)


def main(argv: Sequence[str] | None = None, stdin: Iterable[bytes] | None = None,
         stdout: IO[str] | None = None) -> int:
    """Run the script; returns the exit status. ``stdin``/``stdout`` default to the process's
    (then fd 1 is reserved for rows, see :func:`_claim_stdout`)."""
    args = parse_args(argv)
    _quiet_libraries()
    out = stdout if stdout is not None else _claim_stdout()
    try:
        card, runner, choice, decoder = _setup(args)
    except SetupError as exc:
        print(f"{PROG}: error: {one_line(exc, 1000)}", file=sys.stderr, flush=True)
        return 2
    try:
        return _score(args, out, card, runner, choice, decoder, stdin)
    finally:
        decoder.close()


def _score(args, out, card, runner, choice, decoder, stdin) -> int:
    from .decode_pool import DecodeWorkerError
    from .pipeline import PipelineConfig, run_pipeline, stdin_lines

    if choice.skipped:
        print(f"{PROG}: using {runner.provider}; skipped {'; '.join(choice.skipped)}",
              file=sys.stderr, flush=True)
    config = PipelineConfig(model_name=args.model_name, model_version=args.model_version,
                            batch_size=runner.batch_size, prefetch=args.prefetch,
                            decode_threads=args.decode_threads,
                            decode_processes=args.decode_processes, embeddings=args.embeddings,
                            escape=args.escape, provider_label=getattr(runner, "label", None))
    try:
        stats = run_pipeline(stdin if stdin is not None else stdin_lines(), out, runner, card,
                             config, decoder=decoder)
    except DecodeWorkerError as exc:
        print(f"{PROG}: error: {one_line(exc, 1000)}", file=sys.stderr, flush=True)
        return 2
    except BrokenPipeError:
        # Hive stopped reading (e.g. a LIMIT was reached): nothing more to say.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
        except (OSError, ValueError):
            pass
        return 0
    rate = stats.rows / stats.seconds if stats.seconds > 0 else 0.0
    print(f"{PROG}: {stats.rows} rows, {stats.errors} errors, {stats.seconds:.1f}s "
          f"({rate:.1f} rows/s) on {getattr(runner, 'label', runner.provider)}", file=sys.stderr,
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
