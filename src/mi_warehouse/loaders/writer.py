"""Partitioned, bucketed, sorted Parquet that any Hive engine reads as `mi.dicom_metadata`.

Rows are staged while a load runs: in memory as Arrow tables, spilled to one sorted Parquet file
on local disk whenever they pass `memory_limit` bytes (so memory stays flat however large the
corpus). `commit()` then builds each touched bucket file of each touched partition: the file
already there (if any) plus the staged rows, sorted by (patient_key, study_uid), written hidden
and renamed over the old one. So every partition keeps one sorted file per bucket, named as Hive
maps files to buckets (`000003_0`), and a reader sees either the old file or the new one.

A row whose SOPInstanceUID is already in the bucket file is the left-over of a run that was
killed after this commit and before its ledger was written: it is not added twice.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..serde import catalog as cat
from ..serde.hive_hash import bucket_file_name, bucket_id
from ..runtime.storage import exists, filesystem, join, read_parquet, write_parquet_atomic

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


class BucketedWriter:
    def __init__(self, table_uri: str, staging: Path, buckets: int, bucketing_version: int,
                 row_group_size: int = 16_384, memory_limit: int = 192 * 1024 * 1024):
        self.table_uri = table_uri
        self.fs, self.table_path = filesystem(table_uri)
        self.staging = staging
        self.buckets = buckets
        self.version = bucketing_version
        self.row_group_size = row_group_size
        self.memory_limit = memory_limit
        self.schema = cat.arrow_schema()
        self.stage_schema = pa.schema(list(self.schema) + [pa.field(c.name, c.arrow_type) for c in cat.PARTITIONS]
                                      + [pa.field(BUCKET, pa.int32())])
        self._memory: list[pa.Table] = []
        self._memory_bytes = 0
        self._spills: list[Path] = []
        self.staged_rows = 0
        self._touched: set[tuple[PartitionKey, int]] = set()

    def bucket_of(self, patient_key: str | None) -> int:
        return bucket_id([patient_key], ["string"], self.buckets, self.version)

    def stage(self, rows: list[dict]) -> None:
        if not rows:
            return
        for r in rows:
            r[BUCKET] = b = self.bucket_of(r["patient_key"])
            self._touched.add(((r["study_year"], r["study_month"], r["modality"]), b))
        table = pa.Table.from_pylist(rows, schema=self.stage_schema)
        self._memory.append(table)
        self._memory_bytes += table.nbytes
        self.staged_rows += len(rows)
        if self._memory_bytes > self.memory_limit:
            self._spill()

    def _spill(self) -> None:
        table = pa.concat_tables(self._memory).sort_by(
            [(n, "ascending") for n in PARTITION_NAMES + [BUCKET]])
        self.staging.mkdir(parents=True, exist_ok=True)
        path = self.staging / f"spill-{len(self._spills):05d}.parquet"
        pq.write_table(table, path, row_group_size=8192, compression="none", write_statistics=True)
        self._spills.append(path)
        self._memory, self._memory_bytes = [], 0

    def _staged(self, key: PartitionKey) -> pa.Table:
        """Every staged row of one partition (from memory and from the spill files)."""
        y, m, mod = key
        parts = []
        expr = (pc.field("study_year") == y) & (pc.field("study_month") == m) & (pc.field("modality") == mod)
        for t in self._memory:
            parts.append(t.filter(expr))
        for path in self._spills:
            parts.append(pq.read_table(path, filters=expr, schema=self.stage_schema))
        return pa.concat_tables(parts) if parts else self.stage_schema.empty_table()

    def commit(self) -> CommitResult:
        added = present = files = 0
        partitions: set[PartitionKey] = set()
        by_partition: dict[PartitionKey, list[int]] = {}
        for key, bucket in self._touched:
            by_partition.setdefault(key, []).append(bucket)
        for key in sorted(by_partition):
            staged = self._staged(key)
            partitions.add(key)
            for bucket in sorted(by_partition[key]):
                new = staged.filter(pc.equal(staged[BUCKET], bucket)).select(self.schema.names)
                target = join(self.table_path, partition_dir(key), bucket_file_name(bucket))
                self._remove_stale_temporaries(target)
                if exists(self.fs, target):
                    old = read_parquet(self.fs, target).select(self.schema.names).cast(self.schema)
                    keep = pc.invert(pc.is_in(new["sop_instance_uid"], value_set=old["sop_instance_uid"]))
                    before = new.num_rows
                    new = new.filter(keep)
                    present += before - new.num_rows
                    if new.num_rows == 0:
                        continue
                    merged = pa.concat_tables([old, new])
                else:
                    merged = new
                merged = merged.sort_by([(c, "ascending") for c in cat.SORT_COLUMNS])
                write_parquet_atomic(self.fs, target, merged, row_group_size=self.row_group_size)
                added += new.num_rows
                files += 1
        self._touched.clear()
        return CommitResult(sorted(partitions), added, present, files)

    def _remove_stale_temporaries(self, target: str) -> None:
        """Hidden temporaries of this bucket file left by a killed run (we hold the load lock)."""
        from pyarrow.fs import FileSelector

        directory, name = target.rsplit("/", 1)
        if not exists(self.fs, directory):
            return
        for info in self.fs.get_file_info(FileSelector(directory)):
            if info.base_name.startswith(f".{name}.tmp-"):
                self.fs.delete_file(info.path)

    def discard_staging(self) -> None:
        self._memory, self._memory_bytes, self._spills = [], 0, []
        shutil.rmtree(self.staging, ignore_errors=True)
