"""The Q/R SCP: from a C-FIND/C-GET/C-MOVE-RQ to its handler, and C-CANCEL.

:class:`QRProvider` is shared by every association of a server (it holds
the application's :class:`~dicomqr.services.handlers.QRHandlers` and the
server-wide operation count); :class:`Operations` is per association: the
requests in progress by Message ID, so that C-CANCEL finds its request and
a second request reusing an outstanding Message ID gets 0x0210.

Before the handler is called, the request is checked in this order, each
failure answered with its own status (PS3.7 Annex C, PS3.4 C.4):

1. the SOP class is one of the 21 and served here, else 0x0122, and the
   command fits it (C-FIND on a FIND class, ...), else 0x0211;
2. the affected SOP class is the context's abstract syntax, else 0x0212
   (Mistyped argument: a parameter not agreed for use on the association);
3. the Message ID is not in use by an outstanding operation, else 0x0210;
4. the server is below its operation cap, else 0xA700 (C-FIND) / 0xA701;
5. the identifier decodes, else 0xC310/0xC410/0xC510;
6. Query/Retrieve View (0008,0053) only with enhanced multi-frame image
   conversion negotiated, else 0x0212;
7. the identifier fits the information model, else 0xA900 (0xAA04 for a
   malformed frame-level request) with Offending Element and Error Comment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from .. import status as _status
from .. import uids
from ..protocol import dimse
from ..query.identifier import InvalidIdentifier, validate
from ..transport.connection import Connection, IncomingMessage
from ..uids import QRService, QRSOPClass
from .codec import IdentifierCodecError, decode_identifier
from .contract import CONTRACT, Reply, Violation
from .extended import negotiated, reply_hook
from .find import run_find, send_find_final
from .handlers import QRHandlers, QRRequest
from .retrieve import run_retrieve, send_retrieve_final

log = logging.getLogger("dicomqr.qr")

__all__ = ["Operations", "QRProvider"]

_SERVICE_OF: dict[type, QRService] = {
    dimse.CFindRQ: QRService.FIND,
    dimse.CGetRQ: QRService.GET,
    dimse.CMoveRQ: QRService.MOVE,
}


@dataclass(slots=True)
class Operations:
    """The Q/R requests of one association that are not finished yet."""

    active: dict[int, QRRequest] = field(default_factory=dict)
    received: set[int] = field(default_factory=set)
    cancelled_early: set[int] = field(default_factory=set)

    def cancel(self, message_id: int) -> bool:
        request = self.active.get(message_id)
        if request is not None:
            request.cancel()
            return True
        if message_id in self.received:
            self.cancelled_early.add(message_id)
            return True
        return False


class QRProvider:
    """Serves C-FIND, C-GET and C-MOVE with the application's handlers."""

    def __init__(self, handlers: QRHandlers) -> None:
        self.handlers = handlers
        wanted = set(handlers.sop_classes) if handlers.sop_classes is not None else None
        served: dict[str, QRSOPClass] = {}
        for row in uids.QR_SOP_CLASSES.values():
            if getattr(handlers, row.service.value.lower()) is None:
                continue
            if wanted is not None and row.uid not in wanted:
                continue
            served[row.uid] = row
        self.served = served
        self.running = 0

    def contexts(self) -> dict[str, tuple[str, ...]]:
        """The presentation contexts to accept: each served SOP class with
        every uncompressed transfer syntax (and deflate, for identifiers)."""
        syntaxes = (*uids.UNCOMPRESSED_TRANSFER_SYNTAXES, uids.DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN)
        return {uid: tuple(dict.fromkeys(syntaxes)) for uid in self.served}

    def extended_hook(self) -> Callable[[str, bytes], bytes | None]:
        return reply_hook(self.handlers.extended_for)

    # ------------------------------------------------------------------ requests
    def accepts(self, message: object) -> bool:
        return type(message) in _SERVICE_OF

    def note_received(self, ops: Operations, message: dimse.Message) -> None:
        ops.received.add(message.message_id)  # type: ignore[union-attr]

    async def serve(self, conn: Connection, incoming: IncomingMessage, ops: Operations) -> None:
        rq = incoming.message
        assert isinstance(rq, dimse.CFindRQ | dimse.CGetRQ | dimse.CMoveRQ)
        service = _SERVICE_OF[type(rq)]
        ctx = incoming.context
        msg_id = rq.message_id
        try:
            if msg_id in ops.active:
                # Checked first: the outstanding operation keeps its ID.
                self._refuse(conn, incoming, service, Reply(
                    _status.DUPLICATE_INVOCATION, f"message ID {msg_id} is in use"))
                return
            request = self._admit(conn, incoming, service)
            if request is None:
                return
            if msg_id in ops.cancelled_early:
                request.cancel()
            ops.active[msg_id] = request
            self.running += 1
            try:
                if service is QRService.FIND:
                    assert isinstance(rq, dimse.CFindRQ)
                    await run_find(conn, ctx.context_id, rq, request, self.handlers)
                else:
                    assert isinstance(rq, dimse.CGetRQ | dimse.CMoveRQ)
                    await run_retrieve(conn, ctx.context_id, rq, request, self.handlers)
            finally:
                self.running -= 1
                ops.active.pop(msg_id, None)
        finally:
            ops.received.discard(msg_id)
            ops.cancelled_early.discard(msg_id)

    def _admit(self, conn: Connection, incoming: IncomingMessage,
               service: QRService) -> QRRequest | None:
        rq = incoming.message
        assert isinstance(rq, dimse.CFindRQ | dimse.CGetRQ | dimse.CMoveRQ)
        uid = rq.affected_sop_class_uid
        row = uids.qr_sop_class(uid)
        if row is None or (uid not in self.served and row.service is service):
            self._refuse(conn, incoming, service, Reply(
                _status.SOP_CLASS_NOT_SUPPORTED, f"SOP class {uid} is not served"[:64]))
            return None
        if row.service is not service:
            self._refuse(conn, incoming, service, Reply(
                _status.UNRECOGNIZED_OPERATION,
                f"{service.dimse} is not an operation of {row.dimse} SOP class"[:64]))
            return None
        if uid != incoming.context.abstract_syntax:
            # PS3.7 C.5.3: a parameter not agreed for use on the association:
            # the context was negotiated for another SOP class.
            self._refuse(conn, incoming, service, Reply(
                _status.MISTYPED_ARGUMENT,
                "SOP class differs from the presentation context's", (0x00000002,)))
            return None
        cap = self.handlers.max_operations
        if cap and self.running >= cap:
            # 0xA700 is C-FIND's "out of resources"; C-GET and C-MOVE have no
            # 0xA700 (PS3.4 Tables C.4-2/C.4-3): refused before any matching,
            # theirs is 0xA701 "unable to calculate number of matches".
            code = (_status.OUT_OF_RESOURCES if service is QRService.FIND
                    else _status.OUT_OF_RESOURCES_MATCHES)
            self._refuse(conn, incoming, service, Reply(
                code, f"{self.running} operations running (limit)"))
            return None
        ts = incoming.context.transfer_syntax
        try:
            identifier = decode_identifier(incoming.dataset or b"", ts)
        except IdentifierCodecError as exc:
            code = CONTRACT[(Violation.UNDECODABLE_IDENTIFIER, service)]
            log.warning("%s: %s identifier undecodable: %s", conn.describe(), service.dimse, exc)
            self._refuse(conn, incoming, service, Reply(code, str(exc)[:64]))
            return None
        extended = negotiated(conn.extended_negotiation, uid)
        if "QueryRetrieveView" in identifier and not extended.enhanced_conversion:
            # PS3.4 C.4.1.1.3.1 / C.6.1.1.3: the view is a parameter of the
            # enhanced multi-frame image conversion, which was not agreed.
            self._refuse(conn, incoming, service, Reply(
                _status.MISTYPED_ARGUMENT,
                "Query/Retrieve View without enhanced conversion negotiated",
                (0x00080053,)))
            return None
        level = ""
        if self.handlers.validate:
            try:
                spec = validate(identifier, uid, relational=extended.relational)
            except InvalidIdentifier as exc:
                self._refuse(conn, incoming, service,
                             Reply(exc.status, exc.comment[:64], tuple(exc.offending)))
                return None
            level = spec.level
        else:
            level = str(identifier.get("QueryRetrieveLevel", ""))
        return QRRequest(
            identifier=identifier, sop_class=row, level=level, message_id=rq.message_id,
            priority=int(rq.priority), calling_ae=conn.calling_ae, called_ae=conn.called_ae,
            peer=conn.peer, transfer_syntax=ts, extended=extended,
            move_destination=rq.move_destination if isinstance(rq, dimse.CMoveRQ) else None,
        )

    def _refuse(self, conn: Connection, incoming: IncomingMessage, service: QRService,
                reply: Reply) -> None:
        rq = incoming.message
        ctx_id = incoming.context.context_id
        # Every refusal is logged, with what the requestor is told.
        log.info("%s: %s (message %d) refused: 0x%04X %s", conn.describe(), service.dimse,
                 rq.message_id, reply.code, reply.comment or "")  # type: ignore[union-attr]
        if not conn.is_open:
            return
        if isinstance(rq, dimse.CFindRQ):
            send_find_final(conn, ctx_id, rq, reply)
        else:
            assert isinstance(rq, dimse.CGetRQ | dimse.CMoveRQ)
            send_retrieve_final(conn, ctx_id, rq, service, reply, None,
                                incoming.context.transfer_syntax)
