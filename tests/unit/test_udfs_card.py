"""The model card as the ONNX TRANSFORM script sees it (a bad card is a SetupError), and score
interpretation. The card's validation rules themselves are tested once, in test_models_card.py."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mi_warehouse.models.card import ModelCard
from mi_warehouse.udfs.errors import SetupError, one_line
from mi_warehouse.udfs.model_file import read_verified_model
from mi_warehouse.udfs.onnx_infer import load_script_card
from mi_warehouse.udfs.scoring import decide, label_scores

from .udfs_builders import CARD, card_dict


def parse_card(data: dict) -> ModelCard:
    return ModelCard.from_dict(data, "card.json")


def test_registry_json_card_loads_in_the_script(tmp_path):
    path = tmp_path / "card.json"
    card = parse_card(CARD)
    path.write_text(card.to_json(), encoding="utf-8")  # what the registry ships as card.json
    assert load_script_card(str(path)) == card


@pytest.mark.parametrize("content, message", [
    (None, "missing.json: cannot read model card"),
    ("{not json", "bad.json: not valid JSON (line 1"),
    (json.dumps(card_dict(labels=["only"])), "bad.json: labels: must be a list of at least 2"),
    (json.dumps(card_dict(preprocessing={"scaling": "magic"})),
     "bad.json: preprocessing.scaling: must be one of window, percentile"),
    (json.dumps([1, 2]), "bad.json: card: must be a mapping"),
])
def test_a_bad_card_is_a_one_line_setup_error_naming_the_file(tmp_path, content, message):
    path = tmp_path / ("missing.json" if content is None else "bad.json")
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(SetupError) as exc:
        load_script_card(str(path))
    assert message in str(exc.value) and "\n" not in str(exc.value)


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
