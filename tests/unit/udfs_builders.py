"""Shared builders for the ``mi_warehouse.udfs`` tests: a tiny ONNX CNN, model cards, small
DICOM files. No tests here."""

from __future__ import annotations

import copy
import hashlib
import io
import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper
from pydicom import dcmwrite
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

CARD = {
    "name": "tiny-cnn", "version": "1.0.0",
    "labels": ["normal", "finding"], "positive_label": "finding", "decision_threshold": 0.5,
    "input": {"name": "image", "layout": "NCHW", "channels": 1, "height": 64, "width": 64},
    "output": {"name": "probabilities", "kind": "softmax"},
    "embedding_output": "embedding",
    "preprocessing": {"scaling": "window", "window": {"center": None, "width": None},
                      "percentile": [1.0, 99.0],
                      "normalisation": {"mean": 0.5, "std": 0.25}, "resize": "bilinear"},
}


def card_dict(**changes) -> dict:
    """A deep copy of :data:`CARD` with top-level keys replaced."""
    card = copy.deepcopy(CARD)
    card.update(changes)
    return card


def tiny_model(batch: int | str = "N", kind: str = "softmax", n_out: int = 2,
               channels: int = 1, size: int = 64) -> onnx.ModelProto:
    """GlobalAveragePool -> Flatten (``embedding``) -> Gemm -> Softmax (``probabilities``).

    With ``W = [[1, -1]]`` (one channel) the finding probability is ``sigmoid(-2 m)`` where
    ``m`` is the mean of the input image. ``kind='logits'`` drops the Softmax, ``'sigmoid'``
    puts a Sigmoid on a single output (``n_out=1``).
    """
    w = np.tile(np.array([[1.0, -1.0, 0.5][:n_out]], np.float32), (channels, 1))
    nodes = [helper.make_node("GlobalAveragePool", ["image"], ["pooled"]),
             helper.make_node("Flatten", ["pooled"], ["embedding"]),
             helper.make_node("Gemm", ["embedding", "W", "B"], ["logits"])]
    last = {"softmax": "Softmax", "sigmoid": "Sigmoid", "logits": "Identity"}[kind]
    nodes.append(helper.make_node(last, ["logits"], ["probabilities"],
                                  **({"axis": -1} if last == "Softmax" else {})))
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [batch, channels, size, size])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [batch, n_out]),
         helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [batch, channels])],
        [helper.make_tensor("W", TensorProto.FLOAT, list(w.shape), w.ravel().tolist()),
         helper.make_tensor("B", TensorProto.FLOAT, [n_out], [0.0] * n_out)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 10
    onnx.checker.check_model(model)
    return model


def model_bytes(**kw) -> bytes:
    """:func:`tiny_model` serialised."""
    return tiny_model(**kw).SerializeToString()


def write_model(folder: Path, card: dict | None = None, **kw) -> tuple[Path, str, Path]:
    """Write ``model.onnx`` and ``card.json``; returns ``(model path, sha256, card path)``."""
    folder.mkdir(parents=True, exist_ok=True)
    data = model_bytes(**kw)
    model = folder / "model.onnx"
    model.write_bytes(data)
    card_path = folder / "card.json"
    card_path.write_text(json.dumps(card or CARD), encoding="utf-8")
    return model, hashlib.sha256(data).hexdigest(), card_path


def dicom_bytes(pixels: np.ndarray, *, photometric: str = "MONOCHROME2",
                slope: float | None = None, intercept: float | None = None,
                window: tuple | None = None, transfer_syntax=ExplicitVRLittleEndian,
                encapsulated: bytes | None = None) -> bytes:
    """A Part 10 file holding ``pixels`` (uint16, ``(rows, cols)`` or ``(frames, rows, cols)``);
    ``encapsulated`` replaces the pixel data with that (already encapsulated) payload."""
    pixels = np.asarray(pixels, dtype=np.uint16)
    frames = pixels.shape[0] if pixels.ndim == 3 else 1
    ds = Dataset()
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.Modality = "OT"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.Rows, ds.Columns = pixels.shape[-2:]
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    if frames > 1:
        ds.NumberOfFrames = frames
    if slope is not None:
        ds.RescaleSlope, ds.RescaleIntercept = slope, intercept or 0.0
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = transfer_syntax
    if encapsulated is not None:
        ds.add_new(0x7FE00010, "OB", encapsulated)
        ds["PixelData"].is_undefined_length = True
    else:
        ds.PixelData = pixels.astype("<u2").tobytes()
    buf = io.BytesIO()
    dcmwrite(buf, ds, enforce_file_format=True)
    return buf.getvalue()
