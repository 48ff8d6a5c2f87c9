"""The ledger's key indexes: what a lookup finds, what it reads, merges, the old layout, other filesystems."""

from __future__ import annotations

from types import SimpleNamespace

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from mi_warehouse.loaders.ledger import Ledger, folder_shard
from mi_warehouse.loaders.ledger_index import KeyIndex
from mi_warehouse.runtime.tables import LEDGER


def entries(n: int, run: str = "run-1", folder_size: int = 100, outcome: str = "loaded") -> list[tuple]:
    return [(f"file:///pacs/{i // folder_size:05d}/{i:07d}.dcm", 1000 + i, 7 * i, f"1.2.826.0.1.{i}", outcome, run)
            for i in range(n)]


def as_file(entry: tuple, size_delta: int = 0) -> SimpleNamespace:
    return SimpleNamespace(uri=entry[0], size=entry[1] + size_delta, mtime_ns=entry[2])


@pytest.fixture
def rows_read(monkeypatch):
    """Count the rows that lookups read out of Parquet row groups."""
    counter = {"rows": 0}
    original = pq.ParquetFile.read_row_groups

    def counting(self, groups, *a, **k):
        t = original(self, groups, *a, **k)
        counter["rows"] += t.num_rows
        return t

    monkeypatch.setattr(pq.ParquetFile, "read_row_groups", counting)
    return counter


def test_unseen_and_duplicates(tmp_path):
    ledger = Ledger(tmp_path.as_uri()).load()
    old = entries(500)
    ledger.write("run-1", old)
    walked = [as_file(e) for e in old[:300]] + [as_file(old[300], size_delta=1)] + \
        [SimpleNamespace(uri="file:///pacs/new/a.dcm", size=1, mtime_ns=1)]
    assert [f.uri for f in Ledger(tmp_path.as_uri()).load().unseen(walked)] == \
        [old[300][0], "file:///pacs/new/a.dcm"]  # changed size, and a new file
    assert ledger.first_paths(["1.2.826.0.1.7", "1.2.826.0.1.999999", None]) == {"1.2.826.0.1.7": old[7][0]}


def test_only_loaded_files_are_first_paths(tmp_path):
    ledger = Ledger(tmp_path.as_uri())
    ledger.write("run-1", [("file:///a/x.dcm", 1, 1, "1.2.3", "duplicate", "run-1"),
                           ("file:///a/y.dcm", 1, 1, None, "truncated", "run-1")])
    assert ledger.first_paths(["1.2.3"]) == {}
    assert ledger.unseen([SimpleNamespace(uri="file:///a/y.dcm", size=1, mtime_ns=1)]) == []


def test_a_lookup_reads_row_groups_for_its_keys_not_the_whole_ledger(tmp_path, rows_read):
    fs = pafs.LocalFileSystem()
    index = KeyIndex(fs, str(tmp_path / "paths"), "path", folder_shard, shards=4, row_group=64)
    rows = entries(40_000)
    index.write("run-1", LEDGER.to_arrow(rows))
    wanted = [r[0] for r in rows[12_000:12_100]]  # one folder of 100 files
    found = index.lookup(wanted, ["path"])
    assert sorted(found["path"].to_pylist()) == sorted(wanted)
    assert rows_read["rows"] <= 100 + 2 * 64  # the folder's rows, and the edges of two row groups
    rows_read["rows"] = 0
    assert index.lookup(["file:///pacs/99999/none.dcm"]) is None
    assert rows_read["rows"] <= 64


def test_shards_merge_past_max_files_and_keep_every_row(tmp_path):
    index = KeyIndex(pafs.LocalFileSystem(), str(tmp_path / "sops"), "sop_instance_uid", shards=2, max_files=3)
    all_rows = []
    for run in range(7):
        rows = [(f"file:///d/{run}/{i}.dcm", 1, 1, f"1.2.{run}.{i}", "loaded", f"run-{run}") for i in range(50)]
        all_rows += rows
        index.write(f"run-{run}", LEDGER.to_arrow(rows))
    assert index.file_count() <= 2 * 3
    found = index.lookup([r[3] for r in all_rows], ["sop_instance_uid"])
    assert sorted(found["sop_instance_uid"].to_pylist()) == sorted(r[3] for r in all_rows)


