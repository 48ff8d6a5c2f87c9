"""The one walker that applies Table E.1-1 to a header, at every nesting level.

`Deidentifier.apply(top, subject, encoding)` takes the `(tag, vr, value)` elements of a file (from
`serde.raw_elements`, which has already resolved VR UN to the dictionary VR) and returns them
de-identified, sequences as lists of de-identified items, plus the de-identification markers
(PatientIdentityRemoved, DeidentificationMethod, DeidentificationMethodCodeSequence,
LongitudinalTemporalInformationModified). Each element costs one dict lookup for its action; the
elements that are not kept go to one small handler per action (X remove, Z zero length, D dummy,
K keep, C clean, U UID), each deciding by VR. Z and D give names and identifiers their keyed
pseudonyms; otherwise Z leaves the attribute out (a zero-length value carries nothing, and
header_json is a record, not an instance that must keep Type 2 attributes) and D writes a dummy
of the VR. A sequence that is removed goes whole; one that is kept or cleaned is walked item by
item with the same rules; D gives an empty sequence (its dummy content would be what it held). Private attributes go unless the Retain Safe
Private Option keeps them by (group, private creator, element offset) or by a literal
`--private-allow` tag; the creator element of what is kept is kept with it.
"""

from __future__ import annotations

import datetime as dt
import re
from operator import itemgetter
from typing import Any

from ...serde.dicom_json import json_from_elements, model_from_elements
from ...serde.raw_elements import elements, encoding
from .clean import Identifiers, clean_value
from .keys import Keys
from .policy import AGE_CAP_YEARS, DeidPolicy
from .profile import resolve

PATIENT_ID, ISSUER, STUDY_DATE = 0x00100020, 0x00100021, 0x00080020
MARKER_TAGS = frozenset({0x00120062, 0x00120063, 0x00120064, 0x00280303})
DROP = object()
DUMMY = {"DA": "19000101", "DT": "19000101000000", "TM": "000000", "AS": "000D", "DS": "0", "IS": "0",
         "US": 0, "SS": 0, "UL": 0, "SL": 0, "FL": 0.0, "FD": 0.0, "SV": 0, "UV": 0}
TEXT_VRS = frozenset({"AE", "CS", "LO", "LT", "SH", "ST", "UC", "UT", "UR"})
# Inside a cleaned sequence (Clean Structured Content, Clean Graphics) kept free text is cleaned too,
# except the coded parts of code sequences (values, schemes, versions), which are not free text.
FREE_TEXT_VRS = frozenset({"LO", "LT", "SH", "ST", "UC", "UT", "UR"})
CODE_TAGS = frozenset({0x00080100, 0x00080102, 0x00080103, 0x00080105, 0x00080106, 0x00080107, 0x0008010B,
                       0x0008010C, 0x0008010D, 0x0008010F, 0x00080117, 0x00080118, 0x00080119, 0x00080120,
                       0x00080121, 0x00080122, 0x00080123, 0x00080124})
_AGE = re.compile(r"^(\d{3})([DWMY])$")
_AGE_DAYS = {"D": 1, "W": 7, "M": 30.4375, "Y": 365.25}
Element = tuple[int, str, Any]


class Subject:
    """One file's patient: keys, date shift, warnings, and its identifiers (for cleaning)."""

    __slots__ = ("patient_id", "issuer", "patient_key", "shift_days", "shift", "warnings", "_values", "_ids",
                 "_tags")

    def __init__(self, keys: Keys, patient_id: str, issuer: str | None, values: dict, tags: tuple):
        self.patient_id, self.issuer = patient_id, issuer
        self.patient_key = keys.patient_key(patient_id, issuer)
        self.shift_days = keys.date_shift_days(patient_id, issuer)
        self.shift = dt.timedelta(days=self.shift_days)
        self.warnings: list[str] = []
        self._values, self._ids, self._tags = values, None, tags

    def identifiers(self) -> Identifiers:
        if self._ids is None:
            self._ids = Identifiers.from_values(self._values, *self._tags)
        return self._ids

    def warn(self, tag: int, what: str) -> None:
        """A warning naming the attribute, never its value (the value would give the shift away)."""
        from pydicom.datadict import keyword_for_tag

        self.warnings.append(f"{keyword_for_tag(tag) or 'attribute'} ({tag:08X}): {what}; left out of header_json")


def _text(value) -> str | None:
    v = value[0] if isinstance(value, (list, tuple)) and value else value
    if v is None or isinstance(v, (list, tuple)):
        return None
    s = str(v).strip()
    return s or None


def _each(value, f):
    if isinstance(value, (list, tuple)):
        out = [f(v) for v in value]
        return DROP if any(v is DROP for v in out) else out
    return f(value)


