"""A hostile synthetic corpus: each patient's identifiers planted everywhere a header can hide them.

``generate_hostile(out_dir, patients, seed)`` writes valid DICOM (pydicom writes it, Explicit VR
Little Endian) as ``out_dir/<PatientID>/<StudyDate>/<AccessionNumber>_<n>.dcm``, two images per
patient. Patients 0 and 1 share a PatientID under different IssuerOfPatientID. Every value is
made up from ``seed``; none belongs to a real person.

Where the identifiers go (``PLACES``): free text (StudyDescription, SeriesDescription,
ProtocolName, AcquisitionComments, ImageComments); a person sequence nested three levels
(PerformingPhysicianIdentificationSequence > PersonIdentificationCodeSequence >
EquivalentCodeSequence, with an address and a telephone number); the Original Attributes
Sequence (ModifyingSystem, SourceOfPreviousValues, an old PatientID and name in the Modified
Attributes Sequence); the Other Patient IDs and Request Attributes Sequences; private tags with
and without a private creator; OtherPatientIDs written with VR UN; an SR-like TEXT content item; a StudyDate-like value that does not parse
(ContentDate as DD/MM/YYYY, and for the third patient a StudyDate as YYYY.MM.DD); the path.
"""

from __future__ import annotations

import datetime as dt
import random
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pydicom import config, dcmwrite
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

__all__ = ["HostilePatient", "HostileSummary", "PLACES", "generate_hostile"]

# (where, tag path in header_json) of every planted identifier.
PLACES: tuple[tuple[str, str], ...] = (
    ("StudyDescription", "00081030"),
    ("SeriesDescription", "0008103E"),
    ("ProtocolName", "00181030"),
    ("AcquisitionComments", "00184000"),
    ("ImageComments", "00204000"),
    ("person code value", "00081052[0].00401101[0].00080100"),
    ("person code meaning", "00081052[0].00401101[0].00080104"),
    ("equivalent code, 3 levels", "00081052[0].00401101[0].00080121[0].00080104"),
    ("person address", "00081052[0].00401102"),
    ("person telephone", "00081052[0].00401103"),
    ("ModifyingSystem", "04000561[0].04000563"),
    ("SourceOfPreviousValues", "04000561[0].04000564"),
    ("old PatientID", "04000561[0].04000550[0].00100020"),
    ("private, with creator", "00291010"),
    ("private text, with creator", "00291011"),
    ("private, no creator", "00331020"),
    ("OtherPatientIDs as UN", "00101000"),
    ("SR text item", "0040A730[0].0040A160"),
    ("OtherPatientIDsSequence", "00101002[0].00100020"),
    ("RequestAttributesSequence accession", "00400275[0].00080050"),
    ("RequestAttributesSequence text", "00400275[0].00321060"),
    ("unparseable ContentDate", "00080023"),
)

_FAMILY = ["Quenby", "Marlowe", "Thistlewood", "Okonkwo", "Vantongeren", "Halvorsen", "Pemberton",
           "Castellanos", "Drummond", "Szymanska"]
_GIVEN = ["Li", "Rosalind", "Evander", "Ottilie", "Cassius", "Mireille", "Thaddeus", "Imogen"]
_STREETS = ["Quarry Lane", "Tanner Row", "Wicket Close", "Heron Walk", "Saltmarsh Road"]
_TOWNS = ["Northgate", "Eastmere", "Kilbride", "Oxley Vale"]
_ISSUERS = ["NORTHGATE-MRN", "RIVERSIDE-EPR", "LAKESHORE-PAS", "STAURELIA-HIS"]


@dataclass(frozen=True)
class HostilePatient:
    patient_id: str
    issuer: str
    family: str
    given: str
    birth_date: dt.date
    study_date: dt.date
    accession: str
    other_id: str
    old_id: str
    legacy_mrn: str  # a digit run held by no identifier attribute: only the MRN pattern finds it
    phone: str
    email: str
    address: str
    study_date_text: str  # as written in StudyDate and the path (YYYY.MM.DD for one patient)

    @property
    def name(self) -> str:
        return f"{self.family}^{self.given}"


