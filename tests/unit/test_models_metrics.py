"""Binary metrics for model cards (mi_warehouse.models.metrics)."""

from __future__ import annotations

import pytest

from mi_warehouse.models.metrics import binary_metrics, roc_auc


def test_auc_perfect_inverted_ties_and_undefined():
    assert roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert roc_auc([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1]) == 0.0
    assert roc_auc([0, 1], [0.5, 0.5]) == 0.5
    # (pos, neg) pairs: 0.4>0.1, 0.4<0.5, 0.5>0.1, 0.5=0.5 (a tie counts half)
    assert roc_auc([0, 0, 1, 1], [0.1, 0.5, 0.4, 0.5]) == pytest.approx((1 + 0 + 1 + 0.5) / 4)
    assert roc_auc([1, 1], [0.2, 0.3]) is None


def test_threshold_metrics():
    m = binary_metrics([1, 1, 1, 0, 0], [0.9, 0.6, 0.2, 0.5, 0.1], threshold=0.5)
    assert (m["tp"], m["fn"], m["fp"], m["tn"]) == (2, 1, 1, 1)
    assert m["n"] == 5 and m["positives"] == 3 and m["negatives"] == 2
    assert m["sensitivity"] == round(2 / 3, 4) and m["specificity"] == 0.5 and m["accuracy"] == 0.6
    assert m["threshold"] == 0.5 and 0 <= m["auc"] <= 1
    assert binary_metrics([0, 0], [0.1, 0.7], 0.5)["sensitivity"] is None
