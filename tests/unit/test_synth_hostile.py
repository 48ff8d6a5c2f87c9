"""The hostile corpus (mi_warehouse.synth.hostile): valid DICOM whose every listed place holds one
of the patient's identifiers, with the awkward encodings it promises (VR UN, private tags with and
without creator, dates that do not parse)."""

from __future__ import annotations

import re
import warnings

import pydicom
import pytest

from mi_warehouse.synth.hostile import PLACES, generate_hostile


def read(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the corpus holds invalid dates on purpose
        return pydicom.dcmread(path)


def at(ds, path: str):
    """The value at a header_json-style tag path (`00081052[0].00401101[0].00080100`)."""
    node = ds
    for step in path.split("."):
        m = re.fullmatch(r"([0-9A-F]{8})(?:\[(\d+)\])?", step)
        elem = node[int(m.group(1), 16)]
        node = elem.value[int(m.group(2))] if m.group(2) is not None else elem.value
    return node.decode("latin-1") if isinstance(node, bytes) else str(node)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return generate_hostile(tmp_path_factory.mktemp("hostile") / "out", patients=4, seed=5)


def test_files_are_valid_dicom_laid_out_by_patient_id_and_study_date(corpus):
    assert len(corpus.files) == 8
    for path in corpus.files:
        ds = read(path)
        assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
        assert ds.SOPInstanceUID == ds.file_meta.MediaStorageSOPInstanceUID
        rel = path.relative_to(corpus.out_dir).parts
        assert rel[0] == ds.PatientID and rel[1] == ds.StudyDate and rel[2].startswith(ds.AccessionNumber)
        assert ds.pixel_array.shape == (ds.Rows, ds.Columns)
    assert len({read(p).SOPInstanceUID for p in corpus.files}) == 8


def test_two_patients_share_a_patient_id_under_different_issuers(corpus):
    a, b, *rest = corpus.patients
    assert a.patient_id == b.patient_id and a.issuer != b.issuer and a.name != b.name
    assert len({p.patient_id for p in corpus.patients}) == len(corpus.patients) - 1
    assert any(p.patient_id.isdigit() and len(p.patient_id) >= 7 for p in rest)  # an MRN-like ID


def test_every_place_holds_an_identifier_of_its_patient(corpus):
    by_accession = {p.accession: p for p in corpus.patients}
    for path in corpus.files:
        ds = read(path)
        p = by_accession[ds.AccessionNumber]
        planted = [p.patient_id, p.family, p.given, p.accession, p.other_id, p.old_id, p.phone, p.email,
                   p.address, p.issuer, p.legacy_mrn, p.study_date.isoformat(), p.study_date.strftime("%d/%m/%Y")]
        for where, tag_path in PLACES:
            value = at(ds, tag_path)
            assert any(v.lower() in value.lower() for v in planted), (where, tag_path)


def test_awkward_encodings(corpus):
    path = corpus.files[0]
    raw = path.read_bytes()
    assert b"\x10\x00\x00\x10UN\x00\x00" in raw  # OtherPatientIDs (0010,1000) with explicit VR UN
    ds = read(path)
    assert 0x00290010 in ds and 0x00291010 in ds  # private block with its creator
    assert 0x00331020 in ds and 0x00330010 not in ds  # private element without a creator
    assert re.fullmatch(r"\d{2}/\d{2}/\d{4}", str(ds.ContentDate))  # a DA that does not parse
    assert read(corpus.files[4]).StudyDate == corpus.patients[2].study_date.strftime("%Y.%m.%d")
    assert ds.OriginalAttributesSequence[0].ModifiedAttributesSequence[0].PatientID == corpus.patients[0].old_id


def test_same_seed_same_bytes_other_seed_other_patients(corpus, tmp_path):
    again = generate_hostile(tmp_path / "again", patients=4, seed=5)
    assert [f.read_bytes() for f in again.files] == [f.read_bytes() for f in corpus.files]
    other = generate_hostile(tmp_path / "other", patients=4, seed=6)
    assert {p.patient_id for p in other.patients}.isdisjoint({p.patient_id for p in corpus.patients})


def test_needs_two_patients(tmp_path):
    with pytest.raises(ValueError, match="at least 2 patients"):
        generate_hostile(tmp_path, patients=1)


def test_synth_hostile_command(tmp_path):
    from click.testing import CliRunner

    from mi_warehouse.cli import main

    r = CliRunner().invoke(main, ["synth", "--out", str(tmp_path / "h"), "--hostile", "--patients", "3"])
    assert r.exit_code == 0, r.output
    assert "6 hostile files for 3 patients" in r.output and len(list((tmp_path / "h").rglob("*.dcm"))) == 6
