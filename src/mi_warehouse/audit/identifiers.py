"""What the audit looks for: the patients' identifiers, each with its kind (never printed).

Two origins, used together when both are given:

- the PHI database: `patient_map` (patient_id, patient_name and any further identifier or date
  column; written only by loads with `--keep-phi-map`) and `image_locations` (the real paths);
- the original headers (`--sources DIR`, read with pydicom): PatientID, PatientName,
  IssuerOfPatientID, AccessionNumber, OtherPatientIDs, PatientAddress, PatientTelephoneNumbers
  at any depth (an old PatientID in the Original Attributes Sequence too), every top-level date, and the components of the file path.

Values shorter than 3 characters (4 for digits only) are not searched alone: they would match
everywhere. Dates are kept per patient, so a row keyed by a patient is checked against that
patient's original dates only; text that belongs to no known patient is checked against all.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from ..runtime.storage import exists, filesystem, join
from .dates import parse_date
from .errors import AuditSourceMissing

UID_RE = re.compile(r"^\d+(?:\.\d+)+$")
WORD_RE = re.compile(r"[^\W_]+")
NAME_SPLIT = re.compile(r"[\^=\s,]+")
SOURCE_KEYWORDS = ("PatientID", "OtherPatientIDs", "IssuerOfPatientID", "AccessionNumber",
                   "MedicalRecordLocator", "PatientAddress", "PatientTelephoneNumbers")
# patient_map columns that are not identifiers
_PHI_MAP_SKIP = {"patient_key", "load_run_id", "recorded_at", "date_shift_days"}
_PHI_MAP_KINDS = {"patient_id": "PatientID", "patient_name": "PatientName",
                  "issuer_of_patient_id": "IssuerOfPatientID", "accession_number": "AccessionNumber",
                  "other_patient_ids": "OtherPatientIDs"}


@dataclass
class Identifiers:
    """Identifier values by kind; dates by patient; patient keys to patient IDs."""

    words: dict[str, str] = field(default_factory=dict)  # casefolded single word -> kind
    phrases: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # first word -> [(value, kind)]
    paths: dict[str, str] = field(default_factory=dict)  # real file path -> kind
    dates: dict[str, dict[dt.date, str]] = field(default_factory=dict)  # patient -> {date: kind}
    patients_by_key: dict[str, set[str]] = field(default_factory=dict)  # patient_key or PatientID -> patients
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return (len(self.words) + sum(map(len, self.phrases.values())) + len(self.paths)
                + sum(map(len, self.dates.values())))

    def __repr__(self) -> str:  # never show the values
        return f"Identifiers({len(self)} values)"

    def add(self, value, kind: str) -> None:
        """Look for `value` (a whole word or phrase, any case) as `kind`; the first kind given wins."""
        text = str(value or "").strip().casefold()
        words = WORD_RE.findall(text)
        if not words:
            return
        text = text[text.index(words[0]):text.rindex(words[-1]) + len(words[-1])]
        if len(text) < 3 or (text.isdigit() and len(text) < 4) or UID_RE.match(text):
            return
        if len(words) == 1:
            self.words.setdefault(text, kind)
        elif all((value, k) != (text, kind) for value, k in self.phrases.get(words[0], ())):
            self.phrases.setdefault(words[0], []).append((text, kind))

    def add_name(self, name, kind: str = "PatientName") -> None:
        """Each component of a person name (family, given, ... in every group)."""
        for part in NAME_SPLIT.split(str(name or "")):
            self.add(part, kind)

    def add_date(self, patient: str, value, kind: str) -> None:
        d = value if isinstance(value, dt.date) else parse_date(str(value or ""))
        if isinstance(d, dt.datetime):
            d = d.date()
        if d is not None:
            self.dates.setdefault(patient, {}).setdefault(d, kind)
            self.__dict__.pop("_all", None)
        elif str(value or "").strip():
            self.add(value, kind)  # an unparseable date-like value: look for it as written

    def add_path(self, uri: str, kind: str = "file path") -> None:
        self.paths.setdefault(_plain_path(uri), kind)

    def link(self, patient_key: str, patient_id: str) -> None:
        self.patients_by_key.setdefault(patient_key, set()).add(patient_id)

    def dates_for(self, patient_key: str | None) -> dict[dt.date, str]:
        """The original dates to check a row of this patient against (all, when it is unknown).

        A key leads to patients (a PatientID from patient_map leads on to the patients of that ID
        in the sources); with --deid off the key is the PatientID itself."""
        patients = set(self.patients_by_key.get(patient_key, ())) if patient_key else set()
        for p in list(patients):
            patients |= self.patients_by_key.get(p, set())
        if patient_key in self.dates:
            patients.add(patient_key)
        if not patients:
            return self._all_dates()
        merged: dict[dt.date, str] = {}
        for p in patients:
            for d, kind in self.dates.get(p, {}).items():
                merged.setdefault(d, kind)
        return merged

    def _all_dates(self) -> dict[dt.date, str]:
        if not hasattr(self, "_all"):
            merged: dict[dt.date, str] = {}
            for by_date in self.dates.values():
                for d, kind in by_date.items():
                    merged.setdefault(d, kind)
            self._all = merged
        return self._all


def _plain_path(uri: str) -> str:
    u = urlparse(uri)
    return unquote(u.path) if u.scheme in ("file", "") else uri


def path_components(relative: str) -> list[str]:
    """The directory names and file stem of a path that may carry an identifier (they hold a digit)."""
    parts = [p for p in relative.replace("\\", "/").split("/") if p]
    if parts:
        parts[-1] = os.path.splitext(parts[-1])[0]
    return [p for p in parts if any(c.isdigit() for c in p) and not UID_RE.match(p)]


# --- from the PHI database --------------------------------------------------------------------
def _parquet_files(fs: pafs.FileSystem, directory: str) -> list[str]:
    if not exists(fs, directory):
        return []
    return sorted(i.path for i in fs.get_file_info(pafs.FileSelector(directory, recursive=True))
                  if i.type == pafs.FileType.File and not i.base_name.startswith((".", "_")))


def _read(fs: pafs.FileSystem, path: str) -> pa.Table | None:
    try:
        with fs.open_input_file(path) as f:
            return pq.read_table(f)
    except (OSError, pa.ArrowInvalid):
        return None


def from_phi_database(ids: Identifiers, storage_root: str, phi_database: str) -> Identifiers:
    fs, base = filesystem(join(storage_root, phi_database))
    rows = 0
    for path in _parquet_files(fs, join(base, "patient_map")):
        table = _read(fs, path)
        if table is None:
            ids.notes.append(f"{phi_database}.patient_map: a file is not readable Parquet, skipped")
            continue
        rows += table.num_rows
        for row in table.to_pylist():
            _add_map_row(ids, row, table.schema)
    if not rows:
        ids.notes.append(f"{phi_database}.patient_map is empty: its identifiers are written only by loads "
                         f"with --keep-phi-map; give --sources DIR to look for the originals' identifiers")
    locations = [r for path in _parquet_files(fs, join(base, "image_locations"))
                 for t in [_read(fs, path)] if t is not None and "image_uri" in t.column_names
                 for r in t.column("image_uri").to_pylist() if r]
    for uri in locations:
        ids.add_path(uri)
    paths = [_plain_path(u) for u in locations if _plain_path(u).startswith("/")]
    root = os.path.commonpath(paths) if len(paths) > 1 else "/"  # the source folder, as far as known
    for p in paths:
        for part in path_components(os.path.relpath(p, root)):
            ids.add(part, "path component")
    return ids


def _add_map_row(ids: Identifiers, row: dict, schema: pa.Schema) -> None:
    pid = str(row.get("patient_id") or "")
    if row.get("patient_key") and pid:
        ids.link(row["patient_key"], pid)
    for name, value in row.items():
        if name in _PHI_MAP_SKIP or value is None:
            continue
        kind = _PHI_MAP_KINDS.get(name, name)
        values = value if isinstance(value, list) else [value]
        typ = schema.field(name).type
        for v in values:
            if isinstance(v, (dt.date, dt.datetime)) or "date" in name:
                ids.add_date(pid, v, kind)
            elif "name" in name:
                ids.add_name(v, kind)
            elif pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_list(typ):
                ids.add(v, kind)


# --- from the original headers ---------------------------------------------------------------
def from_sources(ids: Identifiers, directory: str | Path, keys=None) -> Identifiers:
    """The identifiers of the DICOM files under `directory`; with the loader's `Keys`, each
    patient's key too, so that rows keyed by it are checked against that patient's dates only."""
    import pydicom

    root = Path(_plain_path(str(directory)))
    if not root.is_dir():
        raise AuditSourceMissing(f"--sources {directory}: no such directory")
    read = 0
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid values are what we look for, not noise to print
            try:
                ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
            except Exception:  # not DICOM, or too broken to read: nothing to collect
                continue
            if "PatientID" not in ds and "SOPInstanceUID" not in ds:
                continue
            read += 1
            _add_dataset(ids, ds, keys)
        ids.add_path(str(path.resolve()))
        for part in path_components(str(path.relative_to(root))):
            ids.add(part, "path component")
    if not read:
        raise AuditSourceMissing(f"--sources {directory}: no readable DICOM file there")
    return ids


def _add_dataset(ids: Identifiers, ds, keys) -> None:
    pid = str(ds.get("PatientID", "") or "").strip()
    issuer = str(ds.get("IssuerOfPatientID", "") or "").strip()
    patient = f"{pid}\x00{issuer}"  # two issuers may give one PatientID to two people
    ids.add(pid, "PatientID")
    ids.link(pid, patient)
    if keys is not None and pid:
        ids.link(keys.patient_key(pid, issuer), patient)
    for elem in _elements(ds):
        keyword = elem.keyword or ""
        if keyword == "PatientName":
            ids.add_name(elem.value)
        elif keyword in SOURCE_KEYWORDS:
            for v in _values(elem.value):
                ids.add(v, keyword)
    for elem in ds:  # the originals' dates (top level: the patient's study, series, birth dates)
        if elem.VR in ("DA", "DT") and elem.value:
            for v in _values(elem.value):
                ids.add_date(patient, str(v), elem.keyword or "date")


def _elements(ds):
    for elem in ds:
        if elem.VR == "SQ":
            for item in elem.value or ():
                yield from _elements(item)
        else:
            yield elem


def _values(value) -> list:
    if value is None or value == "":
        return []
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("latin-1").split("\\")
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return [v for v in value if v not in (None, "")]
    return [value]
