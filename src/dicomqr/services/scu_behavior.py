"""What the Q/R SCU does with each status it receives: one table.

PS3.2 Annex N asks a conformance statement, for each status code an SCU of
the Query/Retrieve FIND and MOVE SOP classes may receive, to state the
application's behaviour (N.7.3.2.7.1, Table N.7-48 for C-FIND;
N.7.3.2.7.2, Table N.7-49 for C-MOVE), to add a row for every further code
it supports, and to close with an "other status codes" row.  This module is
that table, for C-FIND, C-MOVE and C-GET (PS3.2 has no C-GET template; its
rows follow PS3.4 C.4.3 and the seeds' C-GET status tables).  The SCU acts
on it and the conformance generator prints it, so the two cannot drift.

Row order is the seed's (PS3.2 2024c); rows the template does not have (the
further codes of the seeds' status tables: 0x0122, 0x0124, 0x0210-0x0212,
0xAA00-0xAA04) follow the template's failure rows, and "other status codes"
comes last.  The "Further Meaning" texts and the behaviour texts are ours;
the seed leaves the behaviour column for the implementer to fill in.

Every status other than Pending ends the operation (PS3.7 9.1.2-9.1.4, the
C-FIND, C-GET and C-MOVE services: a request gets any number of pending
responses and exactly one final one), so only :attr:`Action.CONTINUE` and
:attr:`Action.CONTINUE_WITH_WARNING` keep the SCU reading responses for the
request.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Final

from .. import status as _status
from .. import uids as _uids

__all__ = ["ROWS", "Action", "Behavior", "behavior", "rows"]

Category = _status.Category
QRService = _uids.QRService


class Action(enum.Enum):
    """What the SCU does on receiving a status."""

    CONTINUE = "continue"
    """Pending: hand the match or progress to the caller, keep reading."""
    CONTINUE_WITH_WARNING = "continue with warning"
    """Pending with a warning (0xFF01): as CONTINUE, the response flagged."""
    COMPLETE = "complete"
    """Final success: the operation is finished."""
    REPORT_WARNING = "report warning"
    """Final: finished, reported as a warning."""
    REPORT_FAILURE = "report failure"
    """Final: failed, reported as a failure."""
    REPORT_CANCEL = "report cancel"
    """Final: ended by the caller's C-CANCEL, reported as cancelled."""
    BY_STATUS_CLASS = "by status class"
    """Only on the "other status codes" row as listed by :func:`rows`: the
    action follows the code's PS3.7 Annex C class.  :func:`behavior` never
    returns it; it resolves the class for the code at hand."""

    @property
    def is_final(self) -> bool:
        """True when no further response for the request is expected."""
        return self not in (Action.CONTINUE, Action.CONTINUE_WITH_WARNING)


_ACTION_OF_CATEGORY: Final[Mapping[Category, Action]] = MappingProxyType({
    Category.SUCCESS: Action.COMPLETE,
    Category.PENDING: Action.CONTINUE,
    Category.WARNING: Action.REPORT_WARNING,
    Category.CANCEL: Action.REPORT_CANCEL,
    Category.FAILURE: Action.REPORT_FAILURE,
})


@dataclass(frozen=True, slots=True)
class Behavior:
    """One row of the table: the PS3.2 columns plus the action taken.

    ``first``/``last`` are the codes the row covers; both ``None`` on the
    "other status codes" row.  ``category`` is ``None`` only on that row as
    listed (PS3.2 prints "-" there).  ``related_fields`` are the command
    elements (group 0000) the response carries with this status.
    ``source`` says where the row comes from.
    """

    service: QRService
    category: Category | None
    meaning: str
    first: int | None
    last: int | None
    related_fields: tuple[int, ...]
    action: Action
    text: str
    source: str

    @property
    def is_other(self) -> bool:
        """True for the "other status codes" row."""
        return self.first is None

    @property
    def code_text(self) -> str:
        """The code as PS3.2 prints it: ``A801``, ``C000-CFFF``, ``anything else``."""
        if self.first is None or self.last is None:
            return "anything else"
        if self.first == self.last:
            return f"{self.first:04X}"
        return f"{self.first:04X}-{self.last:04X}"

    @property
    def related_fields_text(self) -> str:
        """``(0000,1020) (0000,1021)``, or ``-`` when there are none."""
        if not self.related_fields:
            return "-"
        return " ".join(f"({tag >> 16:04X},{tag & 0xFFFF:04X})" for tag in self.related_fields)

    def __contains__(self, code: object) -> bool:
        if not isinstance(code, int) or self.first is None or self.last is None:
            return False
        return self.first <= code <= self.last


