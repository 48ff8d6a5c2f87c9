"""Synthetic DICOM corpora for demos, tests and benchmarks (valid Part 10 files, never real patients).

`generate()` writes a realistic multi-site corpus and its `labels.csv` (`corpus.py`).
"""

from .corpus import generate

__all__ = ["generate"]
