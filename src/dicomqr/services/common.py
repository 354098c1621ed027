"""What every service shares: finding a context, one request/response exchange."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .. import status as _status
from ..errors import DicomqrError
from ..protocol import dimse
from ..protocol.association import Role
from ..protocol.negotiation import AcceptedContext
from ..transport.connection import Connection

__all__ = ["NoContextError", "Response", "find_context", "request_response", "sending_contexts"]


class NoContextError(DicomqrError):
    """No accepted presentation context fits what the caller wants to send."""


@dataclass(frozen=True, slots=True)
class Response:
    """A response as the SCU reports it."""

    status: int
    message: dimse.Message
    dataset: bytes | None = None

    @property
    def category(self) -> _status.Category:
        return _status.category_of(self.status)

    @property
    def ok(self) -> bool:
        return self.category in (_status.Category.SUCCESS, _status.Category.WARNING)

    def __str__(self) -> str:
        text = _status.describe(self.status,
                                getattr(self.message, "affected_sop_class_uid", None))
        comment = getattr(self.message, "error_comment", None)
        return f"{text} ({comment})" if comment else text


def sending_contexts(conn: Connection, abstract_syntax: str) -> Iterator[AcceptedContext]:
    """The accepted contexts for ``abstract_syntax`` on which we may send a
    request (C-STORE): we need the SCU role, the requestor's by default, or
    the acceptor's when the requestor took the SCP role (C-GET, PS3.7
    D.3.3.4)."""
    acceptor = conn.core.role is Role.ACCEPTOR
    for ctx in conn.contexts.values():
        if ctx.abstract_syntax == abstract_syntax and (
                ctx.scp_role if acceptor else ctx.scu_role):
            yield ctx


def find_context(conn: Connection, abstract_syntax: str,
                 transfer_syntax: str | None = None) -> AcceptedContext:
    """The first accepted context for ``abstract_syntax`` (and transfer syntax)."""
    for ctx in conn.contexts.values():
        if ctx.abstract_syntax == abstract_syntax and (
            transfer_syntax is None or ctx.transfer_syntax == transfer_syntax
        ):
            return ctx
    raise NoContextError(
        f"no accepted presentation context for {abstract_syntax}"
        + (f" with {transfer_syntax}" if transfer_syntax else "")
    )


async def request_response(conn: Connection, context_id: int, rq: dimse.Message,
                           dataset: bytes | memoryview | None = None,
                           while_waiting: Callable[[], None] | None = None) -> Response:
    """Send one request and wait for its single (final) response.

    ``while_waiting`` runs once the request is on its way, before the wait
    (to prepare the next request meanwhile).
    """
    msg_id = rq.message_id  # type: ignore[union-attr]
    queue = conn.open_exchange(msg_id)
    try:
        conn.send(context_id, rq, dataset)
        if dataset is not None and len(dataset) > 1 << 20:
            await conn.drain()
        if while_waiting is not None:
            while_waiting()
        incoming = await conn.next_response(queue)
    finally:
        conn.close_exchange(msg_id)
    code = getattr(incoming.message, "status", _status.PROCESSING_FAILURE)
    return Response(code, incoming.message, incoming.dataset)
