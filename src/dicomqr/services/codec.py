"""Identifiers on the wire: dataset bytes <-> pydicom ``Dataset``.

C-FIND, C-GET and C-MOVE identifiers are small datasets encoded in the
presentation context's transfer syntax (any uncompressed one, or Deflated
Explicit VR Little Endian, PS3.5 A.5).  pydicom is the codec; this module
only picks its byte order and VR mode and forces every element to be
decoded up front, so that a malformed identifier fails here (and becomes
0xC310/0xC410/0xC510) rather than deep inside a handler.
"""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

from pydicom import Dataset
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import read_dataset
from pydicom.filewriter import write_dataset
from pydicom.multival import MultiValue
from pydicom.tag import BaseTag
from pydicom.valuerep import PersonName

from .. import uids
from .part10 import LONG_LENGTH_VRS

__all__ = ["IdentifierCodecError", "decode_identifier", "encode_elements", "encode_identifier",
           "in_byte_order"]


class IdentifierCodecError(ValueError):
    """An identifier could not be decoded or encoded."""


def _syntax(transfer_syntax: str) -> uids.TransferSyntax:
    ts = uids.TRANSFER_SYNTAXES.get(transfer_syntax)
    if ts is None:
        raise IdentifierCodecError(f"unknown transfer syntax {transfer_syntax}")
    return ts


def decode_identifier(data: bytes, transfer_syntax: str, *, strict: bool = True) -> Dataset:
    """Decode ``data`` (the dataset of a request or response).

    The element framing is always checked.  ``strict`` also converts every
    value now, so that a request's bad value fails here (and is answered
    with 0xC310/0xC410/0xC510); an SCU reading responses passes False and
    pays for converting only the elements it reads (pydicom raises then).
    """
    ts = _syntax(transfer_syntax)
    if not strict and ts.is_little_endian and not ts.is_deflated:
        fast = _fast_decode(data, ts.is_implicit_vr)
        if fast is not None:
            return fast
    try:
        if ts.is_deflated:
            data = zlib.decompress(data, -zlib.MAX_WBITS)
        _check_framing(data, ts.is_implicit_vr, ts.is_little_endian)
        ds = read_dataset(io.BytesIO(data), ts.is_implicit_vr, ts.is_little_endian)
        # pydicom converts elements lazily; convert them all now, nested
        # ones included, so that a bad value is found here.
        # Converted later, pydicom would read text with the default character
        # set: with a Specific Character Set, convert it all now.
        if strict or 0x00080005 in ds:
            for elem in ds.iterall():
                _ = elem.value
    except IdentifierCodecError:
        raise
    except Exception as exc:  # pydicom raises many kinds on malformed input
        raise IdentifierCodecError(f"{type(exc).__name__}: {exc}") from exc
    ds.set_original_encoding(ts.is_implicit_vr, ts.is_little_endian,
                             ds.get("SpecificCharacterSet"))
    return ds


_SHORT_HEADER = struct.Struct("<HH2sH")
_IMPLICIT_HEADER = struct.Struct("<HHI")


def _fast_decode(data: bytes, implicit: bool) -> Dataset | None:
    """A flat little-endian dataset (what C-FIND matches are) as pydicom's
    raw elements, in one pass; None for anything else (sequences, long or
    undefined lengths, a character set, framing errors), which the general
    path then reads.  Values are converted by pydicom when first read."""
    elements: dict[BaseTag, DataElement | RawDataElement] = {}
    view = memoryview(data)
    end = len(view)
    pos = 0
    while pos < end:
        if end - pos < 8:
            return None
        if implicit:
            group, number, length = _IMPLICIT_HEADER.unpack_from(view, pos)
            vr = None
        else:
            group, number, raw_vr, length = _SHORT_HEADER.unpack_from(view, pos)
            if raw_vr in LONG_LENGTH_VRS:
                return None
            vr = raw_vr.decode("ascii", "replace")
        pos += 8
        if length == _UNDEFINED or length > end - pos or group == 0xFFFE:
            return None
        tag = BaseTag((group << 16) | number)
        if tag == 0x00080005 or (implicit and _dictionary_vr(tag) in _IMPLICIT_NESTED):
            return None
        elements[tag] = RawDataElement(tag, vr, length, bytes(view[pos:pos + length]), pos,
                                       implicit, True, True, False)
        pos += length
    ds = Dataset(elements)
    ds.set_original_encoding(implicit, True, None)
    return ds


