"""Occlusion sensitivity (Zeiler & Fergus, ECCV 2014) for any ONNX model.

A square patch slides over the network input on a grid sized from the card (``patch`` = input
size / ``grid`` pixels, stride half a patch); each position is filled with one fixed value, the
card's normalisation mean after normalisation (the "average pixel": 0 for ``(x - mean) / std``),
and the occluded copies are scored in batches. A pixel's value is the mean drop of the positive
class's score over the patches that cover it: high where hiding the pixel lowers the score.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..models.card import InputSpec, ModelCard

__all__ = ["Grid", "grid_for", "fill_value", "occlusion_map"]


@dataclass(frozen=True)
class Grid:
    patch: int
    stride: int

    def starts(self, size: int) -> list[int]:
        """Patch origins along one axis: every ``stride``, the last flush with the edge."""
        last = max(size - self.patch, 0)
        out = list(range(0, last + 1, self.stride))
        return out if out[-1] == last else out + [last]


def grid_for(spec: InputSpec, grid: int = 8) -> Grid:
    """A patch of ``1/grid`` of the input's smaller side, moved by half a patch."""
    if grid < 1:
        raise ValueError("the occlusion grid must be >= 1")
    patch = max(1, -(-min(spec.height, spec.width) // grid))
    return Grid(patch, max(1, patch // 2))


def fill_value(card: ModelCard) -> np.ndarray:
    """Per-channel fill: the normalisation mean, normalised (so 0 unless mean/std are odd)."""
    from ..udfs.preprocess import normalise

    norm = card.preprocessing.normalisation
    mean = np.broadcast_to(np.asarray(norm.mean, np.float64), (card.input.channels,))
    return normalise(mean, norm.mean, norm.std).astype(np.float32)


def occlusion_map(x: np.ndarray, score: Callable[[np.ndarray], np.ndarray], spec: InputSpec,
                  grid: Grid, fill: np.ndarray, batch_size: int = 64) -> tuple[np.ndarray, float]:
    """``(map (H, W), base score)`` for one input tensor ``x`` (C, H, W or H, W, C by
    ``spec.layout``); ``score`` maps a batch to its positive-class scores (N,)."""
    nchw = spec.layout == "NCHW"
    h, w = (x.shape[1], x.shape[2]) if nchw else (x.shape[0], x.shape[1])
    fill = np.asarray(fill, np.float32).reshape((-1, 1, 1) if nchw else (1, 1, -1))
    base = float(score(x[None])[0])
    boxes = [(r, c) for r in grid.starts(h) for c in grid.starts(w)]
    total = np.zeros((h, w))
    count = np.zeros((h, w))
    p = grid.patch
    for i in range(0, len(boxes), batch_size):
        chunk = boxes[i:i + batch_size]
        batch = np.repeat(x[None], len(chunk), axis=0)
        for j, (r, c) in enumerate(chunk):
            if nchw:
                batch[j, :, r:r + p, c:c + p] = fill
            else:
                batch[j, r:r + p, c:c + p, :] = fill
        drops = base - np.asarray(score(batch), np.float64).reshape(-1)
        for (r, c), d in zip(chunk, drops):
            total[r:r + p, c:c + p] += d
            count[r:r + p, c:c + p] += 1
    return total / np.maximum(count, 1), base
