"""DIMSE status codes and their categories (PS3.7 Annex C).

This module holds the general statuses and those of the Verification and
Storage service classes; the Query/Retrieve tables join them later.
"""

from __future__ import annotations

import enum

__all__ = ["Category", "category_of", "describe"]


class Category(enum.Enum):
    SUCCESS = "Success"
    PENDING = "Pending"
    CANCEL = "Cancel"
    WARNING = "Warning"
    FAILURE = "Failure"


SUCCESS = 0x0000
CANCEL = 0xFE00
PENDING = 0xFF00
PENDING_WARNING = 0xFF01

# General failures (PS3.7 C.5)
DUPLICATE_INVOCATION = 0x0210
UNRECOGNIZED_OPERATION = 0x0211
MISTYPED_ARGUMENT = 0x0212
SOP_CLASS_NOT_SUPPORTED = 0x0122
NOT_AUTHORIZED = 0x0124
PROCESSING_FAILURE = 0x0110

# Storage (PS3.4 B.2.3)
OUT_OF_RESOURCES = 0xA700
DATASET_DOES_NOT_MATCH_SOP_CLASS = 0xA900
CANNOT_UNDERSTAND = 0xC000
COERCION_OF_DATA_ELEMENTS = 0xB000
DATASET_DOES_NOT_MATCH_SOP_CLASS_WARNING = 0xB007
ELEMENTS_DISCARDED = 0xB006

_DESCRIPTIONS: dict[int, str] = {
    SUCCESS: "Success",
    CANCEL: "Cancel",
    PENDING: "Pending",
    PENDING_WARNING: "Pending: one or more optional keys were not supported",
    DUPLICATE_INVOCATION: "Duplicate invocation: the Message ID is already in use",
    UNRECOGNIZED_OPERATION: "Unrecognized operation",
    MISTYPED_ARGUMENT: "Mistyped argument",
    SOP_CLASS_NOT_SUPPORTED: "SOP class not supported",
    NOT_AUTHORIZED: "Refused: not authorized",
    PROCESSING_FAILURE: "Processing failure",
    OUT_OF_RESOURCES: "Refused: out of resources",
    DATASET_DOES_NOT_MATCH_SOP_CLASS: "Error: data set does not match SOP class",
    CANNOT_UNDERSTAND: "Error: cannot understand",
    COERCION_OF_DATA_ELEMENTS: "Coercion of data elements",
    DATASET_DOES_NOT_MATCH_SOP_CLASS_WARNING: "Data set does not match SOP class",
    ELEMENTS_DISCARDED: "Elements discarded",
}


def category_of(code: int) -> Category:
    """The category of any status code (PS3.7 C.1.2 and Annex C ranges)."""
    if code == SUCCESS:
        return Category.SUCCESS
    if code in (PENDING, PENDING_WARNING):
        return Category.PENDING
    if code == CANCEL:
        return Category.CANCEL
    if code == 0x0001 or 0xB000 <= code <= 0xBFFF or code == 0x0107 or code == 0x0116:
        return Category.WARNING
    return Category.FAILURE


def describe(code: int) -> str:
    """A human description of ``code`` (its category when it has no entry)."""
    text = _DESCRIPTIONS.get(code)
    if text is None:
        if 0xA700 <= code <= 0xA7FF:
            text = "Refused: out of resources"
        elif 0xA900 <= code <= 0xA9FF:
            text = "Error: data set does not match SOP class"
        elif 0xC000 <= code <= 0xCFFF:
            text = "Error: cannot understand"
        else:
            text = category_of(code).value
    return f"0x{code:04X} {text}"
