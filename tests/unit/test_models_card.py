"""The model-card contract (mi_warehouse.models.card): loading, round trips, one-line
validation errors (each rule tested once, here), the TRANSFORM row columns, and the contract's
light imports."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mi_warehouse.errors import MiWarehouseError
from mi_warehouse.models.card import (EMBEDDING_COLUMN, INPUT_COLUMNS, OUTPUT_COLUMNS, ModelCard,
                                      ModelCardInvalid, load_card, output_columns)
from mi_warehouse.models.demo import DEMO_CARD

SRC = str(Path(__file__).resolve().parents[2] / "src")

EXAMPLE = """
name: chest-finding-resnet
version: "1.0.0"
description: test card
labels: [normal, finding]
positive_label: finding
decision_threshold: 0.5
input: {name: image, layout: NCHW, channels: 1, height: 64, width: 64}
output: {name: probabilities, kind: softmax}
embedding_output: embedding
preprocessing:
  scaling: window
  window: {center: null, width: null}
  percentile: [1.0, 99.0]
  normalisation: {mean: 0.5, std: 0.25}
  resize: bilinear
training: {cohort: "synthetic", run: "r1", data: "d1", parent_version: null}
metrics: {held_out: {n: 10, auc: 0.9}}
"""


@pytest.fixture
def example() -> dict:
    return yaml.safe_load(EXAMPLE)


def test_example_loads_with_every_field(tmp_path, example):
    path = tmp_path / "card.yaml"
    path.write_text(EXAMPLE)
    card = load_card(path)
    assert card.name == "chest-finding-resnet" and card.version == "1.0.0"
    assert card.labels == ("normal", "finding") and card.positive_index == 1
    assert (card.input.name, card.input.layout, card.input.channels) == ("image", "NCHW", 1)
    assert (card.output.name, card.output.kind, card.embedding_output) == ("probabilities", "softmax", "embedding")
    assert card.preprocessing.window.center is None and card.preprocessing.percentile == (1.0, 99.0)
    assert card.preprocessing.normalisation.std == 0.25
    assert card.training.parent_version is None
    assert card.metrics == {"held_out": {"n": 10, "auc": 0.9}}
    assert card.to_dict() == example  # same structure and key order as the documented card
    assert list(card.to_dict()) == list(example)


def test_round_trips(tmp_path, example):
    card = ModelCard.from_dict(example)
    assert ModelCard.from_dict(card.to_dict()) == card
    assert ModelCard.from_json(card.to_json()) == card
    assert json.loads(card.to_json(indent=2)) == example
    path = tmp_path / "card.json"
    path.write_text(card.to_json())
    assert load_card(path) == card


def test_optional_fields_get_defaults(example):
    for key in ("description", "embedding_output", "training", "metrics"):
        del example[key]
    del example["preprocessing"]["window"], example["preprocessing"]["resize"]
    card = ModelCard.from_dict(example)
    d = card.to_dict()
    assert d["description"] == "" and d["embedding_output"] is None and d["metrics"] == {}
    assert d["training"] == {"cohort": "", "run": "", "data": "", "parent_version": None}
    assert d["preprocessing"]["window"] == {"center": None, "width": None}
    assert d["preprocessing"]["resize"] == "bilinear"


def test_demo_card_is_valid_and_reports_held_out_metrics():
    card = load_card(DEMO_CARD)
    held_out = card.metrics["held_out"]
    for key in ("n", "auc", "accuracy", "sensitivity", "specificity", "threshold"):
        assert key in held_out
    assert held_out["threshold"] == card.decision_threshold
    assert card.input.height == card.input.width == 64


def _set(path: str, value):
    def edit(d):
        *parents, last = path.split(".")
        for p in parents:
            d = d[p]
        if value is KeyError:
            del d[last]
        else:
            d[last] = value
    return edit


BAD = [
    (_set("name", KeyError), "name: required field is missing"),
    (_set("name", "has space"), "name:"),
    (_set("name", ""), "name: must not be empty"),
    (_set("version", 1.0), "version: must be a string (got 1.0) (quote it in YAML)"),
    (_set("version", "v1"), "version:"),
    (_set("labels", ["only"]), "labels: must be a list of at least 2"),
    (_set("labels", ["a", "a"]), "labels: contains duplicates"),
    (_set("labels", ["a", 3]), "labels[1]: must be a non-empty string"),
    (_set("positive_label", "cancer"), "positive_label: 'cancer' is not one of labels"),
    (_set("decision_threshold", 1.5), "decision_threshold: must be between 0.0 and 1.0"),
    (_set("decision_threshold", "0.5"), "decision_threshold: must be a finite number"),
    (_set("decision_threshold", True), "decision_threshold: must be a finite number"),
    (_set("input.layout", "CHW"), "input.layout: must be one of NCHW, NHWC"),
    (_set("input.channels", 0), "input.channels: must be an integer >= 1"),
    (_set("input.channels", 2), "input.channels: must be 1 or 3"),
    (_set("input.height", 64.0), "input.height: must be an integer >= 1"),
    (_set("input.width", KeyError), "input.width: required field is missing"),
    (_set("input.dtype", "float"), "input.dtype: unknown field"),
    (_set("output.kind", "probability"), "output.kind: must be one of softmax, sigmoid, logits"),
    (_set("output", None), "output: must be a mapping"),
    (_set("embedding_output", "probabilities"), "embedding_output: must differ from output.name"),
    (_set("preprocessing.scaling", "minmax"), "preprocessing.scaling: must be one of window, percentile"),
    (_set("preprocessing.window", {"center": 40, "width": None}),
     "preprocessing.window: center and width must both be numbers or both be null"),
    (_set("preprocessing.window", {"center": 40, "width": -3}), "preprocessing.window.width: must be > 0"),
    (_set("preprocessing.percentile", [99, 1]), "preprocessing.percentile: low must be below high"),
    (_set("preprocessing.percentile", [1, 101]), "preprocessing.percentile[1]: must be between"),
    (_set("preprocessing.percentile", 5), "preprocessing.percentile: must be a list"),
    (_set("preprocessing.normalisation", {"mean": 0.5, "std": 0}),
     "preprocessing.normalisation.std: must be > 0"),
    (_set("preprocessing.resize", "bicubic"), "preprocessing.resize: must be one of bilinear"),
    (_set("preprocessing.normalisation", {"mean": [0.1, 0.2], "std": 1}),
     "preprocessing.normalisation.mean: must be a number, or a list of one or one per channel"),
    (_set("preprocessing.normalisation", {"mean": 0.5, "std": [-1]}),
     "preprocessing.normalisation.std[0]: must be > 0"),
    (_set("training.parent_version", "one"), "training.parent_version:"),
    (_set("metrics", [1, 2]), "metrics: must be a mapping"),
    (_set("metrics", {"auc": float("nan")}), "metrics: must be plain JSON data"),
    (_set("owner", "me"), "owner: unknown field"),
]


@pytest.mark.parametrize("edit,message", BAD, ids=[m.split(":")[0] for _, m in BAD])
def test_invalid_fields_give_one_line_naming_the_field(tmp_path, example, edit, message):
    data = copy.deepcopy(example)
    edit(data)
    with pytest.raises(ModelCardInvalid) as exc:
        ModelCard.from_dict(data, source="cards/x.yaml")
    text = str(exc.value)
    assert "\n" not in text
    assert text.startswith("cards/x.yaml: ")
    assert message in text
    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ModelCardInvalid, match=f"^{path}: "):
        load_card(path)


def test_logits_threshold_is_a_probability(example):
    example["output"]["kind"] = "logits"
    example["decision_threshold"] = -2.0
    with pytest.raises(ModelCardInvalid, match="decision_threshold: must be between 0.0 and 1.0"):
        ModelCard.from_dict(example)


def test_per_channel_normalisation(example):
    example["input"]["channels"] = 3
    example["preprocessing"]["normalisation"] = {"mean": [0.4, 0.5, 0.6], "std": [0.2]}
    card = ModelCard.from_dict(example)
    assert card.preprocessing.normalisation.mean == (0.4, 0.5, 0.6)
    assert card.to_dict()["preprocessing"]["normalisation"] == {"mean": [0.4, 0.5, 0.6], "std": [0.2]}
    assert ModelCard.from_json(card.to_json()) == card


def test_unreadable_and_unparsable_files(tmp_path):
    with pytest.raises(ModelCardInvalid, match=r"nope\.yaml: cannot read model card"):
        load_card(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\nversion: 1\n")
    with pytest.raises(ModelCardInvalid, match=r"bad\.yaml: not valid YAML \(line \d+") as exc:
        load_card(bad)
    assert "\n" not in str(exc.value)
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{\"name\": ")
    with pytest.raises(ModelCardInvalid, match=r"bad\.json: not valid JSON \(line 1"):
        load_card(bad_json)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(ModelCardInvalid, match=r"empty\.yaml: card: must be a mapping"):
        load_card(empty)


def test_error_is_a_mi_warehouse_error():
    assert issubclass(ModelCardInvalid, MiWarehouseError)


def test_the_json_the_registry_stores_is_read_back_unchanged(example):
    """``model_versions.card`` and the workers' ``card.json`` hold ``to_json()``."""
    card = ModelCard.from_dict(example)
    stored = card.to_json()
    assert ModelCard.from_json(stored, "m:1.0.0") == card
    assert ModelCard.from_json(stored).to_json() == stored
    demo = load_card(DEMO_CARD)
    assert ModelCard.from_json(demo.to_json()) == demo


