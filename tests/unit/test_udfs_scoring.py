"""Scoring rejects what is not a probability: a NaN, an infinity or a positive-class probability
outside [0, 1] becomes a per-row error (one line), in scoring and through the TRANSFORM pipeline."""

from __future__ import annotations

import io

import numpy as np
import pytest

from mi_warehouse.models.card import OUTPUT_COLUMNS, ModelCard
from mi_warehouse.serde.transform_codec import decode_row
from mi_warehouse.udfs.pipeline import PipelineConfig, run_pipeline
from mi_warehouse.udfs.scoring import score_problem

from .udfs_builders import CARD, card_dict

TYPES = [t for _, t in OUTPUT_COLUMNS]
NAMES = [n for n, _ in OUTPUT_COLUMNS]


@pytest.mark.parametrize("scores", [[0.0, 1.0], [1.0, 0.0], [0.3, 0.7], [0.5, 0.5]])
def test_probabilities_in_range_pass(scores):
    assert score_problem(np.array(scores), ModelCard.from_dict(CARD)) is None


@pytest.mark.parametrize("scores,words", [
    ([0.5, float("nan")], "non-finite"), ([float("inf"), 0.5], "non-finite"),
    ([0.1, -float("inf")], "non-finite"), ([-0.5, 1.5], "outside [0, 1]"),
    ([1.2, -0.2], "outside [0, 1]"), ([0.0, -1e-12], "outside [0, 1]")])
def test_nan_infinite_and_out_of_range_are_one_line_reasons(scores, words):
    problem = score_problem(np.array(scores), ModelCard.from_dict(CARD))
    assert problem is not None and words in problem and "\n" not in problem


def test_the_positive_label_decides_which_score_is_checked():
    card = ModelCard.from_dict(card_dict(labels=["finding", "normal"]))  # positive first
    assert score_problem(np.array([0.4, 1.6]), card) is None  # 1.6 is not the positive score
    assert "outside" in score_problem(np.array([1.6, 0.4]), card)


class _ValueRunner:
    """Raw scores ``[1 - v, v]`` for an image full of ``v`` (the card's output kind is softmax,
    so they reach scoring unchanged)."""

    provider = "cpu"

    def run(self, x):
        v = x[:, 0, 0, 0].astype(np.float64)
        return np.stack([1 - v, v], axis=1), None


def test_pipeline_writes_error_rows_for_bad_probabilities():
    values = ["0.25", "1.5", "-0.5", "nan", "1.0"]
    lines = [f"s{i}\timg://{v}\n" for i, v in enumerate(values)]
    out = io.StringIO()
    run_pipeline(lines, out, _ValueRunner(), ModelCard.from_dict(CARD),
                 PipelineConfig(model_name="m", model_version="1"),
                 decode=lambda uri, frame: np.full((1, 2, 2), float(uri[6:]), np.float32))
    rows = [dict(zip(NAMES, decode_row(line, TYPES))) for line in out.getvalue().splitlines()]
    assert [r["sop_instance_uid"] for r in rows] == [f"s{i}" for i in range(5)]
    assert [r["status"] for r in rows] == ["ok", "error", "error", "error", "ok"]
    for r in rows:
        if r["status"] == "error":
            assert r["probability"] is None and r["predicted_label"] is None and r["error"]
        else:
            assert 0.0 <= r["probability"] <= 1.0 and r["error"] is None
    assert "outside [0, 1]" in rows[1]["error"] and "non-finite" in rows[3]["error"]
