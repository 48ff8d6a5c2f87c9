"""The evaluation report of one model version on one cohort: `<out_dir>/index.html`.

    write_eval_report(session, settings, "chest_finding:1.1", "adult_chest_xr", "reports/cf11")

reads the evaluation models (eval_predictions, eval_metrics, eval_calibration,
eval_metrics_by_site; build them first with `mi-warehouse run --select +eval_metrics_by_site
+eval_calibration`) and writes one HTML file: the metrics with their 95% intervals, the ROC
curve, the calibration plot, the confusion matrix at the registered decision threshold and the
per-site table. Plots are PNGs drawn with matplotlib's Agg canvas (no display, no global backend
switch) and embedded as base64 data URIs, so the file opens offline and can be mailed as is.
Every number shown comes from the warehouse except the ROC curve's points, which are computed
here from the same predictions (the AUC printed is the warehouse's).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..config import Settings
from ..engine import literals as lit
from ..errors import MiWarehouseError

SPLITS = ("train", "validation", "test", "all")


class ReportError(MiWarehouseError):
    """The report cannot be written: an unknown model version or cohort, or models not built."""


@dataclass
class ReportData:
    """Everything the report shows, as read from the warehouse."""

    model_name: str
    model_version: str
    cohort: str
    split: str
    y: list[int]  # ground truth of each evaluated image
    p: list[float]  # positive-class probability of each evaluated image
    metrics: dict[str, Any]  # the eval_metrics row
    calibration: list[dict[str, Any]] = field(default_factory=list)  # eval_calibration rows (10 bins)
    sites: list[dict[str, Any]] = field(default_factory=list)  # eval_metrics_by_site rows
    profile: list[dict[str, Any]] = field(default_factory=list)  # dataset_profile rows (profile_plots)
    database: str = ""
    generated_at: dt.datetime = field(default_factory=lambda: dt.datetime.now().replace(microsecond=0))

    @property
    def model_ref(self) -> str:
        return f"{self.model_name}:{self.model_version}"


def parse_model_ref(ref: str) -> tuple[str, str]:
    name, sep, version = str(ref).partition(":")
    if not sep or not name or not version:
        raise ReportError(f"model reference {ref!r} must be NAME:VERSION")
    return name, version


# --- reading ----------------------------------------------------------------------------------
def load_report_data(session, settings: Settings, model_ref: str, cohort: str, split: str = "test") -> ReportData:
    """Read one model version's evaluation on `cohort` and `split` from the evaluation models.
    The headline is the held-out test split; 'all' pools every split, training images included,
    and the report says so."""
    name, version = parse_model_ref(model_ref)
    if split not in SPLITS:
        raise ReportError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    db = lit.identifier(settings.database)
    where = (f"model_name = {lit.string(name)} AND model_version = {lit.string(version)} "
             f"AND cohort = {lit.string(cohort)}")
    split_where = "" if split == "all" else f" AND split = {lit.string(split)}"
    try:
        preds = session.execute(
            f"SELECT label_value, probability FROM {db}.`eval_predictions` WHERE {where}{split_where}").rows
        metrics = session.execute(
            f"SELECT * FROM {db}.`eval_metrics` WHERE {where} AND split = {lit.string(split)}").dicts()
        calibration = session.execute(
            f"SELECT * FROM {db}.`eval_calibration` WHERE {where} AND split = {lit.string(split)} ORDER BY bin").dicts()
        sites = session.execute(
            f"SELECT * FROM {db}.`eval_metrics_by_site` WHERE {where} AND split = {lit.string(split)} "
            f"ORDER BY n DESC, institution_key").dicts()
    except MiWarehouseError as e:
        raise ReportError(f"cannot read the evaluation models in {settings.database} ({e}); build them with "
                          f"`mi-warehouse run --select +eval_metrics_by_site +eval_calibration`") from None
    if not preds or not metrics:
        raise ReportError(f"no evaluation of {name}:{version} on cohort {cohort!r} (split {split}) in "
                          f"{settings.database}.eval_metrics: check the names, and that predictions and "
                          f"labels exist and the evaluation models are built")
    return ReportData(name, version, cohort, split, [int(r[0]) for r in preds], [float(r[1]) for r in preds],
                      metrics[0], calibration, sites, settings.database)


def write_eval_report(session, settings: Settings, model_ref: str, cohort: str, out_dir: Path | str,
                      split: str = "test", gallery: str | None = None, embed_phi: bool = False,
                      gallery_size: int = 4) -> Path:
    """Write `<out_dir>/index.html` for `model_ref` ('name:version') on `cohort`; return its path.
    `gallery`: an explain output folder; the report then shows the `gallery_size` most confident
    false positives, false negatives and true positives with their maps, under the PHI rule of
    `reports/gallery.py`."""
    data = load_report_data(session, settings, model_ref, cohort, split)
    from .profile_plots import load_profile  # it imports this module's plot helpers

    data.profile = load_profile(session, settings)
    section = ""
    if gallery is not None:
        from . import gallery as saliency

        saliency.check_report_folder(session, settings, out_dir, embed_phi)
        cases = saliency.confident_errors(session, settings, model_ref, cohort, split, gallery_size)
        section = saliency.gallery_html(cases, gallery)
    return render_report(data, out_dir, section)


# --- computing --------------------------------------------------------------------------------
def roc_curve(y: Sequence[int], p: Sequence[float]) -> tuple[np.ndarray, np.ndarray] | None:
    """(FPR, TPR) at every distinct score, from (0, 0) to (1, 1); None with one class only.

    Tied scores move the curve diagonally, so the trapezoidal area equals the rank-sum AUC."""
    ya = np.asarray(y, dtype=float)
    pa = np.asarray(p, dtype=float)
    n_pos = ya.sum()
    n_neg = len(ya) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(-pa, kind="mergesort")
    ps, ys = pa[order], ya[order]
    last = np.r_[np.nonzero(np.diff(ps))[0], len(ps) - 1]  # the last index of each distinct score
    tps = np.cumsum(ys)[last]
    fps = (last + 1) - tps
    return np.r_[0.0, fps / n_neg], np.r_[0.0, tps / n_pos]


# --- drawing ----------------------------------------------------------------------------------
def _figure(width: float = 4.6, height: float = 4.2):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _roc_png(data: ReportData) -> str | None:
    curve = roc_curve(data.y, data.p)
    if curve is None:
        return None
    fpr, tpr = curve
    m = data.metrics
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    ax.plot([0, 1], [0, 1], linestyle="--", color="#999999", linewidth=1, label="chance")
    ax.plot(fpr, tpr, color="#1f5fa8", linewidth=2, label=f"ROC, AUC {_num(m.get('auc'))}")
    sens, spec = m.get("sensitivity"), m.get("specificity")
    if sens is not None and spec is not None:
        ax.plot([1 - spec], [sens], marker="o", color="#c0392b", linestyle="none",
                label=f"threshold {_num(m.get('decision_threshold'), 2)}")
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_xlabel("1 - specificity (false positive rate)")
    ax.set_ylabel("sensitivity (true positive rate)")
    ax.set_title("ROC curve")
    ax.set_aspect("equal")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return _png(fig)


def _calibration_png(data: ReportData) -> str | None:
    bins = [b for b in data.calibration if b.get("n")]
    if not bins:
        return None
    fig = _figure(4.6, 5.0)
    ax = fig.add_axes([0.14, 0.34, 0.8, 0.58])
    hist = fig.add_axes([0.14, 0.1, 0.8, 0.16], sharex=ax)
    ax.plot([0, 1], [0, 1], linestyle="--", color="#999999", linewidth=1, label="perfect calibration")
    ax.plot([b["mean_predicted"] for b in bins], [b["observed_rate"] for b in bins], marker="o",
            color="#1f5fa8", label=f"model, ECE {_num(data.metrics.get('ece'))}")
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.01, 1.01)
    ax.set_ylabel("observed positive rate")
    ax.set_title("Calibration (10 equal-width bins)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    ax.tick_params(labelbottom=False)
    lows = [float(b.get("bin_lower", i / 10)) for i, b in enumerate(data.calibration)]
    hist.bar(lows, [int(b.get("n") or 0) for b in data.calibration], width=0.1, align="edge",
             color="#7fa7d6", edgecolor="#1f5fa8")
    hist.set_xlabel("mean predicted probability")
    hist.set_ylabel("images")
    return _png(fig)


# --- writing ----------------------------------------------------------------------------------
def _num(v: Any, digits: int = 3) -> str:
    if v is None:
        return "–"
    f = float(v)
    if math.isnan(f):
        return "–"
    return f"{f:.{digits}f}"


def _interval(m: dict, key: str) -> str:
    lo, hi = m.get(f"{key}_ci_lower"), m.get(f"{key}_ci_upper")
    est = _num(m.get(key))
    if lo is None or hi is None:
        return est
    return f"{est} <span class=ci>({_num(lo)}–{_num(hi)})</span>"


def _e(v: Any) -> str:
    return html.escape("–" if v is None else str(v))


def _metrics_table(m: dict) -> str:
    rows = [
        ("Images", _e(m.get("n"))),
        ("Positives / negatives", f"{_e(m.get('n_positive'))} / {_e(m.get('n_negative'))}"),
        ("Prevalence", _num(m.get("prevalence"))),
        ("Decision threshold", _num(m.get("decision_threshold"), 3)),
        ("ROC AUC (DeLong 95% CI)", _interval(m, "auc")),
        ("Sensitivity (Wilson 95% CI)", _interval(m, "sensitivity")),
        ("Specificity (Wilson 95% CI)", _interval(m, "specificity")),
        ("Accuracy (Wilson 95% CI)", _interval(m, "accuracy")),
        ("PPV", _num(m.get("ppv"))),
        ("NPV", _num(m.get("npv"))),
        ("F1", _num(m.get("f1"))),
        ("Brier score", _num(m.get("brier"), 4)),
        ("ECE (10 bins)", _num(m.get("ece"), 4)),
    ]
    body = "\n".join(f"<tr><th>{html.escape(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f"<table class=metrics>\n{body}\n</table>"


def _coverage_table(m: dict) -> str:
    """Coverage, the metrics with failures counted as wrong, and the patient-clustered intervals."""
    rows = [
        ("Cohort images", _e(m.get("n_cohort"))),
        ("Scored / failed (error) / no prediction",
         f"{_e(m.get('n_scored'))} / {_e(m.get('n_error'))} / {_e(m.get('n_unscored'))}"),
        ("Coverage", _num(m.get("coverage"))),
        ("Sensitivity, failures counted as wrong (Wilson 95% CI)", _interval(m, "sensitivity_failed_as_wrong")),
        ("Specificity, failures counted as wrong (Wilson 95% CI)", _interval(m, "specificity_failed_as_wrong")),
        ("Accuracy, failures counted as wrong", _num(m.get("accuracy_failed_as_wrong"))),
        ("ROC AUC, failures ranked worst", _num(m.get("auc_failed_as_wrong"))),
        ("Patients", _e(m.get("n_patients"))),
        ("ROC AUC, patient-clustered 95% CI (Obuchowski 1997)", _interval(_clustered(m), "auc")),
        ("Sensitivity, patient-clustered 95% CI (ratio estimator, Wilson)", _interval(_clustered(m), "sensitivity")),
        ("Specificity, patient-clustered 95% CI (ratio estimator, Wilson)", _interval(_clustered(m), "specificity")),
    ]
    body = "\n".join(f"<tr><th>{html.escape(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f"<table class=coverage>\n{body}\n</table>"


def _clustered(m: dict) -> dict:
    """`m` with its *_ci_*_clustered bounds under the plain names, for _interval."""
    out = dict(m)
    for key in ("auc", "sensitivity", "specificity"):
        for side in ("lower", "upper"):
            out[f"{key}_ci_{side}"] = m.get(f"{key}_ci_{side}_clustered")
    return out


def _confusion_table(m: dict) -> str:
    return (
        "<table class=confusion>\n"
        "<tr><td></td><th>predicted positive</th><th>predicted negative</th></tr>\n"
        f"<tr><th>actual positive</th><td class=good>TP {_e(m.get('tp'))}</td><td class=bad>FN {_e(m.get('fn'))}</td></tr>\n"
        f"<tr><th>actual negative</th><td class=bad>FP {_e(m.get('fp'))}</td><td class=good>TN {_e(m.get('tn'))}</td></tr>\n"
        "</table>")


def _sites_table(sites: list[dict]) -> str:
    if not sites:
        return "<p>No per-site rows.</p>"
    head = ("<tr><th>site (institution_key)</th><th>images</th><th>positives</th><th>AUC</th>"
            "<th>sensitivity</th><th>specificity</th><th>Brier</th></tr>")
    rows = []
    for s in sites:
        rows.append(
            f"<tr><td class=key>{_e(s.get('institution_key'))}</td><td>{_e(s.get('n'))}</td>"
            f"<td>{_e(s.get('n_positive'))}</td><td>{_interval(s, 'auc')}</td><td>{_interval(s, 'sensitivity')}</td>"
            f"<td>{_interval(s, 'specificity')}</td><td>{_num(s.get('brier'), 4)}</td></tr>")
    return f"<table class=sites>\n{head}\n" + "\n".join(rows) + "\n</table>"


def _img(uri: str | None, alt: str, why: str) -> str:
    if uri is None:
        return f"<p class=note>{html.escape(alt)}: {html.escape(why)}</p>"
    return f'<img src="{uri}" alt="{html.escape(alt)}">'


_CSS = """
body { font-family: system-ui, -apple-system, Segoe UI, sans-serif; margin: 2em auto; max-width: 1100px;
       color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
.sub { color: #666; margin-top: 0; } .note { color: #8a6d3b; } .ci { color: #666; font-size: 0.9em; }
table { border-collapse: collapse; margin: 0.5em 0; } th, td { border: 1px solid #ddd; padding: 4px 10px; }
th { background: #f4f6f8; text-align: left; font-weight: 600; } td { text-align: right; }
td.key { text-align: left; font-family: monospace; } .confusion td { min-width: 7em; text-align: center; }
td.good { background: #e8f5e9; } td.bad { background: #fdecea; }
.plots { display: flex; flex-wrap: wrap; gap: 1.5em; } .plots img { max-width: 100%; border: 1px solid #eee; }
.phi { background: #fdecea; border: 1px solid #c0392b; padding: 0.6em 1em; }
.gallery { display: flex; flex-wrap: wrap; gap: 1em; } .gallery figure { margin: 0; max-width: 260px; }
.gallery img { width: 256px; border: 1px solid #eee; } figcaption { font-size: 0.85em; color: #444; }
footer { color: #888; font-size: 0.85em; margin-top: 2em; }
"""


def render_report(data: ReportData, out_dir: Path | str, gallery_html: str = "") -> Path:
    """Write `<out_dir>/index.html` from `data` (with a saliency gallery section, which puts
    the PHI banner on the page); return its path."""
    from .gallery import BANNER
    from .profile_plots import profile_plots, profile_section

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    m = data.metrics
    profile_html = profile_section(profile_plots(data.profile))
    one_class = "one class only in this cohort and split"
    roc = _img(_roc_png(data), "ROC curve", one_class)
    cal = _img(_calibration_png(data), "Calibration plot", "no predictions")
    title = f"{data.model_ref} on {data.cohort} ({data.split})"
    split_note = ("<p class=note>Split 'all' pools every split and includes training images: it "
                  "describes the data, it is not a performance estimate (use split 'test').</p>"
                  if data.split == "all" else "")
    doc = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Evaluation: {html.escape(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>Evaluation of {html.escape(data.model_ref)}</h1>
<p class=sub>cohort <b>{html.escape(data.cohort)}</b>, split <b>{html.escape(data.split)}</b>,
{len(data.y)} images, database {html.escape(data.database)}</p>
{BANNER if gallery_html else ""}
{split_note}
<h2>Metrics</h2>
{_metrics_table(m)}
<h2>Coverage, failures and patient clustering</h2>
{_coverage_table(m)}
<h2>Confusion matrix at threshold {_num(m.get('decision_threshold'), 3)}</h2>
{_confusion_table(m)}
<h2>ROC curve and calibration</h2>
<div class=plots>
{roc}
{cal}
</div>
<h2>Per site</h2>
{_sites_table(data.sites)}
{profile_html}
{gallery_html}
<footer>Generated {html.escape(data.generated_at.isoformat(sep=' '))} by mi-warehouse from eval_predictions,
eval_metrics, eval_calibration and eval_metrics_by_site. AUC: rank sum with ties averaged, 95% interval
by DeLong (images independent) and by Obuchowski (1997) clustered by patient; rates: Wilson 95% intervals,
and clustered by patient with the ratio estimator's cluster-robust variance (Wilson at the effective size);
failures (error rows, invalid probabilities) and cohort images without a prediction are left out of the
metrics above and counted as wrong in the coverage table; ECE over 10 equal-width bins.</footer>
</body>
</html>
"""
    path = out / "index.html"
    tmp = out / ".index.html.tmp"
    tmp.write_text(doc, encoding="utf-8")
    tmp.replace(path)
    return path
