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
