"""The streaming TRANSFORM loop: rows in, images decoded ahead, batches scored, rows out in order.

Threads::

    reader thread ── reads stdin lazily, groups rows into batches of ``batch_size``, hands each
                     batch's decode+preprocess to the decoder (:mod:`.decode_pool`: a thread
                     pool, or worker processes with ``decode_processes``) and queues the batch
                     (``queue.Queue(maxsize=prefetch)``: at most ``prefetch`` batches wait, so
                     memory stays bounded however many rows Hive pipes in)
    decoder       ── decodes whole batches (:func:`.decode_pool.decode_batch`) and returns their
                     tensors already stacked
    main thread   ── takes batches in input order, waits for their decodes, runs the model on
                     the images that decoded, writes one row per input row, flushes

Every input row gives exactly one output row, in input order, with the columns of
:data:`mi_warehouse.models.card.OUTPUT_COLUMNS` (the contract ``inference.sql`` reads; rows are
built by column name and laid out in that order). A row whose image cannot be
read gets ``status='error'`` and a one-line reason; if a whole batch fails in onnxruntime the
images are retried one by one so that only the culprit is marked.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from dataclasses import dataclass
from typing import IO, Iterable

import numpy as np

from ..models.card import EMBEDDING_COLUMN, INPUT_COLUMNS, OUTPUT_COLUMNS, ModelCard
from ..serde.transform_codec import decode_row, encode_row
from .decode_pool import Decoded, Decoder, make_decoder
from .errors import one_line
from .scoring import decide, label_scores, score_problem

__all__ = ["INPUT_COLUMNS", "OUTPUT_COLUMNS", "EMBEDDING_COLUMN", "PipelineConfig", "Stats",
           "InputRow", "parse_input", "run_pipeline"]

_INPUT_TYPES = [t for _, t in INPUT_COLUMNS]
_OUTPUT_NAMES = tuple(n for n, _ in OUTPUT_COLUMNS)
_STATUS = _OUTPUT_NAMES.index("status")


def _values(fields: dict, embeddings: bool) -> list:
    """One output row in the contract's column order (absent columns are NULL)."""
    values = [fields.get(name) for name in _OUTPUT_NAMES]
    if embeddings:
        values.append(fields.get(EMBEDDING_COLUMN[0]))
    return values


@dataclass(frozen=True)
class PipelineConfig:
    """Settings of :func:`run_pipeline`."""

    model_name: str
    model_version: str
    batch_size: int = 16
    prefetch: int = 4
    decode_threads: int = 1
    decode_processes: int = 0
    embeddings: bool = False
    escape: bool = False
    provider_label: str | None = None  # the provider column (default: the runner's provider)


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


def _read_batches(lines: Iterable[bytes | str], decoder, out: queue.Queue,
                  config: PipelineConfig) -> None:
    """Reader thread body (see the module docstring)."""
    batch: list[InputRow] = []
    try:
        for line in lines:
            batch.append(parse_input(line, config.escape))
            if len(batch) >= config.batch_size:
                _submit(batch, decoder, out)
                batch = []
        if batch:
            _submit(batch, decoder, out)
        out.put(_End())
    except BaseException as exc:  # noqa: BLE001 - handed to the main thread
        out.put(_End(exc))


def _submit(batch: list[InputRow], decoder, out: queue.Queue) -> None:
    items = [(row.uri, row.frame, row.problem) for row in batch]
    out.put((batch, items, decoder.submit(items)))


