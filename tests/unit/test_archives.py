"""Zip and gzip containers: walked member by member under `archive!member`, opened back by that name,
and every failure a named error without the path; files without preamble or file meta load."""

from __future__ import annotations

import gzip
import io
import os
import shutil
import zipfile

import pytest
from pydicom.data import get_testdata_file

from mi_warehouse.loaders.extract import extract, raw_start
from mi_warehouse.loaders.sources import iter_files, open_source
from mi_warehouse.serde import archives

MR = get_testdata_file("MR_small.dcm")
CT = get_testdata_file("CT_small.dcm")


def _outcome(f):
    with open_source(f.uri) as fp:
        return extract(f.uri, fp, f.size, None, "run")


@pytest.fixture
def tree(tmp_path):
    z = tmp_path / "PAT4711" / "cine.zip"
    z.parent.mkdir()
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as out:
        out.write(MR, "series1/mr.dcm")
        out.write(CT, "series1/ct.dcm")
        out.writestr("series1/", b"")  # a directory entry
        out.writestr("__MACOSX/series1/._mr.dcm", b"resource fork")  # hidden
        out.writestr("README.txt", b"not an image")
    shutil.copy(get_testdata_file("zipMR.gz"), tmp_path / "zipMR.gz")
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04" + os.urandom(200))
    (tmp_path / "plain.dcm").write_bytes(open(MR, "rb").read())
    return tmp_path


def test_members_are_walked_under_archive_uris(tree):
    files = {f.uri: f for f in iter_files([str(tree)])}
    zip_uri = (tree / "PAT4711" / "cine.zip").as_uri()
    gz_uri = (tree / "zipMR.gz").as_uri()
    assert set(files) == {zip_uri + "!series1/mr.dcm", zip_uri + "!series1/ct.dcm", zip_uri + "!README.txt",
                          gz_uri + "!zipMR", (tree / "broken.zip").as_uri(), (tree / "plain.dcm").as_uri()}
    assert files[zip_uri + "!series1/mr.dcm"].size == os.path.getsize(MR)
    assert files[gz_uri + "!zipMR"].size == os.path.getsize(MR)  # the uncompressed size
    mtime = os.stat(tree / "PAT4711" / "cine.zip").st_mtime_ns
    assert {f.mtime_ns for u, f in files.items() if u.startswith(zip_uri)} == {mtime}
    assert files == {f.uri: f for f in iter_files([str(tree)])}  # stable: the ledger keys on them


def test_members_load_and_the_rest_is_classified(tree):
    out = {f.uri.rsplit("/", 1)[-1]: _outcome(f) for f in iter_files([str(tree)])}
    assert out["mr.dcm"].row["sop_instance_uid"] == out["plain.dcm"].row["sop_instance_uid"]
    assert out["ct.dcm"].row is not None and out["zipMR.gz!zipMR"].row is not None
    assert out["cine.zip!README.txt"].error_class == "not_dicom"
    broken = out["broken.zip"]
    assert broken.error_class == "corrupt" and "zip" in broken.message and "broken" not in broken.message


def test_split_and_name_member_uris():
    assert archives.split_member("file:///d/a.ZIP!x/y.dcm") == ("file:///d/a.ZIP", "x/y.dcm")
    assert archives.split_member("hdfs://nn/d/s.gz!s") == ("hdfs://nn/d/s.gz", "s")
    assert archives.split_member("file:///d/a.dcm") is None
    assert archives.is_archive("file:///d/a.zip") and not archives.is_archive("file:///d/a.zip!b.gz")
    assert archives.member_uri("file:///d/a.zip", "b/c.dcm") == "file:///d/a.zip!b/c.dcm"


