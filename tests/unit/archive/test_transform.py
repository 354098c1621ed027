"""Annex Z (without bulk data) and Annex Y (frame extraction) dataset transforms."""

from __future__ import annotations

import copy
import datetime as dt
import io
from pathlib import Path

import numpy as np
import pydicom
import pydicom.data
import pytest
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pydicom.uid import (
    MPEG2MPML,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    RLELossless,
    generate_uid,
)

from dicomqr import status
from dicomqr.archive.frames import (
    FRAME_EXTRACTING_EQUIPMENT,
    FrameExtractionError,
    extract_frames,
    select_frames,
)
from dicomqr.archive.transform import without_bulk_data

TEST_FILES = Path(pydicom.data.__file__).parent / "test_files"
NOW = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC)


def read(name: str) -> Dataset:
    # Only the files shipped with pydicom: get_testdata_file would try to
    # download the others (no network here).
    return pydicom.dcmread(TEST_FILES / name)


def encode(ds: Dataset, implicit: bool = False) -> bytes:
    fp = DicomBytesIO()
    fp.is_little_endian = True
    fp.is_implicit_VR = implicit
    write_dataset(fp, ds)
    return fp.getvalue()


def roundtrip(ds: Dataset) -> Dataset:
    """``ds`` written as a Part 10 file and read back: it must be valid."""
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return pydicom.dcmread(io.BytesIO(buf.getvalue()))


# --- Annex Z ----------------------------------------------------------------------


def bulky() -> Dataset:
    ds = Dataset()
    ds.PatientName = "Bulk^Data"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = "1.2.3.4"
    ds.Rows, ds.Columns, ds.NumberOfFrames = 2, 2, 1
    ds.BitsAllocated, ds.SamplesPerPixel = 8, 1
    ds.PixelData = b"\x01\x02\x03\x04"
    ds.add(DataElement(0x7FE00008, "OF", b"\0" * 16))  # Float Pixel Data
    ds.add(DataElement(0x7FE00009, "OD", b"\0" * 32))  # Double Float Pixel Data
    ds.add(DataElement(0x00287FE0, "UR", "http://example.com/pixels"))  # Pixel Data Provider URL
    ds.add(DataElement(0x56000020, "OF", b"\0" * 8))  # Spectroscopy Data
    ds.add(DataElement(0x60003000, "OW", b"\xff" * 8))  # Overlay Data, group 6000
    ds.add(DataElement(0x60003000 + (0x1E << 16), "OW", b"\xff" * 8))  # group 601E
    ds.add(DataElement(0x60000010, "US", 2))  # Overlay Rows: stays
    ds.add(DataElement(0x50003000, "OW", b"\x01\x00" * 4))  # Curve Data (retired)
    ds.add(DataElement(0x5002200C, "OW", b"\x01\x00" * 4))  # Audio Sample Data (retired)
    ds.add(DataElement(0x00420011, "OB", b"%PDF-1.4"))  # Encapsulated Document
    ds.add(DataElement(0x7FE00001, "OV", b"\0" * 8))  # Extended Offset Table
    ds.add(DataElement(0x7FE00002, "OV", b"\x04" + b"\0" * 7))  # ... Lengths
    # Private groups are no overlay or curve: (6001,3000) stays.
    ds.add(DataElement(0x60010010, "LO", "PRIVATE CREATOR"))
    ds.add(DataElement(0x60013000, "OB", b"\x07\x07"))
    waveform = Dataset()
    waveform.WaveformOriginality = "ORIGINAL"
    waveform.NumberOfWaveformChannels = 1
    waveform.add(DataElement(0x54001010, "OW", b"\x01\x00\x02\x00"))
    waveform2 = copy.deepcopy(waveform)
    ds.WaveformSequence = [waveform, waveform2]
    icon = Dataset()
    icon.Rows, icon.Columns, icon.BitsAllocated = 1, 2, 8
    icon.PixelData = b"\x09\x09"
    ds.IconImageSequence = [icon]
    nested = Dataset()
    nested.add(DataElement(0x60003000, "OW", b"\x0f\x0f"))  # nested overlay: stays
    nested.CodeValue = "1"
    ds.ReferencedImageSequence = [nested]
    return ds


REMOVED_TOP_LEVEL = [0x7FE00010, 0x7FE00008, 0x7FE00009, 0x00287FE0, 0x56000020,
                     0x60003000, 0x601E3000, 0x50003000, 0x5002200C, 0x00420011,
                     0x7FE00001, 0x7FE00002]


