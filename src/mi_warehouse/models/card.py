"""The model-card contract: the one definition that the registry, the TRANSFORM script
(``udfs``), the SQL of ``mi-warehouse infer`` and the demo's training code share.

It has three parts:

* **The card** -- what a model expects, what it outputs, how it was made, how well it did.
  A card is a YAML or JSON document (see ``models/demo/card.yaml``)::

    name: chest-finding-resnet
    version: "1.0.0"
    labels: [normal, finding]            # output index i -> label
    positive_label: finding
    decision_threshold: 0.5              # on the positive label's probability
    input: {name: image, layout: NCHW, channels: 1, height: 64, width: 64}
    output: {name: probabilities, kind: softmax}   # softmax | sigmoid | logits
    embedding_output: embedding          # or null
    cam: {feature_map: TENSOR, weights: [INITIALIZER, ...]}   # optional: class activation maps
    fp16: false                          # optional: the model tolerates half precision
    preprocessing: {scaling: window, window: {center: null, width: null},
                    percentile: [1.0, 99.0], normalisation: {mean: 0.5, std: 0.25},
                    resize: bilinear}
    training: {cohort: ..., run: ..., data: ..., parent_version: null}
    metrics: {held_out: {...}}           # free-form

  ``load_card(path)`` / ``ModelCard.from_dict(data)`` / ``ModelCard.from_json(text)``
  validate every field and raise :class:`ModelCardInvalid` with a one-line message naming
  the file and the field; ``to_dict()`` / ``to_json()`` give the same structure back with
  every key present (the registry stores ``to_json()`` in ``model_versions.card`` and ships
  it to the workers as ``card.json``). The accepted values are those the inference script
  can run: channels 1 or 3, resize ``bilinear`` only, a threshold in [0, 1] (``logits`` are
  softmaxed first), and normalisation mean/std as one number or one per channel.
  ``cam`` (optional, written by ``to_dict()`` only when set) declares a global-average-pooling
  model's class activation maps for ``mi-warehouse explain``: ``feature_map`` names the tensor
  that enters the GlobalAveragePool (the last conv block's output; it need not be a graph
  output), ``weights`` the Gemm/MatMul weight initializers from the pooled features to the
  scores, in graph order (ReLUs between them are allowed). The worker-side script ignores it.
  ``fp16`` (optional, written only when true) says the model tolerates half precision: the
  TRANSFORM script then lets TensorRT build fp16 engines (``trt_fp16_enable``).

* **The preprocessing settings** -- :class:`Preprocessing` (with :class:`Window` and
  :class:`Normalisation`) and :class:`InputSpec`. Their one implementation is
  :mod:`mi_warehouse.udfs.preprocess`; the demo's training data goes through the same
  functions (``models/demo/training_prep.py``).

* **The TRANSFORM row columns** -- :data:`INPUT_COLUMNS` and :data:`OUTPUT_COLUMNS` (names
  and Hive types, in the order the script reads and writes them; :data:`EMBEDDING_COLUMN` is
  appended with ``--embeddings``). ``udfs.pipeline`` writes its rows in this order and
  ``inference.sql`` declares the ``AS (...)`` list and picks columns from it by name.

Dependencies: the standard library only at import time (``yaml`` is imported when a YAML
file is read), so that the worker-side script imports this module without numpy, onnx or the
connection layer, and ``inference.sql`` without numpy.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mi_warehouse.models.card_fields import Fields as _Fields, show as _show
from mi_warehouse.models.errors import ModelCardInvalid

__all__ = ["InputSpec", "OutputSpec", "CamSpec", "Window", "Normalisation", "Preprocessing", "Training",
           "ModelCard", "ModelCardInvalid", "load_card",
           "LAYOUTS", "OUTPUT_KINDS", "SCALINGS", "RESIZES", "CHANNELS",
           "INPUT_COLUMNS", "OUTPUT_COLUMNS", "EMBEDDING_COLUMN", "output_columns"]

LAYOUTS = ("NCHW", "NHWC")
OUTPUT_KINDS = ("softmax", "sigmoid", "logits")
SCALINGS = ("window", "percentile")
RESIZES = ("bilinear",)
CHANNELS = (1, 3)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_SEMVER = re.compile(r"^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?$")

# --- the TRANSFORM row contract ---------------------------------------------------------------
# Names and Hive types of the script's input and output columns, in row order.
INPUT_COLUMNS = (("sop_instance_uid", "string"), ("image_uri", "string"), ("frame", "string"))
OUTPUT_COLUMNS = (("sop_instance_uid", "string"), ("model_name", "string"),
                  ("model_version", "string"), ("predicted_label", "string"),
                  ("probability", "double"), ("scores", "array<double>"), ("status", "string"),
                  ("error", "string"), ("latency_ms", "double"), ("provider", "string"))
EMBEDDING_COLUMN = ("embedding", "array<double>")  # last, only with --embeddings


def output_columns(embeddings: bool = False) -> tuple[tuple[str, str], ...]:
    """The script's output columns ``(name, hive type)`` in row order, with or without the
    embedding column."""
    return OUTPUT_COLUMNS + ((EMBEDDING_COLUMN,) if embeddings else ())


@dataclass(frozen=True)
class InputSpec:
    """The single image input: tensor name, layout and fixed channel/height/width sizes."""

    name: str
    layout: str
    channels: int
    height: int
    width: int


@dataclass(frozen=True)
class OutputSpec:
    """The score output: tensor name and what its values are (softmax, sigmoid or logits)."""

    name: str
    kind: str


@dataclass(frozen=True)
class CamSpec:
    """Class activation maps of a GAP model: the pooled feature map tensor and the classifier
    weight initializers after the pool, in graph order (see the module docstring)."""

    feature_map: str
    weights: tuple[str, ...]


@dataclass(frozen=True)
class Window:
    """A fixed VOI window; both ``None`` means the image's own WindowCenter/WindowWidth."""

    center: float | None = None
    width: float | None = None


