"""Members of gzip and zip containers as files of their own, named `<archive URI>!<member name>`.

`file:///data/a.zip!series1/img1.dcm` is the member `series1/img1.dcm` of `/data/a.zip`; a gzip file
has one member, its own name without `.gz` (`file:///data/zipMR.gz!zipMR`). A name is an archive by
its suffix (.zip, .gz, .gzip), so walking a tree costs no extra read per file. The loader (which
walks and loads members) and the inference script's reader (which reads an `image_uri` back) both
go through this module, so the two always agree on what a member URI means.

Archives are not opened recursively: a member that is itself an archive is a member like any other.
Directories and hidden members (a path component starting with '.', e.g. `__MACOSX/._x`) are left
out, as hidden files are when walking a directory.
"""

from __future__ import annotations

import gzip
import re
import struct
import zipfile
from typing import BinaryIO

from ..errors import MiWarehouseError

SEPARATOR = "!"
SUFFIXES = (".zip", ".gz", ".gzip")
_MEMBER = re.compile(r"^(.*?\.(?:zip|gz|gzip))!(.+)$", re.I | re.S)


class ArchiveError(MiWarehouseError, OSError):
    """A zip or gzip container, or one of its members, cannot be opened."""


def split_member(uri: str) -> tuple[str, str] | None:
    """`(archive URI, member name)` for a member URI; None for any other URI."""
    m = _MEMBER.match(uri)
    return (m.group(1), m.group(2)) if m else None


def is_archive(uri: str) -> bool:
    """A zip or gzip file by its name (itself, not a member of one)."""
    return split_member(uri) is None and uri.lower().endswith(SUFFIXES)


def _is_zip(uri: str) -> bool:
    return uri.lower().endswith(".zip")


def member_uri(archive_uri: str, name: str) -> str:
    return f"{archive_uri}{SEPARATOR}{name}"


def _gzip_name(archive_uri: str) -> str:
    base = archive_uri.rstrip("/").rsplit("/", 1)[-1]
    stem = base[: base.rfind(".")]
    return stem or base


def _hidden(name: str) -> bool:
    return any(part.startswith(".") for part in name.split("/") if part)


def list_members(fp: BinaryIO, archive_uri: str) -> list[tuple[str, int]]:
    """`(member name, size in bytes)` of every file in the archive, in stored order.

    A gzip member's size is the ISIZE of its trailer (the size modulo 4 GiB, as `gzip -l` shows it).
    Raises ArchiveError when the container cannot be read; the message never names the file.
    """
    try:
        if _is_zip(archive_uri):
            with zipfile.ZipFile(fp) as z:
                return [(i.filename, i.file_size) for i in z.infolist()
                        if not i.is_dir() and not _hidden(i.filename)]
        head = fp.read(3)
        if head[:2] != b"\x1f\x8b":
            raise ArchiveError("not a gzip file (no gzip magic number)")
        if head[2:3] != b"\x08":
            raise ArchiveError("gzip file with an unknown compression method")
        fp.seek(-4, 2)
        (size,) = struct.unpack("<I", fp.read(4))
        return [(_gzip_name(archive_uri), size)]
    except ArchiveError:
        raise
    except zipfile.BadZipFile as e:
        raise ArchiveError(f"corrupt zip archive: {e}") from None
    except (OSError, EOFError, ValueError, struct.error) as e:
        raise ArchiveError(f"unreadable {'zip' if _is_zip(archive_uri) else 'gzip'} archive: "
                           f"{type(e).__name__}: {e}") from None


class _Member:
    """A member's binary file object; closing it closes the archive it was opened from."""

    def __init__(self, inner, *outer):
        self._inner, self._outer = inner, outer

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def close(self) -> None:
        for f in (self._inner, *self._outer):
            f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_member(fp: BinaryIO, archive_uri: str, name: str) -> BinaryIO:
    """A seekable binary file object for one member, decompressed as it is read (errors in the
    compressed data surface on read). Closing it closes `fp`. Raises ArchiveError when the member
    cannot be opened (missing, encrypted, an unsupported compression method)."""
    try:
        if _is_zip(archive_uri):
            z = zipfile.ZipFile(fp)
            try:
                return _Member(z.open(name), z, fp)
            except BaseException:
                z.close()
                raise
        if name != _gzip_name(archive_uri):
            raise ArchiveError("a gzip file has one member, named after the file without .gz")
        return _Member(gzip.GzipFile(fileobj=fp, mode="rb"), fp)
    except ArchiveError:
        fp.close()
        raise
    except KeyError:
        fp.close()
        raise ArchiveError("no such member in the archive") from None
    except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError, ValueError) as e:
        fp.close()
        text = str(e).replace(name, "<member>") if name else str(e)  # member names may hold PHI
        raise ArchiveError(f"cannot open the archive member: {type(e).__name__}: {text}") from None
