"""De-identification on the way in: keyed pseudonyms, per-patient date shifts, PS3.15 Annex E.

What it applies (PS3.15 Table E.1-1): the Basic Application Level Confidentiality Profile with
the Retain UIDs Option (image_uri and lineage join on them), Retain Longitudinal Temporal
Information with Modified Dates (every date of a patient moves by the same keyed offset, so
intervals survive) and Retain Safe Private (private attributes are dropped unless allow-listed).
Study and series descriptions, body part and view are kept: cohorts are selected on them.

- PatientID, AccessionNumber and InstitutionName become keyed pseudonyms (HMAC-SHA256 with the
  key file's key, first 32 hex digits); every person name (PN) becomes a keyed pseudonym too.
- The date offset is derived from the key and the PatientID: 1 to 365 days into the past.
- PatientBirthDate/Time go (the loader keeps the age); addresses, phone numbers, other IDs,
  device serial numbers, station names, free-text comments and overlays are removed.

The key is never logged, printed or written anywhere but its own file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path
from typing import Any

from ..serde.dicom_json import DROP

# Tags removed (X) or emptied (Z) by the Basic Profile that the loader does not otherwise rewrite.
REMOVE = frozenset(int(t, 16) for t in """
00100030 00100032 00101040 00102154 00101000 00101002 00100021 00101090 00104000 001021B0
00102180 00101080 00101081 00102150 00102152 00380500 00080081 00081040 00081010 00181000
00080092 00080094 00080096 00200010 00400275 00401001 00400253 00400254 00321060 00081120
00102160 00102000 001021C0 00380010 00380300 00400006 00401010 00402008 00402009 00402010
00402016 00402017 00081080 00081084 00080082 00204000 00400280 00324000
""".split())
PSEUDONYM_TAGS = {0x00100020: "patient", 0x00080050: "accession", 0x00080080: "institution"}
DATE_VRS = frozenset({"DA", "DT"})
_KEY_HEX = re.compile(r"^[0-9a-fA-F]{64,}$")


def load_key(path: str | Path, create: bool = True) -> bytes:
    """The pseudonymisation key (hex in a file of its own); created, mode 0600, when missing."""
    p = Path(path).expanduser()
    if not p.exists():
        if not create:
            raise FileNotFoundError(f"no de-identification key file at {p}")
        p.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
    text = p.read_text().strip()
    if not _KEY_HEX.match(text):
        raise ValueError(f"key file {p} must hold at least 64 hex digits")
    return bytes.fromhex(text)


class Deidentifier:
    def __init__(self, key: bytes, private_allow: frozenset[int] = frozenset()):
        self._key = key
        self.private_allow = private_allow

    def __repr__(self) -> str:  # never show the key
        return "Deidentifier(key=<hidden>)"

    def pseudonym(self, kind: str, value: str | None) -> str | None:
        if value is None or str(value).strip() == "":
            return None
        mac = hmac.new(self._key, f"{kind}\x00{str(value).strip()}".encode("utf-8"), hashlib.sha256)
        return mac.hexdigest()[:32]

    def date_shift_days(self, patient_id: str) -> int:
        mac = hmac.new(self._key, f"dateshift\x00{patient_id.strip()}".encode("utf-8"), hashlib.sha256)
        return -(1 + int.from_bytes(mac.digest()[:4], "big") % 365)

    def rewriter(self, patient_id: str):
        """A `rewrite(tag, vr, value)` hook for the JSON writer, for one patient's file."""
        shift = dt.timedelta(days=self.date_shift_days(patient_id))
        pseudonym = self.pseudonym
        allow = self.private_allow

        def rewrite(tag: int, vr: str, value: Any) -> Any:
            group = tag >> 16
            if group & 1:  # private
                return value if tag in allow else DROP
            if tag in REMOVE or 0x6000 <= group <= 0x60FF or 0x5000 <= group <= 0x50FF:
                return DROP
            kind = PSEUDONYM_TAGS.get(tag)
            if kind:
                return pseudonym(kind, value)
            if vr == "PN":
                return _map_values(value, lambda v: pseudonym("name", str(v)))
            if vr in DATE_VRS:
                return _map_values(value, lambda v: shift_date_text(str(v), shift))
            return value

        return rewrite


def _map_values(value: Any, f) -> Any:
    if value is None or value == "":
        return value
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return [f(v) for v in value]
    return f(value)


def shift_date_text(text: str, shift: dt.timedelta) -> str | None:
    """Shift a DA ('YYYYMMDD') or the date part of a DT; a value that is not a date is dropped."""
    s = text.strip()
    if not s:
        return s
    try:
        d = dt.date(int(s[0:4]), int(s[4:6]), int(s[6:8]))
    except (ValueError, IndexError):
        return None  # unparseable dates could hold anything: never pass them through
    return (d + shift).strftime("%Y%m%d") + s[8:]


def age_from_dates(birth: dt.date | None, on: dt.date | None) -> int | None:
    if birth is None or on is None or birth > on:
        return None
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
