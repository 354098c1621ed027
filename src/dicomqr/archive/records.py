"""From a stored instance's header to the rows of the index.

:func:`read_header` parses a Part 10 file up to its bulk data (pydicom,
``stop_before_pixels``); :func:`record_of` turns the dataset into an
:class:`InstanceRecord`: the column values of each level
(:data:`~dicomqr.archive.schema.LEVEL_COLUMNS`) and the attributes kept
whole (``attrs``, Explicit VR Little Endian without bulk data).
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field
from typing import Any, Final

from pydicom import Dataset, dcmread
from pydicom.charset import python_encoding
from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.filebase import DicomFileLike
from pydicom.filereader import read_dataset
from pydicom.filewriter import write_dataset
from pydicom.multival import MultiValue

from .. import uids
from ..query.matching import normalize_da, normalize_tm
from ..query.values import fold_text, pn_groups
from ..services.part10 import Part10Error, read_file_meta
from .rawattrs import RawAttrsError, cut_attributes
from .schema import ENTITY_KEYS, LEVEL_COLUMNS
from .transform import WAVEFORM_SEQUENCE, is_bulk_data

__all__ = [
    "ENTITY_CLASSES",
    "InstanceRecord",
    "column_values",
    "decode_attrs",
    "encode_attrs",
    "is_bulk_tag",
    "pn_columns",
    "read_header",
    "read_stored",
    "record_of",
    "text_of",
]

#: Storage SOP classes of the single-entity models, and the model each
#: belongs to (Color Palette, Defined Procedure Protocol, Protocol Approval).
ENTITY_CLASSES: Final[dict[str, str]] = {
    "1.2.840.10008.5.1.4.39.1": "COLOR_PALETTE",
    "1.2.840.10008.5.1.4.1.1.200.1": "DEFINED_PROCEDURE_PROTOCOL",  # CT
    "1.2.840.10008.5.1.4.1.1.200.7": "DEFINED_PROCEDURE_PROTOCOL",  # XA
    "1.2.840.10008.5.1.4.1.1.200.3": "PROTOCOL_APPROVAL",
}

def is_bulk_tag(tag: int) -> bool:
    """Bulk data left out of ``attrs``, at any nesting level: that of PS3.4
    Annex Z, and the whole Waveform Sequence."""
    return is_bulk_data(tag) or tag == WAVEFORM_SEQUENCE


_BULK_VRS: Final = frozenset({"OB", "OW", "OF", "OD", "OL", "OV", "UN"})
_BIG: Final = 1024  # binary values above this many bytes are bulk


@dataclass(slots=True)
class InstanceRecord:
    """What the index keeps of one stored instance."""

    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax_uid: str
    size: int
    path: str
    #: Hierarchy levels (PATIENT ... IMAGE) -> column -> value, or for a
    #: single-entity object its model name -> column -> value.
    columns: dict[str, dict[str, Any]] = field(default_factory=dict)
    attrs: bytes = b""
    entity: str | None = None


def read_header(path: str) -> Dataset:
    """The dataset of a Part 10 file up to Pixel Data (with its file meta)."""
    return dcmread(path, stop_before_pixels=True, force=True)


_HEAD: Final = 64 << 10  # read first: enough for the attributes of most instances
_MOST: Final = 64 << 20  # files whose attributes run past this go through pydicom


def read_stored(path: str) -> tuple[Dataset | dict[str, Any], bytes]:
    """The attributes of a stored file without bulk data: what the index
    columns are made from (a Dataset, or a dict of keyword -> value) and
    the ``attrs`` kept (encoded).

    Little-endian files are cut from their own bytes up to Pixel Data
    (:func:`~dicomqr.archive.rawattrs.cut_attributes`), reading only that
    far, and the column values are decoded straight from the bytes when the
    character set is a single-byte one or UTF-8; others (big endian,
    deflated, ISO 2022 character sets, malformed files) go through pydicom.
    """
    with open(path, "rb") as f:
        data = f.read(_HEAD)
        while True:
            try:
                meta = read_file_meta(data)
                ts = uids.TRANSFER_SYNTAXES.get(meta.transfer_syntax_uid)
                if ts is None or not ts.is_little_endian or ts.is_deflated:
                    break
                found: dict[int, bytes] = {}
                attrs = cut_attributes(data, meta.dataset_offset, ts.is_implicit_vr,
                                       is_bulk_tag, _BIG, wanted=_RAW_TAGS, found=found)
            except (Part10Error, RawAttrsError, struct.error):
                if len(data) < _HEAD or len(data) >= _MOST:
                    break  # all of it read, or too much: pydicom decides
                data += f.read(len(data) * 3)  # the attributes run on: read more
                continue
            values = _raw_values(found)
            return (values if values is not None else decode_attrs(attrs)), attrs
    ds = read_header(path)
    return ds, encode_attrs(ds)


def _column_keywords() -> dict[int, str]:
    keywords = {"SpecificCharacterSet", "SOPClassUID", "SOPInstanceUID"}
    keywords |= {c.keyword for cols in LEVEL_COLUMNS.values() for c in cols
                 if c.kind not in ("multi", "count")}
    keywords |= {k for keys in ENTITY_KEYS.values() for k, _ in keys}
    out = {}
    for keyword in keywords:
        tag = tag_for_keyword(keyword)
        if tag is not None:
            out[int(tag)] = keyword
    return out


#: The attributes the index columns are made of, by tag.
_RAW_TAGS: Final = _column_keywords()


def _raw_values(found: dict[int, bytes]) -> dict[str, Any] | None:
    """The column attributes from their raw bytes (text VRs: all of them), or
    None when their character set needs pydicom (ISO 2022 code extensions,
    several character sets)."""
    charset = found.get(0x00080005, b"").decode("ascii", "replace").strip(" \x00")
    if "\\" in charset or charset.startswith("ISO 2022"):
        return None
    codec = python_encoding.get(charset or "ISO_IR 6")
    if codec is None:
        return None
    try:
        return {_RAW_TAGS[tag]: raw.decode(codec) for tag, raw in found.items()}
    except (UnicodeDecodeError, LookupError):
        return None


def text_of(value: Any) -> str:
    """A value as the text of its column (multiple values joined by ``\\``)."""
    if value is None:
        return ""
    if isinstance(value, MultiValue | list | tuple):
        return "\\".join(text_of(v) for v in value)
    if isinstance(value, bytes):
        return value.decode("ascii", "replace").strip(" \x00")
    return str(value).strip(" \x00")


def pn_columns(name: str, value: Any) -> dict[str, str]:
    """The four columns of a Person Name."""
    if isinstance(value, MultiValue | list | tuple):
        value = value[0] if value else ""
    alphabetic, ideographic, phonetic = pn_groups(str(value) if value is not None else "")
    return {
        name: alphabetic,
        name + "_i": ideographic,
        name + "_p": phonetic,
        name + "_fold": fold_text(alphabetic),
    }


def _int(value: Any) -> int | None:
    if isinstance(value, MultiValue | list | tuple):
        value = value[0] if value else None
    try:
        return None if value is None or value == "" else int(value)
    except (TypeError, ValueError):
        return None


def _normal(func: Any, value: Any) -> str:
    text = text_of(value).split("\\")[0]
    if not text:
        return ""
    try:
        return str(func(text))
    except ValueError:
        return text  # kept as received: it matches only itself


def column_values(level: str, ds: Dataset | dict[str, Any]) -> dict[str, Any]:
    """The stored columns of ``level`` (computed ones excluded) from ``ds``."""
    out: dict[str, Any] = {}
    for col in LEVEL_COLUMNS[level]:
        if col.kind in ("multi", "count"):
            continue
        value = ds.get(col.keyword)
        if col.kind == "pn":
            out.update(pn_columns(col.name, value))
        elif col.kind == "int":
            out[col.name] = _int(value)
        elif col.kind == "date":
            out[col.name] = _normal(normalize_da, value)
        elif col.kind == "time":
            out[col.name] = _normal(normalize_tm, value)
            out[col.name + "_raw"] = text_of(value)
        else:
            out[col.name] = text_of(value)
    return out


def _is_bulk(elem: DataElement) -> bool:
    if is_bulk_tag(int(elem.tag)):
        return True
    if elem.VR in _BULK_VRS:
        value = elem.value
        return isinstance(value, bytes | bytearray) and len(value) > _BIG
    return False


def _without_bulk(ds: Dataset) -> Dataset:
    out = Dataset()
    for elem in ds:
        if _is_bulk(elem):
            continue
        if elem.VR == "SQ":
            out.add(DataElement(elem.tag, "SQ", [_without_bulk(item) for item in elem.value]))
        else:
            out.add(elem)
    return out


def encode_attrs(ds: Dataset) -> bytes:
    """``ds`` without bulk data, as Explicit VR Little Endian bytes (behind
    the encoding byte ``E``)."""
    clean = _without_bulk(ds)
    buf = io.BytesIO()
    buf.write(b"E")
    fp = DicomFileLike(buf)
    fp.is_little_endian = True
    fp.is_implicit_VR = False
    write_dataset(fp, clean)
    return buf.getvalue()


def decode_attrs(data: bytes) -> Dataset:
    """The dataset of ``attrs`` (values are converted when read)."""
    implicit = data[:1] == b"I"
    return read_dataset(io.BytesIO(data[1:]), implicit, True)


def record_of(ds: Dataset | dict[str, Any], *, path: str, size: int, transfer_syntax_uid: str,
              sop_class_uid: str = "", sop_instance_uid: str = "",
              attrs: bytes | None = None) -> InstanceRecord:
    """The index record of an instance whose header is ``ds``.

    ``sop_class_uid`` / ``sop_instance_uid`` default to the dataset's own;
    the C-STORE command's values are passed by the storage SCP (they are
    what the file meta says).  ``attrs``: the encoded attributes when the
    caller has them already (:func:`read_stored`).
    """
    sop_class = sop_class_uid or text_of(ds.get("SOPClassUID"))
    sop_uid = sop_instance_uid or text_of(ds.get("SOPInstanceUID"))
    rec = InstanceRecord(sop_class, sop_uid, transfer_syntax_uid, size, path)
    if attrs is None:
        if not isinstance(ds, Dataset):
            raise TypeError("attrs are needed with a dict of values")
        attrs = encode_attrs(ds)
    rec.attrs = attrs
    entity = ENTITY_CLASSES.get(sop_class)
    if entity is not None:
        rec.entity = entity
        rec.columns[entity] = {col: _entity_value(keyword, ds)
                               for keyword, col in ENTITY_KEYS[entity]}
        return rec
    for level in LEVEL_COLUMNS:
        rec.columns[level] = column_values(level, ds)
    image = rec.columns["IMAGE"]
    image["sop_uid"], image["sop_class"] = sop_uid, sop_class
    return rec


def _entity_value(keyword: str, ds: Dataset | dict[str, Any]) -> str:
    if keyword.endswith("Date"):
        return _normal(normalize_da, ds.get(keyword))
    return text_of(ds.get(keyword))
