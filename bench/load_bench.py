"""Load benchmark: end-to-end `mi-warehouse load` against a bare pydicom header loop, same files.

    .venv/bin/python bench/load_bench.py [--copies 12000 | --patients 2000] [--workers 1,2] [--corpus DIR] [--repeat N]

The corpus is, by default, `--copies` copies of pydicom's CT_small.dcm and MR_small.dcm (each with
its own SOPInstanceUID, ten files per patient), as in issue 11; `--patients N` generates the
synthetic corpus instead. Prints a markdown table: files/s of a bare
`pydicom.dcmread(stop_before_pixels=True)` loop on one core, files/s of the loader's extraction
(headers, conversion, de-identification, header_json) on one core, and for each `--workers` count
files/s of the whole load (walk, ledger, extraction, staging, bucket commit, partition registration
through HiveServer2, error rows, ledger), its rate per core (files/s / workers, on a machine with at
least that many cores) and the ratio of that to bare pydicom, all measured in the same run; and the
peak RSS of each load; with more than one worker, also bare pydicom in that many processes at once
(how far the machine itself scales, the ceiling of a many-worker load), and the load's files/s as a
ratio to it: on a machine whose cores do not scale (a small VM sharing its host), the per-core ratio
to one core is capped by that scaling, the same-count ratio is not. Needs a running server (`mi-warehouse server start`); it loads into its own
databases (bench_load, bench_load_phi) and drops them after.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pydicom

REPO = Path(__file__).resolve().parents[1]


def pydicom_copies(out: Path, n: int) -> list[Path]:
    """`n` copies of pydicom's CT_small and MR_small, alternating, each its own instance, ten per patient.

    Each source is written once with fixed-width placeholders (PatientID, study, series and instance
    UIDs), which every copy replaces by bytes of the same length.
    """
    import io

    from pydicom.data import get_testdata_file

    templates = []
    for name in ("CT_small.dcm", "MR_small.dcm"):
        ds = pydicom.dcmread(get_testdata_file(name))
        ds.PatientID = "BENCH86420975"
        ds.StudyInstanceUID = "1.2.826.0.1.3680043.10.1234.86420975.9"
        ds.SeriesInstanceUID = "1.2.826.0.1.3680043.10.1234.86420975.9.1"
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.10.1234.975318642"
        buf = io.BytesIO()
        ds.save_as(buf, enforce_file_format=True)
        templates.append(buf.getvalue())
    paths = []
    for i in range(n):
        patient = i // 10
        data = templates[i % 2].replace(b"BENCH86420975", b"BENCH1%07d" % patient) \
            .replace(b"86420975.9", b"1%07d.%d" % (patient, 1 + i % 2)).replace(b"975318642", b"1%08d" % i)
        path = out / f"p{patient:07d}" / f"{i:07d}.dcm"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        paths.append(path)
    return paths


def bare_pydicom(files: list[Path]) -> float:
    t0 = time.perf_counter()
    for f in files:
        pydicom.dcmread(f, stop_before_pixels=True)
    return len(files) / (time.perf_counter() - t0)


def bare_pydicom_parallel(files: list[Path], processes: int) -> float:
    """Files/s of `processes` bare loops at once over disjoint shares of `files`: how far the
    machine itself scales (shared caches, memory bandwidth, other load), the ceiling for a load."""
    import multiprocessing as mp

    shares = [files[i::processes] for i in range(processes)]
    with mp.get_context("spawn").Pool(processes) as pool:
        pool.map(bare_pydicom, [s[:100] for s in shares])  # start-up and imports outside the timing
        t0 = time.perf_counter()
        pool.map(bare_pydicom, shares)
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
        "import os, resource, sys, time, json\n"
        "from mi_warehouse.config import load_settings\n"
        "from mi_warehouse.engine.connection import connect\n"
        "from mi_warehouse.loaders.load import LoadOptions, run_load\n"
        "s = load_settings()\n"
        "def cpu():\n"
        "    u = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]\n"
        "    return sum(x.ru_utime + x.ru_stime for x in u)\n"
        "with connect(s) as c:\n"
        f"    server = {_server_pid()!r}\n"
        "    t0, c0, j0, st0 = time.perf_counter(), cpu(), _proc_cpu(server), _steal()\n"
        f"    r = run_load(c, s, [{str(corpus)!r}], LoadOptions(workers={workers}))\n"
        "    dt, used, jvm, stolen = (time.perf_counter() - t0, cpu() - c0, _proc_cpu(server) - j0,\n"
        "                             _steal() - st0)\n"
        "peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,"
        " resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024\n"
        "print(json.dumps({'rate': r.loaded / dt, 'peak_mb': peak, 'loaded': r.loaded, 'errors': r.errors,"
        " 'seconds': dt, 'cpu': used, 'server_cpu': jvm, 'stolen': stolen}))\n"
    )
    code = _PROC_HELPERS + code
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=REPO)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    d = json.loads(out.stdout.strip().splitlines()[-1])
    subprocess.run(mi + ["sql", "DROP DATABASE IF EXISTS bench_load CASCADE; "
                                "DROP DATABASE IF EXISTS bench_load_phi CASCADE"], env=env, capture_output=True,
                   cwd=REPO)
    return d["rate"], d["peak_mb"], d


# CPU seconds: of a process (by /proc; 0 where there is none), and stolen from this VM by its
# hypervisor (all cores; /proc/stat's steal column), to tell the loader's cost from the machine's.
_PROC_HELPERS = """import os
def _proc_cpu(pid):
    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, TypeError, ValueError, IndexError):
        return 0.0
