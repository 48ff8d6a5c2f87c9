"""The ResNet-50-class benchmark model: architecture, size, registry checks, onnxruntime."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from mi_warehouse.models.bench_resnet import (
    STAGES, bottleneck_blocks, build_model, card_dict, parameter_count, write_bench_model)
from mi_warehouse.models.card import ModelCard
from mi_warehouse.models.checks import inspect_model
from mi_warehouse.models.runtime_ir import max_runtime_ir_version


@pytest.fixture(scope="module")
def model():
    return build_model(seed=3)


def test_resnet50_shape_of_graph(model):
    assert STAGES == (3, 4, 6, 3) and bottleneck_blocks(model) == 16
    ops = {n.op_type for n in model.graph.node}
    assert ops == {"Conv", "Relu", "Add", "MaxPool", "GlobalAveragePool", "Flatten", "Gemm",
                   "Sigmoid"}
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    assert len(convs) == 1 + 16 * 3 + 4  # stem, three per block, four projections
    assert 22_000_000 < parameter_count(model) < 26_000_000
    assert model.ir_version <= max_runtime_ir_version()


def test_same_seed_same_weights_other_seed_other_weights(model):
    assert build_model(seed=3).SerializeToString() == model.SerializeToString()
    assert build_model(seed=4).graph.initializer[0].raw_data != model.graph.initializer[0].raw_data


def test_onnxruntime_runs_it_with_finite_probabilities(model):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((2, 1, 224, 224)).astype(np.float32)
    prob, emb = sess.run(["probability", "embedding"], {"image": x})
    assert prob.shape == (2, 1) and emb.shape == (2, 2048)
    assert np.isfinite(prob).all() and ((prob >= 0) & (prob <= 1)).all()
    assert not np.allclose(emb[0], emb[1])  # the input reaches the output


def test_written_model_passes_the_registry_checks(tmp_path):
    path, card_path = write_bench_model(tmp_path, seed=1, size=64)
    card = ModelCard.from_json(card_path.read_text())
    assert card.to_dict()["input"]["height"] == 64 and card.output.kind == "sigmoid"
    info = inspect_model(path, card)
    assert info.input_shape[1:] == (1, 64, 64) and "probability" in info.output_names
    assert ModelCard.from_dict(card_dict()).input.height == 224
