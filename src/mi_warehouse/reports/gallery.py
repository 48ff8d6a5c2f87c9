"""The report's saliency gallery: the most confident false positives and false negatives of a
model version on a cohort and split, and its most confident true positives (what it keys on: a
shortcut model's burned-in marker shows there), each with the map ``mi-warehouse explain`` drew.

    cases = confident_errors(session, settings, "m:1.0.0", "adult_chest_xr", "test", k=4)
    maps = explain_cases(session, settings, "m:1.0.0", cases, "report-gallery")   # PHI side
    write_eval_report(session, settings, "m:1.0.0", "adult_chest_xr", out, gallery=maps.out,
                      embed_phi=True)

The cases come from ``eval_predictions`` at the version's decision threshold: false and true
positives by descending probability, false negatives by ascending probability (ties by UID).

**PHI rule.** The overlays are patient pixels. The report embeds them only when its folder is
under the PHI database's location, or when the caller says ``embed_phi=True``; either way the
page then opens with a banner saying it holds patient images and must be kept as PHI. A report
folder inside the core database is always refused. Without a gallery the report holds no pixels.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from pathlib import Path

from ..engine import literals as lit
from ..explain.locations import core_locations, inside, phi_location
from ..explain.manifest import read_bytes, read_manifest
from ..runtime.storage import join

__all__ = ["Case", "BANNER", "errors_query", "confident_errors", "explain_cases", "check_report_folder",
           "gallery_html"]

KINDS = ("false positive", "false negative", "true positive")  # the gallery's rows, in order
BANNER = ("<p class=phi><b>Contains patient images (PHI).</b> The saliency gallery below embeds "
          "pixels of the cohort's images: store and share this file as PHI, never in the core database.</p>")


@dataclass(frozen=True)
class Case:
    sop_instance_uid: str
    label_value: int
    probability: float
    kind: str  # one of KINDS


def errors_query(settings, model_ref: str, cohort: str, split: str, k: int) -> str:
    """The ``k`` most confident false positives, false negatives and true positives, one row each."""
    name, _, version = model_ref.partition(":")
    where = (f"model_name = {lit.string(name)} AND model_version = {lit.string(version)} "
             f"AND cohort = {lit.string(cohort)}" + ("" if split == "all" else f" AND split = {lit.string(split)}"))
    table = lit.identifier(f"{settings.database}.eval_predictions")
    branch = ("SELECT sop_instance_uid, label_value, probability, '{kind}' AS kind,\n"
              "         row_number() OVER (ORDER BY probability {order}, sop_instance_uid) AS rk\n"
              "    FROM {table} WHERE {where} AND label_value = {label} AND predicted_positive = {pred}")
    fp = branch.format(kind="false positive", order="DESC", table=table, where=where, label=0, pred=1)
    fn = branch.format(kind="false negative", order="ASC", table=table, where=where, label=1, pred=0)
    tp = branch.format(kind="true positive", order="DESC", table=table, where=where, label=1, pred=1)
    return (f"SELECT sop_instance_uid, label_value, probability, kind FROM (\n  {fp}\n  UNION ALL\n  {fn}\n"
            f"  UNION ALL\n  {tp}\n) e\nWHERE rk <= {int(k)}")


def confident_errors(session, settings, model_ref: str, cohort: str, split: str = "test", k: int = 4) -> list[Case]:
    rows = session.execute(errors_query(settings, model_ref, cohort, split, k)).rows
    cases = [Case(str(s), int(y), float(p), str(kind)) for s, y, p, kind in rows]
    return sorted(cases, key=lambda c: (KINDS.index(c.kind), c.probability if c.kind == "false negative"
                                        else -c.probability, c.sop_instance_uid))


def explain_cases(session, settings, model_ref: str, cases: list[Case], out: str, method: str | None = None,
                  log=lambda m: None):
    """Run explain over exactly these images (into ``out``, PHI side); its summary, or None."""
    from ..explain.run import explain

    if not cases:
        return None
    uids = ", ".join(lit.string(c.sop_instance_uid) for c in cases)
    query = (f"SELECT sop_instance_uid FROM {lit.identifier(settings.database + '.dicom_metadata')} "
             f"WHERE sop_instance_uid IN ({uids})")
    return explain(session, settings, model_ref, query, out, method, log=log)


def check_report_folder(session, settings, out_dir: Path | str, embed_phi: bool) -> None:
    """Refuse a gallery report outside the PHI side unless ``embed_phi``; inside the core database always."""
    from .eval_report import ReportError

    uri = Path(out_dir).resolve().as_uri()
    for core in core_locations(session, settings):
        if inside(uri, core):
            raise ReportError(f"report folder {out_dir} is inside the core database ({core}): a report with "
                              "a saliency gallery holds patient pixels and never goes there")
    phi = phi_location(session, settings)
    if not embed_phi and not inside(uri, phi):
        raise ReportError(f"report folder {out_dir}: the saliency gallery embeds patient pixels; write the "
                          f"report under the PHI database's location ({phi}) or ask for it with embed_phi "
                          "(the report is then marked as holding PHI)")


def gallery_html(cases: list[Case], folder: str | None) -> str:
    """The gallery section: one figure per case with its overlay from ``folder``'s manifest."""
    manifest = read_manifest(folder) if folder else {"images": {}, "errors": {}}
    figures = []
    for c in cases:
        entry = manifest["images"].get(c.sop_instance_uid)
        caption = (f"{html.escape(c.kind)}, p = {c.probability:.3f}"
                   f"<br><span class=key>{html.escape(c.sop_instance_uid)}</span>")
        if entry is None:
            why = manifest.get("errors", {}).get(c.sop_instance_uid, "no map: run mi-warehouse explain on it")
            figures.append(f"<figure><p class=note>{html.escape(why)}</p><figcaption>{caption}</figcaption></figure>")
            continue
        data = base64.b64encode(read_bytes(join(folder, entry["file"]))).decode("ascii")
        figures.append(f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(c.kind)} saliency">'
                       f"<figcaption>{caption}<br>{html.escape(entry['method'])}</figcaption></figure>")
    body = "\n".join(figures) if figures else "<p>No images to show at the threshold.</p>"
    kinds = {c.kind for c in cases}
    missing = [k for k in KINDS if k not in kinds]
    note = f"<p class=note>None at the threshold: {', '.join(k + 's' for k in missing)}.</p>" if missing else ""
    return (f"<h2>Saliency gallery: most confident errors</h2>\n<p class=sub>Where the model looked (bright = "
            f"more evidence for the positive label), for the most confident false positives and false "
            f"negatives at the decision threshold, and the most confident true positives (what the model "
            f"keys on).</p>\n{note}<div class=gallery>\n{body}\n</div>")
