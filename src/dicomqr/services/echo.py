"""C-ECHO SCU and SCP: the Verification service class (PS3.4 Annex A)."""

from __future__ import annotations

from .. import status, uids
from ..protocol import dimse
from ..transport.connection import Connection, IncomingMessage
from .common import Response, find_context, request_response

__all__ = ["answer_echo", "echo"]


async def echo(conn: Connection) -> Response:
    """Send a C-ECHO-RQ and return its response."""
    context = find_context(conn, uids.VERIFICATION_SOP_CLASS)
    msg_id = conn.next_message_id()
    rq = dimse.CEchoRQ(message_id=msg_id, affected_sop_class_uid=uids.VERIFICATION_SOP_CLASS)
    return await request_response(conn, context.context_id, rq)


def answer_echo(conn: Connection, request: IncomingMessage) -> None:
    """The C-ECHO SCP: always Success (PS3.4 A.4)."""
    rq = request.message
    assert isinstance(rq, dimse.CEchoRQ)
    conn.send(request.context.context_id, dimse.CEchoRSP(
        message_id_being_responded_to=rq.message_id,
        affected_sop_class_uid=rq.affected_sop_class_uid,
        status=status.SUCCESS,
    ))
