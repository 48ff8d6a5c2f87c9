"""`mi-warehouse explain`: one PNG overlay per cohort image of where a registered model looked.

    explain(session, settings, "chest-finding-resnet:1.0.0", "SELECT sop_instance_uid FROM ...", "fp-review")

resolves the cohort through HiveServer2 and the images' real locations through
``<phi_db>.image_locations`` (as ``infer`` does), reads the registered model (checksum checked),
decodes and preprocesses every image with the inference code (``udfs``), runs onnxruntime here
on the client and writes ``<uid>.<method>.png`` files and ``manifest.json`` under the PHI side of
storage (``locations``). ``method``: ``cam`` (class activation maps; the default when the card
declares ``cam``) or ``occlusion`` (any model). An image that cannot be read or decoded is
counted and named by its SOPInstanceUID, never by its path; the other images go on.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..engine import literals as lit
from ..inference.sql import cohort_relation
from ..models import registry
from ..runtime.storage import join
from ..udfs.errors import ImageError
from .errors import ExplainError
from .images import load_image
from .locations import core_locations, phi_location, resolve_out
from .manifest import file_name, read_manifest, write_bytes, write_manifest
from .model import ExplainModel, read_model_bytes
from .occlusion import fill_value, grid_for, occlusion_map
from .overlay import overlay_png

__all__ = ["METHODS", "ExplainSummary", "choose_method", "cohort_images_query", "explain"]

METHODS = ("cam", "occlusion")


@dataclass
class ExplainSummary:
    model_ref: str
    method: str
    out: str  # the output folder's URI (PHI side)
    images: int = 0  # located cohort images considered
    written: int = 0
    errors: dict[str, str] = field(default_factory=dict)  # SOPInstanceUID -> reason
    seconds: float = 0.0
    files: dict[str, str] = field(default_factory=dict)  # SOPInstanceUID -> PNG URI


def choose_method(method: str | None, card) -> str:
    """``method``, or ``cam`` when the card declares it, else ``occlusion``."""
    if method is None:
        return "cam" if card.cam is not None else "occlusion"
    if method not in METHODS:
        raise ExplainError(f"--method must be one of {', '.join(METHODS)}, got {method!r}")
    if method == "cam" and card.cam is None:
        raise ExplainError(f"--method cam: the card of {card.name}:{card.version} declares no cam "
                           "(feature_map, weights); use --method occlusion")
    return method


def cohort_images_query(cohort: str, settings, limit: int | None = None) -> str:
    """The cohort's located images, ``(sop_instance_uid, image_uri)``, in UID order."""
    relation = cohort_relation(cohort, settings.database)
    tail = f"\nLIMIT {int(limit)}" if limit else ""
    return (f"SELECT c.sop_instance_uid, loc.image_uri\n"
            f"  FROM (SELECT DISTINCT sop_instance_uid FROM {relation}) c\n"
            f"  JOIN (SELECT sop_instance_uid, max(image_uri) AS image_uri\n"
            f"        FROM {lit.identifier(settings.phi_database + '.image_locations')} GROUP BY sop_instance_uid) loc\n"
            f"    ON loc.sop_instance_uid = c.sop_instance_uid\n"
            f"  ORDER BY c.sop_instance_uid{tail}")


def explain(session, settings, model_ref: str, cohort: str, out: str, method: str | None = None,
            limit: int | None = None, grid: int = 8, batch_size: int = 32,
            log: Callable[[str], None] = lambda m: None) -> ExplainSummary:
    """Write the saliency overlays of ``model_ref`` for ``cohort`` (see the module docstring)."""
    t0 = time.monotonic()
    if limit is not None and limit < 1:
        raise ExplainError("--limit must be >= 1")
    if batch_size < 1:
        raise ExplainError("--batch-size must be >= 1")
    model = registry.require(session, settings, model_ref)
    card = model.model_card()
    method = choose_method(method, card)
    folder = resolve_out(out, phi_location(session, settings), core_locations(session, settings))
    manifest = read_manifest(folder)
    if manifest.get("model") not in (None, model_ref):
        raise ExplainError(f"--out {out}: the folder holds maps of {manifest['model']}; give another --out")
    rows = session.execute(cohort_images_query(cohort, settings, limit)).rows
    if not rows:
        raise ExplainError(f"--cohort {cohort!r}: no located images (check the cohort and "
                           f"{settings.phi_database}.image_locations)")
    summary = ExplainSummary(model_ref, method, folder, images=len(rows))
    log(f"explaining {len(rows)} images with {model_ref} ({method}) into {folder}")
    net = ExplainModel(read_model_bytes(model.uri, model.sha256), card, cam=method == "cam")
    manifest.update(model=model_ref, sha256=model.sha256)
    manifest.setdefault("images", {})
    manifest.setdefault("errors", {})
    for i in range(0, len(rows), batch_size):
        _batch(net, method, rows[i:i + batch_size], grid, folder, manifest, summary)
        log(f"{min(i + batch_size, len(rows))}/{len(rows)} images")
    write_manifest(folder, manifest)
    summary.seconds = time.monotonic() - t0
    return summary


def _batch(net: ExplainModel, method: str, rows, grid: int, folder: str, manifest: dict,
           summary: ExplainSummary) -> None:
    card = net.card
    loaded = []
    for sop, uri in rows:
        try:
            loaded.append((sop, *load_image(uri, 0, card)))
        except ImageError as exc:  # the message never holds the path
            summary.errors[sop] = manifest["errors"][sop] = str(exc)
    if not loaded:
        return
    tensors = np.stack([t for _, t, _ in loaded])
    if method == "cam":
        maps, probs = net.cam(tensors)
    else:
        g, fill = grid_for(card.input, grid), fill_value(card)
        results = [occlusion_map(t, net.scores, card.input, g, fill) for t in tensors]
        maps, probs = [m for m, _ in results], [p for _, p in results]
    now = dt.datetime.now().replace(microsecond=0).isoformat()
    for (sop, _, picture), saliency, prob in zip(loaded, maps, probs):
        name = file_name(sop, method)
        uri = join(folder, name)
        write_bytes(uri, overlay_png(picture, saliency))
        manifest["images"][sop] = {"file": name, "method": method, "probability": round(float(prob), 6),
                                   "written_at": now}
        manifest["errors"].pop(sop, None)
        summary.errors.pop(sop, None)
        summary.files[sop] = uri
        summary.written += 1
