"""One file in, one row or one classified failure out. Never reads pixel data.

DICOM is recognised by content: a Part 10 file has 'DICM' after its 128-byte preamble; a file
without preamble or file meta (read as pydicom reads it with `force`) is accepted when it starts
with a plausible group 0002 or 0008 element, little or big endian, within RAW_SLACK bytes. A
DICOMDIR is indexed as such (class `dicomdir`), never loaded as an image. A zip or gzip file that
reaches this module is one the walk could not open (sources.py): `corrupt`, or `empty` if it holds
no file.

A file without PatientID is rejected (`missing_patient_id`), or with `[loader] missing_patient_id =
"surrogate"` keyed by its StudyInstanceUID (keyed pseudonym `surrogate-study`, date shift of the
study), with `patient_key_source = 'study'` and a warning row of that class.

A well-formed Part 10 header is read once, from its bytes, by serde/fast_header.py (with
de-identification, private attributes the profile drops are skipped unread); anything it does not
take (no preamble, deflate, a cut or damaged header, ISO 2022 text, ...) is read by pydicom, which
decides the failure class. Both give the same elements (tests/unit/test_fast_header.py).

Failure classes: empty, not_dicom, truncated, corrupt, dicomdir, missing_uid, missing_patient_id,
unreadable. Values that do not parse as their VR (invalid DA/DS/IS/AS) give a NULL column and a
warning naming the tag, never the value (an original date as written would give the patient's
date shift away). Which warnings fail the file instead is decided in strictness.py.

With de-identification the columns are converted from the de-identified elements (the same ones
header_json is written from), so a column never holds what the header does not: descriptions are
cleaned, dates shifted, ages capped at 90, attributes the profile removes are NULL.
"""

from __future__ import annotations

import datetime as dt
import struct
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import pydicom
from pydicom.errors import InvalidDicomError

from ..serde import archives
from ..serde import catalog as cat
from ..serde import fast_header
from ..serde.dicom_json import json_from_elements
from ..serde.raw_elements import elements, encoding
from .deid import Deidentifier
from .deid.policy import AGE_CAP_YEARS
from .strictness import DEFAULT_LEVEL, enforce

DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"
PATIENT_ID, PATIENT_NAME, PATIENT_AGE, BIRTH_DATE = 0x00100020, 0x00100010, 0x00101010, 0x00100030
SOP_INSTANCE_UID, STUDY_UID = 0x00080018, 0x0020000D
STUDY_DATE = 0x00080020
ACCESSION, INSTITUTION, MODALITY = 0x00080050, 0x00080080, 0x00080060
IMAGE_REF_SCHEME = "mi-image:"
# dicom_metadata.patient_key_source: what patient_key stands for
KEY_FROM_PATIENT_ID, KEY_FROM_STUDY = "patient_id", "study"
SURROGATE_KIND = "surrogate-study"  # the keyed kind of a surrogate patient key


def image_ref(sop_instance_uid: str) -> str:
    """The path-free image reference stored in dicom_metadata.image_uri when de-identifying."""
    return IMAGE_REF_SCHEME + sop_instance_uid


@dataclass
class Outcome:
    path: str
    size: int
    row: dict[str, Any] | None = None  # with the partition columns
    error_class: str | None = None
    message: str | None = None
    warnings: list = field(default_factory=list)  # messages (invalid_value), or (class, message)
    phi: tuple | None = None  # (patient_key, patient_id, patient_name, shift_days) when asked
    sop: str | None = None  # SOPInstanceUID of a loaded file whose row moved into an Arrow table


class Rejected(Exception):
    def __init__(self, error_class: str, message: str):
        super().__init__(message)
        self.error_class = error_class


RAW_SLACK = 4  # stray bytes tolerated before the first element of a file without preamble


def sniff(head: bytes) -> str:
    """'part10', 'raw' (no preamble), 'empty' or 'not_dicom', from the first 132 bytes."""
    if not head:
        return "empty"
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "part10"
    return "raw" if raw_start(head) is not None else "not_dicom"


def raw_start(head: bytes) -> int | None:
    """Where the first element of a file without preamble and file meta starts: a plausible group
    0002 or 0008 element, in explicit or implicit VR little endian or explicit VR big endian, at
    most RAW_SLACK bytes in (pydicom's own no_meta.dcm starts with a stray byte); None if nowhere."""
    for at in range(min(RAW_SLACK, max(len(head) - 7, 0))):
        h = head[at:at + 8]
        vr = h[4:6]
        explicit = vr.isalpha() and vr.isupper()
        for endian in "<>":
            group, elem = struct.unpack(endian + "HH", h[:4])
            if group not in (0x0002, 0x0008) or elem >= 0x2000:
                continue
            if explicit:
                return at
            (length,) = struct.unpack(endian + "I", h[4:8])
            if endian == "<" and length < 0x10000:
                return at  # implicit VR little endian (implicit big endian does not exist)
    return None


