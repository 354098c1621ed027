"""Composite Instance Root Retrieve at the FRAME level: the new instance
made of the frames asked for (pure: pydicom and numpy).

:func:`extract_frames`
    PS3.4 Annex Y, Composite Instance Root Retrieve at the FRAME level: the
    frame list rules of Y.3.2 and the new instance of Y.3.3, with the Frame
    Extraction Module of PS3.3 C.12.3 and a Contributing Equipment Sequence
    (0018,A001) item whose Purpose of Reference is (109105, DCM, "Frame
    Extracting Equipment") (CID 7005).  Failures raise
    :class:`FrameExtractionError` carrying the Annex Y status (AA00-AA04).

Frames, as dicomqr reads Y.3.2:

* Exactly one of Simple Frame List, Calculated Frame List and Time Range
  (Y.6.1.1.3, Table Y.6-2); anything else is 0xAA04 (invalid request), as
  is a list that breaks the rules of Y.3.2.1.1/Y.3.2.1.2 (frame number 0,
  duplicates, not increasing, a triple whose end precedes its start or whose
  increment is 0, overlapping triples) or a range whose start is after its
  end.
* A Calculated Frame List end of FFFFFFFFH, or any end past the last frame,
  means "to the last frame"; a triple starting past the last frame is
  ignored (Y.3.2.1.2).  Frames of a Simple Frame List past the last frame
  are ignored in the same way: the result holds the requested frames that
  exist, and only when none exists is it 0xAA00 (none of the frames
  requested were found).
* Time Range (Y.3.2.1.3) is in seconds relative to Content Time (0008,0033)
  and includes the frames at both ends.  The frame times come from, in this
  order: the Frame Increment Pointer's Frame Time Vector (0018,1065) or
  Frame Time (0018,1063) (PS3.3 C.7.6.5.1: frame n is at Frame Time x
  (n - 1), or at the sum of the vector's first n increments, plus Frame
  Delay (0018,1066), the time from Content Time to the first frame, which
  dicomqr adds in both cases), either of those when present without the
  pointer, else the Frame Reference DateTime (0018,9151) (or Frame Acquisition
  DateTime (0018,9074)) of each Per-Frame Functional Groups item's Frame
  Content Sequence, against Content Date and Content Time.  An instance
  with none of those is 0xAA03 (time-based request for a non-time-based
  instance).
* An instance without Number of Frames (not a multi-frame image) is 0xAA01
  (unable to create a new object for this SOP class); pixel data that
  cannot be cut into its frames (no pixel data, a video transfer syntax
  whose frames are not fragments of their own, a truncated value, an
  encapsulated value whose frames cannot be found) is 0xAA02.

The new instance (Y.3.3): same SOP class, Study and Series; a new SOP
Instance UID; the chosen frames in their original order, encapsulated
frames copied fragment by fragment without decoding (one fragment per frame,
with a Basic Offset Table; an Extended Offset Table is dropped) and native
frames cut from the bytes (bit by bit for Bits Allocated 1); Number of
Frames; the Per-Frame Functional Groups Sequence items of the chosen frames;
and, to keep it "internally consistent and valid":

* Frame Time becomes the time between chosen frames when they are evenly
  spaced, else (when the Frame Increment Pointer points to it) a Frame Time
  Vector that replaces it in the pointer; a Frame Time Vector is recomputed;
  Frame Delay moves to the first chosen frame's time;
* per-frame vectors (every attribute the Frame Increment Pointer names, and
  the known ones: Frame Label/Primary Angle/Secondary Angle/Slice
  Location/Display Window Label Vectors, the NM vectors) keep the values of
  the chosen frames; Grid Frame Offset Vector (3004,000C) also moves Image
  Position (Patient) to the first chosen frame;
* frame numbers that point into the instance itself are renumbered, and
  dropped when their frame is gone: Representative Frame Number, Frame
  Numbers of Interest (with their descriptions and types), Start Trim and
  Stop Trim, and Mask Subtraction Sequence items (an item whose mask frames
  are not all kept is dropped);
* the Concatenation attributes are removed (the new instance is no part of
  the source's concatenation);
* private attributes are dropped unless ``keep_private`` (Y.3.3 note: "in
  most cases private attributes should not be copied unless their full
  significance is known").

The transfer syntax stays the source's (file meta copied, with the new
Media Storage SOP Instance UID); sending it where that syntax is not
accepted is the C-STORE sub-operation's business (it decompresses).
"""


