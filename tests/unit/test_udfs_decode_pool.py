"""Decoding in worker processes (``--decode-processes``): order, error rows, identical output to
the thread path, and no hang when a worker dies."""

from __future__ import annotations

import io
import os
import random
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from mi_warehouse.models.card import EMBEDDING_COLUMN, OUTPUT_COLUMNS, ModelCard
from mi_warehouse.serde.transform_codec import decode_row
from mi_warehouse.synth import generate
from mi_warehouse.udfs.decode_pool import (WORKER_DIED, DecodeWorkerError, ProcessDecoder,
                                           ThreadDecoder, auto_processes, decode_batch,
                                           usable_cpus)
from mi_warehouse.udfs.errors import ImageError, SetupError
from mi_warehouse.udfs.onnx_infer import parse_args
from mi_warehouse.udfs.pipeline import PipelineConfig, run_pipeline
from mi_warehouse.udfs.providers import ProviderChoice
from mi_warehouse.udfs.runner import OnnxRunner

from .udfs_builders import CARD, model_bytes

TYPES = [t for _, t in OUTPUT_COLUMNS]
CPU = ProviderChoice([("CPUExecutionProvider", {})], "cpu")


# --- decoders that travel to worker processes (module level: picklable) -------------------------

def value_decode(uri: str, frame: int) -> np.ndarray:
    """``img://<value>`` decodes to an image full of ``value``; ``bad://...`` fails;
    ``crash://...`` kills the process decoding it; ``slow://<value>`` sleeps a little."""
    if uri.startswith("crash://"):
        os._exit(3)
    if uri.startswith("bad://"):
        raise ImageError(f"cannot read {uri}:\tbroken")
    if uri.startswith("boom://"):
        raise KeyError("not an ImageError")
    if uri.startswith("slow://"):
        time.sleep(random.random() * 0.003)
        uri = "img://" + uri[len("slow://"):]
    return np.full((1, 2, 2), float(uri[len("img://"):]) + frame / 1000, np.float32)


class FakeRunner:
    """Scores ``[1 - v, v]`` where ``v`` is the tensor's first value."""

    provider = "cpu"

    def run(self, x):
        v = x[:, 0, 0, 0].astype(np.float64)
        return np.stack([1 - v, v], axis=1), x.reshape(len(x), -1)[:, :2]


def run(lines, runner=None, card=None, decode=value_decode, **cfg) -> tuple[str, object]:
    out = io.StringIO()
    config = PipelineConfig(model_name="m", model_version="1", **cfg)
    stats = run_pipeline(lines, out, runner or FakeRunner(), card or ModelCard.from_dict(CARD),
                         config, decode=decode)
    return out.getvalue(), stats


def without_latency(text: str, embeddings: bool = False) -> list[list]:
    types = TYPES + ([EMBEDDING_COLUMN[1]] if embeddings else [])
    rows = [decode_row(line, types) for line in text.splitlines()]
    return [r[:8] + r[9:] for r in rows]


def latency_free_lines(text: str) -> list[str]:
    """The raw output lines with the latency field blanked: a bit-for-bit comparison."""
    return ["\t".join(f if i != 8 else "" for i, f in enumerate(line.split("\t")))
            for line in text.splitlines()]


# --- the pipeline with worker processes ----------------------------------------------------------

def test_process_path_keeps_order_and_matches_threads():
    random.seed(3)
    lines = [f"sop{i}\tslow://{(i % 10) / 10}\t{i % 3}\n" for i in range(203)]
    by_processes, stats = run(lines, batch_size=7, prefetch=2, decode_processes=2)
    by_threads, _ = run(lines, batch_size=7, prefetch=2, decode_threads=1)
    rows = without_latency(by_processes)
    assert [r[0] for r in rows] == [f"sop{i}" for i in range(203)]
    assert [r[4] for r in rows] == pytest.approx(
        [(i % 10) / 10 + (i % 3) / 1000 for i in range(203)], abs=1e-6)
    assert latency_free_lines(by_processes) == latency_free_lines(by_threads)
    assert stats.rows == 203 and stats.errors == 0


