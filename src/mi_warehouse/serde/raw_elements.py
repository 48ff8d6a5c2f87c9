"""Values of a parsed header straight from pydicom's raw elements, and the decoders both readers share.

The loader reads most headers with `fast_header` and falls back to pydicom for the rest; either
way every value is decoded by `decode` here (one function per VR in `DECODERS`), so the two paths
give the same elements.

`pydicom.dcmread` leaves elements raw (bytes) until they are accessed; converting each through
`Dataset.__getitem__` costs several times the parse. This module decodes the common cases
itself — text VRs in single-byte or UTF-8 character sets, binary numbers, tags — and hands
everything else (sequences, ISO 2022 code extensions, ambiguous VRs) to pydicom, so the values
are always pydicom's values. `elements(ds)` yields `(tag, vr, value)` with `value` a str, a list
for several values, bytes for binary VRs, a list of item datasets for SQ, or None when empty.
A standard attribute stored with VR UN comes out with its dictionary VR and value (see `_vr`).
"""

from __future__ import annotations

import struct
from typing import Any, Iterator

from pydicom.charset import python_encoding
from pydicom.datadict import dictionary_VR
from pydicom.valuerep import PersonName

TEXT_VRS = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "SH", "TM", "UI", "UC", "PN"})
SINGLE_TEXT_VRS = frozenset({"LT", "ST", "UT", "UR"})  # never split on backslash
DEFAULT_ONLY_VRS = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "TM", "UI", "UR"})  # ASCII by rule
NUMBER_FORMATS = {"US": "H", "SS": "h", "UL": "I", "SL": "i", "FL": "f", "FD": "d", "SV": "q", "UV": "Q"}
BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
PYDICOM_VRS = frozenset({"SQ", "US or SS", "US or OW", "US or SS or OW", "OB or OW", "SS or US"})


def encoding(ds, inherited: str | None = "latin_1") -> str | None:
    """A Python codec for the dataset's text, or None when pydicom must decode (ISO 2022 etc.).

    A dataset without its own Specific Character Set (a sequence item) inherits its parent's.
    """
    if 0x00080005 not in ds._dict:
        return inherited
    return charset_codec(ds.get("SpecificCharacterSet"))


def charset_codec(cs) -> str | None:
    """The Python codec of a Specific Character Set value (str, list of terms, or None)."""
    terms = [str(t).strip() for t in (cs if isinstance(cs, (list, tuple)) or type(cs).__name__ == "MultiValue"
                                      else [cs or ""])]
    if len(terms) != 1 or terms[0].startswith("ISO 2022"):
        return None
    enc = python_encoding.get(terms[0])
    if enc == "iso8859" or terms[0] == "":
        return "latin_1"  # the default repertoire; latin-1 agrees with it on ASCII and never fails
    return enc


def _vr(raw, tag: int) -> str:
    """The element's VR; a standard attribute written as UN gets its dictionary VR (PS3.5 6.2.2)."""
    vr = raw.VR
    if vr and vr != "UN":
        return vr
    return resolve_vr(tag)


def resolve_vr(tag: int) -> str:
    """The VR of an element stored without one (implicit VR) or as UN: its dictionary VR.

    Implicit VR files have no VR at all: the dictionary's. Explicit VR files may still say UN for
    a standard attribute (a node that did not know it); its bytes are then read as the dictionary
    VR says, so that the rules for that VR (names, dates, sequences) apply to it. An ambiguous
    dictionary VR ('US or SS', 'OB or OW') or SQ is returned as is, for pydicom to decode. Group
    lengths are UL; private attributes and unknown ones stay UN. Memoised per tag.
    """
    vr = _RESOLVED.get(tag)
    if vr is None:
        if tag & 0xFFFF == 0 or (tag >> 16) & 1:
            vr = "UL" if tag & 0xFFFF == 0 else "UN"
        else:
            try:
                vr = dictionary_VR(tag)
            except KeyError:
                vr = "UN"
        if len(_RESOLVED) < 100_000:
            _RESOLVED[tag] = vr
    return vr


_RESOLVED: dict[int, str] = {}


class NeedsPydicom(Exception):
    """A value only pydicom decodes: a sequence, an ambiguous VR, text in ISO 2022 or an unknown set."""


