r"""Codec of the text rows that Hive's ``SELECT TRANSFORM(...) USING 'script'`` exchanges.

This is the default script format: ``LazySimpleSerDe`` rows written by ``TextRecordWriter`` and
read back by ``TextRecordReader``. A script reads rows with :func:`read_rows` and answers with
:func:`write_row`.

Wire format
    Fields are separated by TAB, rows end with ``\n``, NULL is ``\N``. Booleans are ``true`` /
    ``false``; doubles are written with ``repr`` (``NaN``, ``Infinity``, ``-Infinity`` spelled as
    Java spells them) so they read back bit for bit; dates are ``yyyy-mm-dd``; an empty string
    is an empty field, distinct from NULL. Collections use LazySimpleSerDe's default separators by
    nesting depth: a top-level ``array`` separates elements with ``\x02``; a top-level ``map``
    separates entries with ``\x02`` and key from value with ``\x03``; each level nested inside
    uses the next separator (an array inside uses ``\x03``, a map value inside a map ``\x04``, ...
    up to ``\x08``: Hive's 8 default levels). An empty field read as an array/map is empty.

``escape=False`` (Hive's default)
    Nothing is escaped. A TAB inside a value would split the field, and a LF or CR would end the
    row (Hadoop's line reader splits on both), so such values CANNOT round-trip: :func:`encode_row`
    raises ``ValueError`` naming the field (it never writes a row Hive would misread). A backslash
    is ordinary data.

``escape=True`` (``hive.transform.escape.input=true``; the same setting makes Hive unescape what
the script writes back)
    Hive applies ``HiveUtils.escapeText`` to the whole serialized line: ``\`` becomes ``\\``,
    LF ``\n``, CR ``\r`` and TAB ``\t``; raw TABs are only field separators. Any text may then
    hold TAB, LF, CR and backslashes. Hive does NOT escape the collection separators (``\x02`` ..
    ``\x08``), so they still cannot appear inside collection elements, and ``\x01`` cannot appear
    at all (Hive's internal field separator in this mode, sent as a TAB). Hive's NULL marker goes
    through the escaper too, so Hive sends NULL as ``\\N``; :func:`encode_row` writes the same
    bytes Hive writes, and decoding reads both ``\\N`` and ``\N`` as NULL (Hive's unescaper keeps
    an unknown escape such as ``\N`` as it is).

Rejected in both modes (``ValueError``), because Hive would read back something else: a string
equal to ``\N`` (read as NULL), a NULL map key (Hive drops it), and a collection whose only
element encodes to the empty string or to ``\N`` (``[""]``, ``[[]]``, ``[None]``: read back as an
empty collection or NULL). Decoding follows Hive's readers: missing trailing fields are NULL,
extra fields are ignored, unparseable numbers, booleans and dates become NULL, and the first of
duplicate map keys wins. With escaping on, Hive takes an empty line coming back from the script as
the end of the script's output, so :func:`encode_row` refuses to produce one in that mode.

Supported types for :func:`decode_row`: ``string``, ``varchar(n)``, ``tinyint``, ``smallint``,
``int``, ``bigint``, ``float``, ``double``, ``boolean``, ``date``, ``array<T>`` and ``map<K,V>``.
"""

from __future__ import annotations

import datetime as _dt
import functools
import io
import math
import re
from typing import IO, Any, Iterator, Sequence

__all__ = ["NULL", "encode_row", "decode_row", "read_rows", "write_row"]

NULL = "\\N"
FIELD_SEP = "\t"
# LazySimpleSerDe's 8 default separators; index 0 is the field separator (TAB for TRANSFORM).
SEPARATORS = ("\t", "\x02", "\x03", "\x04", "\x05", "\x06", "\x07", "\x08")

_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_UNESCAPES = {"\\": "\\", "n": "\n", "r": "\r", "t": "\t"}
_ESCAPE_RE = re.compile(r"[\\\n\r\t]")
_INT_BITS = {"tinyint": 8, "smallint": 16, "int": 32, "bigint": 64}
_INT_RE = re.compile(r"[+-]?[0-9]+", re.ASCII)
_DOUBLE_RE = re.compile(
    r"\s*([+-]?(?:NaN|Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?))[fFdD]?\s*",
    re.ASCII)
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_TYPE_NAME = re.compile(r"[a-z_]+")
_PRIMITIVES = {"string", "varchar", "boolean", "float", "double", "date", *_INT_BITS}


