"""One onnxruntime session, checked against the model card, that scores batches.

The session is built with deterministic settings (sequential execution, deterministic compute,
a fixed number of intra-op threads) and onnxruntime's logging held at ERROR so that provider
fallbacks do not flood the Hive task logs. At start-up the runner checks the card against the
model (input/output names, static input dimensions, score width) with a warm-up run, so that a
mismatch stops the script before the first row instead of failing every row.

I/O binding (GPU providers by default, ``io_binding``): each batch goes to the device once as an
``OrtValue``, the outputs are bound to the device and copied back once after the run, so
onnxruntime makes no extra host staging copies of inputs or outputs.
"""

from __future__ import annotations

import os

import numpy as np

from ..models.card import ModelCard
from .errors import SetupError, one_line
from .providers import ProviderChoice, short_name
from .scoring import expected_width

__all__ = ["OnnxRunner"]

_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16,
           "tensor(double)": np.float64}


def quiet_onnxruntime():
    """Import onnxruntime with its default logger at ERROR (3); returns the module."""
    import onnxruntime as ort
    ort.set_default_logger_severity(3)
    return ort


class OnnxRunner:
    """Scores ``(n, C, H, W)`` float32 batches (``(n, H, W, C)`` for NHWC).

    ``batch_size`` is the largest batch sent to the session (a model with a fixed batch
    dimension imposes its own). Batches are padded with zeros to that size on GPU providers
    and for fixed-batch models, so every run has the same shape (no TensorRT rebuilds).
    ``provider`` is the short name of the provider the session really uses.
    """

    def __init__(self, model: bytes, card: ModelCard, choice: ProviderChoice, *,
                 batch_size: int = 16, embeddings: bool = False, intra_op_threads: int = 1,
                 strict_provider: bool = False, model_dir: str | None = None,
                 io_binding: bool | None = None):
        ort = quiet_onnxruntime()
        self.card = card
        so = ort.SessionOptions()
        so.log_severity_level = 3
        so.intra_op_num_threads = max(1, intra_op_threads)
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.use_deterministic_compute = True
        if model_dir:  # external weights next to the model file, loaded from bytes
            so.add_session_config_entry("session.model_external_initializers_file_folder_path",
                                        model_dir)
        try:
            self.session = ort.InferenceSession(model, so, providers=choice.providers)
        except Exception as exc:
            raise SetupError(f"onnxruntime cannot load the model: {one_line(exc, 300)}") from None
        self.provider = short_name(self.session.get_providers()[0])
        self.device_id = int(dict(choice.providers[0][1]).get("device_id", 0) or 0)
        self.io_binding = (self.provider != "cpu") if io_binding is None else io_binding
        self._ort = ort
        if strict_provider and self.provider != choice.short:
            raise SetupError(f"asked for {choice.short} but onnxruntime runs the model on "
                             f"{self.provider}")
        self._check_io(embeddings)
        fixed = self._input_shape[0]
        self.batch_size = fixed if isinstance(fixed, int) and fixed > 0 else max(1, batch_size)
        self.pad = self.provider != "cpu" or isinstance(fixed, int)
        self._warm_up()

    # --- set-up checks -------------------------------------------------------------------------

    def _check_io(self, embeddings: bool) -> None:
        card = self.card
        inputs = {i.name: i for i in self.session.get_inputs()}
        outputs = {o.name for o in self.session.get_outputs()}
        if card.input.name not in inputs:
            raise SetupError(f"the model has no input {card.input.name!r} (inputs: "
                             f"{sorted(inputs)})")
        if card.output.name not in outputs:
            raise SetupError(f"the model has no output {card.output.name!r} (outputs: "
                             f"{sorted(outputs)})")
        self.output_names = [card.output.name]
        if embeddings:
            if not card.embedding_output:
                raise SetupError("--embeddings given but the card has no embedding_output")
            if card.embedding_output not in outputs:
                raise SetupError(f"the model has no embedding output {card.embedding_output!r} "
                                 f"(outputs: {sorted(outputs)})")
            self.output_names.append(card.embedding_output)
        meta = inputs[card.input.name]
        if meta.type not in _DTYPES:
            raise SetupError(f"input {meta.name!r} has type {meta.type}; float, float16 or "
                             f"double expected")
        self.dtype = _DTYPES[meta.type]
        shape = list(meta.shape)
        if len(shape) != 4:
            raise SetupError(f"input {meta.name!r} has rank {len(shape)}, 4 expected")
        spec = card.input
        want = ((spec.channels, spec.height, spec.width) if spec.layout == "NCHW"
                else (spec.height, spec.width, spec.channels))
        for got, exp, what in zip(shape[1:], want, spec.layout[1:]):
            if isinstance(got, int) and got > 0 and got != exp:
                raise SetupError(f"input {meta.name!r} has {what}={got} but the card says {exp} "
                                 f"(shape {shape}, layout {spec.layout})")
        self._input_shape = shape
        self._sample_shape = want

    def _warm_up(self) -> None:
        """One run on zeros: checks the score width and embedding rank."""
        n = self.batch_size if self.pad else 1
        try:
            scores, emb = self._run_chunk(np.zeros((n, *self._sample_shape), np.float32))
        except Exception as exc:
            raise SetupError(f"warm-up inference failed: {one_line(exc, 300)}") from None
        width = int(np.prod(scores.shape[1:])) if scores.ndim > 1 else 1
        allowed = expected_width(self.card.output.kind, len(self.card.labels))
        if width not in allowed:
            raise SetupError(f"output {self.card.output.name!r} has {width} values per image "
                             f"but the card lists {len(self.card.labels)} labels "
                             f"{list(self.card.labels)}")
        if emb is not None and emb.shape[0] != n:
            raise SetupError(f"embedding output {self.card.embedding_output!r} is not batched")

    # --- inference ----------------------------------------------------------------------------

    def _run_chunk(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        if self.io_binding:
            res = self._run_bound(np.ascontiguousarray(x, dtype=self.dtype))
        else:
            res = self.session.run(self.output_names,
                                   {self.card.input.name: x.astype(self.dtype)})
        scores = np.asarray(res[0])
        emb = np.asarray(res[1]) if len(res) > 1 else None
        return scores, emb

    def _run_bound(self, x: np.ndarray) -> list[np.ndarray]:
        """One run through an IOBinding: input copied to the device once, outputs kept there
        until the one copy back."""
        device = "cpu" if self.provider == "cpu" else "cuda"
        binding = self.session.io_binding()
        value = self._ort.OrtValue.ortvalue_from_numpy(x, device, self.device_id)
        binding.bind_ortvalue_input(self.card.input.name, value)
        for name in self.output_names:
            binding.bind_output(name, device, self.device_id)
        self.session.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()

    def run(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Raw scores ``(n, ...)`` and embeddings ``(n, D)`` (or ``None``) for ``n`` inputs."""
        scores, embs = [], []
        for start in range(0, len(x), self.batch_size):
            part = x[start:start + self.batch_size]
            m = len(part)
            if self.pad and m < self.batch_size:
                part = np.concatenate([part, np.zeros((self.batch_size - m, *part.shape[1:]),
                                                      part.dtype)])
            s, e = self._run_chunk(part)
            scores.append(s[:m])
            if e is not None:
                embs.append(e[:m].reshape(m, -1))
        emb = np.concatenate(embs) if embs else None
        return np.concatenate(scores), emb


def model_dir_of(path: str) -> str:
    """Folder that holds the model file (where external weights would be)."""
    return os.path.dirname(os.path.abspath(path))
