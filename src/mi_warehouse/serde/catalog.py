"""The one definition of how DICOM attributes become columns of `mi.dicom_metadata`.

Each `Column` names its DICOM keyword and tag (or `None` for a column the loader derives), its
Hive type and Arrow type, and the converter from the pydicom value. The Arrow schema, the column
list of the DDL and the documentation table all come from `COLUMNS`; a test checks that the
migration that created the table agrees.

Converters take a pydicom value and return a Python value or `None`; a value that cannot be
converted raises `InvalidValue`, which the loader records (the column becomes NULL, the file
still loads, and `mi.load_errors` gets a `warning` row naming the tag). Messages never quote the
value: an original value (a date as written) could identify the patient or give the date shift away.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Callable

import pyarrow as pa


class InvalidValue(ValueError):
    """A DICOM value that does not parse as its VR says."""


def _multi(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return list(value)
    return [value]


def _first(value: Any) -> Any:
    vals = _multi(value)
    return vals[0] if vals else None


def to_str(value: Any) -> str | None:
    v = _first(value) if not isinstance(value, str) else value
    if v is None:
        return None
    s = str(v).strip()
    return s or None


def to_int(value: Any) -> int | None:
    v = _first(value)
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    try:
        return int(str(v).strip()) if not isinstance(v, int) else int(v)
    except ValueError:
        try:
            f = float(str(v).strip())
        except ValueError:
            raise InvalidValue("not an integer") from None
        if f != f or f in (float("inf"), float("-inf")) or f != int(f):
            raise InvalidValue("not an integer") from None
        return int(f)


def to_float(value: Any) -> float | None:
    v = _first(value)
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    try:
        f = float(str(v).strip()) if not isinstance(v, (int, float)) else float(v)
    except ValueError:
        raise InvalidValue("not a decimal string") from None
    if f != f or f in (float("inf"), float("-inf")):
        raise InvalidValue("not a finite number")
    return f


def to_float_list(value: Any) -> list[float] | None:
    vals = _multi(value)
    if not vals:
        return None
    return [to_float(v) for v in vals]


_DA = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_DA_OLD = re.compile(r"^(\d{4})\.(\d{2})\.(\d{2})$")  # ACR-NEMA style, still seen in the wild


def to_date(value: Any) -> dt.date | None:
    v = to_str(value)
    if v is None:
        return None
    m = _DA.match(v) or _DA_OLD.match(v)
    if not m:
        raise InvalidValue("not a date (YYYYMMDD)")
    try:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        raise InvalidValue("not a valid date") from None


def to_person_name(value: Any) -> str | None:
    """PN: the alphabetic representation, components joined by '^' as DICOM writes them."""
    v = _first(value)
    if v is None:
        return None
    alphabetic = getattr(v, "alphabetic", None)
    s = alphabetic if alphabetic is not None else str(v).split("=")[0]
    return s.strip() or None


_AGE = re.compile(r"^(\d{3})([DWMY])$")


def age_years(value: Any) -> int | None:
    """AS ('045Y', '018M', '003W', '010D') as whole years."""
    v = to_str(value)
    if v is None:
        return None
    m = _AGE.match(v)
    if not m:
        raise InvalidValue("not an age string (nnnD/W/M/Y)")
    n, unit = int(m.group(1)), m.group(2)
    return {"Y": n, "M": n // 12, "W": n * 7 // 365, "D": n // 365}[unit]


@dataclass(frozen=True)
class Column:
    name: str
    hive_type: str
    arrow_type: pa.DataType
    keyword: str | None = None  # DICOM keyword read from the header; None: derived by the loader
    tag: str | None = None  # 8 hex digits, as in header_json
    convert: Callable[[Any], Any] | None = None
    doc: str = ""

    @property
    def tag_int(self) -> int | None:
        return int(self.tag, 16) if self.tag else None


def _c(name, hive, arrow, keyword=None, tag=None, convert=None, doc=""):
    return Column(name, hive, arrow, keyword, tag, convert, doc)


S, I, D, B = pa.string(), pa.int32(), pa.float64(), pa.int64()

COLUMNS: tuple[Column, ...] = (
    _c("patient_key", "STRING", S, doc="keyed pseudonym (HMAC-SHA256) of PatientID"),
    _c("study_uid", "STRING", S, "StudyInstanceUID", "0020000D", to_str),
    _c("series_uid", "STRING", S, "SeriesInstanceUID", "0020000E", to_str),
    _c("sop_instance_uid", "STRING", S, "SOPInstanceUID", "00080018", to_str),
    _c("sop_class_uid", "STRING", S, "SOPClassUID", "00080016", to_str),
    _c("study_date", "DATE", pa.date32(), "StudyDate", "00080020", to_date,
       "shifted per patient when de-identified"),
    _c("study_time", "STRING", S, "StudyTime", "00080030", to_str),
    _c("accession_key", "STRING", S, doc="keyed pseudonym of AccessionNumber"),
    _c("body_part", "STRING", S, "BodyPartExamined", "00180015", to_str),
    _c("view_position", "STRING", S, "ViewPosition", "00185101", to_str),
    _c("laterality", "STRING", S, "Laterality", "00200060", to_str),
    _c("series_number", "INT", I, "SeriesNumber", "00200011", to_int),
    _c("instance_number", "INT", I, "InstanceNumber", "00200013", to_int),
    _c("study_description", "STRING", S, "StudyDescription", "00081030", to_str),
    _c("series_description", "STRING", S, "SeriesDescription", "0008103E", to_str),
    _c("manufacturer", "STRING", S, "Manufacturer", "00080070", to_str),
    _c("manufacturer_model", "STRING", S, "ManufacturerModelName", "00081090", to_str),
    _c("institution_key", "STRING", S, doc="keyed pseudonym of InstitutionName"),
    _c("patient_sex", "STRING", S, "PatientSex", "00100040", to_str),
    _c("patient_age_years", "INT", I, doc="from PatientAge, else from birth date and study date"),
    _c("rows", "INT", I, "Rows", "00280010", to_int),
    _c("columns", "INT", I, "Columns", "00280011", to_int),
    _c("bits_stored", "INT", I, "BitsStored", "00280101", to_int),
    _c("photometric_interpretation", "STRING", S, "PhotometricInterpretation", "00280004", to_str),
    _c("pixel_spacing", "ARRAY<DOUBLE>", pa.list_(D), "PixelSpacing", "00280030", to_float_list),
    _c("slice_thickness", "DOUBLE", D, "SliceThickness", "00180050", to_float),
    _c("number_of_frames", "INT", I, "NumberOfFrames", "00280008", to_int),
    _c("transfer_syntax_uid", "STRING", S, "TransferSyntaxUID", "00020010", to_str,
       "from the file meta information"),
    _c("burned_in_annotation", "STRING", S, "BurnedInAnnotation", "00280301", to_str),
    _c("image_uri", "STRING", S, doc="the file's URI; with de-identification 'mi-image:<SOPInstanceUID>', "
       "resolved through <phi_db>.image_locations (paths often hold PHI)"),
    _c("file_size", "BIGINT", B, doc="bytes"),
    _c("header_json", "STRING", S, doc="whole header, DICOM JSON model (PS3.18 F.2), de-identified"),
    _c("load_run_id", "STRING", S, doc="the load run that wrote the row"),
    # added by V0005 (Hive ADD COLUMNS appends): NULL in files written before, which all had a PatientID
    _c("patient_key_source", "STRING", S, doc="what patient_key is keyed by: 'patient_id', or 'study' (no "
       "PatientID: a surrogate patient per StudyInstanceUID; exclude or keep in splits)"),
)

PARTITIONS: tuple[Column, ...] = (
    _c("study_year", "INT", I, doc="year of study_date; 0 when StudyDate is missing or invalid"),
    _c("study_month", "INT", I, doc="month of study_date; 0 when unknown"),
    _c("modality", "STRING", S, "Modality", "00080060", to_str, "Modality; 'UNKNOWN' when missing"),
)

UNKNOWN_YEAR = 0
UNKNOWN_MONTH = 0
UNKNOWN_MODALITY = "UNKNOWN"

BUCKET_COLUMN = "patient_key"
SORT_COLUMNS = ("patient_key", "study_uid")

BY_NAME = {c.name: c for c in COLUMNS + PARTITIONS}
HEADER_COLUMNS = tuple(c for c in COLUMNS if c.keyword and c.keyword != "TransferSyntaxUID")


def arrow_schema() -> pa.Schema:
    """Schema of the Parquet files: the table's columns, without the partition columns."""
    return pa.schema([pa.field(c.name, c.arrow_type) for c in COLUMNS])


def ddl_columns() -> list[tuple[str, str]]:
    return [(c.name, c.hive_type) for c in COLUMNS]


def markdown_table() -> str:
    """The documentation table of every column (`mi-warehouse catalog`)."""
    lines = ["| column | Hive type | DICOM keyword | tag | notes |", "| --- | --- | --- | --- | --- |"]
    for c in COLUMNS + PARTITIONS:
        part = " (partition)" if c in PARTITIONS else ""
        lines.append(f"| `{c.name}`{part} | {c.hive_type} | {c.keyword or '(derived)'} | "
                     f"{c.tag or ''} | {c.doc} |")
    return "\n".join(lines) + "\n"
