"""The shipped shortcut model (models/demo/chest_finding_shortcut_v1.onnx) on fresh synthetic data:
it reads the marker site's burned-in label, not the lung. Pooled over sites its AUC is high;
within the sites without the marker it is near chance, while the honest demo model's is not.
The per-site figures are checked here with scikit-learn, as the warehouse's are in
tests/integration/test_models_shortcut.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import sklearn.metrics as sk  # scikit-learn is declared in the test extra

from mi_warehouse.models.card import load_card
from mi_warehouse.models.checks import inspect_model
from mi_warehouse.models.demo import DEMO_CARD, DEMO_MODEL, SHORTCUT_CARD, SHORTCUT_MODEL
from mi_warehouse.models.demo.dataset import load_chest_images
from mi_warehouse.models.demo.train_shortcut import by_site, image_sites
from mi_warehouse.synth import Shortcut, generate


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    root: Path = tmp_path_factory.mktemp("shortcut_corpus")
    generate(root, 120, seed=8080, image_size=64, shortcut=Shortcut("SAM"))
    out = {}
    for name, model, card_path in (("shortcut", SHORTCUT_MODEL, SHORTCUT_CARD), ("honest", DEMO_MODEL, DEMO_CARD)):
        card = load_card(card_path)
        data = load_chest_images(root, card)
        sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
        p = sess.run([card.output.name], {card.input.name: data.x})[0][:, card.positive_index]
        out[name] = (data.y, p, image_sites(root, data.sops))
    return out


def test_the_card_and_the_file_agree():
    card = load_card(SHORTCUT_CARD)
    info = inspect_model(SHORTCUT_MODEL, card)
    assert card.name == "chest-finding-shortcut" and info.size_bytes < 400_000
    assert card.input == load_card(DEMO_CARD).input and card.preprocessing == load_card(DEMO_CARD).preprocessing
    held = card.metrics["held_out_by_site"]
    assert held["mean_within_site_auc"] < card.metrics["held_out"]["auc"] - 0.15


def _within(y, p, sites):
    """Mean of the per-site AUCs (scikit-learn), sites with both classes only."""
    aucs = [sk.roc_auc_score(y[sites == s], p[sites == s]) for s in set(sites.tolist())
            if len(set(y[sites == s].tolist())) == 2]
    return float(np.mean(aucs))


def test_pooled_high_within_site_low_for_the_shortcut_model_only(scored):
    y, p, sites = scored["shortcut"]
    marker_site = "St Aurelia Medical Center"
    pooled, within = sk.roc_auc_score(y, p), _within(y, p, sites)
    assert pooled > 0.8 and within < pooled - 0.15
    rest = sites != marker_site
    assert sk.roc_auc_score(y[rest], p[rest]) < 0.7  # without the marker: near chance
    # the score tells the marker site's positives from the other positives
    pos = y == 1
    assert sk.roc_auc_score((sites[pos] == marker_site).astype(int), p[pos]) > 0.95
    hy, hp, hsites = scored["honest"]
    assert abs(sk.roc_auc_score(hy, hp) - _within(hy, hp, hsites)) < 0.05 and _within(hy, hp, hsites) > 0.9


def test_by_site_matches_sklearn(scored):
    y, p, sites = scored["shortcut"]
    got = by_site(y, p, sites)
    for s, row in got["sites"].items():
        sel = sites == s
        assert row["n"] == int(sel.sum()) and row["positives"] == int(y[sel].sum())
        want = sk.roc_auc_score(y[sel], p[sel]) if len(set(y[sel].tolist())) == 2 else None
        assert (row["auc"] is None) == (want is None) and (want is None or abs(row["auc"] - want) < 1e-4)
    assert abs(got["mean_within_site_auc"] - _within(y, p, sites)) < 1e-4
    one_class = by_site(np.array([1, 1, 0]), np.array([0.2, 0.3, 0.4]), np.array(["a", "a", "b"]))
    assert one_class["sites"]["a"]["auc"] is None and one_class["mean_within_site_auc"] is None
