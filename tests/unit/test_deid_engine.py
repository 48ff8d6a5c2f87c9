"""The de-identification engine on whole files: handlers, nesting, VR UN, cleaning, markers, columns."""

import datetime as dt
import io
import json
import struct

import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import ExplicitVRLittleEndian

from mi_warehouse.loaders.deid import DeidPolicy, Deidentifier, Keys
from mi_warehouse.loaders.extract import extract

KEY = b"\x03" * 32
CT = "1.2.840.10008.5.1.4.1.1.2"


def base(**kw) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = CT, kw.pop("sop", "1.2.826.0.1.3680043.2.1125.1.1")
    ds.StudyInstanceUID, ds.SeriesInstanceUID = "1.2.826.0.1.1", "1.2.826.0.1.1.2"
    ds.PatientID, ds.PatientName = "MRN-0042", "Doe^Jane^Quinn"
    ds.StudyDate, ds.Modality = "20240315", "CT"
    for k, v in kw.items():
        setattr(ds, k, v)
    return ds


def file_bytes(ds: Dataset) -> bytes:
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = CT, ds.SOPInstanceUID
    b = io.BytesIO()
    ds.save_as(b, enforce_file_format=True)
    return b.getvalue()


def load(data: bytes, policy: DeidPolicy | None = None, **kw):
    out = extract("file:///p/x.dcm", io.BytesIO(data), len(data), Deidentifier(KEY, policy), "run", **kw)
    assert out.error_class is None, out.message
    return out, json.loads(out.row["header_json"])


def test_handlers_remove_empty_pseudonymise_keep_clean_and_map_uids():
    ds = base(AccessionNumber="ACC777", PatientBirthDate="19700101", StationName="CT-ROOM-3",
              InstitutionName="St Example", ReferringPhysicianName="House^Greg", Manufacturer="ACME",
              StudyID="S42", PatientAddress="1 Main St", SliceThickness="1.25")
    out, model = load(file_bytes(ds))
    keys = Keys(KEY)
    assert "00081010" not in model and "00080080" not in model and "00101040" not in model  # X
    assert "00100030" not in model  # Z on a date: left out (zero length carries nothing)
    assert model["00080050"]["Value"] == [keys.pseudonym("accession", "ACC777")] == [out.row["accession_key"]]
    assert model["00200010"]["Value"] == [keys.pseudonym("StudyID", "S42")]  # Z on an ID: a pseudonym
    assert model["00080090"]["Value"] == [{"Alphabetic": keys.pseudonym("name", "House^Greg")}]
    assert model["00100010"]["Value"] == [{"Alphabetic": keys.pseudonym("name", "Doe^Jane^Quinn")}]
    assert model["00080070"]["Value"] == ["ACME"] and model["00180050"]["Value"] == [1.25]  # not in the table
    assert model["0020000D"]["Value"] == ["1.2.826.0.1.1"]  # Retain UIDs
    shift = dt.timedelta(days=keys.date_shift_days("MRN-0042"))
    assert model["00080020"]["Value"] == [(dt.date(2024, 3, 15) + shift).strftime("%Y%m%d")]
    assert out.row["study_date"] == dt.date(2024, 3, 15) + shift

    _, bare = load(file_bytes(base(StudyDescription="CT HEAD", PatientSex="F", PatientAge="045Y")),
                   DeidPolicy(options=()))
    uid = bare["0020000D"]["Value"][0]
    assert uid.startswith("2.25.") and uid == keys.uid("1.2.826.0.1.1")  # U without Retain UIDs
    assert "00081030" not in bare and "00101010" not in bare and "00100040" not in bare
    assert "00080020" not in bare  # StudyDate: Z without a date option


def _item(**kw) -> Dataset:
    d = Dataset()
    for k, v in kw.items():
        setattr(d, k, v)
    return d


