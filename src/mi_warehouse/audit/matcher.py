"""Where a text holds an identifier: the kinds found in one string value, with their counts.

Checked in every string: the identifiers (whole words or phrases, any case), the real file
paths, the patient's original dates in any spelling, and identifier patterns: telephone numbers,
e-mail addresses and runs of 7 or more digits (an MRN) that are not part of a UID, a UUID or a
hex pseudonym, not a date, not a DICOM tag (`00080023`) and not a number held in a numeric
column of the same rows. A UID (all digits and dots), a value
of VR UI and a hex pseudonym are never findings; dates and times (DA, DT, TM) are checked
against the original dates only.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections import Counter

from pydicom.datadict import dictionary_has_tag

from .dates import DATE_RE, dates_in
from .identifiers import UID_RE, WORD_RE, Identifiers

PHONE_RE = re.compile(r"(?<![\w.+])(?:\+\d{1,3}[ -]?)?(?:\(\d{2,4}\)[ -]?|\d{2,4}[ -])\d{3,4}[ -]\d{3,4}"
                      r"(?!\w|\.\d)")
EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")
DIGITS_RE = re.compile(r"(?<![^\W_]|\.)\d{7,}(?![^\W_]|\.\d)")
PATH_RE = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.-]*:/)?/[^\s\"'<>|,;*?]+")
UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
HEX = frozenset("0123456789abcdefABCDEF")
# The run ids mi-warehouse writes (runtime/runs.py): `[prefix-]YYYYMMDDTHHMMSS-<8 hex>`; about one in
# 43 has 8 hex digits that are all decimal, which would read as an MRN-like digit run.
RUN_ID_RE = re.compile(r"\d{8}T\d{6}-[0-9a-f]{8}(?![0-9a-fA-F])")
TEMPORAL_VRS = frozenset({"DA", "DT", "TM"})


class Matcher:
    def __init__(self, ids: Identifiers):
        self.ids = ids

    def kinds(self, text: str, vr: str | None = None, patient_key: str | None = None,
              numbers: frozenset[str] = frozenset()) -> Counter:
        """The kinds of identifier in `text` (a value of VR `vr`, in a row of `patient_key`)."""
        found: Counter = Counter()
        if not text or vr == "UI" or UID_RE.match(text):
            return found
        dates = self.ids.dates_for(patient_key)
        if dates:
            for d in dates_in(text):
                if d in dates:
                    found[dates[d]] += 1
        if vr in TEMPORAL_VRS:
            return found
        self._identifiers(text, found)
        self._patterns(text, found, numbers)
        return found

    def binary(self, b64: str, patient_key: str | None = None) -> Counter:
        """The kinds in an InlineBinary value (an attribute kept as bytes, VR UN or OB)."""
        try:
            raw = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            return Counter()
        found: Counter = Counter()
        for text in {raw.decode("latin-1"), raw.decode("utf-8", "replace")}:
            text = text.replace("\x00", " ")
            part = Counter()
            self._identifiers(text, part)
            dates = self.ids.dates_for(patient_key)
            part.update(dates[d] for d in dates_in(text) if d in dates)
            part.update("e-mail pattern" for _ in EMAIL_RE.finditer(text))
            found |= part
        return found

    def _identifiers(self, text: str, found: Counter) -> None:
        folded = text.casefold()
        words, phrases = self.ids.words, self.ids.phrases
        for m in WORD_RE.finditer(folded):
            w = m.group()
            kind = words.get(w)
            if kind:
                found[kind] += 1
            for value, kind in phrases.get(w, ()):
                end = m.start() + len(value)
                if folded.startswith(value, m.start()) and not (end < len(folded) and WORD_RE.match(folded[end])):
                    found[kind] += 1
        if self.ids.paths and "/" in text:
            for m in PATH_RE.finditer(text):
                kind = self.ids.paths.get(_path(m.group()))
                if kind:
                    found[kind] += 1

    def _patterns(self, text: str, found: Counter, numbers: frozenset[str]) -> None:
        for _ in EMAIL_RE.finditer(text):
            found["e-mail pattern"] += 1
        for m in PHONE_RE.finditer(text):
            if not _in_hex_token(text, m.start(), m.end()):
                found["phone pattern"] += 1
        for m in DIGITS_RE.finditer(text):
            run = m.group()
            if run in numbers or run in self.ids.words or _is_date(run) or _is_tag(run) \
                    or _in_hex_token(text, m.start(), m.end()):
                continue
            found["digit-run pattern (MRN-like)"] += 1


def _path(text: str) -> str:
    text = text.rstrip(".:)]}")
    return text[len("file://"):] if text.startswith("file://") else (text[5:] if text.startswith("file:/") else text)


def _is_tag(run: str) -> bool:
    """A DICOM tag written as 8 digits, `(00080023)` in a message."""
    return len(run) == 8 and dictionary_has_tag(int(run, 16))


def _in_hex_token(text: str, start: int, end: int) -> bool:
    """Digits inside a UUID (a file name's `08134076-c51d-...`), a hex pseudonym or one of our run ids."""
    for m in RUN_ID_RE.finditer(text, max(0, start - 24), min(len(text), end + 24)):
        if m.start() <= start and end <= m.end():
            return True
    left = start
    while left > 0 and (text[left - 1] in HEX or text[left - 1] == "-"):
        left -= 1
    right = end
    while right < len(text) and (text[right] in HEX or text[right] == "-"):
        right += 1
    token = text[left:right]
    return bool(UUID_RE.search(token)) or any(len(part) >= 16 and not part.isdigit() for part in token.split("-"))


def _is_date(run: str) -> bool:
    m = DATE_RE.fullmatch(run)
    if not m or m.group("c") is None:
        return False
    try:
        dt.date(int(m.group("c")), int(m.group("cm")), int(m.group("cd")))
        return True
    except ValueError:
        return False
