"""The two kinds of failure of a TRANSFORM script.

``SetupError``: the script cannot run at all (missing model, checksum mismatch, bad card, an
explicitly requested provider that is unusable). The script exits non-zero with one line on
stderr, and Hive fails the query with it.

``ImageError``: one input row cannot be scored (unreadable URI, not DICOM, no decoder for the
transfer syntax, frame out of range...). The script answers that row with ``status='error'``
and goes on.
"""

from __future__ import annotations

__all__ = ["SetupError", "ImageError", "one_line"]


class SetupError(Exception):
    """The script cannot start; the message is shown to the Hive user as is."""


class ImageError(Exception):
    """One image cannot be turned into a model input; the message goes into the row."""


def one_line(message: object, limit: int = 500) -> str:
    """``message`` as a single line without TABs, at most ``limit`` characters."""
    text = " ".join(str(message).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
