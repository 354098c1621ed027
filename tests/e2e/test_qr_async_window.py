"""The asynchronous operations window (PS3.7 D.3.3.3) on Q/R associations.

With a window negotiated, several operations run at once on one
association: the proof is two C-FINDs whose handlers need each other (A
waits for an event only B sets).  Without a window they run one after the
other.  A Message ID in use by a running operation gets 0x0210.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from pydicom import Dataset

from dicomqr import uids
from dicomqr.protocol import dimse
from dicomqr.services import qr_scu
from dicomqr.services.handlers import QRHandlers, QRRequest
from dicomqr.status import Category

from .qr_helpers import (
    ASYNC_WINDOW,
    STUDY,
    as_response,
    associate,
    associate_get,
    context_id,
    dicom_files,
    ds,
    encode,
    instance,
    qr_server,
    read_until_final,
    run,
)


def query(tag: str) -> Dataset:
    return ds(QueryRetrieveLevel="STUDY", StudyInstanceUID="", StudyID=tag)


def answer(tag: str) -> Dataset:
    return ds(QueryRetrieveLevel="STUDY", StudyInstanceUID=f"{STUDY}.{len(tag)}", StudyID=tag)


async def test_two_finds_run_concurrently_async_handlers() -> None:
    b_done = asyncio.Event()
    order: list[str] = []

    async def find(request: QRRequest) -> AsyncIterator[tuple[int, Dataset]]:
        tag = str(request.identifier.StudyID)
        order.append(f"start {tag}")
        if tag == "A":
            await b_done.wait()  # only B can set it: B must run while A waits
        else:
            b_done.set()
        order.append(f"end {tag}")
        yield 0xFF00, answer(tag)

    async with qr_server(QRHandlers(find=find)) as srv:
        conn = await associate(srv.port, [uids.STUDY_ROOT_QR_FIND], async_window=ASYNC_WINDOW)
        a, b = await asyncio.gather(run(qr_scu.find(conn, query("A")), timeout=5),
                                    run(qr_scu.find(conn, query("B")), timeout=5))
        await conn.release()
    assert order == ["start A", "start B", "end B", "end A"]
    assert [str(m.StudyID) for m in a.matches] == ["A"]
    assert [str(m.StudyID) for m in b.matches] == ["B"]
    assert a.final.status == b.final.status == 0x0000


async def test_two_finds_run_concurrently_plain_handlers() -> None:
    b_done = threading.Event()

    def find(request: QRRequest) -> Iterator[tuple[int, Dataset]]:
        tag = str(request.identifier.StudyID)
        if tag == "A":
            assert b_done.wait(5), "B never ran while A waited"
        else:
            b_done.set()
        yield 0xFF00, answer(tag)

    async with qr_server(QRHandlers(find=find)) as srv:
        conn = await associate(srv.port, [uids.STUDY_ROOT_QR_FIND], async_window=ASYNC_WINDOW)
        a, b = await asyncio.gather(run(qr_scu.find(conn, query("A")), timeout=6),
                                    run(qr_scu.find(conn, query("B")), timeout=6))
        await conn.release()
    assert (a.final.status, b.final.status) == (0x0000, 0x0000)
    assert len(a.matches) == len(b.matches) == 1


async def test_without_a_window_operations_are_serial() -> None:
    b_started = asyncio.Event()
    order: list[str] = []

    async def find(request: QRRequest) -> AsyncIterator[tuple[int, Dataset]]:
        tag = str(request.identifier.StudyID)
        order.append(f"start {tag}")
        if tag == "A":
            try:
                await asyncio.wait_for(b_started.wait(), 0.3)
            except TimeoutError:
                order.append("A alone")
        else:
            b_started.set()
        order.append(f"end {tag}")
        yield 0xFF00, answer(tag)

    async with qr_server(QRHandlers(find=find)) as srv:
        conn = await associate(srv.port, [uids.STUDY_ROOT_QR_FIND])  # no window proposed
        a, b = await asyncio.gather(run(qr_scu.find(conn, query("A")), timeout=5),
                                    run(qr_scu.find(conn, query("B")), timeout=5))
        await conn.release()
    assert order == ["start A", "A alone", "end A", "start B", "end B"]
    assert a.final.status == b.final.status == 0x0000


async def test_find_and_get_interleave_on_one_association(tmp_path: Path) -> None:
    """A C-GET streams its instances while a C-FIND on the same association
    is answered in between."""
    find_done = asyncio.Event()

    async def get(request: QRRequest) -> AsyncIterator[Any]:
        yield 20
        for i in range(20):
            if i == 10:
                await asyncio.wait_for(find_done.wait(), 5)
            yield 0xFF00, instance(i)

    async def find(request: QRRequest) -> AsyncIterator[tuple[int, Dataset]]:
        yield 0xFF00, answer("F")
        find_done.set()

    async with qr_server(QRHandlers(find=find, get=get)) as srv:
        conn = await associate_get(srv.port, uids.STUDY_ROOT_QR_GET,
                                   extra=[uids.STUDY_ROOT_QR_FIND], async_window=ASYNC_WINDOW)
        got_task = asyncio.create_task(run(qr_scu.get(
            conn, ds(QueryRetrieveLevel="STUDY", StudyInstanceUID=STUDY), folder=tmp_path)))
        found = await run(qr_scu.find(conn, query("F")), timeout=5)
        got = await got_task
        await conn.release()
    assert found.final.status == 0 and len(found.matches) == 1
    assert got.final.status == 0 and got.final.completed == 20
    assert len(dicom_files(tmp_path)) == 20


async def test_duplicate_message_id_find() -> None:
    started, release = asyncio.Event(), asyncio.Event()
    calls: list[int] = []

    async def find(request: QRRequest) -> AsyncIterator[tuple[int, Dataset]]:
        calls.append(request.message_id)
        started.set()
        await release.wait()
        yield 0xFF00, answer("A")

    async with qr_server(QRHandlers(find=find)) as srv:
        conn = await associate(srv.port, [uids.STUDY_ROOT_QR_FIND], async_window=ASYNC_WINDOW)
        ctx = context_id(conn, uids.STUDY_ROOT_QR_FIND)
        msg_id = conn.next_message_id()
        queue = conn.open_exchange(msg_id)
        rq = dimse.CFindRQ(message_id=msg_id, affected_sop_class_uid=uids.STUDY_ROOT_QR_FIND)
        conn.send(ctx, rq, encode(query("A")))
        await asyncio.wait_for(started.wait(), 5)
        conn.send(ctx, rq, encode(query("A")))
        duplicate = as_response(uids.QRService.FIND, await conn.next_response(queue, 5))
        release.set()
        rest = [as_response(uids.QRService.FIND, r) for r in await read_until_final(conn, queue)]
        conn.close_exchange(msg_id)
        # The ID is free again once its operation ended.
        again = await run(qr_scu.find(conn, query("B")))
        await conn.release()
    assert duplicate.status == 0x0210 and duplicate.category is Category.FAILURE
    assert duplicate.comment == f"message ID {msg_id} is in use"
    assert duplicate.raw is None
    assert [r.status for r in rest] == [0xFF00, 0x0000]
    assert calls == [msg_id, again.final.message.message_id_being_responded_to]
