"""Shared tools of the Query/Retrieve interoperability tests.

- :func:`make_archive`: a small in-memory archive of pydicom datasets: two
  patients, three studies, four series, six CT/MR images generated from
  pydicom's ``CT_small.dcm`` and ``MR_small.dcm``; pydicom's eight Color
  Palettes; two Defined Procedure Protocols and two Protocol Approvals.
- :func:`matches` / :func:`find_results`: simple C-FIND matching (single
  value, wildcard, UID list, date range, universal) over that archive, the
  way an SCP application would do it, and the response identifiers.
- :class:`QRApp`: find/get/move handlers (the dicomqr handler contract)
  over the archive, recording each request; ``delay`` makes them slow, for
  C-CANCEL tests.
- DCMTK output parsing (final statuses).
"""

from __future__ import annotations

import asyncio
import copy
import fnmatch
import re
import struct
import threading
import time
import warnings
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydicom
import pydicom.data
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from dicomqr import QRRequest, uids

#: UID root of the generated test objects (dicomqr's root, branch 77).
ROOT = "1.2.826.0.1.3680043.10.1373.77"

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE = "1.2.840.10008.5.1.4.1.1.4"
COLOR_PALETTE_STORAGE = "1.2.840.10008.5.1.4.39.1"
CT_DPP_STORAGE = "1.2.840.10008.5.1.4.1.1.200.1"
PROTOCOL_APPROVAL_STORAGE = "1.2.840.10008.5.1.4.1.1.200.3"
IMAGE_STORAGE = (CT_IMAGE, MR_IMAGE)

COLOR_PALETTE_FIND = "1.2.840.10008.5.1.4.39.2"
COLOR_PALETTE_MOVE = "1.2.840.10008.5.1.4.39.3"
COLOR_PALETTE_GET = "1.2.840.10008.5.1.4.39.4"
DPP_FIND = "1.2.840.10008.5.1.4.20.1"
DPP_MOVE = "1.2.840.10008.5.1.4.20.2"
DPP_GET = "1.2.840.10008.5.1.4.20.3"
PA_FIND = "1.2.840.10008.5.1.4.1.1.200.4"
PA_MOVE = "1.2.840.10008.5.1.4.1.1.200.5"
PA_GET = "1.2.840.10008.5.1.4.1.1.200.6"

PENDING, SUCCESS, CANCEL = 0xFF00, 0x0000, 0xFE00

# (patient name, patient ID, study, date, accession, description, [(series, modality, images)])
_LAYOUT = (
    ("DOE^JOHN", "PID001", 1, "20240105", "ACC001", "CT CHEST", [(1, "CT", 2), (2, "CT", 1)]),
    ("DOE^JOHN", "PID001", 2, "20240312", "ACC002", "MR HEAD", [(1, "MR", 1)]),
    ("SMITH^JANE", "PID002", 3, "20231120", "ACC003", "CT ABDOMEN", [(1, "CT", 2)]),
)


def study_uid(study: int) -> str:
    return f"{ROOT}.{study}"


def series_uid(study: int, series: int) -> str:
    return f"{ROOT}.{study}.{series}"


def image_uid(study: int, series: int, image: int) -> str:
    return f"{ROOT}.{study}.{series}.{image}"


def _with_meta(ds: Dataset) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    return ds


def _images() -> list[Dataset]:
    templates = {
        "CT": pydicom.dcmread(pydicom.data.get_testdata_file("CT_small.dcm")),
        "MR": pydicom.dcmread(pydicom.data.get_testdata_file("MR_small.dcm")),
    }
    out = []
    for name, pid, study, date, accession, description, series_list in _LAYOUT:
        for series, modality, count in series_list:
            for image in range(1, count + 1):
                ds = copy.deepcopy(templates[modality])
                ds.PatientName, ds.PatientID = name, pid
                ds.PatientBirthDate = "19700101" if pid == "PID001" else "19800202"
                ds.PatientSex = "M" if pid == "PID001" else "F"
                ds.StudyInstanceUID = study_uid(study)
                ds.StudyDate, ds.StudyTime = date, "101500"
                ds.AccessionNumber, ds.StudyID = accession, f"S{study}"
                ds.StudyDescription = description
                ds.SeriesInstanceUID = series_uid(study, series)
                ds.SeriesNumber = series
                ds.SOPInstanceUID = image_uid(study, series, image)
                ds.InstanceNumber = image
                out.append(_with_meta(ds))
    return out


def _palettes() -> list[Dataset]:
    folder = Path(pydicom.data.__file__).parent / "palettes"
    return [pydicom.dcmread(p) for p in sorted(folder.glob("*.dcm"))]


