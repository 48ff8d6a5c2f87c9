"""Class activation maps (Zhou et al., CVPR 2016) of a global-average-pooling ONNX model.

A GAP model scores an image as ``head(mean_xy F)``, where ``F`` (N, K, h, w) is the last conv
block's feature map. When the head is linear (one Gemm), the positive class's score is
``sum_k w_k mean_xy F_k + b``, so ``M = sum_k w_k F_k`` shows where the evidence sits. When the
head is piecewise linear (Gemm, ReLU, Gemm, as the demo CNN's embedding layer), the ReLUs that
are active for *this* image fix one linear map, and ``w`` is that map's weight vector (the
gradient of the score with respect to the pooled features: Grad-CAM, Selvaraju et al. 2017, which
equals CAM for a GAP model). Either way ``mean_xy M`` plus a constant is the score itself, which
:func:`class_activation_maps` checks against the model's own output.

For softmax (and logits) outputs the score is the positive logit minus the mean logit (softmax
does not change when every logit moves by the same amount); for sigmoid, the positive logit.

The card declares the tensors (``cam.feature_map``, ``cam.weights``); :func:`head_layers` reads
the head from the graph and refuses anything that is not a pool followed by Gemm/MatMul(+Add),
ReLU, Flatten/Reshape and the final Softmax/Sigmoid. :func:`with_outputs` adds the feature map
to a copy of the graph's outputs (the registered file is not changed: its checksum stays).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..models.card import CamSpec, ModelCard
from .errors import CamUnsupported

__all__ = ["Layer", "head_layers", "find_cam", "with_outputs", "class_activation_maps"]

_PASS = ("Flatten", "Reshape", "Identity", "Squeeze", "Dropout")
_FINAL = ("Softmax", "Sigmoid")


@dataclass(frozen=True)
class Layer:
    """One affine layer of the head: ``y = x @ weight.T + bias``, then ReLU if ``relu``."""

    name: str  # the weight initializer
    weight: np.ndarray  # (out, in)
    bias: np.ndarray  # (out,)
    relu: bool = False


def _initializers(graph) -> dict[str, np.ndarray]:
    from onnx import numpy_helper

    return {t.name: numpy_helper.to_array(t) for t in graph.initializer}


def _consumers(graph) -> dict[str, list]:
    out: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            out.setdefault(name, []).append(node)
    return out


def _attr(node, name: str, default):
    from onnx import helper

    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _walk(graph, start: str, output: str) -> list[Layer]:
    """The affine layers between tensor ``start`` (the pooled features) and ``output``."""
    inits, consumers = _initializers(graph), _consumers(graph)
    layers: list[Layer] = []
    t = start
    while t != output:
        nodes = consumers.get(t, [])
        if len(nodes) != 1:
            raise CamUnsupported(f"tensor {t!r} feeds {len(nodes)} nodes on the way to {output!r}: "
                                 "not a single-path GAP head")
        node = nodes[0]
        op = node.op_type
        if op == "Gemm":
            if _attr(node, "alpha", 1.0) != 1.0 or _attr(node, "transA", 0):
                raise CamUnsupported(f"Gemm {node.name!r} with alpha != 1 or transA is not supported")
            w = inits.get(node.input[1])
            if w is None:
                raise CamUnsupported(f"Gemm {node.name!r}: weight {node.input[1]!r} is not an initializer")
            w = w if _attr(node, "transB", 0) else w.T
            b = inits.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
            b = np.zeros(w.shape[0]) if b is None else np.broadcast_to(b * _attr(node, "beta", 1.0), w.shape[:1])
            layers.append(Layer(node.input[1], np.asarray(w, np.float64), np.asarray(b, np.float64)))
        elif op == "MatMul":
            w = inits.get(node.input[1])
            if w is None or w.ndim != 2:
                raise CamUnsupported(f"MatMul {node.name!r}: weight {node.input[1]!r} is not a 2-D initializer")
            layers.append(Layer(node.input[1], np.asarray(w.T, np.float64), np.zeros(w.shape[1])))
        elif op == "Add" and layers and len(node.input) == 2:
            bias = inits.get(node.input[1] if node.input[0] == t else node.input[0])
            if bias is None:
                raise CamUnsupported(f"Add {node.name!r} after a MatMul must add an initializer")
            last = layers[-1]
            layers[-1] = Layer(last.name, last.weight, last.bias + np.asarray(bias, np.float64).reshape(-1),
                               last.relu)
        elif op == "Relu" and layers:
            last = layers[-1]
            layers[-1] = Layer(last.name, last.weight, last.bias, True)
        elif op not in _PASS + _FINAL:
            raise CamUnsupported(f"node {node.name or op!r} ({op}) between the pooled features and "
                                 f"{output!r}: only Gemm/MatMul(+Add), Relu, Flatten/Reshape and a final "
                                 "Softmax/Sigmoid can be explained by CAM (use --method occlusion)")
        t = node.output[0]
    if not layers:
        raise CamUnsupported(f"no Gemm/MatMul between the pooled features and {output!r}")
    return layers


def _pool_output(graph, feature_map: str) -> str:
    """The output of the GlobalAveragePool (or spatial ReduceMean) that reads ``feature_map``."""
    nodes = _consumers(graph).get(feature_map, [])
    pools = [n for n in nodes if n.op_type == "GlobalAveragePool"
             or (n.op_type == "ReduceMean" and sorted(_attr(n, "axes", [])) == [2, 3])]
    if len(pools) != 1 or len(nodes) != 1:
        raise CamUnsupported(f"cam.feature_map {feature_map!r} is not the input of one GlobalAveragePool "
                             "(and of nothing else)")
    return pools[0].output[0]


def head_layers(model, card: ModelCard) -> list[Layer]:
    """The head's affine layers, checked against the card's ``cam`` declaration."""
    if card.cam is None:
        raise CamUnsupported(f"the card of {card.name}:{card.version} declares no cam "
                             "(feature_map, weights): use --method occlusion")
    layers = _walk(model.graph, _pool_output(model.graph, card.cam.feature_map), card.output.name)
    found = tuple(layer.name for layer in layers)
    if found != card.cam.weights:
        raise CamUnsupported(f"cam.weights {list(card.cam.weights)} do not match the graph's head "
                             f"{list(found)}")
    return layers


def find_cam(model, output: str) -> CamSpec | None:
    """The ``cam`` declaration a card should carry for ``model``: the GlobalAveragePool whose
    head reaches ``output`` through supported nodes only, else ``None``."""
    for node in model.graph.node:
        if node.op_type != "GlobalAveragePool":
            continue
        try:
            layers = _walk(model.graph, node.output[0], output)
        except CamUnsupported:
            continue
        return CamSpec(node.input[0], tuple(layer.name for layer in layers))
    return None


def with_outputs(model, names: list[str]) -> bytes:
    """A serialised copy of ``model`` with the tensors ``names`` added as graph outputs (float,
    shape left to the runtime); the existing outputs stay first and unchanged."""
    from onnx import TensorProto, helper

    copy = type(model)()
    copy.CopyFrom(model)
    have = {o.name for o in copy.graph.output}
    produced = {o for n in copy.graph.node for o in n.output}
    for name in names:
        if name in have:
            continue
        if name not in produced:
            raise CamUnsupported(f"cam.feature_map {name!r} is not a tensor of the graph")
        copy.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    return copy.SerializeToString()


def _class_direction(card: ModelCard, n_out: int) -> np.ndarray:
    e = np.zeros(n_out)
    pos = card.positive_index if n_out > 1 else 0
    e[pos] = 1.0
    if card.output.kind in ("softmax", "logits") and n_out > 1:
        e -= 1.0 / n_out
    return e


def class_activation_maps(features: np.ndarray, layers: list[Layer], card: ModelCard,
                          probabilities: np.ndarray | None = None) -> np.ndarray:
    """``(N, h, w)`` maps of the positive class from ``features`` (N, K, h, w). With the model's
    own ``probabilities`` (its score output), the head recomputed here must reproduce them."""
    f = np.asarray(features, np.float64)
    if f.ndim != 4:
        raise CamUnsupported(f"cam.feature_map must be (N, K, h, w), got shape {f.shape}")
    x = f.mean(axis=(2, 3))
    masks = []
    for layer in layers:
        if x.shape[1] != layer.weight.shape[1]:
            raise CamUnsupported(f"layer {layer.name!r} takes {layer.weight.shape[1]} features, "
                                 f"got {x.shape[1]}")
        z = x @ layer.weight.T + layer.bias
        masks.append(z > 0 if layer.relu else None)
        x = np.maximum(z, 0.0) if layer.relu else z
    if probabilities is not None:
        _check_head(x, np.asarray(probabilities, np.float64).reshape(len(x), -1), card)
    alpha = np.broadcast_to(_class_direction(card, x.shape[1]), x.shape).copy()
    for layer, mask in zip(reversed(layers), reversed(masks)):
        if mask is not None:
            alpha = alpha * mask
        alpha = alpha @ layer.weight
    return np.einsum("nk,nkhw->nhw", alpha, f)


def _check_head(logits: np.ndarray, scores: np.ndarray, card: ModelCard) -> None:
    kind = card.output.kind
    if kind == "softmax":
        z = np.exp(logits - logits.max(axis=1, keepdims=True))
        want = z / z.sum(axis=1, keepdims=True)
    elif kind == "sigmoid":
        want = 1.0 / (1.0 + np.exp(-logits))
    else:
        want = logits
    if want.shape != scores.shape or not np.allclose(want, scores, atol=1e-3, rtol=1e-3):
        raise CamUnsupported(f"the head read from cam.weights does not reproduce output "
                             f"{card.output.name!r}: the card's cam declaration is wrong")
