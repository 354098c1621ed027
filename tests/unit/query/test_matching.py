"""Attribute matching (PS3.4 C.2.2.2), kind by kind and VR by VR.

Every Identifier goes through Implicit VR Little Endian bytes before it is
read (what an SCP gets), and every case is checked with both
:func:`match_dataset` and :func:`compile_matcher`.
"""

from __future__ import annotations

from typing import Any

import pydicom
import pytest
from pydicom.data import get_charset_files
from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import read_dataset
from pydicom.filewriter import write_dataset
from pydicom.sequence import Sequence

from dicomqr.query import (
    InvalidIdentifier,
    Kind,
    Term,
    combine_da_tm,
    compile_matcher,
    da_bounds,
    dt_bounds,
    fold_text,
    match_dataset,
    match_value,
    normalize_da,
    normalize_dt,
    normalize_pn,
    normalize_tm,
    pn_groups,
    terms_of,
    time_partner,
    tm_bounds,
    wildcard_regex,
)

pytestmark = [
    pytest.mark.filterwarnings("ignore:Invalid value for VR:UserWarning"),
    pytest.mark.filterwarnings("ignore:The value length:UserWarning"),
]

ABSENT = object()  # the candidate lacks the attribute


def tag(keyword: str) -> int:
    found = tag_for_keyword(keyword)
    assert found is not None, keyword
    return found


def build(**elements: Any) -> Dataset:
    """A Dataset from keyword=value; lists of dicts become sequences."""
    ds = Dataset()
    for keyword, value in elements.items():
        if value is ABSENT:
            continue
        if isinstance(value, list) and value and isinstance(value[0], dict):
            value = Sequence([build(**item) for item in value])
        try:
            setattr(ds, keyword, value)
        except ValueError:  # an IS of '*' ...: written as text, read back as its own VR
            ds.add_new(tag(keyword), "LO", value)
    return ds


def wire(ds: Dataset) -> Dataset:
    """``ds`` after a round trip through Implicit VR Little Endian bytes."""
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, True
    write_dataset(fp, ds)
    return read_dataset(DicomBytesIO(fp.getvalue()), is_implicit_VR=True, is_little_endian=True)


def terms(query: dict[str, Any], **options: Any) -> list[Term]:
    identifier = wire(build(SpecificCharacterSet="ISO_IR 192", **query))
    keys = [int(t) for t in list(identifier.keys()) if int(t) not in (0x00080005, 0x00080201)]
    return terms_of(identifier, keys, **options)


def matches(query: dict[str, Any], candidate: dict[str, Any], **options: Any) -> bool:
    found = terms(query, **options)
    ds = build(**candidate)
    direct, compiled = match_dataset(found, ds), compile_matcher(found)(ds)
    assert direct == compiled
    return direct


def only(query: dict[str, Any], **options: Any) -> Term:
    found = terms(query, **options)
    assert len(found) == 1
    return found[0]


# -- one table per matching kind: (keyword, key value, candidate value, expected) -----------