# --- the TRANSFORM row columns ------------------------------------------------------------------

HIVE_TYPES = {"string", "double", "array<double>"}


def test_transform_columns_are_named_typed_and_ordered():
    names = [n for n, _ in OUTPUT_COLUMNS]
    assert len(set(names)) == len(names) and EMBEDDING_COLUMN[0] not in names
    assert {t for _, t in OUTPUT_COLUMNS + (EMBEDDING_COLUMN,) + INPUT_COLUMNS} <= HIVE_TYPES
    assert names[0] == "sop_instance_uid" and {"status", "error", "probability"} <= set(names)
    assert output_columns() == OUTPUT_COLUMNS
    assert output_columns(embeddings=True) == OUTPUT_COLUMNS + (EMBEDDING_COLUMN,)
    assert [n for n, _ in INPUT_COLUMNS] == ["sop_instance_uid", "image_uri", "frame"]


def test_the_script_and_the_sql_use_the_contracts_columns():
    from mi_warehouse.inference import sql
    from mi_warehouse.udfs import pipeline

    assert pipeline.OUTPUT_COLUMNS is OUTPUT_COLUMNS and pipeline.INPUT_COLUMNS is INPUT_COLUMNS
    script = dict(OUTPUT_COLUMNS)
    for name, hive_type in sql.PREDICTION_COLUMNS:  # every stored column: supplied or scripted
        assert name in sql._SUPPLIED or script[name].upper() == hive_type, name
    plan = sql.InferPlan(run_id="r-1", model_name="m", model_version="1.0.0", db="mi",
                         phi_db="mi_phi", cohort="mi.c", work_location="/w", command="python x")
    insert = plan.statements()[plan.TRANSFORM_STATEMENT]
    as_list = re.search(r"AS \((.*)\)\n", insert).group(1)
    assert as_list == ", ".join(f"{n} {t.upper()}" for n, t in OUTPUT_COLUMNS)
    select = insert.split("\n")[1]
    expected = [f"t.{n}" for n, _ in sql.PREDICTION_COLUMNS if n not in sql._SUPPLIED]
    assert select == "SELECT " + ", ".join(expected + ["'r-1'", "current_timestamp()"])


# --- light imports --------------------------------------------------------------------------------

def _imported(module: str) -> set[str]:
    """The modules that importing ``module`` loads, in a fresh interpreter."""
    code = (f"import sys; before = set(sys.modules); import {module}; "
            f"print(' '.join(sorted(set(sys.modules) - before)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, text=True,
                         env=dict(os.environ, PYTHONPATH=SRC)).stdout
    return set(out.split())


def test_the_contract_imports_the_standard_library_only():
    mods = _imported("mi_warehouse.models.card")
    foreign = {m.split(".")[0] for m in mods} - set(sys.stdlib_module_names) - {"mi_warehouse"}
    assert not foreign, foreign  # no numpy, onnx, yaml (read lazily for YAML files)...
    assert {m for m in mods if m.startswith("mi_warehouse")} <= {
        "mi_warehouse", "mi_warehouse.errors", "mi_warehouse.models", "mi_warehouse.models.card",
        "mi_warehouse.models.card_fields", "mi_warehouse.models.errors"}


def test_importing_inference_sql_does_not_import_numpy_or_the_udfs():
    mods = _imported("mi_warehouse.inference.sql")
    assert "numpy" not in mods
    assert not [m for m in mods if m.startswith("mi_warehouse.udfs")]