def test_ledgers_of_earlier_releases_move_into_the_indexes(tmp_path):
    phi, core = tmp_path / "mi_phi", tmp_path / "mi"
    old_phi, old_core = entries(20, "run-a"), entries(20, "run-b")[10:]
    for directory, rows, run in ((phi, old_phi, "run-a"), (core, old_core, "run-b")):
        (directory / "_ledger").mkdir(parents=True)
        pq.write_table(LEDGER.to_arrow(rows), directory / "_ledger" / f"{run}.parquet")
    ledger = Ledger(phi.as_uri(), legacy=core.as_uri()).load()
    assert not (core / "_ledger").exists()
    assert not list((phi / "_ledger").glob("*.parquet"))
    assert ledger.unseen([as_file(e) for e in old_phi + old_core]) == []
    assert ledger.first_paths([old_core[-1][3]]) == {old_core[-1][3]: old_core[-1][0]}


def test_the_indexes_work_on_a_filesystem_that_is_not_local_disk():
    """pyarrow's in-memory filesystem stands for HDFS and S3: only pyarrow.fs calls are made."""
    fs = pafs._MockFileSystem()
    index = KeyIndex(fs, "bucket/mi_phi/_ledger/paths", "path", folder_shard, shards=8, row_group=16, max_files=2)
    rows = entries(300)
    for run in range(3):
        index.write(f"run-{run}", LEDGER.to_arrow(rows[run * 100:(run + 1) * 100]))
    fresh = KeyIndex(fs, "bucket/mi_phi/_ledger/paths", "path", folder_shard, shards=8, row_group=16, max_files=2)
    found = fresh.lookup([r[0] for r in rows[::7]], ["path", "size"])
    assert sorted(zip(found["path"].to_pylist(), found["size"].to_pylist())) == sorted((r[0], r[1]) for r in rows[::7])


def test_a_run_written_twice_replaces_its_files(tmp_path):
    index = KeyIndex(pafs.LocalFileSystem(), str(tmp_path / "p"), "path", folder_shard, shards=4)
    table = LEDGER.to_arrow(entries(50))
    index.write("run-1", table)
    index.write("run-1", table)  # a run killed after its ledger, run again
    found = index.lookup(table["path"].to_pylist(), ["path"])
    assert found.num_rows == 50
    assert isinstance(found, pa.Table)


def test_a_remote_tree_is_walked_one_folder_at_a_time_in_sorted_order():
    from mi_warehouse.loaders.sources import walk_filesystem

    fs = pafs._MockFileSystem()
    for path in ("b/2/y.dcm", "b/1/x.dcm", "b/1/.hidden", "b/.cache/z.dcm", "b/a.dcm"):
        fs.create_dir(path.rsplit("/", 1)[0])
        with fs.open_output_stream(path) as f:
            f.write(b"DICM")
    listed = []
    original = fs.get_file_info

    class Spy:  # records each listing: one folder each, never recursive
        def get_file_info(self, what):
            if isinstance(what, pafs.FileSelector):
                assert not what.recursive
                listed.append(what.base_dir)
            return original(what)

    got = [f.uri for f in walk_filesystem(Spy(), "s3://bucket/", fs.get_file_info("b"))]
    assert got == ["s3://bucket/b/1/x.dcm", "s3://bucket/b/2/y.dcm", "s3://bucket/b/a.dcm"]
    assert sorted(listed) == ["b", "b/1", "b/2"]


def test_shards_written_by_threads_hold_what_one_thread_writes(tmp_path):
    fs, table = pafs.LocalFileSystem(), LEDGER.to_arrow(entries(3000, folder_size=10))
    for threads in (1, 4):
        KeyIndex(fs, str(tmp_path / f"t{threads}"), "path", shards=16).write("run-1", table, threads)
    one, four = (sorted(p.relative_to(tmp_path / f"t{n}") for p in (tmp_path / f"t{n}").rglob("*.parquet"))
                 for n in (1, 4))
    assert one == four and len(one) == 16
    for name in one:
        assert pq.read_table(tmp_path / "t1" / name).equals(pq.read_table(tmp_path / "t4" / name))


def test_a_shard_write_that_fails_fails_the_ledger_write(tmp_path, monkeypatch):
    import mi_warehouse.loaders.ledger_index as li

    real = li.write_parquet_atomic

    def failing(fs, path, table, **k):
        if "/005/" in path:
            raise OSError(f"disk full writing {path}")
        return real(fs, path, table, **k)

    monkeypatch.setattr(li, "write_parquet_atomic", failing)
    index = KeyIndex(pafs.LocalFileSystem(), str(tmp_path / "p"), "path", shards=16)
    with pytest.raises(OSError, match="disk full"):
        index.write("run-1", LEDGER.to_arrow(entries(3000, folder_size=10)))
