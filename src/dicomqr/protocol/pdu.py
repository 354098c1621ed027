"""The seven upper-layer PDUs of PS3.8 §9.3 as frozen dataclasses.

``encode(pdu) -> bytes`` and ``decode(buffer) -> PDU`` convert between a PDU
object and its complete wire form (6-byte header included).  Decoding raises
only :class:`~dicomqr.protocol.errors.RemoteProtocolError`; constructing a
PDU with values the standard forbids raises
:class:`~dicomqr.protocol.errors.LocalProtocolError`.

Every PDU starts with PDU-type (1), reserved (1) and PDU-length (4, big
endian: the bytes that follow).  Reserved fields are sent as zero and never
tested.  The protocol version of an A-ASSOCIATE-RQ/AC is exposed as
received: the association layer decides what to answer to one it does not
support (PS3.8 Table 9-21, source 2 reason 2).  See :mod:`._itemcodec`
for the A-ABORT reasons chosen for malformed variable items.

P-DATA-TF is the hot path: decoding is one loop of ``struct.unpack_from``
over a ``memoryview`` that copies each PDV's data once; encoding is one
``b"".join``.  The message control header bits 2-7 (PS3.8 Annex E.2) are
ignored when received.  A PDV's context ID is not checked here: the
association layer must check it against the accepted contexts anyway.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._checks import (
    build,
    check_ae_title,
    check_bool,
    check_bytes,
    check_context_id,
    check_reserved_ae,
    check_tuple,
    check_uid,
    check_uint,
    fail,
    set_field,
)
from ._itemcodec import (
    INTERNAL_ERRORS,
    Buffer,
    as_view,
    bad,
    internal,
    parse_ac_items,
    parse_rq_items,
)
from ._itemencode import (
    encode_application_context,
    encode_presentation_context_ac,
    encode_presentation_context_rq,
    encode_user_information,
)
from .errors import REASON_UNRECOGNIZED_PDU, LocalProtocolError
from .items import (
    APPLICATION_CONTEXT_NAME,
    PresentationContextAC,
    PresentationContextRQ,
    UserIdentityAC,
    UserIdentityRQ,
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

PDU_HEADER = struct.Struct(">BxL")  # PDU-type, reserved, PDU-length
# protocol-version, reserved (2), called AE (16), calling AE (16), reserved (32)
_ASSOCIATE_FIXED = struct.Struct(">H2x16s16s32x")
_ASSOCIATE_HEADER_SIZE = PDU_HEADER.size + _ASSOCIATE_FIXED.size  # 74
_PDV_HEADER = struct.Struct(">LBB")  # item-length, context ID, message control header


def _check_associate(
    pdu: AAssociateRQ | AAssociateAC,
    context_type: type[PresentationContextRQ] | type[PresentationContextAC],
) -> None:
    check_uint("protocol_version", pdu.protocol_version, 0xFFFF)
    check_uid("application_context", pdu.application_context)
    contexts: tuple[PresentationContextRQ | PresentationContextAC, ...] = check_tuple(
        "presentation_contexts", pdu.presentation_contexts, context_type
    )
    if not contexts:
        raise fail("at least one presentation context is required (PS3.8 §9.3.2)")
    if len({context.context_id for context in contexts}) != len(contexts):
        raise fail("presentation context IDs must be unique")
    set_field(pdu, "presentation_contexts", contexts)
    info = pdu.user_information
    if not isinstance(info, UserInformation):
        raise fail("user_information must be a UserInformation")
    if info.maximum_length is None:
        raise fail("the maximum length sub-item is mandatory (PS3.8 D.1)")


@dataclass(frozen=True, slots=True, kw_only=True)
class AAssociateRQ:
    """A-ASSOCIATE-RQ PDU (type 01H, PS3.8 §9.3.2, Table 9-11).

    AE titles are given without padding (leading/trailing spaces are not
    significant and are removed).  ``user_information`` must carry a
    maximum length and no user identity AC sub-item.
    """

    called_ae_title: str
    calling_ae_title: str
    presentation_contexts: tuple[PresentationContextRQ, ...]
    user_information: UserInformation
    application_context: str = APPLICATION_CONTEXT_NAME
    protocol_version: int = 1

    def __post_init__(self) -> None:
        set_field(self, "called_ae_title", check_ae_title("called_ae_title", self.called_ae_title))
        calling = check_ae_title("calling_ae_title", self.calling_ae_title)
        set_field(self, "calling_ae_title", calling)
        _check_associate(self, PresentationContextRQ)
        if isinstance(self.user_information.user_identity, UserIdentityAC):
            raise fail("an A-ASSOCIATE-RQ carries a UserIdentityRQ, not a UserIdentityAC")


@dataclass(frozen=True, slots=True, kw_only=True)
class AAssociateAC:
    """A-ASSOCIATE-AC PDU (type 02H, PS3.8 §9.3.3, Table 9-17).

    The AE title fields are reserved: sent back as received, never tested.
    ``user_information`` must carry a maximum length, and neither a user
    identity RQ nor a common extended negotiation sub-item.
    """

    called_ae_title: str
    calling_ae_title: str
    presentation_contexts: tuple[PresentationContextAC, ...]
    user_information: UserInformation
    application_context: str = APPLICATION_CONTEXT_NAME
    protocol_version: int = 1

    def __post_init__(self) -> None:
        set_field(
            self, "called_ae_title", check_reserved_ae("called_ae_title", self.called_ae_title)
        )
        calling = check_reserved_ae("calling_ae_title", self.calling_ae_title)
        set_field(self, "calling_ae_title", calling)
        _check_associate(self, PresentationContextAC)
        info = self.user_information
        if isinstance(info.user_identity, UserIdentityRQ):
            raise fail("an A-ASSOCIATE-AC carries a UserIdentityAC, not a UserIdentityRQ")
        if info.common_extended_negotiations:
            raise fail("common extended negotiation is only sent in an A-ASSOCIATE-RQ")


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

# The non-reserved reasons of each source (PS3.8 Table 9-21).
_RJ_REASONS = {
    RJ_SOURCE_USER: frozenset({1, 2, 3, 7}),
    RJ_SOURCE_ACSE: frozenset({1, 2}),
    RJ_SOURCE_PRESENTATION: frozenset({1, 2}),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class AAssociateRJ:
    """A-ASSOCIATE-RJ PDU (type 03H, PS3.8 §9.3.4, Table 9-21).

    Construction accepts only the non-reserved combinations of the table;
    decoding exposes whatever the peer sent.
    """

    result: int
    source: int
    reason: int

    def __post_init__(self) -> None:
        if self.result not in (RJ_RESULT_PERMANENT, RJ_RESULT_TRANSIENT):
            raise fail(f"A-ASSOCIATE-RJ result must be 1 or 2, not {self.result!r}")
        reasons = _RJ_REASONS.get(self.source) if type(self.source) is int else None
        if reasons is None:
            raise fail(f"A-ASSOCIATE-RJ source must be 1, 2 or 3, not {self.source!r}")
        if type(self.reason) is not int or self.reason not in reasons:
            raise fail(
                f"A-ASSOCIATE-RJ reason {self.reason!r} is reserved for source {self.source}"
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class PDV:
    """One presentation data value item (PS3.8 §9.3.5.1, Annex E.2).

    ``data`` is the message fragment (command or dataset bytes).  A
    ``bytearray`` or ``memoryview`` is accepted and encoded without an
    extra copy (such a PDV is then not hashable).
    """

    context_id: int
    is_command: bool
    is_last: bool
    data: bytes

    def __post_init__(self) -> None:
        check_context_id("context_id", self.context_id)
        check_bool("is_command", self.is_command)
        check_bool("is_last", self.is_last)
        check_bytes("data", self.data, 0xFFFFFFFF - 2)


@dataclass(frozen=True, slots=True, kw_only=True)
class PDataTF:
    """P-DATA-TF PDU (type 04H, PS3.8 §9.3.5, Table 9-22): one or more PDVs."""

    pdvs: tuple[PDV, ...]

    def __post_init__(self) -> None:
        pdvs = check_tuple("pdvs", self.pdvs, PDV)
        if not pdvs:
            raise fail("a P-DATA-TF carries at least one PDV")
        set_field(self, "pdvs", pdvs)


@dataclass(frozen=True, slots=True)
class AReleaseRQ:
    """A-RELEASE-RQ PDU (type 05H, PS3.8 §9.3.6, Table 9-24)."""


@dataclass(frozen=True, slots=True)
class AReleaseRP:
    """A-RELEASE-RP PDU (type 06H, PS3.8 §9.3.7, Table 9-25)."""


_ABORT_REASONS = {0: frozenset({0}), 2: frozenset({0, 1, 2, 4, 5, 6})}


@dataclass(frozen=True, slots=True, kw_only=True)
class AAbort:
    """A-ABORT PDU (type 07H, PS3.8 §9.3.8, Table 9-26).

    ``source`` 0 is the service user (then ``reason`` is not significant and
    sent as 0), 2 the service provider with one of the ``REASON_*`` values
    of :mod:`.errors`.
    """

    source: int = 0  # 0 service user, 2 service provider (PS3.8 Table 9-26)
    reason: int = 0

    def __post_init__(self) -> None:
        reasons = _ABORT_REASONS.get(self.source) if type(self.source) is int else None
        if reasons is None:
            raise fail(f"A-ABORT source must be 0 or 2, not {self.source!r}")
        if type(self.reason) is not int or self.reason not in reasons:
            raise fail(f"A-ABORT reason {self.reason!r} is not allowed with source {self.source}")


PDU = AAssociateRQ | AAssociateAC | AAssociateRJ | PDataTF | AReleaseRQ | AReleaseRP | AAbort

# ----------------------------------------------------------------- encoding


def _pad_ae(title: str) -> bytes:
    """16 bytes, space padded (PS3.8 Table 9-11)."""
    return title.encode("latin-1").ljust(16, b" ")


def _encode_associate(
    pdu_type: int, pdu: AAssociateRQ | AAssociateAC, contexts: list[bytes]
) -> bytes:
    fixed = _ASSOCIATE_FIXED.pack(
        pdu.protocol_version, _pad_ae(pdu.called_ae_title), _pad_ae(pdu.calling_ae_title)
    )
    application_context = encode_application_context(pdu.application_context)
    body = b"".join(
        [fixed, application_context, *contexts, encode_user_information(pdu.user_information)]
    )
    return PDU_HEADER.pack(pdu_type, len(body)) + body


def _encode_rq(pdu: AAssociateRQ) -> bytes:
    contexts = [encode_presentation_context_rq(c) for c in pdu.presentation_contexts]
    return _encode_associate(PDU_A_ASSOCIATE_RQ, pdu, contexts)


def _encode_ac(pdu: AAssociateAC) -> bytes:
    contexts = [encode_presentation_context_ac(c) for c in pdu.presentation_contexts]
    return _encode_associate(PDU_A_ASSOCIATE_AC, pdu, contexts)


def _encode_rj(pdu: AAssociateRJ) -> bytes:
    return PDU_HEADER.pack(PDU_A_ASSOCIATE_RJ, 4) + bytes((0, pdu.result, pdu.source, pdu.reason))


def _encode_p_data(pdu: PDataTF) -> bytes:
    pack = _PDV_HEADER.pack
    parts: list[bytes] = [b""]
    total = 0
    for pdv in pdu.pdvs:
        size = len(pdv.data)
        parts.append(pack(size + 2, pdv.context_id, pdv.is_command | pdv.is_last << 1))
        parts.append(pdv.data)
        total += size + 6
    if total > 0xFFFFFFFF:
        raise LocalProtocolError(f"P-DATA-TF of {total} bytes does not fit a PDU-length")
    parts[0] = PDU_HEADER.pack(PDU_P_DATA_TF, total)
    return b"".join(parts)


_RELEASE_RQ = PDU_HEADER.pack(PDU_A_RELEASE_RQ, 4) + bytes(4)
_RELEASE_RP = PDU_HEADER.pack(PDU_A_RELEASE_RP, 4) + bytes(4)


def _encode_abort(pdu: AAbort) -> bytes:
    return PDU_HEADER.pack(PDU_A_ABORT, 4) + bytes((0, 0, pdu.source, pdu.reason))


# Keyed by the exact class, so each encoder only ever sees its own PDU type.
_ENCODERS: dict[type, Callable[[Any], bytes]] = {
    PDataTF: _encode_p_data,
    AAssociateRQ: _encode_rq,
    AAssociateAC: _encode_ac,
    AAssociateRJ: _encode_rj,
    AReleaseRQ: lambda pdu: _RELEASE_RQ,
    AReleaseRP: lambda pdu: _RELEASE_RP,
    AAbort: _encode_abort,
}


def encode(pdu: PDU) -> bytes:
    """The complete wire form of ``pdu`` (PS3.8 §9.3), header included.

    Raises :class:`LocalProtocolError` if an item would not fit its
    length field.
    """
    encoder = _ENCODERS.get(type(pdu))
    if encoder is None:
        raise LocalProtocolError(f"not a PDU: {type(pdu).__name__}")
    return encoder(pdu)


# ----------------------------------------------------------------- decoding


def _decode_associate_fixed(view: memoryview, start: int, end: int) -> tuple[int, str, str]:
    if end - start < _ASSOCIATE_HEADER_SIZE:
        raise bad(f"A-ASSOCIATE PDU of {end - start} bytes is shorter than its fixed fields")
    version, called, calling = _ASSOCIATE_FIXED.unpack_from(view, start + PDU_HEADER.size)
    return version, called.decode("latin-1").strip(" "), calling.decode("latin-1").strip(" ")


def _decode_rq(view: memoryview, start: int, end: int) -> AAssociateRQ:
    # The AE titles are exposed as received: an unknown or malformed one is
    # answered with an A-ASSOCIATE-RJ by the association layer, not an abort.
    version, called, calling = _decode_associate_fixed(view, start, end)
    name, contexts, info = parse_rq_items(view, start + _ASSOCIATE_HEADER_SIZE, end)
    return build(
        AAssociateRQ,
        called_ae_title=called,
        calling_ae_title=calling,
        presentation_contexts=contexts,
        user_information=info,
        application_context=name,
        protocol_version=version,
    )


def _decode_ac(view: memoryview, start: int, end: int) -> AAssociateAC:
    version, called, calling = _decode_associate_fixed(view, start, end)
    name, contexts, info = parse_ac_items(view, start + _ASSOCIATE_HEADER_SIZE, end)
    return build(
        AAssociateAC,
        called_ae_title=called,
        calling_ae_title=calling,
        presentation_contexts=contexts,
        user_information=info,
        application_context=name,
        protocol_version=version,
    )


def _fixed_four(view: memoryview, start: int, end: int, name: str) -> None:
    if end - start != 10:
        raise bad(f"{name} PDU-length is {end - start - 6}, not 4")


def _decode_rj(view: memoryview, start: int, end: int) -> AAssociateRJ:
    _fixed_four(view, start, end, "A-ASSOCIATE-RJ")
    return build(
        AAssociateRJ, result=view[start + 7], source=view[start + 8], reason=view[start + 9]
    )


def _decode_release_rq(view: memoryview, start: int, end: int) -> AReleaseRQ:
    _fixed_four(view, start, end, "A-RELEASE-RQ")
    return AReleaseRQ()


def _decode_release_rp(view: memoryview, start: int, end: int) -> AReleaseRP:
    _fixed_four(view, start, end, "A-RELEASE-RP")
    return AReleaseRP()


def _decode_abort(view: memoryview, start: int, end: int) -> AAbort:
    _fixed_four(view, start, end, "A-ABORT")
    return build(AAbort, source=view[start + 8], reason=view[start + 9])


_new = object.__new__
_setattr = object.__setattr__


def _decode_p_data(view: memoryview, start: int, end: int) -> PDataTF:
    pos = start + 6
    if pos == end:
        raise bad("P-DATA-TF without presentation data value items")
    unpack = _PDV_HEADER.unpack_from
    pdvs: list[PDV] = []
    while pos < end:
        if end - pos < 6:
            raise bad("truncated presentation data value item")
        length, context_id, control = unpack(view, pos)
        data_start = pos + 6
        pos += 4 + length
        if length < 2 or pos > end:
            raise bad(f"presentation data value item-length {length} is invalid here")
        pdv = _new(PDV)
        _setattr(pdv, "context_id", context_id)
        _setattr(pdv, "is_command", control & 1 == 1)
        _setattr(pdv, "is_last", control & 2 == 2)
        _setattr(pdv, "data", bytes(view[data_start:pos]))
        pdvs.append(pdv)
    pdu = _new(PDataTF)
    _setattr(pdu, "pdvs", tuple(pdvs))
    return pdu


_DECODERS: dict[int, Callable[[memoryview, int, int], PDU]] = {
    PDU_P_DATA_TF: _decode_p_data,
    PDU_A_ASSOCIATE_RQ: _decode_rq,
    PDU_A_ASSOCIATE_AC: _decode_ac,
    PDU_A_ASSOCIATE_RJ: _decode_rj,
    PDU_A_RELEASE_RQ: _decode_release_rq,
    PDU_A_RELEASE_RP: _decode_release_rp,
    PDU_A_ABORT: _decode_abort,
}


def decode_view(view: memoryview, start: int, end: int) -> PDU:
    """Decode the PDU occupying ``view[start:end]`` (internal, used by the reader).

    ``view`` must be a flat byte-format view; no slice of it outlives the
    call, so the caller may release it (and resize its buffer) afterwards.
    """
    try:
        if end - start < 6:
            raise bad("truncated PDU header")
        pdu_type, length = PDU_HEADER.unpack_from(view, start)
        decoder = _DECODERS.get(pdu_type)
        if decoder is None:
            raise bad(f"unrecognized PDU type 0x{pdu_type:02X}", REASON_UNRECOGNIZED_PDU)
        if length != end - start - 6:
            raise bad(f"PDU-length {length} does not match the {end - start - 6} bytes given")
        return decoder(view, start, end)
    except INTERNAL_ERRORS as exc:
        raise internal(exc) from exc


def decode(buf: Buffer) -> PDU:
    """Decode one complete PDU, its 6-byte header included (PS3.8 §9.3).

    Raises :class:`~dicomqr.protocol.errors.RemoteProtocolError` (source 2,
    the A-ABORT reason of PS3.8 Table 9-26) for anything malformed.
    """
    with as_view(buf) as view:
        return decode_view(view, 0, len(view))


__all__ = [
    "PDU",
    "PDU_A_ABORT",
    "PDU_A_ASSOCIATE_AC",
    "PDU_A_ASSOCIATE_RJ",
    "PDU_A_ASSOCIATE_RQ",
    "PDU_A_RELEASE_RP",
    "PDU_A_RELEASE_RQ",
    "PDU_HEADER",
    "PDU_P_DATA_TF",
    "PDV",
    "RJ_REASON_APP_CONTEXT_NOT_SUPPORTED",
    "RJ_REASON_CALLED_AE_NOT_RECOGNIZED",
    "RJ_REASON_CALLING_AE_NOT_RECOGNIZED",
    "RJ_REASON_LOCAL_LIMIT_EXCEEDED",
    "RJ_REASON_NO_REASON",
    "RJ_REASON_PROTOCOL_VERSION_NOT_SUPPORTED",
    "RJ_REASON_TEMPORARY_CONGESTION",
    "RJ_RESULT_PERMANENT",
    "RJ_RESULT_TRANSIENT",
    "RJ_SOURCE_ACSE",
    "RJ_SOURCE_PRESENTATION",
    "RJ_SOURCE_USER",
    "AAbort",
    "AAssociateAC",
    "AAssociateRJ",
    "AAssociateRQ",
    "AReleaseRP",
    "AReleaseRQ",
    "PDataTF",
    "decode",
    "encode",
]
