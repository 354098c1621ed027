"""The association core: PS3.8 §9.2 upper-layer protocol machine, sans-IO.

Theory of operation
-------------------
The driver (``dicomqr.transport``) owns the socket and the clock.  It feeds
received bytes to :meth:`Association.receive_data` (``b""`` for end of
stream, which is Evt17), then calls :meth:`next_event` until it returns
``NEED_DATA``, and writes whatever :meth:`data_to_send` returns.  The local
user's primitives are methods: :meth:`request` (Evt1), :meth:`connection_made`
(Evt2/Evt5), :meth:`accept` (Evt7), :meth:`reject` (Evt8), :meth:`send_pdata`
(Evt9), :meth:`release` (Evt11), :meth:`release_response` (Evt14) and
:meth:`abort` (Evt15).  The ARTIM timer is a deadline the driver asks for with
:meth:`get_timer` and reports with :meth:`handle_timer`; the core never reads a
clock of its own: the ``clock`` callable is passed in (tests pass a fake one).

Every event goes through the state table of :mod:`.fsm` (PS3.8 Table 9-10);
the actions of Tables 9-6..9-9 are the ``_ae_*``, ``_dt_*``, ``_ar_*`` and
``_aa_*`` methods below.  They queue bytes to send and events to report; none
does I/O.  A PDU that cannot be decoded is Evt19.  Once the machine is back in
Sta1 the core reports :class:`ConnectionClosed` and ignores everything else.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable
from typing import ClassVar

from . import pdu as _pdu
from .errors import (
    ABORT_SOURCE_PROVIDER,
    ABORT_SOURCE_USER,
    REASON_NOT_SPECIFIED,
    REASON_UNEXPECTED_PDU,
    LocalProtocolError,
    RemoteProtocolError,
)
from .events import (
    NEED_DATA,
    Aborted,
    AssociationAccepted,
    AssociationRejected,
    AssociationRequested,
    ConnectionClosed,
    DataReceived,
    Event,
    ReleaseConfirmed,
    ReleaseRequested,
    _NeedData,
)
from .framing import PDUReader
from .fsm import TABLE, Action, State
from .fsm import Event as Evt

__all__ = ["Association", "Role"]


class Role(enum.Enum):
    REQUESTOR = "requestor"
    ACCEPTOR = "acceptor"


_PDU_EVENTS: dict[type, Evt] = {
    _pdu.AAssociateAC: Evt.EVT3,
    _pdu.AAssociateRJ: Evt.EVT4,
    _pdu.AAssociateRQ: Evt.EVT6,
    _pdu.PDataTF: Evt.EVT10,
    _pdu.AReleaseRQ: Evt.EVT12,
    _pdu.AReleaseRP: Evt.EVT13,
    _pdu.AAbort: Evt.EVT16,
}

class Association:
    """One association's upper-layer state, bytes in and bytes out.

    ``max_pdu_length`` is the largest P-DATA-TF we accept (what we announce
    in our Maximum Length sub-item; 0 = no limit).  ``artim_timeout`` is the
    ARTIM timer's period in the clock's unit (seconds).
    """

    def __init__(
        self,
        role: Role,
        *,
        clock: Callable[[], float],
        max_pdu_length: int = 0,
        artim_timeout: float = 30.0,
    ) -> None:
        self.role = role
        self.state = State.STA1
        self._clock = clock
        self._artim_timeout = artim_timeout
        self._artim_deadline: float | None = None
        self._reader = PDUReader(max_pdu_length=max_pdu_length)
        self._out: list[bytes | memoryview] = []
        self._events: deque[Event | _NeedData] = deque()
        # Nothing to report until a connection exists (AE-1 / AE-5 leave Sta1).
        self._closed_reported = True
        self._eof = False
        self._broken = False
        self._abort_sent = False
        self._pending_rq: _pdu.AAssociateRQ | None = None
        #: The A-ASSOCIATE-RQ / AC exchanged, once known.
        self.request_pdu: _pdu.AAssociateRQ | None = None
        self.accept_pdu: _pdu.AAssociateAC | None = None
        #: Why the association ended, for logs.
        self.close_reason = ""

    # ------------------------------------------------------------------ driver API
    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Feed received bytes; ``b""`` means the peer closed the connection."""
        if self.state is State.STA1:
            return
        if not data:
            self._eof = True
            return
        self._reader.feed(data)

    def next_event(self) -> Event | _NeedData:
        """The next indication/confirmation, or ``NEED_DATA``."""
        while not self._events:
            if self.state is State.STA1:
                if not self._closed_reported:
                    self._closed_reported = True
                    return ConnectionClosed(self.close_reason)
                return NEED_DATA
            if self._broken:
                pdu = None  # nothing after an undecodable PDU can be trusted
            else:
                try:
                    pdu = self._reader.next_pdu()
                except RemoteProtocolError as exc:
                    self._broken = True
                    self._fire(Evt.EVT19, exc)
                    continue
            if pdu is None:
                if self._eof:
                    self._eof = False
                    # A connection closed inside a PDU is still Evt17 (PS3.8 §9.1.5)
                    self._fire(Evt.EVT17, None)
                    continue
                return NEED_DATA
            self._fire(_PDU_EVENTS[type(pdu)], pdu)
        return self._events.popleft()

    def data_to_send(self) -> list[bytes | memoryview]:
        """Chunks to write, in order (hand them to ``writelines``)."""
        out = self._out
        self._out = []
        return out

    @property
    def abort_sent(self) -> bool:
        """True once we queued an A-ABORT."""
        return self._abort_sent

    @property
    def wants_close(self) -> bool:
        """True once the transport should be closed: the machine is back in
        Sta1, or we sent an A-ABORT (Sta13).  After an abort nothing more can
        be said on the connection, so the driver may close it as soon as the
        A-ABORT is written instead of holding it for the ARTIM period."""
        return self.state is State.STA1 or self._abort_sent

    @property
    def is_established(self) -> bool:
        return self.state is State.STA6

    # ------------------------------------------------------------------ timers
    def get_timer(self) -> float | None:
        """The ARTIM deadline (clock units), or None when it is not running."""
        return self._artim_deadline

    def handle_timer(self, now: float) -> None:
        """Report the time: fires Evt18 when the ARTIM deadline has passed."""
        if self._artim_deadline is not None and now >= self._artim_deadline:
            self._artim_deadline = None
            self._fire(Evt.EVT18, None)

    def _start_artim(self) -> None:
        self._artim_deadline = self._clock() + self._artim_timeout

    def _stop_artim(self) -> None:
        self._artim_deadline = None

    # ------------------------------------------------------------------ user primitives
    def request(self, rq: _pdu.AAssociateRQ) -> None:
        """A-ASSOCIATE request (Evt1): the driver then connects and calls
        :meth:`connection_made`."""
        if self.role is not Role.REQUESTOR:
            raise LocalProtocolError("only a requestor sends an A-ASSOCIATE-RQ")
        self._fire(Evt.EVT1, rq)

    def connection_made(self) -> None:
        """Transport connect confirmation (Evt2) or indication (Evt5)."""
        self._fire(Evt.EVT2 if self.role is Role.REQUESTOR else Evt.EVT5, None)

    def accept(self, ac: _pdu.AAssociateAC) -> None:
        """A-ASSOCIATE response, accept (Evt7)."""
        self._fire(Evt.EVT7, ac)

    def reject(self, rj: _pdu.AAssociateRJ) -> None:
        """A-ASSOCIATE response, reject (Evt8)."""
        self._fire(Evt.EVT8, rj)

    def send_pdata(self, chunks: list[bytes | memoryview]) -> None:
        """P-DATA request (Evt9): ``chunks`` are complete P-DATA-TF PDUs, as
        :func:`dicomqr.protocol.pdv.fragment` makes them."""
        self._fire(Evt.EVT9, chunks)

    def release(self) -> None:
        """A-RELEASE request (Evt11)."""
        self._fire(Evt.EVT11, None)

    def release_response(self) -> None:
        """A-RELEASE response (Evt14)."""
        self._fire(Evt.EVT14, None)

    def abort(self, reason: int = REASON_NOT_SPECIFIED) -> None:
        """A-ABORT request (Evt15), service-user source."""
        if self.state is State.STA1:
            return
        self._fire(Evt.EVT15, reason)

    def abort_provider(self, error: RemoteProtocolError) -> None:
        """The peer broke a rule above the PDU level (a bad command set, a
        dataset where none was announced): handled as Evt19, an invalid PDU."""
        if self.state is not State.STA1:
            self._fire(Evt.EVT19, error)

    # ------------------------------------------------------------------ machine
    def _fire(self, event: Evt, payload: object) -> None:
        transition = TABLE.get((self.state, event))
        if transition is None:
            if event in (Evt.EVT1, Evt.EVT7, Evt.EVT8, Evt.EVT9, Evt.EVT11, Evt.EVT14,
                         Evt.EVT15, Evt.EVT2, Evt.EVT5):
                raise LocalProtocolError(
                    f"{event.name} is not allowed in {self.state.name}"
                )
            # A peer event the table has no cell for (e.g. anything once closed).
            return
        action = transition.action
        next_state = self._ACTIONS[action](self, payload)
        if next_state is None:
            next_state = transition.next_state
        assert next_state is not None, action
        if next_state is State.STA1:
            # The transport connection is closed (or being closed): bytes an
            # earlier action queued and the driver has not taken yet can no
            # longer be sent, and nothing may follow ConnectionClosed.
            self._out.clear()
        self.state = next_state

    # Association establishment (PS3.8 Table 9-6)
    def _ae_1(self, payload: object) -> State | None:
        assert isinstance(payload, _pdu.AAssociateRQ)
        self._pending_rq = payload  # sent by AE-2 once the driver has connected
        self._closed_reported = False
        return None

    def _ae_2(self, payload: object) -> State | None:
        assert self._pending_rq is not None
        self.request_pdu = self._pending_rq
        self._out.append(_pdu.encode(self._pending_rq))
        return None

    def _ae_3(self, payload: object) -> State | None:
        assert isinstance(payload, _pdu.AAssociateAC)
        self.accept_pdu = payload
        self._events.append(AssociationAccepted(payload))
        return None

    def _ae_4(self, payload: object) -> State | None:
        assert isinstance(payload, _pdu.AAssociateRJ)
        self._events.append(AssociationRejected(payload))
        self.close_reason = "association rejected"
        return None

    def _ae_5(self, payload: object) -> State | None:
        self._closed_reported = False
        self._start_artim()
        return None

    def _ae_6(self, payload: object) -> State | None:
        self._stop_artim()
        assert isinstance(payload, _pdu.AAssociateRQ)
        if payload.protocol_version & 0x0001 == 0:
            # PS3.8 §9.3.2: bit 0 is protocol version 1; without it we cannot talk.
            rj = _pdu.AAssociateRJ(
                result=_pdu.RJ_RESULT_PERMANENT,
                source=_pdu.RJ_SOURCE_ACSE,
                reason=_pdu.RJ_REASON_PROTOCOL_VERSION_NOT_SUPPORTED,
            )
            self._out.append(_pdu.encode(rj))
            self._start_artim()
            self.close_reason = "protocol version not supported"
            return State.STA13
        self.request_pdu = payload
        self._events.append(AssociationRequested(payload))
        return State.STA3

    def _ae_7(self, payload: object) -> State | None:
        assert isinstance(payload, _pdu.AAssociateAC)
        self.accept_pdu = payload
        self._out.append(_pdu.encode(payload))
        return None

    def _ae_8(self, payload: object) -> State | None:
        assert isinstance(payload, _pdu.AAssociateRJ)
        self._out.append(_pdu.encode(payload))
        self._start_artim()
        self.close_reason = "association rejected"
        return None

    # Data transfer (Table 9-7)
    def _dt_1(self, payload: object) -> State | None:
        self._out.extend(payload)  # type: ignore[arg-type]
        return None

    def _dt_2(self, payload: object) -> State | None:
        assert isinstance(payload, _pdu.PDataTF)
        self._events.append(DataReceived(payload.pdvs))
        return None

    # Release (Table 9-8)
    def _ar_1(self, payload: object) -> State | None:
        self._out.append(_pdu.encode(_pdu.AReleaseRQ()))
        return None

    def _ar_2(self, payload: object) -> State | None:
        self._events.append(ReleaseRequested())
        return None

    def _ar_3(self, payload: object) -> State | None:
        self._events.append(ReleaseConfirmed())
        self.close_reason = "released"
        return None

    def _ar_4(self, payload: object) -> State | None:
        self._out.append(_pdu.encode(_pdu.AReleaseRP()))
        self._start_artim()
        self.close_reason = "released"
        return None

    def _ar_5(self, payload: object) -> State | None:
        self._stop_artim()
        return None

    def _ar_6(self, payload: object) -> State | None:
        return self._dt_2(payload)

    def _ar_7(self, payload: object) -> State | None:
        return self._dt_1(payload)

    def _ar_8(self, payload: object) -> State | None:
        self._events.append(ReleaseRequested(collision=True))
        return State.STA9 if self.role is Role.REQUESTOR else State.STA10

    def _ar_9(self, payload: object) -> State | None:
        self._out.append(_pdu.encode(_pdu.AReleaseRP()))
        return None

    def _ar_10(self, payload: object) -> State | None:
        self._events.append(ReleaseConfirmed())
        return None

    # Abort (Table 9-9)
    def _aa_1(self, payload: object) -> State | None:
        # PS3.8 names the service-user as source; for a PDU the peer got wrong
        # (Sta2) we send the provider source with the reason, which says more
        # (as AA-8).  AA-1 issues no indication: in Sta2 our user knows of no
        # association yet, and after Evt15 the user asked for the abort.
        if isinstance(payload, RemoteProtocolError):
            self._provider_abort(payload.reason, f"protocol error: {payload}", indicate=False)
        elif isinstance(payload, int):
            self.close_reason = "aborted by local user"
            self._abort_sent = True
            self._out.append(_pdu.encode(_pdu.AAbort(source=ABORT_SOURCE_USER, reason=0)))
        else:
            self._provider_abort(
                REASON_UNEXPECTED_PDU, f"unexpected {type(payload).__name__}", indicate=False
            )
        self._start_artim()
        return None

    def _provider_abort(self, reason: int, message: str, *, indicate: bool = True) -> None:
        self._abort_sent = True
        self._out.append(_pdu.encode(_pdu.AAbort(source=ABORT_SOURCE_PROVIDER, reason=reason)))
        if indicate:  # the A-P-ABORT indication of AA-8
            self._events.append(
                Aborted(source=ABORT_SOURCE_PROVIDER, reason=reason, local=True, message=message)
            )
        self.close_reason = message

    def _aa_2(self, payload: object) -> State | None:
        self._stop_artim()
        if not self.close_reason:
            self.close_reason = "ARTIM timer expired" if payload is None else "closed"
        return None

    def _aa_3(self, payload: object) -> State | None:
        assert isinstance(payload, _pdu.AAbort)
        self._events.append(Aborted(source=payload.source, reason=payload.reason))
        self.close_reason = f"peer aborted (source {payload.source}, reason {payload.reason})"
        return None

    def _aa_4(self, payload: object) -> State | None:
        self._events.append(
            Aborted(source=ABORT_SOURCE_PROVIDER, reason=REASON_NOT_SPECIFIED, local=True,
                    message="connection closed by peer")
        )
        self.close_reason = "connection closed by peer without release"
        return None

    def _aa_5(self, payload: object) -> State | None:
        self._stop_artim()
        if not self.close_reason:
            self.close_reason = "connection closed by peer"
        return None

    def _aa_6(self, payload: object) -> State | None:
        return None  # ignore the PDU

    def _aa_7(self, payload: object) -> State | None:
        reason = payload.reason if isinstance(payload, RemoteProtocolError) else \
            REASON_UNEXPECTED_PDU
        self._abort_sent = True  # nothing more to say: see wants_close
        self._out.append(_pdu.encode(_pdu.AAbort(source=ABORT_SOURCE_PROVIDER, reason=reason)))
        return None

    def _aa_8(self, payload: object) -> State | None:
        if isinstance(payload, RemoteProtocolError):
            self._provider_abort(payload.reason, f"protocol error: {payload}")
        elif payload is None:
            self._provider_abort(REASON_NOT_SPECIFIED, "ARTIM timer expired")
        else:
            self._provider_abort(REASON_UNEXPECTED_PDU, f"unexpected {type(payload).__name__}")
        self._start_artim()
        return None

    _ACTIONS: ClassVar[dict[Action, Callable[[Association, object], State | None]]] = {}


Association._ACTIONS = {
    Action[name.upper().lstrip("_")]: getattr(Association, name)
    for name in dir(Association)
    if name[:4] in ("_ae_", "_dt_", "_ar_", "_aa_")
}