class _Shifted:
    """A file object seen from `start` on: what pydicom reads of a file with stray leading bytes."""

    def __init__(self, fp: BinaryIO, start: int):
        self._fp, self._start = fp, start
        fp.seek(start)

    def read(self, n: int = -1) -> bytes:
        return self._fp.read(n)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._fp.seek(offset + (self._start if whence == 0 else 0), whence) - self._start

    def tell(self) -> int:
        return self._fp.tell() - self._start

    def close(self) -> None:
        self._fp.close()


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text[:300]


def read_header(fp: BinaryIO, kind: str):
    try:
        return pydicom.dcmread(fp, stop_before_pixels=True, force=(kind == "raw"))
    except (EOFError, struct.error) as e:
        raise Rejected("truncated", f"file ends inside the header: {_one_line(e)}") from None
    except InvalidDicomError as e:
        raise Rejected("not_dicom", _one_line(e)) from None
    except Exception as e:  # pydicom raises many types on malformed input
        msg = _one_line(e)
        cls = "truncated" if ("end of file" in msg.lower() or "eof" in msg.lower()) else "corrupt"
        raise Rejected(cls, f"{type(e).__name__}: {msg}") from None


def extract(uri: str, fp: BinaryIO, size: int, deid: Deidentifier | None, run_id: str,
            bulk_limit: int = 1024, keep_phi: bool = False, missing_patient_id: str = "reject",
            strictness: str = DEFAULT_LEVEL) -> Outcome:
    """The file's row and warnings, or its failure; `strictness` (strictness.py) decides which
    warnings fail the file."""
    out = Outcome(uri, size)
    try:
        if archives.split_member(uri) is not None:
            size = out.size = _member_size(fp)
        head = fp.read(132)
        kind = sniff(head)
        if kind == "not_dicom" and archives.is_archive(uri):
            raise _unopened_archive(fp, uri)
        if kind in ("empty", "not_dicom"):
            raise Rejected(kind, "empty file" if kind == "empty" else "not a DICOM file (no DICM marker, "
                           "no DICOM element at the start)")
        fp.seek(0)
        start, body = (raw_start(head) or 0) if kind == "raw" else 0, size
        if start:
            fp, body = _Shifted(fp, start), size - start
            out.warnings.append(("stray_bytes", f"{start} stray byte(s) before the first element: "
                                                f"read from byte {start}"))
        header = fast_header.read(fp, body, deid.private_rule() if deid is not None else None) \
            if kind == "part10" else None
        if header is not None and header.sop_class != DICOMDIR_SOP_CLASS:
            if header.stop < body:
                _check_pixels(header.pixel_head, header.stop, body, header.implicit, header.little)
            top, enc, syntax = header.top, header.encoding, header.transfer_syntax
        else:  # anything the fast reader does not take: pydicom reads it and says what is wrong
            fp.seek(0)
            top, enc, syntax = _pydicom_header(fp, kind, body)
        out.row = _row(top, enc, syntax, uri, size, deid, run_id, bulk_limit, out, keep_phi, missing_patient_id)
    except Rejected as e:
        out.row, out.error_class, out.message = None, e.error_class, str(e)
    except Exception as e:  # a file must never crash the load: classify and go on
        out.row, out.error_class, out.message = None, "corrupt", f"{type(e).__name__}: {_one_line(e)}"
    enforce(out, strictness)
    if out.message:
        out.message = _without_names(out.message, uri)
    return out


def _without_names(message: str, uri: str) -> str:
    """The message without the file's path or member name (zipfile and gzip quote them; paths often
    hold PatientIDs and dates, and the message lands in the core database)."""
    names = [uri, uri[7:] if uri.startswith("file://") else None]
    member = archives.split_member(uri)
    if member:
        names += [member[0], member[0][7:] if member[0].startswith("file://") else None, member[1]]
    for name in sorted((n for n in names if n), key=len, reverse=True):
        message = message.replace(name, "<file>")
    return message


