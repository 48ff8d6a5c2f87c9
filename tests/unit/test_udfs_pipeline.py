"""Streaming loop and onnxruntime runner of the ONNX TRANSFORM script, in process."""

from __future__ import annotations

import io
import random
import threading
import time

import numpy as np
import pytest

from mi_warehouse.models.card import OUTPUT_COLUMNS, ModelCard
from mi_warehouse.serde.transform_codec import decode_row
from mi_warehouse.udfs.errors import ImageError, SetupError
from mi_warehouse.udfs.pipeline import PipelineConfig, parse_input, run_pipeline
from mi_warehouse.udfs.providers import ProviderChoice
from mi_warehouse.udfs.runner import OnnxRunner

from .udfs_builders import CARD, card_dict, model_bytes

TYPES = [t for _, t in OUTPUT_COLUMNS]
CPU = ProviderChoice([("CPUExecutionProvider", {})], "cpu")


class FakeRunner:
    """Scores = softmax-free ``[1 - v, v]`` where ``v`` is the tensor's first value."""

    provider = "cpu"

    def __init__(self, fail_on: float | None = None):
        self.fail_on, self.batches = fail_on, []

    def run(self, x):
        self.batches.append(len(x))
        if self.fail_on is not None and np.any(x[:, 0, 0, 0] == self.fail_on):
            raise RuntimeError("boom\nsecond line")
        v = x[:, 0, 0, 0].astype(np.float64)
        return np.stack([1 - v, v], axis=1), x.reshape(len(x), -1)[:, :2]


def fake_decode(uri: str, frame: int) -> np.ndarray:
    """``img://<value>`` decodes to an image full of ``value``; ``bad://...`` fails."""
    time.sleep(random.random() * 0.002)
    if uri.startswith("bad://"):
        raise ImageError(f"cannot read {uri}:\tbroken")
    return np.full((1, 2, 2), float(uri[len("img://"):]) + frame / 1000, np.float32)


def run(lines, runner=None, **cfg):
    out = io.StringIO()
    config = PipelineConfig(model_name="m", model_version="1", **cfg)
    stats = run_pipeline(lines, out, runner or FakeRunner(), ModelCard.from_dict(CARD), config,
                         decode=fake_decode)
    types = TYPES + (["array<double>"] if config.embeddings else [])
    return [decode_row(line, types, config.escape) for line in out.getvalue().splitlines()], stats


def test_order_is_preserved_across_batches_and_threads():
    random.seed(7)
    lines = [f"sop{i}\timg://{(i % 10) / 10}\n".encode() for i in range(203)]
    rows, stats = run(lines, batch_size=7, prefetch=2, decode_threads=4)
    assert [r[0] for r in rows] == [f"sop{i}" for i in range(203)]
    assert [r[4] for r in rows] == pytest.approx([(i % 10) / 10 for i in range(203)], abs=1e-6)
    assert stats.rows == 203 and stats.errors == 0
    assert {r[6] for r in rows} == {"ok"} and all(r[7] is None for r in rows)


def test_bad_rows_get_error_rows_in_place():
    lines = ["a\timg://0.9\n", "b\tbad://x\n", "c\t\\N\n", "d\timg://0.1\tnot-a-number\n",
             "e\timg://0.2\t3\n", "f\timg://0.2\t-1\n", "\\N\timg://0.7\n"]
    rows, stats = run(lines, batch_size=3)
    assert [r[0] for r in rows] == ["a", "b", "c", "d", "e", "f", None]
    assert [r[6] for r in rows] == ["ok", "error", "error", "error", "ok", "error", "ok"]
    assert rows[1][7] == "cannot read bad://x: broken"  # one line, no TAB
    assert "image_uri is NULL" in rows[2][7] and "not an integer" in rows[3][7]
    assert "negative" in rows[5][7]
    assert rows[0][3:5] == ["finding", pytest.approx(0.9)]
    assert rows[4][4] == pytest.approx(0.203)  # frame 3 reached the decoder
    for r in rows:
        if r[6] == "error":
            assert r[3] is None and r[4] is None and r[5] is None
        assert r[1:3] == ["m", "1"] and r[9] == "cpu" and r[8] >= 0
    assert stats.errors == 4


def test_a_failing_batch_is_retried_image_by_image():
    lines = [f"s{i}\timg://{v}\n" for i, v in enumerate([0.1, 0.5, 0.2, 0.3])]
    runner = FakeRunner(fail_on=0.5)
    rows, _ = run(lines, runner=runner, batch_size=4)
    assert [r[6] for r in rows] == ["ok", "error", "ok", "ok"]
    assert rows[1][7] == "inference failed: RuntimeError: boom second line"
    assert runner.batches == [4, 1, 1, 1, 1]


def test_embeddings_column_and_escaping():
    rows, _ = run(["a\\tb\timg://0.25\n", "c\tbad://y\n"], embeddings=True, escape=True)
    assert rows[0][0] == "a\tb" and rows[0][10] == pytest.approx([0.25, 0.25])
    assert rows[1][10] is None and len(rows[1]) == 11


