"""DIMSE status codes: their category and meaning, per service (PS3.7 Annex C).

Every response carries a 16-bit Status (0000,0900).  Its *category* follows
from the code alone, by the status class convention that opens PS3.7
Annex C::

    Success  0000
    Warning  0001, Bxxx, 0107, 0116
    Failure  Axxx, Cxxx, 01xx (but 0107 and 0116), 02xx
    Cancel   FE00
    Pending  FF00, FF01

Its *meaning* depends on the service: PS3.7 Annex C gives the general
statuses (01xx, 02xx and the class heads), and each service class in PS3.4
gives its own Axxx, Bxxx and Cxxx codes.  The same code can mean different
things in different services: 0xB000 is "coercion of data elements" for
C-STORE (PS3.4 B.2.3) but "sub-operations complete, one or more failures or
warnings" for C-GET and C-MOVE (PS3.4 C.4.2, C.4.3); 0xC000-0xCFFF is
"cannot understand" for C-STORE and "unable to process" for the Q/R
operations.  Hence one status table per :class:`Service`, and
:func:`lookup` takes the service to read a code against:

1. the entry of the service's table that holds the code (an exact code wins
   over a range, a narrower range over a wider one);
2. else the general table (PS3.7 Annex C);
3. with no service given, the meaning every service table agrees on, or the
   different meanings side by side (``C-STORE: ...; C-GET, C-MOVE: ...``);
4. else the status class convention above.  A code outside every class
   (e.g. 0x0300, 0xD000, 0xFF02) is one PS3.7 forbids implementations to
   use; it is reported as an unrecognized code in the Failure category.

The tables are the seeds' status tables (``shared/seeds``) for the
Query/Retrieve, Defined Procedure Protocol, Protocol Approval and Color
Palette Q/R service classes, in their order, with the descriptions in our
own words, plus the Storage (PS3.4 B.2.3) and Verification (PS3.4 Annex A)
tables.  Entries flagged ``implementation_specific`` are dicomqr's own
Cxxx codes for the handler-contract failures of DESIGN.md (pynetdicom uses
the same codes); from another peer, such a code only means "unable to
process".
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from . import uids as _uids

__all__ = [
    "GENERAL_STATUSES",
    "STATUS_TABLES",
    "Category",
    "Service",
    "StatusEntry",
    "StatusInfo",
    "category_of",
    "class_category",
    "describe",
    "is_conformant",
    "lookup",
    "table",
]


class Category(enum.Enum):
    """The five status classes of PS3.7 Annex C."""

    SUCCESS = "Success"
    PENDING = "Pending"
    CANCEL = "Cancel"
    WARNING = "Warning"
    FAILURE = "Failure"


# --- Codes ------------------------------------------------------------------

SUCCESS = 0x0000
CANCEL = 0xFE00
PENDING = 0xFF00
PENDING_WARNING = 0xFF01

# General statuses (PS3.7 Annex C); only the ones dicomqr names in code.
OPTIONAL_ATTRIBUTES_NOT_SUPPORTED = 0x0001
PROCESSING_FAILURE = 0x0110
SOP_CLASS_NOT_SUPPORTED = 0x0122
NOT_AUTHORIZED = 0x0124
DUPLICATE_INVOCATION = 0x0210
UNRECOGNIZED_OPERATION = 0x0211
MISTYPED_ARGUMENT = 0x0212
RESOURCE_LIMITATION = 0x0213

# Storage (PS3.4 B.2.3, Table B.2-1)
OUT_OF_RESOURCES = 0xA700
DATASET_DOES_NOT_MATCH_SOP_CLASS = 0xA900
CANNOT_UNDERSTAND = 0xC000
COERCION_OF_DATA_ELEMENTS = 0xB000
DATASET_DOES_NOT_MATCH_SOP_CLASS_WARNING = 0xB007
ELEMENTS_DISCARDED = 0xB006

# Query/Retrieve (PS3.4 C.4.1-C.4.3).  0xA700, 0xA900 and 0xC000 have the
# names above; for C-GET/C-MOVE 0xB000 is SUB_OPERATIONS_WARNING.
IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS = 0xA900
UNABLE_TO_PROCESS = 0xC000
OUT_OF_RESOURCES_MATCHES = 0xA701
OUT_OF_RESOURCES_SUB_OPERATIONS = 0xA702
MOVE_DESTINATION_UNKNOWN = 0xA801
SUB_OPERATIONS_WARNING = 0xB000
# Frame-level and time-based retrieve (PS3.4 Annex Y)
NO_FRAMES_FOUND = 0xAA00
UNABLE_TO_CREATE_NEW_OBJECT = 0xAA01
UNABLE_TO_EXTRACT_FRAMES = 0xAA02
TIME_BASED_REQUEST_FOR_NON_TIME_BASED = 0xAA03
INVALID_REQUEST = 0xAA04

# dicomqr's own codes in the Cxxx "unable to process" range, for the
# handler-contract failures of DESIGN.md (the seeds' implementation-specific
# statuses).
HANDLER_STATUS_WITHOUT_STATUS_ELEMENT = 0xC001
HANDLER_STATUS_INVALID = 0xC002
FIND_IDENTIFIER_UNDECODABLE = 0xC310
FIND_HANDLER_RAISED = 0xC311
FIND_RESULT_UNENCODABLE = 0xC312
GET_IDENTIFIER_UNDECODABLE = 0xC410
GET_HANDLER_RAISED = 0xC411
GET_BAD_SUB_OPERATION_COUNT = 0xC413
MOVE_IDENTIFIER_UNDECODABLE = 0xC510
MOVE_HANDLER_RAISED = 0xC511
MOVE_BAD_SUB_OPERATION_COUNT = 0xC513
MOVE_NO_DESTINATION_OR_COUNT = 0xC514
MOVE_BAD_DESTINATION = 0xC515


# --- Services and entries -------------------------------------------------------


class Service(enum.Enum):
    """One status table: a DIMSE operation of one service class.

    The value reads "<service class> <DIMSE operation>".  Composite Instance
    Root Retrieve (PS3.4 Annex Y) and Composite Instance Retrieve Without
    Bulk Data (Annex Z) use the Query/Retrieve tables.
    """

    VERIFICATION = "Verification C-ECHO"
    STORAGE = "Storage C-STORE"
    QR_FIND = "Query/Retrieve C-FIND"
    QR_GET = "Query/Retrieve C-GET"
    QR_MOVE = "Query/Retrieve C-MOVE"
    DPP_FIND = "Defined Procedure Protocol Query/Retrieve C-FIND"
    DPP_GET = "Defined Procedure Protocol Query/Retrieve C-GET"
    DPP_MOVE = "Defined Procedure Protocol Query/Retrieve C-MOVE"
    PROTOCOL_APPROVAL_FIND = "Protocol Approval Query/Retrieve C-FIND"
    PROTOCOL_APPROVAL_GET = "Protocol Approval Query/Retrieve C-GET"
    PROTOCOL_APPROVAL_MOVE = "Protocol Approval Query/Retrieve C-MOVE"
    COLOR_PALETTE_FIND = "Color Palette Query/Retrieve C-FIND"
    COLOR_PALETTE_GET = "Color Palette Query/Retrieve C-GET"
    COLOR_PALETTE_MOVE = "Color Palette Query/Retrieve C-MOVE"

    @property
    def dimse(self) -> str:
        """The DIMSE operation: ``C-FIND``, ``C-STORE``, ..."""
        return self.value.rsplit(" ", 1)[1]

    @property
    def service_class(self) -> str:
        """The PS3.4 service class, e.g. ``Protocol Approval Query/Retrieve``."""
        return self.value.rsplit(" ", 1)[0]

    @classmethod
    def for_sop_class(cls, uid: str) -> Service | None:
        """The table for responses on SOP class ``uid``: Verification, any
        storage SOP class, or one of the 21 Q/R SOP classes; else ``None``."""
        if uid == _uids.VERIFICATION_SOP_CLASS:
            return cls.VERIFICATION
        if _uids.is_storage_sop_class(uid):
            return cls.STORAGE
        qr = _uids.qr_sop_class(uid)
        if qr is None:
            return None
        return cls(f"{qr.model.service_class} {qr.dimse}")


@dataclass(frozen=True, slots=True)
class StatusEntry:
    """One row of a status table: a code (``first == last``) or a range."""

    first: int
    last: int
    category: Category
    description: str
    implementation_specific: bool = False

    def __contains__(self, code: object) -> bool:
        return isinstance(code, int) and self.first <= code <= self.last

    @property
    def span(self) -> int:
        """How many codes the entry covers (1 for a single code)."""
        return self.last - self.first + 1

    @property
    def code_text(self) -> str:
        """``0xA700`` or ``0xC000-0xCFFF``."""
        if self.first == self.last:
            return f"0x{self.first:04X}"
        return f"0x{self.first:04X}-0x{self.last:04X}"


@dataclass(frozen=True, slots=True)
class StatusInfo:
    """What :func:`lookup` knows of one code.

    ``service`` is the table the meaning came from, ``None`` when it came
    from the general table, from several tables at once, or from the status
    class convention alone.
    """

    code: int
    category: Category
    description: str
    service: Service | None

    def __str__(self) -> str:
        return f"0x{self.code:04X} {self.description}"


_S, _P, _C, _W, _F = (Category.SUCCESS, Category.PENDING, Category.CANCEL,
                      Category.WARNING, Category.FAILURE)


def _e(code: int, category: Category, description: str, last: int | None = None) -> StatusEntry:
    return StatusEntry(code, code if last is None else last, category, description)


def _impl(code: int, description: str) -> StatusEntry:
    return StatusEntry(code, code, _F, description, implementation_specific=True)


# --- The general statuses (PS3.7 Annex C) ----------------------------------------

GENERAL_STATUSES: Final[tuple[StatusEntry, ...]] = (
    _e(0x0000, _S, "Success"),
    _e(0x0001, _W, "Warning: requested optional attributes are not supported"),
    _e(0x0105, _F, "No such attribute"),
    _e(0x0106, _F, "Invalid attribute value"),
    _e(0x0107, _W, "Warning: attribute list error"),
    _e(0x0110, _F, "Processing failure"),
    _e(0x0111, _F, "Duplicate SOP instance"),
    _e(0x0112, _F, "No such SOP instance"),
    _e(0x0113, _F, "No such event type"),
    _e(0x0114, _F, "No such argument"),
    _e(0x0115, _F, "Invalid argument value"),
    _e(0x0116, _W, "Warning: attribute value out of range"),
    _e(0x0117, _F, "Invalid object instance"),
    _e(0x0118, _F, "No such SOP class"),
    _e(0x0119, _F, "Class-instance conflict"),
    _e(0x0120, _F, "Missing attribute"),
    _e(0x0121, _F, "Missing attribute value"),
    _e(0x0122, _F, "Refused: SOP class not supported"),
    _e(0x0123, _F, "No such action"),
    _e(0x0124, _F, "Refused: not authorized"),
    _e(0x0210, _F, "Duplicate invocation: the Message ID is already in use"),
    _e(0x0211, _F, "Unrecognized operation"),
    _e(0x0212, _F, "Mistyped argument"),
    _e(0x0213, _F, "Resource limitation"),
    _e(0xFE00, _C, "Cancel"),
    _e(0xFF00, _P, "Pending"),
    _e(0xFF01, _P, "Pending: one or more optional keys were not supported"),
)
"""PS3.7 Annex C: the statuses whose meaning no service class may change."""


# --- Per-service tables -----------------------------------------------------------

_VERIFICATION: Final = (_e(0x0000, _S, "Success: the peer answered the echo"),)

# PS3.4 B.2.3, Table B.2-1.
_STORAGE: Final = (
    _e(0x0000, _S, "Success: the instance was stored"),
    _e(0xA700, _F, "Refused: out of resources", last=0xA7FF),
    _e(0xA900, _F, "Error: data set does not match SOP class", last=0xA9FF),
    _e(0xC000, _F, "Error: cannot understand", last=0xCFFF),
    _e(0xB000, _W, "Warning: coercion of data elements"),
    _e(0xB007, _W, "Warning: data set does not match SOP class"),
    _e(0xB006, _W, "Warning: elements discarded"),
)

_UNABLE_TO_PROCESS = "Failed: unable to process"
_HANDLER_STATUSES: Final = (
    _impl(0xC001, "Handler yielded a status Dataset without a Status (0000,0900) element"),
    _impl(0xC002, "Handler yielded a status that is neither an int nor a Dataset"),
)

# C-FIND, the same for all four service classes in the seeds (PS3.4
# C.4.1.1.4, Table C.4-1; the Color Palette annex defines its C-FIND by
# reference to the Basic Worklist one, PS3.4 X.4.1 -> K.4.1, whose codes are
# the same).  Seed order: the DIMSE
# statuses, the service statuses, then the implementation-specific ones.
# The seeds word 0xFE00 for C-FIND as "processing has been terminated";
# PS3.4 says matching was terminated by a cancel request, as here.
_FIND: Final = (
    _e(0x0000, _S, "Success: matching is complete"),
    _e(0x0122, _F, "Refused: SOP class not supported"),
    _e(0xFE00, _C, "Cancel: matching was terminated by a C-CANCEL request"),
    _e(0xA700, _F, "Refused: out of resources"),
    _e(0xA900, _F, "Error: data set does not match SOP class"),
    _e(0xC000, _F, _UNABLE_TO_PROCESS, last=0xCFFF),
    _e(0xFF00, _P, "Pending: a match follows; optional keys were supported like required ones"),
    _e(0xFF01, _P, "Pending: a match follows; one or more optional keys were not supported"),
    *_HANDLER_STATUSES,
    _impl(0xC310, "The C-FIND request identifier could not be decoded"),
    _impl(0xC311, "The find handler raised an exception"),
    _impl(0xC312, "The identifier the find handler yielded could not be encoded"),
)

# C-GET and C-MOVE (PS3.4 C.4.2.1.5 / C.4.3.1.4, Tables C.4-2 / C.4-3).
#
# 0xB000: the seeds' text is cut short ("one or more or warnings").  PS3.4
# (and PS3.2 Table N.7-49) word the C-MOVE one "one or more failures", but
# the SCP behaviour of C.4.2.3.1 / C.4.3.3.1 sends it when any sub-operation
# failed *or* ended with a warning, so both read "failures or warnings" here.
#
# 0xAA00-0xAA04 belong to frame-level and time-based retrieval, defined by
# Composite Instance Root Retrieve (PS3.4 Annex Y).  The Q/R and Protocol
# Approval seeds list them for every retrieve; the Defined Procedure
# Protocol and Color Palette seeds do not, and those tables leave them out
# (a code looked up there falls back to the Axxx failure class).  Only the
# Composite Instance Root Retrieve SOP classes can actually produce them.
#
# The seeds' C-GET tables do not list 0x0211 (unrecognized operation), their
# C-MOVE tables do; it is general (PS3.7 Annex C), so a lookup finds it
# either way.
_SUB_OPERATIONS_WARNING = "Warning: sub-operations complete, one or more failures or warnings"
_FRAME_STATUSES: Final = (
    _e(0xAA00, _F, "Failed: none of the requested frames were found in the SOP instance"),
    _e(0xAA01, _F, "Failed: unable to create a new object for this SOP class"),
    _e(0xAA02, _F, "Failed: unable to extract frames"),
    _e(0xAA03, _F, "Failed: time-based request for a SOP instance that is not time-based"),
    _e(0xAA04, _F, "Failed: invalid request"),
)


def _get(frames: bool) -> tuple[StatusEntry, ...]:
    return (
        _e(0x0000, _S, "Success: all sub-operations completed without failures or warnings"),
        _e(0x0122, _F, "Refused: SOP class not supported"),
        _e(0x0124, _F, "Refused: not authorized"),
        _e(0x0210, _F, "Duplicate invocation: the Message ID is already in use"),
        _e(0x0212, _F, "Mistyped argument"),
        _e(0xFE00, _C, "Cancel: sub-operations were terminated by a C-CANCEL request"),
        _e(0xA701, _F, "Refused: out of resources, unable to calculate the number of matches"),
        _e(0xA702, _F, "Refused: out of resources, unable to perform sub-operations"),
        _e(0xA900, _F, "Error: data set does not match SOP class"),
        *(_FRAME_STATUSES if frames else ()),
        _e(0xB000, _W, _SUB_OPERATIONS_WARNING),
        _e(0xC000, _F, _UNABLE_TO_PROCESS, last=0xCFFF),
        _e(0xFF00, _P, "Pending: sub-operations are continuing"),
        *_HANDLER_STATUSES,
        _impl(0xC410, "The C-GET request identifier could not be decoded"),
        _impl(0xC411, "The get handler raised an exception"),
        _impl(0xC413, "The get handler yielded an invalid number of sub-operations"),
    )


# The seeds describe 0xC511 as an exception in the *get* handler; it is the
# move handler's (DESIGN.md, handler contract).
def _move(frames: bool) -> tuple[StatusEntry, ...]:
    return (
        _e(0x0000, _S, "Success: all sub-operations completed without failures or warnings"),
        _e(0x0122, _F, "Refused: SOP class not supported"),
        _e(0x0124, _F, "Refused: not authorized"),
        _e(0x0210, _F, "Duplicate invocation: the Message ID is already in use"),
        _e(0x0211, _F, "Unrecognized operation"),
        _e(0x0212, _F, "Mistyped argument"),
        _e(0xFE00, _C, "Cancel: sub-operations were terminated by a C-CANCEL request"),
        _e(0xA701, _F, "Refused: out of resources, unable to calculate the number of matches"),
        _e(0xA702, _F, "Refused: out of resources, unable to perform sub-operations"),
        _e(0xA801, _F, "Refused: move destination unknown"),
        _e(0xA900, _F, "Error: data set does not match SOP class"),
        *(_FRAME_STATUSES if frames else ()),
        _e(0xB000, _W, _SUB_OPERATIONS_WARNING),
        _e(0xC000, _F, _UNABLE_TO_PROCESS, last=0xCFFF),
        _e(0xFF00, _P, "Pending: sub-operations are continuing"),
        *_HANDLER_STATUSES,
        _impl(0xC510, "The C-MOVE request identifier could not be decoded"),
        _impl(0xC511, "The move handler raised an exception"),
        _impl(0xC513, "The move handler yielded an invalid number of sub-operations"),
        _impl(0xC514, "The move handler yielded no destination or no number of sub-operations"),
        _impl(0xC515, "The move handler yielded an invalid (address, port) destination"),
    )


STATUS_TABLES: Final[Mapping[Service, tuple[StatusEntry, ...]]] = MappingProxyType({
    Service.VERIFICATION: _VERIFICATION,
    Service.STORAGE: _STORAGE,
    Service.QR_FIND: _FIND,
    Service.QR_GET: _get(frames=True),
    Service.QR_MOVE: _move(frames=True),
    Service.DPP_FIND: _FIND,
    Service.DPP_GET: _get(frames=False),
    Service.DPP_MOVE: _move(frames=False),
    Service.PROTOCOL_APPROVAL_FIND: _FIND,
    Service.PROTOCOL_APPROVAL_GET: _get(frames=True),
    Service.PROTOCOL_APPROVAL_MOVE: _move(frames=True),
    Service.COLOR_PALETTE_FIND: _FIND,
    Service.COLOR_PALETTE_GET: _get(frames=False),
    Service.COLOR_PALETTE_MOVE: _move(frames=False),
})
"""Each service's own statuses, in seed order (the general ones are in
:data:`GENERAL_STATUSES` and apply to every service as well)."""


def table(service: Service | str) -> tuple[StatusEntry, ...]:
    """The status table of ``service`` (a :class:`Service` or a SOP class UID)."""
    resolved = _resolve(service)
    if resolved is None:
        raise KeyError(f"no status table for {service!r}")
    return STATUS_TABLES[resolved]


# --- Lookup -----------------------------------------------------------------------


def _best(entries: Iterable[StatusEntry], code: int) -> StatusEntry | None:
    """The narrowest entry holding ``code`` (the first of equals)."""
    found: StatusEntry | None = None
    for entry in entries:
        if entry.first <= code <= entry.last and (found is None or entry.span < found.span):
            found = entry
    return found


def class_category(code: int) -> Category:
    """The category of ``code`` by the status class convention of PS3.7
    Annex C alone; codes outside every class are failures."""
    if code == 0x0000:
        return Category.SUCCESS
    if code in (0xFF00, 0xFF01):
        return Category.PENDING
    if code == 0xFE00:
        return Category.CANCEL
    if code in (0x0001, 0x0107, 0x0116) or 0xB000 <= code <= 0xBFFF:
        return Category.WARNING
    return Category.FAILURE


def is_conformant(code: int) -> bool:
    """Whether ``code`` falls in one of the status classes of PS3.7 Annex C
    (implementations "shall not use" any other)."""
    return (
        code in (0x0000, 0x0001, 0xFE00, 0xFF00, 0xFF01)
        or 0x0100 <= code <= 0x02FF
        or 0xA000 <= code <= 0xCFFF
    )


def _class_description(code: int) -> str:
    if not is_conformant(code):
        return "Unrecognized status code (outside every PS3.7 status class), taken as a failure"
    if 0xB000 <= code <= 0xBFFF:
        return "Warning (code specific to the service class)"
    if 0x0100 <= code <= 0x02FF:
        return "Failure (code reserved by the DICOM standard)"
    return "Failure (code specific to the service class or implementation)"


def _merged(code: int) -> StatusInfo | None:
    """The meaning of ``code`` across every service table (no service given)."""
    hits = [(svc, entry) for svc, entries in STATUS_TABLES.items()
            if (entry := _best(entries, code)) is not None]
    if not hits:
        return None
    narrowest = min(entry.span for _, entry in hits)
    hits = [(svc, entry) for svc, entry in hits if entry.span == narrowest]
    by_text: dict[str, list[Service]] = {}
    for svc, entry in hits:
        by_text.setdefault(entry.description, []).append(svc)
    category = hits[0][1].category
    if len(by_text) == 1:
        only = hits[0][0] if len(hits) == 1 else None
        return StatusInfo(code, category, hits[0][1].description, only)
    parts = []
    for text, owners in by_text.items():
        names = ", ".join(sorted({svc.dimse for svc in owners}))
        parts.append(f"{names}: {text}")
    return StatusInfo(code, category, "; ".join(parts), None)


_GENERAL_BY_CODE: Final = {entry.first: entry for entry in GENERAL_STATUSES}


def _resolve(service: Service | str | None) -> Service | None:
    if service is None or isinstance(service, Service):
        return service
    return Service.for_sop_class(service)


@functools.lru_cache(maxsize=8192)
def _lookup(code: int, service: Service | None) -> StatusInfo:
    if service is not None:
        entry = _best(STATUS_TABLES[service], code)
        if entry is not None:
            return StatusInfo(code, entry.category, entry.description, service)
    general = _GENERAL_BY_CODE.get(code)
    if general is not None:
        return StatusInfo(code, general.category, general.description, None)
    if service is None:
        merged = _merged(code)
        if merged is not None:
            return merged
    return StatusInfo(code, class_category(code), _class_description(code), None)


def lookup(code: int, service: Service | str | None = None) -> StatusInfo:
    """Category and meaning of any 16-bit status ``code``.

    ``service`` is a :class:`Service` or the SOP class UID of the request
    (Verification, a storage SOP class or one of the 21 Q/R SOP classes; any
    other UID reads as no service).  The order in which the tables are read
    is in the module docstring.  ``ValueError`` if ``code`` is not 16-bit.
    """
    if not 0 <= code <= 0xFFFF:
        raise ValueError(f"status code {code!r} is not a 16-bit value")
    return _lookup(code, _resolve(service))


def category_of(code: int, service: Service | str | None = None) -> Category:
    """The category of any status code (PS3.7 Annex C); as :func:`lookup`."""
    return lookup(code, service).category


def describe(code: int, service: Service | str | None = None) -> str:
    """``0xA801 Refused: move destination unknown``: the code and its meaning."""
    return str(lookup(code, service))