def test_without_bulk_data_removes_table_z1_1() -> None:
    ds = bulky()
    before = encode(ds)
    out = without_bulk_data(ds)
    for tag in REMOVED_TOP_LEVEL:
        assert tag not in out, f"{tag:08X}"
    for item in out.WaveformSequence:
        assert 0x54001010 not in item
        assert item.NumberOfWaveformChannels == 1
    # Z.1.3 note: the Icon Image Sequence keeps its pixel data; and only the
    # top level is meant, so a nested overlay stays too.
    assert out.IconImageSequence[0].PixelData == b"\x09\x09"
    assert 0x60003000 in out.ReferencedImageSequence[0]
    assert out[0x60013000].value == b"\x07\x07"
    assert out[0x60000010].value == 2
    assert out.NumberOfFrames == 1 and out.Rows == 2  # Z.4.2.3: nothing else changes
    assert encode(ds) == before  # the input is untouched


def test_without_bulk_data_keeps_the_rest_byte_equal() -> None:
    ds = bulky()
    expected = copy.deepcopy(ds)
    for tag in REMOVED_TOP_LEVEL:
        del expected[tag]
    for item in expected.WaveformSequence:
        del item[0x54001010]
    out = without_bulk_data(ds)
    assert encode(out) == encode(expected)
    assert encode(out, implicit=True) == encode(expected, implicit=True)


def table_z1_1(tag: int) -> bool:
    group, element = tag >> 16, tag & 0xFFFF
    return tag in (0x7FE00008, 0x7FE00009, 0x7FE00010, 0x00287FE0, 0x56000020, 0x00420011,
                   0x7FE00001, 0x7FE00002) or (
        group % 2 == 0 and ((0x6000 <= group <= 0x601E and element == 0x3000)
                            or (0x5000 <= group <= 0x501E and element in (0x3000, 0x200C))))


@pytest.mark.parametrize("name", ["examples_overlay.dcm", "waveform_ecg.dcm", "CT_small.dcm",
                                  "rtdose.dcm", "JPEG2000.dcm", "examples_ybr_color.dcm"])
def test_without_bulk_data_on_real_files(name: str) -> None:
    ds = read(name)
    implicit, _ = ds.original_encoding
    before = encode(ds, bool(implicit))
    out = without_bulk_data(ds)
    assert set(ds.keys()) - set(out.keys()) == {t for t in set(ds.keys()) if table_z1_1(t)}
    assert set(out.keys()) <= set(ds.keys())
    for item in out.get("WaveformSequence") or []:
        assert "WaveformData" not in item
        assert "ChannelDefinitionSequence" in item
    assert encode(ds, bool(implicit)) == before  # untouched
    # Every other element encodes exactly as the file's.
    reference = read(name)
    for elem in out:
        if elem.keyword != "WaveformSequence":
            assert encode(Dataset({elem.tag: elem}), bool(implicit)) == \
                encode(Dataset({elem.tag: reference[elem.tag]}), bool(implicit)), elem.keyword
    again = roundtrip(out)
    assert again.SOPInstanceUID == ds.SOPInstanceUID


def test_without_bulk_data_transfer_syntax() -> None:
    compressed = read("JPEG2000.dcm")
    assert without_bulk_data(compressed).file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert compressed.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.91"
    native = read("rtdose.dcm")
    assert without_bulk_data(native).file_meta.TransferSyntaxUID == \
        native.file_meta.TransferSyntaxUID
    # An encapsulated icon keeps the compressed syntax (the icon needs it).
    icon = Dataset()
    icon.add(DataElement(0x7FE00010, "OB", compressed.PixelData, is_undefined_length=True))
    compressed.IconImageSequence = [icon]
    out = without_bulk_data(compressed)
    assert out.file_meta.TransferSyntaxUID == compressed.file_meta.TransferSyntaxUID


# --- Annex Y: pixel data of the chosen frames ----------------------------------------


def native_rgb() -> Dataset:
    """examples_ybr_color.dcm (JPEG, 30 frames) decompressed: native RGB."""
    ds = read("examples_ybr_color.dcm")
    ds.decompress(generate_instance_uid=False)
    return ds


def j2k_two_frames() -> Dataset:
    ds = read("SC_rgb_rle_2frame.dcm")
    ds.decompress(generate_instance_uid=False)
    ds.compress(JPEG2000Lossless, generate_instance_uid=False)
    return ds


