"""The single source of UIDs: transfer syntaxes and SOP classes.

Names and UIDs come from pydicom's UID dictionary (PS3.6 Annex A), so a
pydicom upgrade brings new storage SOP classes and transfer syntaxes with
it.  The *encoding properties* of the transfer syntaxes are stated here, from
PS3.5 §10 and Annex A, and not taken from pydicom: pydicom (3.0) calls every
transfer syntax other than the four native ones "encapsulated", which is
wrong for the JPIP Referenced family (PS3.5 A.6, A.7: native Explicit VR
Little Endian, the deflated ones deflated, with no Pixel Data at all).

Services, the CLI and the conformance generator read these tables; nothing
else in dicomqr spells a UID.  The Query/Retrieve SOP classes and their
information models come with the service classes (see the section at the
end).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

import pydicom.uid as _pu
from pydicom._uid_dict import UID_dictionary as _UID_DICTIONARY

# pydicom's dictionary rows are (name, type, info, retired, keyword).
_NAME, _TYPE, _RETIRED, _KEYWORD = 0, 1, 3, 4


# --- Transfer syntaxes (PS3.5 §10, Annex A) ---------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferSyntax:
    """A transfer syntax and how a data set is encoded in it.

    ``is_encapsulated`` means Pixel Data is in encapsulated (fragmented)
    format (PS3.5 A.4), whether compressed or not (Encapsulated Uncompressed
    Explicit VR Little Endian is encapsulated).  ``is_deflated`` means the
    whole data set after the File Meta Information is deflated (PS3.5 A.5).
    """

    uid: str
    name: str
    keyword: str
    is_implicit_vr: bool
    is_little_endian: bool
    is_deflated: bool
    is_encapsulated: bool
    is_retired: bool = False


IMPLICIT_VR_LITTLE_ENDIAN: Final = str(_pu.ImplicitVRLittleEndian)
EXPLICIT_VR_LITTLE_ENDIAN: Final = str(_pu.ExplicitVRLittleEndian)
DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN: Final = str(_pu.DeflatedExplicitVRLittleEndian)
EXPLICIT_VR_BIG_ENDIAN: Final = str(_pu.ExplicitVRBigEndian)

# pydicom 3.0 has no constants for these two.
_JPIP_REFERENCED: Final = "1.2.840.10008.1.2.4.94"
_JPIP_REFERENCED_DEFLATE: Final = "1.2.840.10008.1.2.4.95"
_JPIP_HTJ2K_REFERENCED: Final = str(_pu.JPIPHTJ2KReferenced)
_JPIP_HTJ2K_REFERENCED_DEFLATE: Final = str(_pu.JPIPHTJ2KReferencedDeflate)

# Native (not encapsulated) syntaxes; everything else listed is encapsulated.
# PS3.5 §10.1 (implicit LE), A.2 (explicit LE), A.3 (explicit BE, retired),
# A.5 (deflated), A.6 / A.7 (JPIP Referenced [Deflate]) and their HTJ2K twins.
_NATIVE: Final = frozenset(
    {
        IMPLICIT_VR_LITTLE_ENDIAN,
        EXPLICIT_VR_LITTLE_ENDIAN,
        DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
        EXPLICIT_VR_BIG_ENDIAN,
        _JPIP_REFERENCED,
        _JPIP_REFERENCED_DEFLATE,
        _JPIP_HTJ2K_REFERENCED,
        _JPIP_HTJ2K_REFERENCED_DEFLATE,
    }
)
_DEFLATED: Final = frozenset(
    {
        DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
        _JPIP_REFERENCED_DEFLATE,
        _JPIP_HTJ2K_REFERENCED_DEFLATE,
    }
)
# Listed by pydicom as transfer syntaxes but never negotiated on a DIMSE
# association: the MIME and XML encodings (retired, PS3.5 A.8/A.9), the
# Papyrus file format, and the SMPTE ST 2110 syntaxes of DICOM-RTV (PS3.22),
# which are not carried by DIMSE.
_NOT_FOR_DIMSE: Final = frozenset(
    {
        "1.2.840.10008.1.2.6.1",  # RFC 2557 MIME encapsulation
        "1.2.840.10008.1.2.6.2",  # XML Encoding
        "1.2.840.10008.1.20",  # Papyrus 3 Implicit VR Little Endian
        "1.2.840.10008.1.2.7.1",  # SMPTE ST 2110-20 progressive video
        "1.2.840.10008.1.2.7.2",  # SMPTE ST 2110-20 interlaced video
        "1.2.840.10008.1.2.7.3",  # SMPTE ST 2110-30 PCM audio
    }
)


def _build_transfer_syntaxes() -> dict[str, TransferSyntax]:
    table: dict[str, TransferSyntax] = {}
    for uid, row in _UID_DICTIONARY.items():
        if row[_TYPE] != "Transfer Syntax" or uid in _NOT_FOR_DIMSE:
            continue
        table[uid] = TransferSyntax(
            uid=uid,
            name=row[_NAME],
            keyword=row[_KEYWORD],
            is_implicit_vr=uid == IMPLICIT_VR_LITTLE_ENDIAN,
            is_little_endian=uid != EXPLICIT_VR_BIG_ENDIAN,
            is_deflated=uid in _DEFLATED,
            is_encapsulated=uid not in _NATIVE,
            is_retired=row[_RETIRED] == "Retired",
        )
    return table


TRANSFER_SYNTAXES: Final[Mapping[str, TransferSyntax]] = MappingProxyType(
    _build_transfer_syntaxes()
)
"""Every transfer syntax usable on an association, by UID."""


UNCOMPRESSED_TRANSFER_SYNTAXES: Final[tuple[str, ...]] = (
    EXPLICIT_VR_LITTLE_ENDIAN,
    IMPLICIT_VR_LITTLE_ENDIAN,
    EXPLICIT_VR_BIG_ENDIAN,
)
"""The native, not deflated syntaxes, in the order we propose them."""

STORABLE_TRANSFER_SYNTAXES: Final[tuple[str, ...]] = (
    *UNCOMPRESSED_TRANSFER_SYNTAXES,
    *(uid for uid in TRANSFER_SYNTAXES if uid not in UNCOMPRESSED_TRANSFER_SYNTAXES),
)
"""Every syntax a storage SCP can accept as-is: the uncompressed ones first."""


def transfer_syntax(uid: str) -> TransferSyntax:
    """The :class:`TransferSyntax` for ``uid``; ``KeyError`` if unknown.

    Use ``TRANSFER_SYNTAXES.get(uid)`` to test without an exception.
    """
    try:
        return TRANSFER_SYNTAXES[uid]
    except KeyError:
        raise KeyError(f"unknown transfer syntax UID {uid!r}") from None


# --- SOP classes ------------------------------------------------------------

VERIFICATION_SOP_CLASS: Final = "1.2.840.10008.1.1"
MEDIA_STORAGE_DIRECTORY_STORAGE: Final = "1.2.840.10008.1.3.10"
"""DICOMDIR (PS3.10): a media file, never sent with C-STORE."""
"""Verification SOP Class (PS3.4 Annex A), the abstract syntax of C-ECHO."""

# Storage SOP classes (PS3.4 Annex B, Table B.5-1, and the retired ones,
# which an archive should still accept).  pydicom's dictionary has no
# "storage" column, so they are picked by name: a SOP class whose name, with
# the " - For Presentation" / " - For Processing" / " - Trial" qualifier and
# a " SOP Class" suffix removed, ends in "Storage".  That keeps "Digital
# X-Ray Image Storage - For Presentation" and the retired "Hardcopy Color
# Image Storage SOP Class", and leaves out "Storage Commitment Push Model SOP
# Class".  Excluded by hand:
_NOT_STORAGE: Final = frozenset(
    {
        # Media Storage Directory Storage: DICOMDIR, media only (PS3.10), never
        # sent with C-STORE.
        MEDIA_STORAGE_DIRECTORY_STORAGE,
    }
)
_QUALIFIERS: Final = (" - For Presentation", " - For Processing", " - Trial", " SOP Class")


def _is_storage_name(name: str) -> bool:
    for qualifier in _QUALIFIERS:
        name = name.removesuffix(qualifier)
    return name.endswith("Storage")


def _build_storage() -> tuple[dict[str, str], frozenset[str]]:
    classes: dict[str, str] = {}
    retired: set[str] = set()
    for uid, row in _UID_DICTIONARY.items():
        if row[_TYPE] != "SOP Class" or uid in _NOT_STORAGE or not _is_storage_name(row[_NAME]):
            continue
        classes[uid] = row[_NAME]
        if row[_RETIRED] == "Retired":
            retired.add(uid)
    return classes, frozenset(retired)


_storage, _retired_storage = _build_storage()

STORAGE_SOP_CLASSES: Final[Mapping[str, str]] = MappingProxyType(_storage)
"""Every storage SOP class, current and retired: UID -> name."""

RETIRED_STORAGE_SOP_CLASSES: Final[frozenset[str]] = _retired_storage
"""The UIDs of :data:`STORAGE_SOP_CLASSES` that PS3.6 lists as retired."""


def is_storage_sop_class(uid: str) -> bool:
    """True for a (current or retired) storage SOP class UID."""
    return uid in STORAGE_SOP_CLASSES


# --- Names -------------------------------------------------------------------


def name_of(uid: str) -> str:
    """The PS3.6 name of any UID pydicom knows (``CT Image Storage``), else ``uid``."""
    row = _UID_DICTIONARY.get(uid)
    return row[_NAME] if row and row[_NAME] else uid


def short_name_of(uid: str) -> str:
    """The PS3.6 keyword of a UID (``ExplicitVRLittleEndian``), else ``uid``."""
    row = _UID_DICTIONARY.get(uid)
    return row[_KEYWORD] if row and row[_KEYWORD] else uid


# --- Query/Retrieve ---------------------------------------------------------
# The Q/R SOP classes of the seeds (PS3.4 Annexes C, U, X, Y, Z, HH, II), the
# information model each belongs to and the operation (FIND/GET/MOVE) it
# serves are added here with the service classes: one table, read by the
# services, the CLI and the conformance generator.
#
# Kept inside this section on purpose (the rest of the module is not touched),
# hence the late imports.

import enum as _enum  # noqa: E402
from collections.abc import Iterable as _Iterable  # noqa: E402


class QRService(_enum.StrEnum):
    """The DIMSE-C operation a Q/R SOP class is for (PS3.4 C.4.1, C.4.2, C.4.3)."""

    FIND = "FIND"
    GET = "GET"
    MOVE = "MOVE"

    @property
    def dimse(self) -> str:
        """The DIMSE service name: ``C-FIND``, ``C-GET`` or ``C-MOVE``."""
        return f"C-{self.value}"


class QRModel(_enum.Enum):
    """The information model a Q/R SOP class queries or retrieves from.

    The value is the model's name; :attr:`annex` is the PS3.4 annex that
    defines it and :attr:`service_class` the service class it belongs to,
    which decides the status table its responses are read against
    (:mod:`dicomqr.status`).
    """

    PATIENT_ROOT = "Patient Root Query/Retrieve Information Model"
    STUDY_ROOT = "Study Root Query/Retrieve Information Model"
    PATIENT_STUDY_ONLY = "Patient/Study Only Query/Retrieve Information Model"
    COMPOSITE_INSTANCE_ROOT = "Composite Instance Root Information Model"
    WITHOUT_BULK_DATA = "Composite Instance Retrieve Without Bulk Data Information Model"
    DEFINED_PROCEDURE_PROTOCOL = "Defined Procedure Protocol Information Model"
    PROTOCOL_APPROVAL = "Protocol Approval Information Model"
    COLOR_PALETTE = "Color Palette Query/Retrieve Information Model"

    @property
    def annex(self) -> str:
        """Where PS3.4 defines the model, e.g. ``C.6.2`` or ``HH``."""
        return _QR_MODEL_ANNEX[self]

    @property
    def service_class(self) -> str:
        """The PS3.4 service class the model belongs to."""
        return _QR_MODEL_SERVICE_CLASS[self]


_QR_MODEL_ANNEX: Final[Mapping[QRModel, str]] = MappingProxyType({
    QRModel.PATIENT_ROOT: "C.6.1",
    QRModel.STUDY_ROOT: "C.6.2",
    QRModel.PATIENT_STUDY_ONLY: "C.6.3",
    QRModel.COMPOSITE_INSTANCE_ROOT: "Y",
    QRModel.WITHOUT_BULK_DATA: "Z",
    QRModel.DEFINED_PROCEDURE_PROTOCOL: "HH",
    QRModel.PROTOCOL_APPROVAL: "II",
    QRModel.COLOR_PALETTE: "X",
})

QR_SERVICE_CLASS: Final = "Query/Retrieve"
DEFINED_PROCEDURE_PROTOCOL_QR_SERVICE_CLASS: Final = "Defined Procedure Protocol Query/Retrieve"
PROTOCOL_APPROVAL_QR_SERVICE_CLASS: Final = "Protocol Approval Query/Retrieve"
COLOR_PALETTE_QR_SERVICE_CLASS: Final = "Color Palette Query/Retrieve"

# Composite Instance Root Retrieve (Annex Y) and Composite Instance Retrieve
# Without Bulk Data (Annex Z) are services of the Query/Retrieve Service
# Class itself and answer with its statuses (PS3.4 C.4.2, C.4.3).
_QR_MODEL_SERVICE_CLASS: Final[Mapping[QRModel, str]] = MappingProxyType({
    QRModel.PATIENT_ROOT: QR_SERVICE_CLASS,
    QRModel.STUDY_ROOT: QR_SERVICE_CLASS,
    QRModel.PATIENT_STUDY_ONLY: QR_SERVICE_CLASS,
    QRModel.COMPOSITE_INSTANCE_ROOT: QR_SERVICE_CLASS,
    QRModel.WITHOUT_BULK_DATA: QR_SERVICE_CLASS,
    QRModel.DEFINED_PROCEDURE_PROTOCOL: DEFINED_PROCEDURE_PROTOCOL_QR_SERVICE_CLASS,
    QRModel.PROTOCOL_APPROVAL: PROTOCOL_APPROVAL_QR_SERVICE_CLASS,
    QRModel.COLOR_PALETTE: COLOR_PALETTE_QR_SERVICE_CLASS,
})


@dataclass(frozen=True, slots=True, kw_only=True)
class QRSOPClass:
    """One Query/Retrieve SOP class: its UID, PS3.6 name and keyword, the
    operation it serves and the information model it works on."""

    uid: str
    name: str
    keyword: str
    service: QRService
    model: QRModel
    retired: bool = False

    @property
    def dimse(self) -> str:
        """``C-FIND``, ``C-GET`` or ``C-MOVE``."""
        return self.service.dimse


# The UIDs of the 21 SOP classes of the seeds, one constant each.  Every UID
# below is the one the seeds give, and each agrees with PS3.6 Table A-1 (as
# carried by pydicom 3.0's UID dictionary).  Disagreements found, where the
# standard wins and this table follows it:
# - the Protocol Approval seed calls its SOP classes
#   ``ProtocolApprovalInformationFind/Move/Get``; PS3.6 keywords are
#   ``ProtocolApprovalInformationModelFind/Move/Get``;
# - the Color Palette seed calls them ``ColorPaletteInformationModelFind``
#   etc.; PS3.6 keywords are ``ColorPaletteQueryRetrieveInformationModelFind``
#   etc.;
# - the seeds do not say that the three Patient/Study Only SOP classes are
#   retired; PS3.6 (and PS3.4 C.6.3) retire them, so ``retired=True`` here.
#   They are still served: old peers propose them.
PATIENT_ROOT_QR_FIND: Final = "1.2.840.10008.5.1.4.1.2.1.1"
PATIENT_ROOT_QR_MOVE: Final = "1.2.840.10008.5.1.4.1.2.1.2"
PATIENT_ROOT_QR_GET: Final = "1.2.840.10008.5.1.4.1.2.1.3"
STUDY_ROOT_QR_FIND: Final = "1.2.840.10008.5.1.4.1.2.2.1"
STUDY_ROOT_QR_MOVE: Final = "1.2.840.10008.5.1.4.1.2.2.2"
STUDY_ROOT_QR_GET: Final = "1.2.840.10008.5.1.4.1.2.2.3"
PATIENT_STUDY_ONLY_QR_FIND: Final = "1.2.840.10008.5.1.4.1.2.3.1"
PATIENT_STUDY_ONLY_QR_MOVE: Final = "1.2.840.10008.5.1.4.1.2.3.2"
PATIENT_STUDY_ONLY_QR_GET: Final = "1.2.840.10008.5.1.4.1.2.3.3"
COMPOSITE_INSTANCE_ROOT_RETRIEVE_MOVE: Final = "1.2.840.10008.5.1.4.1.2.4.2"
COMPOSITE_INSTANCE_ROOT_RETRIEVE_GET: Final = "1.2.840.10008.5.1.4.1.2.4.3"
COMPOSITE_INSTANCE_RETRIEVE_WITHOUT_BULK_DATA_GET: Final = "1.2.840.10008.5.1.4.1.2.5.3"
DEFINED_PROCEDURE_PROTOCOL_FIND: Final = "1.2.840.10008.5.1.4.20.1"
DEFINED_PROCEDURE_PROTOCOL_MOVE: Final = "1.2.840.10008.5.1.4.20.2"
DEFINED_PROCEDURE_PROTOCOL_GET: Final = "1.2.840.10008.5.1.4.20.3"
PROTOCOL_APPROVAL_FIND: Final = "1.2.840.10008.5.1.4.1.1.200.4"
PROTOCOL_APPROVAL_MOVE: Final = "1.2.840.10008.5.1.4.1.1.200.5"
PROTOCOL_APPROVAL_GET: Final = "1.2.840.10008.5.1.4.1.1.200.6"
COLOR_PALETTE_FIND: Final = "1.2.840.10008.5.1.4.39.2"
COLOR_PALETTE_MOVE: Final = "1.2.840.10008.5.1.4.39.3"
COLOR_PALETTE_GET: Final = "1.2.840.10008.5.1.4.39.4"


def _qr(uid: str, name: str, keyword: str, service: QRService, model: QRModel,
        retired: bool = False) -> QRSOPClass:
    return QRSOPClass(uid=uid, name=name, keyword=keyword, service=service, model=model,
                      retired=retired)


_F, _G, _M = QRService.FIND, QRService.GET, QRService.MOVE
_QR_ROWS: Final = (
    # PS3.4 C.6.1: Patient Root
    _qr(PATIENT_ROOT_QR_FIND, "Patient Root Query/Retrieve Information Model - FIND",
        "PatientRootQueryRetrieveInformationModelFind", _F, QRModel.PATIENT_ROOT),
    _qr(PATIENT_ROOT_QR_MOVE, "Patient Root Query/Retrieve Information Model - MOVE",
        "PatientRootQueryRetrieveInformationModelMove", _M, QRModel.PATIENT_ROOT),
    _qr(PATIENT_ROOT_QR_GET, "Patient Root Query/Retrieve Information Model - GET",
        "PatientRootQueryRetrieveInformationModelGet", _G, QRModel.PATIENT_ROOT),
    # PS3.4 C.6.2: Study Root
    _qr(STUDY_ROOT_QR_FIND, "Study Root Query/Retrieve Information Model - FIND",
        "StudyRootQueryRetrieveInformationModelFind", _F, QRModel.STUDY_ROOT),
    _qr(STUDY_ROOT_QR_MOVE, "Study Root Query/Retrieve Information Model - MOVE",
        "StudyRootQueryRetrieveInformationModelMove", _M, QRModel.STUDY_ROOT),
    _qr(STUDY_ROOT_QR_GET, "Study Root Query/Retrieve Information Model - GET",
        "StudyRootQueryRetrieveInformationModelGet", _G, QRModel.STUDY_ROOT),
    # PS3.4 C.6.3: Patient/Study Only (retired)
    _qr(PATIENT_STUDY_ONLY_QR_FIND, "Patient/Study Only Query/Retrieve Information Model - FIND",
        "PatientStudyOnlyQueryRetrieveInformationModelFind", _F, QRModel.PATIENT_STUDY_ONLY,
        retired=True),
    _qr(PATIENT_STUDY_ONLY_QR_MOVE, "Patient/Study Only Query/Retrieve Information Model - MOVE",
        "PatientStudyOnlyQueryRetrieveInformationModelMove", _M, QRModel.PATIENT_STUDY_ONLY,
        retired=True),
    _qr(PATIENT_STUDY_ONLY_QR_GET, "Patient/Study Only Query/Retrieve Information Model - GET",
        "PatientStudyOnlyQueryRetrieveInformationModelGet", _G, QRModel.PATIENT_STUDY_ONLY,
        retired=True),
    # PS3.4 Annex Y: Composite Instance Root Retrieve (no FIND)
    _qr(COMPOSITE_INSTANCE_ROOT_RETRIEVE_MOVE, "Composite Instance Root Retrieve - MOVE",
        "CompositeInstanceRootRetrieveMove", _M, QRModel.COMPOSITE_INSTANCE_ROOT),
    _qr(COMPOSITE_INSTANCE_ROOT_RETRIEVE_GET, "Composite Instance Root Retrieve - GET",
        "CompositeInstanceRootRetrieveGet", _G, QRModel.COMPOSITE_INSTANCE_ROOT),
    # PS3.4 Annex Z: Composite Instance Retrieve Without Bulk Data (GET only)
    _qr(COMPOSITE_INSTANCE_RETRIEVE_WITHOUT_BULK_DATA_GET,
        "Composite Instance Retrieve Without Bulk Data - GET",
        "CompositeInstanceRetrieveWithoutBulkDataGet", _G, QRModel.WITHOUT_BULK_DATA),
    # PS3.4 Annex HH: Defined Procedure Protocol Query/Retrieve
    _qr(DEFINED_PROCEDURE_PROTOCOL_FIND, "Defined Procedure Protocol Information Model - FIND",
        "DefinedProcedureProtocolInformationModelFind", _F, QRModel.DEFINED_PROCEDURE_PROTOCOL),
    _qr(DEFINED_PROCEDURE_PROTOCOL_MOVE, "Defined Procedure Protocol Information Model - MOVE",
        "DefinedProcedureProtocolInformationModelMove", _M, QRModel.DEFINED_PROCEDURE_PROTOCOL),
    _qr(DEFINED_PROCEDURE_PROTOCOL_GET, "Defined Procedure Protocol Information Model - GET",
        "DefinedProcedureProtocolInformationModelGet", _G, QRModel.DEFINED_PROCEDURE_PROTOCOL),
    # PS3.4 Annex II: Protocol Approval Query/Retrieve
    _qr(PROTOCOL_APPROVAL_FIND, "Protocol Approval Information Model - FIND",
        "ProtocolApprovalInformationModelFind", _F, QRModel.PROTOCOL_APPROVAL),
    _qr(PROTOCOL_APPROVAL_MOVE, "Protocol Approval Information Model - MOVE",
        "ProtocolApprovalInformationModelMove", _M, QRModel.PROTOCOL_APPROVAL),
    _qr(PROTOCOL_APPROVAL_GET, "Protocol Approval Information Model - GET",
        "ProtocolApprovalInformationModelGet", _G, QRModel.PROTOCOL_APPROVAL),
    # PS3.4 Annex X: Color Palette Query/Retrieve
    _qr(COLOR_PALETTE_FIND, "Color Palette Query/Retrieve Information Model - FIND",
        "ColorPaletteQueryRetrieveInformationModelFind", _F, QRModel.COLOR_PALETTE),
    _qr(COLOR_PALETTE_MOVE, "Color Palette Query/Retrieve Information Model - MOVE",
        "ColorPaletteQueryRetrieveInformationModelMove", _M, QRModel.COLOR_PALETTE),
    _qr(COLOR_PALETTE_GET, "Color Palette Query/Retrieve Information Model - GET",
        "ColorPaletteQueryRetrieveInformationModelGet", _G, QRModel.COLOR_PALETTE),
)

QR_SOP_CLASSES: Final[Mapping[str, QRSOPClass]] = MappingProxyType(
    {row.uid: row for row in _QR_ROWS}
)
"""The 21 Query/Retrieve SOP classes of the seeds, by UID, grouped by model
and in FIND, MOVE, GET order within a model."""


def qr_sop_class(uid: str) -> QRSOPClass | None:
    """The :class:`QRSOPClass` for ``uid``, or ``None`` if it is not one of the 21."""
    return QR_SOP_CLASSES.get(uid)


def as_qr_service(service: QRService | str) -> QRService:
    """``FIND``, ``find``, ``C-FIND`` or the enum, as the enum; ``ValueError`` otherwise."""
    return QRService(str(service).upper().removeprefix("C-"))


def qr_sop_classes(
    service: QRService | str | None = None,
    model: QRModel | _Iterable[QRModel] | None = None,
) -> tuple[QRSOPClass, ...]:
    """The Q/R SOP classes for ``service`` (``FIND``/``GET``/``MOVE``, or the
    enum) and ``model`` (one model or several), in :data:`QR_SOP_CLASSES` order.

    ``None`` means any.  An unknown service name raises ``ValueError``.
    """
    wanted_service = None if service is None else as_qr_service(service)
    if model is None:
        models: frozenset[QRModel] | None = None
    elif isinstance(model, QRModel):
        models = frozenset((model,))
    else:
        models = frozenset(model)
    return tuple(
        row for row in _QR_ROWS
        if (wanted_service is None or row.service is wanted_service)
        and (models is None or row.model in models)
    )
