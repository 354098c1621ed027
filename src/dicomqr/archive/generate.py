"""Synthetic archives of any size, the same for the same seed.

Two layers, because an archive index must take a million instances quickly:

- :func:`iter_instances` yields one light record per instance: a dict of
  DICOM keyword -> value as the string DICOM encodes (dates ``YYYYMMDD``,
  IS as digits), holding the patient, study, series and instance attributes
  an index keeps, plus ``SOPClassUID``, ``SOPInstanceUID`` and
  ``TransferSyntaxUID``.  No pydicom objects: several hundred thousand
  records a second.
- :func:`to_dataset` turns a record into the pydicom Part 10 dataset it
  stands for; :func:`write_archive` / :func:`write_files` write those files
  without pydicom, each encoded straight from its record (Explicit VR Little
  Endian, the fixed image attributes and Pixel Data encoded once), so that
  what is read back equals :func:`to_dataset`.

:func:`~dicomqr.archive.protocols.protocol_objects` makes the non-patient objects of the archive: CT
(and every fourth one XA) Defined Procedure Protocols and Protocol Approvals
of them, carrying the keys of PS3.4 Tables HH.6-1 and II.6-1.

Determinism: everything is drawn from :class:`random.Random` seeded per
patient with ``(seed, patient number)``, so more patients with the same
spec leave the first ones unchanged.  UIDs are built, not drawn::

    GENERATOR_UID_ROOT <run> . 1 . <patient> . <study>                        study
    GENERATOR_UID_ROOT <run> . 2 . <patient> . <study> . <series>             series
    GENERATOR_UID_ROOT <run> . 3 . <patient> . <study> . <series> . <n>       instance

where ``<run>`` is a digest of the seed and every spec field but the number
of patients and of protocol objects (two different specs never share a UID
unless they describe the same instance); numbers count from 1, so no
component has a leading zero.  Protocol objects use ``4`` (Defined
Procedure Protocol), ``5`` (Protocol Approval) and ``6`` (Assertion UID)
under a run digest of the seed alone.

File layout (:func:`write_archive`): ``OUT/<PatientID>/<study>/<series>/<n>.dcm``
with 3-digit study and series and 5-digit instance numbers (``flat=True``:
``OUT/<SOPInstanceUID>.dcm``), protocol objects in ``OUT/protocols/``.
"""

from __future__ import annotations

import array
import hashlib
import random
import struct
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Final

import pydicom
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.uid import (
    UID,
    ComputedRadiographyImageStorage,
    CTImageStorage,
    DigitalXRayImageStorageForPresentation,
    ExplicitVRLittleEndian,
    MRImageStorage,
    NuclearMedicineImageStorage,
    PositronEmissionTomographyImageStorage,
    UltrasoundImageStorage,
)

from ..services.part10 import LONG_LENGTH_VRS, encode_file_meta
from ..transport.config import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME

__all__ = [
    "CT_DEFINED_PROCEDURE_PROTOCOL_STORAGE",
    "GENERATOR_UID_ROOT",
    "INSTANCE_KEYWORDS",
    "PROTOCOL_APPROVAL_STORAGE",
    "SOP_CLASS_BY_MODALITY",
    "XA_DEFINED_PROCEDURE_PROTOCOL_STORAGE",
    "ArchiveStats",
    "GenerateSpec",
    "InstanceAttrs",
    "encode_record",
    "iter_instances",
    "parse_span",
    "to_dataset",
    "write_archive",
    "write_files",
]

#: The arc the generator's UIDs live under (the project's root, arc 2).
GENERATOR_UID_ROOT: Final = "1.2.826.0.1.3680043.10.1373.2."
CT_DEFINED_PROCEDURE_PROTOCOL_STORAGE: Final = "1.2.840.10008.5.1.4.1.1.200.1"
PROTOCOL_APPROVAL_STORAGE: Final = "1.2.840.10008.5.1.4.1.1.200.3"
XA_DEFINED_PROCEDURE_PROTOCOL_STORAGE: Final = "1.2.840.10008.5.1.4.1.1.200.7"

