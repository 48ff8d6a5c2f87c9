"""De-identification without an engine: the Table E.1-1 data, the policy, keys and pseudonyms."""

import datetime as dt
import hashlib
import hmac
import os
import stat

import pytest

from mi_warehouse.config import load_settings
from mi_warehouse.errors import ConfigError
from mi_warehouse.loaders.deid import DeidPolicy, Keys, key_fingerprint, load_key, shift_date_text
from mi_warehouse.loaders.deid.policy import parse_options, parse_safe_private
from mi_warehouse.loaders.deid.profile import action, edition, resolve, table

SPOT_CHECKS = {  # PS3.15 2024b Table E.1-1: tag -> (Basic Profile action, options that change it)
    "(0010,0010)": ("Z", {}),  # Patient's Name
    "(0008,0050)": ("Z", {}),  # Accession Number
    "(0010,0030)": ("Z", {}),  # Patient's Birth Date
    "(0010,0020)": ("Z/D", {}),  # Patient ID
    "(0400,0561)": ("X", {}),  # Original Attributes Sequence
    "(0008,1052)": ("X", {}),  # Performing Physician Identification Sequence
    "(0018,1030)": ("X/D", {"clean_descriptors": "C"}),  # Protocol Name
    "(0008,1030)": ("X", {"clean_descriptors": "C"}),  # Study Description
    "(0008,103E)": ("X", {"clean_descriptors": "C"}),  # Series Description
    "(0018,4000)": ("X", {"clean_descriptors": "C"}),  # Acquisition Comments
    "(0020,000D)": ("U", {"retain_uids": "K"}),  # Study Instance UID
    "(0008,0020)": ("Z", {"retain_long_full_dates": "K", "retain_long_modified_dates": "C"}),  # Study Date
    "(0010,1010)": ("X", {"retain_patient_characteristics": "K"}),  # Patient's Age
    "(0010,0040)": ("Z", {"retain_patient_characteristics": "K"}),  # Patient's Sex
    "(0010,0021)": ("X", {}),  # Issuer of Patient ID
    "(0040,1101)": ("D", {}),  # Person Identification Code Sequence
    "(0040,A730)": ("D", {"clean_structured_content": "C"}),  # Content Sequence
    "(0008,1140)": ("X/Z/U*", {"retain_uids": "K"}),  # Referenced Image Sequence
    "(50xx,xxxx)": ("X", {"clean_graphics": "C"}),  # Curve Data
    "(60xx,3000)": ("X", {"clean_graphics": "C"}),  # Overlay Data
    "(gggg,eeee)": ("X", {"retain_safe_private": "C"}),  # Private Attributes
}


def test_the_table_has_the_standards_rows_and_actions():
    rows = {r.tag: r for r in table()}
    assert edition() == "2024b"
    assert 600 <= len(rows) == len(table())  # every row once
    for tag, (basic, options) in SPOT_CHECKS.items():
        assert (rows[tag].basic, rows[tag].options) == (basic, options), tag
    assert {r.basic for r in table()} <= {"D", "Z", "X", "U", "Z/D", "X/Z", "X/D", "X/Z/D", "X/Z/U*"}
    assert {a for r in table() for a in r.options.values()} == {"K", "C"}


def test_actions_resolve_under_the_options_in_force():
    rows = {r.tag: r for r in table()}
    basic = ()
    assert action(rows["(0018,1030)"], basic) == "X"  # X/D: removal is the protective choice
    assert action(rows["(0018,1030)"], ("clean_descriptors",)) == "C"
    assert action(rows["(0008,1140)"], basic) == "X" and action(rows["(0008,1140)"], ("retain_uids",)) == "K"
    # a later option wins: calibration dates shift under Modified Dates even with Retain Device Identity
    cal = rows["(0018,1200)"]
    assert action(cal, ("retain_device_identity",)) == "K"
    assert action(cal, ("retain_device_identity", "retain_long_modified_dates")) == "C"
    r = resolve(DeidPolicy())
    assert r.exact[0x00100010] == "Z" and r.exact[0x04000561] == "X" and r.exact[0x00181030] == "C"
    assert r.exact[0x00101010] == "C"  # K on an age: C, capped at 90
    assert r.exact[0x00080030] == "K"  # StudyTime: C under Modified Dates, a time of day stays
    assert r.overlay == {0x3000: "X", 0x4000: "X"} and r.curve == "X" and r.private == "C"
    none = resolve(DeidPolicy(options=()))
    assert none.exact[0x0020000D] == "U" and none.exact[0x00081030] == "X" and none.private == "X"
    assert none.exact[0x00100040] == "Z" and none.unlisted == {"PN": "D"}


