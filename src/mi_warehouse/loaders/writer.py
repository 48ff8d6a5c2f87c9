"""Partitioned, bucketed, sorted Parquet that any Hive engine reads as `mi.dicom_metadata`.

Rows are staged while a load runs: in memory as Arrow tables, spilled to one sorted Parquet file
on local disk whenever they pass `memory_limit` bytes (so memory stays flat however large the
corpus). `commit()` then writes, for each touched bucket of each touched partition, one new file
of the staged rows, sorted by (patient_key, study_uid), hidden and renamed into place. It never
rewrites a file already there: the first file of a bucket is `000003_0`, the next ones are named
as Hive names its own appended bucket files, `000003_0_copy_1`, `000003_0_copy_2`, ..., which Hive
(`Utilities.getBucketIdFromFile`) and Spark both read as bucket 3. So an append costs what it
adds; `mi-warehouse compact` merges a partition's files back to one per bucket.

A row whose SOPInstanceUID is already in one of the bucket's files is the left-over of a run that
was killed after this commit and before its ledger was written: it is not added twice. Only the
buckets such a run may have written are checked (the load marks them pending before it commits,
see ledger.py), by reading the SOPInstanceUID column of their existing files; every other append
reads nothing of what is there.
"""

from __future__ import annotations

import shutil
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..serde import catalog as cat
from ..serde.hive_hash import bucket_file_name, bucket_id, bucket_id_from_file_name
from ..runtime.sorted_runs import sorted_runs
from ..runtime.storage import exists, filesystem, join, write_parquet_atomic

PartitionKey = tuple[int, int, str]
BUCKET = "_bucket"
PARTITION_NAMES = [c.name for c in cat.PARTITIONS]


def partition_dir(key: PartitionKey) -> str:
    y, m, mod = key
    return f"study_year={y}/study_month={m}/modality={mod}"


@dataclass
class CommitResult:
    partitions: list[PartitionKey]
    rows_added: int
    rows_already_present: int
    files_written: int


@dataclass
class Staged:
    """Rows in the staging schema (the table's columns, the partition columns, the bucket id) and
    the (partition, bucket) pairs they touch."""
    table: pa.Table
    touched: set[tuple[PartitionKey, int]]

    def without(self, drop: list[int]) -> Staged:
        """These rows less the rows at positions `drop`."""
        keep = pc.invert(pc.is_in(pa.array(range(self.table.num_rows)), value_set=pa.array(drop)))
        table = self.table.filter(keep)
        return Staged(table, _touched(table))


_STAGE_SCHEMA: list[pa.Schema] = []


def stage_schema() -> pa.Schema:
    """The table's columns, then the partition columns and the bucket id."""
    if not _STAGE_SCHEMA:
        _STAGE_SCHEMA.append(pa.schema(list(cat.arrow_schema()) + [pa.field(c.name, c.arrow_type)
                                                                  for c in cat.PARTITIONS]
                                       + [pa.field(BUCKET, pa.int32())]))
    return _STAGE_SCHEMA[0]


BUCKET_MEMO = 100_000  # patient_key -> bucket entries kept between batches


def stage_rows(rows: list[dict], buckets: int, version: int, memo: dict | None = None) -> Staged:
    """Row dicts (by column name, with the partition columns) as one Arrow table in the staging
    schema, turned column by column, with each row's bucket (Hive's hash of patient_key)."""
    memo = {} if memo is None else memo
    schema = stage_schema()
    bucket_ids, touched = [], set()
    for r in rows:
        key = r["patient_key"]
        b = memo.get(key)
        if b is None:
            b = memo[key] = bucket_id([key], ["string"], buckets, version)
        bucket_ids.append(b)
        touched.add(((r["study_year"], r["study_month"], r["modality"]), b))
    if len(memo) > BUCKET_MEMO:  # a patient's files come together: a small memo pays
        memo.clear()
    columns = {name: [r.get(name) for r in rows] for name in schema.names[:-1]}
    columns[BUCKET] = bucket_ids
    return Staged(pa.table(columns, schema=schema), touched)


def merge_staged(parts: list[Staged]) -> Staged:
    """Several Staged as one, its columns contiguous (a chunk of the pool is a few dozen rows)."""
    touched = set()
    for p in parts:
        touched |= p.touched
    return Staged(pa.concat_tables([p.table for p in parts]).combine_chunks(), touched)


