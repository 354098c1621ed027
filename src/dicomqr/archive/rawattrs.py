"""An instance's attributes without bulk data, cut from the file's own bytes.

For the little-endian transfer syntaxes (Implicit and Explicit VR, and the
encapsulated ones, whose data set is Explicit VR Little Endian) the kept
attributes are the file's top-level elements minus the bulk ones, copied
byte for byte: nothing is decoded and encoded again, which is what made
ingest slow.  Elements are walked by their headers; an undefined length
(a sequence, or encapsulated pixel data) is skipped by walking its items
to the matching delimiter.

The result starts with one byte saying how it is encoded: ``E`` (Explicit
VR Little Endian) or ``I`` (Implicit VR Little Endian).  Float/Double Float
Pixel Data (7FE0,0008/0009) sort before Pixel Data and are dropped as bulk;
the walk stops at Pixel Data, so only a file's head needs reading.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Container
from typing import Final

from pydicom.datadict import dictionary_VR

__all__ = ["RawAttrsError", "cut_attributes"]

_TAG: Final = struct.Struct("<HH")
_U16: Final = struct.Struct("<H")
_U32: Final = struct.Struct("<I")
_UNDEFINED: Final = 0xFFFFFFFF
_ITEM: Final = 0xFFFEE000
_ITEM_END: Final = 0xFFFEE00D
_SEQ_END: Final = 0xFFFEE0DD
_LONG_VRS: Final = frozenset((b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC",
                              b"UN", b"UR", b"UT", b"UV"))
_BULK_VRS: Final = frozenset((b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"UN"))
_PIXEL_DATA: Final = 0x7FE00010


class RawAttrsError(ValueError):
    """The bytes are not a well-formed data set."""


def _header(data: bytes | memoryview, pos: int, implicit: bool) -> tuple[int, bytes, int, int]:
    """(tag, VR or b"", value length, value start) of the element at ``pos``."""
    if pos + 8 > len(data):
        raise RawAttrsError(f"element header cut short at {pos}")
    group, elem = _TAG.unpack_from(data, pos)
    tag = group << 16 | elem
    if implicit or group == 0xFFFE:
        return tag, b"", _U32.unpack_from(data, pos + 4)[0], pos + 8
    vr = bytes(data[pos + 4:pos + 6])
    if vr in _LONG_VRS:
        if pos + 12 > len(data):
            raise RawAttrsError(f"element header cut short at {pos}")
        return tag, vr, _U32.unpack_from(data, pos + 8)[0], pos + 12
    return tag, vr, _U16.unpack_from(data, pos + 6)[0], pos + 8


def _skip_undefined(data: bytes | memoryview, pos: int, implicit: bool) -> int:
    """From the value start of an undefined-length element to just past its
    Sequence Delimitation Item."""
    while True:
        tag, _, length, start = _header(data, pos, True)
        if tag == _SEQ_END:
            return start
        if tag != _ITEM:
            raise RawAttrsError(f"expected an item at {pos}, found {tag:08X}")
        if length != _UNDEFINED:
            pos = start + length
            continue
        pos = start  # an item of undefined length: its elements, then Item Delimitation
        while True:
            tag, _, length, start = _header(data, pos, implicit)
            if tag == _ITEM_END:
                pos = start
                break
            pos = _skip_undefined(data, start, implicit) if length == _UNDEFINED \
                else start + length


def _is_bulk(tag: int, vr: bytes, length: int, implicit: bool,
             bulk_tag: Callable[[int], bool], big: int) -> bool:
    if bulk_tag(tag):
        return True
    if length == _UNDEFINED or length <= big:
        return False
    if implicit:
        try:
            vr = str(dictionary_VR(tag)).encode()
        except KeyError:
            return True  # a large private/unknown value: treat it as bulk
    return vr in _BULK_VRS


def cut_attributes(data: bytes | memoryview, offset: int, implicit: bool,
                   bulk_tag: Callable[[int], bool], big: int, *,
                   wanted: Container[int] = (), found: dict[int, bytes] | None = None,
                   ) -> bytes:
    """The top-level elements of the data set at ``data[offset:]`` that are
    not bulk data, as they are in the file, behind the encoding byte.

    The walk ends at Pixel Data (what follows it is bulk data or padding),
    so ``data`` needs to hold the file only that far.  The values of the
    ``wanted`` tags are put in ``found`` (raw bytes) on the way.
    """
    view = memoryview(data)
    parts: list[bytes | memoryview] = [b"I" if implicit else b"E"]
    pos = offset
    end = len(view)
    while pos < end:
        tag, vr, length, start = _header(view, pos, implicit)
        if tag >= _PIXEL_DATA:
            break
        stop = _skip_undefined(view, start, implicit) if length == _UNDEFINED else start + length
        if stop > end:
            raise RawAttrsError(f"element {tag:08X} runs past the end")
        if tag & 0xFFFF and not _is_bulk(tag, vr, length, implicit, bulk_tag, big):
            parts.append(view[pos:stop])
            if found is not None and tag in wanted:
                found[tag] = bytes(view[start:stop])
        pos = stop
    return b"".join(parts)
