"""Pixel pipeline of the ONNX TRANSFORM script (also the demo's training preprocessing), on
small arrays and in-memory DICOM files."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydicom.encaps import encapsulate
from pydicom.uid import JPEG2000, RLELossless

from mi_warehouse.models.card import InputSpec, ModelCard, Normalisation, Preprocessing, Window
from mi_warehouse.udfs.dicom_frame import FrameData, decode_frame, read_dataset
from mi_warehouse.udfs.errors import ImageError
from mi_warehouse.udfs.preprocess import (
    apply_window, frame_to_tensor, invert, load_tensor, normalise, percentile_scale,
    resize_bilinear)

from .udfs_builders import dicom_bytes

RAW = Preprocessing(scaling="window")  # mean 0, std 1: tensor = scaled image


def spec(h=4, w=4, channels=1, layout="NCHW") -> InputSpec:
    return InputSpec("image", layout, channels, h, w)


def frame(pixels, window=None, mono1=False) -> FrameData:
    return FrameData(np.asarray(pixels, dtype=np.float64), window, mono1, False, 4095.0)


# --- VOI -----------------------------------------------------------------------------------------

def test_linear_window_follows_dicom_formula():
    x = np.array([0.0, 39.5, 40.0, 240.0, 440.5, 1000.0])
    y = apply_window(x, center=240.0, width=401.0)
    assert y[0] == 0.0 and y[-1] == 1.0
    assert y[3] == pytest.approx(0.5 + 0.5 / 400)  # (x - (c - 0.5)) / (w - 1) + 0.5
    assert np.all(np.diff(y) >= 0)


def test_window_functions():
    x = np.array([-100.0, 0.0, 100.0])
    assert apply_window(x, 0.0, 200.0, "LINEAR_EXACT").tolist() == [0.0, 0.5, 1.0]
    sig = apply_window(x, 0.0, 200.0, "SIGMOID")
    assert sig[1] == 0.5 and 0 < sig[0] < 0.5 < sig[2] < 1


def test_percentile_scaling_maps_percentiles_to_unit_range():
    x = np.arange(101, dtype=np.float64)
    y = percentile_scale(x, 10.0, 90.0)
    assert y[10] == 0.0 and y[90] == 1.0 and y[50] == pytest.approx(0.5)
    assert y.min() == 0.0 and y.max() == 1.0
    assert not percentile_scale(np.full((3, 3), 7.0)).any()  # flat image: zeros, no NaN


def test_card_window_beats_file_window_beats_percentile():
    pixels = np.array([[0.0, 100.0], [200.0, 400.0]])
    with_file = frame(pixels, window=(100.0, 200.0, "LINEAR_EXACT"))
    card_window = Preprocessing("window", window=Window(center=300.0, width=200.0))
    t = frame_to_tensor(with_file, spec(2, 2), card_window)[0]
    assert t.tolist() == [[0.0, 0.0], [0.0, 1.0]]  # the card's window (200..400)
    t = frame_to_tensor(with_file, spec(2, 2), RAW)[0]
    assert t.tolist() == [[0.0, 0.5], [1.0, 1.0]]  # the file's window (0..200)
    no_window = Preprocessing("window", percentile=(0.0, 100.0))
    t = frame_to_tensor(frame(pixels), spec(2, 2), no_window)[0]
    assert t.tolist() == [[0.0, 0.25], [0.5, 1.0]]  # no window anywhere: percentiles


def test_percentile_scaling_on_the_card_ignores_the_file_window():
    pixels = np.array([[0.0, 100.0], [200.0, 400.0]])
    prep = Preprocessing(scaling="percentile", percentile=(0.0, 100.0))
    t = frame_to_tensor(frame(pixels, window=(100.0, 200.0, "LINEAR")), spec(2, 2), prep)[0]
    assert t.tolist() == [[0.0, 0.25], [0.5, 1.0]]


def test_monochrome1_is_inverted_after_windowing():
    pixels = np.array([[0.0, 100.0], [200.0, 400.0]])
    prep = Preprocessing(scaling="percentile", percentile=(0.0, 100.0))
    mono2 = frame_to_tensor(frame(pixels), spec(2, 2), prep)[0]
    mono1 = frame_to_tensor(frame(pixels, mono1=True), spec(2, 2), prep)[0]
    assert np.array_equal(mono1, 1.0 - mono2)
    assert mono1[0, 0] == 1.0  # lowest stored value is the brightest in MONOCHROME1
    assert invert(np.array([0.25])).tolist() == [0.75]


# --- resize, normalise, layout -------------------------------------------------------------------

def test_resize_shapes_and_identity():
    img = np.random.default_rng(0).random((37, 50))
    assert resize_bilinear(img, 64, 64).shape == (64, 64)
    assert resize_bilinear(img, 8, 5).shape == (8, 5)
    assert resize_bilinear(np.zeros((10, 10, 3)), 4, 6).shape == (4, 6, 3)
    assert np.array_equal(resize_bilinear(img, 37, 50), img)


def test_resize_upsampling_matches_half_pixel_bilinear():
    img = np.array([[0.0, 1.0]])
    out = resize_bilinear(img, 1, 4)  # centres at 0.25, 0.75, 1.25, 1.75 in input pixels
    assert out.ravel().tolist() == pytest.approx([0.0, 0.25, 0.75, 1.0])


def test_resize_upsampling_clamps_at_the_edges_in_both_axes():
    y = resize_bilinear(np.array([[0.0, 1.0], [2.0, 3.0]]), 4, 4)
    assert np.allclose(y[0], [0.0, 0.25, 0.75, 1.0])
    assert np.allclose(y[:, 0], [0.0, 0.5, 1.5, 2.0])


def test_resize_downsampling_widens_the_triangle_by_the_scale():
    # 4 -> 2: output centre 1.0 sees inputs at 0.5, 1.5, 2.5 with weights 0.75, 0.75, 0.25
    shrunk = resize_bilinear(np.array([[0.0, 0.0, 7.0, 0.0]] * 4), 4, 2)
    assert np.allclose(shrunk[:, 0], 0.25 * 7 / 1.75) and np.allclose(shrunk[:, 1], 0.75 * 7 / 1.75)


def test_resize_downsampling_is_antialiased():
    checker = (np.indices((64, 64)).sum(axis=0) % 2).astype(np.float64)
    out = resize_bilinear(checker, 8, 8)  # plain point-sampled bilinear would alias to 0 or 1
    assert np.allclose(out, 0.5, atol=0.02)
    blocks = resize_bilinear(np.kron(np.array([[1.0, 3.0], [5.0, 7.0]]), np.ones((8, 8))), 2, 2)
    assert blocks[0, 0] < blocks[0, 1] < blocks[1, 0] < blocks[1, 1]
    assert np.abs(blocks - [[1.0, 3.0], [5.0, 7.0]]).max() < 1.0


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.integers(1, 40), st.integers(1, 40),
       st.floats(-1e3, 1e3))
def test_resize_preserves_constants_and_range(h, w, oh, ow, value):
    out = resize_bilinear(np.full((h, w), value), oh, ow)
    assert out.shape == (oh, ow)
    assert np.allclose(out, value, rtol=1e-12, atol=1e-9)


def test_normalise_and_channel_replication():
    prep = Preprocessing("window", percentile=(0.0, 100.0),
                         normalisation=Normalisation(mean=(0.5,), std=(0.25,)))
    t = frame_to_tensor(frame([[0.0, 1.0], [1.0, 0.0]]), spec(2, 2, channels=3), prep)
    assert t.shape == (3, 2, 2) and t.dtype == np.float32
    assert np.array_equal(t[0], t[2])
    assert t[0].tolist() == [[-2.0, 2.0], [2.0, -2.0]]
    nhwc = frame_to_tensor(frame([[0.0, 1.0], [1.0, 0.0]]), spec(2, 2, 3, "NHWC"), prep)
    assert nhwc.shape == (2, 2, 3) and np.array_equal(nhwc, t.transpose(1, 2, 0))
    assert normalise(np.ones((1, 1, 3)), [0.0, 0.5, 1.0], [1.0, 0.5, 2.0]).ravel().tolist() == \
        [1.0, 1.0, 0.0]


def test_tensor_shape_after_resize():
    t = frame_to_tensor(frame(np.random.default_rng(1).random((300, 200)) * 4000), spec(64, 48),
                        Preprocessing("percentile"))
    assert t.shape == (1, 64, 48) and t.dtype == np.float32


# --- DICOM decoding -------------------------------------------------------------------------------

def test_rescale_slope_and_intercept_are_applied():
    ds = read_dataset(dicom_bytes(np.array([[0, 10], [20, 30]]), slope=2.0, intercept=-1024.0))
    assert decode_frame(ds).pixels.tolist() == [[-1024.0, -1004.0], [-984.0, -964.0]]


def test_file_window_first_value_is_used():
    ds = read_dataset(dicom_bytes(np.zeros((2, 2)), window=(["40", "-600"], ["400", "1500"])))
    assert decode_frame(ds).window == (40.0, 400.0, "LINEAR")


def test_rescaled_values_are_windowed_in_modality_units(tmp_path):
    path = tmp_path / "ct.dcm"
    # stored 1024 + HU, window centre 0 HU width 2 HU (LINEAR_EXACT-like for width <= 1)
    path.write_bytes(dicom_bytes(np.array([[1014, 1024], [1034, 1024]]), slope=1.0,
                                 intercept=-1024.0, window=("0", "20")))
    from .udfs_builders import card_dict
    card = ModelCard.from_dict(card_dict(
        input={"name": "image", "layout": "NCHW", "channels": 1, "height": 2, "width": 2},
        preprocessing={"scaling": "window", "normalisation": {"mean": 0.0, "std": 1.0}}))
    t = load_tensor(f"file://{path}", 0, card)[0]
    assert t[0, 0] == 0.0 and t[1, 0] == 1.0 and t[0, 1] == pytest.approx(0.5 + 0.5 / 19)


def test_multi_frame_takes_the_requested_frame():
    stack = np.stack([np.full((3, 3), k * 100) for k in range(3)])
    ds = read_dataset(dicom_bytes(stack))
    assert decode_frame(ds, 2).pixels[0, 0] == 200.0
    assert decode_frame(ds).pixels[0, 0] == 0.0
    with pytest.raises(ImageError, match="frame 3 out of range.*3 frame"):
        decode_frame(ds, 3)


def test_monochrome1_flag_from_file():
    ds = read_dataset(dicom_bytes(np.zeros((2, 2)), photometric="MONOCHROME1"))
    assert decode_frame(ds).monochrome1


def test_compressed_without_decoder_names_the_transfer_syntax():
    # JPEG-LS, JPEG 2000 and the rest have declared decoders now; the retired JPEG Extended
    # (Process 3 & 5) syntax still has none in pydicom or any plugin.
    from pydicom.uid import UID

    uid = UID("1.2.840.10008.1.2.4.52")
    assert uid.is_compressed and uid.is_retired
    data = dicom_bytes(np.zeros((4, 4)), transfer_syntax=uid,
                       encapsulated=encapsulate([b"\xff\xd8\xff\xc1not really compressed"]))
    with pytest.raises(ImageError, match="no pixel data decoder") as err:
        decode_frame(read_dataset(data))
    assert str(uid) in str(err.value)
    assert uid.name in str(err.value)


def test_corrupt_native_decoder_payload_is_an_image_error():
    data = dicom_bytes(np.zeros((4, 4)), transfer_syntax=RLELossless,
                       encapsulated=encapsulate([b"\x00" * 10]))
    with pytest.raises(ImageError, match="RLE Lossless"):
        decode_frame(read_dataset(data))


def test_non_dicom_and_truncated_files(tmp_path):
    with pytest.raises(ImageError, match="not a DICOM file"):
        read_dataset(b"hello, I am a text file\n" * 20)
    full = dicom_bytes(np.arange(64 * 64).reshape(64, 64) % 4096)
    with pytest.raises(ImageError):
        decode_frame(read_dataset(full[: len(full) // 2]))
    with pytest.raises(ImageError, match="not found"):
        load_tensor(str(tmp_path / "nope.dcm"), 0, None)
