"""Descriptor cleaning (the C action on text): a description stays only without identifiers.

Two passes over the text, both case-insensitive:
1. the identifiers of the file itself (top level): every component of every person name, and
   every value of the LO/SH attributes that the profile takes out (IDs, accession, issuer,
   institution, station, address, phone, ...; `Identifiers.from_values`);
2. identifier-shaped patterns, whoever they belong to: e-mail addresses, phone numbers, dates in
   the usual spellings (20240315, 2024-03-15, 15/03/2024, 03.15.24, 15 Mar 2024, March 15, 2024)
   and runs of five or more digits (MRNs, dates, times).
What is left is trimmed; a description with nothing left becomes empty.
"""

from __future__ import annotations

import re

_MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_NOT_ALNUM_BEFORE, _NOT_ALNUM_AFTER = r"(?<![^\W_])", r"(?![^\W_])"
# In this order: dates and e-mail first (a phone pattern would eat "555-123-4567 2024-03"), then
# phone numbers, then whatever long digit run is left.
PATTERNS = tuple(re.compile("|".join(alts), re.IGNORECASE) for alts in ((
    r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+",  # e-mail
    r"\b\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\b",  # 2024-03-15
    r"\b\d{1,2}[-/.]\d{1,2}[-/.](?:\d{4}|\d{2})\b",  # 15/03/2024, 03.15.24
    rf"\b\d{{1,2}}(?:st|nd|rd|th)?[ -]?{_MONTHS}[ ,-]*(?:\d{{4}}|\d{{2}})\b",  # 15 Mar 2024, 15-MAR-24
    rf"\b{_MONTHS} \d{{1,2}}(?:st|nd|rd|th)?,? (?:\d{{4}}|\d{{2}})\b",  # March 15, 2024
), (
    r"(?:\+\d{1,3}[ .-]?)?\(\d{1,5}\)[ .-]?\d{2,5}(?:[ .-]?\d{2,5}){0,3}",  # (555) 123-4567
    r"(?:\+\d{1,3}[ .-]?)?\b\d{2,5}(?:[ .-]\d{2,5}){2,4}\b",  # 555-123-4567, +1 555 123 4567
    r"\+\d{1,3}[ .-]?\d{2,5}(?:[ .-]\d{2,5}){1,4}\b",  # +44 20 7946
    r"\b\d{3}-\d{4}\b",  # 555-1234
), (
    r"\d{5,}",  # MRNs, DA/DT/TM values, phone numbers without separators
)))
_EDGES = " \t\r\n^,;:-_/|.#=+*'"
_NAME_AFFIXES = 3  # PN components family^given^middle; prefix and suffix (Dr, Jr) are not identifiers


_split_name = re.compile(r"[\s\-']+").split
_split_value = re.compile(r"[,;/^]").split
_has_digit = re.compile(r"\d").search
_non_digits = re.compile(r"\D+").sub


def _name_parts(value, out: list) -> None:
    for group in str(value).split("="):
        for comp in group.split("^")[:_NAME_AFFIXES]:
            out.append(comp)
            if " " in comp or "-" in comp or "'" in comp:
                out += _split_name(comp)


def _multi(value) -> list:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


class Identifiers:
    """The identifiers of one file, as lower-case literals, for cleaning its descriptions."""

    __slots__ = ("words", "anywhere", "_regex")

    def __init__(self, words=(), anywhere=()):
        self.words = {w.lower(): None for w in words if len(w.strip()) >= 2}  # ordered, unique
        # values with digits (IDs) go wherever they appear, even inside a longer token
        self.anywhere = {a.lower(): None for a in anywhere if len(a) >= 3}
        self._regex = {}

    @classmethod
    def from_values(cls, values: dict, name_tags: frozenset, id_tags: frozenset) -> "Identifiers":
        """From a file's top-level values by tag: components of the names, values of the `id_tags`."""
        words: list[str] = []
        anywhere: list[str] = []
        for tag in name_tags.intersection(values):
            for v in _multi(values[tag]):
                _name_parts(v, words)
        for tag in id_tags.intersection(values):
            for v in _multi(values[tag]):
                if v is None or isinstance(v, (bytes, list)) or hasattr(v, "_dict"):
                    continue  # not text (a sequence item, binary)
                s = str(v).strip()
                for p in (s, *_split_value(s)) if ("," in s or ";" in s or "/" in s or "^" in s) else (s,):
                    p = p.strip()
                    (anywhere if _has_digit(p) else words).append(p)
                digits = _non_digits("", s)
                if len(digits) >= 4:
                    anywhere.append(digits)
        return cls(words, anywhere)

    def _pattern(self, hits_words: tuple, hits_anywhere: tuple) -> re.Pattern:
        key = (hits_words, hits_anywhere)
        rx = self._regex.get(key)
        if rx is None:
            alts = [f"{_NOT_ALNUM_BEFORE}{re.escape(w)}(?:'s)?{_NOT_ALNUM_AFTER}" for w in hits_words]
            alts += [re.escape(a) for a in hits_anywhere]
            rx = self._regex[key] = re.compile("|".join(alts), re.IGNORECASE)
        return rx

    def clean(self, text: str) -> str:
        """`text` without this file's identifiers and without identifier-shaped patterns."""
        low = text.lower()
        hw = tuple(w for w in self.words if w in low)
        ha = tuple(a for a in self.anywhere if a in low)
        if hw or ha:  # longest first, so that a name is not cut short by a shorter one inside it
            text = self._pattern(tuple(sorted(hw, key=len, reverse=True)),
                                 tuple(sorted(ha, key=len, reverse=True))).sub(" ", text)
        for rx in PATTERNS:
            text = rx.sub(" ", text)
        return " ".join(text.split()).strip(_EDGES)


def clean_value(value, identifiers: Identifiers):
    """Clean one value or each of several; an empty result is None."""
    if isinstance(value, (list, tuple)):
        vals = [identifiers.clean(str(v)) for v in value]
        vals = [v for v in vals if v]
        return vals or None
    return identifiers.clean(str(value)) or None