from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Sequence
from contextlib import suppress
from itertools import pairwise
from typing import Any

import numpy as np
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate, generate_frames
from pydicom.uid import MPEGTransferSyntaxes, generate_uid
from pydicom.valuerep import DA, DT, TM, format_number_as_ds

from .. import status as _status
from .. import uids
from ..errors import DicomqrError
from .transform import PIXEL_ENCODING_TAGS, copy_dataset

__all__ = [
    "FRAME_EXTRACTING_EQUIPMENT",
    "FrameExtractionError",
    "extract_frames",
    "select_frames",
]


FRAME_EXTRACTING_EQUIPMENT = ("109105", "DCM", "Frame Extracting Equipment")

_LAST_FRAME = 0xFFFFFFFF
_TIME_TOLERANCE = 1e-6  # seconds: frame times come from decimal strings


class FrameExtractionError(DicomqrError):
    """A frame-level retrieve cannot be served; ``status`` is the PS3.4
    Annex Y code to answer with (0xAA00-0xAA04), ``comment`` the reason,
    short enough for an Error Comment (the message has it whole)."""

    def __init__(self, status: int, comment: str) -> None:
        super().__init__(f"0x{status:04X}: {comment}")
        self.status = status
        # Error Comment (0000,0902) is an LO: at most 64 characters.
        self.comment = comment if len(comment) <= 64 else comment[:61] + "..."


def _invalid(comment: str) -> FrameExtractionError:
    return FrameExtractionError(_status.INVALID_REQUEST, comment)


def _frame_count(ds: Dataset) -> int:
    try:
        count = int(ds.get("NumberOfFrames") or 0)
    except (TypeError, ValueError):
        count = 0
    if count < 1:
        raise FrameExtractionError(
            _status.UNABLE_TO_CREATE_NEW_OBJECT,
            "the instance is not a multi-frame image (no Number of Frames)")
    return count


def _uints(values: Sequence[int], name: str) -> list[int]:
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= _LAST_FRAME:
            raise _invalid(f"{name}: {v!r} is not a UL value")
        out.append(v)
    if not out:
        raise _invalid(f"{name} is empty")
    return out


def _from_simple(values: Sequence[int], count: int) -> list[int]:
    frames = _uints(values, "Simple Frame List")
    if frames[0] < 1 or any(b <= a for a, b in pairwise(frames)):
        raise _invalid("Simple Frame List: frame numbers must start at 1 and increase")
    return [f for f in frames if f <= count]


def _from_calculated(values: Sequence[int], count: int) -> list[int]:
    numbers = _uints(values, "Calculated Frame List")
    if len(numbers) % 3:
        raise _invalid("Calculated Frame List: not a list of 3-tuples")
    frames: list[int] = []
    previous_end = 0
    for i in range(0, len(numbers), 3):
        first, last, step = numbers[i:i + 3]
        if first < 1 or last < first or step < 1:
            raise _invalid(f"Calculated Frame List: invalid triple {first}\\{last}\\{step}")
        if first <= previous_end:
            raise _invalid("Calculated Frame List: sub-ranges overlap or do not increase")
        previous_end = first + (last - first) // step * step
        if first > count:
            continue  # Y.3.2.1.2: a sub-range starting past the end is ignored
        frames.extend(range(first, min(last, count) + 1, step))
    return frames


def _seconds_from_ms(values: Iterable[float]) -> list[float]:
    return [v / 1000.0 for v in values]


def _values(value: Any) -> list[Any]:
    """An element value as a list: [] for none, [v] for one, the values of a
    multi-valued one."""
    if value is None or value == "":
        return []
    if isinstance(value, str | bytes) or not hasattr(value, "__iter__"):
        return [value]
    return list(value)


def _floats(value: Any) -> list[float] | None:
    items = _values(value)
    if not items:
        return None
    try:
        return [float(v) for v in items]
    except (TypeError, ValueError):
        return None