@dataclass
class HostileSummary:
    out_dir: Path
    patients: list[HostilePatient]
    files: list[Path] = field(default_factory=list)


@contextmanager
def _keep_un():
    """Let a standard attribute keep VR UN (pydicom otherwise swaps in the dictionary VR)."""
    saved = config.replace_un_with_known_vr
    config.replace_un_with_known_vr = False
    try:
        yield
    finally:
        config.replace_un_with_known_vr = saved


def _plan(rng: random.Random, idx: int, shared_id: str | None) -> HostilePatient:
    family, given = _FAMILY[idx % len(_FAMILY)], _GIVEN[idx % len(_GIVEN)]
    numeric = idx % 2 == 1
    pid = shared_id or (str(rng.randint(10_000_000, 99_999_999)) if numeric else f"HX-{rng.randint(100_000, 999_999)}")
    study = dt.date(2010 + idx % 7, 1 + (3 * idx) % 12, 1 + (7 * idx) % 27)
    birth = dt.date(rng.randint(1940, 1995), rng.randint(1, 12), rng.randint(1, 28))
    text = study.strftime("%Y.%m.%d") if idx == 2 else study.strftime("%Y%m%d")
    return HostilePatient(
        patient_id=pid, issuer=_ISSUERS[idx % len(_ISSUERS)], family=family, given=given,
        birth_date=birth, study_date=study, accession=f"ACC{rng.randint(1_000_000, 9_999_999)}",
        other_id=f"OID-{rng.randint(10_000, 99_999)}", old_id=f"OLD-{rng.randint(10_000, 99_999)}",
        legacy_mrn=str(rng.randint(20_000_000, 29_999_999)),
        phone=f"+1 555 {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
        email=f"{given.lower()}.{family.lower()}@mail.example",
        address=f"{rng.randint(2, 99)} {rng.choice(_STREETS)}, {rng.choice(_TOWNS)}",
        study_date_text=text)


def _person_sequence(p: HostilePatient) -> list[Dataset]:
    equivalent = Dataset()
    equivalent.CodeValue, equivalent.CodingSchemeDesignator = p.accession, "L"
    equivalent.CodeMeaning = f"{p.given} {p.family} {p.phone}"
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator = p.patient_id, "L"
    code.CodeMeaning = f"{p.family} {p.given}"
    code.EquivalentCodeSequence = [equivalent]
    person = Dataset()
    person.PersonIdentificationCodeSequence = [code]
    person.PersonAddress = p.address
    person.PersonTelephoneNumbers = p.phone
    person.InstitutionName = "Northgate General Hospital"
    return [person]


def _original_attributes(p: HostilePatient) -> list[Dataset]:
    old = Dataset()
    old.PatientID, old.PatientName, old.IssuerOfPatientID = p.old_id, p.name, p.issuer
    item = Dataset()
    item.ModifiedAttributesSequence = [old]
    item.AttributeModificationDateTime = p.study_date.strftime("%Y%m%d") + "093000"
    item.ModifyingSystem = f"PACS {p.patient_id}"
    item.SourceOfPreviousValues = f"{p.issuer} {p.family}"
    item.ReasonForTheAttributeModification = "COERCE"
    return [item]


def _sr_item(p: HostilePatient) -> list[Dataset]:
    concept = Dataset()
    concept.CodeValue, concept.CodingSchemeDesignator, concept.CodeMeaning = "121106", "DCM", "Comment"
    item = Dataset()
    item.RelationshipType, item.ValueType = "CONTAINS", "TEXT"
    item.ConceptNameCodeSequence = [concept]
    item.TextValue = (f"Pt {p.family.upper()}, {p.given} (MRN {p.patient_id}) seen {p.study_date.isoformat()}; "
                      f"call {p.phone}")
    return [item]


