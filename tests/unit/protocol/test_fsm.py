"""The upper-layer state machine against PS3.8 §9.2, cell by cell.

The expected table below is typed in independently of ``fsm.py``, one
column per state (the code has one row per event): for each state, the
events that have an action there.  Every event not listed is an empty cell.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from dicomqr.protocol.errors import LocalProtocolError
from dicomqr.protocol.fsm import (
    ACTION_SPECS,
    CONNECTED_STATES,
    PEER_EVENTS,
    TABLE,
    Action,
    ActionSpec,
    Artim,
    Event,
    Indication,
    PduType,
    State,
    Transition,
    TransportOp,
    render_markdown,
    transition,
)

# PS3.8 Table 9-10 read down each state column: "event:action ...".
STANDARD_COLUMNS = {
    1: "1:AE-1 5:AE-5",
    2: "3:AA-1 4:AA-1 6:AE-6 10:AA-1 12:AA-1 13:AA-1 16:AA-2 17:AA-5 18:AA-2 19:AA-1",
    3: "3:AA-8 4:AA-8 6:AA-8 7:AE-7 8:AE-8 10:AA-8 12:AA-8 13:AA-8 15:AA-1 16:AA-3 17:AA-4 19:AA-8",
    4: "2:AE-2 15:AA-2 17:AA-4",
    5: "3:AE-3 4:AE-4 6:AA-8 10:AA-8 12:AA-8 13:AA-8 15:AA-1 16:AA-3 17:AA-4 19:AA-8",
    6: "3:AA-8 4:AA-8 6:AA-8 9:DT-1 10:DT-2 11:AR-1 12:AR-2 13:AA-8 15:AA-1 16:AA-3 "
    "17:AA-4 19:AA-8",
    7: "3:AA-8 4:AA-8 6:AA-8 10:AR-6 12:AR-8 13:AR-3 15:AA-1 16:AA-3 17:AA-4 19:AA-8",
    8: "3:AA-8 4:AA-8 6:AA-8 9:AR-7 10:AA-8 12:AA-8 13:AA-8 14:AR-4 15:AA-1 16:AA-3 "
    "17:AA-4 19:AA-8",
    9: "3:AA-8 4:AA-8 6:AA-8 10:AA-8 12:AA-8 13:AA-8 14:AR-9 15:AA-1 16:AA-3 17:AA-4 19:AA-8",
    10: "3:AA-8 4:AA-8 6:AA-8 10:AA-8 12:AA-8 13:AR-10 15:AA-1 16:AA-3 17:AA-4 19:AA-8",
    11: "3:AA-8 4:AA-8 6:AA-8 10:AA-8 12:AA-8 13:AR-3 15:AA-1 16:AA-3 17:AA-4 19:AA-8",
    12: "3:AA-8 4:AA-8 6:AA-8 10:AA-8 12:AA-8 13:AA-8 14:AR-4 15:AA-1 16:AA-3 17:AA-4 19:AA-8",
    13: "3:AA-6 4:AA-6 6:AA-7 10:AA-6 12:AA-6 13:AA-6 16:AA-2 17:AR-5 18:AA-2 19:AA-7",
}

# PS3.8 Tables 9-6 .. 9-9: next state of each action ("3|13" = the action decides).
STANDARD_NEXT_STATE = {
    "AE-1": "4", "AE-2": "5", "AE-3": "6", "AE-4": "1", "AE-5": "2", "AE-6": "3|13",
    "AE-7": "6", "AE-8": "13", "DT-1": "6", "DT-2": "6", "AR-1": "7", "AR-2": "8",
    "AR-3": "1", "AR-4": "13", "AR-5": "1", "AR-6": "7", "AR-7": "8", "AR-8": "9|10",
    "AR-9": "11", "AR-10": "12", "AA-1": "13", "AA-2": "1", "AA-3": "1", "AA-4": "1",
    "AA-5": "1", "AA-6": "13", "AA-7": "13", "AA-8": "13",
}  # fmt: skip


def expected_cells(state: int) -> dict[int, str]:
    return {
        int(event): action
        for event, action in (pair.split(":") for pair in STANDARD_COLUMNS[state].split())
    }


def test_every_one_of_the_247_cells_is_present() -> None:
    assert len(TABLE) == 13 * 19 == 247
    assert set(TABLE) == set(itertools.product(State, Event))


@pytest.mark.parametrize("state", range(1, 14))
def test_state_column_matches_table_9_10(state: int) -> None:
    expected = expected_cells(state)
    for event in Event:
        cell = TABLE[(State(state), event)]
        got = None if cell is None else cell.action.value
        assert got == expected.get(event.value), f"Sta{state} Evt{event.value}"


def test_the_typed_copy_has_no_stray_entries() -> None:
    # Guard the expected table itself: every named action exists, no event twice.
    for state in STANDARD_COLUMNS:
        pairs = STANDARD_COLUMNS[state].split()
        assert len(pairs) == len(expected_cells(state))
        assert all(Action(a) for a in expected_cells(state).values())
    assert set(STANDARD_NEXT_STATE) == {a.value for a in Action}


@pytest.mark.parametrize("action", list(Action))
def test_action_next_state(action: Action) -> None:
    expected = STANDARD_NEXT_STATE[action.value]
    spec = action.spec
    if "|" in expected:
        first, second = (State(int(n)) for n in expected.split("|"))
        assert action.next_state is None
        assert action.is_conditional
        assert action.resolve(True).next_state is first
        assert action.resolve(False).next_state is second
    else:
        assert action.next_state is State(int(expected))
        assert spec.next_state is State(int(expected))


def test_transition_carries_the_actions_next_state() -> None:
    for (state, event), cell in TABLE.items():
        if cell is not None:
            assert cell.next_state is cell.action.next_state, (state, event)


def test_empty_cell_raises_local_protocol_error() -> None:
    with pytest.raises(LocalProtocolError, match=r"Evt11 .* Sta3"):
        transition(State.STA3, Event.EVT11)
    with pytest.raises(LocalProtocolError):
        transition(State.STA1, Event.EVT10)  # data before any connection
    with pytest.raises(LocalProtocolError):
        transition(State.STA4, Event.EVT19)  # Evt19 is not defined in Sta4
    with pytest.raises(LocalProtocolError):
        transition(State.STA6, Event.EVT18)  # ARTIM does not run in Sta6


def test_transition_returns_the_cell() -> None:
    assert transition(State.STA6, Event.EVT10) == Transition(Action.DT_2, State.STA6)
    assert transition(State.STA2, Event.EVT6) == Transition(Action.AE_6, None)
    assert transition(State.STA7, Event.EVT12) == Transition(Action.AR_8, None)


def test_peer_events_always_land_on_a_defined_cell_when_connected() -> None:
    # Whatever the peer sends, there is an action; empty cells are local mistakes.
    for state, event in itertools.product(CONNECTED_STATES, PEER_EVENTS):
        assert TABLE[(state, event)] is not None, (state, event)
    for state in (State.STA1, State.STA4):
        for event in PEER_EVENTS - {Event.EVT17}:
            assert TABLE[(state, event)] is None


def test_descriptions() -> None:
    assert State.STA6.description == "Association established and ready for data transfer"
    assert Event.EVT19.description == "Unrecognized or invalid PDU received"
    assert all(s.description for s in State)
    assert all(e.description for e in Event)
    assert all(a.description for a in Action)
    assert State.STA10.label == "Sta10" and Event.EVT3.label == "Evt3"


@pytest.mark.parametrize(
    ("pdu_type", "event"),
    [
        (0x01, Event.EVT6),
        (0x02, Event.EVT3),
        (0x03, Event.EVT4),
        (0x04, Event.EVT10),
        (0x05, Event.EVT12),
        (0x06, Event.EVT13),
        (0x07, Event.EVT16),
        (0x08, Event.EVT19),
        (0x00, Event.EVT19),
    ],
)
def test_event_for_pdu_type(pdu_type: int, event: Event) -> None:
    assert Event.for_pdu_type(pdu_type) is event


# -- the action data the executor dispatches on --------------------------------


def _actions_where(predicate: Callable[[ActionSpec], bool]) -> set[str]:
    return {a.value for a in Action if predicate(a.spec)}


def test_artim_start_and_stop() -> None:
    # PS3.8 §9.1.5 / Tables 9-6..9-9: who starts and who stops ARTIM.
    assert _actions_where(lambda s: s.starts_artim) == {
        "AE-5", "AE-8", "AR-4", "AA-1", "AA-8",
    }  # fmt: skip
    assert _actions_where(lambda s: s.stops_artim) == {"AE-6", "AR-5", "AA-2", "AA-5"}
    # AE-6 stops ARTIM, and restarts it when it rejects.
    assert Action.AE_6.resolve(False).artim is Artim.START


def test_every_way_into_sta13_starts_artim() -> None:
    # Sta13 waits for the peer to close; ARTIM bounds the wait.
    for (state, event), cell in TABLE.items():
        if cell is None or state is State.STA13:
            continue
        for condition in (True, False):
            spec = cell.action.resolve(condition)
            if spec.next_state is State.STA13:
                assert spec.starts_artim, (state, event, cell.action)


def test_every_way_into_sta1_leaves_the_transport_closed() -> None:
    for (state, event), cell in TABLE.items():
        if cell is None or state is State.STA1:
            continue
        for condition in (True, False):
            spec = cell.action.resolve(condition)
            if spec.next_state is State.STA1:
                assert spec.closes_transport or event is Event.EVT17, (state, event)


def test_pdus_sent() -> None:
    sends = {a.value: a.spec.sends for a in Action if a.spec.sends is not None}
    assert sends == {
        "AE-2": PduType.A_ASSOCIATE_RQ,
        "AE-7": PduType.A_ASSOCIATE_AC,
        "AE-8": PduType.A_ASSOCIATE_RJ,
        "DT-1": PduType.P_DATA_TF,
        "AR-1": PduType.A_RELEASE_RQ,
        "AR-4": PduType.A_RELEASE_RP,
        "AR-7": PduType.P_DATA_TF,
        "AR-9": PduType.A_RELEASE_RP,
        "AA-1": PduType.A_ABORT,
        "AA-7": PduType.A_ABORT,
        "AA-8": PduType.A_ABORT,
    }
    assert Action.AE_6.resolve(False).sends is PduType.A_ASSOCIATE_RJ
    assert Action.AA_1.spec.abort_source == 0  # service user
    assert Action.AA_8.spec.abort_source == 2  # service provider


def test_indications() -> None:
    got = {a.value: a.spec.indicates for a in Action if a.spec.indicates is not None}
    assert got == {
        "AE-3": Indication.A_ASSOCIATE_CONFIRM_ACCEPT,
        "AE-4": Indication.A_ASSOCIATE_CONFIRM_REJECT,
        "AE-6": Indication.A_ASSOCIATE_INDICATION,
        "DT-2": Indication.P_DATA_INDICATION,
        "AR-2": Indication.A_RELEASE_INDICATION,
        "AR-3": Indication.A_RELEASE_CONFIRM,
        "AR-6": Indication.P_DATA_INDICATION,
        "AR-8": Indication.A_RELEASE_INDICATION,
        "AR-10": Indication.A_RELEASE_CONFIRM,
        "AA-3": Indication.A_ABORT_INDICATION,
        "AA-4": Indication.A_P_ABORT_INDICATION,
        "AA-8": Indication.A_P_ABORT_INDICATION,
    }
    assert Action.AA_3.resolve(False).indicates is Indication.A_P_ABORT_INDICATION
    assert Action.AE_6.resolve(False).indicates is None  # the user never hears of it
    assert Action.AR_8.resolve(False).indicates is Indication.A_RELEASE_INDICATION


def test_transport_operations() -> None:
    got = {a.value: a.spec.transport for a in Action if a.spec.transport is not None}
    assert got == {
        "AE-1": TransportOp.CONNECT,
        "AE-4": TransportOp.CLOSE,
        "AE-5": TransportOp.ACCEPT,
        "AR-3": TransportOp.CLOSE,
        "AA-2": TransportOp.CLOSE,
        "AA-3": TransportOp.CLOSE,
    }
    assert Action.AA_3.resolve(False).closes_transport


def test_unconditional_actions_ignore_the_condition() -> None:
    for action in Action:
        if not action.is_conditional:
            assert action.resolve(False) is action.resolve(True) is ACTION_SPECS[action]
    assert {a.value for a in Action if a.is_conditional} == {"AE-6", "AR-8", "AA-3"}


# -- paths through the machine -------------------------------------------------


def walk(start: State, steps: list[tuple[Event, bool]]) -> list[tuple[str, State]]:
    """Run events through the table; each step gives the condition to resolve with."""
    state = start
    trace = []
    for event, condition in steps:
        cell = transition(state, event)
        state = cell.action.resolve(condition).next_state
        trace.append((cell.action.value, state))
    return trace


E, S = Event, State


def test_requestor_happy_path() -> None:
    trace = walk(
        S.STA1,
        [(E.EVT1, True), (E.EVT2, True), (E.EVT3, True), (E.EVT9, True), (E.EVT10, True),
         (E.EVT11, True), (E.EVT10, True), (E.EVT13, True)],
    )  # fmt: skip
    assert trace == [
        ("AE-1", S.STA4), ("AE-2", S.STA5), ("AE-3", S.STA6), ("DT-1", S.STA6),
        ("DT-2", S.STA6), ("AR-1", S.STA7), ("AR-6", S.STA7), ("AR-3", S.STA1),
    ]  # fmt: skip


def test_acceptor_happy_path() -> None:
    trace = walk(
        S.STA1,
        [(E.EVT5, True), (E.EVT6, True), (E.EVT7, True), (E.EVT10, True), (E.EVT12, True),
         (E.EVT9, True), (E.EVT14, True), (E.EVT17, True)],
    )  # fmt: skip
    assert trace == [
        ("AE-5", S.STA2), ("AE-6", S.STA3), ("AE-7", S.STA6), ("DT-2", S.STA6),
        ("AR-2", S.STA8), ("AR-7", S.STA8), ("AR-4", S.STA13), ("AR-5", S.STA1),
    ]  # fmt: skip


def test_acceptor_rejects() -> None:
    # By the service user (Evt8) and by the service provider inside AE-6.
    by_user = walk(S.STA2, [(E.EVT6, True), (E.EVT8, True), (E.EVT18, True)])
    assert by_user == [("AE-6", S.STA3), ("AE-8", S.STA13), ("AA-2", S.STA1)]
    by_provider = walk(S.STA2, [(E.EVT6, False), (E.EVT17, True)])
    assert by_provider == [("AE-6", S.STA13), ("AR-5", S.STA1)]


def test_requestor_is_rejected() -> None:
    assert walk(S.STA5, [(E.EVT4, True)]) == [("AE-4", S.STA1)]


def test_release_collision_requestor_side() -> None:
    # We sent A-RELEASE-RQ (Sta7), the peer's A-RELEASE-RQ crosses it.
    trace = walk(S.STA6, [(E.EVT11, True), (E.EVT12, True), (E.EVT14, True), (E.EVT13, True)])
    assert trace == [
        ("AR-1", S.STA7),
        ("AR-8", S.STA9),  # requestor: awaiting our local release response
        ("AR-9", S.STA11),  # send A-RELEASE-RP
        ("AR-3", S.STA1),  # the peer's A-RELEASE-RP: confirm and close
    ]


def test_release_collision_acceptor_side() -> None:
    trace = walk(
        S.STA6, [(E.EVT11, True), (E.EVT12, False), (E.EVT13, True), (E.EVT14, True),
                 (E.EVT17, True)],
    )  # fmt: skip
    assert trace == [
        ("AR-1", S.STA7),
        ("AR-8", S.STA10),  # acceptor: awaiting the requestor's A-RELEASE-RP
        ("AR-10", S.STA12),  # confirm; now our own release response is due
        ("AR-4", S.STA13),  # send A-RELEASE-RP, start ARTIM
        ("AR-5", S.STA1),  # the requestor closed the connection
    ]


@pytest.mark.parametrize("state", [S.STA9, S.STA10, S.STA11, S.STA12])
def test_collision_states_abort_on_unexpected_pdus(state: State) -> None:
    for event in (E.EVT3, E.EVT4, E.EVT6, E.EVT10, E.EVT12, E.EVT19):
        assert transition(state, event).action is Action.AA_8
    assert transition(state, E.EVT15).action is Action.AA_1
    assert transition(state, E.EVT16).action is Action.AA_3
    assert transition(state, E.EVT17).action is Action.AA_4


def test_aborts() -> None:
    assert walk(S.STA6, [(E.EVT15, True), (E.EVT17, True)]) == [
        ("AA-1", S.STA13),
        ("AR-5", S.STA1),
    ]
    assert walk(S.STA6, [(E.EVT16, False)]) == [("AA-3", S.STA1)]
    assert walk(S.STA6, [(E.EVT19, True), (E.EVT18, True)]) == [
        ("AA-8", S.STA13),
        ("AA-2", S.STA1),
    ]
    assert walk(S.STA4, [(E.EVT15, True)]) == [("AA-2", S.STA1)]
    # In Sta13 stray PDUs are ignored or answered with an abort; we stay there.
    assert walk(S.STA13, [(E.EVT10, True), (E.EVT6, True)]) == [
        ("AA-6", S.STA13),
        ("AA-7", S.STA13),
    ]


def test_render_markdown() -> None:
    text = render_markdown()
    lines = text.splitlines()
    header = "| Event | " + " | ".join(f"Sta{n}" for n in range(1, 14)) + " |"
    assert header in lines
    rows = [line for line in lines if line.startswith("| Evt")]
    assert len(rows) == 19
    # each row has 13 state cells
    assert all(row.count("|") == 15 for row in rows)
    assert "| Evt7 A-ASSOCIATE response primitive (accept) |  |  | AE-7 |" in text
    for action in Action:
        assert f"| {action.value} | " in text
    assert "| AE-6 | " in text and "Sta3 or Sta13 |" in text
    assert "Sta9 or Sta10 |" in text