def _touched(table: pa.Table) -> set[tuple[PartitionKey, int]]:
    cols = [table[n].to_pylist() for n in PARTITION_NAMES + [BUCKET]]
    return {((y, m, mod), b) for y, m, mod, b in zip(*cols)}


class BucketedWriter:
    def __init__(self, table_uri: str, staging: Path, buckets: int, bucketing_version: int,
                 row_group_size: int = 16_384, memory_limit: int = 64 * 1024 * 1024):
        self.table_uri = table_uri
        self.fs, self.table_path = filesystem(table_uri)
        self.staging = staging
        self.buckets = buckets
        self.version = bucketing_version
        self.row_group_size = row_group_size
        self.memory_limit = memory_limit
        self.schema = cat.arrow_schema()
        self.stage_schema = stage_schema()
        self._memory: list[pa.Table] = []
        self._memory_bytes = 0
        self._spills: list[Path] = []
        self._groups: dict[tuple[PartitionKey, int], list[tuple[int, int]]] = {}  # -> (spill, row group)
        self._resident: dict[tuple[PartitionKey, int], pa.Table] = {}  # sorted rows of a run never spilled
        self.staged_rows = 0
        self._touched: set[tuple[PartitionKey, int]] = set()
        self._buckets: dict[str | None, int] = {}  # patient_key -> bucket: a patient's files come together

    def bucket_of(self, patient_key: str | None) -> int:
        b = self._buckets.get(patient_key)
        if b is None:
            b = bucket_id([patient_key], ["string"], self.buckets, self.version)
            if len(self._buckets) < BUCKET_MEMO:
                self._buckets[patient_key] = b
        return b

    def stage(self, rows: list[dict]) -> None:
        """Stage a batch of rows (dicts by column name)."""
        if rows:
            self.stage_table(stage_rows(rows, self.buckets, self.version, self._buckets))

    def stage_table(self, staged: Staged) -> None:
        """Stage rows already in the staging schema (built by `stage_rows`, in a worker or here)."""
        table = staged.table
        if not table.num_rows:
            return
        self._touched |= staged.touched
        self._memory.append(table)
        self._memory_bytes += table.nbytes
        self.staged_rows += table.num_rows
        if self._memory_bytes > self.memory_limit:
            self._spill()

    def _spill(self) -> None:
        """The rows in memory to a local file, one row group per (partition, bucket), each sorted
        by SORT_COLUMNS: the commit then reads one bucket's row groups at a time."""
        self.staging.mkdir(parents=True, exist_ok=True)
        number = len(self._spills)
        path = self.staging / f"spill-{number:05d}.parquet"
        runs = _runs(pa.concat_tables(self._memory))  # the staged tables' own buffers, until sorted
        self._memory, self._memory_bytes = [], 0
        with pq.ParquetWriter(path, self.stage_schema, compression="none") as out:
            for group, (key, bucket, rows) in enumerate(runs):
                out.write_table(rows, row_group_size=max(rows.num_rows, 1))
                self._groups.setdefault((key, bucket), []).append((number, group))
        self._spills.append(path)
        runs = rows = None  # the sorted chunk is freed
        pa.default_memory_pool().release_unused()  # the allocator would keep the chunk's peak

    def _bucket_rows(self, key: PartitionKey, bucket: int, opened: dict[int, pq.ParquetFile]) -> pa.Table:
        """One bucket's staged rows, from its row group in each spill, sorted by SORT_COLUMNS.
        `opened`: the spills' ParquetFiles, each opened (its footer read) once per commit."""
        if (key, bucket) in self._resident:
            return self._resident.pop((key, bucket))
        parts = []
        for number, group in self._groups.get((key, bucket), []):
            if number not in opened:
                opened[number] = pq.ParquetFile(self._spills[number])
            parts.append(opened[number].read_row_group(group))
        rows = pa.concat_tables(parts)
        return rows if len(parts) == 1 else rows.sort_by([(c, "ascending") for c in cat.SORT_COLUMNS])

    def touched_partitions(self) -> list[PartitionKey]:
        return sorted({key for key, _ in self._touched})

    def touched(self) -> list[tuple[PartitionKey, int]]:
        return sorted(self._touched)

    def commit(self, check_buckets: set | None = None, threads: int = 4) -> CommitResult:
        """Write the staged rows: for each touched bucket of each touched partition, one new sorted
        file. Rows that never left memory are sorted there; otherwise they are read from the spills
        one bucket at a time (memory follows a bucket's share of the run, not the run). Files are
        encoded and written by `threads` threads (Arrow releases the GIL while it encodes), a
        bounded number of buckets in flight. `check_buckets`: the (partition, bucket) pairs that
        may hold left-overs of a killed run, whose existing SOPInstanceUIDs are read to skip rows
        already there; None checks every touched bucket."""
        if self._memory and not self._spills:  # the whole run fits in memory: no spill file
            self._resident = {(k, b): rows for k, b, rows in _runs(pa.concat_tables(self._memory))}
            self._memory, self._memory_bytes = [], 0
        elif self._memory:
            self._spill()
        added = present = files = 0
        partitions: set[PartitionKey] = set()
        existing: dict[PartitionKey, dict[int, list[str]]] = {}
        opened: dict[int, pq.ParquetFile] = {}
        in_flight: deque = deque()
        with ThreadPoolExecutor(max(threads, 1)) as pool:
            for key, bucket in sorted(self._resident or self._groups):
                partitions.add(key)
                directory = join(self.table_path, partition_dir(key))
                if key not in existing:
                    existing[key] = bucket_files(self.fs, directory)
                new = self._bucket_rows(key, bucket, opened).select(self.schema.names)
                olds = existing[key].get(bucket, [])
                if olds and (check_buckets is None or (key, bucket) in check_buckets):
                    seen = pa.concat_arrays([_sop_column(self.fs, join(directory, n)) for n in olds])
                    before = new.num_rows
                    new = new.filter(pc.invert(pc.is_in(new["sop_instance_uid"], value_set=seen)))
                    present += before - new.num_rows
                if new.num_rows:
                    in_flight.append(pool.submit(write_parquet_atomic, self.fs,
                                                 join(directory, next_bucket_file(bucket, olds)), new,
                                                 row_group_size=self.row_group_size))
                    added += new.num_rows
                    files += 1
                del new
                if len(in_flight) >= 2 * max(threads, 1):
                    in_flight.popleft().result()  # raises what the write raised
                    pa.default_memory_pool().release_unused()  # else the allocator keeps every bucket's
            while in_flight:
                in_flight.popleft().result()
        self._resident = {}
        pa.default_memory_pool().release_unused()
        self._touched.clear()
        return CommitResult(sorted(partitions), added, present, files)

    def discard_staging(self) -> None:
        self._memory, self._memory_bytes, self._spills, self._groups, self._resident = [], 0, [], {}, {}
        shutil.rmtree(self.staging, ignore_errors=True)


