"""Encoding of the A-ASSOCIATE variable items (private).

Import the public names from :mod:`dicomqr.protocol.items`, which
re-exports them.  Each item is its 4-byte header (item-type, reserved 00H,
2-byte big-endian item-length; PS3.8 §9.3.1) followed by its fields; UIDs
are sent without padding (PS3.8 §9.3.2.2.1).  An item that would not fit
its 16-bit length raises :class:`~dicomqr.protocol.errors.LocalProtocolError`.
"""

from __future__ import annotations

import struct

from .errors import LocalProtocolError
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

_ITEM_HEADER = struct.Struct(">BxH")  # item-type, reserved, item-length
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">L")
_U16_PAIR = struct.Struct(">HH")


def _item(item_type: int, body: bytes) -> bytes:
    if len(body) > 0xFFFF:
        raise LocalProtocolError(
            f"item 0x{item_type:02X} would be {len(body)} bytes long; at most 65535 fit"
        )
    return _ITEM_HEADER.pack(item_type, len(body)) + body


def _prefixed(data: bytes) -> bytes:
    """A field preceded by its 2-byte length (PS3.7 D.3.3.4-D.3.3.7)."""
    if len(data) > 0xFFFF:
        raise LocalProtocolError(f"field of {len(data)} bytes does not fit a 2-byte length")
    return _U16.pack(len(data)) + data


def _latin1(text: str) -> bytes:
    return text.encode("latin-1")


def encode_application_context(name: str) -> bytes:
    """Application context item (0x10, PS3.8 Table 9-12); the UID without padding."""
    return _item(ITEM_APPLICATION_CONTEXT, _latin1(name))


def encode_abstract_syntax(uid: str) -> bytes:
    """Abstract syntax sub-item (0x30, PS3.8 Table 9-14)."""
    return _item(ITEM_ABSTRACT_SYNTAX, _latin1(uid))


def encode_transfer_syntax(uid: str) -> bytes:
    """Transfer syntax sub-item (0x40, PS3.8 Tables 9-15/9-19); ``""`` gives an empty one."""
    return _item(ITEM_TRANSFER_SYNTAX, _latin1(uid))


def encode_presentation_context_rq(context: PresentationContextRQ) -> bytes:
    """Presentation context item of a request (0x20, PS3.8 Table 9-13)."""
    parts = [bytes((context.context_id, 0, 0, 0)), encode_abstract_syntax(context.abstract_syntax)]
    parts.extend(encode_transfer_syntax(uid) for uid in context.transfer_syntaxes)
    return _item(ITEM_PRESENTATION_CONTEXT_RQ, b"".join(parts))


def encode_presentation_context_ac(context: PresentationContextAC) -> bytes:
    """Presentation context item of an accept (0x21, PS3.8 Table 9-18)."""
    body = bytes((context.context_id, 0, context.result, 0))
    return _item(
        ITEM_PRESENTATION_CONTEXT_AC, body + encode_transfer_syntax(context.transfer_syntax)
    )


def encode_maximum_length(value: int) -> bytes:
    """Maximum length sub-item (0x51, PS3.8 Table D.1-1)."""
    return _item(ITEM_MAXIMUM_LENGTH, _U32.pack(value))


def encode_implementation_class_uid(uid: str) -> bytes:
    """Implementation class UID sub-item (0x52, PS3.7 Table D.3-1)."""
    return _item(ITEM_IMPLEMENTATION_CLASS_UID, _latin1(uid))


def encode_async_operations_window(window: AsyncOperationsWindow) -> bytes:
    """Asynchronous operations window sub-item (0x53, PS3.7 Table D.3-7)."""
    body = _U16_PAIR.pack(window.max_invoked, window.max_performed)
    return _item(ITEM_ASYNC_OPERATIONS_WINDOW, body)


def encode_role_selection(role: RoleSelection) -> bytes:
    """SCP/SCU role selection sub-item (0x54, PS3.7 Table D.3-9)."""
    body = _prefixed(_latin1(role.sop_class_uid)) + bytes((role.scu_role, role.scp_role))
    return _item(ITEM_ROLE_SELECTION, body)


def encode_implementation_version_name(name: str) -> bytes:
    """Implementation version name sub-item (0x55, PS3.7 Table D.3-3)."""
    return _item(ITEM_IMPLEMENTATION_VERSION_NAME, _latin1(name))


def encode_sop_class_extended(negotiation: SOPClassExtendedNegotiation) -> bytes:
    """SOP class extended negotiation sub-item (0x56, PS3.7 Table D.3-11)."""
    body = _prefixed(_latin1(negotiation.sop_class_uid)) + bytes(negotiation.info)
    return _item(ITEM_SOP_CLASS_EXTENDED, body)


def encode_sop_class_common_extended(negotiation: SOPClassCommonExtendedNegotiation) -> bytes:
    """SOP class common extended negotiation sub-item (0x57, PS3.7 Table D.3-12).

    The byte after the item type is the sub-item version, 00H.
    """
    related = b"".join(_prefixed(_latin1(uid)) for uid in negotiation.related_general_sop_classes)
    body = b"".join(
        (
            _prefixed(_latin1(negotiation.sop_class_uid)),
            _prefixed(_latin1(negotiation.service_class_uid)),
            _prefixed(related),
        )
    )
    return _item(ITEM_SOP_CLASS_COMMON_EXTENDED, body)


def encode_user_identity_rq(identity: UserIdentityRQ) -> bytes:
    """User identity sub-item of a request (0x58, PS3.7 Table D.3-14)."""
    body = b"".join(
        (
            bytes((identity.identity_type, identity.positive_response_requested)),
            _prefixed(bytes(identity.primary_field)),
            _prefixed(bytes(identity.secondary_field)),
        )
    )
    return _item(ITEM_USER_IDENTITY_RQ, body)


def encode_user_identity_ac(identity: UserIdentityAC) -> bytes:
    """User identity sub-item of an accept (0x59, PS3.7 Table D.3-15)."""
    return _item(ITEM_USER_IDENTITY_AC, _prefixed(bytes(identity.server_response)))


def encode_user_information(info: UserInformation) -> bytes:
    """User information item (0x50, PS3.8 Table 9-16), sub-items in ascending type order."""
    parts: list[bytes] = []
    if info.maximum_length is not None:
        parts.append(encode_maximum_length(info.maximum_length))
    if info.implementation_class_uid:
        parts.append(encode_implementation_class_uid(info.implementation_class_uid))
    if info.async_operations_window is not None:
        parts.append(encode_async_operations_window(info.async_operations_window))
    parts.extend(encode_role_selection(role) for role in info.role_selections)
    if info.implementation_version_name is not None:
        parts.append(encode_implementation_version_name(info.implementation_version_name))
    parts.extend(encode_sop_class_extended(x) for x in info.extended_negotiations)
    parts.extend(encode_sop_class_common_extended(x) for x in info.common_extended_negotiations)
    identity = info.user_identity
    if isinstance(identity, UserIdentityRQ):
        parts.append(encode_user_identity_rq(identity))
    elif isinstance(identity, UserIdentityAC):
        parts.append(encode_user_identity_ac(identity))
    return _item(ITEM_USER_INFORMATION, b"".join(parts))
