"""Every row of the seeds' status tables, produced by our SCP over a real
association under its own condition, and what our SCU reports for it.

The rows come from :data:`dicomqr.status.STATUS_TABLES` (the seeds' C-FIND,
C-GET and C-MOVE tables of the four service classes); each (operation,
code) has a scenario below that makes the service produce the code: a bad
request, a handler's decision or mistake, a destination that refuses, a
C-CANCEL.  A row without a scenario fails the test.  The range row
0xC000-0xCFFF is exercised with 0xC123, a code no other row names.

Where only the application can decide on a status (0x0124 refusing a
requestor, 0xA701 out of resources, 0xAA00-0xAA03 for frames, 0xC000-0xCFFF
and 0xA900 for the single-entity C-FIND, which has no structure to
validate), the handler yields it and the test checks it reaches the SCU
unchanged, with its Error Comment and Offending Element.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
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
from dicomqr.status import STATUS_TABLES, Category, Service, category_of
from dicomqr.transport.connection import Connection
from dicomqr.transport.server import AssociationRules, Server
from dicomqr.uids import QRService

from .qr_helpers import (
    ASYNC_WINDOW,
    DEST_AE,
    MR,
    SCU_AE,
    Outcome,
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
    raw_request,
    read_until_final,
    run,
    uid_of,
    valid_identifier,
)

F, G, M = QRService.FIND, QRService.GET, QRService.MOVE
RANGE_CODE = 0xC123  # stands for the row 0xC000-0xCFFF

#: The SOP class each table is exercised with.
SOP_CLASS_OF = {
    Service.QR_FIND: uids.STUDY_ROOT_QR_FIND,
    Service.QR_GET: uids.STUDY_ROOT_QR_GET,
    Service.QR_MOVE: uids.STUDY_ROOT_QR_MOVE,
    Service.DPP_FIND: uids.DEFINED_PROCEDURE_PROTOCOL_FIND,
    Service.DPP_GET: uids.DEFINED_PROCEDURE_PROTOCOL_GET,
    Service.DPP_MOVE: uids.DEFINED_PROCEDURE_PROTOCOL_MOVE,
    Service.PROTOCOL_APPROVAL_FIND: uids.PROTOCOL_APPROVAL_FIND,
    Service.PROTOCOL_APPROVAL_GET: uids.PROTOCOL_APPROVAL_GET,
    Service.PROTOCOL_APPROVAL_MOVE: uids.PROTOCOL_APPROVAL_MOVE,
    Service.COLOR_PALETTE_FIND: uids.COLOR_PALETTE_FIND,
    Service.COLOR_PALETTE_GET: uids.COLOR_PALETTE_GET,
    Service.COLOR_PALETTE_MOVE: uids.COLOR_PALETTE_MOVE,
}
#: Frame-level statuses of the Query/Retrieve tables come from Composite
#: Instance Root Retrieve, the one model with frame-level requests.
FRAME_CODES = frozenset({0xAA00, 0xAA01, 0xAA02, 0xAA03, 0xAA04})
FRAME_SOP_CLASS = {
    Service.QR_GET: uids.COMPOSITE_INSTANCE_ROOT_RETRIEVE_GET,
    Service.QR_MOVE: uids.COMPOSITE_INSTANCE_ROOT_RETRIEVE_MOVE,
}
ACTION_OF = {
    Category.SUCCESS: Action.COMPLETE,
    Category.PENDING: Action.CONTINUE,
    Category.WARNING: Action.REPORT_WARNING,
    Category.CANCEL: Action.REPORT_CANCEL,
    Category.FAILURE: Action.REPORT_FAILURE,
}


def _rows() -> Iterator[Any]:
    for table, sop_class in SOP_CLASS_OF.items():
        for entry in STATUS_TABLES[table]:
            code = entry.first if entry.span == 1 else RANGE_CODE
            if code in FRAME_CODES:
                sop_class = FRAME_SOP_CLASS.get(table, sop_class)
            yield pytest.param(table, sop_class, code, entry.category,
                               id=f"{table.name}-{code:04X}")


# -- the environment of one scenario ---------------------------------------------------

@dataclass
class Env:
    table: Service
    sop_class: str
    code: int
    tmp_path: Path
    dest_port: int = 0

    @property
    def row(self) -> uids.QRSOPClass:
        row = uids.qr_sop_class(self.sop_class)
        assert row is not None
        return row

    @property
    def service(self) -> QRService:
        return self.row.service

    @property
    def got(self) -> Path:
        return self.tmp_path / "got"

    @property
    def moved(self) -> Path:
        return self.tmp_path / "moved"


def bind(env: Env, items: Callable[[QRRequest], Any], **options: Any) -> QRHandlers:
    """QRHandlers serving ``items`` for the env's operation; for C-MOVE the
    destination (the test's storage SCP) is yielded first."""
    handler: Callable[[QRRequest], Any] = items
    if env.service is M and inspect.isasyncgenfunction(items):
        async def amove(request: QRRequest) -> AsyncIterator[Any]:
            yield "127.0.0.1", env.dest_port
            async for item in items(request):
                yield item
        handler = amove
    elif env.service is M:
        def move(request: QRRequest) -> Iterator[Any]:
            yield "127.0.0.1", env.dest_port
            yield from items(request)
        handler = move
    if env.service is F:
        return QRHandlers(find=handler, **options)
    if env.service is G:
        return QRHandlers(get=handler, **options)
    return QRHandlers(move=handler, **options)


@contextlib.asynccontextmanager
async def served(env: Env, handlers: QRHandlers, *, dest_rules: AssociationRules | None = None,
                 dest_on_stored: Any = None) -> AsyncIterator[Server]:
    """Our SCP with ``handlers``; for C-MOVE, a storage SCP as destination too."""
    async with contextlib.AsyncExitStack() as stack:
        if env.service is M:
            dest = await stack.enter_async_context(
                destination(env.moved, rules=dest_rules, on_stored=dest_on_stored))
            env.dest_port = dest.port
        yield await stack.enter_async_context(qr_server(handlers))


async def connect_for(env: Env, port: int, **options: Any) -> Connection:
    if env.service is G:
        return await associate_get(port, env.sop_class, **options)
    return await associate(port, [env.sop_class], **options)


def operation(env: Env, conn: Connection, identifier: Dataset | None = None) -> QROperation:
    identifier = identifier if identifier is not None else valid_identifier(env.sop_class)
    if env.service is F:
        return qr_scu.find(conn, identifier, sop_class=env.sop_class)
    if env.service is G:
        return qr_scu.get(conn, identifier, sop_class=env.sop_class, folder=env.got)
    return qr_scu.move(conn, identifier, DEST_AE, sop_class=env.sop_class)


async def perform(env: Env, handlers: QRHandlers, identifier: Dataset | None = None,
                  **serve_options: Any) -> Outcome:
    """Serve ``handlers`` and run the env's operation once with our SCU."""
    async with served(env, handlers, **serve_options) as srv:
        conn = await connect_for(env, srv.port)
        out = await run(operation(env, conn, identifier))
        await conn.release()
    return out


def request_message(service: QRService, message_id: int, sop_class: str) -> dimse.Message:
    if service is F:
        return dimse.CFindRQ(message_id=message_id, affected_sop_class_uid=sop_class)
    if service is G:
        return dimse.CGetRQ(message_id=message_id, affected_sop_class_uid=sop_class)
    return dimse.CMoveRQ(message_id=message_id, affected_sop_class_uid=sop_class,
                         move_destination=DEST_AE)


def status(code: int, comment: str | None = None, offending: int | None = None) -> Dataset:
    out = ds(Status=code)
    if comment is not None:
        out.ErrorComment = comment
    if offending is not None:
        out.OffendingElement = offending
    return out


def counts(rsp: QRResponse) -> tuple[int | None, ...]:
    return rsp.remaining, rsp.completed, rsp.failed, rsp.warning


def two_items(env: Env) -> Callable[[QRRequest], Iterator[Any]]:
    def items(request: QRRequest) -> Iterator[Any]:
        if env.service is F:
            for i in range(2):
                yield 0xFF00, ds(SOPInstanceUID=uid_of(i))
        else:
            yield 2
            for i in range(2):
                yield 0xFF00, instance(i)
    return items


def never_called(request: QRRequest) -> Iterator[Any]:
    raise AssertionError("the handler must not be called")
    yield  # pragma: no cover


def assert_nothing_stored(env: Env) -> None:
    assert dicom_files(env.tmp_path) == []


# -- the scenarios ---------------------------------------------------------------------

Scenario = Callable[[Env], Awaitable[QRResponse]]
SCENARIOS: dict[tuple[QRService, int], Scenario] = {}


def scenario(services: tuple[QRService, ...], *codes: int) -> Callable[[Scenario], Scenario]:
    def register(fn: Scenario) -> Scenario:
        for service in services:
            for code in codes:
                assert (service, code) not in SCENARIOS
                SCENARIOS[(service, code)] = fn
        return fn
    return register


@scenario((F, G, M), 0x0000)
async def success(env: Env) -> QRResponse:
    out = await perform(env, bind(env, two_items(env)))
    if env.service is F:
        assert [str(m.SOPInstanceUID) for m in out.matches] == [uid_of(0), uid_of(1)]
    else:
        assert counts(out.final) == (None, 2, 0, 0)
        assert len(dicom_files(env.tmp_path)) == 2
    assert out.final.comment is None and out.final.failed_uids == ()
    return out.final


@scenario((F, G, M), 0xFF00)
async def pending(env: Env) -> QRResponse:
    out = await perform(env, bind(env, two_items(env)))
    assert out.final.status == 0x0000
    assert len(out.pending) == 2
    first = out.pending[0]
    if env.service is F:
        assert first.identifier is not None
        assert first.identifier.SOPInstanceUID == uid_of(0)
    else:
        assert first.identifier is None  # no dataset in a pending C-GET/C-MOVE-RSP
        progress = (first.remaining, first.completed, first.failed, first.warning)
        assert None not in progress and sum(progress) == 2  # type: ignore[arg-type]
    return first


@scenario((F,), 0xFF01)
async def pending_warning(env: Env) -> QRResponse:
    def items(request: QRRequest) -> Iterator[Any]:
        yield 0xFF01, ds(SOPInstanceUID=uid_of(0))  # an optional key was not supported
        yield 0xFF00, ds(SOPInstanceUID=uid_of(1))
    out = await perform(env, bind(env, items))
    assert [r.status for r in out.responses] == [0xFF01, 0xFF00, 0x0000]
    assert out.pending[0].ok and out.pending[0].identifier is not None
    return out.pending[0]


@scenario((F, G, M), 0x0122)
async def sop_class_not_served(env: Env) -> QRResponse:
    """A request for a SOP class this server does not serve.  It cannot be
    negotiated, so it arrives on the context of one that is served."""
    other = next(r.uid for r in uids.qr_sop_classes(env.service) if r.uid != env.sop_class)
    handlers = bind(env, never_called, sop_classes=[env.sop_class])
    async with served(env, handlers) as srv:
        conn = await associate(srv.port, [env.sop_class])
        rq = request_message(env.service, conn.next_message_id(), other)
        (incoming,) = await raw_request(conn, env.sop_class, rq, encode(valid_identifier(other)))
        await conn.release()
    rsp = as_response(env.service, incoming)
    assert rsp.message.affected_sop_class_uid == other
    assert rsp.comment is not None and "not served" in rsp.comment
    return rsp


@scenario((G, M), 0x0124)
async def not_authorized(env: Env) -> QRResponse:
    def items(request: QRRequest) -> Iterator[Any]:
        if request.calling_ae != "TRUSTED":
            yield status(0x0124, f"{request.calling_ae} may not retrieve"), None
            return
        yield 0
    out = await perform(env, bind(env, items))
    assert out.final.comment == f"{SCU_AE} may not retrieve"
    assert counts(out.final) == (None, None, None, None)
    assert out.pending == []
    return out.final


@scenario((G, M), 0x0210)
async def duplicate_invocation(env: Env) -> QRResponse:
    """Two requests with one Message ID while the first is running (an
    asynchronous operations window lets the second arrive meanwhile)."""
    started, release = asyncio.Event(), asyncio.Event()
    calls = []

    async def items(request: QRRequest) -> AsyncIterator[Any]:
        calls.append(request.message_id)
        started.set()
        await release.wait()
        yield 0

    async with served(env, bind(env, items)) as srv:
        conn = await associate(srv.port, [env.sop_class], async_window=ASYNC_WINDOW)
        msg_id = conn.next_message_id()
        queue = conn.open_exchange(msg_id)
        ctx = context_id(conn, env.sop_class)
        data = encode(valid_identifier(env.sop_class))
        conn.send(ctx, request_message(env.service, msg_id, env.sop_class), data)
        await asyncio.wait_for(started.wait(), 5)
        conn.send(ctx, request_message(env.service, msg_id, env.sop_class), data)
        first = await conn.next_response(queue, 5)
        release.set()
        rest = await read_until_final(conn, queue)
        conn.close_exchange(msg_id)
        await conn.release()
    assert calls == [msg_id]
    rsp = as_response(env.service, first)
    assert rsp.comment == f"message ID {msg_id} is in use"
    # The operation that owns the ID went on undisturbed.
    assert [r.message.status for r in rest] == [0x0000]  # type: ignore[union-attr]
    return rsp


@scenario((M,), 0x0211)
async def unrecognized_operation(env: Env) -> QRResponse:
    """A C-MOVE-RQ naming (and sent on) a C-FIND SOP class."""
    find_class = uids.qr_sop_classes(F, model=env.row.model)[0].uid
    handlers = QRHandlers(find=never_called, move=never_called)
    async with served(env, handlers) as srv:
        conn = await associate(srv.port, [find_class, env.sop_class])
        rq = request_message(M, conn.next_message_id(), find_class)
        (incoming,) = await raw_request(conn, find_class, rq,
                                        encode(valid_identifier(env.sop_class)))
        await conn.release()
    rsp = as_response(M, incoming)
    assert isinstance(rsp.message, dimse.CMoveRSP)
    assert rsp.comment == "C-MOVE is not an operation of C-FIND SOP class"
    return rsp


@scenario((G, M), 0x0212)
async def mistyped_argument(env: Env) -> QRResponse:
    """Query/Retrieve View without enhanced multi-frame conversion agreed."""
    identifier = valid_identifier(env.sop_class)
    identifier.QueryRetrieveView = "CLASSIC"
    out = await perform(env, bind(env, never_called), identifier)
    assert out.final.offending == (0x00080053,)
    assert out.final.comment is not None and "Query/Retrieve View" in out.final.comment
    return out.final


@scenario((F, G, M), 0xFE00)
async def cancelled(env: Env) -> QRResponse:
    closed = asyncio.Event()

    async def items(request: QRRequest) -> AsyncIterator[Any]:
        try:
            if env.service is not F:
                yield 1000
            for i in range(1000):
                yield 0xFF00, (ds(SOPInstanceUID=uid_of(i)) if env.service is F
                               else instance(i))
                await asyncio.sleep(0.02)
        finally:
            closed.set()

    async with served(env, bind(env, items)) as srv:
        conn = await connect_for(env, srv.port)
        op = operation(env, conn)
        out = Outcome()
        async for item in op:
            if isinstance(item, QRResponse):
                out.responses.append(item)
                if item.pending:
                    await op.cancel()
        await asyncio.wait_for(closed.wait(), 2)
        await conn.release()
    rsp = out.final
    assert 1 <= len(out.pending) < 10
    if env.service is not F:
        assert rsp.completed is not None and rsp.completed >= 1
        assert rsp.remaining is not None and rsp.remaining + rsp.completed == 1000
        assert (rsp.failed, rsp.warning) == (0, 0)
    return rsp


@scenario((F,), 0xA700)
@scenario((G, M), 0xA701)
async def out_of_resources(env: Env) -> QRResponse:
    """The server runs at most one Q/R operation at once: a second one,
    from another association, is refused."""
    started, release = asyncio.Event(), asyncio.Event()

    async def items(request: QRRequest) -> AsyncIterator[Any]:
        started.set()
        await release.wait()
        if env.service is F:
            yield 0xFF00, ds(SOPInstanceUID=uid_of(0))
        else:
            yield 0

    async with served(env, bind(env, items, max_operations=1)) as srv:
        first_conn = await connect_for(env, srv.port)
        second_conn = await connect_for(env, srv.port)
        first = asyncio.create_task(run(operation(env, first_conn)))
        await asyncio.wait_for(started.wait(), 5)
        refused = await run(operation(env, second_conn))
        release.set()
        assert (await first).final.status == 0x0000
        again = await run(operation(env, second_conn))  # the slot is free again
        assert again.final.status == 0x0000
        await first_conn.release()
        await second_conn.release()
    rsp = refused.final
    assert rsp.comment == "1 operations running (limit)"
    assert counts(rsp) == (None, None, None, None)
    return rsp


@scenario((G,), 0xA702)
async def all_sub_operations_failed_get(env: Env) -> QRResponse:
    """Every instance is of a SOP class the requestor offered no storage context for."""
    def items(request: QRRequest) -> Iterator[Any]:
        yield 2
        for i in range(2):
            yield 0xFF00, instance(i, MR)
    out = await perform(env, bind(env, items))
    rsp = out.final
    assert counts(rsp) == (None, 0, 2, 0)
    assert rsp.failed_uids == (uid_of(0), uid_of(1))
    assert rsp.comment == "all sub-operations failed"
    assert_nothing_stored(env)
    return rsp


@scenario((M,), 0xA702)
async def destination_refuses(env: Env) -> QRResponse:
    def items(request: QRRequest) -> Iterator[Any]:
        yield 3
        for i in range(3):
            yield 0xFF00, instance(i)
    out = await perform(env, bind(env, items),
                        dest_rules=AssociationRules(called_ae_titles=frozenset({"SOMEONE"})))
    rsp = out.final
    assert counts(rsp) == (None, 0, 3, 0)
    assert rsp.failed_uids == tuple(uid_of(i) for i in range(3))
    assert rsp.comment == "destination rejected the association"
    assert_nothing_stored(env)
    return rsp


@scenario((M,), 0xA801)
async def destination_unknown(env: Env) -> QRResponse:
    def move(request: QRRequest) -> Iterator[Any]:
        yield None  # the Move Destination is not an AE we know
    out = await perform(env, QRHandlers(move=move))
    rsp = out.final
    assert rsp.comment == f"move destination {DEST_AE!r} unknown"
    assert counts(rsp) == (None, None, None, None)
    return rsp


@scenario((F, G, M), 0xA900)
async def identifier_does_not_match(env: Env) -> QRResponse:
    single_entity = env.row.model in (uids.QRModel.DEFINED_PROCEDURE_PROTOCOL,
                                      uids.QRModel.PROTOCOL_APPROVAL,
                                      uids.QRModel.COLOR_PALETTE)
    if env.service is F and single_entity:
        # The worklist-style C-FIND takes any keys: only the application
        # knows which it cannot take.
        def items(request: QRRequest) -> Iterator[Any]:
            yield status(0xA900, "Rows is no key here", 0x00280010), None
        identifier = ds(SOPInstanceUID="", Rows=0)
        out = await perform(env, bind(env, items), identifier)
        assert out.final.comment == "Rows is no key here"
        assert out.final.offending == (0x00280010,)
        return out.final
    if single_entity:
        identifier, tag = ds(PatientID="x"), 0x00080018  # no SOP Instance UID
    elif env.service is F:
        identifier, tag = ds(StudyInstanceUID=""), 0x00080052  # no Query/Retrieve Level
    else:
        identifier, tag = ds(QueryRetrieveLevel="STUDY"), 0x0020000D  # no Study Instance UID
    out = await perform(env, bind(env, never_called), identifier)
    assert out.final.offending == (tag,)
    assert out.final.comment
    return out.final


@scenario((G, M), 0xAA00, 0xAA01, 0xAA02, 0xAA03)
async def frame_refusal(env: Env) -> QRResponse:
    comments = {0xAA00: "frame 5 of 1 not found", 0xAA01: "cannot create the object",
                0xAA02: "frames cannot be extracted", 0xAA03: "instance is not time-based"}
    seen: list[QRRequest] = []

    def items(request: QRRequest) -> Iterator[Any]:
        seen.append(request)
        yield status(code, comments[code]), None

    code = env.code
    if env.row.model is uids.QRModel.COMPOSITE_INSTANCE_ROOT:
        identifier = ds(QueryRetrieveLevel="FRAME", SOPInstanceUID=uid_of(0),
                        SimpleFrameList=[5])
        out = await perform(env, bind(env, items), identifier)
        assert seen[0].level == "FRAME"
    else:  # Protocol Approval lists these too; only the application can send them.
        out = await perform(env, bind(env, items))
    assert out.final.comment == comments[code]
    return out.final


@scenario((G, M), 0xAA04)
async def invalid_frame_request(env: Env) -> QRResponse:
    if env.row.model is uids.QRModel.COMPOSITE_INSTANCE_ROOT:
        # FRAME level, but no frame range key: refused before the handler.
        identifier = ds(QueryRetrieveLevel="FRAME", SOPInstanceUID=uid_of(0))
        out = await perform(env, bind(env, never_called), identifier)
        assert out.final.comment == "FRAME level request with no frame range key"
        assert out.final.offending == (0x00081161, 0x00081162, 0x00081163)
        return out.final

    def items(request: QRRequest) -> Iterator[Any]:
        yield status(0xAA04, "no frames in a protocol approval"), None
    out = await perform(env, bind(env, items))
    assert out.final.comment == "no frames in a protocol approval"
    return out.final


@scenario((G,), 0xB000)
async def some_failed_get(env: Env) -> QRResponse:
    def items(request: QRRequest) -> Iterator[Any]:
        yield 3
        yield 0xFF00, instance(0)
        yield 0xFF00, instance(1, MR)  # no storage context offered for MR
        yield 0xFF00, instance(2)
    out = await perform(env, bind(env, items))
    rsp = out.final
    assert counts(rsp) == (None, 2, 1, 0)
    assert rsp.failed_uids == (uid_of(1),)
    assert len(dicom_files(env.got)) == 2
    return rsp


@scenario((M,), 0xB000)
async def some_failed_move(env: Env) -> QRResponse:
    async def on_stored(stored: Any) -> int | None:
        return 0xA700 if stored.sop_instance_uid == uid_of(1) else None

    def items(request: QRRequest) -> Iterator[Any]:
        yield 3
        for i in range(3):
            yield 0xFF00, instance(i)
    out = await perform(env, bind(env, items), dest_on_stored=on_stored)
    rsp = out.final
    assert counts(rsp) == (None, 2, 1, 0)
    assert rsp.failed_uids == (uid_of(1),)
    return rsp


@scenario((F, G, M), RANGE_CODE)
async def unable_to_process(env: Env) -> QRResponse:
    def items(request: QRRequest) -> Iterator[Any]:
        if env.service is F:
            yield 0xFF00, ds(SOPInstanceUID=uid_of(0))
        else:
            yield 2
            yield 0xFF00, instance(0)
        yield status(RANGE_CODE, "index offline", 0x00100010), None
    out = await perform(env, bind(env, items))
    rsp = out.final
    assert rsp.comment == "index offline" and rsp.offending == (0x00100010,)
    assert len(out.pending) == 1
    if env.service is not F:
        assert (rsp.completed, rsp.failed, rsp.warning) == (1, 0, 0)
    return rsp


def assert_first_done(env: Env, out: Outcome) -> None:
    """The item before the bad one was served, and the final response says so."""
    if env.service is F:
        assert len(out.pending) == 1
        return
    # The sub-operation may still have been in flight when the bad item
    # came (C-MOVE runs several at once): its pending response is optional.
    assert len(out.pending) <= 1
    assert counts(out.final) == (None, 1, 0, 0)
    assert out.final.failed_uids == ()


def _first_then(env: Env, bad: Any) -> Callable[[QRRequest], Iterator[Any]]:
    """A handler that sends one good item, then ``bad`` as a status."""
    def items(request: QRRequest) -> Iterator[Any]:
        if env.service is F:
            yield 0xFF00, ds(SOPInstanceUID=uid_of(0))
            yield bad, ds(SOPInstanceUID=uid_of(1))
        else:
            yield 2
            yield 0xFF00, instance(0)
            yield bad, instance(1)
    return items


@scenario((F, G, M), 0xC001)
async def status_without_status_element(env: Env) -> QRResponse:
    out = await perform(env, bind(env, _first_then(env, ds(ErrorComment="forgot Status"))))
    assert_first_done(env, out)
    assert out.final.comment == "no Status in the Dataset"
    return out.final


@scenario((F, G, M), 0xC002)
async def status_not_int_or_dataset(env: Env) -> QRResponse:
    out = await perform(env, bind(env, _first_then(env, "pending")))
    assert_first_done(env, out)
    assert out.final.comment == "status 'pending' is a str"
    return out.final


UNDECODABLE = b"\x08\x00\x52\x00ZZ\x06\x00STUDY "  # an unknown VR


@scenario((F,), 0xC310)
@scenario((G,), 0xC410)
@scenario((M,), 0xC510)
async def identifier_undecodable(env: Env) -> QRResponse:
    async with served(env, bind(env, never_called)) as srv:
        conn = await associate(srv.port, [env.sop_class])
        rq = request_message(env.service, conn.next_message_id(), env.sop_class)
        (incoming,) = await raw_request(conn, env.sop_class, rq, UNDECODABLE)
        await conn.release()
    rsp = as_response(env.service, incoming)
    assert rsp.comment is not None and "Unknown Value Representation" in rsp.comment
    assert rsp.identifier is None
    return rsp


@scenario((F,), 0xC311)
@scenario((G,), 0xC411)
@scenario((M,), 0xC511)
async def handler_raised(env: Env) -> QRResponse:
    def items(request: QRRequest) -> Iterator[Any]:
        if env.service is F:
            yield 0xFF00, ds(SOPInstanceUID=uid_of(0))
        else:
            yield 2
            yield 0xFF00, instance(0)
        raise LookupError("database gone")
    out = await perform(env, bind(env, items))
    assert_first_done(env, out)
    assert out.final.comment == "handler raised LookupError"
    return out.final


@scenario((F,), 0xC312)
async def match_unencodable(env: Env) -> QRResponse:
    def items(request: QRRequest) -> Iterator[Any]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            bad = Dataset()
            bad.add_new(0x00280010, "US", "many")  # Rows is a number
        yield 0xFF00, ds(SOPInstanceUID=uid_of(0))
        yield 0xFF00, bad
    out = await perform(env, bind(env, items))
    assert len(out.pending) == 1
    assert out.final.comment is not None and "(0028,0010)" in out.final.comment
    return out.final


@scenario((G,), 0xC413)
@scenario((M,), 0xC513)
async def bad_count(env: Env) -> QRResponse:
    def items(request: QRRequest) -> Iterator[Any]:
        yield -3
    out = await perform(env, bind(env, items))
    assert out.final.comment == "sub-operation count -3 is not an int >= 0"
    assert_nothing_stored(env)
    return out.final


@scenario((M,), 0xC514)
async def no_destination(env: Env) -> QRResponse:
    def move(request: QRRequest) -> Iterator[Any]:
        return
        yield  # pragma: no cover
    out = await perform(env, QRHandlers(move=move))
    assert out.final.comment == "handler ended before yielding a destination"
    return out.final


@scenario((M,), 0xC515)
async def bad_destination(env: Env) -> QRResponse:
    def move(request: QRRequest) -> Iterator[Any]:
        yield "127.0.0.1", 70000
        yield 0
    out = await perform(env, QRHandlers(move=move))
    expected = "destination ('127.0.0.1', 70000) is not (address, port[, options])"
    assert out.final.comment == expected[:64]  # an LO: 64 characters at most
    return out.final


@pytest.mark.parametrize(("table", "sop_class", "code", "category"), list(_rows()))
async def test_status_row(table: Service, sop_class: str, code: int, category: Category,
                          tmp_path: Path) -> None:
    env = Env(table, sop_class, code, tmp_path)
    run_scenario = SCENARIOS.get((env.service, code))
    assert run_scenario is not None, f"no scenario produces 0x{code:04X} for {table.value}"
    rsp = await run_scenario(env)
    # What our SCU reports.
    assert rsp.status == code
    assert rsp.service is env.service
    if code not in (0x0122, 0x0211):  # those answer for the SOP class the request named
        assert rsp.message.affected_sop_class_uid == sop_class
    assert category_of(code, table) is category
    assert rsp.category is category
    expected_action = ACTION_OF[category]
    if code == 0xFF01:
        expected_action = Action.CONTINUE_WITH_WARNING
    assert rsp.behavior.action is expected_action
    assert rsp.final is (category is not Category.PENDING)
    assert rsp.ok is (category in (Category.SUCCESS, Category.PENDING, Category.WARNING))
    # A C-FIND's final response never carries an identifier (PS3.7 9.1.2.1.5),
    # and a retrieve's carries one only to list failed instances.
    if rsp.final and (env.service is F or not rsp.failed_uids):
        assert rsp.raw is None, rsp
    if env.service is F:
        assert rsp.completed is None