_UNDEFINED = 0xFFFFFFFF
_ITEM, _ITEM_END, _SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD


def _check_framing(data: bytes, implicit: bool, little: bool) -> None:
    """Walk the element framing (tags and lengths) of a whole dataset.

    pydicom stops quietly at a truncated element; a request identifier cut
    short or with a length running past its end must fail instead.
    """
    view = memoryview(data)

    def u16(pos: int) -> int:
        return int.from_bytes(view[pos:pos + 2], "little" if little else "big")

    def u32(pos: int) -> int:
        return int.from_bytes(view[pos:pos + 4], "little" if little else "big")

    def walk(pos: int, end: int, until: int | None) -> int:
        while pos < end:
            if end - pos < 8:
                raise IdentifierCodecError(f"{end - pos} stray bytes at offset {pos}")
            tag = (u16(pos) << 16) | u16(pos + 2)
            if tag in (_ITEM_END, _SEQ_END):
                if tag != until:
                    raise IdentifierCodecError(f"unexpected delimiter at offset {pos}")
                return pos + 8
            if implicit or tag >> 16 == 0xFFFE:
                length, head, is_sq = u32(pos + 4), 8, None
            else:
                vr = bytes(view[pos + 4:pos + 6])
                if not vr.isalpha():
                    raise IdentifierCodecError(f"no VR at offset {pos}")
                if vr in LONG_LENGTH_VRS:
                    if end - pos < 12:
                        raise IdentifierCodecError(f"element at offset {pos} cut short")
                    length, head = u32(pos + 8), 12
                else:
                    length, head = u16(pos + 6), 8
                is_sq = vr == b"SQ"
            pos += head
            if length == _UNDEFINED:
                # A sequence (or item) of undefined length: walk its contents.
                inner = _SEQ_END if tag != _ITEM else _ITEM_END
                if tag == _ITEM or is_sq is not False:
                    pos = walk(pos, end, inner)
                    continue
                raise IdentifierCodecError(f"undefined length at offset {pos - head}")
            if length > end - pos:
                raise IdentifierCodecError(
                    f"element ({tag >> 16:04X},{tag & 0xFFFF:04X}) runs past the end")
            pos += length
        if until is not None:
            raise IdentifierCodecError("sequence or item without its delimiter")
        return pos

    walk(0, len(view), None)


_IMPLICIT_NESTED = frozenset({"SQ", None})


def _dictionary_vr(tag: int) -> str | None:
    """The VR the data dictionary gives ``tag``; None when it has none."""
    try:
        return str(dictionary_VR(tag))
    except KeyError:
        return None


_TEXT_VRS = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST",
                       "TM", "UC", "UI", "UR", "UT"})
_NUMBER_FORMATS = {"US": "H", "SS": "h", "UL": "I", "SL": "i", "FL": "f", "FD": "d"}
_HEADER_SHORT = struct.Struct("<HH2sH")
_HEADER_LONG = struct.Struct("<HH2s2xI")
_HEADER_IMPLICIT = struct.Struct("<HHI")


class _NotSimple(Exception):
    pass


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, PersonName):
        return str(value)
    original = getattr(value, "original_string", None)
    if isinstance(original, str):
        return original
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise _NotSimple


