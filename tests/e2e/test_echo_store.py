"""dicomqr's SCU against dicomqr's SCP over real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pydicom
import pytest

import dicomqr
from dicomqr import uids
from dicomqr.services.part10 import read_file_meta
from dicomqr.services.store_scu import StoreSource, proposals_for, scan, store_file
from dicomqr.transport.client import AssociationRejectedError, Proposal, connect
from tests.conftest import stored_files

VERIFICATION = [Proposal(uids.VERIFICATION_SOP_CLASS, uids.UNCOMPRESSED_TRANSFER_SYNTAXES)]


def dataset_digest(path: Path, pad: bool = False) -> tuple[str, str]:
    """(transfer syntax, sha256 of the dataset bytes) of a Part 10 file;
    with ``pad`` an odd-length dataset gets the NUL the SCU sends it with."""
    data = path.read_bytes()
    meta = read_file_meta(data[:65536])
    dataset = data[meta.dataset_offset:]
    if pad and len(dataset) % 2:
        dataset += b"\x00"
    return meta.transfer_syntax_uid, hashlib.sha256(dataset).hexdigest()


async def test_echo(server: dicomqr.Server) -> None:
    conn = await connect("127.0.0.1", server.port, VERIFICATION, calling_ae="ECHOSCU",
                         called_ae="DICOMQR")
    rsp = await dicomqr.echo(conn)
    assert rsp.status == 0x0000
    assert rsp.ok
    # several on the same association
    for _ in range(5):
        assert (await dicomqr.echo(conn)).status == 0
    await conn.release()
    assert conn.closed.done()
    assert conn.close_reason == "released"


async def test_release_is_logged(server: dicomqr.Server, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="dicomqr")
    conn = await connect("127.0.0.1", server.port, VERIFICATION, calling_ae="LOGME",
                         called_ae="DICOMQR")
    await dicomqr.echo(conn)
    await conn.release()
    await asyncio.sleep(0.05)
    lines = [r.getMessage() for r in caplog.records if "LOGME@127.0.0.1" in r.getMessage()]
    assert len(lines) == 1, lines
    assert "-> DICOMQR" in lines[0]
    assert "Verification" in lines[0]
    assert "1 requests" in lines[0]
    assert lines[0].endswith("closed: released")


async def test_store_all_pydicom_test_files_byte_identical(
    server: dicomqr.Server, archive_dir: Path, pydicom_test_files: list[Path]
) -> None:
    sources, skipped = scan(pydicom_test_files)
    assert not skipped
    assert len(sources) > 50
    sent: list[tuple[str, str]] = []
    from dicomqr.cli.store import _batches

    for batch in _batches(sources):
        conn = await connect("127.0.0.1", server.port, proposals_for(batch),
                             calling_ae="STORESCU", called_ae="DICOMQR")
        for src in batch:
            rsp = await store_file(conn, src)
            assert rsp.status == 0, (src.path, rsp)
            sent.append(dataset_digest(src.path, pad=True))
        await conn.release()
    files = stored_files(archive_dir)
    assert len(files) == len(sources)
    received = sorted(dataset_digest(p) for p in files)
    # every dataset arrived exactly as it was in its file, in its own transfer
    # syntax (odd-length ones with the pad byte PS3.8 E.1 makes the SCU add)
    assert received == sorted(sent)
    meta = read_file_meta(files[0].read_bytes()[:65536])
    assert meta.source_ae_title == "STORESCU"
    assert not list((archive_dir / ".incoming").iterdir())


async def test_stored_file_is_readable_part10(
    server: dicomqr.Server, archive_dir: Path
) -> None:
    path = Path(pydicom.data.get_testdata_file("CT_small.dcm"))
    src = scan([path])[0][0]
    conn = await connect("127.0.0.1", server.port, proposals_for([src]), called_ae="DICOMQR")
    assert (await store_file(conn, src)).status == 0
    await conn.release()
    (stored,) = stored_files(archive_dir)
    assert stored.name == f"{src.sop_instance_uid}.dcm"
    ds = pydicom.dcmread(stored)
    orig = pydicom.dcmread(path)
    assert ds.file_meta.MediaStorageSOPInstanceUID == orig.SOPInstanceUID
    assert ds.file_meta.TransferSyntaxUID == orig.file_meta.TransferSyntaxUID
    assert ds.PixelData == orig.PixelData
    assert ds.PatientName == orig.PatientName


async def test_store_converts_when_own_syntax_refused(archive_dir: Path) -> None:
    """An SCP accepting only Implicit VR LE gets an Explicit VR LE file converted."""
    archive = dicomqr.FileArchive(archive_dir)
    srv = dicomqr.Server(
        ae_title="IMPLICIT",
        policy=dicomqr.acceptor_policy(transfer_syntaxes=[uids.IMPLICIT_VR_LITTLE_ENDIAN]),
        handler_factory=lambda conn: dicomqr.ServiceDispatcher(archive=archive),
    )
    await srv.start("127.0.0.1", 0)
    try:
        path = Path(pydicom.data.get_testdata_file("CT_small.dcm"))
        src = scan([path])[0][0]
        assert src.transfer_syntax_uid == uids.EXPLICIT_VR_LITTLE_ENDIAN
        conn = await connect("127.0.0.1", srv.port, proposals_for([src]))
        assert (await store_file(conn, src)).status == 0
        await conn.release()
        (stored,) = stored_files(archive_dir)
        ds = pydicom.dcmread(stored)
        assert ds.file_meta.TransferSyntaxUID == uids.IMPLICIT_VR_LITTLE_ENDIAN
        assert ds.PixelData == pydicom.dcmread(path).PixelData
    finally:
        await srv.close()


async def test_compressed_file_decompressed_or_clear_error(archive_dir: Path) -> None:
    """A peer taking only uncompressed syntaxes gets a compressed file
    decompressed; one that cannot be decoded gives a clear error."""
    archive = dicomqr.FileArchive(archive_dir)
    srv = dicomqr.Server(
        ae_title="PLAIN",
        policy=dicomqr.acceptor_policy(transfer_syntaxes=uids.UNCOMPRESSED_TRANSFER_SYNTAXES),
        handler_factory=lambda conn: dicomqr.ServiceDispatcher(archive=archive),
    )
    await srv.start("127.0.0.1", 0)
    try:
        good = scan([Path(pydicom.data.get_testdata_file("JPEG2000.dcm"))])[0][0]
        # JPEG-lossy.dcm: 12-bit lossy JPEG, which no installed decoder reads
        bad = scan([Path(pydicom.data.get_testdata_file("JPEG-lossy.dcm"))])[0][0]
        conn = await connect("127.0.0.1", srv.port, proposals_for([good, bad]))
        assert (await store_file(conn, good)).status == 0
        with pytest.raises(dicomqr.NoContextError):
            await store_file(conn, bad)
        await conn.release()
        (stored,) = [p for p in archive_dir.rglob("*.dcm") if ".incoming" not in p.parts]
        kept = pydicom.dcmread(stored)
        assert kept.file_meta.TransferSyntaxUID in uids.UNCOMPRESSED_TRANSFER_SYNTAXES
        original = pydicom.dcmread(good.path)
        assert (kept.pixel_array == original.pixel_array).all()
    finally:
        await srv.close()


async def _store_many(port: int, sources: list[StoreSource], aet: str) -> int:
    conn = await connect("127.0.0.1", port, proposals_for(sources), calling_ae=aet,
                         called_ae="DICOMQR")
    ok = 0
    for src in sources:
        rsp = await store_file(conn, src)
        ok += rsp.status == 0
    await conn.release()
    return ok


async def test_50_concurrent_associations_20_instances_each(
    server: dicomqr.Server, archive_dir: Path, tmp_path: Path
) -> None:
    """50 associations at once, each storing 20 distinct instances."""
    base = pydicom.dcmread(pydicom.data.get_testdata_file("CT_small.dcm"))
    src_dir = tmp_path / "src"
    src_dir.mkdir()
    per_assoc: list[list[Path]] = []
    for a in range(50):
        paths = []
        for i in range(20):
            base.SOPInstanceUID = f"1.2.826.0.1.3680043.10.1373.9.{a}.{i}"
            base.file_meta.MediaStorageSOPInstanceUID = base.SOPInstanceUID
            p = src_dir / f"{a}_{i}.dcm"
            base.save_as(p, enforce_file_format=True)
            paths.append(p)
        per_assoc.append(paths)
    sources = [scan(paths)[0] for paths in per_assoc]
    results = await asyncio.gather(
        *(_store_many(server.port, s, f"SCU{i}") for i, s in enumerate(sources))
    )
    assert results == [20] * 50
    assert len(stored_files(archive_dir)) == 1000


async def test_no_acceptable_context_is_rejected(server: dicomqr.Server) -> None:
    with pytest.raises(AssociationRejectedError) as info:
        await connect("127.0.0.1", server.port,
                      [Proposal("1.2.3.4.5.6", (uids.IMPLICIT_VR_LITTLE_ENDIAN,))])
    assert (info.value.result, info.value.source, info.value.reason) == (1, 1, 1)
    # the server still serves
    conn = await connect("127.0.0.1", server.port, VERIFICATION)
    assert (await dicomqr.echo(conn)).status == 0
    await conn.release()


async def test_called_ae_title_enforced(archive_dir: Path) -> None:
    srv = dicomqr.Server(
        ae_title="ONLYME", policy=dicomqr.acceptor_policy(),
        handler_factory=lambda conn: dicomqr.ServiceDispatcher(),
        rules=dicomqr.AssociationRules(called_ae_titles=frozenset({"ONLYME"}),
                                       calling_ae_titles=frozenset({"FRIEND"})),
    )
    await srv.start("127.0.0.1", 0)
    try:
        with pytest.raises(AssociationRejectedError) as info:
            await connect("127.0.0.1", srv.port, VERIFICATION, called_ae="OTHER",
                          calling_ae="FRIEND")
        assert (info.value.source, info.value.reason) == (1, 7)
        with pytest.raises(AssociationRejectedError) as info:
            await connect("127.0.0.1", srv.port, VERIFICATION, called_ae="ONLYME",
                          calling_ae="STRANGER")
        assert (info.value.source, info.value.reason) == (1, 3)
        conn = await connect("127.0.0.1", srv.port, VERIFICATION, called_ae="ONLYME",
                             calling_ae="FRIEND")
        assert (await dicomqr.echo(conn)).status == 0
        await conn.release()
    finally:
        await srv.close()


async def test_association_limit(archive_dir: Path) -> None:
    srv = dicomqr.Server(
        ae_title="SMALL", policy=dicomqr.acceptor_policy(),
        handler_factory=lambda conn: dicomqr.ServiceDispatcher(),
        limits=dicomqr.Limits(max_associations=2),
    )
    await srv.start("127.0.0.1", 0)
    try:
        a = await connect("127.0.0.1", srv.port, VERIFICATION)
        b = await connect("127.0.0.1", srv.port, VERIFICATION)
        with pytest.raises(AssociationRejectedError) as info:
            await connect("127.0.0.1", srv.port, VERIFICATION)
        assert (info.value.result, info.value.source, info.value.reason) == (2, 3, 2)
        await a.release()
        await asyncio.sleep(0.05)
        c = await connect("127.0.0.1", srv.port, VERIFICATION)
        await b.release()
        await c.release()
    finally:
        await srv.close()


async def test_server_sockets_have_tcp_nodelay(server: dicomqr.Server) -> None:
    """Nagle would cost ~40 ms a message: every accepted socket must have it off."""
    import socket

    conn = await connect("127.0.0.1", server.port, VERIFICATION)
    (server_side,) = server.connections
    assert server_side.transport is not None
    sock = server_side.transport.get_extra_info("socket")
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    assert conn.transport is not None
    client_sock = conn.transport.get_extra_info("socket")
    assert client_sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    await conn.release()


async def test_release_collision(server: dicomqr.Server) -> None:
    """Both sides ask to release at once (PS3.8 §9.2.1): both end released."""
    conn = await connect("127.0.0.1", server.port, VERIFICATION)
    assert (await dicomqr.echo(conn)).status == 0
    (server_side,) = server.connections
    # Both A-RELEASE-RQs are written before either side reads the other's.
    await asyncio.wait_for(asyncio.gather(conn.release(), server_side.release()), 5)
    assert conn.closed.done() and server_side.closed.done()
    assert conn.aborted is None and server_side.aborted is None
    assert conn.core.state.name == "STA1" and server_side.core.state.name == "STA1"
