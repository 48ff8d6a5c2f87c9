"""Inference benchmark: the full Hive TRANSFORM path against its two parts, same images and model.

    .venv/bin/python bench/infer_bench.py [--patients 400] [--batch-size 32]
    .venv/bin/python bench/infer_bench.py --realistic [--image-size 2048] [--per-syntax 24]

`--realistic`: 2048x2048 chest radiographs in every transfer syntax, the
ResNet-50-class model, TRANSFORM at one and at all cores, peak RSS of a script instance at two
cohort sizes, GPU rows where a GPU is present. Without it, the small case below:

Prints a markdown table of images/s for: decode + preprocessing alone (pydicom, LUTs, resize),
a plain onnxruntime loop over the already-decoded arrays (the demo CNN, CPU), and
`mi-warehouse infer` through the embedded engine (SELECT TRANSFORM ... USING the ONNX script,
including the cohort join and the partition swap), with the ratio TRANSFORM / slower part.
Needs a running server (`mi-warehouse server start`); uses its own databases and drops them.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import _databases as databases

REPO = Path(__file__).resolve().parents[1]
DB, PHI = "bench_infer", "bench_infer_phi"


def _chest_files(corpus: Path) -> list[Path]:
    import pydicom

    out = []
    for f in sorted(corpus.rglob("*.dcm")):
        ds = pydicom.dcmread(f, stop_before_pixels=True, specific_tags=["Modality"])
        if ds.Modality in ("CR", "DX"):
            out.append(f)
    return out


def decode_rate(files: list[Path], card) -> tuple[float, np.ndarray]:
    from mi_warehouse.udfs.preprocess import load_tensor

    t0 = time.perf_counter()
    arrays = [load_tensor("file://" + str(f), 0, card) for f in files]
    return len(files) / (time.perf_counter() - t0), np.stack(arrays)


def onnx_rate(batch: np.ndarray, model: Path, batch_size: int) -> float:
    return _model_rate(model, batch, batch_size, 1)


def transform_rate(corpus: Path, batch_size: int) -> tuple[float, float, int, str]:
    from mi_warehouse.config import load_settings
    from mi_warehouse.engine.connection import connect
    from mi_warehouse.inference.run import run_inference
    from mi_warehouse.loaders.load import LoadOptions, run_load
    from mi_warehouse.models.demo import DEMO_CARD, DEMO_MODEL
    from mi_warehouse.models.registry import register

    env = dict(os.environ, MIW_DATABASE=DB, MIW_PHI_DATABASE=PHI)
    settings = load_settings(env=env)
    with connect(settings) as s:
        databases.fresh(s, settings)
        run_load(s, settings, [str(corpus)], LoadOptions())
        register(s, settings, DEMO_MODEL, "chest-finding-resnet", "1.0.0", DEMO_CARD)
        s.execute(f"CREATE TABLE {DB}.chest AS SELECT sop_instance_uid FROM {DB}.dicom_metadata "
                  f"WHERE modality IN ('CR', 'DX')")
        summary = run_inference(s, settings, "chest-finding-resnet:1.0.0", f"{DB}.chest", batch_size=batch_size)
        databases.drop(s, settings)
    return summary.rate, summary.scored / summary.transform_seconds, summary.scored, summary.provider


# --- the realistic case ------------------------------------------------------------------------

SYNTAXES = ("explicit", "jpeg2000", "jpegls", "jpeg-lossless", "rle")


def _copies(files: list[Path], out: Path, n: int) -> list[Path]:
    """``n`` files made from ``files`` round robin, each with a new SOPInstanceUID (pixel data
    copied as it is, so nothing is re-encoded)."""
    import pydicom
    from pydicom.uid import generate_uid

    out.mkdir(parents=True, exist_ok=True)
    made = []
    for i in range(n):
        ds = pydicom.dcmread(files[i % len(files)])
        ds.SOPInstanceUID = generate_uid(entropy_srcs=[str(i), str(files[i % len(files)])])
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        path = out / f"copy_{i:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        made.append(path)
    return made


def _syntax_files(root: Path, size: int, per_syntax: int) -> dict[str, list[Path]]:
    """A few chest radiographs per syntax written by mi_warehouse.synth, copied up to
    ``per_syntax`` files with their own UIDs."""
    from mi_warehouse.synth import generate

    out = {}
    for name in SYNTAXES:
        corpus = root / name
        generate(corpus, 6, seed=12, image_size=size, transfer_syntax=name)
        out[name] = _copies(_chest_files(corpus), root / f"{name}_copies", per_syntax)
    return out


def _decode_files(paths: list[str], card_json: str) -> int:
    from mi_warehouse.models.card import ModelCard
    from mi_warehouse.udfs.preprocess import load_tensor

    card = ModelCard.from_json(card_json)
    for p in paths:
        load_tensor("file://" + p, 0, card)
    return len(paths)


def _decode_rate(files: list[Path], card, workers: int) -> float:
    """Images/s of decode + preprocess (what a script instance's decoder does), in ``workers``
    processes (1: this process)."""
    from concurrent.futures import ProcessPoolExecutor

    paths, text = [str(f) for f in files], card.to_json()
    if workers <= 1:
        _decode_files(paths[:1], text)  # imports, caches
        t0 = time.perf_counter()
        _decode_files(paths, text)
        return len(paths) / (time.perf_counter() - t0)
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_decode_files, [paths[:1]] * workers, [text] * workers))  # started, warm
        t0 = time.perf_counter()
        list(pool.map(_decode_files, [paths[i::workers] for i in range(workers)],
                      [text] * workers))
        return len(paths) / (time.perf_counter() - t0)


def _model_rate(model: Path, x: np.ndarray, batch: int, threads: int,
                providers: list | None = None) -> float:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.log_severity_level = 3
    sess = ort.InferenceSession(str(model), opts, providers=providers or ["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    sess.run(None, {name: x[:batch]})  # warm-up
    t0 = time.perf_counter()
    for i in range(0, len(x), batch):
        sess.run(None, {name: x[i:i + batch]})
    return len(x) / (time.perf_counter() - t0)


def _script_peak_rss(model: Path, card_path: Path, sha: str, files: list[Path], rows: int,
                     batch: int, prefetch: int) -> tuple[float, float]:
    """Peak RSS (MB) and seconds of one TRANSFORM script instance fed ``rows`` rows (the files
    round robin), as the engine runs it: a process reading stdin, decoding in a thread."""
    import subprocess

    from mi_warehouse.models.card import ModelCard

    card = ModelCard.from_json(card_path.read_text())
    cmd = [sys.executable, "-m", "mi_warehouse.udfs.onnx_infer", "--model-file", str(model),
           "--sha256", sha, "--card", str(card_path), "--model-name", card.name,
           "--model-version", card.version, "--batch-size", str(batch), "--prefetch", str(prefetch),
           "--decode-processes", "0", "--providers", "cpu"]
    text = "".join(f"r{i}\tfile://{files[i % len(files)]}\n" for i in range(rows)).encode()
    # a fresh parent whose RUSAGE_CHILDREN holds exactly this one script's peak
    wrapper = ("import resource, subprocess, sys; rc = subprocess.run(sys.argv[1:]).returncode; "
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
               "sys.exit(rc)")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", wrapper, *cmd], input=text,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seconds = time.perf_counter() - t0
    lines = proc.stderr.decode().strip().splitlines()
    if proc.returncode:
        raise RuntimeError(lines[-2] if len(lines) > 1 else "script failed")
    return int(lines[-1]) / 1024, seconds


def _transform(corpus: Path, model: Path, card_path: Path, batch: int, spreads: list) -> list:
    """The SELECT TRANSFORM statement over the loaded corpus's chest images, once per spread."""
    from mi_warehouse.config import load_settings
    from mi_warehouse.engine.connection import connect
    from mi_warehouse.inference.run import run_inference
    from mi_warehouse.loaders.load import LoadOptions, run_load
    from mi_warehouse.models.card import ModelCard
    from mi_warehouse.models.registry import register

    card = ModelCard.from_json(card_path.read_text())
    env = dict(os.environ, MIW_DATABASE=DB, MIW_PHI_DATABASE=PHI)
    settings = load_settings(env=env)
    out = []
    with connect(settings) as s:
        databases.fresh(s, settings)
        run_load(s, settings, [str(corpus)], LoadOptions())
        register(s, settings, model, card.name, card.version, card_path)
        s.execute(f"CREATE TABLE {DB}.chest AS SELECT sop_instance_uid FROM {DB}.dicom_metadata "
                  f"WHERE modality IN ('CR', 'DX')")
        for spread in spreads:
            summary = run_inference(s, settings, f"{card.name}:{card.version}", f"{DB}.chest",
                                    force=True, batch_size=batch, spread=spread)
            out.append((spread, summary))
        databases.drop(s, settings)
    return out


def _gpu_status() -> str | None:
    """Why there are no GPU rows, or None when a GPU provider works here."""
    from mi_warehouse.udfs.providers import select_providers

    choice = select_providers("auto", 0)
    return None if choice.short != "cpu" else ("; ".join(choice.skipped) or "CPU-only onnxruntime")


def realistic(size: int, per_syntax: int, cohort: int, batch: int) -> dict:
    from mi_warehouse.inference.sql import Spread
    from mi_warehouse.models.bench_resnet import write_bench_model
    from mi_warehouse.models.card import ModelCard
    from mi_warehouse.models.checks import sha256_file
    from mi_warehouse.udfs.decode_pool import usable_cpus

    cores = usable_cpus()
    root = Path(tempfile.mkdtemp(prefix="mi-infer-real-"))
    t_setup = time.perf_counter()
    model, card_path = write_bench_model(root / "model", seed=0)
    card = ModelCard.from_json(card_path.read_text())
    files = _syntax_files(root / "syntaxes", size, per_syntax)
    j2k = files["jpeg2000"]
    transform_corpus = root / "cohort"
    _copies(j2k, transform_corpus, cohort)
    setup_s = time.perf_counter() - t_setup

    rows = []  # (what, images/s, note)
    per_core = {name: _decode_rate(fs, card, 1) for name, fs in files.items()}
    decode_all = _decode_rate(j2k, card, cores)
    x = np.random.default_rng(0).standard_normal((max(4 * batch, 32), 1, 224, 224)).astype(np.float32)
    model_1 = _model_rate(model, x, batch, 1)
    model_all = _model_rate(model, x, batch, cores)
    base = min(decode_all, model_all)
    base_name = "decode (all cores)" if decode_all <= model_all else "model alone (all cores)"
    for name in SYNTAXES:
        rows.append((f"decode + preprocess {size}x{size} {name}, 1 core", per_core[name], ""))
    rows.append((f"decode + preprocess jpeg2000, {cores} cores (processes)", decode_all, ""))
    rows.append(("ResNet-50-class model alone, CPU, 1 thread", model_1, f"batch {batch}"))
    rows.append((f"ResNet-50-class model alone, CPU, {cores} threads", model_all, f"batch {batch}"))
    why_no_gpu = _gpu_status()
    gpu_rows = []
    if why_no_gpu is None:
        from mi_warehouse.udfs.providers import select_providers
        choice = select_providers("auto", 0)
        gpu_rows.append(("ResNet-50-class model alone, GPU " + choice.short,
                         _model_rate(model, x, batch, 1, choice.providers), ""))
    spreads = [Spread(1, 0), Spread(cores, 0)]
    results = _transform(transform_corpus, model, card_path, batch, spreads)
    transform = {}
    for spread, summ in results:
        rate = summ.scored / summ.transform_seconds
        transform[spread.instances] = rate
        rows.append((f"SELECT TRANSFORM, jpeg2000 -> model, {spread.instances} script instance(s)",
                     rate, f"{summ.scored} images, {summ.rows_error} errors; provider "
                           f"{summ.provider}"))
    sha = sha256_file(model)
    small, large = max(batch * 2, 16), max(batch * 8, 64)
    rss = {n: _script_peak_rss(model, card_path, sha, j2k, n, batch, 2) for n in (small, large)}

    print(f"\nRealistic inference benchmark: {size}x{size} 12-bit chest radiographs written by "
          f"mi_warehouse.synth ({per_syntax} files per syntax), ResNet-50-class model "
          f"(models/bench_resnet.py, 23.5M parameters, 224x224x1), batch {batch}, {cores} cores, "
          f"CPU; setup (synth, model) {setup_s:.0f} s\n")
    print(f"Baseline: the slower of decode on all cores and the model alone on all cores = "
          f"{base_name}, {base:,.1f} images/s\n")
    print("| path | images/s | ratio to baseline | note |\n| --- | ---: | ---: | --- |")
    for what, rate, note in rows + gpu_rows:
        print(f"| {what} | {rate:,.1f} | {rate / base:.2f} | {note} |")
    if why_no_gpu is not None:
        print(f"| GPU rows (model alone, TRANSFORM on GPU) | not run | | {why_no_gpu} |")
    print("\n| script instance fed | peak RSS (MB) | seconds |\n| --- | ---: | ---: |")
    for n, (mb, sec) in rss.items():
        print(f"| {n} rows (batch {batch}, prefetch 2) | {mb:,.0f} | {sec:.1f} |")
    best = transform[max(transform)]
    print(f"\nTRANSFORM on all cores: {base / best:.2f}x the time of the slower part "
          f"(goal: at most 1.15x); {best / transform[1]:.2f}x the images/s of one instance.")
    return {"decode_per_core": per_core, "decode_all": decode_all, "model_1": model_1,
            "model_all": model_all, "transform": transform, "rss": rss, "baseline": base,
            "gpu": why_no_gpu or "run"}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=2000)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--realistic", action="store_true", help="the realistic case (realistic.py)")
    ap.add_argument("--image-size", type=int, default=2048)
    ap.add_argument("--per-syntax", type=int, default=24, help="chest files decoded per syntax")
    ap.add_argument("--cohort", type=int, default=48, help="images of the TRANSFORM cohort")
    args = ap.parse_args(argv)
    if args.realistic:
        return realistic(args.image_size, args.per_syntax, args.cohort, min(args.batch_size, 8))

    from mi_warehouse.synth import generate
    from mi_warehouse.models.demo import DEMO_CARD, DEMO_MODEL
    from mi_warehouse.models.card import load_card

    corpus = Path(tempfile.mkdtemp(prefix="mi-infer-bench-"))
    generate(corpus, args.patients, seed=77, image_size=64)
    files = _chest_files(corpus)
    card = load_card(DEMO_CARD)
    dec, arrays = decode_rate(files, card)
    inf = onnx_rate(arrays, DEMO_MODEL, args.batch_size)
    command, tr, scored, provider = transform_rate(corpus, args.batch_size)
    slower = min(dec, inf)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nInference benchmark: {len(files)} chest images (64x64), demo CNN, batch {args.batch_size}, CPU; "
          f"peak RSS of the client {peak:,.0f} MB\n")
    print("| path | images/s | ratio |\n| --- | ---: | ---: |")
    print(f"| decode + preprocess alone (pydicom, LUTs, resize) | {dec:,.0f} | {dec / slower:.2f} |")
    print(f"| plain onnxruntime over decoded arrays | {inf:,.0f} | {inf / slower:.2f} |")
    print(f"| SELECT TRANSFORM statement in the embedded engine ({scored} images, {provider}) | {tr:,.0f} | "
          f"{tr / slower:.2f} |")
    print(f"| whole `mi-warehouse infer` command (cohort join, partition swap, run record) | {command:,.0f} | "
          f"{command / slower:.2f} |")
    print(f"\nTRANSFORM takes {slower / tr:.2f}x the time of the slower part (goal: at most 1.15x).")
    return {"decode": dec, "onnx": inf, "transform": tr, "command": command, "images": len(files), "scored": scored,
            "ratio_to_slower": slower / tr, "peak_mb": peak}


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
