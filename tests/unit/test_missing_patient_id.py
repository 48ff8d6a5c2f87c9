"""Files without PatientID: rejected, or keyed by their study under `[loader] missing_patient_id`."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from mi_warehouse.config import load_settings
from mi_warehouse.errors import ConfigError
from mi_warehouse.loaders.deid import Deidentifier
from mi_warehouse.loaders.extract import extract

ROOT = Path(__file__).resolve().parents[2]


def _no_patient(sop: str, study: str | None = None) -> bytes:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    del ds.PatientID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = sop
    if study:
        ds.StudyInstanceUID = study
    buf = io.BytesIO()
    ds.save_as(buf)
    return buf.getvalue()


def _extract(data: bytes, deid=None, mode="surrogate"):
    return extract("file:///x.dcm", io.BytesIO(data), len(data), deid, "run", keep_phi=True,
                   missing_patient_id=mode)


def test_the_setting_is_validated_and_defaults_to_reject():
    assert load_settings(ROOT, env={}).missing_patient_id == "reject"
    assert load_settings(ROOT, env={"MIW_MISSING_PATIENT_ID": "surrogate"}).missing_patient_id == "surrogate"
    with pytest.raises(ConfigError, match="missing_patient_id"):
        load_settings(ROOT, env={"MIW_MISSING_PATIENT_ID": "guess"})


def test_reject_names_the_class_and_the_way_out():
    o = _extract(_no_patient(generate_uid()), mode="reject")
    assert o.row is None and o.error_class == "missing_patient_id" and "surrogate" in o.message


def test_surrogate_is_keyed_and_shifted_by_study():
    deid = Deidentifier(os.urandom(32))
    study_a, study_b = generate_uid(), generate_uid()
    a1, a2, b = (_extract(_no_patient(generate_uid(), s), deid) for s in (study_a, study_a, study_b))
    for o in (a1, a2, b):
        assert o.row["patient_key_source"] == "study"
        assert [w[0] for w in o.warnings if isinstance(w, tuple)] == ["missing_patient_id"]
    assert a1.row["patient_key"] == a2.row["patient_key"] == deid.pseudonym("surrogate-study", study_a)
    assert b.row["patient_key"] != a1.row["patient_key"]
    assert a1.row["study_date"] == a2.row["study_date"] and a1.phi[3] == a2.phi[3]  # one shift per study
    assert a1.phi[1] is None  # no PatientID to map back to
    real = _extract(open(get_testdata_file("CT_small.dcm"), "rb").read(), deid)
    assert real.row["patient_key_source"] == "patient_id" and real.warnings == []


def test_surrogate_without_deid_cannot_look_like_a_patient_id():
    study = generate_uid()
    o = _extract(_no_patient(generate_uid(), study))
    assert o.row["patient_key"] == "surrogate-study:" + study


def test_no_study_uid_either_is_still_rejected():
    ds = pydicom.dcmread(io.BytesIO(_no_patient(generate_uid())))
    del ds.StudyInstanceUID
    buf = io.BytesIO()
    ds.save_as(buf)
    o = _extract(buf.getvalue())
    assert o.error_class == "missing_patient_id" and "StudyInstanceUID" in o.message
