"""Pixel Data encoding for the synthetic corpus: one frame in, the Pixel Data bytes out.

``SYNTAXES`` maps each ``--transfer-syntax`` name to its UID. Explicit VR Little Endian is
native; RLE Lossless, JPEG-LS Lossless and JPEG 2000 Lossless use pydicom's encoders (with
pylibjpeg-rle, pyjpegls and pylibjpeg-openjpeg); JPEG Lossless SV1 (Process 14, first-order
prediction) has no encoder in pydicom or its plugins, so :func:`jpeg_lossless_sv1` writes it:
ITU T.81 Annex H, predictor 1, one Huffman table optimised for the image.
"""

from __future__ import annotations

import heapq

import numpy as np
from pydicom.encaps import encapsulate
from pydicom.pixels import get_encoder
from pydicom.uid import (
    UID,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    RLELossless,
)

from ..errors import MiWarehouseError

__all__ = ["SYNTAXES", "EncoderMissing", "UnknownTransferSyntax", "check_encoder",
           "encode_frame", "jpeg_lossless_sv1"]

SYNTAXES: dict[str, UID] = {
    "explicit": ExplicitVRLittleEndian,
    "jpeg2000": JPEG2000Lossless,
    "jpegls": JPEGLSLossless,
    "jpeg-lossless": JPEGLosslessSV1,
    "rle": RLELossless,
}
# What installs the encoder pydicom uses: the synth extra, or mi-warehouse's own dependencies.
_NEEDS = {JPEGLSLossless: "pyjpegls (pip install 'mi-warehouse[synth]')",
          JPEG2000Lossless: "pylibjpeg-openjpeg (pip install pylibjpeg-openjpeg)"}


class UnknownTransferSyntax(MiWarehouseError, ValueError):
    """A `--transfer-syntax` other than explicit, jpeg2000, jpegls, jpeg-lossless or rle."""


class EncoderMissing(MiWarehouseError):
    """The encoder of a transfer syntax is not installed (JPEG-LS: pip install 'mi-warehouse[synth]')."""


def syntax_uid(name: str) -> UID:
    """The UID of a ``--transfer-syntax`` name; :class:`UnknownTransferSyntax` otherwise."""
    try:
        return SYNTAXES[name]
    except KeyError:
        raise UnknownTransferSyntax(f"unknown transfer syntax {name!r}: choose one of "
                                    + ", ".join(SYNTAXES)) from None


def check_encoder(uid: UID) -> None:
    """Raise :class:`EncoderMissing` (one line, naming the extra) if ``uid`` cannot be encoded."""
    if uid in (ExplicitVRLittleEndian, JPEGLosslessSV1):
        return
    encoder = get_encoder(uid)
    if not encoder.is_available:
        raise EncoderMissing(f"cannot write {uid.name}: its encoder "
                             f"{_NEEDS.get(uid, 'plugin')} is not installed")


def encode_frame(pixels: np.ndarray, uid: UID, *, bits_stored: int, photometric: str) -> bytes:
    """Pixel Data value for one unsigned 16-bit-allocated greyscale frame in syntax ``uid``."""
    pixels = np.ascontiguousarray(pixels, dtype="<u2")
    if uid == ExplicitVRLittleEndian:
        return pixels.tobytes()
    if uid == JPEGLosslessSV1:
        return encapsulate([jpeg_lossless_sv1(pixels, bits_stored)])
    rows, cols = pixels.shape
    frame = get_encoder(uid).encode(
        pixels, rows=rows, columns=cols, samples_per_pixel=1, number_of_frames=1,
        bits_allocated=16, bits_stored=bits_stored, pixel_representation=0,
        photometric_interpretation=photometric)
    return encapsulate([frame])


# ----------------------------------------------------------------------------- JPEG Lossless SV1
def _categories(diff: np.ndarray) -> np.ndarray:
    """SSSS of each difference: the bit length of its magnitude (T.81 Table H.2)."""
    return np.frexp(np.abs(diff).astype(np.float64))[1].astype(np.uint8)


