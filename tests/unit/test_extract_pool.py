"""The worker side of `load` (loaders/extract_pool.py): chunks of files out, one pickle of outcomes
and one Arrow table of rows back per chunk, a bounded number in flight; chunks come back in walk
order, equal to one worker's; a chunk's table holds its loaded files' rows, in outcome order."""

from __future__ import annotations

import os

import pytest
from pydicom.data import get_testdata_files

from mi_warehouse.loaders import extract_pool as pool
from mi_warehouse.loaders.extract import extract
from mi_warehouse.loaders.sources import SourceFile
from mi_warehouse.loaders.writer import stage_rows

ARGS = pool.WorkerArgs(None, "run-1", 1024, False, None, "surrogate", "default", buckets=8,
                       bucketing_version=1)  # no key: no de-identification


def _files():
    paths = sorted(p for p in get_testdata_files() if p.endswith(".dcm") and os.path.isfile(p))[:40]
    return [SourceFile("file://" + p, os.path.getsize(p), 0) for p in paths]


def _flat(chunks):
    return [(f, o, x) for files, x in chunks for f, o in zip(files, x.outcomes)]


@pytest.mark.parametrize("ahead", [64, 1])  # 1: this process often waits for the pool's oldest chunk
def test_pool_gives_the_chunks_of_one_worker_in_walk_order(monkeypatch, ahead):
    monkeypatch.setattr(pool, "WORK_CHUNK", 3)  # many chunks, and more of them than may be in flight
    monkeypatch.setattr(pool, "IN_FLIGHT_PER_WORKER", 2)
    monkeypatch.setattr(pool, "AHEAD", ahead)
    files = _files()
    one = list(pool.local_chunks(iter(files), 1, ARGS))
    two = list(pool.local_chunks(iter(files), 2, ARGS))
    assert [f for f, _, _ in _flat(two)] == files
    assert [(o.sop, o.error_class, o.warnings) for _, o, _ in _flat(two)] == \
        [(o.sop, o.error_class, o.warnings) for _, o, _ in _flat(one)]
    assert [x.staged.table.to_pylist() if x.staged else None for _, x in two] == \
        [x.staged.table.to_pylist() if x.staged else None for _, x in one]
    assert sum(o.sop is not None for _, o, _ in _flat(two)) > 20


def test_a_chunk_table_holds_the_rows_of_its_loaded_files_in_order():
    files = _files()[:12]
    pool.init_worker(ARGS)
    x = pool.work_chunk(files)
    rows = []
    for f in files:
        with open(f.uri[7:], "rb") as fp:
            o = extract(f.uri, fp, f.size, None, "run-1", 1024, False, "surrogate")
        if o.row is not None:
            rows.append(o.row)
    assert [o.sop for o in x.outcomes if o.error_class is None] == [r["sop_instance_uid"] for r in rows]
    assert all(o.row is None for o in x.outcomes)  # the rows travel in the table only
    expected = stage_rows(rows, 8, 1)
    assert x.staged.table.equals(expected.table) and x.staged.touched == expected.touched
    dropped = x.staged.without([0])
    assert dropped.table.to_pylist() == expected.table.to_pylist()[1:]


def test_the_parent_extracts_while_the_pool_is_full_and_the_rest_goes_to_the_pool(monkeypatch):
    """`--workers 2` is this process and one pool process: neither waits while the other works."""
    monkeypatch.setattr(pool, "WORK_CHUNK", 2)
    monkeypatch.setattr(pool, "IN_FLIGHT_PER_WORKER", 1)
    original, here = pool.work_chunk, []

    def counted(chunk):  # pickled by name for the pool, whose processes run the original
        here.append(len(chunk))
        return original(chunk)

    counted.__module__, counted.__qualname__ = original.__module__, original.__qualname__
    monkeypatch.setattr(pool, "work_chunk", counted)
    files = _files()
    out = list(pool.local_chunks(iter(files), 2, ARGS))
    assert [f for f, _, _ in _flat(out)] == files
    assert 0 < sum(here) < len(files)  # some chunks extracted here, the others by the pool


def test_a_pool_chunk_comes_back_through_a_spool_file_that_is_then_gone(tmp_path, monkeypatch):
    """The pool's rows travel as an Arrow file (a chunk is more than the pool's pipe holds)."""
    files = _files()[:12]
    pool.init_worker(ARGS)
    direct = pool.work_chunk(files)
    spooled = pool.spool_chunk(files, str(tmp_path))
    assert spooled.staged is None and spooled.spooled is not None
    path, touched = spooled.spooled
    assert os.path.dirname(path) == str(tmp_path) and os.path.getsize(path) > 0
    back = spooled.unspooled()
    assert back.staged.table.equals(direct.staged.table) and back.staged.touched == direct.staged.touched
    assert not os.path.exists(path) and back.spooled is None
    # a whole pooled run leaves no spool directory behind
    made = []
    real = pool.tempfile.mkdtemp
    monkeypatch.setattr(pool.tempfile, "mkdtemp", lambda **k: made.append(real(**k)) or made[-1])
    assert len(list(pool.local_chunks(iter(_files()), 2, ARGS))) > 0
    assert len(made) == 1 and not os.path.exists(made[0])
