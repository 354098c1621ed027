"""The DICOM Upper Layer state machine of PS3.8 §9.2, as data.

Theory of operation
-------------------
PS3.8 §9.2 defines the association protocol as 13 states (Table 9-1 .. 9-5),
19 events (the rows of Table 9-10), 28 actions (Tables 9-6 .. 9-9) and one
state transition table (Table 9-10) saying which action an event triggers in
each state.  This module holds all four as plain data and nothing else:

* :class:`State`, :class:`Event` and :class:`Action` are enums named after the
  standard (``STA6``, ``EVT10``, ``DT_2``).
* :data:`TABLE` maps every one of the 13 x 19 = 247 ``(state, event)`` cells
  to a :class:`Transition`, or to ``None`` where the standard's cell is empty.
* Each action carries an :class:`ActionSpec`: which PDU it sends, which
  primitive it issues to the local user, what it does to the transport
  connection and to the ARTIM timer, and its next state.  The association
  core (the *executor*) dispatches on these attributes; it never needs to
  know an action by name.

Rules this file keeps (after h11's ``_state.py``):

1. No I/O and no clock.  "Start ARTIM" is a flag in the data; the executor
   owns the timer (``get_timer()`` / ``handle_timer(now)``) and the socket.
2. Nothing here knows whether we are requestor or acceptor, except the two
   actions whose next state the standard makes depend on it (see below).

Conditional actions
-------------------
Three actions branch on something only the executor knows.  Their
:class:`ActionSpec` describes the branch taken when ``condition`` holds and
``otherwise`` the other branch; :meth:`Action.resolve` picks one:

* AE-6 (A-ASSOCIATE-RQ PDU received in Sta2): if the service provider finds
  the request acceptable (protocol version, called AE title, ... PS3.8
  §7.1.2.6) it issues an A-ASSOCIATE indication → Sta3; otherwise it sends an
  A-ASSOCIATE-RJ PDU and (re)starts ARTIM → Sta13.
* AR-8 (release collision, A-RELEASE-RQ PDU received in Sta7): issue an
  A-RELEASE indication; the association-requestor goes to Sta9, the acceptor
  to Sta10.
* AA-3 (A-ABORT PDU received): issue an A-ABORT indication if the PDU's
  source is the service user, an A-P-ABORT indication otherwise; close the
  transport either way → Sta1 (so its next state is fixed).

For AE-6 and AR-8 :attr:`Transition.next_state` is ``None``: the action
decides.

Empty cells
-----------
An empty cell means the event cannot happen in that state.  Every event the
*peer* causes (a PDU arriving, Evt19 an invalid PDU, Evt17 the connection
closing) has an action in every state that has a transport connection (Sta2,
Sta3, Sta5 .. Sta13); the empty peer-event cells are all in Sta1 and Sta4,
where there is no connection to receive on.  So whatever the peer does, it
lands on a defined cell, and an empty cell is always our own caller's
mistake (a primitive issued in the wrong state, data fed before the
connection was confirmed, a stale timer): :func:`transition` raises
:class:`~dicomqr.protocol.errors.LocalProtocolError`.

Note that Evt19 is *not* defined in Sta4 (the connection is not open yet),
and that Table 9-10 defines ARTIM expiry (Evt18) only in Sta2 and Sta13.
Other waits (for an A-ASSOCIATE-AC in Sta5, an A-RELEASE-RP in Sta7) have no
timer in the standard; an executor that times them out should issue an
A-ABORT request (Evt15 → AA-1), which is defined in those states.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .errors import ABORT_SOURCE_PROVIDER, ABORT_SOURCE_USER, LocalProtocolError

__all__ = [
    "ACTION_SPECS",
    "CONNECTED_STATES",
    "EVENT_DESCRIPTIONS",
    "PEER_EVENTS",
    "STATE_DESCRIPTIONS",
    "TABLE",
    "Action",
    "ActionSpec",
    "Artim",
    "Event",
    "Indication",
    "PduType",
    "State",
    "Transition",
    "TransportOp",
    "render_markdown",
    "transition",
]


class State(enum.IntEnum):
    """The states of PS3.8 Tables 9-1 .. 9-5 (``STA1`` is Sta1)."""

    STA1 = 1
    STA2 = 2
    STA3 = 3
    STA4 = 4
    STA5 = 5
    STA6 = 6
    STA7 = 7
    STA8 = 8
    STA9 = 9
    STA10 = 10
    STA11 = 11
    STA12 = 12
    STA13 = 13

    @property
    def label(self) -> str:
        """The standard's short name, e.g. ``"Sta6"``."""
        return f"Sta{self.value}"

    @property
    def description(self) -> str:
        return STATE_DESCRIPTIONS[self]


