"""DICOM Part 10 files (PS3.10 §7.1): the preamble and the File Meta Information.

Written and read by hand, because both run per instance on the hot path of
C-STORE: the SCP writes the header before the first dataset byte arrives,
and the SCU finds where the dataset starts without decoding it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = ["LONG_LENGTH_VRS", "FileMeta", "encode_file_meta", "read_file_meta"]

PREAMBLE = b"\x00" * 128 + b"DICM"
#: Explicit VR: these VRs have 2 reserved bytes and a 32-bit length (PS3.5 7.1.2).
LONG_LENGTH_VRS = frozenset((b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV",
                             b"UC", b"UN", b"UR", b"UT", b"UV"))


class Part10Error(ValueError):
    """The file is not a readable DICOM Part 10 file."""


@dataclass(frozen=True, slots=True)
class FileMeta:
    """What a Part 10 header tells; ``dataset_offset`` is where the dataset starts."""

    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax_uid: str
    dataset_offset: int
    source_ae_title: str = ""


def _uid(value: str) -> bytes:
    raw = value.encode("ascii")
    return raw + b"\x00" if len(raw) % 2 else raw


def _text(value: str) -> bytes:
    raw = value.encode("ascii", "replace")
    return raw + b" " if len(raw) % 2 else raw


def _short(tag_elem: int, vr: bytes, value: bytes) -> bytes:
    return struct.pack("<HH2sH", 0x0002, tag_elem, vr, len(value)) + value


def encode_file_meta(
    *,
    sop_class_uid: str,
    sop_instance_uid: str,
    transfer_syntax_uid: str,
    implementation_class_uid: str,
    implementation_version_name: str = "",
    source_ae_title: str = "",
) -> bytes:
    """Preamble, ``DICM`` and the File Meta Information group (Explicit VR LE)."""
    body = [
        struct.pack("<HH2sHI", 0x0002, 0x0001, b"OB", 0, 2) + b"\x00\x01",
        _short(0x0002, b"UI", _uid(sop_class_uid)),
        _short(0x0003, b"UI", _uid(sop_instance_uid)),
        _short(0x0010, b"UI", _uid(transfer_syntax_uid)),
        _short(0x0012, b"UI", _uid(implementation_class_uid)),
    ]
    if implementation_version_name:
        body.append(_short(0x0013, b"SH", _text(implementation_version_name)))
    if source_ae_title:
        body.append(_short(0x0016, b"AE", _text(source_ae_title)))
    group = b"".join(body)
    return PREAMBLE + struct.pack("<HH2sHI", 0x0002, 0x0000, b"UL", 4, len(group)) + group


def read_file_meta(head: bytes | memoryview) -> FileMeta:
    """Parse the header at the start of a file (``head`` = its first bytes,
    at least up to the end of the meta group; 64 KiB is plenty).

    Raises :class:`Part10Error` when there is no preamble/``DICM`` or the
    group is malformed or lacks the SOP class, instance or transfer syntax.
    """
    view = memoryview(head)
    if len(view) < 132 or bytes(view[128:132]) != b"DICM":
        raise Part10Error("no DICOM preamble ('DICM' at offset 128)")
    offset = 132
    values: dict[int, bytes] = {}
    end_of_group: int | None = None
    while offset + 8 <= len(view):
        group, elem = struct.unpack_from("<HH", view, offset)
        if group != 0x0002 or (end_of_group is not None and offset >= end_of_group):
            break
        vr = bytes(view[offset + 4:offset + 6])
        if vr in LONG_LENGTH_VRS:
            if offset + 12 > len(view):
                raise Part10Error("truncated file meta element")
            (length,) = struct.unpack_from("<I", view, offset + 8)
            start = offset + 12
        else:
            (length,) = struct.unpack_from("<H", view, offset + 6)
            start = offset + 8
        if length == 0xFFFFFFFF or start + length > len(view):
            raise Part10Error("file meta element overruns the header")
        values[elem] = bytes(view[start:start + length])
        if elem == 0x0000 and length == 4:
            (glen,) = struct.unpack_from("<I", view, start)
            end_of_group = start + length + glen
        offset = start + length
    else:
        if end_of_group is None or offset < end_of_group:
            raise Part10Error("file meta information is truncated")

    def text(elem: int) -> str:
        return values.get(elem, b"").decode("ascii", "replace").rstrip("\x00 ").lstrip()

    meta = FileMeta(
        sop_class_uid=text(0x0002),
        sop_instance_uid=text(0x0003),
        transfer_syntax_uid=text(0x0010),
        dataset_offset=offset,
        source_ae_title=text(0x0016),
    )
    if not meta.transfer_syntax_uid:
        raise Part10Error("file meta information has no Transfer Syntax UID")
    return meta
