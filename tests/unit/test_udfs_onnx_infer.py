"""``python -m mi_warehouse.udfs.onnx_infer`` as Hive runs it: rows on stdin, rows on stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from mi_warehouse.models.card import EMBEDDING_COLUMN, OUTPUT_COLUMNS, ModelCard
from mi_warehouse.serde.transform_codec import decode_row
from mi_warehouse.synth import generate
from mi_warehouse.udfs.preprocess import load_tensor

from .udfs_builders import CARD, card_dict, write_model

TYPES = [t for _, t in OUTPUT_COLUMNS]
SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Synthetic DICOMs plus a truncated file, a non-DICOM file and a missing path."""
    root = tmp_path_factory.mktemp("udfs_corpus")
    generate(root / "dicom", patients=6, seed=1)
    files = sorted((root / "dicom").rglob("*.dcm"))
    truncated = root / "truncated.dcm"
    data = files[0].read_bytes()
    truncated.write_bytes(data[: len(data) - 3000])
    text = root / "notes.txt"
    text.write_text("not an image\n" * 50, encoding="utf-8")
    good = [(f.stem, f"file://{f}") for f in files]
    bad = [("truncated", str(truncated)), ("text", f"file://{text}"),
           ("missing", str(root / "missing.dcm"))]
    rows = good[:5] + [bad[0]] + good[5:20] + [bad[1]] + good[20:] + [bad[2]]
    return {"root": root, "rows": rows, "bad": {b[0] for b in bad}}


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    model_path, sha, card_path = write_model(tmp_path_factory.mktemp("udfs_model"))
    return {"model": model_path, "sha": sha, "card": card_path}


def infer(model, stdin: str, *extra: str, sha: str | None = None, card=None,
          env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=SRC, CUDA_VISIBLE_DEVICES="")
    env.update(env_extra or {})
    cmd = [sys.executable, "-m", "mi_warehouse.udfs.onnx_infer",
           "--model-file", str(model["model"]), "--sha256", sha or model["sha"],
           "--card", str(card or model["card"]), "--model-name", CARD["name"],
           "--model-version", CARD["version"], *extra]
    return subprocess.run(cmd, input=stdin.encode(), capture_output=True, timeout=120, env=env)


def stdin_of(rows) -> str:
    return "".join(f"{sop}\t{uri}\n" for sop, uri in rows)


def test_one_row_per_input_in_order_with_errors_only_for_bad_images(model, corpus):
    proc = infer(model, stdin_of(corpus["rows"]), "--batch-size", "8", "--prefetch", "2")
    assert proc.returncode == 0, proc.stderr.decode()
    lines = proc.stdout.decode().splitlines()
    rows = [decode_row(line, TYPES) for line in lines]
    assert [r[0] for r in rows] == [sop for sop, _ in corpus["rows"]]
    for r in rows:
        assert r[1:3] == [CARD["name"], CARD["version"]]
        assert r[9] == "cpu"
        if r[0] in corpus["bad"]:
            assert r[6] == "error" and r[7] and r[3] is None and r[4] is None, r
        else:
            assert r[6] == "ok" and r[7] is None, r
            assert 0.0 <= r[4] <= 1.0 and r[3] in CARD["labels"]
            assert len(r[5]) == 2 and sum(r[5]) == pytest.approx(1.0, abs=1e-6)
            assert r[4] == r[5][1]
            assert (r[3] == "finding") == (r[4] >= 0.5)
    by_sop = {r[0]: r for r in rows}
    assert "not a DICOM file" in by_sop["text"][7]
    assert "not found" in by_sop["missing"][7]
    assert b"onnx_infer: " in proc.stderr and b"rows" in proc.stderr


def test_probability_matches_the_preprocessed_image(model, corpus):
    sop, uri = corpus["rows"][0]
    proc = infer(model, stdin_of([(sop, uri)]))
    row = decode_row(proc.stdout.decode(), TYPES)
    # tiny model: p(finding) = softmax([m, -m])[1] with m the mean of the input tensor
    m = float(load_tensor(uri, 0, ModelCard.from_dict(CARD)).mean(dtype=np.float64))
    assert row[4] == pytest.approx(1.0 / (1.0 + np.exp(2.0 * m)), abs=1e-5)


def test_output_is_deterministic(model, corpus):
    stdin = stdin_of(corpus["rows"])
    runs = [infer(model, stdin, "--embeddings", "--decode-threads", "3") for _ in range(2)]
    assert all(p.returncode == 0 for p in runs)
    tables = [[decode_row(line, TYPES + [EMBEDDING_COLUMN[1]])
               for line in p.stdout.decode().splitlines()] for p in runs]
    strip = [[r[:8] + r[9:] for r in t] for t in tables]  # all but latency_ms
    assert strip[0] == strip[1]
    ok = [r for r in tables[0] if r[6] == "ok"]
    assert ok and all(len(r[10]) == 1 for r in ok)


def test_sha256_mismatch_exits_non_zero_with_one_clear_line(model):
    proc = infer(model, "a\t/x.dcm\n", sha="0" * 64)
    assert proc.returncode != 0
    assert proc.stdout == b""
    err = proc.stderr.decode().strip().splitlines()
    assert len(err) == 1 and "sha256 mismatch" in err[0] and str(model["model"]) in err[0]


