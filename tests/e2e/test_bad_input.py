"""Bad peers over real sockets: the server answers right, logs, and goes on."""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path

import pytest

import dicomqr
from dicomqr import uids
from dicomqr.protocol import dimse
from dicomqr.protocol import pdu as P
from dicomqr.protocol.items import PresentationContextRQ, UserInformation
from dicomqr.transport.client import Proposal, connect
from tests.conftest import stored_files

CT = "1.2.840.10008.5.1.4.1.1.2"
VERIFICATION = [Proposal(uids.VERIFICATION_SOP_CLASS, uids.UNCOMPRESSED_TRANSFER_SYNTAXES)]


def associate_rq(max_length: int = 16384) -> bytes:
    return P.encode(P.AAssociateRQ(
        called_ae_title="DICOMQR", calling_ae_title="RAW",
        presentation_contexts=(
            PresentationContextRQ(context_id=1, abstract_syntax=uids.VERIFICATION_SOP_CLASS,
                                  transfer_syntaxes=(uids.IMPLICIT_VR_LITTLE_ENDIAN,)),
            PresentationContextRQ(context_id=3, abstract_syntax=CT,
                                  transfer_syntaxes=(uids.IMPLICIT_VR_LITTLE_ENDIAN,)),
        ),
        user_information=UserInformation(maximum_length=max_length,
                                          implementation_class_uid="1.2.3.4"),
    ))


async def read_pdu(reader: asyncio.StreamReader) -> P.PDU | None:
    try:
        header = await asyncio.wait_for(reader.readexactly(6), 5)
    except asyncio.IncompleteReadError:
        return None
    (length,) = struct.unpack(">I", header[2:])
    body = await reader.readexactly(length)
    return P.decode(header + body)