# Command elements of PS3.7 (group 0000).
OFFENDING_ELEMENT: Final = 0x00000901
ERROR_COMMENT: Final = 0x00000902
_COUNTS: Final = (0x00001020, 0x00001021, 0x00001022, 0x00001023)  # remaining .. warning
_ERRORS: Final = (OFFENDING_ELEMENT, ERROR_COMMENT)

_N48: Final = "PS3.2 Table N.7-48"
_N49: Final = "PS3.2 Table N.7-49"
_SEED_TABLES: Final = "seed status tables (PS3.4 C.4 / PS3.7 Annex C)"
_C43: Final = "PS3.4 C.4.3 and the seed C-GET status tables"

# --- shared texts -------------------------------------------------------------

_NOT_RETRIED = "The request is not retried."
_FAILED_WITH_DETAILS = (
    "Final. Reported as a failure with the exact code and, when present, the "
    "Offending Element and Error Comment; for dicomqr's own codes the reason is "
    "named. " + _NOT_RETRIED
)
_IDENTIFIER_REJECTED = (
    "Final. Reported as a failure with the Offending Element and Error Comment "
    "when present: the identifier has to be corrected (its level or its keys). "
    + _NOT_RETRIED
)
_NOT_SUPPORTED = (
    "Final. Reported as a failure: the peer does not support this SOP class. "
    + _NOT_RETRIED
)
_OTHER_FINAL = (
    "Final, like every status that is not Pending. Treated by its PS3.7 Annex C "
    "status class: a code of the Warning class is reported as a warning, a code "
    "of the Failure class as a failure, and a code outside every class as a "
    "failure that is also logged as a protocol violation. The raw code is "
    "always shown."
)


def _row(service: QRService, category: Category, meaning: str, first: int,
         last: int | None, fields: tuple[int, ...], action: Action, text: str,
         source: str) -> Behavior:
    return Behavior(service, category, meaning, first, first if last is None else last,
                    fields, action, text, source)


def _other(service: QRService, text: str, source: str) -> Behavior:
    return Behavior(service, None, "Other status codes", None, None, (),
                    Action.BY_STATUS_CLASS, text, source)


_S, _P, _C, _W, _F = (Category.SUCCESS, Category.PENDING, Category.CANCEL,
                      Category.WARNING, Category.FAILURE)
_FAIL = Action.REPORT_FAILURE

# --- C-FIND: PS3.2 N.7.3.2.7.1, Table N.7-48 ------------------------------------------
# The template has no Related Fields column for C-FIND; the ones given are
# those of PS3.4 C.4.1.1.4 (Table C.4-1).

_FD = QRService.FIND
_FIND_ROWS: Final = (
    _row(_FD, _S, "Matching is complete; the final response carries no identifier",
         0x0000, None, (), Action.COMPLETE,
         "Final. The query is reported as complete; the matches already handed "
         "over are the whole result.", _N48),
    _row(_FD, _F, "Refused: out of resources", 0xA700, None, (ERROR_COMMENT,), _FAIL,
         "Final. Reported as a failure (the peer ran out of resources) with the "
         "Error Comment when present; matches already handed over are kept, but "
         "the result may be incomplete. " + _NOT_RETRIED, _N48),
    _row(_FD, _F, "Error: data set does not match SOP class", 0xA900, None, _ERRORS, _FAIL,
         _IDENTIFIER_REJECTED, _N48),
    _row(_FD, _F, "Error: unable to process", 0xC000, 0xCFFF, _ERRORS, _FAIL,
         _FAILED_WITH_DETAILS, _N48),
    _row(_FD, _F, "SOP class not supported", 0x0122, None, (), _FAIL, _NOT_SUPPORTED, _N48),
    _row(_FD, _C, "Matching terminated after a cancel", 0xFE00, None, (),
         Action.REPORT_CANCEL,
         "Final, after our C-CANCEL. Reported as cancelled; the matches handed "
         "over before it stand.", _N48),
    _row(_FD, _P, "Matches are continuing; this match honours optional keys like "
         "required ones", 0xFF00, None, (), Action.CONTINUE,
         "Not final. The identifier is decoded and handed to the caller as one "
         "match; the SCU keeps reading responses.", _N48),
    _row(_FD, _P, "Matches are continuing; one or more optional keys were not "
         "supported for this identifier", 0xFF01, None, (), Action.CONTINUE_WITH_WARNING,
         "Not final. As for FF00, and the match is flagged: the peer ignored one "
         "or more optional keys, so the match may not honour them. The SCU keeps "
         "reading responses.", _N48),
    _other(_FD, _OTHER_FINAL, _N48),
)