SOURCES = {
    "jpeg-baseline": lambda: read("examples_ybr_color.dcm"),
    "rle-8bit": lambda: read("SC_rgb_rle_2frame.dcm"),
    "rle-16bit": lambda: read("SC_rgb_rle_16bit_2frame.dcm"),
    "rle-32bit-dose": lambda: read("rtdose_rle.dcm"),
    "native-implicit": lambda: read("rtdose.dcm"),
    "native-big-endian": lambda: read("rtdose_expb.dcm"),
    "native-rgb": native_rgb,
    "jpeg2000-lossless": j2k_two_frames,
}


@pytest.mark.parametrize(("source", "selection", "expected"), [
    ("jpeg-baseline", {"simple": [1, 7, 30]}, [1, 7, 30]),
    ("jpeg-baseline", {"calculated": [2, 0xFFFFFFFF, 9]}, [2, 11, 20, 29]),
    ("jpeg-baseline", {"time_range": (0.05, 0.1)}, [3, 4]),
    ("rle-8bit", {"simple": [2]}, [2]),
    ("rle-16bit", {"simple": [1]}, [1]),
    ("rle-32bit-dose", {"calculated": [1, 5, 2, 10, 12, 1]}, [1, 3, 5, 10, 11, 12]),
    ("native-implicit", {"calculated": [4, 10, 2]}, [4, 6, 8, 10]),
    ("native-big-endian", {"simple": [2, 15]}, [2, 15]),
    ("native-rgb", {"simple": [5, 6, 29]}, [5, 6, 29]),
    ("jpeg2000-lossless", {"simple": [2]}, [2]),
])
def test_extracted_pixels_equal_the_chosen_frames(
        source: str, selection: dict[str, object], expected: list[int]) -> None:
    ds = SOURCES[source]()
    original = ds.pixel_array
    pixels_before = ds.PixelData
    uid_before = ds.SOPInstanceUID
    out = extract_frames(ds, now=NOW, **selection)  # type: ignore[arg-type]
    assert out.NumberOfFrames == len(expected)
    assert out.file_meta.TransferSyntaxUID == ds.file_meta.TransferSyntaxUID
    wanted = original[[n - 1 for n in expected]]
    again = roundtrip(out)
    got = again.pixel_array
    if len(expected) == 1:
        got = got[np.newaxis]
    assert np.array_equal(got, wanted)
    # new instance, same series; the source is untouched
    assert out.SOPInstanceUID != uid_before
    assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID
    assert out.SOPClassUID == ds.SOPClassUID
    assert out.SeriesInstanceUID == ds.SeriesInstanceUID
    assert out.StudyInstanceUID == ds.StudyInstanceUID
    assert ds.PixelData == pixels_before and ds.SOPInstanceUID == uid_before
    assert "ExtendedOffsetTable" not in out


def test_encapsulated_frames_are_copied_not_decoded() -> None:
    ds = read("examples_ybr_color.dcm")
    frames = list(pydicom.encaps.generate_frames(ds.PixelData, number_of_frames=30))
    out = extract_frames(ds, simple=[3, 4])
    assert list(pydicom.encaps.generate_frames(out.PixelData, number_of_frames=2)) == frames[2:4]
    assert out["PixelData"].is_undefined_length


def test_one_bit_frames_are_cut_bit_by_bit() -> None:
    rng = np.random.default_rng(7)
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7.1"  # Multi-frame Single Bit SC
    ds.SOPInstanceUID = generate_uid()
    ds.Rows, ds.Columns, ds.NumberOfFrames = 3, 5, 4  # 15 bits a frame: not byte aligned
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 1, 1, 0, 0
    bits = rng.integers(0, 2, size=60, dtype=np.uint8)
    packed = np.packbits(bits, bitorder="little").tobytes()
    ds.PixelData = packed + b"\0" * (len(packed) % 2)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    out = extract_frames(ds, simple=[2, 4])
    got = np.unpackbits(np.frombuffer(out.PixelData, np.uint8), bitorder="little")[:30]
    assert np.array_equal(got, np.concatenate([bits[15:30], bits[45:60]]))
    assert np.array_equal(roundtrip(out).pixel_array, ds.pixel_array[[1, 3]])


