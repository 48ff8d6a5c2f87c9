"""Synthetic DICOM corpora for demos, tests and benchmarks (valid Part 10 files, never real patients).

`generate()` writes a realistic multi-site corpus and its `labels.csv` (`corpus.py`);
`Shortcut` makes one site burn a marker into its positive images (`shortcut.py`).
"""

from .corpus import generate
from .shortcut import Shortcut

__all__ = ["Shortcut", "generate"]