def test_missing_or_encrypted_members_are_named_errors_without_the_name(tmp_path):
    z = tmp_path / "a.zip"
    with zipfile.ZipFile(z, "w") as out:
        out.writestr("PAT4711.dcm", b"x")
    with pytest.raises(archives.ArchiveError) as e:
        open_source(z.as_uri() + "!PAT0815.dcm")
    assert "PAT0815" not in str(e.value)
    with pytest.raises(OSError):  # the load's `unreadable`, not a crash
        open_source((tmp_path / "a.gz").as_uri() + "!a")
    raw = bytearray(z.read_bytes())
    raw[6] |= 0x01  # the "encrypted" flag, in the local header and the central directory
    raw[raw.index(b"PK\x01\x02") + 8] |= 0x01
    z.write_bytes(bytes(raw))
    with pytest.raises(archives.ArchiveError) as e:
        open_source(z.as_uri() + "!PAT4711.dcm")
    assert "encrypted" in str(e.value) and "PAT4711" not in str(e.value)


def test_a_cut_gzip_member_is_truncated(tmp_path):
    data = gzip.compress(open(MR, "rb").read())
    cut = tmp_path / "cut.gz"
    cut.write_bytes(data[: len(data) // 2])
    [f] = iter_files([str(cut)])
    o = _outcome(f)
    assert f.uri.endswith("cut.gz!cut") and o.row is None and o.error_class == "truncated"


def test_a_zip_member_with_bad_data_is_corrupt_and_the_others_load(tmp_path):
    z = tmp_path / "a.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_STORED) as out:
        out.write(MR, "PAT4711/mr.dcm")
        out.write(CT, "ct.dcm")
    raw = bytearray(z.read_bytes())
    raw[raw.index(b"PAT4711/mr.dcm") + 14 + 4000] ^= 0xFF  # a pixel byte: the CRC no longer matches
    z.write_bytes(bytes(raw))
    out = {f.uri.rsplit("!", 1)[-1]: _outcome(f) for f in iter_files([str(z)])}
    bad = out["PAT4711/mr.dcm"]
    assert bad.error_class == "corrupt" and "CRC" in bad.message and "PAT4711" not in bad.message
    assert out["ct.dcm"].row is not None


def test_a_bad_gzip_and_an_empty_zip_are_one_error_each(tmp_path):
    (tmp_path / "fake.gz").write_bytes(b"not gzip at all")
    with zipfile.ZipFile(tmp_path / "empty.zip", "w"):
        pass
    out = {f.uri.rsplit("/", 1)[-1]: _outcome(f) for f in iter_files([str(tmp_path)])}
    assert {k: v.error_class for k, v in out.items()} == {"fake.gz": "corrupt", "empty.zip": "empty"}


def test_a_dicom_file_named_like_an_archive_still_loads(tmp_path):
    p = tmp_path / "scan.gz"
    p.write_bytes(open(MR, "rb").read())
    [f] = iter_files([str(p)])
    assert f.uri == p.as_uri() and _outcome(f).row is not None


@pytest.mark.parametrize("name", ["no_meta.dcm", "ExplVR_BigEndNoMeta.dcm", "ExplVR_LitEndNoMeta.dcm"])
def test_files_without_preamble_or_meta_are_read(name):
    p = get_testdata_file(name)
    [f] = iter_files([p])
    o = _outcome(f)
    # the ExplVR pair has no PatientID: read, then rejected as such (not not_dicom or truncated)
    assert (o.row is not None) if name == "no_meta.dcm" else (o.error_class == "missing_patient_id")
    assert raw_start(open(p, "rb").read(132)) == (1 if name == "no_meta.dcm" else 0)


def test_no_sop_instance_uid_is_missing_uid_not_truncated(tmp_path):
    import pydicom

    ds = pydicom.dcmread(CT)
    del ds.SOPInstanceUID
    del ds.PixelData
    buf = io.BytesIO()
    ds.save_as(buf)
    p = tmp_path / "nouid.dcm"
    p.write_bytes(buf.getvalue())
    [f] = iter_files([str(p)])
    assert _outcome(f).error_class == "missing_uid"


def test_a_file_cut_in_its_file_meta_is_still_truncated(tmp_path):
    p = tmp_path / "cut.dcm"
    raw = open(CT, "rb").read()
    p.write_bytes(raw[: raw.index(b"\x08\x00\x05\x00")])  # up to (0008,0005), the first data element
    [f] = iter_files([str(p)])
    assert _outcome(f).error_class == "truncated"