def _pointer_tags(ds: Dataset) -> list[int]:
    return [int(tag) for tag in _values(ds.get("FrameIncrementPointer"))]


_FRAME_TIME = 0x00181063
_FRAME_TIME_VECTOR = 0x00181065


def _cine_times(ds: Dataset, count: int) -> tuple[str, list[float]] | None:
    """('vector' | 'time', relative times in ms) from the Cine Module."""
    delay = (_floats(ds.get("FrameDelay")) or [0.0])[0]
    vector = _floats(ds.get("FrameTimeVector"))
    frame_time = _floats(ds.get("FrameTime"))

    def by_vector() -> tuple[str, list[float]] | None:
        if vector is None or len(vector) != count:
            return None
        times, total = [], delay
        for increment in vector:
            total += increment
            times.append(total)
        return "vector", times

    def by_time() -> tuple[str, list[float]] | None:
        if frame_time is None:
            return None
        return "time", [delay + frame_time[0] * n for n in range(count)]

    pointer = _pointer_tags(ds)
    order = [by_vector, by_time]
    if _FRAME_TIME in pointer and _FRAME_TIME_VECTOR not in pointer:
        order.reverse()
    for source in order:
        found = source()
        if found is not None:
            return found
    return None


def _content_datetime(ds: Dataset) -> _dt.datetime | None:
    try:
        date = DA(ds.get("ContentDate"))
        time = TM(ds.get("ContentTime"))
    except (TypeError, ValueError):
        return None
    if not isinstance(date, _dt.date) or not isinstance(time, _dt.time):
        return None
    moment = _dt.datetime.combine(date, time)
    offset = ds.get("TimezoneOffsetFromUTC")
    if offset:
        with suppress(TypeError, ValueError):
            moment = moment.replace(tzinfo=DT(f"20000101{offset}").tzinfo)
    return moment


def _functional_group_times(ds: Dataset, count: int) -> list[float] | None:
    """Seconds from Content Date/Time to each frame's Frame Content time."""
    items = ds.get("PerFrameFunctionalGroupsSequence")
    reference = _content_datetime(ds)
    if not items or len(items) != count or reference is None:
        return None
    times = []
    for item in items:
        content = item.get("FrameContentSequence")
        if not content:
            return None
        raw = content[0].get("FrameReferenceDateTime") or \
            content[0].get("FrameAcquisitionDateTime")
        try:
            parsed = DT(raw) if raw else None
        except (TypeError, ValueError):
            parsed = None
        if not isinstance(parsed, _dt.datetime):
            return None
        moment = _dt.datetime.combine(parsed.date(), parsed.timetz())
        start: _dt.datetime = reference
        if (moment.tzinfo is None) != (start.tzinfo is None):
            # One side has a zone and the other not: read both in the same one.
            if start.tzinfo is None:
                start = start.replace(tzinfo=moment.tzinfo)
            else:
                moment = moment.replace(tzinfo=start.tzinfo)
        times.append((moment - start).total_seconds())
    return times


def _from_time_range(values: Sequence[float], ds: Dataset, count: int) -> list[int]:
    if len(values) != 2:
        raise _invalid("Time Range needs a start and an end")
    try:
        start, end = float(values[0]), float(values[1])
    except (TypeError, ValueError):
        raise _invalid("Time Range values are not numbers") from None
    if not start <= end:
        raise _invalid("Time Range: the start is after the end")
    cine = _cine_times(ds, count)
    times = _seconds_from_ms(cine[1]) if cine else _functional_group_times(ds, count)
    if times is None:
        raise FrameExtractionError(
            _status.TIME_BASED_REQUEST_FOR_NON_TIME_BASED,
            "no frame times: no Frame Time, Frame Time Vector or Frame Content times")
    return [n for n, t in enumerate(times, 1)
            if start - _TIME_TOLERANCE <= t <= end + _TIME_TOLERANCE]


