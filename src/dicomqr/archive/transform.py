"""Composite Instance Retrieve Without Bulk Data: what a retrieve sends
when it sends an instance without its bulk data (pure: pydicom only).

:func:`without_bulk_data`
    PS3.4 Annex Z, Composite Instance Retrieve Without Bulk Data.  Z.1.3
    (Table Z.1-1) lists the Attributes that "shall not be included in the
    top level of the Data Set" sent: Float Pixel Data (7FE0,0008), Double
    Float Pixel Data (7FE0,0009), Pixel Data (7FE0,0010), Pixel Data
    Provider URL (0028,7FE0), Spectroscopy Data (5600,0020), Overlay Data
    (60xx,3000), Curve Data (50xx,3000), Audio Sample Data (50xx,200C) and
    Encapsulated Document (0042,0011); and Waveform Data (5400,1010) shall
    not be included within the Waveform Sequence (5400,0100).  It is the
    top level only: the note to Z.1.3 says the pixel data of Icon Image
    Sequence (0088,0200) items is preserved, and nested occurrences
    elsewhere are kept as well.  Z.4.2.3: apart from those Attributes the
    instance "shall be unchanged" (same UIDs, Number of Frames, Rows, ...).

The FRAME-level retrieve of Annex Y is :mod:`dicomqr.archive.frames`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from pydicom.dataset import Dataset

from .. import uids

__all__ = [
    "BULK_DATA_TAGS",
    "PIXEL_ENCODING_TAGS",
    "WAVEFORM_SEQUENCE",
    "copy_dataset",
    "is_bulk_data",
    "without_bulk_data",
]


# --- Annex Z ----------------------------------------------------------------------

#: PS3.4 Table Z.1-1, the fixed tags (the repeating groups are in is_bulk_data).
BULK_DATA_TAGS: frozenset[int] = frozenset({
    0x7FE00008,  # Float Pixel Data
    0x7FE00009,  # Double Float Pixel Data
    0x7FE00010,  # Pixel Data
    0x00287FE0,  # Pixel Data Provider URL
    0x56000020,  # Spectroscopy Data
    0x00420011,  # Encapsulated Document
})
# The Extended Offset Table (and its lengths) is part of the encoding of the
# encapsulated Pixel Data (PS3.5 A.4) and means nothing without it.
PIXEL_ENCODING_TAGS = frozenset({0x7FE00001, 0x7FE00002})
WAVEFORM_SEQUENCE = 0x54000100
_WAVEFORM_DATA = 0x54001010


def _repeating(tag: int, base_group: int, element: int) -> bool:
    """(base_group..base_group+1E, element) with an even group: overlays and curves."""
    group = tag >> 16
    return (tag & 0xFFFF) == element and base_group <= group <= base_group + 0x1E \
        and group % 2 == 0


def is_bulk_data(tag: int) -> bool:
    """A top-level bulk data attribute of PS3.4 Table Z.1-1 (or part of
    the encoding of Pixel Data)."""
    return (tag in BULK_DATA_TAGS or tag in PIXEL_ENCODING_TAGS
            or _repeating(tag, 0x6000, 0x3000)      # Overlay Data
            or _repeating(tag, 0x5000, 0x3000)      # Curve Data (retired)
            or _repeating(tag, 0x5000, 0x200C))     # Audio Sample Data (retired)


def copy_dataset(ds: Dataset, skip: Callable[[int], bool] = lambda tag: False) -> Dataset:
    """A deep copy of ``ds`` without the top-level elements ``skip`` names.

    Elements not read yet stay raw (their bytes are copied, not decoded), so
    what is kept encodes exactly as before.  Byte values are immutable and
    shared, not duplicated.
    """
    out = Dataset()
    for elem in ds.elements():
        if not skip(elem.tag):
            out[elem.tag] = copy.deepcopy(elem)
    implicit, little = ds.original_encoding
    out.set_original_encoding(implicit, little, ds.original_character_set)
    meta = getattr(ds, "file_meta", None)
    if meta is not None:
        out.file_meta = copy.deepcopy(meta)
    return out


def _has_encapsulated_pixels(ds: Dataset) -> bool:
    return any(elem.tag == 0x7FE00010 and elem.is_undefined_length for elem in ds.iterall())


def without_bulk_data(ds: Dataset) -> Dataset:
    """``ds`` as a Composite Instance Retrieve Without Bulk Data SCP sends it.

    Returns a new dataset; ``ds`` is not modified.  The removed attributes
    are those of the module docstring (PS3.4 Z.1.3), plus the Extended
    Offset Table of the removed Pixel Data.  Nothing else changes (Z.4.2.3),
    except the transfer syntax in the copied file meta: when the source was
    encapsulated and no encapsulated pixel data is left (an Icon Image
    Sequence may keep some), the result is Explicit VR Little Endian, which
    is what an encapsulated syntax encodes everything but pixel data in, and
    so needs no compressed presentation context to be sent.
    """
    out = copy_dataset(ds, is_bulk_data)
    waveforms = out.get(WAVEFORM_SEQUENCE)
    if waveforms is not None and waveforms.VR == "SQ":
        for item in waveforms.value:
            if _WAVEFORM_DATA in item:
                del item[_WAVEFORM_DATA]
    meta = getattr(out, "file_meta", None)
    if meta is not None and "TransferSyntaxUID" in meta:
        ts = uids.TRANSFER_SYNTAXES.get(str(meta.TransferSyntaxUID))
        if ts is not None and ts.is_encapsulated and not _has_encapsulated_pixels(out):
            meta.TransferSyntaxUID = uids.EXPLICIT_VR_LITTLE_ENDIAN
    return out


# --- Annex Y: which frames ------------------------------------------------------------

#: Purpose of Reference of the Contributing Equipment item (PS3.4 Y.3.3,
#: PS3.16 CID 7005): (code value, coding scheme designator, code meaning).
