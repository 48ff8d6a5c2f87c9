"""``manifest.json`` of an explain output folder: which image has which map.

    {"model": "name:version", "sha256": "...", "images": {
        "<SOPInstanceUID>": {"file": "<name>.png", "method": "cam", "probability": 0.93,
                             "written_at": "..."}},
     "errors": {"<SOPInstanceUID>": "one-line reason (never a path)"}}

The folder is on the PHI side (see ``locations``); file names are path-free ids
(:func:`file_name`). A later run into the same folder adds to the manifest (an image explained
again gets its new entry). The report's gallery (``reports/gallery.py``) reads it with
:func:`read_manifest`.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid

from ..runtime.storage import exists, filesystem, join

__all__ = ["MANIFEST", "file_name", "read_manifest", "write_manifest", "write_bytes", "read_bytes"]

MANIFEST = "manifest.json"
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")


def file_name(sop_instance_uid: str, method: str) -> str:
    """``<uid>.<method>.png`` for a well-formed UID, else a hash of it (never a path)."""
    uid = sop_instance_uid if _UID.match(sop_instance_uid or "") and len(sop_instance_uid) <= 64 \
        else "h" + hashlib.sha256(sop_instance_uid.encode("utf-8")).hexdigest()[:32]
    return f"{uid}.{method}.png"


def write_bytes(uri: str, data: bytes) -> None:
    """Write ``data`` to ``uri`` through a hidden temporary file and a rename."""
    fs, path = filesystem(uri)
    directory, name = path.rsplit("/", 1)
    fs.create_dir(directory, recursive=True)
    tmp = f"{directory}/.{name}.tmp-{uuid.uuid4().hex[:8]}"
    with fs.open_output_stream(tmp) as out:
        out.write(data)
    fs.move(tmp, path)


def read_bytes(uri: str) -> bytes:
    fs, path = filesystem(uri)
    with fs.open_input_stream(path) as fh:
        return fh.read()


def read_manifest(folder: str) -> dict:
    """The manifest of ``folder``; an empty one if there is none yet."""
    fs, path = filesystem(join(folder, MANIFEST))
    if not exists(fs, path):
        return {"model": None, "sha256": None, "images": {}, "errors": {}}
    return json.loads(read_bytes(join(folder, MANIFEST)).decode("utf-8"))


def write_manifest(folder: str, manifest: dict) -> None:
    write_bytes(join(folder, MANIFEST), json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8"))
