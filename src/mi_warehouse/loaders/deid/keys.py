"""Keys and everything derived from them: pseudonyms, patient keys, date shifts, UIDs, fingerprints.

All derivations are HMAC-SHA256 with the key file's key and a domain label, so no two kinds of
value can collide and nothing can be reversed without the key. The key is never logged, printed
or written anywhere but its own file; `key_fingerprint` identifies it in run records.

Patient identity is (IssuerOfPatientID, PatientID): the same PatientID from two hospitals is two
patients with two date shifts. A file without an issuer keys exactly as before issuers were used
(`patient\\0<id>`, `dateshift\\0<id>`), so data loaded earlier keeps its patient keys and shifts; a
file with an issuer uses a separately labelled message (`patient@issuer\\0<issuer>\\0<id>`), which
can never equal the issuer-less form.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from pathlib import Path

from ...errors import ConfigError
from ..key_check import key_fingerprint  # the one fingerprint (keyed hash of a constant), with the key checks

__all__ = ["Keys", "key_fingerprint", "load_key"]
_KEY_HEX = re.compile(r"^[0-9a-fA-F]{64,}$")


def load_key(path: str | Path, create: bool = True) -> bytes:
    """The pseudonymisation key (hex in a file of its own); created, mode 0600, when missing."""
    p = Path(path).expanduser()
    if not p.exists():
        if not create:
            raise ConfigError(f"no de-identification key file at {p}: set [deid] key_file or MIW_KEY_FILE")
        p.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
    text = p.read_text().strip()
    if not _KEY_HEX.match(text):
        raise ConfigError(f"key file {p} must hold at least 64 hex digits; restore it from its backup")
    return bytes.fromhex(text)


class Keys:
    """The keyed derivations of one key.

    HMAC-SHA256 (RFC 2104) with the inner and outer hash states keyed once: one derivation is then
    two hash-state copies instead of a new HMAC object (the loader makes several per file).
    """

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes):
        block = hashlib.sha256().block_size
        k = hashlib.sha256(key).digest() if len(key) > block else key
        k = k.ljust(block, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in k))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in k))

    def __repr__(self) -> str:  # never show the key
        return "Keys(<hidden>)"

    def _mac(self, message: str) -> bytes:
        inner = self._inner.copy()
        inner.update(message.encode("utf-8"))
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def pseudonym(self, kind: str, value) -> str | None:
        """32 hex digits for a value of one kind ('patient', 'accession', 'name', ...); None when empty."""
        if value is None:
            return None
        text = str(value).strip()
        if not text:
            return None
        return self._mac(f"{kind}\x00{text}").hex()[:32]

    def patient_key(self, patient_id: str, issuer: str | None = None) -> str | None:
        issuer = (issuer or "").strip()
        if not issuer:
            return self.pseudonym("patient", patient_id)
        return self._mac(f"patient@issuer\x00{issuer}\x00{patient_id.strip()}").hex()[:32]

    def date_shift_days(self, patient_id: str, issuer: str | None = None) -> int:
        """1 to 365 days into the past, the same for every file of a patient."""
        issuer = (issuer or "").strip()
        msg = f"dateshift\x00{patient_id.strip()}" if not issuer else \
            f"dateshift@issuer\x00{issuer}\x00{patient_id.strip()}"
        return -(1 + int.from_bytes(self._mac(msg)[:4], "big") % 365)

    def uid(self, value: str) -> str:
        """A UID under 2.25 (PS3.5 B.2) that stands for `value` everywhere under this key."""
        return "2.25." + str(int.from_bytes(self._mac(f"uid\x00{value.strip()}")[:16], "big"))