def _protocols() -> list[Dataset]:
    out = []
    for i, (name, modality) in enumerate((("CT HEAD ROUTINE", "CT"),
                                          ("CT CHEST LOW DOSE", "CT")), start=1):
        ds = Dataset()
        ds.SOPClassUID = CT_DPP_STORAGE
        ds.SOPInstanceUID = f"{ROOT}.200.1.{i}"
        ds.Modality = modality
        ds.ProtocolName = name
        ds.InstanceCreationDate, ds.InstanceCreationTime = "20240101", f"08000{i}"
        ds.ContentCreatorName = "PHYSICIST^ALICE"
        ds.Manufacturer = "DICOMQR TESTS"
        out.append(_with_meta(ds))
    for i, date in enumerate(("20240110", "20240220"), start=1):
        ds = Dataset()
        ds.SOPClassUID = PROTOCOL_APPROVAL_STORAGE
        ds.SOPInstanceUID = f"{ROOT}.200.3.{i}"
        ds.InstanceCreationDate, ds.InstanceCreationTime = date, "120000"
        ds.Manufacturer = "DICOMQR TESTS"
        ds.ManufacturerModelName = "APPROVER"
        out.append(_with_meta(ds))
    return out


def make_archive() -> list[Dataset]:
    """Fresh copies every call (handlers and tests must not share mutations)."""
    return [*_images(), *_palettes(), *_protocols()]


#: A patient name beyond ASCII, and the character set it is stored in.
UTF8_NAME, UTF8 = "Müller^Jürgen", "ISO_IR 192"


def rename_utf8(datasets: Iterable[Dataset], patient_id: str) -> None:
    """Give ``patient_id``'s instances a UTF-8 name (Specific Character Set first:
    pydicom fixes a name's encoding when it is set)."""
    for ds in datasets:
        if ds.get("PatientID") == patient_id:
            ds.SpecificCharacterSet = UTF8
            ds.PatientName = UTF8_NAME


def query(**keys: Any) -> Dataset:
    """An identifier from keyword=value pairs ("" for a return key).  Wild
    cards in a CS key (``ContentLabel="*LUT"``) are valid matching values
    that pydicom's VR check warns about: silenced."""
    ds = Dataset()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for keyword, value in keys.items():
            setattr(ds, keyword, value)
    return ds


def save(datasets: Iterable[Dataset], folder: Path) -> list[Path]:
    """Write each dataset as a Part 10 file named by its SOP Instance UID."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for ds in datasets:
        path = folder / f"{ds.SOPInstanceUID}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


# -------------------------------------------------------------- matching
#: The entity each Q/R level stands for, by its unique key.
LEVEL_KEY = {"PATIENT": "PatientID", "STUDY": "StudyInstanceUID",
             "SERIES": "SeriesInstanceUID", "IMAGE": "SOPInstanceUID"}
#: Entities of the single-entity models, by SOP class of the instances.
ENTITY_STORAGE = {
    "COLOR_PALETTE": (COLOR_PALETTE_STORAGE,),
    "DEFINED_PROCEDURE_PROTOCOL": (CT_DPP_STORAGE,),
    "PROTOCOL_APPROVAL": (PROTOCOL_APPROVAL_STORAGE,),
}
_NOT_MATCHED = {"QueryRetrieveLevel", "SpecificCharacterSet", "RetrieveAETitle",
                "InstanceAvailability", "TimezoneOffsetFromUTC"}
_COMPUTED = {"NumberOfPatientRelatedStudies", "NumberOfPatientRelatedSeries",
             "NumberOfPatientRelatedInstances", "NumberOfStudyRelatedSeries",
             "NumberOfStudyRelatedInstances", "NumberOfSeriesRelatedInstances",
             "ModalitiesInStudy", "SOPClassesInStudy"}


def _value_matches(key: Any, value: Any, vr: str) -> bool:
    """PS3.4 C.2.2.2: single value, wild card, list of UID, range; ``value``
    is the candidate's."""
    key_text = str(key)
    if vr == "UI":
        wanted = {u.strip() for u in key_text.split("\\")} if isinstance(key, str) \
            else {str(u) for u in key}
        return str(value) in wanted
    text = str(value).strip()
    if vr in ("DA", "TM", "DT") and "-" in key_text:
        low, _, high = key_text.partition("-")
        return (not low or text >= low) and (not high or text <= high)
    if "*" in key_text or "?" in key_text:
        return fnmatch.fnmatchcase(text, key_text.strip())
    return text == key_text.strip()