def select_frames(ds: Dataset, *, simple: Sequence[int] | None = None,
                  calculated: Sequence[int] | None = None,
                  time_range: Sequence[float] | None = None) -> list[int]:
    """The frame numbers (1-based, increasing) a FRAME level request selects
    from ``ds``, by the rules of the module docstring; raises
    :class:`FrameExtractionError` with the Annex Y status otherwise."""
    given = [k for k in (simple, calculated, time_range) if k is not None]
    if len(given) != 1:
        raise _invalid("exactly one of Simple Frame List, Calculated Frame List and "
                       "Time Range is needed")
    count = _frame_count(ds)
    if simple is not None:
        frames = _from_simple(simple, count)
    elif calculated is not None:
        frames = _from_calculated(calculated, count)
    else:
        assert time_range is not None
        frames = _from_time_range(time_range, ds, count)
    if not frames:
        raise FrameExtractionError(_status.NO_FRAMES_FOUND,
                                   f"none of the requested frames is among the {count}")
    return frames


# --- Annex Y: the pixel data of the chosen frames ---------------------------------------

_PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)  # Pixel Data, Float, Double Float


def _unable(comment: str) -> FrameExtractionError:
    return FrameExtractionError(_status.UNABLE_TO_EXTRACT_FRAMES, comment)


def _transfer_syntax(ds: Dataset) -> str | None:
    meta = getattr(ds, "file_meta", None)
    if meta is not None and "TransferSyntaxUID" in meta:
        return str(meta.TransferSyntaxUID)
    return None


def _encapsulated_frames(ds: Dataset, elem: DataElement, count: int,
                         frames: list[int]) -> bytes:
    ts = _transfer_syntax(ds)
    if ts in MPEGTransferSyntaxes:
        raise _unable(f"frames of {uids.name_of(ts)} are not stored apart")
    offsets = None
    if "ExtendedOffsetTable" in ds and "ExtendedOffsetTableLengths" in ds:
        offsets = (ds.ExtendedOffsetTable, ds.ExtendedOffsetTableLengths)
    wanted = set(frames)
    chosen: list[bytes] = []
    found = 0
    try:
        for number, frame in enumerate(
                generate_frames(elem.value, number_of_frames=count, extended_offsets=offsets),
                1):
            found = number
            if number in wanted:
                chosen.append(frame)
        if found != count:
            raise ValueError(f"{found} frames found, Number of Frames is {count}")
        return encapsulate(chosen, has_bot=True)
    except Exception as exc:  # pydicom raises several kinds on bad fragments
        raise _unable(f"cannot find the frames in the pixel data: {exc}") from exc


def _native_frames(ds: Dataset, elem: DataElement, count: int, frames: list[int]) -> bytes:
    try:
        rows, columns = int(ds.Rows), int(ds.Columns)
        samples = int(ds.get("SamplesPerPixel") or 1)
        bits = int(ds.BitsAllocated) if elem.tag == 0x7FE00010 else \
            (32 if elem.tag == 0x7FE00008 else 64)
    except (AttributeError, TypeError, ValueError) as exc:
        raise _unable(f"the Image Pixel attributes are missing: {exc}") from exc
    if str(ds.get("PhotometricInterpretation", "")) == "YBR_FULL_422":
        samples = 2  # two luminance and two chrominance values for each two pixels
    frame_bits = rows * columns * samples * bits
    data = elem.value
    if not isinstance(data, bytes | bytearray) or len(data) * 8 < frame_bits * count:
        raise _unable(f"the pixel data holds fewer than {count} frames")
    if bits % 8 == 0:
        size = frame_bits // 8
        out = b"".join(bytes(data[(n - 1) * size:n * size]) for n in frames)
    elif bits == 1:
        # Bit-packed frames follow each other with no padding (PS3.5 8.1.1).
        unpacked = np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="little")
        parts = [unpacked[(n - 1) * frame_bits:n * frame_bits] for n in frames]
        out = np.packbits(np.concatenate(parts), bitorder="little").tobytes()
    else:
        raise _unable(f"Bits Allocated {bits} is not a whole number of bytes")
    return out + b"\x00" if len(out) % 2 else out


