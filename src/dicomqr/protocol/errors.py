"""Errors of the sans-IO protocol core.

``RemoteProtocolError`` is the only error that ``receive_data`` / the
decoders raise: the peer sent something that breaks PS3.8.  It carries the
A-ABORT (source, reason) that answers it (PS3.8 Table 9-26).
``LocalProtocolError`` is raised when our own caller asks for something the
protocol does not allow (sending data before the association is up, an AE
title longer than 16 characters, ...).
"""

from __future__ import annotations

from ..errors import DicomqrError

# A-ABORT source values (PS3.8 Table 9-26)
ABORT_SOURCE_USER = 0
ABORT_SOURCE_PROVIDER = 2

# A-ABORT reason values when the source is the service provider
REASON_NOT_SPECIFIED = 0
REASON_UNRECOGNIZED_PDU = 1
REASON_UNEXPECTED_PDU = 2
REASON_UNRECOGNIZED_PDU_PARAMETER = 4
REASON_UNEXPECTED_PDU_PARAMETER = 5
REASON_INVALID_PDU_PARAMETER = 6


class ProtocolError(DicomqrError):
    """A violation of PS3.8/PS3.7, by us or by the peer."""


class LocalProtocolError(ProtocolError):
    """Our caller asked for something the protocol forbids."""


class RemoteProtocolError(ProtocolError):
    """The peer sent bytes that break the protocol.

    ``source`` and ``reason`` are the A-ABORT fields to answer with.
    """

    def __init__(
        self,
        message: str,
        *,
        source: int = ABORT_SOURCE_PROVIDER,
        reason: int = REASON_INVALID_PDU_PARAMETER,
    ) -> None:
        super().__init__(message)
        self.source = source
        self.reason = reason