STATE_DESCRIPTIONS: dict[State, str] = {
    State.STA1: "Idle",
    State.STA2: "Transport connection open (awaiting A-ASSOCIATE-RQ PDU)",
    State.STA3: "Awaiting local A-ASSOCIATE response primitive (from local user)",
    State.STA4: "Awaiting transport connection opening to complete (from local transport)",
    State.STA5: "Awaiting A-ASSOCIATE-AC or A-ASSOCIATE-RJ PDU",
    State.STA6: "Association established and ready for data transfer",
    State.STA7: "Awaiting A-RELEASE-RP PDU",
    State.STA8: "Awaiting local A-RELEASE response primitive (from local user)",
    State.STA9: "Release collision requestor side; awaiting A-RELEASE response (local user)",
    State.STA10: "Release collision acceptor side; awaiting A-RELEASE-RP PDU",
    State.STA11: "Release collision requestor side; awaiting A-RELEASE-RP PDU",
    State.STA12: "Release collision acceptor side; awaiting A-RELEASE response (local user)",
    State.STA13: "Awaiting transport connection close indication (association no longer exists)",
}


class Event(enum.IntEnum):
    """The events of PS3.8 Table 9-10 (``EVT1`` is Evt1)."""

    EVT1 = 1
    EVT2 = 2
    EVT3 = 3
    EVT4 = 4
    EVT5 = 5
    EVT6 = 6
    EVT7 = 7
    EVT8 = 8
    EVT9 = 9
    EVT10 = 10
    EVT11 = 11
    EVT12 = 12
    EVT13 = 13
    EVT14 = 14
    EVT15 = 15
    EVT16 = 16
    EVT17 = 17
    EVT18 = 18
    EVT19 = 19

    @property
    def label(self) -> str:
        """The standard's short name, e.g. ``"Evt10"``."""
        return f"Evt{self.value}"

    @property
    def description(self) -> str:
        return EVENT_DESCRIPTIONS[self]

    @classmethod
    def for_pdu_type(cls, pdu_type: int) -> Event:
        """The event raised by receiving a PDU of this type (PS3.8 Table 9-10).

        An unknown PDU type is Evt19 (unrecognized PDU).
        """
        return _EVENT_FOR_PDU.get(pdu_type, cls.EVT19)


EVENT_DESCRIPTIONS: dict[Event, str] = {
    Event.EVT1: "A-ASSOCIATE request (local user)",
    Event.EVT2: "Transport connection confirm (local transport service)",
    Event.EVT3: "A-ASSOCIATE-AC PDU (received on transport connection)",
    Event.EVT4: "A-ASSOCIATE-RJ PDU (received on transport connection)",
    Event.EVT5: "Transport connection indication (local transport service)",
    Event.EVT6: "A-ASSOCIATE-RQ PDU (received on transport connection)",
    Event.EVT7: "A-ASSOCIATE response primitive (accept)",
    Event.EVT8: "A-ASSOCIATE response primitive (reject)",
    Event.EVT9: "P-DATA request primitive",
    Event.EVT10: "P-DATA-TF PDU",
    Event.EVT11: "A-RELEASE request primitive",
    Event.EVT12: "A-RELEASE-RQ PDU (received on open transport connection)",
    Event.EVT13: "A-RELEASE-RP PDU (received on transport connection)",
    Event.EVT14: "A-RELEASE response primitive",
    Event.EVT15: "A-ABORT request primitive",
    Event.EVT16: "A-ABORT PDU (received on open transport connection)",
    Event.EVT17: "Transport connection closed indication (local transport service)",
    Event.EVT18: "ARTIM timer expired (association reject/release timer)",
    Event.EVT19: "Unrecognized or invalid PDU received",
}

