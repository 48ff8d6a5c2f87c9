"""Scale benchmark: a no-op re-run over a ledger of N files (default 1,000,000), and the peak RSS
of a real load of M distinct files (default 100,000).

The tree is N hard links to one DICOM file in folders of 1,000 (what a walk sees is real: names,
sizes, mtimes); the ledger entries are synthesised from that walk, written as loads write them
(runs of 100,000, so shards merge as they would). Measured in the same run, each in a child
process (time and peak RSS):

- the walk alone (`iter_files` over the tree): the floor any re-run pays;
- the previous release's way: the whole ledger read into Python dicts (path and SOPInstanceUID);
- the real no-op `run_load` through HiveServer2 (every file skipped; nothing committed).

Goal (issue 11): under 60 s and under 500 MB peak RSS.

The M-file load is a corpus of CT_small/MR_small copies byte-patched to distinct SOPInstanceUIDs
and PatientIDs (ten images a patient), loaded for real with all workers. Goal: peak RSS under
500 MB (the larger of the load process and any one worker). Needs a running server
(`mi-warehouse server start`); uses the databases bench_ledger and bench_ledger_phi and drops them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pydicom.data import get_testdata_file

REPO = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, MIW_DATABASE="bench_ledger", MIW_PHI_DATABASE="bench_ledger_phi")
PER_FOLDER = 1000
RUN_ENTRIES = 100_000


def make_tree(root: Path, n: int) -> None:
    """n hard links to copies of CT_small, 50,000 a copy (ext4 allows 65,000 links to a file)."""
    for i in range(n):
        src = root / f"source-{i // 50_000}.dcm"
        if i % 50_000 == 0:
            shutil.copy(get_testdata_file("CT_small.dcm"), src)
        folder = root / "tree" / f"{i // PER_FOLDER:05d}"
        if i % PER_FOLDER == 0:
            folder.mkdir(parents=True)
        os.link(src, folder / f"{i:07d}.dcm")


def make_corpus(root: Path, n: int) -> None:
    """n distinct, valid DICOM files: pydicom's CT_small and MR_small with their SOPInstanceUID
    (file meta and dataset) and PatientID replaced by values of the same length."""
    import pydicom

    templates = []
    for name in ("CT_small.dcm", "MR_small.dcm"):
        path = get_testdata_file(name)
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        templates.append((Path(path).read_bytes(), ds.SOPInstanceUID.encode(), ds.PatientID.encode()))
    for i in range(n):
        data, sop, pid = templates[i % 2]
        new_sop = b"2.25." + str(10 ** (len(sop) - 6) + i).encode()
        new_pid = f"{(i // 10) % 36 ** len(pid):0{len(pid)}x}".encode()[-len(pid):]
        folder = root / f"{i // PER_FOLDER:05d}"
        if i % PER_FOLDER == 0:
            folder.mkdir(parents=True)
        (folder / f"{i:07d}.dcm").write_bytes(data.replace(sop, new_sop).replace(pid, new_pid))


def child(code: str) -> dict:
    """Run `code` in a fresh interpreter; it prints one JSON line; add its seconds and peak RSS."""
    wrapped = ("import json, resource, time\nt0 = time.perf_counter()\n" + code +
               "\nout['seconds'] = time.perf_counter() - t0\n"
               "out['peak_mb'] = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,"
               " resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024\n"
               "print(json.dumps(out))\n")
    r = subprocess.run([sys.executable, "-c", wrapped], env=ENV, capture_output=True, text=True, cwd=REPO)
    if r.returncode != 0:
        raise SystemExit(r.stderr[-3000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def mi(*args: str) -> str:
    r = subprocess.run([sys.executable, "-m", "mi_warehouse", *args], env=ENV, capture_output=True, text=True,
                       cwd=REPO)
    if r.returncode != 0:
        raise SystemExit(r.stderr[-3000:])
    return r.stdout


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=1_000_000)
    ap.add_argument("--load-files", type=int, default=100_000, help="files of the real load (0: skip it)")
    ap.add_argument("--keep", type=Path, default=None, help="reuse (or keep) the tree in this folder")
    args = ap.parse_args(argv)

    root = args.keep or Path(tempfile.mkdtemp(prefix="mi-ledger-bench-"))
    tree = root / "tree"
    mi("sql", "DROP DATABASE IF EXISTS bench_ledger CASCADE; DROP DATABASE IF EXISTS bench_ledger_phi CASCADE")
    storage = json.loads(mi("config", "--json"))["storage_root"].removeprefix("file://")
    walk = old = noop = None
    if args.files:
        walk, old, noop = noop_rerun(args, root, tree, storage)
    load = load_rss(args, root, storage) if args.load_files else None
    mi("sql", "DROP DATABASE IF EXISTS bench_ledger CASCADE; DROP DATABASE IF EXISTS bench_ledger_phi CASCADE")
    for d in ("bench_ledger", "bench_ledger_phi"):
        shutil.rmtree(Path(storage) / d, ignore_errors=True)
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return {"walk": walk, "old": old, "noop": noop, "files": args.files, "load": load}


def noop_rerun(args, root: Path, tree: Path, storage: str):
    if not tree.exists():
        t0 = time.perf_counter()
        root.mkdir(parents=True, exist_ok=True)
        make_tree(root, args.files)
        print(f"tree: {args.files:,} hard links in {time.perf_counter() - t0:.0f}s at {tree}", file=sys.stderr)

    for d in ("bench_ledger", "bench_ledger_phi"):
        shutil.rmtree(Path(storage) / d, ignore_errors=True)
    mi("apply")
    phi_uri = f"file://{storage}/bench_ledger_phi"

    t0 = time.perf_counter()
    written = child(  # the ledger, as loads would have written it
        "from mi_warehouse.loaders.ledger import Ledger\n"
        "from mi_warehouse.loaders.sources import iter_files\n"
        f"ledger = Ledger({phi_uri!r})\nrows, run = [], 0\n"
        f"for i, f in enumerate(iter_files([{str(tree)!r}])):\n"
        "    rows.append((f.uri, f.size, f.mtime_ns, f'2.25.{i}', 'loaded', f'run-{run:03d}'))\n"
        f"    if len(rows) == {RUN_ENTRIES}:\n"
        "        ledger.write(f'run-{run:03d}', rows); rows, run = [], run + 1\n"
        "ledger.write(f'run-{run:03d}', rows)\n"
        "out = {'shard_files': ledger.paths.file_count() + ledger.sops.file_count()}\n")
    print(f"ledger: {args.files:,} entries in {time.perf_counter() - t0:.0f}s, "
          f"{written['shard_files']} files", file=sys.stderr)

    walk = child("from mi_warehouse.loaders.sources import iter_files\n"
                 f"out = {{'files': sum(1 for _ in iter_files([{str(tree)!r}]))}}\n")
    old = child(  # the previous release: every entry into dicts, before the walk starts
        "import pyarrow.parquet as pq, glob\n"
        "files, sops = {}, {}\n"
        f"for p in sorted(glob.glob({storage + '/bench_ledger_phi/_ledger/paths/*/*.parquet'!r})):\n"
        "    t = pq.read_table(p).to_pydict()\n"
        "    for path, size, mtime, sop in zip(t['path'], t['size'], t['mtime_ns'], t['sop_instance_uid']):\n"
        "        files[path] = (size, mtime); sops.setdefault(sop, path)\n"
        "out = {'entries': len(files)}\n")
    noop = child(
        "from mi_warehouse.config import load_settings\n"
        "from mi_warehouse.engine.connection import connect\n"
        "from mi_warehouse.loaders.load import LoadOptions, run_load\n"
        "s = load_settings()\n"
        "with connect(s) as c:\n"
        f"    r = run_load(c, s, [{str(tree)!r}], LoadOptions(workers=1))\n"
        "out = {'seen': r.files_seen, 'skipped': r.skipped, 'loaded': r.loaded}\n")
    assert noop["skipped"] == noop["seen"] == args.files and noop["loaded"] == 0, noop

    rows = [
        ("walk alone (iter_files: os.walk + stat)", walk, "1.00"),
        ("previous release: whole ledger into dicts (before any walk)", old, f"{old['seconds'] / walk['seconds']:.2f}"),
        ("no-op `run_load` (walk + ledger lookups + run record)", noop, f"{noop['seconds'] / walk['seconds']:.2f}"),
    ]
    print(f"\nLedger benchmark: no-op re-run over {args.files:,} files already in the ledger "
          f"({written['shard_files']} index files)\n")
    print("| what | seconds | ratio to the walk | peak RSS (MB) |\n| --- | ---: | ---: | ---: |")
    for name, d, ratio in rows:
        print(f"| {name} | {d['seconds']:.1f} | {ratio} | {d['peak_mb']:,.0f} |")
    goal = noop["seconds"] < 60 and noop["peak_mb"] < 500
    print(f"\nGoal (under 60 s and 500 MB): {'met' if goal else 'NOT met'}.")
    return walk, old, noop


def load_rss(args, root: Path, storage: str) -> dict:
    corpus = root / "corpus"
    if not corpus.exists():
        t0 = time.perf_counter()
        make_corpus(corpus, args.load_files)
        print(f"corpus: {args.load_files:,} files in {time.perf_counter() - t0:.0f}s", file=sys.stderr)
    mi("sql", "DROP DATABASE IF EXISTS bench_ledger CASCADE; DROP DATABASE IF EXISTS bench_ledger_phi CASCADE")
    for d in ("bench_ledger", "bench_ledger_phi"):
        shutil.rmtree(Path(storage) / d, ignore_errors=True)
    mi("apply")
    load = child(
        "from mi_warehouse.config import load_settings\n"
        "from mi_warehouse.engine.connection import connect\n"
        "from mi_warehouse.loaders.load import LoadOptions, run_load\n"
        "s = load_settings()\n"
        "with connect(s) as c:\n"
        f"    r = run_load(c, s, [{str(corpus)!r}], LoadOptions())\n"
        "out = {'loaded': r.loaded, 'errors': r.errors, 'duplicates': r.duplicates}\n")
    print(f"\nLoad of {args.load_files:,} distinct files, all workers: {load['loaded']:,} loaded, "
          f"{load['errors']} errors, {load['seconds']:.0f} s ({load['loaded'] / load['seconds']:,.0f} files/s), "
          f"peak RSS {load['peak_mb']:,.0f} MB (goal: under 500 MB: "
          f"{'met' if load['peak_mb'] < 500 else 'NOT met'}).")
    return load


if __name__ == "__main__":
    main()
