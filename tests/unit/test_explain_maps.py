"""Saliency maps on tiny ONNX models built here with onnx.helper, where the right answer is
known: a model whose features are masked to the top-left quadrant must light up that quadrant,
and nothing else, for CAM and for occlusion. The piecewise-linear head (Gemm, ReLU, Gemm) is
checked against a numerical gradient of the head written out in numpy from the same weights
(Grad-CAM's definition), not against the module's own back-propagation. The demo CNN's card
declares what :func:`find_cam` finds in its graph."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from mi_warehouse.explain.cam import class_activation_maps, find_cam, head_layers, with_outputs
from mi_warehouse.explain.errors import CamUnsupported
from mi_warehouse.explain.model import ExplainModel
from mi_warehouse.explain.occlusion import Grid, fill_value, grid_for, occlusion_map
from mi_warehouse.models.card import ModelCard, load_card
from mi_warehouse.models.demo import DEMO_CARD, DEMO_MODEL

SIZE = 16
MASK = np.zeros((1, 1, SIZE, SIZE), np.float32)
MASK[..., : SIZE // 2, : SIZE // 2] = 1.0  # the top-left quadrant
TL = np.zeros((SIZE, SIZE), bool)
TL[: SIZE // 2, : SIZE // 2] = True
W_LINEAR = np.array([[0.0, 0.0], [3.0, -3.0]], np.float32)  # (classes, channels)
W_HIDDEN = np.array([[1.0, 0.5], [-0.5, 2.0], [0.7, -1.0]], np.float32)  # (3 hidden, 2 channels)
B_HIDDEN = np.array([0.1, -0.2, 0.05], np.float32)
W_OUT = np.array([[0.2, -0.3, 0.1], [1.5, 0.8, -1.2]], np.float32)  # (classes, 3 hidden)
B_OUT = np.array([0.0, -0.4], np.float32)


def _card(cam: dict | None, kind: str = "softmax") -> ModelCard:
    data = {"name": "quadrant", "version": "1.0.0", "labels": ["normal", "finding"],
            "positive_label": "finding", "decision_threshold": 0.5,
            "input": {"name": "x", "layout": "NCHW", "channels": 1, "height": SIZE, "width": SIZE},
            "output": {"name": "prob", "kind": kind},
            "preprocessing": {"scaling": "window", "normalisation": {"mean": 0.5, "std": 0.25}}}
    if cam is not None:
        data["cam"] = cam
    return ModelCard.from_dict(data)


def _model(head: str = "linear", extra_node: bool = False) -> onnx.ModelProto:
    """x -> Conv 1x1 (+1, -1) -> Relu -> * top-left mask = feat (N, 2, 16, 16) -> GAP -> head -> Softmax."""
    inits = [numpy_helper.from_array(np.array([[[[1.0]]], [[[-1.0]]]], np.float32), "conv_w"),
             numpy_helper.from_array(MASK, "mask")]
    nodes = [helper.make_node("Conv", ["x", "conv_w"], ["c"]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("Mul", ["r", "mask"], ["feat"]),
             helper.make_node("GlobalAveragePool", ["feat"], ["pooled"]),
             helper.make_node("Flatten", ["pooled"], ["flat"])]
    last = "flat"
    if extra_node:  # something CAM cannot see through
        nodes.append(helper.make_node("Tanh", [last], ["squashed"]))
        last = "squashed"
    if head == "linear":
        inits.append(numpy_helper.from_array(W_LINEAR, "head_w"))
        nodes.append(helper.make_node("Gemm", [last, "head_w"], ["logits"], transB=1))
    else:  # MatMul + Add, Relu, Gemm without transB
        inits += [numpy_helper.from_array(W_HIDDEN.T.copy(), "hid_w"),
                  numpy_helper.from_array(B_HIDDEN, "hid_b"),
                  numpy_helper.from_array(W_OUT.T.copy(), "out_w"),
                  numpy_helper.from_array(B_OUT, "out_b")]
        nodes += [helper.make_node("MatMul", [last, "hid_w"], ["h0"]),
                  helper.make_node("Add", ["h0", "hid_b"], ["h1"]),
                  helper.make_node("Relu", ["h1"], ["h"]),
                  helper.make_node("Gemm", ["h", "out_w", "out_b"], ["logits"])]
    nodes.append(helper.make_node("Softmax", ["logits"], ["prob"], axis=1))
    graph = helper.make_graph(nodes, "quadrant",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 1, SIZE, SIZE])],
                              [helper.make_tensor_value_info("prob", TensorProto.FLOAT, ["n", 2])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _images(n: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.5, 2.0, (n, 1, SIZE, SIZE)).astype(np.float32)


LINEAR_CAM = {"feature_map": "feat", "weights": ["head_w"]}
HIDDEN_CAM = {"feature_map": "feat", "weights": ["hid_w", "out_w"]}


def test_cam_lights_up_the_quadrant_the_model_reads():
    card = _card(LINEAR_CAM)
    net = ExplainModel(_model().SerializeToString(), card, cam=True)
    maps, probs = net.cam(_images())
    assert maps.shape == (3, SIZE, SIZE)
    assert np.all(maps[:, ~TL] == 0) and np.all(maps[:, TL] > 0)
    # the linear case is CAM itself: sum_k (w_pos,k - mean_c w_c,k) F_k
    x = _images()
    direction = W_LINEAR[1] - W_LINEAR.mean(axis=0)
    assert np.allclose(maps, direction[0] * np.maximum(x[:, 0], 0) * MASK[0, 0], atol=1e-5)
    assert np.allclose(probs, net.scores(x), atol=1e-6)


def test_cam_through_a_relu_head_is_the_gradient_of_the_score():
    card = _card(HIDDEN_CAM)
    net = ExplainModel(_model("hidden").SerializeToString(), card, cam=True)
    x = _images(4, seed=3)
    x[1] *= -1  # a negative image: different ReLUs active
    maps, _ = net.cam(x)
    feat = np.maximum(np.stack([x[:, 0], -x[:, 0]], axis=1), 0) * MASK  # the graph's "feat"

    def score(pooled):  # z_pos - mean(z), written out from the weights
        z = np.maximum(pooled @ W_HIDDEN.T.astype(np.float64) + B_HIDDEN, 0) @ W_OUT.T + B_OUT
        return z[1] - z.mean()

    for i in range(len(x)):
        g = feat[i].mean(axis=(1, 2)).astype(np.float64)
        eps = 1e-6
        grad = np.array([(score(g + eps * e) - score(g - eps * e)) / (2 * eps) for e in np.eye(2)])
        want = np.einsum("k,khw->hw", grad, feat[i])
        assert np.allclose(maps[i], want, atol=1e-4)
        assert np.all(maps[i][~TL] == 0)


def test_occlusion_lights_up_the_quadrant_the_model_reads():
    card = _card(None)
    net = ExplainModel(_model().SerializeToString(), card, cam=False)
    grid = grid_for(card.input)
    assert grid == Grid(patch=2, stride=1)
    assert float(fill_value(card)[0]) == 0.0  # the normalised mean
    x = _images(1)[0]
    saliency, base = occlusion_map(x, net.scores, card.input, grid, fill_value(card), batch_size=7)
    assert base == pytest.approx(float(net.scores(x[None])[0]))
    assert saliency.shape == (SIZE, SIZE)
    assert np.all(saliency[TL] > 0)
    far = np.ones((SIZE, SIZE), bool)
    far[: SIZE // 2 + grid.patch - 1, : SIZE // 2 + grid.patch - 1] = False
    assert np.all(saliency[far] == 0)  # patches that never touch the quadrant change nothing
    assert saliency[TL].sum() > 0.9 * saliency.sum()


def test_occlusion_works_on_nhwc_inputs():
    card = _card(None)
    nhwc = ModelCard.from_dict({**card.to_dict(), "input": {**card.to_dict()["input"], "layout": "NHWC"}})
    x = _images(1)[0]
    seen = []

    def score(batch):  # mean of the top-left quadrant of an NHWC batch
        seen.append(batch.shape)
        return batch[:, : SIZE // 2, : SIZE // 2, 0].mean(axis=(1, 2))

    saliency, _ = occlusion_map(x.transpose(1, 2, 0), score, nhwc.input, Grid(4, 4), fill_value(nhwc))
    assert seen[0] == (1, SIZE, SIZE, 1)
    assert np.all(saliency[TL] > 0) and np.all(saliency[~TL] == 0)


def test_grid_reaches_every_edge():
    assert Grid(8, 4).starts(64)[-1] == 56 and Grid(5, 2).starts(12) == [0, 2, 4, 6, 7]
    assert Grid(8, 4).starts(6) == [0]


def test_a_wrong_card_is_refused():
    model = _model("hidden")
    with pytest.raises(CamUnsupported, match="do not match the graph's head"):
        head_layers(model, _card({"feature_map": "feat", "weights": ["out_w", "hid_w"]}))
    with pytest.raises(CamUnsupported, match="not the input of one GlobalAveragePool"):
        head_layers(model, _card({"feature_map": "r", "weights": ["hid_w", "out_w"]}))
    with pytest.raises(CamUnsupported, match="Tanh"):
        head_layers(_model(extra_node=True), _card(LINEAR_CAM))
    with pytest.raises(CamUnsupported, match="declares no cam"):
        head_layers(model, _card(None))
    with pytest.raises(CamUnsupported, match="not a tensor of the graph"):
        with_outputs(model, ["nope"])


def test_the_head_must_reproduce_the_model_output():
    card = _card(LINEAR_CAM, kind="sigmoid")  # the graph ends in Softmax: the card is wrong
    layers = head_layers(_model(), card)
    feats = np.zeros((1, 2, SIZE, SIZE))
    feats[:, 0] = 1.0  # logits (0, 3)
    softmax = np.exp([0.0, 3.0]) / np.exp([0.0, 3.0]).sum()
    assert class_activation_maps(feats, layers, _card(LINEAR_CAM), softmax[None]).shape == (1, SIZE, SIZE)
    with pytest.raises(CamUnsupported, match="does not reproduce"):
        class_activation_maps(feats, layers, card, softmax[None])


def test_find_cam_and_extra_output_keep_the_model_outputs():
    model = _model("hidden")
    assert find_cam(model, "prob").weights == ("hid_w", "out_w")
    assert find_cam(_model(extra_node=True), "prob") is None
    copy = onnx.load_model_from_string(with_outputs(model, ["feat"]))
    assert [o.name for o in copy.graph.output] == ["prob", "feat"]
    assert [o.name for o in model.graph.output] == ["prob"]  # the original is untouched


def _demo_models() -> list[tuple[str, str]]:
    """(ONNX file, card file) of every shipped demo model, paired by the card name that the
    training script writes into the model's doc_string."""
    cards = {load_card(c).name: c for c in DEMO_CARD.parent.glob("card*.yaml")}
    pairs = []
    for f in sorted(DEMO_MODEL.parent.glob("*.onnx")):
        name = onnx.load(str(f), load_external_data=False).doc_string.split(" ", 1)[0]
        pairs.append((f.name, cards[name].name))
    return pairs


def test_every_demo_model_is_paired_with_its_card():
    assert (DEMO_MODEL.name, DEMO_CARD.name) in _demo_models()


@pytest.mark.parametrize("model_file, card_file", _demo_models())
def test_each_demo_card_declares_the_cam_its_graph_holds(model_file, card_file):
    card = load_card(DEMO_CARD.parent / card_file)
    path = DEMO_MODEL.parent / model_file
    model = onnx.load(str(path))
    assert card.cam is not None and find_cam(model, card.output.name) == card.cam
    assert [o.name for o in model.graph.output] == [card.output.name, card.embedding_output]
    net = ExplainModel(path.read_bytes(), card, cam=True)  # the head check runs in cam()
    x = np.random.default_rng(1).normal(0, 1, (2, 1, 64, 64)).astype(np.float32)
    maps, probs = net.cam(x)
    assert maps.shape[0] == 2 and maps.ndim == 3
    assert np.allclose(probs, net.scores(x), atol=1e-6)