def test_rules_apply_at_every_level_and_removed_sequences_go_whole():
    deep = _item(PatientName="Doe^Jane", OtherPatientIDs="MRN-0042-B", CodeValue="T-D1100")
    level2 = _item(ReferencedSOPClassUID=CT, ReferencedSOPInstanceUID="1.2.3.4",
                   PurposeOfReferenceCodeSequence=[_item(CodeValue="121311", ContentSequence=[deep])])
    person = _item(PersonIdentificationCodeSequence=[_item(CodeValue="ID-99", CodeMeaning="Greg House")],
                   PersonAddress="221B Baker Street", PersonTelephoneNumbers="555-123-4567")
    original = _item(ModifyingSystem="OLDPACS", SourceOfPreviousValues="St Example",
                     ModifiedAttributesSequence=[_item(PatientID="MRN-0042")])
    ds = base(ReferencedImageSequence=[level2], PerformingPhysicianIdentificationSequence=[person],
              OriginalAttributesSequence=[original])
    ds.add_new(0x00081049, "SQ", [_item(PersonIdentificationCodeSequence=[_item(CodeValue="ID-77")])])
    out, model = load(file_bytes(ds))
    text = out.row["header_json"]
    for phi in ("Doe", "Jane", "MRN-0042", "ID-99", "Greg House", "Baker", "555-123", "OLDPACS", "St Example", "ID-77"):
        assert phi not in text, phi
    assert "00081052" not in model and "04000561" not in model  # X on a sequence: gone, items and all
    ref = model["00081140"]["Value"][0]  # kept (Retain UIDs), walked with the same rules
    assert ref["00081155"]["Value"] == ["1.2.3.4"]
    purpose = ref["0040A170"]["Value"][0]
    assert purpose["00080100"]["Value"] == ["121311"]
    assert purpose["0040A730"] == {"vr": "SQ"}  # ContentSequence is D: a sequence's dummy is empty
    assert "00081049" not in model  # PhysiciansOfRecordIdentificationSequence: X


def test_content_sequence_text_goes_unless_clean_structured_content():
    sr = base(ContentSequence=[_item(ValueType="TEXT", TextValue="Jane Doe MRN-0042 has a nodule",
                                     ConceptNameCodeSequence=[_item(CodeValue="121071")])])
    _, model = load(file_bytes(sr))
    assert model["0040A730"] == {"vr": "SQ"}  # D on a sequence: an empty sequence
    _, cleaned = load(file_bytes(sr), DeidPolicy(options=("retain_uids", "clean_structured_content",
                                                          "clean_descriptors")))
    item = cleaned["0040A730"]["Value"][0]  # C: walked, and its text cleaned like a description
    assert item["0040A160"]["Value"] == ["has a nodule"] and item["0040A040"]["Value"] == ["TEXT"]
    assert item["0040A043"]["Value"][0]["00080100"]["Value"] == ["121071"]  # code values are not text


def test_a_name_three_sequence_levels_deep_goes():
    inner = _item(OperatorsName="Nested^Secret", PatientComments="call 555-123-4567")
    ds = base(ReferencedImageSequence=[_item(ReferencedSOPInstanceUID="1.2.3",
                                             SourceImageSequence=[_item(ReferencedSOPInstanceUID="1.2.4",
                                                                        DerivationCodeSequence=[inner])])])
    out, model = load(file_bytes(ds))
    assert "Nested" not in out.row["header_json"] and "Secret" not in out.row["header_json"]
    level3 = model["00081140"]["Value"][0]["00082112"]["Value"][0]["00089215"]["Value"][0]
    assert "00081070" not in level3  # X at depth 3
    assert level3["00104000"]["Value"] == ["call"]  # C (Clean Descriptors) at depth 3


LONG = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "UC", "UN", "UR", "UT", "SV", "UV"}


def _el(tag: int, vr: str, data: bytes) -> bytes:
    if len(data) % 2:
        data += b"\0" if vr in ("UI", "OB", "UN") else b" "
    if vr in LONG:
        return struct.pack("<HH2sHI", tag >> 16, tag & 0xFFFF, vr.encode(), 0, len(data)) + data
    return struct.pack("<HH2sH", tag >> 16, tag & 0xFFFF, vr.encode(), len(data)) + data


def _implicit_item(ds: Dataset) -> bytes:
    b = DicomBytesIO()
    b.is_little_endian, b.is_implicit_VR = True, True
    write_dataset(b, ds)
    return struct.pack("<HHI", 0xFFFE, 0xE000, len(b.getvalue())) + b.getvalue()