def _code_lengths(freq: dict[int, int]) -> dict[int, int]:
    """Huffman code lengths (at most 16 bits) for the symbols of ``freq``; a reserved symbol
    (-1) of the lowest weight takes the longest code, so no real code is all ones (T.81 K.2)."""
    weights = dict(freq)
    while True:
        heap = [(w, i, (s,)) for i, (s, w) in enumerate(sorted(weights.items()))]
        heap.append((0, len(heap), (-1,)))
        heapq.heapify(heap)
        depth = {s: 0 for s in weights} | {-1: 0}
        tie = len(heap)
        while len(heap) > 1:
            w1, _, a = heapq.heappop(heap)
            w2, _, b = heapq.heappop(heap)
            for s in a + b:
                depth[s] += 1
            heapq.heappush(heap, (w1 + w2, tie, a + b))
            tie += 1
        if max(depth.values()) <= 16:
            return depth
        weights = {s: (w + 1) // 2 for s, w in weights.items()}  # flatten and retry


def _canonical(depth: dict[int, int]) -> tuple[list[int], list[int], dict[int, tuple[int, int]]]:
    """BITS (counts per length), HUFFVAL and symbol -> (code, length), reserved symbol last."""
    order = sorted(depth, key=lambda s: (depth[s], s == -1, s))
    codes: dict[int, tuple[int, int]] = {}
    code, length = 0, depth[order[0]]
    for s in order:
        code <<= depth[s] - length
        length = depth[s]
        codes[s] = (code, length)
        code += 1
    real = [s for s in order if s != -1]
    bits = [sum(1 for s in real if depth[s] == n) for n in range(1, 17)]
    return bits, real, codes


def _pack(values: np.ndarray, lengths: np.ndarray, carry: tuple[int, int]) -> tuple[bytes, tuple[int, int]]:
    """MSB-first bit strings ``values`` (at most 32 bits each) of ``lengths`` bits, after the
    ``carry`` = (value, bit count < 8) left from the previous call; returns the whole bytes
    and the new carry. Each string spans at most 5 bytes and strings never share a bit, so
    the bytes are the sums of each string's 5 shifted byte slices."""
    head, used = carry
    ends = used + np.cumsum(lengths)
    starts = ends - lengths
    nbytes = int(ends[-1] + 7) // 8 if len(ends) else 1
    first = (starts >> 3).astype(np.int64)
    window = values << (40 - (starts & 7) - lengths).astype(np.uint64)
    out = np.zeros(nbytes + 5, dtype=np.float64)
    for k in range(5):
        part = ((window >> np.uint64(32 - 8 * k)) & np.uint64(255)).astype(np.float64)
        out += np.bincount(first + k, weights=part, minlength=nbytes + 5)
    out[0] += head << (8 - used) if used else 0
    data = out[:nbytes].astype(np.uint8)
    total = int(ends[-1]) if len(ends) else used
    whole = total // 8
    return data[:whole].tobytes(), ((int(data[whole]) >> (8 - total % 8)) if total % 8 else 0, total % 8)


def _segment(marker: int, body: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(body) + 2).to_bytes(2, "big") + body


def jpeg_lossless_sv1(pixels: np.ndarray, precision: int) -> bytes:
    """A JPEG Lossless (Process 14, selection value 1, no point transform) codestream of a
    2-D unsigned image whose values fit in ``precision`` (2-16) bits."""
    if pixels.ndim != 2 or not 2 <= precision <= 16:
        raise ValueError("jpeg_lossless_sv1 takes a 2-D image and a precision of 2-16 bits")
    x = pixels.astype(np.int32)
    rows, cols = x.shape
    pred = np.empty_like(x)
    pred[:, 1:] = x[:, :-1]          # Ra, the sample to the left
    pred[1:, 0] = x[:-1, 0]          # first column: Rb, the sample above
    pred[0, 0] = 1 << (precision - 1)
    diff = x - pred
    diff = ((diff + 32768) % 65536) - 32768   # modulo 2^16 ...
    diff[diff == -32768] = 32768              # ... in the range -32767..32768 (H.1.2.1)
    ssss = _categories(diff)
    counts = np.bincount(ssss.ravel(), minlength=17)
    bits, huffval, codes = _canonical(_code_lengths({s: int(c) for s, c in enumerate(counts) if c}))
    code_of = np.zeros(17, dtype=np.uint64)
    len_of = np.zeros(17, dtype=np.int64)
    for s in huffval:
        code_of[s], len_of[s] = codes[s]
    extra_len = np.where(ssss == 16, 0, ssss).astype(np.int64)      # SSSS 16: no extra bits
    extra = np.where(diff < 0, diff - 1, diff).astype(np.int64) & ((1 << extra_len) - 1)
    words = (code_of[ssss] << extra_len.astype(np.uint64)) | extra.astype(np.uint64)
    lengths = len_of[ssss] + extra_len
    out = bytearray(b"\xff\xd8")
    out += _segment(0xC3, bytes([precision]) + rows.to_bytes(2, "big") + cols.to_bytes(2, "big")
                    + bytes([1, 1, 0x11, 0]))
    out += _segment(0xC4, bytes([0x00]) + bytes(bits) + bytes(huffval))
    out += _segment(0xDA, bytes([1, 1, 0x00, 1, 0, 0]))   # Ns, Cs/Td:Ta, Ss=predictor 1, Se, Ah:Al
    scan = bytearray()
    carry = (0, 0)
    step = max(1, (1 << 20) // max(cols, 1))                   # about a million samples a chunk
    for r in range(0, rows, step):
        chunk, carry = _pack(words[r:r + step].ravel(), lengths[r:r + step].ravel(), carry)
        scan += chunk
    head, used = carry
    if used:   # pad the last byte with 1-bits (F.1.2.3)
        scan.append((head << (8 - used)) | ((1 << (8 - used)) - 1))
    out += scan.replace(b"\xff", b"\xff\x00")   # byte stuffing (F.1.2.3)
    out += b"\xff\xd9"
    return bytes(out)
