"""One image, decoded once, as the network input and as a picture to draw on.

Both come from the inference code (``udfs``: the same reader, decoder and preprocessing the
TRANSFORM script runs): the network input with the card's preprocessing, the picture with the
same preprocessing at a display size (longest side 256-512 pixels, aspect kept) and without
normalisation, so the overlay shows the pixels the model was given.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..models.card import InputSpec, ModelCard, Normalisation
from ..udfs.dicom_frame import decode_frame, read_dataset
from ..udfs.image_source import read_uri
from ..udfs.preprocess import frame_to_tensor

__all__ = ["display_size", "load_image"]


def display_size(rows: int, cols: int, low: int = 256, high: int = 512) -> tuple[int, int]:
    """``(height, width)`` with the longest side clamped to [low, high], aspect kept."""
    longest = max(rows, cols, 1)
    scale = min(max(longest, low), high) / longest
    return max(1, round(rows * scale)), max(1, round(cols * scale))


def load_image(uri: str, frame: int, card: ModelCard) -> tuple[np.ndarray, np.ndarray]:
    """``(network input, display picture (H, W) or (H, W, 3) in [0, 1])``; raises ``ImageError``."""
    data = decode_frame(read_dataset(read_uri(uri)), frame)
    tensor = frame_to_tensor(data, card.input, card.preprocessing)
    h, w = display_size(*data.pixels.shape[:2])
    channels = 3 if data.colour else 1
    spec = InputSpec(card.input.name, "NHWC", channels, h, w)
    picture = frame_to_tensor(data, spec, replace(card.preprocessing, normalisation=Normalisation(0.0, 1.0)))
    return tensor, (picture[:, :, 0] if channels == 1 else picture)
