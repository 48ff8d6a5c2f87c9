"""Tiny loader of the model card JSON that ``onnx_infer`` is given on the command line.

The card says how to feed the network and how to read its answer::

    {"name": "chest-nodule", "version": "3",
     "labels": ["normal", "finding"], "positive_label": "finding", "decision_threshold": 0.5,
     "input": {"name": "image", "layout": "NCHW", "channels": 1, "height": 64, "width": 64},
     "output": {"name": "probabilities", "kind": "softmax"},
     "embedding_output": "embedding",
     "preprocessing": {"scaling": "window", "window": {"center": null, "width": null},
                       "percentile": [1.0, 99.0],
                       "normalisation": {"mean": 0.5, "std": 0.25}, "resize": "bilinear"}}

This module deliberately does not import the project's card module: it runs on Hive worker
nodes and only needs these fields. Anything malformed raises :class:`SetupError`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import SetupError

__all__ = ["InputSpec", "OutputSpec", "Preprocessing", "ModelCard", "load_card", "parse_card"]

OUTPUT_KINDS = ("softmax", "sigmoid", "logits")
SCALINGS = ("window", "percentile")
LAYOUTS = ("NCHW", "NHWC")
RESIZES = ("bilinear",)


@dataclass(frozen=True)
class InputSpec:
    """The network input: tensor name, layout and image geometry."""

    name: str
    layout: str
    channels: int
    height: int
    width: int


@dataclass(frozen=True)
class OutputSpec:
    """The score output and what its values are (``softmax``, ``sigmoid`` or ``logits``)."""

    name: str
    kind: str


@dataclass(frozen=True)
class Preprocessing:
    """Pixel pipeline settings; see :mod:`mi_warehouse.udfs.preprocess`."""

    scaling: str = "window"
    window_center: float | None = None
    window_width: float | None = None
    percentile: tuple[float, float] = (1.0, 99.0)
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    resize: str = "bilinear"


@dataclass(frozen=True)
class ModelCard:
    """What ``onnx_infer`` needs to know about a model."""

    name: str
    version: str
    labels: tuple[str, ...]
    positive_label: str
    decision_threshold: float
    input: InputSpec
    output: OutputSpec
    embedding_output: str | None
    preprocessing: Preprocessing

    @property
    def positive_index(self) -> int:
        """Index of ``positive_label`` in ``labels``."""
        return self.labels.index(self.positive_label)


def load_card(path: str | Path) -> ModelCard:
    """Read and validate a card file; any problem raises :class:`SetupError`."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except OSError as exc:
        raise SetupError(f"cannot read model card {path}: {exc.strerror or exc}") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise SetupError(f"model card {path} is not valid JSON: {exc}") from exc
    try:
        return parse_card(data)
    except SetupError as exc:
        raise SetupError(f"model card {path}: {exc}") from exc


def parse_card(data: Any) -> ModelCard:
    """Validate a decoded card (a dict) and return a :class:`ModelCard`."""
    card = _obj(data, "card")
    labels = _get(card, "labels", list)
    if len(labels) < 2 or not all(isinstance(x, str) and x for x in labels):
        raise SetupError("'labels' must list at least two non-empty strings")
    if len(set(labels)) != len(labels):
        raise SetupError("'labels' has duplicates")
    positive = _get(card, "positive_label", str)
    if positive not in labels:
        raise SetupError(f"positive_label {positive!r} is not one of the labels {labels}")
    threshold = _number(card.get("decision_threshold", 0.5), "decision_threshold")
    if not 0.0 <= threshold <= 1.0:
        raise SetupError("'decision_threshold' must lie in [0, 1]")
    emb = card.get("embedding_output")
    if emb is not None and (not isinstance(emb, str) or not emb):
        raise SetupError("'embedding_output' must be a tensor name or null")
    return ModelCard(
        name=_text(card, "name"), version=_text(card, "version"), labels=tuple(labels),
        positive_label=positive, decision_threshold=threshold,
        input=_input(_obj(card.get("input"), "input")),
        output=_output(_obj(card.get("output"), "output")),
        embedding_output=emb,
        preprocessing=_preprocessing(_obj(card.get("preprocessing", {}), "preprocessing"),
                                     _input(_obj(card.get("input"), "input")).channels))