def test_process_path_error_rows_are_those_of_the_thread_path():
    lines = ["a\timg://0.9\n", "b\tbad://x\n", "c\t\\N\n", "d\timg://0.1\tnot-a-number\n",
             "e\tboom://y\n", "f\timg://0.2\t-1\n", "g\timg://0.7\n", "h\tbad://z\t2\n"]
    by_processes, stats = run(lines, batch_size=3, decode_processes=2)
    by_threads, _ = run(lines, batch_size=3)
    rows = without_latency(by_processes)
    assert [r[0] for r in rows] == list("abcdefgh")
    assert [r[6] for r in rows] == ["ok", "error", "error", "error", "error", "error", "ok",
                                    "error"]
    assert rows[1][7] == "cannot read bad://x: broken"
    assert rows[4][7] == "KeyError: 'not an ImageError'"
    assert latency_free_lines(by_processes) == latency_free_lines(by_threads)
    assert stats.errors == 6


@pytest.fixture(scope="module")
def dicom_rows(tmp_path_factory) -> list[str]:
    """Input rows over synthetic DICOMs plus a truncated file, a text file and a missing one."""
    root = tmp_path_factory.mktemp("decode_pool_corpus")
    generate(root / "dicom", patients=4, seed=5)
    files = sorted((root / "dicom").rglob("*.dcm"))
    truncated = root / "truncated.dcm"
    truncated.write_bytes(files[0].read_bytes()[:-3000])
    text = root / "notes.txt"
    text.write_text("not an image\n" * 20, encoding="utf-8")
    uris = [f"file://{f}" for f in files]
    uris[3:3] = [str(truncated), f"file://{text}", str(root / "missing.dcm")]
    return [f"s{i}\t{uri}\t0\n" for i, uri in enumerate(uris)]


def test_real_images_and_model_give_bit_identical_output(dicom_rows):
    card = ModelCard.from_dict(CARD)
    runner = OnnxRunner(model_bytes(), card, CPU, batch_size=8, embeddings=True)
    outputs = [run(dicom_rows, runner=runner, card=card, decode=None, batch_size=8,
                   embeddings=True, **kw)[0]
               for kw in ({"decode_threads": 1}, {"decode_threads": 3},
                          {"decode_processes": 1}, {"decode_processes": 2})]
    reference = latency_free_lines(outputs[0])
    assert len(reference) == len(dicom_rows)
    for other in outputs[1:]:
        assert latency_free_lines(other) == reference
    rows = without_latency(outputs[0], embeddings=True)
    assert [r[6] for r in rows].count("error") == 3
    assert [r[0] for r in rows] == [f"s{i}" for i in range(len(dicom_rows))]
    assert "not a DICOM file" in rows[4][7] and "not found" in rows[5][7]


# --- a worker process that dies ----------------------------------------------------------------

def _bounded(fn, seconds: float = 120.0):
    """Run ``fn`` in a thread; fail (instead of hanging the suite) when it does not finish."""
    result: dict = {}

    def target():
        try:
            result["value"] = fn()
        except BaseException as exc:  # noqa: BLE001
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "the pipeline hung"
    if "error" in result:
        raise result["error"]
    return result["value"]


def test_an_image_that_kills_its_worker_gets_its_own_error_row():
    lines = [f"s{i}\timg://{i / 100}\n" for i in range(40)]
    lines[13] = "s13\tcrash://x\n"
    lines[29] = "s29\tbad://y\n"
    text, stats = _bounded(lambda: run(lines, batch_size=4, prefetch=3, decode_processes=2))
    rows = without_latency(text)
    assert [r[0] for r in rows] == [f"s{i}" for i in range(40)]
    assert [i for i, r in enumerate(rows) if r[6] == "error"] == [13, 29]
    assert rows[13][7] == WORKER_DIED
    assert rows[29][7] == "cannot read bad://y: broken"
    assert [r[4] for i, r in enumerate(rows) if i not in (13, 29)] == pytest.approx(
        [i / 100 for i in range(40) if i not in (13, 29)])
    assert stats.rows == 40 and stats.errors == 2


