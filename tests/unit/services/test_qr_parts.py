"""The pieces of the Q/R services that need no association: extended
negotiation bytes, handler statuses, the handler feed, the identifier codec
and the CLI's identifier builder."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from pydicom import Dataset

from dicomqr import status, uids
from dicomqr.cli.qr import build_identifier
from dicomqr.services import extended
from dicomqr.services.codec import IdentifierCodecError, decode_identifier, encode_identifier
from dicomqr.services.contract import CONTRACT, ContractError, Violation, parse_status
from dicomqr.services.handlers import (
    END,
    ExtendedOptions,
    HandlerFeed,
    HandlerRaised,
    HandlerTimedOut,
    QRHandlers,
)
from dicomqr.uids import QRModel, QRService

FIND, GET, MOVE = QRService.FIND, QRService.GET, QRService.MOVE

# -- extended negotiation (PS3.4 C.5.1.1, C.5.2.1, C.5.3.1, Y.5.1.1, K.5) -----------


def test_find_bytes_follow_table_c5_1() -> None:
    opts = ExtendedOptions(relational=True, date_time_matching=True, fuzzy_matching=True,
                           timezone_adjustment=True, enhanced_conversion=True)
    assert extended.encode(FIND, opts) == b"\x01\x01\x01\x01\x01"
    assert extended.encode(FIND, ExtendedOptions(fuzzy_matching=True)) == b"\x00\x00\x01"
    assert extended.encode(FIND, ExtendedOptions()) == b""
    assert extended.decode(FIND, b"\x00\x00\x00\x01") == ExtendedOptions(timezone_adjustment=True)


def test_retrieve_bytes() -> None:
    assert extended.encode(MOVE, ExtendedOptions(relational=True)) == b"\x01"
    assert extended.encode(GET, ExtendedOptions(enhanced_conversion=True)) == b"\x00\x01"
    # Options of C-FIND mean nothing to a retrieve.
    assert extended.encode(GET, ExtendedOptions(fuzzy_matching=True)) == b""
    assert extended.decode(GET, b"\x01\x01") == ExtendedOptions(relational=True,
                                                                 enhanced_conversion=True)


def test_instance_root_byte_one_is_unused() -> None:
    model = QRModel.COMPOSITE_INSTANCE_ROOT
    assert extended.encode(GET, ExtendedOptions(relational=True), model) == b""
    assert extended.encode(GET, ExtendedOptions(enhanced_conversion=True), model) == b"\x00\x01"
    assert extended.answer(GET, b"\x01\x01", ExtendedOptions(relational=True,
                                                            enhanced_conversion=True),
                           model) == b"\x00\x01"


def test_single_entity_find_uses_the_worklist_layout() -> None:
    model = QRModel.COLOR_PALETTE
    assert extended.encode(FIND, ExtendedOptions(fuzzy_matching=True), model) == b"\x01\x01\x01"
    assert extended.decode(FIND, b"\x01\x01\x00\x01", model) == ExtendedOptions(
        timezone_adjustment=True)
    # Bytes 1 and 2 are echoed as sent; nothing is granted on their retrieves.
    assert extended.answer(FIND, b"\x01\x01\x01", ExtendedOptions(), model) == b"\x01\x01\x00"
    assert extended.answer(MOVE, b"\x01\x01", ExtendedOptions(relational=True), model) == \
        b"\x00\x00"


@given(st.binary(max_size=8), st.booleans(), st.booleans(), st.booleans())
def test_answer_never_grants_what_was_not_asked(proposed: bytes, rel: bool, fuzzy: bool,
                                                tz: bool) -> None:
    supported = ExtendedOptions(relational=rel, fuzzy_matching=fuzzy, timezone_adjustment=tz)
    for service in (FIND, GET, MOVE):
        reply = extended.answer(service, proposed, supported)
        assert len(reply) == len(proposed)
        for asked, given_ in zip(proposed, reply, strict=True):
            assert given_ in (0, 1)
            assert not (given_ == 1 and asked != 1)
        granted = extended.decode(service, reply)
        assert not granted.relational or rel
        assert not granted.fuzzy_matching or fuzzy


def test_reply_hook_answers_q_r_classes_only() -> None:
    hook = extended.reply_hook(lambda uid: ExtendedOptions(relational=True))
    assert hook(uids.STUDY_ROOT_QR_FIND, b"\x01\x01") == b"\x01\x00"
    assert hook(uids.VERIFICATION_SOP_CLASS, b"\x01") is None


def test_per_class_support() -> None:
    h = QRHandlers(extended={uids.STUDY_ROOT_QR_FIND: ExtendedOptions(fuzzy_matching=True)})
    assert h.extended_for(uids.STUDY_ROOT_QR_FIND).fuzzy_matching
    assert not h.extended_for(uids.PATIENT_ROOT_QR_FIND).any


# -- handler statuses (DESIGN.md, the handler contract) ------------------------------


def _status_ds(**kw: object) -> Dataset:
    ds = Dataset()
    for k, v in kw.items():
        setattr(ds, k, v)
    return ds


def test_int_and_dataset_statuses() -> None:
    assert parse_status(0xFF00, FIND).code == 0xFF00
    reply = parse_status(_status_ds(Status=0xA900, ErrorComment="x" * 80,
                                    OffendingElement=[0x00100010, 0x00080052]), FIND)
    assert (reply.code, len(reply.comment or ""), reply.offending) == \
        (0xA900, 64, (0x00100010, 0x00080052))
    assert parse_status(_status_ds(Status=0x0124, ErrorID=7), GET).error_id == 7


@pytest.mark.parametrize(("value", "code"), [
    (Dataset(), 0xC001),
    ("0xFF00", 0xC002),
    (None, 0xC002),
    (True, 0xC002),
    (0x10000, 0xC002),
    (-1, 0xC002),
    (_status_ds(Status=0x12345), 0xC002),
])
def test_contract_violations(value: object, code: int) -> None:
    for service in (FIND, GET, MOVE):
        with pytest.raises(ContractError) as info:
            parse_status(value, service)
        assert info.value.code == code


def test_contract_table_names_seed_codes() -> None:
    assert CONTRACT[(Violation.RAISED, FIND)] == status.FIND_HANDLER_RAISED == 0xC311
    assert CONTRACT[(Violation.RAISED, GET)] == 0xC411
    assert CONTRACT[(Violation.RAISED, MOVE)] == 0xC511
    assert CONTRACT[(Violation.UNDECODABLE_IDENTIFIER, MOVE)] == 0xC510
    assert CONTRACT[(Violation.BAD_COUNT, GET)] == 0xC413
    assert CONTRACT[(Violation.BAD_DESTINATION, MOVE)] == 0xC515
    assert CONTRACT[(Violation.NO_DESTINATION_OR_COUNT, MOVE)] == 0xC514
    assert CONTRACT[(Violation.UNENCODABLE_RESULT, FIND)] == 0xC312


# -- the handler feed -----------------------------------------------------------------


async def _drain(feed: HandlerFeed, timeout: float | None = 2.0) -> list[object]:
    out: list[object] = []
    while True:
        items = await feed.get(timeout)
        out.extend(i for i in items if i is not END)
        if END in items:
            return out


async def test_plain_generator_runs_off_the_loop() -> None:
    loop_thread = threading.get_ident()
    seen: list[int] = []

    def gen():  # type: ignore[no-untyped-def]
        for i in range(1000):
            seen.append(threading.get_ident())
            yield i

    assert await _drain(HandlerFeed(gen(), limit=16)) == list(range(1000))
    assert loop_thread not in seen


async def test_async_generator() -> None:
    async def agen():  # type: ignore[no-untyped-def]
        for i in range(500):
            if i % 100 == 0:
                await asyncio.sleep(0)
            yield i

    assert await _drain(HandlerFeed(agen(), limit=7)) == list(range(500))


@pytest.mark.parametrize("kind", ["plain", "async"])
async def test_errors_are_reported(kind: str) -> None:
    def gen():  # type: ignore[no-untyped-def]
        yield 1
        raise KeyError("boom")

    async def agen():  # type: ignore[no-untyped-def]
        yield 1
        raise KeyError("boom")

    feed = HandlerFeed(gen() if kind == "plain" else agen())
    with pytest.raises(HandlerRaised) as info:
        await _drain(feed)
    assert isinstance(info.value.__cause__, KeyError)


@pytest.mark.parametrize("kind", ["plain", "async"])
async def test_timeout_and_stop_close_the_generator(kind: str) -> None:
    closed = threading.Event()

    def gen():  # type: ignore[no-untyped-def]
        try:
            yield 1
            while True:
                time.sleep(0.01)
                yield from ()
                if closed.is_set():
                    return
        finally:
            closed.set()

    async def agen():  # type: ignore[no-untyped-def]
        try:
            yield 1
            await asyncio.sleep(3600)
        finally:
            closed.set()

    feed = HandlerFeed(gen() if kind == "plain" else agen())
    assert await feed.get(1.0) == [1]
    started = time.monotonic()
    with pytest.raises(HandlerTimedOut):
        await feed.get(0.1)
    assert time.monotonic() - started < 1.0
    feed.stop()
    if kind == "async":
        await asyncio.sleep(0.05)
        assert closed.is_set()


async def test_stop_event_wakes_a_waiting_consumer() -> None:
    stop = asyncio.Event()

    async def agen():  # type: ignore[no-untyped-def]
        await asyncio.sleep(3600)
        yield 1

    feed = HandlerFeed(agen(), stop_event=stop)
    asyncio.get_running_loop().call_later(0.05, stop.set)
    started = time.monotonic()
    assert await feed.get(5.0) == []
    assert time.monotonic() - started < 1.0
    feed.stop()


async def test_not_a_generator() -> None:
    with pytest.raises(TypeError):
        HandlerFeed([1, 2, 3])


async def test_plain_producer_is_bounded() -> None:
    produced = 0

    def gen():  # type: ignore[no-untyped-def]
        nonlocal produced
        for i in range(10_000):
            produced += 1
            yield i

    feed = HandlerFeed(gen(), limit=10)
    await asyncio.sleep(0.1)
    assert produced <= 11  # the buffer plus the item in hand
    feed.stop()


# -- identifier codec -----------------------------------------------------------------


@pytest.mark.parametrize("ts", [uids.IMPLICIT_VR_LITTLE_ENDIAN, uids.EXPLICIT_VR_LITTLE_ENDIAN,
                                uids.EXPLICIT_VR_BIG_ENDIAN,
                                uids.DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN])
def test_identifier_round_trip(ts: str) -> None:
    ds = build_identifier(["PatientName=DOE^J*", "StudyDate=20200101-20201231",
                           "ModalitiesInStudy=CT\\MR", "StudyInstanceUID",
                           "ReferencedStudySequence.ReferencedSOPClassUID=1.2.3"], "STUDY")
    data = encode_identifier(ds, ts)
    assert len(data) % 2 == 0
    back = decode_identifier(data, ts)
    assert back == ds
    assert list(back.ModalitiesInStudy) == ["CT", "MR"]


@pytest.mark.parametrize("data", [b"\x08\x00\x52\x00\xff\xff\xff\x7f", b"\x01", b"\x10\x00"])
def test_undecodable_identifiers(data: bytes) -> None:
    with pytest.raises(IdentifierCodecError):
        decode_identifier(data, uids.EXPLICIT_VR_LITTLE_ENDIAN)


def test_unknown_transfer_syntax() -> None:
    with pytest.raises(IdentifierCodecError):
        decode_identifier(b"", "1.2.3.4")


def test_build_identifier_keys() -> None:
    ds = build_identifier(["0010,0020=123", "PatientName", "ScheduledProcedureStepSequence"])
    assert ds.PatientID == "123"
    assert ds.PatientName == ""
    assert ds.ScheduledProcedureStepSequence == []
    with pytest.raises(ValueError):
        build_identifier(["NoSuchKeyword=1"])


@given(st.binary(max_size=200), st.sampled_from([uids.IMPLICIT_VR_LITTLE_ENDIAN,
                                                 uids.EXPLICIT_VR_LITTLE_ENDIAN,
                                                 uids.EXPLICIT_VR_BIG_ENDIAN]))
def test_garbage_fails_cleanly(data: bytes, ts: str) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.suppress(IdentifierCodecError):
            decode_identifier(data, ts)


@given(st.integers(0, 60))
def test_any_truncation_of_a_valid_identifier_is_refused(cut: int) -> None:
    ds = build_identifier(["PatientName=DOE", "StudyInstanceUID=1.2.3",
                           "ReferencedStudySequence.ReferencedSOPClassUID=1.2"], "STUDY")
    data = encode_identifier(ds, uids.EXPLICIT_VR_LITTLE_ENDIAN)
    cut = min(cut, len(data) - 1) + 1
    # Cutting whole trailing elements leaves a valid, shorter identifier.
    boundaries = set()
    for k in range(len(ds)):
        head = Dataset()
        for elem in list(ds)[:k]:
            head.add(elem)
        boundaries.add(len(data) - len(encode_identifier(head, uids.EXPLICIT_VR_LITTLE_ENDIAN)))
    assume(cut not in boundaries)
    with pytest.raises(IdentifierCodecError):
        decode_identifier(data[:-cut], uids.EXPLICIT_VR_LITTLE_ENDIAN)


def test_storage_classes_from_prior_find() -> None:
    from dicomqr.services.qr_scu import get_proposals, storage_classes_of

    study = Dataset()
    study.SOPClassesInStudy = ["1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.4"]
    image = Dataset()
    image.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    other = Dataset()
    other.SOPClassesInStudy = "1.2.840.10008.5.1.4.1.1.7"
    found = storage_classes_of([study, image, other, Dataset()])
    assert found == ["1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.4",
                     "1.2.840.10008.5.1.4.1.1.7"]
    proposals, roles = get_proposals(uids.STUDY_ROOT_QR_GET, found)
    assert [p.abstract_syntax for p in proposals] == [uids.STUDY_ROOT_QR_GET, *found]
    assert all(r.scp_role and not r.scu_role for r in roles)
    with pytest.raises(ValueError):
        get_proposals(uids.STUDY_ROOT_QR_GET, [f"1.2.3.{i}" for i in range(128)])


# -- the fast identifier encoder agrees with pydicom's writer ---------------------------

_TEXT = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E,
                                       exclude_characters="\\"), max_size=12)
_FIELDS = {
    "PatientName": _TEXT, "PatientID": _TEXT, "StudyDescription": _TEXT,
    "StudyDate": st.sampled_from(["", "20200101", "20200101-20201231"]),
    "StudyInstanceUID": st.sampled_from(["", "1.2.3", "1.2.840.10008.1"]),
    "ModalitiesInStudy": st.lists(st.sampled_from(["CT", "MR", "US"]), max_size=3),
    "NumberOfStudyRelatedInstances": st.integers(0, 10**6).map(str),
    "PatientWeight": st.sampled_from(["", "70", "70.5"]),
    "Rows": st.integers(0, 65535),
    "ImagePositionPatient": st.sampled_from([["1.0", "2", "-3.5"], []]),
    "RetrieveAETitle": st.sampled_from(["", "AE1", "PACS"]),
    "TextValue": _TEXT,
}


@given(st.dictionaries(st.sampled_from(sorted(_FIELDS)), st.none(), max_size=len(_FIELDS))
       .flatmap(lambda keys: st.fixed_dictionaries({k: _FIELDS[k] for k in keys})),
       st.sampled_from([uids.IMPLICIT_VR_LITTLE_ENDIAN, uids.EXPLICIT_VR_LITTLE_ENDIAN]))
def test_fast_encoder_matches_pydicom(values: dict[str, object], ts: str) -> None:
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset

    ds = Dataset()
    ds.QueryRetrieveLevel = "STUDY"
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    fp = DicomBytesIO()
    fp.is_little_endian = True
    fp.is_implicit_VR = ts == uids.IMPLICIT_VR_LITTLE_ENDIAN
    write_dataset(fp, ds)
    assert encode_identifier(ds, ts) == fp.getvalue()


def test_fast_encoder_falls_back_for_what_it_does_not_handle() -> None:
    ds = build_identifier(["ReferencedStudySequence.ReferencedSOPClassUID=1.2"], "STUDY")
    ds.PatientName = "Müller"
    ds.SpecificCharacterSet = "ISO_IR 100"
    back = decode_identifier(encode_identifier(ds, uids.EXPLICIT_VR_LITTLE_ENDIAN),
                             uids.EXPLICIT_VR_LITTLE_ENDIAN)
    assert back.PatientName == "Müller"
    assert back.ReferencedStudySequence[0].ReferencedSOPClassUID == "1.2"


# -- byte order and character set on encoding ------------------------------------------


def test_words_are_swapped_between_byte_orders() -> None:
    from pydicom.dataelem import DataElement

    from dicomqr.services.codec import in_byte_order

    ds = Dataset()
    ds.add(DataElement(0x7FE00010, "OW", b"\x01\x02\x03\x04"))
    ds.add(DataElement(0x00281201, "OW", b"\xaa\xbb"))
    seq_item = Dataset()
    seq_item.add(DataElement(0x00660016, "OF", b"\x01\x02\x03\x04"))
    ds.add(DataElement(0x00660002, "SQ", [seq_item]))
    ds.Rows = 2
    assert in_byte_order(ds, True) is ds  # built in memory: little endian already
    big = in_byte_order(ds, False)
    assert big.PixelData == b"\x02\x01\x04\x03"
    assert big[0x00281201].value == b"\xbb\xaa"
    assert big[0x00660002].value[0][0x00660016].value == b"\x04\x03\x02\x01"
    assert ds.PixelData == b"\x01\x02\x03\x04"  # the original is left alone
    data = encode_identifier(ds, uids.EXPLICIT_VR_BIG_ENDIAN)
    back = decode_identifier(data, uids.EXPLICIT_VR_BIG_ENDIAN)
    assert back.Rows == 2
    assert back.PixelData == b"\x02\x01\x04\x03"  # as big-endian words on the wire


def test_non_ascii_text_gets_a_character_set() -> None:
    ds = Dataset()
    ds.PatientName = "Müller^Jörg"
    data = encode_identifier(ds, uids.EXPLICIT_VR_LITTLE_ENDIAN)
    back = decode_identifier(data, uids.EXPLICIT_VR_LITTLE_ENDIAN)
    assert back.SpecificCharacterSet == "ISO_IR 192"
    assert str(back.PatientName) == "Müller^Jörg"
    assert "SpecificCharacterSet" not in ds


@given(st.dictionaries(st.sampled_from(sorted(_FIELDS)), st.none(), max_size=len(_FIELDS))
       .flatmap(lambda keys: st.fixed_dictionaries({k: _FIELDS[k] for k in keys})),
       st.sampled_from([uids.IMPLICIT_VR_LITTLE_ENDIAN, uids.EXPLICIT_VR_LITTLE_ENDIAN]))
def test_fast_decoder_matches_pydicom(values: dict[str, object], ts: str) -> None:
    """Responses decoded the fast way read the same as through pydicom."""
    ds = Dataset()
    ds.QueryRetrieveLevel = "STUDY"
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    data = encode_identifier(ds, ts)
    fast = decode_identifier(data, ts, strict=False)
    slow = decode_identifier(data, ts)
    assert [e.tag for e in fast] == [e.tag for e in slow]
    for a, b in zip(fast, slow, strict=True):
        assert (a.VR, a.value) == (b.VR, b.value)


def test_fast_decoder_leaves_the_rest_to_pydicom() -> None:
    nested = build_identifier(["ReferencedStudySequence.ReferencedSOPClassUID=1.2"], "STUDY")
    for ts in (uids.IMPLICIT_VR_LITTLE_ENDIAN, uids.EXPLICIT_VR_LITTLE_ENDIAN):
        back = decode_identifier(encode_identifier(nested, ts), ts, strict=False)
        assert back.ReferencedStudySequence[0].ReferencedSOPClassUID == "1.2"
    data = encode_identifier(nested, uids.EXPLICIT_VR_LITTLE_ENDIAN)
    with pytest.raises(IdentifierCodecError):
        decode_identifier(data[:-3], uids.EXPLICIT_VR_LITTLE_ENDIAN, strict=False)