class _Scorer:
    """Runs the model over one batch and formats its output rows."""

    def __init__(self, runner, card: ModelCard, config: PipelineConfig):
        self.runner, self.card, self.config = runner, card, config

    def infer(self, tensors: np.ndarray | list[np.ndarray]) -> list[tuple | str]:
        """Per image ``(scores, score list, embedding)`` or an error string; batch first, then
        one by one. ``tensors``: a stacked ``(n, ...)`` array or a list of arrays."""
        try:
            return self._infer_batch(tensors)
        except Exception as exc:
            if len(tensors) == 1:
                return [one_line(f"inference failed: {type(exc).__name__}: {exc}")]
        if isinstance(tensors, np.ndarray):
            return [self.infer(tensors[i:i + 1])[0] for i in range(len(tensors))]
        return [self.infer([t])[0] for t in tensors]

    def _infer_batch(self, tensors: np.ndarray | list[np.ndarray]) -> list[tuple]:
        x = tensors if isinstance(tensors, np.ndarray) else np.stack(tensors)
        raw, emb = self.runner.run(x)
        scores = label_scores(raw, self.card)
        finite = np.isfinite(scores).all(axis=1)
        as_lists = scores.tolist()
        return [(scores[i], as_lists[i] if finite[i] else None,
                 None if emb is None else emb[i]) for i in range(len(x))]

    def rows(self, batch: list[InputRow], decoded: Decoded) -> list[list]:
        """The output rows of one batch, in input order."""
        errors, ms = decoded.errors, decoded.ms
        ok = [i for i, error in enumerate(errors) if error is None]
        results: list = [None] * len(batch)
        infer_ms = 0.0
        if ok:
            start = time.perf_counter()
            for i, res in zip(ok, self.infer(decoded.tensors)):
                results[i] = res
            infer_ms = (time.perf_counter() - start) * 1000.0 / len(ok)
        return [self._row(row, errors[i], ms[i], results[i], infer_ms)
                for i, row in enumerate(batch)]

    def _row(self, row: InputRow, error: str | None, ms: float, result, infer_ms: float) -> list:
        cfg = self.config
        fields = {"sop_instance_uid": row.sop, "model_name": cfg.model_name,
                  "model_version": cfg.model_version,
                  "provider": cfg.provider_label or self.runner.provider}
        if error is not None or not isinstance(result, tuple):
            fields.update(status="error", error=error if error is not None else result,
                          latency_ms=round(ms, 3))
            return _values(fields, cfg.embeddings)
        scores, score_list, emb = result
        fields["latency_ms"] = round(ms + infer_ms, 3)
        problem = score_problem(scores, self.card)
        if problem is not None:
            fields.update(status="error", error=problem)
            return _values(fields, cfg.embeddings)
        label, prob = decide(scores, self.card)
        fields.update(predicted_label=label, probability=prob, scores=score_list, status="ok")
        if cfg.embeddings and emb is not None and emb.size:
            fields[EMBEDDING_COLUMN[0]] = emb.tolist()
        return _values(fields, cfg.embeddings)


def _encode(values: list, escape: bool) -> str:
    """One output line; a value the codec refuses turns the row into an error row (which keeps
    the model, the latency and the provider, and drops the SOP instance UID)."""
    try:
        return encode_row(values, escape)
    except (ValueError, TypeError) as exc:
        kept = dict(zip(_OUTPUT_NAMES, values))
        fallback = {name: kept[name] for name in ("model_name", "model_version", "latency_ms",
                                                  "provider")}
        fallback.update(status="error", error=one_line(f"cannot encode output row: {exc}"))
        return encode_row(_values(fallback, len(values) > len(_OUTPUT_NAMES)), escape)


def run_pipeline(lines: Iterable[bytes | str], out: IO[str], runner, card: ModelCard,
                 config: PipelineConfig, decode: Decoder | None = None,
                 decoder=None) -> Stats:
    """Score every input line and write the rows to ``out`` (a text stream); see the module
    docstring. ``runner`` needs ``run(x) -> (raw_scores, embeddings|None)`` and ``provider``;
    ``decode(uri, frame)`` defaults to :func:`preprocess.load_tensor` with ``card`` (with
    ``config.decode_processes`` it must be picklable). ``decoder``: an already started
    :mod:`.decode_pool` decoder to use instead of one made from ``config`` (the caller closes
    it)."""
    own = decoder is None
    if own:
        decoder = make_decoder(card, config.decode_threads, config.decode_processes, decode,
                               config.batch_size)
    try:
        if own:
            decoder.ready()
        return _run(lines, out, runner, card, config, decoder)
    finally:
        if own:
            decoder.close()


def _run(lines, out: IO[str], runner, card: ModelCard, config: PipelineConfig, decoder) -> Stats:
    stats, start = Stats(), time.perf_counter()
    scorer = _Scorer(runner, card, config)
    batches: queue.Queue = queue.Queue(maxsize=max(1, config.prefetch))
    reader = threading.Thread(target=_read_batches, name="onnx-infer-reader", daemon=True,
                              args=(lines, decoder, batches, config))
    reader.start()
    while True:
        item = batches.get()
        if isinstance(item, _End):
            if item.exc is not None:
                raise item.exc
            break
        batch, items, handle = item
        rows = scorer.rows(batch, decoder.result(handle, items))
        out.write("".join([_encode(v, config.escape) + "\n" for v in rows]))
        out.flush()
        stats.rows += len(rows)
        stats.errors += sum(1 for v in rows if v[_STATUS] == "error")
    stats.seconds = time.perf_counter() - start
    return stats


def stdin_lines() -> Iterable[bytes]:
    """The raw lines of the process's stdin (bytes: decoding is per row, lenient)."""
    return sys.stdin.buffer