# --- encoding ----------------------------------------------------------------------------------

def _format_double(x: float) -> str:
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return repr(x)


def _encode_value(value: Any, level: int, forbidden: str, where: str) -> str:
    """Serialize one value whose containers (if any) use ``SEPARATORS[level]``."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if not -(1 << 63) <= value < (1 << 63):
            raise ValueError(f"{where}: {value} does not fit any Hive integral type")
        return str(value)
    if isinstance(value, float):
        return _format_double(value)
    if isinstance(value, str):
        if value == NULL:
            raise ValueError(f"{where}: the string {NULL!r} would be read back as NULL")
        bad = next((c for c in value if c in forbidden), None)
        if bad is not None:
            raise ValueError(
                f"{where}: value contains {bad!r}, which cannot round-trip through a Hive "
                f"TRANSFORM row at this position (see mi_warehouse.serde.transform_codec)")
        return value
    if isinstance(value, _dt.datetime):
        raise TypeError(f"{where}: timestamps are not supported, got {value!r}")
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, (list, tuple, dict)):
        return _encode_collection(value, level, forbidden, where)
    raise TypeError(f"{where}: cannot encode a {type(value).__name__}")


def _encode_collection(value: Any, level: int, forbidden: str, where: str) -> str:
    is_map = isinstance(value, dict)
    if level + is_map >= len(SEPARATORS):
        raise ValueError(f"{where}: nested deeper than Hive's {len(SEPARATORS)} separators")
    sep = SEPARATORS[level]
    if not is_map:
        inner = forbidden + sep
        parts = [_encode_value(v, level + 1, inner, f"{where}[{i}]") for i, v in enumerate(value)]
    else:
        kv_sep = SEPARATORS[level + 1]
        inner = forbidden + sep + kv_sep
        parts = []
        for k, v in value.items():
            if k is None:
                raise ValueError(f"{where}: a NULL map key is dropped by Hive")
            parts.append(_encode_value(k, level + 2, inner, f"{where} key {k!r}") + kv_sep
                         + _encode_value(v, level + 2, inner, f"{where}[{k!r}]"))
    if len(parts) == 1 and parts[0] in ("", NULL):
        raise ValueError(f"{where}: a one-element collection holding {value[0]!r} would be read "
                         f"back as {'NULL' if parts[0] == NULL else 'an empty collection'}")
    return sep.join(parts)


def _escape(text: str) -> str:
    return _ESCAPE_RE.sub(lambda m: _ESCAPES[m.group()], text)


def encode_row(values: Sequence[Any], escape: bool = False,
               names: Sequence[str] | None = None) -> str:
    """One row as TRANSFORM text, without the terminating newline.

    Python values: ``None``, ``bool``, ``int``, ``float``, ``str``, ``datetime.date``, lists or
    tuples (arrays) and dicts (maps), nested. ``names`` only improves error messages. Raises
    ``ValueError`` for a value that would not read back as itself (see the module docstring).
    """
    forbidden = "\x01" if escape else "\t\n\r"
    fields = []
    for i, value in enumerate(values):
        where = f"field {i}" + (f" ({names[i]!r})" if names is not None and i < len(names) else "")
        text = _encode_value(value, 1, forbidden, where)
        fields.append(_escape(text) if escape else text)
    line = FIELD_SEP.join(fields)
    if escape and not line:
        raise ValueError("an empty row: with escaping on, Hive takes an empty line from the "
                         "script as the end of its output")
    return line


# --- decoding ----------------------------------------------------------------------------------

@functools.lru_cache(maxsize=256)
def _parse_type(type_str: str) -> Any:
    """``'int'`` -> ``'int'``; ``'array<T>'`` -> ``('array', T)``; ``'map<K,V>'`` ->
    ``('map', K, V)``; ``varchar(n)`` -> ``'varchar'``. Unknown types raise ``ValueError``."""
    s = type_str.replace(" ", "").lower()
    node, pos = _parse_type_at(s, 0, type_str)
    if pos != len(s):
        raise ValueError(f"trailing text in Hive type {type_str!r}")
    return node


def _parse_type_at(s: str, pos: int, original: str) -> tuple[Any, int]:
    m = _TYPE_NAME.match(s, pos)
    if not m:
        raise ValueError(f"bad Hive type {original!r}")
    name, pos = m.group(), m.end()
    if name in ("array", "map"):
        if s[pos:pos + 1] != "<":
            raise ValueError(f"bad Hive type {original!r}")
        args = []
        while True:
            arg, pos = _parse_type_at(s, pos + 1, original)
            args.append(arg)
            if s[pos:pos + 1] != ",":
                break
        if s[pos:pos + 1] != ">" or len(args) != (1 if name == "array" else 2):
            raise ValueError(f"bad Hive type {original!r}")
        return (name, *args), pos + 1
    if name == "varchar" and s[pos:pos + 1] == "(":
        m = re.compile(r"\([0-9]+\)").match(s, pos)
        if not m:
            raise ValueError(f"bad Hive type {original!r}")
        pos = m.end()
    if name not in _PRIMITIVES:
        raise ValueError(f"Hive type {name!r} is not supported by the TRANSFORM codec")
    return name, pos


def _unescape(text: str, ends_line: bool) -> str:
    """Hive's ``HiveUtils.unescapeText`` for one field: ``\\\\ \\n \\r \\t``; other escapes are
    kept as they are, and a lone backslash ending the line is dropped (as Hive does)."""
    if "\\" not in text:
        return text
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 == n and ends_line:
            break
        if c == "\\" and i + 1 < n:
            nxt = text[i + 1]
            if nxt in _UNESCAPES:
                out.append(_UNESCAPES[nxt])
            else:
                out.append(c + nxt)
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _decode_primitive(text: str, t: str) -> Any:
    if t in ("string", "varchar"):
        return text
    if t in _INT_BITS:
        if not _INT_RE.fullmatch(text):
            return None
        value, half = int(text), 1 << (_INT_BITS[t] - 1)
        return value if -half <= value < half else None
    if t in ("double", "float"):
        m = _DOUBLE_RE.fullmatch(text)
        return float(m.group(1)) if m else None
    if t == "boolean":
        low = text.lower()
        return True if low == "true" else False if low == "false" else None
    # date
    if not _DATE_RE.fullmatch(text):
        return None
    try:
        return _dt.date.fromisoformat(text)
    except ValueError:
        return None


def _decode_value(text: str, t: Any, level: int) -> Any:
    if text == NULL:
        return None
    if not isinstance(t, tuple):
        return _decode_primitive(text, t)
    if level + (t[0] == "map") >= len(SEPARATORS):
        raise ValueError(f"type nested deeper than Hive's {len(SEPARATORS)} separators")
    if t[0] == "array":
        if text == "":
            return []
        return [_decode_value(part, t[1], level + 1) for part in text.split(SEPARATORS[level])]
    result: dict = {}
    if text == "":
        return result
    kv_sep = SEPARATORS[level + 1]
    for entry in text.split(SEPARATORS[level]):
        key_text, found, value_text = entry.partition(kv_sep)
        key = _decode_value(key_text, t[1], level + 2)
        if key is None or key in result:
            continue
        result[key] = _decode_value(value_text, t[2], level + 2) if found else None
    return result


def decode_row(line: str | bytes, types: Sequence[str], escape: bool = False) -> list:
    """Parse one TRANSFORM text row (a trailing ``\\n`` or ``\\r\\n`` is dropped) into values
    of the given Hive types, as Hive's ``LazySimpleSerDe`` would read it."""
    if isinstance(line, bytes):
        line = line.decode("utf-8")
    if line.endswith("\n"):
        line = line[:-2] if line.endswith("\r\n") else line[:-1]
    parsed = [_parse_type(t) for t in types]
    fields = line.split(FIELD_SEP)
    row = []
    for i, t in enumerate(parsed):
        if i >= len(fields):
            row.append(None)
            continue
        text = _unescape(fields[i], i == len(fields) - 1) if escape else fields[i]
        row.append(_decode_value(text, t, 1))
    return row


# --- streams -----------------------------------------------------------------------------------

def read_rows(stream: IO, types: Sequence[str], escape: bool = False) -> Iterator[list]:
    """Yield the decoded rows of a text or binary stream (e.g. ``sys.stdin``)."""
    for line in stream:
        yield decode_row(line, types, escape)


def write_row(stream: IO, values: Sequence[Any], escape: bool = False,
              names: Sequence[str] | None = None) -> None:
    """Write one encoded row and its ``\\n`` to a text or binary stream (e.g. ``sys.stdout``)."""
    text = encode_row(values, escape, names) + "\n"
    if isinstance(stream, io.TextIOBase) or hasattr(stream, "encoding"):
        stream.write(text)
    else:
        stream.write(text.encode("utf-8"))