SOP_CLASS_BY_MODALITY: Final[dict[str, str]] = {
    "CT": str(CTImageStorage),
    "MR": str(MRImageStorage),
    "US": str(UltrasoundImageStorage),
    "CR": str(ComputedRadiographyImageStorage),
    "DX": str(DigitalXRayImageStorageForPresentation),
    "PT": str(PositronEmissionTomographyImageStorage),
    "NM": str(NuclearMedicineImageStorage),
}

InstanceAttrs = dict[str, str]
"""One instance: DICOM keyword -> value as DICOM encodes it (see :data:`INSTANCE_KEYWORDS`);
``SpecificCharacterSet`` is ``""`` for the default repertoire."""

#: The keys of every :data:`InstanceAttrs`, in tag order (TransferSyntaxUID,
#: a File Meta element, last).
INSTANCE_KEYWORDS: Final = (
    "SpecificCharacterSet", "SOPClassUID", "SOPInstanceUID", "StudyDate", "StudyTime",
    "AccessionNumber", "Modality", "ReferringPhysicianName", "StudyDescription",
    "SeriesDescription", "PatientName", "PatientID", "PatientBirthDate", "PatientSex",
    "BodyPartExamined", "StudyInstanceUID", "SeriesInstanceUID", "StudyID", "SeriesNumber",
    "InstanceNumber", "TransferSyntaxUID",
)
_DATASET_KEYWORDS: Final = INSTANCE_KEYWORDS[:-1]

# -- what the data is drawn from ------------------------------------------------------

_SURNAMES: Final = (
    "SMITH", "JOHNSON", "WILLIAMS", "BROWN", "JONES", "GARCIA", "MILLER", "DAVIS", "RODRIGUEZ",
    "MARTINEZ", "HERNANDEZ", "LOPEZ", "WILSON", "ANDERSON", "THOMAS", "TAYLOR", "MOORE",
    "JACKSON", "MARTIN", "LEE", "THOMPSON", "WHITE", "HARRIS", "CLARK", "LEWIS", "ROBINSON",
    "WALKER", "YOUNG", "ALLEN", "KING", "WRIGHT", "SCOTT", "NGUYEN", "HILL", "FLORES", "GREEN",
    "ADAMS", "NELSON", "BAKER", "HALL", "O'BRIEN", "VAN DER BERG", "MACDONALD", "SCHMIDT",
    "ROSSI", "DUBOIS", "JANSEN", "NOVAK", "KOWALSKI", "SATO", "KIM", "PATEL", "SINGH", "COHEN",
)
_GIVEN_M: Final = (
    "JAMES", "JOHN", "ROBERT", "MICHAEL", "WILLIAM", "DAVID", "RICHARD", "JOSEPH", "THOMAS",
    "CHARLES", "DANIEL", "MATTHEW", "ANTHONY", "MARK", "PAUL", "STEVEN", "ANDREW", "KENNETH",
    "PETER", "LUCAS", "HENRY", "OMAR", "RAJ", "HIROSHI", "PIERRE", "JAN",
)
_GIVEN_F: Final = (
    "MARY", "PATRICIA", "JENNIFER", "LINDA", "ELIZABETH", "BARBARA", "SUSAN", "JESSICA",
    "SARAH", "KAREN", "LISA", "NANCY", "BETTY", "MARGARET", "SANDRA", "ASHLEY", "EMILY",
    "DONNA", "MICHELLE", "CAROL", "AMANDA", "SOFIA", "PRIYA", "YUKI", "MARIE", "ANNA",
)
#: Names outside ASCII, with the sex they go with; encoded in ISO_IR 192 (UTF-8).
_NON_ASCII_NAMES: Final = (
    ("Müller^Jürgen", "M"), ("Ødegaard^Åse", "F"), ("Łukasiewicz^Paweł", "M"),
    ("Núñez^José^María", "M"), ("Öztürk^Ayşe", "F"), ("Dvořák^Antonín", "M"),
    ("Lefèvre^Françoise", "F"), ("Søndergård^Bjørn", "M"), ("Παπαδοπούλου^Ελένη", "F"),
    ("Иванов^Сергей^Петрович", "M"), ("Yamada^Tarou=山田^太郎=やまだ^たろう", "M"),
    ("Hong^Gildong=洪^吉洞=홍^길동", "M"), ("Wang^XiaoDong=王^小東", "M"),
    ("Suzuki^Hanako=鈴木^花子=すずき^はなこ", "F"),
)
_PHYSICIANS: Final = (
    "HOUSE^GREGORY^^DR", "GREY^MERIDITH^^DR", "ROSS^DOUG^^DR", "CARTER^JOHN^^DR",
    "LEWIS^SUSAN^^DR", "QUINN^MICHAELA^^DR", "KILDARE^JAMES^^DR", "WELBY^MARCUS^^DR",
    "", "SHEPHERD^DEREK^^DR",
)


