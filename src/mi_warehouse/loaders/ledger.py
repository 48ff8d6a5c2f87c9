"""The ledger of files already loaded: one Parquet file per finished run, under `<phi_db>/_ledger/`.

A file seen before with the same size and mtime is skipped; a SOPInstanceUID seen before under
another path is a duplicate. The ledger of a run is written last, after its data, partitions and
error rows, so a run killed earlier is simply done again (the writer drops rows already present).
The directory name starts with '_' so that Hive and Spark never read it as table data.

Before a load commits, it writes `_ledger/_pending/<run_id>.json` naming the (partition, bucket)
pairs it is about to write, and deletes it after its ledger: a marker left behind is a run killed
in between, whose rows may be in those buckets without a ledger entry. Later loads check only
those buckets for rows already present, so appends elsewhere read nothing of what is there. The
marker stays: the killed run's files may be loaded again at any later time, and their rows must
still be found present then (the cost is that of the old behaviour, for those buckets only).

It holds raw paths (which often hold PatientIDs and dates), so it lives beside the PHI database,
never in the core one. A ledger left in the core database by an earlier release (`<db>/_ledger/`)
is moved over on the first load, file by file, so nothing is read twice or lost.
"""

from __future__ import annotations

import json

from pyarrow.fs import FileSelector

from ..runtime.storage import exists, filesystem, join, read_parquet, write_parquet_atomic
from ..runtime.tables import LEDGER

SCHEMA = LEDGER.arrow_schema()


class Ledger:
    def __init__(self, database_uri: str, legacy: str | None = None):
        self.fs, base = filesystem(database_uri)
        self.dir = join(base, "_ledger")
        self.legacy_dir = join(filesystem(legacy)[1], "_ledger") if legacy else None
        self.files: dict[str, tuple[int, int]] = {}
        self.sops: dict[str, str] = {}  # SOPInstanceUID -> path of the loaded file

    def _runs(self, directory: str) -> list:
        if not exists(self.fs, directory):
            return []
        return [i for i in self.fs.get_file_info(FileSelector(directory))
                if i.base_name.endswith(".parquet") and not i.base_name.startswith((".", "_"))]

    def _move_legacy(self) -> None:
        if not self.legacy_dir or self.legacy_dir == self.dir:
            return
        runs = self._runs(self.legacy_dir)
        if runs:
            self.fs.create_dir(self.dir, recursive=True)
        for info in runs:
            target = join(self.dir, info.base_name)
            if exists(self.fs, target):
                self.fs.delete_file(info.path)
            else:
                self.fs.move(info.path, target)
        if exists(self.fs, self.legacy_dir) and not self.fs.get_file_info(FileSelector(self.legacy_dir)):
            self.fs.delete_dir(self.legacy_dir)

    def load(self) -> "Ledger":
        self._move_legacy()
        for info in self._runs(self.dir):
            t = read_parquet(self.fs, info.path).to_pydict()
            for path, size, mtime, sop, outcome in zip(t["path"], t["size"], t["mtime_ns"],
                                                       t["sop_instance_uid"], t["outcome"]):
                self.files[path] = (size, mtime)
                if outcome == "loaded" and sop:
                    self.sops.setdefault(sop, path)
        return self

    def seen(self, path: str, size: int, mtime_ns: int) -> bool:
        return self.files.get(path) == (size, mtime_ns)

    def write(self, run_id: str, entries: list[tuple]) -> None:
        if entries:
            write_parquet_atomic(self.fs, join(self.dir, f"{run_id}.parquet"), LEDGER.to_arrow(entries))

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
