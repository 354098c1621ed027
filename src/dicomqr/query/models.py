"""The Query/Retrieve information models of PS3.4 as data.

One :class:`InformationModel` per :class:`~dicomqr.uids.QRModel`: its levels
(the values of Query/Retrieve Level (0008,0052)) top-down, and at each level
its keys, each Unique (U), Required (R) or Optional (O) as PS3.4 tables give
them.

Every table below was checked against the PS3.4 text (an edition after
2017a: it carries Annex II and the 2017a retirement of Other Patient IDs);
where this module used to differ from the tables, the table won and the
change is noted next to the data.

Sources (PS3.4):

- C.6.1 Patient Root: Tables C.6-1 (PATIENT), C.6-2 (STUDY), C.6-3 (SERIES),
  C.6-4 (IMAGE).
- C.6.2 Study Root: Table C.6-5 (STUDY, which carries the patient
  attributes), then C.6-3 and C.6-4 as in Patient Root (C.6.2.1.3,
  C.6.2.1.4).
- C.6.3 Patient/Study Only (retired, "see PS 3.4-2004"): the PATIENT and
  STUDY levels of Patient Root.
- Annex Y Composite Instance Root Retrieve: two levels, IMAGE (Table Y.6-1)
  and FRAME (Table Y.6-2).  Exactly one of the three frame-level keys is
  present in a FRAME request (Y.6.1.1.3), so that level has three
  alternative unique keys; :meth:`InformationModel.unique_keys` gives all of
  them.
- Annex Z Without Bulk Data: retrieve only, Query/Retrieve Level shall be
  IMAGE and the identifier holds SOP Instance UID(s) (Z.4.2.1.3.1,
  Table Z.6-1).
- Annexes X (Color Palette, Table X.6-1), HH (Defined Procedure Protocol,
  Table HH.6-1) and II (Protocol Approval, Table II.6-1): a single entity
  whose C-FIND uses the Basic Worklist "Worklist" search method, so
  identifiers carry no Query/Retrieve Level (``uses_qr_level`` is false; a
  C-MOVE identifier shall not carry one, X.4.2, HH.4.2, II.4.2); the level
  is named after the entity.  Their keys are the top-level attributes of
  the tables: Matching Key Type U or R as given, and the ones with none
  ("-", return keys only) listed as OPTIONAL.  Specific Character Set,
  which those tables list with "-", is not a key and is left out.

Optional keys are the ones the tables name; every C.6 table also ends in
"all other attributes at this level: O", which no finite list can hold — an
attribute absent from these tables is not thereby refused.  Sequence
sub-keys (the ">" rows, e.g. the U-typed Institutional Department Name
inside Table II.6-1's Approval Sequence) are not modelled.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from pydicom.datadict import tag_for_keyword

from ..uids import QRModel, qr_sop_class

__all__ = [
    "COLOR_PALETTE",
    "COMPOSITE_INSTANCE_ROOT",
    "DEFINED_PROCEDURE_PROTOCOL",
    "FRAME",
    "IMAGE",
    "MODELS",
    "PATIENT",
    "PATIENT_ROOT",
    "PATIENT_STUDY_ONLY",
    "PROTOCOL_APPROVAL",
    "SERIES",
    "STUDY",
    "STUDY_ROOT",
    "WITHOUT_BULK_DATA",
    "InformationModel",
    "Key",
    "KeyKind",
    "Level",
    "model_for",
]

PATIENT: Final = "PATIENT"
STUDY: Final = "STUDY"
SERIES: Final = "SERIES"
IMAGE: Final = "IMAGE"
FRAME: Final = "FRAME"


class KeyKind(enum.Enum):
    """PS3.4 C.1.2 key types."""

    UNIQUE = "U"
    REQUIRED = "R"
    OPTIONAL = "O"


@dataclass(frozen=True, slots=True)
class Key:
    """One key attribute: its keyword, its tag (as an int) and its kind."""

    keyword: str
    tag: int
    kind: KeyKind


@dataclass(frozen=True, slots=True)
class Level:
    """One level of a model: its name and its keys, unique first."""

    name: str
    keys: tuple[Key, ...]

    def key(self, keyword: str) -> Key | None:
        for k in self.keys:
            if k.keyword == keyword:
                return k
        return None


@dataclass(frozen=True, slots=True)
class InformationModel:
    """A Query/Retrieve information model.

    ``levels`` are top-down.  ``hierarchical`` is true when a request at a
    level must carry the unique keys of the levels above it (PS3.4
    C.4.1.3.1.1 baseline behaviour; relational queries are an extended
    negotiation on top).  ``uses_qr_level`` is false for the single-entity
    models whose identifiers carry no Query/Retrieve Level (0008,0052).
    """

    model: QRModel
    levels: tuple[Level, ...]
    hierarchical: bool
    uses_qr_level: bool = True

    @property
    def level_names(self) -> tuple[str, ...]:
        return tuple(lv.name for lv in self.levels)

    def level(self, name: str) -> Level:
        """The level called ``name``; :class:`KeyError` if the model has none."""
        for lv in self.levels:
            if lv.name == name:
                return lv
        raise KeyError(f"{self.model.value} has no {name!r} level")

    def keys_at(self, level: str) -> tuple[Key, ...]:
        return self.level(level).keys

    def unique_keys(self, level: str) -> tuple[Key, ...]:
        return tuple(k for k in self.keys_at(level) if k.kind is KeyKind.UNIQUE)

    def unique_key(self, level: str) -> Key:
        """The unique key of ``level`` (the first, for Annex Y's FRAME level,
        whose three frame keys are alternatives; see :meth:`unique_keys`)."""
        return self.unique_keys(level)[0]

    def required_keys(self, level: str) -> tuple[Key, ...]:
        return tuple(k for k in self.keys_at(level) if k.kind is KeyKind.REQUIRED)

    def level_of(self, keyword: str) -> str | None:
        """The name of the level ``keyword`` is a key of, or ``None``."""
        for lv in self.levels:
            if lv.key(keyword) is not None:
                return lv.name
        return None

    def levels_above(self, level: str) -> tuple[Level, ...]:
        """The levels strictly above ``level``, top-down."""
        names = self.level_names
        if level not in names:
            raise KeyError(f"{self.model.value} has no {level!r} level")
        return self.levels[: names.index(level)]


def _key(keyword: str, kind: KeyKind) -> Key:
    tag = tag_for_keyword(keyword)
    if tag is None:
        raise ValueError(f"{keyword!r} is not a DICOM keyword")
    return Key(keyword, tag, kind)


def _level(name: str, unique: Iterable[str], required: Iterable[str] = (),
           optional: Iterable[str] = ()) -> Level:
    return Level(name, (
        *(_key(k, KeyKind.UNIQUE) for k in unique),
        *(_key(k, KeyKind.REQUIRED) for k in required),
        *(_key(k, KeyKind.OPTIONAL) for k in optional),
    ))


# -- Annex C.6 -------------------------------------------------------------

# Table C.6-1, besides Patient's Name (R) and Patient ID (U).  Other Patient
# IDs (0010,1000) is no longer listed (retired, table note 3: "see PS3.4
# 2017a").  Issuer of Patient ID Qualifiers Sequence is not in the table of
# the edition checked; it stays as one of the "all other attributes" (O).
_PATIENT_DEMOGRAPHICS: Final = (
    "IssuerOfPatientID",
    "IssuerOfPatientIDQualifiersSequence",
    "ReferencedPatientSequence",
    "PatientBirthDate",
    "PatientBirthTime",
    "PatientSex",
    "OtherPatientIDsSequence",
    "OtherPatientNames",
    "EthnicGroup",
    "PatientComments",
)
# Table C.6-1 only: Table C.6-5 (Study Root) does not list these three.
_PATIENT_COUNTS: Final = (
    "NumberOfPatientRelatedStudies",
    "NumberOfPatientRelatedSeries",
    "NumberOfPatientRelatedInstances",
)
_PATIENT_OPTIONAL: Final = (*_PATIENT_DEMOGRAPHICS, *_PATIENT_COUNTS)
_STUDY_REQUIRED: Final = ("StudyDate", "StudyTime", "AccessionNumber", "StudyID")
# Table C.6-2 (and the study part of C.6-5).
_STUDY_OPTIONAL: Final = (
    "ModalitiesInStudy",
    "SOPClassesInStudy",
    "AnatomicRegionsInStudyCodeSequence",
    "ReferringPhysicianName",
    "StudyDescription",
    "ProcedureCodeSequence",
    "NameOfPhysiciansReadingStudy",
    "AdmittingDiagnosesDescription",
    "ReferencedStudySequence",
    "PatientAge",
    "PatientSize",
    "PatientWeight",
    "Occupation",
    "AdditionalPatientHistory",
    "OtherStudyNumbers",
    "NumberOfStudyRelatedSeries",
    "NumberOfStudyRelatedInstances",
    # Interpretation Author (retired) is not in Table C.6-2: dropped.
)
_SERIES: Final = _level(
    SERIES, ["SeriesInstanceUID"], ["Modality", "SeriesNumber"],
    ["NumberOfSeriesRelatedInstances"],
)
# Table C.6-4.  (The concatenation attributes this list used to name are not
# in the table; like any other instance-level attribute they are optional.)
_IMAGE: Final = _level(
    IMAGE, ["SOPInstanceUID"], ["InstanceNumber"],
    ["SOPClassUID", "AvailableTransferSyntaxUID", "AlternateRepresentationSequence",
     "RelatedGeneralSOPClassUID", "ConceptNameCodeSequence", "ContentTemplateSequence",
     "ContainerIdentifier", "SpecimenDescriptionSequence"],
)
_PATIENT: Final = _level(PATIENT, ["PatientID"], ["PatientName"], _PATIENT_OPTIONAL)
_STUDY: Final = _level(STUDY, ["StudyInstanceUID"], _STUDY_REQUIRED, _STUDY_OPTIONAL)
# Table C.6-5: the patient keys move to STUDY; Patient ID becomes required.
# The Number of Patient Related Studies/Series/Instances keys of Table C.6-1
# are not carried over (there is no patient level to count at).
_STUDY_ROOT_STUDY: Final = _level(
    STUDY, ["StudyInstanceUID"],
    [*_STUDY_REQUIRED, "PatientName", "PatientID"],
    [*_STUDY_OPTIONAL, *_PATIENT_DEMOGRAPHICS],
)

PATIENT_ROOT: Final = InformationModel(
    QRModel.PATIENT_ROOT, (_PATIENT, _STUDY, _SERIES, _IMAGE), hierarchical=True)
STUDY_ROOT: Final = InformationModel(
    QRModel.STUDY_ROOT, (_STUDY_ROOT_STUDY, _SERIES, _IMAGE), hierarchical=True)
PATIENT_STUDY_ONLY: Final = InformationModel(
    QRModel.PATIENT_STUDY_ONLY, (_PATIENT, _STUDY), hierarchical=True)

# -- Annex Y, Annex Z -------------------------------------------------------

COMPOSITE_INSTANCE_ROOT: Final = InformationModel(
    QRModel.COMPOSITE_INSTANCE_ROOT,
    (
        _level(IMAGE, ["SOPInstanceUID"]),
        # Table Y.6-2: one and only one of these in a FRAME-level request.
        _level(FRAME, ["SimpleFrameList", "CalculatedFrameList", "TimeRange"]),
    ),
    hierarchical=True,
)
WITHOUT_BULK_DATA: Final = InformationModel(
    QRModel.WITHOUT_BULK_DATA, (_level(IMAGE, ["SOPInstanceUID"]),), hierarchical=False)

# -- Annexes HH, II, X: single entity, no Query/Retrieve Level ------------------

DEFINED_PROCEDURE_PROTOCOL: Final = InformationModel(
    QRModel.DEFINED_PROCEDURE_PROTOCOL,
    (_level(
        "DEFINED_PROCEDURE_PROTOCOL", ["SOPInstanceUID"],
        # Table HH.6-1, top level, in table order: SOP Common, Protocol
        # Context, Clinical Trial Context, Equipment Specification, Patient
        # Positioning, every row with Matching Key Type R.  (Checked against
        # the table: the earlier list, written without it, had Modality
        # instead of Equipment Modality (0008,0221), keys the table does not
        # have (Contraindications Code Sequence, Referenced Defined Protocol
        # Sequence, Protocol Planning Information, Protocol Design Rationale),
        # the return-only Potential Reasons for Procedure and Potential
        # Diagnostic Tasks as required, Model Specification Sequence as
        # optional, and lacked ten of the R keys.)
        ["SOPClassUID",
         "CustodialOrganizationSequence", "ResponsibleGroupCodeSequence", "ProtocolName",
         "PotentialScheduledProtocolCodeSequence",
         "PotentialRequestedProcedureCodeSequence",
         "PotentialReasonsForProcedureCodeSequence",
         "PredecessorProtocolSequence", "ContentCreatorName",
         "InstanceCreationDate", "InstanceCreationTime",
         "ClinicalTrialSponsorName", "ClinicalTrialProtocolID",
         "EquipmentModality", "ModelSpecificationSequence",
         "AnatomicRegionSequence", "PrimaryAnatomicStructureSequence"],
        # Matching Key Type "-" (return keys only).
        ["PotentialReasonsForProcedure", "PotentialDiagnosticTasks"],
    ),),
    hierarchical=False, uses_qr_level=False,
)
PROTOCOL_APPROVAL: Final = InformationModel(
    QRModel.PROTOCOL_APPROVAL,
    (_level(
        "PROTOCOL_APPROVAL", ["SOPInstanceUID"],
        # Table II.6-1, top level, Matching Key Type R.  Approval Sequence
        # (0044,0100) is R in the table (it was listed as optional here
        # before the check).
        ["SOPClassUID", "InstanceCreationDate", "InstanceCreationTime",
         "ApprovalSubjectSequence", "ApprovalSequence"],
        # The Enhanced General Equipment rows, Matching Key Type "-".
        ["Manufacturer", "ManufacturerModelName", "SoftwareVersions"],
    ),),
    hierarchical=False, uses_qr_level=False,
)
COLOR_PALETTE: Final = InformationModel(
    QRModel.COLOR_PALETTE,
    (_level(
        "COLOR_PALETTE", ["SOPInstanceUID"],
        # Table X.6-1 (R), then the "-" rows.
        ["SOPClassUID", "ContentLabel"],
        ["ContentDescription", "ContentCreatorName", "AlternateContentDescriptionSequence"],
    ),),
    hierarchical=False, uses_qr_level=False,
)

MODELS: Final[Mapping[QRModel, InformationModel]] = MappingProxyType({
    m.model: m for m in (
        PATIENT_ROOT, STUDY_ROOT, PATIENT_STUDY_ONLY, COMPOSITE_INSTANCE_ROOT,
        WITHOUT_BULK_DATA, DEFINED_PROCEDURE_PROTOCOL, PROTOCOL_APPROVAL, COLOR_PALETTE,
    )
})
"""Every information model, by :class:`~dicomqr.uids.QRModel`."""


def model_for(sop_class_uid: str) -> InformationModel | None:
    """The information model of a Q/R SOP class, or ``None`` if ``sop_class_uid``
    is not one of the 21."""
    row = qr_sop_class(sop_class_uid)
    return None if row is None else MODELS[row.model]
