"""GPU decoding of JPEG 2000 / HTJ2K / baseline JPEG frames through nvImageCodec, where installed.

``nvidia-nvimgcodec-cu12`` (the ``gpu`` extra) decodes those codestreams with nvJPEG2000 and
nvJPEG on the GPU. The import is guarded: :func:`nvimgcodec_problem` says why it cannot be used
(not installed, no GPU), and the script then decodes on the CPU (pydicom + pylibjpeg) and
records ``decode cpu (<reason>)`` in the provider column of a GPU run.

:class:`GpuFrameDecoder` is the ``pixels`` hook of :func:`.dicom_frame.decode_frame`: it
returns the stored pixel values of one frame, or ``None`` for anything it does not handle (other
syntaxes, colour, a codestream nvImageCodec refuses), so that pydicom decodes that frame on the
CPU and a really broken one still becomes an error row naming its transfer syntax. The decoded
frame is copied to host memory and preprocessed there (Modality LUT, window, resize), the same
code as the CPU path; moving that preprocessing onto the GPU (as an ONNX graph in front of the
model) is not done yet.
"""

from __future__ import annotations

import numpy as np

__all__ = ["GPU_SYNTAXES", "nvimgcodec_problem", "GpuFrameDecoder", "frame_bytes"]

GPU_SYNTAXES = frozenset({
    "1.2.840.10008.1.2.4.50",   # JPEG Baseline (8 bit)
    "1.2.840.10008.1.2.4.90",   # JPEG 2000 lossless
    "1.2.840.10008.1.2.4.91",   # JPEG 2000
    "1.2.840.10008.1.2.4.201",  # HTJ2K lossless
    "1.2.840.10008.1.2.4.202",  # HTJ2K lossless RPCL
    "1.2.840.10008.1.2.4.203",  # HTJ2K
})


def nvimgcodec_problem(importer=None) -> str | None:
    """Why nvImageCodec cannot decode here, or ``None``. ``importer`` (tests) returns the
    module or raises ``ImportError``."""
    try:
        module = importer() if importer is not None else _import()
    except ImportError:
        return "nvimgcodec not installed (pip install 'mi-warehouse[gpu]')"
    except Exception as exc:  # a broken install: CUDA libraries missing...
        return f"nvimgcodec does not load: {type(exc).__name__}: {' '.join(str(exc).split())[:150]}"
    if not hasattr(module, "Decoder"):
        return "nvimgcodec has no Decoder"
    return None


def _import():
    from nvidia import nvimgcodec
    return nvimgcodec


def frame_bytes(ds, frame: int) -> bytes:
    """The encapsulated codestream of frame ``frame`` of ``ds``."""
    from pydicom.encaps import get_frame

    frames = int(ds.get("NumberOfFrames", 1) or 1)
    return get_frame(ds.PixelData, frame, number_of_frames=frames)


class GpuFrameDecoder:
    """``pixels(ds, frame, uid) -> ndarray | None`` on GPU ``device_id`` (see the module
    docstring). ``decoded`` / ``declined`` count frames for the run's summary."""

    def __init__(self, device_id: int = 0, module=None):
        nv = module if module is not None else _import()
        self._decoder = nv.Decoder(device_id=device_id)
        self._params = nv.DecodeParams(allow_any_depth=True, color_spec=nv.ColorSpec.UNCHANGED)
        self.decoded = self.declined = 0

    def __call__(self, ds, frame: int, uid) -> np.ndarray | None:
        if str(uid) not in GPU_SYNTAXES or int(ds.get("SamplesPerPixel", 1) or 1) != 1:
            return None
        try:
            image = self._decoder.decode(frame_bytes(ds, frame), params=self._params)
            arr = None if image is None else np.asarray(image.cpu())
        except Exception:  # refused or failed: pydicom decodes it (or names the error)
            arr = None
        if arr is not None and arr.ndim == 3 and arr.shape[-1] == 1:
            arr = arr[..., 0]
        rows, cols = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
        if arr is None or arr.shape != (rows, cols):
            self.declined += 1
            return None
        self.decoded += 1
        if int(ds.get("PixelRepresentation", 0) or 0) == 1 and arr.dtype.kind == "u":
            arr = arr.view(arr.dtype.str.replace("u", "i"))  # two's complement as stored
        return arr
