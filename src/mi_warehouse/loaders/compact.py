"""`mi-warehouse compact`: merge a partition's appended files back to one sorted file per bucket.

Loads append (`000003_0`, `000003_0_copy_1`, ...); compaction, run by the scheduler, merges each
bucket's files into one, sorted by (patient_key, study_uid), each SOPInstanceUID once. It holds
the load lock, so no load writes meanwhile, and it is crash-safe: a reader sees every row exactly
once whenever it is killed, because the switch from old files to merged ones is one metastore
update, never a series of renames that a reader could fall between:

1. write the merged files into `<partition>/_compact-<id>/` (`_` entries are never table data);
2. point the partition at that directory (ALTER TABLE ... PARTITION ... SET LOCATION);
3. delete the old files in the partition directory, copy the merged files there (each hidden,
   then renamed);
4. point the partition back at its own directory; delete `_compact-<id>/`.

Killed before 2, the old files still serve and the next run deletes the left-over directory;
killed after 2, the partition is served from `_compact-<id>/` and the next compaction or load of
that partition (`recover`) finishes steps 3 and 4.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Callable, Iterable

import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow.fs import FileSelector, FileType

from ..config import Settings
from ..engine import metastore
from ..engine.connection import Session
from ..errors import MiWarehouseError
from ..runtime import tables
from ..runtime.locks import command_lock
from ..runtime.storage import exists, filesystem, join, write_parquet_atomic
from ..serde import catalog as cat
from ..serde.hive_hash import bucket_file_name
from .writer import PartitionKey, bucket_files, partition_dir

COMPACT_PREFIX = "_compact-"


class BadPartition(MiWarehouseError):
    """A --partition value that does not name dicom_metadata partitions."""


@dataclass
class CompactSummary:
    """What one `compact` did; `compacted` and `recovered` name the partitions."""

    compacted: list[PartitionKey] = field(default_factory=list)
    partitions_seen: int = 0
    recovered: list[PartitionKey] = field(default_factory=list)  # interrupted compactions finished
    files_before: int = 0
    files_after: int = 0
    rows: int = 0
    duplicates_dropped: int = 0

    @property
    def partitions_compacted(self) -> int:
        return len(self.compacted)


def parse_partition_filter(text: str) -> dict[str, str]:
    """`study_year=2024/study_month=3/modality=CT` (any leading part of it) as {column: value}."""
    out = {}
    names = [c.name for c in cat.PARTITIONS]
    for part in filter(None, text.strip("/").split("/")):
        col, sep, value = part.partition("=")
        if not sep or col not in names or not value:
            raise BadPartition(f"--partition {text!r}: write it as study_year=YYYY[/study_month=M[/modality=MOD]]")
        out[col] = value
    return out


def _matches(key: PartitionKey, filters: list[dict[str, str]]) -> bool:
    if not filters:
        return True
    values = dict(zip([c.name for c in cat.PARTITIONS], map(str, key)))
    return any(all(values[k] == v for k, v in f.items()) for f in filters)


def partitions_on_storage(fs, table_path: str) -> list[PartitionKey]:
    """Every study_year=/study_month=/modality= directory under the table, as keys."""
    keys = []
    for info in fs.get_file_info(FileSelector(table_path, recursive=True, allow_not_found=True)):
        if info.type != FileType.Directory:
            continue
        rel = info.path[len(table_path):].strip("/").split("/")
        if len(rel) == 3 and all("=" in p for p in rel) and not any(p.startswith(("_", ".")) for p in rel):
            y, m, mod = (p.split("=", 1)[1] for p in rel)
            if y.lstrip("-").isdigit() and m.lstrip("-").isdigit():
                keys.append((int(y), int(m), mod))
    return sorted(keys)


def _children(fs, directory: str) -> list:
    if not exists(fs, directory):
        return []
    return fs.get_file_info(FileSelector(directory))


def recover(session: Session, table: metastore.TableInfo, fs, key: PartitionKey) -> bool:
    """Finish or roll back a compaction of this partition that was killed; True if there was one."""
    pdir = join(filesystem(table.location)[1], partition_dir(key))
    left = [i for i in _children(fs, pdir) if i.type == FileType.Directory and i.base_name.startswith(COMPACT_PREFIX)]
    if not left:
        return False
    location = metastore.partition_location(session, table.name, key).rstrip("/")
    serving = next((i for i in left if location.endswith("/" + i.base_name)), None)
    if serving is not None:
        _switch_back(session, table, fs, key, pdir, serving.path)
    for i in left:
        if exists(fs, i.path):
            fs.delete_dir(i.path)
    return True


Step = Callable[[str], None]  # called after each step: the reliability suite crashes there


def _switch_back(session, table, fs, key, pdir: str, cdir: str, on_step: Step = lambda s: None) -> None:
    """Steps 3 and 4: the merged files from `cdir` into the partition directory, served from there."""
    for names in bucket_files(fs, pdir).values():
        for n in names:
            fs.delete_file(join(pdir, n))
            on_step("old file deleted")
    for info in _children(fs, cdir):
        if info.type == FileType.File and not info.base_name.startswith((".", "_")):
            tmp = join(pdir, f".{info.base_name}.tmp-{uuid.uuid4().hex[:8]}")
            fs.copy_file(info.path, tmp)
            on_step("merged file copied")
            fs.move(tmp, join(pdir, info.base_name))
            on_step("merged file renamed")
    metastore.set_partition_location(session, table.name, key, join(table.location, partition_dir(key)))
    on_step("switched back")
    fs.delete_dir(cdir)


def _merged(fs, pdir: str, names: list[str], schema: pa.Schema) -> tuple[pa.Table, int]:
    """The bucket's rows from all its files, each SOPInstanceUID once (the first written), sorted."""
    parts = []
    for n in names:
        with fs.open_input_file(join(pdir, n)) as f:
            parts.append(pq.read_table(f).select(schema.names).cast(schema))
    t = pa.concat_tables(parts)
    sops = t.column("sop_instance_uid").to_pylist()
    seen: set = set()
    keep = [not (s in seen or seen.add(s)) for s in sops]
    dropped = keep.count(False)
    if dropped:
        t = t.filter(pa.array(keep))
    return t.sort_by([(c, "ascending") for c in cat.SORT_COLUMNS]), dropped


