"""A key index in Parquet files, for the ledger: lookups that read what they look for, not all of it.

Rows are spread over `SHARDS` shard folders by a stable hash (`shard_of`), and each write puts one
file per touched shard, sorted by the key, in row groups of `ROW_GROUP` rows whose min/max
statistics bound their keys. A lookup reads the footers of the shards its keys fall in and only
the row groups whose key range holds one of them: at most one row group per key and file, so its
cost follows the number of keys asked (the files walked in a run), not the rows ever written.
When a shard holds more than `MAX_FILES` files, they are merged into one (memory: one shard,
about 1/SHARDS of the index). A merge writes its file before it deletes the ones it replaces:
killed in between, the rows are there twice, which no lookup minds.

Only pyarrow.fs calls are used, so the index works with its root on local disk, HDFS or S3.
"""

from __future__ import annotations

import bisect
import zlib
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterable

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyarrow.fs import FileSelector, FileType

from ..runtime.sorted_runs import sorted_runs
from ..runtime.storage import join, write_parquet_atomic

SHARDS = 256
ROW_GROUP = 4096
MAX_FILES = 8
WRITE_THREADS = 4
_SHARD = "_shard"  # the shard of each row, a column only while a write sorts by it


def crc_shard(text: str, shards: int = SHARDS) -> int:
    return zlib.crc32(text.encode("utf-8", "surrogatepass")) % shards


@dataclass
class _File:
    path: str
    ranges: list  # (min, max) of the key per row group; (None, None) where a group has no statistics


class KeyIndex:
    def __init__(self, fs, directory: str, key: str, shard_of: Callable[[str], int] | None = None,
                 shards: int = SHARDS, row_group: int = ROW_GROUP, max_files: int = MAX_FILES):
        self.fs, self.dir, self.key = fs, directory, key
        self.shards, self.row_group, self.max_files = shards, row_group, max_files
        self.shard_of = shard_of or (lambda k: crc_shard(k, shards))
        self._footers: dict[int, list[_File]] = {}  # per shard, read once per run

    def _shard_dir(self, shard: int) -> str:
        return join(self.dir, f"{shard:03d}")

    def _paths(self, shard: int) -> list[str]:
        """The shard's files, listed (no footer read)."""
        d = self._shard_dir(shard)
        if self.fs.get_file_info(d).type != FileType.Directory:
            return []
        return sorted(i.path for i in self.fs.get_file_info(FileSelector(d))
                      if i.base_name.endswith(".parquet") and not i.base_name.startswith("."))

    def _files(self, shard: int) -> list[_File]:
        if shard not in self._footers:
            self._footers[shard] = [_File(p, self._ranges(p)) for p in self._paths(shard)]
        return self._footers[shard]

    def _ranges(self, path: str) -> list:
        with self.fs.open_input_file(path) as f:
            meta = pq.ParquetFile(f).metadata
        col = meta.schema.names.index(self.key)
        out = []
        for g in range(meta.num_row_groups):
            s = meta.row_group(g).column(col).statistics
            out.append((s.min, s.max) if s is not None and s.has_min_max else (None, None))
        return out

    def lookup(self, keys: Iterable[str], columns: list[str] | None = None) -> pa.Table | None:
        """The rows whose key is one of `keys` (all of their columns, or `columns`), or None."""
        by_shard: dict[int, list[str]] = defaultdict(list)
        for k in keys:
            by_shard[self.shard_of(k)].append(k)
        parts = []
        for shard, wanted in by_shard.items():
            wanted.sort()
            for f in self._files(shard):
                groups = [g for g, (lo, hi) in enumerate(f.ranges) if lo is None or _holds(wanted, lo, hi)]
                if not groups:
                    continue
                with self.fs.open_input_file(f.path) as fp:
                    t = pq.ParquetFile(fp).read_row_groups(groups, columns=columns)
                parts.append(t.filter(pc.is_in(t[self.key], value_set=pa.array(wanted, pa.string()))))
        parts = [p for p in parts if p.num_rows]
        return pa.concat_tables(parts) if parts else None

    def write(self, name: str, table: pa.Table, threads: int = WRITE_THREADS) -> None:
        """One sorted file per shard the rows touch, named `<name>.parquet` (a re-run replaces it).

        A run touches up to SHARDS shards: their files are written by `threads` threads (the
        filesystem calls and the encoding release the GIL; on HDFS or S3 each file is a round trip),
        each shard's merge, if due, in the thread that wrote it. Returns once every file is written."""
        if not table.num_rows:
            return
        shards = pa.array([self.shard_of(k) for k in table[self.key].to_pylist()], pa.int32())
        parts = [(s, part.drop_columns([_SHARD])) for (s,), part in
                 sorted_runs(table.append_column(_SHARD, shards), [_SHARD], [self.key])]
        if threads <= 1 or len(parts) <= 1:
            for s, part in parts:
                self._write_shard(s, name, part)
            return
        with ThreadPoolExecutor(threads) as pool:
            for done in [pool.submit(self._write_shard, s, name, part) for s, part in parts]:
                done.result()  # raises what the write raised

    def _write_shard(self, shard: int, name: str, part: pa.Table) -> None:
        write_parquet_atomic(self.fs, join(self._shard_dir(shard), f"{name}.parquet"), part,
                             row_group_size=self.row_group)
        self._footers.pop(shard, None)
        if len(self._paths(shard)) > self.max_files:
            self.merge(shard, name)

    def merge(self, shard: int, name: str) -> None:
        paths = self._paths(shard)
        tables = []
        for path in paths:
            with self.fs.open_input_file(path) as fp:
                tables.append(pq.read_table(fp))
        merged = pa.concat_tables(tables, promote_options="default").sort_by(self.key)
        target = join(self._shard_dir(shard), f"merged-{name}.parquet")
        write_parquet_atomic(self.fs, target, merged, row_group_size=self.row_group)
        for path in paths:
            if path != target:
                self.fs.delete_file(path)
        self._footers.pop(shard, None)

    def file_count(self) -> int:
        return sum(len(self._paths(s)) for s in range(self.shards))


def _holds(sorted_keys: list[str], lo: str, hi: str) -> bool:
    i = bisect.bisect_left(sorted_keys, lo)
    return i < len(sorted_keys) and sorted_keys[i] <= hi