def _pixel_value(ds: Dataset, count: int, frames: list[int]) -> tuple[DataElement, bytes]:
    for tag in _PIXEL_TAGS:
        if tag in ds:
            elem = ds[tag]
            break
    else:
        raise _unable("the instance has no pixel data")
    ts = _transfer_syntax(ds)
    syntax = uids.TRANSFER_SYNTAXES.get(ts) if ts else None
    encapsulated = syntax.is_encapsulated if syntax is not None else elem.is_undefined_length
    if encapsulated:
        return elem, _encapsulated_frames(ds, elem, count, frames)
    return elem, _native_frames(ds, elem, count, frames)


# --- Annex Y: the rest of the new instance -------------------------------------------------

def _ds(value: float) -> str:
    return format_number_as_ds(float(value))


def _set_list(out: Dataset, keyword: str, values: list[Any]) -> None:
    setattr(out, keyword, values[0] if len(values) == 1 else values)


def _fix_cine(out: Dataset, count: int, frames: list[int]) -> None:
    cine = _cine_times(out, count)
    if cine is None:
        return
    kind, times = cine
    chosen = [times[n - 1] for n in frames]
    if frames[0] != 1:
        out.FrameDelay = _ds(chosen[0])
    steps = {b - a for a, b in pairwise(frames)}
    pointer = _pointer_tags(out)
    if kind == "vector" or (len(steps) > 1 and _FRAME_TIME in pointer):
        increments = [0.0] + [b - a for a, b in pairwise(chosen)]
        _set_list(out, "FrameTimeVector", [_ds(v) for v in increments])
        if kind == "time":
            del out.FrameTime
            _set_list(out, "FrameIncrementPointer",
                      [_FRAME_TIME_VECTOR if t == _FRAME_TIME else t for t in pointer])
    elif kind == "time" and len(steps) == 1:
        out.FrameTime = _ds(float(out.FrameTime) * steps.pop())


#: Attributes with one value per frame: Frame Label, Frame Primary Angle,
#: Frame Secondary Angle, Slice Location and Display Window Label Vectors
#: (0018,2002)-(0018,2006), and the vectors of the NM Multi-frame Module
#: (PS3.3 C.8.4.8).  Each is cut only when it has Number of Frames values.
_FRAME_VECTORS = (
    0x00182002, 0x00182003, 0x00182004, 0x00182005, 0x00182006,  # Frame Label .. Display Window
    0x00540010, 0x00540020, 0x00540030, 0x00540050, 0x00540060,  # Energy Window .. R-R Interval
    0x00540070, 0x00540080, 0x00540090, 0x00540100,  # Time Slot .. Time Slice Vector
)
_GRID_FRAME_OFFSET_VECTOR = 0x3004000C


def _subset_vector(out: Dataset, tag: int, count: int, frames: list[int]) -> None:
    elem = out.get(tag)
    values = _values(elem.value) if elem is not None else []
    if elem is None or count == 1 or len(values) != count:
        return
    kept = [values[n - 1] for n in frames]
    elem.value = kept[0] if len(kept) == 1 else kept


def _fix_grid_offsets(out: Dataset, count: int, frames: list[int]) -> None:
    """RT Dose (PS3.3 C.8.8.3.2): offsets are relative to Image Position
    (Patient) when the first is 0, else absolute; either way the first kept
    frame becomes the one at Image Position (Patient)."""
    offsets = _floats(out[_GRID_FRAME_OFFSET_VECTOR].value) \
        if _GRID_FRAME_OFFSET_VECTOR in out else None
    if offsets is None or len(offsets) != count:
        return
    kept = [offsets[n - 1] for n in frames]
    shift = kept[0] - offsets[0]
    position = _floats(out.get("ImagePositionPatient"))
    orientation = _floats(out.get("ImageOrientationPatient"))
    if shift and position and orientation and len(position) == 3 and len(orientation) == 6:
        normal = np.cross(orientation[:3], orientation[3:])
        out.ImagePositionPatient = [_ds(p + shift * float(c)) for p, c in zip(
            position, normal, strict=True)]
    if offsets[0] == 0:
        kept = [v - kept[0] for v in kept]
    out[_GRID_FRAME_OFFSET_VECTOR].value = [_ds(v) for v in kept]