SINGLE = [
    # LO / SH: exact, case-sensitive, padding insignificant (PS3.5 Table 6.2-1)
    ("PatientID", "ABC", "ABC", True),
    ("PatientID", "ABC", "abc", False),
    ("PatientID", "ABC", " ABC ", True),
    ("PatientID", "ABC", "ABCD", False),
    ("PatientID", " ABC", "ABC", True),
    ("AccessionNumber", "A1", "A1 ", True),
    ("AccessionNumber", "A1", "A2", False),
    # CS, single- and multi-valued candidates (C.2.2.3: any value)
    ("Modality", "CT", "CT", True),
    ("Modality", "CT", "ct", False),
    ("Modality", "CT", "MR", False),
    ("ModalitiesInStudy", "MR", ["CT", "MR"], True),
    ("ModalitiesInStudy", "PT", ["CT", "MR"], False),
    # UI: exact, trailing NUL padding
    ("StudyInstanceUID", "1.2.3", "1.2.3", True),
    ("StudyInstanceUID", "1.2.3", "1.2.3\x00", True),
    ("StudyInstanceUID", "1.2.3", "1.2.30", False),
    ("StudyInstanceUID", "1.2.*", "1.2.3", False),  # no wild cards for UI
    ("StudyInstanceUID", "1.2.*", "1.2.*", True),
    # PN: normalised, case-sensitive by default
    ("PatientName", "Doe^John", "Doe^John", True),
    ("PatientName", "Doe^John", "Doe^John^^^", True),
    ("PatientName", "Doe^John^^", "Doe^John", True),
    ("PatientName", "Doe^John", "doe^john", False),
    ("PatientName", "Doe^John", "Doe^Jane", False),
    ("PatientName", "Doe", "Doe^John", False),
    # AE, AS
    ("RetrieveAETitle", "ARCHIVE", " ARCHIVE ", True),
    ("PatientAge", "045Y", "045Y", True),
    ("PatientAge", "045Y", "046Y", False),
    # LT / ST: trailing spaces insignificant, leading significant
    ("ImageComments", "note", "note  ", True),
    ("ImageComments", "note", " note", False),
    ("InstitutionAddress", " 1 Main St", " 1 Main St ", True),
    # numbers compare numerically
    ("SeriesNumber", "12", 12, True),
    ("SeriesNumber", "012", "12", True),
    ("SeriesNumber", "12", 13, False),
    ("InstanceNumber", "7", ["7"], True),
    ("SliceThickness", "1.50", "1.5", True),
    ("SliceThickness", "1.5", "1.25", False),
    ("PatientWeight", "70", "70.0", True),
    ("Rows", 512, 512, True),
    ("Rows", 512, 256, False),
    # DA: the day; legacy stored form read
    ("StudyDate", "20200101", "20200101", True),
    ("StudyDate", "20200101", "20200102", False),
    ("StudyDate", "20200101", "2020.01.01", True),
    ("StudyDate", "20200101", "garbage", False),
    # TM: the interval of the key's precision
    ("StudyTime", "1030", "103015", True),
    ("StudyTime", "1030", "103059.999999", True),
    ("StudyTime", "1030", "103100", False),
    ("StudyTime", "1030", "1029", False),
    ("StudyTime", "103015", "103015.5", True),
    ("StudyTime", "10", "105959.999", True),
    ("StudyTime", "10", "11", False),
    ("StudyTime", "10:30:15", "103015", True),
    ("StudyTime", "103015", "10:30:15", True),
    # DT: precision interval, offsets taken into account (C.2.2.2.5)
    ("AcquisitionDateTime", "20200101120000", "20200101120000", True),
    ("AcquisitionDateTime", "20200101120000", "20200101120001", False),
    ("AcquisitionDateTime", "2020", "20201231235959", True),
    ("AcquisitionDateTime", "2020", "2021", False),
    ("AcquisitionDateTime", "20200101120000+0100", "20200101110000+0000", True),
    ("AcquisitionDateTime", "20200101120000+0100", "20200101120000+0000", False),
]

WILDCARD = [
    ("PatientName", "Do*", "Doe^John", True),
    ("PatientName", "D?e*", "Doe^John", True),
    ("PatientName", "*John", "Doe^John", True),
    ("PatientName", "*^J?hn", "Doe^John", True),
    ("PatientName", "Smith*", "Doe^John", False),
    ("PatientName", "do*", "Doe^John", False),
    ("PatientName", "D??^John", "Doe^John^^", True),
    ("PatientID", "A*C", "ABBC", True),
    ("PatientID", "A?C", "ABBC", False),
    ("PatientID", "A*", "a1", False),
    ("PatientID", "A*", "A", True),
    ("PatientID", "*B*", "ABBC", True),
    ("PatientID", "A.C*", "ABC", False),  # regex characters are literal
    ("PatientID", "A.C*", "A.C1", True),
    ("Modality", "C?", "CT", True),
    ("Modality", "C?", "MR", False),
    ("ModalitiesInStudy", "M*", ["CT", "MR"], True),
    ("AccessionNumber", "*1", "X1", True),
    ("StudyDescription", "*head*", "CT head w/o", True),
    ("StudyDescription", "*Head*", "CT head w/o", False),
    ("InstitutionName", "*Hospital", "St Mary Hospital ", True),
]

UNIVERSAL = [
    ("PatientName", "", "Doe^John", True),
    ("PatientName", "", ABSENT, True),
    ("PatientName", "*", "Doe^John", True),
    ("PatientName", "*", ABSENT, True),
    ("StudyDate", "", "20200101", True),
    ("StudyDate", "*", "20200101", True),  # lenient: '*' universal for every VR
    ("StudyDate", "-", "20200101", True),
    ("StudyInstanceUID", "", "1.2.3", True),
    ("StudyInstanceUID", "*", "1.2.3", True),
    ("SeriesNumber", "", 3, True),
    ("SeriesNumber", "*", ABSENT, True),
    ("ModalitiesInStudy", ["CT", "*"], ["MR"], True),
]

