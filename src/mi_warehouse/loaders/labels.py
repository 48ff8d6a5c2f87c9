"""Ground-truth labels from a CSV into `<db>.labels`.

One Parquet file per (CSV file, source), replaced atomically when the same CSV is loaded again:
loading a label file twice never duplicates its labels.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from pathlib import Path

from ..config import Settings
from ..engine.connection import Session
from ..errors import MiWarehouseError
from ..runtime import rows as table_rows
from ..runtime.tables import LABELS

REQUIRED = ("sop_instance_uid", "label", "label_value")


class BadLabelFile(MiWarehouseError):
    """A label CSV lacks a column or holds a value that is not an integer."""


def read_labels(path: Path, source: str | None) -> list[tuple]:
    now = dt.datetime.now()
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise BadLabelFile(f"{path}: missing column(s) {', '.join(missing)}")
        for lineno, r in enumerate(reader, start=2):
            try:
                value = int(r["label_value"])
            except (TypeError, ValueError):
                raise BadLabelFile(f"{path}: line {lineno}: label_value {r['label_value']!r} is not an integer") from None
            rows.append((r["sop_instance_uid"], r.get("study_uid") or None, r["label"], value,
                         source or r.get("source") or path.name, now))
    return rows


def load_labels(session: Session, settings: Settings, path: Path, source: str | None = None) -> int:
    rows = read_labels(path, source)
    key = hashlib.sha256(f"{path.resolve()}\0{source or ''}".encode()).hexdigest()[:16]
    return table_rows.append_file(session, settings, LABELS, rows, f"labels-{key}.parquet")