async def raw(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def established(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await raw(port)
    writer.write(associate_rq())
    ac = await read_pdu(reader)
    assert isinstance(ac, P.AAssociateAC)
    return reader, writer


async def assert_closed(reader: asyncio.StreamReader) -> None:
    assert await asyncio.wait_for(reader.read(), 5) == b""


async def still_serves(port: int) -> None:
    conn = await connect("127.0.0.1", port, VERIFICATION)
    assert (await dicomqr.echo(conn)).status == 0
    await conn.release()


async def test_garbage_bytes_get_provider_abort(server: dicomqr.Server,
                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="dicomqr")
    reader, writer = await raw(server.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = await read_pdu(reader)
    assert isinstance(answer, P.AAbort)
    assert (answer.source, answer.reason) == (2, 1)  # provider, unrecognized PDU
    await assert_closed(reader)
    writer.close()
    await still_serves(server.port)
    assert any("closed" in r.getMessage() for r in caplog.records)


async def test_truncated_associate_rq_items_abort(server: dicomqr.Server) -> None:
    good = bytearray(associate_rq())
    # claim an item runs past the end of the PDU: the first variable item's length
    struct.pack_into(">H", good, 74 + 2, 0xFFF0)
    reader, writer = await raw(server.port)
    writer.write(bytes(good))
    answer = await read_pdu(reader)
    assert isinstance(answer, (P.AAbort, P.AAssociateRJ))
    if isinstance(answer, P.AAbort):
        assert answer.source == 2
    await assert_closed(reader)
    writer.close()
    await still_serves(server.port)


async def test_pdu_longer_than_negotiated_maximum(server: dicomqr.Server) -> None:
    reader, writer = await established(server.port)
    too_long = server.limits.max_pdu + 1
    writer.write(struct.pack(">BBI", 0x04, 0, too_long) + b"\x00" * 64)
    answer = await read_pdu(reader)
    assert isinstance(answer, P.AAbort)
    assert answer.source == 2
    await assert_closed(reader)
    writer.close()
    await still_serves(server.port)


async def test_peer_closes_mid_dataset_leaves_no_file(
    server: dicomqr.Server, archive_dir: Path
) -> None:
    _, writer = await established(server.port)
    rq = dimse.CStoreRQ(message_id=1, affected_sop_class_uid=CT,
                        affected_sop_instance_uid="1.2.3.4.5.6.7",
                        priority=dimse.Priority.MEDIUM)
    command = dimse.encode_command(rq)
    writer.write(P.encode(P.PDataTF(pdvs=(P.PDV(context_id=3, is_command=True, is_last=True,
                                                  data=command),))))
    writer.write(P.encode(P.PDataTF(pdvs=(P.PDV(context_id=3, is_command=False,
                                                  is_last=False, data=b"\x08\x00" * 500),))))
    await writer.drain()
    await asyncio.sleep(0.1)
    writer.close()
    await asyncio.sleep(0.2)
    assert stored_files(archive_dir) == []
    assert list((archive_dir / ".incoming").iterdir()) == []
    await still_serves(server.port)


async def test_dataset_before_command_aborts(server: dicomqr.Server) -> None:
    reader, writer = await established(server.port)
    writer.write(P.encode(P.PDataTF(pdvs=(P.PDV(context_id=3, is_command=False, is_last=True,
                                                  data=b"\x08\x00\x10\x00"),))))
    answer = await read_pdu(reader)
    assert isinstance(answer, P.AAbort)
    assert answer.source == 2
    await assert_closed(reader)
    await still_serves(server.port)


async def test_unaccepted_context_id_aborts(server: dicomqr.Server) -> None:
    reader, writer = await established(server.port)
    command = dimse.encode_command(dimse.CEchoRQ(
        message_id=1, affected_sop_class_uid=uids.VERIFICATION_SOP_CLASS))
    writer.write(P.encode(P.PDataTF(pdvs=(P.PDV(context_id=99, is_command=True, is_last=True,
                                                  data=command),))))
    answer = await read_pdu(reader)
    assert isinstance(answer, P.AAbort)
    await assert_closed(reader)
    await still_serves(server.port)


async def test_unexpected_pdu_before_association(server: dicomqr.Server) -> None:
    reader, writer = await raw(server.port)
    writer.write(P.encode(P.AReleaseRQ()))
    answer = await read_pdu(reader)
    assert isinstance(answer, P.AAbort)
    await assert_closed(reader)
    await still_serves(server.port)


async def test_silent_peer_is_dropped_by_artim(archive_dir: Path) -> None:
    srv = dicomqr.Server(ae_title="X", policy=dicomqr.acceptor_policy(),
                         handler_factory=lambda c: dicomqr.ServiceDispatcher(),
                         timeouts=dicomqr.Timeouts(artim=0.2))
    await srv.start("127.0.0.1", 0)
    try:
        reader, writer = await raw(srv.port)
        # never sends the A-ASSOCIATE-RQ: ARTIM expires, the server closes
        await assert_closed(reader)
        writer.close()
    finally:
        await srv.close()


async def test_idle_association_is_aborted(archive_dir: Path) -> None:
    srv = dicomqr.Server(ae_title="X", policy=dicomqr.acceptor_policy(),
                         handler_factory=lambda c: dicomqr.ServiceDispatcher(),
                         timeouts=dicomqr.Timeouts(idle=0.3))
    await srv.start("127.0.0.1", 0)
    try:
        reader, _ = await established(srv.port)
        answer = await read_pdu(reader)
        assert isinstance(answer, P.AAbort)
        await assert_closed(reader)
    finally:
        await srv.close()


async def test_abort_from_peer_mid_dataset(server: dicomqr.Server, archive_dir: Path) -> None:
    reader, writer = await established(server.port)
    rq = dimse.CStoreRQ(message_id=1, affected_sop_class_uid=CT,
                        affected_sop_instance_uid="1.2.3.4.5.6.8",
                        priority=dimse.Priority.MEDIUM)
    writer.write(P.encode(P.PDataTF(pdvs=(P.PDV(context_id=3, is_command=True, is_last=True,
                                                  data=dimse.encode_command(rq)),))))
    writer.write(P.encode(P.PDataTF(pdvs=(P.PDV(context_id=3, is_command=False,
                                                  is_last=False, data=b"\x08\x00" * 50),))))
    writer.write(P.encode(P.AAbort(source=0, reason=0)))
    await assert_closed(reader)
    await asyncio.sleep(0.05)
    assert stored_files(archive_dir) == []
    assert list((archive_dir / ".incoming").iterdir()) == []


async def test_connections_that_never_associate_are_capped(archive_dir: Path) -> None:
    srv = dicomqr.Server(ae_title="X", policy=dicomqr.acceptor_policy(),
                         handler_factory=lambda c: dicomqr.ServiceDispatcher(),
                         limits=dicomqr.Limits(max_connections=2))
    await srv.start("127.0.0.1", 0)
    try:
        idle = [await raw(srv.port) for _ in range(2)]
        await asyncio.sleep(0.05)
        reader, writer = await raw(srv.port)
        await assert_closed(reader)  # the third is dropped at once, not after ARTIM
        writer.close()
        for _, w in idle:
            w.close()
        await asyncio.sleep(0.1)
        await still_serves(srv.port)
    finally:
        await srv.close()
