"""The worker pool of `load` (loaders/load.py `_outcomes`): chunks of files out, one pickle of outcomes
back per chunk, a bounded number in flight; outcomes come back in walk order, equal to one worker's."""

from __future__ import annotations

import os

from pydicom.data import get_testdata_files

from mi_warehouse.loaders import load
from mi_warehouse.loaders.sources import SourceFile


def _files():
    paths = sorted(p for p in get_testdata_files() if p.endswith(".dcm") and os.path.isfile(p))[:40]
    return [SourceFile("file://" + p, os.path.getsize(p), 0) for p in paths]


def test_pool_gives_the_outcomes_of_one_worker_in_walk_order(monkeypatch):
    monkeypatch.setattr(load, "WORK_CHUNK", 3)  # many chunks, and more of them than may be in flight
    monkeypatch.setattr(load, "IN_FLIGHT_PER_WORKER", 2)
    files = _files()
    init = (None, "run-1", 1024, False, None, "surrogate", "default")  # no key: no de-identification
    one = list(load._outcomes(iter(files), 1, init))
    two = list(load._outcomes(iter(files), 2, init))
    assert [f for f, _ in two] == files
    assert [(o.row, o.error_class, o.warnings) for _, o in two] == [(o.row, o.error_class, o.warnings)
                                                                     for _, o in one]
    assert sum(o.row is not None for _, o in two) > 20