def test_native_ybr_full_422_frames() -> None:
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7.4"
    ds.SOPInstanceUID = generate_uid()
    ds.Rows, ds.Columns, ds.NumberOfFrames = 2, 4, 3
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, \
        "YBR_FULL_422", 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = bytes(range(48))  # 16 bytes a frame: Y Y Cb Cr for each pixel pair
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    out = extract_frames(ds, simple=[1, 3])
    assert out.PixelData == bytes(range(16)) + bytes(range(32, 48))


# --- Annex Y: the new instance -------------------------------------------------------


def test_provenance_items() -> None:
    ds = read("examples_ybr_color.dcm")
    out = extract_frames(ds, calculated=[1, 10, 3], new_uid="1.2.3.4.5", now=NOW,
                         manufacturer="ACME")
    assert out.SOPInstanceUID == "1.2.3.4.5"
    (item,) = out.FrameExtractionSequence
    assert item.MultiFrameSourceSOPInstanceUID == ds.SOPInstanceUID
    assert list(item.CalculatedFrameList) == [1, 10, 3]
    assert item["CalculatedFrameList"].VR == "UL"
    assert "SimpleFrameList" not in item and "TimeRange" not in item
    (equipment,) = out.ContributingEquipmentSequence
    code = equipment.PurposeOfReferenceCodeSequence[0]
    assert (code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning) == \
        FRAME_EXTRACTING_EQUIPMENT == ("109105", "DCM", "Frame Extracting Equipment")
    assert equipment.Manufacturer == "ACME"
    assert equipment.ContributionDateTime == "20240506070809.000000+0000"
    assert out.InstanceCreationDate == "20240506"
    # extracting again appends to both sequences (PS3.3 C.12.3, PS3.4 Y.3.3)
    twice = extract_frames(out, time_range=(0.0, 0.2), now=NOW)
    first, second = twice.FrameExtractionSequence
    assert first.MultiFrameSourceSOPInstanceUID == ds.SOPInstanceUID
    assert second.MultiFrameSourceSOPInstanceUID == "1.2.3.4.5"
    assert list(second.TimeRange) == [0.0, 0.2]
    assert second["TimeRange"].VR == "FD"
    assert len(twice.ContributingEquipmentSequence) == 2
    simple = extract_frames(ds, simple=[4])
    assert simple.FrameExtractionSequence[0].SimpleFrameList == 4


def test_frame_time_becomes_the_time_between_chosen_frames() -> None:
    ds = read("examples_ybr_color.dcm")  # Frame Time 33.333 ms, pointer -> Frame Time
    even = extract_frames(ds, calculated=[3, 30, 3])
    assert float(even.FrameTime) == pytest.approx(99.999)
    assert float(even.FrameDelay) == pytest.approx(66.666)  # frame 3 starts 2 frames late
    assert "FrameTimeVector" not in even
    uneven = extract_frames(ds, simple=[1, 2, 5])
    assert "FrameTime" not in uneven
    assert [float(v) for v in uneven.FrameTimeVector] == pytest.approx([0, 33.333, 99.999])
    assert uneven.FrameIncrementPointer == 0x00181065
    assert "FrameDelay" not in uneven  # frame 1 kept: no delay
    # The new instance's times select the same frames again.
    assert select_frames(uneven, time_range=(0.03, 0.2)) == [2, 3]
    assert roundtrip(uneven).NumberOfFrames == 3


def test_frame_time_vector_is_recomputed() -> None:
    ds = native_rgb()
    del ds.FrameTime
    ds.FrameIncrementPointer = 0x00181065
    ds.FrameTimeVector = [0] + [10 * (i + 1) for i in range(29)]  # 10, 20, 30 ms ...
    ds.FrameDelay = 5
    # times: frame n at 5 + 10 + 20 + ... + 10(n-1) ms = 5 + 5n(n-1)
    assert select_frames(ds, time_range=(0.065, 0.105)) == [4, 5]
    out = extract_frames(ds, simple=[3, 4, 6])
    assert [float(v) for v in out.FrameTimeVector] == [0, 30, 90]
    assert float(out.FrameDelay) == 35


def test_grid_frame_offset_vector_moves_the_image_position() -> None:
    ds = read("rtdose.dcm")  # offsets 0, 5, ... 70 mm, relative to Image Position
    out = extract_frames(ds, simple=[3, 4, 9])
    assert [float(v) for v in out.GridFrameOffsetVector] == [0, 5, 30]
    z = float(ds.ImagePositionPatient[2])
    assert [float(v) for v in out.ImagePositionPatient] == pytest.approx(
        [float(ds.ImagePositionPatient[0]), float(ds.ImagePositionPatient[1]), z + 10])
    assert roundtrip(out).NumberOfFrames == 3


