"""The demo CNN's training data (the TRANSFORM script's preprocessing, called by
``training_prep``) and its shipped ONNX file on fresh synthetic data. The preprocessing steps
themselves are tested in test_udfs_preprocess.py, the parity of the two paths in
test_preprocess_parity.py."""

from __future__ import annotations

import csv

import numpy as np
import onnxruntime as ort
import pydicom
import pytest
from pydicom.dataset import Dataset

from mi_warehouse.synth import generate
from mi_warehouse.models.card import load_card
from mi_warehouse.models.demo import DEMO_CARD, DEMO_MODEL
from mi_warehouse.models.demo.dataset import load_chest_images, split_patients
from mi_warehouse.models.demo.training_prep import preprocess
from mi_warehouse.models.metrics import roc_auc


def _image(pixels: np.ndarray, photometric: str, **extra) -> Dataset:
    ds = Dataset()
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 1, 16, 12, 11, 0
    ds.PhotometricInterpretation = photometric
    ds.PixelData = pixels.astype("<u2").tobytes()
    for key, value in extra.items():
        setattr(ds, key, value)
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    return ds


def test_preprocess_inverts_monochrome1_and_applies_the_modality_lut():
    card = load_card(DEMO_CARD)
    stored = np.random.default_rng(0).integers(0, 4096, (32, 32))
    mono2 = preprocess(_image(stored, "MONOCHROME2", WindowCenter="2048", WindowWidth="3600"),
                       card.preprocessing, card.input)
    mono1 = preprocess(_image(4095 - stored, "MONOCHROME1", RescaleSlope="-1", RescaleIntercept="4095",
                              WindowCenter="2048", WindowWidth="3600"), card.preprocessing, card.input)
    assert mono2.shape == (1, 64, 64) and mono2.dtype == np.float32
    # -1 * (4095 - s) + 4095 = s: same values, then inverted by MONOCHROME1
    mean, std = card.preprocessing.normalisation.mean, card.preprocessing.normalisation.std
    assert np.allclose(mono1 * std + mean, 1.0 - (mono2 * std + mean), atol=1e-6)
    full = np.random.default_rng(1).integers(0, 4096, (64, 64))  # no resize: percentiles reach 0 and 1
    no_window = preprocess(_image(full, "MONOCHROME2"), card.preprocessing, card.input)
    assert no_window.min() == pytest.approx(-mean / std) and no_window.max() == pytest.approx((1 - mean) / std)


def test_demo_model_separates_findings_on_a_fresh_corpus(tmp_path):
    card = load_card(DEMO_CARD)
    generate(tmp_path, 60, seed=4242, image_size=card.input.height)
    data = load_chest_images(tmp_path, card)
    with open(tmp_path / "labels.csv", newline="") as fh:
        assert len(data.y) == len(list(csv.DictReader(fh)))
    assert 0 < data.y.sum() < len(data.y)
    sess = ort.InferenceSession(str(DEMO_MODEL), providers=["CPUExecutionProvider"])
    probs, emb = sess.run([card.output.name, card.embedding_output], {card.input.name: data.x})
    assert roc_auc(data.y, probs[:, card.positive_index]) > 0.9
    assert emb.shape == (len(data.y), 64)
    splits = split_patients(data.patients, seed=1)
    assert sum(m.sum() for m in splits.values()) == len(data.y)
    for a in splits:
        for b in splits:
            if a < b:
                assert not set(data.patients[splits[a]]) & set(data.patients[splits[b]])
