"""Training-time preprocessing of the demo CNN: one DICOM image -> one input tensor (numpy only).

This is the reference the demo model was trained with; the production path (udfs/) must
produce the same numbers.  For a card's ``preprocessing`` block, step by step:

1. Modality LUT: ``stored * RescaleSlope + RescaleIntercept`` (defaults 1 and 0).
2. Scale to [0, 1]:
   * ``scaling: window`` -- the card's ``window`` if set, else the image's first
     WindowCenter/WindowWidth, else the percentile rule below.  The window is DICOM's
     linear VOI function (PS3.3 C.11.2.1.2.1, as ``pydicom``'s ``apply_windowing``):
     ``clip(((x - (c - 0.5)) / (w - 1) + 0.5), 0, 1)`` (``(x - c) / w + 0.5`` if w <= 1).
   * ``scaling: percentile`` (or the fallback) -- ``lo, hi = np.percentile(x, percentile)``
     (linear interpolation), ``clip((x - lo) / (hi - lo), 0, 1)``; all zeros if ``hi <= lo``.
3. MONOCHROME1: ``1 - x`` (so that bright always means dense).
4. Resize to the card's height x width (skipped when the size already matches):
   ``bilinear`` is a separable triangle filter on half-pixel centres with edge clamping;
   enlarging, that is ``torch.nn.functional.interpolate(mode="bilinear",
   align_corners=False)``; shrinking, the filter widens by the scale factor (antialiased,
   like PIL and ``antialias=True``).  This is the same sampling as
   ``udfs.preprocess.resize_bilinear``.
5. Normalise: ``(x - mean) / std``; float32, shape ``(1, height, width)``.
"""

from __future__ import annotations

import numpy as np
from pydicom.multival import MultiValue

from mi_warehouse.models.card import InputSpec, Preprocessing

__all__ = ["modality_lut", "window", "percentile_scale", "resize", "preprocess"]


def _first(value) -> float | None:
    """First number of a (possibly multi-valued) DICOM DS/IS element, or None."""
    if isinstance(value, (list, tuple, MultiValue)):
        value = value[0] if len(value) else None
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def modality_lut(ds) -> np.ndarray:
    """Stored pixel values through RescaleSlope/RescaleIntercept, as float64."""
    slope = _first(ds.get("RescaleSlope"))
    intercept = _first(ds.get("RescaleIntercept"))
    x = ds.pixel_array.astype(np.float64)
    return x * (1.0 if slope is None else slope) + (0.0 if intercept is None else intercept)


def window(x: np.ndarray, center: float, width: float) -> np.ndarray:
    """DICOM linear window mapped to [0, 1]."""
    if width <= 1.0:  # the linear formula divides by width - 1; use LINEAR_EXACT's instead
        return np.clip((x - center) / width + 0.5, 0.0, 1.0)
    return np.clip((x - (center - 0.5)) / (width - 1.0) + 0.5, 0.0, 1.0)


def percentile_scale(x: np.ndarray, low: float, high: float) -> np.ndarray:
    """Map the [low, high] percentiles of ``x`` to [0, 1]."""
    lo, hi = np.percentile(x, [low, high])
    if hi <= lo:
        return np.zeros_like(x, dtype=np.float64)
    return np.clip((x - lo) / (hi - lo), 0.0, 1.0)


def _triangle_weights(n_in: int, n_out: int) -> np.ndarray:
    """``(n_out, n_in)`` bilinear weights: a triangle filter on half-pixel centres, widened by
    the scale factor when shrinking (antialiasing); rows sum to 1, so edges clamp."""
    scale = n_in / n_out
    support = max(scale, 1.0)
    centres = (np.arange(n_out) + 0.5) * scale
    dist = np.abs(np.arange(n_in)[None, :] + 0.5 - centres[:, None])
    w = np.clip(1.0 - dist / support, 0.0, None)
    return w / w.sum(axis=1, keepdims=True)


def resize(x: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of a 2-D image (see the module docstring for the exact sampling)."""
    if x.shape == (height, width):
        return x
    return _triangle_weights(x.shape[0], height) @ x @ _triangle_weights(x.shape[1], width).T


def preprocess(ds, prep: Preprocessing, spec: InputSpec) -> np.ndarray:
    """One single-frame grayscale DICOM dataset -> float32 array ``(1, height, width)``."""
    if spec.channels != 1:
        raise ValueError("the demo preprocessing makes single-channel inputs only")
    x = modality_lut(ds)
    center, width = prep.window.center, prep.window.width
    if prep.scaling == "window" and center is None:
        center, width = _first(ds.get("WindowCenter")), _first(ds.get("WindowWidth"))
    if prep.scaling == "window" and center is not None and width is not None and width > 0:
        x = window(x, center, width)
    else:
        x = percentile_scale(x, *prep.percentile)
    if str(ds.get("PhotometricInterpretation", "")).strip() == "MONOCHROME1":
        x = 1.0 - x
    x = resize(x, spec.height, spec.width)
    x = (x - np.asarray(prep.normalisation.mean)) / np.asarray(prep.normalisation.std)
    return x.astype(np.float32)[None]