LIST = [
    ("StudyInstanceUID", ["1.2.3", "1.2.4"], "1.2.4", True),
    ("StudyInstanceUID", ["1.2.3", "1.2.4"], "1.2.5", False),
    ("SOPInstanceUID", ["1.2.3", "1.2.4", "1.2.5"], "1.2.3\x00", True),
    ("ModalitiesInStudy", ["CT", "MR"], ["PT", "MR"], True),  # without negotiation: OR
    ("ModalitiesInStudy", ["CT", "MR"], ["PT", "US"], False),
    ("Modality", ["CT", "MR"], "MR", True),
    ("StudyDate", ["20200101", "20200105"], "20200105", True),
    ("StudyDate", ["20200101", "20200105"], "20200103", False),
    ("SeriesNumber", ["1", "3"], 3, True),
    ("SeriesNumber", ["1", "3"], 2, False),
    ("PatientName", ["Doe*", "Smith"], "Smith", True),  # ANY: mixed kinds
    ("PatientName", ["Doe*", "Smith"], "Doe^Jane", True),
    ("PatientName", ["Doe*", "Smith"], "Jones", False),
    ("StudyDate", ["20200101-20200102", "20200301-"], "20200401", True),
    ("StudyDate", ["20200101-20200102", "20200301-"], "20200201", False),
]

RANGE = [
    ("StudyDate", "20200101-20200131", "20200115", True),
    ("StudyDate", "20200101-20200131", "20200131", True),
    ("StudyDate", "20200101-20200131", "20200101", True),
    ("StudyDate", "20200101-20200131", "20200201", False),
    ("StudyDate", "20200101-20200131", "20191231", False),
    ("StudyDate", "-20200101", "19991231", True),
    ("StudyDate", "-20200101", "20200102", False),
    ("StudyDate", "20200101-", "20200101", True),
    ("StudyDate", "20200101-", "20191231", False),
    ("StudyDate", "20200201-20200101", "20200115", False),  # inverted: nothing
    ("StudyDate", "2020.01.01-2020.01.31", "20200110", True),
    ("StudyDate", "202002-202002", "20200229", True),  # lenient partial dates
    ("StudyDate", "20200101-20200131", "2020.01.15", True),
    ("StudyTime", "1000-1030", "103059.9", True),
    ("StudyTime", "1000-1030", "103100", False),
    ("StudyTime", "1000-1030", "095959.999999", False),
    ("StudyTime", "1000-1030", "10", True),
    ("StudyTime", "-10", "105959", True),
    ("StudyTime", "-10", "110000", False),
    ("StudyTime", "1030-", "2359", True),
    ("StudyTime", "2300-0100", "2330", False),  # crossing midnight: not supported
    ("StudyTime", "10:00-10:30", "1015", True),
    ("AcquisitionDateTime", "20200101-20200102", "20200102235959.999999", True),
    ("AcquisitionDateTime", "20200101-20200102", "20200103", False),
    ("AcquisitionDateTime", "20200101120000+0000-", "20200101130000+0200", False),
    ("AcquisitionDateTime", "20200101120000+0000-", "20200101140000+0200", True),
    ("AcquisitionDateTime", "20200101120000-0500-20200101130000-0500",
     "20200101173000+0000", True),
    ("AcquisitionDateTime", "-2019", "20191231235959", True),
    ("AcquisitionDateTime", "-2019", "20200101", False),
    ("AcquisitionDateTime", "2019-2020", "20200601", True),
]


@pytest.mark.parametrize(("keyword", "key", "value", "expected"), SINGLE)
def test_single_value_matching(keyword: str, key: Any, value: Any, expected: bool) -> None:
    assert only({keyword: key}).kind is Kind.SINGLE
    assert matches({keyword: key}, {keyword: value}) is expected


@pytest.mark.parametrize(("keyword", "key", "value", "expected"), WILDCARD)
def test_wild_card_matching(keyword: str, key: str, value: Any, expected: bool) -> None:
    assert only({keyword: key}).kind is Kind.WILDCARD
    assert matches({keyword: key}, {keyword: value}) is expected


@pytest.mark.parametrize(("keyword", "key", "value", "expected"), UNIVERSAL)
def test_universal_matching(keyword: str, key: Any, value: Any, expected: bool) -> None:
    assert only({keyword: key}).kind is Kind.UNIVERSAL
    assert matches({keyword: key}, {keyword: value}, match_unknown=False) is expected


@pytest.mark.parametrize(("keyword", "key", "value", "expected"), LIST)
def test_list_matching(keyword: str, key: list[str], value: Any, expected: bool) -> None:
    term = only({keyword: key})
    assert term.kind in (Kind.LIST, Kind.ANY)
    assert len(term.items) == len(key)
    assert matches({keyword: key}, {keyword: value}) is expected


@pytest.mark.parametrize(("keyword", "key", "value", "expected"), RANGE)
def test_range_matching(keyword: str, key: str, value: Any, expected: bool) -> None:
    assert only({keyword: key}).kind is Kind.RANGE
    assert matches({keyword: key}, {keyword: value}) is expected