def _steal():
    try:
        return int(open("/proc/stat").readline().split()[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0
"""


def _server_pid() -> int | None:
    """The embedded server's pid, where it runs here (its CPU during a load is the load's too)."""
    try:
        from mi_warehouse.config import load_settings

        return int(json.loads((load_settings().home / "hiveserver2.pid").read_text())["pid"])
    except (OSError, ValueError, KeyError, ImportError):
        return None


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=12000, help="files in the CT_small/MR_small corpus")
    ap.add_argument("--patients", type=int, default=0, help="use the synthetic corpus of N patients instead")
    ap.add_argument("--workers", default=f"1,{os.cpu_count() or 1}",
                    help="comma-separated worker counts of the end-to-end loads (default: 1 and all cores)")
    ap.add_argument("--corpus", type=Path, default=None, help="reuse a corpus instead of generating one")
    ap.add_argument("--sample", type=int, default=5000, help="files for the in-process loops")
    ap.add_argument("--repeat", type=int, default=1,
                    help="rounds of baselines and loads, interleaved; the table gives medians and ranges")
    args = ap.parse_args(argv)

    corpus = args.corpus or Path(tempfile.mkdtemp(prefix="mi-load-bench-"))
    kind = "synthetic" if args.patients else "CT_small/MR_small copies"
    if not args.corpus:
        t0 = time.perf_counter()
        if args.patients:
            from mi_warehouse.synth import generate

            generate(corpus, args.patients, seed=2026, image_size=32)
        else:
            pydicom_copies(corpus, args.copies)
        print(f"corpus: {kind} in {time.perf_counter() - t0:.0f}s at {corpus}", file=sys.stderr)
    files = sorted(corpus.rglob("*.dcm"))
    sample = files[: args.sample]
    counts = [int(w) for w in str(args.workers).split(",")]
    bare_pydicom(sample[:500])  # warm the page cache and the imports
    rounds = [one_round(corpus, sample, counts) for _ in range(max(args.repeat, 1))]
    print_table(rounds, counts, len(files), len(sample), kind)
    med = {k: statistics.median(r[k] for r in rounds) for k in ("bare", "extract")}
    loads = {w: {k: statistics.median(r["loads"][w][k] for r in rounds) for k in rounds[0]["loads"][w]}
             for w in counts}
    first = loads[min(loads)]
    return {"bare": med["bare"], "extract": med["extract"], "load": first["rate"],
            "peak_mb": max(v["peak_mb"] for r in rounds for v in r["loads"].values()), "files": len(files),
            "loads": loads, "rounds": rounds}


def one_round(corpus: Path, sample: list[Path], counts: list[int]) -> dict:
    """Baselines and loads measured back to back: each load's ratios are to the baselines of its
    own round (on a shared VM the machine's speed drifts by 2x within minutes)."""
    c0 = time.process_time()
    bare = bare_pydicom(sample)
    bare_cpu = len(sample) / (time.process_time() - c0)  # files per CPU second
    extract_rate = extraction_only(sample)
    parallel = {1: bare}  # bare pydicom files/s with N loops at once
    for n in sorted(set(c for c in counts if c > 1)):
        parallel[n] = bare_pydicom_parallel(sample, n)
    loads = {}
    for workers in counts:
        load_rate, peak, detail = full_load(corpus, workers)
        per_core = load_rate / workers
        loads[workers] = {"rate": load_rate, "per_core": per_core, "ratio": per_core / bare, "peak_mb": peak,
                          "ratio_same_count": load_rate / parallel[workers], "loaded": detail["loaded"],
                          "errors": detail["errors"],
                          # files per CPU second of the load's processes and the server, against bare
                          # pydicom's: the cost per file, whatever the VM's cores did meanwhile
                          "cpu_ratio": detail["loaded"] / (detail["cpu"] + detail["server_cpu"]) / bare_cpu,
                          "cores": (detail["cpu"] + detail["server_cpu"]) / detail["seconds"],
                          "stolen": detail["stolen"] / (os.cpu_count() or 1) / detail["seconds"]}
    return {"bare": bare, "bare_cpu": bare_cpu, "extract": extract_rate, "parallel": parallel, "loads": loads}


def _cell(values: list[float], fmt: str) -> str:
    """The median, and with more than one round the range: `0.81 (0.72-0.87)`."""
    mid = format(statistics.median(values), fmt)
    return mid if len(values) == 1 else f"{mid} ({format(min(values), fmt)}-{format(max(values), fmt)})"


def print_table(rounds: list[dict], counts: list[int], n_files: int, n_sample: int, kind: str) -> None:
    bare = [r["bare"] for r in rounds]
    extract = [r["extract"] for r in rounds]
    rows = [
        ("bare pydicom.dcmread(stop_before_pixels=True), 1 core", _cell(bare, ",.0f"), "", "1.00", "1.00"),
        ("loader extraction (convert + de-identify + header_json), 1 core", _cell(extract, ",.0f"), "",
         _cell([e / b for e, b in zip(extract, bare)], ".2f"), _cell([e / b for e, b in zip(extract, bare)], ".2f")),
    ]
    for n in sorted(set(c for c in counts if c > 1)):
        together = [r["parallel"][n] for r in rounds]
        rows.append((f"bare pydicom, {n} loops at once (what the machine scales to)", _cell(together, ",.0f"),
                     _cell([t / n for t in together], ",.0f"),
                     _cell([r["parallel"][n] / n / r["bare"] for r in rounds], ".2f"), "1.00"))
    for w in counts:
        ls = [r["loads"][w] for r in rounds]
        rows.append((f"end-to-end load, {w} worker(s), {ls[0]['loaded']:,} files, peak RSS "
                     f"{max(x['peak_mb'] for x in ls):,.0f} MB", _cell([x["rate"] for x in ls], ",.0f"),
                     _cell([x["per_core"] for x in ls], ",.0f"), _cell([x["ratio"] for x in ls], ".2f"),
                     _cell([x["ratio_same_count"] for x in ls], ".2f")))
    print(f"\nLoad benchmark: {n_files:,} files ({kind}), {os.cpu_count()} cores; one-core loops over a "
          f"{n_sample:,}-file sample; {len(rounds)} round(s), each load against the baselines of its round"
          + ("; median (range)" if len(rounds) > 1 else "") + "\n")
    print("| path | files/s | per core | per-core ratio to bare pydicom on 1 core "
          "| ratio to bare pydicom in as many processes |\n| --- | ---: | ---: | ---: | ---: |")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print("\nCPU time of each load (its processes and the server's) against bare pydicom's; cores in use: "
          "its CPU seconds per second; stolen: the share of the machine's cores its hypervisor took\n")
    print("| load | files per CPU second, to bare pydicom's | cores in use | cores stolen |\n"
          "| --- | ---: | ---: | ---: |")
    for w in counts:
        ls = [r["loads"][w] for r in rounds]
        print(f"| {w} worker(s) | {_cell([x['cpu_ratio'] for x in ls], '.2f')} | "
              f"{_cell([x['cores'] for x in ls], '.2f')} | {_cell([100 * x['stolen'] for x in ls], '.0f')}% |")


if __name__ == "__main__":
    main()