def decode(vr: str, data: bytes, little: bool, enc: str | None) -> Any:
    """One element's value from its bytes, for a resolved VR (see `resolve_vr`).

    `enc`: the Python codec of the dataset's character set, None where pydicom must decode text.
    Raises NeedsPydicom for what this module leaves to pydicom. Both readers (pydicom's raw
    elements here, `fast_header` on its own bytes) decode through this one table (`DECODERS`:
    one small function per VR), so their values are the same.
    """
    f = DECODERS.get(vr)
    if f is None:  # SQ, ambiguous VRs: pydicom decides
        raise NeedsPydicom(vr)
    return f(data, little, enc)


def _binary(data: bytes, little: bool, enc) -> bytes:
    return data


def _numbers(fmt: str):
    size = struct.calcsize(fmt)
    one_le, one_be = struct.Struct("<" + fmt).unpack, struct.Struct(">" + fmt).unpack

    def numbers(data: bytes, little: bool, enc) -> Any:
        n = len(data) // size
        if n == 1:
            return (one_le if little else one_be)(data[:size])[0]
        if not n:
            return None
        return list(_unpack(("<" if little else ">") + fmt * n, data[: n * size]))
    return numbers


def _tags(data: bytes, little: bool, enc) -> Any:
    n = len(data) // 4
    vals = _unpack(("<" if little else ">") + "HH" * n, data[: n * 4])
    tags = [(vals[2 * i] << 16) | vals[2 * i + 1] for i in range(n)]
    return (tags[0] if n == 1 else tags) if n else None


def _values(text: str) -> Any:
    """Text of a multi-valued VR: None when empty, one stripped value or a list of them."""
    if not text:
        return None
    if "\\" in text:
        return [v.strip() for v in text.split("\\")]
    return text.strip()


def _ascii(data: bytes, little: bool, enc) -> Any:  # AE AS CS DA DS DT IS TM: the default repertoire
    return _values(data.decode("latin_1").rstrip("\x00 "))


def _uid(data: bytes, little: bool, enc) -> Any:
    return _values(data.decode("latin_1").rstrip("\x00").strip())


def _uri(data: bytes, little: bool, enc) -> Any:
    return data.decode("latin_1").rstrip("\x00 ") or None


def _coded(data: bytes, enc: str | None) -> str:
    if enc is None:  # ISO 2022 or an unknown character set: pydicom decides
        raise NeedsPydicom("text")
    return data.decode(enc, errors="replace").rstrip("\x00 ")


def _text(data: bytes, little: bool, enc) -> Any:  # LO SH UC
    return _values(_coded(data, enc))


def _long_text(data: bytes, little: bool, enc) -> Any:  # LT ST UT: one value, never split
    return _coded(data, enc).rstrip() or None


def _person_names(data: bytes, little: bool, enc) -> Any:
    text = _coded(data, enc)
    if not text:
        return None
    names = [PersonName(v) for v in text.split("\\")]
    return names[0] if len(names) == 1 else names


_unpack = struct.unpack
DECODERS = {**dict.fromkeys(BINARY_VRS, _binary), **{vr: _numbers(f) for vr, f in NUMBER_FORMATS.items()},
            "AT": _tags, **dict.fromkeys(("AE", "AS", "CS", "DA", "DS", "DT", "IS", "TM"), _ascii), "UI": _uid,
            "UR": _uri, "LO": _text, "SH": _text, "UC": _text, "LT": _long_text, "ST": _long_text,
            "UT": _long_text, "PN": _person_names}


def elements(ds, inherited: str | None = "latin_1") -> Iterator[tuple[int, str, Any]]:
    enc = encoding(ds, inherited)
    for tag_obj, raw in ds._dict.items():
        tag = int(tag_obj)
        if not getattr(raw, "is_raw", False) or raw.value is None:
            elem = ds[tag_obj]  # already converted (or empty): take pydicom's value
            yield tag, elem.VR, _plain(elem.value, elem.VR)
            continue
        vr = _vr(raw, tag)
        data = raw.value
        if vr in PYDICOM_VRS:  # SQ written as UN, ambiguous dictionary VRs: pydicom resolves them
            try:
                elem = ds[tag_obj]
            except Exception:  # UN bytes that are not what the dictionary says: keep them as bytes
                yield tag, "UN", data
                continue
            yield tag, elem.VR, _plain(elem.value, elem.VR)
            continue
        try:
            yield tag, vr, decode(vr, data, raw.is_little_endian, enc)
        except NeedsPydicom:
            elem = ds[tag_obj]
            yield tag, elem.VR, _plain(elem.value, elem.VR)


def _plain(value: Any, vr: str) -> Any:
    if vr == "SQ":
        return list(value or [])
    if type(value).__name__ == "MultiValue":
        return list(value)
    if value == "" or value == b"":
        return None
    return value