def test_list_kinds() -> None:
    uids = only({"StudyInstanceUID": ["1.2.3", "1.2.4"]})
    assert (uids.kind, uids.values) == (Kind.LIST, ("1.2.3", "1.2.4"))
    assert [i.kind for i in uids.items] == [Kind.SINGLE, Kind.SINGLE]
    mixed = only({"PatientName": ["Doe*", "Smith"]})
    assert mixed.kind is Kind.ANY
    assert [i.kind for i in mixed.items] == [Kind.WILDCARD, Kind.SINGLE]
    assert only({"ModalitiesInStudy": ["CT", "", "MR"]}).values == ("CT", "MR")


def test_range_bounds_in_terms() -> None:
    date = only({"StudyDate": "20200101-"})
    assert (date.low, date.high) == ("20200101", None)
    time = only({"StudyTime": "-1030"})
    assert (time.low, time.high) == (None, "103059.999999")
    single = only({"StudyTime": "10"})
    assert (single.kind, single.low, single.high) == (Kind.SINGLE, "100000.000000",
                                                     "105959.999999")


# -- Multiple Value Matching (C.2.2.2.8, negotiated) ----------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    (["CT", "PT"], True),
    (["PT", "MR", "CT"], True),
    (["CT", "MR"], False),
    ("CT", False),
])
def test_multiple_value_matching_is_and(value: Any, expected: bool) -> None:
    query = {"ModalitiesInStudy": ["CT", "PT"]}
    assert only(query, multiple_values=True).kind is Kind.MULTIPLE
    assert matches(query, {"ModalitiesInStudy": value}, multiple_values=True) is expected


def test_multiple_value_matching_needs_vm_above_one() -> None:
    assert only({"Modality": ["CT", "MR"]}, multiple_values=True).kind is Kind.LIST
    assert only({"StudyInstanceUID": ["1.2", "1.3"]}, multiple_values=True).kind is Kind.LIST


# -- Empty Value Matching (C.2.2.2.7, negotiated) -------------------------------------------


@pytest.mark.parametrize(("keyword", "value", "expected"), [
    ("PatientID", ABSENT, True),
    ("PatientID", "", True),
    ("PatientID", "  ", True),
    ("PatientID", "X", False),
    ("StudyDate", ABSENT, True),
    ("StudyDate", "20200101", False),
    ("PatientName", "", True),
    ("PatientName", "^^", True),
    ("PatientName", "Doe", False),
    ("ModalitiesInStudy", ["CT"], False),
])
def test_empty_value_matching(keyword: str, value: Any, expected: bool) -> None:
    query = {keyword: '""'}
    assert only(query, empty_value=True).kind is Kind.EMPTY
    for unknown in (True, False):
        assert matches(query, {keyword: value}, empty_value=True,
                       match_unknown=unknown) is expected


def test_empty_value_without_negotiation_is_a_value() -> None:
    assert only({"PatientID": '""'}).kind is Kind.SINGLE
    assert matches({"PatientID": '""'}, {"PatientID": '""'})
    assert not matches({"PatientID": '""'}, {"PatientID": "X"})
    assert only({"StudyInstanceUID": '""'}, empty_value=True).kind is Kind.SINGLE


def test_empty_value_among_alternatives() -> None:
    query = {"PatientID": ['""', "A*"]}
    assert only(query, empty_value=True).kind is Kind.ANY
    assert matches(query, {"PatientID": ABSENT}, empty_value=True, match_unknown=False)
    assert matches(query, {"PatientID": "AB"}, empty_value=True, match_unknown=False)
    assert not matches(query, {"PatientID": "B"}, empty_value=True, match_unknown=False)


# -- entities without a value (C.2.2.1.2; K.2.2.1.1.1) ------------------------------------


@pytest.mark.parametrize(("keyword", "key"), [
    ("PatientID", "ABC"),
    ("PatientID", "A*"),
    ("PatientName", "Doe^John"),
    ("StudyDate", "20200101"),
    ("StudyDate", "20200101-"),
    ("StudyTime", "1000-1100"),
    ("SeriesNumber", "3"),
    ("StudyInstanceUID", ["1.2", "1.3"]),
    ("ModalitiesInStudy", ["CT", "M*"]),
])
@pytest.mark.parametrize("value", [ABSENT, "", None])
def test_unknown_values(keyword: str, key: Any, value: Any) -> None:
    assert matches({keyword: key}, {keyword: value})  # C.2.2.1.2: unknown matches
    assert not matches({keyword: key}, {keyword: value}, match_unknown=False)  # K.2.2.1.1.1


def test_match_unknown_is_carried_by_terms() -> None:
    assert only({"PatientID": "A"}).match_unknown
    assert not only({"PatientID": "A"}, match_unknown=False).match_unknown


