"""The SCP side: route each incoming request to its service.

:class:`ServiceDispatcher` is the ``RequestHandler`` a server installs on
every association; :func:`acceptor_policy` says which presentation contexts
the services it serves accept.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from .. import status, uids
from ..protocol import dimse
from ..protocol.negotiation import AcceptedContext, AcceptorPolicy
from ..transport.connection import Connection, DatasetSink, IncomingMessage
from .echo import answer_echo
from .store import FileArchive, send_store_response

log = logging.getLogger("dicomqr.scp")

__all__ = ["DEFAULT_TRANSFER_SYNTAXES", "ServiceDispatcher", "acceptor_policy"]

#: What a storage SCP accepts, in the order it prefers them: the proposer's
#: own encoding is kept (we never transcode to store), so native
#: little-endian syntaxes come first, then every compressed syntax as-is.
DEFAULT_TRANSFER_SYNTAXES: tuple[str, ...] = uids.STORABLE_TRANSFER_SYNTAXES


def acceptor_policy(*, verification: bool = True, storage: bool = True,
                    transfer_syntaxes: Iterable[str] = DEFAULT_TRANSFER_SYNTAXES
                    ) -> AcceptorPolicy:
    """The presentation contexts the built-in services accept."""
    ts = tuple(transfer_syntaxes)
    syntaxes: dict[str, tuple[str, ...]] = {}
    if verification:
        syntaxes[uids.VERIFICATION_SOP_CLASS] = uids.UNCOMPRESSED_TRANSFER_SYNTAXES
    return AcceptorPolicy(contexts=syntaxes, accept_all_storage=storage,
                          storage_transfer_syntaxes=ts)


# For each request type, the response type used to refuse it.
_REFUSALS: dict[type, type] = {
    dimse.CStoreRQ: dimse.CStoreRSP,
    dimse.CFindRQ: dimse.CFindRSP,
    dimse.CGetRQ: dimse.CGetRSP,
    dimse.CMoveRQ: dimse.CMoveRSP,
    dimse.CEchoRQ: dimse.CEchoRSP,
}


class ServiceDispatcher:
    """Serves the requests of one association."""

    def __init__(self, *, archive: FileArchive | None = None) -> None:
        self.archive = archive

    def dataset_sink(self, conn: Connection, context: AcceptedContext,
                     message: dimse.Message) -> DatasetSink | None:
        if isinstance(message, dimse.CStoreRQ) and self.archive is not None:
            return self.archive.sink(conn, context.transfer_syntax, message)
        return None

    def handle_now(self, conn: Connection, request: IncomingMessage) -> bool:
        msg = request.message
        if isinstance(msg, dimse.CEchoRQ):
            answer_echo(conn, request)
            return True
        if (isinstance(msg, dimse.CStoreRQ) and self.archive is not None
                and self.archive.on_stored is None and request.sink is not None
                and msg.affected_sop_class_uid == request.context.abstract_syntax):
            self.archive.store_now(conn, request)
            return True
        return False

    async def handle(self, conn: Connection, request: IncomingMessage) -> None:
        msg = request.message
        if isinstance(msg, dimse.CEchoRQ):
            answer_echo(conn, request)
        elif isinstance(msg, dimse.CStoreRQ):
            if self.archive is None or request.sink is None:
                send_store_response(conn, request, status.SOP_CLASS_NOT_SUPPORTED,
                                    "storage is not served here")
            elif msg.affected_sop_class_uid != request.context.abstract_syntax:
                request.sink.discard()
                send_store_response(conn, request, status.SOP_CLASS_NOT_SUPPORTED,
                                    "SOP class differs from the presentation context's")
            else:
                await self.archive.handle_store(conn, request)
        else:
            self.refuse(conn, request, status.UNRECOGNIZED_OPERATION,
                        f"{type(msg).__name__} is not served here")

    def cancel(self, conn: Connection, message: dimse.Message) -> None:
        # Nothing served here runs long enough to be cancelled.
        log.debug("%s: C-CANCEL for message %s ignored", conn.describe(),
                  getattr(message, "message_id_being_responded_to", "?"))

    @staticmethod
    def refuse(conn: Connection, request: IncomingMessage, code: int, comment: str) -> None:
        msg = request.message
        rsp_type = _REFUSALS.get(type(msg))
        if rsp_type is None:
            return
        log.info("%s: %s refused: %s", conn.describe(), type(msg).__name__, comment)
        fields = {
            "message_id_being_responded_to": msg.message_id,  # type: ignore[union-attr]
            "affected_sop_class_uid": getattr(msg, "affected_sop_class_uid", None)
            or request.context.abstract_syntax,
            "status": code,
            "error_comment": comment[:64],
        }
        if rsp_type is dimse.CStoreRSP:
            fields["affected_sop_instance_uid"] = msg.affected_sop_instance_uid  # type: ignore[union-attr]
        conn.send(request.context.context_id, rsp_type(**fields))