def _dataset(p: HostilePatient, n: int, uid, size: int) -> Dataset:
    sop = uid("sop", n)
    meta = FileMetaDataset()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = CTImageStorage, sop
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, sop
    ds.StudyInstanceUID, ds.SeriesInstanceUID = uid("study"), uid("series", n)
    ds.PatientName, ds.PatientID, ds.IssuerOfPatientID = p.name, p.patient_id, p.issuer
    ds.PatientBirthDate, ds.PatientSex = p.birth_date.strftime("%Y%m%d"), "O"
    ds.PatientAddress, ds.PatientTelephoneNumbers = p.address, p.phone
    ds.AccessionNumber, ds.StudyID = p.accession, p.accession[-6:]
    ds.add_new(0x00080020, "DA", p.study_date_text)
    ds.SeriesDate = p.study_date.strftime("%Y%m%d")
    ds.StudyTime, ds.SeriesTime = "101500", f"1016{n:02d}"
    ds.AcquisitionDateTime = p.study_date.strftime("%Y%m%d") + f"1017{n:02d}"
    ds.add_new(0x00080023, "DA", p.study_date.strftime("%d/%m/%Y"))  # ContentDate that does not parse
    ds.Modality, ds.BodyPartExamined = "CT", "CHEST"
    ds.InstitutionName, ds.ReferringPhysicianName = "Northgate General Hospital", "Adair^Morven^^Dr"
    ds.StudyDescription = f"CT CHEST {p.family} {p.given} MRN {p.patient_id}"
    ds.SeriesDescription = f"{p.family}^{p.given} {p.study_date.isoformat()} series {n}"
    ds.ProtocolName = f"PROTO {p.patient_id} tel {p.phone}"
    ds.AcquisitionComments = f"contact {p.email}; legacy chart {p.legacy_mrn}"
    ds.ImageComments = f"Acc {p.accession}; other {p.other_id}; lives at {p.address}"
    ds.PerformingPhysicianIdentificationSequence = _person_sequence(p)
    other = Dataset()
    other.PatientID, other.IssuerOfPatientID, other.TypeOfPatientID = p.other_id, p.issuer, "TEXT"
    ds.OtherPatientIDsSequence = [other]
    request = Dataset()
    request.AccessionNumber, request.RequestedProcedureID = p.accession, p.accession[-6:]
    request.RequestedProcedureDescription = f"CT chest for {p.given} {p.family}"
    ds.RequestAttributesSequence = [request]
    ds.OriginalAttributesSequence = _original_attributes(p)
    ds.ContentSequence = _sr_item(p)
    ds.add_new(0x00290010, "LO", "HOSTILE PRIVATE")
    ds.add_new(0x00291010, "LO", p.patient_id)
    ds.add_new(0x00291011, "LT", f"{p.family} {p.email}")
    ds.add_new(0x00331020, "LO", p.other_id)  # no private creator (0033,0010)
    with _keep_un():
        ds[0x00101000] = DataElement(0x00101000, "UN", f"{p.other_id}\\{p.old_id}".encode("ascii"))
    ds.InstanceNumber, ds.SeriesNumber = n + 1, n + 1
    ds.Rows = ds.Columns = size
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = bytes((i * 37 + n) % 251 for i in range(size * size * 2))
    return ds


def generate_hostile(out_dir: str | Path, patients: int = 4, seed: int = 0, image_size: int = 8) -> HostileSummary:
    """Write the hostile corpus: `patients` patients (at least 2), two images each."""
    if patients < 2:
        raise ValueError("a hostile corpus needs at least 2 patients (two of them share a PatientID)")
    out = Path(out_dir)
    rng = random.Random(seed)
    plans: list[HostilePatient] = []
    for i in range(patients):
        plans.append(_plan(rng, i, plans[0].patient_id if i == 1 else None))
    summary = HostileSummary(out, plans)
    for idx, p in enumerate(plans):
        def uid(kind: str, n: int = 0, _idx=idx) -> str:
            return generate_uid(entropy_srcs=["hostile", str(seed), str(_idx), kind, str(n)])

        folder = out / p.patient_id / p.study_date_text
        folder.mkdir(parents=True, exist_ok=True)
        for n in range(2):
            path = folder / f"{p.accession}_{n}.dcm"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the invalid dates are the point
                dcmwrite(path, _dataset(p, n, uid, image_size), enforce_file_format=True)
            summary.files.append(path)
    return summary
