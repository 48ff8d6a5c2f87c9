"""Synthetic corpora in every transfer syntax: valid, lossless, decodable by the inference path."""

from __future__ import annotations

from pathlib import Path

import libjpeg
import numpy as np
import pydicom
import pytest
from click.testing import CliRunner
from pydicom import uid as uids
from pydicom.uid import ExplicitVRLittleEndian

from mi_warehouse.cli import main
from mi_warehouse.synth import encode
from mi_warehouse.synth.corpus import MAX_STORED, generate
from mi_warehouse.synth.encode import (
    SYNTAXES,
    EncoderMissing,
    UnknownTransferSyntax,
    jpeg_lossless_sv1,
)
from mi_warehouse.udfs.dicom_frame import check_decoder, decode_frame, read_dataset

SIZE, SEED, PATIENTS = 256, 5, 2
COMPRESSED = [name for name in SYNTAXES if name != "explicit"]


def _files(root: Path) -> dict[Path, Path]:
    return {p.relative_to(root): p for p in sorted(root.rglob("*.dcm"))}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The explicit corpus: relative path -> (dataset, pixel_array, inference pixels)."""
    root = tmp_path_factory.mktemp("explicit")
    generate(root, PATIENTS, seed=SEED, image_size=SIZE)
    out = {}
    for rel, path in _files(root).items():
        ds = pydicom.dcmread(path)
        out[rel] = (ds, ds.pixel_array, decode_frame(read_dataset(path.read_bytes())).pixels)
    assert out and all(ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
                       for ds, _, _ in out.values())
    return out


@pytest.mark.parametrize("name", COMPRESSED)
def test_every_syntax_is_lossless_and_decodable_by_inference(name, reference, tmp_path):
    generate(tmp_path, PATIENTS, seed=SEED, image_size=SIZE, transfer_syntax=name)
    files = _files(tmp_path)
    assert set(files) == set(reference)
    modalities = set()
    for rel, path in files.items():
        ref_ds, ref_pixels, ref_values = reference[rel]
        ds = pydicom.dcmread(path)
        assert ds.file_meta.TransferSyntaxUID == SYNTAXES[name]
        assert ds["PixelData"].is_undefined_length  # encapsulated
        for key in ("Rows", "Columns", "BitsAllocated", "BitsStored", "HighBit",
                    "PixelRepresentation", "PhotometricInterpretation", "SOPInstanceUID"):
            assert ds[key].value == ref_ds[key].value, key
        assert ds.BitsStored == 12 and ds.BitsAllocated == 16
        assert np.array_equal(ds.pixel_array, ref_pixels), rel
        frame = decode_frame(read_dataset(path.read_bytes()))   # the inference script's path
        assert np.array_equal(frame.pixels, ref_values), rel
        modalities.add(ds.Modality)
    assert {"CT", "PT"} <= modalities and modalities & {"CR", "DX"}


def test_large_chest_radiographs_are_realistic_and_round_trip(tmp_path):
    generate(tmp_path / "ref", 1, seed=2, image_size=2048)
    generate(tmp_path / "jl", 1, seed=2, image_size=2048, transfer_syntax="jpeg-lossless")
    ref, jl = _files(tmp_path / "ref"), _files(tmp_path / "jl")
    assert set(ref) == set(jl) and len(jl) >= 2
    photometrics = set()
    for rel, path in jl.items():
        ds = pydicom.dcmread(path)
        assert ds.file_meta.TransferSyntaxUID == uids.JPEGLosslessSV1
        assert (ds.Rows, ds.Columns, ds.BitsAllocated, ds.BitsStored) == (2048, 2048, 16, 12)
        pixels = ds.pixel_array
        assert np.array_equal(pixels, pydicom.dcmread(ref[rel]).pixel_array)
        assert pixels.max() <= MAX_STORED and pixels.std() > 100   # 12-bit content, not flat
        assert len(ds.PixelData) < 0.6 * 2048 * 2048 * 2           # and it compresses
        photometrics.add(ds.PhotometricInterpretation)
    assert photometrics <= {"MONOCHROME1", "MONOCHROME2"}


def test_volumes_stay_at_scanner_size(tmp_path):
    generate(tmp_path, 2, seed=SEED, image_size=600)
    sizes = {pydicom.dcmread(p, stop_before_pixels=True).Modality:
             pydicom.dcmread(p, stop_before_pixels=True).Rows for p in tmp_path.rglob("*.dcm")}
    assert sizes["CT"] == sizes["PT"] == 512
    assert {sizes[m] for m in sizes.keys() & {"CR", "DX"}} == {600}


def test_every_syntax_the_loader_may_meet_has_a_decoder():
    # Every compressed syntax pydicom 3 has a decoder class for (JPEG 2000 Part 2
    # multi-component, .92/.93, has none anywhere in pydicom's plugins).
    for uid in [*SYNTAXES.values(), uids.JPEGBaseline8Bit, uids.JPEGExtended12Bit,
                uids.JPEGLossless, uids.JPEGLosslessSV1, uids.JPEGLSLossless,
                uids.JPEGLSNearLossless, uids.JPEG2000Lossless, uids.JPEG2000,
                uids.HTJ2KLossless, uids.HTJ2KLosslessRPCL, uids.HTJ2K, uids.RLELossless,
                uids.DeflatedExplicitVRLittleEndian]:
        check_decoder(uid)  # raises ImageError naming the syntax if no plugin is installed


@pytest.mark.parametrize("precision, values", [
    (16, [0, 65535, 0, 32768, 0, 1, 65535, 32767]),   # differences of +-32768 and the wrap
    (12, list(range(0, 4096, 37))),
    (8, [255] * 30 + [0] * 10),
    (2, [0, 1, 2, 3, 3, 3, 0, 0]),
])
def test_jpeg_lossless_sv1_round_trips_through_libjpeg(precision, values):
    rng = np.random.default_rng(precision)
    img = rng.choice(np.array(values, dtype=np.uint16), size=(37, 23))
    img[5] = values[0]                      # a flat row: a run of zero differences
    stream = jpeg_lossless_sv1(img, precision)
    assert stream[:4] == b"\xff\xd8\xff\xc3" and stream[-2:] == b"\xff\xd9"
    assert np.array_equal(libjpeg.decode(stream).reshape(img.shape), img)


def test_jpeg_lossless_sv1_stuffs_ff_bytes_and_handles_a_flat_image():
    noisy = np.random.default_rng(0).integers(0, 4096, (64, 64)).astype(np.uint16)
    stream = jpeg_lossless_sv1(noisy, 12)
    scan = stream[stream.index(b"\xff\xda") + 10:-2]
    assert b"\xff\x00" in scan and all(scan[i + 1] == 0 for i in range(len(scan) - 1)
                                       if scan[i] == 0xFF)
    flat = np.full((16, 9), 2048, dtype=np.uint16)
    assert np.array_equal(libjpeg.decode(jpeg_lossless_sv1(flat, 12)).reshape(16, 9), flat)
    with pytest.raises(ValueError):
        jpeg_lossless_sv1(flat, 17)


def test_unknown_syntax_and_missing_encoder_are_named_errors(tmp_path, monkeypatch):
    with pytest.raises(UnknownTransferSyntax, match="'jpegxl'.*jpeg2000"):
        generate(tmp_path / "x", 1, transfer_syntax="jpegxl")

    class Unavailable:
        is_available = False

    monkeypatch.setattr(encode, "get_encoder", lambda uid: Unavailable())
    with pytest.raises(EncoderMissing, match=r"JPEG-LS.*pyjpegls.*mi-warehouse\[synth\]"):
        generate(tmp_path / "y", 1, transfer_syntax="jpegls")
    assert not (tmp_path / "y").exists()           # nothing written before the check
    result = CliRunner().invoke(main, ["synth", "--out", str(tmp_path / "z"), "--patients", "1",
                                       "--transfer-syntax", "jpegls"])
    assert result.exit_code == 1 and "mi-warehouse[synth]" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_cli_offers_every_syntax_and_writes_it(tmp_path):
    option = next(p for p in main.commands["synth"].params if p.name == "transfer_syntax")
    assert list(option.type.choices) == list(SYNTAXES) and option.default == "explicit"
    result = CliRunner().invoke(main, ["synth", "--out", str(tmp_path), "--patients", "1",
                                       "--image-size", "96", "--transfer-syntax", "rle"])
    assert result.exit_code == 0, result.output
    files = list(tmp_path.rglob("*.dcm"))
    assert files and all(pydicom.dcmread(p).file_meta.TransferSyntaxUID == uids.RLELossless
                         for p in files)
    assert pydicom.dcmread(files[0]).pixel_array.shape == (96, 96)
