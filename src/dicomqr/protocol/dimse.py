"""DIMSE-C messages (PS3.7 §9.3) and their command sets (PS3.7 §6.3, Annex E).

One frozen, slotted, keyword-only dataclass per message.  Field names are
the PS3.7 keywords in snake case; the fields of each message, and whether
they are mandatory, come from the tables in :mod:`.commands`.  The
constructors validate what our own caller gives them and raise
:class:`~.errors.LocalProtocolError`.

``encode_command(message) -> bytes`` writes the command set: Implicit VR
Little Endian (PS3.7 §6.3.1), (0000,0000) Command Group Length first, the
other elements in ascending tag order, UI values padded to even length with
NUL and AE/LO values with a space (PS3.5 §6.2).  It is hand-written with
:mod:`struct` because it runs once per message.

``decode_command(data) -> message`` reads a command set in any element
order.  It ignores the value of Command Group Length (and its absence),
skips command elements it does not use, and raises only
:class:`~.errors.RemoteProtocolError` (A-ABORT reason 6, invalid PDU
parameter value) for a truncated or malformed element, an element outside
group 0000, a duplicate element, an unknown Command Field, a missing
mandatory field or a value of the wrong size.  Like the PDU decoders it
builds the objects without the constructor checks: a peer's over-long AE
title or Error Comment is reported, not refused.

Data sets never pass through here: they are opaque bytes in the negotiated
transfer syntax (see :mod:`.pdv`).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, fields
from typing import ClassVar, Final, TypeAlias

from ..uids import VERIFICATION_SOP_CLASS
from .commands import (
    COMMAND_DATA_SET_TYPE,
    COMMAND_FIELD,
    DATASET_PRESENT,
    ELEMENTS,
    MESSAGE_FIELDS,
    MESSAGE_TABLES,
    NO_DATASET,
    PRIORITY,
    VR,
    CommandField,
    Priority,
    message_name,
    tag_name,
)
from .errors import REASON_INVALID_PDU_PARAMETER, LocalProtocolError, RemoteProtocolError

__all__ = [
    "MESSAGE_TYPES",
    "CCancelRQ",
    "CEchoRQ",
    "CEchoRSP",
    "CFindRQ",
    "CFindRSP",
    "CGetRQ",
    "CGetRSP",
    "CMoveRQ",
    "CMoveRSP",
    "CStoreRQ",
    "CStoreRSP",
    "CommandField",
    "Message",
    "Priority",
    "decode_command",
    "encode_command",
]


# --- the messages -------------------------------------------------------------
# Every message has ``has_dataset``: False is Command Data Set Type 0101H,
# True any other value (we send 0001H).  Its default is what the §9.3 table
# prescribes; the services layer, not the codec, decides what a message with
# an unexpected data set means.
#
# Responses carry the status fields of PS3.7 Annex C: Offending Element
# (a tuple of tags, ``0xggggeeee``), Error Comment and Error ID.


@dataclass(frozen=True, slots=True, kw_only=True)
class CEchoRQ:
    """C-ECHO-RQ, PS3.7 §9.3.5.1 Table 9.3-12."""

    command_field: ClassVar[CommandField] = CommandField.C_ECHO_RQ
    message_id: int
    affected_sop_class_uid: str = VERIFICATION_SOP_CLASS
    has_dataset: bool = False

    def __post_init__(self) -> None:
        _validate(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class CEchoRSP:
    """C-ECHO-RSP, PS3.7 §9.3.5.2 Table 9.3-13 and Annex C."""

    command_field: ClassVar[CommandField] = CommandField.C_ECHO_RSP
    message_id_being_responded_to: int
    status: int
    affected_sop_class_uid: str | None = None
    offending_element: tuple[int, ...] = ()
    error_comment: str | None = None
    error_id: int | None = None
    has_dataset: bool = False

    def __post_init__(self) -> None:
        _validate(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class CStoreRQ:
    """C-STORE-RQ, PS3.7 §9.3.1.1 Table 9.3-1.

    The move originator fields are set when the store is a sub-operation of
    a C-MOVE (PS3.7 §9.1.1.1.8, §9.1.1.1.9).
    """

    command_field: ClassVar[CommandField] = CommandField.C_STORE_RQ
    message_id: int
    affected_sop_class_uid: str
    affected_sop_instance_uid: str
    priority: Priority = Priority.MEDIUM
    move_originator_application_entity_title: str | None = None
    move_originator_message_id: int | None = None
    has_dataset: bool = True

    def __post_init__(self) -> None:
        _validate(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class CStoreRSP:
    """C-STORE-RSP, PS3.7 §9.3.1.2 Table 9.3-2 and Annex C."""

    command_field: ClassVar[CommandField] = CommandField.C_STORE_RSP
    message_id_being_responded_to: int
    status: int
    affected_sop_class_uid: str | None = None
    affected_sop_instance_uid: str | None = None
    offending_element: tuple[int, ...] = ()
    error_comment: str | None = None
    error_id: int | None = None
    has_dataset: bool = False

    def __post_init__(self) -> None:
        _validate(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class CFindRQ:
    """C-FIND-RQ, PS3.7 §9.3.2.1 Table 9.3-3; the identifier is the data set."""

    command_field: ClassVar[CommandField] = CommandField.C_FIND_RQ
    message_id: int
    affected_sop_class_uid: str
    priority: Priority = Priority.MEDIUM
    has_dataset: bool = True

    def __post_init__(self) -> None:
        _validate(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class CFindRSP:
    """C-FIND-RSP, PS3.7 §9.3.2.2 Table 9.3-4 and Annex C.

    A pending response carries the matching identifier as its data set.
    """

    command_field: ClassVar[CommandField] = CommandField.C_FIND_RSP
    message_id_being_responded_to: int
    status: int
    affected_sop_class_uid: str | None = None
    offending_element: tuple[int, ...] = ()
    error_comment: str | None = None
    error_id: int | None = None
    has_dataset: bool = False

    def __post_init__(self) -> None:
        _validate(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class CGetRQ:
    """C-GET-RQ, PS3.7 §9.3.3.1 Table 9.3-6; the identifier is the data set."""

    command_field: ClassVar[CommandField] = CommandField.C_GET_RQ
    message_id: int
    affected_sop_class_uid: str
    priority: Priority = Priority.MEDIUM
    has_dataset: bool = True

    def __post_init__(self) -> None:
        _validate(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class CGetRSP:
    """C-GET-RSP, PS3.7 §9.3.3.2 Table 9.3-7 and Annex C.

    The sub-operation counts are conditional on the status (PS3.4 C.4.3.1.3).
    """

    command_field: ClassVar[CommandField] = CommandField.C_GET_RSP
    message_id_being_responded_to: int
    status: int
    affected_sop_class_uid: str | None = None
    offending_element: tuple[int, ...] = ()
    error_comment: str | None = None
    error_id: int | None = None
    number_of_remaining_suboperations: int | None = None
    number_of_completed_suboperations: int | None = None
    number_of_failed_suboperations: int | None = None
    number_of_warning_suboperations: int | None = None
    has_dataset: bool = False

    def __post_init__(self) -> None:
        _validate(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class CMoveRQ:
    """C-MOVE-RQ, PS3.7 §9.3.4.1 Table 9.3-9; the identifier is the data set."""

    command_field: ClassVar[CommandField] = CommandField.C_MOVE_RQ
    message_id: int
    affected_sop_class_uid: str
    move_destination: str
    priority: Priority = Priority.MEDIUM
    has_dataset: bool = True

    def __post_init__(self) -> None:
        _validate(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class CMoveRSP:
    """C-MOVE-RSP, PS3.7 §9.3.4.2 Table 9.3-10 and Annex C."""

    command_field: ClassVar[CommandField] = CommandField.C_MOVE_RSP
    message_id_being_responded_to: int
    status: int
    affected_sop_class_uid: str | None = None
    offending_element: tuple[int, ...] = ()
    error_comment: str | None = None
    error_id: int | None = None
    number_of_remaining_suboperations: int | None = None
    number_of_completed_suboperations: int | None = None
    number_of_failed_suboperations: int | None = None
    number_of_warning_suboperations: int | None = None
    has_dataset: bool = False

    def __post_init__(self) -> None:
        _validate(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class CCancelRQ:
    """C-CANCEL-RQ, PS3.7 §9.3.2.3 Table 9.3-5 (also §9.3.3.3, §9.3.4.3).

    It names the C-FIND, C-GET or C-MOVE request it cancels.
    """

    command_field: ClassVar[CommandField] = CommandField.C_CANCEL_RQ
    message_id_being_responded_to: int
    has_dataset: bool = False

    def __post_init__(self) -> None:
        _validate(self)


Message: TypeAlias = (
    CEchoRQ
    | CEchoRSP
    | CStoreRQ
    | CStoreRSP
    | CFindRQ
    | CFindRSP
    | CGetRQ
    | CGetRSP
    | CMoveRQ
    | CMoveRSP
    | CCancelRQ
)
"""Any DIMSE-C message."""

MESSAGE_TYPES: Final[dict[CommandField, type[Message]]] = {
    cls.command_field: cls
    for cls in (
        CEchoRQ,
        CEchoRSP,
        CStoreRQ,
        CStoreRSP,
        CFindRQ,
        CFindRSP,
        CGetRQ,
        CGetRSP,
        CMoveRQ,
        CMoveRSP,
        CCancelRQ,
    )
}


# --- compiled tables ----------------------------------------------------------
# Each message type gets one row per field: (kind, element, attribute,
# mandatory, header).  ``header`` is the 4-byte tag, little endian.

_K_COMMAND, _K_FLAG, _K_PRIORITY, _K_US, _K_UI, _K_AE, _K_LO, _K_AT = range(8)
_KIND_OF_VR = {VR.US: _K_US, VR.UI: _K_UI, VR.AE: _K_AE, VR.LO: _K_LO, VR.AT: _K_AT}

_Row: TypeAlias = tuple[int, int, str, bool, bytes]

_TAG = struct.Struct("<HH")
_UL = struct.Struct("<I")
_US_ELEMENT = struct.Struct("<HHIH")  # tag, length 2, value
_ELEMENT_HEADER = struct.Struct("<HHI")


def _compile(cls: type[Message]) -> tuple[_Row, ...]:
    rows: list[_Row] = []
    for element, usage in MESSAGE_FIELDS[cls.command_field]:
        if element == COMMAND_FIELD:
            kind = _K_COMMAND
        elif element == COMMAND_DATA_SET_TYPE:
            kind = _K_FLAG
        elif element == PRIORITY:
            kind = _K_PRIORITY
        else:
            kind = _KIND_OF_VR[ELEMENTS[element].vr]
        rows.append(
            (kind, element, ELEMENTS[element].attribute, usage == "M", _TAG.pack(0, element))
        )
    attributes = {row[2] for row in rows if row[0] != _K_COMMAND}
    declared = {f.name for f in fields(cls)}
    if attributes != declared:  # the dataclass and the PS3.7 table disagree
        raise AssertionError(f"{cls.__name__}: fields {declared} but table {attributes}")
    return tuple(rows)


_ROWS: Final[dict[type[Message], tuple[_Row, ...]]] = {
    cls: _compile(cls) for cls in MESSAGE_TYPES.values()
}
_DEFAULTS: Final[dict[type[Message], dict[str, object]]] = {
    cls: {f.name: f.default for f in fields(cls)} for cls in MESSAGE_TYPES.values()
}
_COMMAND_ELEMENT: Final[dict[type[Message], bytes]] = {
    cls: _US_ELEMENT.pack(0, COMMAND_FIELD, 2, cls.command_field) for cls in MESSAGE_TYPES.values()
}
_NO_DATASET_ELEMENT: Final = _US_ELEMENT.pack(0, COMMAND_DATA_SET_TYPE, 2, NO_DATASET)
_DATASET_ELEMENT: Final = _US_ELEMENT.pack(0, COMMAND_DATA_SET_TYPE, 2, DATASET_PRESENT)
_GROUP_LENGTH_HEADER: Final = _ELEMENT_HEADER.pack(0, 0, 4)
_PRIORITIES: Final = {int(p): p for p in Priority}
_FIELD_ROWS: Final[dict[type[Message], tuple[_Row, ...]]] = {
    cls: tuple(row for row in rows if row[0] != _K_COMMAND) for cls, rows in _ROWS.items()
}
_NAMES: Final[dict[type[Message], str]] = {
    cls: message_name(cls.command_field) for cls in MESSAGE_TYPES.values()
}
_BY_FIELD: Final[dict[int, type[Message]]] = {int(f): cls for f, cls in MESSAGE_TYPES.items()}


# --- construction checks ------------------------------------------------------

# PS3.5 §9.1: digits and dots, at most 64 characters (leading zeros, though
# forbidden there, occur in the wild and are accepted).
_UID_RE = re.compile(r"[0-9]+(?:\.[0-9]+)*\Z")
# AE (PS3.5 §6.2): default repertoire, no backslash or control characters.
_AE_RE = re.compile(r"[\x20-\x5b\x5d-\x7e]*\Z")
# LO uses the same: the command set has no Specific Character Set.


def _bad(cls: type[Message], attribute: str, requirement: str) -> LocalProtocolError:
    return LocalProtocolError(f"{message_name(cls.command_field)} {attribute} {requirement}")


def _validate(msg: Message) -> None:
    """Check (and normalise) the fields of a freshly constructed message."""
    cls = type(msg)
    for kind, _element, attribute, mandatory, _ in _FIELD_ROWS[cls]:
        value = getattr(msg, attribute)
        if value is None:
            if mandatory:
                table = MESSAGE_TABLES[cls.command_field]
                raise _bad(cls, attribute, f"is mandatory ({table})")
        elif kind == _K_US:
            if type(value) is not int or not 0 <= value <= 0xFFFF:
                raise _bad(cls, attribute, f"must be an integer in 0..65535, not {value!r}")
        elif kind == _K_UI:
            if type(value) is not str or len(value) > 64 or not _UID_RE.match(value):
                raise _bad(
                    cls, attribute, f"must be a UID (digits and dots, 1..64 chars), not {value!r}"
                )
        elif kind == _K_FLAG:
            if type(value) is not bool:
                raise _bad(cls, attribute, f"must be a bool, not {value!r}")
        elif kind == _K_PRIORITY:
            if type(value) is not Priority:
                if type(value) is not int or value not in _PRIORITIES:
                    raise _bad(
                        cls, attribute, f"must be LOW (2), MEDIUM (0) or HIGH (1), not {value!r}"
                    )
                object.__setattr__(msg, attribute, _PRIORITIES[value])
        elif kind in (_K_AE, _K_LO):
            limit = 16 if kind == _K_AE else 64
            text = value.strip(" ") if type(value) is str else None
            if text is None or len(text) > limit or not _AE_RE.match(text):
                raise _bad(
                    cls,
                    attribute,
                    f"must be at most {limit} characters of the default repertoire "
                    f"without backslash or control characters, not {value!r}",
                )
            if kind == _K_AE and not text:
                raise _bad(cls, attribute, "must not be empty or all spaces")
            if text != value:
                object.__setattr__(msg, attribute, text)
        elif kind == _K_AT:
            tags = tuple(value) if isinstance(value, tuple | list) else None
            if tags is None or any(type(t) is not int or not 0 <= t <= 0xFFFFFFFF for t in tags):
                raise _bad(cls, attribute, f"must be a tuple of tags (0xggggeeee), not {value!r}")
            if tags is not value:
                object.__setattr__(msg, attribute, tags)


# --- encoding -----------------------------------------------------------------


def encode_command(message: Message) -> bytes:
    """The command set of ``message``: Implicit VR Little Endian, group 0000.

    PS3.7 §6.3.1 and Annex E; raises :class:`LocalProtocolError` for an
    object that is not a DIMSE message.
    """
    rows = _ROWS.get(type(message))
    if rows is None:
        raise LocalProtocolError(f"not a DIMSE message: {message!r}")
    parts: list[bytes] = []
    append = parts.append
    for kind, element, attribute, _, header in rows:
        if kind == _K_COMMAND:
            append(_COMMAND_ELEMENT[type(message)])
            continue
        value = getattr(message, attribute)
        if kind == _K_FLAG:
            append(_DATASET_ELEMENT if value else _NO_DATASET_ELEMENT)
        elif value is None:
            continue
        elif kind in (_K_US, _K_PRIORITY):
            append(_US_ELEMENT.pack(0, element, 2, value))
        elif kind == _K_UI:
            raw = value.encode("ascii")
            if len(raw) & 1:
                raw += b"\0"
            append(header + _UL.pack(len(raw)) + raw)
        elif kind in (_K_AE, _K_LO):
            raw = value.encode("ascii")
            if len(raw) & 1:
                raw += b" "
            append(header + _UL.pack(len(raw)) + raw)
        elif value:  # _K_AT; an empty Offending Element is left out
            raw = b"".join([_TAG.pack(tag >> 16, tag & 0xFFFF) for tag in value])
            append(header + _UL.pack(len(raw)) + raw)
    body = b"".join(parts)
    return _GROUP_LENGTH_HEADER + _UL.pack(len(body)) + body


# --- decoding -----------------------------------------------------------------


def _invalid(text: str) -> RemoteProtocolError:
    return RemoteProtocolError(text, reason=REASON_INVALID_PDU_PARAMETER)


def _split(buf: bytes) -> dict[int, tuple[int, int]]:
    """Element number -> (start, stop) of its value, for every element."""
    spans: dict[int, tuple[int, int]] = {}
    end = len(buf)
    offset = 0
    while offset < end:
        if end - offset < 8:
            raise _invalid(
                f"command set truncated: {end - offset} byte(s) at offset {offset} "
                "cannot hold an element header (8 bytes)"
            )
        group, element, length = _ELEMENT_HEADER.unpack_from(buf, offset)
        if group != 0:
            raise _invalid(
                f"command set holds element ({group:04X},{element:04X}) at offset {offset}; "
                "only group 0000 belongs there (PS3.7 §6.3.1)"
            )
        start = offset + 8
        if length == 0xFFFFFFFF:
            raise _invalid(f"{tag_name(element)} has undefined length in a command set")
        if length & 1:
            raise _invalid(f"{tag_name(element)} has odd length {length} (PS3.5 §7.1.1)")
        stop = start + length
        if stop > end:
            raise _invalid(
                f"{tag_name(element)} length {length} at offset {offset} overruns the "
                f"{end}-byte command set"
            )
        if element in spans:
            raise _invalid(f"{tag_name(element)} appears twice in the command set")
        spans[element] = (start, stop)
        offset = stop
    return spans


def decode_command(data: bytes | bytearray | memoryview) -> Message:
    """Parse a complete command set (PS3.7 §6.3.1) into its message.

    Raises :class:`RemoteProtocolError` (reason 6) when it cannot; see the
    module docstring for what is tolerated.
    """
    buf = bytes(data)
    spans = _split(buf)
    span = spans.get(COMMAND_FIELD)
    if span is None or span[1] - span[0] != 2:
        raise _invalid("command set has no (0000,0100) CommandField of 2 bytes")
    raw_field = buf[span[0]] | buf[span[0] + 1] << 8
    cls = _BY_FIELD.get(raw_field)
    if cls is None:
        raise _invalid(
            f"unknown or unsupported (0000,0100) CommandField {raw_field:#06x} "
            "(only the DIMSE-C messages of PS3.7 §9.3 are handled)"
        )
    name = _NAMES[cls]
    values = dict(_DEFAULTS[cls])
    for kind, element, attribute, mandatory, _ in _FIELD_ROWS[cls]:
        span = spans.get(element)
        if span is None or span[0] == span[1]:
            if mandatory:
                raise _invalid(
                    f"{name} lacks mandatory {tag_name(element)} "
                    f"({MESSAGE_TABLES[cls.command_field]})"
                )
            continue
        start, stop = span
        if kind in (_K_US, _K_FLAG, _K_PRIORITY):
            if stop - start != 2:
                raise _invalid(f"{name} {tag_name(element)} (US) has {stop - start} bytes, not 2")
            number = buf[start] | buf[start + 1] << 8
            if kind == _K_US:
                values[attribute] = number
            elif kind == _K_FLAG:
                values[attribute] = number != NO_DATASET
            elif number in _PRIORITIES:
                values[attribute] = _PRIORITIES[number]
            else:
                raise _invalid(
                    f"{name} {tag_name(element)} is {number:#06x}, not LOW (2), "
                    "MEDIUM (0) or HIGH (1)"
                )
        elif kind in (_K_UI, _K_AE):
            raw = buf[start:stop].strip(b"\0 ")
            if not raw.isascii():
                raise _invalid(f"{name} {tag_name(element)} is not ASCII: {raw!r}")
            if raw:
                values[attribute] = raw.decode("ascii")
            elif mandatory:
                raise _invalid(f"{name} {tag_name(element)} is empty")
        elif kind == _K_LO:
            # Informational only: a peer's non-ASCII bytes become "?".
            text = buf[start:stop].strip(b"\0 ").decode("ascii", "replace")
            values[attribute] = text.replace("\ufffd", "?")
        else:  # _K_AT
            if (stop - start) % 4:
                raise _invalid(
                    f"{name} {tag_name(element)} (AT) has {stop - start} bytes, not a multiple of 4"
                )
            values[attribute] = tuple(
                group << 16 | elem for group, elem in _TAG.iter_unpack(buf[start:stop])
            )
    message: Message = object.__new__(cls)
    for attribute, value in values.items():
        object.__setattr__(message, attribute, value)
    return message
