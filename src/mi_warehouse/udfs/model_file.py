"""Read the ONNX model file once and check it against the SHA-256 the client resolved.

The bytes that were hashed are the bytes handed to onnxruntime, so a file replaced between the
check and the load cannot slip through.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from .errors import SetupError

__all__ = ["read_verified_model"]

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def read_verified_model(path: str | Path, sha256: str) -> bytes:
    """The content of ``path``; raises :class:`SetupError` if it is missing, unreadable or its
    SHA-256 differs from ``sha256`` (64 hex digits, any case)."""
    if not _HEX64.fullmatch(sha256 or ""):
        raise SetupError(f"--sha256 must be 64 hex digits, got {sha256!r}")
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise SetupError(f"model file not found: {path}") from exc
    except OSError as exc:
        raise SetupError(f"cannot read model file {path}: {exc.strerror or exc}") from exc
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256.lower():
        raise SetupError(f"sha256 mismatch for model file {path}: expected {sha256.lower()}, "
                         f"got {actual}")
    return data
