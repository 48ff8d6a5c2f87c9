"""Execution provider selection of the ONNX TRANSFORM script, with injected availability."""

from __future__ import annotations

import ctypes

import pytest

from mi_warehouse.udfs.errors import SetupError
from mi_warehouse.udfs.providers import (
    select_providers, short_name, system_probe, visible_gpu_problem)

GPU_WHEEL = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
CUDA_WHEEL = ["CUDAExecutionProvider", "CPUExecutionProvider"]


class Probe:
    """Records calls; ``broken`` maps a provider short name to its failure reason."""

    def __init__(self, **broken):
        self.broken, self.calls = broken, []

    def __call__(self, short, device_id):
        self.calls.append((short, device_id))
        return self.broken.get(short)


def test_cuda_listed_but_libraries_missing_gives_cpu():
    probe = Probe(cuda="cannot load libonnxruntime_providers_cuda.so: libcublasLt.so.13: "
                       "cannot open shared object file")
    choice = select_providers("auto", 0, available=CUDA_WHEEL, env={}, probe=probe)
    assert choice.short == "cpu" and choice.names == ["CPUExecutionProvider"]
    assert "libcublasLt" in choice.skipped[0]
    assert probe.calls == [("cuda", 0)]


def test_empty_or_negative_cuda_visible_devices_gives_cpu_without_probing():
    for value in ("", "-1", "NoDevFiles", " "):
        probe = Probe()
        choice = select_providers("auto", 0, available=GPU_WHEEL,
                                  env={"CUDA_VISIBLE_DEVICES": value}, probe=probe)
        assert choice.short == "cpu", value
        assert probe.calls == []
        assert "CUDA_VISIBLE_DEVICES" in choice.skipped[0]


def test_device_id_is_passed_through():
    probe = Probe(tensorrt="libnvinfer.so.10 missing")
    choice = select_providers("auto", 1, available=GPU_WHEEL, env={"CUDA_VISIBLE_DEVICES": "2,3"},
                              probe=probe)
    assert choice.short == "cuda"
    assert choice.providers[0] == ("CUDAExecutionProvider",
                                   {"device_id": 1, "cudnn_conv_algo_search": "HEURISTIC"})
    assert choice.names[-1] == "CPUExecutionProvider"
    assert ("cuda", 1) in probe.calls


def test_device_id_beyond_visible_devices_gives_cpu():
    choice = select_providers("auto", 1, available=GPU_WHEEL, env={"CUDA_VISIBLE_DEVICES": "0"},
                              probe=Probe())
    assert choice.short == "cpu" and "--device-id 1" in choice.skipped[0]
    assert visible_gpu_problem(0, {"CUDA_VISIBLE_DEVICES": "0,-1,1"}) is None
    assert visible_gpu_problem(1, {"CUDA_VISIBLE_DEVICES": "0,-1,1"})  # enumeration stops at -1
    assert visible_gpu_problem(5, {}) is None  # unset: the driver decides


def test_tensorrt_first_when_everything_loads():
    choice = select_providers("auto", 0, available=GPU_WHEEL, env={}, probe=Probe(),
                              trt_cache_dir="/tmp/trt")
    assert choice.short == "tensorrt"
    assert choice.names == GPU_WHEEL
    opts = choice.providers[0][1]
    assert opts["device_id"] == 0 and opts["trt_engine_cache_path"] == "/tmp/trt"


def test_cpu_only_build_and_explicit_cpu_never_probe():
    probe = Probe()
    assert select_providers("auto", 0, available=["CPUExecutionProvider"], env={},
                            probe=probe).short == "cpu"
    assert select_providers("cpu", 0, available=GPU_WHEEL, env={}, probe=probe).short == "cpu"
    assert probe.calls == []


def test_explicit_gpu_request_that_cannot_work_is_a_setup_error():
    with pytest.raises(SetupError, match="--providers cuda.*libcudnn"):
        select_providers("cuda", 0, available=CUDA_WHEEL, env={},
                         probe=Probe(cuda="cannot load libcudnn.so.9"))
    with pytest.raises(SetupError, match="CUDA_VISIBLE_DEVICES"):
        select_providers("tensorrt", 0, available=GPU_WHEEL, env={"CUDA_VISIBLE_DEVICES": ""},
                         probe=Probe())
    with pytest.raises(SetupError, match="--providers"):
        select_providers("rocm", 0, available=GPU_WHEEL, env={}, probe=Probe())


def test_same_reason_is_reported_once():
    choice = select_providers("auto", 0, available=GPU_WHEEL, env={},
                              probe=Probe(cuda="no CUDA driver", tensorrt="x"))
    assert choice.skipped == ("tensorrt, cuda: no CUDA driver",)


def test_short_names():
    assert short_name("CUDAExecutionProvider") == "cuda"
    assert short_name("TensorrtExecutionProvider") == "tensorrt"
    assert short_name("CPUExecutionProvider") == "cpu"


def test_real_probe_is_quiet_and_names_what_is_missing(capfd):
    reason = system_probe("cuda", 0)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:
        assert reason == "no CUDA driver (libcuda.so.1 not found)"
        return
    # with a driver: usable, or the reason names the step that failed
    steps = ("the CUDA driver failed", "cuDeviceGetCount failed", "libcuda.so.1 lacks", "--device-id 0 but",
             "cannot load libonnxruntime_providers_cuda.so", "cannot load libcudnn")
    assert reason is None or reason.startswith(steps), reason