# -- person names: groups, case, fuzzy ------------------------------------------------------

JAPANESE = "Yamada^Tarou=山田^太郎=やまだ^たろう"


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("Yamada^Tarou", JAPANESE, True),  # no '=': any one group
    ("山田^太郎", JAPANESE, True),
    ("やまだ^たろう", JAPANESE, True),
    ("山田*", JAPANESE, True),
    ("山田^花子", JAPANESE, False),
    (JAPANESE, JAPANESE, True),  # '=': group by group
    ("=山田^太郎", JAPANESE, True),  # an empty key group matches anything
    ("==やまだ^たろう", JAPANESE, True),
    ("Yamada^Tarou=山田^花子", JAPANESE, False),
    ("=山田^太郎", "Yamada^Tarou", False),  # a non-empty key group needs the group
    ("Yamada*=山*", JAPANESE, True),
    ("Yamada*=田*", JAPANESE, False),
    ("Tarou", JAPANESE, False),
    ("*=*", "Doe", True),
])
def test_person_name_groups(key: str, value: str, expected: bool) -> None:
    assert matches({"PatientName": key}, {"PatientName": value}) is expected


@pytest.mark.parametrize(("key", "value", "options", "expected"), [
    ("doe^john", "Doe^John", {}, False),
    ("doe^john", "Doe^John", {"pn_case_insensitive": True}, True),
    ("doe^john", "Doe^John", {"fuzzy": True}, True),
    ("DO*", "Doe^John", {"fuzzy": True}, True),
    ("buc^jerome", "Buc^Jérôme", {"fuzzy": True}, True),
    ("Buc^Jerome", "Buc^Jérôme", {}, False),
    ("BUC^JÉRÔME", "Buc^Jérôme", {"pn_case_insensitive": True}, True),
    ("ﾀﾛｳ*", "ﾔﾏﾀﾞ^ﾀﾛｳ", {}, False),
    ("=山田^太郎", JAPANESE, {"fuzzy": True}, True),
    ("yamada^tarou=山田^太郎", JAPANESE, {"fuzzy": True}, True),
    ("smith", "Doe^John", {"fuzzy": True}, False),
])
def test_person_name_case_and_fuzzy(key: str, value: str, options: dict[str, bool],
                                    expected: bool) -> None:
    assert matches({"PatientName": key}, {"PatientName": value}, **options) is expected


def test_person_name_terms_are_normalised_and_folded() -> None:
    term = only({"PatientName": " Doe ^ John ^^"})
    assert term.values == ("Doe^John",) and not term.fold_case
    folded = only({"PatientName": "Buc^Jérôme"}, fuzzy=True)
    assert folded.values == ("buc^jerome",) and folded.fold_case
    assert only({"PatientName": "^^"}).kind is Kind.UNIVERSAL
    assert only({"PatientName": "*^"}).kind is Kind.UNIVERSAL
    assert only({"PatientID": "abc"}, fuzzy=True).fold_case is False


# -- combined date and time (C.2.2.2.5, negotiated) ----------------------------------------

STUDY = {"StudyDate": "20060705-20060707", "StudyTime": "1000-1800"}


@pytest.mark.parametrize(("date", "time", "combined", "separate"), [
    ("20060706", "0900", True, False),
    ("20060705", "0900", False, False),
    ("20060705", "1000", True, True),
    ("20060707", "1830", False, False),
    ("20060707", "1700", True, True),
    ("20060707", "180059", True, True),
    ("20060706", "2300", True, False),
    ("20060706", ABSENT, True, True),  # no time: midnight; separately the time is unknown
    ("20060705", ABSENT, False, True),
    ("20060708", "1200", False, False),
])
def test_combined_datetime_range(date: str, time: Any, combined: bool, separate: bool) -> None:
    candidate = {"StudyDate": date, "StudyTime": time}
    assert matches(STUDY, candidate, combined_datetime=True) is combined
    assert matches(STUDY, candidate) is separate


def test_combined_datetime_terms() -> None:
    date, time = terms(STUDY, combined_datetime=True)
    assert (date.kind, date.time_tag, time.kind) == (Kind.RANGE, tag("StudyTime"), Kind.UNIVERSAL)
    assert (date.low, date.high) == ("20060705100000.000000", "20060707180059.999999")
    assert date.values == ("20060705-20060707", "1000-1800")
    open_low = terms({"StudyDate": "-20060707", "StudyTime": "-1800"}, combined_datetime=True)
    assert (open_low[0].low, open_low[0].high) == (None, "20060707180059.999999")
    assert matches({"StudyDate": "-20060707", "StudyTime": "-1800"},
                   {"StudyDate": "20060101", "StudyTime": "2300"}, combined_datetime=True)
    single = terms({"SeriesDate": "20060705", "SeriesTime": "10"}, combined_datetime=True)
    assert (single[0].kind, single[0].time_tag) == (Kind.SINGLE, tag("SeriesTime"))
    assert (single[0].low, single[0].high) == ("20060705100000.000000", "20060705105959.999999")