#: Events the peer causes: a PDU (valid or not) arriving, or the connection closing.
PEER_EVENTS: frozenset[Event] = frozenset(Event(n) for n in (3, 4, 6, 10, 12, 13, 16, 17, 19))

#: States in which a transport connection exists (every state but Sta1 and Sta4).
CONNECTED_STATES: frozenset[State] = frozenset(State) - {State.STA1, State.STA4}


class PduType(enum.IntEnum):
    """PDU types as on the wire (PS3.8 §9.3), for :attr:`ActionSpec.sends`."""

    A_ASSOCIATE_RQ = 0x01
    A_ASSOCIATE_AC = 0x02
    A_ASSOCIATE_RJ = 0x03
    P_DATA_TF = 0x04
    A_RELEASE_RQ = 0x05
    A_RELEASE_RP = 0x06
    A_ABORT = 0x07


_EVENT_FOR_PDU: dict[int, Event] = {
    PduType.A_ASSOCIATE_RQ: Event.EVT6,
    PduType.A_ASSOCIATE_AC: Event.EVT3,
    PduType.A_ASSOCIATE_RJ: Event.EVT4,
    PduType.P_DATA_TF: Event.EVT10,
    PduType.A_RELEASE_RQ: Event.EVT12,
    PduType.A_RELEASE_RP: Event.EVT13,
    PduType.A_ABORT: Event.EVT16,
}


class Indication(enum.Enum):
    """A primitive the service provider issues to its local user (PS3.8 §7)."""

    A_ASSOCIATE_INDICATION = "A-ASSOCIATE indication"
    A_ASSOCIATE_CONFIRM_ACCEPT = "A-ASSOCIATE confirmation (accept)"
    A_ASSOCIATE_CONFIRM_REJECT = "A-ASSOCIATE confirmation (reject)"
    P_DATA_INDICATION = "P-DATA indication"
    A_RELEASE_INDICATION = "A-RELEASE indication"
    A_RELEASE_CONFIRM = "A-RELEASE confirmation"
    A_ABORT_INDICATION = "A-ABORT indication"
    A_P_ABORT_INDICATION = "A-P-ABORT indication"


class TransportOp(enum.Enum):
    """What an action asks of the local transport service (PS3.8 §9.1)."""

    CONNECT = "connect"  # TRANSPORT CONNECT request (AE-1)
    ACCEPT = "accept"  # transport connection response (AE-5)
    CLOSE = "close"


class Artim(enum.Enum):
    """What an action does to the ARTIM timer (PS3.8 §9.1.5).

    ``START`` means start, or restart if already running.  ``STOP`` is
    harmless if the timer is not running (AA-2 says "if running").
    """

    START = "start"
    STOP = "stop"


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionSpec:
    """What one action (or one branch of a conditional action) does.

    Attributes:
        description: the standard's definition, paraphrased.
        next_state: the state after the action.
        sends: the PDU sent to the peer, if any.
        abort_source: for an A-ABORT PDU, its source field (PS3.8 Table 9-26).
        indicates: the primitive issued to the local user, if any.
        transport: what the transport connection is asked to do, if anything.
        artim: what happens to the ARTIM timer, if anything.
        condition: for a conditional action, when this branch applies.
        otherwise: for a conditional action, the branch taken when
            ``condition`` does not hold.
    """

    description: str
    next_state: State
    sends: PduType | None = None
    abort_source: int | None = None
    indicates: Indication | None = None
    transport: TransportOp | None = None
    artim: Artim | None = None
    condition: str | None = None
    otherwise: ActionSpec | None = None

    @property
    def starts_artim(self) -> bool:
        return self.artim is Artim.START

    @property
    def stops_artim(self) -> bool:
        return self.artim is Artim.STOP

    @property
    def closes_transport(self) -> bool:
        return self.transport is TransportOp.CLOSE


