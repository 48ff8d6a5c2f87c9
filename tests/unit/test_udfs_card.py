"""Model card loader and score interpretation of the ONNX TRANSFORM script."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mi_warehouse.udfs.errors import SetupError, one_line
from mi_warehouse.udfs.model_card import load_card, parse_card
from mi_warehouse.udfs.model_file import read_verified_model
from mi_warehouse.udfs.scoring import decide, label_scores

from .test_udfs_support import CARD, card_dict


def test_full_card_parses():
    card = parse_card(CARD)
    assert card.labels == ("normal", "finding") and card.positive_index == 1
    assert card.input.height == 64 and card.input.layout == "NCHW"
    assert card.output.kind == "softmax" and card.embedding_output == "embedding"
    prep = card.preprocessing
    assert prep.window_center is None and prep.percentile == (1.0, 99.0)
    assert prep.mean == (0.5,) and prep.std == (0.25,)


@pytest.mark.parametrize("changes, message", [
    ({"labels": ["only"]}, "labels"),
    ({"positive_label": "other"}, "positive_label"),
    ({"decision_threshold": 1.5}, "decision_threshold"),
    ({"output": {"name": "p", "kind": "relu"}}, "output.kind"),
    ({"input": {"name": "image", "channels": 2, "height": 8, "width": 8}}, "channels"),
    ({"input": {"name": "image", "height": 0, "width": 8}}, "height"),
    ({"preprocessing": {"scaling": "magic"}}, "scaling"),
    ({"preprocessing": {"window": {"center": 40, "width": None}}}, "both"),
    ({"preprocessing": {"percentile": [99, 1]}}, "percentile"),
    ({"preprocessing": {"normalisation": {"mean": 0.5, "std": 0}}}, "std"),
    ({"preprocessing": {"resize": "lanczos"}}, "resize"),
    ({"name": ""}, "name"),
])
def test_bad_cards_are_setup_errors(changes, message):
    with pytest.raises(SetupError, match=message):
        parse_card(card_dict(**changes))


def test_load_card_errors_name_the_file(tmp_path):
    with pytest.raises(SetupError, match="cannot read model card"):
        load_card(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(SetupError, match="bad.json is not valid JSON"):
        load_card(bad)
    ok = tmp_path / "ok.json"
    ok.write_text(json.dumps(card_dict(version=3)), encoding="utf-8")
    assert load_card(ok).version == "3"


def test_read_verified_model(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"model")
    import hashlib
    good = hashlib.sha256(b"model").hexdigest()
    assert read_verified_model(path, good.upper()) == b"model"
    with pytest.raises(SetupError, match="sha256 mismatch"):
        read_verified_model(path, "0" * 64)
    with pytest.raises(SetupError, match="64 hex digits"):
        read_verified_model(path, "abc")
    with pytest.raises(SetupError, match="model file not found"):
        read_verified_model(tmp_path / "nope.onnx", good)


def test_softmax_scores_and_decision():
    card = parse_card(CARD)
    scores = label_scores(np.array([[0.3, 0.7], [0.6, 0.4], [0.5, 0.5]], np.float32), card)
    assert [decide(s, card)[0] for s in scores] == ["finding", "normal", "finding"]
    assert decide(scores[0], card)[1] == pytest.approx(0.7)


def test_logits_get_a_softmax():
    card = parse_card(card_dict(output={"name": "probabilities", "kind": "logits"}))
    scores = label_scores(np.array([[0.0, np.log(3.0)]]), card)
    assert scores[0].tolist() == pytest.approx([0.25, 0.75])


def test_single_sigmoid_output_is_the_positive_probability():
    card = parse_card(card_dict(output={"name": "probabilities", "kind": "sigmoid"},
                                labels=["finding", "normal"]))
    scores = label_scores(np.array([[0.8], [0.1]]), card)
    assert np.allclose(scores, [[0.8, 0.2], [0.1, 0.9]])
    assert decide(scores[1], card) == ("normal", pytest.approx(0.1))


def test_threshold_and_wrong_width():
    card = parse_card(card_dict(decision_threshold=0.9))
    assert decide(np.array([0.15, 0.85]), card)[0] == "normal"
    with pytest.raises(ValueError, match="3 values"):
        label_scores(np.zeros((1, 3)), card)


def test_three_labels_fall_back_to_best_other():
    card = parse_card(card_dict(labels=["a", "b", "finding"]))
    assert decide(np.array([0.1, 0.5, 0.4]), card) == ("b", pytest.approx(0.4))


def test_one_line():
    assert one_line("a\tb\n  c") == "a b c"
    assert len(one_line("x" * 1000, 50)) == 50