@pytest.mark.parametrize("query", [
    {"StudyDate": "20060705-20060707", "StudyTime": "1000"},  # different forms
    {"StudyDate": "20060705-", "StudyTime": "-1800"},
    {"StudyDate": "20060705-20060707", "StudyTime": ""},
    {"StudyDate": "20060705-20060707", "SeriesTime": "1000-1800"},  # not a pair
])
def test_combined_datetime_only_for_pairs_of_one_form(query: dict[str, str]) -> None:
    assert all(t.time_tag is None for t in terms(query, combined_datetime=True))


def test_combined_datetime_unknown_date() -> None:
    candidate = {"StudyDate": ABSENT, "StudyTime": "1200"}
    assert matches(STUDY, candidate, combined_datetime=True)
    assert not matches(STUDY, candidate, combined_datetime=True, match_unknown=False)
    found = terms(STUDY, combined_datetime=True)
    assert match_value(found[0], ("20060706", "1200"))
    assert match_value(found[0], ("20060706", "0800"))
    assert not match_value(found[0], ("20060705", "0800"))
    assert not match_value(found[0], ("garbage", "1200"))


def test_time_partners() -> None:
    assert time_partner(tag("StudyDate")) == tag("StudyTime")
    assert time_partner(tag("PatientBirthDate")) == tag("PatientBirthTime")
    assert time_partner(tag("ScheduledProcedureStepStartDate")) == \
        tag("ScheduledProcedureStepStartTime")
    assert time_partner(tag("DateOfLastCalibration")) == tag("TimeOfLastCalibration")
    assert time_partner(tag("StudyTime")) is None
    assert time_partner(tag("PatientName")) is None


# -- DT offsets from the datasets' Timezone Offset From UTC ---------------------------------


def test_datetime_offset_from_the_dataset() -> None:
    query = {"AcquisitionDateTime": "20200101120000-"}
    local = {"AcquisitionDateTime": "20200101130000", "TimezoneOffsetFromUTC": "+0200"}
    assert not matches(query, local)  # 11:00 UTC
    assert matches(query, {**local, "TimezoneOffsetFromUTC": "+0000"})
    zoned = {**query, "TimezoneOffsetFromUTC": "+0200"}  # the key is 10:00 UTC
    assert matches(zoned, local)
    assert matches(query, {**local, "TimezoneOffsetFromUTC": "bogus"})  # ignored


# -- sequence matching (C.2.2.2.6) ----------------------------------------------------------

CODES = [{"CodeValue": "X2", "CodingSchemeDesignator": "DCM"},
         {"CodeValue": "X1", "CodingSchemeDesignator": "L"}]


@pytest.mark.parametrize(("item", "value", "expected"), [
    ({"CodeValue": "X1"}, CODES, True),
    ({"CodeValue": "X3"}, CODES, False),
    ({"CodeValue": "X1", "CodingSchemeDesignator": "L"}, CODES, True),
    ({"CodeValue": "X1", "CodingSchemeDesignator": "DCM"}, CODES, False),  # one item must match
    ({"CodeValue": "X*", "CodingSchemeDesignator": "DCM"}, CODES, True),
    ({"CodeValue": "X1", "CodingSchemeDesignator": ""}, CODES, True),
    ({"CodeValue": "X1"}, ABSENT, True),  # unknown
])
def test_sequence_matching(item: dict[str, str], value: Any, expected: bool) -> None:
    query = {"ProcedureCodeSequence": [item]}
    assert only(query).kind is Kind.SEQUENCE
    assert matches(query, {"ProcedureCodeSequence": value}) is expected


def test_sequence_universal_and_unknown() -> None:
    empty_item = Dataset()
    empty_item.ProcedureCodeSequence = Sequence([Dataset()])
    assert terms_of(wire(empty_item), [tag("ProcedureCodeSequence")])[0].kind is Kind.UNIVERSAL
    assert only({"ProcedureCodeSequence": []}).kind is Kind.UNIVERSAL
    query = {"ProcedureCodeSequence": [{"CodeValue": "X1"}]}
    assert not matches(query, {"ProcedureCodeSequence": ABSENT}, match_unknown=False)
    assert not matches(query, {"ProcedureCodeSequence": []}, match_unknown=False)


