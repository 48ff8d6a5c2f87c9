"""A ResNet-50-class benchmark model, built as ONNX from numpy (no torch), untrained.

The seed paper's model family: a CNN of ResNet bottleneck blocks (He et al. 2016, "Deep
Residual Learning"; the v1.5 variant with the stride on the 3x3 convolution) at 224x224, here
with one input channel and one sigmoid output (the probability of ``finding``). Layout:

    stem   Conv 7x7/2 (64) + Relu, MaxPool 3x3/2
    stages 3, 4, 6, 3 bottleneck blocks (1x1 w, 3x3 w, 1x1 4w; w = 64, 128, 256, 512), a 1x1
           projection on the shortcut of each stage's first block, Add + Relu after each block
    head   GlobalAveragePool -> Flatten (``embedding``, 2048) -> Gemm -> Sigmoid (``probability``)

Batch normalisation is folded into the convolutions (a trained network exported for inference
has the same graph: Conv with bias), so the graph is Conv / Relu / Add / MaxPool /
GlobalAveragePool / Flatten / Gemm / Sigmoid only. About 23.5 M parameters (94 MB of float32).

Weights are drawn from a fixed seed (He-normal, the last convolution of each residual branch
scaled down so activations stay finite through 16 blocks): the scores mean nothing, the speed
is that of a trained network of this shape. Built in about a second, so nobody commits 100 MB:
``write_bench_model(folder)`` writes ``model.onnx`` and a card the registry accepts.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

__all__ = ["STAGES", "WIDTHS", "EXPANSION", "OPSET", "build_model", "card_dict",
           "write_bench_model", "parameter_count", "bottleneck_blocks"]

STAGES = (3, 4, 6, 3)
WIDTHS = (64, 128, 256, 512)
EXPANSION = 4
OPSET = 17
_RESIDUAL_SCALE = 0.2  # the branch's last conv: keeps 16 stacked blocks from blowing up


class _Graph:
    """Collects nodes and initializers; names are numbered in build order."""

    def __init__(self, rng: np.random.Generator):
        self.rng, self.nodes, self.weights, self.n = rng, [], [], 0

    def name(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def weight(self, prefix: str, array: np.ndarray) -> str:
        from onnx import numpy_helper
        name = self.name(prefix)
        self.weights.append(numpy_helper.from_array(array.astype(np.float32), name))
        return name

    def node(self, op: str, inputs: list[str], **attrs) -> str:
        from onnx import helper
        out = self.name(op.lower() + "_")
        self.nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def conv(self, x: str, c_in: int, c_out: int, k: int, stride: int = 1,
             scale: float = 1.0) -> str:
        std = np.sqrt(2.0 / (c_in * k * k)) * scale
        w = self.rng.standard_normal((c_out, c_in, k, k), dtype=np.float32) * np.float32(std)
        b = np.zeros(c_out, np.float32)
        pad = k // 2
        return self.node("Conv", [x, self.weight("w", w), self.weight("b", b)],
                         kernel_shape=[k, k], strides=[stride, stride],
                         pads=[pad, pad, pad, pad])

    def relu(self, x: str) -> str:
        return self.node("Relu", [x])

    def bottleneck(self, x: str, c_in: int, width: int, stride: int) -> tuple[str, int]:
        c_out = width * EXPANSION
        y = self.relu(self.conv(x, c_in, width, 1))
        y = self.relu(self.conv(y, width, width, 3, stride))
        y = self.conv(y, width, c_out, 1, scale=_RESIDUAL_SCALE)
        shortcut = x if (stride == 1 and c_in == c_out) else self.conv(x, c_in, c_out, 1, stride)
        return self.relu(self.node("Add", [y, shortcut])), c_out


def build_model(seed: int = 0, size: int = 224, channels: int = 1,
                stages: tuple[int, ...] = STAGES, widths: tuple[int, ...] = WIDTHS,
                input_name: str = "image"):
    """The ONNX ``ModelProto`` (see the module docstring); dynamic batch dimension ``N``.
    Its IR version is the lowest the opset needs, capped by what onnxruntime loads."""
    import onnx
    from onnx import TensorProto, helper

    from .runtime_ir import max_runtime_ir_version

    g = _Graph(np.random.default_rng(seed))
    x = g.relu(g.conv(input_name, channels, 64, 7, 2))
    x = g.node("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    c = 64
    for i, (blocks, width) in enumerate(zip(stages, widths)):
        for j in range(blocks):
            x, c = g.bottleneck(x, c, width, 2 if (j == 0 and i > 0) else 1)
    pooled = g.node("GlobalAveragePool", [x])
    g.nodes.append(helper.make_node("Flatten", [pooled], ["embedding"], axis=1))
    fc = g.rng.standard_normal((c, 1), dtype=np.float32) * np.float32(1.0 / np.sqrt(c))
    logit = g.node("Gemm", ["embedding", g.weight("fc_w", fc),
                            g.weight("fc_b", np.zeros(1, np.float32))])
    g.nodes.append(helper.make_node("Sigmoid", [logit], ["probability"]))
    graph = helper.make_graph(
        g.nodes, "bench_resnet50",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["N", channels, size, size])],
        [helper.make_tensor_value_info("probability", TensorProto.FLOAT, ["N", 1]),
         helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", c])],
        g.weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="mi_warehouse.models.bench_resnet")
    model.ir_version = min(helper.find_min_ir_version_for(list(model.opset_import)),
                           max_runtime_ir_version())
    onnx.checker.check_model(model)
    return model


def parameter_count(model) -> int:
    """Number of weights (every initializer element)."""
    return int(sum(int(np.prod(t.dims)) for t in model.graph.initializer))


def bottleneck_blocks(model) -> int:
    """Residual blocks of ``model`` (one ``Add`` each)."""
    return sum(1 for n in model.graph.node if n.op_type == "Add")


def card_dict(name: str = "bench-resnet50", version: str = "1.0.0", size: int = 224,
              seed: int = 0) -> dict:
    """A model card for :func:`build_model` that the registry accepts."""
    return {
        "name": name, "version": version,
        "description": "ResNet-50-class benchmark CNN (bottleneck blocks 3-4-6-3, BN folded), "
                       "untrained weights from a fixed seed: for speed only, its scores mean "
                       "nothing.",
        "labels": ["normal", "finding"], "positive_label": "finding", "decision_threshold": 0.5,
        "input": {"name": "image", "layout": "NCHW", "channels": 1, "height": size,
                  "width": size},
        "output": {"name": "probability", "kind": "sigmoid"},
        "embedding_output": "embedding",
        "fp16": True,  # speed only: TensorRT may run it in half precision
        "preprocessing": {"scaling": "window", "window": {"center": None, "width": None},
                          "percentile": [1.0, 99.0],
                          "normalisation": {"mean": 0.5, "std": 0.25}, "resize": "bilinear"},
        "training": {"cohort": "", "run": f"mi_warehouse.models.bench_resnet.build_model"
                                          f"(seed={seed}, size={size}): untrained",
                     "data": "", "parent_version": None},
        "metrics": {},
    }


def write_bench_model(folder: str | Path, seed: int = 0, size: int = 224,
                      name: str = "bench-resnet50", version: str = "1.0.0") -> tuple[Path, Path]:
    """Write ``model.onnx`` and ``card.json`` into ``folder``; returns both paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model_path, card_path = folder / "model.onnx", folder / "card.json"
    model_path.write_bytes(build_model(seed, size).SerializeToString())
    card_path.write_text(json.dumps(card_dict(name, version, size, seed), indent=1),
                         encoding="utf-8")
    return model_path, card_path
