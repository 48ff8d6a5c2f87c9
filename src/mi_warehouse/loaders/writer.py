"""Partitioned, bucketed, sorted Parquet that any Hive engine reads as `mi.dicom_metadata`.

Rows are staged on local disk by (partition, bucket) while a load runs. `commit()` then builds
each touched bucket file of each touched partition: the file already there (if any) plus the
staged rows, sorted by (patient_key, study_uid), written hidden and renamed over the old one. So
every partition keeps one sorted file per bucket, named as Hive maps files to buckets
(`000003_0`), and a reader sees either the old file or the new one, never a partial one.

A row whose SOPInstanceUID is already in the bucket file with the same image_uri is the
left-over of a run that was killed after this commit and before its ledger was written: it is
not added twice.
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..serde import catalog as cat
from ..serde.hive_hash import bucket_file_name, bucket_id
from .storage import exists, filesystem, join, read_parquet, write_parquet_atomic

PartitionKey = tuple[int, int, str]


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
                 row_group_size: int = 16_384):
        self.table_uri = table_uri
        self.fs, self.table_path = filesystem(table_uri)
        self.staging = staging
        self.buckets = buckets
        self.version = bucketing_version
        self.row_group_size = row_group_size
        self.schema = cat.arrow_schema()
        self._seq = 0
        self.staged_rows = 0
        self._touched: set[tuple[PartitionKey, int]] = set()

    def bucket_of(self, patient_key: str | None) -> int:
        return bucket_id([patient_key], ["string"], self.buckets, self.version)

    def stage(self, rows: list[dict]) -> None:
        """Write rows to local staging files, one per (partition, bucket) in this batch."""
        groups: dict[tuple[PartitionKey, int], list[dict]] = defaultdict(list)
        for r in rows:
            key = (r["study_year"], r["study_month"], r["modality"])
            groups[(key, self.bucket_of(r["patient_key"]))].append(r)
        names = self.schema.names
        for (key, bucket), members in groups.items():
            d = self.staging / partition_dir(key) / f"bucket={bucket}"
            d.mkdir(parents=True, exist_ok=True)
            self._seq += 1
            table = pa.Table.from_pydict({n: [r[n] for r in members] for n in names}, schema=self.schema)
            pq.write_table(table, d / f"part-{self._seq:06d}.parquet", compression="none")
            self._touched.add((key, bucket))
        self.staged_rows += len(rows)

    def commit(self) -> CommitResult:
        added = present = files = 0
        partitions: set[PartitionKey] = set()
        for key, bucket in sorted(self._touched):
            staged_dir = self.staging / partition_dir(key) / f"bucket={bucket}"
            new = pa.concat_tables([pq.read_table(p, schema=self.schema)
                                    for p in sorted(staged_dir.glob("part-*.parquet"))])
            target = join(self.table_path, partition_dir(key), bucket_file_name(bucket))
            self._remove_stale_temporaries(target)
            if exists(self.fs, target):
                old = read_parquet(self.fs, target).select(self.schema.names).cast(self.schema)
                keep = pc.invert(pc.is_in(new["sop_instance_uid"], value_set=old["sop_instance_uid"]))
                before = new.num_rows
                new = new.filter(keep)
                present += before - new.num_rows
                if new.num_rows == 0:
                    partitions.add(key)
                    continue
                merged = pa.concat_tables([old, new])
            else:
                merged = new
            merged = merged.sort_by([(c, "ascending") for c in cat.SORT_COLUMNS])
            write_parquet_atomic(self.fs, target, merged, row_group_size=self.row_group_size)
            added += new.num_rows
            files += 1
            partitions.add(key)
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
        shutil.rmtree(self.staging, ignore_errors=True)
