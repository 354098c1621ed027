"""C-GET and C-MOVE SCP: sub-operations, counts and the final status.

PS3.4 C.4.2 (C-MOVE) and C.4.3 (C-GET), PS3.7 §9.1.3/9.1.4.  The handler
says where (move: a destination), how many (the sub-operation count), then
gives the instances one by one; for each the service performs a C-STORE
sub-operation, on this association (C-GET: the requestor took the storage
SCP role) or on an association it opens to the destination (C-MOVE), and
sends a pending response with the Number of Remaining, Completed, Failed
and Warning Sub-operations.  The final response is Success, Warning 0xB000
with the Failed SOP Instance UID List (0008,0058), Cancel 0xFE00 (with the
counts and the list) or the failure the handler or the circumstances name.

Counts are US (16-bit) elements.  A retrieve of more instances than that
still completes; a count above 65535 is sent as 65535 (documented in the
conformance statement), and the Failed SOP Instance UID List always holds
every failed UID that fits its encoding.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from pydicom import Dataset

from .. import status as _status
from ..protocol import dimse
from ..transport.client import AssociationRejectedError
from ..transport.connection import AssociationClosed, Connection
from ..uids import QRService
from .codec import IdentifierCodecError, encode_identifier
from .common import NoContextError
from .contract import ContractError, Reply, Violation, parse_status
from .handlers import END, HandlerFeed, HandlerRaised, HandlerTimedOut, QRHandlers, QRRequest
from .substore import (
    Destination,
    Instance,
    Prefetch,
    parse_destination,
    resolve,
    safe_resolve,
    store,
    uid_of,
)

log = logging.getLogger("dicomqr.retrieve")

__all__ = ["Counts", "run_retrieve", "send_retrieve_final"]

_US_MAX = 0xFFFF
_LOOKAHEAD = 512  # instances read ahead to choose a C-MOVE sub-association's contexts


def _us(n: int) -> int:
    return n if n <= _US_MAX else _US_MAX


@dataclass(slots=True)
class Counts:
    """Sub-operation bookkeeping of one retrieve."""

    total: int
    started: int = 0
    completed: int = 0
    failed: int = 0
    warning: int = 0
    failed_uids: list[str] = field(default_factory=list)

    @property
    def remaining(self) -> int:
        return max(self.total - self.completed - self.failed - self.warning, 0)

    def fail(self, uid: str | None) -> None:
        self.failed += 1
        if uid:
            self.failed_uids.append(uid)


# -- the operation -------------------------------------------------------------------

class _Items:
    """One-at-a-time access to a :class:`HandlerFeed`, with look-ahead."""

    def __init__(self, feed: HandlerFeed, timeout: float | None) -> None:
        self.feed = feed
        self.timeout = timeout
        self.buffer: deque[Any] = deque()
        self.ended = False

    async def next(self) -> Any:
        while not self.buffer:
            if self.ended:
                return END
            items = await self.feed.get(self.timeout)
            if not items:
                return None  # cancelled
            for it in items:
                if it is END:
                    self.ended = True
                else:
                    self.buffer.append(it)
        return self.buffer.popleft()

    async def fill(self, n: int) -> None:
        """Buffer up to ``n`` items: waits for the first one only, then takes
        what the handler has ready (a slow handler must not hold back the
        first sub-operations, nor keep the requestor waiting for 512 items)."""
        while not self.ended and len(self.buffer) < n:
            if self.buffer and not self.feed.ready:
                return
            try:
                items = await self.feed.get(self.timeout)
            except HandlerRaised:
                if self.buffer:
                    return  # what came before is served first; next() raises it again
                raise
            if not items:
                return
            for it in items:
                if it is END:
                    self.ended = True
                else:
                    self.buffer.append(it)


def _response(service: QRService, rq: dimse.CGetRQ | dimse.CMoveRQ, reply: Reply,
              counts: Counts | None, *, remaining: bool) -> dimse.CGetRSP | dimse.CMoveRSP:
    cls = dimse.CGetRSP if service is QRService.GET else dimse.CMoveRSP
    fields: dict[str, Any] = {
        "message_id_being_responded_to": rq.message_id,
        "affected_sop_class_uid": rq.affected_sop_class_uid,
        "status": reply.code,
        "error_comment": reply.comment if reply.code != _status.SUCCESS else None,
        "offending_element": reply.offending,
        "error_id": reply.error_id,
    }
    if counts is not None:
        if remaining:
            fields["number_of_remaining_suboperations"] = _us(counts.remaining)
        fields["number_of_completed_suboperations"] = _us(counts.completed)
        fields["number_of_failed_suboperations"] = _us(counts.failed)
        fields["number_of_warning_suboperations"] = _us(counts.warning)
    return cls(**fields)


def _failed_list(counts: Counts, ts: str) -> bytes | None:
    if not counts.failed_uids:
        return None
    ds = Dataset()
    uids_list = counts.failed_uids
    # Explicit VR gives UI a 16-bit length: keep what fits.
    budget, kept = 0xFFFE, []
    for uid in uids_list:
        budget -= len(uid) + 1
        if budget < 0:
            break
        kept.append(uid)
    ds.FailedSOPInstanceUIDList = kept if len(kept) > 1 else kept[0]
    return encode_identifier(ds, ts)


async def run_retrieve(conn: Connection, context_id: int, rq: dimse.CGetRQ | dimse.CMoveRQ,
                       request: QRRequest, handlers: QRHandlers) -> Reply:
    """Serve one C-GET or C-MOVE; returns the final reply sent."""
    service = QRService.GET if isinstance(rq, dimse.CGetRQ) else QRService.MOVE
    handler = handlers.get if service is QRService.GET else handlers.move
    assert handler is not None
    counts: Counts | None = None
    feed: HandlerFeed | None = None
    dest: Destination | None = None
    raised_code = (_status.GET_HANDLER_RAISED if service is QRService.GET
                   else _status.MOVE_HANDLER_RAISED)

    def final(reply: Reply, counts: Counts | None) -> Reply:
        return send_retrieve_final(conn, context_id, rq, service, reply, counts,
                                   request.transfer_syntax)
    try:
        try:
            feed = HandlerFeed(handler(request), limit=handlers.buffer,
                               stop_event=request._cancel)
        except Exception as exc:
            raise HandlerRaised(str(exc)) from exc
        items = _Items(feed, handlers.handler_timeout)
        target = conn
        if service is QRService.MOVE:
            first = await items.next()
            if first is END:
                raise ContractError(Violation.NO_DESTINATION_OR_COUNT, service,
                                    "handler ended before yielding a destination")
            if first is None and request.cancelled:
                reply = Reply(_status.CANCEL)
                return final(reply, Counts(0))
            if first is None:
                return final(Reply(
                    _status.MOVE_DESTINATION_UNKNOWN,
                    f"move destination {request.move_destination!r} unknown"[:64]), None)
            if (isinstance(first, tuple) and len(first) == 2
                    and not isinstance(first[0], str)):
                # (status, None) in place of the destination: the handler
                # refuses at once (0x0124, 0xA701, 0xA900 ...).
                reply = parse_status(first[0], service)
                if reply.is_pending:
                    raise ContractError(Violation.BAD_DESTINATION, service,
                                        "a pending status in place of the destination")
                return final(reply, None)
            host, port, options = parse_destination(first)
            dest = Destination(host, port,
                                str(options.get("ae_title", request.move_destination)),
                                request.called_ae, options)
        count_item = await items.next()
        if count_item is None and request.cancelled:
            return final(Reply(_status.CANCEL), Counts(0))
        if isinstance(count_item, tuple) and len(count_item) == 2:
            reply = parse_status(count_item[0], service)
            if not reply.is_pending:  # the handler refuses before starting
                return final(reply, None)
        if count_item is END:
            violation = (Violation.NO_DESTINATION_OR_COUNT if service is QRService.MOVE
                         else Violation.BAD_COUNT)
            raise ContractError(violation, service, "handler ended before the count")
        if not isinstance(count_item, int) or isinstance(count_item, bool) or count_item < 0:
            raise ContractError(Violation.BAD_COUNT, service,
                                f"sub-operation count {count_item!r} is not an int >= 0")
        counts = Counts(count_item)
        if dest is not None:
            await items.fill(_LOOKAHEAD)
            window = [safe_resolve(pair) for pair in items.buffer]
            try:
                if any(w is not None for w in window):
                    # No instance (no match): no association to open, and an
                    # A-ASSOCIATE-RQ without contexts cannot be sent anyway.
                    await dest.open([w for w in window if w is not None])
            except (OSError, TimeoutError, AssociationClosed) as exc:
                why = ("destination rejected the association"
                       if isinstance(exc, AssociationRejectedError)
                       else f"destination unreachable: {exc}")
                log.warning("%s: C-MOVE to %s (%s:%d): %s", conn.describe(),
                            request.move_destination, dest.host, dest.port, why)
                # As DCMTK does: every sub-operation counts as failed.
                counts.failed = counts.total
                counts.failed_uids = [uid_of(w) for w in window if w is not None]
                return final(Reply(
                    _status.OUT_OF_RESOURCES_SUB_OPERATIONS, why[:64]), counts)
            if dest.conn is not None:
                target = dest.conn
        reply = await _sub_operations(conn, context_id, rq, request, service, items, counts,
                                      target, dest)
    except HandlerRaised as exc:
        cause = exc.__cause__
        log.warning("%s: %s handler raised %s: %s", conn.describe(), service.dimse,
                    type(cause).__name__, cause)
        reply = Reply(raised_code, f"handler raised {type(cause).__name__}"[:64])
    except HandlerTimedOut as exc:
        log.warning("%s: %s handler: %s", conn.describe(), service.dimse, exc)
        reply = Reply(raised_code, str(exc)[:64])
    except ContractError as exc:
        log.warning("%s: %s handler broke the contract: %s", conn.describe(), service.dimse, exc)
        reply = Reply(exc.code, exc.detail[:64])
    finally:
        if feed is not None:
            feed.stop()
        if dest is not None:
            await dest.close()
    return final(reply, counts)


_MAX_WINDOW = 8  # C-STORE sub-operations in flight at most, when the peer allows several


def _window(target: Connection) -> int:
    allowed = target.max_invoked_by_us
    return _MAX_WINDOW if allowed == 0 else min(allowed, _MAX_WINDOW)


async def _sub_operations(conn: Connection, context_id: int, rq: dimse.CGetRQ | dimse.CMoveRQ,
                          request: QRRequest, service: QRService, items: _Items, counts: Counts,
                          target: Connection, dest: Destination | None) -> Reply:
    """Run the sub-operations; several at once when the association that
    carries them negotiated an asynchronous operations window, one at a time
    otherwise (PS3.7 D.3.3.3: without one, one request may be outstanding)."""
    originator = (request.calling_ae, rq.message_id) if service is QRService.MOVE else None
    cancel = request._cancel
    window = _window(target)
    inflight: set[asyncio.Task[None]] = set()
    prefetch = Prefetch(items.buffer) if window == 1 else None

    def progress() -> None:
        if not conn.is_open:
            raise AssociationClosed("requestor gone")
        # Not flushed on its own: it leaves with the next C-STORE-RQ (C-GET)
        # or at the end of this loop iteration, one write less per instance.
        conn.send(context_id, _response(service, rq, Reply(_status.PENDING), counts,
                                        remaining=True), flush=False)

    async def settle(limit: int) -> None:
        # Wait until fewer than ``limit`` sub-operations are in flight.
        while inflight and len(inflight) >= limit:
            done, _ = await asyncio.wait(inflight, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                inflight.discard(task)
                task.result()
                progress()

    try:
        while True:
            if cancel.is_set():
                await settle(1)
                return Reply(_status.CANCEL)
            item = await items.next()
            if item is END:
                break
            if item is None and cancel.is_set():  # else the handler yielded None
                await settle(1)
                return Reply(_status.CANCEL)
            if not isinstance(item, tuple) or len(item) != 2:
                raise ContractError(Violation.INVALID_STATUS, service,
                                    f"handler yielded {type(item).__name__}, "
                                    "not (status, dataset)")
            reply = parse_status(item[0], service)
            if not reply.is_pending:
                await settle(1)
                return reply
            counts.started += 1
            if counts.started > counts.total:
                counts.total = counts.started  # more than announced: keep counting
            if window == 1:
                await _one(conn, item[1], counts, target, dest, originator, service, prefetch)
                progress()
                continue
            if dest is not None:
                inst = safe_resolve(item)
                if inst is not None and (dest.conn is None or not dest.conn.is_open
                                         or not dest.covers(inst)):
                    # The sub-association is (re)opened: empty it first, and
                    # open it here rather than in a task, where the next
                    # sub-operations would race it (and open one more).
                    await settle(1)
                    await _one(conn, item[1], counts, target, dest, originator, service)
                    progress()
                    continue
            inflight.add(asyncio.create_task(
                _one(conn, item[1], counts, target, dest, originator, service)))
            await settle(window)
        await settle(1)
    finally:
        if inflight:
            await asyncio.gather(*inflight, return_exceptions=True)
    missing = counts.total - counts.started
    if missing > 0:
        # Announced, never given: those sub-operations did not happen, so
        # they are reported failed (their UIDs are unknown) rather than lost.
        log.warning("%s: %s handler announced %d sub-operations and gave %d",
                    conn.describe(), service.dimse, counts.total, counts.started)
        counts.failed += missing
    if counts.failed or counts.warning:
        if counts.completed == 0 and counts.warning == 0:
            return Reply(_status.OUT_OF_RESOURCES_SUB_OPERATIONS, "all sub-operations failed")
        return Reply(_status.SUB_OPERATIONS_WARNING)
    return Reply(_status.SUCCESS)


async def _one(conn: Connection, payload: Any, counts: Counts, target: Connection,
               dest: Destination | None, originator: tuple[str, int] | None,
               service: QRService, prefetch: Prefetch | None = None) -> None:
    if payload is None:
        counts.fail(None)
        return
    ready = prefetch.take(payload) if prefetch is not None else None
    data = None
    inst: Instance
    try:
        if ready is not None:
            inst, data = ready
        else:
            inst = resolve(payload)
    except (OSError, ValueError) as exc:
        log.warning("%s: %s sub-operation skipped: %s", conn.describe(), service.dimse, exc)
        counts.fail(getattr(payload, "SOPInstanceUID", None))
        return
    uid = uid_of(inst)
    try:
        if dest is not None:
            # C-MOVE: always the destination, never the requestor's association.
            if dest.conn is None or not dest.conn.is_open or not dest.covers(inst):
                await dest.open([inst])
            assert dest.conn is not None
            target = dest.conn
        code = await store(target, inst, originator, prefetch, data)
    except NoContextError as exc:
        log.info("%s: %s sub-operation for %s failed: %s", conn.describe(), service.dimse,
                 uid, exc)
        counts.fail(uid)
        return
    except (AssociationClosed, TimeoutError) as exc:
        # Before OSError, of which AssociationClosed is a kind.
        if target is conn:
            raise
        log.warning("%s: C-MOVE destination association lost: %s", conn.describe(), exc)
        counts.fail(uid)
        if dest is not None:
            dest.conn = None
            dest.proposed = set()
        return
    except (ValueError, OSError) as exc:
        log.warning("%s: %s sub-operation for %s failed: %s", conn.describe(), service.dimse,
                    uid, exc)
        counts.fail(uid)
        return
    category = _status.category_of(code, _status.Service.STORAGE)
    if category is _status.Category.SUCCESS:
        counts.completed += 1
    elif category is _status.Category.WARNING:
        counts.warning += 1
    else:
        counts.fail(uid)


def send_retrieve_final(conn: Connection, context_id: int, rq: dimse.CGetRQ | dimse.CMoveRQ,
                        service: QRService, reply: Reply, counts: Counts | None,
                        ts: str) -> Reply:
    """Send the final C-GET/C-MOVE-RSP (with the Failed SOP Instance UID List
    when sub-operations failed and the status is not Success)."""
    if not conn.is_open:
        return reply
    dataset = None
    if counts is not None and reply.code != _status.SUCCESS:
        try:
            dataset = _failed_list(counts, ts)
        except IdentifierCodecError:
            dataset = None
    rsp = _response(service, rq, reply, counts, remaining=reply.code == _status.CANCEL)
    if dataset is not None:
        # dataclasses.replace: __dataclass_fields__ also lists the ClassVar
        # command_field, which the constructor does not take.
        rsp = dataclasses.replace(rsp, has_dataset=True)
    conn.send(context_id, rsp, dataset)
    return reply

