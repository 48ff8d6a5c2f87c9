"""Run every benchmark and write one markdown table to bench/RESULTS.md.

    .venv/bin/mi-warehouse server start
    .venv/bin/python bench/run_all.py            # ~10 minutes on 2 cores

Each benchmark runs in its own process (so its peak memory is its own) and prints its detailed
table; this script collects the headline numbers: load rate and ratio to bare pydicom, inference
rate and ratio to the slower of decode and plain onnxruntime, the pruning effect, and the time of
`mi-warehouse run` for all models, each with its peak RSS.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent

CHILD = """
import json, resource, sys
sys.path.insert(0, {bench!r})
import {module} as m
out = m.main({argv!r})
out["peak_mb"] = max(out.get("peak_mb", 0), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                     resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
print("RESULT " + json.dumps(out))
"""


def child(module: str, argv: list[str]) -> tuple[dict, str]:
    code = CHILD.format(bench=str(BENCH), module=module, argv=argv)
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"{module} failed:\n{p.stderr[-3000:]}")
    lines = p.stdout.splitlines()
    result = json.loads(next(x for x in lines if x.startswith("RESULT "))[7:])
    result["wall_s"] = time.perf_counter() - t0
    return result, "\n".join(x for x in lines if not x.startswith("RESULT "))


def models_run_time() -> tuple[dict, str]:
    """`mi-warehouse demo` builds the world once; then time `mi-warehouse run` of every model."""
    env = dict(os.environ, MIW_DATABASE="bench_models", MIW_PHI_DATABASE="bench_models_phi")
    mi = [sys.executable, "-m", "mi_warehouse"]
    demo = subprocess.run(mi + ["demo", "--patients", "300"], env=env, cwd=REPO, capture_output=True, text=True)
    if demo.returncode != 0:
        raise SystemExit(f"demo failed:\n{demo.stderr[-3000:]}")
    code = ("import json, resource, subprocess, sys, time\n"
            "t0 = time.perf_counter()\n"
            f"p = subprocess.run({mi + ['run']!r}, capture_output=True, text=True)\n"
            "dt = time.perf_counter() - t0\n"
            "print(json.dumps({'seconds': dt, 'rc': p.returncode, 'out': p.stdout[-500:],"
            " 'peak_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))\n")
    p = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True)
    d = json.loads(p.stdout.strip().splitlines()[-1])
    if d["rc"] != 0:
        raise SystemExit(f"mi-warehouse run failed: {d['out']}")
    return d, d["out"]


def main() -> None:
    started = dt.datetime.now()
    load, load_txt = child("load_bench", ["--patients", "2000", "--workers", "1"])
    print(load_txt, flush=True)
    infer, infer_txt = child("infer_bench", ["--patients", "2000"])
    print(infer_txt, flush=True)
    prune, prune_txt = child("pruning_bench", ["--rows", "100000"])
    print(prune_txt, flush=True)
    models, models_txt = models_run_time()
    print(models_txt, flush=True)

    rows = [
        ("load, end to end, 1 worker", f"{load['load']:,.0f} files/s",
         f"{load['load'] / load['bare']:.2f} x bare pydicom ({load['bare']:,.0f} files/s)",
         f"{load['peak_mb']:,.0f}"),
        ("load, header extraction only", f"{load['extract']:,.0f} files/s",
         f"{load['extract'] / load['bare']:.2f} x bare pydicom", ""),
        ("inference, SELECT TRANSFORM statement", f"{infer['transform']:,.0f} images/s",
         f"{infer['transform'] / min(infer['decode'], infer['onnx']):.2f} x slower part "
         f"(decode {infer['decode']:,.0f}/s, onnxruntime {infer['onnx']:,.0f}/s)", f"{infer['peak_mb']:,.0f}"),
        ("inference, whole `mi-warehouse infer`", f"{infer['command']:,.0f} images/s",
         f"{infer['command'] / infer['onnx']:.3f} x plain onnxruntime", ""),
        ("one month, one patient vs full scan (100k rows)",
         f"{prune['month_s']:.2f} s vs {prune['full_s']:.2f} s",
         f"{prune['month_s'] / prune['full_s']:.2f} time; files {prune['month_files']} vs {prune['files']:,} "
         f"(Hive bucket pruning: {prune['bucket_files']})", f"{prune['peak_mb']:,.0f}"),
        ("`mi-warehouse run`, all models, demo data", f"{models['seconds']:.1f} s", "", f"{models['peak_mb']:,.0f}"),
    ]
    text = [
        "# Benchmark results",
        "",
        f"One run of `bench/run_all.py` on {started:%Y-%m-%d %H:%M}, {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, embedded Spark Thrift Server; CPU only (no GPU on this machine).",
        "Ratios are against baselines measured in the same run. Details: each benchmark's own table below.",
        "",
        "| what | rate or time | ratio | peak RSS (MB) |",
        "| --- | ---: | --- | ---: |",
        *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows],
        "",
        "## Details",
        "",
        "```", load_txt.strip(), "```", "", "```", infer_txt.strip(), "```", "", "```", prune_txt.strip(), "```", "",
        "Reproduce: `.venv/bin/mi-warehouse server start && .venv/bin/python bench/run_all.py`",
        "",
    ]
    (BENCH / "RESULTS.md").write_text("\n".join(text))
    print(f"\nwrote {BENCH / 'RESULTS.md'} in {(dt.datetime.now() - started).total_seconds():.0f}s; "
          f"this process peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
