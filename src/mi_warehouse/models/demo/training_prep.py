"""Training-time preprocessing of the demo CNN: the TRANSFORM script's own pipeline.

There is one implementation of a card's ``preprocessing`` block, the worker-side
:mod:`mi_warehouse.udfs.preprocess` (Modality LUT, the card's or the file's VOI window or
percentile scaling, MONOCHROME1 inversion, antialiased half-pixel bilinear resize,
normalisation; its docstring gives the formulas).  Training calls it on the dataset it has
already read, so the model is trained on exactly the numbers the script scores it on;
``tests/unit/test_preprocess_parity.py`` checks that the two paths give the same arrays.
"""

from __future__ import annotations

import numpy as np

from mi_warehouse.models.card import InputSpec, Preprocessing
from mi_warehouse.udfs.preprocess import dataset_tensor

__all__ = ["preprocess"]


def preprocess(ds, prep: Preprocessing, spec: InputSpec, frame: int = 0) -> np.ndarray:
    """Frame ``frame`` of a pydicom dataset -> the float32 network input, ``(C, H, W)`` for
    NCHW (``(H, W, C)`` for NHWC), as the TRANSFORM script makes it.  Raises
    :class:`mi_warehouse.udfs.errors.ImageError` for an image the script would not score."""
    return dataset_tensor(ds, frame, spec, prep)
