"""The streaming TRANSFORM loop: rows in, images decoded ahead, batches scored, rows out in order.

Threads::

    reader thread ── reads stdin lazily, groups rows into batches of ``batch_size``, submits
                     each row's decode+preprocess to a thread pool and queues the batch
                     (``queue.Queue(maxsize=prefetch)``: at most ``prefetch`` batches wait, so
                     memory stays bounded however many rows Hive pipes in)
    decode pool   ── ``decode_threads`` workers run :func:`preprocess.load_tensor`
    main thread   ── takes batches in input order, waits for their decodes, runs the model on
                     the images that decoded, writes one row per input row, flushes

Every input row gives exactly one output row, in input order. A row whose image cannot be
read gets ``status='error'`` and a one-line reason; if a whole batch fails in onnxruntime the
images are retried one by one so that only the culprit is marked.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, Callable, Iterable

import numpy as np

from ..serde.transform_codec import decode_row, encode_row
from .errors import ImageError, one_line
from .model_card import ModelCard
from .scoring import decide, label_scores

__all__ = ["INPUT_COLUMNS", "OUTPUT_COLUMNS", "EMBEDDING_COLUMN", "PipelineConfig", "Stats",
           "InputRow", "parse_input", "run_pipeline"]

INPUT_COLUMNS = (("sop_instance_uid", "string"), ("image_uri", "string"), ("frame", "string"))
OUTPUT_COLUMNS = (("sop_instance_uid", "string"), ("model_name", "string"),
                  ("model_version", "string"), ("predicted_label", "string"),
                  ("probability", "double"), ("scores", "array<double>"), ("status", "string"),
                  ("error", "string"), ("latency_ms", "double"), ("provider", "string"))
EMBEDDING_COLUMN = ("embedding", "array<double>")
_INPUT_TYPES = [t for _, t in INPUT_COLUMNS]

Decoder = Callable[[str, int], np.ndarray]


@dataclass(frozen=True)
class PipelineConfig:
    """Settings of :func:`run_pipeline`."""

    model_name: str
    model_version: str
    batch_size: int = 16
    prefetch: int = 4
    decode_threads: int = 2
    embeddings: bool = False
    escape: bool = False


@dataclass
class Stats:
    """Counts reported on stderr at the end."""

    rows: int = 0
    errors: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class InputRow:
    """One parsed input row; ``problem`` is set when the row itself is unusable."""

    sop: str | None
    uri: str | None
    frame: int = 0
    problem: str | None = None


@dataclass
class _Prepared:
    tensor: np.ndarray | None
    error: str | None
    ms: float


class _End:
    """Queued by the reader after the last batch (carries its exception, if any)."""

    def __init__(self, exc: BaseException | None = None):
        self.exc = exc


def parse_input(line: bytes | str, escape: bool = False) -> InputRow:
    """``sop_instance_uid, image_uri[, frame]`` from one TRANSFORM text line."""
    if isinstance(line, bytes):
        line = line.decode("utf-8", errors="replace")
    sop, uri, frame_text = decode_row(line, _INPUT_TYPES, escape)
    if uri is None or uri == "":
        return InputRow(sop, uri, 0, "image_uri is NULL or empty")
    if frame_text is None or frame_text.strip() == "":
        return InputRow(sop, uri, 0)
    try:
        frame = int(frame_text.strip())
    except ValueError:
        return InputRow(sop, uri, 0, f"frame {frame_text!r} is not an integer")
    if frame < 0:
        return InputRow(sop, uri, 0, f"frame {frame} is negative")
    return InputRow(sop, uri, frame)


def _prepare(row: InputRow, decode: Decoder) -> _Prepared:
    """Decode + preprocess one row in a pool thread; never raises."""
    start = time.perf_counter()
    if row.problem:
        return _Prepared(None, row.problem, 0.0)
    try:
        tensor, error = decode(row.uri, row.frame), None
    except ImageError as exc:
        tensor, error = None, one_line(exc)
    except Exception as exc:  # a bug or an exotic file: still one error row, never a crash
        tensor, error = None, one_line(f"{type(exc).__name__}: {exc}")
    return _Prepared(tensor, error, (time.perf_counter() - start) * 1000.0)


def _read_batches(lines: Iterable[bytes | str], pool: ThreadPoolExecutor, out: queue.Queue,
                  decode: Decoder, config: PipelineConfig) -> None:
    """Reader thread body (see the module docstring)."""
    batch: list[tuple[InputRow, Future]] = []
    try:
        for line in lines:
            row = parse_input(line, config.escape)
            batch.append((row, pool.submit(_prepare, row, decode)))
            if len(batch) >= config.batch_size:
                out.put(batch)
                batch = []
        if batch:
            out.put(batch)
        out.put(_End())
    except BaseException as exc:  # noqa: BLE001 - handed to the main thread
        out.put(_End(exc))


class _Scorer:
    """Runs the model over one batch and formats its output rows."""

    def __init__(self, runner, card: ModelCard, config: PipelineConfig):
        self.runner, self.card, self.config = runner, card, config

    def infer(self, tensors: list[np.ndarray]) -> list[tuple | str]:
        """Per image ``(scores, embedding)`` or an error string; batch first, then one by one."""
        try:
            return self._infer_batch(tensors)
        except Exception as exc:
            if len(tensors) == 1:
                return [one_line(f"inference failed: {type(exc).__name__}: {exc}")]
        return [self.infer([t])[0] for t in tensors]

    def _infer_batch(self, tensors: list[np.ndarray]) -> list[tuple]:
        raw, emb = self.runner.run(np.stack(tensors))
        scores = label_scores(raw, self.card)
        return [(scores[i], None if emb is None else emb[i]) for i in range(len(tensors))]

    def rows(self, batch: list[tuple[InputRow, _Prepared]]) -> list[list]:
        """The output rows of one batch, in input order."""
        ok = [i for i, (_, p) in enumerate(batch) if p.tensor is not None]
        results: dict[int, tuple | str] = {}
        infer_ms = 0.0
        if ok:
            start = time.perf_counter()
            for i, res in zip(ok, self.infer([batch[i][1].tensor for i in ok])):
                results[i] = res
            infer_ms = (time.perf_counter() - start) * 1000.0 / len(ok)
        return [self._row(row, prep, results.get(i), infer_ms)
                for i, (row, prep) in enumerate(batch)]

    def _row(self, row: InputRow, prep: _Prepared, result, infer_ms: float) -> list:
        cfg = self.config
        base = [row.sop, cfg.model_name, cfg.model_version]
        provider = self.runner.provider
        if prep.error is not None or not isinstance(result, tuple):
            error = prep.error if prep.error is not None else result
            values = base + [None, None, None, "error", error, round(prep.ms, 3), provider]
            return values + [None] if cfg.embeddings else values
        scores, emb = result
        if not np.all(np.isfinite(scores)):
            values = base + [None, None, None, "error", "the model produced non-finite scores",
                             round(prep.ms + infer_ms, 3), provider]
            return values + [None] if cfg.embeddings else values
        label, prob = decide(scores, self.card)
        values = base + [label, prob, [float(s) for s in scores], "ok", None,
                         round(prep.ms + infer_ms, 3), provider]
        if cfg.embeddings:
            values.append(None if emb is None or emb.size == 0 else [float(v) for v in emb])
        return values


def _encode(values: list, escape: bool) -> str:
    """One output line; a value the codec refuses turns the row into an error row."""
    try:
        return encode_row(values, escape)
    except (ValueError, TypeError) as exc:
        fallback = [None] + values[1:3] + [None, None, None, "error",
                                           one_line(f"cannot encode output row: {exc}")]
        fallback += values[8:10] + ([None] if len(values) > 10 else [])
        return encode_row(fallback, escape)


def run_pipeline(lines: Iterable[bytes | str], out: IO[str], runner, card: ModelCard,
                 config: PipelineConfig, decode: Decoder | None = None) -> Stats:
    """Score every input line and write the rows to ``out`` (a text stream); see the module
    docstring. ``runner`` needs ``run(x) -> (raw_scores, embeddings|None)`` and ``provider``;
    ``decode(uri, frame)`` defaults to :func:`preprocess.load_tensor` with ``card``."""
    if decode is None:
        from .preprocess import load_tensor

        def decode(uri: str, frame: int) -> np.ndarray:
            return load_tensor(uri, frame, card)

    stats, start = Stats(), time.perf_counter()
    scorer = _Scorer(runner, card, config)
    batches: queue.Queue = queue.Queue(maxsize=max(1, config.prefetch))
    pool = ThreadPoolExecutor(max_workers=max(1, config.decode_threads),
                              thread_name_prefix="onnx-infer-decode")
    reader = threading.Thread(target=_read_batches, name="onnx-infer-reader", daemon=True,
                              args=(lines, pool, batches, decode, config))
    reader.start()
    try:
        while True:
            item = batches.get()
            if isinstance(item, _End):
                if item.exc is not None:
                    raise item.exc
                break
            prepared = [(row, fut.result()) for row, fut in item]
            rows = scorer.rows(prepared)
            out.write("".join(_encode(v, config.escape) + "\n" for v in rows))
            out.flush()
            stats.rows += len(rows)
            stats.errors += sum(1 for v in rows if v[6] == "error")
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    stats.seconds = time.perf_counter() - start
    return stats


def stdin_lines() -> Iterable[bytes]:
    """The raw lines of the process's stdin (bytes: decoding is per row, lenient)."""
    return sys.stdin.buffer
