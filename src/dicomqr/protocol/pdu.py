"""The seven upper-layer PDUs of PS3.8 §9.3 as frozen dataclasses.

``encode(pdu) -> bytes`` and ``decode(buffer) -> PDU`` convert between a PDU
object and its complete wire form (6-byte header included).  Decoding raises
only :class:`~dicomqr.protocol.errors.RemoteProtocolError`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .items import (
    APPLICATION_CONTEXT_NAME,
    PresentationContextAC,
    PresentationContextRQ,
    UserInformation,
)

# PDU types (PS3.8 Table 9-11 etc.)
PDU_A_ASSOCIATE_RQ = 0x01
PDU_A_ASSOCIATE_AC = 0x02
PDU_A_ASSOCIATE_RJ = 0x03
PDU_P_DATA_TF = 0x04
PDU_A_RELEASE_RQ = 0x05
PDU_A_RELEASE_RP = 0x06
PDU_A_ABORT = 0x07


@dataclass(frozen=True, slots=True, kw_only=True)
class AAssociateRQ:
    called_ae_title: str
    calling_ae_title: str
    presentation_contexts: tuple[PresentationContextRQ, ...]
    user_information: UserInformation
    application_context: str = APPLICATION_CONTEXT_NAME
    protocol_version: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class AAssociateAC:
    """The AE title fields are reserved: sent back as received, never tested."""

    called_ae_title: str
    calling_ae_title: str
    presentation_contexts: tuple[PresentationContextAC, ...]
    user_information: UserInformation
    application_context: str = APPLICATION_CONTEXT_NAME
    protocol_version: int = 1


# A-ASSOCIATE-RJ result / source / reason (PS3.8 Table 9-21)
RJ_RESULT_PERMANENT = 1
RJ_RESULT_TRANSIENT = 2
RJ_SOURCE_USER = 1
RJ_SOURCE_ACSE = 2
RJ_SOURCE_PRESENTATION = 3
# source 1 (service user)
RJ_REASON_NO_REASON = 1
RJ_REASON_APP_CONTEXT_NOT_SUPPORTED = 2
RJ_REASON_CALLING_AE_NOT_RECOGNIZED = 3
RJ_REASON_CALLED_AE_NOT_RECOGNIZED = 7
# source 2 (ACSE related)
RJ_REASON_PROTOCOL_VERSION_NOT_SUPPORTED = 2
# source 3 (presentation related)
RJ_REASON_TEMPORARY_CONGESTION = 1
RJ_REASON_LOCAL_LIMIT_EXCEEDED = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class AAssociateRJ:
    result: int
    source: int
    reason: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PDV:
    """One presentation data value item (PS3.8 §9.3.5.1, Annex E.2).

    ``data`` is the message fragment (command or dataset bytes).
    """

    context_id: int
    is_command: bool
    is_last: bool
    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class PDataTF:
    pdvs: tuple[PDV, ...]


@dataclass(frozen=True, slots=True)
class AReleaseRQ:
    pass


@dataclass(frozen=True, slots=True)
class AReleaseRP:
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class AAbort:
    source: int = 0  # 0 service user, 2 service provider (PS3.8 Table 9-26)
    reason: int = 0


PDU = AAssociateRQ | AAssociateAC | AAssociateRJ | PDataTF | AReleaseRQ | AReleaseRP | AAbort