class Action(enum.Enum):
    """The actions of PS3.8 Tables 9-6 .. 9-9; the value is the standard's name."""

    AE_1 = "AE-1"
    AE_2 = "AE-2"
    AE_3 = "AE-3"
    AE_4 = "AE-4"
    AE_5 = "AE-5"
    AE_6 = "AE-6"
    AE_7 = "AE-7"
    AE_8 = "AE-8"
    DT_1 = "DT-1"
    DT_2 = "DT-2"
    AR_1 = "AR-1"
    AR_2 = "AR-2"
    AR_3 = "AR-3"
    AR_4 = "AR-4"
    AR_5 = "AR-5"
    AR_6 = "AR-6"
    AR_7 = "AR-7"
    AR_8 = "AR-8"
    AR_9 = "AR-9"
    AR_10 = "AR-10"
    AA_1 = "AA-1"
    AA_2 = "AA-2"
    AA_3 = "AA-3"
    AA_4 = "AA-4"
    AA_5 = "AA-5"
    AA_6 = "AA-6"
    AA_7 = "AA-7"
    AA_8 = "AA-8"

    @property
    def spec(self) -> ActionSpec:
        return ACTION_SPECS[self]

    @property
    def description(self) -> str:
        return ACTION_SPECS[self].description

    @property
    def is_conditional(self) -> bool:
        return ACTION_SPECS[self].otherwise is not None

    @property
    def next_state(self) -> State | None:
        """The fixed next state, or ``None`` when the action decides (AE-6, AR-8)."""
        spec = ACTION_SPECS[self]
        if spec.otherwise is None or spec.otherwise.next_state is spec.next_state:
            return spec.next_state
        return None

    def resolve(self, condition: bool = True) -> ActionSpec:
        """The branch to execute: the main spec if ``condition`` holds, else ``otherwise``.

        ``condition`` is ignored for unconditional actions.  For AE-6 it is
        "the A-ASSOCIATE-RQ is acceptable", for AR-8 "we are the
        association-requestor", for AA-3 "the A-ABORT PDU's source is the
        service user".
        """
        spec = ACTION_SPECS[self]
        if condition or spec.otherwise is None:
            return spec
        return spec.otherwise


_S = State
_P = PduType
_I = Indication
_T = TransportOp
_START, _STOP = Artim.START, Artim.STOP

