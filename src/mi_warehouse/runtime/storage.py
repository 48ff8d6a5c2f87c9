"""Files on the warehouse's storage (local, HDFS, S3 through pyarrow.fs), written crash-safely.

Every file is written under a hidden name (`.name.tmp-<id>`) and renamed into place, so readers
never see half a file. On local disks and HDFS a rename is atomic.
"""

from __future__ import annotations

import uuid
from urllib.parse import unquote, urlparse

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq


def filesystem(uri: str) -> tuple[pafs.FileSystem, str]:
    """(filesystem, path) for a URI or a plain local path."""
    u = urlparse(uri)
    if u.scheme in ("", "file"):
        return pafs.LocalFileSystem(), unquote(u.path if u.scheme else uri)
    return pafs.FileSystem.from_uri(uri)


def join(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *[p.strip("/") for p in parts]])


def exists(fs: pafs.FileSystem, path: str) -> bool:
    return fs.get_file_info(path).type != pafs.FileType.NotFound


def write_parquet_atomic(fs: pafs.FileSystem, path: str, table: pa.Table, row_group_size: int = 64_000,
                         **options) -> None:
    """Write `table` to `path` through a hidden temporary file and a rename."""
    directory, name = path.rsplit("/", 1)
    fs.create_dir(directory, recursive=True)
    tmp = f"{directory}/.{name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        with fs.open_output_stream(tmp) as out:
            pq.write_table(table, out, row_group_size=row_group_size, compression="snappy",
                           write_statistics=True, use_deprecated_int96_timestamps=True, **options)
        fs.move(tmp, path)
    except BaseException:
        try:
            fs.delete_file(tmp)
        except OSError:
            pass
        raise


def read_parquet(fs: pafs.FileSystem, path: str) -> pa.Table:
    with fs.open_input_file(path) as f:
        return pq.read_table(f)
