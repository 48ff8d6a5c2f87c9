"""Query results as a text table, CSV (with a header row) or JSON lines."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json

from ..errors import UnknownFormat
from .connection import Result

FORMATS = ("table", "csv", "json")


def _plain(v):
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return str(v)
    return v


def render(result: Result, fmt: str = "table") -> str:
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(result.columns)
        for r in result.rows:
            w.writerow(["" if v is None else _plain(v) for v in r])
        return buf.getvalue()
    if fmt == "json":
        return "".join(
            json.dumps({c: _plain(v) for c, v in zip(result.columns, r)}, ensure_ascii=False, default=str) + "\n"
            for r in result.rows
        )
    if fmt != "table":
        raise UnknownFormat(f"unknown output format {fmt!r}: use one of {', '.join(FORMATS)}")
    cells = [[("NULL" if v is None else str(_plain(v))) for v in r] for r in result.rows]
    widths = [len(c) for c in result.columns]
    for r in cells:
        widths = [max(w, len(v)) for w, v in zip(widths, r)]
    sep = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    line = lambda vals: "| " + " | ".join(v.ljust(w) for v, w in zip(vals, widths)) + " |"  # noqa: E731
    out = [sep, line(result.columns), sep, *(line(r) for r in cells), sep]
    n = len(result.rows)
    out.append(f"{n} row{'s' if n != 1 else ''}")
    return "\n".join(out) + "\n"
