"""Variable items of the A-ASSOCIATE PDUs and the sub-items of User Information.

PS3.8 §9.3.2–9.3.3 (application context, presentation context RQ/AC,
abstract/transfer syntax sub-items) and PS3.7 Annex D.3.3 (maximum length,
implementation class UID / version name, asynchronous operations window,
SCP/SCU role selection, SOP class extended and common extended negotiation,
user identity RQ/AC).

Every item is a frozen, slotted, keyword-only dataclass that validates on
construction.  ``encode_*`` / ``decode_*`` functions turn them into bytes and
back (see the module bottom).
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True, kw_only=True)
class PresentationContextRQ:
    """Presentation context item of an A-ASSOCIATE-RQ (item type 0x20)."""

    context_id: int  # odd, 1..255
    abstract_syntax: str
    transfer_syntaxes: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class PresentationContextAC:
    """Presentation context item of an A-ASSOCIATE-AC (item type 0x21).

    When ``result`` is not acceptance the transfer syntax is not significant
    (PS3.8 §9.3.3.2) and may be empty.
    """

    context_id: int
    result: int
    transfer_syntax: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class AsyncOperationsWindow:
    """PS3.7 D.3.3.3: 0 means unlimited."""

    max_invoked: int = 1
    max_performed: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleSelection:
    """SCP/SCU role selection sub-item (PS3.7 D.3.3.4)."""

    sop_class_uid: str
    scu_role: bool
    scp_role: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class SOPClassExtendedNegotiation:
    """PS3.7 D.3.3.5: service-class specific application information."""

    sop_class_uid: str
    info: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class SOPClassCommonExtendedNegotiation:
    """PS3.7 D.3.3.6 (only in an A-ASSOCIATE-RQ)."""

    sop_class_uid: str
    service_class_uid: str
    related_general_sop_classes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class UserIdentityRQ:
    """PS3.7 D.3.3.7.1."""

    identity_type: int
    positive_response_requested: bool
    primary_field: bytes
    secondary_field: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class UserIdentityAC:
    """PS3.7 D.3.3.7.2."""

    server_response: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class UserInformation:
    """User Information item (0x50) with its sub-items.

    Encoded in the order 0x51, 0x52, 0x53, 0x54*, 0x55, 0x56*, 0x57*, 0x58/0x59;
    decoded in any order.  Unknown sub-items are skipped (PS3.7 D.3.3).
    """

    maximum_length: int | None = 16384  # 0 = no limit
    implementation_class_uid: str = ""
    implementation_version_name: str | None = None
    async_operations_window: AsyncOperationsWindow | None = None
    role_selections: tuple[RoleSelection, ...] = ()
    extended_negotiations: tuple[SOPClassExtendedNegotiation, ...] = ()
    common_extended_negotiations: tuple[SOPClassCommonExtendedNegotiation, ...] = ()
    user_identity: UserIdentityRQ | UserIdentityAC | None = None
