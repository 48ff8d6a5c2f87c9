"""A saliency map blended over its image, as PNG bytes.

The map is reduced to its positive part and scaled by its maximum (so 1 is where the model
looked most; an all-negative map stays dark), resized to the image with the inference
preprocessing's bilinear filter, coloured with matplotlib's ``inferno`` colour map and blended:
each pixel takes ``0.65 * m`` of the colour and the rest of the grey image, so what the model
ignored still shows the anatomy.
"""

from __future__ import annotations

import io

import numpy as np

__all__ = ["normalise_map", "blend", "png_bytes", "overlay_png"]

_STRENGTH = 0.65


def normalise_map(saliency: np.ndarray) -> np.ndarray:
    """The positive part of ``saliency`` divided by its maximum (all zeros if none)."""
    m = np.clip(np.nan_to_num(np.asarray(saliency, np.float64)), 0.0, None)
    top = m.max() if m.size else 0.0
    return m / top if top > 0 else np.zeros_like(m)


def blend(image: np.ndarray, saliency: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` floats in [0, 1]: ``image`` (H, W) or (H, W, 3) in [0, 1] under the map."""
    from matplotlib import colormaps

    from ..udfs.preprocess import resize_bilinear

    img = np.clip(np.asarray(image, np.float64), 0.0, 1.0)
    grey = np.repeat(img[:, :, None], 3, axis=2) if img.ndim == 2 else img[:, :, :3]
    m = np.clip(resize_bilinear(normalise_map(saliency), grey.shape[0], grey.shape[1]), 0.0, 1.0)
    colour = colormaps["inferno"](m)[:, :, :3]
    a = (_STRENGTH * m)[:, :, None]
    return (1.0 - a) * grey + a * colour


def png_bytes(rgb: np.ndarray) -> bytes:
    """PNG of an ``(H, W, 3)`` float image in [0, 1] (no metadata: nothing but pixels)."""
    from matplotlib.image import imsave

    buf = io.BytesIO()
    imsave(buf, np.clip(rgb, 0.0, 1.0), format="png", metadata={"Software": None})
    return buf.getvalue()


def overlay_png(image: np.ndarray, saliency: np.ndarray) -> bytes:
    """:func:`blend` as PNG bytes."""
    return png_bytes(blend(image, saliency))