@dataclass(frozen=True, slots=True)
class _StudyType:
    description: str
    modalities: tuple[str, ...]
    body_part: str
    weight: int


_STUDY_TYPES: Final = (
    _StudyType("CT CHEST W CONTRAST", ("CT",), "CHEST", 8),
    _StudyType("CT HEAD WO CONTRAST", ("CT",), "HEAD", 8),
    _StudyType("CT ABDOMEN PELVIS W CONTRAST", ("CT",), "ABDOMEN", 6),
    _StudyType("MR BRAIN W WO CONTRAST", ("MR",), "HEAD", 6),
    _StudyType("MR KNEE LEFT", ("MR",), "KNEE", 3),
    _StudyType("MR LUMBAR SPINE", ("MR",), "LSPINE", 4),
    _StudyType("US ABDOMEN COMPLETE", ("US",), "ABDOMEN", 5),
    _StudyType("XR CHEST PA AND LATERAL", ("CR", "DX"), "CHEST", 10),
    _StudyType("XR HAND RIGHT 3 VIEWS", ("DX",), "HAND", 3),
    _StudyType("PET CT WHOLE BODY", ("PT", "CT"), "WHOLEBODY", 2),
    _StudyType("NM BONE SCAN WHOLE BODY", ("NM",), "WHOLEBODY", 2),
    _StudyType("NM THYROID UPTAKE", ("NM",), "NECK", 1),
)
_STUDY_WEIGHTS: Final = tuple(t.weight for t in _STUDY_TYPES)
_SERIES_DESCRIPTIONS: Final = {
    "CT": ("SCOUT", "AXIAL 5MM", "AXIAL 1.25MM", "CORONAL MPR", "SAGITTAL MPR"),
    "MR": ("LOCALIZER", "T1 AX", "T2 AX", "FLAIR AX", "DWI", "T1 AX POST GD", "T2 SAG"),
    "US": ("B-MODE", "COLOR DOPPLER", "CINE"),
    "CR": ("PA", "LATERAL", "AP"),
    "DX": ("PA", "LATERAL", "OBLIQUE", "AP"),
    "PT": ("PET AC", "PET NAC", "MIP"),
    "NM": ("ANTERIOR", "POSTERIOR", "WHOLE BODY"),
}

_DAY_FIRST_BIRTH: Final = date(1925, 1, 1).toordinal()
_SALT: Final = "dicomqr-generate"


def parse_span(text: str) -> tuple[int, int]:
    """``"3"`` -> (3, 3); ``"1-5"`` -> (1, 5)."""
    lo, sep, hi = text.partition("-")
    try:
        span = (int(lo), int(hi) if sep else int(lo))
    except ValueError:
        raise ValueError(f"not a count or range A-B: {text!r}") from None
    if span[0] < 1 or span[1] < span[0]:
        raise ValueError(f"need 1 <= A <= B: {text!r}")
    return span