def _value_bytes(vr: str, value: Any) -> bytes:
    if vr in _TEXT_VRS:
        if isinstance(value, MultiValue | list | tuple):
            text = "\\".join(_text(v) for v in value)
        else:
            text = _text(value)
        data = text.encode("ascii")  # UnicodeEncodeError: not simple
        if len(data) % 2:
            data += b"\0" if vr == "UI" else b" "
        return data
    fmt = _NUMBER_FORMATS.get(vr)
    if fmt is not None:
        if value is None or value == "":
            return b""
        values = list(value) if isinstance(value, MultiValue | list | tuple) else [value]
        return struct.pack(f"<{len(values)}{fmt}", *values)
    raise _NotSimple


def _fast_encode(ds: Dataset, implicit: bool) -> bytes:
    """Little-endian encoding of a dataset of plain text and number elements
    (what C-FIND matches are), several times faster than pydicom's writer;
    anything else (sequences, binary values, non-ASCII text, values pydicom
    keeps raw) raises :class:`_NotSimple` and pydicom writes it instead."""
    parts: list[bytes] = []
    elements = ds._dict  # private, but get_item() costs ~1 us per element
    for tag in sorted(elements, key=int):
        elem = elements[tag]
        if type(elem) is not DataElement:
            raise _NotSimple
        vr = elem.VR
        _append_element(parts, tag, vr, _value_bytes(vr, elem._value), implicit)
    return b"".join(parts)


def _append_element(parts: list[bytes], tag: int, vr: str, data: bytes, implicit: bool) -> None:
    """Header and value of one element, little endian (``_NotSimple`` when a
    short-length VR's value is too long)."""
    group, number = tag >> 16, tag & 0xFFFF
    if implicit:
        parts.append(_HEADER_IMPLICIT.pack(group, number, len(data)))
    elif vr in ("UC", "UR", "UT"):
        parts.append(_HEADER_LONG.pack(group, number, vr.encode(), len(data)))
    else:
        if len(data) > 0xFFFF:
            raise _NotSimple
        parts.append(_HEADER_SHORT.pack(group, number, vr.encode(), len(data)))
    parts.append(data)


