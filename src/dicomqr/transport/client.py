"""The requestor side: open an association to a peer."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..protocol import pdu as _pdu
from ..protocol.association import Role
from ..protocol.events import AssociationRejected
from ..protocol.items import (
    AsyncOperationsWindow,
    PresentationContextRQ,
    RoleSelection,
    SOPClassCommonExtendedNegotiation,
    SOPClassExtendedNegotiation,
    UserIdentityRQ,
    UserInformation,
)
from ..protocol.negotiation import negotiate_as_requestor, negotiated_async_window
from .config import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME, Limits, Timeouts
from .connection import AssociationClosed, Connection

__all__ = ["AssociationRejectedError", "Proposal", "connect"]

_RJ_TEXT = {
    (_pdu.RJ_SOURCE_USER, 1): "no reason given",
    (_pdu.RJ_SOURCE_USER, 2): "application context name not supported",
    (_pdu.RJ_SOURCE_USER, 3): "calling AE title not recognized",
    (_pdu.RJ_SOURCE_USER, 7): "called AE title not recognized",
    (_pdu.RJ_SOURCE_ACSE, 1): "no reason given",
    (_pdu.RJ_SOURCE_ACSE, 2): "protocol version not supported",
    (_pdu.RJ_SOURCE_PRESENTATION, 1): "temporary congestion",
    (_pdu.RJ_SOURCE_PRESENTATION, 2): "local limit exceeded",
}


class AssociationRejectedError(AssociationClosed):
    """The peer rejected our A-ASSOCIATE-RQ (PS3.8 Table 9-21)."""

    def __init__(self, rj: _pdu.AAssociateRJ) -> None:
        kind = "permanent" if rj.result == _pdu.RJ_RESULT_PERMANENT else "transient"
        text = _RJ_TEXT.get((rj.source, rj.reason), f"reason {rj.reason}")
        super().__init__(f"association rejected ({kind}, source {rj.source}): {text}")
        self.result, self.source, self.reason = rj.result, rj.source, rj.reason


@dataclass(frozen=True, slots=True)
class Proposal:
    """One abstract syntax and the transfer syntaxes we propose for it."""

    abstract_syntax: str
    transfer_syntaxes: tuple[str, ...]

    def __post_init__(self) -> None:
        # plain str and tuple, whatever was given (pydicom UIDs, lists)
        object.__setattr__(self, "abstract_syntax", str(self.abstract_syntax))
        object.__setattr__(self, "transfer_syntaxes",
                           tuple(str(ts) for ts in self.transfer_syntaxes))


def build_contexts(proposals: Iterable[Proposal]) -> tuple[PresentationContextRQ, ...]:
    contexts = []
    for i, p in enumerate(proposals):
        if i >= 128:
            raise ValueError("at most 128 presentation contexts can be proposed (PS3.8 §9.3.2.2)")
        contexts.append(PresentationContextRQ(context_id=2 * i + 1,
                                              abstract_syntax=p.abstract_syntax,
                                              transfer_syntaxes=tuple(p.transfer_syntaxes)))
    return tuple(contexts)


async def connect(
    host: str,
    port: int,
    proposals: Sequence[Proposal],
    *,
    calling_ae: str = "DICOMQR",
    called_ae: str = "ANY-SCP",
    roles: Sequence[RoleSelection] = (),
    extended: Sequence[SOPClassExtendedNegotiation] = (),
    common_extended: Sequence[SOPClassCommonExtendedNegotiation] = (),
    user_identity: UserIdentityRQ | None = None,
    async_window: AsyncOperationsWindow | None = None,
    ssl_context: ssl.SSLContext | None = None,
    limits: Limits | None = None,
    timeouts: Timeouts | None = None,
    handler: object | None = None,
) -> Connection:
    """Open an association; returns the established :class:`Connection`.

    Raises :class:`AssociationRejectedError` when the peer rejects,
    :class:`AssociationClosed` when it aborts or vanishes, ``TimeoutError``
    when it does not answer within ``timeouts.connect``/``timeouts.acse``.
    ``handler`` serves requests the peer sends us on this association
    (C-STORE sub-operations of a C-GET).
    """
    limits = limits or Limits()
    timeouts = timeouts or Timeouts()
    loop = asyncio.get_running_loop()
    contexts = build_contexts(proposals)
    rq = _pdu.AAssociateRQ(
        called_ae_title=called_ae,
        calling_ae_title=calling_ae,
        presentation_contexts=contexts,
        user_information=UserInformation(
            maximum_length=limits.max_pdu,
            implementation_class_uid=IMPLEMENTATION_CLASS_UID,
            implementation_version_name=IMPLEMENTATION_VERSION_NAME,
            async_operations_window=async_window,
            role_selections=tuple(roles),
            extended_negotiations=tuple(extended),
            common_extended_negotiations=tuple(common_extended),
            user_identity=user_identity,
        ),
    )

    def factory() -> Connection:
        conn = Connection(Role.REQUESTOR, limits=limits, timeouts=timeouts,
                          handler=handler)  # type: ignore[arg-type]
        conn.calling_ae, conn.called_ae = calling_ae, called_ae
        conn.core.request(rq)
        return conn

    _, conn = await asyncio.wait_for(
        loop.create_connection(factory, host, port, ssl=ssl_context,
                               server_hostname=host if ssl_context else None),
        timeouts.connect,
    )
    try:
        await asyncio.wait_for(asyncio.shield(conn.established), timeouts.acse)
    except TimeoutError:
        conn.abort()
        raise TimeoutError(f"no A-ASSOCIATE answer from {host}:{port}") from None
    answer = conn._association_answer
    assert answer is not None  # ``established`` is set only with it
    if isinstance(answer, AssociationRejected):
        raise AssociationRejectedError(answer.reject)
    ac = answer.accept
    try:
        conn.contexts = negotiate_as_requestor(contexts, ac.presentation_contexts,
                                               tuple(roles), ac.user_information.role_selections)
    except Exception:
        conn.abort()
        raise
    conn.peer_max_pdu = ac.user_information.maximum_length or 0
    conn.extended_negotiation = {item.sop_class_uid: bytes(item.info)
                                 for item in ac.user_information.extended_negotiations}
    window = negotiated_async_window(async_window, ac.user_information.async_operations_window)
    # We perform what the acceptor invokes (C-STORE sub-operations of a C-GET).
    conn.max_operations = min(window.max_performed, 64) if window.max_performed else 64
    conn.async_window = window
    conn.start_idle_timer()
    return conn
