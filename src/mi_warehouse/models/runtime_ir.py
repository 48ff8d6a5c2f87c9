"""The newest ONNX IR version the installed onnxruntime can load.

onnx and onnxruntime are released separately, and onnx writes models with its own
newest IR version by default (onnx 1.23 writes IR 14).  onnxruntime 1.31 refuses those
with "Unsupported model IR version: 14, max supported IR version: 13".  There is no
public API for the limit, so :func:`max_runtime_ir_version` asks the runtime: it builds
a one-node Identity model at ``onnx.IR_VERSION`` and tries to open it in a CPU
InferenceSession.  If that fails, the runtime's message states the maximum; if the
message has another form, lower IR versions are tried one at a time.

Measured here: onnx 1.23.2 (IR_VERSION 14, opset 28) with onnxruntime 1.31.1 -> 13.
Exporters should therefore stamp the lowest IR their opset needs
(``onnx.helper.find_min_ir_version_for``; opset 17 -> IR 8), not onnx's newest.
"""

from __future__ import annotations

import functools
import re

__all__ = ["max_runtime_ir_version"]

_MAX_IN_MESSAGE = re.compile(r"max supported IR version:\s*(\d+)")
_PROBE_OPSET = 13  # old enough for every onnxruntime this project supports


def _probe_model(ir_version: int) -> bytes:
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "ir_probe", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", _PROBE_OPSET)])
    model.ir_version = ir_version
    return model.SerializeToString()


def _loads(ir_version: int) -> tuple[bool, str]:
    import onnxruntime as ort

    try:
        ort.InferenceSession(_probe_model(ir_version), providers=["CPUExecutionProvider"])
        return True, ""
    except Exception as exc:  # onnxruntime raises its own pybind exception types
        return False, str(exc)


@functools.lru_cache(maxsize=1)
def max_runtime_ir_version() -> int:
    """Highest model IR version the installed onnxruntime accepts (probed once, cached)."""
    import onnx

    top = onnx.IR_VERSION
    ok, message = _loads(top)
    if ok:
        return top
    found = _MAX_IN_MESSAGE.search(message)
    if found:
        return int(found.group(1))
    for ir in range(top - 1, 6, -1):  # opset 13 needs IR >= 7
        if _loads(ir)[0]:
            return ir
    raise RuntimeError(f"onnxruntime loads no IR version between 7 and {top}: {message.splitlines()[0]}")
