"""Ground-truth labels from a CSV into `<db>.labels`.

One Parquet file per (CSV file, source), replaced atomically when the same CSV is loaded again:
loading a label file twice never duplicates its labels.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from pathlib import Path

import pyarrow as pa

from ..config import Settings
from ..engine import metastore
from ..engine.connection import Session
from ..errors import MiWarehouseError
from ..runtime.storage import filesystem, join, write_parquet_atomic

SCHEMA = pa.schema([("sop_instance_uid", pa.string()), ("study_uid", pa.string()), ("label", pa.string()),
                    ("label_value", pa.int32()), ("source", pa.string()), ("loaded_at", pa.timestamp("us"))])
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
    table = metastore.describe(session, f"{settings.database}.labels")
    rows = read_labels(path, source)
    if rows:
        cols = list(zip(*rows))
        t = pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(cols, SCHEMA)], schema=SCHEMA)
        fs, base = filesystem(table.location)
        key = hashlib.sha256(f"{path.resolve()}\0{source or ''}".encode()).hexdigest()[:16]
        write_parquet_atomic(fs, join(base, f"labels-{key}.parquet"), t)
        metastore.refresh(session, table.name)
    return len(rows)
