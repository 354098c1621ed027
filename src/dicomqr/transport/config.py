"""Limits and timeouts of the transport, as frozen dataclasses with safe defaults."""

from __future__ import annotations

from dataclasses import dataclass

#: What we announce as our Maximum Length (PS3.8 D.1): the largest P-DATA-TF
#: body we accept.  Large PDUs cost fewer headers and system calls.
DEFAULT_MAX_PDU = 1_048_576
IMPLEMENTATION_CLASS_UID = "1.2.826.0.1.3680043.10.1373.1"
IMPLEMENTATION_VERSION_NAME = "DICOMQR_010"


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeouts:
    """Seconds; ``None`` disables a timer.

    connect: TCP connect (and TLS handshake) of a client.
    artim:   the PS3.8 ARTIM timer (waiting for A-ASSOCIATE-RQ, for the peer
             to close after a release or abort, ...).
    acse:    a requestor waiting for the A-ASSOCIATE-AC/RJ or A-RELEASE-RP.
    dimse:   an SCU waiting for the next response to its request.
    idle:    no bytes received on an established association.
    """

    connect: float | None = 30.0
    artim: float = 30.0
    acse: float | None = 30.0
    dimse: float | None = 60.0
    idle: float | None = 300.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """max_pdu:          largest P-DATA-TF we accept (announced; 0 = unlimited).
    max_associations: concurrent associations a server holds; more are
                      rejected (transient, local limit exceeded).
    max_connections:  TCP connections held at once, associated or not; one
                      more is closed at once (a peer opening sockets without
                      ever associating cannot exhaust the server).
    max_command_size: a command set larger than this is a protocol error.
    max_dataset_in_memory: a dataset collected in memory (C-FIND identifier,
                      ...) larger than this aborts the association.
    """

    max_pdu: int = DEFAULT_MAX_PDU
    max_associations: int = 200
    max_connections: int = 400
    max_command_size: int = 65_536
    max_dataset_in_memory: int = 64 * 1024 * 1024
