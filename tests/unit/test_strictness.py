"""One strictness setting decides what fails a file, what only warns, and what stops the run."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file

from mi_warehouse.config import load_settings
from mi_warehouse.errors import ConfigError
from mi_warehouse.loaders import strictness
from mi_warehouse.loaders.extract import extract

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "mi_warehouse" / "loaders"


def _bad_date() -> bytes:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds["StudyDate"].value = "2024-13-45"  # not a DA
    buf = io.BytesIO()
    ds.save_as(buf)
    return buf.getvalue()


def _stray_bytes() -> bytes:
    """pydicom's own no_meta.dcm: no preamble or file meta, and a stray byte before its first element."""
    return Path(get_testdata_file("no_meta.dcm")).read_bytes()


def _extract(data: bytes, level: str):
    return extract("file:///x.dcm", io.BytesIO(data), len(data), None, "run", strictness=level)


@pytest.mark.parametrize("level", strictness.LEVELS)
def test_an_invalid_value_warns_unless_strict(level):
    o = _extract(_bad_date(), level)
    if level == "strict":
        assert o.row is None and o.error_class == "invalid_value"
        assert "StudyDate" in o.message and "(strictness = strict)" in o.message
        assert "2024-13-45" not in o.message  # the value is never quoted
    else:
        assert o.row is not None and o.row["study_date"] is None
        assert [strictness.warning_class(w)[0] for w in o.warnings] == ["invalid_value"]


@pytest.mark.parametrize("level", strictness.LEVELS)
def test_stray_bytes_are_their_own_class(level):
    o = _extract(_stray_bytes(), level)
    if level == "strict":
        assert o.error_class == "stray_bytes"
    else:
        assert o.row is not None, o.message
        assert ("stray_bytes" in {strictness.warning_class(w)[0] for w in o.warnings})


def test_the_level_sets_missing_patient_id_unless_it_is_set():
    assert load_settings(ROOT, env={}).strictness == "default"
    assert load_settings(ROOT, env={}).missing_patient_id == "reject"
    assert load_settings(ROOT, env={"MIW_STRICTNESS": "lenient"}).missing_patient_id == "surrogate"
    assert load_settings(ROOT, env={"MIW_STRICTNESS": "lenient",
                                    "MIW_MISSING_PATIENT_ID": "reject"}).missing_patient_id == "reject"
    with pytest.raises(ConfigError, match=r"\[loader\] strictness 'loose' is not one of lenient, default, strict"):
        load_settings(ROOT, env={"MIW_STRICTNESS": "loose"})


def test_every_failure_class_the_loader_writes_has_a_rule():
    """Read the loader's source for the classes it can write: each must be in RULES."""
    written = set()
    for path in SRC.rglob("*.py"):
        text = path.read_text()
        written |= set(re.findall(r'Rejected\(\s*"(\w+)"', text))
        written |= set(re.findall(r'error_class="(\w+)"', text))
        written |= set(re.findall(r'warnings\.append\(\(\s*"(\w+)"', text))
        written |= set(re.findall(r'error_row\(f, "(\w+)"', text))
    assert written, "the patterns found nothing: the test would pass vacuously"
    assert written - set(strictness.RULES) == set()


def test_config_shows_the_rules_in_force():
    shown = load_settings(ROOT, env={"MIW_STRICTNESS": "strict"}).public_dict()["strictness"]
    assert shown.startswith("strict (")
    assert "warning" not in shown.split("fatal:")[0]  # strict: nothing only warns
    for name in (*strictness.RULES, *strictness.FATAL):
        assert name in shown
