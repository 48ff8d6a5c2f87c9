"""Fetch the bytes behind an ``image_uri`` column value.

``file:///abs/path`` and plain paths are read from the local file system; any other scheme
(``hdfs://``, ``s3://``, ``gs://``...) goes through :func:`pyarrow.fs.FileSystem.from_uri`, so it
works wherever pyarrow has that file system configured (on Hadoop workers: libhdfs + CLASSPATH).
A member of a zip or gzip file, ``<archive URI>!<member>`` as the loader names it
(serde/archives.py), is read from its archive, wherever that lives.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import unquote, urlsplit

from ..serde import archives
from .errors import ImageError

__all__ = ["read_uri", "local_path"]

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def local_path(uri: str) -> str | None:
    """The local path of a ``file:`` URI or plain path; ``None`` for a remote URI."""
    if uri.startswith("file:"):
        parts = urlsplit(uri)
        if parts.netloc not in ("", "localhost"):
            raise ImageError(f"file URI with a remote host ({parts.netloc}) is not supported")
        return unquote(parts.path)
    if _SCHEME.match(uri):
        return None
    return uri


def read_uri(uri: str, max_bytes: int = 2 << 30) -> bytes:
    """All bytes of the object at ``uri``; raises :class:`ImageError` with a one-line reason.

    The reason never holds the path: it lands in ``predictions.error`` in the de-identified
    database, and paths often hold PatientIDs and dates. The row's SOPInstanceUID names the image.
    """
    if not uri:
        raise ImageError("empty image_uri")
    member = archives.split_member(uri)
    if member is not None:
        return _read_member(*member, max_bytes)
    path = local_path(uri)
    try:
        if path is not None:
            with open(path, "rb") as fh:
                data = fh.read(max_bytes + 1)
        else:
            fs, inner = _filesystem(uri)
            with fs.open_input_stream(inner) as fh:
                data = fh.read(max_bytes + 1)
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError("image file not found (see <phi_db>.image_locations)") from None
    except IsADirectoryError:
        raise ImageError("image_uri is a directory") from None
    except OSError as exc:
        raise ImageError(f"cannot read the image file: {_without(exc.strerror or str(exc), uri, path)}") from None
    except Exception as exc:  # pyarrow raises its own error types
        raise ImageError(f"cannot read the image file: {type(exc).__name__}: {_without(str(exc), uri, path)}") \
            from None
    if len(data) > max_bytes:
        raise ImageError(f"image larger than {max_bytes} bytes")
    return data


def _read_member(archive_uri: str, name: str, max_bytes: int) -> bytes:
    """A member's bytes, through the same archive reader the loader walked it with."""
    path = local_path(archive_uri)
    try:
        if path is not None:
            fh = open(path, "rb")
        else:
            fs, inner = _filesystem(archive_uri)
            fh = fs.open_input_file(inner)  # zip needs random access
        with archives.open_member(fh, archive_uri, name) as m:
            data = m.read(max_bytes + 1)
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError("image archive not found (see <phi_db>.image_locations)") from None
    except archives.ArchiveError as exc:
        raise ImageError(f"cannot read the image from its archive: {_without(str(exc), archive_uri, path, name)}") \
            from None
    except Exception as exc:  # corrupt compressed data: zlib.error, BadZipFile (CRC), EOFError...
        raise ImageError("cannot read the image from its archive: "
                         f"{type(exc).__name__}: {_without(str(exc), archive_uri, path, name)}") from None
    if len(data) > max_bytes:
        raise ImageError(f"image larger than {max_bytes} bytes")
    return data


def _without(text: str, *paths: str | None) -> str:
    """`text` with every given path (and its URI form) replaced by a placeholder."""
    for p in sorted((p for p in paths if p), key=len, reverse=True):
        text = text.replace(p, "<image>")
    return text


def _filesystem(uri: str):
    """``(FileSystem, path)`` for a remote URI, one file system object per scheme+authority
    (a failure is remembered too: a bad scheme must not cost a network timeout per row)."""
    parts = urlsplit(uri)
    fs, error = _cached_filesystem(f"{parts.scheme}://{parts.netloc}/")
    if error is not None:
        raise ImageError(error)
    try:
        from pyarrow.fs import FileSystem
        _, inner = FileSystem.from_uri(uri)
    except Exception as exc:
        raise ImageError(f"unsupported image_uri ({parts.scheme}:): {_without(str(exc), uri)}") from None
    return fs, inner


@functools.lru_cache(maxsize=16)
def _cached_filesystem(root: str):
    """``(FileSystem, None)`` or ``(None, reason)`` for ``scheme://authority/``."""
    try:
        from pyarrow.fs import FileSystem
        fs, _ = FileSystem.from_uri(root)
    except Exception as exc:
        return None, f"no file system for {root}: {exc}"
    return fs, None