class Deidentifier:
    """PS3.15 Annex E under one `DeidPolicy`, with one key. Build once per process."""

    def __init__(self, key: bytes, policy: DeidPolicy | frozenset | tuple | None = None):
        if policy is None:
            policy = DeidPolicy()
        elif not isinstance(policy, DeidPolicy):  # a set of private tags (ints or 'GGGGEEEE'), as before
            policy = DeidPolicy(private_tags=frozenset(int(t, 16) if isinstance(t, str) else int(t) for t in policy))
        self.policy = policy
        self.keys = Keys(key)
        r = resolve(policy)
        self._exact = dict(r.exact)
        self._exact.update(dict.fromkeys(MARKER_TAGS, "X"))  # the input's own markers give way to ours
        self._overlay, self._curve, self._unlisted = r.overlay, r.curve, r.unlisted
        self._kinds, self._identifier_tags = r.pseudonym_kind, (r.name_tags, r.id_tags)
        self._keep_private = r.private == "C"
        self._safe = frozenset(policy.safe_private)
        self._private_tags = policy.private_tags
        self._shift_dates = policy.has("retain_long_modified_dates")
        self._handlers = {"Z": self._empty, "D": self._dummy, "C": self._clean, "U": self._uid}
        self.markers = self._marker_elements()
        # the same, as JSON members to add to header_json (constant: serialised once)
        self.markers_json = json_from_elements(self.markers)[1:-1]

    def __repr__(self) -> str:  # never show the key
        return f"Deidentifier(key=<hidden>, options={self.policy.options})"

    # --- per file -----------------------------------------------------------------------
    def pseudonym(self, kind: str, value) -> str | None:
        return self.keys.pseudonym(kind, value)

    def subject(self, values: dict) -> Subject:
        """The file's patient from its top-level values by tag (PatientID, IssuerOfPatientID)."""
        return Subject(self.keys, _text(values.get(PATIENT_ID)) or "", _text(values.get(ISSUER)), values,
                       self._identifier_tags)

    def apply(self, top: list[Element], subject: Subject, enc: str | None = "latin_1",
              markers: bool = True) -> list[Element]:
        """The file's top-level elements de-identified, with the markers (`markers=False`: without;
        the loader adds `markers_json` to header_json instead, serialised once per process)."""
        out = self._walk(top, subject, enc)
        if markers:
            out += self.markers
            out.sort(key=itemgetter(0))
        return out

    def private_rule(self) -> tuple:
        """For `serde.fast_header.read`: what it may skip unread, as `_private` decides: (whether any
        private attribute is kept at all, `keeps_private`). A creator is kept only with an element it
        reserves, so without an allow-list nothing private is kept."""
        return self._keep_private and bool(self._safe or self._private_tags), self.keeps_private

    def keeps_private(self, tag: int, creator_value) -> bool:
        """Whether the private data element `tag` (element 10xx-FFxx) is kept, under the value of its
        private creator element (None without one)."""
        return tag in self._private_tags or (tag >> 16, _text(creator_value), tag & 0xFF) in self._safe

    # --- the walker ---------------------------------------------------------------------
    def _walk(self, items, subj: Subject, enc, clean: bool = False) -> list[Element]:
        exact, unlisted, handlers = self._exact, self._unlisted, self._handlers
        out: list[Element] = []
        append = out.append
        creators = None
        for tag, vr, value in items:
            act = exact.get(tag)
            if act is None:
                group = tag >> 16
                if group & 1:
                    if self._keep_private:
                        if creators is None:
                            creators = {}
                        self._private(tag, vr, value, subj, enc, creators, append)
                    continue
                if 0x5000 <= group <= 0x60FF:
                    act = self._curve if group <= 0x50FF else self._overlay.get(tag & 0xFFFF) \
                        if group >= 0x6000 else None
                if act is None:
                    act = unlisted.get(vr, "K")
            if act == "K":
                if vr == "SQ":
                    value = self._items(value, subj, enc, clean)
                elif clean and vr in FREE_TEXT_VRS and tag not in CODE_TAGS and value is not None:
                    value = clean_value(value, subj.identifiers())
                append((tag, vr, value))
            elif act != "X":
                value = handlers[act](tag, vr, value, subj, enc)
                if value is not DROP:
                    append((tag, vr, value))
        return out

    def _items(self, value, subj: Subject, enc, clean: bool = False) -> list:
        out = []
        for item in value or ():
            if isinstance(item, list):  # already elements (serde.fast_header), decoded in its own set
                out.append(self._walk(item, subj, enc, clean))
                continue
            item_enc = encoding(item, enc)
            out.append(self._walk(elements(item, item_enc), subj, item_enc, clean))
        return out

    def _private(self, tag, vr, value, subj, enc, creators: dict, append) -> None:
        group, elem = tag >> 16, tag & 0xFFFF
        if 0x0010 <= elem <= 0x00FF:  # a private creator: kept only with something it reserves
            creators[(group, elem)] = (tag, vr, value, False)
            return
        if elem < 0x1000:
            return
        block = (group, elem >> 8)
        c = creators.get(block)
        if not self.keeps_private(tag, c[2] if c else None):
            return
        if c and not c[3]:
            append(c[:3])
            creators[block] = (*c[:3], True)
        append((tag, vr, self._items(value, subj, enc) if vr == "SQ" else value))

    # --- handlers, one per action -------------------------------------------------------
    def _pseudo(self, tag, vr, value, subj: Subject):
        """Keyed pseudonyms: the dummy values of names and identifiers."""
        kind = self._kinds.get(tag, "name")
        if tag == PATIENT_ID:
            return _each(value, lambda v: subj.patient_key if str(v).strip() == subj.patient_id
                         else self.keys.pseudonym("patient", v))
        return _each(value, lambda v: self.keys.pseudonym(kind, v))

    def _empty(self, tag, vr, value, subj, enc):  # Z
        """Names and identifiers get pseudonyms; anything else is left out of header_json: a
        zero-length value carries nothing, and header_json need not keep Type 2 attributes."""
        if vr != "SQ" and value is not None and (vr == "PN" or tag in self._kinds):
            return self._pseudo(tag, vr, value, subj)
        return DROP

    def _dummy(self, tag, vr, value, subj, enc):  # D
        if vr == "SQ":
            return []
        if value is None:
            return None
        if vr == "PN" or tag in self._kinds:
            return self._pseudo(tag, vr, value, subj)
        if vr in ("DA", "DT") and self._shift_dates:
            return self._shift(tag, vr, value, subj)
        if vr == "UI":
            return self._uid(tag, vr, value, subj, enc)
        if vr in TEXT_VRS:
            return "ANONYMIZED"
        return DUMMY.get(vr)

    def _clean(self, tag, vr, value, subj, enc):  # C
        if vr == "SQ":
            return self._items(value, subj, enc, clean=True)
        if value is None:
            return None
        if vr in ("DA", "DT"):
            return self._shift(tag, vr, value, subj) if self._shift_dates else value
        if vr == "TM":
            return value  # dates move by whole days: times stay
        if vr == "AS":
            return self._age(tag, value, subj)
        if vr == "PN":
            return self._pseudo(tag, vr, value, subj)
        if vr in TEXT_VRS:
            return clean_value(value, subj.identifiers())
        if isinstance(value, (bytes, bytearray)):
            return DROP  # binary cannot be cleaned
        return value

    def _uid(self, tag, vr, value, subj, enc):  # U (without the Retain UIDs Option)
        if vr == "SQ":
            return self._items(value, subj, enc)
        if value is None:
            return None
        if vr != "UI":
            return self._dummy(tag, vr, value, subj, enc)
        return _each(value, lambda v: self.keys.uid(str(v)))

    # --- values -------------------------------------------------------------------------
    def _shift(self, tag, vr, value, subj: Subject):
        def one(v):
            s = str(v).strip()
            out = shift_date_text(s, subj.shift, vr) if s else s
            if out is None:
                subj.warn(tag, f"not a valid {vr}")
                return DROP
            return out
        return _each(value, one)

    def _age(self, tag, value, subj: Subject):
        m = _AGE.match(_text(value) or "")
        if not m:
            subj.warn(tag, "not an age string (nnnD/W/M/Y)")
            return DROP
        if int(m.group(1)) * _AGE_DAYS[m.group(2)] >= AGE_CAP_YEARS * 365.25:
            return f"{AGE_CAP_YEARS:03d}Y"
        return _text(value)

    def _marker_elements(self) -> list[Element]:
        p = self.policy
        codes = [model_from_elements([(0x00080100, "SH", code), (0x00080102, "SH", "DCM"),
                                      (0x00080104, "LO", meaning)]) for code, meaning in p.method_codes()]
        return [(0x00120062, "CS", "YES"), (0x00120063, "LO", p.method_text()), (0x00120064, "SQ", codes),
                (0x00280303, "CS", p.dates)]


