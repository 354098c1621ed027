"""An asyncio server holding many associations at once in one process.

The server decides on association requests itself (AE titles, the
association limit, presentation contexts through the pure negotiation
functions of :mod:`dicomqr.protocol.negotiation`), synchronously inside the
event that delivered the A-ASSOCIATE-RQ, so accepting costs no task switch.
Requests on the established association go to the :class:`RequestHandler`
that ``handler_factory`` makes for it.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Callable, Collection
from dataclasses import dataclass

from .. import uids
from ..protocol import pdu as _pdu
from ..protocol.association import Role
from ..protocol.events import AssociationRequested
from ..protocol.items import APPLICATION_CONTEXT_NAME, PresentationContextAC
from ..protocol.negotiation import AcceptorPolicy, negotiate_as_acceptor
from .config import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME, Limits, Timeouts
from .connection import Connection, RequestHandler

log = logging.getLogger("dicomqr.server")

__all__ = ["AssociationRules", "Server"]


@dataclass(frozen=True, slots=True, kw_only=True)
class AssociationRules:
    """Who may associate, before any context is looked at.

    ``called_ae_titles``: the AE titles we answer to (None = any; PS3.8
    reason 7 otherwise).  ``calling_ae_titles``: the peers we accept (None =
    any; reason 3 otherwise).
    """

    called_ae_titles: frozenset[str] | None = None
    calling_ae_titles: frozenset[str] | None = None


class Server:
    """Accepts associations and serves them with the given request handler."""

    def __init__(
        self,
        *,
        ae_title: str,
        policy: AcceptorPolicy,
        handler_factory: Callable[[Connection], RequestHandler],
        rules: AssociationRules | None = None,
        limits: Limits | None = None,
        timeouts: Timeouts | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.ae_title = ae_title
        self.policy = policy
        self.handler_factory = handler_factory
        self.rules = rules or AssociationRules()
        self.limits = limits or Limits()
        self.timeouts = timeouts or Timeouts()
        self.ssl_context = ssl_context
        self.connections: set[Connection] = set()
        self._server: asyncio.base_events.Server | None = None
        self.total_associations = 0

    # ------------------------------------------------------------------ lifecycle
    async def start(self, host: str | None, port: int, *,
                    sock: socket.socket | None = None) -> None:
        """Listen on ``host``:``port``, or on ``sock``, a listening socket
        made already (shared by the worker processes of one server)."""
        loop = asyncio.get_running_loop()
        if sock is not None:
            self._server = await loop.create_server(
                self._make_connection, sock=sock, ssl=self.ssl_context, backlog=256)
            return
        self._server = await loop.create_server(
            self._make_connection, host or None, port, ssl=self.ssl_context,
            reuse_address=True, backlog=256,
        )

    @property
    def sockets(self) -> list[tuple[str, int]]:
        assert self._server is not None
        return [s.getsockname()[:2] for s in self._server.sockets]

    @property
    def port(self) -> int:
        return self.sockets[0][1]

    async def serve_forever(self) -> None:
        assert self._server is not None
        await self._server.serve_forever()

    async def close(self, timeout: float = 5.0) -> None:
        """Stop listening, abort what is still open after ``timeout`` seconds."""
        if self._server is not None:
            self._server.close()
        if self.connections:
            waits = [c.closed for c in self.connections]
            _, pending = await asyncio.wait(waits, timeout=timeout)
            if pending:
                for conn in list(self.connections):
                    conn.abort()
        if self._server is not None:
            await self._server.wait_closed()

    async def __aenter__(self) -> Server:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ associations
    def _make_connection(self) -> Connection:
        conn = Connection(
            Role.ACCEPTOR,
            limits=self.limits,
            timeouts=self.timeouts,
            on_associate=self._on_associate,
            on_made=self._on_made,
            on_closed=self._on_closed,
        )
        # Registered once the transport is made: a TLS handshake that fails
        # never calls connection_made nor connection_lost.
        return conn

    def _on_made(self, conn: Connection) -> None:
        if len(self.connections) >= self.limits.max_connections:
            log.warning("connection from %s:%d refused: %d connections open (limit)",
                        *conn.peer, len(self.connections))
            conn.close_reason = "connection limit"
            if conn.transport is not None:
                conn.transport.abort()
            return
        self.connections.add(conn)

    def _on_closed(self, conn: Connection) -> None:
        # One line per association, when it ends: who, what was negotiated,
        # how much was done, and why it ended.
        self.connections.discard(conn)
        if not log.isEnabledFor(logging.INFO):
            return
        if conn.contexts:
            took = conn.loop.time() - conn.started
            log.info("association %s -> %s: %s; %d requests in %.3f s; closed: %s",
                     conn.describe(), conn.called_ae, conn.summary, conn.requests_received,
                     took, conn.close_reason)
        elif not conn.close_reason.startswith("rejected"):
            log.info("connection %s:%d closed before association: %s", *conn.peer,
                     conn.close_reason)

    def _reject(self, conn: Connection, result: int, source: int, reason: int, why: str) -> None:
        log.info("association from %s to %s rejected: %s", conn.describe(),
                 conn.called_ae or "?", why)
        conn.close_reason = f"rejected: {why}"
        conn.core.reject(_pdu.AAssociateRJ(result=result, source=source, reason=reason))

    def _on_associate(self, conn: Connection, event: AssociationRequested) -> None:
        rq = event.request
        rules = self.rules
        established = sum(1 for c in self.connections if c.contexts)
        if established >= self.limits.max_associations:
            return self._reject(conn, _pdu.RJ_RESULT_TRANSIENT, _pdu.RJ_SOURCE_PRESENTATION,
                                _pdu.RJ_REASON_LOCAL_LIMIT_EXCEEDED,
                                f"{established} associations open (limit)")
        if rq.application_context != APPLICATION_CONTEXT_NAME:
            return self._reject(conn, _pdu.RJ_RESULT_PERMANENT, _pdu.RJ_SOURCE_USER,
                                _pdu.RJ_REASON_APP_CONTEXT_NOT_SUPPORTED,
                                f"application context {rq.application_context}")
        if rules.called_ae_titles is not None and rq.called_ae_title not in rules.called_ae_titles:
            return self._reject(conn, _pdu.RJ_RESULT_PERMANENT, _pdu.RJ_SOURCE_USER,
                                _pdu.RJ_REASON_CALLED_AE_NOT_RECOGNIZED,
                                f"called AE title {rq.called_ae_title!r} not served")
        if (rules.calling_ae_titles is not None
                and rq.calling_ae_title not in rules.calling_ae_titles):
            return self._reject(conn, _pdu.RJ_RESULT_PERMANENT, _pdu.RJ_SOURCE_USER,
                                _pdu.RJ_REASON_CALLING_AE_NOT_RECOGNIZED,
                                f"calling AE title {rq.calling_ae_title!r} not allowed")
        result = negotiate_as_acceptor(rq.presentation_contexts, rq.user_information, self.policy)
        if result.reject is not None:
            rj = result.reject
            return self._reject(conn, rj.result, rj.source, rj.reason, "user identity refused")
        if not result.accepted:
            return self._reject(conn, _pdu.RJ_RESULT_PERMANENT, _pdu.RJ_SOURCE_USER,
                                _pdu.RJ_REASON_NO_REASON,
                                f"none of {len(rq.presentation_contexts)} presentation "
                                "contexts acceptable")
        conn.peer_max_pdu = rq.user_information.maximum_length or 0
        conn.contexts = dict(result.accepted)
        conn.extended_negotiation = {item.sop_class_uid: bytes(item.info)
                                     for item in result.extended_replies}
        # The requestor's invocations are what we perform at once (PS3.7
        # D.3.3.3); 0 means no limit, which one worker per request would
        # make a denial of service: 64 at most.
        invoked = result.async_window.max_invoked
        conn.max_operations = min(invoked, 64) if invoked else 64
        conn.async_window = result.async_window
        ac = _pdu.AAssociateAC(
            called_ae_title=rq.called_ae_title,
            calling_ae_title=rq.calling_ae_title,
            presentation_contexts=result.ac_contexts,
            user_information=result.user_information(
                maximum_length=self.limits.max_pdu,
                implementation_class_uid=IMPLEMENTATION_CLASS_UID,
                implementation_version_name=IMPLEMENTATION_VERSION_NAME,
            ),
        )
        conn.handler = self.handler_factory(conn)
        conn.core.accept(ac)
        conn.start_idle_timer()
        self.total_associations += 1
        if log.isEnabledFor(logging.INFO):
            conn.summary = describe_contexts(result.ac_contexts, conn)
            log.debug("association %s -> %s accepted: %s", conn.describe(), rq.called_ae_title,
                      conn.summary)


def describe_contexts(contexts: Collection[PresentationContextAC], conn: Connection) -> str:
    """One readable summary of the negotiated contexts for the log line."""
    names: dict[str, list[str]] = {}
    rejected = 0
    for ac in contexts:
        accepted = conn.contexts.get(ac.context_id)
        if accepted is None:
            rejected += 1
            continue
        name = uids.name_of(accepted.abstract_syntax)
        names.setdefault(name, []).append(uids.short_name_of(accepted.transfer_syntax))
    parts = [f"{n} [{', '.join(ts)}]" for n, ts in names.items()]
    text = "; ".join(parts[:6])
    if len(parts) > 6:
        text += f"; and {len(parts) - 6} more SOP classes"
    return f"{len(contexts) - rejected}/{len(contexts)} contexts: {text}"
