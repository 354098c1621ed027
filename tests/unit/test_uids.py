"""The UID tables: transfer syntaxes (PS3.5 §10, Annex A) and storage SOP classes (PS3.4 B.5)."""

from __future__ import annotations

import dataclasses

import pydicom.uid
import pytest
from pydicom._uid_dict import UID_dictionary

from dicomqr import uids
from dicomqr.uids import (
    EXPLICIT_VR_BIG_ENDIAN,
    EXPLICIT_VR_LITTLE_ENDIAN,
    IMPLICIT_VR_LITTLE_ENDIAN,
    RETIRED_STORAGE_SOP_CLASSES,
    STORABLE_TRANSFER_SYNTAXES,
    STORAGE_SOP_CLASSES,
    TRANSFER_SYNTAXES,
    UNCOMPRESSED_TRANSFER_SYNTAXES,
    VERIFICATION_SOP_CLASS,
    TransferSyntax,
    is_storage_sop_class,
    transfer_syntax,
)

# --- transfer syntaxes ----------------------------------------------------------


@pytest.mark.parametrize(
    ("uid", "implicit", "little", "deflated", "encapsulated"),
    [
        ("1.2.840.10008.1.2", True, True, False, False),  # PS3.5 §10.1
        ("1.2.840.10008.1.2.1", False, True, False, False),  # A.2
        ("1.2.840.10008.1.2.1.99", False, True, True, False),  # A.5
        ("1.2.840.10008.1.2.2", False, False, False, False),  # A.3 (retired)
        ("1.2.840.10008.1.2.1.98", False, True, False, True),  # encapsulated uncompressed
        ("1.2.840.10008.1.2.4.50", False, True, False, True),  # JPEG baseline
        ("1.2.840.10008.1.2.4.70", False, True, False, True),  # JPEG lossless SV1
        ("1.2.840.10008.1.2.4.80", False, True, False, True),  # JPEG-LS lossless
        ("1.2.840.10008.1.2.4.90", False, True, False, True),  # JPEG 2000 lossless
        ("1.2.840.10008.1.2.4.93", False, True, False, True),  # JPEG 2000 Part 2
        ("1.2.840.10008.1.2.4.201", False, True, False, True),  # HTJ2K lossless
        ("1.2.840.10008.1.2.4.94", False, True, False, False),  # JPIP Referenced (A.6)
        ("1.2.840.10008.1.2.4.95", False, True, True, False),  # JPIP Referenced Deflate (A.7)
        ("1.2.840.10008.1.2.4.204", False, True, False, False),  # JPIP HTJ2K Referenced
        ("1.2.840.10008.1.2.4.205", False, True, True, False),  # ... Deflate
        ("1.2.840.10008.1.2.4.100", False, True, False, True),  # MPEG2
        ("1.2.840.10008.1.2.4.102.1", False, True, False, True),  # MPEG-4 fragmentable
        ("1.2.840.10008.1.2.4.108", False, True, False, True),  # HEVC Main 10
        ("1.2.840.10008.1.2.5", False, True, False, True),  # RLE
    ],
)
def test_transfer_syntax_properties(
    uid: str, implicit: bool, little: bool, deflated: bool, encapsulated: bool
) -> None:
    ts = transfer_syntax(uid)
    assert (ts.is_implicit_vr, ts.is_little_endian, ts.is_deflated, ts.is_encapsulated) == (
        implicit,
        little,
        deflated,
        encapsulated,
    )
    assert ts.name == UID_dictionary[uid][0]


def test_every_pydicom_transfer_syntax_is_known_or_deliberately_left_out() -> None:
    left_out = {
        "1.2.840.10008.1.2.6.1",
        "1.2.840.10008.1.2.6.2",
        "1.2.840.10008.1.20",
        "1.2.840.10008.1.2.7.1",
        "1.2.840.10008.1.2.7.2",
        "1.2.840.10008.1.2.7.3",
    }
    # Importing pynetdicom (as the interop tests do) adds JPEG XL and
    # Deflated Image Frame Compression to pydicom's dictionary at run time;
    # what is there depends on import order, so those four are tolerated.
    added_by_pynetdicom = {
        "1.2.840.10008.1.2.4.110",
        "1.2.840.10008.1.2.4.111",
        "1.2.840.10008.1.2.4.112",
        "1.2.840.10008.1.2.8.1",
    }
    in_pydicom = {u for u, row in UID_dictionary.items() if row[1] == "Transfer Syntax"}
    ours = set(TRANSFER_SYNTAXES) - added_by_pynetdicom
    assert ours == in_pydicom - left_out - added_by_pynetdicom
    assert set(pydicom.uid.AllTransferSyntaxes) <= set(TRANSFER_SYNTAXES) | left_out


def test_families_are_all_there() -> None:
    names = {ts.keyword for ts in TRANSFER_SYNTAXES.values()}
    for keyword in (
        "JPEGBaseline8Bit",
        "JPEGExtended12Bit",
        "JPEGLossless",
        "JPEGLosslessSV1",
        "JPEGLSLossless",
        "JPEGLSNearLossless",
        "JPEG2000Lossless",
        "JPEG2000",
        "JPEG2000MCLossless",
        "JPEG2000MC",
        "HTJ2KLossless",
        "HTJ2KLosslessRPCL",
        "HTJ2K",
        "RLELossless",
        "MPEG2MPML",
        "MPEG4HP41",
        "HEVCMP51",
        "DeflatedExplicitVRLittleEndian",
    ):
        assert keyword in names


def test_retired_flag() -> None:
    assert transfer_syntax(EXPLICIT_VR_BIG_ENDIAN).is_retired
    assert not transfer_syntax(EXPLICIT_VR_LITTLE_ENDIAN).is_retired


