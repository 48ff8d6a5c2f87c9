"""Walking the inputs of a load: directories, globs and URIs (file://, hdfs://, s3://).

Any layout is walked recursively, in a stable (sorted) order; hidden files and directories
(names starting with '.') are skipped. Files are recognised as DICOM later, by content.

A zip or gzip file (by its name: .zip, .gz, .gzip) stands for its members, each a SourceFile named
`<archive URI>!<member>` (serde/archives.py) with the member's size and the archive's mtime: a
changed archive has its members looked at again. An archive that cannot be listed, or lists no
member, is yielded itself, so the load accounts for it with one error row naming it.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from typing import Iterator
from urllib.parse import urlparse

from ..errors import MiWarehouseError
from ..serde import archives


class SourceNotFound(MiWarehouseError):
    """A load source does not exist or matches no file."""


@dataclass(frozen=True)
class SourceFile:
    uri: str  # file:///abs/path or hdfs://..., s3://...
    size: int
    mtime_ns: int


def iter_files(sources: list[str]) -> Iterator[SourceFile]:
    for src in sources:
        scheme = urlparse(src).scheme
        found = _local(src[7:] if src.startswith("file://") else src) if scheme in ("", "file") else _remote(src)
        for f in found:
            yield from (_members(f) if archives.is_archive(f.uri) else (f,))


def _members(f: SourceFile) -> Iterator[SourceFile]:
    """The members of an archive; the archive itself when it cannot be listed or holds none."""
    try:
        with _open_plain(f.uri) as fp:
            members = archives.list_members(fp, f.uri)
    except OSError:  # ArchiveError included: extract classifies the archive (corrupt, empty)
        members = []
    if not members:
        yield f
    for name, size in members:
        yield SourceFile(archives.member_uri(f.uri, name), size, f.mtime_ns)


def _local(src: str) -> Iterator[SourceFile]:
    if any(ch in src for ch in "*?["):
        matches = sorted(glob.glob(src, recursive=True))
        if not matches:
            raise SourceNotFound(f"{src}: the pattern matches no file")
        for m in matches:
            if os.path.isfile(m):
                yield _stat(m)
            elif os.path.isdir(m):
                yield from _walk(m)
        return
    if os.path.isfile(src):
        yield _stat(src)
    elif os.path.isdir(src):
        yield from _walk(src)
    else:
        raise SourceNotFound(f"{src}: no such file or directory")


def _walk(root: str) -> Iterator[SourceFile]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith("."):
                yield _stat(os.path.join(dirpath, name))


def _stat(path: str) -> SourceFile:
    p = os.path.abspath(path)
    st = os.stat(p)
    return SourceFile("file://" + p, st.st_size, st.st_mtime_ns)


def _remote(uri: str) -> Iterator[SourceFile]:
    import pyarrow.fs as pafs

    fs, path = pafs.FileSystem.from_uri(uri)
    base = uri[: len(uri) - len(path)] if uri.endswith(path) else uri.split(path)[0]
    info = fs.get_file_info(path)
    if info.type == pafs.FileType.NotFound:
        raise SourceNotFound(f"{uri}: not found")
    yield from walk_filesystem(fs, base, info)


def walk_filesystem(fs, base: str, info) -> Iterator[SourceFile]:
    """The files under `info` of a pyarrow filesystem (HDFS, S3, ...), in sorted order, listed one
    folder at a time: memory follows the largest folder, not the tree (a recursive listing of a
    bucket of millions of objects would hold them all)."""
    import pyarrow.fs as pafs

    if info.type == pafs.FileType.File:
        yield SourceFile(base.rstrip("/") + "/" + info.path.lstrip("/"), info.size, info.mtime_ns or 0)
        return
    for i in sorted(fs.get_file_info(pafs.FileSelector(info.path)), key=lambda x: x.base_name):
        if not i.base_name.startswith(".") and i.type in (pafs.FileType.File, pafs.FileType.Directory):
            yield from walk_filesystem(fs, base, i)


def open_source(uri: str):
    """A binary file object for a SourceFile's URI (used in worker processes); for an archive
    member, the member's bytes, decompressed as they are read."""
    member = archives.split_member(uri)
    if member is None:
        return _open_plain(uri)
    return archives.open_member(_open_plain(member[0]), *member)


def _open_plain(uri: str):
    if uri.startswith("file://"):
        return open(uri[7:], "rb")
    import pyarrow.fs as pafs

    fs, path = pafs.FileSystem.from_uri(uri)
    return fs.open_input_file(path)