def test_policy_codes_text_and_validation():
    p = DeidPolicy()
    assert p.method_codes()[0] == ("113100", "Basic Application Confidentiality Profile")
    assert {c for c, _ in p.method_codes()} == {"113100", "113110", "113107", "113108", "113105", "113111"}
    assert len(p.method_text()) <= 64 and "2024b" in p.summary() and "113107" in p.summary()
    assert p.dates == "MODIFIED" and DeidPolicy(options=("retain_long_full_dates",)).dates == "UNMODIFIED"
    assert DeidPolicy(options=()).dates == "REMOVED"
    assert parse_options("clean_descriptors, retain_uids") == ("retain_uids", "clean_descriptors")
    with pytest.raises(ConfigError, match="unknown option"):
        parse_options(["retain_everything"])
    with pytest.raises(ConfigError, match="not both"):
        parse_options(["retain_long_full_dates", "retain_long_modified_dates"])
    assert parse_safe_private("0029,xx10,SIEMENS CSA HEADER") == ((0x0029, "SIEMENS CSA HEADER", 0x10),)
    for bad in ("0028,xx10,EVEN GROUP", "00291010", "0029,1010,NOT OFFSET"):
        with pytest.raises(ConfigError, match="safe_private"):
            parse_safe_private(bad)


def test_deid_settings_come_from_the_toml_and_the_environment(tmp_path):
    (tmp_path / "mi-warehouse.toml").write_text(
        '[deid]\noptions = ["retain_uids", "clean_descriptors"]\nsafe_private = ["0029,xx10,ACME 1"]\n')
    s = load_settings(tmp_path, env={})
    assert s.deid_options == ("retain_uids", "clean_descriptors")
    policy = DeidPolicy.from_settings(s, private_allow=("00091001",))
    assert policy.safe_private == ((0x29, "ACME 1", 0x10),) and policy.private_tags == {0x00091001}
    s = load_settings(tmp_path, env={"MIW_DEID_OPTIONS": "retain_uids,retain_long_modified_dates"})
    assert s.deid_options == ("retain_uids", "retain_long_modified_dates")
    assert "deid_options" in s.public_dict()
    with pytest.raises(ConfigError, match="unknown option"):
        load_settings(tmp_path, env={"MIW_DEID_OPTIONS": "keep_names"})


def test_key_file_is_created_private_and_reused(tmp_path):
    p = tmp_path / "k" / "deid.key"
    k1 = load_key(p)
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o600 and len(k1) == 32
    assert load_key(p) == k1
    p.write_text("short")
    with pytest.raises(ConfigError, match="64 hex digits"):
        load_key(p)


def test_keyed_derivations_are_hmac_sha256_and_never_show_the_key():
    key = bytes(range(32))
    k = Keys(key)
    # unchanged since the first release: existing data keeps its patient keys and date shifts
    assert k.pseudonym("patient", " P1 ") == hmac.new(key, b"patient\x00P1", hashlib.sha256).hexdigest()[:32]
    assert k.patient_key("P1") == k.patient_key("P1", "") == k.pseudonym("patient", "P1")
    mac = hmac.new(key, b"dateshift\x00P1", hashlib.sha256).digest()
    assert k.date_shift_days("P1") == -(1 + int.from_bytes(mac[:4], "big") % 365)
    long_key = bytes(range(100))  # longer than a SHA-256 block: hashed first, as RFC 2104 says
    assert Keys(long_key).pseudonym("x", "v") == hmac.new(long_key, b"x\x00v", hashlib.sha256).hexdigest()[:32]
    assert k.pseudonym("patient", "P1") != Keys(b"\x02" * 32).pseudonym("patient", "P1")
    assert k.pseudonym("patient", "P1") != k.pseudonym("accession", "P1")
    assert k.pseudonym("patient", "  ") is None
    assert key.hex()[:8] not in repr(k)
    shifts = {k.date_shift_days(f"P{i}") for i in range(200)}
    assert min(shifts) >= -365 and max(shifts) <= -1 and len(shifts) > 100
    uid = k.uid("1.2.3")
    assert uid.startswith("2.25.") and len(uid) <= 64 and uid == k.uid("1.2.3") != k.uid("1.2.4")


def test_the_issuer_of_patient_id_makes_two_patients():
    k = Keys(b"\x05" * 32)
    a, b = k.patient_key("12345", "HOSPITAL A"), k.patient_key("12345", "HOSPITAL B")
    assert len({a, b, k.patient_key("12345")}) == 3
    shifts = {(k.date_shift_days(f"P{i}", "A"), k.date_shift_days(f"P{i}", "B")) for i in range(50)}
    assert sum(x != y for x, y in shifts) > 40


def test_key_fingerprint_is_keyed_and_is_not_the_key():
    key = b"\x09" * 32
    fp = key_fingerprint(key)
    assert fp == key_fingerprint(key) != key_fingerprint(b"\x0a" * 32)
    digits = fp.split(":")[-1]
    assert len(digits) == 16 and digits not in key.hex() and hashlib.sha256(key).hexdigest()[:16] != digits


def test_dates_shift_or_go_never_pass_through():
    d = dt.timedelta(days=-1)
    assert shift_date_text("20240101", d) == "20231231"
    assert shift_date_text("2024.01.01", d) == "20231231"  # ACR-NEMA spelling
    assert shift_date_text("20240101101500.5+0100", d, "DT") == "20231231101500.5+0100"
    assert shift_date_text("202403", dt.timedelta(days=-20), "DT") == "202402"
    for bad in ("2024-99-99 secret", "2024-03-15", "20241399", "2024", "20240101 MRN123"):
        assert shift_date_text(bad, d) is None, bad
    assert shift_date_text("20240101 secret", d, "DT") is None
