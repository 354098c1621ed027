"""The SCP side: route each incoming request to its service.

:class:`ServiceDispatcher` is the ``RequestHandler`` a server installs on
every association; :func:`acceptor_policy` says which presentation contexts
the services it serves accept.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from .. import status, uids
from ..protocol import dimse
from ..protocol.items import AsyncOperationsWindow
from ..protocol.negotiation import AcceptedContext, AcceptorPolicy, RoleAgreement
from ..transport.connection import Connection, DatasetSink, IncomingMessage
from ..transport.server import Server
from .echo import answer_echo
from .handlers import QRHandlers
from .qr_scp import Operations, QRProvider
from .store import FileArchive, StoredInstance, send_store_response

log = logging.getLogger("dicomqr.scp")

__all__ = [
    "DEFAULT_TRANSFER_SYNTAXES",
    "QR_ASYNC_WINDOW",
    "ServiceDispatcher",
    "acceptor_policy",
    "make_server",
    "storage_scp",
]

#: What a storage SCP accepts, in the order it prefers them: the proposer's
#: own encoding is kept (we never transcode to store), so native
#: little-endian syntaxes come first, then every compressed syntax as-is.
DEFAULT_TRANSFER_SYNTAXES: tuple[str, ...] = uids.STORABLE_TRANSFER_SYNTAXES

#: The asynchronous operations window a Q/R or storage SCP offers (PS3.7
#: D.3.3.3, values as the acceptor returns them): the requestor may invoke
#: up to 16 operations that we perform at once, and may perform up to 16 of
#: ours (the C-STORE sub-operations of a C-GET) at once.
QR_ASYNC_WINDOW = AsyncOperationsWindow(max_invoked=16, max_performed=16)


def acceptor_policy(*, verification: bool = True, storage: bool = True,
                    transfer_syntaxes: Iterable[str] = DEFAULT_TRANSFER_SYNTAXES,
                    qr: QRProvider | None = None,
                    async_window: AsyncOperationsWindow | None = QR_ASYNC_WINDOW,
                    ) -> AcceptorPolicy:
    """The presentation contexts the built-in services accept.

    With ``qr``, its Q/R SOP classes too, the storage SCP role for the
    C-STORE sub-operations of C-GET (the requestor proposes to be the
    storage SCP, PS3.4 C.4.3.1), the extended negotiation its handlers
    support, and an asynchronous operations window (up to 16 operations
    performed at once on one association, when the requestor asks).
    """
    ts = tuple(transfer_syntaxes)
    syntaxes: dict[str, tuple[str, ...]] = {}
    if verification:
        syntaxes[uids.VERIFICATION_SOP_CLASS] = uids.UNCOMPRESSED_TRANSFER_SYNTAXES
    if qr is None:
        return AcceptorPolicy(contexts=syntaxes, accept_all_storage=storage,
                              storage_transfer_syntaxes=ts, async_window=async_window)
    syntaxes.update(qr.contexts())
    serves_get = qr.handlers.get is not None
    return AcceptorPolicy(
        contexts=syntaxes, accept_all_storage=storage or serves_get,
        storage_transfer_syntaxes=ts,
        # C-GET: the requestor may be the storage SCP; storing to us needs
        # it to be the SCU, which it is by default unless storage is off.
        storage_roles=RoleAgreement(requestor_scu=storage, requestor_scp=serves_get),
        extended_negotiation=qr.extended_hook(),
        async_window=async_window,
    )


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

    def __init__(self, *, archive: FileArchive | None = None,
                 qr: QRProvider | None = None) -> None:
        self.archive = archive
        self.qr = qr
        self.operations = Operations()

    def dataset_sink(self, conn: Connection, context: AcceptedContext,
                     message: dimse.Message) -> DatasetSink | None:
        if isinstance(message, dimse.CStoreRQ) and self.archive is not None:
            return self.archive.sink(conn, context.transfer_syntax, message)
        return None

    def handle_now(self, conn: Connection, request: IncomingMessage) -> bool:
        msg = request.message
        if self.qr is not None and self.qr.accepts(msg):
            self.operations.received.add(msg.message_id)  # type: ignore[union-attr]
            return False
        if conn.busy:
            return False
        if isinstance(msg, dimse.CEchoRQ):
            answer_echo(conn, request)
            return True
        if (isinstance(msg, dimse.CStoreRQ) and self.archive is not None
                and self.archive.immediate and request.sink is not None
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
                if request.sink is not None:
                    request.sink.discard()
                send_store_response(conn, request, status.SOP_CLASS_NOT_SUPPORTED,
                                    "storage is not served here")
            elif msg.affected_sop_class_uid != request.context.abstract_syntax:
                request.sink.discard()
                send_store_response(conn, request, status.SOP_CLASS_NOT_SUPPORTED,
                                    "SOP class differs from the presentation context's")
            else:
                await self.archive.handle_store(conn, request)
        elif self.qr is not None and self.qr.accepts(msg):
            await self.qr.serve(conn, request, self.operations)
        else:
            self.refuse(conn, request, status.UNRECOGNIZED_OPERATION,
                        f"{type(msg).__name__} is not served here")

    def cancel(self, conn: Connection, message: dimse.Message) -> None:
        msg_id = getattr(message, "message_id_being_responded_to", None)
        if msg_id is not None and self.operations.cancel(msg_id):
            log.debug("%s: C-CANCEL for message %s", conn.describe(), msg_id)
        else:
            # PS3.7 9.3.2.3: a C-CANCEL for an operation that is finished (or
            # was never asked) is not answered.
            log.debug("%s: C-CANCEL for message %s, which is not in progress",
                      conn.describe(), msg_id)

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


def make_server(*, ae_title: str, handlers: QRHandlers | None = None,
                archive: FileArchive | None = None, **server_options: Any) -> Server:
    """A server for the built-in services: C-ECHO, C-STORE into ``archive``
    (when given) and Q/R with ``handlers`` (when given).

    ``server_options`` go to :class:`~dicomqr.transport.server.Server`
    (``rules``, ``limits``, ``timeouts``, ``ssl_context``).  Start it with
    ``await server.start(host, port)``.
    """
    provider = QRProvider(handlers) if handlers is not None else None
    policy = acceptor_policy(storage=archive is not None, qr=provider)
    return Server(ae_title=ae_title, policy=policy,
                  handler_factory=lambda conn: ServiceDispatcher(archive=archive, qr=provider),
                  **server_options)


def storage_scp(folder: str | os.PathLike[str], *, ae_title: str = "STORESCP",
                on_stored: Callable[[StoredInstance], Awaitable[int | None]] | None = None,
                **server_options: Any) -> Server:
    """A storage SCP writing into ``folder``: the destination of a C-MOVE.

    ``on_stored`` is awaited for each instance once it is in place.
    """
    return make_server(ae_title=ae_title, archive=FileArchive(folder, on_stored),
                       **server_options)
