"""The ledger of files already loaded: one Parquet file per finished run, under `<db>/_ledger/`.

A file seen before with the same size and mtime is skipped; a SOPInstanceUID seen before under
another path is a duplicate. The ledger of a run is written last, after its data, partitions and
error rows, so a run killed earlier is simply done again (the writer drops rows already present).
The directory name starts with '_' so that Hive and Spark never read it as table data.
"""

from __future__ import annotations

import pyarrow as pa

from ..runtime.storage import exists, filesystem, join, read_parquet, write_parquet_atomic

SCHEMA = pa.schema([
    ("path", pa.string()),
    ("size", pa.int64()),
    ("mtime_ns", pa.int64()),
    ("sop_instance_uid", pa.string()),
    ("outcome", pa.string()),  # loaded | error class
    ("run_id", pa.string()),
])


class Ledger:
    def __init__(self, database_uri: str):
        self.fs, base = filesystem(database_uri)
        self.dir = join(base, "_ledger")
        self.files: dict[str, tuple[int, int]] = {}
        self.sops: dict[str, str] = {}  # SOPInstanceUID -> path of the loaded file

    def load(self) -> "Ledger":
        if not exists(self.fs, self.dir):
            return self
        from pyarrow.fs import FileSelector

        for info in self.fs.get_file_info(FileSelector(self.dir)):
            name = info.base_name
            if not name.endswith(".parquet") or name.startswith((".", "_")):
                continue
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
        if not entries:
            return
        cols = list(zip(*entries))
        table = pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(cols, SCHEMA)], schema=SCHEMA)
        write_parquet_atomic(self.fs, join(self.dir, f"{run_id}.parquet"), table)