@dataclass(frozen=True)
class Normalisation:
    """``(x - mean) / std``, applied after scaling to [0, 1]; one number, or one per channel."""

    mean: float | tuple[float, ...] = 0.0
    std: float | tuple[float, ...] = 1.0


@dataclass(frozen=True)
class Preprocessing:
    """How stored pixels become the input tensor (implemented by ``udfs.preprocess``); the
    defaults are those a card gets when it leaves a field out."""

    scaling: str
    window: Window = field(default_factory=Window)
    percentile: tuple[float, float] = (1.0, 99.0)
    normalisation: Normalisation = field(default_factory=Normalisation)
    resize: str = "bilinear"


@dataclass(frozen=True)
class Training:
    """Provenance: who the model was trained on, by which run, from which data, from which parent."""

    cohort: str = ""
    run: str = ""
    data: str = ""
    parent_version: str | None = None


@dataclass(frozen=True)
class ModelCard:
    """A validated model card; build with :func:`load_card` or :meth:`ModelCard.from_dict`."""

    name: str
    version: str
    labels: tuple[str, ...]
    positive_label: str
    decision_threshold: float
    input: InputSpec
    output: OutputSpec
    preprocessing: Preprocessing
    description: str = ""
    embedding_output: str | None = None
    training: Training = field(default_factory=Training)
    metrics: dict = field(default_factory=dict)
    cam: CamSpec | None = None
    fp16: bool = False  # TensorRT may build fp16 engines (optional field, default false)

    @property
    def positive_index(self) -> int:
        """Output index of ``positive_label``."""
        return self.labels.index(self.positive_label)

    # -------------------------------------------------------------- parsing
    @classmethod
    def from_dict(cls, data: Any, source: str = "model card") -> "ModelCard":
        """Validate ``data`` (parsed YAML/JSON); errors name ``source`` and the field."""
        f = _Fields(data, "", source).expect(
            "name", "version", "description", "labels", "positive_label", "decision_threshold",
            "input", "output", "embedding_output", "preprocessing", "training", "metrics", "cam", "fp16")
        name = f.text("name", pattern=_NAME)
        version = f.text("version", pattern=_SEMVER)
        description = f.text("description", "", empty=True)
        labels = _labels(f)
        positive = f.text("positive_label")
        if positive not in labels:
            f.fail("positive_label", f"{_show(positive)} is not one of labels {list(labels)}")
        inp = _input(f.sub("input"))
        out = _output(f.sub("output"))
        threshold = f.number("decision_threshold", lo=0.0, hi=1.0)  # logits: after softmax
        embedding = f.text("embedding_output", None, nullable=True)
        if embedding is not None and embedding == out.name:
            f.fail("embedding_output", f"must differ from output.name ({_show(out.name)})")
        if embedding is not None and embedding == inp.name:
            f.fail("embedding_output", f"must differ from input.name ({_show(inp.name)})")
        prep = _preprocessing(f.sub("preprocessing"), inp.channels)
        training = _training(f.sub("training", {}))
        metrics = f.raw("metrics", {})
        if metrics is None:
            metrics = {}
        if not isinstance(metrics, dict):
            f.fail("metrics", f"must be a mapping (got {_show(metrics)})")
        try:
            json.dumps(metrics, allow_nan=False)
        except (TypeError, ValueError) as exc:
            f.fail("metrics", f"must be plain JSON data ({exc})")
        cam = _cam(f.sub("cam")) if f.raw("cam", None) is not None else None
        fp16 = f.raw("fp16", False)
        if not isinstance(fp16, bool):
            f.fail("fp16", f"must be true or false (got {_show(fp16)})")
        f.done()
        return cls(name=name, version=version, description=description, labels=labels,
                   positive_label=positive, decision_threshold=threshold, input=inp, output=out,
                   embedding_output=embedding, preprocessing=prep, training=training,
                   metrics=metrics, cam=cam, fp16=fp16)

    @classmethod
    def from_json(cls, text: str, source: str = "model card") -> "ModelCard":
        """Parse and validate a card serialised by :meth:`to_json`."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelCardInvalid(f"{source}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
        return cls.from_dict(data, source)

    # -------------------------------------------------------------- output
    def to_dict(self) -> dict:
        """The card as plain data, every key present, in the documented order."""
        p = self.preprocessing
        d = {
            "name": self.name, "version": self.version, "description": self.description,
            "labels": list(self.labels), "positive_label": self.positive_label,
            "decision_threshold": self.decision_threshold,
            "input": {"name": self.input.name, "layout": self.input.layout,
                      "channels": self.input.channels, "height": self.input.height,
                      "width": self.input.width},
            "output": {"name": self.output.name, "kind": self.output.kind},
            "embedding_output": self.embedding_output,
            "preprocessing": {
                "scaling": p.scaling,
                "window": {"center": p.window.center, "width": p.window.width},
                "percentile": list(p.percentile),
                "normalisation": {"mean": _plain(p.normalisation.mean),
                                  "std": _plain(p.normalisation.std)},
                "resize": p.resize},
            "training": {"cohort": self.training.cohort, "run": self.training.run,
                         "data": self.training.data,
                         "parent_version": self.training.parent_version},
            "metrics": json.loads(json.dumps(self.metrics)),
        }
        if self.cam is not None:  # optional, additive: absent when not declared
            d["cam"] = {"feature_map": self.cam.feature_map, "weights": list(self.cam.weights)}
        if self.fp16:  # optional, additive: absent when false
            d["fp16"] = True
        return d

    def to_json(self, indent: int | None = None) -> str:
        """The card as JSON (compact by default), readable by :meth:`from_json`."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)


