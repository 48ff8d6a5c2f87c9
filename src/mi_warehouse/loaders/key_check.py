"""Keys that cannot silently change: which key each load used, and the refusal to mix keys.

Every de-identified run records `key_fingerprint(key)` in `load_runs`: an HMAC of a constant
under the key, which names the key without revealing it (it cannot be inverted, and it differs
from every pseudonym because the constant is not a DICOM value). A load is refused when
- an earlier de-identified run of the database used another key (its patients would get a
  second pseudonym, and a patient-level split would put one person in train and test), or
- it would mix de-identified and `--deid off` runs in one database.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Iterable

from ..errors import MiWarehouseError

_FINGERPRINT_CONSTANT = b"mi-warehouse key fingerprint v1"


class KeyMismatch(MiWarehouseError):
    """This load's key (or its de-identification setting) differs from the database's earlier loads."""


def key_fingerprint(key: bytes) -> str:
    """A public name for a key: `hmac-sha256:<first 16 hex digits>` of a fixed constant."""
    return "hmac-sha256:" + hmac.new(key, _FINGERPRINT_CONSTANT, hashlib.sha256).hexdigest()[:16]


def check_key_history(settings, earlier: Iterable[tuple[str | None, str | None]], deid: bool,
                      fingerprint: str | None) -> None:
    """Raise KeyMismatch unless this run agrees with the (deid, key_fingerprint) of earlier runs.

    Runs from before fingerprints were recorded (NULL) cannot be checked and are not held against
    a key; a missing key file for a database with de-identified runs is refused by the caller.
    """
    earlier = set(earlier)
    db = settings.database
    fresh = "load into a new database (set MIW_DATABASE and MIW_PHI_DATABASE)"
    if deid and any(d == "off" for d, _ in earlier):
        raise KeyMismatch(f"{db} holds loads made with --deid off: de-identified rows must not be mixed with "
                          f"them; {fresh}")
    if not deid and any(d == "on" for d, _ in earlier):
        raise KeyMismatch(f"{db} holds de-identified loads: a --deid off load would mix identified rows into "
                          f"it; {fresh}")
    others = sorted({fp for d, fp in earlier if d == "on" and fp and fp != fingerprint})
    if deid and others:
        raise KeyMismatch(
            f"the key in {settings.key_file} ({fingerprint}) is not the key earlier loads into {db} used "
            f"({', '.join(others)}): restore that key file (or point MIW_KEY_FILE at it), or {fresh}")