# Binary VRs whose values are words pydicom keeps as raw bytes in the
# dataset's own byte order, and does not swap when writing in the other one.
_WORD_SIZES = {"OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}


def _swapped(data: bytes, width: int) -> bytes:
    if len(data) % width:
        raise IdentifierCodecError(
            f"a value of {len(data)} bytes is not made of {width}-byte words")
    view = memoryview(data)
    out = bytearray(len(data))
    for i in range(width):
        out[i::width] = view[width - 1 - i::width]
    return bytes(out)


def in_byte_order(ds: Dataset, little_endian: bool) -> Dataset:
    """``ds`` ready to be written in ``little_endian`` byte order.

    pydicom converts numbers and text when it writes a dataset in the other
    byte order, but leaves OW/OF/OL/OD/OV values (Pixel Data, LUT data) as
    they are, which would corrupt them.  This returns ``ds`` itself when
    nothing needs swapping, else a copy with those values swapped (nested
    sequences included).  A dataset built in memory counts as little endian.
    """
    original = ds.original_encoding[1] if ds.original_encoding[1] is not None else True
    if original == little_endian:
        return ds
    return _swap_copy(ds)


def _swap_copy(ds: Dataset) -> Dataset:
    out = Dataset()
    for elem in ds:
        width = _WORD_SIZES.get(elem.VR)
        if width and isinstance(elem.value, bytes | bytearray) and elem.value:
            out.add(DataElement(elem.tag, elem.VR, _swapped(bytes(elem.value), width)))
        elif elem.VR == "SQ" and elem.value:
            out.add(DataElement(elem.tag, "SQ", [_swap_copy(item) for item in elem.value]))
        else:
            out.add(elem)
    return out


def _non_ascii(ds: Dataset) -> bool:
    for elem in ds.iterall():
        value = elem.value
        if isinstance(value, str) and not value.isascii():
            return True
        if isinstance(value, PersonName) and not str(value).isascii():
            return True
        if isinstance(value, MultiValue) and any(
                isinstance(v, str) and not v.isascii() for v in value):
            return True
    return False


def encode_elements(elements: list[tuple[int, str, Any]], transfer_syntax: str) -> bytes:
    """Encode an identifier given as ``(tag, VR, value)`` triples (text, a
    number, a list of them, or None for zero length), without building a
    pydicom Dataset: what an SCP answering from database rows needs.

    Text beyond ASCII is sent in UTF-8 with Specific Character Set
    ISO_IR 192 added.  Other transfer syntaxes than little-endian
    uncompressed, and values the fast encoder does not take, go through
    :func:`encode_identifier`.
    """
    ts = _syntax(transfer_syntax)
    if ts.is_little_endian and not ts.is_deflated and not ts.is_encapsulated:
        try:
            return _encode_triples(elements, ts.is_implicit_vr)
        except (_NotSimple, struct.error, TypeError):
            pass
    ds = Dataset()
    for tag, vr, value in elements:
        ds.add_new(tag, vr, value)
    return encode_identifier(ds, transfer_syntax)


def _encode_triples(elements: list[tuple[int, str, Any]], implicit: bool) -> bytes:
    values: list[tuple[int, str, bytes]] = []
    utf8 = False
    for tag, vr, value in elements:
        try:
            data = _value_bytes(vr, value)
        except UnicodeEncodeError:
            utf8 = True
            data = _value_bytes_utf8(vr, value)
        values.append((tag, vr, data))
    if utf8:
        values.append((0x00080005, "CS", b"ISO_IR 192"))
    values.sort(key=lambda t: t[0])
    parts: list[bytes] = []
    for tag, vr, data in values:
        _append_element(parts, tag, vr, data, implicit)
    return b"".join(parts)


def _value_bytes_utf8(vr: str, value: Any) -> bytes:
    if vr not in _TEXT_VRS:
        raise _NotSimple
    if isinstance(value, MultiValue | list | tuple):
        text = "\\".join(_text(v) for v in value)
    else:
        text = _text(value)
    data = text.encode("utf-8")
    if len(data) % 2:
        data += b" "
    return data


def encode_identifier(ds: Dataset, transfer_syntax: str) -> bytes:
    """Encode ``ds`` for sending in ``transfer_syntax``.

    Text beyond ASCII with no Specific Character Set is sent in UTF-8 with
    Specific Character Set ISO_IR 192 added (PS3.4 C.4.1.1.3.2: it shall be
    present when other than the default repertoire is used).
    """
    ts = _syntax(transfer_syntax)
    if ts.is_encapsulated:
        raise IdentifierCodecError(f"identifiers are not sent in {ts.name}")
    if ts.is_little_endian and not ts.is_deflated and "SpecificCharacterSet" not in ds:
        try:
            return _fast_encode(ds, ts.is_implicit_vr)
        except (_NotSimple, UnicodeEncodeError, struct.error, AttributeError, TypeError):
            pass
    if "SpecificCharacterSet" not in ds and _non_ascii(ds):
        copy = Dataset()
        copy.SpecificCharacterSet = "ISO_IR 192"
        for elem in ds:
            copy.add(elem)
        ds = copy
    ds = in_byte_order(ds, ts.is_little_endian)
    fp = DicomBytesIO()
    fp.is_little_endian = ts.is_little_endian
    fp.is_implicit_VR = ts.is_implicit_vr
    try:
        write_dataset(fp, ds)
    except Exception as exc:  # a value pydicom cannot write
        raise IdentifierCodecError(f"{type(exc).__name__}: {exc}") from exc
    data = fp.getvalue()
    if ts.is_deflated:
        compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -zlib.MAX_WBITS)
        data = compressor.compress(data) + compressor.flush()
        if len(data) % 2:
            data += b"\x00"
    return data
