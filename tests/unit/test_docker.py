"""docker/: the compose stack validates offline, and the worker image's entry point works here."""

import shutil
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("docker-compose") is None,
                    reason="docker-compose (Debian package docker-compose) is not installed")
def test_compose_file_validates_offline():
    for profile in ([], ["--profile", "gpu"]):
        r = subprocess.run(["docker-compose", "-f", str(REPO / "docker" / "compose.yaml"), *profile, "config"],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
    services = subprocess.run(["docker-compose", "-f", str(REPO / "docker" / "compose.yaml"), "--profile", "gpu",
                               "config", "--services"], capture_output=True, text=True).stdout.split()
    assert {"metastore-db", "metastore", "hiveserver2", "storage", "hiveserver2-gpu"} <= set(services)
    gpu = yaml.safe_load(r.stdout)["services"]["hiveserver2-gpu"]  # r: the config of the gpu profile
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert any("gpu" in d["capabilities"] and d.get("driver") == "nvidia" for d in devices), devices


def test_worker_healthcheck_scores_an_image_with_the_demo_model():
    r = subprocess.run([sys.executable, str(REPO / "docker" / "worker" / "healthcheck.py")], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["status"] == "ok" and 0.0 <= float(out["probability"]) <= 1.0
    # on a machine without a GPU: CPU, and where the GPU build could not start, the reason why
    assert out["provider"] == "cpu" or out["provider"].startswith("cpu (fallback: "), out
