"""Training and inference preprocessing agree: the same DICOM pixels through the demo's training
data path and through the TRANSFORM script's path give identical arrays (``np.array_equal``:
both run the one implementation, ``udfs.preprocess``, so no tolerance is needed).

Training path: the card read from ``card.yaml`` (``models.card.load_card``), the files read with
``pydicom.dcmread`` and preprocessed by ``models.demo.training_prep`` / ``dataset``.
Inference path: the card the script gets (the registry's ``to_json()``, loaded by
``onnx_infer.load_script_card``), the files read by URI and decoded in a decode worker process
(``udfs.decode_pool``), as in a Hive task.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from mi_warehouse.models.card import Window, load_card
from mi_warehouse.models.demo import DEMO_CARD
from mi_warehouse.models.demo.dataset import load_chest_images
from mi_warehouse.models.demo.training_prep import preprocess
from mi_warehouse.synth import generate
from mi_warehouse.udfs.decode_pool import make_decoder
from mi_warehouse.udfs.onnx_infer import load_script_card
from mi_warehouse.udfs.preprocess import load_tensor


def script_card(card, tmp_path):
    """``card`` as the TRANSFORM script receives it: the registry's JSON, read back."""
    path = tmp_path / "card.json"
    path.write_text(card.to_json(), encoding="utf-8")
    return load_script_card(str(path))


def decode_in_worker(card, uris: list[str]) -> np.ndarray:
    """The tensors a decode worker process makes for ``uris`` (frame 0), stacked."""
    decoder = make_decoder(card, processes=1, batch_size=len(uris))
    try:
        decoder.ready()
        items = [(uri, 0, None) for uri in uris]
        decoded = decoder.result(decoder.submit(items), items)
    finally:
        decoder.close()
    assert decoded.errors == [None] * len(uris), decoded.errors
    return decoded.tensors


def test_synthetic_chest_images_train_on_what_they_are_scored_on(tmp_path):
    card = load_card(DEMO_CARD)
    corpus = tmp_path / "corpus"
    generate(corpus, 12, seed=99, image_size=card.input.height)
    training = load_chest_images(corpus, card)
    assert len(training.sops) > 5
    assert {pydicom.dcmread(p).PhotometricInterpretation
            for p in corpus.glob("*/*/*/*.dcm") if p.stem in set(training.sops)} == \
        {"MONOCHROME1", "MONOCHROME2"}  # both senses, so the inversion is compared too
    by_sop = {p.stem: p for p in corpus.glob("*/*/*/*.dcm")}
    uris = [f"file://{by_sop[sop]}" for sop in training.sops]
    inference = decode_in_worker(script_card(card, tmp_path), uris)
    assert inference.dtype == training.x.dtype == np.float32
    assert inference.shape == training.x.shape == (len(uris), 1, 64, 64)
    assert np.array_equal(training.x, inference)


PREPROCESSINGS = {
    "file window": lambda p: p,  # the demo card: the file's window, else percentiles
    "percentile": lambda p: dataclasses.replace(p, scaling="percentile", percentile=(2.0, 98.0)),
    "card window": lambda p: dataclasses.replace(p, window=Window(center=40.0, width=400.0)),
}


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small.dcm"])
@pytest.mark.parametrize("variant", list(PREPROCESSINGS))
def test_pydicom_test_files_give_the_same_arrays(tmp_path, name, variant):
    demo = load_card(DEMO_CARD)
    card = dataclasses.replace(demo, preprocessing=PREPROCESSINGS[variant](demo.preprocessing))
    path = get_testdata_file(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom's notes on these old test files
        ds = pydicom.dcmread(path)
        training = preprocess(ds, card.preprocessing, card.input)
        inference = load_tensor(f"file://{path}", 0, script_card(card, tmp_path))
    assert training.shape == inference.shape == (1, 64, 64)
    assert np.isfinite(training).all() and training.std() > 0
    assert np.array_equal(training, inference)
    assert np.array_equal(decode_in_worker(script_card(card, tmp_path), [f"file://{path}"])[0],
                          training)
