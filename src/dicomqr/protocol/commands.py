"""The PS3.7 command dictionary and the command-set tables, as data.

Two sources in the standard, transcribed here and nowhere else:

* PS3.7 Annex E, Table E.1-1 (Registry of DICOM Command Elements): the tag
  and VR of every command element used by the DIMSE-C services.  All of
  them are in group 0000 and are always encoded Implicit VR Little Endian
  (PS3.7 §6.3.1).
* PS3.7 §9.3 (DIMSE-C protocol): one table per message listing the fields
  it carries and their usage, ``M`` mandatory, ``U`` user option, ``C``
  conditional.  The status fields (0000,0901) Offending Element, (0000,0902)
  Error Comment and (0000,0903) Error ID are not in the §9.3 tables; PS3.7
  Annex C (status type encoding) adds them to responses whose status calls
  for them, so every response table lists them as ``C``.

:mod:`.dimse` compiles these tables into its encoder and decoder; the
conformance generator can print them.  Nothing here does any work.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final, NamedTuple


class CommandField(IntEnum):
    """Command Field (0000,0100) values of the DIMSE-C messages (PS3.7 Table E.1-1)."""

    C_STORE_RQ = 0x0001
    C_STORE_RSP = 0x8001
    C_GET_RQ = 0x0010
    C_GET_RSP = 0x8010
    C_FIND_RQ = 0x0020
    C_FIND_RSP = 0x8020
    C_MOVE_RQ = 0x0021
    C_MOVE_RSP = 0x8021
    C_ECHO_RQ = 0x0030
    C_ECHO_RSP = 0x8030
    C_CANCEL_RQ = 0x0FFF


class Priority(IntEnum):
    """Priority (0000,0700) values (PS3.7 Table E.1-1)."""

    MEDIUM = 0x0000
    HIGH = 0x0001
    LOW = 0x0002


# Command Data Set Type (0000,0800): 0101H means "no data set"; PS3.7 Table
# E.1-1 says any other value means one follows.  0x0001 is what we send.
NO_DATASET: Final = 0x0101
DATASET_PRESENT: Final = 0x0001


class VR:
    """The value representations that occur in the command group."""

    UL: Final = "UL"
    US: Final = "US"
    UI: Final = "UI"
    AE: Final = "AE"
    LO: Final = "LO"
    AT: Final = "AT"


# --- PS3.7 Table E.1-1 (the elements DIMSE-C uses) ---------------------------
# Element numbers within group 0000 (the tag is 0x0000eeee).
COMMAND_GROUP_LENGTH: Final = 0x0000
AFFECTED_SOP_CLASS_UID: Final = 0x0002
COMMAND_FIELD: Final = 0x0100
MESSAGE_ID: Final = 0x0110
MESSAGE_ID_BEING_RESPONDED_TO: Final = 0x0120
MOVE_DESTINATION: Final = 0x0600
PRIORITY: Final = 0x0700
COMMAND_DATA_SET_TYPE: Final = 0x0800
STATUS: Final = 0x0900
OFFENDING_ELEMENT: Final = 0x0901
ERROR_COMMENT: Final = 0x0902
ERROR_ID: Final = 0x0903
AFFECTED_SOP_INSTANCE_UID: Final = 0x1000
NUMBER_OF_REMAINING_SUBOPERATIONS: Final = 0x1020
NUMBER_OF_COMPLETED_SUBOPERATIONS: Final = 0x1021
NUMBER_OF_FAILED_SUBOPERATIONS: Final = 0x1022
NUMBER_OF_WARNING_SUBOPERATIONS: Final = 0x1023
MOVE_ORIGINATOR_AE_TITLE: Final = 0x1030
MOVE_ORIGINATOR_MESSAGE_ID: Final = 0x1031


class Element(NamedTuple):
    """One row of Table E.1-1: keyword, VR and the message attribute it maps to."""

    keyword: str
    vr: str
    attribute: str


ELEMENTS: Final[dict[int, Element]] = {
    COMMAND_GROUP_LENGTH: Element("CommandGroupLength", VR.UL, ""),
    AFFECTED_SOP_CLASS_UID: Element("AffectedSOPClassUID", VR.UI, "affected_sop_class_uid"),
    COMMAND_FIELD: Element("CommandField", VR.US, "command_field"),
    MESSAGE_ID: Element("MessageID", VR.US, "message_id"),
    MESSAGE_ID_BEING_RESPONDED_TO: Element(
        "MessageIDBeingRespondedTo", VR.US, "message_id_being_responded_to"
    ),
    MOVE_DESTINATION: Element("MoveDestination", VR.AE, "move_destination"),
    PRIORITY: Element("Priority", VR.US, "priority"),
    COMMAND_DATA_SET_TYPE: Element("CommandDataSetType", VR.US, "has_dataset"),
    STATUS: Element("Status", VR.US, "status"),
    OFFENDING_ELEMENT: Element("OffendingElement", VR.AT, "offending_element"),
    ERROR_COMMENT: Element("ErrorComment", VR.LO, "error_comment"),
    ERROR_ID: Element("ErrorID", VR.US, "error_id"),
    AFFECTED_SOP_INSTANCE_UID: Element(
        "AffectedSOPInstanceUID", VR.UI, "affected_sop_instance_uid"
    ),
    NUMBER_OF_REMAINING_SUBOPERATIONS: Element(
        "NumberOfRemainingSuboperations", VR.US, "number_of_remaining_suboperations"
    ),
    NUMBER_OF_COMPLETED_SUBOPERATIONS: Element(
        "NumberOfCompletedSuboperations", VR.US, "number_of_completed_suboperations"
    ),
    NUMBER_OF_FAILED_SUBOPERATIONS: Element(
        "NumberOfFailedSuboperations", VR.US, "number_of_failed_suboperations"
    ),
    NUMBER_OF_WARNING_SUBOPERATIONS: Element(
        "NumberOfWarningSuboperations", VR.US, "number_of_warning_suboperations"
    ),
    MOVE_ORIGINATOR_AE_TITLE: Element(
        "MoveOriginatorApplicationEntityTitle",
        VR.AE,
        "move_originator_application_entity_title",
    ),
    MOVE_ORIGINATOR_MESSAGE_ID: Element(
        "MoveOriginatorMessageID", VR.US, "move_originator_message_id"
    ),
}


def tag_name(element: int) -> str:
    """``(0000,eeee) Keyword`` for error messages."""
    entry = ELEMENTS.get(element)
    keyword = f" {entry.keyword}" if entry else ""
    return f"(0000,{element:04X}){keyword}"


def message_name(command_field: CommandField) -> str:
    """``C-STORE-RQ`` for :attr:`CommandField.C_STORE_RQ`."""
    return command_field.name.replace("_", "-")


# --- PS3.7 §9.3: the fields of each message ---------------------------------
# (element, usage) in ascending element order.  Command Group Length is not
# listed: it heads every command set (PS3.7 §6.3.1) and is computed.
M, U, C = "M", "U", "C"

_STATUS_FIELDS = ((OFFENDING_ELEMENT, C), (ERROR_COMMENT, C), (ERROR_ID, C))

MESSAGE_FIELDS: Final[dict[CommandField, tuple[tuple[int, str], ...]]] = {
    # §9.3.1.1 Table 9.3-1 C-STORE-RQ
    CommandField.C_STORE_RQ: (
        (AFFECTED_SOP_CLASS_UID, M),
        (COMMAND_FIELD, M),
        (MESSAGE_ID, M),
        (PRIORITY, M),
        (COMMAND_DATA_SET_TYPE, M),
        (AFFECTED_SOP_INSTANCE_UID, M),
        (MOVE_ORIGINATOR_AE_TITLE, U),
        (MOVE_ORIGINATOR_MESSAGE_ID, U),
    ),
    # §9.3.1.2 Table 9.3-2 C-STORE-RSP
    CommandField.C_STORE_RSP: (
        (AFFECTED_SOP_CLASS_UID, U),
        (COMMAND_FIELD, M),
        (MESSAGE_ID_BEING_RESPONDED_TO, M),
        (COMMAND_DATA_SET_TYPE, M),
        (STATUS, M),
        *_STATUS_FIELDS,
        (AFFECTED_SOP_INSTANCE_UID, U),
    ),
    # §9.3.2.1 Table 9.3-3 C-FIND-RQ
    CommandField.C_FIND_RQ: (
        (AFFECTED_SOP_CLASS_UID, M),
        (COMMAND_FIELD, M),
        (MESSAGE_ID, M),
        (PRIORITY, M),
        (COMMAND_DATA_SET_TYPE, M),
    ),
    # §9.3.2.2 Table 9.3-4 C-FIND-RSP
    CommandField.C_FIND_RSP: (
        (AFFECTED_SOP_CLASS_UID, U),
        (COMMAND_FIELD, M),
        (MESSAGE_ID_BEING_RESPONDED_TO, M),
        (COMMAND_DATA_SET_TYPE, M),
        (STATUS, M),
        *_STATUS_FIELDS,
    ),
    # §9.3.3.1 Table 9.3-6 C-GET-RQ
    CommandField.C_GET_RQ: (
        (AFFECTED_SOP_CLASS_UID, M),
        (COMMAND_FIELD, M),
        (MESSAGE_ID, M),
        (PRIORITY, M),
        (COMMAND_DATA_SET_TYPE, M),
    ),
    # §9.3.3.2 Table 9.3-7 C-GET-RSP
    CommandField.C_GET_RSP: (
        (AFFECTED_SOP_CLASS_UID, U),
        (COMMAND_FIELD, M),
        (MESSAGE_ID_BEING_RESPONDED_TO, M),
        (COMMAND_DATA_SET_TYPE, M),
        (STATUS, M),
        *_STATUS_FIELDS,
        (NUMBER_OF_REMAINING_SUBOPERATIONS, C),
        (NUMBER_OF_COMPLETED_SUBOPERATIONS, C),
        (NUMBER_OF_FAILED_SUBOPERATIONS, C),
        (NUMBER_OF_WARNING_SUBOPERATIONS, C),
    ),
    # §9.3.4.1 Table 9.3-9 C-MOVE-RQ
    CommandField.C_MOVE_RQ: (
        (AFFECTED_SOP_CLASS_UID, M),
        (COMMAND_FIELD, M),
        (MESSAGE_ID, M),
        (MOVE_DESTINATION, M),
        (PRIORITY, M),
        (COMMAND_DATA_SET_TYPE, M),
    ),
    # §9.3.4.2 Table 9.3-10 C-MOVE-RSP
    CommandField.C_MOVE_RSP: (
        (AFFECTED_SOP_CLASS_UID, U),
        (COMMAND_FIELD, M),
        (MESSAGE_ID_BEING_RESPONDED_TO, M),
        (COMMAND_DATA_SET_TYPE, M),
        (STATUS, M),
        *_STATUS_FIELDS,
        (NUMBER_OF_REMAINING_SUBOPERATIONS, C),
        (NUMBER_OF_COMPLETED_SUBOPERATIONS, C),
        (NUMBER_OF_FAILED_SUBOPERATIONS, C),
        (NUMBER_OF_WARNING_SUBOPERATIONS, C),
    ),
    # §9.3.5.1 Table 9.3-12 C-ECHO-RQ
    CommandField.C_ECHO_RQ: (
        (AFFECTED_SOP_CLASS_UID, M),
        (COMMAND_FIELD, M),
        (MESSAGE_ID, M),
        (COMMAND_DATA_SET_TYPE, M),
    ),
    # §9.3.5.2 Table 9.3-13 C-ECHO-RSP
    CommandField.C_ECHO_RSP: (
        (AFFECTED_SOP_CLASS_UID, U),
        (COMMAND_FIELD, M),
        (MESSAGE_ID_BEING_RESPONDED_TO, M),
        (COMMAND_DATA_SET_TYPE, M),
        (STATUS, M),
        *_STATUS_FIELDS,
    ),
    # §9.3.2.3 Table 9.3-5 C-CANCEL-FIND-RQ; the C-CANCEL-GET-RQ (§9.3.3.3)
    # and C-CANCEL-MOVE-RQ (§9.3.4.3) have the same fields.
    CommandField.C_CANCEL_RQ: (
        (COMMAND_FIELD, M),
        (MESSAGE_ID_BEING_RESPONDED_TO, M),
        (COMMAND_DATA_SET_TYPE, M),
    ),
}

# Where each table is, for error messages and the conformance statement.
MESSAGE_TABLES: Final[dict[CommandField, str]] = {
    CommandField.C_STORE_RQ: "PS3.7 §9.3.1.1 Table 9.3-1",
    CommandField.C_STORE_RSP: "PS3.7 §9.3.1.2 Table 9.3-2",
    CommandField.C_FIND_RQ: "PS3.7 §9.3.2.1 Table 9.3-3",
    CommandField.C_FIND_RSP: "PS3.7 §9.3.2.2 Table 9.3-4",
    CommandField.C_GET_RQ: "PS3.7 §9.3.3.1 Table 9.3-6",
    CommandField.C_GET_RSP: "PS3.7 §9.3.3.2 Table 9.3-7",
    CommandField.C_MOVE_RQ: "PS3.7 §9.3.4.1 Table 9.3-9",
    CommandField.C_MOVE_RSP: "PS3.7 §9.3.4.2 Table 9.3-10",
    CommandField.C_ECHO_RQ: "PS3.7 §9.3.5.1 Table 9.3-12",
    CommandField.C_ECHO_RSP: "PS3.7 §9.3.5.2 Table 9.3-13",
    CommandField.C_CANCEL_RQ: "PS3.7 §9.3.2.3 Table 9.3-5",
}
