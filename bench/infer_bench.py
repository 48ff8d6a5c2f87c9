"""Inference benchmark: the full Hive TRANSFORM path against its two parts, same images and model.

    .venv/bin/python bench/infer_bench.py [--patients 400] [--batch-size 32]

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
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3
    sess = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    sess.run(None, {name: batch[:batch_size]})  # warm-up
    t0 = time.perf_counter()
    for i in range(0, len(batch), batch_size):
        sess.run(None, {name: batch[i:i + batch_size]})
    return len(batch) / (time.perf_counter() - t0)


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


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=2000)
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args(argv)

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
