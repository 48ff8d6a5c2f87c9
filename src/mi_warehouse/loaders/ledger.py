"""The ledger of files already loaded: one Parquet file per finished run, under `<phi_db>/_ledger/`.

A file seen before with the same size and mtime is skipped; a SOPInstanceUID seen before under
another path is a duplicate. The ledger of a run is written last, after its data, partitions and
error rows, so a run killed earlier is simply done again (the writer drops rows already present).
The directory name starts with '_' so that Hive and Spark never read it as table data.

It holds raw paths (which often hold PatientIDs and dates), so it lives beside the PHI database,
never in the core one. A ledger left in the core database by an earlier release (`<db>/_ledger/`)
is moved over on the first load, file by file, so nothing is read twice or lost.
"""

from __future__ import annotations

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
