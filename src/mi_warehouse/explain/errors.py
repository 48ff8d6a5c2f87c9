"""The named errors of `mi-warehouse explain`."""

from __future__ import annotations

from ..errors import MiWarehouseError


class ExplainError(MiWarehouseError):
    """The maps cannot be made: a bad option, an output folder outside the PHI side, an empty cohort."""


class CamUnsupported(ExplainError):
    """The model's card declares no usable class activation maps: use --method occlusion."""