def _renumber(out: Dataset, frames: list[int]) -> None:
    new = {old: i for i, old in enumerate(frames, 1)}

    def first_at_or_after(number: int) -> int | None:
        return next((i for i, old in enumerate(frames, 1) if old >= number), None)

    def last_at_or_before(number: int) -> int | None:
        return next((i for i, old in reversed(list(enumerate(frames, 1))) if old <= number),
                    None)

    if "RepresentativeFrameNumber" in out:
        number = new.get(int(out.RepresentativeFrameNumber))
        if number is None:
            del out.RepresentativeFrameNumber
        else:
            out.RepresentativeFrameNumber = number
    if "FrameNumbersOfInterest" in out:
        # Three parallel lists (PS3.3 C.7.6.9): the numbers, their
        # descriptions and their types.
        numbers = [int(n) for n in _values(out.FrameNumbersOfInterest)]
        keep = [i for i, n in enumerate(numbers) if n in new]
        for keyword in ("FrameNumbersOfInterest", "FrameOfInterestDescription",
                        "FrameOfInterestType"):
            if keyword not in out:
                continue
            column = _values(out[keyword].value)
            if not keep or len(column) != len(numbers):
                del out[keyword]
            elif keyword == "FrameNumbersOfInterest":
                _set_list(out, keyword, [new[numbers[i]] for i in keep])
            else:
                _set_list(out, keyword, [column[i] for i in keep])
    if "StartTrim" in out or "StopTrim" in out:
        start = first_at_or_after(int(out.get("StartTrim") or 1))
        stop = last_at_or_before(int(out.get("StopTrim") or frames[-1]))
        for keyword, value in (("StartTrim", start), ("StopTrim", stop)):
            if keyword in out:
                if start is None or stop is None or start > stop:
                    del out[keyword]
                else:
                    setattr(out, keyword, value)
    if "MaskSubtractionSequence" in out:
        items = []
        for item in out.MaskSubtractionSequence:
            masks = [int(m) for m in (_floats(item.get("MaskFrameNumbers")) or [])]
            if any(m not in new for m in masks):
                continue
            if masks:
                _set_list(item, "MaskFrameNumbers", [new[m] for m in masks])
            ranges = [int(v) for v in (_floats(item.get("ApplicableFrameRange")) or [])]
            if ranges:
                mapped = []
                for lo, hi in zip(ranges[::2], ranges[1::2], strict=False):
                    a, b = first_at_or_after(lo), last_at_or_before(hi)
                    if a is not None and b is not None and a <= b:
                        mapped += [a, b]
                if not mapped:
                    continue
                item.ApplicableFrameRange = mapped
            items.append(item)
        if items:
            out.MaskSubtractionSequence = items
        else:
            del out.MaskSubtractionSequence


_CONCATENATION = ("ConcatenationUID", "InConcatenationNumber", "InConcatenationTotalNumber",
                  "ConcatenationFrameOffsetNumber", "SOPInstanceUIDOfConcatenationSource")


def _dt_text(moment: _dt.datetime) -> str:
    text = moment.strftime("%Y%m%d%H%M%S.%f")
    return text + moment.strftime("%z") if moment.tzinfo is not None else text


def _add_provenance(out: Dataset, source_uid: str, request: Dataset,
                    manufacturer: str, now: _dt.datetime) -> None:
    item = Dataset()
    item.MultiFrameSourceSOPInstanceUID = source_uid
    for elem in request:
        item.add(elem)
    extractions = list(out.get("FrameExtractionSequence") or [])
    out.FrameExtractionSequence = [*extractions, item]

    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = FRAME_EXTRACTING_EQUIPMENT
    equipment = Dataset()
    equipment.PurposeOfReferenceCodeSequence = [code]
    equipment.Manufacturer = manufacturer
    equipment.ContributionDateTime = _dt_text(now)
    equipment.ContributionDescription = "Frames extracted for a frame-level retrieve"
    contributors = list(out.get("ContributingEquipmentSequence") or [])
    out.ContributingEquipmentSequence = [*contributors, equipment]


