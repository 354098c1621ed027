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
        "1.2.840.10008.1.3.10",
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
