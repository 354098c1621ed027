"""Variable items of the A-ASSOCIATE PDUs and the sub-items of User Information.

PS3.8 §9.3.2-9.3.3 (application context, presentation context RQ/AC,
abstract/transfer syntax sub-items) and PS3.7 Annex D.3.3 (maximum length,
implementation class UID / version name, asynchronous operations window,
SCP/SCU role selection, SOP class extended and common extended negotiation,
user identity RQ/AC).

Every item is a frozen, slotted, keyword-only dataclass that validates on
construction and raises :class:`~dicomqr.protocol.errors.LocalProtocolError`
for a value the standard forbids.  ``encode_*`` / ``decode_*`` functions
turn them into bytes and back; they live in :mod:`._itemcodec` and
:mod:`._itemencode` and are re-exported here (see the module bottom).  Decoders raise only
:class:`~dicomqr.protocol.errors.RemoteProtocolError` and build objects
without re-running the constructor checks, so they accept what the
standard says a receiver shall not test.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING

from ._checks import (
    check_bool,
    check_bytes,
    check_context_id,
    check_g0_string,
    check_tuple,
    check_uid,
    check_uint,
    fail,
    set_field,
)

# Item types (PS3.8 Table 9-11 / 9-17, PS3.7 Annex D)
ITEM_APPLICATION_CONTEXT = 0x10
ITEM_PRESENTATION_CONTEXT_RQ = 0x20
ITEM_PRESENTATION_CONTEXT_AC = 0x21
ITEM_ABSTRACT_SYNTAX = 0x30
ITEM_TRANSFER_SYNTAX = 0x40
ITEM_USER_INFORMATION = 0x50
ITEM_MAXIMUM_LENGTH = 0x51
ITEM_IMPLEMENTATION_CLASS_UID = 0x52
ITEM_ASYNC_OPERATIONS_WINDOW = 0x53
ITEM_ROLE_SELECTION = 0x54
ITEM_IMPLEMENTATION_VERSION_NAME = 0x55
ITEM_SOP_CLASS_EXTENDED = 0x56
ITEM_SOP_CLASS_COMMON_EXTENDED = 0x57
ITEM_USER_IDENTITY_RQ = 0x58
ITEM_USER_IDENTITY_AC = 0x59

APPLICATION_CONTEXT_NAME = "1.2.840.10008.3.1.1.1"

# Presentation context result/reason (PS3.8 Table 9-18)
RESULT_ACCEPTANCE = 0
RESULT_USER_REJECTION = 1
RESULT_NO_REASON = 2
RESULT_ABSTRACT_SYNTAX_NOT_SUPPORTED = 3
RESULT_TRANSFER_SYNTAXES_NOT_SUPPORTED = 4

# User identity types (PS3.7 Table D.3-14)
IDENTITY_USERNAME = 1
IDENTITY_USERNAME_PASSCODE = 2
IDENTITY_KERBEROS = 3
IDENTITY_SAML = 4
IDENTITY_JWT = 5

_U16 = 0xFFFF
_U32 = 0xFFFFFFFF


@dataclass(frozen=True, slots=True, kw_only=True)
class PresentationContextRQ:
    """Presentation context item of an A-ASSOCIATE-RQ (item type 0x20).

    PS3.8 §9.3.2.2, Tables 9-13..9-15: an odd ``context_id`` in 1..255, one
    abstract syntax and one or more transfer syntaxes (UIDs).
    """

    context_id: int  # odd, 1..255
    abstract_syntax: str
    transfer_syntaxes: tuple[str, ...]

    def __post_init__(self) -> None:
        check_context_id("context_id", self.context_id)
        check_uid("abstract_syntax", self.abstract_syntax)
        syntaxes = check_tuple("transfer_syntaxes", self.transfer_syntaxes, str)
        if not syntaxes:
            raise fail("a presentation context needs at least one transfer syntax")
        for uid in syntaxes:
            check_uid("transfer_syntaxes", uid)
        set_field(self, "transfer_syntaxes", syntaxes)


@dataclass(frozen=True, slots=True, kw_only=True)
class PresentationContextAC:
    """Presentation context item of an A-ASSOCIATE-AC (item type 0x21).

    When ``result`` is not acceptance the transfer syntax is not significant
    (PS3.8 §9.3.3.2) and may be empty.  ``result`` is one of the
    ``RESULT_*`` values of PS3.8 Table 9-18.
    """

    context_id: int
    result: int
    transfer_syntax: str = ""

    def __post_init__(self) -> None:
        check_context_id("context_id", self.context_id)
        check_uint("result", self.result, RESULT_TRANSFER_SYNTAXES_NOT_SUPPORTED)
        if self.result == RESULT_ACCEPTANCE or self.transfer_syntax != "":
            check_uid("transfer_syntax", self.transfer_syntax)


@dataclass(frozen=True, slots=True, kw_only=True)
class AsyncOperationsWindow:
    """PS3.7 D.3.3.3: 0 means unlimited."""

    max_invoked: int = 1
    max_performed: int = 1

    def __post_init__(self) -> None:
        check_uint("max_invoked", self.max_invoked, _U16)
        check_uint("max_performed", self.max_performed, _U16)


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleSelection:
    """SCP/SCU role selection sub-item (PS3.7 D.3.3.4).

    In an A-ASSOCIATE-RQ the flags say which roles the requestor proposes
    for itself; in an A-ASSOCIATE-AC whether the acceptor accepts them.
    """

    sop_class_uid: str
    scu_role: bool
    scp_role: bool

    def __post_init__(self) -> None:
        check_uid("sop_class_uid", self.sop_class_uid)
        check_bool("scu_role", self.scu_role)
        check_bool("scp_role", self.scp_role)


@dataclass(frozen=True, slots=True, kw_only=True)
class SOPClassExtendedNegotiation:
    """PS3.7 D.3.3.5: service-class specific application information."""

    sop_class_uid: str
    info: bytes

    def __post_init__(self) -> None:
        check_uid("sop_class_uid", self.sop_class_uid)
        check_bytes("info", self.info, _U16 - 2 - len(self.sop_class_uid))


@dataclass(frozen=True, slots=True, kw_only=True)
class SOPClassCommonExtendedNegotiation:
    """PS3.7 D.3.3.6 (only in an A-ASSOCIATE-RQ)."""

    sop_class_uid: str
    service_class_uid: str
    related_general_sop_classes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_uid("sop_class_uid", self.sop_class_uid)
        check_uid("service_class_uid", self.service_class_uid)
        related = check_tuple("related_general_sop_classes", self.related_general_sop_classes, str)
        for uid in related:
            check_uid("related_general_sop_classes", uid)
        size = 6 + len(self.sop_class_uid) + len(self.service_class_uid)
        size += sum(2 + len(uid) for uid in related)
        if size > _U16:
            raise fail("SOP class common extended negotiation does not fit one sub-item")
        set_field(self, "related_general_sop_classes", related)


@dataclass(frozen=True, slots=True, kw_only=True)
class UserIdentityRQ:
    """PS3.7 D.3.3.7.1.

    ``identity_type`` is one of the ``IDENTITY_*`` values (Table D.3-14);
    ``secondary_field`` (the passcode) is only sent with type 2.
    """

    identity_type: int
    positive_response_requested: bool
    primary_field: bytes
    secondary_field: bytes = b""

    def __post_init__(self) -> None:
        check_uint("identity_type", self.identity_type, IDENTITY_JWT, IDENTITY_USERNAME)
        check_bool("positive_response_requested", self.positive_response_requested)
        check_bytes("primary_field", self.primary_field, _U16)
        check_bytes("secondary_field", self.secondary_field, _U16)
        if not self.primary_field:
            raise fail("user identity primary_field must not be empty")
        if self.secondary_field and self.identity_type != IDENTITY_USERNAME_PASSCODE:
            raise fail("user identity secondary_field is only sent with type 2")
        if 6 + len(self.primary_field) + len(self.secondary_field) > _U16:
            raise fail("user identity does not fit one sub-item")


@dataclass(frozen=True, slots=True, kw_only=True)
class UserIdentityAC:
    """PS3.7 D.3.3.7.2."""

    server_response: bytes

    def __post_init__(self) -> None:
        check_bytes("server_response", self.server_response, _U16 - 2)


@dataclass(frozen=True, slots=True, kw_only=True)
class UserInformation:
    """User Information item (0x50) with its sub-items.

    Encoded in the order 0x51, 0x52, 0x53, 0x54*, 0x55, 0x56*, 0x57*, 0x58/0x59;
    decoded in any order.  Unknown sub-items are skipped (PS3.7 D.3.3).
    ``maximum_length`` ``None`` and ``implementation_class_uid`` ``""`` mean
    the sub-item is absent (the A-ASSOCIATE PDUs require the former).
    """

    maximum_length: int | None = 16384  # 0 = no limit
    implementation_class_uid: str = ""
    implementation_version_name: str | None = None
    async_operations_window: AsyncOperationsWindow | None = None
    role_selections: tuple[RoleSelection, ...] = ()
    extended_negotiations: tuple[SOPClassExtendedNegotiation, ...] = ()
    common_extended_negotiations: tuple[SOPClassCommonExtendedNegotiation, ...] = ()
    user_identity: UserIdentityRQ | UserIdentityAC | None = None

    def __post_init__(self) -> None:
        if self.maximum_length is not None:
            check_uint("maximum_length", self.maximum_length, _U32)
        if self.implementation_class_uid != "":
            check_uid("implementation_class_uid", self.implementation_class_uid)
        if self.implementation_version_name is not None:
            check_g0_string("implementation_version_name", self.implementation_version_name, 16)
        window = self.async_operations_window
        if window is not None and not isinstance(window, AsyncOperationsWindow):
            raise fail("async_operations_window must be an AsyncOperationsWindow")
        identity = self.user_identity
        if identity is not None and not isinstance(identity, UserIdentityRQ | UserIdentityAC):
            raise fail("user_identity must be a UserIdentityRQ or UserIdentityAC")
        for name, cls in (
            ("role_selections", RoleSelection),
            ("extended_negotiations", SOPClassExtendedNegotiation),
            ("common_extended_negotiations", SOPClassCommonExtendedNegotiation),
        ):
            set_field(self, name, check_tuple(name, getattr(self, name), cls))


# The codec lives in two private modules that import the classes above; it
# is re-exported lazily (PEP 562) so that no import order can form a cycle.
if TYPE_CHECKING:
    from ._itemcodec import (
        decode_abstract_syntax,
        decode_application_context,
        decode_async_operations_window,
        decode_implementation_class_uid,
        decode_implementation_version_name,
        decode_maximum_length,
        decode_presentation_context_ac,
        decode_presentation_context_rq,
        decode_role_selection,
        decode_sop_class_common_extended,
        decode_sop_class_extended,
        decode_transfer_syntax,
        decode_user_identity_ac,
        decode_user_identity_rq,
        decode_user_information,
    )
    from ._itemencode import (
        encode_abstract_syntax,
        encode_application_context,
        encode_async_operations_window,
        encode_implementation_class_uid,
        encode_implementation_version_name,
        encode_maximum_length,
        encode_presentation_context_ac,
        encode_presentation_context_rq,
        encode_role_selection,
        encode_sop_class_common_extended,
        encode_sop_class_extended,
        encode_transfer_syntax,
        encode_user_identity_ac,
        encode_user_identity_rq,
        encode_user_information,
    )


def __getattr__(name: str) -> object:
    """Load ``encode_*`` / ``decode_*`` from the codec modules on first use."""
    if name not in __all__ or not name.startswith(("encode_", "decode_")):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = "._itemencode" if name.startswith("encode_") else "._itemcodec"
    value = getattr(import_module(module, __package__), name)
    globals()[name] = value
    return value


__all__ = [
    "APPLICATION_CONTEXT_NAME",
    "IDENTITY_JWT",
    "IDENTITY_KERBEROS",
    "IDENTITY_SAML",
    "IDENTITY_USERNAME",
    "IDENTITY_USERNAME_PASSCODE",
    "ITEM_ABSTRACT_SYNTAX",
    "ITEM_APPLICATION_CONTEXT",
    "ITEM_ASYNC_OPERATIONS_WINDOW",
    "ITEM_IMPLEMENTATION_CLASS_UID",
    "ITEM_IMPLEMENTATION_VERSION_NAME",
    "ITEM_MAXIMUM_LENGTH",
    "ITEM_PRESENTATION_CONTEXT_AC",
    "ITEM_PRESENTATION_CONTEXT_RQ",
    "ITEM_ROLE_SELECTION",
    "ITEM_SOP_CLASS_COMMON_EXTENDED",
    "ITEM_SOP_CLASS_EXTENDED",
    "ITEM_TRANSFER_SYNTAX",
    "ITEM_USER_IDENTITY_AC",
    "ITEM_USER_IDENTITY_RQ",
    "ITEM_USER_INFORMATION",
    "RESULT_ABSTRACT_SYNTAX_NOT_SUPPORTED",
    "RESULT_ACCEPTANCE",
    "RESULT_NO_REASON",
    "RESULT_TRANSFER_SYNTAXES_NOT_SUPPORTED",
    "RESULT_USER_REJECTION",
    "AsyncOperationsWindow",
    "PresentationContextAC",
    "PresentationContextRQ",
    "RoleSelection",
    "SOPClassCommonExtendedNegotiation",
    "SOPClassExtendedNegotiation",
    "UserIdentityAC",
    "UserIdentityRQ",
    "UserInformation",
    "decode_abstract_syntax",
    "decode_application_context",
    "decode_async_operations_window",
    "decode_implementation_class_uid",
    "decode_implementation_version_name",
    "decode_maximum_length",
    "decode_presentation_context_ac",
    "decode_presentation_context_rq",
    "decode_role_selection",
    "decode_sop_class_common_extended",
    "decode_sop_class_extended",
    "decode_transfer_syntax",
    "decode_user_identity_ac",
    "decode_user_identity_rq",
    "decode_user_information",
    "encode_abstract_syntax",
    "encode_application_context",
    "encode_async_operations_window",
    "encode_implementation_class_uid",
    "encode_implementation_version_name",
    "encode_maximum_length",
    "encode_presentation_context_ac",
    "encode_presentation_context_rq",
    "encode_role_selection",
    "encode_sop_class_common_extended",
    "encode_sop_class_extended",
    "encode_transfer_syntax",
    "encode_user_identity_ac",
    "encode_user_identity_rq",
    "encode_user_information",
]