def matches(identifier: Dataset, candidate: Dataset) -> bool:
    """Whether ``candidate`` (an instance) matches every key with a value."""
    for elem in identifier:
        keyword = elem.keyword
        if (not keyword or elem.tag.group < 0x0008 or keyword in _NOT_MATCHED
                or keyword in _COMPUTED or elem.VR == "SQ" or elem.value in (None, "", [])):
            continue
        if keyword not in candidate:
            return False
        if not _value_matches(elem.value, candidate[keyword].value, elem.VR):
            return False
    return True


def _computed(keyword: str, group: list[Dataset], archive: list[Dataset]) -> Any:
    first = group[0]

    def related(key: str) -> list[Dataset]:
        return [d for d in archive if d.get(key) == first.get(key)]

    if keyword == "NumberOfPatientRelatedStudies":
        return len({d.StudyInstanceUID for d in related("PatientID")})
    if keyword == "NumberOfPatientRelatedSeries":
        return len({d.SeriesInstanceUID for d in related("PatientID")})
    if keyword == "NumberOfPatientRelatedInstances":
        return len(related("PatientID"))
    if keyword == "NumberOfStudyRelatedSeries":
        return len({d.SeriesInstanceUID for d in related("StudyInstanceUID")})
    if keyword == "NumberOfStudyRelatedInstances":
        return len(related("StudyInstanceUID"))
    if keyword == "NumberOfSeriesRelatedInstances":
        return len(related("SeriesInstanceUID"))
    if keyword == "ModalitiesInStudy":
        return sorted({d.Modality for d in related("StudyInstanceUID")})
    if keyword == "SOPClassesInStudy":
        return sorted({d.SOPClassUID for d in related("StudyInstanceUID")})
    raise KeyError(keyword)


def candidates_for(sop_class_uid: str, archive: list[Dataset]) -> tuple[str | None, list[Dataset]]:
    """(level key or None, the instances a model sees)."""
    row = uids.qr_sop_class(sop_class_uid)
    assert row is not None
    entity = row.model.name
    if entity in ENTITY_STORAGE:
        return None, [d for d in archive if d.SOPClassUID in ENTITY_STORAGE[entity]]
    return "hierarchical", [d for d in archive if d.SOPClassUID in IMAGE_STORAGE]


def find_results(identifier: Dataset, sop_class_uid: str, archive: list[Dataset],
                 retrieve_ae: str | None = None) -> list[Dataset]:
    """The C-FIND response identifiers, one per matching entity, in archive order."""
    kind, pool = candidates_for(sop_class_uid, archive)
    level = str(identifier.get("QueryRetrieveLevel", "")).strip().upper()
    unique = LEVEL_KEY[level] if kind else "SOPInstanceUID"
    groups: dict[str, list[Dataset]] = {}
    for ds in pool:
        if matches(identifier, ds):
            groups.setdefault(str(ds[unique].value), []).append(ds)
    results = []
    for group in groups.values():
        rsp = Dataset()
        # PS3.4 C.4.1.1.3.2: included when the values may use another
        # character set than the default; set first, so that pydicom encodes
        # the text values below in it
        charset = group[0].get("SpecificCharacterSet")
        if charset:
            rsp.SpecificCharacterSet = charset
        for elem in identifier:
            keyword = elem.keyword
            if not keyword or elem.tag.group < 0x0008 or keyword == "SpecificCharacterSet":
                continue
            if keyword in _COMPUTED and kind:
                setattr(rsp, keyword, _computed(keyword, group, pool))
            elif keyword == "QueryRetrieveLevel":
                rsp.QueryRetrieveLevel = level
            elif keyword in group[0]:
                rsp[elem.tag] = copy.deepcopy(group[0][elem.tag])
            else:
                rsp[elem.tag] = copy.deepcopy(elem)
                rsp[elem.tag].value = [] if elem.VR == "SQ" else None
        if retrieve_ae is not None and "RetrieveAETitle" not in rsp:
            rsp.RetrieveAETitle = retrieve_ae
        results.append(rsp)
    return results


