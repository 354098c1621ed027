"""Attribute matching (PS3.4 C.2.2.2): the keys of an Identifier against candidates.

:func:`terms_of` reads each key of a request Identifier into a :class:`Term`
(the kind of matching and its normalised values).  The archive turns the
terms it can into SQL over columns that hold the :mod:`.values` forms of the
stored values, and matches the rest in Python over the narrowed set with
:func:`compile_matcher` (or :func:`match_dataset` / :func:`match_value`).

Theory: the rules and where each comes from (PS3.4 unless said otherwise)
------------------------------------------------------------------------

Universal (C.2.2.2.3): a zero-length key matches every entity; the key is
only returned.  "Wild Card Matching on a value of '*' is equivalent to
Universal Matching" (C.2.2.2.4): a lone ``*`` is Universal for *every* VR
(lenient: for DA, UI or IS it is no valid value, and SCUs send it to mean
"anything"), as is a range ``-`` open at both ends.  A sequence key with no
Item, or one empty Item, is Universal (C.2.2.2.6).

Single Value (C.2.2.2.1): "only entities with values which match exactly".
Case-sensitive, except PN (below).  Padding that PS3.5 calls insignificant
is dropped on both sides first (:func:`.values.clean`).  For DA, TM and DT a
single value stands for the interval its precision covers: ``StudyTime=10``
matches 10:00:00 to 10:59:59.999999, ``StudyDate=20200101`` that day.  Such
a SINGLE term carries ``low``/``high`` like a range.  Numeric VRs (IS, DS,
US, UL, SS, SL, SV, UV, FL, FD) and AT compare numerically (``'012'`` ==
``'12'``, ``'1.50'`` == ``'1.5'``).

List of UID (C.2.2.2.2): a UI key with several values matches an entity
that has any of them.  Multiple Value Matching (C.2.2.2.8) gives several
values of AE, AS, AT, CS, LO, PN, SH, UC keys (of a defined VM above 1) an
AND meaning: "each and every value in the Key Attribute matches a value in
the corresponding Attribute" -- only if negotiated (``multiple_values``,
kind MULTIPLE).  Otherwise "the semantics of multiple values in a Key
Attribute is undefined" (C.2.2.2.8 note 4); they are taken here as
alternatives, like a UID list: kind LIST when all are single values, ANY
(OR of items) when some are wild cards or ranges.  Lenient choice.

Wild Card (C.2.2.2.4): only "VR of AE, CS, LO, LT, PN, SH, ST, UC, UR,
UT".  ``*`` is any sequence of characters (also none), ``?`` one
character (one Unicode code point of the decoded value).  Such a value is
always a wild card: "there is no mechanism for Single Value Matching on
values that contain characters '*' and '?'".  For other VRs the characters
are literal (a UI ``1.2.*`` matches nothing).

Range (C.2.2.2.5): DA, TM and DT, ``a-b`` (a <= b, inclusive), ``-b``,
``a-``.  Each end counts with the whole interval of its precision: ``-1030``
includes 10:30:59.999999 (:mod:`.values`).  An inverted range matches
nothing; so does a TM range across midnight ("Range Matching crossing
midnight is not supported").  DT: "the offset from Universal Coordinated
Time, if present in the Value of the Attribute, shall be taken into account":
values compare in UTC, a DT without its own offset taking its dataset's
Timezone Offset From UTC (0008,0201) (the Identifier's for key values).
Ranges are not defined for other VRs: there ``-`` is an ordinary character.

Combined date and time (C.2.2.2.5; Extended Negotiation "Date-time
matching", Table C.5-2 byte 2): "a pair of Attributes that are a date and a
time, both of which specify the same form of Range Matching, shall have the
concatenated string values of each range matching component matched as if
they were a single datetime Attribute" (StudyDate 20060705-20060707 with
StudyTime 1000-1800 is one period, not three daily ones).  The pairs are the
DA attributes ``...Date...`` whose ``...Time...`` twin is a TM in the
dictionary (:func:`time_partner`: StudyDate/StudyTime, SeriesDate,
AcquisitionDate, ContentDate, PatientBirthDate, ScheduledProcedureStepStart
Date ...).  The pair becomes one term on the DA tag with ``time_tag`` and
DT-form bounds; the TM key stays as a Universal term (still returned).  Two
single values are combined too (the same result as separate matching);
different forms (a date range with a single time) are matched separately.
A candidate without a time is matched from midnight.

Sequence (C.2.2.2.6): the key holds one Item; "if all the Item Key
Attributes match, for at least one of the Items", it matches, recursively.
A key with several Items: only the first counts (lenient).

Empty Value (C.2.2.2.7, negotiated: ``empty_value``): a key of two
QUOTATION MARKs ``""`` matches entities whose attribute is zero length or
absent, and no others.  Taken for every VR but UI and SQ.  Without the
negotiation ``""`` is an ordinary value.

Entities without a value.  "If a C-FIND SCP manages an entity with a
Required Key of zero length, the value is considered unknown and all
matching against the zero length Required Key shall be considered a
successful match" (C.2.2.1.2).  This module applies that to every key and
to absent attributes (an Optional Key the SCP matches on is matched like a
Required Key, and the index does not tell absent from empty):
:attr:`Term.match_unknown`, the default of :func:`terms_of`.  Worklist-style
models say the opposite, "the unknown value shall fail to match any Matching
Key value" (K.2.2.1.1.1): pass ``match_unknown=False`` there.  Universal
terms match either way; Empty Value terms match only such entities.

Multi-valued entity attributes match if any value matches (C.2.2.3).

Person names.  C.2.2.2.1 lets literal PN matching be case-sensitive or
insensitive to aspects of case, accents and other character encoding
variants; PN wild card matching "is implementation dependent and shall be
specified in the Conformance Statement" (C.2.2.2.4), whose
note 3 foresees matching "on separate components" groups.  Implemented (and
to be mirrored in SQL over three stored group columns, see :class:`Term`):

1. both sides are normalised (:func:`.values.normalize_pn`: padding,
   trailing empty components and groups dropped);
2. a key without ``=`` matches when it matches any one non-empty component
   group of the candidate (alphabetic, ideographic or phonetic), so
   ``山田^太郎`` finds ``Yamada^Tarou=山田^太郎=やまだ^たろう``;
3. a key with ``=`` is matched group by group: an empty key group matches
   anything, a non-empty one must match the candidate's same group (an
   empty candidate group matches only a pattern like ``*``);
4. within a group, Single Value is string equality and Wild Card a pattern
   over the group text (``^`` included: ``Doe*`` matches ``Doe^John``);
5. case-sensitive by default; with ``pn_case_insensitive``, or when Fuzzy
   Semantic Matching of person names is negotiated (C.2.2.2.1.1, Table
   C.5-2 byte 3), both sides are compared as :func:`.values.fold_text`
   (case, accents and compatibility widths folded): ``fold_case``.

Never matched: Specific Character Set and Timezone Offset From UTC
(C.2.2.2, C.4.1.1.3.1: callers leave them out of ``tags``); binary VRs (OB,
OD, OF, OL, OV, OW, UN) are Universal, as an Optional Key whose matching is
not supported (C.2.2.1.3).  A key value that cannot be read (a DA that is
no date, an IS that is no number) raises :class:`InvalidIdentifier` 0xA900
naming the key.  A stored value that cannot be read matches only Universal
terms (it is neither a value nor unknown).

Worklist-style C-FIND (Annex K and the like) uses the same kinds of
matching; pass ``match_unknown=False`` (above).  Not covered: Timezone
Query Adjustment (Table C.5-2) beyond the DT offsets above; fuzzy matching
beyond folding (no phonetics); a key in another Specific Character Set than
the stored value is compared after pydicom decodes both to Unicode, with no
transliteration.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable
from collections.abc import Sequence as AbcSequence
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from typing import Final

from pydicom.datadict import dictionary_VM, dictionary_VR, keyword_dict, keyword_for_tag
from pydicom.dataset import Dataset

from ..status import IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS
from .identifier import SPECIFIC_CHARACTER_SET, InvalidIdentifier
from .values import (
    as_list,
    clean,
    combine_da_tm,
    da_bounds,
    dt_bounds,
    element_value,
    fold_text,
    normalize_da,
    normalize_dt,
    normalize_pn,
    normalize_tm,
    pn_groups,
    present_values,
    split_range,
    text_of,
    tm_bounds,
    to_number,
    tz_of,
)

__all__ = [  # the value forms too: the archive indexes what these functions return
    "Kind",
    "Term",
    "combine_da_tm",
    "compile_matcher",
    "da_bounds",
    "dt_bounds",
    "fold_text",
    "match_dataset",
    "match_value",
    "normalize_da",
    "normalize_dt",
    "normalize_pn",
    "normalize_tm",
    "pn_groups",
    "terms_of",
    "time_partner",
    "tm_bounds",
    "wildcard_regex",
]

WILDCARD_VRS: Final = frozenset({"AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT"})
TEMPORAL_VRS: Final = frozenset({"DA", "TM", "DT"})
NUMERIC_VRS: Final = frozenset({"IS", "DS", "US", "UL", "SS", "SL", "SV", "UV", "FL", "FD", "AT"})
BINARY_VRS: Final = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
MULTIPLE_VALUE_VRS: Final = frozenset({"AE", "AS", "AT", "CS", "LO", "PN", "SH", "UC"})
_A900: Final = IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS


class Kind(enum.Enum):
    """The kind of matching a key asks for (C.2.2.2)."""

    UNIVERSAL = "universal"  # C.2.2.2.3: matches everything; the key is only returned
    SINGLE = "single"        # C.2.2.2.1
    LIST = "list"            # C.2.2.2.2: exact alternatives (UIDs, or values of other VRs)
    ANY = "any"              # alternatives some of which are wild cards, ranges or "" (OR)
    WILDCARD = "wildcard"    # C.2.2.2.4
    RANGE = "range"          # C.2.2.2.5
    EMPTY = "empty"          # C.2.2.2.7, negotiated: zero-length or absent only
    SEQUENCE = "sequence"    # C.2.2.2.6
    MULTIPLE = "multiple"    # C.2.2.2.8, negotiated: every value must match (AND)


@dataclass(frozen=True, slots=True)
class Term:
    """One key of an Identifier, ready to match (and to translate into SQL).

    - ``values``: SINGLE and WILDCARD, the one value or pattern, without
      insignificant padding; PN values are :func:`.values.normalize_pn`-ed
      and, with ``fold_case``, :func:`.values.fold_text`-ed, and may hold
      ``=`` (then match group by group, else any one group).  LIST, ANY and
      MULTIPLE, the alternatives' values; combined date-time, ``(date, time)``.
    - ``low``/``high``: RANGE, and SINGLE of DA/TM/DT: inclusive bounds in
      the fixed-width forms of :mod:`.values` (``None`` = open); a stored
      value matches when ``low <= normalize_*(value) <= high``.  With
      ``time_tag`` they are DT forms to compare with :func:`.values.combine_da_tm`.
      A LIST of DA/TM/DT values compares with each item's bounds.
    - ``items``: SEQUENCE, the terms of the key's Item; LIST, ANY and
      MULTIPLE, one term per value (all SINGLE for LIST; SINGLE, WILDCARD,
      RANGE or EMPTY for ANY and MULTIPLE).
    - ``match_unknown``: whether an entity with the attribute empty or
      absent matches (C.2.2.1.2; not for worklists, K.2.2.1.1.1).
    """

    tag: int
    keyword: str
    vr: str
    kind: Kind
    values: tuple[str, ...] = ()
    low: str | None = None
    high: str | None = None
    time_tag: int | None = None
    items: tuple[Term, ...] = ()
    fold_case: bool = False
    match_unknown: bool = True


@dataclass(frozen=True, slots=True)
class _Options:
    fold: bool
    combined: bool
    empty: bool
    multiple: bool
    unknown: bool
    tz: str | None


# -- reading the Identifier ------------------------------------------------------


def terms_of(identifier: Dataset, tags: Iterable[int], *, fuzzy: bool = False,
             combined_datetime: bool = False, empty_value: bool = False,
             multiple_values: bool = False, pn_case_insensitive: bool = False,
             match_unknown: bool = True) -> list[Term]:
    """One :class:`Term` per tag of ``tags`` present in ``identifier``, in that order.

    The flags are the Extended Negotiation results (Table C.5-2): ``fuzzy``
    (fuzzy semantic matching of person names), ``combined_datetime``,
    ``empty_value``, ``multiple_values``; ``pn_case_insensitive`` makes PN
    matching fold case without fuzzy matching; ``match_unknown=False`` for
    worklist-style models (module docstring).  Raises
    :class:`InvalidIdentifier` (0xA900) for a key value that cannot be read.
    """
    options = _Options(fuzzy or pn_case_insensitive, combined_datetime, empty_value,
                       multiple_values, match_unknown, tz_of(identifier))
    return _terms(identifier, tags, options)


def _terms(ds: Dataset, tags: Iterable[int], options: _Options) -> list[Term]:
    terms = [_term(ds, int(tag), options) for tag in tags if int(tag) in ds]
    return _combine(terms) if options.combined else terms


def _term(ds: Dataset, tag: int, options: _Options) -> Term:
    try:
        elem = ds[tag]
        vr, keyword = str(elem.VR).split(" or ")[0], elem.keyword or ""
    except (ValueError, TypeError, OverflowError):  # a value pydicom cannot convert
        vr, keyword = _dictionary_vr(tag), keyword_for_tag(tag)
    base = Term(tag, keyword, vr, Kind.UNIVERSAL, fold_case=options.fold and vr == "PN",
                match_unknown=options.unknown)
    if vr == "SQ":
        items = [item for item in as_list(element_value(ds, tag)) if isinstance(item, Dataset)]
        if not items or not len(items[0]):
            return base
        tags = list(items[0].keys())
        keys = [int(t) for t in tags if int(t) != SPECIFIC_CHARACTER_SET]
        return replace(base, kind=Kind.SEQUENCE, items=tuple(_terms(items[0], keys, options)))
    texts = [clean(vr, text_of(v)) for v in as_list(element_value(ds, tag))]
    alternatives = [_alternative(base, text, options) for text in texts if text]
    if not alternatives or any(a.kind is Kind.UNIVERSAL for a in alternatives):
        return base
    if len(alternatives) == 1:
        return alternatives[0]
    if options.multiple and vr in MULTIPLE_VALUE_VRS and _vm_above_one(tag):
        kind = Kind.MULTIPLE
    else:
        kind = Kind.LIST if all(a.kind is Kind.SINGLE for a in alternatives) else Kind.ANY
    return replace(base, kind=kind,
                   values=tuple(a.values[0] if a.values else "" for a in alternatives),
                   items=tuple(alternatives))


def _dictionary_vr(tag: int) -> str:
    try:
        return dictionary_VR(tag).split(" or ")[0]
    except KeyError:
        return "UN"


def _vm_above_one(tag: int) -> bool:
    try:
        return dictionary_VM(tag) != "1"
    except KeyError:  # private or unknown: no defined VM
        return False


def _alternative(base: Term, text: str, options: _Options) -> Term:
    """The term for one value ``text`` of a key (not a sequence)."""
    vr = base.vr
    if text == "*" or vr in BINARY_VRS:
        return base
    if options.empty and text == '""' and vr != "UI":
        return replace(base, kind=Kind.EMPTY)
    try:
        if vr in TEMPORAL_VRS:
            return _temporal(base, text, options.tz)
        if vr in NUMERIC_VRS and to_number(text) is None:
            raise ValueError(f"not a number: {text!r}")
    except ValueError as exc:
        raise InvalidIdentifier(_A900, f"{base.keyword or hex(base.tag)}: {exc}",
                                (base.tag,)) from exc
    if vr == "PN":
        text = _fold_pn(normalize_pn(text)) if base.fold_case else normalize_pn(text)
        if not text or text == "*":
            return base
    wild = vr in WILDCARD_VRS and ("*" in text or "?" in text)
    return replace(base, kind=Kind.WILDCARD if wild else Kind.SINGLE, values=(text,))


def _bounds(vr: str, text: str, tz: str | None) -> tuple[str, str]:
    if vr == "DA":
        return da_bounds(text)
    if vr == "TM":
        return tm_bounds(text)
    return dt_bounds(text, offset=tz)


def _temporal(base: Term, text: str, tz: str | None) -> Term:
    ends = split_range(base.vr, text)
    if ends is None:
        lowest, highest = _bounds(base.vr, text, tz)
        return replace(base, kind=Kind.SINGLE, values=(text,), low=lowest, high=highest)
    first, last = ends
    if first is None and last is None:
        return base
    low = _bounds(base.vr, first, tz)[0] if first else None
    high = _bounds(base.vr, last, tz)[1] if last else None
    return replace(base, kind=Kind.RANGE, values=(text,), low=low, high=high)


@cache
def _time_partners() -> dict[int, int]:
    partners = {}
    for keyword, tag in keyword_dict.items():
        if "Date" in keyword and dictionary_VR(tag) == "DA":
            twin = keyword_dict.get(keyword.replace("Date", "Time"))
            if twin is not None and dictionary_VR(twin) == "TM":
                partners[tag] = twin
    return partners


def time_partner(tag: int) -> int | None:
    """The TM attribute paired with DA attribute ``tag`` (StudyDate -> StudyTime), if any."""
    return _time_partners().get(tag)


def _combine(terms: list[Term]) -> list[Term]:
    """Merge DA/TM key pairs of the same form into combined date-time terms."""
    where = {term.tag: i for i, term in enumerate(terms)}
    for i, date in enumerate(terms):
        j = where.get(time_partner(date.tag) or -1)
        if date.vr != "DA" or date.kind not in (Kind.SINGLE, Kind.RANGE) or j is None:
            continue
        time = terms[j]
        if time.vr != "TM" or time.kind is not date.kind:
            continue
        d, t = date.values[0], time.values[0]
        low: str | None
        high: str | None
        if date.kind is Kind.SINGLE:
            low, high = combine_da_tm(d, t), combine_da_tm(d, t, high=True)
        else:
            d_first, d_last = split_range("DA", d) or (None, None)
            t_first, t_last = split_range("TM", t) or (None, None)
            if (d_first is None) != (t_first is None) or (d_last is None) != (t_last is None):
                continue  # different forms: matched separately
            low = combine_da_tm(d_first, t_first) if d_first and t_first else None
            high = combine_da_tm(d_last, t_last, high=True) if d_last and t_last else None
        terms[i] = replace(date, values=(d, t), low=low, high=high, time_tag=time.tag)
        terms[j] = replace(time, kind=Kind.UNIVERSAL, values=(), low=None, high=None)
    return terms


# -- matching ------------------------------------------------------------------------------

_Test = Callable[[object, str | None], bool]  # (value, timezone of its dataset) -> match
_ValuesTest = Callable[[list[object], str | None], bool]


@lru_cache(maxsize=4096)
def wildcard_regex(pattern: str, *, fold_case: bool = False) -> re.Pattern[str]:
    """A regex that ``fullmatch``-es what the C.2.2.2.4 pattern matches.

    ``*`` is any run of characters, ``?`` one character, the rest literal.
    With ``fold_case`` the pattern is :func:`.values.fold_text`-ed: match it
    against folded values.  Each ``*``-separated middle segment sits in an
    atomic group after a lazy ``.*?`` (its leftmost occurrence is always
    the right one for glob patterns), so the match takes polynomial time
    however many stars the pattern has.
    """
    if fold_case:
        pattern = fold_text(pattern)

    def literal(segment: str) -> str:
        return "".join("." if ch == "?" else re.escape(ch) for ch in segment)

    parts = pattern.split("*")
    if len(parts) == 1:
        return re.compile(literal(pattern), re.DOTALL)
    middle = "".join(f"(?>.*?{literal(part)})" for part in parts[1:-1] if part)
    return re.compile(f"{literal(parts[0])}{middle}.*{literal(parts[-1])}", re.DOTALL)


def _fold_pn(name: str) -> str:
    return "=".join(fold_text(group) for group in name.split("="))


def _pn_test(term: Term) -> _Test:
    fold = term.fold_case
    key = _fold_pn(term.values[0]) if fold else term.values[0]

    def group_test(group: str) -> Callable[[str], bool]:
        if term.kind is Kind.WILDCARD:
            regex = wildcard_regex(group)
            return lambda text: regex.fullmatch(text) is not None
        return lambda text: text == group

    def groups_of(value: object) -> tuple[str, ...]:
        groups = pn_groups(text_of(value))
        return tuple(fold_text(g) for g in groups) if fold else groups

    if "=" not in key:
        whole = group_test(key)
        return lambda value, tz: any(g and whole(g) for g in groups_of(value))
    tests = [(i, group_test(group)) for i, group in enumerate(pn_groups(key)) if group]

    def by_group(value: object, tz: str | None) -> bool:
        groups = groups_of(value)
        return all(test(groups[i]) for i, test in tests)  # '*' matches an empty group

    return by_group


def _one_test(term: Term) -> _Test:
    """Match one present candidate value against a SINGLE/WILDCARD/RANGE term."""
    vr = term.vr
    if vr in TEMPORAL_VRS:
        low, high = term.low, term.high

        def temporal(value: object, tz: str | None) -> bool:
            try:
                text = text_of(value)
                stamp = (normalize_da(text) if vr == "DA" else normalize_tm(text) if vr == "TM"
                         else normalize_dt(text, offset=tz))
            except ValueError:
                return False
            return (low is None or low <= stamp) and (high is None or stamp <= high)

        return temporal
    if vr in NUMERIC_VRS:
        number = to_number(term.values[0])
        return lambda value, tz: number is not None and to_number(value) == number
    if vr == "PN":
        return _pn_test(term)
    if term.kind is Kind.WILDCARD:
        regex = wildcard_regex(term.values[0])
        return lambda value, tz: regex.fullmatch(text_of(value)) is not None
    key = term.values[0]
    return lambda value, tz: text_of(value) == key


def _values_test(term: Term) -> _ValuesTest:
    """Match the present values of a candidate attribute (at least one)."""
    if term.kind in (Kind.LIST, Kind.ANY, Kind.MULTIPLE):
        tests = [_values_test(item) for item in term.items]
        if term.kind is not Kind.MULTIPLE:
            return lambda values, tz: any(test(values, tz) for test in tests)
        return lambda values, tz: all(test(values, tz) for test in tests)
    if term.kind is Kind.EMPTY:
        return lambda values, tz: False
    one = _one_test(term)
    return lambda values, tz: any(one(value, tz) for value in values)


def _predicate(term: Term) -> _Test:
    """Match the whole value of a candidate attribute (as pydicom gives it)."""
    if term.kind is Kind.UNIVERSAL:
        return lambda value, tz: True
    if term.kind is Kind.SEQUENCE:
        inner = _dataset_test(term.items)

        def sequence(value: object, tz: str | None) -> bool:
            items = [item for item in as_list(value) if isinstance(item, Dataset)]
            if not items:
                return term.match_unknown
            return any(inner(item, tz) for item in items)

        return sequence
    if term.time_tag is not None:
        return _combined_test(term)
    test = _values_test(term)
    if_empty = term.kind is Kind.EMPTY or term.match_unknown or any(
        item.kind is Kind.EMPTY for item in term.items)

    def attribute(value: object, tz: str | None) -> bool:
        present = present_values(term.vr, value)
        return test(present, tz) if present else if_empty

    return attribute


def _combined_test(term: Term) -> _Test:
    low, high = term.low, term.high

    def combined(value: object, tz: str | None) -> bool:
        date, time = value if isinstance(value, tuple) and len(value) == 2 else (value, None)
        dates = present_values("DA", date)
        if not dates:
            return term.match_unknown
        times = present_values("TM", time)
        for day in dates:
            try:
                stamp = combine_da_tm(text_of(day), text_of(times[0]) if times else "")
            except ValueError:
                continue
            if (low is None or low <= stamp) and (high is None or stamp <= high):
                return True
        return False

    return combined


def _dataset_test(terms: Iterable[Term]) -> Callable[[Dataset, str | None], bool]:
    compiled = [(t.tag, t.time_tag, _predicate(t)) for t in terms if t.kind is not Kind.UNIVERSAL]

    def test(ds: Dataset, tz: str | None) -> bool:
        tz = tz_of(ds) or tz
        for tag, time_tag, predicate in compiled:
            value = element_value(ds, tag)
            if time_tag is not None:
                value = (value, element_value(ds, time_tag))
            if not predicate(value, tz):
                return False
        return True

    return test


def match_value(term: Term, value: object, *, tz: str | None = None) -> bool:
    """Whether a candidate attribute value (as pydicom gives it) matches ``term``.

    ``value``: ``None`` (absent), a str, number, ``PersonName``, MultiValue,
    raw bytes or, for SEQUENCE, the Sequence.  For a combined date-time
    term pass ``(date, time)``.  ``tz`` is the candidate dataset's Timezone
    Offset From UTC, for DT values without an offset of their own.
    """
    return _predicate(term)(value, tz)


def match_dataset(terms: AbcSequence[Term], ds: Dataset) -> bool:
    """Whether ``ds`` matches every term (absent attributes as in the module docstring)."""
    tz = tz_of(ds)
    for term in terms:
        value = element_value(ds, term.tag)
        if term.time_tag is not None:
            value = (value, element_value(ds, term.time_tag))
        if not match_value(term, value, tz=tz):
            return False
    return True


def compile_matcher(terms: Iterable[Term]) -> Callable[[Dataset], bool]:
    """:func:`match_dataset` for many candidates: terms compiled once (regexes, bounds)."""
    test = _dataset_test(tuple(terms))
    return lambda ds: test(ds, None)
