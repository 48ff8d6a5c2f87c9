"""The demo CNN's data: chest radiographs of a synthetic corpus, split by patient (numpy only)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom

from mi_warehouse.models.card import ModelCard
from mi_warehouse.models.demo.training_prep import preprocess

__all__ = ["ChestImages", "load_chest_images", "split_patients"]

CHEST_MODALITIES = {"CR", "DX"}


@dataclass
class ChestImages:
    """Preprocessed images ``x`` (N, 1, H, W), labels ``y`` (N,), and who/what each one is."""

    x: np.ndarray
    y: np.ndarray
    patients: np.ndarray
    sops: np.ndarray

    def subset(self, mask: np.ndarray) -> "ChestImages":
        """The images where ``mask`` is true."""
        return ChestImages(self.x[mask], self.y[mask], self.patients[mask], self.sops[mask])


def load_chest_images(corpus: Path, card: ModelCard) -> ChestImages:
    """Read every labelled chest CR/DX image of a ``synth`` corpus through the card's
    preprocessing; the label is 1 where ``labels.csv`` says the card's positive label."""
    corpus = Path(corpus)
    with open(corpus / "labels.csv", newline="", encoding="utf-8") as fh:
        labels = {row["sop_instance_uid"]: row["label"] for row in csv.DictReader(fh)}
    xs, ys, patients, sops = [], [], [], []
    for path in sorted(corpus.glob("*/*/*/*.dcm")):
        sop = path.stem
        if sop not in labels:
            continue
        ds = pydicom.dcmread(path)
        if ds.Modality not in CHEST_MODALITIES or ds.get("BodyPartExamined") != "CHEST":
            continue
        xs.append(preprocess(ds, card.preprocessing, card.input))
        ys.append(int(labels[sop] == card.positive_label))
        patients.append(str(ds.PatientID))
        sops.append(sop)
    return ChestImages(np.stack(xs), np.array(ys, dtype=np.int64), np.array(patients),
                       np.array(sops))


def split_patients(patients: np.ndarray, seed: int,
                   fractions: tuple[float, float] = (0.70, 0.15)) -> dict[str, np.ndarray]:
    """Boolean masks ``train``/``val``/``test`` over images, no patient in two splits."""
    unique = np.unique(patients)
    order = np.random.default_rng(seed).permutation(len(unique))
    n_train = int(round(fractions[0] * len(unique)))
    n_val = int(round(fractions[1] * len(unique)))
    groups = {"train": unique[order[:n_train]], "val": unique[order[n_train:n_train + n_val]],
              "test": unique[order[n_train + n_val:]]}
    return {name: np.isin(patients, ids) for name, ids in groups.items()}
