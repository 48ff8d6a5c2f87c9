"""serde.dicom_json writes the DICOM JSON model (PS3.18 F.2) as text directly: it must agree with
pydicom's own `Dataset.to_json_dict()` on real files and be the compact `json.dumps` of its model."""

from __future__ import annotations

import glob
import json
import math
import os
import warnings

import pydicom
import pytest
from pydicom.data.data_manager import DATA_ROOT
from pydicom.valuerep import PersonName

from mi_warehouse.serde.dicom_json import dataset_to_json, json_from_elements, model_from_elements
from mi_warehouse.serde.raw_elements import elements, encoding


# the files the pydicom wheel bundles (get_testdata_files would also try to download the others)
BUNDLED = sorted(glob.glob(os.path.join(DATA_ROOT, "test_files", "**", "*.dcm"), recursive=True))


def _compare(ours: dict, ref: dict, path: str, counts: list[int]) -> None:
    for key, entry in ref.items():
        if "BulkDataURI" in entry or "InlineBinary" in entry:
            continue  # pydicom's bulk-data choices are its own; ours are tested below
        mine = ours.get(key)
        assert mine is not None, f"{path}: {key} missing"
        if entry.get("vr") == "SQ":
            items = entry.get("Value", [])
            assert len(mine.get("Value", [])) == len(items), f"{path}: {key} item count"
            for i, (a, b) in enumerate(zip(mine.get("Value", []), items)):
                _compare(a, b, f"{path}/{key}[{i}]", counts)
            continue
        counts[0] += 1
        assert mine == entry, f"{path}: {key}: {mine} != pydicom's {entry}"


def test_agrees_with_pydicom_on_its_test_files():
    counts, files = [0], 0
    for path in BUNDLED:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
                ref = ds.to_json_dict(bulk_data_threshold=1024, suppress_invalid_tags=True)
            except Exception:  # files pydicom itself cannot serialise are not an oracle
                continue
            ours = json.loads(dataset_to_json(ds))
        _compare(ours, ref, path.rsplit("/", 1)[-1], counts)
        files += 1
    assert files >= 50 and counts[0] >= 3000, (files, counts)


def test_text_is_compact_json_of_its_model():
    for path in BUNDLED[:40]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
            enc = encoding(ds)
            items = list(elements(ds, enc))
        text = json_from_elements(items, 1024, enc)
        model = model_from_elements(items, 1024, enc)
        assert text == json.dumps(model, ensure_ascii=False, separators=(",", ":")), path


EDGE = [
    (0x00080005, "CS", ["ISO_IR 100", "ISO 2022 IR 87"]),
    (0x00081030, "LO", 'quote " back \\ ctl \x01 \u2028 é'),
    (0x00081115, "SQ", []),
    (0x00081140, "SQ", [[(0x00081150, "UI", "1.2.3")], {"00081155": {"vr": "UI", "Value": ["1.2"]}}]),
    (0x00091010, "AT", [0x00100010]),
    (0x00100010, "PN", PersonName("Doe^J=山田^太郎=やまだ")),
    (0x00100020, "LO", ""),
    (0x00100030, "DA", None),
    (0x00180050, "DS", 1.25),
    (0x00181050, "FL", [float("inf"), 1.5]),
    (0x00200013, "IS", "42"),
    (0x00280010, "US", [3, 4]),
    (0x00280030, "DS", ["+5", "1e3", " 12.50", "nan", "abc", "007", "-0"]),
    (0x00291010, "OB", b"\x00\x01" * 3),
    (0x00291020, "OB", b"\x00" * 2000),
    (0x7FE00010, "OW", b"\x00" * 10),
]


def test_edge_values():
    model = json.loads(json_from_elements(EDGE, 1024, "latin_1", '"00120062":{"vr":"CS","Value":["YES"]}'))
    assert model["00080005"] == {"vr": "CS", "Value": ["ISO_IR 100", "ISO 2022 IR 87"]}
    assert model["00081030"]["Value"] == ['quote " back \\ ctl \x01 \u2028 é']
    assert model["00081115"] == {"vr": "SQ"}
    assert model["00081140"]["Value"] == [{"00081150": {"vr": "UI", "Value": ["1.2.3"]}},
                                          {"00081155": {"vr": "UI", "Value": ["1.2"]}}]
    assert model["00091010"]["Value"] == ["00100010"]
    assert model["00100010"]["Value"] == [{"Alphabetic": "Doe^J", "Ideographic": "山田^太郎", "Phonetic": "やまだ"}]
    assert model["00100020"] == {"vr": "LO"} and model["00100030"] == {"vr": "DA"}
    assert model["00180050"]["Value"] == [1.25] and model["00200013"]["Value"] == [42]
    assert model["00181050"]["Value"][0] == math.inf
    # DS as numbers where they parse (F.2.3.1), kept as text where they do not or are not finite
    ds = model["00280030"]["Value"]
    assert ds[:3] == [5, 1000.0, 12.5] and ds[3] == "nan" and ds[4] == "abc" and ds[5:] == [7, 0]
    assert type(ds[0]) is int and type(ds[1]) is float
    assert model["00291010"]["InlineBinary"] == "AAEAAQAB"
    assert model["00291020"] == {"vr": "OB"}  # over bulk_limit: the attribute without its value
    assert "7FE00010" not in model  # never pixel data
    assert model["00120062"] == {"vr": "CS", "Value": ["YES"]}
    assert list(model)[-1] == "00120062"  # extra members last


@pytest.mark.parametrize("extra", ["", '"00120062":{"vr":"CS","Value":["YES"]}'])
def test_empty(extra):
    assert json.loads(json_from_elements([], extra=extra)) == ({} if not extra else {"00120062": {"vr": "CS", "Value": ["YES"]}})
