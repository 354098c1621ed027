"""Property tests of attribute matching: wild cards against a hand-written glob
matcher, date/time bounds against the values they cover, ranges against
``datetime`` order, and the compiled matcher against :func:`match_dataset`."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from dicomqr.query import (
    Kind,
    compile_matcher,
    da_bounds,
    dt_bounds,
    fold_text,
    match_dataset,
    match_value,
    normalize_da,
    normalize_dt,
    normalize_tm,
    terms_of,
    tm_bounds,
    wildcard_regex,
)

from .test_matching import ABSENT, build, only, wire

pytestmark = [
    pytest.mark.filterwarnings("ignore:Invalid value for VR:UserWarning"),
    pytest.mark.filterwarnings("ignore:The value length:UserWarning"),
]


# -- wild cards ----------------------------------------------------------------------------


def glob(pattern: str, text: str) -> bool:
    """C.2.2.2.4 by the book: '*' any sequence (also empty), '?' one character."""

    @cache
    def at(p: int, t: int) -> bool:
        if p == len(pattern):
            return t == len(text)
        head = pattern[p]
        if head == "*":
            return at(p + 1, t) or (t < len(text) and at(p, t + 1))
        if t == len(text):
            return False
        return (head == "?" or head == text[t]) and at(p + 1, t + 1)

    return at(0, 0)


@given(st.text(alphabet="ab*?.^$\\[(|+", max_size=12),
       st.text(alphabet="ab.^$\\[(|+\n", max_size=24))
def test_wildcard_regex_is_glob(pattern: str, text: str) -> None:
    assert (wildcard_regex(pattern).fullmatch(text) is not None) == glob(pattern, text)


@st.composite
def text_and_pattern(draw: Any) -> tuple[str, str]:
    """A text of few letters (many repeats) and a pattern cut from it: runs of the
    text become '*', letters become '?', and some letters change (then it may fail)."""
    text = draw(st.text(alphabet="ab", max_size=16))
    pattern, i = [], 0
    while i < len(text):
        action = draw(st.sampled_from(["keep", "keep", "any", "star", "other"]))
        if action == "star":
            run = draw(st.integers(min_value=0, max_value=len(text) - i))
            pattern.append("*")
            i += run
            continue
        pattern.append({"keep": text[i], "any": "?", "other": "b" if text[i] == "a" else "a"}
                       [action])
        i += 1
    if draw(st.booleans()):
        pattern.append("*")
    return text, "".join(pattern)


@given(text_and_pattern())
@settings(max_examples=1000)
def test_wildcard_regex_finds_every_glob_match(case: tuple[str, str]) -> None:
    text, pattern = case
    assert (wildcard_regex(pattern).fullmatch(text) is not None) == glob(pattern, text)


@given(st.text())
def test_fold_text_is_idempotent(text: str) -> None:
    assert fold_text(fold_text(text)) == fold_text(text)


# -- bounds: a partial value covers exactly the full values it is a prefix of -----------------

_MOMENTS = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2099, 12, 31))


def full_tm(moment: datetime) -> str:
    return moment.strftime("%H%M%S.%f")


@st.composite
def partial_tm(draw: Any) -> tuple[str, datetime]:
    moment = draw(_MOMENTS)
    text = full_tm(moment)
    cut = draw(st.sampled_from([2, 4, 6, 7, 8, 9, 10, 11, 12, 13]))
    return text[:cut], moment


@given(partial_tm(), _MOMENTS)
def test_tm_bounds_cover_exactly_the_extensions(key: tuple[str, datetime], other: datetime) -> None:
    value, moment = key
    low, high = tm_bounds(value)
    assert low <= high and normalize_tm(value) == low and len(low) == len(high) == 13
    assert low <= normalize_tm(full_tm(moment)) <= high  # the value it was cut from
    digits = value.rstrip(".")
    covered = full_tm(other).startswith(digits)
    assert (low <= normalize_tm(full_tm(other)) <= high) == covered


@given(_MOMENTS, st.sampled_from([4, 6, 8]), _MOMENTS)
def test_da_bounds_cover_exactly_the_extensions(moment: datetime, cut: int,
                                                other: datetime) -> None:
    value = moment.strftime("%Y%m%d")[:cut]
    low, high = da_bounds(value)
    assert low <= moment.strftime("%Y%m%d") <= high
    stamp = other.strftime("%Y%m%d")
    assert (low <= normalize_da(stamp) <= high) == stamp.startswith(value)


@given(_MOMENTS, st.sampled_from([4, 6, 8, 10, 12, 14, 16, 18, 21]), _MOMENTS)
def test_dt_bounds_cover_exactly_the_extensions(moment: datetime, cut: int,
                                                other: datetime) -> None:
    value = moment.strftime("%Y%m%d%H%M%S.%f")[:cut].rstrip(".")
    low, high = dt_bounds(value)
    assert low <= normalize_dt(moment.strftime("%Y%m%d%H%M%S.%f")) <= high
    assert normalize_dt(value) == low
    stamp = other.strftime("%Y%m%d%H%M%S.%f")
    assert (low <= normalize_dt(stamp) <= high) == stamp.startswith(value)


@given(_MOMENTS, st.integers(min_value=-12 * 60, max_value=14 * 60))
def test_dt_offsets_shift_to_utc(moment: datetime, minutes: int) -> None:
    minutes -= minutes % 15
    sign = "-" if minutes < 0 else "+"
    offset = f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
    value = moment.strftime("%Y%m%d%H%M%S.%f")
    expected = (moment - timedelta(minutes=minutes)).strftime("%Y%m%d%H%M%S.%f")
    assert normalize_dt(value + offset) == expected
    assert normalize_dt(value, offset=offset) == expected
    assert normalize_dt(value + offset, offset="+0000") == expected  # its own offset wins


# -- ranges against datetime order ------------------------------------------------------------


@given(st.times(), st.times(), st.times(), st.booleans(), st.booleans())
def test_tm_range_is_time_order(a: time, b: time, x: time, open_low: bool,
                                open_high: bool) -> None:
    low = "" if open_low else a.strftime("%H%M%S.%f")
    key = f"{low}-{'' if open_high else b.strftime('%H%M%S.%f')}"
    assume(key != "-")
    expected = (open_low or a <= x) and (open_high or x <= b)
    assert match_value(only({"StudyTime": key}), x.strftime("%H%M%S.%f")) is expected


@given(st.dates(min_value=date(1800, 1, 1)), st.dates(min_value=date(1800, 1, 1)),
       st.dates(min_value=date(1800, 1, 1)))
def test_da_range_is_date_order(a: date, b: date, x: date) -> None:
    key = f"{a:%Y%m%d}-{b:%Y%m%d}"
    assert match_value(only({"StudyDate": key}), f"{x:%Y%m%d}") is (a <= x <= b)


@given(_MOMENTS, _MOMENTS, _MOMENTS)
@settings(max_examples=50)
def test_combined_range_is_datetime_order(a: datetime, b: datetime, x: datetime) -> None:
    a, b, x = (m.replace(second=0, microsecond=0) for m in (a, b, x))
    query = {"StudyDate": f"{a:%Y%m%d}-{b:%Y%m%d}", "StudyTime": f"{a:%H%M}-{b:%H%M}"}
    identifier = wire(build(**query))
    found = terms_of(identifier, [0x00080020, 0x00080030], combined_datetime=True)
    candidate = build(StudyDate=f"{x:%Y%m%d}", StudyTime=f"{x:%H%M}")
    assert match_dataset(found, candidate) is (a <= x <= b)


# -- the compiled matcher is match_dataset ----------------------------------------------------

KEYS: dict[str, list[Any]] = {
    "PatientName": ["", "*", "Doe^John", "Do*", "doe^john", "*=山*", "=山田^太郎", '""',
                    ["Doe*", "Smith"]],
    "PatientID": ["", "A", "A*", "?B", ["A", "B*"], '""'],
    "StudyDate": ["", "20200101", "20200101-", "-20200101", "20200101-20200201",
                  ["20200101", "20200301-"]],
    "StudyTime": ["", "10", "1000-1100", "-0900"],
    "SeriesNumber": ["", "1", ["1", "2"]],
    "ModalitiesInStudy": ["", "CT", ["CT", "MR"], "M?"],
    "StudyInstanceUID": ["", "1.2", ["1.2", "1.3"]],
    "ProcedureCodeSequence": [[], [{"CodeValue": "X1"}],
                              [{"CodeValue": "X*", "CodingSchemeDesignator": "DCM"}]],
}
VALUES: dict[str, list[Any]] = {
    "PatientName": [ABSENT, "", "Doe^John", "DOE^JOHN", "Yamada^Tarou=山田^太郎", "Smith^A"],
    "PatientID": [ABSENT, "", "A", "AB", "B"],
    "StudyDate": [ABSENT, "", "20200101", "20191231", "20200301", "20200115"],
    "StudyTime": [ABSENT, "", "1030", "0800", "100000.5"],
    "SeriesNumber": [ABSENT, 1, 2, 3],
    "ModalitiesInStudy": [ABSENT, "CT", ["CT", "MR"], ["PT"]],
    "StudyInstanceUID": [ABSENT, "1.2", "1.3", "1.4"],
    "ProcedureCodeSequence": [ABSENT, [], [{"CodeValue": "X1", "CodingSchemeDesignator": "L"}],
                              [{"CodeValue": "X2", "CodingSchemeDesignator": "DCM"}]],
}


@st.composite
def datasets(draw: Any, pools: dict[str, list[Any]]) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(sorted(pools)), unique=True))
    return {name: draw(st.sampled_from(pools[name])) for name in names}


@given(datasets(KEYS), datasets(VALUES), st.fixed_dictionaries({
    "fuzzy": st.booleans(), "combined_datetime": st.booleans(), "empty_value": st.booleans(),
    "multiple_values": st.booleans(), "match_unknown": st.booleans()}))
@settings(max_examples=300, deadline=None)
def test_compiled_matcher_is_match_dataset(query: dict[str, Any], candidate: dict[str, Any],
                                           options: dict[str, bool]) -> None:
    identifier = wire(build(SpecificCharacterSet="ISO_IR 192", **query))
    keys = [int(t) for t in list(identifier.keys()) if int(t) != 0x00080005]
    found = terms_of(identifier, keys, **options)
    ds = build(**candidate)
    result = match_dataset(found, ds)
    assert compile_matcher(found)(ds) is result
    # a conjunction: the whole matches exactly when every term does
    assert result is all(match_dataset([term], ds) for term in found)
    if all(term.kind is Kind.UNIVERSAL for term in found):
        assert result
