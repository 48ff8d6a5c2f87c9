"""Appends that cost what they add: the bucketed writer's commit, measured against a rewrite.

    .venv/bin/python bench/append_bench.py [--existing 10000,200000] [--add 1000] [--json-bytes 4000]

No engine needed: the writer alone (`loaders/writer.py`) on a local table directory. For each size
of the partition already on disk, it appends `--add` new rows two ways, in the same run:
- append (what `load` does): one new Hive-named copy file per touched bucket, reading nothing of
  what is there;
- append, buckets checked (what `load` does in buckets a killed run left pending): the same, plus
  the SOPInstanceUID column of the bucket's existing files;
- rewrite (the baseline, what loads did before): read every existing row of the touched buckets,
  add the new ones, sort, write each bucket file anew.
The table shows seconds and the ratio of each size's cost to the smallest size's, per method: the
goal is that appending to 200,000 rows costs at most 1.2x appending to 10,000.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from mi_warehouse.loaders.writer import BUCKET, BucketedWriter, bucket_files, partition_dir  # noqa: E402
from mi_warehouse.runtime.storage import filesystem, join, write_parquet_atomic  # noqa: E402
from mi_warehouse.serde import catalog as cat  # noqa: E402

BUCKETS = 8


def rows(start: int, n: int, patients: int, json_bytes: int, rng: random.Random) -> list[dict]:
    blob = "x" * json_bytes
    out = []
    for i in range(start, start + n):
        r = {c.name: None for c in cat.COLUMNS}
        r.update(patient_key=f"{rng.randrange(patients):032x}", study_uid=f"1.2.826.0.1.{i // 20}",
                 sop_instance_uid=f"1.2.826.0.1.{i}.{i}", study_date=dt.date(2026, 11, 1), modality="CR",
                 header_json=f'{{"pad":"{blob}","i":{i}}}', study_year=2026, study_month=11, rows=2500,
                 columns=2500, load_run_id="bench")
        out.append(r)
    return out


def commit(table: Path, staging: Path, batch: list[dict], check_buckets=frozenset()) -> float:
    """What `load` does: no bucket checked unless a killed run left it pending (None: all checked)."""
    w = BucketedWriter(table.as_uri(), staging, BUCKETS, 1)
    w.stage([dict(r) for r in batch])
    t0 = time.perf_counter()
    w.commit(check_buckets=check_buckets)
    seconds = time.perf_counter() - t0
    w.discard_staging()
    return seconds


def checked(table: Path, staging: Path, batch: list[dict]) -> float:
    """After a killed run: its buckets' SOPInstanceUID columns are read to skip rows already there."""
    return commit(table, staging, batch, check_buckets=None)


def rewrite(table: Path, staging: Path, batch: list[dict]) -> float:
    """The baseline: every touched bucket file rebuilt from old rows plus new ones."""
    w = BucketedWriter(table.as_uri(), staging, BUCKETS, 1)
    w.stage([dict(r) for r in batch])
    t0 = time.perf_counter()
    w._spill()
    fs, base = filesystem(table.as_uri())
    schema = cat.arrow_schema()
    existing: dict = {}
    opened: dict = {}
    for key, bucket in sorted(w._groups):
        directory = join(base, partition_dir(key))
        if key not in existing:
            existing[key] = bucket_files(fs, directory)
        new = w._bucket_rows(key, bucket, opened).select(schema.names)
        olds = [pq.read_table(join(directory, n)).select(schema.names).cast(schema)
                for n in existing[key].get(bucket, [])]
        merged = pa.concat_tables(olds + [new]).sort_by([(c, "ascending") for c in cat.SORT_COLUMNS])
        for n in existing[key].get(bucket, []):
            fs.delete_file(join(directory, n))
        write_parquet_atomic(fs, join(directory, f"{bucket:06d}_0"), merged, row_group_size=16_384)
    seconds = time.perf_counter() - t0
    w.discard_staging()
    return seconds


def _files(table: Path) -> set[Path]:
    return {p for p in table.rglob("*") if p.is_file()}


def timed(fn, table: Path, staging: Path, batch: list[dict], repeat: int) -> float:
    """Median seconds of `repeat` appends, each into the partition as it stood (the files an
    append added are removed before the next)."""
    before = _files(table)
    times = []
    for _ in range(repeat):
        times.append(fn(table, staging, batch))
        for p in _files(table) - before:
            p.unlink()
    return statistics.median(times)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--existing", default="10000,200000")
    ap.add_argument("--add", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=7, help="appends per size and method (median shown)")
    ap.add_argument("--json-bytes", type=int, default=4000, help="header_json size per row (real CR/DX: 3-6 KB)")
    a = ap.parse_args(argv)
    sizes = [int(x) for x in a.existing.split(",")]
    rng = random.Random(7)
    results = {}
    work = Path(tempfile.mkdtemp(prefix="append-bench-"))
    try:
        for size in sizes:
            base = rows(0, size, max(size // 10, 1), a.json_bytes, rng)
            batch = rows(size, a.add, max(size // 10, 1), a.json_bytes, rng)
            for method, fn in (("append", commit), ("append, buckets checked", checked), ("rewrite", rewrite)):
                table = work / f"{method}-{size}"
                commit(table, work / "staging", base)  # the partition as it stands
                results[(method, size)] = fn(table, work / "staging", batch) if fn is rewrite \
                    else timed(fn, table, work / "staging", batch, a.repeat)
                shutil.rmtree(table)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nappend {a.add} rows (header_json {a.json_bytes} B) into one partition of N rows, 8 buckets; "
          f"appends: median of {a.repeat}, rewrite: once")
    print("| method | " + " | ".join(f"N={s:,}" for s in sizes) + f" | ratio N={sizes[-1]:,} / N={sizes[0]:,} |")
    print("| --- |" + " ---: |" * (len(sizes) + 1))
    out = {}
    for method in ("append", "append, buckets checked", "rewrite"):
        secs = [results[(method, s)] for s in sizes]
        ratio = secs[-1] / secs[0]
        out[method] = {"seconds": secs, "ratio": ratio}
        print(f"| {method} | " + " | ".join(f"{x:.2f} s" for x in secs) + f" | {ratio:.2f}x |")
    speedup = results[("rewrite", sizes[-1])] / results[("append", sizes[-1])]
    print(f"append vs rewrite at N={sizes[-1]:,}: {speedup:.1f}x faster")
    out["append_vs_rewrite_at_largest"] = speedup
    return out


if __name__ == "__main__":
    main()