def test_missing_model_and_bad_card_exit_non_zero(model, tmp_path):
    missing = dict(model, model=tmp_path / "gone.onnx")
    proc = infer(missing, "")
    assert proc.returncode != 0 and b"model file not found" in proc.stderr
    bad_card = tmp_path / "card.json"
    bad_card.write_text("{", encoding="utf-8")
    proc = infer(model, "", card=bad_card)
    assert proc.returncode != 0 and b"not valid JSON" in proc.stderr
    other = tmp_path / "other.json"
    other.write_text(json.dumps(card_dict(version="2.0.0")), encoding="utf-8")
    proc = infer(model, "", card=other)
    assert proc.returncode != 0 and b"version 2.0.0" in proc.stderr
    invalid = tmp_path / "invalid.json"
    invalid.write_text(json.dumps(card_dict(decision_threshold=2)), encoding="utf-8")
    proc = infer(model, "", card=invalid)
    err = proc.stderr.decode().strip().splitlines()
    assert proc.returncode == 2 and proc.stdout == b"" and len(err) == 1, err
    assert err[0] == (f"onnx_infer: error: {invalid}: decision_threshold: must be between 0.0 "
                      f"and 1.0 (got 2)")


def test_explicit_gpu_request_without_gpu_fails_clearly(model):
    proc = infer(model, "", "--providers", "cuda")
    assert proc.returncode != 0
    assert b"--providers cuda" in proc.stderr and b"CUDA_VISIBLE_DEVICES" in proc.stderr
    assert len(proc.stderr.decode().strip().splitlines()) == 1


def test_multi_frame_frame_column(model, tmp_path):
    from .udfs_builders import dicom_bytes
    stack = np.stack([np.full((64, 64), v) for v in (0, 4000)])
    path = tmp_path / "mf.dcm"
    path.write_bytes(dicom_bytes(stack, window=("2000", "4000")))
    proc = infer(model, f"a\t{path}\t0\nb\t{path}\t1\nc\t{path}\t2\n")
    rows = [decode_row(line, TYPES) for line in proc.stdout.decode().splitlines()]
    assert [r[6] for r in rows] == ["ok", "ok", "error"]
    assert rows[0][4] > 0.5 > rows[1][4]  # darker image -> lower mean -> higher p(finding)
    assert "frame 2 out of range" in rows[2][7]


def test_udfs_never_import_the_connection_layer():
    code = ("import sys, mi_warehouse.udfs.onnx_infer as m, mi_warehouse.udfs.pipeline, "
            "mi_warehouse.udfs.preprocess, mi_warehouse.udfs.runner, mi_warehouse.udfs.providers; "
            "print(' '.join(sorted(n for n in sys.modules if n.startswith('mi_warehouse'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True,
                         env=dict(os.environ, PYTHONPATH=SRC)).stdout.decode().split()
    forbidden = ("mi_warehouse.engine", "mi_warehouse.migrations", "mi_warehouse.loaders",
                 "mi_warehouse.config")
    assert not [n for n in out if n.startswith(forbidden)]


def test_rows_stream_out_per_batch_before_stdin_ends(model, corpus):
    env = dict(os.environ, PYTHONPATH=SRC, CUDA_VISIBLE_DEVICES="")
    cmd = [sys.executable, "-m", "mi_warehouse.udfs.onnx_infer", "--model-file",
           str(model["model"]), "--sha256", model["sha"], "--card", str(model["card"]),
           "--model-name", CARD["name"], "--model-version", CARD["version"],
           "--batch-size", "2", "--prefetch", "1"]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env)
    timer = threading.Timer(60, proc.kill)
    timer.start()
    try:
        proc.stdin.write(stdin_of(corpus["rows"][:2]).encode())
        proc.stdin.flush()
        first = [proc.stdout.readline() for _ in range(2)]  # stdin is still open
        assert [decode_row(line, TYPES)[0] for line in first] == [s for s, _ in corpus["rows"][:2]]
        proc.stdin.write(stdin_of(corpus["rows"][2:3]).encode())
        proc.stdin.close()
        rest = proc.stdout.read().decode().splitlines()
        assert [decode_row(line, TYPES)[0] for line in rest] == [corpus["rows"][2][0]]
        assert proc.wait() == 0
    finally:
        timer.cancel()
        proc.kill()


def test_decode_processes_and_threads_write_the_same_rows(model, corpus):
    stdin = stdin_of(corpus["rows"])
    runs = [infer(model, stdin, "--embeddings", "--batch-size", "4", "--decode-processes", n)
            for n in ("0", "2", "auto")]
    assert all(p.returncode == 0 for p in runs), [p.stderr.decode() for p in runs]

    def latency_free(p):
        return ["\t".join(f for i, f in enumerate(line.split("\t")) if i != 8)
                for line in p.stdout.decode().splitlines()]

    assert latency_free(runs[0]) == latency_free(runs[1]) == latency_free(runs[2])
    assert len(latency_free(runs[0])) == len(corpus["rows"])


def test_a_killed_decode_worker_does_not_hang_the_script(model, corpus, tmp_path):
    # a sitecustomize that makes every decode worker process die on its first image
    (tmp_path / "sitecustomize.py").write_text(
        "import os, sys\n"
        "if 'multiprocessing' in ' '.join(getattr(sys, 'orig_argv', [])):\n"
        "    import mi_warehouse.udfs.preprocess as p\n"
        "    p.load_tensor = lambda *a, **k: os._exit(9)\n", encoding="utf-8")
    proc = infer(model, stdin_of(corpus["rows"]), "--decode-processes", "2",
                 env_extra={"PYTHONPATH": os.pathsep.join([str(tmp_path), SRC])})
    err = proc.stderr.decode().strip().splitlines()
    assert proc.returncode == 2, err
    assert err[-1].startswith("onnx_infer: error: decode worker processes died on 5 images")