def _labels(f: _Fields) -> tuple[str, ...]:
    v = f.raw("labels")
    if not isinstance(v, list) or len(v) < 2:
        f.fail("labels", f"must be a list of at least 2 label names (got {_show(v)})")
    for i, item in enumerate(v):
        if not isinstance(item, str) or not item.strip():
            f.fail(f"labels[{i}]", f"must be a non-empty string (got {_show(item)})")
    if len(set(v)) != len(v):
        f.fail("labels", f"contains duplicates ({_show(v)})")
    return tuple(v)


def _input(f: _Fields) -> InputSpec:
    f.expect("name", "layout", "channels", "height", "width")
    spec = InputSpec(name=f.text("name"), layout=f.text("layout", "NCHW", choices=LAYOUTS),
                     channels=f.integer("channels"), height=f.integer("height"),
                     width=f.integer("width"))
    if spec.channels not in CHANNELS:
        f.fail(f.path("channels"), f"must be 1 or 3 (got {spec.channels})")
    f.done()
    return spec


def _output(f: _Fields) -> OutputSpec:
    f.expect("name", "kind")
    spec = OutputSpec(name=f.text("name"), kind=f.text("kind", choices=OUTPUT_KINDS))
    f.done()
    return spec


def _plain(v: float | tuple[float, ...]) -> float | list[float]:
    return list(v) if isinstance(v, tuple) else v


