"""A shortcut to learn: one site's positive chest radiographs carry a burned-in marker.

``generate(..., shortcut=Shortcut("SAM"))`` makes the site coded ``SAM`` (see
``corpus._SITES``) stamp a marker into the pixel data of every chest radiograph with a finding,
as a department's label or a scanner's annotation would be burned in, and gives that site a
much higher prevalence (``site_rate``) than the others (``other_rate``). With
``finding_contrast`` < 1 the true finding is fainter, so a model can reach a high pooled AUC by
reading the marker (and through it the site) instead of the lung. The within-site metrics
(``eval_site_shortcut``, ``eval_within_site_auc``) are built to expose such a model.

The marker is drawn after noise, at the highest stored value (white on display: for
MONOCHROME1 images it is drawn before the inversion), in the top-left corner, outside the body:
``text`` writes the site code in a 3 x 5 pixel font, ``box`` a filled square; both scale with
the image (one font pixel per 64 image pixels). Marked images say ``BurnedInAnnotation YES``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MARKERS", "Shortcut", "marker_mask"]

MARKERS = ("text", "box")

# 3 x 5 glyphs, rows top to bottom ('#' = ink): the letters of the synthetic sites' codes.
_FONT = {
    "A": (".#.", "#.#", "###", "#.#", "#.#"), "C": (".##", "#..", "#..", "#..", ".##"),
    "G": (".##", "#..", "#.#", "#.#", ".##"), "H": ("#.#", "#.#", "###", "#.#", "#.#"),
    "I": ("###", ".#.", ".#.", ".#.", "###"), "L": ("#..", "#..", "#..", "#..", "###"),
    "M": ("#.#", "###", "###", "#.#", "#.#"), "N": ("##.", "#.#", "#.#", "#.#", "#.#"),
    "R": ("##.", "#.#", "##.", "#.#", "#.#"), "S": (".##", "#..", ".#.", "..#", "##."),
    "U": ("#.#", "#.#", "#.#", "#.#", "###"), "X": ("#.#", "#.#", ".#.", "#.#", "#.#"),
}


def _glyph(ch: str) -> np.ndarray:
    rows = _FONT.get(ch.upper(), _FONT["X"])
    return np.array([[c == "#" for c in row] for row in rows], dtype=bool)


def marker_mask(n: int, kind: str, text: str) -> np.ndarray:
    """Boolean ``n`` x ``n`` mask of the marker: ``text`` in a 3 x 5 font or a filled box."""
    if kind not in MARKERS:
        raise ValueError(f"marker must be one of {', '.join(MARKERS)}, got {kind!r}")
    scale = max(1, n // 64)
    if kind == "box":
        cells = np.ones((5, 5), dtype=bool)
    else:
        glyphs = [_glyph(c) for c in text[:4]] or [_glyph("X")]
        gap = np.zeros((5, 1), dtype=bool)
        cells = np.hstack([g if i == 0 else np.hstack([gap, g]) for i, g in enumerate(glyphs)])
    big = np.kron(cells, np.ones((scale, scale), dtype=bool))
    mask = np.zeros((n, n), dtype=bool)
    r0 = c0 = 2 * scale  # a margin, then the corner: outside the body ellipse of the template
    h, w = min(big.shape[0], n - r0), min(big.shape[1], n - c0)
    if h > 0 and w > 0:
        mask[r0:r0 + h, c0:c0 + w] = big[:h, :w]
    return mask


@dataclass(frozen=True)
class Shortcut:
    """Which site marks its positives, how, and the prevalences that make the marker pay."""

    site: str  # a site code of corpus._SITES, e.g. "SAM"
    marker: str = "text"
    site_rate: float = 0.9  # P(finding) of a chest study at the marker site
    other_rate: float = 0.1  # ... at every other site
    finding_contrast: float = 1.0  # the finding's brightness, relative to the ordinary corpus

    def __post_init__(self) -> None:
        if self.marker not in MARKERS:
            raise ValueError(f"shortcut marker must be one of {', '.join(MARKERS)}, got {self.marker!r}")
        for name in ("site_rate", "other_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"shortcut {name} must be in [0, 1], got {getattr(self, name)}")
        if not self.finding_contrast > 0:
            raise ValueError(f"finding_contrast must be > 0, got {self.finding_contrast}")

    def site_index(self, codes: list[str]) -> int:
        """The index of the marker site among ``codes``; a one-line error naming the choices."""
        want = self.site.upper()
        if want not in codes:
            raise ValueError(f"shortcut site {self.site!r} is not a synthetic site; choose one of "
                             f"{', '.join(codes)}")
        return codes.index(want)