def _input(d: dict) -> InputSpec:
    layout = str(d.get("layout", "NCHW")).upper()
    if layout not in LAYOUTS:
        raise SetupError(f"input.layout {layout!r} is not one of {LAYOUTS}")
    channels = _positive_int(d.get("channels", 1), "input.channels")
    if channels not in (1, 3):
        raise SetupError("input.channels must be 1 or 3")
    return InputSpec(name=_get(d, "name", str, "input.name"), layout=layout, channels=channels,
                     height=_positive_int(d.get("height"), "input.height"),
                     width=_positive_int(d.get("width"), "input.width"))


def _output(d: dict) -> OutputSpec:
    kind = str(d.get("kind", "softmax")).lower()
    if kind not in OUTPUT_KINDS:
        raise SetupError(f"output.kind {kind!r} is not one of {OUTPUT_KINDS}")
    return OutputSpec(name=_get(d, "name", str, "output.name"), kind=kind)


def _preprocessing(d: dict, channels: int) -> Preprocessing:
    scaling = str(d.get("scaling", "window")).lower()
    if scaling not in SCALINGS:
        raise SetupError(f"preprocessing.scaling {scaling!r} is not one of {SCALINGS}")
    window = _obj(d.get("window") or {}, "preprocessing.window")
    center, width = window.get("center"), window.get("width")
    center = None if center is None else _number(center, "preprocessing.window.center")
    width = None if width is None else _number(width, "preprocessing.window.width")
    if (center is None) != (width is None):
        raise SetupError("preprocessing.window needs both center and width, or neither")
    if width is not None and width <= 0:
        raise SetupError("preprocessing.window.width must be > 0")
    pct = d.get("percentile", [1.0, 99.0])
    if not isinstance(pct, (list, tuple)) or len(pct) != 2:
        raise SetupError("preprocessing.percentile must be [low, high]")
    lo, hi = (_number(p, "preprocessing.percentile") for p in pct)
    if not 0.0 <= lo < hi <= 100.0:
        raise SetupError("preprocessing.percentile must satisfy 0 <= low < high <= 100")
    norm = _obj(d.get("normalisation") or {}, "preprocessing.normalisation")
    mean = _vector(norm.get("mean", 0.0), "preprocessing.normalisation.mean")
    std = _vector(norm.get("std", 1.0), "preprocessing.normalisation.std")
    if any(s <= 0 for s in std):
        raise SetupError("preprocessing.normalisation.std must be > 0")
    if len(mean) not in (1, channels) or len(std) not in (1, channels):
        raise SetupError("preprocessing.normalisation mean/std need 1 or input.channels values")
    resize = str(d.get("resize", "bilinear")).lower()
    if resize not in RESIZES:
        raise SetupError(f"preprocessing.resize {resize!r} is not one of {RESIZES}")
    return Preprocessing(scaling=scaling, window_center=center, window_width=width,
                         percentile=(lo, hi), mean=mean, std=std, resize=resize)


# --- small validators ---------------------------------------------------------------------------

def _obj(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise SetupError(f"{where!r} must be a JSON object")
    return value


def _get(d: dict, key: str, typ: type, where: str | None = None) -> Any:
    value = d.get(key)
    if not isinstance(value, typ) or (typ is str and not value):
        raise SetupError(f"{where or key!r} is missing or not a {typ.__name__}")
    return value


def _text(d: dict, key: str) -> str:
    value = d.get(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value:
        raise SetupError(f"{key!r} is missing or empty")
    return value


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SetupError(f"{where!r} must be a finite number")
    return float(value)


def _positive_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise SetupError(f"{where!r} must be a positive integer")
    return value


def _vector(value: Any, where: str) -> tuple[float, ...]:
    values = value if isinstance(value, (list, tuple)) else [value]
    if not values:
        raise SetupError(f"{where!r} is empty")
    return tuple(_number(v, where) for v in values)
