"""Health check of a TRANSFORM worker: the entry point imports, a model scores one image, and
the provider chosen is reported (CUDA/TensorRT on a GPU node, CPU elsewhere).

Run by the worker image's HEALTHCHECK and, without Docker, by tests/integration/test_docker.py.
Exit status 0 when the script scored the probe image; the provider is printed on stdout.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> int:
    import json

    from mi_warehouse.synth import generate
    from mi_warehouse.models.card import load_card
    from mi_warehouse.models.checks import sha256_file
    from mi_warehouse.models.demo import DEMO_CARD, DEMO_MODEL

    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp) / "d", patients=1, seed=1, image_size=64)
        image = next(p for p in sorted((Path(tmp) / "d").rglob("*.dcm")))
        card = Path(tmp) / "card.json"
        demo = load_card(DEMO_CARD)
        card.write_text(demo.to_json())
        cmd = [sys.executable, "-m", "mi_warehouse.udfs.onnx_infer", "--model-file", str(DEMO_MODEL),
               "--sha256", sha256_file(DEMO_MODEL), "--card", str(card), "--model-name", demo.name,
               "--model-version", demo.version]
        out = subprocess.run(cmd, input=f"probe\tfile://{image}\n", capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        print(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "no output", file=sys.stderr)
        return 1
    fields = out.stdout.rstrip("\n").split("\t")
    print(json.dumps({"status": fields[6], "provider": fields[9], "probability": fields[4]}))
    return 0 if fields[6] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
