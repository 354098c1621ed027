"""Validation of a request Identifier against its SOP class's information model.

Pure code: :func:`validate` looks at an Identifier (a pydicom ``Dataset``)
and the SOP class it came with, and either returns what the request asks
for (:class:`QuerySpec`) or raises :class:`InvalidIdentifier` carrying the
status, Error Comment and Offending Element an SCP answers with.  It checks
the *structure* of the Identifier; matching is somebody else's job.

Theory: what each rule comes from (PS3.4; section numbers as in the standard)
------------------------------------------------------------------------------

Status codes.  A structurally wrong Identifier is "Error: Data Set does not
match SOP Class", 0xA900, with Offending Element (0000,0901) and Error
Comment (0000,0902) (Tables C.4-1, C.4-2, C.4-3; K.4-1 for the
worklist-style C-FIND of Annexes X, HH and II).  Annex Y adds "Failed:
Invalid Request", 0xAA04, with the same two fields (Tables Y.4-1, Y.4-2):
it is used here for FRAME-level requests whose frame selection is
malformed.

Hierarchical models (Patient Root, Study Root, Patient/Study Only):

1. Query/Retrieve Level (0008,0052) shall be present in every C-FIND,
   C-MOVE and C-GET Identifier (C.4.1.1.3.1, C.4.2.1.4.1, C.4.3.1.3.1) and
   be one of the model's levels (Tables C.6.1-1, C.6.2-1).  Missing or
   other → 0xA900 naming (0008,0052).  FRAME is a level of Annex Y only.
2. C-FIND, hierarchical (baseline) search: the Identifier "shall contain a
   single value in the Unique Key Attribute for each level above the
   Query/Retrieve level.  No Required or Optional Keys shall be specified
   that are associated with levels above" (C.4.1.2.1).  A missing, empty,
   multi-valued or wild-carded unique key above the level, or a table key
   (R or O) of a level above → 0xA900 naming it.  In Study Root the
   patient attributes are keys of the STUDY level (Table C.6-5), so they
   are at the level of a STUDY query, not above it.
3. C-FIND, relational-queries (C.4.1.2.2.1, C.4.1.3.2.1): "any combination
   of keys at any level"; the unique keys above may be absent.
4. C-FIND, keys below the query level: C.4.1.2.1 restricts only the levels
   above, and the SCP's hierarchical search matches the keys of the query
   level only (C.4.1.3.1.1 a).  They are accepted (lenient: the standard
   does not forbid them) and left to the matcher, which ignores what is not
   a key of the level (C.2.2.1.3: an unsupported optional key is not
   matched).
5. C.4.1.2.1 also says the unique key *of* the query level "shall be
   contained"; SCUs omit it all the time and its absence means the same as
   Universal Matching, so that is not enforced (lenient).
6. C-MOVE / C-GET, baseline (C.4.2.2.1, C.4.3.2.1): a single value in the
   unique key of each level above; at the retrieve level a single value if
   it is PATIENT, otherwise one UID or a list of UIDs (List of UID Matching,
   C.2.2.2.2; only Single Value Matching for Patient ID, C.4.2.1.4.1 note
   1).  Unique keys "shall be contained" in C-MOVE and C-GET Identifiers
   (C.2.2.1.1).  Missing or malformed → 0xA900.  Relational-retrieve
   (C.4.2.2.2.1, C.4.3.2.2.1) drops the requirement for the levels above.
7. Other keys in a retrieve: C.2.2.1.2 and C.2.2.1.3 say Required and
   Optional keys "shall not be contained" in C-MOVE/C-GET Identifiers --
   an SCU requirement.  The SCP "shall identify a set of Entities at the
   level of the transfer based upon the values in the Unique Keys"
   (C.4.2.3.1, C.4.3.3.1), so such keys change nothing; real SCUs send them
   (Patient ID in a Study Root STUDY move is common).  They are accepted and
   ignored (lenient), as are unique keys of levels below the retrieve level
   (C.6.1.1.6: the level alone decides what is transferred).

Attributes that are not keys (all models unless said otherwise):

- Specific Character Set (0008,0005) "may be present" and is never matched
  (C.2.2.2, C.4.1.1.3.1, K.2.2.2).  C.2.2.2 says it shall not be zero
  length; an empty one means the default repertoire either way and is
  accepted (lenient).  Annexes Y and Z: it "shall not be present"
  (Y.4.1.1.3.1, Y.4.2.1.3.1, Z.4.2.1.3.1) → 0xA900.
- Timezone Offset From UTC (0008,0201) may be present and is not matched
  (C.2.2.2, K.2.2.2); "it shall not be sent with a zero-length value"
  (C.4.1.1.3.1) -- an empty one carries no offset and is accepted (lenient).
- Query/Retrieve View (0008,0053) may be included only if Enhanced
  Multi-Frame Image Conversion was negotiated (C.4.1.1.3.1, C.4.2.1.4.1,
  C.4.3.1.3.1, Y.4.x, Z.4.2.1.3.1); this module does not see the
  negotiation (the service layer does), so it only checks the value is
  CLASSIC or ENHANCED (C.4.1.2.2.2) → else 0xA900.
- Instance Availability (0008,0056) "shall not be included in a C-FIND
  request" (C.4.1.1.3.2).  SCUs do list it, empty, to have it returned;
  that is accepted (lenient), a value (which could not be matched) →
  0xA900.
- Private attributes and any attribute no table names: accepted ("all
  other attributes at this level" are optional keys, Tables C.6-1 to C.6-5;
  C.4.1.1.3.2 note 4 lets the SCP ignore unrecognised private attributes).
- Groups below 0008 are not part of a Data Set (C.4.1.1.3 note) and are
  not reported as keys.

Annex Y, Composite Instance Root Retrieve (C-MOVE and C-GET only):

- Query/Retrieve Level IMAGE or FRAME (Table Y.6.1-1) → else 0xA900.
- SOP Instance UID(s) (0008,0018) shall be present (Y.4.1.1.3.1,
  Y.4.2.1.3.1) → else 0xA900.  IMAGE: one UID or a list of UIDs
  (Y.4.1.2.1, Y.4.2.2.1).  FRAME: "the single SOP Instance UID" → a list is
  0xAA04.
- FRAME: "One and only one" of Simple Frame List (0008,1161), Calculated
  Frame List (0008,1162), Time Range (0008,1163) (Y.6.1.1.3) → none or
  several is 0xAA04.  Their shapes (Y.3.2.1): Simple Frame List, frame
  numbers from 1, no duplicates, increasing monotonically; Calculated
  Frame List, 3-tuples (first ≥ 1, last ≥ first, increment > 0) whose
  frames do not overlap and increase, with FFFFFFFFH as an end only in the
  last tuple; Time Range, two values, start ≤ end.  Otherwise 0xAA04.
- Frame Range Keys with Query/Retrieve Level IMAGE: the standard names them
  for the FRAME level only; ignoring them would send whole instances where
  frames were asked for, so → 0xAA04.
- Relational-retrieve "shall not be supported" (Y.4.1.2.2, Y.4.2.2.2): a
  ``relational=True`` request is validated as baseline.

Annex Z, Composite Instance Retrieve Without Bulk Data (C-GET only):
Query/Retrieve Level "shall be IMAGE", SOP Instance UID(s) present, one UID
or a list (Z.4.2.1.3.1, Z.4.2.2.1) → else 0xA900; no relational-retrieve
(Z.4.2.2.2).

Annexes X, HH, II (Color Palette, Defined Procedure Protocol, Protocol
Approval): a single entity.

- C-FIND uses the Basic Worklist "Worklist" search method (X.4.1, HH.4.1,
  II.4.1; K.4.1.2): Required and Optional keys "may be contained", any
  subset; no structure is imposed and no Query/Retrieve Level is defined.
  One that is sent anyway is ignored (lenient: nothing forbids it).
- C-MOVE: "Query/Retrieve Level (0008,0052) is not relevant ... and
  therefore shall not be present in the Identifier.  The only Unique Key
  Attribute of the Identifier shall be SOP Instance UID (0008,0018).  The
  SCU shall supply one UID or a list of UIDs" (X.4.2, HH.4.2, II.4.2); the
  same for C-GET in Annex X (X.4.3).  HH.4.3 and II.4.3 (C-GET) refer to
  the Query/Retrieve C-GET definition without repeating the sentence on the
  Query/Retrieve Level, so for those two a level is tolerated (lenient:
  no "shall not") while SOP Instance UID(s) are still required.
- No extended behaviour or relational-retrieve is defined (X.4.2, HH.4.2,
  II.4.2): ``relational=True`` is validated as baseline.

An empty Identifier for a retrieve names nothing to retrieve: 0xA900
(C.2.2.1.1: unique keys "shall be contained" in C-MOVE and C-GET).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Final

from pydicom.datadict import keyword_for_tag
from pydicom.dataset import Dataset
from pydicom.multival import ConstrainedList

from ..errors import DicomqrError
from ..status import IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS, INVALID_REQUEST
from ..uids import QRModel, QRService, qr_sop_class
from .models import IMAGE, MODELS, PATIENT, InformationModel, KeyKind

__all__ = ["InvalidIdentifier", "QuerySpec", "validate"]

QUERY_RETRIEVE_LEVEL: Final = 0x00080052
QUERY_RETRIEVE_VIEW: Final = 0x00080053
SPECIFIC_CHARACTER_SET: Final = 0x00080005
TIMEZONE_OFFSET_FROM_UTC: Final = 0x00080201
INSTANCE_AVAILABILITY: Final = 0x00080056
SOP_INSTANCE_UID: Final = 0x00080018
SIMPLE_FRAME_LIST: Final = 0x00081161
CALCULATED_FRAME_LIST: Final = 0x00081162
TIME_RANGE: Final = 0x00081163
FRAME_KEYS: Final = (SIMPLE_FRAME_LIST, CALCULATED_FRAME_LIST, TIME_RANGE)

# Present in an Identifier, but not keys: never matched (C.2.2.2, K.2.2.2)
# or a control attribute (the level, the view).
_NOT_KEYS: Final = frozenset({
    QUERY_RETRIEVE_LEVEL, QUERY_RETRIEVE_VIEW, SPECIFIC_CHARACTER_SET, TIMEZONE_OFFSET_FROM_UTC,
})
_VIEWS: Final = frozenset({"CLASSIC", "ENHANCED"})
_WILDCARDS: Final = frozenset("*?")
_END_OF_FRAMES: Final = 0xFFFFFFFF
_COMMENT_MAX: Final = 64  # Error Comment (0000,0902) is an LO

_A900: Final = IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS
_AA04: Final = INVALID_REQUEST


class InvalidIdentifier(DicomqrError):
    """The Identifier does not fit the SOP class: what to answer with.

    ``status`` is 0xA900 (Identifier does not match SOP class) or, for a
    malformed frame-level request of Composite Instance Root Retrieve,
    0xAA04 (Invalid Request).  ``comment`` fits Error Comment (0000,0902),
    an LO of at most 64 characters; ``offending`` lists the tags for
    Offending Element (0000,0901), possibly none.
    """

    def __init__(self, status: int, comment: str, offending: Iterable[int] = ()) -> None:
        comment = comment[:_COMMENT_MAX]
        super().__init__(comment)
        self.status: int = status
        self.comment: str = comment
        self.offending: tuple[int, ...] = tuple(offending)

    def __repr__(self) -> str:
        tags = ", ".join(f"0x{t:08X}" for t in self.offending)
        return f"InvalidIdentifier(0x{self.status:04X}, {self.comment!r}, ({tags}))"


@dataclass(frozen=True, slots=True)
class QuerySpec:
    """What a valid Identifier asks for.

    ``level`` is the Query/Retrieve Level (upper case, as the model spells
    it), or the name of the model's only level when the model has no
    Query/Retrieve Level.  ``keys`` are the tags of the Identifier's
    elements in tag order, without the Query/Retrieve Level and View,
    Specific Character Set, Timezone Offset From UTC (present but never
    matched) and anything in groups below 0008 or a group length.
    ``relational`` is true only when relational queries/retrieves were
    asked for *and* the model defines them (C.6 models).
    """

    model: InformationModel
    service: QRService
    level: str
    keys: tuple[int, ...]
    relational: bool


def validate(identifier: Dataset, sop_class_uid: str, *, relational: bool = False) -> QuerySpec:
    """Check ``identifier`` against the model of ``sop_class_uid``.

    ``relational`` says relational-queries (C-FIND) or relational-retrieve
    (C-MOVE, C-GET) were negotiated for the presentation context.  Raises
    :class:`InvalidIdentifier` when the Identifier does not fit (the rules
    and their sources are in the module docstring) and ``ValueError`` if
    ``sop_class_uid`` is not one of the 21 Q/R SOP classes.
    """
    row = qr_sop_class(sop_class_uid)
    if row is None:
        raise ValueError(f"{sop_class_uid!r} is not a Query/Retrieve SOP class")
    model = MODELS[row.model]
    service = row.service
    tags = [int(t) for t in sorted(identifier.keys())]  # tags, without decoding values
    keys = tuple(t for t in tags if t not in _NOT_KEYS and t >> 16 >= 0x0008 and t & 0xFFFF)
    if service is not QRService.FIND and not tags:
        raise InvalidIdentifier(_A900, "Identifier is empty: nothing to retrieve")
    if model.uses_qr_level:  # Query/Retrieve View: C.4, Y.4 and Z.4 only
        _check_view(identifier)

    if row.model is QRModel.COMPOSITE_INSTANCE_ROOT:
        level = _composite_instance_root(identifier, model)
        relational = False
    elif row.model is QRModel.WITHOUT_BULK_DATA:
        level = _without_bulk_data(identifier, model)
        relational = False
    elif not model.uses_qr_level:
        level = _single_entity(identifier, model, row.model, service)
        relational = False
    elif service is QRService.FIND:
        level = _hierarchical_find(identifier, model, relational)
    else:
        level = _hierarchical_retrieve(identifier, model, relational)
    return QuerySpec(model, service, level, keys, relational)


# -- the models --------------------------------------------------------------


def _hierarchical_find(identifier: Dataset, model: InformationModel, relational: bool) -> str:
    level = _qr_level(identifier, model)
    _check_instance_availability(identifier)
    if relational:
        return level
    for above in model.levels_above(level):
        for key in above.keys:
            if key.kind is KeyKind.UNIQUE:
                _single_value(identifier, key.tag, level)
            elif key.tag in identifier:
                raise InvalidIdentifier(
                    _A900, f"{key.keyword} is a key above level {level}", (key.tag,))
    return level


def _hierarchical_retrieve(identifier: Dataset, model: InformationModel, relational: bool) -> str:
    level = _qr_level(identifier, model)
    for above in model.levels_above(level):
        for key in model.unique_keys(above.name):
            if relational and not _values(identifier, key.tag):
                continue  # relational-retrieve: unique keys above are optional
            _single_value(identifier, key.tag, level)
    key = model.unique_key(level)
    if level == PATIENT:
        _single_value(identifier, key.tag, level, at_level=True)
    else:
        _uid_list(identifier, key.tag)
    return level


def _composite_instance_root(identifier: Dataset, model: InformationModel) -> str:
    _no_character_set(identifier)
    level = _qr_level(identifier, model)
    frame_keys = [t for t in FRAME_KEYS if t in identifier]
    uids = _uid_list(identifier, SOP_INSTANCE_UID)
    if level == IMAGE:
        if frame_keys:
            raise InvalidIdentifier(
                _AA04, "Frame range keys need Query/Retrieve Level FRAME", frame_keys)
        return level
    if len(uids) != 1:
        raise InvalidIdentifier(
            _AA04, "FRAME level takes a single SOP Instance UID", (SOP_INSTANCE_UID,))
    if len(frame_keys) != 1:
        said = "no" if not frame_keys else "more than one"
        raise InvalidIdentifier(
            _AA04, f"FRAME level request with {said} frame range key", frame_keys or FRAME_KEYS)
    _check_frame_key(identifier, frame_keys[0])
    return level


def _without_bulk_data(identifier: Dataset, model: InformationModel) -> str:
    _no_character_set(identifier)
    level = _qr_level(identifier, model)
    _uid_list(identifier, SOP_INSTANCE_UID)
    return level


def _single_entity(identifier: Dataset, model: InformationModel, which: QRModel,
                   service: QRService) -> str:
    (level,) = model.level_names
    if service is QRService.FIND:
        return level  # "Worklist" search method: any subset of keys (K.4.1.2)
    # X.4.2, HH.4.2, II.4.2 (C-MOVE) and X.4.3 (C-GET): "shall not be present".
    strict = service is QRService.MOVE or which is QRModel.COLOR_PALETTE
    if strict and QUERY_RETRIEVE_LEVEL in identifier:
        raise InvalidIdentifier(
            _A900, "Query/Retrieve Level shall not be present", (QUERY_RETRIEVE_LEVEL,))
    _uid_list(identifier, SOP_INSTANCE_UID)
    return level


# -- single attributes -------------------------------------------------------


def _qr_level(identifier: Dataset, model: InformationModel) -> str:
    values = _values(identifier, QUERY_RETRIEVE_LEVEL)
    if not values:
        raise InvalidIdentifier(_A900, "Query/Retrieve Level missing", (QUERY_RETRIEVE_LEVEL,))
    # CS is upper case by definition; a lower-case level is read as meant
    # (lenient, as DCMTK's dcmqrscp does).
    level = str(values[0]).strip().upper() if len(values) == 1 else ""
    if level not in model.level_names:
        shown = "\\".join(str(v).strip() for v in values)
        raise InvalidIdentifier(
            _A900, f"Query/Retrieve Level '{shown}' not in model", (QUERY_RETRIEVE_LEVEL,))
    return level


def _single_value(identifier: Dataset, tag: int, level: str, *, at_level: bool = False) -> None:
    """A unique key holding exactly one value, no wild cards (Single Value Matching)."""
    keyword = _name(tag)
    where = "at" if at_level else "above"
    values = _values(identifier, tag)
    if not values:
        missing = "missing" if tag not in identifier else "empty"
        raise InvalidIdentifier(_A900, f"{keyword} {missing} ({where} level {level})", (tag,))
    if len(values) != 1 or not _plain(values[0]):
        raise InvalidIdentifier(
            _A900, f"{keyword} {where} level {level}: one value only", (tag,))


def _uid_list(identifier: Dataset, tag: int) -> list[str]:
    """A unique key with one value or a list of them (List of UID Matching)."""
    keyword = _name(tag)
    values = _values(identifier, tag)
    if not values:
        missing = "missing" if tag not in identifier else "empty"
        raise InvalidIdentifier(_A900, f"{keyword} {missing}", (tag,))
    if not all(_plain(v) for v in values):
        raise InvalidIdentifier(_A900, f"{keyword}: UIDs only, no wild cards", (tag,))
    return [str(v).strip() for v in values]


def _plain(value: Any) -> bool:
    text = str(value).strip()
    return bool(text) and not (_WILDCARDS & set(text))


def _no_character_set(identifier: Dataset) -> None:
    if SPECIFIC_CHARACTER_SET in identifier:
        raise InvalidIdentifier(
            _A900, "Specific Character Set shall not be present", (SPECIFIC_CHARACTER_SET,))


def _check_view(identifier: Dataset) -> None:
    values = _values(identifier, QUERY_RETRIEVE_VIEW)
    if values and (len(values) != 1 or str(values[0]).strip() not in _VIEWS):
        raise InvalidIdentifier(
            _A900, "Query/Retrieve View must be CLASSIC or ENHANCED", (QUERY_RETRIEVE_VIEW,))


def _check_instance_availability(identifier: Dataset) -> None:
    if _values(identifier, INSTANCE_AVAILABILITY):
        raise InvalidIdentifier(
            _A900, "Instance Availability cannot be matched in C-FIND",
            (INSTANCE_AVAILABILITY,))


# -- frame range keys (Y.3.2.1) ------------------------------------------------


def _check_frame_key(identifier: Dataset, tag: int) -> None:
    values = _values(identifier, tag)
    try:
        if tag == TIME_RANGE:
            times = [float(v) for v in values]
            ok = len(times) == 2 and times[0] <= times[1]
            why = "Time Range needs two values, start <= end"
        else:
            numbers = [_frame_number(v) for v in values]
            if tag == SIMPLE_FRAME_LIST:
                ok = _simple_frame_list_ok(numbers)
                why = "Simple Frame List: increasing frame numbers from 1"
            else:
                ok = _calculated_frame_list_ok(numbers)
                why = "Calculated Frame List: bad (first, last, step) tuples"
    except (TypeError, ValueError):
        ok, why = False, f"{_name(tag)} has a value of the wrong type"
    if not ok:
        raise InvalidIdentifier(_AA04, why, (tag,))


def _frame_number(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(value)
    return value


def _simple_frame_list_ok(frames: list[int]) -> bool:
    return bool(frames) and frames[0] >= 1 and all(a < b for a, b in pairwise(frames))


def _calculated_frame_list_ok(numbers: list[int]) -> bool:
    if not numbers or len(numbers) % 3:
        return False
    triplets = [numbers[i:i + 3] for i in range(0, len(numbers), 3)]
    previous_last = 0
    for index, (first, last, step) in enumerate(triplets):
        final = index == len(triplets) - 1
        if first < 1 or last < first or step < 1 or first <= previous_last:
            return False
        if last == _END_OF_FRAMES and not final:
            return False  # "may only occur in the last 3-tuple"
        previous_last = first + (last - first) // step * step
    return True


# -- reading values ---------------------------------------------------------------


def _values(identifier: Dataset, tag: int) -> list[Any]:
    """The values of element ``tag``: [] when absent or zero length."""
    if tag not in identifier:
        return []
    try:
        value = identifier[tag].value
    except Exception as exc:  # any decoding failure of the peer's bytes
        raise InvalidIdentifier(_A900, f"{_name(tag)} cannot be decoded", (tag,)) from exc
    if value is None or value == "" or value == b"":
        return []
    # Multiple values (and sequence items) come as pydicom's ConstrainedList
    # (MultiValue, Sequence) or a list; anything else -- str, bytes, numbers,
    # PersonName, which iterates over its characters -- is one value.
    if isinstance(value, (ConstrainedList, list, tuple)):
        return list(value)
    return [value]


def _name(tag: int) -> str:
    return keyword_for_tag(tag) or f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
