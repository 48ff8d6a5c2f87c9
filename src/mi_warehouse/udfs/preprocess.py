"""Turn a decoded DICOM frame into the network's input tensor, as the model card says.

This is the one implementation of the card's ``preprocessing`` block
(:class:`mi_warehouse.models.card.Preprocessing`): the TRANSFORM script runs it through
:func:`load_tensor`, and the demo's training data through :func:`dataset_tensor`
(``models/demo/training_prep.py``), so a model is trained on the numbers it is scored on.

Pipeline for greyscale frames (modality values from :mod:`.dicom_frame`):

1. VOI: the card's window if it sets one; else the file's first WindowCenter/WindowWidth
   (with its VOILUTFunction); else percentile scaling between the card's percentiles. With
   ``scaling: percentile`` on the card, percentile scaling is used even when the file has a
   window. Result in [0, 1].
2. MONOCHROME1 inversion (``1 - x``), after windowing, so that bright means dense.
3. Resize to the card's height x width: separable bilinear (triangle) filter with half-pixel
   centres; when shrinking, the filter widens with the scale (antialiased, as PIL and
   torchvision do). Deterministic, numpy only.
4. Clip to [0, 1], normalise ``(x - mean) / std``, lay out as ``(C, H, W)`` (or ``(H, W, C)``
   for NHWC) float32; greyscale is replicated when the card asks for 3 channels.

Colour frames (RGB/YBR) skip the Modality LUT and VOI: they are scaled by the largest stored
value, and reduced to luma (ITU-R BT.601) when the card wants one channel.
"""

from __future__ import annotations

import functools

import numpy as np

from ..models.card import InputSpec, ModelCard, Preprocessing
from .dicom_frame import FrameData, decode_frame, read_dataset
from .errors import ImageError
from .image_source import read_uri

__all__ = ["apply_window", "percentile_scale", "invert", "resize_bilinear", "normalise",
           "frame_to_tensor", "dataset_tensor", "load_tensor"]

_LUMA = np.array([0.299, 0.587, 0.114])


def apply_window(x: np.ndarray, center: float, width: float,
                 function: str = "LINEAR") -> np.ndarray:
    """DICOM VOI window (PS3.3 C.11.2.1.2) onto [0, 1]: ``LINEAR`` (the default, also used for
    unknown functions), ``LINEAR_EXACT`` or ``SIGMOID``."""
    x = np.asarray(x, dtype=np.float64)
    if width <= 0:
        raise ValueError("window width must be > 0")
    function = function.upper()
    if function == "SIGMOID":
        with np.errstate(over="ignore"):
            y = 1.0 / (1.0 + np.exp(-4.0 * (x - center) / width))
    elif function == "LINEAR_EXACT" or width <= 1:
        y = (x - center) / width + 0.5
    else:
        y = (x - (center - 0.5)) / (width - 1.0) + 0.5
    return np.clip(y, 0.0, 1.0)


def percentile_scale(x: np.ndarray, low: float = 1.0, high: float = 99.0) -> np.ndarray:
    """Map the ``low``..``high`` percentiles of ``x`` onto [0, 1] (clipped); a flat image
    becomes all zeros."""
    x = np.asarray(x, dtype=np.float64)
    lo, hi = np.percentile(x, [low, high])
    if not hi > lo:
        return np.zeros_like(x)
    return np.clip((x - lo) / (hi - lo), 0.0, 1.0)


def invert(x: np.ndarray) -> np.ndarray:
    """MONOCHROME1 to MONOCHROME2 sense for values in [0, 1]."""
    return 1.0 - x


@functools.lru_cache(maxsize=64)
def _resize_matrix(n_in: int, n_out: int) -> np.ndarray:
    """``(n_out, n_in)`` weights of a triangle filter; each row sums to 1."""
    scale = n_in / n_out
    support = max(scale, 1.0)
    centres = (np.arange(n_out, dtype=np.float64) + 0.5) * scale
    dist = np.abs(np.arange(n_in, dtype=np.float64)[None, :] + 0.5 - centres[:, None])
    w = np.clip(1.0 - dist / support, 0.0, None)
    w /= w.sum(axis=1, keepdims=True)
    w.setflags(write=False)
    return w


def resize_bilinear(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize a ``(H, W)`` or ``(H, W, C)`` image to ``(height, width[, C])``; the identity when
    the size already matches."""
    img = np.asarray(img, dtype=np.float64)
    if img.shape[:2] == (height, width):
        return img
    wy, wx = _resize_matrix(img.shape[0], height), _resize_matrix(img.shape[1], width)
    if img.ndim == 2:
        return wy @ img @ wx.T
    return np.einsum("ij,jkc,lk->ilc", wy, img, wx, optimize=True)


def normalise(x: np.ndarray, mean, std) -> np.ndarray:
    """``(x - mean) / std`` with per-channel mean/std broadcast over the last axis."""
    return (x - np.asarray(mean, dtype=np.float64)) / np.asarray(std, dtype=np.float64)


def _scale_grey(frame: FrameData, prep: Preprocessing) -> np.ndarray:
    """Step 1 of the module docstring."""
    if prep.scaling == "window":
        center, width = prep.window.center, prep.window.width
        if center is not None and width is not None:
            return apply_window(frame.pixels, center, width)
        if frame.window is not None:
            return apply_window(frame.pixels, *frame.window)
    return percentile_scale(frame.pixels, *prep.percentile)


def frame_to_tensor(frame: FrameData, spec: InputSpec, prep: Preprocessing) -> np.ndarray:
    """The float32 network input for one frame (see the module docstring)."""
    if frame.colour:
        rgb = np.clip(frame.pixels / max(frame.max_value, 1.0), 0.0, 1.0)
        img = rgb if spec.channels == 3 else rgb @ _LUMA
    else:
        img = _scale_grey(frame, prep)
        if frame.monochrome1:
            img = invert(img)
    img = np.clip(resize_bilinear(img, spec.height, spec.width), 0.0, 1.0)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], spec.channels, axis=2)
    norm = prep.normalisation
    out = normalise(img, norm.mean, norm.std).astype(np.float32)
    if spec.layout == "NCHW":
        out = np.ascontiguousarray(out.transpose(2, 0, 1))
    return out


def dataset_tensor(ds, frame: int, spec: InputSpec, prep: Preprocessing,
                   pixels=None) -> np.ndarray:
    """Decode ``frame`` of a parsed pydicom dataset and preprocess it; raises
    :class:`ImageError`. The step shared by :func:`load_tensor` and the demo's training data.
    ``pixels``: see :func:`.dicom_frame.decode_frame`."""
    data = decode_frame(ds, frame, pixels)
    try:
        return frame_to_tensor(data, spec, prep)
    except ImageError:
        raise
    except (ValueError, MemoryError) as exc:
        raise ImageError(f"preprocessing failed: {type(exc).__name__}: {exc}") from None


def load_tensor(uri: str, frame: int, card: ModelCard, pixels=None) -> np.ndarray:
    """Read ``uri``, decode ``frame`` and preprocess it; raises :class:`ImageError`."""
    return dataset_tensor(read_dataset(read_uri(uri)), frame, card.input, card.preprocessing,
                          pixels)
