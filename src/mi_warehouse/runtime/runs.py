"""Run ids: one shape for every command that records a run (load, infer, run, test).

`<prefix>-YYYYMMDDTHHMMSS-<8 hex>`: sortable by start time, unique across hosts, and free of
anything a path or a patient could leak. `load` keeps its historical ids without a prefix.
"""

from __future__ import annotations

import datetime as dt
import uuid


def new_run_id(prefix: str = "") -> str:
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    return f"{prefix}-{stamp}" if prefix else stamp