@dataclass(frozen=True, slots=True)
class GenerateSpec:
    """What to generate.  ``studies`` (per patient), ``series`` (per study)
    and ``instances`` (per series) are inclusive ranges, each count drawn
    uniformly; ``(n, n)`` for a fixed count.  ``non_ascii`` is the share of
    patients whose names are outside ASCII (Specific Character Set
    ISO_IR 192).  ``protocols``: protocol objects :func:`write_archive` adds."""

    seed: int = 0
    patients: int = 10
    studies: tuple[int, int] = (1, 3)
    series: tuple[int, int] = (1, 4)
    instances: tuple[int, int] = (1, 20)
    rows: int = 64
    cols: int = 64
    start_date: date = date(2000, 1, 1)
    end_date: date = date(2024, 12, 31)
    non_ascii: float = 0.05
    protocols: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.seed < 10**12:
            raise ValueError("seed must be in 0..10**12-1")
        if self.patients < 0 or self.protocols < 0:
            raise ValueError("patients and protocols must be >= 0")
        for name in ("studies", "series", "instances"):
            lo, hi = getattr(self, name)
            if lo < 1 or hi < lo:
                raise ValueError(f"{name}: need 1 <= min <= max, got {(lo, hi)}")
        if not (1 <= self.rows <= 0xFFFF and 1 <= self.cols <= 0xFFFF):
            raise ValueError("rows and cols must be in 1..65535")
        if self.end_date < self.start_date:
            raise ValueError("end_date is before start_date")
        if not 0.0 <= self.non_ascii <= 1.0:
            raise ValueError("non_ascii is a share, 0..1")
        longest = (f"{_uid_prefix(self)}3.{self.patients}.{self.studies[1]}."
                   f"{self.series[1]}.{self.instances[1]}")
        if len(longest) > 64:
            raise ValueError(f"counts too large for 64-character UIDs: {longest}")


@dataclass(frozen=True, slots=True)
class ArchiveStats:
    """What :func:`write_archive` wrote."""

    patients: int
    studies: int
    series: int
    instances: int
    protocols: int
    files: int
    bytes: int


def _run_id(key: str) -> int:
    return int(hashlib.sha256(key.encode()).hexdigest()[:16], 16) % 10**8


@lru_cache(maxsize=64)
def _uid_prefix(spec: GenerateSpec) -> str:
    key = (f"{_SALT}|{spec.seed}|{spec.studies}|{spec.series}|{spec.instances}|"
           f"{spec.rows}x{spec.cols}|{spec.start_date}|{spec.end_date}|{spec.non_ascii}")
    return f"{GENERATOR_UID_ROOT}{_run_id(key)}."


def _name(rng: random.Random, sex: str) -> str:
    given = rng.choice(_GIVEN_F if sex == "F" or (sex == "O" and rng.random() < 0.5)
                       else _GIVEN_M)
    name = f"{rng.choice(_SURNAMES)}^{given}"
    roll = rng.random()
    if roll < 0.15:
        name += f"^{rng.choice(_GIVEN_M + _GIVEN_F)}"
    elif roll < 0.3:
        name += f"^{rng.choice('ABCDEFGHJKLMNPRSTW')}"
    return name


def _da(ordinal: int) -> str:
    return date.fromordinal(ordinal).strftime("%Y%m%d")


def _walk(spec: GenerateSpec) -> Iterator[tuple[int, int, int, InstanceAttrs]]:
    """(study, series, instance number, record) of every instance, in order."""
    prefix = _uid_prefix(spec)
    first_day = spec.start_date.toordinal()
    days = spec.end_date.toordinal() - first_day
    birth_last = max(first_day - 1, _DAY_FIRST_BIRTH)
    birth_first = min(_DAY_FIRST_BIRTH, birth_last)
    (st_lo, st_hi), (se_lo, se_hi), (in_lo, in_hi) = spec.studies, spec.series, spec.instances
    transfer_syntax = str(ExplicitVRLittleEndian)
    for p in range(1, spec.patients + 1):
        rng = random.Random(f"{_SALT}:{spec.seed}:{p}")
        charset = ""
        if rng.random() < spec.non_ascii:
            name, sex = rng.choice(_NON_ASCII_NAMES)
            charset = "ISO_IR 192"
        else:
            sex = rng.choices("MFO", (48, 48, 4))[0]
            name = _name(rng, sex)
        patient = {
            "SpecificCharacterSet": charset,
            "PatientName": name,
            "PatientID": f"PAT{spec.seed}-{p:06d}",
            "PatientBirthDate": _da(rng.randint(birth_first, birth_last)),
            "PatientSex": sex,
            "TransferSyntaxUID": transfer_syntax,
        }
        for s in range(1, rng.randint(st_lo, st_hi) + 1):
            kind = rng.choices(_STUDY_TYPES, _STUDY_WEIGHTS)[0]
            study = {
                **patient,
                "StudyDate": _da(first_day + rng.randint(0, days)),
                "StudyTime": f"{rng.randint(7, 19):02d}{rng.randint(0, 59):02d}"
                             f"{rng.randint(0, 59):02d}",
                "AccessionNumber": f"A{p:07d}{s:03d}",
                "ReferringPhysicianName": rng.choice(_PHYSICIANS),
                "StudyDescription": kind.description,
                "BodyPartExamined": kind.body_part,
                "StudyInstanceUID": f"{prefix}1.{p}.{s}",
                "StudyID": str(rng.randint(1000, 99999)),
            }
            for se in range(1, rng.randint(se_lo, se_hi) + 1):
                modality = rng.choice(kind.modalities)
                base = {
                    **study,
                    "Modality": modality,
                    "SOPClassUID": SOP_CLASS_BY_MODALITY[modality],
                    "SeriesDescription": rng.choice(_SERIES_DESCRIPTIONS[modality]),
                    "SeriesInstanceUID": f"{prefix}2.{p}.{s}.{se}",
                    "SeriesNumber": str(se),
                }
                head = f"{prefix}3.{p}.{s}.{se}."
                for n in range(1, rng.randint(in_lo, in_hi) + 1):
                    attrs = base.copy()
                    attrs["InstanceNumber"] = str(n)
                    attrs["SOPInstanceUID"] = f"{head}{n}"
                    yield s, se, n, attrs