def test_parse_input_is_lenient_with_bytes():
    row = parse_input(b"s\xff1\tfile:///x.dcm\t2\n")
    assert row.sop == "s\ufffd1" and row.uri == "file:///x.dcm" and row.frame == 2
    assert parse_input("s\t/x.dcm\n").frame == 0


def test_input_is_streamed_with_bounded_prefetch():
    consumed = 0
    first_write_at = []

    def lines():
        nonlocal consumed
        for i in range(2000):
            consumed += 1
            yield f"s{i}\timg://0.5\n"

    class Out(io.StringIO):
        def write(self, s):
            if not first_write_at:
                first_write_at.append(consumed)
            return super().write(s)

    config = PipelineConfig(model_name="m", model_version="1", batch_size=8, prefetch=2)
    out = Out()
    run_pipeline(lines(), out, FakeRunner(), ModelCard.from_dict(CARD), config, decode=fake_decode)
    assert len(out.getvalue().splitlines()) == 2000
    assert first_write_at[0] <= (2 + 3) * 8  # queue + the batch in hand + the one being read


def test_reader_failure_is_raised_not_swallowed():
    def lines():
        yield "a\timg://0.1\n"
        raise OSError("stdin went away")

    with pytest.raises(OSError, match="stdin went away"):
        run(lines())
    assert threading.active_count() < 50


# --- the real onnxruntime runner ------------------------------------------------------------------

def test_runner_on_cpu_scores_and_embeds():
    card = ModelCard.from_dict(CARD)
    runner = OnnxRunner(model_bytes(), card, CPU, batch_size=4, embeddings=True)
    assert runner.provider == "cpu" and runner.batch_size == 4 and not runner.pad
    x = np.stack([np.full((1, 64, 64), v, np.float32) for v in (-1.0, 0.0, 1.0, 2.0, 0.5)])
    raw, emb = runner.run(x)
    assert raw.shape == (5, 2) and emb.shape == (5, 1)
    expected = 1.0 / (1.0 + np.exp(2.0 * np.array([-1.0, 0.0, 1.0, 2.0, 0.5])))
    assert np.allclose(raw[:, 1], expected, atol=1e-6)


def test_runner_fixed_batch_model_is_padded():
    runner = OnnxRunner(model_bytes(batch=2), ModelCard.from_dict(CARD), CPU, batch_size=16)
    assert runner.batch_size == 2 and runner.pad
    raw, emb = runner.run(np.zeros((3, 1, 64, 64), np.float32))
    assert raw.shape == (3, 2) and emb is None


@pytest.mark.parametrize("card, kw, message", [
    (card_dict(input={"name": "pixels", "channels": 1, "height": 64, "width": 64}), {},
     "no input 'pixels'"),
    (card_dict(input={"name": "image", "channels": 1, "height": 32, "width": 64}), {},
     "H=64 but the card says 32"),
    (card_dict(output={"name": "scores", "kind": "softmax"}), {}, "no output 'scores'"),
    (card_dict(labels=["a", "b", "finding"]), {}, "3 labels"),
    (card_dict(embedding_output=None), {"embeddings": True}, "no embedding_output"),
])
def test_runner_rejects_a_card_that_does_not_fit_the_model(card, kw, message):
    with pytest.raises(SetupError, match=message):
        OnnxRunner(model_bytes(), ModelCard.from_dict(card), CPU, **kw)


def test_runner_rejects_a_broken_model():
    with pytest.raises(SetupError, match="cannot load the model"):
        OnnxRunner(b"not an onnx model", ModelCard.from_dict(CARD), CPU)


def test_sigmoid_model_end_to_end_in_process():
    card = ModelCard.from_dict(card_dict(output={"name": "probabilities", "kind": "sigmoid"}))
    runner = OnnxRunner(model_bytes(kind="sigmoid", n_out=1), card, CPU, batch_size=2)
    out = io.StringIO()
    config = PipelineConfig(model_name="m", model_version="1", batch_size=2)
    run_pipeline(["a\tx\n"], out, runner, card, config,
                 decode=lambda uri, frame: np.zeros((1, 64, 64), np.float32))
    row = decode_row(out.getvalue(), TYPES)
    assert row[4] == pytest.approx(0.5) and row[5] == pytest.approx([0.5, 0.5])
    assert row[3] == "finding"


def test_non_finite_scores_are_error_rows():
    class NaNRunner(FakeRunner):
        def run(self, x):
            raw, emb = super().run(x)
            raw[x[:, 0, 0, 0] == np.float32(0.3)] = np.nan
            return raw, emb

    rows, _ = run(["a\timg://0.3\n", "b\timg://0.4\n"], runner=NaNRunner())
    assert [r[6] for r in rows] == ["error", "ok"]
    assert rows[0][7] == "the model produced non-finite scores" and rows[0][4] is None
