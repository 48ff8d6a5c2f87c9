"""The registered model, loaded for explaining: scores, and feature maps when CAM is used.

The bytes are read from the model store and checked against the registry's SHA-256 before
onnxruntime sees them; for CAM, a copy of the graph with the card's feature map added as an
output is run instead (:func:`.cam.with_outputs`), so the registered file never changes.
"""

from __future__ import annotations

import hashlib

import numpy as np

from ..models.card import ModelCard
from ..runtime.storage import filesystem
from .cam import class_activation_maps, head_layers, with_outputs
from .errors import ExplainError

__all__ = ["ExplainModel", "read_model_bytes"]


def read_model_bytes(uri: str, sha256: str) -> bytes:
    """The model file at ``uri``, refused if its SHA-256 is not the registered one."""
    fs, path = filesystem(uri)
    try:
        with fs.open_input_stream(path) as fh:
            data = fh.read()
    except (OSError, FileNotFoundError) as exc:
        raise ExplainError(f"cannot read the registered model file {uri}: {exc}") from None
    if hashlib.sha256(data).hexdigest() != sha256.lower():
        raise ExplainError(f"{uri} does not match its registered sha256 {sha256[:16]}...: the model "
                           "store was changed after registration")
    return data


class ExplainModel:
    """An onnxruntime session over a model and its card; ``cam=True`` adds the feature map."""

    def __init__(self, model_bytes: bytes, card: ModelCard, cam: bool, providers: list | None = None):
        import onnx
        import onnxruntime as ort

        self.card = card
        self.layers = None
        payload = model_bytes
        if cam:
            proto = onnx.load_model_from_string(model_bytes)
            self.layers = head_layers(proto, card)
            payload = with_outputs(proto, [card.cam.feature_map])
        options = ort.SessionOptions()
        options.log_severity_level = 3
        self.session = ort.InferenceSession(payload, options,
                                            providers=providers or ["CPUExecutionProvider"])

    def scores(self, batch: np.ndarray) -> np.ndarray:
        """The positive label's probability for each image of ``batch`` (N,)."""
        from ..udfs.scoring import label_scores

        raw = self.session.run([self.card.output.name], {self.card.input.name: batch})[0]
        return label_scores(raw, self.card)[:, self.card.positive_index]

    def cam(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(maps (N, h, w), positive probabilities (N,))``; the maps' head is checked against
        the model's own output."""
        from ..udfs.scoring import label_scores

        if self.layers is None:
            raise ExplainError("this model was loaded without CAM")
        raw, features = self.session.run([self.card.output.name, self.card.cam.feature_map],
                                         {self.card.input.name: batch})
        maps = class_activation_maps(features, self.layers, self.card, raw)
        return maps, label_scores(raw, self.card)[:, self.card.positive_index]
