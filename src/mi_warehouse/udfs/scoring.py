"""From the raw score output of the network to per-label scores and a decision.

``softmax`` outputs are probabilities already; ``logits`` get a softmax; ``sigmoid`` outputs are
independent probabilities per label, or, with a single output column, the probability of the
positive label (the other label then gets ``1 - p``). All arithmetic is float64 numpy, so the
same raw output always gives the same numbers.
"""

from __future__ import annotations

import numpy as np

from ..models.card import ModelCard

__all__ = ["label_scores", "decide", "expected_width", "score_problem"]


def expected_width(kind: str, n_labels: int) -> tuple[int, ...]:
    """The score widths a model of this kind may have."""
    return (1, n_labels) if kind == "sigmoid" and n_labels == 2 else (n_labels,)


def label_scores(raw: np.ndarray, card: ModelCard) -> np.ndarray:
    """``(N, len(labels))`` float64 scores from the raw ``(N, K)`` output (extra dimensions of
    size 1 are dropped). Raises ``ValueError`` when ``K`` does not fit the card."""
    n_labels = len(card.labels)
    x = np.asarray(raw, dtype=np.float64)
    x = x.reshape(x.shape[0], -1) if x.ndim != 2 else x
    kind = card.output.kind
    if x.shape[1] not in expected_width(kind, n_labels):
        raise ValueError(f"output {card.output.name!r} has {x.shape[1]} values per image, the "
                         f"card lists {n_labels} labels")
    if kind == "logits":
        z = x - x.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)
    if kind == "sigmoid" and x.shape[1] == 1:
        p = x[:, 0]
        pos = card.positive_index
        out = np.empty((x.shape[0], 2))
        out[:, pos], out[:, 1 - pos] = p, 1.0 - p
        return out
    return x


def score_problem(scores: np.ndarray, card: ModelCard) -> str | None:
    """Why one image's label scores cannot be stored as a prediction (a one-line reason), or
    ``None`` when they can: a NaN or infinite score, or a positive-class probability outside
    [0, 1] (a sigmoid or softmax output that is not a probability). Such an image becomes a
    ``status='error'`` row, so that evaluation counts it as not scored instead of ranking it."""
    values = np.asarray(scores, dtype=np.float64)
    if not np.isfinite(values).all():
        return "the model produced non-finite scores"
    prob = float(values[card.positive_index])
    if not 0.0 <= prob <= 1.0:
        return (f"the model produced probability {prob!r} for {card.positive_label!r}, "
                f"outside [0, 1]; check output.kind in the model card")
    return None


def decide(scores: np.ndarray, card: ModelCard) -> tuple[str, float]:
    """``(predicted_label, probability)`` for one image's label scores: the positive label when
    its score reaches the card's threshold, else the best-scoring other label."""
    pos = card.positive_index
    prob = float(scores[pos])
    if prob >= card.decision_threshold:
        return card.positive_label, prob
    others = [i for i in range(len(card.labels)) if i != pos]
    best = max(others, key=lambda i: (scores[i], -i))
    return card.labels[best], prob
