"""The saliency maps show the shortcut: on a fresh shortcut corpus, the images the marker site
burned its code into (BurnedInAnnotation YES) are explained by the shortcut demo model at the
marker (CAM's brightest cell holds the marker, most of the occlusion map lies around it), and by
the honest demo model elsewhere (it looks at the lung). The marker's place comes from the
generator's own mask (synth.shortcut.marker_mask), not from here."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from mi_warehouse.explain.images import load_image
from mi_warehouse.explain.model import ExplainModel
from mi_warehouse.explain.occlusion import fill_value, grid_for, occlusion_map
from mi_warehouse.models.card import load_card
from mi_warehouse.models.demo import DEMO_DIR
from mi_warehouse.synth import Shortcut, generate
from mi_warehouse.synth.shortcut import marker_mask

SIZE = 64


@pytest.fixture(scope="module")
def marked(tmp_path_factory) -> list[str]:
    root = tmp_path_factory.mktemp("shortcut")
    generate(root, 30, seed=77, image_size=SIZE, shortcut=Shortcut("SAM"))
    files = [str(p) for p in sorted(root.rglob("*.dcm"))
             if str(pydicom.dcmread(p, stop_before_pixels=True).get("BurnedInAnnotation", "")) == "YES"]
    assert len(files) >= 4
    return files[:8]


def _maps(card_file: str, model_file: str, files: list[str]):
    card = load_card(DEMO_DIR / card_file)
    net = ExplainModel((DEMO_DIR / model_file).read_bytes(), card, cam=True)
    for f in files:
        x, _ = load_image(f, 0, card)
        cam, _ = net.cam(x[None])
        occ, _ = occlusion_map(x, net.scores, card.input, grid_for(card.input), fill_value(card))
        yield cam[0], np.clip(occ, 0, None)


def _marker_region(margin: int = 4) -> tuple[np.ndarray, tuple[int, int], int]:
    mask = marker_mask(SIZE, "text", "SAM")
    rows, cols = np.nonzero(mask)
    box = np.zeros_like(mask)
    box[max(0, rows.min() - margin):rows.max() + 1 + margin, max(0, cols.min() - margin):cols.max() + 1 + margin] = True
    return box, (int(rows.mean()), int(cols.mean())), mask.sum()


def test_the_shortcut_model_looks_at_the_marker_and_the_honest_one_does_not(marked):
    box, (r, c), _ = _marker_region()
    for cam, occ in _maps("card_shortcut.yaml", "chest_finding_shortcut_v1.onnx", marked):
        cell = SIZE // cam.shape[0]
        assert np.unravel_index(cam.argmax(), cam.shape) == (r // cell, c // cell)
        assert occ[box].sum() > 0.9 * occ.sum()
    for cam, occ in _maps("card.yaml", "chest_finding_v1.onnx", marked):
        cell = SIZE // cam.shape[0]
        assert np.unravel_index(cam.argmax(), cam.shape) != (r // cell, c // cell)
        assert occ[box].sum() < 0.1 * occ.sum()
