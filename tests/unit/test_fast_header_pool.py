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


def test_the_parent_extracts_while_the_pool_is_full_and_the_rest_goes_to_the_pool(monkeypatch):
    """`--workers 2` is this process and one pool process: neither waits while the other works."""
    monkeypatch.setattr(load, "WORK_CHUNK", 2)
    monkeypatch.setattr(load, "IN_FLIGHT_PER_WORKER", 1)
    original, here = load._work_chunk, []

    def counted(chunk):  # pickled by name for the pool, whose processes run the original
        here.append(len(chunk))
        return original(chunk)

    counted.__module__, counted.__qualname__ = original.__module__, original.__qualname__
    monkeypatch.setattr(load, "_work_chunk", counted)
    files = _files()
    init = (None, "run-1", 1024, False, None, "surrogate", "default")
    out = list(load._outcomes(iter(files), 2, init))
    assert [f for f, _ in out] == files
    assert 0 < sum(here) < len(files)  # some chunks extracted here, the others by the pool
