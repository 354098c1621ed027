"""Decoding of the A-ASSOCIATE variable items (private).

Import the public names from :mod:`dicomqr.protocol.items`, which
re-exports them; this module exists only to keep each file short.

Theory of operation
-------------------
Every item and sub-item starts with the same 4-byte header: item-type (1),
reserved (1, sent as 00H, never tested), item-length (2, big endian), the
number of bytes that follow (PS3.8 §9.3.1, §9.3.2; PS3.7 D.3.3).  Decoding
walks one ``memoryview`` of the whole PDU with ``struct.unpack_from`` and
integer offsets; no intermediate slices are kept, so the view can be
released as soon as the decoder returns.  The internal ``parse_*``
functions take ``(view, start, end)``, the bounds of an item's *body*;
the public ``decode_*`` functions take one complete item, header included.

Errors and the A-ABORT reasons chosen (PS3.8 Table 9-26; source is always 2,
service provider):

* unknown item or sub-item types are skipped (PS3.8 §9.3.1 "Items of
  unrecognized types shall be ignored and skipped", PS3.7 D.3.3), so
  reason 4 (unrecognized-PDU parameter) is never used;
* a known item in a place where it is not allowed (a presentation context
  AC item in an A-ASSOCIATE-RQ, a user identity AC sub-item in a request,
  a second application context, user information, maximum length, ...
  item) is reason 5, unexpected-PDU parameter;
* lengths that overrun the enclosing item, fixed-size fields of the wrong
  size, missing mandatory items (application context, presentation
  context, user information, maximum length, abstract/transfer syntax of
  a context) and even or zero presentation context IDs are reason 6,
  invalid-PDU-parameter value.

Lenient where the standard says "not tested": reserved bytes, the sub-item
version of 0x57, the transfer syntax of a rejected context (kept, possibly
empty).  Values that the association layer answers with an
A-ASSOCIATE-RJ or a context rejection rather than an A-ABORT (the
application context name, syntax UIDs, a non-zero result) are exposed as
received.  Strings are decoded as ISO 8859-1 (never fails) and UIDs lose
trailing NUL padding (PS3.8 §9.3.2.2.1) and, leniently, trailing spaces.
Role and positive-response flags are true for any non-zero byte.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from typing import TypeVar

from ._checks import build
from .errors import (
    REASON_INVALID_PDU_PARAMETER,
    REASON_UNEXPECTED_PDU_PARAMETER,
    RemoteProtocolError,
)
from .items import (
    ITEM_ABSTRACT_SYNTAX,
    ITEM_APPLICATION_CONTEXT,
    ITEM_ASYNC_OPERATIONS_WINDOW,
    ITEM_IMPLEMENTATION_CLASS_UID,
    ITEM_IMPLEMENTATION_VERSION_NAME,
    ITEM_MAXIMUM_LENGTH,
    ITEM_PRESENTATION_CONTEXT_AC,
    ITEM_PRESENTATION_CONTEXT_RQ,
    ITEM_ROLE_SELECTION,
    ITEM_SOP_CLASS_COMMON_EXTENDED,
    ITEM_SOP_CLASS_EXTENDED,
    ITEM_TRANSFER_SYNTAX,
    ITEM_USER_IDENTITY_AC,
    ITEM_USER_IDENTITY_RQ,
    ITEM_USER_INFORMATION,
    RESULT_ACCEPTANCE,
    AsyncOperationsWindow,
    PresentationContextAC,
    PresentationContextRQ,
    RoleSelection,
    SOPClassCommonExtendedNegotiation,
    SOPClassExtendedNegotiation,
    UserIdentityAC,
    UserIdentityRQ,
    UserInformation,
)

T = TypeVar("T")
Buffer = bytes | bytearray | memoryview

ITEM_HEADER = struct.Struct(">BxH")  # item-type, reserved, item-length
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">L")
_U16_PAIR = struct.Struct(">HH")

# Errors a bounds check missed would surface as one of these; the public
# decoders turn them into RemoteProtocolError so callers see one type only.
INTERNAL_ERRORS = (struct.error, IndexError, ValueError, OverflowError)

# Sub-items that may occur once per user information item (PS3.7 D.3.3).
_SINGLE_SUB_ITEMS = frozenset(
    {
        ITEM_MAXIMUM_LENGTH,
        ITEM_IMPLEMENTATION_CLASS_UID,
        ITEM_ASYNC_OPERATIONS_WINDOW,
        ITEM_IMPLEMENTATION_VERSION_NAME,
        ITEM_USER_IDENTITY_RQ,
    }
)


def bad(message: str, reason: int = REASON_INVALID_PDU_PARAMETER) -> RemoteProtocolError:
    """Return (for ``raise``) a RemoteProtocolError with A-ABORT source 2."""
    return RemoteProtocolError(message, reason=reason)


def internal(exc: Exception) -> RemoteProtocolError:
    """Wrap an error that escaped the bounds checks (should never happen)."""
    return bad(f"internal decoder error: malformed data ({exc!r})")


def as_view(buf: Buffer) -> memoryview:
    """A flat, byte-format ``memoryview`` of ``buf``."""
    view = memoryview(buf)
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    return view


# ----------------------------------------------------------------- decoding


def iter_items(
    view: memoryview, start: int, end: int, where: str
) -> Iterator[tuple[int, int, int]]:
    """Yield ``(item_type, body_start, body_end)`` for the items in ``start..end``."""
    pos = start
    unpack = ITEM_HEADER.unpack_from
    while pos < end:
        if end - pos < 4:
            raise bad(f"truncated item header in {where}")
        item_type, length = unpack(view, pos)
        body = pos + 4
        pos = body + length
        if pos > end:
            raise bad(f"item 0x{item_type:02X} ({length} bytes) overruns {where}")
        yield item_type, body, pos


def _text(view: memoryview, start: int, end: int) -> str:
    return str(view[start:end], "latin-1")


def _uid(view: memoryview, start: int, end: int) -> str:
    return str(view[start:end], "latin-1").rstrip("\x00 ")


def _block(view: memoryview, pos: int, end: int, what: str) -> tuple[int, int]:
    """Bounds of a field preceded by a 2-byte length (PS3.7 D.3.3.4-D.3.3.7)."""
    if end - pos < 2:
        raise bad(f"truncated {what} length")
    (length,) = _U16.unpack_from(view, pos)
    stop = pos + 2 + length
    if stop > end:
        raise bad(f"{what} ({length} bytes) overruns its sub-item")
    return pos + 2, stop


def _exact(start: int, end: int, size: int, what: str) -> None:
    if end - start != size:
        raise bad(f"{what} sub-item has {end - start} bytes, not {size}")


def parse_presentation_context_rq(view: memoryview, start: int, end: int) -> PresentationContextRQ:
    """PS3.8 Table 9-13: ID, 3 reserved bytes, abstract syntax, transfer syntaxes."""
    if end - start < 4:
        raise bad("presentation context item shorter than 4 bytes")
    context_id = view[start]
    if not context_id & 1:
        raise bad(f"presentation context ID {context_id} is not odd")
    abstract: str | None = None
    syntaxes: list[str] = []
    for item_type, a, b in iter_items(view, start + 4, end, "presentation context item"):
        if item_type == ITEM_TRANSFER_SYNTAX:
            syntaxes.append(_uid(view, a, b))
        elif item_type == ITEM_ABSTRACT_SYNTAX:
            if abstract is not None:
                raise bad("two abstract syntax sub-items", REASON_UNEXPECTED_PDU_PARAMETER)
            abstract = _uid(view, a, b)
    if abstract is None:
        raise bad(f"presentation context {context_id} has no abstract syntax sub-item")
    if not syntaxes:
        raise bad(f"presentation context {context_id} has no transfer syntax sub-item")
    return build(
        PresentationContextRQ,
        context_id=context_id,
        abstract_syntax=abstract,
        transfer_syntaxes=tuple(syntaxes),
    )


def parse_presentation_context_ac(view: memoryview, start: int, end: int) -> PresentationContextAC:
    """PS3.8 Table 9-18: ID, reserved, result/reason, reserved, transfer syntax."""
    if end - start < 4:
        raise bad("presentation context item shorter than 4 bytes")
    context_id = view[start]
    result = view[start + 2]
    if not context_id & 1:
        raise bad(f"presentation context ID {context_id} is not odd")
    syntax: str | None = None
    for item_type, a, b in iter_items(view, start + 4, end, "presentation context item"):
        if item_type == ITEM_TRANSFER_SYNTAX:
            if syntax is not None:
                raise bad("two transfer syntax sub-items", REASON_UNEXPECTED_PDU_PARAMETER)
            syntax = _uid(view, a, b)
    if result == RESULT_ACCEPTANCE and not syntax:
        raise bad(f"accepted presentation context {context_id} has no transfer syntax")
    return build(
        PresentationContextAC, context_id=context_id, result=result, transfer_syntax=syntax or ""
    )


def parse_maximum_length(view: memoryview, start: int, end: int) -> int:
    """PS3.8 Annex D.1, Table D.1-1: a 4-byte maximum-length-received."""
    _exact(start, end, 4, "maximum length")
    value: int = _U32.unpack_from(view, start)[0]
    return value


def parse_async_operations_window(view: memoryview, start: int, end: int) -> AsyncOperationsWindow:
    """PS3.7 Table D.3-7: invoked (2), performed (2)."""
    _exact(start, end, 4, "asynchronous operations window")
    invoked, performed = _U16_PAIR.unpack_from(view, start)
    return build(AsyncOperationsWindow, max_invoked=invoked, max_performed=performed)


def parse_role_selection(view: memoryview, start: int, end: int) -> RoleSelection:
    """PS3.7 Table D.3-9: UID length (2), UID, SCU role (1), SCP role (1)."""
    a, b = _block(view, start, end, "role selection SOP class UID")
    _exact(b, end, 2, "role selection (after the UID)")
    return build(
        RoleSelection,
        sop_class_uid=_uid(view, a, b),
        scu_role=view[b] != 0,
        scp_role=view[b + 1] != 0,
    )


def parse_sop_class_extended(view: memoryview, start: int, end: int) -> SOPClassExtendedNegotiation:
    """PS3.7 Table D.3-11: UID length (2), UID, application information (rest)."""
    a, b = _block(view, start, end, "extended negotiation SOP class UID")
    return build(
        SOPClassExtendedNegotiation, sop_class_uid=_uid(view, a, b), info=bytes(view[b:end])
    )


def parse_sop_class_common_extended(
    view: memoryview, start: int, end: int
) -> SOPClassCommonExtendedNegotiation:
    """PS3.7 Tables D.3-12/D.3-13: SOP class, service class, related general SOP classes."""
    a1, b1 = _block(view, start, end, "common extended negotiation SOP class UID")
    a2, b2 = _block(view, b1, end, "common extended negotiation service class UID")
    a3, b3 = _block(view, b2, end, "related general SOP class identification")
    if b3 != end:
        raise bad("bytes after the related general SOP class identification")
    related: list[str] = []
    pos = a3
    while pos < b3:
        a, pos = _block(view, pos, b3, "related general SOP class UID")
        related.append(_uid(view, a, pos))
    return build(
        SOPClassCommonExtendedNegotiation,
        sop_class_uid=_uid(view, a1, b1),
        service_class_uid=_uid(view, a2, b2),
        related_general_sop_classes=tuple(related),
    )


def parse_user_identity_rq(view: memoryview, start: int, end: int) -> UserIdentityRQ:
    """PS3.7 Table D.3-14: type, positive response requested, primary, secondary."""
    if end - start < 2:
        raise bad("truncated user identity sub-item")
    a1, b1 = _block(view, start + 2, end, "user identity primary field")
    a2, b2 = _block(view, b1, end, "user identity secondary field")
    if b2 != end:
        raise bad("bytes after the user identity secondary field")
    return build(
        UserIdentityRQ,
        identity_type=view[start],
        positive_response_requested=view[start + 1] != 0,
        primary_field=bytes(view[a1:b1]),
        secondary_field=bytes(view[a2:b2]),
    )


def parse_user_identity_ac(view: memoryview, start: int, end: int) -> UserIdentityAC:
    """PS3.7 Table D.3-15: server response length (2), server response."""
    a, b = _block(view, start, end, "user identity server response")
    if b != end:
        raise bad("bytes after the user identity server response")
    return build(UserIdentityAC, server_response=bytes(view[a:b]))


def parse_user_information(view: memoryview, start: int, end: int) -> UserInformation:
    """PS3.8 Table 9-16 and Annex D: sub-items in any order, unknown ones skipped."""
    maximum_length: int | None = None
    class_uid = ""
    version_name: str | None = None
    window: AsyncOperationsWindow | None = None
    identity: UserIdentityRQ | UserIdentityAC | None = None
    roles: list[RoleSelection] = []
    extended: list[SOPClassExtendedNegotiation] = []
    common: list[SOPClassCommonExtendedNegotiation] = []
    seen: set[int] = set()
    for item_type, a, b in iter_items(view, start, end, "user information item"):
        key = ITEM_USER_IDENTITY_RQ if item_type == ITEM_USER_IDENTITY_AC else item_type
        if key in _SINGLE_SUB_ITEMS:
            if key in seen:
                raise bad(
                    f"more than one user information sub-item 0x{item_type:02X}",
                    REASON_UNEXPECTED_PDU_PARAMETER,
                )
            seen.add(key)
        if item_type == ITEM_MAXIMUM_LENGTH:
            maximum_length = parse_maximum_length(view, a, b)
        elif item_type == ITEM_IMPLEMENTATION_CLASS_UID:
            class_uid = _uid(view, a, b)
        elif item_type == ITEM_ASYNC_OPERATIONS_WINDOW:
            window = parse_async_operations_window(view, a, b)
        elif item_type == ITEM_ROLE_SELECTION:
            roles.append(parse_role_selection(view, a, b))
        elif item_type == ITEM_IMPLEMENTATION_VERSION_NAME:
            version_name = _text(view, a, b)
        elif item_type == ITEM_SOP_CLASS_EXTENDED:
            extended.append(parse_sop_class_extended(view, a, b))
        elif item_type == ITEM_SOP_CLASS_COMMON_EXTENDED:
            common.append(parse_sop_class_common_extended(view, a, b))
        elif item_type == ITEM_USER_IDENTITY_RQ:
            identity = parse_user_identity_rq(view, a, b)
        elif item_type == ITEM_USER_IDENTITY_AC:
            identity = parse_user_identity_ac(view, a, b)
    return build(
        UserInformation,
        maximum_length=maximum_length,
        implementation_class_uid=class_uid,
        implementation_version_name=version_name,
        async_operations_window=window,
        role_selections=tuple(roles),
        extended_negotiations=tuple(extended),
        common_extended_negotiations=tuple(common),
        user_identity=identity,
    )


def _scan_variable_items(
    view: memoryview, start: int, end: int, own: int, other: int, pdu_name: str
) -> tuple[str, list[tuple[int, int]], UserInformation]:
    """Variable items of an A-ASSOCIATE-RQ/AC (PS3.8 Tables 9-11, 9-17)."""
    application_context: str | None = None
    spans: list[tuple[int, int]] = []
    user_information: UserInformation | None = None
    for item_type, a, b in iter_items(view, start, end, pdu_name):
        if item_type == own:
            spans.append((a, b))
        elif item_type == ITEM_APPLICATION_CONTEXT:
            if application_context is not None:
                raise bad(f"two application context items in {pdu_name}", 5)
            application_context = _uid(view, a, b)
        elif item_type == ITEM_USER_INFORMATION:
            if user_information is not None:
                raise bad(f"two user information items in {pdu_name}", 5)
            user_information = parse_user_information(view, a, b)
        elif item_type == other:
            raise bad(f"{pdu_name} holds a presentation context item 0x{other:02X}", 5)
    if application_context is None:
        raise bad(f"{pdu_name} has no application context item")
    if not spans:
        raise bad(f"{pdu_name} has no presentation context item")
    if user_information is None:
        raise bad(f"{pdu_name} has no user information item")
    if user_information.maximum_length is None:
        raise bad(f"{pdu_name} has no maximum length sub-item (PS3.8 D.1)")
    return application_context, spans, user_information


def _check_unique_ids(
    contexts: tuple[PresentationContextRQ, ...] | tuple[PresentationContextAC, ...],
) -> None:
    ids = {context.context_id for context in contexts}
    if len(ids) != len(contexts):
        raise bad("presentation context IDs are not unique")


def parse_rq_items(
    view: memoryview, start: int, end: int
) -> tuple[str, tuple[PresentationContextRQ, ...], UserInformation]:
    """Application context, presentation contexts and user information of a request."""
    name, spans, info = _scan_variable_items(
        view,
        start,
        end,
        ITEM_PRESENTATION_CONTEXT_RQ,
        ITEM_PRESENTATION_CONTEXT_AC,
        "A-ASSOCIATE-RQ",
    )
    contexts = tuple(parse_presentation_context_rq(view, a, b) for a, b in spans)
    _check_unique_ids(contexts)
    if isinstance(info.user_identity, UserIdentityAC):
        raise bad("A-ASSOCIATE-RQ holds a user identity AC sub-item", 5)
    return name, contexts, info


def parse_ac_items(
    view: memoryview, start: int, end: int
) -> tuple[str, tuple[PresentationContextAC, ...], UserInformation]:
    """Application context, presentation contexts and user information of an accept."""
    name, spans, info = _scan_variable_items(
        view,
        start,
        end,
        ITEM_PRESENTATION_CONTEXT_AC,
        ITEM_PRESENTATION_CONTEXT_RQ,
        "A-ASSOCIATE-AC",
    )
    contexts = tuple(parse_presentation_context_ac(view, a, b) for a, b in spans)
    _check_unique_ids(contexts)
    if isinstance(info.user_identity, UserIdentityRQ):
        raise bad("A-ASSOCIATE-AC holds a user identity RQ sub-item", 5)
    if info.common_extended_negotiations:
        raise bad("A-ASSOCIATE-AC holds a SOP class common extended negotiation sub-item", 5)
    return name, contexts, info


def _decode_item(buf: Buffer, item_type: int, parse: Callable[[memoryview, int, int], T]) -> T:
    """Decode one complete item (header included) of the given type."""
    with as_view(buf) as view:
        try:
            size = len(view)
            if size < 4:
                raise bad("truncated item header")
            found, length = ITEM_HEADER.unpack_from(view, 0)
            if found != item_type:
                raise bad(f"expected item type 0x{item_type:02X}, found 0x{found:02X}")
            if length != size - 4:
                raise bad(f"item-length {length} does not match the {size - 4} bytes given")
            return parse(view, 4, size)
        except INTERNAL_ERRORS as exc:
            raise internal(exc) from exc


def decode_application_context(buf: Buffer) -> str:
    """Decode an application context item (0x10, PS3.8 Table 9-12)."""
    return _decode_item(buf, ITEM_APPLICATION_CONTEXT, _uid)


def decode_abstract_syntax(buf: Buffer) -> str:
    """Decode an abstract syntax sub-item (0x30, PS3.8 Table 9-14)."""
    return _decode_item(buf, ITEM_ABSTRACT_SYNTAX, _uid)


def decode_transfer_syntax(buf: Buffer) -> str:
    """Decode a transfer syntax sub-item (0x40, PS3.8 Tables 9-15/9-19)."""
    return _decode_item(buf, ITEM_TRANSFER_SYNTAX, _uid)


def decode_presentation_context_rq(buf: Buffer) -> PresentationContextRQ:
    """Decode a presentation context item of a request (0x20, PS3.8 Table 9-13)."""
    return _decode_item(buf, ITEM_PRESENTATION_CONTEXT_RQ, parse_presentation_context_rq)


def decode_presentation_context_ac(buf: Buffer) -> PresentationContextAC:
    """Decode a presentation context item of an accept (0x21, PS3.8 Table 9-18)."""
    return _decode_item(buf, ITEM_PRESENTATION_CONTEXT_AC, parse_presentation_context_ac)


def decode_user_information(buf: Buffer) -> UserInformation:
    """Decode a user information item (0x50, PS3.8 Table 9-16)."""
    return _decode_item(buf, ITEM_USER_INFORMATION, parse_user_information)


def decode_maximum_length(buf: Buffer) -> int:
    """Decode a maximum length sub-item (0x51, PS3.8 Table D.1-1)."""
    return _decode_item(buf, ITEM_MAXIMUM_LENGTH, parse_maximum_length)


def decode_implementation_class_uid(buf: Buffer) -> str:
    """Decode an implementation class UID sub-item (0x52, PS3.7 Table D.3-1)."""
    return _decode_item(buf, ITEM_IMPLEMENTATION_CLASS_UID, _uid)


def decode_async_operations_window(buf: Buffer) -> AsyncOperationsWindow:
    """Decode an asynchronous operations window sub-item (0x53, PS3.7 Table D.3-7)."""
    return _decode_item(buf, ITEM_ASYNC_OPERATIONS_WINDOW, parse_async_operations_window)


def decode_role_selection(buf: Buffer) -> RoleSelection:
    """Decode an SCP/SCU role selection sub-item (0x54, PS3.7 Table D.3-9)."""
    return _decode_item(buf, ITEM_ROLE_SELECTION, parse_role_selection)


def decode_implementation_version_name(buf: Buffer) -> str:
    """Decode an implementation version name sub-item (0x55, PS3.7 Table D.3-3)."""
    return _decode_item(buf, ITEM_IMPLEMENTATION_VERSION_NAME, _text)


def decode_sop_class_extended(buf: Buffer) -> SOPClassExtendedNegotiation:
    """Decode a SOP class extended negotiation sub-item (0x56, PS3.7 Table D.3-11)."""
    return _decode_item(buf, ITEM_SOP_CLASS_EXTENDED, parse_sop_class_extended)


def decode_sop_class_common_extended(buf: Buffer) -> SOPClassCommonExtendedNegotiation:
    """Decode a SOP class common extended negotiation sub-item (0x57, PS3.7 Table D.3-12)."""
    return _decode_item(buf, ITEM_SOP_CLASS_COMMON_EXTENDED, parse_sop_class_common_extended)


def decode_user_identity_rq(buf: Buffer) -> UserIdentityRQ:
    """Decode a user identity negotiation sub-item of a request (0x58, PS3.7 Table D.3-14)."""
    return _decode_item(buf, ITEM_USER_IDENTITY_RQ, parse_user_identity_rq)


def decode_user_identity_ac(buf: Buffer) -> UserIdentityAC:
    """Decode a user identity negotiation sub-item of an accept (0x59, PS3.7 Table D.3-15)."""
    return _decode_item(buf, ITEM_USER_IDENTITY_AC, parse_user_identity_ac)