def test_standard_attributes_written_as_un_get_their_dictionary_vr_first():
    meta = FileMetaDataset()
    meta.TransferSyntaxUID, meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = \
        ExplicitVRLittleEndian, CT, "1.2.3.9"
    b = DicomBytesIO()
    b.is_little_endian, b.is_implicit_VR = True, False
    b.write(b"\0" * 128 + b"DICM")
    write_file_meta_info(b, meta)
    person = _item(PersonIdentificationCodeSequence=[_item(CodeValue="ID-99", CodeMeaning="Greg House")])
    b.write(_el(0x00080016, "UI", CT.encode()) + _el(0x00080018, "UI", b"1.2.3.9")
            + _el(0x00080020, "UN", b"20240315") + _el(0x00080060, "CS", b"CT")
            + _el(0x00081030, "UN", b"CT CHEST Doe") + _el(0x00081052, "UN", _implicit_item(person))
            + _el(0x00100010, "UN", b"Doe^Jane") + _el(0x00100020, "UN", b"MRN-0042")
            + _el(0x00101010, "UN", b"097Y") + _el(0x00280010, "UN", struct.pack("<H", 512)))
    data = b.getvalue()
    assert pydicom.dcmread(io.BytesIO(data))._dict[0x00100010].VR == "UN"  # the file really says UN
    out, model = load(data)
    keys = Keys(KEY)
    assert "Doe" not in out.row["header_json"] and "Greg" not in out.row["header_json"]
    assert model["00100010"] == {"vr": "PN", "Value": [{"Alphabetic": keys.pseudonym("name", "Doe^Jane")}]}
    assert model["00100020"]["Value"] == [keys.patient_key("MRN-0042")] == [out.row["patient_key"]]
    assert "00081052" not in model  # an X sequence written as UN still goes whole
    assert model["00080020"]["vr"] == "DA" and model["00080020"]["Value"] != ["20240315"]
    assert model["00081030"]["Value"] == ["CT CHEST"] and out.row["study_description"] == "CT CHEST"
    assert model["00101010"]["Value"] == ["090Y"] and out.row["patient_age_years"] == 90
    assert model["00280010"] == {"vr": "US", "Value": [512]} and out.row["rows"] == 512


def test_descriptions_are_cleaned_of_the_files_identifiers_and_of_identifier_shapes():
    ds = base(AccessionNumber="ACC777", OtherPatientIDs="HOSP-99812", PatientTelephoneNumbers="555-123-4567",
              StudyDescription="CT CHEST W/O jane DOE acc777 MRN-0042 2024-03-15",
              SeriesDescription="AX 5.0 call (555) 123-4567 or jd@example.org on 15/03/2024",
              ProtocolName="Doe's protocol 0042 HOSP-99812 Quinn", AcquisitionComments="ok 20240315 x")
    out, model = load(file_bytes(ds))
    assert out.row["study_description"] == "CT CHEST W/O" == model["00081030"]["Value"][0]
    assert out.row["series_description"] == "AX 5.0 call or on" == model["0008103E"]["Value"][0]
    assert model["00181030"]["Value"] == ["protocol"]
    assert model["00184000"]["Value"] == ["ok x"]
    _, removed = load(file_bytes(ds), DeidPolicy(options=("retain_uids",)))
    assert not {"00081030", "0008103E", "00181030", "00184000"} & set(removed)  # no Clean Descriptors: X


def test_markers_record_the_profile_and_the_options():
    out, model = load(file_bytes(base(PatientIdentityRemoved="NO", DeidentificationMethod="forged")))
    assert model["00120062"] == {"vr": "CS", "Value": ["YES"]}
    assert model["00120063"]["Value"] == [DeidPolicy().method_text()]
    codes = [(i["00080100"]["Value"][0], i["00080102"]["Value"][0]) for i in model["00120064"]["Value"]]
    assert codes == [(c, "DCM") for c, _ in DeidPolicy().method_codes()] and codes[0][0] == "113100"
    assert model["00280303"]["Value"] == ["MODIFIED"]
    _, full = load(file_bytes(base()), DeidPolicy(options=("retain_long_full_dates",)))
    assert full["00280303"]["Value"] == ["UNMODIFIED"] and full["00080020"]["Value"] == ["20240315"]
    marked = Deidentifier(KEY).apply([], Deidentifier(KEY).subject({0x00100020: "P"}))
    assert [t for t, _, _ in marked] == [0x00120062, 0x00120063, 0x00120064, 0x00280303]


def test_ages_are_capped_at_90_and_need_retain_patient_characteristics():
    out, model = load(file_bytes(base(PatientAge="095Y", PatientSex="M")))
    assert out.row["patient_age_years"] == 90 and model["00101010"]["Value"] == ["090Y"]
    assert out.row["patient_sex"] == "M"
    out, _ = load(file_bytes(base(PatientBirthDate="19200101")))
    assert out.row["patient_age_years"] == 90
    out, _ = load(file_bytes(base(PatientAge="045Y")))
    assert out.row["patient_age_years"] == 45
    out, model = load(file_bytes(base(PatientAge="045Y", PatientSex="M")), DeidPolicy(options=("retain_uids",)))
    assert out.row["patient_age_years"] is None and out.row["patient_sex"] is None and "00101010" not in model


def test_the_issuer_of_patient_id_changes_the_key_and_the_shift():
    a, _ = load(file_bytes(base(IssuerOfPatientID="HOSPITAL A")), keep_phi=True)
    b, model = load(file_bytes(base(IssuerOfPatientID="HOSPITAL B")), keep_phi=True)
    none, _ = load(file_bytes(base()))
    keys = Keys(KEY)
    assert a.row["patient_key"] != b.row["patient_key"] != none.row["patient_key"]
    assert none.row["patient_key"] == keys.pseudonym("patient", "MRN-0042")  # as before issuers counted
    assert b.row["patient_key"] == keys.patient_key("MRN-0042", "HOSPITAL B") == model["00100020"]["Value"][0]
    assert "00100021" not in model  # the issuer itself is X
    assert a.phi[3] == keys.date_shift_days("MRN-0042", "HOSPITAL A") and b.phi[3] == \
        keys.date_shift_days("MRN-0042", "HOSPITAL B")


