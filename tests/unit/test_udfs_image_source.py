"""Image reads fail with reasons that never quote the path (it often holds PatientID and dates)."""

import pytest

from mi_warehouse.udfs.errors import ImageError
from mi_warehouse.udfs.image_source import read_uri


@pytest.mark.parametrize("make", [
    lambda d: d / "PAT4711" / "20140307" / "missing.dcm",  # not found
    lambda d: d / "PAT4711" / "20140307",  # a directory
])
def test_read_errors_hold_no_path(tmp_path, make):
    (tmp_path / "PAT4711" / "20140307").mkdir(parents=True)
    target = make(tmp_path)
    for uri in (str(target), target.as_uri()):
        with pytest.raises(ImageError) as e:
            read_uri(uri)
        assert "PAT4711" not in str(e.value) and "20140307" not in str(e.value)


def test_reads_bytes(tmp_path):
    f = tmp_path / "x.dcm"
    f.write_bytes(b"abc")
    assert read_uri(f.as_uri()) == b"abc"


def test_reads_archive_members(tmp_path):
    import gzip
    import zipfile

    z = tmp_path / "PAT4711.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("20140307/a.dcm", b"member bytes")
    (tmp_path / "b.gz").write_bytes(gzip.compress(b"gz bytes"))
    assert read_uri(z.as_uri() + "!20140307/a.dcm") == b"member bytes"
    assert read_uri(str(tmp_path / "b.gz") + "!b") == b"gz bytes"  # a plain path works too


@pytest.mark.parametrize("member", ["20140307/missing.dcm", None])
def test_archive_member_errors_hold_no_path(tmp_path, member):
    import zipfile

    d = tmp_path / "PAT4711"
    d.mkdir()
    z = d / "20140307.zip"
    if member:  # a member that is not there
        with zipfile.ZipFile(z, "w") as out:
            out.writestr("other.dcm", b"x")
    else:  # an archive that is not a zip
        z.write_bytes(b"PK\x03\x04 not really a zip")
        member = "20140307/a.dcm"
    for uri in (z.as_uri() + "!" + member, (d / "gone.zip").as_uri() + "!" + member):
        with pytest.raises(ImageError) as e:
            read_uri(uri)
        assert "PAT4711" not in str(e.value) and "20140307" not in str(e.value)
