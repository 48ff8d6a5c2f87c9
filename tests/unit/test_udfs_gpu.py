"""The GPU path of the TRANSFORM script, as far as a CPU machine can test it: provider choice
with fp16, per-GPU locks, device assignment and its CPU fallback (recorded), I/O binding, the
nvImageCodec decode hook, and error rows that name the transfer syntax."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.encaps import encapsulate
from pydicom.uid import JPEG2000Lossless

from mi_warehouse.models.card import ModelCard
from mi_warehouse.synth.encode import encode_frame
from mi_warehouse.udfs import device, gpu_decode
from mi_warehouse.udfs.dicom_frame import decode_frame, read_dataset
from mi_warehouse.udfs.errors import ImageError, SetupError
from mi_warehouse.udfs.gpu_lock import claim_gpu, visible_devices
from mi_warehouse.udfs.providers import ProviderChoice, provider_label, select_providers
from mi_warehouse.udfs.runner import OnnxRunner

from .udfs_builders import CARD, dicom_bytes, model_bytes

GPU_WHEEL = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
CPU_ONLY = ["CPUExecutionProvider"]
CPU = ProviderChoice([("CPUExecutionProvider", {})], "cpu")


def ok(short, device_id):
    return None


# --- providers: fp16 and the recorded label ------------------------------------------------------

def test_fp16_sets_tensorrt_fp16_only():
    choice = select_providers("auto", 0, available=GPU_WHEEL, env={}, probe=ok, fp16=True)
    trt, cuda = choice.providers[0][1], choice.providers[1][1]
    assert choice.short == "tensorrt" and trt["trt_fp16_enable"] is True
    assert "trt_fp16_enable" not in cuda
    plain = select_providers("auto", 0, available=GPU_WHEEL, env={}, probe=ok)
    assert "trt_fp16_enable" not in plain.providers[0][1]


def test_the_card_may_allow_fp16_and_says_nothing_when_it_does_not():
    from mi_warehouse.models.card import ModelCardInvalid

    from .udfs_builders import card_dict

    allowed = ModelCard.from_dict(card_dict(fp16=True))
    assert allowed.fp16 is True and ModelCard.from_json(allowed.to_json()).fp16 is True
    plain = ModelCard.from_dict(CARD)
    assert plain.fp16 is False and "fp16" not in plain.to_dict()
    with pytest.raises(ModelCardInvalid, match="fp16: must be true or false"):
        ModelCard.from_dict(card_dict(fp16="yes"))


def test_label_records_a_fallback_but_not_a_chosen_cpu():
    absent = select_providers("auto", 0, available=GPU_WHEEL, env={},
                              probe=lambda s, d: "no CUDA driver (libcuda.so.1 not found)")
    label = provider_label(absent, "cpu")
    assert label.startswith("cpu (fallback: ") and "libcuda.so.1" in label and "\n" not in label
    hidden = select_providers("auto", 0, available=GPU_WHEEL, env={"CUDA_VISIBLE_DEVICES": ""},
                              probe=ok)
    assert provider_label(hidden, "cpu") == "cpu"
    assert provider_label(CPU, "cpu") == "cpu"
    cuda = select_providers("auto", 0, available=GPU_WHEEL, env={},
                            probe=lambda s, d: "libnvinfer missing" if s == "tensorrt" else None)
    assert provider_label(cuda, "cuda") == "cuda"
    assert "onnxruntime could not start cuda" in provider_label(cuda, "cpu")
    assert len(provider_label(absent, "cpu", limit=40)) <= 40


# --- one script instance per GPU ----------------------------------------------------------------

def test_each_instance_locks_its_own_gpu_and_a_third_waits_then_gets_none(tmp_path):
    devices = visible_devices(2, {})
    assert devices == [(0, "0"), (1, "1")]
    a, b = claim_gpu(devices, str(tmp_path), wait_s=0), claim_gpu(devices, str(tmp_path), wait_s=0)
    assert {a.device_id, b.device_id} == {0, 1}
    t = [0.0]
    sleeps = []

    def sleep(s):
        sleeps.append(s)
        t[0] += s

    assert claim_gpu(devices, str(tmp_path), wait_s=2.0, poll_s=0.5, clock=lambda: t[0],
                     sleep=sleep) is None
    assert sum(sleeps) >= 2.0  # it waited as long as it was told
    b.release()
    c = claim_gpu(devices, str(tmp_path), wait_s=0)
    assert c.device_id == b.device_id
    assert (tmp_path / f"gpu-{c.physical}.lock").read_text().strip().isdigit()  # holder's pid
    a.release(), c.release()


def test_lock_files_name_the_physical_gpu_of_cuda_visible_devices(tmp_path):
    devices = visible_devices(2, {"CUDA_VISIBLE_DEVICES": "3,1"})
    assert devices == [(0, "3"), (1, "1")]
    lease = claim_gpu(devices, str(tmp_path), wait_s=0)
    other = claim_gpu(visible_devices(4, {}), str(tmp_path), wait_s=0)
    assert lease.device_id == 0 and lease.path.endswith("gpu-3.lock")
    assert other.physical == "0"  # physical 3 is taken whatever ordinal another process sees it as
    lease.release(), other.release()
    assert visible_devices(4, {"CUDA_VISIBLE_DEVICES": "0,-1,2"}) == [(0, "0")]


def test_choose_cpu_build_or_cpu_asked_takes_no_lock(tmp_path):
    for requested, available in (("auto", CPU_ONLY), ("cpu", GPU_WHEEL)):
        a = device.choose(requested, available=available, count=2, env={}, probe=ok,
                          folder=str(tmp_path))
        assert a.choice.short == "cpu" and a.lease is None and a.choice.skipped == ()
    assert list(tmp_path.iterdir()) == []


def test_choose_without_a_gpu_falls_back_with_the_reason(tmp_path):
    a = device.choose("auto", available=GPU_WHEEL, count=0, env={},
                      probe=lambda s, d: "no CUDA driver (libcuda.so.1 not found)",
                      folder=str(tmp_path))
    assert a.choice.short == "cpu" and a.lease is None
    assert "libcuda.so.1" in provider_label(a.choice, "cpu")


def test_choose_spreads_instances_over_gpus_then_falls_back_when_all_are_held(tmp_path):
    kw = dict(available=GPU_WHEEL, count=2, env={}, probe=ok, folder=str(tmp_path), wait_s=0)
    first, second = device.choose("auto", fp16=True, **kw), device.choose("auto", **kw)
    ids = [x.choice.providers[0][1]["device_id"] for x in (first, second)]
    assert sorted(ids) == [0, 1] and first.choice.short == "tensorrt"
    assert first.choice.providers[0][1]["trt_fp16_enable"] is True
    third = device.choose("auto", **kw)
    assert third.choice.short == "cpu" and third.lease is None
    assert "held by another script instance" in provider_label(third.choice, "cpu")
    with pytest.raises(SetupError, match="--providers cuda: every visible GPU"):
        device.choose("cuda", **kw)
    second.lease.release()
    pinned = device.choose("auto", device_id=1 if ids[1] == 1 else 0, **kw)
    assert pinned.lease is not None and pinned.lease.device_id == (1 if ids[1] == 1 else 0)
    first.lease.release(), pinned.lease.release()


def test_a_gpu_whose_libraries_do_not_load_is_not_kept_locked(tmp_path):
    kw = dict(available=GPU_WHEEL, count=1, env={}, folder=str(tmp_path), wait_s=0)
    broken = device.choose("auto", probe=lambda s, d: "cannot load libcudnn.so.9", **kw)
    assert broken.choice.short == "cpu" and broken.lease is None
    assert "libcudnn" in provider_label(broken.choice, "cpu")
    fine = device.choose("auto", probe=ok, **kw)
    assert fine.lease is not None and fine.lease.device_id == 0  # the lock was given back
    fine.lease.release()


def test_choose_with_an_unusable_lock_folder_falls_back_recorded(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    a = device.choose("auto", available=GPU_WHEEL, count=1, env={}, probe=ok,
                      folder=str(blocker / "locks"))
    assert a.choice.short == "cpu" and "GPU lock folder" in provider_label(a.choice, "cpu")


# --- I/O binding ----------------------------------------------------------------------------------

def test_io_binding_gives_the_same_scores_as_a_plain_run():
    card = ModelCard.from_dict(CARD)
    x = np.random.default_rng(0).standard_normal((3, 1, 64, 64)).astype(np.float32)
    plain = OnnxRunner(model_bytes(), card, CPU, batch_size=4, embeddings=True)
    bound = OnnxRunner(model_bytes(), card, CPU, batch_size=4, embeddings=True, io_binding=True)
    assert not plain.io_binding and bound.io_binding
    (s1, e1), (s2, e2) = plain.run(x), bound.run(x)
    np.testing.assert_array_equal(s1, s2)
    np.testing.assert_array_equal(e1, e2)


# --- nvImageCodec decode hook ---------------------------------------------------------------------

class FakeNv:
    """Stands in for ``nvidia.nvimgcodec``: decodes to ``result`` (or raises)."""

    class ColorSpec:
        UNCHANGED = "unchanged"

    def __init__(self, result=None, fail=False):
        self.result, self.fail, self.calls = result, fail, []
        outer = self

        class Decoder:
            def __init__(self, device_id=0):
                outer.device_id = device_id

            def decode(self, data, params=None):
                outer.calls.append((bytes(data[:2]), params))
                if outer.fail:
                    raise RuntimeError("nvjpeg2k: bad codestream")

                class Image:
                    def cpu(self_inner):
                        return outer.result
                return Image()

        self.Decoder = Decoder

    @staticmethod
    def DecodeParams(**kw):  # noqa: N802 - mirrors the library
        return kw


def _j2k_file(pixels):
    frame = encode_frame(pixels, JPEG2000Lossless, bits_stored=16, photometric="MONOCHROME2")
    return read_dataset(dicom_bytes(pixels, transfer_syntax=JPEG2000Lossless, encapsulated=frame))


def test_gpu_hook_decodes_jpeg2000_and_declines_what_it_cannot(tmp_path):
    pixels = (np.arange(64 * 48).reshape(48, 64) % 4000).astype(np.uint16)
    ds = _j2k_file(pixels)
    fake = FakeNv(result=(pixels[..., None] + 1).astype(np.uint16))  # (H, W, 1), marked
    hook = gpu_decode.GpuFrameDecoder(device_id=1, module=fake)
    frame = decode_frame(ds, 0, hook)
    assert fake.device_id == 1 and fake.calls[0][0] == b"\xff\x4f"  # a J2K codestream (SOC)
    assert fake.calls[0][1] == {"allow_any_depth": True, "color_spec": "unchanged"}
    np.testing.assert_array_equal(frame.pixels, pixels + 1.0)  # the GPU's values were used
    assert hook.decoded == 1
    failing = gpu_decode.GpuFrameDecoder(module=FakeNv(fail=True))
    np.testing.assert_array_equal(decode_frame(ds, 0, failing).pixels, pixels)  # CPU decoded
    wrong = gpu_decode.GpuFrameDecoder(module=FakeNv(result=np.zeros((2, 2), np.uint16)))
    np.testing.assert_array_equal(decode_frame(ds, 0, wrong).pixels, pixels)
    assert failing.declined == 1 and wrong.declined == 1
    explicit = read_dataset(dicom_bytes(pixels))
    assert hook(explicit, 0, explicit.file_meta.TransferSyntaxUID) is None


def test_nvimgcodec_problem_names_the_missing_package():
    def missing():
        raise ImportError("No module named 'nvidia.nvimgcodec'")

    def broken():
        raise OSError("libcudart.so.12: cannot open shared object file")

    assert "nvimgcodec not installed" in gpu_decode.nvimgcodec_problem(missing)
    assert "libcudart" in gpu_decode.nvimgcodec_problem(broken)
    assert gpu_decode.nvimgcodec_problem(lambda: FakeNv()) is None


# --- bad input: the error names the transfer syntax ---------------------------------------------

def test_corrupt_jpeg2000_codestream_error_names_the_transfer_syntax():
    pixels = (np.arange(32 * 32).reshape(32, 32) % 4000).astype(np.uint16)
    garbage = encapsulate([b"\xff\x4f\xff\x51" + bytes(range(200))])
    ds = read_dataset(dicom_bytes(pixels, transfer_syntax=JPEG2000Lossless, encapsulated=garbage))
    with pytest.raises(ImageError) as err:
        decode_frame(ds, 0)
    assert "JPEG 2000" in str(err.value) and JPEG2000Lossless in str(err.value)


def test_cut_pixel_data_error_names_the_transfer_syntax():
    pixels = np.zeros((16, 16), np.uint16)
    data = dicom_bytes(pixels, transfer_syntax=JPEG2000Lossless,
                       encapsulated=encapsulate([b"\xff\x4f" + bytes(50)]))
    cut = data.index(b"\xe0\x7f\x10\x00")  # the Pixel Data tag
    broken = data[:cut] + b"\xe0\x7f\x10\x00OB\x00\x00\xff\xff\xff\xff\xfe\xff\x00\xe0\x10"
    with pytest.raises(ImageError) as err:
        decode_frame(read_dataset(broken), 0)
    assert "JPEG 2000" in str(err.value) and JPEG2000Lossless in str(err.value)


def test_unparsable_dataset_error_names_the_transfer_syntax_of_its_file_meta():
    data = dicom_bytes(np.zeros((8, 8), np.uint16), transfer_syntax=JPEG2000Lossless,
                       encapsulated=encapsulate([b"\xff\x4f" + bytes(20)]))
    meta_end = data.index(b"\x08\x00")  # first dataset element after the group 0002 meta
    while data[meta_end:meta_end + 2] != b"\x08\x00":
        meta_end += 1
    bad = data[:meta_end] + b"\x08\x00\x16\x00SQ\x00\x00\x00\x00\x00\x10" + b"\x01" * 8
    try:
        read_dataset(bad)
    except ImageError as exc:
        assert "corrupt DICOM (transfer syntax 1.2.840.10008.1.2.4.90" in str(exc)
    else:  # pydicom read it leniently: decoding must still name the syntax
        with pytest.raises(ImageError, match="1.2.840.10008.1.2.4.90"):
            decode_frame(read_dataset(bad), 0)


# --- the script itself on this machine ----------------------------------------------------------

def test_script_on_a_gpu_build_without_a_gpu_records_the_fallback_and_names_bad_syntax(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from mi_warehouse.udfs.providers import driver_device_count, gpu_providers_built

    from .udfs_builders import write_model

    if not gpu_providers_built() or driver_device_count() > 0:
        pytest.skip("needs onnxruntime with GPU providers and no usable GPU (the fallback case)")
    model, sha, card = write_model(tmp_path / "m")
    image = tmp_path / "a.dcm"
    image.write_bytes(dicom_bytes((np.arange(64 * 64).reshape(64, 64) % 900).astype(np.uint16)))
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    env.update(PYTHONPATH=str(Path(__file__).resolve().parents[2] / "src"),
               MIW_GPU_LOCK_DIR=str(tmp_path / "locks"))
    corrupt = tmp_path / "j2k.dcm"
    corrupt.write_bytes(dicom_bytes(np.zeros((32, 32), np.uint16), transfer_syntax=JPEG2000Lossless,
                                    encapsulated=encapsulate([b"\xff\x4f\xff\x51" + bytes(99)])))
    proc = subprocess.run([sys.executable, "-m", "mi_warehouse.udfs.onnx_infer", "--model-file",
                           str(model), "--sha256", sha, "--card", str(card), "--model-name",
                           CARD["name"], "--model-version", CARD["version"],
                           "--decode-processes", "0"],
                          input=(f"a\tfile://{image}\nb\tfile://{tmp_path}/gone.dcm\n"
                                 f"c\tfile://{corrupt}\nd\tfile://{image}\n").encode(),
                          capture_output=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr.decode()
    rows = [line.split("\t") for line in proc.stdout.decode().splitlines()]
    assert [r[6] for r in rows] == ["ok", "error", "error", "ok"]
    assert "JPEG 2000" in rows[2][7] and JPEG2000Lossless in rows[2][7]  # reason and syntax
    assert all(r[9].startswith("cpu (fallback: ") and "CUDA" in r[9] for r in rows), rows[0][9]
