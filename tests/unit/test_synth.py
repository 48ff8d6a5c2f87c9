"""Tests for the synthetic DICOM corpus generator (mi_warehouse.synth)."""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import ExplicitVRLittleEndian

from mi_warehouse.synth.corpus import MAX_STORED, NAME_POOLS, generate, lung_mask

SIZE = 32
CHEST = {"CR", "DX"}


def _read_all(root: Path) -> dict[Path, pydicom.Dataset]:
    return {p: pydicom.dcmread(p) for p in sorted(root.rglob("*.dcm"))}


def _labels(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "corpus"
    calls: list[int] = []
    summary = generate(out, patients=12, seed=7, progress=calls.append, image_size=SIZE)
    return out, summary, _read_all(out), calls


@pytest.fixture(scope="module")
def chest_corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth_chest")
    summary = generate(out, patients=60, seed=11, image_size=SIZE)
    return summary, _read_all(out)


def test_files_are_valid_part10(corpus):
    out, summary, files, _ = corpus
    assert len(files) == summary.files_written > 0
    for path, ds in files.items():
        raw = path.read_bytes()
        assert raw[128:132] == b"DICM"
        fm = ds.file_meta
        assert fm.TransferSyntaxUID == ExplicitVRLittleEndian
        assert fm.MediaStorageSOPClassUID == ds.SOPClassUID
        assert fm.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert ds.original_encoding == (False, True)  # explicit VR, little endian
        rel = path.relative_to(out).parts
        assert rel == (ds.PatientID, ds.StudyDate, ds.SeriesInstanceUID,
                       f"{ds.SOPInstanceUID}.dcm")
        assert re.fullmatch(r"\d{3}Y", ds.PatientAge)
        assert ds.BurnedInAnnotation == "NO"
        assert 2019 <= int(ds.StudyDate[:4]) <= 2025


def test_uids_unique_and_consistent(corpus):
    _, _, files, _ = corpus
    sops = [ds.SOPInstanceUID for ds in files.values()]
    assert len(sops) == len(set(sops))
    series_study: dict[str, str] = {}
    for ds in files.values():
        assert series_study.setdefault(ds.SeriesInstanceUID, ds.StudyInstanceUID) == \
            ds.StudyInstanceUID
        assert len(ds.SOPInstanceUID) <= 64
    assert not set(series_study) & set(series_study.values())


def test_summary_and_progress(corpus):
    _, summary, files, calls = corpus
    mods = defaultdict(int)
    for ds in files.values():
        mods[ds.Modality] += 1
    assert summary.modality_counts == dict(mods)
    assert summary.series == len({ds.SeriesInstanceUID for ds in files.values()})
    assert summary.studies == len({ds.StudyInstanceUID for ds in files.values()})
    assert calls == sorted(calls) and calls[-1] == summary.files_written


def test_modalities_present(corpus):
    _, _, files, _ = corpus
    mods = {ds.Modality for ds in files.values()}
    assert {"CT", "MR", "PT"} <= mods and mods & CHEST
    for ds in files.values():
        if ds.Modality in CHEST:
            assert ds.BodyPartExamined == "CHEST" and ds.ViewPosition in {"PA", "AP", "LL"}
        if ds.Modality == "CT":
            assert float(ds.RescaleIntercept) == -1024 and float(ds.SliceThickness) > 0


def test_longitudinal_and_multimodal(corpus):
    _, _, files, _ = corpus
    studies = {(ds.PatientID, ds.StudyInstanceUID, ds.Modality, ds.BodyPartExamined,
                ds.StudyDate) for ds in files.values()}
    years = defaultdict(set)
    dates = defaultdict(list)
    for pid, _, mod, part, date in studies:
        years[(pid, part)].add(date[:4])
        dates[pid].append((mod, dt.datetime.strptime(date, "%Y%m%d").date()))
    assert any(len(y) >= 2 for y in years.values())
    assert any(abs((d1 - d2).days) <= 5
               for ds_ in dates.values() for m1, d1 in ds_ for m2, d2 in ds_
               if (m1, m2) == ("CT", "PT"))


def test_character_sets_round_trip(corpus):
    _, _, files, _ = corpus
    seen = set()
    for ds in files.values():
        cs = ds.get("SpecificCharacterSet", "")
        key = "\\".join(cs) if isinstance(cs, (list, pydicom.multival.MultiValue)) else cs
        assert str(ds.PatientName) in NAME_POOLS[key]
        seen.add(key)
        if key == "":
            assert str(ds.PatientName).isascii()
    assert seen == set(NAME_POOLS)


def test_labels_match_chest_images(corpus):
    _, summary, files, _ = corpus
    rows = _labels(summary.labels_csv)
    assert list(rows[0]) == ["sop_instance_uid", "study_uid", "label", "label_value", "source"]
    chest = {ds.SOPInstanceUID: ds.StudyInstanceUID
             for ds in files.values() if ds.Modality in CHEST}
    assert {r["sop_instance_uid"]: r["study_uid"] for r in rows} == chest
    assert len(rows) == len(chest) == summary.chest_images
    for r in rows:
        assert (r["label"], r["label_value"]) in {("finding", "1"), ("normal", "0")}
        assert r["source"] == "synthetic"


def test_pixel_arrays(corpus):
    _, _, files, _ = corpus
    for ds in files.values():
        arr = ds.pixel_array
        assert arr.shape == (ds.Rows, ds.Columns) == (SIZE, SIZE)
        assert arr.dtype == np.uint16 and int(arr.max()) <= MAX_STORED
        assert (ds.BitsAllocated, ds.BitsStored, ds.HighBit) == (16, 12, 11)
        assert ds.PhotometricInterpretation in {"MONOCHROME1", "MONOCHROME2"}


def test_deterministic(corpus, tmp_path):
    out, _, files, _ = corpus
    again = tmp_path / "again"
    generate(again, patients=12, seed=7, image_size=SIZE)
    rel = sorted(p.relative_to(out) for p in files)
    assert sorted(p.relative_to(again) for p in again.rglob("*.dcm")) == rel
    for r in rel:
        assert (again / r).read_bytes() == (out / r).read_bytes()
    assert (again / "labels.csv").read_bytes() == (out / "labels.csv").read_bytes()
    other = tmp_path / "other"
    generate(other, patients=12, seed=8, image_size=SIZE)
    assert not {p.name for p in other.rglob("*.dcm")} & {p.name for p in rel}


def test_findings_detectable(chest_corpus):
    summary, files = chest_corpus
    truth = {r["sop_instance_uid"]: int(r["label_value"]) for r in _labels(summary.labels_csv)}
    mask = lung_mask(SIZE, 0.8)
    stats, labels, mono1 = [], [], 0
    for ds in files.values():
        if ds.Modality not in CHEST:
            continue
        img = ds.pixel_array.astype(np.float64)
        if ds.PhotometricInterpretation == "MONOCHROME1":
            img = MAX_STORED - img
            mono1 += 1
        lung = img[mask]
        stats.append(lung.max() - np.median(lung))
        labels.append(truth[ds.SOPInstanceUID])
    stats, labels = np.array(stats), np.array(labels)
    assert mono1 > 0 and 0.2 < labels.mean() < 0.5
    best = max(((stats > t) == labels).mean() for t in np.unique(stats))
    assert best > 0.8