def retrieve_set(identifier: Dataset, sop_class_uid: str,
                 archive: list[Dataset]) -> list[Dataset]:
    """The instances a C-GET/C-MOVE identifier names (by its unique keys)."""
    _, pool = candidates_for(sop_class_uid, archive)
    keys = Dataset()
    for keyword in ("PatientID", "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
        if keyword in identifier and identifier[keyword].value not in (None, ""):
            keys[keyword] = identifier[keyword]
    if not len(keys):
        return []
    return [ds for ds in pool if matches(keys, ds)]


# -------------------------------------------------------------- the SCP application
@dataclass
class QRApp:
    """Handlers over ``archive`` for ``make_server(handlers=app.handlers())``.

    ``destinations`` maps a Move Destination AE title to (host, port);
    ``delay`` (seconds) sleeps before every item after the first, so that a
    C-CANCEL arrives mid-operation; ``repeat`` multiplies the C-FIND matches
    and the retrieved instances (a long operation).  ``requests`` records
    what each handler was asked; ``stopped`` holds the operations whose
    generator was closed before it finished (the SCP stopped asking: cancel).
    """

    archive: list[Dataset] = field(default_factory=make_archive)
    ae_title: str = "DICOMQR"
    files: dict[str, Path] | None = None
    """Retrieves yield these Part 10 files (by SOP Instance UID) instead of
    the datasets."""
    destinations: dict[str, tuple[str, int]] = field(default_factory=dict)
    delay: float = 0.0
    repeat: int = 1
    async_handlers: bool = False
    requests: list[QRRequest] = field(default_factory=list)
    yielded: dict[int, int] = field(default_factory=dict)
    stopped: list[int] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handlers(self, **options: Any) -> Any:
        from dicomqr import QRHandlers

        return QRHandlers(find=self.find, get=self.get, move=self.move, **options)

    # The three handlers: a plain generator (runs in a thread of its own) or,
    # with async_handlers, an async generator (a task on the loop).
    def find(self, request: QRRequest) -> Any:
        self._record(request)
        results = find_results(request.identifier, request.sop_class.uid, self.archive,
                               self.ae_title)
        items = [(PENDING, ds) for _ in range(self.repeat) for ds in results]
        return self._stream(request, items)

    def get(self, request: QRRequest) -> Any:
        self._record(request)
        instances = self.repeat * retrieve_set(request.identifier, request.sop_class.uid,
                                               self.archive)
        return self._stream(request, [len(instances), *((PENDING, self._instance(ds))
                                                        for ds in instances)])

    def move(self, request: QRRequest) -> Any:
        self._record(request)
        dest = self.destinations.get(str(request.move_destination))
        instances = self.repeat * retrieve_set(request.identifier, request.sop_class.uid,
                                               self.archive)
        return self._stream(request, [dest, len(instances),
                                      *((PENDING, self._instance(ds)) for ds in instances)])

    def _instance(self, ds: Dataset) -> Any:
        return ds if self.files is None else self.files[str(ds.SOPInstanceUID)]

    def _record(self, request: QRRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _stream(self, request: QRRequest, items: list[Any]) -> Any:
        if self.async_handlers:
            return self._agen(request, items)
        return self._gen(request, items)

    def _gen(self, request: QRRequest, items: list[Any]) -> Iterator[Any]:
        done = False
        try:
            for i, item in enumerate(items):
                if i and self.delay:
                    time.sleep(self.delay)
                self.yielded[request.message_id] = i + 1
                yield item
            done = True
        finally:
            if not done:
                self.stopped.append(request.message_id)

    async def _agen(self, request: QRRequest, items: list[Any]) -> AsyncIterator[Any]:
        done = False
        try:
            for i, item in enumerate(items):
                if i and self.delay:
                    await asyncio.sleep(self.delay)
                self.yielded[request.message_id] = i + 1
                yield item
            done = True
        finally:
            if not done:
                self.stopped.append(request.message_id)


def pixel_words(ds: Dataset, transfer_syntax: str) -> tuple[int, ...]:
    """The 16-bit Pixel Data values of ``ds`` as decoded from bytes in
    ``transfer_syntax`` (pydicom keeps OW bytes as they were on the wire, in
    that byte order)."""
    assert ds.BitsAllocated == 16
    data = ds.PixelData
    order = ">" if transfer_syntax == "1.2.840.10008.1.2.2" else "<"
    return struct.unpack(f"{order}{len(data) // 2}H", data)


def images(archive: list[Dataset], **where: str) -> list[Dataset]:
    return [d for d in archive if d.SOPClassUID in IMAGE_STORAGE
            and all(str(d.get(k)) == v for k, v in where.items())]


def by_uid(datasets: Iterable[Dataset]) -> dict[str, Dataset]:
    return {str(d.SOPInstanceUID): d for d in datasets}


# -------------------------------------------------------------- DCMTK output
def final_status_lines(log: str, kind: str) -> list[str]:
    """DCMTK's "Received Final Find Response (Success)" style lines."""
    return re.findall(rf"Received Final {kind} Response \(([^)]*)\)", log)
