"""Registration checks: is this ONNX file valid, loadable here, and shaped as its card says?

``inspect_model(path, card)`` returns a :class:`ModelInfo` (checksum, IR version, opset,
input and outputs) or raises :class:`ModelCheckFailed` with one line naming the file:

* the file reads and parses as ONNX, and ``onnx.checker.check_model`` accepts it;
* its IR version is at most what the installed onnxruntime loads (see ``runtime_ir``);
* it has exactly one graph input, a float tensor named ``card.input.name`` of rank 4 whose
  channel/height/width sizes equal the card's (in the card's layout), with a batch
  dimension that is dynamic or 1;
* ``card.output.name`` (and ``card.embedding_output`` if set) are graph outputs, and a
  fixed class dimension of the score output agrees with ``card.labels``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NoReturn

from mi_warehouse.models.card import ModelCard
from mi_warehouse.models.errors import ModelCheckFailed
from mi_warehouse.models.runtime_ir import max_runtime_ir_version

__all__ = ["ModelInfo", "ModelCheckFailed", "inspect_model", "sha256_file"]

Dim = int | str | None  # fixed size, symbolic name, or unknown
Fail = Callable[[str], NoReturn]


@dataclass(frozen=True)
class ModelInfo:
    """What the registry records about an ONNX file that passed :func:`inspect_model`."""

    path: Path
    sha256: str
    size_bytes: int
    ir_version: int
    opset: int
    producer: str
    input_name: str
    input_shape: tuple[Dim, ...]
    output_names: tuple[str, ...]


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def _dims(value_info) -> tuple[Dim, ...] | None:
    t = value_info.type
    if t.WhichOneof("value") != "tensor_type" or not t.tensor_type.HasField("shape"):
        return None
    return tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                 for d in t.tensor_type.shape.dim)


def _load(path: Path, fail: Fail):
    import onnx
    from google.protobuf.message import DecodeError

    try:
        data = path.read_bytes()
    except OSError as exc:
        fail(f"cannot read the file ({exc.strerror or exc})")
    try:
        model = onnx.load_from_string(data)
    except (DecodeError, ValueError, RuntimeError) as exc:
        why = " ".join(str(exc).split()) or type(exc).__name__
        fail(f"not an ONNX model, the bytes do not parse ({why[:200]})")
    if not model.HasField("graph") or model.ir_version <= 0:
        fail("not an ONNX model (no graph or IR version); is the file truncated or corrupted?")
    return model, data


def _check_versions(model, fail: Fail) -> int:
    import onnx

    runtime_max = max_runtime_ir_version()
    if model.ir_version > runtime_max:
        fail(f"IR version {model.ir_version} is newer than the installed onnxruntime loads "
             f"(max {runtime_max}); re-export, or set model.ir_version to "
             f"onnx.helper.find_min_ir_version_for(model.opset_import)")
    try:
        onnx.checker.check_model(model)
    except (onnx.checker.ValidationError, ValueError, RuntimeError) as exc:
        fail(f"onnx.checker rejects it: {' '.join(str(exc).split())[:300]}")
    opsets = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
    if not opsets:
        fail("imports no default-domain (ai.onnx) opset")
    return opsets[0]


def _check_input(model, card: ModelCard, fail: Fail) -> tuple[str, tuple[Dim, ...]]:
    from onnx import TensorProto

    initializers = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    names = [i.name for i in inputs]
    if len(inputs) != 1:
        fail(f"needs exactly one image input, has {len(inputs)}: {names}")
    inp = inputs[0]
    spec = card.input
    if inp.name != spec.name:
        fail(f"input is named {inp.name!r}, the card says {spec.name!r}")
    if inp.type.tensor_type.elem_type != TensorProto.FLOAT:
        fail(f"input {inp.name!r} is {TensorProto.DataType.Name(inp.type.tensor_type.elem_type)}, "
             f"expected FLOAT")
    shape = _dims(inp)
    if shape is None or len(shape) != 4:
        fail(f"input {inp.name!r} has shape {list(shape) if shape else 'unknown'}, expected rank 4 "
             f"({spec.layout})")
    want = {"C": spec.channels, "H": spec.height, "W": spec.width}
    got = dict(zip(spec.layout[1:], shape[1:]))
    expected = [("batch" if k == "N" else want[k]) for k in spec.layout]
    batch_ok = shape[0] is None or isinstance(shape[0], str) or shape[0] == 1
    if not batch_ok or any(got[k] != want[k] for k in "CHW"):
        fail(f"input {inp.name!r} has shape {list(shape)}, the card needs {expected} "
             f"({spec.layout}, batch dynamic or 1)")
    return inp.name, shape


def _check_outputs(model, card: ModelCard, fail: Fail) -> tuple[str, ...]:
    outputs = {o.name: o for o in model.graph.output}
    names = tuple(outputs)
    for field, name in (("output.name", card.output.name), ("embedding_output", card.embedding_output)):
        if name is not None and name not in outputs:
            fail(f"has no output {name!r} (card {field}); outputs are {list(names)}")
    shape = _dims(outputs[card.output.name])
    classes = shape[-1] if shape else None
    sigmoid_pair = card.output.kind == "sigmoid" and len(card.labels) == 2
    allowed = {len(card.labels)} | ({1} if sigmoid_pair else set())
    if isinstance(classes, int) and classes > 0 and classes not in allowed:
        fail(f"output {card.output.name!r} has {classes} classes, the card lists "
             f"{len(card.labels)} labels")
    return names


def inspect_model(path: str | Path, card: ModelCard) -> ModelInfo:
    """Check the ONNX file at ``path`` against ``card``; raises :class:`ModelCheckFailed`."""
    path = Path(path)

    def fail(problem: str) -> NoReturn:
        raise ModelCheckFailed(f"{path}: {problem}")

    model, data = _load(path, fail)
    opset = _check_versions(model, fail)
    input_name, input_shape = _check_input(model, card, fail)
    output_names = _check_outputs(model, card, fail)
    return ModelInfo(path=path, sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data),
                     ir_version=model.ir_version, opset=opset, producer=model.producer_name,
                     input_name=input_name, input_shape=input_shape, output_names=output_names)
