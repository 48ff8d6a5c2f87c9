"""The ledger of files already loaded, under `<phi_db>/_ledger/`.

A file seen before with the same size and mtime is skipped; a SOPInstanceUID seen before under
another path is a duplicate. The ledger of a run is written last, after its data, partitions and
error rows, so a run killed earlier is simply done again (the writer drops rows already present).
The directory name starts with '_' so that Hive and Spark never read it as table data.

It is two key indexes (ledger_index.py), each written once per run: `paths/` (every file's path,
size, mtime, SOPInstanceUID and outcome; sharded by the file's folder, so a folder's files sit in
one shard, sorted together) and `sops/` (SOPInstanceUID and path of every loaded file). A load
asks them about the files it walks, a chunk at a time, and about the SOPInstanceUIDs it
extracts, a batch at a time: memory is bounded by the chunk and batch, not by the ledger, and
each lookup reads the row groups that can hold what it asks for.

Before a load commits, it writes `_ledger/_pending/<run_id>.json` naming the (partition, bucket)
pairs it is about to write, and deletes it after its ledger: a marker left behind is a run killed
in between, whose rows may be in those buckets without a ledger entry. Later loads check only
those buckets for rows already present, so appends elsewhere read nothing of what is there. The
marker stays: the killed run's files may be loaded again at any later time, and their rows must
still be found present then (the cost is that of the old behaviour, for those buckets only).

It holds raw paths (which often hold PatientIDs and dates), so it lives beside the PHI database,
never in the core one. Ledgers of earlier releases, one file per run directly under `_ledger/`
(or under `<db>/_ledger/` in the core database) are moved into the indexes on the first load,
run by run, each deleted only after its rows are written, so nothing is read twice or lost.
"""

from __future__ import annotations

import json
from typing import Iterable

import pyarrow as pa
import pyarrow.compute as pc
from pyarrow.fs import FileSelector

from ..runtime.storage import exists, filesystem, join, read_parquet
from ..runtime.tables import LEDGER
from .ledger_index import KeyIndex, crc_shard

SCHEMA = LEDGER.arrow_schema()


def folder_shard(path: str) -> int:
    """The shard of a path: that of its folder (an archive member's: the archive's folder and
    the member's), so one folder's files are looked up together."""
    return crc_shard(path.rsplit("/", 1)[0])


class Ledger:
    def __init__(self, database_uri: str, legacy: str | None = None):
        self.fs, base = filesystem(database_uri)
        self.dir = join(base, "_ledger")
        self.legacy_dir = join(filesystem(legacy)[1], "_ledger") if legacy else None
        self.paths = KeyIndex(self.fs, join(self.dir, "paths"), "path", folder_shard)
        self.sops = KeyIndex(self.fs, join(self.dir, "sops"), "sop_instance_uid")

    def _runs(self, directory: str) -> list:
        """Run files of the flat layout of earlier releases."""
        if not exists(self.fs, directory):
            return []
        return sorted((i for i in self.fs.get_file_info(FileSelector(directory))
                       if i.base_name.endswith(".parquet") and not i.base_name.startswith((".", "_"))),
                      key=lambda i: i.base_name)

    def _move_legacy(self) -> None:
        legacy = self.legacy_dir if self.legacy_dir and self.legacy_dir != self.dir else None
        for directory in (self.dir, legacy):
            for info in self._runs(directory) if directory else ():
                self._index(info.base_name[:-len(".parquet")], read_parquet(self.fs, info.path))
                self.fs.delete_file(info.path)
        if legacy and exists(self.fs, legacy) and not self.fs.get_file_info(FileSelector(legacy)):
            self.fs.delete_dir(legacy)

    def load(self) -> "Ledger":
        self._move_legacy()
        return self

    def unseen(self, files: list) -> list:
        """The files (with .uri, .size, .mtime_ns) not in the ledger with this size and mtime."""
        found = self.paths.lookup([f.uri for f in files], ["path", "size", "mtime_ns"])
        if found is None:
            return list(files)
        seen = set(zip(*(found[c].to_pylist() for c in ("path", "size", "mtime_ns"))))
        return [f for f in files if (f.uri, f.size, f.mtime_ns) not in seen]

    def first_paths(self, sops: Iterable[str]) -> dict[str, str]:
        """SOPInstanceUID -> path of the file it was loaded from, for those of `sops` loaded before."""
        found = self.sops.lookup({s for s in sops if s}, ["sop_instance_uid", "path"])
        out: dict[str, str] = {}
        if found is not None:
            for sop, path in zip(found["sop_instance_uid"].to_pylist(), found["path"].to_pylist()):
                out.setdefault(sop, path)
        return out

    def write(self, run_id: str, entries: list[tuple]) -> None:
        if entries:
            self._index(run_id, LEDGER.to_arrow(entries))

    def _index(self, run_id: str, table: pa.Table) -> None:
        """The sops index first: a run killed between the two is redone whole, and its files,
        found again, are recognised as present by the writer."""
        loaded = table.filter(pc.and_(pc.equal(table["outcome"], "loaded"),
                                      pc.is_valid(table["sop_instance_uid"])))
        self.sops.write(run_id, loaded.select(["sop_instance_uid", "path", "run_id"]))
        self.paths.write(run_id, table)

    # --- runs that committed but may not have written their ledger ------------------------------
    @property
    def pending_dir(self) -> str:
        return join(self.dir, "_pending")

    def _markers(self) -> list:
        if not exists(self.fs, self.pending_dir):
            return []
        return [i for i in self.fs.get_file_info(FileSelector(self.pending_dir)) if i.base_name.endswith(".json")]

    def _read_marker(self, path: str) -> set:
        with self.fs.open_input_stream(path) as f:
            return {((y, m, mod), b) for y, m, mod, b in json.loads(f.read().decode())}

    def pending_buckets(self) -> set:
        """(partition key, bucket) pairs that a killed run may have written."""
        out: set = set()
        for info in self._markers():
            out |= self._read_marker(info.path)
        return out

    def mark_pending(self, run_id: str, touched: list) -> None:
        data = json.dumps([[y, m, mod, b] for (y, m, mod), b in touched]).encode()
        self.fs.create_dir(self.pending_dir, recursive=True)
        tmp = join(self.pending_dir, f".{run_id}.tmp")
        with self.fs.open_output_stream(tmp) as f:
            f.write(data)
        self.fs.move(tmp, join(self.pending_dir, f"{run_id}.json"))

    def clear_pending(self, run_id: str) -> None:
        path = join(self.pending_dir, f"{run_id}.json")
        if exists(self.fs, path):
            self.fs.delete_file(path)