def test_workers_that_keep_dying_stop_the_pipeline_with_one_line():
    lines = [f"s{i}\tcrash://{i}\n" for i in range(30)]
    with pytest.raises(DecodeWorkerError) as info:
        _bounded(lambda: run(lines, batch_size=4, decode_processes=2))
    message = str(info.value)
    assert "\n" not in message and "died on 5 images in a row" in message


class _Unloadable:
    """Pickles, but cannot be unpickled: the worker fails while starting."""

    def __reduce__(self):
        return (_refuse, ())


def _refuse():
    raise RuntimeError("no card for you")


def test_workers_that_cannot_start_are_a_setup_error():
    decoder = ProcessDecoder(_Unloadable(), 1, start_timeout=60)
    try:
        with pytest.raises(SetupError, match="cannot start decode worker processes"):
            _bounded(decoder.ready)
    finally:
        decoder.close()


# --- building blocks ---------------------------------------------------------------------------

def test_decode_batch_stacks_the_good_images_and_never_raises():
    items = [("img://0.5", 0, None), ("bad://a", 0, None), (None, 0, "image_uri is NULL"),
             ("img://0.25", 2, None)]
    decoded = decode_batch(items, value_decode)
    assert decoded.errors == [None, "cannot read bad://a: broken", "image_uri is NULL", None]
    assert isinstance(decoded.tensors, np.ndarray) and decoded.tensors.shape == (2, 1, 2, 2)
    assert decoded.tensors[1, 0, 0, 0] == np.float32(0.252)
    assert len(decoded.ms) == 4 and decoded.ms[2] == 0.0
    assert decode_batch([("bad://a", 0, None)], value_decode).tensors is None


def test_thread_decoder_matches_decode_batch():
    decoder = ThreadDecoder(ModelCard.from_dict(CARD), 2, value_decode)
    try:
        items = [("img://0.5", 1, None), ("bad://q", 0, None)]
        decoded = decoder.result(decoder.submit(items), items)
        assert decoded.errors == decode_batch(items, value_decode).errors
    finally:
        decoder.close()


def test_auto_processes_and_the_command_line(monkeypatch):
    assert auto_processes(1) == 0 and auto_processes(2) == 2 and auto_processes(64) == 2
    assert usable_cpus() >= 1
    base = ["--model-file", "m", "--sha256", "0", "--card", "c", "--model-name", "n",
            "--model-version", "1"]
    args = parse_args(base)
    assert args.decode_threads == 1 and args.decode_processes == auto_processes()
    assert not args.explicit_processes
    args = parse_args(base + ["--decode-processes", "3"])
    assert args.decode_processes == 3 and args.explicit_processes
    assert parse_args(base + ["--decode-processes", "0"]).decode_processes == 0
    with pytest.raises(SystemExit):
        parse_args(base + ["--decode-processes", "-1"])
    with pytest.raises(SystemExit):
        parse_args(base + ["--decode-processes", "many"])


def test_cgroup_quotas_are_read_in_cpus(tmp_path):
    from mi_warehouse.udfs.decode_pool import _v1_quota, _v2_quota

    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert _v2_quota(str(tmp_path)) == 1.5
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert _v2_quota(str(tmp_path)) is None
    (tmp_path / "cpu.cfs_quota_us").write_text("-1\n")
    (tmp_path / "cpu.cfs_period_us").write_text("100000\n")
    assert _v1_quota(str(tmp_path)) is None
    (tmp_path / "cpu.cfs_quota_us").write_text("200000\n")
    assert _v1_quota(str(tmp_path)) == 2.0
    assert _v2_quota(str(tmp_path / "nowhere")) is None
