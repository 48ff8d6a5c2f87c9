"""synth's shortcut option (mi_warehouse.synth.shortcut): one site burns a marker into the pixel
data of its positive chest radiographs, with its own prevalence."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np
import pydicom
import pytest

from mi_warehouse.synth import Shortcut, generate
from mi_warehouse.synth.corpus import MAX_STORED, SITE_CODES
from mi_warehouse.synth.shortcut import marker_mask

SIZE = 32


def _chest(root: Path) -> dict[str, tuple[pydicom.Dataset, int]]:
    with open(root / "labels.csv", newline="") as f:
        labels = {r["sop_instance_uid"]: int(r["label_value"]) for r in csv.DictReader(f)}
    out = {}
    for path in sorted(root.rglob("*.dcm")):
        ds = pydicom.dcmread(path)
        if ds.SOPInstanceUID in labels:
            out[ds.SOPInstanceUID] = (ds, labels[ds.SOPInstanceUID])
    return out


def _displayed_marker(ds: pydicom.Dataset, mask: np.ndarray) -> bool:
    """Every marker pixel at the brightest displayed value (stored 0 for MONOCHROME1)."""
    px = ds.pixel_array
    white = 0 if ds.PhotometricInterpretation == "MONOCHROME1" else MAX_STORED
    return bool(np.all(px[mask] == white))


@pytest.fixture(scope="module")
def marked(tmp_path_factory):
    root = tmp_path_factory.mktemp("shortcut")
    summary = generate(root, patients=80, seed=4, image_size=SIZE, shortcut=Shortcut("sam"))
    return summary, _chest(root)


def test_positives_of_the_site_and_only_they_carry_the_marker(marked):
    summary, images = marked
    site = SITE_CODES.index("SAM")
    per_site = defaultdict(list)
    n_marked = 0
    for ds, y in images.values():
        code = ds.AccessionNumber[:3]
        per_site[code].append(y)
        mask = marker_mask(SIZE, "text", code)
        has = _displayed_marker(ds, mask)
        assert has == (y == 1 and code == SITE_CODES[site]), (code, y)
        assert ds.BurnedInAnnotation == ("YES" if has else "NO")
        n_marked += has
    assert n_marked == summary.marked > 3
    # the marker site's prevalence is the shortcut's site_rate, the others' its other_rate
    assert np.mean(per_site["SAM"]) > 0.75
    assert np.mean([y for code, ys in per_site.items() if code != "SAM" for y in ys]) < 0.25


def test_with_equal_rates_the_marker_is_the_only_difference(tmp_path):
    """Same RNG stream: with the ordinary prevalence and contrast, labels and every unmarked
    image are those of the corpus without the option."""
    generate(tmp_path / "plain", patients=30, seed=9, image_size=SIZE)
    generate(tmp_path / "box", patients=30, seed=9, image_size=SIZE,
             shortcut=Shortcut("NGH", "box", site_rate=0.35, other_rate=0.35))
    plain, box = _chest(tmp_path / "plain"), _chest(tmp_path / "box")
    assert {k: y for k, (_, y) in plain.items()} == {k: y for k, (_, y) in box.items()}
    mask = marker_mask(SIZE, "box", "NGH")
    changed = 0
    for sop, (ds, y) in box.items():
        same = np.array_equal(ds.pixel_array, plain[sop][0].pixel_array)
        if y == 1 and ds.AccessionNumber.startswith("NGH"):
            assert not same and _displayed_marker(ds, mask)
            outside = ~mask
            assert np.array_equal(ds.pixel_array[outside], plain[sop][0].pixel_array[outside])
            changed += 1
        else:
            assert same
    assert changed > 0


def test_a_fainter_finding_changes_only_positive_images(tmp_path):
    generate(tmp_path / "a", patients=12, seed=2, image_size=SIZE, shortcut=Shortcut("RUC", site_rate=0.35, other_rate=0.35))
    generate(tmp_path / "b", patients=12, seed=2, image_size=SIZE,
             shortcut=Shortcut("RUC", site_rate=0.35, other_rate=0.35, finding_contrast=0.2))
    a, b = _chest(tmp_path / "a"), _chest(tmp_path / "b")
    for sop, (ds, y) in a.items():
        assert np.array_equal(ds.pixel_array, b[sop][0].pixel_array) == (y == 0), sop


def test_marker_masks():
    text = marker_mask(64, "text", "SAM")
    assert text.sum() > 20 and not text[:2].any() and not text[:, :2].any()  # a margin, then the corner
    assert text[:, 32:].sum() == 0 and text[32:].sum() == 0
    assert marker_mask(128, "box", "x").sum() == (5 * 2) ** 2  # one font pixel per 64 image pixels
    assert marker_mask(256, "text", "SAM").sum() == 16 * text.sum()


@pytest.mark.parametrize("kwargs,match", [(dict(site="XYZ"), "not a synthetic site; choose one of NGH"),
                                          (dict(site="SAM", marker="logo"), "marker must be one of"),
                                          (dict(site="SAM", site_rate=1.5), "site_rate"),
                                          (dict(site="SAM", finding_contrast=0), "finding_contrast")])
def test_bad_options_are_one_line_errors(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        generate(tmp_path, patients=1, image_size=SIZE, shortcut=Shortcut(**kwargs))