def compact_partition(session: Session, table: metastore.TableInfo, fs, key: PartitionKey,
                      summary: CompactSummary, row_group_size: int = 16_384, on_step: Step = lambda s: None) -> bool:
    pdir = join(filesystem(table.location)[1], partition_dir(key))
    if recover(session, table, fs, key):
        summary.recovered.append(key)
    files = bucket_files(fs, pdir)
    summary.files_before += sum(len(v) for v in files.values())
    if all(len(v) <= 1 for v in files.values()):
        summary.files_after += sum(len(v) for v in files.values())
        return False
    compact_id = COMPACT_PREFIX + uuid.uuid4().hex[:12]
    cdir = join(pdir, compact_id)
    fs.create_dir(cdir, recursive=True)
    schema = tables.DICOM_METADATA.arrow_schema()
    for bucket, names in sorted(files.items()):  # step 1
        merged, dropped = _merged(fs, pdir, names, schema)
        write_parquet_atomic(fs, join(cdir, bucket_file_name(bucket)), merged, row_group_size=row_group_size)
        summary.rows += merged.num_rows
        summary.duplicates_dropped += dropped
        summary.files_after += 1
        on_step("merged file written")
    metastore.set_partition_location(session, table.name, key,  # step 2: the switch
                                     join(table.location, partition_dir(key), compact_id))
    on_step("switched")
    _switch_back(session, table, fs, key, pdir, cdir, on_step)  # steps 3 and 4
    return True


def run_compact(session: Session, settings: Settings, partitions: Iterable[str] = (), lock_timeout: float = 3600.0,
                progress: Callable[[str], None] = lambda m: None, on_step: Step = lambda s: None) -> CompactSummary:
    filters = [parse_partition_filter(p) for p in partitions]
    table = metastore.describe(session, tables.DICOM_METADATA.qualified(settings))
    fs, table_path = filesystem(table.location)
    lock = command_lock(settings, "load", "compact")  # the load lock: no load writes meanwhile
    lock.acquire(lock_timeout, on_wait=lambda h: progress(f"waiting for a load to finish ({h})"))
    summary = CompactSummary()
    try:
        for key in partitions_on_storage(fs, table_path):
            if not _matches(key, filters):
                continue
            summary.partitions_seen += 1
            if compact_partition(session, table, fs, key, summary, on_step=on_step):
                summary.compacted.append(key)
                progress(f"compacted {partition_dir(key)}")
    finally:
        lock.release()
    return summary


def recover_partitions(session: Session, table: metastore.TableInfo, keys: Iterable[PartitionKey]) -> int:
    """Finish killed compactions of the partitions a load is about to append to (under the load lock)."""
    fs, _ = filesystem(table.location)
    return sum(recover(session, table, fs, k) for k in keys)
