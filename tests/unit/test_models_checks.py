"""Registration checks of ONNX files (mi_warehouse.models.checks), on the demo model and on
small models built with onnx.helper."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from mi_warehouse.errors import MiWarehouseError
from mi_warehouse.models.card import InputSpec, load_card
from mi_warehouse.models.checks import ModelCheckFailed, inspect_model, sha256_file
from mi_warehouse.models.demo import DEMO_CARD, DEMO_MODEL
from mi_warehouse.models.runtime_ir import max_runtime_ir_version


@pytest.fixture(scope="module")
def card():
    return load_card(DEMO_CARD)


def tiny_model(input_shape=("batch", 1, 64, 64), input_name="image", outputs=("probabilities", "embedding"),
               classes=2, ir_version=8, extra_input=False, elem_type=TensorProto.FLOAT) -> onnx.ModelProto:
    """image -> GlobalAveragePool -> Flatten (= embedding) -> MatMul -> Softmax (= probabilities)."""
    nodes = [helper.make_node("GlobalAveragePool", [input_name], ["pooled"]),
             helper.make_node("Flatten", ["pooled"], ["flat"]),
             helper.make_node("MatMul", ["flat", "w"], ["logits"]),
             helper.make_node("Softmax", ["logits"], ["probs"], axis=1)]
    graph_outputs = []
    if "probabilities" in outputs:
        nodes.append(helper.make_node("Identity", ["probs"], ["probabilities"]))
        graph_outputs.append(helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", classes]))
    if "embedding" in outputs:
        nodes.append(helper.make_node("Identity", ["flat"], ["embedding"]))
        graph_outputs.append(helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", 1]))
    if not graph_outputs:
        nodes.append(helper.make_node("Identity", ["probs"], ["scores"]))
        graph_outputs.append(helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", classes]))
    inputs = [helper.make_tensor_value_info(input_name, elem_type, list(input_shape))]
    if extra_input:
        inputs.append(helper.make_tensor_value_info("age", TensorProto.FLOAT, ["batch", 1]))
    w = numpy_helper.from_array(np.ones((1, classes), np.float32), "w")
    graph = helper.make_graph(nodes, "tiny", inputs, graph_outputs, initializer=[w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = ir_version
    return model


def save(tmp_path, model, name="m.onnx"):
    path = tmp_path / name
    path.write_bytes(model.SerializeToString())
    return path


def assert_fails(path, card, *fragments):
    with pytest.raises(ModelCheckFailed) as exc:
        inspect_model(path, card)
    text = str(exc.value)
    assert "\n" not in text, text
    assert text.startswith(f"{path}: "), text
    for fragment in fragments:
        assert fragment in text, text
    return text


def test_demo_model_passes(card):
    info = inspect_model(DEMO_MODEL, card)
    data = DEMO_MODEL.read_bytes()
    assert info.sha256 == hashlib.sha256(data).hexdigest() == sha256_file(DEMO_MODEL)
    assert info.size_bytes == len(data) < 3 * 1024 * 1024
    assert info.ir_version <= max_runtime_ir_version()
    assert info.opset == 17
    assert info.input_name == "image"
    assert info.input_shape[1:] == (1, 64, 64) and isinstance(info.input_shape[0], str)
    assert {"probabilities", "embedding"} <= set(info.output_names)


def test_demo_model_runs_in_onnxruntime_with_any_batch(card):
    sess = ort.InferenceSession(str(DEMO_MODEL), providers=["CPUExecutionProvider"])
    for n in (1, 5):
        probs, emb = sess.run(["probabilities", "embedding"],
                              {"image": np.zeros((n, 1, 64, 64), np.float32)})
        assert probs.shape == (n, 2) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
        assert emb.shape[0] == n and emb.ndim == 2


def test_tiny_model_passes_with_dynamic_or_unit_batch(tmp_path, card):
    for batch in ("batch", 1, None):
        info = inspect_model(save(tmp_path, tiny_model((batch, 1, 64, 64))), card)
        assert info.output_names == ("probabilities", "embedding")
        assert info.ir_version == 8 and info.opset == 17
    assert inspect_model(save(tmp_path, tiny_model(outputs=("probabilities",))),
                         dataclasses.replace(card, embedding_output=None)).input_name == "image"


def test_nhwc_layout(tmp_path, card):
    nhwc = dataclasses.replace(card, input=InputSpec("image", "NHWC", 1, 64, 64))
    assert_fails(save(tmp_path, tiny_model()), nhwc, "['batch', 64, 64, 1]", "NHWC")


@pytest.mark.parametrize("shape,fragment", [
    (("batch", 1, 32, 32), "has shape ['batch', 1, 32, 32], the card needs ['batch', 1, 64, 64]"),
    (("batch", 3, 64, 64), "has shape ['batch', 3, 64, 64]"),
    ((4, 1, 64, 64), "batch dynamic or 1"),
    (("batch", 1, "h", "w"), "has shape ['batch', 1, 'h', 'w']"),
    (("batch", 64, 64), "expected rank 4"),
])
def test_wrong_input_shape(tmp_path, card, shape, fragment):
    assert_fails(save(tmp_path, tiny_model(shape)), card, fragment)


def test_wrong_input_name_type_or_count(tmp_path, card):
    assert_fails(save(tmp_path, tiny_model(input_name="pixels")), card,
                 "input is named 'pixels', the card says 'image'")
    assert_fails(save(tmp_path, tiny_model(extra_input=True)), card,
                 "needs exactly one image input, has 2: ['image', 'age']")


def test_missing_outputs(tmp_path, card):
    assert_fails(save(tmp_path, tiny_model(outputs=("probabilities",))), card,
                 "has no output 'embedding' (card embedding_output)")
    assert_fails(save(tmp_path, tiny_model(outputs=("embedding",))), card,
                 "has no output 'probabilities' (card output.name)")


def test_class_count_must_match_labels(tmp_path, card):
    assert_fails(save(tmp_path, tiny_model(classes=3)), card, "has 3 classes, the card lists 2 labels")


def test_ir_version_too_new_for_onnxruntime(tmp_path, card):
    too_new = max_runtime_ir_version() + 1
    text = assert_fails(save(tmp_path, tiny_model(ir_version=too_new)), card,
                        f"IR version {too_new} is newer than the installed onnxruntime loads "
                        f"(max {max_runtime_ir_version()})")
    assert "find_min_ir_version_for" in text


def test_runtime_ir_probe_matches_onnxruntime():
    top = max_runtime_ir_version()
    assert 8 <= top <= onnx.IR_VERSION
    ort.InferenceSession(tiny_model(ir_version=top).SerializeToString(), providers=["CPUExecutionProvider"])
    if top < onnx.IR_VERSION:  # onnx 1.23 writes IR 14; onnxruntime 1.31 loads up to 13
        with pytest.raises(Exception, match="IR version"):
            ort.InferenceSession(tiny_model(ir_version=top + 1).SerializeToString(),
                                 providers=["CPUExecutionProvider"])


def test_corrupted_bytes(tmp_path, card):
    data = DEMO_MODEL.read_bytes()
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(data[: len(data) // 2])
    assert_fails(truncated, card, "not an ONNX model")
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(bytes(range(256)) * 64)
    assert_fails(garbage, card, "not an ONNX model")
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    assert_fails(empty, card, "not an ONNX model (no graph or IR version)")
    assert_fails(tmp_path / "absent.onnx", card, "cannot read the file")


def test_checker_rejects_invalid_graph(tmp_path, card):
    model = tiny_model()
    model.graph.node[0].input[0] = "undefined_tensor"
    assert_fails(save(tmp_path, model), card, "onnx.checker rejects it")


def test_error_type():
    assert issubclass(ModelCheckFailed, MiWarehouseError)
