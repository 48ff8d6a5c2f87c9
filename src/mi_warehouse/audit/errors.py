"""Named errors of the audits; each message is one line and says what to do."""

from __future__ import annotations

from ..errors import MiWarehouseError


class AuditTargetMissing(MiWarehouseError):
    """The core database's storage location does not exist: check [storage] root and [databases] core."""


class AuditSourceMissing(MiWarehouseError):
    """A `--sources` directory does not exist or holds no readable DICOM."""