def iter_instances(spec: GenerateSpec) -> Iterator[InstanceAttrs]:
    """Every instance of the archive ``spec`` describes, as a light record
    (patient by patient, study by study, series by series)."""
    for *_, attrs in _walk(spec):
        yield attrs


# -- encoding ---------------------------------------------------------------------------

@lru_cache(maxsize=8)
def _pixel_data(rows: int, cols: int) -> bytes:
    """A 12-bit diagonal ramp, 16 bits a pixel, little endian."""
    row = array.array("H", (x % 4096 for x in range(cols + rows)))
    if sys.byteorder == "big":
        row.byteswap()
    raw = row.tobytes()
    return b"".join(raw[2 * y:2 * (y + cols)] for y in range(rows))


#: The Image Pixel attributes every instance has: (keyword, VR, value).
def _image_elements(rows: int, cols: int) -> tuple[tuple[str, str, int | str | bytes], ...]:
    return (
        ("SamplesPerPixel", "US", 1),
        ("PhotometricInterpretation", "CS", "MONOCHROME2"),
        ("Rows", "US", rows),
        ("Columns", "US", cols),
        ("BitsAllocated", "US", 16),
        ("BitsStored", "US", 12),
        ("HighBit", "US", 11),
        ("PixelRepresentation", "US", 0),
        ("PixelData", "OW", _pixel_data(rows, cols)),
    )


def _element(keyword: str, vr: str, raw: bytes) -> bytes:
    """One Explicit VR Little Endian element; ``raw`` already even-padded."""
    tag = tag_for_keyword(keyword)
    assert tag is not None
    bvr = vr.encode()
    if bvr in LONG_LENGTH_VRS:
        return struct.pack("<HH2sHI", tag >> 16, tag & 0xFFFF, bvr, 0, len(raw)) + raw
    return struct.pack("<HH2sH", tag >> 16, tag & 0xFFFF, bvr, len(raw)) + raw


@lru_cache(maxsize=8)
def _image_tail(rows: int, cols: int) -> bytes:
    parts = []
    for keyword, vr, value in _image_elements(rows, cols):
        if isinstance(value, int):
            raw = struct.pack("<H", value)
        elif isinstance(value, str):
            raw = value.encode() + (b" " if len(value) % 2 else b"")
        else:
            raw = value
        parts.append(_element(keyword, vr, raw))
    return b"".join(parts)


def _head(keyword: str) -> tuple[str, bytes, bytes]:
    tag = tag_for_keyword(keyword)
    assert tag is not None
    vr = dictionary_VR(tag)
    assert vr.encode() not in LONG_LENGTH_VRS
    return keyword, struct.pack("<HH2s", tag >> 16, tag & 0xFFFF, vr.encode()), (
        b"\x00" if vr == "UI" else b" ")