# Tables 9-6 .. 9-9.  Descriptions are paraphrases of the standard's text.
# fmt: off
ACTION_SPECS: dict[Action, ActionSpec] = {
    # -- Table 9-6, association establishment
    Action.AE_1: ActionSpec(
        description="Ask the local transport service to open a connection to the peer",
        next_state=_S.STA4, transport=_T.CONNECT),
    Action.AE_2: ActionSpec(
        description="Send the A-ASSOCIATE-RQ PDU",
        next_state=_S.STA5, sends=_P.A_ASSOCIATE_RQ),
    Action.AE_3: ActionSpec(
        description="Tell the local user the association was accepted (A-ASSOCIATE confirm)",
        next_state=_S.STA6, indicates=_I.A_ASSOCIATE_CONFIRM_ACCEPT),
    Action.AE_4: ActionSpec(
        description="Tell the local user the association was rejected; close the connection",
        next_state=_S.STA1, indicates=_I.A_ASSOCIATE_CONFIRM_REJECT, transport=_T.CLOSE),
    Action.AE_5: ActionSpec(
        description="Accept the incoming transport connection and start ARTIM",
        next_state=_S.STA2, transport=_T.ACCEPT, artim=_START),
    Action.AE_6: ActionSpec(
        description="Stop ARTIM; if the service provider can accept the A-ASSOCIATE-RQ, "
                    "pass it to the local user (A-ASSOCIATE indication), otherwise send an "
                    "A-ASSOCIATE-RJ PDU and start ARTIM",
        next_state=_S.STA3, indicates=_I.A_ASSOCIATE_INDICATION, artim=_STOP,
        condition="the A-ASSOCIATE-RQ is acceptable to the service provider",
        otherwise=ActionSpec(
            description="Send an A-ASSOCIATE-RJ PDU and (re)start ARTIM",
            next_state=_S.STA13, sends=_P.A_ASSOCIATE_RJ, artim=_START)),
    Action.AE_7: ActionSpec(
        description="Send the A-ASSOCIATE-AC PDU",
        next_state=_S.STA6, sends=_P.A_ASSOCIATE_AC),
    Action.AE_8: ActionSpec(
        description="Send the A-ASSOCIATE-RJ PDU and start ARTIM",
        next_state=_S.STA13, sends=_P.A_ASSOCIATE_RJ, artim=_START),
    # -- Table 9-7, data transfer
    Action.DT_1: ActionSpec(
        description="Send a P-DATA-TF PDU",
        next_state=_S.STA6, sends=_P.P_DATA_TF),
    Action.DT_2: ActionSpec(
        description="Pass the received data to the local user (P-DATA indication)",
        next_state=_S.STA6, indicates=_I.P_DATA_INDICATION),
    # -- Table 9-8, association release
    Action.AR_1: ActionSpec(
        description="Send the A-RELEASE-RQ PDU",
        next_state=_S.STA7, sends=_P.A_RELEASE_RQ),
    Action.AR_2: ActionSpec(
        description="Tell the local user the peer asks to release (A-RELEASE indication)",
        next_state=_S.STA8, indicates=_I.A_RELEASE_INDICATION),
    Action.AR_3: ActionSpec(
        description="Tell the local user the release is done (A-RELEASE confirm); close",
        next_state=_S.STA1, indicates=_I.A_RELEASE_CONFIRM, transport=_T.CLOSE),
    Action.AR_4: ActionSpec(
        description="Send the A-RELEASE-RP PDU and start ARTIM",
        next_state=_S.STA13, sends=_P.A_RELEASE_RP, artim=_START),
    Action.AR_5: ActionSpec(
        description="Stop ARTIM (the peer closed the connection as expected)",
        next_state=_S.STA1, artim=_STOP),
    Action.AR_6: ActionSpec(
        description="Pass data received while awaiting the A-RELEASE-RP to the local user",
        next_state=_S.STA7, indicates=_I.P_DATA_INDICATION),
    Action.AR_7: ActionSpec(
        description="Send a P-DATA-TF PDU while the peer awaits our A-RELEASE response",
        next_state=_S.STA8, sends=_P.P_DATA_TF),
    Action.AR_8: ActionSpec(
        description="Release collision: tell the local user the peer asks to release too "
                    "(A-RELEASE indication); the requestor goes to Sta9, the acceptor to Sta10",
        next_state=_S.STA9, indicates=_I.A_RELEASE_INDICATION,
        condition="we are the association-requestor",
        otherwise=ActionSpec(
            description="Release collision, acceptor side: A-RELEASE indication",
            next_state=_S.STA10, indicates=_I.A_RELEASE_INDICATION)),
    Action.AR_9: ActionSpec(
        description="Release collision, requestor side: send the A-RELEASE-RP PDU",
        next_state=_S.STA11, sends=_P.A_RELEASE_RP),
    Action.AR_10: ActionSpec(
        description="Release collision, acceptor side: A-RELEASE confirm to the local user",
        next_state=_S.STA12, indicates=_I.A_RELEASE_CONFIRM),
    # -- Table 9-9, association abort
    Action.AA_1: ActionSpec(
        description="Send an A-ABORT PDU (source: service user) and (re)start ARTIM",
        next_state=_S.STA13, sends=_P.A_ABORT, abort_source=ABORT_SOURCE_USER,
        artim=_START),
    Action.AA_2: ActionSpec(
        description="Stop ARTIM if it runs and close the transport connection",
        next_state=_S.STA1, transport=_T.CLOSE, artim=_STOP),
    Action.AA_3: ActionSpec(
        description="The peer aborted: issue an A-ABORT indication if the PDU's source is "
                    "the service user, an A-P-ABORT indication otherwise; close",
        next_state=_S.STA1, indicates=_I.A_ABORT_INDICATION, transport=_T.CLOSE,
        condition="the A-ABORT PDU's source is the service user",
        otherwise=ActionSpec(
            description="Provider-initiated abort: A-P-ABORT indication; close",
            next_state=_S.STA1, indicates=_I.A_P_ABORT_INDICATION, transport=_T.CLOSE)),
    Action.AA_4: ActionSpec(
        description="The connection dropped: A-P-ABORT indication to the local user",
        next_state=_S.STA1, indicates=_I.A_P_ABORT_INDICATION),
    Action.AA_5: ActionSpec(
        description="Stop ARTIM (the connection closed before any A-ASSOCIATE-RQ)",
        next_state=_S.STA1, artim=_STOP),
    Action.AA_6: ActionSpec(
        description="Ignore the PDU (the association is already gone)",
        next_state=_S.STA13),
    # The standard leaves AA-7's abort source open; we send the provider's (the
    # local user is not involved: the association no longer exists).
    Action.AA_7: ActionSpec(
        description="Send an A-ABORT PDU",
        next_state=_S.STA13, sends=_P.A_ABORT, abort_source=ABORT_SOURCE_PROVIDER),
    Action.AA_8: ActionSpec(
        description="Send an A-ABORT PDU (source: service provider), issue an A-P-ABORT "
                    "indication and start ARTIM",
        next_state=_S.STA13, sends=_P.A_ABORT, abort_source=ABORT_SOURCE_PROVIDER,
        indicates=_I.A_P_ABORT_INDICATION, artim=_START),
}
# fmt: on