def _request_items(simple: Sequence[int] | None, calculated: Sequence[int] | None,
                   time_range: Sequence[float] | None) -> Dataset:
    """The frame range key of the request, as the Frame Extraction item holds it."""
    request = Dataset()
    if simple is not None:
        request.add(DataElement(0x00081161, "UL", [int(v) for v in simple]))
    elif calculated is not None:
        request.add(DataElement(0x00081162, "UL", [int(v) for v in calculated]))
    elif time_range is not None:
        request.add(DataElement(0x00081163, "FD", [float(v) for v in time_range]))
    return request


def extract_frames(ds: Dataset, *, simple: Sequence[int] | None = None,
                   calculated: Sequence[int] | None = None,
                   time_range: tuple[float, float] | None = None,
                   new_uid: str | None = None, manufacturer: str = "dicomqr",
                   keep_private: bool = False, now: _dt.datetime | None = None) -> Dataset:
    """The new SOP Instance a FRAME level Composite Instance Root Retrieve
    sends: the frames of ``ds`` that ``simple``, ``calculated`` or
    ``time_range`` select (exactly one of them, as in the request
    identifier), built as the module docstring describes (PS3.4 Y.3.3).

    ``new_uid`` is its SOP Instance UID (a new one when None);
    ``manufacturer`` goes into the Contributing Equipment item, ``now``
    (default: the local time) into its Contribution DateTime and the
    Instance Creation Date and Time.  ``ds`` is not modified.  Raises
    :class:`FrameExtractionError` with the status to answer.
    """
    frames = select_frames(ds, simple=simple, calculated=calculated, time_range=time_range)
    count = _frame_count(ds)
    source_uid = str(ds.get("SOPInstanceUID", ""))
    if not source_uid or "SOPClassUID" not in ds:
        raise FrameExtractionError(_status.UNABLE_TO_CREATE_NEW_OBJECT,
                                   "the instance has no SOP Class or SOP Instance UID")
    elem, pixels = _pixel_value(ds, count, frames)
    try:
        return _build(ds, elem, pixels, count, frames,
                      _request_items(simple, calculated, time_range),
                      new_uid or generate_uid(), manufacturer, keep_private,
                      now or _dt.datetime.now().astimezone())
    except FrameExtractionError:
        raise
    except Exception as exc:  # a source value pydicom cannot read or write back
        raise FrameExtractionError(_status.UNABLE_TO_CREATE_NEW_OBJECT,
                                   f"{type(exc).__name__}: {exc}") from exc


def _build(ds: Dataset, elem: DataElement, pixels: bytes, count: int, frames: list[int],
           request: Dataset, uid: str, manufacturer: str, keep_private: bool,
           now: _dt.datetime) -> Dataset:
    out = copy_dataset(ds, lambda tag: tag == elem.tag or tag in PIXEL_ENCODING_TAGS)
    vr = elem.VR if " or " not in elem.VR else ("OW" if int(ds.BitsAllocated) > 8 else "OB")
    out.add(DataElement(elem.tag, vr, pixels, is_undefined_length=elem.is_undefined_length))
    out.NumberOfFrames = len(frames)
    per_frame = out.get("PerFrameFunctionalGroupsSequence")
    if per_frame is not None and len(per_frame) == count:
        out.PerFrameFunctionalGroupsSequence = [per_frame[n - 1] for n in frames]
    _fix_cine(out, count, frames)
    _fix_grid_offsets(out, count, frames)
    pointed = {t for t in _pointer_tags(ds) if t not in (_FRAME_TIME, _FRAME_TIME_VECTOR,
                                                         _GRID_FRAME_OFFSET_VECTOR)}
    for tag in sorted(pointed.union(_FRAME_VECTORS)):
        _subset_vector(out, tag, count, frames)
    _renumber(out, frames)
    for keyword in _CONCATENATION:
        if keyword in out:
            del out[keyword]
    if not keep_private:
        out.remove_private_tags()
    out.SOPInstanceUID = uid
    out.InstanceCreationDate = now.strftime("%Y%m%d")
    out.InstanceCreationTime = now.strftime("%H%M%S.%f")
    _add_provenance(out, str(ds.SOPInstanceUID), request, manufacturer, now)
    meta = getattr(out, "file_meta", None)
    if meta is not None:
        meta.MediaStorageSOPInstanceUID = uid
    return out