def _member_size(fp: BinaryIO) -> int:
    """An archive member's real size, decompressing it once: a listed size can lie (a cut gzip file's
    trailer is whatever bytes it ends with), and only the whole stream shows a cut or a bad CRC."""
    n = 0
    try:
        while chunk := fp.read(1 << 20):
            n += len(chunk)
    except EOFError as e:
        raise Rejected("truncated", f"compressed member ends early: {_one_line(e)}") from None
    except Exception as e:  # zlib.error, BadZipFile (CRC), BadGzipFile
        raise Rejected("corrupt", f"compressed member unreadable: {type(e).__name__}: {_one_line(e)}") from None
    fp.seek(0)
    return n


def _unopened_archive(fp: BinaryIO, uri: str) -> Rejected:
    """An archive the walk could not list (or that holds no file): why, from its own bytes."""
    fp.seek(0)
    try:
        archives.list_members(fp, uri)
    except archives.ArchiveError as e:
        return Rejected("corrupt", str(e))
    return Rejected("empty", "archive without any file in it")


def _pydicom_header(fp: BinaryIO, kind: str, size: int) -> tuple[list, str | None, str | None]:
    """(top-level elements, codec, transfer syntax) as pydicom reads the file; the classified failure."""
    ds = read_header(fp, kind)
    meta = getattr(ds, "file_meta", None)
    if meta is not None and str(meta.get("MediaStorageSOPClassUID", "")) == DICOMDIR_SOP_CLASS:
        n = len(ds.get("DirectoryRecordSequence", []) or [])
        raise Rejected("dicomdir", f"DICOMDIR index with {n} directory records (not an image)")
    _check_complete(ds, fp, size)
    enc = encoding(ds)
    syntax = cat.to_str(meta.get("TransferSyntaxUID")) if meta is not None else None
    return list(elements(ds, enc)), enc, syntax


def _check_complete(ds, fp: BinaryIO, size: int) -> None:
    """pydicom stops quietly at the end of a cut file: find the cut ourselves."""
    raw = list(ds._dict.values())[-1:] if len(ds._dict) else []
    for elem in raw:
        length = getattr(elem, "length", None)
        value = getattr(elem, "value", None)
        if isinstance(value, (bytes, bytearray)) and length not in (None, 0xFFFFFFFF) and len(value) < length:
            raise Rejected("truncated", f"file ends inside {elem.tag}: {len(value)} of {length} bytes")
    pos = fp.tell()
    if pos < size:  # stopped before pixel data: is all of it there?
        implicit, little = getattr(ds, "original_encoding", (False, True))
        _check_pixels(fp.read(12), pos, size, implicit, little is not False)
    elif not len(ds._dict):  # cut in or right after the file meta (a file without SOPInstanceUID
        # but with other elements is `missing_uid`: its end cannot be told from a cut)
        raise Rejected("truncated", f"file ends after {size} bytes, before the first data element")


def _check_pixels(head: bytes, pos: int, size: int, implicit: bool, little: bool = True) -> None:
    """The Pixel Data element whose header `head` starts at `pos`: truncated if its value is cut."""
    if len(head) < 8:
        return
    endian = "<" if little else ">"
    if implicit:
        (length,) = struct.unpack(endian + "I", head[4:8])
        start = pos + 8
    elif len(head) == 12:
        (length,) = struct.unpack(endian + "I", head[8:12])
        start = pos + 12
    else:
        length, start = 0xFFFFFFFF, pos
    if length != 0xFFFFFFFF and start + length > size:
        raise Rejected("truncated", f"pixel data cut: {size - start} of {length} bytes present")


def _convert(value, col: cat.Column, out: Outcome):
    try:
        return col.convert(value)
    except cat.InvalidValue as e:
        out.warnings.append(f"{col.keyword} ({col.tag}): {e}; stored NULL")
        return None


def age_from_dates(birth: dt.date | None, on: dt.date | None) -> int | None:
    if birth is None or on is None or birth > on:
        return None
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _date_or_none(value) -> dt.date | None:
    try:
        return cat.to_date(value)
    except cat.InvalidValue:
        return None


