"""Values of a parsed header straight from pydicom's raw elements: the loader's fast path.

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
    cs = ds.get("SpecificCharacterSet")
    terms = [str(t).strip() for t in (cs if isinstance(cs, (list, tuple)) or type(cs).__name__ == "MultiValue"
                                      else [cs or ""])]
    if len(terms) != 1 or terms[0].startswith("ISO 2022"):
        return None
    enc = python_encoding.get(terms[0])
    if enc == "iso8859" or terms[0] == "":
        return "latin_1"  # the default repertoire; latin-1 agrees with it on ASCII and never fails
    return enc


def _vr(raw, tag: int) -> str:
    """The element's VR; a standard attribute written as UN gets its dictionary VR (PS3.5 6.2.2).

    Implicit VR files have no VR at all: the dictionary's. Explicit VR files may still say UN for
    a standard attribute (a node that did not know it); its bytes are then read as the dictionary
    VR says, so that the rules for that VR (names, dates, sequences) apply to it. An ambiguous
    dictionary VR ('US or SS', 'OB or OW') or SQ is returned as is, for pydicom to decode.
    """
    vr = raw.VR
    if vr and vr != "UN":
        return vr
    if tag & 0xFFFF == 0 or (tag >> 16) & 1:
        return "UL" if tag & 0xFFFF == 0 else "UN"
    try:
        return dictionary_VR(tag)
    except KeyError:
        return "UN"


def _split(text: str) -> Any:
    if "\\" in text:
        return text.split("\\")
    return text


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
        little = raw.is_little_endian
        if vr in PYDICOM_VRS:  # SQ written as UN, ambiguous dictionary VRs: pydicom resolves them
            try:
                elem = ds[tag_obj]
            except Exception:  # UN bytes that are not what the dictionary says: keep them as bytes
                yield tag, "UN", data
                continue
            yield tag, elem.VR, _plain(elem.value, elem.VR)
        elif vr in BINARY_VRS:
            yield tag, vr, data
        elif vr in NUMBER_FORMATS and vr != "UN":
            fmt = NUMBER_FORMATS[vr]
            n = len(data) // struct.calcsize(fmt)
            vals = list(struct.unpack(("<" if little else ">") + fmt * n, data[: n * struct.calcsize(fmt)]))
            yield tag, vr, (vals[0] if n == 1 else vals) if n else None
        elif vr == "AT":
            n = len(data) // 4
            vals = struct.unpack(("<" if little else ">") + "HH" * n, data[: n * 4])
            tags = [(vals[2 * i] << 16) | vals[2 * i + 1] for i in range(n)]
            yield tag, vr, (tags[0] if n == 1 else tags) if n else None
        elif (vr in TEXT_VRS or vr in SINGLE_TEXT_VRS) and (enc is not None or vr in DEFAULT_ONLY_VRS):
            text = data.decode(enc or "latin_1", errors="replace") if vr not in DEFAULT_ONLY_VRS \
                else data.decode("latin_1")
            text = text.rstrip("\x00 ") if vr != "UI" else text.rstrip("\x00").strip()
            if vr in ("LT", "ST", "UT"):
                text = text.rstrip()
            if not text:
                yield tag, vr, None
            elif vr == "PN":
                vals = text.split("\\")
                names = [PersonName(v) for v in vals]
                yield tag, vr, names[0] if len(names) == 1 else names
            elif vr in SINGLE_TEXT_VRS:
                yield tag, vr, text
            else:
                val = _split(text)
                yield tag, vr, [v.strip() for v in val] if isinstance(val, list) else val.strip()
        else:  # SQ, ISO 2022 text, ambiguous VRs: pydicom decides
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