# --- C-MOVE: PS3.2 N.7.3.2.7.2, Table N.7-49 ------------------------------------------
# Related fields as the template gives them.


def _frame_rows(service: QRService, source: str) -> tuple[Behavior, ...]:
    text = ("Final. Reported as a failure of a frame-level or time-based retrieve "
            "(Composite Instance Root Retrieve), with the Error Comment when "
            "present; the request has to be changed. " + _NOT_RETRIED)
    meanings = (
        (0xAA00, "None of the requested frames were found in the SOP instance"),
        (0xAA01, "Unable to create a new object for this SOP class"),
        (0xAA02, "Unable to extract frames"),
        (0xAA03, "Time-based request for a SOP instance that is not time-based"),
        (0xAA04, "Invalid request"),
    )
    return tuple(_row(service, _F, meaning, code, None, (), _FAIL, text, source)
                 for code, meaning in meanings)


def _refusal_rows(service: QRService, codes: tuple[int, ...],
                  source: str) -> tuple[Behavior, ...]:
    texts = {
        0x0122: ("SOP class not supported", _NOT_SUPPORTED),
        0x0124: ("Refused: not authorized",
                 "Final. Reported as a failure: the peer refuses this requestor. "
                 + _NOT_RETRIED),
        0x0210: ("Duplicate invocation",
                 "Final. Reported as a failure: the Message ID was already in use on "
                 "the association. " + _NOT_RETRIED),
        0x0211: ("Unrecognized operation",
                 "Final. Reported as a failure: the peer does not recognise the "
                 "operation. " + _NOT_RETRIED),
        0x0212: ("Mistyped argument",
                 "Final. Reported as a failure: the peer found an argument of the "
                 "request mistyped. " + _NOT_RETRIED),
    }
    return tuple(_row(service, _F, texts[code][0], code, None, (), _FAIL, texts[code][1], source)
                 for code in codes)


_MV = QRService.MOVE
_MOVE_ROWS: Final = (
    _row(_MV, _S, "Sub-operations complete, no failures", 0x0000, None, _COUNTS,
         Action.COMPLETE,
         "Final. Reported as success with the sub-operation counts; every "
         "instance reached the move destination.", _N49),
    _row(_MV, _W, "Sub-operations complete, one or more failures or warnings", 0xB000, None,
         (0x00001020, 0x00001022, 0x00001023), Action.REPORT_WARNING,
         "Final. Reported as a warning with the counts and the Failed SOP "
         "Instance UID List (0008,0058) from the identifier when sent; the "
         "instances that reached the destination stand.", _N49),
    _row(_MV, _F, "Out of resources: unable to calculate the number of matches", 0xA701,
         None, (ERROR_COMMENT,), _FAIL,
         "Final. Reported as a failure with the Error Comment when present; no "
         "sub-operation was started. " + _NOT_RETRIED, _N49),
    _row(_MV, _F, "Out of resources: unable to perform sub-operations", 0xA702, None,
         _COUNTS, _FAIL,
         "Final. Reported as a failure with the counts that came with it (some "
         "sub-operations may have completed) and the Failed SOP Instance UID "
         "List when sent. " + _NOT_RETRIED, _N49),
    _row(_MV, _F, "Move destination unknown", 0xA801, None, (ERROR_COMMENT,), _FAIL,
         "Final. Reported as a failure naming the Move Destination AE title the "
         "peer does not know; it has to be configured at the peer. "
         + _NOT_RETRIED, _N49),
    _row(_MV, _F, "Data set does not match SOP class", 0xA900, None, _ERRORS, _FAIL,
         _IDENTIFIER_REJECTED, _N49),
    _row(_MV, _F, "Unable to process", 0xC000, 0xCFFF, _ERRORS, _FAIL,
         _FAILED_WITH_DETAILS, _N49),
    *_refusal_rows(_MV, (0x0122, 0x0124, 0x0210, 0x0211, 0x0212), _SEED_TABLES),
    *_frame_rows(_MV, _SEED_TABLES),
    _row(_MV, _C, "Sub-operations terminated after a cancel", 0xFE00, None, _COUNTS,
         Action.REPORT_CANCEL,
         "Final, after our C-CANCEL. Reported as cancelled with the counts "
         "(Remaining: the sub-operations never started); instances already at "
         "the destination stand.", _N49),
    _row(_MV, _P, "Sub-operations are continuing", 0xFF00, None, _COUNTS, Action.CONTINUE,
         "Not final. The counts are handed to the caller as progress; the SCU "
         "keeps reading responses.", _N49),
    _other(_MV, _OTHER_FINAL + " FF01, of the Pending class, is taken as FF00.", _N49),
)

