"""The dataset profile as pictures: the report's section built from ``dataset_profile``.

    rows = load_profile(session, settings)        # the dataset_profile table, arrays decoded
    plots = profile_plots(rows)                  # Plot objects: their counts and a PNG each
    html = profile_section(plots)

Four plots, every count read from the warehouse (nothing is recounted here): the class balance
per split (positive, negative, unlabelled images), the image sizes (rows x columns), and the
images per site (institution_key, split into positive / negative / unlabelled) and per
manufacturer, over split 'all'. Each plot comes with the table of the numbers it draws, so a
reader (and a test) can check the picture against the data.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Any

from ..config import Settings
from ..engine import literals as lit
from ..errors import MiWarehouseError
from .eval_report import _e, _figure, _png

__all__ = ["Plot", "load_profile", "profile_plots", "profile_section"]

SPLIT_ORDER = ("train", "validation", "test", "all")
NONE_LABEL = "(none)"
_ARRAYS = ("images_by_site", "images_by_manufacturer", "images_by_size")
_COLOURS = {"positive": "#c0392b", "negative": "#1f5fa8", "unlabelled": "#b0b7bf", "images": "#5b8cc4"}


@dataclass(frozen=True)
class Plot:
    """One profile plot: bar labels, named count series aligned with them, and the PNG."""

    key: str
    title: str
    labels: tuple[str, ...]
    series: dict[str, tuple[int, ...]]
    png: str | None = None


def _decode(value: Any) -> list[dict]:
    """An ARRAY<STRUCT> column as HiveServer2 sends it (JSON text) or as a list already."""
    if value is None:
        return []
    if isinstance(value, str):
        value = json.loads(value)
    return [dict(v) for v in value]


def load_profile(session, settings: Settings) -> list[dict]:
    """The rows of ``dataset_profile``, the array columns decoded; [] when the table is missing."""
    db = lit.identifier(settings.database)
    try:
        rows = session.execute(f"SELECT * FROM {db}.`dataset_profile`").dicts()
    except MiWarehouseError:
        return []
    for r in rows:
        for key in _ARRAYS:
            r[key] = _decode(r.get(key))
    return rows


def _label(v: Any) -> str:
    return NONE_LABEL if v is None else str(v)


def _count(v: Any) -> int:
    return int(v or 0)


def _class_balance(by_split: dict[str, dict]) -> Plot:
    splits = tuple(s for s in SPLIT_ORDER if s in by_split)
    rows = [by_split[s] for s in splits]
    return Plot("class_balance", "Class balance per split", splits, {
        "positive": tuple(_count(r["n_positive"]) for r in rows),
        "negative": tuple(_count(r["n_negative"]) for r in rows),
        "unlabelled": tuple(_count(r["n_images"]) - _count(r["n_labelled"]) for r in rows)})


def _sizes(row: dict) -> Plot:
    items = sorted(row.get("images_by_size") or [],
                   key=lambda d: (-_count(d["n_images"]), _count(d["image_rows"]), _count(d["image_columns"])))
    labels = tuple(f"{_label(d['image_rows'])} x {_label(d['image_columns'])}" for d in items)
    return Plot("image_sizes", "Image sizes (rows x columns), all splits", labels,
                {"images": tuple(_count(d["n_images"]) for d in items)})


def _sites(row: dict) -> Plot:
    items = sorted(row.get("images_by_site") or [], key=lambda d: (-_count(d["n_images"]), _label(d["institution_key"])))
    return Plot("sites", "Images per site (institution_key), all splits",
                tuple(_label(d["institution_key"]) for d in items), {
                    "positive": tuple(_count(d["n_positive"]) for d in items),
                    "negative": tuple(_count(d["n_negative"]) for d in items),
                    "unlabelled": tuple(_count(d["n_images"]) - _count(d["n_positive"]) - _count(d["n_negative"])
                                        for d in items)})


def _manufacturers(row: dict) -> Plot:
    items = sorted(row.get("images_by_manufacturer") or [],
                   key=lambda d: (-_count(d["n_images"]), _label(d["manufacturer"])))
    return Plot("manufacturers", "Images per manufacturer, all splits",
                tuple(_label(d["manufacturer"]) for d in items),
                {"images": tuple(_count(d["n_images"]) for d in items)})


def _draw(plot: Plot, horizontal: bool = False) -> str | None:
    """Stacked bars of ``plot.series`` over ``plot.labels``; None when there is nothing to draw."""
    if not plot.labels:
        return None
    n = len(plot.labels)
    fig = _figure(5.2, max(2.6, 0.32 * n + 1.2) if horizontal else 3.8)
    ax = fig.add_subplot(1, 1, 1)
    base = [0] * n
    for name, counts in plot.series.items():
        pos = list(range(n))
        colour = _COLOURS.get(name, "#5b8cc4")
        if horizontal:
            ax.barh(pos, counts, left=base, color=colour, label=name)
        else:
            ax.bar(pos, counts, bottom=base, color=colour, label=name)
        base = [b + c for b, c in zip(base, counts)]
    short = [lab if len(lab) <= 16 else lab[:14] + "…" for lab in plot.labels]
    if horizontal:
        ax.set_yticks(range(n), short, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("images")
    else:
        ax.set_xticks(range(n), short, rotation=30 if n > 4 else 0, ha="right" if n > 4 else "center", fontsize=8)
        ax.set_ylabel("images")
    if len(plot.series) > 1:
        ax.legend(fontsize=8)
    ax.set_title(plot.title, fontsize=10)
    ax.grid(alpha=0.3, axis="x" if horizontal else "y")
    return _png(fig)


def profile_plots(rows: list[dict]) -> list[Plot]:
    """The four plots of ``dataset_profile`` rows (see the module docstring); [] without rows."""
    by_split = {r["split"]: r for r in rows}
    if not by_split:
        return []
    overall = by_split.get("all", {})
    plots = [_class_balance(by_split), _sizes(overall), _sites(overall), _manufacturers(overall)]
    horizontal = {"sites", "manufacturers"}
    return [Plot(p.key, p.title, p.labels, p.series, _draw(p, p.key in horizontal)) for p in plots]


def _table(plot: Plot) -> str:
    head = "<tr><th></th>" + "".join(f"<th>{html.escape(k)}</th>" for k in plot.series) + "</tr>"
    body = "\n".join(
        f"<tr><td class=key>{_e(label)}</td>"
        + "".join(f"<td>{counts[i]}</td>" for counts in plot.series.values()) + "</tr>"
        for i, label in enumerate(plot.labels))
    return f"<table class=profile data-plot=\"{html.escape(plot.key)}\">\n{head}\n{body}\n</table>"


def profile_section(plots: list[Plot]) -> str:
    """The report's 'Dataset profile' section: each plot and the table of its counts."""
    if not plots:
        return ("<h2>Dataset profile</h2>\n<p class=note>No dataset_profile table: build it with "
                "`mi-warehouse run --select dataset_profile`.</p>")
    parts = []
    for p in plots:
        img = (f'<img src="{p.png}" alt="{html.escape(p.title)}" data-plot="{html.escape(p.key)}">'
               if p.png else f"<p class=note>{html.escape(p.title)}: no data</p>")
        parts.append(f"<div class=profile-plot>\n{img}\n{_table(p)}\n</div>")
    return ("<h2>Dataset profile</h2>\n<p class=sub>From dataset_profile: every image of the database "
            "(all modalities), by the patient split.</p>\n<div class=plots>\n" + "\n".join(parts) + "\n</div>")