def test_nested_sequence_with_dates() -> None:
    query = {"ScheduledProcedureStepSequence": [{
        "ScheduledProcedureStepStartDate": "20200101-20200102",
        "ScheduledProcedureStepStartTime": "2200-0600",
        "ScheduledStationAETitle": "CT*"}]}
    item = {"ScheduledProcedureStepStartDate": "20200101",
            "ScheduledProcedureStepStartTime": "2300", "ScheduledStationAETitle": "CT1"}
    candidate = {"ScheduledProcedureStepSequence": [item]}
    assert matches(query, candidate, combined_datetime=True)
    assert not matches(query, candidate)  # separately the time range crosses midnight
    sub = {t.keyword: t for t in only(query, combined_datetime=True).items}
    assert sub["ScheduledProcedureStepStartDate"].time_tag == \
        tag("ScheduledProcedureStepStartTime")


# -- values pydicom cannot read, binary VRs, bad keys --------------------------------------


@pytest.mark.parametrize(("keyword", "key"), [
    ("StudyDate", "2020-13-01"),
    ("StudyDate", "yesterday"),
    ("StudyTime", "2500"),
    ("AcquisitionDateTime", "2020013"),
    ("SeriesNumber", "twelve"),
    ("StudyDate", "20200101-20200102-20200103"),
])
def test_bad_key_values_raise_a900(keyword: str, key: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        terms({keyword: key})
    assert caught.value.status == 0xA900
    assert caught.value.offending == (tag(keyword),)


def test_binary_keys_are_not_matched() -> None:
    query = Dataset()
    query.add_new(0x00091010, "OB", b"\x01\x02")
    assert terms_of(query, [0x00091010])[0].kind is Kind.UNIVERSAL


def test_absent_keys_are_skipped() -> None:
    assert terms_of(build(PatientID="A"), [tag("PatientName"), tag("PatientID")])[0].keyword \
        == "PatientID"


def test_raw_candidate_values() -> None:
    term = only({"PatientID": "A*"})
    assert match_value(term, b"AB\\XY")
    assert not match_value(term, b"XY")
    assert match_value(only({"SeriesNumber": "3"}), b"3 ")
    assert match_value(only({"StudyInstanceUID": "1.2"}), "1.2\x00")


# -- character sets: pydicom's charset files -------------------------------------------------

CHARSET_FILES = sorted(
    name for name in (path.rsplit("/", 1)[-1] for path in get_charset_files("chr*.dcm"))
    if name not in ("chrSQEncoding.dcm", "chrSQEncoding1.dcm"))


def charset_file(name: str) -> Dataset:
    return pydicom.dcmread(get_charset_files(name)[0])


@pytest.mark.parametrize("name", CHARSET_FILES)
def test_charset_file_names_match_themselves(name: str) -> None:
    ds = charset_file(name)
    query = Dataset()
    query.SpecificCharacterSet = ds.SpecificCharacterSet
    query.PatientName = str(ds.PatientName)
    identifier = wire(query)  # encoded in the file's character set, and decoded
    assert str(identifier.PatientName) == str(ds.PatientName)
    found = terms_of(identifier, [tag("PatientName")])
    assert match_dataset(found, ds)
    other = Dataset()
    other.SpecificCharacterSet = ds.SpecificCharacterSet
    other.PatientName = str(ds.PatientName)[:-1] + ("x" if str(ds.PatientName)[-1] != "x" else "y")
    assert not match_dataset(terms_of(wire(other), [tag("PatientName")]), ds)


@pytest.mark.parametrize(("name", "key", "expected"), [
    ("chrH31.dcm", "山田^太郎", True),
    ("chrH31.dcm", "=山田^太郎", True),
    ("chrH31.dcm", "やまだ*", True),
    ("chrH31.dcm", "=山田^花子", False),
    ("chrH32.dcm", "ﾔﾏﾀﾞ^ﾀﾛｳ", True),
    ("chrI2.dcm", "=洪^吉洞", True),
    ("chrI2.dcm", "홍*", True),
    ("chrX1.dcm", "王^小東", True),
    ("chrX2.dcm", "王^小东", True),
    ("chrX2.dcm", "王^小東", False),
    ("chrRuss.dcm", "Люк*", True),
    ("chrGreek.dcm", "Διον?σιος", True),
    ("chrArab.dcm", "قباني^لنزار", True),
    ("chrHbrw.dcm", "שרון^*", True),
    ("chrFren.dcm", "Buc^J?r?me", True),
    ("chrGerm.dcm", "Äneas*", True),
    ("chrGerm.dcm", "aneas*", False),
])
def test_charset_groups_and_wild_cards(name: str, key: str, expected: bool) -> None:
    ds = charset_file(name)
    query = Dataset()
    query.SpecificCharacterSet = "ISO_IR 192"  # the query's own charset need not be the file's
    query.PatientName = key
    assert match_dataset(terms_of(wire(query), [tag("PatientName")]), ds) is expected


def test_charset_fuzzy_folding() -> None:
    ds = charset_file("chrGerm.dcm")
    query = Dataset()
    query.SpecificCharacterSet = "ISO_IR 100"
    query.PatientName = "aneas^rudiger"
    assert match_dataset(terms_of(wire(query), [tag("PatientName")], fuzzy=True), ds)
    assert not match_dataset(terms_of(wire(query), [tag("PatientName")]), ds)


@pytest.mark.parametrize("name", ["chrSQEncoding.dcm", "chrSQEncoding1.dcm"])
def test_charset_sequence_items(name: str) -> None:
    ds = charset_file(name)
    query = Dataset()
    query.SpecificCharacterSet = "ISO_IR 192"
    query.RequestedProcedureCodeSequence = Sequence([Dataset()])
    query.RequestedProcedureCodeSequence[0].PatientName = "=山田^太郎"
    found = terms_of(wire(query), [tag("RequestedProcedureCodeSequence")])
    assert found[0].kind is Kind.SEQUENCE
    assert match_dataset(found, ds)
    query.RequestedProcedureCodeSequence[0].PatientName = "=山田^花子"
    assert not match_dataset(terms_of(wire(query), [tag("RequestedProcedureCodeSequence")]), ds)


# -- the value forms the archive indexes ----------------------------------------------------


@pytest.mark.parametrize(("function", "value", "expected"), [
    (normalize_da, "20200131", "20200131"),
    (normalize_da, " 2020.01.31 ", "20200131"),
    (normalize_tm, "10", "100000.000000"),
    (normalize_tm, "1030", "103000.000000"),
    (normalize_tm, "103015.5", "103015.500000"),
    (normalize_tm, "10:30:15.123", "103015.123000"),
    (normalize_tm, "235960", "235960.000000"),
    (normalize_dt, "2020", "20200101000000.000000"),
    (normalize_dt, "20200101120000.5+0100", "20200101110000.500000"),
    (normalize_dt, "20200101003000+0100", "20191231233000.000000"),
    (normalize_dt, "20200101120000-0330", "20200101153000.000000"),
    (normalize_pn, " Doe ^ John ^^=", "Doe^John"),
    (normalize_pn, "=山田^太郎", "=山田^太郎"),
    (fold_text, "Jérôme", "jerome"),
    (fold_text, "ﾀﾛｳ", "タロウ"),
    (fold_text, "Straße", "strasse"),
])
def test_value_forms(function: Any, value: str, expected: str) -> None:
    assert function(value) == expected


@pytest.mark.parametrize(("function", "value"), [
    (normalize_da, "2020"),
    (normalize_da, "20201301"),
    (normalize_da, "2020-01-01"),
    (normalize_tm, "1"),
    (normalize_tm, "2400"),
    (normalize_tm, "1060"),
    (normalize_tm, "10301"),
    (normalize_dt, "202"),
    (normalize_dt, "20200230"),
    (normalize_dt, "2020.5"),
    (normalize_dt, "20200101+2500"),
])
def test_bad_values(function: Any, value: str) -> None:
    with pytest.raises(ValueError, match="not a"):
        function(value)


def test_bounds() -> None:
    assert tm_bounds("12") == ("120000.000000", "125959.999999")
    assert tm_bounds("123045.5") == ("123045.500000", "123045.599999")
    assert tm_bounds("123045.123456") == ("123045.123456", "123045.123456")
    assert da_bounds("2020") == ("20200101", "20201231")
    assert da_bounds("202002") == ("20200201", "20200229")
    assert da_bounds("202102") == ("20210201", "20210228")
    assert dt_bounds("202002") == ("20200201000000.000000", "20200229235959.999999")
    assert dt_bounds("2020", offset="+0100") == ("20191231230000.000000",
                                                 "20201231225959.999999")
    assert dt_bounds("99991231+0000") == ("99991231000000.000000", "99991231235959.999999")
    assert dt_bounds("99991231-0100")[1] == "99991231235959.999999"  # clamped
    assert combine_da_tm("20060705", "10") == "20060705100000.000000"
    assert combine_da_tm("20060705", "10", high=True) == "20060705105959.999999"
    assert combine_da_tm("20060705", "", high=True) == "20060705235959.999999"
    assert pn_groups("A^B==C") == ("A^B", "", "C")


def test_wildcard_regex() -> None:
    assert wildcard_regex("a*b?c").fullmatch("aXXbYc")
    assert not wildcard_regex("a*b?c").fullmatch("abc")
    assert wildcard_regex("J*ME", fold_case=True).fullmatch("jerome")
    assert wildcard_regex("*a*a*a*a*a*a*a*a*b").fullmatch("a" * 5000) is None  # quick
