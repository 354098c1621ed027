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
import zlib

from pydicom import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import read_dataset
from pydicom.filewriter import write_dataset

from .. import uids

__all__ = ["IdentifierCodecError", "decode_identifier", "encode_identifier"]


class IdentifierCodecError(ValueError):
    """An identifier could not be decoded or encoded."""


def _syntax(transfer_syntax: str) -> uids.TransferSyntax:
    ts = uids.TRANSFER_SYNTAXES.get(transfer_syntax)
    if ts is None:
        raise IdentifierCodecError(f"unknown transfer syntax {transfer_syntax}")
    return ts


def decode_identifier(data: bytes, transfer_syntax: str) -> Dataset:
    """Decode ``data`` (the dataset of a request or response)."""
    ts = _syntax(transfer_syntax)
    try:
        if ts.is_deflated:
            data = zlib.decompress(data, -zlib.MAX_WBITS)
        _check_framing(data, ts.is_implicit_vr, ts.is_little_endian)
        ds = read_dataset(io.BytesIO(data), ts.is_implicit_vr, ts.is_little_endian)
        # pydicom converts elements lazily; convert them all now, nested
        # ones included, so that a bad value is found here.
        for elem in ds.iterall():
            _ = elem.value
    except IdentifierCodecError:
        raise
    except Exception as exc:  # pydicom raises many kinds on malformed input
        raise IdentifierCodecError(f"{type(exc).__name__}: {exc}") from exc
    ds.set_original_encoding(ts.is_implicit_vr, ts.is_little_endian,
                             ds.get("SpecificCharacterSet"))
    return ds


# Explicit VR: these VRs have 2 reserved bytes and a 32-bit length (PS3.5 7.1.2).
_LONG_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN",
                       b"UR", b"UT", b"UV"})
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
                if vr in _LONG_VRS:
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


def encode_identifier(ds: Dataset, transfer_syntax: str) -> bytes:
    """Encode ``ds`` for sending in ``transfer_syntax``."""
    ts = _syntax(transfer_syntax)
    if ts.is_encapsulated:
        raise IdentifierCodecError(f"identifiers are not sent in {ts.name}")
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