@dataclass(frozen=True, slots=True)
class Transition:
    """One non-empty cell of Table 9-10.

    ``next_state`` is ``None`` when the action decides at run time (AE-6:
    Sta3 or Sta13; AR-8: Sta9 or Sta10); use ``action.resolve(...)``.
    """

    action: Action
    next_state: State | None


def _build_table() -> dict[tuple[State, Event], Transition | None]:
    # Table 9-10 typed row by row, one row per event, one column per state, as
    # the standard lays it out.  ``o`` is an empty cell.
    A = Action
    AE1, AE2, AE3, AE4, AE5, AE6, AE7, AE8 = (
        A.AE_1, A.AE_2, A.AE_3, A.AE_4, A.AE_5, A.AE_6, A.AE_7, A.AE_8,
    )  # fmt: skip
    DT1, DT2 = A.DT_1, A.DT_2
    AR1, AR2, AR3, AR4, AR5, AR6, AR7, AR8, AR9, AR10 = (
        A.AR_1, A.AR_2, A.AR_3, A.AR_4, A.AR_5, A.AR_6, A.AR_7, A.AR_8, A.AR_9, A.AR_10,
    )  # fmt: skip
    AA1, AA2, AA3, AA4, AA5, AA6, AA7, AA8 = (
        A.AA_1, A.AA_2, A.AA_3, A.AA_4, A.AA_5, A.AA_6, A.AA_7, A.AA_8,
    )  # fmt: skip
    o = None
    E = Event
    # fmt: off
    rows: dict[Event, tuple[Action | None, ...]] = {
        #        Sta1 Sta2 Sta3 Sta4 Sta5 Sta6 Sta7 Sta8 Sta9 Sta10 Sta11 Sta12 Sta13
        E.EVT1:  (AE1, o,   o,   o,   o,   o,   o,   o,   o,   o,    o,    o,    o),
        E.EVT2:  (o,   o,   o,   AE2, o,   o,   o,   o,   o,   o,    o,    o,    o),
        E.EVT3:  (o,   AA1, AA8, o,   AE3, AA8, AA8, AA8, AA8, AA8,  AA8,  AA8,  AA6),
        E.EVT4:  (o,   AA1, AA8, o,   AE4, AA8, AA8, AA8, AA8, AA8,  AA8,  AA8,  AA6),
        E.EVT5:  (AE5, o,   o,   o,   o,   o,   o,   o,   o,   o,    o,    o,    o),
        E.EVT6:  (o,   AE6, AA8, o,   AA8, AA8, AA8, AA8, AA8, AA8,  AA8,  AA8,  AA7),
        E.EVT7:  (o,   o,   AE7, o,   o,   o,   o,   o,   o,   o,    o,    o,    o),
        E.EVT8:  (o,   o,   AE8, o,   o,   o,   o,   o,   o,   o,    o,    o,    o),
        E.EVT9:  (o,   o,   o,   o,   o,   DT1, o,   AR7, o,   o,    o,    o,    o),
        E.EVT10: (o,   AA1, AA8, o,   AA8, DT2, AR6, AA8, AA8, AA8,  AA8,  AA8,  AA6),
        E.EVT11: (o,   o,   o,   o,   o,   AR1, o,   o,   o,   o,    o,    o,    o),
        E.EVT12: (o,   AA1, AA8, o,   AA8, AR2, AR8, AA8, AA8, AA8,  AA8,  AA8,  AA6),
        E.EVT13: (o,   AA1, AA8, o,   AA8, AA8, AR3, AA8, AA8, AR10, AR3,  AA8,  AA6),
        E.EVT14: (o,   o,   o,   o,   o,   o,   o,   AR4, AR9, o,    o,    AR4,  o),
        E.EVT15: (o,   o,   AA1, AA2, AA1, AA1, AA1, AA1, AA1, AA1,  AA1,  AA1,  o),
        E.EVT16: (o,   AA2, AA3, o,   AA3, AA3, AA3, AA3, AA3, AA3,  AA3,  AA3,  AA2),
        E.EVT17: (o,   AA5, AA4, AA4, AA4, AA4, AA4, AA4, AA4, AA4,  AA4,  AA4,  AR5),
        E.EVT18: (o,   AA2, o,   o,   o,   o,   o,   o,   o,   o,    o,    o,    AA2),
        E.EVT19: (o,   AA1, AA8, o,   AA8, AA8, AA8, AA8, AA8, AA8,  AA8,  AA8,  AA7),
    }
    # fmt: on
    table: dict[tuple[State, Event], Transition | None] = {}
    for state in State:
        for event in Event:
            action = rows[event][state - 1]
            cell = None if action is None else Transition(action, action.next_state)
            table[(state, event)] = cell
    return table