def enhanced(frames: int = 5) -> Dataset:
    """A native multi-frame with per-frame functional groups 0.5 s apart."""
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.4.1"  # Enhanced MR
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.ContentDate, ds.ContentTime = "20240101", "120000"
    ds.Rows, ds.Columns, ds.NumberOfFrames = 2, 2, frames
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.PixelData = np.arange(frames * 4, dtype="<u2").tobytes()
    start = dt.datetime(2024, 1, 1, 12, 0, 0)
    items = []
    for n in range(frames):
        content = Dataset()
        content.FrameReferenceDateTime = (start + dt.timedelta(seconds=0.5 * n)).strftime(
            "%Y%m%d%H%M%S.%f")
        content.InStackPositionNumber = n + 1
        item = Dataset()
        item.FrameContentSequence = [content]
        items.append(item)
    ds.PerFrameFunctionalGroupsSequence = items
    ds.SharedFunctionalGroupsSequence = [Dataset()]
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds


def test_per_frame_functional_groups_and_their_times() -> None:
    ds = enhanced()
    assert select_frames(ds, time_range=(0.4, 1.0)) == [2, 3]  # 0.5 s and 1.0 s, ends included
    out = extract_frames(ds, time_range=(0.4, 1.0))
    assert len(out.PerFrameFunctionalGroupsSequence) == 2
    assert [i.FrameContentSequence[0].InStackPositionNumber
            for i in out.PerFrameFunctionalGroupsSequence] == [2, 3]
    assert np.array_equal(out.pixel_array, ds.pixel_array[1:3])
    assert len(ds.PerFrameFunctionalGroupsSequence) == 5  # untouched
    # a zone offset on both sides
    ds.TimezoneOffsetFromUTC = "+0100"
    for item in ds.PerFrameFunctionalGroupsSequence:
        item.FrameContentSequence[0].FrameReferenceDateTime += "+0100"
    assert select_frames(ds, time_range=(0.4, 1.0)) == [2, 3]


def test_frame_numbers_inside_the_instance_are_renumbered() -> None:
    ds = enhanced(6)
    ds.RepresentativeFrameNumber = 4
    ds.FrameNumbersOfInterest = [2, 4, 5]
    ds.FrameOfInterestDescription = ["two", "four", "five"]
    ds.FrameOfInterestType = ["HIGHLIGHT", "HIGHLIGHT", "HIGHLIGHT"]
    ds.StartTrim, ds.StopTrim = 2, 5
    ds.ConcatenationUID = generate_uid()
    ds.InConcatenationNumber = 1
    ds.ConcatenationFrameOffsetNumber = 0
    ds.add_new(0x00990010, "LO", "ACME")
    ds.add_new(0x00991001, "LO", "secret")
    mask = Dataset()
    mask.MaskOperation = "AVG_SUB"
    mask.MaskFrameNumbers = [1]
    mask.ApplicableFrameRange = [2, 6]
    lost = Dataset()
    lost.MaskOperation = "AVG_SUB"
    lost.MaskFrameNumbers = [2]
    ds.MaskSubtractionSequence = [mask, lost]
    out = extract_frames(ds, simple=[1, 4, 5])
    assert out.RepresentativeFrameNumber == 2
    assert list(out.FrameNumbersOfInterest) == [2, 3]
    assert list(out.FrameOfInterestDescription) == ["four", "five"]
    assert (out.StartTrim, out.StopTrim) == (2, 3)
    for keyword in ("ConcatenationUID", "InConcatenationNumber", "ConcatenationFrameOffsetNumber"):
        assert keyword not in out
    assert 0x00991001 not in out  # private: dropped by default (Y.3.3 note)
    (kept,) = out.MaskSubtractionSequence
    assert kept.MaskFrameNumbers == 1 and list(kept.ApplicableFrameRange) == [2, 3]
    assert 0x00991001 in extract_frames(ds, simple=[1], keep_private=True)
    gone = extract_frames(ds, simple=[6])
    assert "RepresentativeFrameNumber" not in gone
    assert "FrameNumbersOfInterest" not in gone and "FrameOfInterestType" not in gone
    assert "StartTrim" not in gone and "MaskSubtractionSequence" not in gone


# --- Annex Y: which frames, and the statuses ------------------------------------------


