"""Where explain may write: only under the PHI database's location, never the core database's.

Pixels and overlays are PHI-bearing (burned-in names, faces, the image itself), so they go beside
``<phi_db>.image_locations``: the PHI database's location is that table's parent folder, found
through the metastore as the loader finds it. ``--out NAME`` (a relative path) becomes
``<phi location>/_explain/NAME``; an absolute path or URI must lie inside the PHI location. A
target inside a core database location (the metastore's, or ``<storage root>/<core db>`` that
``mi-warehouse audit phi`` scans) is always refused.
"""

from __future__ import annotations

from urllib.parse import unquote, urlparse

from ..engine import metastore
from ..runtime.storage import join
from .errors import ExplainError

__all__ = ["phi_location", "core_locations", "inside", "resolve_out", "EXPLAIN_DIR"]

EXPLAIN_DIR = "_explain"  # hidden from Hive: `_` folders are not table data


def _parent(session, table: str) -> str:
    return metastore.describe(session, table).location.rsplit("/", 1)[0]


def phi_location(session, settings) -> str:
    """The PHI database's location (the parent of ``image_locations``)."""
    return _parent(session, f"{settings.phi_database}.image_locations")


def core_locations(session, settings) -> list[str]:
    """Every location that counts as the core database."""
    return [_parent(session, f"{settings.database}.dicom_metadata"),
            join(settings.storage_path, settings.database)]


def _key(uri: str) -> tuple[str, str, str]:
    u = urlparse(uri)
    scheme = u.scheme or "file"
    netloc = "" if scheme == "file" and u.netloc in ("", "localhost") else u.netloc
    path = unquote(u.path if u.scheme else uri).rstrip("/") or "/"
    return scheme, netloc, path


def inside(uri: str, base: str) -> bool:
    """Is ``uri`` ``base`` or below it (by path components, so ``mi_phi`` is not inside ``mi``)?"""
    a, b = _key(uri), _key(base)
    return a[:2] == b[:2] and (a[2] == b[2] or a[2].startswith(b[2].rstrip("/") + "/"))


def resolve_out(out: str, phi: str, cores: list[str]) -> str:
    """The URI of the output folder for ``--out`` (see the module docstring)."""
    text = str(out).strip()
    if not text:
        raise ExplainError("--out must name a folder")
    u = urlparse(text)
    if u.scheme or text.startswith("/"):
        target = text.rstrip("/")
        if not inside(target, phi):
            raise ExplainError(f"--out {text}: saliency maps hold patient pixels and are written only under "
                               f"the PHI database's location {phi}: give a relative name (placed under "
                               f"{join(phi, EXPLAIN_DIR)}) or a folder inside it")
    else:
        parts = [p for p in text.replace("\\", "/").split("/") if p not in ("", ".")]
        if not parts or ".." in parts:
            raise ExplainError(f"--out {text}: a relative --out must not leave {join(phi, EXPLAIN_DIR)}")
        target = join(phi, EXPLAIN_DIR, *parts)
    for core in cores:
        if inside(target, core):
            raise ExplainError(f"--out {text}: {target} is inside the core database ({core}); "
                               "patient pixels never go there")
    return target