#: PS3.8 Table 9-10: all 247 (state, event) cells; ``None`` is an empty cell.
TABLE: dict[tuple[State, Event], Transition | None] = _build_table()


def transition(state: State, event: Event) -> Transition:
    """The cell of Table 9-10 for ``event`` in ``state``.

    Raises :class:`LocalProtocolError` for an empty cell: as the module
    docstring explains, no peer behaviour reaches one, so it is always a
    mistake of the caller (for example an A-RELEASE request in Sta3).
    """
    cell = TABLE[(state, event)]
    if cell is None:
        raise LocalProtocolError(
            f"{event.label} ({event.description}) cannot occur in "
            f"{state.label} ({state.description}) (PS3.8 Table 9-10)"
        )
    return cell


def render_markdown() -> str:
    """Table 9-10 and the action definitions as Markdown, for the docs.

    Generated from :data:`TABLE` and :data:`ACTION_SPECS`, so the document
    cannot drift from the code.
    """
    lines = [
        "### State transitions (PS3.8 Table 9-10)\n",
        "| Event | " + " | ".join(s.label for s in State) + " |",
        "|---" * (len(State) + 1) + "|",
    ]
    for event in Event:
        cells = [TABLE[(state, event)] for state in State]
        row = " | ".join("" if c is None else c.action.value for c in cells)
        lines.append(f"| {event.label} {event.description} | {row} |")
    lines += ["", "### Actions (PS3.8 Tables 9-6 to 9-9)\n", "| Action | Definition | Next state |"]
    lines.append("|---|---|---|")
    for action in Action:
        spec = action.spec
        nxt = spec.next_state.label
        if action.next_state is None and spec.otherwise is not None:
            nxt += f" or {spec.otherwise.next_state.label}"
        lines.append(f"| {action.value} | {spec.description} | {nxt} |")
    lines += ["", "### States (PS3.8 Tables 9-1 to 9-5)\n", "| State | Definition |", "|---|---|"]
    lines += [f"| {s.label} | {s.description} |" for s in State]
    return "\n".join(lines) + "\n"
