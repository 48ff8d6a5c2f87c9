"""Load benchmark: end-to-end `mi-warehouse load` against a bare pydicom header loop, same files.

    .venv/bin/python bench/load_bench.py [--patients 2000] [--workers 1] [--corpus DIR]

Prints a markdown table: files/s of a bare `pydicom.dcmread(stop_before_pixels=True)` loop, files/s
of the loader's extraction (headers, conversion, de-identification, header_json), files/s of the
whole load (extraction + staging + bucket commit + partition registration through HiveServer2), the
ratios, and the peak RSS of the load process. Needs a running server (`mi-warehouse server start`);
it loads into its own databases (bench_load, bench_load_phi) and drops them after.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pydicom

REPO = Path(__file__).resolve().parents[1]


def bare_pydicom(files: list[Path]) -> float:
    t0 = time.perf_counter()
    for f in files:
        pydicom.dcmread(f, stop_before_pixels=True)
    return len(files) / (time.perf_counter() - t0)


def extraction_only(files: list[Path]) -> float:
    from mi_warehouse.loaders.deid import Deidentifier
    from mi_warehouse.loaders.extract import extract

    deid = Deidentifier(b"\x01" * 32)
    t0 = time.perf_counter()
    for f in files:
        with open(f, "rb") as fp:
            extract("file://" + str(f), fp, f.stat().st_size, deid, "bench")
    return len(files) / (time.perf_counter() - t0)


def full_load(corpus: Path, workers: int) -> tuple[float, float, dict]:
    """Runs the real CLI in a child process; returns (files/s, peak RSS MB, summary)."""
    env = dict(os.environ, MIW_DATABASE="bench_load", MIW_PHI_DATABASE="bench_load_phi")
    mi = [sys.executable, "-m", "mi_warehouse"]
    subprocess.run(mi + ["sql", "DROP DATABASE IF EXISTS bench_load CASCADE; "
                                "DROP DATABASE IF EXISTS bench_load_phi CASCADE"], env=env, check=True,
                   capture_output=True, cwd=REPO)
    storage = Path(subprocess.run(mi + ["config", "--json"], env=env, capture_output=True, text=True,
                                  cwd=REPO).stdout.split('"storage_root": "file://')[1].split('"')[0])
    for d in ("bench_load", "bench_load_phi"):
        subprocess.run(["rm", "-rf", str(storage / d)], check=True)
    subprocess.run(mi + ["apply"], env=env, check=True, capture_output=True, cwd=REPO)
    code = (
        "import resource, sys, time, json\n"
        "from mi_warehouse.config import load_settings\n"
        "from mi_warehouse.engine.connection import connect\n"
        "from mi_warehouse.loaders.load import LoadOptions, run_load\n"
        "s = load_settings()\n"
        "with connect(s) as c:\n"
        "    t0 = time.perf_counter()\n"
        f"    r = run_load(c, s, [{str(corpus)!r}], LoadOptions(workers={workers}))\n"
        "    dt = time.perf_counter() - t0\n"
        "peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,"
        " resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024\n"
        "print(json.dumps({'rate': r.loaded / dt, 'peak_mb': peak, 'loaded': r.loaded, 'errors': r.errors,"
        " 'seconds': dt}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=REPO)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    import json

    d = json.loads(out.stdout.strip().splitlines()[-1])
    subprocess.run(mi + ["sql", "DROP DATABASE IF EXISTS bench_load CASCADE; "
                                "DROP DATABASE IF EXISTS bench_load_phi CASCADE"], env=env, capture_output=True,
                   cwd=REPO)
    return d["rate"], d["peak_mb"], d


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=1, help="loader workers (1: per-core rate)")
    ap.add_argument("--corpus", type=Path, default=None, help="reuse a corpus instead of generating one")
    ap.add_argument("--sample", type=int, default=5000, help="files for the in-process loops")
    args = ap.parse_args(argv)

    from mi_warehouse.synth import generate

    corpus = args.corpus or Path(tempfile.mkdtemp(prefix="mi-load-bench-"))
    if not args.corpus:
        t0 = time.perf_counter()
        s = generate(corpus, args.patients, seed=2026, image_size=32)
        print(f"corpus: {s.files_written} files in {time.perf_counter() - t0:.0f}s at {corpus}", file=sys.stderr)
    files = sorted(corpus.rglob("*.dcm"))
    sample = files[: args.sample]
    bare = bare_pydicom(sample)
    extract_rate = extraction_only(sample)
    load_rate, peak, detail = full_load(corpus, args.workers)
    rows = [
        ("bare pydicom.dcmread(stop_before_pixels=True)", f"{bare:,.0f}", "1.00"),
        ("loader extraction (convert + de-identify + header_json)", f"{extract_rate:,.0f}",
         f"{extract_rate / bare:.2f}"),
        (f"end-to-end load, {args.workers} worker(s), {detail['loaded']:,} files",
         f"{load_rate:,.0f}", f"{load_rate / bare:.2f}"),
    ]
    print(f"\nLoad benchmark: {len(files):,} files; per-core rates from a {len(sample):,}-file sample; "
          f"peak RSS of the load {peak:,.0f} MB\n")
    print("| path | files/s | ratio to bare pydicom |\n| --- | ---: | ---: |")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} |")
    return {"bare": bare, "extract": extract_rate, "load": load_rate, "peak_mb": peak,
            "files": len(files), "workers": args.workers}


if __name__ == "__main__":
    main()
