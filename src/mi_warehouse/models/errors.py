"""Named errors of the model registry; each message is one line and names the file."""

from __future__ import annotations

from mi_warehouse.errors import MiWarehouseError

__all__ = ["ModelCardInvalid", "ModelCheckFailed"]


class ModelCardInvalid(MiWarehouseError):
    """A model card is unreadable, or a field is missing or has a bad value (the message names it)."""


class ModelCheckFailed(MiWarehouseError):
    """An ONNX file is unreadable, invalid, or does not match its model card."""
