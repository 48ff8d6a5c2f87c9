"""Hive's bucket assignment, computed the way Hive computes it, for both bucketing versions.

A row goes to bucket ``(hash & 0x7fffffff) % num_buckets`` (Hive's
``ObjectInspectorUtils.getBucketNumber``), where ``hash`` folds the bucketing columns left to
right as ``h = 31 * h + column_hash`` starting from 0, in 32-bit signed Java arithmetic.

Version 1 (``bucketing_version=1``; Hive 1/2 and tables written for them) uses
``ObjectInspectorUtils.hashCode``; version 2 (the Hive 3+ default) uses
``ObjectInspectorUtils.hashCodeMurmur``, i.e. Hive's ``Murmur3.hash32`` with seed 104729 over the
value's bytes. Per type (NULL always hashes to 0):

==============  ========================================  ==========================================
type            v1                                        v2
==============  ========================================  ==========================================
boolean         1 / 0                                     1 / 0
tinyint         the value                                 the value (no Murmur3)
smallint, int   the value                                 Murmur3 of the 2 / 4 big-endian bytes
bigint          ``(int)(v ^ (v >>> 32))``                 Murmur3 of the 8 big-endian bytes
float           ``Float.floatToIntBits``                  Murmur3 of ``putFloat((float) intBits)``
double          ``Double.hashCode``                       Murmur3 of ``putDouble((double) longBits)``
string          ``r = 31 * r + signed_byte`` over UTF-8   Murmur3 of the UTF-8 bytes
varchar(n)      ``Text.hashCode`` (as string, seed 1)     Murmur3 of the UTF-8 bytes
date            days since 1970-01-01                     Murmur3 of the 4 big-endian day bytes
array<T>        ``r = 31 * r + hash(elem)``               same, with v2 element hashes
map<K,V>        ``sum(hash(k) ^ hash(v))``                ``sum(hash_v2(k) ^ hash_v1(v))``
==============  ========================================  ==========================================

The odd v2 float/double rows and the v1 value hash inside v2 maps are Hive's own quirks, kept on
purpose. Hive's ``Murmur3.hash32`` also sign-extends the 1-3 tail bytes (it does not mask them
with ``0xff``), so for inputs whose tail holds a byte >= 0x80 it differs from textbook Murmur3;
this module reproduces Hive's behaviour. Python values: ``int``, ``float``, ``bool``, ``str``,
``datetime.date`` (or an int day count) for date, a sequence for array, and a dict or a sequence
of ``(key, value)`` pairs for map (pairs allow list-valued keys). Not supported (``ValueError``): char, binary, decimal,
timestamp, interval, struct and union types.

Bucket files are named ``000003_0`` (6-digit zero-padded bucket id, ``_``, a numeric task/attempt
suffix), the form Hive itself writes; Hive maps a file to a bucket with the regular expression
``^(0*([0-9]+))_([0-9]+).*`` (``Utilities.getBucketIdFromFile``), and ACID files ``bucket_00003``.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
import struct
from typing import Any, Sequence

__all__ = [
    "MURMUR3_SEED",
    "murmur3_hash32",
    "parse_hive_type",
    "hash_v1",
    "hash_v2",
    "bucket_hash_code",
    "bucket_number",
    "bucket_id",
    "bucket_file_name",
    "bucket_id_from_file_name",
]

MURMUR3_SEED = 104729  # org.apache.hive.common.util.Murmur3.DEFAULT_SEED

_M32 = 0xFFFFFFFF
_C1, _C2 = 0xCC9E2D51, 0x1B873593
_EPOCH = _dt.date(1970, 1, 1)
_INT_RANGES = {
    "tinyint": 8,
    "smallint": 16,
    "int": 32,
    "bigint": 64,
}


def _s32(x: int) -> int:
    """Wrap an integer to a Java ``int`` (32-bit two's complement)."""
    x &= _M32
    return x - (1 << 32) if x & 0x80000000 else x


def _rotl32(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & _M32


def _mix_k(k: int) -> int:
    return (_rotl32((k * _C1) & _M32, 15) * _C2) & _M32


def murmur3_hash32(data: bytes, seed: int = MURMUR3_SEED) -> int:
    """Hive's ``Murmur3.hash32(byte[], int, int seed)``: a signed 32-bit int.

    Tail bytes are sign-extended as in Hive's Java source (``data[i] << 16`` on a signed byte).
    """
    h = seed & _M32
    n = len(data)
    nblocks = n >> 2
    for i in range(0, nblocks << 2, 4):
        h ^= _mix_k(int.from_bytes(data[i:i + 4], "little"))
        h = (_rotl32(h, 13) * 5 + 0xE6546B64) & _M32
    idx = nblocks << 2
    rem = n - idx
    if rem:
        k1 = 0
        for j in range(rem - 1, -1, -1):  # case 3 -> 2 -> 1 fall-through
            b = data[idx + j]
            signed = b - 256 if b >= 128 else b
            k1 ^= (signed << (8 * j)) & _M32
        h ^= _mix_k(k1)
    h ^= n
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _M32
    h ^= h >> 16
    return _s32(h)


# --- Hive type strings -------------------------------------------------------------------------

def parse_hive_type(type_str: str) -> Any:
    """Parse a Hive type string: a primitive name (``'int'``, ``'varchar'``), or
    ``('array', elem)`` / ``('map', key, value)`` tuples. ``varchar(10)`` becomes ``'varchar'``."""
    s = type_str.replace(" ", "").lower()
    node, pos = _parse_at(s, 0)
    if pos != len(s):
        raise ValueError(f"trailing text in Hive type {type_str!r}")
    return node


_TYPE_NAME = re.compile(r"[a-z_]+")


def _parse_at(s: str, pos: int) -> tuple[Any, int]:
    m = _TYPE_NAME.match(s, pos)
    if not m:
        raise ValueError(f"bad Hive type {s!r} at {pos}")
    name, pos = m.group(), m.end()
    if name in ("array", "map"):
        if s[pos:pos + 1] != "<":
            raise ValueError(f"{name} needs <...> in {s!r}")
        first, pos = _parse_at(s, pos + 1)
        if name == "map":
            if s[pos:pos + 1] != ",":
                raise ValueError(f"map needs key,value in {s!r}")
            second, pos = _parse_at(s, pos + 1)
        if s[pos:pos + 1] != ">":
            raise ValueError(f"unclosed {name}< in {s!r}")
        return (("array", first) if name == "array" else ("map", first, second)), pos + 1
    if s[pos:pos + 1] == "(":  # varchar(10), char(3), decimal(10,2): parameters ignored
        end = s.index(")", pos)
        pos = end + 1
    return name, pos


# --- per-column hashes -------------------------------------------------------------------------

def _check_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} value must be an int, got {type(value).__name__}")
    bits = _INT_RANGES[name]
    if not -(1 << (bits - 1)) <= value < (1 << (bits - 1)):
        raise ValueError(f"{value} is out of range for {name}")
    return value


def _float_bits(value: float) -> int:
    """``Float.floatToIntBits`` (NaN canonicalised to 0x7fc00000), as a signed int."""
    if math.isnan(value):
        return 0x7FC00000
    return struct.unpack(">i", struct.pack(">f", value))[0]


def _double_bits(value: float) -> int:
    """``Double.doubleToLongBits`` (NaN canonicalised), as a signed long."""
    if math.isnan(value):
        return 0x7FF8000000000000
    return struct.unpack(">q", struct.pack(">d", value))[0]


def _days(value: Any) -> int:
    if isinstance(value, _dt.datetime):
        value = value.date()
    if isinstance(value, _dt.date):
        return (value - _EPOCH).days
    return _check_int(value, "int")


def _fold_long(a: int) -> int:
    a &= 0xFFFFFFFFFFFFFFFF
    return _s32((a >> 32) ^ a)


def _hash(value: Any, t: Any, version: int) -> int:
    if value is None:
        return 0
    if isinstance(t, tuple):
        if t[0] == "array":
            r = 0
            for elem in value:
                r = _s32(31 * r + _hash(elem, t[1], version))
            return r
        r = 0
        pairs = value.items() if hasattr(value, "items") else value  # dict or (key, value) pairs
        for k, v in pairs:  # v2 hashes map values with v1: Hive's own quirk
            r = _s32(r + (_hash(k, t[1], version) ^ _hash(v, t[2], 1)))
        return r
    if t == "boolean":
        return 1 if value else 0
    if t in ("string", "varchar"):
        if not isinstance(value, str):
            raise TypeError(f"{t} value must be a str, got {type(value).__name__}")
        data = value.encode("utf-8")
        if version == 2:
            return murmur3_hash32(data)
        r = 1 if t == "varchar" else 0  # varchar: Text.hashCode (WritableComparator.hashBytes)
        for b in data:
            r = _s32(r * 31 + (b - 256 if b >= 128 else b))
        return r
    if t in _INT_RANGES:
        v = _check_int(value, t)
        if version == 1:
            return _fold_long(v) if t == "bigint" else v
        if t == "tinyint":
            return v
        fmt = {"smallint": ">h", "int": ">i", "bigint": ">q"}[t]
        return murmur3_hash32(struct.pack(fmt, v))
    if t == "float":
        bits = _float_bits(float(value))
        return bits if version == 1 else murmur3_hash32(struct.pack(">f", float(bits)))
    if t == "double":
        bits = _double_bits(float(value))
        return _fold_long(bits) if version == 1 else murmur3_hash32(struct.pack(">d", float(bits)))
    if t == "date":
        days = _days(value)
        return days if version == 1 else murmur3_hash32(struct.pack(">i", days))
    raise ValueError(f"bucket hashing of Hive type {t!r} is not supported")


def hash_v1(value: Any, hive_type: str) -> int:
    """Hive's bucketing-version-1 hash of one value (``ObjectInspectorUtils.hashCode``)."""
    return _hash(value, parse_hive_type(hive_type), 1)


def hash_v2(value: Any, hive_type: str) -> int:
    """Hive's bucketing-version-2 hash of one value (``ObjectInspectorUtils.hashCodeMurmur``)."""
    return _hash(value, parse_hive_type(hive_type), 2)


def bucket_hash_code(values: Sequence[Any], hive_types: Sequence[str],
                     bucketing_version: int = 2) -> int:
    """Hash of a row's bucketing columns (``getBucketHashCode`` / ``getBucketHashCodeOld``)."""
    if bucketing_version not in (1, 2):
        raise ValueError(f"bucketing_version must be 1 or 2, got {bucketing_version!r}")
    if len(values) != len(hive_types):
        raise ValueError(f"{len(values)} values but {len(hive_types)} types")
    h = 0
    for value, t in zip(values, hive_types):
        h = _s32(31 * h + _hash(value, parse_hive_type(t), bucketing_version))
    return h


def bucket_number(hash_code: int, num_buckets: int) -> int:
    """``(hash_code & 0x7fffffff) % num_buckets``, Hive's ``getBucketNumber``."""
    if num_buckets < 1:
        raise ValueError(f"num_buckets must be >= 1, got {num_buckets}")
    return (hash_code & 0x7FFFFFFF) % num_buckets


def bucket_id(values: Sequence[Any], hive_types: Sequence[str], num_buckets: int,
              bucketing_version: int = 2) -> int:
    """The bucket (0-based) Hive puts a row in, given its bucketing column values and types."""
    return bucket_number(bucket_hash_code(values, hive_types, bucketing_version), num_buckets)


# --- bucket file names -------------------------------------------------------------------------

_BUCKET_FILE = re.compile(r"(0*([0-9]+))_([0-9]+).*", re.ASCII)
_ACID_BUCKET_FILE = re.compile(r"bucket_([0-9]+)(_[0-9]+)?", re.ASCII)
_JAVA_INT_MAX = 0x7FFFFFFF


def bucket_file_name(bucket: int, suffix: str = "0") -> str:
    """File name Hive maps to ``bucket``: ``f"{bucket:06d}_{suffix}"``, e.g. ``000003_0``.

    ``suffix`` must start with a digit (Hive's pattern needs ``_<digits>`` after the id); it is
    usually the task attempt (``"0"``), optionally followed by more, e.g. ``"0_copy_1"``.
    """
    if isinstance(bucket, bool) or not isinstance(bucket, int) or not 0 <= bucket <= _JAVA_INT_MAX:
        raise ValueError(f"bucket must be an int in [0, 2^31), got {bucket!r}")
    if not re.match(r"[0-9]", suffix, re.ASCII) or "/" in suffix:
        raise ValueError(f"suffix must start with a digit and hold no '/', got {suffix!r}")
    return f"{bucket:06d}_{suffix}"


def bucket_id_from_file_name(name: str) -> int:
    """Bucket id Hive reads from a file name (``Utilities.getBucketIdFromFile``), or -1.

    ``000003_0`` and ``3_0_copy_2`` give 3; ACID ``bucket_00003`` gives 3; anything else -1.
    Only the last path component is looked at.
    """
    base = name.rsplit("/", 1)[-1]
    m = _BUCKET_FILE.fullmatch(base)
    if m:
        value = int(m.group(2))
    else:
        m = _ACID_BUCKET_FILE.fullmatch(base)
        if not m:
            return -1
        value = int(m.group(1))
    if value > _JAVA_INT_MAX:  # Integer.parseInt would throw
        raise ValueError(f"bucket id in {name!r} does not fit a Java int")
    return value
