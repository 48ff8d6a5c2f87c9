"""Decode one frame of a DICOM file into modality values plus the display hints it carries.

:func:`read_dataset` parses Part 10 bytes with pydicom; :func:`decode_frame` checks that a
decoder exists for the transfer syntax (compressed syntaxes need the pylibjpeg or gdcm plugins;
without them the error names the transfer syntax UID and its name), takes frame ``N`` of a
multi-frame image, and applies the Modality LUT (RescaleSlope/Intercept, per-frame functional
groups first, or a Modality LUT Sequence). Every failure is an :class:`ImageError`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.pixels import apply_modality_lut, get_decoder, pixel_array
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from .errors import ImageError, one_line

__all__ = ["FrameData", "read_dataset", "decode_frame", "check_decoder"]

_COLOUR = ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "YBR_PARTIAL_420")
_GREY = ("MONOCHROME1", "MONOCHROME2")


@dataclass
class FrameData:
    """One decoded frame.

    ``pixels``: float64, ``(rows, cols)`` modality values for greyscale, ``(rows, cols, 3)`` RGB
    for colour. ``window``: ``(center, width, function)`` from the file, or ``None``.
    ``monochrome1``: low values are bright. ``max_value``: largest stored value (colour scaling).
    """

    pixels: np.ndarray
    window: tuple[float, float, str] | None
    monochrome1: bool
    colour: bool
    max_value: float


def read_dataset(data: bytes) -> Dataset:
    """Parse DICOM Part 10 bytes; raises :class:`ImageError` for non-DICOM or corrupt input."""
    try:
        return pydicom.dcmread(io.BytesIO(data))
    except InvalidDicomError:
        raise ImageError("not a DICOM file (no DICM prefix in the file preamble)") from None
    except Exception as exc:
        raise ImageError(f"corrupt DICOM{_syntax_of(data)}: {type(exc).__name__}: "
                         f"{one_line(exc, 200)}") from None


def _syntax_of(data: bytes) -> str:
    """`` (transfer syntax <uid> (<name>))`` from the file meta of a file whose dataset does not
    parse, or ``""`` when the meta does not parse either."""
    try:
        from pydicom.filereader import read_file_meta_info
        fh = io.BytesIO(data)
        fh.seek(128 if data[128:132] == b"DICM" else 0)
        if fh.read(4) != b"DICM":
            return ""
        uid = UID(read_file_meta_info(io.BytesIO(data)).TransferSyntaxUID)
        return f" (transfer syntax {uid} ({uid.name}))"
    except Exception:
        return ""


def transfer_syntax(ds: Dataset) -> UID:
    """The transfer syntax of ``ds`` (from its file meta, else as read)."""
    uid = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if uid:
        return UID(uid)
    little, implicit = getattr(ds, "is_little_endian", True), getattr(ds, "is_implicit_VR", False)
    return ImplicitVRLittleEndian if (little and implicit) else UID(ExplicitVRLittleEndian)


def check_decoder(uid: UID) -> None:
    """Raise :class:`ImageError` naming the transfer syntax if its pixel data cannot be decoded
    here (no decoder, or only plugins whose packages are not installed)."""
    label = f"transfer syntax {uid} ({uid.name})"
    try:
        decoder = get_decoder(uid)
    except NotImplementedError:
        raise ImageError(f"no pixel data decoder for {label}") from None
    if not decoder.is_available:
        missing = "; ".join(getattr(decoder, "missing_dependencies", []) or [])
        raise ImageError(f"cannot decode {label}: no decoder plugin installed"
                         + (f" ({missing})" if missing else ""))


def decode_frame(ds: Dataset, frame: int = 0, pixels=None) -> FrameData:
    """Frame ``frame`` (0-based) of ``ds`` as :class:`FrameData`; see the module docstring.
    ``pixels(ds, frame, uid)``, when given, may decode the stored values instead of pydicom
    (:class:`.gpu_decode.GpuFrameDecoder`); when it returns ``None`` pydicom decodes."""
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        uid = transfer_syntax(ds)
        raise ImageError(f"no Pixel Data element (transfer syntax {uid} ({uid.name}); a "
                         f"truncated file?)")
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper()
    if photometric not in _GREY + _COLOUR:
        raise ImageError(f"unsupported PhotometricInterpretation {photometric}")
    frames = _number_of_frames(ds)
    if not 0 <= frame < frames:
        raise ImageError(f"frame {frame} out of range: the image has {frames} frame(s)")
    uid = transfer_syntax(ds)
    arr = pixels(ds, frame, uid) if pixels is not None else None
    if arr is None:
        check_decoder(uid)
        try:
            arr = pixel_array(ds, index=frame)
        except Exception as exc:
            raise ImageError(f"cannot decode pixel data ({uid.name}, {uid}): "
                             f"{type(exc).__name__}: {one_line(exc, 200)}") from None
    bits = int(ds.get("BitsStored", ds.get("BitsAllocated", 8)) or 8)
    max_value = float(2 ** min(bits, 32) - 1)
    if photometric in _COLOUR:
        if arr.ndim != 3 or arr.shape[-1] != 3:
            raise ImageError(f"unexpected colour pixel array shape {arr.shape}")
        return FrameData(np.asarray(arr, dtype=np.float64), None, False, True, max_value)
    if arr.ndim != 2:
        raise ImageError(f"unexpected greyscale pixel array shape {arr.shape}")
    values = np.nan_to_num(_modality(arr, ds, frame).astype(np.float64, copy=False),
                           nan=0.0, posinf=0.0, neginf=0.0)
    return FrameData(values, _window(ds, frame), photometric == "MONOCHROME1", False, max_value)


def _number_of_frames(ds: Dataset) -> int:
    try:
        return max(1, int(ds.get("NumberOfFrames", 1) or 1))
    except (TypeError, ValueError):
        return 1


def _functional_item(ds: Dataset, frame: int, sequence: str, needs: tuple[str, ...]):
    """The item of ``sequence`` for ``frame`` in the per-frame, else shared, functional groups."""
    groups = []
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame is not None and frame < len(per_frame):
        groups.append(per_frame[frame])
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared:
        groups.append(shared[0])
    for group in groups:
        seq = group.get(sequence)
        if seq and all(k in seq[0] for k in needs):
            return seq[0]
    return None


def _modality(arr: np.ndarray, ds: Dataset, frame: int) -> np.ndarray:
    """Modality LUT: functional-group rescale for enhanced objects, else pydicom's."""
    item = _functional_item(ds, frame, "PixelValueTransformationSequence",
                            ("RescaleSlope", "RescaleIntercept"))
    try:
        if item is not None:
            return arr * float(item.RescaleSlope) + float(item.RescaleIntercept)
        return apply_modality_lut(arr, ds)
    except Exception as exc:
        raise ImageError(f"bad Modality LUT / rescale: {one_line(exc, 200)}") from None


def _first(value) -> float | None:
    """First value of a possibly multi-valued DS element, or ``None``."""
    if value is None or value == "":
        return None
    if isinstance(value, (list, tuple, MultiValue)):
        value = value[0] if len(value) else None
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _window(ds: Dataset, frame: int) -> tuple[float, float, str] | None:
    """The file's first VOI window ``(center, width, function)``, if it has a usable one."""
    source = _functional_item(ds, frame, "FrameVOILUTSequence", ("WindowCenter", "WindowWidth"))
    source = source if source is not None else ds
    center, width = _first(source.get("WindowCenter")), _first(source.get("WindowWidth"))
    if center is None or width is None or not np.isfinite([center, width]).all() or width <= 0:
        return None
    function = str(source.get("VOILUTFunction", "LINEAR") or "LINEAR").strip().upper()
    return center, width, function
