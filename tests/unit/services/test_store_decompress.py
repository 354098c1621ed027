"""Sending a compressed instance to a peer that did not accept its transfer
syntax: decompressed and sent uncompressed, or a clear NoContextError."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pydicom
import pydicom.data
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filereader import read_dataset

from dicomqr import FileArchive, Server, ServiceDispatcher, acceptor_policy, uids
from dicomqr.archive.frames import extract_frames
from dicomqr.protocol.association import Role
from dicomqr.protocol.negotiation import AcceptedContext
from dicomqr.services import substore
from dicomqr.services.common import NoContextError
from dicomqr.services.store_scu import (
    StoreSource,
    _dataset_bytes,
    can_decompress,
    choose_context,
    decompressed,
    proposals_for,
    read_source,
    scan,
    store_file,
    uncompressed_context,
)
from dicomqr.transport.client import Proposal, connect
from tests.conftest import stored_files

TEST_FILES = Path(pydicom.data.__file__).parent / "test_files"
EXPLICIT = uids.EXPLICIT_VR_LITTLE_ENDIAN
IMPLICIT = uids.IMPLICIT_VR_LITTLE_ENDIAN
BIG = uids.EXPLICIT_VR_BIG_ENDIAN

COMPRESSED = [
    "SC_rgb_jpeg_dcmtk.dcm",  # JPEG baseline, RGB
    "examples_ybr_color.dcm",  # JPEG baseline, YBR_FULL_422, 30 frames
    "JPGExtended.dcm",  # JPEG extended, 12 bit
    "SC_rgb_jpeg_gdcm.dcm",  # JPEG lossless SV1
    "MR_small_jpeg_ls_lossless.dcm",  # JPEG-LS lossless, signed 16 bit
    "JPEGLSNearLossless_16.dcm",  # JPEG-LS near-lossless
    "JPEG2000.dcm",  # JPEG 2000
    "693_J2KI.dcm",  # JPEG 2000
    "MR_small_RLE.dcm",  # RLE, signed 16 bit
    "SC_rgb_rle_2frame.dcm",  # RLE, RGB, 2 frames
]


def source(name: str) -> StoreSource:
    return read_source(TEST_FILES / name)


def fake_connection(*syntaxes: str, sop_class: str) -> Any:
    """What choose_context reads of a Connection: the requestor's accepted
    contexts, one per syntax, ids 1, 3, 5 ..."""
    contexts = {2 * i + 1: AcceptedContext(2 * i + 1, sop_class, ts)
                for i, ts in enumerate(syntaxes)}
    return SimpleNamespace(core=SimpleNamespace(role=Role.REQUESTOR), contexts=contexts)


def decode(data: bytes, transfer_syntax: str) -> Dataset:
    ts = uids.transfer_syntax(transfer_syntax)
    ds = read_dataset(io.BytesIO(data), ts.is_implicit_vr, ts.is_little_endian)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = pydicom.uid.UID(transfer_syntax)
    return ds


# --- choosing the context ---------------------------------------------------------


def test_own_syntax_first_then_the_preferred_uncompressed_one() -> None:
    src = source("JPEG2000.dcm")
    conn = fake_connection(IMPLICIT, BIG, src.transfer_syntax_uid, EXPLICIT,
                           sop_class=src.sop_class_uid)
    assert choose_context(conn, src) == (5, src.transfer_syntax_uid)  # as stored
    for syntaxes, expected in [((BIG, IMPLICIT, EXPLICIT), (5, EXPLICIT)),
                               ((BIG, IMPLICIT), (3, IMPLICIT)),
                               ((BIG,), (1, BIG))]:
        conn = fake_connection(*syntaxes, sop_class=src.sop_class_uid)
        assert choose_context(conn, src) == expected
        assert uncompressed_context(conn.contexts.values()) == expected


def test_no_uncompressed_context_is_no_context() -> None:
    src = source("JPEG2000.dcm")
    conn = fake_connection(uids.DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN, "1.2.840.10008.1.2.4.50",
                           sop_class=src.sop_class_uid)
    with pytest.raises(NoContextError, match=r"JPEG 2000.*or in an uncompressed"):
        choose_context(conn, src)
    other_class = fake_connection(EXPLICIT, sop_class="1.2.840.10008.5.1.4.1.1.2")
    with pytest.raises(NoContextError):
        choose_context(other_class, src)


def test_syntax_without_decoder_is_no_context() -> None:
    src = source("JPEG2000.dcm")
    mpeg = StoreSource(src.path, src.sop_class_uid, src.sop_instance_uid,
                       str(pydicom.uid.MPEG2MPML), src.dataset_offset)
    assert not can_decompress(mpeg.transfer_syntax_uid)
    conn = fake_connection(EXPLICIT, sop_class=src.sop_class_uid)
    with pytest.raises(NoContextError, match=r"MPEG2.*no installed decoder"):
        choose_context(conn, mpeg)
    unknown = StoreSource(src.path, src.sop_class_uid, src.sop_instance_uid, "1.2.3.4.5",
                          src.dataset_offset)
    with pytest.raises(NoContextError, match=r"unknown transfer syntax 1\.2\.3\.4\.5"):
        choose_context(conn, unknown)


def test_every_compressed_syntax_of_the_tests_has_a_decoder() -> None:
    for name in COMPRESSED:
        assert can_decompress(source(name).transfer_syntax_uid), name


# --- converting -------------------------------------------------------------------


@pytest.mark.parametrize("name", COMPRESSED)
@pytest.mark.parametrize("target", [EXPLICIT, IMPLICIT, BIG], ids=["explicit", "implicit", "big"])
async def test_decompressed_pixels_equal_pydicoms(name: str, target: str) -> None:
    src = source(name)
    data = await _dataset_bytes(src, target)
    ds = decode(data, target)
    original = pydicom.dcmread(src.path)
    assert ds.SOPInstanceUID == original.SOPInstanceUID  # same instance, other syntax
    assert "ExtendedOffsetTable" not in ds
    assert np.array_equal(ds.pixel_array, original.pixel_array)


async def test_same_syntax_goes_as_stored() -> None:
    src = source("JPEG2000.dcm")
    assert src.dataset_offset is not None
    data = await _dataset_bytes(src, src.transfer_syntax_uid)
    assert data == src.path.read_bytes()[src.dataset_offset:]


async def test_undecodable_data_is_no_context() -> None:
    src = source("JPEG-lossy.dcm")  # the decoder rejects its marker segments
    with pytest.raises(NoContextError, match="decompressing failed"):
        await _dataset_bytes(src, EXPLICIT)


def test_decompressed_copies_unless_told() -> None:
    ds = pydicom.dcmread(TEST_FILES / "MR_small_RLE.dcm")
    before = ds.PixelData
    out = decompressed(ds, what="test")
    assert ds.PixelData == before and ds.file_meta.TransferSyntaxUID == pydicom.uid.RLELossless
    assert out.file_meta.TransferSyntaxUID == EXPLICIT
    assert np.array_equal(out.pixel_array, ds.pixel_array)
    same = decompressed(ds, what="test", copy_first=False)
    assert same is ds and ds.file_meta.TransferSyntaxUID == EXPLICIT


# --- over sockets -------------------------------------------------------------------


@pytest.fixture
async def explicit_only(tmp_path: Path) -> AsyncIterator[tuple[Server, Path]]:
    """A dicomqr storage SCP that accepts Explicit VR Little Endian only."""
    folder = tmp_path / "received"
    folder.mkdir()
    archive = FileArchive(folder)
    srv = Server(ae_title="PLAIN", policy=acceptor_policy(transfer_syntaxes=[EXPLICIT]),
                 handler_factory=lambda conn: ServiceDispatcher(archive=archive))
    await srv.start("127.0.0.1", 0)
    yield srv, folder
    await srv.close(timeout=2)


async def test_compressed_files_arrive_decompressed(
        explicit_only: tuple[Server, Path], tmp_path: Path) -> None:
    srv, folder = explicit_only
    names = ["SC_rgb_jpeg_dcmtk.dcm", "SC_rgb_rle_2frame.dcm", "MR_small_jpeg_ls_lossless.dcm",
             "JPEG2000.dcm"]
    # Copies with their own UIDs (several pydicom files share one).
    paths = []
    for i, name in enumerate(names):
        ds = pydicom.dcmread(TEST_FILES / name)
        ds.SOPInstanceUID = f"1.2.826.0.1.3680043.10.1373.77.{i}"
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        path = tmp_path / name
        ds.save_as(path)
        paths.append(path)
    sources, skipped = scan(paths)
    assert not skipped
    conn = await connect("127.0.0.1", srv.port, proposals_for(sources), called_ae="PLAIN")
    for src in sources:
        rsp = await store_file(conn, src)
        assert rsp.status == 0, (src.path.name, rsp)
    await conn.release()
    received = {pydicom.dcmread(p).SOPInstanceUID: p for p in stored_files(folder)}
    assert len(received) == len(sources)
    for src in sources:
        got = pydicom.dcmread(received[src.sop_instance_uid])
        assert got.file_meta.TransferSyntaxUID == EXPLICIT
        assert np.array_equal(got.pixel_array, pydicom.dcmread(src.path).pixel_array)


async def test_encapsulated_dataset_of_a_handler_arrives_decompressed(
        explicit_only: tuple[Server, Path]) -> None:
    """A frame-extracted instance that stayed JPEG, sent as a C-GET/C-MOVE
    sub-operation's Dataset to a peer without JPEG."""
    srv, folder = explicit_only
    original = pydicom.dcmread(TEST_FILES / "examples_ybr_color.dcm")
    frames = extract_frames(original, simple=[2, 9])
    assert frames.file_meta.TransferSyntaxUID == pydicom.uid.JPEGBaseline8Bit
    instances: list[substore.Instance] = [frames]
    destination = substore.Destination("127.0.0.1", srv.port, "PLAIN", "DICOMQR", {})
    await destination.open(instances)
    assert destination.conn is not None
    assert await substore.store(destination.conn, frames, ("MOVESCU", 7)) == 0
    await destination.close()
    (path,) = stored_files(folder)
    got = pydicom.dcmread(path)
    assert got.SOPInstanceUID == frames.SOPInstanceUID
    assert got.file_meta.TransferSyntaxUID == EXPLICIT
    assert np.array_equal(got.pixel_array, original.pixel_array[[1, 8]])
    assert frames.file_meta.TransferSyntaxUID == pydicom.uid.JPEGBaseline8Bit  # not modified


async def test_encapsulated_dataset_without_uncompressed_context_fails(
        tmp_path: Path) -> None:
    """A peer that takes RLE only: the JPEG Dataset has nowhere to go."""
    folder = tmp_path / "rle"
    folder.mkdir()
    archive = FileArchive(folder)
    srv = Server(ae_title="RLEONLY",
                 policy=acceptor_policy(transfer_syntaxes=[str(pydicom.uid.RLELossless)]),
                 handler_factory=lambda conn: ServiceDispatcher(archive=archive))
    await srv.start("127.0.0.1", 0)
    try:
        frames = extract_frames(pydicom.dcmread(TEST_FILES / "examples_ybr_color.dcm"),
                                simple=[1])
        rle = str(pydicom.uid.RLELossless)
        conn = await connect("127.0.0.1", srv.port, [Proposal(str(frames.SOPClassUID), (rle,))],
                             called_ae="RLEONLY")
        with pytest.raises(NoContextError, match=r"JPEG Baseline.*or uncompressed"):
            await substore.store(conn, frames, None)
        await conn.release()
    finally:
        await srv.close(timeout=2)
    assert not stored_files(folder)