def _raw(ds: Dataset, tag: int, vr: str, data: bytes) -> Dataset:
    """An element as a file would hold it, unchecked (pydicom refuses to build invalid ones)."""
    ds._dict[pydicom.tag.Tag(tag)] = pydicom.dataelem.RawDataElement(
        pydicom.tag.Tag(tag), vr, len(data), data, 0, False, True)
    return ds


def test_warnings_name_the_tag_never_the_value():
    ds = base(StudyDate="2024-13-45", PatientAge="about 40")
    _raw(ds, 0x00180050, "DS", b"thick ")
    out, model = load(file_bytes(ds))
    joined = " | ".join(out.warnings)
    assert "00080020" in joined and "StudyDate" in joined and "00101010" in joined and "00180050" in joined
    for value in ("2024-13-45", "thick", "about 40"):
        assert value not in joined
    assert out.row["study_date"] is None and "00080020" not in model
    off = extract("file:///x", io.BytesIO(file_bytes(base(StudyDate="2024-13-45"))), 1, None, "run")
    assert off.warnings and "2024-13-45" not in off.warnings[0] and "00080020" in off.warnings[0]


def test_private_attributes_are_kept_only_by_creator_and_offset_with_their_creator():
    ds = base()
    ds.add_new(0x00290010, "LO", "ACME 1")
    ds.add_new(0x00290011, "LO", "OTHER")
    ds.add_new(0x00291010, "LO", "safe value")
    ds.add_new(0x00291011, "LO", "MRN-0042 unsafe")
    ds.add_new(0x00291110, "LO", "same offset, other creator")
    ds.add_new(0x00091001, "LO", "literal allow")
    ds.add_new(0x00091002, "LO", "Doe secret")
    policy = DeidPolicy(safe_private=((0x0029, "ACME 1", 0x10),), private_tags=frozenset({0x00091001}))
    out, model = load(file_bytes(ds), policy)
    private = {t for t in model if int(t[:4], 16) & 1}
    assert private == {"00290010", "00291010", "00091001"}
    assert model["00291010"]["Value"] == ["safe value"] and model["00290010"]["Value"] == ["ACME 1"]
    _, none = load(file_bytes(ds), DeidPolicy(options=("retain_uids",), safe_private=policy.safe_private))
    assert not {t for t in none if int(t[:4], 16) & 1}  # without Retain Safe Private: all go
    assert Deidentifier(KEY, ("00091001",)).policy.private_tags == {0x00091001}  # --private-allow as before


def test_curves_overlays_and_unlisted_names_and_dates():
    ds = base()
    ds.add_new(0x50000010, "US", 2)  # curve group: X
    ds.add_new(0x60003000, "OW", b"\x00\x01" * 8)  # Overlay Data: X
    ds.add_new(0x60004000, "LT", "Doe overlay")  # Overlay Comments: X
    ds.add_new(0x60000010, "US", 512)  # Overlay Rows: not in the table, kept
    ds.add_new(0x00321032, "PN", "Requester^Ann")  # Requesting Physician
    ds.add_new(0x00400244, "DA", "20240301")  # Performed Procedure Step Start Date: in the table
    ds.add_new(0x0018A002, "DT", "20240301120000")  # Contribution DateTime
    out, model = load(file_bytes(ds))
    assert "50000010" not in model and "60003000" not in model and "60004000" not in model
    assert model["60000010"]["Value"] == [512]
    assert "Requester" not in out.row["header_json"] and "20240301" not in out.row["header_json"]


def test_the_deidentifier_never_shows_its_key():
    d = Deidentifier(KEY)
    assert KEY.hex()[:8] not in repr(d) and KEY.hex()[:8] not in repr(d.keys)


@pytest.mark.parametrize("options", [(), ("retain_uids", "clean_descriptors"), DeidPolicy().options])
def test_no_option_set_lets_the_patient_name_or_mrn_through(options):
    ds = base(StudyDescription="Doe MRN-0042", ProtocolName="Jane", SeriesDescription="Quinn x")
    out, _ = load(file_bytes(ds), DeidPolicy(options=options))
    for phi in ("Doe", "Jane", "Quinn", "MRN-0042"):
        assert phi not in out.row["header_json"] and phi not in str(out.row), (options, phi)
