"""A DICOM header as the DICOM JSON model (PS3.18 F.2), written from the parsed elements.

Written here rather than with `Dataset.to_json_dict()`, which costs about five times the parse
itself (values come from `raw_elements`, pydicom's values without its per-element overhead).
Pixel data is never included; other binary values (OB, OW, UN, ...) longer than `bulk_limit`
bytes are left out (the attribute keeps its "vr" without a "Value"), shorter ones go inline as
base64 (F.2.7). A sequence's items are datasets (read here with `raw_elements`), lists of
`(tag, vr, value)` elements that the de-identifier has already rewritten (`loaders/deid/engine.py`),
or items already in the JSON model (dicts; constant items are built once).
"""

from __future__ import annotations

import base64
import json
from typing import Any, Iterable

from .raw_elements import elements, encoding as dataset_encoding

PIXEL_DATA_TAGS = frozenset({0x7FE00010, 0x7FE00008, 0x7FE00009})  # Pixel Data, Float, Double Float
BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN", "OB or OW", "US or OW"})
NUMBER_VRS = frozenset({"US", "SS", "UL", "SL", "FL", "FD", "SV", "UV", "US or SS"})
# text VRs whose values go into the model as they are (not numbers, names or binary)
PLAIN_TEXT_VRS = frozenset({"AE", "AS", "CS", "DA", "DT", "LO", "LT", "SH", "ST", "TM", "UC", "UI", "UR", "UT"})
Element = tuple[int, str, Any]


def _values(value: Any) -> list:
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return list(value)
    return [value]


def _number(v: Any) -> Any:
    """DS/IS as JSON numbers (F.2.3.1); a value that does not parse stays a string."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        f = float(v)
        if f != f or f in (float("inf"), float("-inf")):
            return str(v)
        return int(v) if isinstance(v, int) else f
    try:
        s = str(v).strip()
        f = float(s)
        if f != f or f in (float("inf"), float("-inf")):
            return s
        return int(s) if s.lstrip("+-").isdigit() else f
    except ValueError:
        return str(v)


def _pn(v: Any) -> dict:
    out = {}
    for key, attr in (("Alphabetic", "alphabetic"), ("Ideographic", "ideographic"),
                      ("Phonetic", "phonetic")):
        part = getattr(v, attr, None)
        if part is None and key == "Alphabetic":
            part = str(v)
        if part:
            out[key] = part
    return out


def model_from_elements(items: Iterable[Element], bulk_limit: int = 1024,
                        encoding: str | None = "latin_1") -> dict:
    """The DICOM JSON model of `(tag, vr, value)` elements (as `raw_elements.elements` yields)."""
    out: dict[str, dict] = {}
    keys = _KEYS
    for tag, vr, value in items:
        key = keys.get(tag)
        if key is None:
            if tag in PIXEL_DATA_TAGS:
                continue
            key = _key(tag)
        if type(value) is str and value and vr in PLAIN_TEXT_VRS:  # the common case: one text value
            out[key] = {"vr": vr, "Value": [value]}
            continue
        entry: dict[str, Any] = {"vr": vr}
        if vr == "SQ":
            seq = [item if isinstance(item, dict) else
                   model_from_elements(item, bulk_limit, encoding) if isinstance(item, list) else
                   model_from_elements(elements(item, encoding), bulk_limit, dataset_encoding(item, encoding))
                   for item in (value or [])]
            if seq:
                entry["Value"] = seq
        elif vr in BINARY_VRS:
            if isinstance(value, (bytes, bytearray)) and 0 < len(value) <= bulk_limit:
                entry["InlineBinary"] = base64.b64encode(value).decode("ascii")
        else:
            vals = _values(value)
            if vals:
                if vr == "PN":
                    entry["Value"] = [_pn(v) for v in vals]
                elif vr in ("DS", "IS"):
                    entry["Value"] = [_number(v) for v in vals]
                elif vr in NUMBER_VRS:
                    entry["Value"] = [v if isinstance(v, (int, float)) else _number(v) for v in vals]
                elif vr == "AT":
                    entry["Value"] = [f"{int(v):08X}" for v in vals]
                else:
                    entry["Value"] = [v if isinstance(v, str) else str(v) for v in vals]
        out[key] = entry
    return out


def _key(tag: int) -> str:
    """'GGGGEEEE', memoised for the tags a process meets (bounded)."""
    key = f"{tag:08X}"
    if len(_KEYS) < 50_000:
        _KEYS[tag] = key
    return key


_KEYS: dict[int, str] = {}


# One encoder, built once: the model is plain dicts and lists (no cycles), so the circular check is skipped.
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode


def to_json(model: dict, extra: str = "") -> str:
    """The model as compact JSON; `extra`: members already serialised (`"TAG":{...},...`), added last."""
    text = _dumps(model)
    if extra:
        text = text[:-1] + ("," if len(text) > 2 else "") + extra + "}"
    return text


def dataset_to_json(ds, bulk_limit: int = 1024) -> str:
    return to_json(model_from_elements(elements(ds), bulk_limit, dataset_encoding(ds)))
