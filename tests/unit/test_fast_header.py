"""The fast header reader (serde/fast_header.py) gives the loader exactly what the pydicom path gives:
the same row (header_json included), the same warnings, the same error class and message, over
every file pydicom ships for its tests, the synthetic corpora (normal, every transfer syntax the
generator writes, and hostile) and files cut at many places."""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import pytest
from pydicom.data import get_testdata_files

from mi_warehouse.loaders import extract as ex
from mi_warehouse.loaders.deid import DeidPolicy, Deidentifier
from mi_warehouse.serde import fast_header

KEY = bytes(range(32))
DEID = Deidentifier(KEY)


def _outcome(path: str, data: bytes, deid, fast: bool, **kw):
    real = fast_header.read
    if not fast:
        fast_header.read = lambda fp, size, private=None: None  # what extract() does when the fast reader declines
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            o = ex.extract("file://" + path, io.BytesIO(data), len(data), deid, "run-1", keep_phi=True, **kw)
    finally:
        fast_header.read = real
    return o.row, o.error_class, o.message, o.warnings, o.phi


def _same(path: str, data: bytes | None = None, **kw) -> bool:
    """Both paths agree for `path` (with and without de-identification); True if the fast one read it."""
    data = open(path, "rb").read() if data is None else data
    for deid in (None, DEID):
        fast, slow = _outcome(path, data, deid, True, **kw), _outcome(path, data, deid, False, **kw)
        assert fast == slow, f"{os.path.basename(path)} (deid={deid is not None}): fast path differs"
    return fast_header.read(io.BytesIO(data), len(data)) is not None


PYDICOM_FILES = sorted(p for p in get_testdata_files() if os.path.isfile(p))
BUNDLED = {os.path.basename(p): p for p in PYDICOM_FILES}  # get_testdata_file would download the others


def test_every_pydicom_test_file_gives_the_same_outcome_on_both_paths():
    fast = [p for p in PYDICOM_FILES if _same(p, missing_patient_id="surrogate")]
    # the fast reader must take the common files, or it speeds nothing up
    names = {os.path.basename(p) for p in fast}
    assert {"CT_small.dcm", "MR_small.dcm"} <= names
    assert len(fast) >= len(PYDICOM_FILES) // 2, f"fast path took only {len(fast)} of {len(PYDICOM_FILES)}"


@pytest.mark.parametrize("level", ["lenient", "strict"])
def test_strictness_levels_agree(level):
    for name in ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "ExplVR_BigEnd.dcm", "no_meta.dcm"):
        _same(BUNDLED[name], strictness=level, missing_patient_id="reject")


def test_files_cut_anywhere_are_classified_as_pydicom_classifies_them():
    for name in ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm"):
        path = BUNDLED[name]
        data = open(path, "rb").read()
        step = max(1, min(len(data), 3000) // 60)
        for cut in list(range(0, min(len(data), 3000), step)) + [len(data) - 1, len(data) - 100]:
            _same(path, data[:cut])


def test_bytes_changed_in_the_header_give_the_same_outcome():
    """Damage the fast reader must notice (a wrong VR, a length that overruns) ends as pydicom says."""
    path = BUNDLED["CT_small.dcm"]
    data = open(path, "rb").read()
    for at in range(140, 1400, 37):
        for byte in (0x00, 0xFF, 0x55):
            _same(path, data[:at] + bytes([byte]) + data[at + 1:])


def test_synthetic_corpora_in_every_transfer_syntax(tmp_path):
    from mi_warehouse.synth import generate
    from mi_warehouse.synth.encode import SYNTAXES, EncoderMissing

    for syntax in SYNTAXES:
        out = tmp_path / syntax
        try:
            generate(out, 2, seed=11, image_size=64, transfer_syntax=syntax)
        except EncoderMissing:
            continue  # an optional encoder not installed: the other syntaxes still cover the reader
        files = sorted(out.rglob("*.dcm"))
        assert files
        assert all(_same(str(f)) for f in files), f"{syntax}: the fast reader declined a synthetic file"


def test_hostile_corpus(tmp_path):
    from mi_warehouse.synth.hostile import generate_hostile

    corpus = generate_hostile(tmp_path / "h", patients=4, seed=5)
    for f in corpus.files:
        _same(str(f), missing_patient_id="surrogate")


def test_sequences_come_back_as_lists_of_elements():
    path = BUNDLED["rtplan.dcm"]
    data = Path(path).read_bytes()
    h = fast_header.read(io.BytesIO(data), len(data))
    assert h is not None
    sequences = [(tag, value) for tag, vr, value in h.top if vr == "SQ"]
    assert sequences and all(isinstance(item, list) for _, v in sequences for item in v)
    tags = [t for t, _, _ in h.top]
    assert tags == sorted(tags)


def test_declines_what_it_does_not_read():
    """No preamble, deflate, big endian with an implicit-looking data set: left to pydicom."""
    for name in ("no_meta.dcm", "image_dfl.dcm"):
        data = Path(BUNDLED[name]).read_bytes()
        assert fast_header.read(io.BytesIO(data), len(data)) is None


@pytest.mark.parametrize("policy", [
    # the GE private blocks of CT_small: some kept by creator, one by literal tag, the rest skipped unread
    DeidPolicy(safe_private=((0x0009, "GEMS_IDEN_01", 0x04), (0x0043, "GEMS_PARM_01", 0x27),
                             (0x0019, "GEMS_ACQU_01", 0x2A)), private_tags=frozenset({0x00091027})),
    DeidPolicy(options=()),  # no Retain Safe Private: every private attribute goes
], ids=["safe-private", "no-options"])
def test_private_attributes_skipped_unread_are_those_the_deidentifier_drops(policy):
    deid = Deidentifier(KEY, policy)
    for name in ("CT_small.dcm", "MR_small.dcm", "nested_priv_SQ.dcm", "priv_SQ.dcm", "rtplan.dcm"):
        data = Path(BUNDLED[name]).read_bytes()
        fast, slow = (_outcome(BUNDLED[name], data, deid, f) for f in (True, False))
        assert fast == slow, name
    row = _outcome(BUNDLED["CT_small.dcm"], Path(BUNDLED["CT_small.dcm"]).read_bytes(), deid, True)[0]
    if policy.private_tags:  # the kept ones are there, with their creator
        assert '"00091027"' in row["header_json"] and '"00090010"' in row["header_json"]
    else:
        assert '"0009' not in row["header_json"]