_DA = re.compile(r"^(\d{4})\.?(\d{2})\.?(\d{2})$")
_DT = re.compile(r"^(\d{4})(?:(\d{2})(?:(\d{2})(\d{2}(?:\d{2}(?:\d{2}(?:\.\d{1,6})?)?)?)?)?)?([+-]\d{4})?$")


def shift_date_text(text: str, shift: dt.timedelta, vr: str = "DA") -> str | None:
    """Shift a DA (YYYYMMDD, or ACR-NEMA YYYY.MM.DD) or the date part of a DT; None if not one.

    A DT of reduced precision (YYYY, YYYYMM) keeps its precision, shifted from the middle of the
    year or month; its time and offset stay. A value that does not parse is never passed through.
    """
    m = (_DT if vr == "DT" else _DA).match(text)
    if not m:
        return None
    year, month, day = m.group(1), m.group(2), m.group(3)
    rest = "".join(g or "" for g in m.groups()[3:]) if vr == "DT" else ""
    try:
        d = dt.date(int(year), int(month or 7), int(day or (15 if month else 1))) + shift
    except (ValueError, OverflowError):
        return None
    if day:
        return f"{d.year:04d}{d.month:02d}{d.day:02d}" + rest
    if month:
        return f"{d.year:04d}{d.month:02d}" + rest
    return f"{d.year:04d}" + rest
