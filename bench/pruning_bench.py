"""Partition and bucket pruning: a one-month, one-patient query against a full scan.

    .venv/bin/python bench/pruning_bench.py [--rows 100000] [--patients 10000]

Writes `--rows` rows into a bench copy of `dicom_metadata` with the loader's own writer
(partitioned by study_year/study_month/modality, 8 buckets by patient_key, sorted), registers the
partitions through HiveServer2, then times three queries for one patient (median of 3 runs):
a full scan, the same with the patient's month (partition pruning). For each it reports the files
and bytes that the query has to open: partition pruning is what Spark does; bucket pruning (only
the patient's bucket file in each partition) is what Hive on a cluster adds, and row-group
statistics on the sorted patient_key let Parquet readers skip further. Needs a running server.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

import _databases as databases

DB, PHI = "bench_prune", "bench_prune_phi"


def rows(n: int, patients: int, seed: int = 5):
    rng = random.Random(seed)
    keys = [hashlib.sha256(f"p{i}".encode()).hexdigest()[:32] for i in range(patients)]
    mods = ["CR", "DX", "CT", "MR", "PT"]
    header = '{"00080060":{"vr":"CS","Value":["%s"]},"00100020":{"vr":"LO","Value":["%s"]},"pad":"%s"}'
    for i in range(n):
        k = keys[i % patients]
        d = dt.date(2019, 1, 1) + dt.timedelta(days=rng.randrange(6 * 365))
        m = mods[rng.randrange(5)]
        study = f"1.2.3.{i // 4}"
        yield {"patient_key": k, "study_uid": study, "series_uid": study + ".1", "sop_instance_uid": f"1.2.3.{i}.9",
               "sop_class_uid": "1.2.840.10008.5.1.4.1.1.1", "study_date": d, "study_time": "120000",
               "accession_key": None, "body_part": "CHEST", "view_position": "PA", "laterality": None,
               "series_number": 1, "instance_number": i % 50, "study_description": "bench",
               "series_description": None, "manufacturer": "ACME", "manufacturer_model": "X1",
               "institution_key": "site", "patient_sex": "F", "patient_age_years": 50, "rows": 64, "columns": 64,
               "bits_stored": 12, "photometric_interpretation": "MONOCHROME2", "pixel_spacing": [0.5, 0.5],
               "slice_thickness": None, "number_of_frames": None, "transfer_syntax_uid": "1.2.840.10008.1.2.1",
               "burned_in_annotation": "NO", "image_uri": f"mi-image:{i}", "file_size": 9000,
               "header_json": header % (m, k, "x" * 600), "load_run_id": "bench",
               "study_year": d.year, "study_month": d.month, "modality": m}


def timed(session, sql: str, repeat: int = 3) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = session.execute(sql).scalar()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--patients", type=int, default=10_000)
    args = ap.parse_args(argv)

    from mi_warehouse.config import load_settings
    from mi_warehouse.engine import metastore
    from mi_warehouse.engine.connection import connect
    from mi_warehouse.loaders.writer import BucketedWriter
    from mi_warehouse.serde.hive_hash import bucket_file_name

    settings = load_settings(env=dict(os.environ, MIW_DATABASE=DB, MIW_PHI_DATABASE=PHI))
    with connect(settings) as s:
        databases.fresh(s, settings)
        table = metastore.describe(s, f"{DB}.dicom_metadata")
        t0 = time.perf_counter()
        w = BucketedWriter(table.location, Path(tempfile.mkdtemp(prefix="prune-stage-")), table.buckets,
                           table.bucketing_version)
        batch = []
        for r in rows(args.rows, args.patients):
            batch.append(r)
            if len(batch) == 20_000:
                w.stage(batch)
                batch = []
        w.stage(batch)
        result = w.commit()
        w.discard_staging()
        metastore.add_partitions(s, table.name, table.location, result.partitions)
        metastore.refresh(s, table.name)
        write_s = time.perf_counter() - t0

        key = hashlib.sha256(f"p{args.patients // 2}".encode()).hexdigest()[:32]  # a patient that exists
        y, m = s.execute(f"SELECT study_year, study_month FROM {DB}.dicom_metadata WHERE patient_key = '{key}' "
                         f"LIMIT 1").rows[0]
        full_t, full_n = timed(s, f"SELECT count(*) FROM {DB}.dicom_metadata WHERE patient_key = '{key}'")
        month_t, month_n = timed(s, f"SELECT count(*) FROM {DB}.dicom_metadata WHERE study_year = {y} AND "
                                    f"study_month = {m} AND patient_key = '{key}'")
        root = settings.local_storage_dir / DB / "dicom_metadata"
        files = [p for p in root.rglob("*") if p.is_file() and not p.name.startswith((".", "_"))]
        month_files = [p for p in files if f"study_year={y}/study_month={m}/" in str(p)]
        bucket = w.bucket_of(key)
        bucket_files = [p for p in month_files if p.name == bucket_file_name(bucket)]
        groups_total = groups_hit = 0
        for p in bucket_files:
            meta = pq.ParquetFile(p).metadata
            col = meta.schema.names.index("patient_key")
            for g in range(meta.num_row_groups):
                st = meta.row_group(g).column(col).statistics
                groups_total += 1
                groups_hit += st.min <= key <= st.max
        sizes = {p: p.stat().st_size for p in files}
        databases.drop(s, settings)

    size = lambda fs: sum(sizes[p] for p in fs)  # noqa: E731
    print(f"\nPruning benchmark: {args.rows:,} rows, {args.patients:,} patients, {len(result.partitions)} partitions, "
          f"{len(files):,} files (written in {write_s:.1f}s); query: one patient ({full_n} rows), month {y}-{m:02d} "
          f"({month_n} rows)\n")
    print("| query | files opened | MB opened | time (s, median of 3) | ratio to full scan |")
    print("| --- | ---: | ---: | ---: | ---: |")
    print(f"| full scan, patient_key = X | {len(files):,} | {size(files) / 1e6:,.1f} | {full_t:.2f} | 1.00 |")
    print(f"| + study_year/study_month (partition pruning, Spark and Hive) | {len(month_files):,} | "
          f"{size(month_files) / 1e6:,.2f} | {month_t:.2f} | {month_t / full_t:.2f} |")
    print(f"| + bucket of X (bucket pruning, Hive only) | {len(bucket_files):,} | {size(bucket_files) / 1e6:,.3f} "
          f"| n/a on Spark | {len(bucket_files) / len(files):.4f} (files) |")
    print(f"| + row-group min/max on sorted patient_key | {groups_hit} of {groups_total} row groups | | | |")
    return {"rows": args.rows, "files": len(files), "full_s": full_t, "month_s": month_t,
            "month_files": len(month_files), "bucket_files": len(bucket_files), "full_mb": size(files) / 1e6,
            "month_mb": size(month_files) / 1e6, "bucket_mb": size(bucket_files) / 1e6}


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