def test_frames_past_the_last_are_ignored() -> None:
    ds = read("SC_rgb_rle_2frame.dcm")
    assert select_frames(ds, simple=[2, 3, 40]) == [2]
    assert select_frames(ds, calculated=[1, 1, 1, 2, 7, 5, 9, 12, 1]) == [1, 2]
    assert select_frames(ds, calculated=[2, 0xFFFFFFFF, 1]) == [2]
    assert select_frames(ds, calculated=[1, 100, 1]) == [1, 2]


def code_of(ds: Dataset, **selection: object) -> int:
    with pytest.raises(FrameExtractionError) as info:
        extract_frames(ds, **selection)  # type: ignore[arg-type]
    assert info.value.comment
    assert f"0x{info.value.status:04X}" in str(info.value)
    return info.value.status


@pytest.mark.parametrize("selection", [
    {},
    {"simple": [1], "calculated": [1, 2, 1]},
    {"simple": [1], "time_range": (0, 1)},
    {"simple": []},
    {"simple": [0, 1]},
    {"simple": [2, 1]},
    {"simple": [1, 1]},
    {"simple": [-1]},
    {"simple": [1 << 32]},
    {"calculated": [1, 2]},
    {"calculated": [0, 2, 1]},
    {"calculated": [3, 2, 1]},
    {"calculated": [1, 5, 0]},
    {"calculated": [1, 5, 2, 5, 9, 1]},  # 1, 3, 5 then 5 again: overlap
    {"calculated": [1, 0xFFFFFFFF, 1, 9, 9, 1]},
    {"time_range": (0.2, 0.1)},
    {"time_range": (0.1,)},
])
def test_invalid_requests_are_aa04(selection: dict[str, object]) -> None:
    assert code_of(read("examples_ybr_color.dcm"), **selection) == \
        status.INVALID_REQUEST == 0xAA04


@pytest.mark.parametrize("selection", [
    {"simple": [31, 40]},
    {"calculated": [31, 0xFFFFFFFF, 1]},
    {"time_range": (100.0, 200.0)},
    {"time_range": (-1.0, -0.5)},
])
def test_no_frame_found_is_aa00(selection: dict[str, object]) -> None:
    assert code_of(read("examples_ybr_color.dcm"), **selection) == \
        status.NO_FRAMES_FOUND == 0xAA00


def test_time_request_on_instance_without_times_is_aa03() -> None:
    assert code_of(read("rtdose.dcm"), time_range=(0.0, 1.0)) == \
        status.TIME_BASED_REQUEST_FOR_NON_TIME_BASED == 0xAA03
    ds = enhanced()
    del ds.ContentTime
    assert code_of(ds, time_range=(0.0, 1.0)) == 0xAA03


def test_not_a_multi_frame_image_is_aa01() -> None:
    assert code_of(read("CT_small.dcm"), simple=[1]) == \
        status.UNABLE_TO_CREATE_NEW_OBJECT == 0xAA01
    assert code_of(read("waveform_ecg.dcm"), simple=[1]) == 0xAA01


def test_frames_that_cannot_be_cut_are_aa02() -> None:
    no_pixels = read("rtdose.dcm")
    del no_pixels.PixelData
    assert code_of(no_pixels, simple=[1]) == status.UNABLE_TO_EXTRACT_FRAMES == 0xAA02
    truncated = read("rtdose.dcm")
    truncated.PixelData = truncated.PixelData[:-400]
    assert code_of(truncated, simple=[1]) == 0xAA02
    video = read("examples_ybr_color.dcm")
    video.file_meta.TransferSyntaxUID = MPEG2MPML
    assert code_of(video, simple=[1]) == 0xAA02
    short = read("SC_rgb_rle_2frame.dcm")  # two fragments, Number of Frames says 3
    short.NumberOfFrames = 3
    assert code_of(short, simple=[1]) == 0xAA02


def test_errors_leave_the_source_alone() -> None:
    ds = read("examples_ybr_color.dcm")
    before = encode(ds)
    with pytest.raises(FrameExtractionError):
        extract_frames(ds, simple=[99])
    assert encode(ds) == before


def test_transfer_syntax_constants_used() -> None:
    # The syntaxes exercised above, for the record.
    assert read("examples_ybr_color.dcm").file_meta.TransferSyntaxUID == JPEGBaseline8Bit
    assert read("SC_rgb_rle_2frame.dcm").file_meta.TransferSyntaxUID == RLELossless
