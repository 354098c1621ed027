"""C-CANCEL over real associations (PS3.7 9.3.2.3, PS3.4 C.4.1.3.1, C.4.2.3.1).

The SCU's ``op.cancel()`` (or leaving its ``async for`` early) ends a
C-FIND, C-GET or C-MOVE with 0xFE00 promptly, the handler's generator is
closed (its ``finally`` runs), retrieves report their counts, and the
association serves the next request.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydicom import Dataset

from dicomqr import uids
from dicomqr.protocol import dimse
from dicomqr.services import qr_scu
from dicomqr.services.handlers import QRHandlers, QRRequest
from dicomqr.services.qr_scu import QROperation, QRResponse
from dicomqr.services.scu_behavior import Action
from dicomqr.status import Category
from dicomqr.transport.connection import Connection

from .qr_helpers import (
    DEST_AE,
    STUDY,
    as_response,
    associate,
    associate_get,
    context_id,
    destination,
    dicom_files,
    ds,
    encode,
    instance,
    qr_server,
    read_until_final,
    run,
)

FIND_Q = ds(QueryRetrieveLevel="STUDY", StudyInstanceUID="")
RETRIEVE_Q = ds(QueryRetrieveLevel="STUDY", StudyInstanceUID=STUDY)
PROMPT = 0.5  # seconds from C-CANCEL to the final response, at most


def match(i: int) -> Dataset:
    return ds(QueryRetrieveLevel="STUDY", StudyInstanceUID=f"{STUDY}.{i}")


def slow_plain_find(closed: threading.Event) -> Any:
    def find(request: QRRequest) -> Iterator[tuple[int, Dataset]]:
        try:
            i = 0
            while True:  # forever, slowly
                yield 0xFF00, match(i)
                i += 1
                time.sleep(0.03)
        finally:
            closed.set()
    return find


def slow_async_find(closed: threading.Event) -> Any:
    async def find(request: QRRequest) -> AsyncIterator[tuple[int, Dataset]]:
        try:
            i = 0
            while True:
                yield 0xFF00, match(i)
                i += 1
                await asyncio.sleep(0.03)
        finally:
            closed.set()
    return find


async def wait_closed(closed: threading.Event, timeout: float = 2) -> None:
    deadline = time.monotonic() + timeout
    while not closed.is_set():
        assert time.monotonic() < deadline, "the handler's generator was not closed"
        await asyncio.sleep(0.005)


async def cancel_after(op: QROperation, pending: int) -> tuple[list[QRResponse], float]:
    """Iterate ``op``, cancel after ``pending`` pending responses; returns the
    responses and the seconds from the cancel to the final response."""
    responses: list[QRResponse] = []
    cancelled_at = 0.0
    async for item in op:
        if not isinstance(item, QRResponse):
            continue
        responses.append(item)
        if item.pending and len(responses) == pending:
            cancelled_at = time.monotonic()
            await op.cancel()
    assert cancelled_at, "never got to cancel"
    return responses, time.monotonic() - cancelled_at


async def still_serves_find(conn: Connection) -> None:
    out = await run(qr_scu.find(conn, FIND_Q))
    assert out.final.status == 0x0000 and len(out.matches) == 1


@pytest.mark.parametrize("kind", ["plain", "async"])
async def test_cancel_find(kind: str) -> None:
    closed = threading.Event()
    slow = slow_plain_find(closed) if kind == "plain" else slow_async_find(closed)
    calls: list[QRRequest] = []

    def find(request: QRRequest) -> Any:
        calls.append(request)
        if len(calls) == 1:
            return slow(request)
        return iter([(0xFF00, match(0))])

    async with qr_server(QRHandlers(find=find)) as srv:
        conn = await associate(srv.port, [uids.STUDY_ROOT_QR_FIND])
        op = qr_scu.find(conn, FIND_Q)
        responses, took = await asyncio.wait_for(cancel_after(op, 3), 5)
        await wait_closed(closed)
        await still_serves_find(conn)
        await conn.release()
    final = responses[-1]
    assert took < PROMPT, f"Cancel took {took:.3f} s"
    assert [r.status for r in responses[:3]] == [0xFF00] * 3
    assert len(responses) <= 5  # at most a match already on its way
    assert final.status == 0xFE00 and final.category is Category.CANCEL
    assert final.behavior.action is Action.REPORT_CANCEL
    assert final.identifier is None and final.comment is None
    assert op.final is final
    assert calls[0].cancelled


def many_instances(n: int, closed: threading.Event, *, async_: bool = False) -> Any:
    if async_:
        async def aitems(request: QRRequest) -> AsyncIterator[Any]:
            try:
                yield n
                for i in range(n):
                    yield 0xFF00, instance(i)
            finally:
                closed.set()
        return aitems

    def items(request: QRRequest) -> Iterator[Any]:
        try:
            yield n
            for i in range(n):
                yield 0xFF00, instance(i)
        finally:
            closed.set()
    return items


@pytest.mark.parametrize("kind", ["plain", "async"])
async def test_cancel_get(kind: str, tmp_path: Path) -> None:
    closed = threading.Event()
    total = 5000
    get = many_instances(total, closed, async_=kind == "async")
    async with qr_server(QRHandlers(get=get, find=lambda r: iter([(0xFF00, match(0))]))) as srv:
        conn = await associate_get(srv.port, uids.STUDY_ROOT_QR_GET,
                                   extra=[uids.STUDY_ROOT_QR_FIND])
        op = qr_scu.get(conn, RETRIEVE_Q, folder=tmp_path)
        responses, took = await asyncio.wait_for(cancel_after(op, 5), 10)
        await wait_closed(closed)
        await still_serves_find(conn)
        await conn.release()
    final = responses[-1]
    assert took < PROMPT, f"Cancel took {took:.3f} s"
    assert final.status == 0xFE00 and final.category is Category.CANCEL
    assert final.behavior.action is Action.REPORT_CANCEL
    # The Cancel response carries the counts (PS3.4 C.4.3.3.1), Remaining
    # being the sub-operations never started.
    assert final.completed is not None and final.remaining is not None
    assert 5 <= final.completed < total
    assert (final.failed, final.warning) == (0, 0)
    assert final.completed + final.remaining == total
    assert final.failed_uids == ()
    assert len(dicom_files(tmp_path)) == final.completed


@pytest.mark.parametrize("kind", ["plain", "async"])
async def test_cancel_move(kind: str, tmp_path: Path) -> None:
    closed = threading.Event()
    total = 5000
    inner = many_instances(total, closed, async_=kind == "async")
    folder = tmp_path / "dest"

    async def move(request: QRRequest) -> AsyncIterator[Any]:
        yield "127.0.0.1", dest.port
        source = inner(request)
        if hasattr(source, "__anext__"):
            async for item in source:
                yield item
        else:
            for item in source:
                yield item

    async with destination(folder) as dest, qr_server(QRHandlers(
            move=move, find=lambda r: iter([(0xFF00, match(0))]))) as srv:
        conn = await associate(srv.port, [uids.STUDY_ROOT_QR_MOVE, uids.STUDY_ROOT_QR_FIND])
        op = qr_scu.move(conn, RETRIEVE_Q, DEST_AE)
        responses, took = await asyncio.wait_for(cancel_after(op, 5), 10)
        await wait_closed(closed)
        await still_serves_find(conn)
        await conn.release()
    final = responses[-1]
    assert took < PROMPT, f"Cancel took {took:.3f} s"
    assert final.status == 0xFE00
    assert final.completed is not None and final.remaining is not None
    assert 5 <= final.completed < total
    assert final.completed + final.remaining == total
    assert (final.failed, final.warning) == (0, 0)
    assert len(dicom_files(folder)) == final.completed


async def test_leaving_the_loop_early_cancels_find() -> None:
    closed = threading.Event()
    calls: list[QRRequest] = []
    slow = slow_async_find(closed)

    def find(request: QRRequest) -> Any:
        calls.append(request)
        return slow(request) if len(calls) == 1 else iter([(0xFF00, match(0))])

    async with qr_server(QRHandlers(find=find)) as srv:
        conn = await associate(srv.port, [uids.STUDY_ROOT_QR_FIND])
        op = qr_scu.find(conn, FIND_Q)
        seen = 0
        async for _ in op:
            seen += 1
            if seen == 2:
                break
        # The responses still in flight are read off in the background.
        start = time.monotonic()
        while op.final is None:
            assert time.monotonic() - start < PROMPT, "no final response after leaving the loop"
            await asyncio.sleep(0.005)
        await wait_closed(closed)
        await still_serves_find(conn)
        await conn.release()
    assert op.final.status == 0xFE00
    assert calls[0].cancelled


async def test_leaving_the_loop_early_cancels_get(tmp_path: Path) -> None:
    closed = threading.Event()
    total = 3000
    async with qr_server(QRHandlers(get=many_instances(total, closed),
                                    find=lambda r: iter([(0xFF00, match(0))]))) as srv:
        conn = await associate_get(srv.port, uids.STUDY_ROOT_QR_GET,
                                   extra=[uids.STUDY_ROOT_QR_FIND])
        op = qr_scu.get(conn, RETRIEVE_Q, folder=tmp_path)
        async for item in op:
            if isinstance(item, QRResponse) and item.completed == 3:
                break
        start = time.monotonic()
        while op.final is None:
            assert time.monotonic() - start < PROMPT
            await asyncio.sleep(0.005)
        await wait_closed(closed)
        await still_serves_find(conn)
        await conn.release()
    final = op.final
    assert final.status == 0xFE00
    assert final.completed is not None and final.remaining is not None
    assert final.completed + final.remaining == total
    assert len(dicom_files(tmp_path)) == final.completed


async def test_cancel_arriving_with_the_request() -> None:
    """C-FIND-RQ and C-CANCEL-RQ in one write: the cancel is matched to a
    request that is received but not started yet; the handler, if called at
    all, is told at once and nothing is matched."""
    closed = threading.Event()
    async with qr_server(QRHandlers(find=slow_plain_find(closed))) as srv:
        conn = await associate(srv.port, [uids.STUDY_ROOT_QR_FIND])
        msg_id = conn.next_message_id()
        queue = conn.open_exchange(msg_id)
        ctx = context_id(conn, uids.STUDY_ROOT_QR_FIND)
        conn.send(ctx, dimse.CFindRQ(message_id=msg_id,
                                     affected_sop_class_uid=uids.STUDY_ROOT_QR_FIND),
                  encode(FIND_Q), flush=False)
        conn.send(ctx, dimse.CCancelRQ(message_id_being_responded_to=msg_id))
        responses = await read_until_final(conn, queue)
        conn.close_exchange(msg_id)
        await conn.release()
    final = as_response(uids.QRService.FIND, responses[-1])
    assert final.status == 0xFE00
    assert len(responses) <= 2


async def test_cancel_for_unknown_message_is_ignored() -> None:
    """A C-CANCEL naming no request in progress gets no answer (there is no
    C-CANCEL-RSP) and disturbs nothing."""
    async with qr_server(QRHandlers(find=lambda r: iter([(0xFF00, match(0))]))) as srv:
        conn = await associate(srv.port, [uids.STUDY_ROOT_QR_FIND])
        conn.send(context_id(conn, uids.STUDY_ROOT_QR_FIND),
                  dimse.CCancelRQ(message_id_being_responded_to=999))
        await still_serves_find(conn)
        await conn.release()


async def test_cancel_after_the_end_changes_nothing() -> None:
    async with qr_server(QRHandlers(find=lambda r: iter([(0xFF00, match(0))]))) as srv:
        conn = await associate(srv.port, [uids.STUDY_ROOT_QR_FIND])
        op = qr_scu.find(conn, FIND_Q)
        out = await run(op)
        await op.cancel()  # nothing to cancel: not even sent
        await still_serves_find(conn)
        await conn.release()
    assert out.final.status == 0x0000
