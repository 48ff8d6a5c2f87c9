"""The strings of a JSON value, each with where it sits.

In a DICOM JSON header (PS3.18 F.2) the place is the tag path, items numbered from 0:
`00081052[0].00401101[0].00080100`; a person name's groups (Alphabetic, ...) and an
`InlineBinary` value belong to their attribute. In other JSON it is the key path (`a.b[2]`).
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterator

TAG_RE = re.compile(r"^[0-9A-Fa-f]{8}$")
BINARY = "InlineBinary"


def parse_json(text: str) -> Any:
    """The JSON value of `text` when it is a JSON object or array, else None."""
    s = text.lstrip()
    if not s or s[0] not in "{[":
        return None
    try:
        return json.loads(s)
    except ValueError:
        return None


def strings(value: Any, path: str = "", vr: str | None = None) -> Iterator[tuple[str, str | None, str]]:
    """(path, vr, text) for every string and key in `value`; vr is `InlineBinary` for base64 bytes."""
    if isinstance(value, str):
        yield path, vr, value
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from strings(v, f"{path}[{i}]", vr)
    elif isinstance(value, dict):
        if _is_dicom_element(value):
            yield from _element(value, path)
            return
        for key, v in value.items():
            inner = f"{path}.{key}" if path else str(key)
            if TAG_RE.match(str(key)) and isinstance(v, dict) and _is_dicom_element(v):
                yield from _element(v, inner)
            else:
                yield inner, None, str(key)
                yield from strings(v, inner)


def _is_dicom_element(d: dict) -> bool:
    return "vr" in d and set(d) <= {"vr", "Value", BINARY, "BulkDataURI"}


def _element(elem: dict, path: str) -> Iterator[tuple[str, str | None, str]]:
    vr = elem.get("vr")
    if isinstance(elem.get(BINARY), str):
        yield path, BINARY, elem[BINARY]
    for i, v in enumerate(elem.get("Value") or []):
        if vr == "SQ" and isinstance(v, dict):
            for tag, item_elem in v.items():
                yield from _item_element(tag, item_elem, f"{path}[{i}]")
        elif vr == "PN" and isinstance(v, dict):
            for group in v.values():
                if isinstance(group, str):
                    yield path, vr, group
        elif isinstance(v, str):
            yield path, vr, v


def _item_element(tag: str, value: Any, prefix: str) -> Iterator[tuple[str, str | None, str]]:
    path = f"{prefix}.{tag}"
    if isinstance(value, dict) and _is_dicom_element(value):
        yield from _element(value, path)
    else:
        yield path, None, str(tag)
        yield from strings(value, path)