# --- C-GET: no PS3.2 template; PS3.4 C.4.3 and the seeds' C-GET tables ---------------
# Laid out as the C-MOVE table, without 0xA801 (no destination) and 0x0211
# (not in the seeds' C-GET tables; "other status codes" covers it).

_GT = QRService.GET
_GET_ROWS: Final = (
    _row(_GT, _S, "Sub-operations complete, no failures", 0x0000, None, _COUNTS,
         Action.COMPLETE,
         "Final. Reported as success with the sub-operation counts; every "
         "instance was received on this association and handed to the "
         "storage sink.", _C43),
    _row(_GT, _W, "Sub-operations complete, one or more failures or warnings", 0xB000, None,
         (0x00001020, 0x00001022, 0x00001023), Action.REPORT_WARNING,
         "Final. Reported as a warning with the counts and the Failed SOP "
         "Instance UID List (0008,0058) from the identifier when sent; the "
         "instances received stay in the sink.", _C43),
    _row(_GT, _F, "Out of resources: unable to calculate the number of matches", 0xA701,
         None, (ERROR_COMMENT,), _FAIL,
         "Final. Reported as a failure with the Error Comment when present; no "
         "sub-operation was started. " + _NOT_RETRIED, _C43),
    _row(_GT, _F, "Out of resources: unable to perform sub-operations", 0xA702, None,
         _COUNTS, _FAIL,
         "Final. Reported as a failure with the counts that came with it and the "
         "Failed SOP Instance UID List when sent; instances already received "
         "stay in the sink. " + _NOT_RETRIED, _C43),
    _row(_GT, _F, "Data set does not match SOP class", 0xA900, None, _ERRORS, _FAIL,
         _IDENTIFIER_REJECTED, _C43),
    _row(_GT, _F, "Unable to process", 0xC000, 0xCFFF, _ERRORS, _FAIL,
         _FAILED_WITH_DETAILS, _C43),
    *_refusal_rows(_GT, (0x0122, 0x0124, 0x0210, 0x0212), _SEED_TABLES),
    *_frame_rows(_GT, _SEED_TABLES),
    _row(_GT, _C, "Sub-operations terminated after a cancel", 0xFE00, None, _COUNTS,
         Action.REPORT_CANCEL,
         "Final, after our C-CANCEL. Reported as cancelled with the counts; "
         "instances already received stay in the sink.", _C43),
    _row(_GT, _P, "Sub-operations are continuing", 0xFF00, None, _COUNTS, Action.CONTINUE,
         "Not final. The counts are handed to the caller as progress; the "
         "instances arrive as C-STORE requests on this association and go to "
         "the sink. The SCU keeps reading responses.", _C43),
    _other(_GT, _OTHER_FINAL + " FF01, of the Pending class, is taken as FF00.", _C43),
)

ROWS: Final[Mapping[QRService, tuple[Behavior, ...]]] = MappingProxyType({
    QRService.FIND: _FIND_ROWS,
    QRService.MOVE: _MOVE_ROWS,
    QRService.GET: _GET_ROWS,
})
"""The behaviour table of each operation, in seed order, "other" last."""


def _service(service: QRService | str) -> QRService:
    if isinstance(service, str):
        sop_class = _uids.qr_sop_class(service)
        if sop_class is not None:
            return sop_class.service
    return _uids.as_qr_service(service)


def rows(service: QRService | str) -> Iterator[Behavior]:
    """The rows for ``service`` (``FIND``/``MOVE``/``GET``, the enum or a Q/R
    SOP class UID) in seed order, ending with "other status codes"."""
    return iter(ROWS[_service(service)])


def behavior(service: QRService | str, code: int) -> Behavior:
    """What the SCU does on receiving status ``code`` for ``service``.

    The narrowest row holding the code answers.  A code no row holds gets
    the "other status codes" row with its category and action resolved from
    the code's PS3.7 Annex C status class (via :func:`dicomqr.status.category_of`).
    ``ValueError`` for an unknown service or a code that is not 16-bit.
    """
    if not 0 <= code <= 0xFFFF:
        raise ValueError(f"status code {code!r} is not a 16-bit value")
    table = ROWS[_service(service)]
    found: Behavior | None = None
    for row in table:
        if (row.first is not None and row.last is not None and row.first <= code <= row.last
                and (found is None or row.last - row.first < _width(found))):
            found = row
    if found is not None:
        return found
    category = _status.category_of(code)
    return replace(table[-1], category=category, action=_ACTION_OF_CATEGORY[category])


def _width(row: Behavior) -> int:
    assert row.first is not None and row.last is not None
    return row.last - row.first