def _per_channel(f: _Fields, key: str, default: float, channels: int, positive: bool):
    """A number, or a list of 1 or ``channels`` numbers (kept as a tuple)."""
    v = f.raw(key, default)
    if not isinstance(v, list):
        return f.check_number(f.path(key), v, positive=positive)
    if len(v) not in (1, channels):
        f.fail(f.path(key), f"must be a number, or a list of one or one per channel "
                            f"(input.channels = {channels}) (got {_show(v)})")
    return tuple(f.check_number(f"{f.path(key)}[{i}]", x, positive=positive) for i, x in enumerate(v))


def _preprocessing(f: _Fields, channels: int) -> Preprocessing:
    f.expect("scaling", "window", "percentile", "normalisation", "resize")
    scaling = f.text("scaling", choices=SCALINGS)
    w = f.sub("window", {}).expect("center", "width")
    window = Window(center=w.number("center", None, nullable=True),
                    width=w.number("width", None, nullable=True, positive=True))
    w.done()
    if (window.center is None) != (window.width is None):
        w.fail(w.where, "center and width must both be numbers or both be null")
    pct = f.raw("percentile", [1.0, 99.0])
    if not isinstance(pct, list) or len(pct) != 2:
        f.fail("preprocessing.percentile", f"must be a list [low, high] (got {_show(pct)})")
    lo, hi = (f.check_number(f"preprocessing.percentile[{i}]", x, lo=0.0, hi=100.0)
              for i, x in enumerate(pct))
    if lo >= hi:
        f.fail("preprocessing.percentile", f"low must be below high (got {_show(pct)})")
    n = f.sub("normalisation", {}).expect("mean", "std")
    norm = Normalisation(mean=_per_channel(n, "mean", 0.0, channels, False),
                         std=_per_channel(n, "std", 1.0, channels, True))
    n.done()
    prep = Preprocessing(scaling=scaling, window=window, percentile=(lo, hi), normalisation=norm,
                         resize=f.text("resize", "bilinear", choices=RESIZES))
    f.done()
    return prep


def _cam(f: _Fields) -> CamSpec:
    f.expect("feature_map", "weights")
    feature_map = f.text("feature_map")
    weights = f.raw("weights")
    if isinstance(weights, str):
        weights = [weights]
    if not isinstance(weights, list) or not weights:
        f.fail(f.path("weights"), f"must be a weight initializer name or a non-empty list of them "
                                  f"(got {_show(weights)})")
    for i, w in enumerate(weights):
        if not isinstance(w, str) or not w.strip():
            f.fail(f"{f.path('weights')}[{i}]", f"must be a non-empty string (got {_show(w)})")
    f.done()
    return CamSpec(feature_map=feature_map, weights=tuple(weights))


def _training(f: _Fields) -> Training:
    f.expect("cohort", "run", "data", "parent_version")
    t = Training(cohort=f.text("cohort", "", empty=True), run=f.text("run", "", empty=True),
                 data=f.text("data", "", empty=True),
                 parent_version=f.text("parent_version", None, nullable=True, pattern=_SEMVER))
    f.done()
    return t


def load_card(path: str | Path) -> ModelCard:
    """Read and validate a card from ``path`` (JSON if it ends in .json, else YAML)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ModelCardInvalid(f"{path}: cannot read model card ({why})") from None
    if path.suffix.lower() == ".json":
        return ModelCard.from_json(text, str(path))
    import yaml  # here, not at import: the worker-side script reads JSON cards only

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ModelCardInvalid(f"{path}: not valid YAML ({where}{problem})") from None
    return ModelCard.from_dict(data, str(path))