def _row(top: list, enc: str | None, syntax: str | None, uri, size, deid: Deidentifier | None, run_id,
         bulk_limit, out: Outcome, keep_phi: bool = False, missing_patient_id: str = "reject") -> dict[str, Any]:
    raw = values = {tag: value for tag, _, value in top}
    if not cat.to_str(raw.get(SOP_INSTANCE_UID)):
        raise Rejected("missing_uid", "no SOPInstanceUID (0008,0018)")
    patient_id = cat.to_str(raw.get(PATIENT_ID))
    study_uid = cat.to_str(raw.get(STUDY_UID))
    if not patient_id:
        if missing_patient_id != "surrogate":
            raise Rejected("missing_patient_id", "no PatientID (0010,0020): cannot key or split by patient "
                           "(set [loader] missing_patient_id = \"surrogate\" to key it by its study)")
        if not study_uid:
            raise Rejected("missing_patient_id", "no PatientID (0010,0020) and no StudyInstanceUID (0020,000D) "
                           "to key a surrogate patient by")
        out.warnings.append(("missing_patient_id", "no PatientID (0010,0020): keyed by a surrogate patient "
                             f"from StudyInstanceUID (patient_key_source = '{KEY_FROM_STUDY}')"))
    subject = None
    if deid is not None:
        subject = deid.subject(raw) if patient_id else _surrogate_subject(deid, raw, study_uid)
        top = deid.apply(top, subject, enc, markers=False)
        out.warnings += subject.warnings
        values = {tag: value for tag, _, value in top}
    row: dict[str, Any] = {}
    for col in cat.HEADER_COLUMNS:
        row[col.name] = _convert(values.get(col.tag_int), col, out)
    row["transfer_syntax_uid"] = cat.to_str(syntax)
    if not row["sop_instance_uid"]:
        raise Rejected("missing_uid", "no SOPInstanceUID (0008,0018)")
    row["patient_key_source"] = KEY_FROM_PATIENT_ID if patient_id else KEY_FROM_STUDY
    row["patient_age_years"] = _age(raw, values, deid, out)

    accession = cat.to_str(raw.get(ACCESSION))
    institution = cat.to_str(raw.get(INSTITUTION))
    if subject is not None:
        row["patient_key"] = subject.patient_key
        row["accession_key"] = deid.pseudonym("accession", accession)
        row["institution_key"] = deid.pseudonym("institution", institution)
        if keep_phi:
            out.phi = (subject.patient_key, patient_id, cat.to_person_name(raw.get(PATIENT_NAME)),
                       subject.shift_days)
    else:
        row["patient_key"] = patient_id or SURROGATE_KIND + ":" + study_uid  # never a real PatientID's form
        row["accession_key"], row["institution_key"] = accession, institution
    # Paths often hold PHI (/<PatientID>/<StudyDate>/...): when de-identifying, the table keeps a
    # path-free reference; the real location goes only to <phi_db>.image_locations.
    row["image_uri"] = uri if deid is None else image_ref(row["sop_instance_uid"])
    row["file_size"] = size
    row["header_json"] = json_from_elements(top, bulk_limit, enc, deid.markers_json if subject is not None else "")
    row["load_run_id"] = run_id

    d = row["study_date"]
    row["study_year"] = d.year if d else cat.UNKNOWN_YEAR
    row["study_month"] = d.month if d else cat.UNKNOWN_MONTH
    modality = cat.to_str(values.get(MODALITY))
    row["modality"] = _partition_text(modality) if modality else cat.UNKNOWN_MODALITY
    return row


def _surrogate_subject(deid: Deidentifier, raw: dict, study_uid: str):
    """The patient of a file without PatientID: keyed, and its dates shifted, by its study (the
    same for every file of the study, and never the key or shift of any real PatientID)."""
    subject = deid.subject(raw)
    subject.patient_key = deid.pseudonym(SURROGATE_KIND, study_uid)
    subject.shift_days = deid.keys.date_shift_days(study_uid, issuer=SURROGATE_KIND)
    subject.shift = dt.timedelta(days=subject.shift_days)
    return subject


def _age(raw: dict, values: dict, deid: Deidentifier | None, out: Outcome) -> int | None:
    """Whole years from PatientAge, else from the original birth and study dates.

    De-identified, the age is a patient characteristic: NULL unless the Retain Patient
    Characteristics Option is in force, and capped at 90 (HIPAA Safe Harbor).
    """
    if deid is not None and not deid.policy.has("retain_patient_characteristics"):
        return None
    age = None
    try:
        age = cat.age_years(values.get(PATIENT_AGE))
    except cat.InvalidValue as e:
        out.warnings.append(f"PatientAge (00101010): {e}; age taken from the birth date")
    if age is None:
        age = age_from_dates(_date_or_none(raw.get(BIRTH_DATE)), _date_or_none(raw.get(STUDY_DATE)))
    if age is not None and deid is not None:
        age = min(age, AGE_CAP_YEARS)
    return age


def _partition_text(s: str) -> str:
    """A modality fit for a partition directory name."""
    clean = "".join(ch for ch in s.upper() if ch.isalnum() or ch == "_")
    return clean or cat.UNKNOWN_MODALITY