def test_unknown_transfer_syntax() -> None:
    with pytest.raises(KeyError, match=r"1\.2\.3\.4"):
        transfer_syntax("1.2.3.4")
    assert TRANSFER_SYNTAXES.get("1.2.3.4") is None


def test_transfer_syntax_is_frozen_and_the_table_read_only() -> None:
    ts = transfer_syntax(IMPLICIT_VR_LITTLE_ENDIAN)
    assert isinstance(ts, TransferSyntax)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ts.name = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        TRANSFER_SYNTAXES["1.2"] = ts  # type: ignore[index]


def test_syntax_lists() -> None:
    assert UNCOMPRESSED_TRANSFER_SYNTAXES[:2] == (
        EXPLICIT_VR_LITTLE_ENDIAN,
        IMPLICIT_VR_LITTLE_ENDIAN,
    )
    for uid in UNCOMPRESSED_TRANSFER_SYNTAXES:
        ts = transfer_syntax(uid)
        assert not ts.is_encapsulated and not ts.is_deflated
    assert STORABLE_TRANSFER_SYNTAXES[: len(UNCOMPRESSED_TRANSFER_SYNTAXES)] == (
        UNCOMPRESSED_TRANSFER_SYNTAXES
    )
    assert sorted(STORABLE_TRANSFER_SYNTAXES) == sorted(TRANSFER_SYNTAXES)


# --- SOP classes ------------------------------------------------------------------


def test_verification() -> None:
    assert UID_dictionary[VERIFICATION_SOP_CLASS][0] == "Verification SOP Class"
    assert not is_storage_sop_class(VERIFICATION_SOP_CLASS)


@pytest.mark.parametrize(
    "uid",
    [
        "1.2.840.10008.5.1.4.1.1.2",  # CT Image Storage
        "1.2.840.10008.5.1.4.1.1.4",  # MR Image Storage
        "1.2.840.10008.5.1.4.1.1.1.1",  # Digital X-Ray Image Storage - For Presentation
        "1.2.840.10008.5.1.4.1.1.1.2.1",  # Digital Mammography ... - For Processing
        "1.2.840.10008.5.1.4.1.1.13.1.4",  # Breast Projection X-Ray ... - For Presentation
        "1.2.840.10008.5.1.4.1.1.88.11",  # Basic Text SR Storage
        "1.2.840.10008.5.1.4.1.1.104.1",  # Encapsulated PDF Storage
        "1.2.840.10008.5.1.4.1.1.200.1",  # CT Defined Procedure Protocol Storage
        "1.2.840.10008.5.1.4.1.1.200.3",  # Protocol Approval Storage
        "1.2.840.10008.5.1.4.39.1",  # Color Palette Storage
        "1.2.840.10008.5.1.4.38.1",  # Hanging Protocol Storage
        "1.2.840.10008.5.1.4.1.1.501.6",  # DICOS Quadrupole Resonance (QR) Storage
        "1.2.840.10008.5.1.4.1.1.6",  # Ultrasound Image Storage (retired)
        "1.2.840.10008.5.1.1.30",  # Hardcopy Color Image Storage SOP Class (retired)
        "1.2.840.10008.5.1.4.1.1.88.1",  # Text SR Storage - Trial (retired)
    ],
)
def test_storage_sop_classes(uid: str) -> None:
    assert is_storage_sop_class(uid)
    assert STORAGE_SOP_CLASSES[uid] == UID_dictionary[uid][0]


@pytest.mark.parametrize(
    "uid",
    [
        "1.2.840.10008.1.20.1",  # Storage Commitment Push Model SOP Class
        "1.2.840.10008.1.20.2",  # Storage Commitment Pull Model SOP Class
        "1.2.840.10008.1.3.10",  # Media Storage Directory Storage (DICOMDIR)
        "1.2.840.10008.5.1.4.1.2.2.1",  # Study Root Q/R - FIND
        "1.2.840.10008.5.1.4.39.2",  # Color Palette Q/R - FIND
        "1.2.840.10008.5.1.4.1.1.200.4",  # Protocol Approval Information Model - FIND
        "1.2.840.10008.3.1.2.3.3",  # Modality Performed Procedure Step
        "1.2.840.10008.1.2",  # a transfer syntax
        "1.2.3.4",
    ],
)
def test_not_storage(uid: str) -> None:
    assert not is_storage_sop_class(uid)


def test_storage_table_is_exactly_the_sop_classes_named_storage() -> None:
    for uid, name in STORAGE_SOP_CLASSES.items():
        assert UID_dictionary[uid][1] == "SOP Class"
        assert "Storage" in name and "Commitment" not in name
    assert set(STORAGE_SOP_CLASSES) >= RETIRED_STORAGE_SOP_CLASSES
    assert all(UID_dictionary[u][3] == "Retired" for u in RETIRED_STORAGE_SOP_CLASSES)
    # every pydicom constant named ...Storage is in the table (but DICOMDIR)
    for name in dir(pydicom.uid):
        if name.endswith("Storage") and name != "MediaStorageDirectoryStorage":
            assert is_storage_sop_class(getattr(pydicom.uid, name)), name
    assert len(STORAGE_SOP_CLASSES) > 180


def test_names() -> None:
    assert uids.name_of("1.2.840.10008.5.1.4.1.1.2") == "CT Image Storage"
    assert uids.name_of("1.2.3") == "1.2.3"
    assert uids.short_name_of(EXPLICIT_VR_LITTLE_ENDIAN) == "ExplicitVRLittleEndian"
    assert uids.short_name_of("1.2.3") == "1.2.3"