_HEADS: Final = tuple(_head(k) for k in _DATASET_KEYWORDS)
_pack_length = struct.Struct("<H").pack


def _encode(attrs: InstanceAttrs, tail: bytes) -> bytes:
    """The dataset of a record, Explicit VR Little Endian.  Values are
    ASCII except person names under ISO_IR 192, so UTF-8 encodes them all."""
    parts: list[bytes] = []
    add = parts.append
    for keyword, head, pad in _HEADS:
        value = attrs[keyword]
        if not value and keyword == "SpecificCharacterSet":
            continue
        raw = value.encode()
        if len(raw) & 1:
            raw += pad
        add(head)
        add(_pack_length(len(raw)))
        add(raw)
    add(tail)
    return b"".join(parts)


def encode_record(attrs: InstanceAttrs) -> bytes:
    """A record's attributes as an Explicit VR Little Endian data set (what
    the archive keeps of an instance, without pixel data)."""
    return _encode(attrs, b"")


def _file_meta(sop_class_uid: str, sop_instance_uid: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(sop_class_uid)
    meta.MediaStorageSOPInstanceUID = UID(sop_instance_uid)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = UID(IMPLEMENTATION_CLASS_UID)
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
    return meta


def to_dataset(attrs: InstanceAttrs, spec: GenerateSpec) -> FileDataset:
    """The Part 10 dataset (with File Meta Information) ``attrs`` stands for."""
    meta = _file_meta(attrs["SOPClassUID"], attrs["SOPInstanceUID"])
    ds = FileDataset("", Dataset(), preamble=b"\x00" * 128, file_meta=meta)
    for keyword in _DATASET_KEYWORDS:
        value = attrs[keyword]
        if keyword == "SpecificCharacterSet" and not value:
            continue
        setattr(ds, keyword, value)
    for keyword, vr, element_value in _image_elements(spec.rows, spec.cols):
        tag = tag_for_keyword(keyword)
        assert tag is not None
        ds.add_new(tag, vr, element_value)
    return ds


def write_archive(spec: GenerateSpec, out_dir: str | Path, *, flat: bool = False) -> ArchiveStats:
    """Write the archive ``spec`` describes (and ``spec.protocols`` protocol
    objects) under ``out_dir`` as Part 10 files (layout: module docstring)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tail = _image_tail(spec.rows, spec.cols)
    patients = studies = series = instances = size = 0
    folder = out
    for s, se, n, attrs in _walk(spec):
        if n == 1:
            series += 1
            if se == 1:
                studies += 1
                patients += s == 1
            if not flat:
                folder = out / attrs["PatientID"] / f"{s:03d}" / f"{se:03d}"
                folder.mkdir(parents=True, exist_ok=True)
        meta = encode_file_meta(
            sop_class_uid=attrs["SOPClassUID"], sop_instance_uid=attrs["SOPInstanceUID"],
            transfer_syntax_uid=attrs["TransferSyntaxUID"],
            implementation_class_uid=IMPLEMENTATION_CLASS_UID,
            implementation_version_name=IMPLEMENTATION_VERSION_NAME)
        data = meta + _encode(attrs, tail)
        name = f"{attrs['SOPInstanceUID']}.dcm" if flat else f"{n:05d}.dcm"
        with open(folder / name, "wb") as f:
            f.write(data)
        size += len(data)
        instances += 1
    protocols = 0
    if spec.protocols:
        folder = out / "protocols"
        folder.mkdir(exist_ok=True)
        from .protocols import protocol_objects  # it builds on this module

        for ds in protocol_objects(spec.protocols, spec.seed):
            path = folder / f"{ds.SOPInstanceUID}.dcm"
            pydicom.dcmwrite(path, ds, enforce_file_format=True)
            size += path.stat().st_size
            protocols += 1
    return ArchiveStats(patients=patients, studies=studies, series=series, instances=instances,
                        protocols=protocols, files=instances + protocols, bytes=size)


def write_files(spec: GenerateSpec, out_dir: str | Path, *, flat: bool = False) -> int:
    """:func:`write_archive`, returning the number of files written."""
    return write_archive(spec, out_dir, flat=flat).files
