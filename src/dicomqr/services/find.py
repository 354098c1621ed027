"""C-FIND SCP: the pending-response loop (PS3.4 C.4.1, PS3.7 §9.1.2).

The handler's matches stream out as pending responses (0xFF00, or 0xFF01
when the handler says optional keys were not supported), many per socket
write: responses are queued without a flush and go out together at the end
of the event-loop iteration.  Between any two matches the loop checks for
C-CANCEL, and it yields to the event loop every few dozen responses so a
C-CANCEL (or the peer's flow control) is seen promptly even when the
handler produces faster than the network takes.
"""

from __future__ import annotations

import asyncio
import logging

from pydicom import Dataset

from .. import status as _status
from ..protocol import dimse
from ..transport.connection import Connection
from ..uids import QRService
from .codec import IdentifierCodecError, encode_identifier
from .contract import ContractError, Reply, Violation, parse_status
from .handlers import END, HandlerFeed, HandlerRaised, HandlerTimedOut, QRHandlers, QRRequest

log = logging.getLogger("dicomqr.find")

__all__ = ["run_find", "send_find_final"]

_YIELD_EVERY = 32


def send_find_final(conn: Connection, context_id: int, rq: dimse.CFindRQ, reply: Reply) -> None:
    conn.send(context_id, dimse.CFindRSP(
        message_id_being_responded_to=rq.message_id,
        affected_sop_class_uid=rq.affected_sop_class_uid,
        status=reply.code,
        error_comment=reply.comment if reply.code != _status.SUCCESS else None,
        offending_element=reply.offending,
        error_id=reply.error_id,
    ))


def _unpack(item: object) -> tuple[object, object]:
    if not isinstance(item, tuple) or len(item) != 2:
        raise ContractError(Violation.INVALID_STATUS, QRService.FIND,
                            f"handler yielded {type(item).__name__}, not (status, identifier)")
    return item[0], item[1]


async def run_find(conn: Connection, context_id: int, rq: dimse.CFindRQ, request: QRRequest,
                   handlers: QRHandlers) -> tuple[Reply, int]:
    """Serve one C-FIND; returns the final reply sent and the matches sent."""
    assert handlers.find is not None
    sent = 0
    feed: HandlerFeed | None = None
    try:
        try:
            feed = HandlerFeed(handlers.find(request), limit=handlers.buffer,
                               stop_event=request._cancel)
        except Exception as exc:
            raise HandlerRaised(str(exc)) from exc
        final = await _pump(conn, context_id, rq, request, handlers, feed)
        sent = final[1]
        reply = final[0]
    except HandlerRaised as exc:
        cause = exc.__cause__
        log.warning("%s: C-FIND handler raised %s: %s", conn.describe(),
                    type(cause).__name__, cause)
        reply = Reply(_status.FIND_HANDLER_RAISED, f"handler raised {type(cause).__name__}"[:64])
    except HandlerTimedOut as exc:
        log.warning("%s: C-FIND handler: %s", conn.describe(), exc)
        reply = Reply(_status.FIND_HANDLER_RAISED, str(exc)[:64])
    except ContractError as exc:
        log.warning("%s: C-FIND handler broke the contract: %s", conn.describe(), exc)
        reply = Reply(exc.code, exc.detail[:64])
    finally:
        if feed is not None:
            feed.stop()
    if conn.is_open:
        send_find_final(conn, context_id, rq, reply)
    return reply, sent


async def _pump(conn: Connection, context_id: int, rq: dimse.CFindRQ, request: QRRequest,
                handlers: QRHandlers, feed: HandlerFeed) -> tuple[Reply, int]:
    ts = request.transfer_syntax
    cancel = request._cancel
    sent = 0
    timeout = handlers.handler_timeout
    # The pending responses of one request differ only in their identifier:
    # their command set is encoded once per status (0xFF00 / 0xFF01).
    commands: dict[int, bytes] = {}
    while True:
        if cancel.is_set():
            return Reply(_status.CANCEL), sent
        items = await feed.get(timeout)
        for item in items:
            if item is END:
                return Reply(_status.SUCCESS), sent
            if cancel.is_set():
                return Reply(_status.CANCEL), sent
            status, identifier = _unpack(item)
            reply = parse_status(status, QRService.FIND)
            if not reply.is_pending:
                return reply, sent
            data = _encode_match(identifier, ts)
            command = commands.get(reply.code)
            if command is None:
                command = commands[reply.code] = dimse.encode_command(dimse.CFindRSP(
                    message_id_being_responded_to=rq.message_id,
                    affected_sop_class_uid=rq.affected_sop_class_uid,
                    status=reply.code,
                    has_dataset=True,
                ))
            conn.send_encoded(context_id, command, data, flush=False)
            sent += 1
            if sent % _YIELD_EVERY == 0:
                await conn.drain()
                await _pass()
                if not conn.is_open:
                    return Reply(_status.CANCEL, "association closed"), sent


async def _pass() -> None:
    # One trip through the event loop: flushes what was queued and lets
    # incoming PDUs (a C-CANCEL) be read.
    await asyncio.sleep(0)


def _encode_match(identifier: object, ts: str) -> bytes:
    if isinstance(identifier, bytes | bytearray | memoryview):
        data = bytes(identifier)
        if len(data) % 2:
            raise ContractError(Violation.UNENCODABLE_RESULT, QRService.FIND,
                                "pre-encoded identifier of odd length")
        return data
    if not isinstance(identifier, Dataset):
        raise ContractError(Violation.UNENCODABLE_RESULT, QRService.FIND,
                            f"pending status with a {type(identifier).__name__} "
                            "instead of a Dataset")
    try:
        return encode_identifier(identifier, ts)
    except IdentifierCodecError as exc:
        raise ContractError(Violation.UNENCODABLE_RESULT, QRService.FIND, str(exc)) from exc
