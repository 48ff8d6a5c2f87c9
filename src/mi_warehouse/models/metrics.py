"""Binary-classification metrics for model cards (numpy only): AUC and threshold metrics."""

from __future__ import annotations

import numpy as np

__all__ = ["roc_auc", "binary_metrics"]


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks of ``values``, ties sharing their average rank."""
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.arange(1, len(values) + 1)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return (sums / counts)[inverse]


def roc_auc(y_true, score) -> float | None:
    """Area under the ROC curve (Mann-Whitney U, ties count half); None without both classes."""
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(score, dtype=np.float64)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = _average_ranks(s)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def binary_metrics(y_true, score, threshold: float, digits: int = 4) -> dict:
    """n, positives, AUC, and accuracy/sensitivity/specificity of ``score >= threshold``."""
    y = np.asarray(y_true).astype(bool)
    pred = np.asarray(score, dtype=np.float64) >= threshold
    tp, tn = int((pred & y).sum()), int((~pred & ~y).sum())
    fp, fn = int((pred & ~y).sum()), int((~pred & y).sum())

    def ratio(a: int, b: int) -> float | None:
        return round(a / b, digits) if b else None

    auc = roc_auc(y, score)
    return {"n": int(len(y)), "positives": int(y.sum()), "negatives": int((~y).sum()),
            "threshold": float(threshold), "auc": None if auc is None else round(auc, digits),
            "accuracy": ratio(tp + tn, len(y)), "sensitivity": ratio(tp, tp + fn),
            "specificity": ratio(tn, tn + fp), "tp": tp, "fp": fp, "tn": tn, "fn": fn}
