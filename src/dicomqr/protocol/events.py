"""What the association core reports to its driver (``Association.next_event``).

Small frozen dataclasses; one per PS3.8 indication or confirmation primitive.
"""

from __future__ import annotations

from dataclasses import dataclass

from .pdu import PDV, AAssociateAC, AAssociateRJ, AAssociateRQ


class _NeedData:
    """Sentinel: the core needs more bytes before it can report anything."""

    _instance: _NeedData | None = None

    def __new__(cls) -> _NeedData:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA = _NeedData()


@dataclass(frozen=True, slots=True)
class AssociationRequested:
    """A-ASSOCIATE indication (acceptor): answer with ``accept`` or ``reject``."""

    request: AAssociateRQ


@dataclass(frozen=True, slots=True)
class AssociationAccepted:
    """A-ASSOCIATE confirmation, accepted (requestor)."""

    accept: AAssociateAC


@dataclass(frozen=True, slots=True)
class AssociationRejected:
    """A-ASSOCIATE confirmation, rejected (requestor)."""

    reject: AAssociateRJ


@dataclass(frozen=True, slots=True)
class DataReceived:
    """P-DATA indication: the PDVs of one P-DATA-TF PDU."""

    pdvs: tuple[PDV, ...]


@dataclass(frozen=True, slots=True)
class ReleaseRequested:
    """A-RELEASE indication: the peer asks to release; answer ``release_response``.

    ``collision`` is True when both sides asked at once (PS3.8 §9.2.1, AR-8).
    """

    collision: bool = False


@dataclass(frozen=True, slots=True)
class ReleaseConfirmed:
    """A-RELEASE confirmation: our release request was answered."""


@dataclass(frozen=True, slots=True)
class Aborted:
    """A-ABORT or A-P-ABORT indication.

    ``source``/``reason`` are the A-ABORT PDU fields (PS3.8 Table 9-26) when
    the peer sent one; ``local`` is True when this side's provider aborted
    (an invalid PDU, a timer) and ``message`` says why.
    """

    source: int
    reason: int
    local: bool = False
    message: str = ""


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The transport connection is (or must now be) closed; nothing follows."""

    message: str = ""


Event = (
    AssociationRequested
    | AssociationAccepted
    | AssociationRejected
    | DataReceived
    | ReleaseRequested
    | ReleaseConfirmed
    | Aborted
    | ConnectionClosed
)