def _runs(chunk: pa.Table):
    """(partition key, bucket, rows sorted by SORT_COLUMNS) for each (partition, bucket) of a chunk."""
    for (y, m, mod, bucket), rows in sorted_runs(chunk, PARTITION_NAMES + [BUCKET], list(cat.SORT_COLUMNS)):
        yield (y, m, mod), bucket, rows


def bucket_files(fs, directory: str, remove_temporaries: bool = True) -> dict[int, list[str]]:
    """{bucket: [file names]} of a partition directory, in write order (base file, then copies).

    Hidden temporaries (`.name.tmp-*`) left by a killed run are removed on the way (the caller
    holds the load lock); other hidden or `_` entries are not bucket files and are left alone.
    """
    from pyarrow.fs import FileSelector, FileType

    out: dict[int, list[tuple[int, str]]] = {}
    if not exists(fs, directory):
        return {}
    for info in fs.get_file_info(FileSelector(directory)):
        name = info.base_name
        if info.type != FileType.File:
            continue
        if name.startswith(".") and ".tmp-" in name and remove_temporaries:
            fs.delete_file(info.path)
            continue
        if name.startswith((".", "_")):
            continue
        b = bucket_id_from_file_name(name)
        if b >= 0:
            out.setdefault(b, []).append((copy_number(name), name))
    return {b: [n for _, n in sorted(v)] for b, v in out.items()}


def copy_number(name: str) -> int:
    """0 for `000003_0`, N for `000003_0_copy_N`."""
    head, sep, tail = name.rpartition("_copy_")
    return int(tail) if sep and tail.isdigit() else 0


def next_bucket_file(bucket: int, existing: list[str]) -> str:
    """The name Hive would give the next file of `bucket`: `000003_0`, then `000003_0_copy_N`."""
    if not existing:
        return bucket_file_name(bucket)
    return bucket_file_name(bucket, f"0_copy_{max(copy_number(n) for n in existing) + 1}")


def _sop_column(fs, path: str) -> pa.Array:
    with fs.open_input_file(path) as f:
        return pq.read_table(f, columns=["sop_instance_uid"]).column(0).combine_chunks()
