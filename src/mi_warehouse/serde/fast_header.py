"""A DICOM Part 10 header read once, from its bytes, into the loader's `(tag, vr, value)` elements.

`pydicom.dcmread` costs as much as everything else the loader does per file, and the loader then
walks its raw elements a second time (`raw_elements.elements`). This reader goes from bytes to
elements in one pass: file meta (group 0002, explicit VR little endian), then the data set in the
transfer syntax's encoding (implicit VR little endian, explicit VR little or big endian; every
other registered syntax but deflate is explicit VR little endian), sequences of defined and
undefined length at any depth, items as lists of elements. It stops at Pixel Data (7FE0,0010/8/9)
at the top level, as `stop_before_pixels` does. Values are decoded by `raw_elements.decode`, the
function the pydicom path uses, and VRs resolved by `raw_elements.resolve_vr`: for what it reads,
the elements are the pydicom path's.

It reads only well-formed headers of the common kinds. Anything else — a file without preamble,
deflate or a guessed transfer syntax, a command set, a data set whose VR encoding is not what its
transfer syntax says, out-of-order or repeated tags, unknown VRs, VR UN of undefined length, an
element that runs past the end of the file or its item, undefined-length values that are not
sequences, ambiguous VRs ('US or SS'), text in ISO 2022 or in a character set Python does not
know — makes `read` return None, and the caller reads the file with pydicom, which classifies
what is wrong with it exactly as before.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, BinaryIO

from pydicom.valuerep import EXPLICIT_VR_LENGTH_32, VR as _VR

from .raw_elements import DECODERS, NeedsPydicom, charset_codec, decode, resolve_vr

IMPLICIT_LE, EXPLICIT_LE, EXPLICIT_BE = "1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2"
DEFLATED = ("1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.8.1")  # pydicom inflates: left to it
PIXEL_TAGS = frozenset({0x7FE00010, 0x7FE00009, 0x7FE00008})
ITEM, ITEM_END, SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
CHARSET = 0x00080005
UNDEFINED = 0xFFFFFFFF
FIRST_READ = 1 << 13  # bytes read first (most headers fit; a bigger read costs a copy); more only when longer
_TEXT = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "SH", "TM", "UI", "UC", "PN", "LT", "ST",
                   "UT", "UR"})
_PYDICOM_VRS = frozenset({"SQ", "US or SS", "US or OW", "US or SS or OW", "OB or OW", "SS or US"})
# explicit VR bytes -> (VR, 4-byte length?)
_VRS = {str(v).encode("ascii"): (str(v), v in EXPLICIT_VR_LENGTH_32) for v in _VR}
_NOT_EMPTY_RAW = _TEXT - {"DS", "IS"}  # VRs whose empty value pydicom keeps as b"" (decoded here)


class Unsupported(Exception):
    """Not a header this reader takes: the caller reads the file with pydicom."""


class _More(Exception):
    """The header goes on past the bytes read so far."""


@dataclass
class Header:
    top: list  # (tag, vr, value) of the data set, in file order; SQ values are lists of items
    transfer_syntax: str
    sop_class: str | None  # MediaStorageSOPClassUID of the file meta
    encoding: str | None  # codec of the top-level Specific Character Set
    implicit: bool
    little: bool
    stop: int  # offset where reading stopped: the Pixel Data element, or the end of the file
    pixel_head: bytes  # up to 12 bytes of the Pixel Data element's header (b"" without one)


def read(fp: BinaryIO, size: int, private: tuple | None = None) -> Header | None:
    """The header of the Part 10 file `fp` (at its start, `size` bytes), or None: read it with pydicom.

    `private`: None to read every private attribute; else `(keep_any, keeps)` from the
    de-identifier, and the private attributes it would drop are skipped unread (creators are read
    when `keep_any`; a data element when `keeps(tag, creator value or None)`). Leaves `fp`
    wherever it read to; the caller seeks back to 0 before pydicom reads it.
    """
    want = min(size, FIRST_READ)
    buf = fp.read(want)
    while True:
        try:
            return _parse(buf, size, private)
        except _More:
            if len(buf) >= size:
                return None
            more = fp.read(min(size, len(buf) * 4) - len(buf))
            if not more:
                return None
            buf += more
        except (Unsupported, NeedsPydicom, struct.error, IndexError, ValueError, KeyError, TypeError):
            return None


def _parse(buf: bytes, size: int, private: tuple | None) -> Header:
    if len(buf) < 132 or buf[128:132] != b"DICM":
        raise Unsupported("no preamble")
    meta, pos = _meta(buf, 132, size)
    ts = meta.get(0x00020010)
    if not isinstance(ts, str):
        raise Unsupported("no transfer syntax")
    implicit, little = ts == IMPLICIT_LE, ts != EXPLICIT_BE
    if ts in DEFLATED:
        raise Unsupported("deflated")
    if pos + 6 > len(buf):
        if size - pos < 6:
            raise Unsupported("no data set")  # an empty data set: pydicom says what it is
        raise _More
    if int.from_bytes(buf[pos:pos + 2], "little" if little else "big") == 0:
        raise Unsupported("command set")
    looks_implicit = not (0x40 < buf[pos + 4] < 0x5B and 0x40 < buf[pos + 5] < 0x5B)
    if looks_implicit != implicit:
        raise Unsupported("VR encoding other than the transfer syntax says")
    reader = _Reader(buf, size, implicit, little, private)
    top, stop, enc = reader.dataset(pos, None, "latin_1", top=True)
    if not top:
        raise Unsupported("empty data set")
    head = b""
    if stop < size:  # at Pixel Data: its whole element header must be there (else pydicom says why)
        need = 8 if implicit else 12
        if size - stop < need:
            raise Unsupported("file ends in the Pixel Data element header")
        if stop + need > len(buf):
            raise _More
        head = buf[stop:stop + need]
    sop_class = meta.get(0x00020002)
    return Header(top, ts, sop_class if isinstance(sop_class, str) else None, enc, implicit, little, stop, head)


def _meta(buf: bytes, pos: int, size: int) -> tuple[dict, int]:
    """Group 0002 (explicit VR little endian), as pydicom reads it: until the first other group."""
    meta: dict[int, Any] = {}
    unpack = struct.Struct("<HH2sH").unpack_from
    n = len(buf)
    last = -1
    while True:
        if pos + 8 > n:
            raise _More if n < size else Unsupported("file ends in the file meta")
        group, elem, vrb, length = unpack(buf, pos)
        if group != 2:
            return meta, pos
        tag = group << 16 | elem
        entry = _VRS.get(vrb)
        if entry is None or tag <= last:
            raise Unsupported("file meta")
        vr, long = entry
        start = pos + 8
        if long:
            if start + 4 > n:
                raise _More
            (length,) = struct.unpack_from("<L", buf, start)
            start += 4
        if length == UNDEFINED or vr in ("SQ", "UN"):
            raise Unsupported("file meta")
        end = start + length
        if end > n:
            raise _More if n < size else Unsupported("file ends in the file meta")
        meta[tag] = decode(vr, buf[start:end], True, "latin_1")
        last, pos = tag, end


class _Reader:
    __slots__ = ("buf", "size", "implicit", "little", "private", "e", "explicit_head", "implicit_head", "u32")

    def __init__(self, buf: bytes, size: int, implicit: bool, little: bool, private: tuple | None = None):
        self.buf, self.size, self.implicit, self.little, self.private = buf, size, implicit, little, private
        self.e = e = "<" if little else ">"
        self.explicit_head = struct.Struct(e + "HH2sH").unpack_from
        self.implicit_head = struct.Struct(e + "HHL").unpack_from
        self.u32 = struct.Struct(e + "L").unpack_from

    def _need(self, end: int) -> None:
        """`end` is past the bytes read: read more, unless the file itself ends there (a cut file)."""
        if end > self.size:
            raise Unsupported("element runs past the end of the file")
        raise _More

    def dataset(self, pos: int, end: int | None, inherited: str | None, top: bool = False,
                item: bool = False) -> tuple[list, int, str | None]:
        """Elements from `pos` to `end` (None: to the item delimiter in an item, to Pixel Data or the
        end of the file at the top level): (elements, where it stopped, the data set's codec)."""
        buf, n, implicit, little = self.buf, len(self.buf), self.implicit, self.little
        explicit_head, implicit_head, u32 = self.explicit_head, self.implicit_head, self.u32
        vrs, resolve, decoders, private = _VRS, resolve_vr, DECODERS, self.private
        out: list = []
        append = out.append
        enc = inherited
        last = -1
        first = item and not implicit
        creators: dict = {}
        long = True
        limit = n if end is None else end
        while end is None or pos < end:
            if pos + 8 > n:
                if top and pos >= self.size:
                    break
                self._need(pos + 8)
            start = pos + 8
            if implicit:
                group, elem, length = implicit_head(buf, pos)
                vr = None
            else:
                group, elem, vrb, length = explicit_head(buf, pos)
                if group == 0xFFFE:
                    vr = None
                    (length,) = u32(buf, pos + 4)
                else:
                    entry = vrs.get(vrb)
                    if entry is None:
                        raise Unsupported("unknown VR")
                    vr, long = entry
                    if long:
                        if start + 4 > n:
                            self._need(start + 4)
                        (length,) = u32(buf, start)
                        start += 4
            tag = group << 16 | elem
            if tag >= 0x7FE00008:
                if group == 0xFFFE:
                    if tag == ITEM_END and item and end is None:
                        return out, start, enc
                    raise Unsupported("item tag or delimiter out of place")
                if top and tag in PIXEL_TAGS:
                    if not implicit and not long:
                        raise Unsupported("Pixel Data with a short VR")
                    return out, pos, enc
            if tag <= last:
                raise Unsupported("tags out of order or repeated")
            last = tag
            if first:
                first = False  # pydicom reads an item that looks implicit as implicit: left to it
                if not (0x40 < buf[pos + 4] < 0x5B and 0x40 < buf[pos + 5] < 0x5B):
                    raise Unsupported("implicit VR item in an explicit VR data set")
            if vr is None or vr == "UN":
                if vr is None and length == UNDEFINED:
                    vr = self._implicit_undefined(tag, start)
                else:
                    vr = resolve(tag)
                    if vr == "UN" and length == UNDEFINED:
                        raise Unsupported("UN of undefined length")
                    if vr in _PYDICOM_VRS and (not implicit or vr != "SQ"):
                        raise Unsupported("VR left to pydicom")
            creator = False
            if group & 1 and private is not None:  # de-identifying: skip what the de-identifier drops
                keep_any, keeps = private
                if keep_any and 0x10 <= elem <= 0xFF:
                    creator = True
                elif not keep_any or elem < 0x1000 or not keeps(tag, creators.get(tag & 0xFFFF0000 | elem >> 8)):
                    stop = start + length
                    if length != UNDEFINED and stop <= limit:
                        pos = stop
                    else:
                        pos = self._skip(tag, vr, start, length, end, enc)
                    continue
            if length == UNDEFINED:
                if vr != "SQ":
                    raise Unsupported("undefined length value")
                value, pos = self._sequence(start, None, enc)
                append((tag, "SQ", value))
                if creator:
                    creators[tag] = value
                continue
            stop = start + length
            if stop > limit:
                if end is not None:
                    raise Unsupported("element runs past its item")
                self._need(stop)
            if tag == CHARSET:  # before the empty-value rule: an empty set is the default repertoire
                if any(v in _TEXT or v == "SQ" for _, v, _ in out):
                    raise Unsupported("text or a sequence before the character set")
                value = decode(vr, buf[start:stop], little, "latin_1")
                enc = charset_codec(value)
                if enc is None:
                    raise Unsupported("character set left to pydicom")
            elif vr == "SQ":
                value, _ = self._sequence(start, stop, enc)
            elif length == 0 and (implicit or vr not in _NOT_EMPTY_RAW):
                # pydicom keeps no bytes for an empty value of these: it decodes it, and names the VR
                if implicit and (group & 1 or vr in _PYDICOM_VRS):
                    raise Unsupported("empty private or ambiguous element")
                value = None
            else:
                f = decoders.get(vr)
                if f is None:
                    raise Unsupported("VR left to pydicom")
                value = f(buf[start:stop], little, enc)
            append((tag, vr, value))
            if creator:
                creators[tag] = value
            pos = stop
        if end is not None and pos != end:
            raise Unsupported("data set does not end where its length says")
        return out, pos, enc

    def _skip(self, tag: int, vr: str, start: int, length: int, end: int | None, enc) -> int:
        """Past an element left out (a private attribute the de-identifier drops): where the next starts."""
        if length == UNDEFINED:
            if vr != "SQ":
                raise Unsupported("undefined length value")
            return self._sequence(start, None, enc)[1]
        stop = start + length
        if stop > len(self.buf):
            self._need(stop)
        if end is not None and stop > end:
            raise Unsupported("element runs past its item")
        return stop

    def _implicit_undefined(self, tag: int, start: int) -> str:
        """The VR of an implicit VR element of undefined length: SQ by the dictionary, or, for an
        attribute the dictionary does not know, when an item follows (as pydicom decides)."""
        vr = resolve_vr(tag)
        if vr == "SQ":
            return vr
        if vr == "UN" or (tag >> 16) & 1:
            if start + 4 > len(self.buf):
                self._need(start + 4)
            group, elem = struct.unpack_from(self.e + "HH", self.buf, start)
            if (group << 16 | elem) == ITEM and not (tag & 0xFFFF == 0):
                return "SQ"
        raise Unsupported("undefined length value")

    def _sequence(self, pos: int, end: int | None, enc: str | None) -> tuple[list, int]:
        """Items from `pos` to `end` (None: to the sequence delimiter): (items, position after)."""
        buf, n, head = self.buf, len(self.buf), self.implicit_head
        items: list = []
        while end is None or pos < end:
            if pos + 8 > n:
                self._need(pos + 8)
            group, elem, length = head(buf, pos)
            tag = group << 16 | elem
            pos += 8
            if tag == SEQ_END:
                if end is not None:
                    raise Unsupported("sequence delimiter in a sequence of defined length")
                return items, pos
            if tag != ITEM:
                raise Unsupported("not an item")
            if length == UNDEFINED:
                elems, pos, _ = self.dataset(pos, None, enc, item=True)
            else:
                if pos + length > n:
                    self._need(pos + length)
                elems, pos, _ = self.dataset(pos, pos + length, enc, item=True)
            items.append(elems)
        if pos != end:
            raise Unsupported("sequence does not end where its length says")
        return items, pos
