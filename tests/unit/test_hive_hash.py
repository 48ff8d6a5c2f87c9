"""Hive bucket hashing: published vectors (Trino's TestHiveBucketing, checked there against Hive's
own ObjectInspectorUtils) and properties."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mi_warehouse.serde.hive_hash import (
    bucket_file_name,
    bucket_hash_code,
    bucket_id,
    bucket_id_from_file_name,
    bucket_number,
    hash_v1,
    hash_v2,
    murmur3_hash32,
    parse_hive_type,
)

settings.register_profile("hive_hash", max_examples=200, deadline=None)
settings.load_profile("hive_hash")

CJK = "\u5f3a\u5927\u7684Trino\u5f15\u64ce"  # 3-byte UTF-8 sequences
PLANE2 = "\U00020FFC\U00020FFD\U00020FFE\U00020FFF"  # 4-byte UTF-8 sequences

# (type, value, v1, v2)
VECTORS = [
    ("string", "Trino rocks", 1132136730, -399107423),
    ("string", "", 0, -965378730),
    ("string", None, 0, 0),
    ("string", "test string", -318923937, -138301454),
    ("string", CJK, 1688501507, 1784416344),
    ("string", PLANE2, -1810797254, -697348811),
    ("varchar(15)", "", 1, -965378730),
    ("varchar(15)", "test string", -189841218, -138301454),
    ("varchar(15)", CJK, 1899852420, 1784416344),
    ("varchar(15)", PLANE2, -457487557, -697348811),
    ("boolean", True, 1, 1),
    ("boolean", False, 0, 0),
    ("tinyint", 5, 5, 5),
    ("tinyint", -128, -128, -128),
    ("smallint", 300, 300, 2107031704),
    ("smallint", -32768, -32768, 1342976838),
    ("smallint", 32767, 32767, -684075052),
    ("int", 300_000, 300000, -678663480),
    ("int", -(2**31), -(2**31), 1194881028),
    ("int", 2**31 - 1, 2**31 - 1, 1133859967),
    ("int", None, 0, 0),
    ("bigint", 300_000_000_000, -647710651, -888935297),
    ("bigint", -(2**63), -(2**31), 1728983947),
    ("bigint", 2**63 - 1, -(2**31), -536577852),
    ("float", 12.34, 1095069860, -381747602),
    ("float", -3.4028234663852886e38, -8388609, 470252243),
    ("float", 1.401298464324817e-45, 1, 1206721797),
    ("float", float("inf"), 2139095040, -292175804),
    ("float", float("-inf"), -8388608, -1433270801),
    ("float", float("nan"), 2143289344, -480354314),
    ("double", 12.34, 986311098, -2070733568),
    ("double", -1.7976931348623157e308, 1048576, 14392725),
    ("double", 5e-324, 1, -8838199),
    ("double", float("inf"), 2146435072, 1614292060),
    ("double", float("-inf"), -1048576, 141388605),
    ("double", float("nan"), 2146959360, 1138026565),
    ("date", dt.date(1970, 1, 1), 0, 1362653161),
    ("date", dt.date(2015, 11, 19), 16758, 8542395),
    ("date", dt.date(1950, 11, 19), -6983, -431619185),
    ("array<double>", None, 0, 0),
    ("array<boolean>", [], 0, 0),
    ("array<smallint>", [5, 8, 13], 5066, -905011156),
    ("array<string>", ["test1", "test2", "test3", "test4"], 957612994, 1305539282),
    ("array<array<bigint>>", [[10, 20], [-10, -20], [None]], 326368, 611324477),
    ("map<string,bigint>", {"key": 123, "key2": 123456789, "key3": -123456}, 127880789, -1910999650),
    ("map<array<double>,map<int,string>>", [([12.3, 45.7], {123: "test99"})], -34001111, -1565874874),
]


@pytest.mark.parametrize("hive_type,value,v1,v2", VECTORS)
def test_published_vectors(hive_type, value, v1, v2):
    assert hash_v1(value, hive_type) == v1
    assert hash_v2(value, hive_type) == v2
    assert bucket_hash_code([value], [hive_type], bucketing_version=1) == v1
    assert bucket_hash_code([value], [hive_type], bucketing_version=2) == v2


def test_required_vectors_explicitly():
    assert hash_v1("Trino rocks", "string") == 1132136730
    assert hash_v2("Trino rocks", "string") == -399107423
    assert hash_v2("", "string") == -965378730
    assert hash_v2(300000, "int") == -678663480
    assert hash_v1("", "string") == 0


def test_trino_rocks_buckets_match_hive_file_names():
    # Hive puts 'Trino rocks' in 000002_0 (v1) / 000001_0 (v2) of a 4-bucket table.
    assert bucket_id(["Trino rocks"], ["string"], 4, bucketing_version=1) == 2
    assert bucket_id(["Trino rocks"], ["string"], 4, bucketing_version=2) == 1
    assert bucket_number(1132136730, 4) == 2
    assert bucket_number(-399107423, 4) == 1


def test_multiple_bucketing_columns():
    types = ["float", "array<smallint>", "map<string,bigint>"]
    values = [12.34, [5, 8, 13], {"key": 123}]
    assert bucket_hash_code(values, types, 1) == 95411006
    assert bucket_hash_code(values, types, 2) == 932898434
    types = ["double", "array<smallint>", "boolean", "map<string,bigint>", "tinyint"]
    values = [None, [5, 8, 13], None, {"key": 123}, None]
    assert bucket_hash_code(values, types, 1) == 154207826
    assert bucket_hash_code(values, types, 2) == -1120812524


def test_multi_column_fold_is_31h_plus_column():
    a, b = hash_v1("x", "string"), hash_v1(7, "int")
    assert bucket_hash_code(["x", 7], ["string", "int"], 1) == 31 * a + b


def _standard_murmur3_32(data: bytes, seed: int) -> int:
    """Textbook Murmur3 x86_32 (tail bytes masked), as a reference for ASCII inputs."""
    m = 0xFFFFFFFF

    def rotl(x, r):
        return ((x << r) | (x >> (32 - r))) & m

    def mixk(k):
        return (rotl((k * 0xCC9E2D51) & m, 15) * 0x1B873593) & m

    h = seed & m
    n = len(data)
    full = n - n % 4
    for i in range(0, full, 4):
        h = (rotl(h ^ mixk(int.from_bytes(data[i:i + 4], "little")), 13) * 5 + 0xE6546B64) & m
    if n % 4:
        h ^= mixk(int.from_bytes(data[full:], "little"))
    h ^= n
    for shift, mult in ((16, 0x85EBCA6B), (13, 0xC2B2AE35)):
        h = ((h ^ (h >> shift)) * mult) & m
    h ^= h >> 16
    return h - (1 << 32) if h & 0x80000000 else h


def test_murmur3_known_seed0_vectors():
    assert murmur3_hash32(b"", 0) == 0
    assert murmur3_hash32(b"hello", 0) & 0xFFFFFFFF == 0x248BFA47
    fox = b"The quick brown fox jumps over the lazy dog"
    assert murmur3_hash32(fox, 0) & 0xFFFFFFFF == 0x2E4FF723


@pytest.mark.parametrize("n", range(0, 9))
def test_murmur3_ascii_tails_match_standard(n):
    data = b"abcdefgh"[:n]
    assert murmur3_hash32(data) == _standard_murmur3_32(data, 104729)
    assert hash_v2(data.decode(), "string") == murmur3_hash32(data)


def test_murmur3_tail_bytes_sign_extended_like_hive():
    # Hive's hash32 does `k1 ^= data[i] << 8` on a signed Java byte, so a tail byte >= 0x80
    # makes it differ from textbook Murmur3; bytes inside full 4-byte blocks are masked.
    for data in (b"\xc3", "\u00e9".encode(), "a\u00e9".encode(), "abcd\u00e9".encode()):
        assert murmur3_hash32(data) != _standard_murmur3_32(data, 104729)
    block_only = "\u00e9\u00e9".encode()  # exactly 4 bytes, no tail
    assert murmur3_hash32(block_only) == _standard_murmur3_32(block_only, 104729)


ascii_text = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=127), max_size=40)


def _java_string_hash(s: str) -> int:
    """java.lang.String.hashCode: 31-polynomial over UTF-16 code units."""
    units = s.encode("utf-16-be")
    h = 0
    for i in range(0, len(units), 2):
        h = (31 * h + int.from_bytes(units[i:i + 2], "big")) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


@given(ascii_text)
def test_v1_string_equals_java_string_hashcode_for_ascii(s):
    assert hash_v1(s, "string") == _java_string_hash(s)


def test_v1_string_differs_from_java_hashcode_for_non_ascii():
    assert hash_v1("é", "string") != _java_string_hash("é")


@given(ascii_text)
def test_hive_murmur3_equals_standard_for_ascii(s):
    data = s.encode()
    assert murmur3_hash32(data) == _standard_murmur3_32(data, 104729)


column = st.one_of(
    st.tuples(st.just("string"), st.one_of(st.none(), st.text(max_size=30))),
    st.tuples(st.just("int"), st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1))),
    st.tuples(st.just("bigint"), st.integers(-(2**63), 2**63 - 1)),
    st.tuples(st.just("double"), st.floats(allow_nan=True)),
    st.tuples(st.just("boolean"), st.booleans()),
    st.tuples(st.just("array<string>"), st.lists(st.text(max_size=5), max_size=4)),
)


@given(st.lists(column, min_size=1, max_size=4), st.integers(1, 4096), st.sampled_from([1, 2]))
def test_bucket_in_range_and_deterministic(cols, num_buckets, version):
    types = [t for t, _ in cols]
    values = [v for _, v in cols]
    b = bucket_id(values, types, num_buckets, bucketing_version=version)
    assert 0 <= b < num_buckets
    assert b == bucket_id(list(values), list(types), num_buckets, bucketing_version=version)
    h = bucket_hash_code(values, types, version)
    assert -(2**31) <= h < 2**31


@given(st.text())
def test_hashes_are_java_ints(s):
    for h in (hash_v1(s, "string"), hash_v2(s, "string"), hash_v1(s, "varchar(10)")):
        assert -(2**31) <= h < 2**31


def test_nan_payloads_hash_like_canonical_nan():
    import struct

    other_nan = struct.unpack(">d", bytes.fromhex("fff8123412341234"))[0]
    assert hash_v2(other_nan, "double") == 1138026565
    assert hash_v1(other_nan, "double") == 2146959360


def test_date_accepts_day_count():
    assert hash_v2(16758, "date") == hash_v2(dt.date(2015, 11, 19), "date") == 8542395


@pytest.mark.parametrize("hive_type,value", [
    ("int", 2**31), ("tinyint", 128), ("bigint", 2**63), ("smallint", -(2**15) - 1),
])
def test_out_of_range_ints_rejected(hive_type, value):
    with pytest.raises(ValueError):
        hash_v1(value, hive_type)


@pytest.mark.parametrize("hive_type", ["timestamp", "decimal(10,2)", "binary", "char(3)"])
def test_unsupported_types_rejected(hive_type):
    with pytest.raises(ValueError):
        hash_v2("x", hive_type)


def test_wrong_python_types_rejected():
    with pytest.raises(TypeError):
        hash_v1(3, "string")
    with pytest.raises(TypeError):
        hash_v1(True, "int")


def test_bad_arguments():
    with pytest.raises(ValueError):
        bucket_hash_code([1], ["int"], bucketing_version=3)
    with pytest.raises(ValueError):
        bucket_hash_code([1, 2], ["int"])
    with pytest.raises(ValueError):
        bucket_number(5, 0)


def test_parse_hive_type():
    assert parse_hive_type("map<string, array<double>>") == ("map", "string", ("array", "double"))
    assert parse_hive_type("VARCHAR(10)") == "varchar"
    assert parse_hive_type("decimal(10,2)") == "decimal"
    for bad in ("array<int", "map<int>", "array<>", "int>"):
        with pytest.raises(ValueError):
            parse_hive_type(bad)


# --- file names --------------------------------------------------------------------------------

def test_bucket_file_name_form():
    assert bucket_file_name(3) == "000003_0"
    assert bucket_file_name(0, "1") == "000000_1"
    assert bucket_file_name(1234567, "0_copy_1") == "1234567_0_copy_1"
    for bad_suffix in ("", "x", "_0", "0/etc"):
        with pytest.raises(ValueError):
            bucket_file_name(1, bad_suffix)
    for bad_bucket in (-1, 2**31, True, 1.0):
        with pytest.raises(ValueError):
            bucket_file_name(bad_bucket)


@pytest.mark.parametrize("name,expected", [
    ("000003_0", 3),
    ("000000_0", 0),
    ("000010_0", 10),
    ("3_0", 3),
    ("000003_0_copy_1", 3),
    ("00003_0_part-00000-abc.c000.parquet", 3),
    ("bucket_00003", 3),
    ("/warehouse/t/000002_0", 2),
    ("part-00000-abc.parquet", -1),
    ("000003", -1),
    ("000003_", -1),
    ("_0", -1),
    ("bucket_", -1),
    ("\u0663_0", -1),  # Arabic-Indic digit: not [0-9]
])
def test_bucket_id_from_file_name(name, expected):
    assert bucket_id_from_file_name(name) == expected


@given(st.integers(0, 2**31 - 1), st.from_regex(r"[0-9]{1,3}(_copy_[0-9])?", fullmatch=True))
def test_file_name_round_trip(bucket, suffix):
    assert bucket_id_from_file_name(bucket_file_name(bucket, suffix)) == bucket
