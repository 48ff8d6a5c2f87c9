"""De-identification without an engine: keys, pseudonyms, date shifts, Annex E rewriting."""

import datetime as dt
import json
import os
import stat

import pydicom
import pytest
from pydicom.dataset import Dataset

from mi_warehouse.loaders.deid import Deidentifier, load_key, shift_date_text
from mi_warehouse.serde.dicom_json import dataset_to_json


def test_key_file_is_created_private_and_reused(tmp_path):
    p = tmp_path / "k" / "deid.key"
    k1 = load_key(p)
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o600 and len(k1) == 32
    assert load_key(p) == k1
    p.write_text("short")
    with pytest.raises(ValueError, match="64 hex digits"):
        load_key(p)


def test_pseudonyms_are_keyed_deterministic_and_never_show_the_key():
    a, b = Deidentifier(b"\x01" * 32), Deidentifier(b"\x02" * 32)
    assert a.pseudonym("patient", "P1") == Deidentifier(b"\x01" * 32).pseudonym("patient", " P1 ")
    assert a.pseudonym("patient", "P1") != b.pseudonym("patient", "P1")
    assert a.pseudonym("patient", "P1") != a.pseudonym("accession", "P1")
    assert a.pseudonym("patient", "") is None
    assert "01" * 4 not in repr(a)
    shifts = {a.date_shift_days(f"P{i}") for i in range(200)}
    assert min(shifts) >= -365 and max(shifts) <= -1 and len(shifts) > 100


def test_rewriter_applies_the_profile(tmp_path):
    ds = Dataset()
    ds.PatientID = "MRN-0042"
    ds.PatientName = "Doe^Jane"
    ds.PatientBirthDate = "19700101"
    ds.AccessionNumber = "ACC777"
    ds.InstitutionName = "St Example"
    ds.StudyDate = "20240315"
    ds.AcquisitionDateTime = "20240315101500"
    ds.StudyDescription = "CHEST PA"
    ds.add_new(0x00091001, "LO", "vendor secret")
    ds.add_new(0x00111001, "LO", "allowed private")
    deid = Deidentifier(b"\x03" * 32, private_allow=frozenset({0x00111001}))
    shift = dt.timedelta(days=deid.date_shift_days("MRN-0042"))
    model = json.loads(dataset_to_json(ds, rewrite=deid.rewriter("MRN-0042")))
    text = json.dumps(model)
    for phi in ("MRN-0042", "Doe", "Jane", "ACC777", "St Example", "19700101", "vendor secret"):
        assert phi not in text
    assert model["00100020"]["Value"] == [deid.pseudonym("patient", "MRN-0042")]
    assert model["00080020"]["Value"] == [(dt.date(2024, 3, 15) + shift).strftime("%Y%m%d")]
    assert model["0008002A"]["Value"][0].endswith("101500")
    assert model["00081030"]["Value"] == ["CHEST PA"]
    assert model["00111001"]["Value"] == ["allowed private"]
    assert "00100030" not in model


def test_unparseable_dates_are_dropped_not_passed_through():
    assert shift_date_text("2024-99-99 secret", dt.timedelta(days=-3)) is None
    assert shift_date_text("20240101", dt.timedelta(days=-1)) == "20231231"
