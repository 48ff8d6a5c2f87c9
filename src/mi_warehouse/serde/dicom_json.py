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
    if type(v) is not str:  # almost every value is its text
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            f = float(v)
            if f - f != 0:  # inf or nan
                return str(v)
            return int(v) if isinstance(v, int) else f
        v = str(v)
    s = v.strip()
    try:
        f = float(s)
    except ValueError:
        return v
    if f - f != 0:
        return s
    if s.lstrip("+-").isdigit():
        try:
            return int(s)
        except ValueError:  # more digits than int() takes (sys.get_int_max_str_digits)
            return v
    return f


def _value_text(v: Any) -> str:
    """One value as `json.dumps` writes it (ints and finite floats without the encoder)."""
    t = type(v)
    if t is str:
        return _str(v)
    if t is int:
        return int.__repr__(v)
    if t is float and v - v == 0:
        return float.__repr__(v)
    return _dumps(v)


def _pn_text(v: Any) -> str:
    out = []
    for key, attr in (("Alphabetic", "alphabetic"), ("Ideographic", "ideographic"),
                      ("Phonetic", "phonetic")):
        part = getattr(v, attr, None)
        if part is None and key == "Alphabetic":
            part = str(v)
        if part:
            out.append(f'"{key}":{_value_text(part)}')
    return "{" + ",".join(out) + "}"


def json_from_elements(items: Iterable[Element], bulk_limit: int = 1024, encoding: str | None = "latin_1",
                       extra: str = "") -> str:
    """The DICOM JSON model of `(tag, vr, value)` elements (as `raw_elements.elements` yields), as
    compact JSON text, written directly; `extra`: members already serialised (`"TAG":{...},...`),
    added last. The same text as `json.dumps` of the model, at a third of the cost of building it."""
    parts: list[str] = []
    append = parts.append
    heads = _HEADS
    for tag, vr, value in items:
        head = heads.get(tag)
        if head is None:
            if tag in PIXEL_DATA_TAGS:
                continue
            head = _head(tag)
        if type(value) is str and value and vr in PLAIN_TEXT_VRS:  # the common case: one text value
            append(f'{head}{vr}","Value":[{_str(value)}]}}')
            continue
        body = None
        if vr == "SQ":
            seq = [_dumps(item) if isinstance(item, dict) else
                   json_from_elements(item, bulk_limit, encoding) if isinstance(item, list) else
                   json_from_elements(elements(item, encoding), bulk_limit, dataset_encoding(item, encoding))
                   for item in (value or [])]
            if seq:
                body = ",".join(seq)
        elif vr in BINARY_VRS:
            if isinstance(value, (bytes, bytearray)) and 0 < len(value) <= bulk_limit:
                append(f'{head}{vr}","InlineBinary":"{base64.b64encode(value).decode("ascii")}"}}')
                continue
        else:
            vals = _values(value)
            if vals:
                if vr == "PN":
                    body = ",".join([_pn_text(v) for v in vals])
                elif vr in ("DS", "IS"):
                    body = ",".join([_value_text(_number(v)) for v in vals])
                elif vr in NUMBER_VRS:
                    body = ",".join([_value_text(v if isinstance(v, (int, float)) else _number(v)) for v in vals])
                elif vr == "AT":
                    body = ",".join([f'"{int(v):08X}"' for v in vals])
                else:
                    body = ",".join([_str(v if isinstance(v, str) else str(v)) for v in vals])
        append(f'{head}{vr}"}}' if body is None else f'{head}{vr}","Value":[{body}]}}')
    if extra:
        append(extra)
    return "{" + ",".join(parts) + "}"


def model_from_elements(items: Iterable[Element], bulk_limit: int = 1024,
                        encoding: str | None = "latin_1") -> dict:
    """The DICOM JSON model of the elements as dicts and lists (`json_from_elements`, parsed)."""
    return json.loads(json_from_elements(items, bulk_limit, encoding))


def _head(tag: int) -> str:
    """'"GGGGEEEE":{"vr":"', memoised for the tags a process meets (bounded)."""
    head = f'"{tag:08X}":{{"vr":"'
    if len(_HEADS) < 50_000:
        _HEADS[tag] = head
    return head


_HEADS: dict[int, str] = {}
_str = json.encoder.encode_basestring  # the C escaper json.dumps(ensure_ascii=False) uses
# One encoder, built once: the model is plain dicts and lists (no cycles), so the circular check is skipped.
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode


def dataset_to_json(ds, bulk_limit: int = 1024) -> str:
    return json_from_elements(elements(ds), bulk_limit, dataset_encoding(ds))
