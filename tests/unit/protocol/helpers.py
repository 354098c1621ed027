"""Test helpers for the association core: a fake clock and two joined cores.

:class:`Pair` plays the part of two drivers and the network between them,
after h11's ``tests/helpers.ConnectionPair``: it moves each core's
``data_to_send()`` into the other core's ``receive_data()`` and closes a
side's "transport" (the peer then receives ``b""``, Evt17) as soon as that
core's ``wants_close`` says so, as ``dicomqr.transport`` does.  No sockets.
"""

from __future__ import annotations

import dataclasses

from dicomqr.protocol.association import Association, Role
from dicomqr.protocol.events import Aborted, ConnectionClosed, Event, _NeedData
from dicomqr.protocol.fsm import State

__all__ = ["FakeClock", "Pair", "drain", "normalise", "sent_bytes"]


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


def normalise(event: Event) -> Event:
    """``event`` without its free-text message, for comparisons."""
    if isinstance(event, Aborted | ConnectionClosed):
        return dataclasses.replace(event, message="")
    return event


def drain(core: Association) -> list[Event]:
    """Every event the core has to report now, until ``NEED_DATA``."""
    events: list[Event] = []
    while not isinstance(event := core.next_event(), _NeedData):
        events.append(event)
    return events


def sent_bytes(core: Association) -> bytes:
    """What the core wants written, joined into one ``bytes``."""
    return b"".join(core.data_to_send())


class Pair:
    """A requestor and an acceptor core joined by an in-memory "network".

    ``chunk`` > 0 delivers the bytes in pieces of that size, draining the
    receiver's events after each piece (``chunk=1`` is byte-at-a-time).
    Every event each side reported is also kept in ``history``.
    """

    def __init__(self, *, artim_timeout: float = 30.0, chunk: int = 0) -> None:
        self.clock = FakeClock()
        self.requestor = Association(Role.REQUESTOR, clock=self.clock, artim_timeout=artim_timeout)
        self.acceptor = Association(Role.ACCEPTOR, clock=self.clock, artim_timeout=artim_timeout)
        self.chunk = chunk
        self.history: dict[Role, list[Event]] = {Role.REQUESTOR: [], Role.ACCEPTOR: []}
        # Whether each side's transport is closed (by that side).
        self.closed: dict[Role, bool] = {Role.REQUESTOR: False, Role.ACCEPTOR: False}
        self.wire: dict[Role, bytearray] = {Role.REQUESTOR: bytearray(), Role.ACCEPTOR: bytearray()}

    def core(self, role: Role) -> Association:
        return self.requestor if role is Role.REQUESTOR else self.acceptor

    def connect(self) -> None:
        """Both transports report the TCP connection (Evt2 and Evt5)."""
        self.requestor.connection_made()
        self.acceptor.connection_made()

    def _deliver(self, sender: Role, data: bytes, out: dict[Role, list[Event]]) -> None:
        receiver_role = Role.ACCEPTOR if sender is Role.REQUESTOR else Role.REQUESTOR
        receiver = self.core(receiver_role)
        if self.closed[receiver_role]:
            return  # written to a connection the receiver already closed
        if self.chunk and data:
            for start in range(0, len(data), self.chunk):
                receiver.receive_data(data[start : start + self.chunk])
                out[receiver_role] += drain(receiver)
        else:
            receiver.receive_data(data)

    def pump(self) -> dict[Role, list[Event]]:
        """Shuttle bytes and closes both ways until nothing moves.

        Returns the events each side reported meanwhile, in order.
        """
        out: dict[Role, list[Event]] = {Role.REQUESTOR: [], Role.ACCEPTOR: []}
        moved = True
        while moved:
            moved = False
            for role in (Role.REQUESTOR, Role.ACCEPTOR):
                core = self.core(role)
                events = drain(core)
                out[role] += events
                moved = moved or bool(events)
                data = sent_bytes(core)
                if data:
                    assert not self.closed[role], f"{role.value} wrote after closing"
                    self.wire[role] += data
                    self._deliver(role, data, out)
                    moved = True
                if core.wants_close and not self.closed[role]:
                    self.close(role)
                    moved = True
        for role, events in out.items():
            self.history[role] += events
        return out

    def close(self, role: Role) -> None:
        """``role``'s driver closes its transport connection.

        Both cores then get the transport's closed indication (Evt17), as
        ``dicomqr.transport`` feeds ``b""`` from ``connection_lost`` on
        either side; a core already in Sta1 ignores it.
        """
        if self.closed[role]:
            return
        self.closed[role] = True
        other = Role.ACCEPTOR if role is Role.REQUESTOR else Role.REQUESTOR
        self.core(role).receive_data(b"")
        if not self.closed[other]:
            self.core(other).receive_data(b"")

    def states(self) -> tuple[State, State]:
        return self.requestor.state, self.acceptor.state
