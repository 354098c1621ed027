"""The association core (PS3.8 §9.2) driven with bytes only: no sockets.

What the core must do in each cell is worked out here from the standard's
action definitions (PS3.8 Tables 9-6 .. 9-9): which PDU an action sends,
which primitive it issues, what it does to ARTIM.  Only *which* action a
cell holds is read from :data:`dicomqr.protocol.fsm.TABLE`, itself checked
cell by cell against Table 9-10 in ``test_fsm.py``.

Mapping of primitives to events: an A-ASSOCIATE indication is
``AssociationRequested``; the A-ASSOCIATE confirmations are
``AssociationAccepted`` / ``AssociationRejected``; P-DATA indication is
``DataReceived``; A-RELEASE indication ``ReleaseRequested`` (``collision``
for AR-8); A-RELEASE confirmation ``ReleaseConfirmed``; A-ABORT and A-P-ABORT
indications are ``Aborted`` (``local=True`` when our own provider aborted);
closing the transport connection (or learning it closed) is
``ConnectionClosed``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dicomqr.protocol.association import Association, Role
from dicomqr.protocol.errors import LocalProtocolError, RemoteProtocolError
from dicomqr.protocol.events import (
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
)
from dicomqr.protocol.framing import PDUReader
from dicomqr.protocol.fsm import TABLE, Action, State
from dicomqr.protocol.fsm import Event as Evt
from dicomqr.protocol.pdu import PDV, AAbort, AAssociateRJ, AAssociateRQ, PDataTF, encode
from dicomqr.protocol.pdv import fragment
from tests.fixtures import pdus as f
from tests.unit.protocol.helpers import FakeClock, Pair, drain, normalise, sent_bytes

REQUESTOR, ACCEPTOR = Role.REQUESTOR, Role.ACCEPTOR
S = State
ARTIM = 30.0  # the ARTIM period the cores are built with
LATER = 100.0  # the clock when a table cell's event arrives

RQ = f.A_ASSOCIATE_RQ_MINIMAL_PDU
RQ_BYTES = f.A_ASSOCIATE_RQ_MINIMAL
AC = f.A_ASSOCIATE_AC_PDU
AC_BYTES = f.A_ASSOCIATE_AC
RJ = f.A_ASSOCIATE_RJ_PDU
RJ_BYTES = f.A_ASSOCIATE_RJ


def a_abort(source: int, reason: int) -> bytes:
    """An A-ABORT PDU as PS3.8 Table 9-26 lays it out."""
    return b"\x07\x00" + b"\x00\x00\x00\x04" + b"\x00\x00" + bytes((source, reason))


SERVICE_USER, SERVICE_PROVIDER = 0, 2  # A-ABORT source (Table 9-26)
NOT_SPECIFIED, UNRECOGNIZED_PDU, UNEXPECTED_PDU, INVALID_PARAMETER = 0, 1, 2, 6
USER_ABORT = a_abort(SERVICE_USER, 0)  # reason not significant, sent as 0

# AA-1 is "Send A-ABORT PDU (service-user source) and start (or restart if
# already started) ARTIM timer" (Table 9-9).  When it answers the *peer* (a
# PDU other than an A-ASSOCIATE-RQ, or garbage, in Sta2) dicomqr sends the
# service-provider source with the Table 9-26 reason instead, as AA-8 would:
# a deliberate choice (association.py ``_aa_1``) that
# tests/e2e/test_bad_input.py relies on.  The local user's A-ABORT request
# (Evt15) gets the standard's service-user source.
AA1_ANSWERS_PEER_AS_PROVIDER = True


def new_core(role: Role, clock: FakeClock) -> Association:
    return Association(role, clock=clock, artim_timeout=ARTIM)


def feed(core: Association, data: bytes) -> list[Event]:
    core.receive_data(data)
    return drain(core)


# ----------------------------------------------------------------------------------------
# Getting one core into each state.  Each step checks what the standard says it
# does, so these double as the happy-path checks of a single core.


def requestor_in_sta4(clock: FakeClock) -> Association:
    core = new_core(REQUESTOR, clock)
    core.request(RQ)  # Evt1, AE-1: the driver connects; nothing to send
    assert (core.state, sent_bytes(core), drain(core)) == (S.STA4, b"", [])
    return core


def requestor_in_sta5(clock: FakeClock) -> Association:
    core = requestor_in_sta4(clock)
    core.connection_made()  # Evt2, AE-2: send the A-ASSOCIATE-RQ
    assert (core.state, sent_bytes(core)) == (S.STA5, RQ_BYTES)
    assert core.get_timer() is None
    return core


def acceptor_in_sta2(clock: FakeClock) -> Association:
    core = new_core(ACCEPTOR, clock)
    core.connection_made()  # Evt5, AE-5: start ARTIM
    assert (core.state, sent_bytes(core)) == (S.STA2, b"")
    assert core.get_timer() == clock() + ARTIM
    return core


def acceptor_in_sta3(clock: FakeClock) -> Association:
    core = acceptor_in_sta2(clock)
    assert feed(core, RQ_BYTES) == [AssociationRequested(RQ)]  # Evt6, AE-6
    assert (core.state, core.get_timer(), sent_bytes(core)) == (S.STA3, None, b"")
    return core


def established(role: Role, clock: FakeClock) -> Association:
    if role is REQUESTOR:
        core = requestor_in_sta5(clock)
        assert feed(core, AC_BYTES) == [AssociationAccepted(AC)]  # Evt3, AE-3
    else:
        core = acceptor_in_sta3(clock)
        core.accept(AC)  # Evt7, AE-7
        assert sent_bytes(core) == AC_BYTES
    assert core.state is S.STA6 and core.is_established
    return core


def awaiting_release_rp(role: Role, clock: FakeClock) -> Association:
    core = established(role, clock)
    core.release()  # Evt11, AR-1
    assert (core.state, sent_bytes(core)) == (S.STA7, f.A_RELEASE_RQ)
    return core


def release_requested(role: Role, clock: FakeClock) -> Association:
    core = established(role, clock)
    assert feed(core, f.A_RELEASE_RQ) == [ReleaseRequested()]  # Evt12, AR-2
    assert core.state is S.STA8
    return core


def in_collision(role: Role, clock: FakeClock) -> Association:
    core = awaiting_release_rp(role, clock)
    assert feed(core, f.A_RELEASE_RQ) == [ReleaseRequested(collision=True)]  # Evt12, AR-8
    assert core.state is (S.STA9 if role is REQUESTOR else S.STA10)
    return core


def requestor_in_sta11(clock: FakeClock) -> Association:
    core = in_collision(REQUESTOR, clock)
    core.release_response()  # Evt14, AR-9
    assert (core.state, sent_bytes(core)) == (S.STA11, f.A_RELEASE_RP)
    return core


def acceptor_in_sta12(clock: FakeClock) -> Association:
    core = in_collision(ACCEPTOR, clock)
    assert feed(core, f.A_RELEASE_RP) == [ReleaseConfirmed()]  # Evt13, AR-10
    assert core.state is S.STA12
    return core


def released(role: Role, clock: FakeClock) -> Association:
    core = release_requested(role, clock)
    core.release_response()  # Evt14, AR-4: send A-RELEASE-RP, start ARTIM
    assert (core.state, sent_bytes(core)) == (S.STA13, f.A_RELEASE_RP)
    assert core.get_timer() == clock() + ARTIM
    assert not core.wants_close  # the requestor closes (PS3.8 §7.2.2)
    return core


def acceptor_rejected(clock: FakeClock) -> Association:
    core = acceptor_in_sta3(clock)
    core.reject(RJ)  # Evt8, AE-8: send A-ASSOCIATE-RJ, start ARTIM
    assert (core.state, sent_bytes(core)) == (S.STA13, RJ_BYTES)
    assert core.get_timer() == clock() + ARTIM
    return core


def aborted_by_user(role: Role, clock: FakeClock) -> Association:
    core = established(role, clock)
    core.abort()  # Evt15, AA-1: A-ABORT (service-user source), start ARTIM
    assert (core.state, sent_bytes(core), drain(core)) == (S.STA13, USER_ABORT, [])
    assert core.get_timer() == clock() + ARTIM
    assert core.wants_close
    return core


@dataclass(frozen=True)
class Start:
    name: str
    role: Role
    state: State
    build: Callable[[FakeClock], Association]


def _as(
    role: Role, build: Callable[[Role, FakeClock], Association]
) -> Callable[[FakeClock], Association]:
    return lambda clock: build(role, clock)


def _both(name: str, state: State, build: Callable[[Role, FakeClock], Association]) -> list[Start]:
    return [
        Start(f"{name}-{role.value}", role, state, _as(role, build))
        for role in (REQUESTOR, ACCEPTOR)
    ]


STARTS: list[Start] = [
    Start("Sta2", ACCEPTOR, S.STA2, acceptor_in_sta2),
    Start("Sta3", ACCEPTOR, S.STA3, acceptor_in_sta3),
    Start("Sta5", REQUESTOR, S.STA5, requestor_in_sta5),
    *_both("Sta6", S.STA6, established),
    *_both("Sta7", S.STA7, awaiting_release_rp),
    *_both("Sta8", S.STA8, release_requested),
    Start("Sta9", REQUESTOR, S.STA9, lambda c: in_collision(REQUESTOR, c)),
    Start("Sta10", ACCEPTOR, S.STA10, lambda c: in_collision(ACCEPTOR, c)),
    Start("Sta11", REQUESTOR, S.STA11, requestor_in_sta11),
    Start("Sta12", ACCEPTOR, S.STA12, acceptor_in_sta12),
    *_both("Sta13-released", S.STA13, released),
    Start("Sta13-rejected", ACCEPTOR, S.STA13, acceptor_rejected),
    *_both("Sta13-aborted", S.STA13, aborted_by_user),
]


# ----------------------------------------------------------------------------------------
# What the peer can do: each input with the event it raises and, for an input that
# gets answered with an A-ABORT, the Table 9-26 reason that fits it.


@dataclass(frozen=True)
class PeerInput:
    name: str
    event: Evt
    data: bytes
    reason: int  # A-ABORT reason if we abort because of it


PEER_INPUTS = [
    PeerInput("Evt3-A-ASSOCIATE-AC", Evt.EVT3, AC_BYTES, UNEXPECTED_PDU),
    PeerInput("Evt4-A-ASSOCIATE-RJ", Evt.EVT4, RJ_BYTES, UNEXPECTED_PDU),
    PeerInput("Evt6-A-ASSOCIATE-RQ", Evt.EVT6, RQ_BYTES, UNEXPECTED_PDU),
    PeerInput("Evt10-P-DATA-TF", Evt.EVT10, f.P_DATA_TF, UNEXPECTED_PDU),
    PeerInput("Evt12-A-RELEASE-RQ", Evt.EVT12, f.A_RELEASE_RQ, UNEXPECTED_PDU),
    PeerInput("Evt13-A-RELEASE-RP", Evt.EVT13, f.A_RELEASE_RP, UNEXPECTED_PDU),
    PeerInput("Evt16-A-ABORT-user", Evt.EVT16, f.A_ABORT_USER, UNEXPECTED_PDU),
    PeerInput("Evt16-A-ABORT-provider", Evt.EVT16, f.A_ABORT_PROVIDER, UNEXPECTED_PDU),
    PeerInput("Evt17-closed", Evt.EVT17, b"", NOT_SPECIFIED),
    # PDU-type 09H does not exist: unrecognized-PDU.
    PeerInput(
        "Evt19-unknown-type", Evt.EVT19, b"\x09\x00\x00\x00\x00\x04" + bytes(4), UNRECOGNIZED_PDU
    ),
    # An A-RELEASE-RQ whose PDU-length is 5, not 4: invalid-PDU-parameter value.
    PeerInput(
        "Evt19-bad-length", Evt.EVT19, b"\x05\x00\x00\x00\x00\x05" + bytes(5), INVALID_PARAMETER
    ),
    PeerInput("Evt19-http", Evt.EVT19, b"GET / HTTP/1.1\r\n\r\n", UNRECOGNIZED_PDU),
]


@dataclass
class Expected:
    state: State
    sent: bytes
    events: list[Event]
    artim: str  # "start", "stop" or "keep"


def _received_abort(data: bytes) -> list[Event]:
    # AA-3: A-ABORT indication (source 0) or A-P-ABORT indication (source 2),
    # with the fields of the received PDU.
    return [Aborted(source=data[8], reason=data[9])] if len(data) == 10 else []


def expected(start: Start, peer: PeerInput) -> tuple[Action, Expected]:
    """What PS3.8 says happens when ``peer`` arrives in ``start.state``."""
    cell = TABLE[(start.state, peer.event)]
    assert cell is not None, "the peer can always reach a defined cell (test_fsm.py)"
    action = cell.action
    nxt = cell.next_state
    closed: list[Event] = [ConnectionClosed()]
    provider_abort = a_abort(SERVICE_PROVIDER, peer.reason)
    a_p_abort = Aborted(source=SERVICE_PROVIDER, reason=peer.reason, local=True)
    outcomes: dict[Action, Expected] = {
        # Table 9-6
        Action.AE_3: Expected(S.STA6, b"", [AssociationAccepted(AC)], "keep"),
        Action.AE_4: Expected(S.STA1, b"", [AssociationRejected(RJ), *closed], "keep"),
        Action.AE_6: Expected(S.STA3, b"", [AssociationRequested(RQ)], "stop"),
        # Table 9-7
        Action.DT_2: Expected(S.STA6, b"", [DataReceived(f.P_DATA_TF_PDU.pdvs)], "keep"),
        # Table 9-8
        Action.AR_2: Expected(S.STA8, b"", [ReleaseRequested()], "keep"),
        Action.AR_3: Expected(S.STA1, b"", [ReleaseConfirmed(), *closed], "keep"),
        Action.AR_5: Expected(S.STA1, b"", closed, "stop"),
        Action.AR_6: Expected(S.STA7, b"", [DataReceived(f.P_DATA_TF_PDU.pdvs)], "keep"),
        Action.AR_8: Expected(
            S.STA9 if start.role is REQUESTOR else S.STA10,
            b"",
            [ReleaseRequested(collision=True)],
            "keep",
        ),
        Action.AR_10: Expected(S.STA12, b"", [ReleaseConfirmed()], "keep"),
        # Table 9-9
        Action.AA_1: Expected(
            S.STA13,
            provider_abort if AA1_ANSWERS_PEER_AS_PROVIDER else USER_ABORT,
            [],  # AA-1 issues no indication
            "start",
        ),
        Action.AA_2: Expected(S.STA1, b"", closed, "stop"),
        Action.AA_3: Expected(S.STA1, b"", [*_received_abort(peer.data), *closed], "keep"),
        Action.AA_4: Expected(
            S.STA1,
            b"",
            [Aborted(source=SERVICE_PROVIDER, reason=NOT_SPECIFIED, local=True), *closed],
            "keep",
        ),
        Action.AA_5: Expected(S.STA1, b"", closed, "stop"),
        Action.AA_6: Expected(S.STA13, b"", [], "keep"),
        # AA-7 leaves the source open; the association is gone, so the provider's.
        Action.AA_7: Expected(S.STA13, provider_abort, [], "keep"),
        Action.AA_8: Expected(S.STA13, provider_abort, [a_p_abort], "start"),
    }
    outcome = outcomes[action]
    if nxt is not None:
        assert outcome.state is nxt, f"{action.value} goes to {nxt.label}"
    return action, outcome


CASES = [
    pytest.param(start, peer, id=f"{start.name}-{peer.name}")
    for start in STARTS
    for peer in PEER_INPUTS
]


@pytest.mark.parametrize(("start", "peer"), CASES)
def test_peer_event_in_every_state(start: Start, peer: PeerInput) -> None:
    clock = FakeClock()
    core = start.build(clock)
    assert core.state is start.state
    aborted_before = core.wants_close
    timer_before = core.get_timer()
    clock.now = LATER
    action, want = expected(start, peer)

    core.receive_data(peer.data)
    events = [normalise(e) for e in drain(core)]

    assert core.state is want.state, action.value
    assert sent_bytes(core) == want.sent, action.value
    assert events == want.events, action.value
    timer = {"start": LATER + ARTIM, "stop": None, "keep": timer_before}[want.artim]
    assert core.get_timer() == timer, action.value
    sent_abort = want.sent.startswith(b"\x07")
    assert core.wants_close is (want.state is S.STA1 or sent_abort or aborted_before)
    if want.state is S.STA1:
        assert core.get_timer() is None
    # Whatever comes next, a closed core says and sends nothing more.
    if ConnectionClosed() in events:
        assert events[-1] == ConnectionClosed()
        core.receive_data(f.P_DATA_TF)
        core.receive_data(b"")
        core.handle_timer(LATER + 10 * ARTIM)
        assert core.next_event() is NEED_DATA
        assert sent_bytes(core) == b""


def test_sta4_connection_closed_before_confirm() -> None:
    # Evt17 in Sta4 is AA-4: A-P-ABORT indication, Sta1.
    core = requestor_in_sta4(FakeClock())
    core.receive_data(b"")
    assert [normalise(e) for e in drain(core)] == [
        Aborted(source=SERVICE_PROVIDER, reason=NOT_SPECIFIED, local=True),
        ConnectionClosed(),
    ]
    assert core.state is S.STA1 and sent_bytes(core) == b""


def test_received_abort_reports_the_peers_fields() -> None:
    # AA-3: A-ABORT indication (source 0) vs A-P-ABORT indication (source 2).
    for data, source, reason in ((f.A_ABORT_USER, 0, 0), (f.A_ABORT_PROVIDER, 2, 6)):
        core = established(REQUESTOR, FakeClock())
        events = feed(core, data)
        assert events[0] == Aborted(source=source, reason=reason, local=False)
        assert isinstance(events[1], ConnectionClosed)


# ----------------------------------------------------------------------------------------
# The local user's primitives, in every state: an empty cell of Table 9-10 is
# our caller's mistake, raises LocalProtocolError and changes nothing.

RJ_PERMANENT = AAssociateRJ(result=1, source=1, reason=1)


@dataclass(frozen=True)
class Primitive:
    name: str
    call: Callable[[Association], None]
    sends: bytes


PRIMITIVES = [
    Primitive("request", lambda c: c.request(RQ), b""),
    Primitive("connection_made", lambda c: c.connection_made(), RQ_BYTES),
    Primitive("accept", lambda c: c.accept(AC), AC_BYTES),
    # rejected-permanent (1), service-user (1), no-reason-given (1): Table 9-21
    Primitive(
        "reject", lambda c: c.reject(RJ_PERMANENT), b"\x03\x00" + bytes((0, 0, 0, 4, 0, 1, 1, 1))
    ),
    Primitive("send_pdata", lambda c: c.send_pdata([f.P_DATA_TF]), f.P_DATA_TF),
    Primitive("release", lambda c: c.release(), f.A_RELEASE_RQ),
    Primitive("release_response", lambda c: c.release_response(), f.A_RELEASE_RP),
    Primitive("abort", lambda c: c.abort(), USER_ABORT),
]

_PRIMITIVE_EVENTS = {
    "request": Evt.EVT1, "accept": Evt.EVT7, "reject": Evt.EVT8, "send_pdata": Evt.EVT9,
    "release": Evt.EVT11, "release_response": Evt.EVT14, "abort": Evt.EVT15,
}  # fmt: skip

LOCAL_STARTS = [
    Start("Sta1-requestor", REQUESTOR, S.STA1, lambda c: new_core(REQUESTOR, c)),
    Start("Sta1-acceptor", ACCEPTOR, S.STA1, lambda c: new_core(ACCEPTOR, c)),
    Start("Sta4", REQUESTOR, S.STA4, requestor_in_sta4),
    *STARTS,
]


@pytest.mark.parametrize(
    ("start", "primitive"),
    [pytest.param(s, p, id=f"{s.name}-{p.name}") for s in LOCAL_STARTS for p in PRIMITIVES],
)
def test_local_primitive_in_every_state(start: Start, primitive: Primitive) -> None:
    clock = FakeClock()
    core = start.build(clock)
    timer_before = core.get_timer()
    aborted_before = core.wants_close
    clock.now = LATER
    if primitive.name == "connection_made":
        event = Evt.EVT2 if start.role is REQUESTOR else Evt.EVT5
    else:
        event = _PRIMITIVE_EVENTS[primitive.name]
    cell = TABLE[(start.state, event)]
    if primitive.name == "request" and start.role is ACCEPTOR:
        cell = None  # only a requestor asks for an association
    if primitive.name == "abort" and start.state is S.STA1:
        primitive.call(core)  # documented no-op: nothing left to abort
        assert (core.state, sent_bytes(core), drain(core)) == (S.STA1, b"", [])
        return
    if cell is None:
        with pytest.raises(LocalProtocolError):
            primitive.call(core)
        assert core.state is start.state
        assert core.get_timer() == timer_before
        assert core.wants_close is aborted_before
        assert (sent_bytes(core), drain(core)) == (b"", [])
        return
    primitive.call(core)
    action = cell.action
    next_state = cell.next_state
    assert next_state is not None  # no local event triggers AE-6 or AR-8
    assert core.state is next_state, action.value
    # AE-1 and AE-5 act on the transport; AA-2 closes it.  The others send a PDU.
    sends = b"" if action in (Action.AE_1, Action.AE_5, Action.AA_2) else primitive.sends
    assert sent_bytes(core) == sends, action.value
    events = [normalise(e) for e in drain(core)]
    assert events == ([ConnectionClosed()] if next_state is S.STA1 else []), action.value
    starts_artim = action in (Action.AE_5, Action.AE_8, Action.AR_4, Action.AA_1)
    timer = LATER + ARTIM if starts_artim else None if action is Action.AA_2 else timer_before
    assert core.get_timer() == timer, action.value


def test_misuse_send_pdata_before_association() -> None:
    clock = FakeClock()
    for core in (new_core(REQUESTOR, clock), requestor_in_sta5(clock), acceptor_in_sta3(clock)):
        state = core.state
        with pytest.raises(LocalProtocolError):
            core.send_pdata([f.P_DATA_TF])
        assert core.state is state and sent_bytes(core) == b""


def test_misuse_accept_twice() -> None:
    core = established(ACCEPTOR, FakeClock())
    with pytest.raises(LocalProtocolError):
        core.accept(AC)
    assert core.state is S.STA6 and sent_bytes(core) == b""


def test_misuse_request_as_acceptor() -> None:
    core = new_core(ACCEPTOR, FakeClock())
    with pytest.raises(LocalProtocolError):
        core.request(RQ)
    assert (core.state, sent_bytes(core)) == (S.STA1, b"")
    core.connection_made()  # still usable as an acceptor
    assert core.state is S.STA2


def test_misuse_second_request_does_not_replace_the_first() -> None:
    core = requestor_in_sta4(FakeClock())
    other = AAssociateRQ(
        called_ae_title="OTHER",
        calling_ae_title="ME",
        presentation_contexts=RQ.presentation_contexts,
        user_information=RQ.user_information,
    )
    with pytest.raises(LocalProtocolError):
        core.request(other)
    assert core.state is S.STA4
    core.connection_made()
    assert sent_bytes(core) == RQ_BYTES  # the request that was accepted, not the refused one


# ----------------------------------------------------------------------------------------
# Two cores talking.

COMMAND = f.C_ECHO_RQ_GROUP_LENGTH + f.C_ECHO_RQ_REST  # 68 bytes
DATASET = f.DATASET_PART_1 + f.DATASET_PART_2 + bytes(40)  # 68 bytes


def associate(pair: Pair) -> None:
    pair.requestor.request(RQ)
    pair.connect()
    assert pair.pump() == {REQUESTOR: [], ACCEPTOR: [AssociationRequested(RQ)]}
    assert pair.states() == (S.STA5, S.STA3)
    assert pair.acceptor.get_timer() is None  # AE-6 stopped ARTIM
    pair.acceptor.accept(AC)
    assert pair.pump() == {REQUESTOR: [AssociationAccepted(AC)], ACCEPTOR: []}
    assert pair.states() == (S.STA6, S.STA6)


def received_pdvs(events: list[Event]) -> list[PDV]:
    assert events and all(isinstance(e, DataReceived) for e in events)
    return [pdv for e in events if isinstance(e, DataReceived) for pdv in e.pdvs]


def exchange(pair: Pair, sender: Role, context_id: int) -> None:
    """One DIMSE-sized message (command + data set) from ``sender`` to its peer."""
    core = pair.core(sender)
    receiver = ACCEPTOR if sender is REQUESTOR else REQUESTOR
    chunks = fragment(context_id, COMMAND, DATASET, max_pdu_length=32)
    core.send_pdata(chunks)
    events = pair.pump()
    assert events[sender] == []
    pdvs = received_pdvs(events[receiver])
    # max_pdu_length 32: fragments of 26 bytes (PS3.8 E.1, even), one PDV per PDU.
    assert len(events[receiver]) == len(pdvs) == 6
    assert {pdv.context_id for pdv in pdvs} == {context_id}
    commands = [p for p in pdvs if p.is_command]
    datas = [p for p in pdvs if not p.is_command]
    assert pdvs == commands + datas  # the command set first (PS3.8 E.1)
    assert b"".join(p.data for p in commands) == COMMAND
    assert b"".join(p.data for p in datas) == DATASET
    assert [p.is_last for p in commands] == [False, False, True]
    assert [p.is_last for p in datas] == [False, False, True]
    assert pair.states() == (S.STA6, S.STA6)


def test_associate_exchange_and_release_by_requestor() -> None:
    pair = Pair()
    associate(pair)
    exchange(pair, REQUESTOR, 1)
    exchange(pair, ACCEPTOR, 1)
    pair.requestor.release()
    assert pair.pump() == {REQUESTOR: [], ACCEPTOR: [ReleaseRequested()]}
    assert pair.states() == (S.STA7, S.STA8)
    pair.acceptor.release_response()
    events = pair.pump()
    # Requestor: AR-3 (A-RELEASE confirmation, close).  Acceptor: AR-4 then AR-5.
    assert [normalise(e) for e in events[REQUESTOR]] == [ReleaseConfirmed(), ConnectionClosed()]
    assert [normalise(e) for e in events[ACCEPTOR]] == [ConnectionClosed()]
    assert pair.states() == (S.STA1, S.STA1)
    assert pair.requestor.get_timer() is None and pair.acceptor.get_timer() is None
    assert bytes(pair.wire[REQUESTOR]).startswith(RQ_BYTES)
    assert bytes(pair.wire[REQUESTOR]).endswith(f.A_RELEASE_RQ)
    assert bytes(pair.wire[ACCEPTOR]).startswith(AC_BYTES)
    assert bytes(pair.wire[ACCEPTOR]).endswith(f.A_RELEASE_RP)


def test_release_by_acceptor() -> None:
    # PS3.8 §7.2 lets either side request the release; the requestor is then in
    # Sta8, answers with A-RELEASE-RP (AR-4) and waits in Sta13 for the close.
    pair = Pair()
    associate(pair)
    pair.acceptor.release()
    assert pair.pump() == {REQUESTOR: [ReleaseRequested()], ACCEPTOR: []}
    assert pair.states() == (S.STA8, S.STA7)
    pair.requestor.send_pdata(fragment(1, COMMAND, None, 0))  # AR-7: data still allowed in Sta8
    events = pair.pump()
    assert received_pdvs(events[ACCEPTOR])[0].data == COMMAND  # AR-6 in Sta7
    assert pair.states() == (S.STA8, S.STA7)
    pair.requestor.release_response()
    events = pair.pump()
    assert [normalise(e) for e in events[ACCEPTOR]] == [ReleaseConfirmed(), ConnectionClosed()]
    assert [normalise(e) for e in events[REQUESTOR]] == [ConnectionClosed()]
    assert pair.states() == (S.STA1, S.STA1)


def test_reject() -> None:
    pair = Pair()
    pair.requestor.request(RQ)
    pair.connect()
    pair.pump()
    pair.acceptor.reject(RJ)  # AE-8
    events = pair.pump()
    # Requestor: AE-4 (confirmation (reject), close).  Acceptor: AR-5 on the close.
    assert [normalise(e) for e in events[REQUESTOR]] == [
        AssociationRejected(RJ),
        ConnectionClosed(),
    ]
    assert [normalise(e) for e in events[ACCEPTOR]] == [ConnectionClosed()]
    assert pair.states() == (S.STA1, S.STA1)
    assert bytes(pair.wire[ACCEPTOR]) == RJ_BYTES


def test_abort_by_user() -> None:
    pair = Pair()
    associate(pair)
    pair.acceptor.abort()
    events = pair.pump()
    assert [normalise(e) for e in events[REQUESTOR]] == [Aborted(0, 0), ConnectionClosed()]
    assert [normalise(e) for e in events[ACCEPTOR]] == [ConnectionClosed()]
    assert pair.states() == (S.STA1, S.STA1)
    assert bytes(pair.wire[ACCEPTOR]).endswith(USER_ABORT)


@pytest.mark.parametrize("first", [REQUESTOR, ACCEPTOR])
def test_release_collision(first: Role) -> None:
    # Both ask at once (PS3.8 §7.2.2 / Table 9-10 Sta7+Evt12).  The requestor
    # answers first (Sta9 → AR-9 → Sta11), the acceptor only after its
    # confirmation (Sta10 → AR-10 → Sta12 → AR-4 → Sta13).
    pair = Pair()
    associate(pair)
    pair.core(first).release()
    pair.core(ACCEPTOR if first is REQUESTOR else REQUESTOR).release()
    collided = [ReleaseRequested(collision=True)]
    assert pair.pump() == {REQUESTOR: collided, ACCEPTOR: collided}
    assert pair.states() == (S.STA9, S.STA10)
    with pytest.raises(LocalProtocolError):
        pair.acceptor.release_response()  # Evt14 is an empty cell in Sta10
    pair.requestor.release_response()  # AR-9
    assert pair.pump() == {REQUESTOR: [], ACCEPTOR: [ReleaseConfirmed()]}
    assert pair.states() == (S.STA11, S.STA12)
    pair.acceptor.release_response()  # AR-4
    events = pair.pump()
    assert [normalise(e) for e in events[REQUESTOR]] == [ReleaseConfirmed(), ConnectionClosed()]
    assert [normalise(e) for e in events[ACCEPTOR]] == [ConnectionClosed()]
    assert pair.states() == (S.STA1, S.STA1)


def test_release_collision_single_cores() -> None:
    # The same, one core at a time, with the exact bytes each sends.
    clock = FakeClock()
    rq = in_collision(REQUESTOR, clock)
    rq.release_response()
    assert (rq.state, sent_bytes(rq)) == (S.STA11, f.A_RELEASE_RP)  # AR-9
    assert [normalise(e) for e in feed(rq, f.A_RELEASE_RP)] == [
        ReleaseConfirmed(),
        ConnectionClosed(),
    ]  # AR-3
    assert rq.state is S.STA1 and rq.wants_close

    ac = in_collision(ACCEPTOR, clock)
    assert feed(ac, f.A_RELEASE_RP) == [ReleaseConfirmed()]  # AR-10
    assert (ac.state, sent_bytes(ac)) == (S.STA12, b"")
    ac.release_response()  # AR-4: send A-RELEASE-RP, start ARTIM
    assert (ac.state, sent_bytes(ac), ac.get_timer()) == (S.STA13, f.A_RELEASE_RP, ARTIM)
    assert [normalise(e) for e in feed(ac, b"")] == [ConnectionClosed()]  # AR-5
    assert ac.state is S.STA1


# ----------------------------------------------------------------------------------------
# ARTIM (PS3.8 §9.1.5)


def expire(core: Association, clock: FakeClock) -> list[Event]:
    deadline = core.get_timer()
    assert deadline is not None
    clock.now = deadline - 0.001
    core.handle_timer(clock.now)
    assert drain(core) == []
    clock.now = deadline
    core.handle_timer(clock.now)
    return [normalise(e) for e in drain(core)]


def test_artim_expires_in_sta2() -> None:
    clock = FakeClock(5.0)
    core = acceptor_in_sta2(clock)
    assert core.get_timer() == 5.0 + ARTIM
    state_before = core.state
    assert expire(core, clock) == [ConnectionClosed()]  # Evt18 in Sta2: AA-2
    assert state_before is S.STA2 and core.state is S.STA1
    assert core.wants_close and core.get_timer() is None and sent_bytes(core) == b""


def test_artim_stops_when_the_request_arrives() -> None:
    clock = FakeClock()
    core = acceptor_in_sta2(clock)
    clock.now = ARTIM / 2
    assert feed(core, RQ_BYTES) == [AssociationRequested(RQ)]
    assert core.get_timer() is None
    core.handle_timer(10 * ARTIM)
    assert drain(core) == [] and core.state is S.STA3


def test_artim_not_reached_keeps_waiting_for_the_request() -> None:
    clock = FakeClock()
    core = acceptor_in_sta2(clock)
    core.handle_timer(ARTIM - 1)
    assert drain(core) == [] and core.state is S.STA2
    core.receive_data(RQ_BYTES[:10])  # a partial PDU does not stop ARTIM
    assert drain(core) == [] and core.get_timer() == ARTIM


@pytest.mark.parametrize("how", ["release", "reject"])
def test_artim_in_sta13_after_release_rp_or_rj(how: str) -> None:
    clock = FakeClock()
    if how == "release":
        core = established(ACCEPTOR, clock)
        feed(core, f.A_RELEASE_RQ)
        clock.now = 50.0
        core.release_response()  # AR-4
        assert sent_bytes(core) == f.A_RELEASE_RP
    else:
        core = acceptor_in_sta3(clock)
        clock.now = 50.0
        core.reject(RJ)  # AE-8
        assert sent_bytes(core) == RJ_BYTES
    assert (core.state, core.get_timer()) == (S.STA13, 50.0 + ARTIM)
    assert expire(core, clock) == [ConnectionClosed()]  # Evt18 in Sta13: AA-2
    assert core.state is S.STA1 and core.get_timer() is None and sent_bytes(core) == b""


def test_artim_does_not_run_while_associated() -> None:
    clock = FakeClock()
    for core in (established(REQUESTOR, clock), established(ACCEPTOR, clock)):
        assert core.get_timer() is None
        core.handle_timer(1e9)
        assert drain(core) == [] and core.state is S.STA6


# ----------------------------------------------------------------------------------------
# A-ASSOCIATE-RQ acceptability (AE-6)


@pytest.mark.parametrize("version", [0, 2, 0x8000, 0xFFFE])
def test_protocol_version_without_bit_0_is_rejected(version: int) -> None:
    # PS3.8 §9.3.2: bit 0 of the protocol-version field is version 1, the only
    # one defined.  Without it AE-6 sends A-ASSOCIATE-RJ: rejected-permanent (1),
    # service-provider ACSE (2), protocol-version not supported (2).
    clock = FakeClock()
    core = acceptor_in_sta2(clock)
    rq = AAssociateRQ(
        called_ae_title=RQ.called_ae_title,
        calling_ae_title=RQ.calling_ae_title,
        presentation_contexts=RQ.presentation_contexts,
        user_information=RQ.user_information,
        protocol_version=version,
    )
    clock.now = 7.0
    assert feed(core, encode(rq)) == []  # no A-ASSOCIATE indication
    assert sent_bytes(core) == b"\x03\x00" + b"\x00\x00\x00\x04" + b"\x00\x01\x02\x02"
    assert core.state is S.STA13 and core.get_timer() == 7.0 + ARTIM
    assert not core.wants_close  # the requestor closes after AE-4
    assert [normalise(e) for e in feed(core, b"")] == [ConnectionClosed()]  # AR-5


@pytest.mark.parametrize("version", [1, 3, 0xFFFF])
def test_protocol_version_with_bit_0_is_acceptable(version: int) -> None:
    core = acceptor_in_sta2(FakeClock())
    rq = AAssociateRQ(
        called_ae_title=RQ.called_ae_title,
        calling_ae_title=RQ.calling_ae_title,
        presentation_contexts=RQ.presentation_contexts,
        user_information=RQ.user_information,
        protocol_version=version,
    )
    assert feed(core, encode(rq)) == [AssociationRequested(rq)]
    assert core.state is S.STA3


def test_requestor_sees_protocol_version_rejection() -> None:
    pair = Pair()
    pair.requestor.request(
        AAssociateRQ(
            called_ae_title="A",
            calling_ae_title="B",
            presentation_contexts=RQ.presentation_contexts,
            user_information=RQ.user_information,
            protocol_version=2,
        )
    )
    pair.connect()
    events = pair.pump()
    rj = AAssociateRJ(result=1, source=2, reason=2)
    assert [normalise(e) for e in events[REQUESTOR]] == [
        AssociationRejected(rj),
        ConnectionClosed(),
    ]
    assert [normalise(e) for e in events[ACCEPTOR]] == [ConnectionClosed()]
    assert pair.states() == (S.STA1, S.STA1)


# ----------------------------------------------------------------------------------------
# Aborts and wants_close


def test_abort_provider_in_sta6_is_aa8_with_the_errors_reason() -> None:
    core = established(ACCEPTOR, FakeClock())
    core.abort_provider(RemoteProtocolError("dataset before command", reason=5))
    assert sent_bytes(core) == a_abort(SERVICE_PROVIDER, 5)
    assert [normalise(e) for e in drain(core)] == [Aborted(2, 5, local=True)]
    assert core.state is S.STA13 and core.wants_close and core.get_timer() == ARTIM


def test_abort_and_abort_provider_after_close_do_nothing() -> None:
    core = established(REQUESTOR, FakeClock())
    feed(core, b"")
    assert core.state is S.STA1
    core.abort()
    core.abort_provider(RemoteProtocolError("late"))
    assert (sent_bytes(core), core.next_event()) == (b"", NEED_DATA)


@pytest.mark.parametrize(
    ("build", "trigger"),
    [
        pytest.param(lambda c: established(REQUESTOR, c), lambda c: c.abort(), id="AA-1-user"),
        pytest.param(acceptor_in_sta2, lambda c: c.receive_data(f.P_DATA_TF), id="AA-1-peer"),
        pytest.param(
            lambda c: established(ACCEPTOR, c), lambda c: c.receive_data(RQ_BYTES), id="AA-8"
        ),
        pytest.param(
            lambda c: released(ACCEPTOR, c), lambda c: c.receive_data(RQ_BYTES), id="AA-7"
        ),
    ],
)
def test_wants_close_once_an_abort_is_sent(
    build: Callable[[FakeClock], Association], trigger: Callable[[Association], None]
) -> None:
    # A documented choice: after sending an A-ABORT nothing more can be said on
    # the connection, so the driver closes it at once instead of waiting ARTIM.
    core = build(FakeClock())
    assert not core.wants_close
    trigger(core)
    drain(core)
    assert sent_bytes(core)[:1] == b"\x07"
    assert core.state is S.STA13 and core.wants_close


# ----------------------------------------------------------------------------------------
# Byte-at-a-time


def conversation(pair: Pair) -> None:
    associate(pair)
    exchange(pair, REQUESTOR, 1)
    exchange(pair, ACCEPTOR, 1)
    pair.acceptor.release()
    pair.requestor.release()
    pair.pump()
    pair.requestor.release_response()
    pair.pump()
    pair.acceptor.release_response()
    pair.pump()
    assert pair.states() == (S.STA1, S.STA1)


@pytest.mark.parametrize("chunk", [1, 7])
def test_byte_at_a_time_gives_the_same_events(chunk: int) -> None:
    whole, pieces = Pair(), Pair(chunk=chunk)
    conversation(whole)
    conversation(pieces)
    for role in (REQUESTOR, ACCEPTOR):
        assert pieces.history[role] == whole.history[role]
        assert pieces.wire[role] == whole.wire[role]
    assert isinstance(whole.history[REQUESTOR][-1], ConnectionClosed)


def test_byte_at_a_time_into_one_acceptor() -> None:
    # Everything a requestor sends in a session, one byte per receive_data.
    stream = RQ_BYTES + f.P_DATA_TF + f.P_DATA_TF + f.A_RELEASE_RQ
    core = acceptor_in_sta2(FakeClock())
    events: list[Event] = []
    for i in range(len(stream)):
        core.receive_data(stream[i : i + 1])
        for event in drain(core):
            events.append(event)
            if isinstance(event, AssociationRequested):
                core.accept(AC)
            elif isinstance(event, ReleaseRequested):
                core.release_response()
    events += drain(core)
    data = DataReceived(f.P_DATA_TF_PDU.pdvs)
    assert events == [AssociationRequested(RQ), data, data, ReleaseRequested()]
    assert sent_bytes(core) == AC_BYTES + f.A_RELEASE_RP
    assert [normalise(e) for e in feed(core, b"")] == [ConnectionClosed()]


# ----------------------------------------------------------------------------------------
# Hypothesis

GOLDEN = [data for _, data, _ in f.PDU_VECTORS]


@st.composite
def noisy_streams(draw: st.DrawFn) -> bytes:
    """Valid PDUs, damaged PDUs and junk, run together."""

    def damaged(args: tuple[bytes, int, int]) -> bytes:
        data, pos, value = args
        buf = bytearray(data)
        buf[pos % len(buf)] = value
        return bytes(buf)

    piece = st.one_of(
        st.sampled_from(GOLDEN),
        st.tuples(st.sampled_from(GOLDEN), st.integers(0, 1000), st.integers(0, 255)).map(damaged),
        st.sampled_from(GOLDEN).flatmap(lambda d: st.integers(0, len(d)).map(lambda n: d[:n])),
        st.binary(max_size=40),
    )
    # Half the time start with a good A-ASSOCIATE-RQ, to get past Sta2.
    prefix = draw(st.sampled_from([b"", RQ_BYTES]))
    return prefix + b"".join(draw(st.lists(piece, max_size=8)))


def pdus_in(stream: bytes) -> list[object]:
    """The PDUs of a stream the core wrote; it must be well formed and complete."""
    reader = PDUReader(max_pdu_length=0)
    reader.feed(stream)
    pdus: list[object] = list(reader)
    assert reader.buffered == 0
    return pdus


@settings(max_examples=300, deadline=None)
@given(
    stream=noisy_streams(),
    cuts=st.lists(st.integers(1, 64), max_size=20),
    answer=st.sampled_from(["accept", "reject", "ignore"]),
    answer_release=st.booleans(),
    ending=st.sampled_from(["eof", "timer", "none"]),
)
def test_random_bytes_into_an_acceptor(
    stream: bytes, cuts: list[int], answer: str, answer_release: bool, ending: str
) -> None:
    clock = FakeClock()
    core = new_core(ACCEPTOR, clock)
    core.connection_made()
    events: list[Event] = []
    written = bytearray()

    def collect() -> None:
        while True:
            if events and isinstance(events[-1], ConnectionClosed):
                assert sent_bytes(core) == b""  # nothing after ConnectionClosed
                assert core.next_event() is NEED_DATA
                return
            written.extend(sent_bytes(core))
            event = core.next_event()
            if event is NEED_DATA:
                return
            assert isinstance(event, Event)
            events.append(event)
            if isinstance(event, AssociationRequested):
                if answer == "accept":
                    core.accept(AC)
                elif answer == "reject":
                    core.reject(RJ)
            elif isinstance(event, ReleaseRequested) and answer_release:
                core.release_response()

    pos = 0
    for size in [*cuts, len(stream)]:
        core.receive_data(stream[pos : pos + size])
        pos += size
        collect()
    if ending == "eof":
        core.receive_data(b"")
    elif ending == "timer":
        core.handle_timer(clock.now + 2 * ARTIM)
    collect()

    closed = [e for e in events if isinstance(e, ConnectionClosed)]
    assert len(closed) <= 1
    if closed:
        assert events[-1] is closed[0] and core.state is S.STA1
    else:
        # Waiting: for a PDU or the close (Sta2, Sta6, Sta13) or for our user.
        assert core.state in (S.STA2, S.STA3, S.STA6, S.STA8, S.STA13)
    if ending == "eof" or (ending == "timer" and core.get_timer() is None):
        assert ending == "timer" or core.state is S.STA1
    sent = pdus_in(bytes(written))
    aborts = [i for i, p in enumerate(sent) if isinstance(p, AAbort)]
    if aborts:
        # After an A-ABORT only AA-7's A-ABORTs may follow (Sta13), and the
        # driver is told to close.
        assert all(isinstance(p, AAbort) for p in sent[aborts[0] :])
        assert core.wants_close


OPS = ["send_pdata", "release", "release_response", "abort", "close", "pump"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from([REQUESTOR, ACCEPTOR]), st.sampled_from(OPS)), max_size=12)
)
def test_random_user_calls_on_a_pair(ops: list[tuple[Role, str]]) -> None:
    pair = Pair()
    associate(pair)
    chunk = fragment(1, COMMAND, None, 0)
    for role, op in ops:
        core = pair.core(role)
        state = core.state
        try:
            if op == "send_pdata":
                core.send_pdata(chunk)
            elif op == "release":
                core.release()
            elif op == "release_response":
                core.release_response()
            elif op == "abort":
                core.abort()
            elif op == "close":
                pair.close(role)
        except LocalProtocolError:
            assert core.state is state
        else:
            if op == "pump":
                pair.pump()  # asserts nothing is written after a close
    pair.pump()
    pair.close(REQUESTOR)
    pair.pump()
    assert pair.states() == (S.STA1, S.STA1)
    for role in (REQUESTOR, ACCEPTOR):
        history = pair.history[role]
        assert [type(e) for e in history].count(ConnectionClosed) == 1
        assert isinstance(history[-1], ConnectionClosed)
        pdus_in(bytes(pair.wire[role]))
    # A release confirmed on one side was answered by the other.
    if ReleaseConfirmed() in pair.history[REQUESTOR]:
        assert f.A_RELEASE_RP in bytes(pair.wire[ACCEPTOR])


def test_pdata_pdu_round_trips_through_the_pair() -> None:
    pair = Pair()
    associate(pair)
    pdu = PDataTF(pdvs=(PDV(context_id=3, is_command=False, is_last=True, data=b"\x00" * 10),))
    pair.acceptor.send_pdata([encode(pdu)])
    assert pair.pump()[REQUESTOR] == [DataReceived(pdu.pdvs)]


def test_pdu_fixture_lengths() -> None:
    # Guard for the hand-written inputs above (PS3.8 §9.3.1 header).
    for peer in PEER_INPUTS:
        if peer.data and peer.event is not Evt.EVT19:
            pdu_type, length = struct.unpack_from(">BxL", peer.data)
            assert length == len(peer.data) - 6
            assert Evt.for_pdu_type(pdu_type) is peer.event
