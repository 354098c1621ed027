"""DIMSE-C command sets: byte vectors from the PS3.7 tables, round trips, bad input.

The vectors are assembled by hand from PS3.7 §9.3 (which fields) and Table
E.1-1 (tags and VRs), encoded Implicit VR Little Endian (PS3.5 §7.1.3).
"""

from __future__ import annotations

import dataclasses
import io
import random
import struct

import pydicom.datadict
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom.filereader import read_dataset

from dicomqr.protocol import commands
from dicomqr.protocol.dimse import (
    MESSAGE_TYPES,
    CCancelRQ,
    CEchoRQ,
    CEchoRSP,
    CFindRQ,
    CFindRSP,
    CGetRQ,
    CGetRSP,
    CMoveRQ,
    CMoveRSP,
    CommandField,
    CStoreRQ,
    CStoreRSP,
    Message,
    Priority,
    decode_command,
    encode_command,
)
from dicomqr.protocol.errors import LocalProtocolError, RemoteProtocolError

CT = "1.2.840.10008.5.1.4.1.1.2"
STUDY_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
STUDY_GET = "1.2.840.10008.5.1.4.1.2.2.3"
STUDY_MOVE = "1.2.840.10008.5.1.4.1.2.2.2"


def el(element: int, value: bytes) -> bytes:
    """One implicit VR little endian element of group 0000."""
    return struct.pack("<HHI", 0x0000, element, len(value)) + value


def us(value: int) -> bytes:
    return struct.pack("<H", value)


def command_set(*elements: bytes) -> bytes:
    """Prefix (0000,0000) Command Group Length (UL) to the elements."""
    body = b"".join(elements)
    return el(0x0000, struct.pack("<I", len(body))) + body


# --- byte vectors -----------------------------------------------------------

# C-ECHO-RQ, Message ID 1 (PS3.7 Table 9.3-12), written out byte by byte.
ECHO_RQ_BYTES = bytes.fromhex(
    # (0000,0000) UL len 4 = 56: the bytes of the elements that follow
    "00000000 04000000 38000000"
    # (0000,0002) UI len 18 "1.2.840.10008.1.1" + NUL pad to even length
    "00000200 12000000" + b"1.2.840.10008.1.1\x00".hex() +
    # (0000,0100) US len 2 = 0030H C-ECHO-RQ
    "00000001 02000000 3000"
    # (0000,0110) US len 2 = Message ID 1
    "00001001 02000000 0100"
    # (0000,0800) US len 2 = 0101H: no data set
    "00000008 02000000 0101"
)


def test_echo_rq_vector() -> None:
    msg = CEchoRQ(message_id=1)
    assert len(ECHO_RQ_BYTES) == 12 + 56
    assert encode_command(msg) == ECHO_RQ_BYTES
    assert decode_command(ECHO_RQ_BYTES) == msg


VECTORS: list[tuple[Message, bytes]] = [
    (
        # Table 9.3-13
        CEchoRSP(
            message_id_being_responded_to=1,
            status=0x0000,
            affected_sop_class_uid="1.2.840.10008.1.1",
        ),
        command_set(
            el(0x0002, b"1.2.840.10008.1.1\0"),
            el(0x0100, us(0x8030)),
            el(0x0120, us(1)),
            el(0x0800, us(0x0101)),
            el(0x0900, us(0x0000)),
        ),
    ),
    (
        # Table 9.3-1, as a C-MOVE sub-operation; Priority LOW
        CStoreRQ(
            message_id=7,
            affected_sop_class_uid=CT,
            affected_sop_instance_uid="1.2.3.4",
            priority=Priority.LOW,
            move_originator_application_entity_title="MOVESCU",
            move_originator_message_id=5,
        ),
        command_set(
            el(0x0002, CT.encode() + b"\0"),  # 25 characters + NUL
            el(0x0100, us(0x0001)),
            el(0x0110, us(7)),
            el(0x0700, us(0x0002)),
            el(0x0800, us(0x0001)),  # data set present
            el(0x1000, b"1.2.3.4\0"),
            el(0x1030, b"MOVESCU "),  # AE padded with a space
            el(0x1031, us(5)),
        ),
    ),
    (
        # Table 9.3-2 with the Annex C failure fields
        CStoreRSP(
            message_id_being_responded_to=7,
            status=0xA700,
            affected_sop_class_uid=CT,
            affected_sop_instance_uid="1.2.3.4",
            offending_element=(0x00100010, 0x7FE00010),
            error_comment="Disk full",
            error_id=0x0042,
        ),
        command_set(
            el(0x0002, CT.encode() + b"\0"),
            el(0x0100, us(0x8001)),
            el(0x0120, us(7)),
            el(0x0800, us(0x0101)),
            el(0x0900, us(0xA700)),
            # AT: (0010,0010) then (7FE0,0010), each group then element, LE
            el(0x0901, bytes.fromhex("1000 1000 e07f 1000")),
            el(0x0902, b"Disk full "),  # LO padded with a space
            el(0x0903, us(0x0042)),
            el(0x1000, b"1.2.3.4\0"),
        ),
    ),
    (
        # Table 9.3-3
        CFindRQ(message_id=3, affected_sop_class_uid=STUDY_FIND, priority=Priority.HIGH),
        command_set(
            el(0x0002, STUDY_FIND.encode() + b"\0"),  # 27 characters + NUL
            el(0x0100, us(0x0020)),
            el(0x0110, us(3)),
            el(0x0700, us(0x0001)),
            el(0x0800, us(0x0001)),
        ),
    ),
    (
        # Table 9.3-4, pending with an identifier
        CFindRSP(
            message_id_being_responded_to=3,
            status=0xFF00,
            affected_sop_class_uid=STUDY_FIND,
            has_dataset=True,
        ),
        command_set(
            el(0x0002, STUDY_FIND.encode() + b"\0"),
            el(0x0100, us(0x8020)),
            el(0x0120, us(3)),
            el(0x0800, us(0x0001)),
            el(0x0900, us(0xFF00)),
        ),
    ),
    (
        # Table 9.3-6
        CGetRQ(message_id=9, affected_sop_class_uid=STUDY_GET),
        command_set(
            el(0x0002, STUDY_GET.encode() + b"\0"),
            el(0x0100, us(0x0010)),
            el(0x0110, us(9)),
            el(0x0700, us(0x0000)),
            el(0x0800, us(0x0001)),
        ),
    ),
    (
        # Table 9.3-7, pending with counts
        CGetRSP(
            message_id_being_responded_to=9,
            status=0xFF00,
            number_of_remaining_suboperations=3,
            number_of_completed_suboperations=2,
            number_of_failed_suboperations=1,
            number_of_warning_suboperations=0,
        ),
        command_set(
            el(0x0100, us(0x8010)),
            el(0x0120, us(9)),
            el(0x0800, us(0x0101)),
            el(0x0900, us(0xFF00)),
            el(0x1020, us(3)),
            el(0x1021, us(2)),
            el(0x1022, us(1)),
            el(0x1023, us(0)),
        ),
    ),
    (
        # Table 9.3-9
        CMoveRQ(message_id=11, affected_sop_class_uid=STUDY_MOVE, move_destination="ARCHIVE"),
        command_set(
            el(0x0002, STUDY_MOVE.encode() + b"\0"),
            el(0x0100, us(0x0021)),
            el(0x0110, us(11)),
            el(0x0600, b"ARCHIVE "),
            el(0x0700, us(0x0000)),
            el(0x0800, us(0x0001)),
        ),
    ),
    (
        # Table 9.3-10, final response with the failed UID list as data set
        CMoveRSP(
            message_id_being_responded_to=11,
            status=0xB000,
            affected_sop_class_uid=STUDY_MOVE,
            number_of_completed_suboperations=4,
            number_of_failed_suboperations=1,
            number_of_warning_suboperations=0,
            has_dataset=True,
        ),
        command_set(
            el(0x0002, STUDY_MOVE.encode() + b"\0"),
            el(0x0100, us(0x8021)),
            el(0x0120, us(11)),
            el(0x0800, us(0x0001)),
            el(0x0900, us(0xB000)),
            el(0x1021, us(4)),
            el(0x1022, us(1)),
            el(0x1023, us(0)),
        ),
    ),
    (
        # Table 9.3-5
        CCancelRQ(message_id_being_responded_to=3),
        command_set(
            el(0x0100, us(0x0FFF)),
            el(0x0120, us(3)),
            el(0x0800, us(0x0101)),
        ),
    ),
]


@pytest.mark.parametrize(("message", "wire"), VECTORS, ids=lambda v: type(v).__name__)
def test_vectors(message: Message, wire: bytes) -> None:
    assert encode_command(message) == wire
    assert decode_command(wire) == message
    assert decode_command(memoryview(wire)) == message
    assert decode_command(bytearray(wire)) == message


def test_every_message_type_has_a_vector() -> None:
    assert {type(m) for m, _ in VECTORS} | {CEchoRQ} == set(MESSAGE_TYPES.values())


@pytest.mark.parametrize(("message", "wire"), VECTORS, ids=lambda v: type(v).__name__)
def test_pydicom_reads_our_command_sets(message: Message, wire: bytes) -> None:
    """An independent decoder agrees on every element."""
    ds = read_dataset(io.BytesIO(wire), is_implicit_VR=True, is_little_endian=True)
    assert ds.CommandGroupLength == len(wire) - 12
    assert ds.CommandField == message.command_field
    tags = [int(elem.tag) for elem in ds]
    assert tags == sorted(tags)
    for elem in ds:
        if elem.tag.element in (0x0000, 0x0100):
            continue
        attribute = commands.ELEMENTS[elem.tag.element].attribute
        value = getattr(message, attribute)
        if attribute == "has_dataset":
            assert (elem.value != 0x0101) == value
        elif attribute == "offending_element":
            got = [elem.value] if elem.VM == 1 else list(elem.value)
            assert [int(t) for t in got] == list(value)
        else:
            assert elem.value == value


# --- the data dictionary ------------------------------------------------------


def test_command_dictionary_matches_pydicom() -> None:
    for element, entry in commands.ELEMENTS.items():
        tag = element  # group 0000
        assert pydicom.datadict.dictionary_VR(tag) == entry.vr
        assert pydicom.datadict.keyword_for_tag(tag) == entry.keyword


def test_message_tables_are_in_ascending_tag_order() -> None:
    assert set(commands.MESSAGE_FIELDS) == set(CommandField)
    for rows in commands.MESSAGE_FIELDS.values():
        elements = [e for e, _ in rows]
        assert elements == sorted(elements)
        assert (commands.COMMAND_FIELD, "M") in rows
        assert (commands.COMMAND_DATA_SET_TYPE, "M") in rows


def test_enums() -> None:
    assert int(CommandField.C_CANCEL_RQ) == 0x0FFF
    assert int(CommandField.C_MOVE_RSP) == 0x8021
    assert (Priority.LOW, Priority.MEDIUM, Priority.HIGH) == (2, 0, 1)


# --- decoding tolerance -----------------------------------------------------


def _elements(wire: bytes) -> list[bytes]:
    out, offset = [], 0
    while offset < len(wire):
        length = struct.unpack_from("<I", wire, offset + 4)[0]
        out.append(wire[offset : offset + 8 + length])
        offset += 8 + length
    return out


@pytest.mark.parametrize(("message", "wire"), VECTORS, ids=lambda v: type(v).__name__)
def test_any_order_and_no_group_length(message: Message, wire: bytes) -> None:
    parts = _elements(wire)[1:]
    rng = random.Random(1)
    for _ in range(5):
        rng.shuffle(parts)
        assert decode_command(b"".join(parts)) == message  # no group length at all
        wrong = el(0x0000, struct.pack("<I", 12345))
        assert decode_command(wrong + b"".join(parts)) == message


def test_unknown_and_foreign_command_elements_are_skipped() -> None:
    extra = (
        el(0x0010, b"ABCD")  # retired Command Recognition Code
        + el(0x4000, b"hello ")  # retired Dialog Receiver
        + el(0x0600, b"DEST")  # Move Destination: not a C-ECHO-RQ field
        + el(0xABCD, b"")  # unknown, empty
    )
    assert decode_command(ECHO_RQ_BYTES + extra) == CEchoRQ(message_id=1)


def test_padding_variants_are_accepted() -> None:
    wire = command_set(
        el(0x0002, b"1.2.840.10008.1.1 "),  # space-padded UID
        el(0x0100, us(0x0021)),
        el(0x0110, us(1)),
        el(0x0600, b" DEST\0"),  # leading space, NUL padding
        el(0x0700, us(0)),
        el(0x0800, us(0xFEFE)),  # any value other than 0101H: data set present
    )
    msg = decode_command(wire)
    assert msg == CMoveRQ(
        message_id=1, affected_sop_class_uid="1.2.840.10008.1.1", move_destination="DEST"
    )


def test_optional_empty_elements_are_absent() -> None:
    wire = command_set(
        el(0x0002, b""),
        el(0x0100, us(0x8001)),
        el(0x0120, us(1)),
        el(0x0800, us(0x0101)),
        el(0x0900, us(0)),
        el(0x0901, b""),
        el(0x0902, b""),
        el(0x1000, b""),
    )
    assert decode_command(wire) == CStoreRSP(message_id_being_responded_to=1, status=0)


def test_peer_error_comment_is_sanitised_not_refused() -> None:
    wire = command_set(
        el(0x0100, us(0x8001)),
        el(0x0120, us(1)),
        el(0x0800, us(0x0101)),
        el(0x0900, us(0xC000)),
        el(0x0902, "Fehler: Datenträger voll".encode("latin-1") + b" " * 60),
    )
    msg = decode_command(wire)
    assert isinstance(msg, CStoreRSP)
    assert msg.error_comment == "Fehler: Datentr?ger voll"
    assert decode_command(encode_command(msg)) == msg


# --- decoding errors ----------------------------------------------------------


def _decode_fails(wire: bytes, match: str) -> RemoteProtocolError:
    with pytest.raises(RemoteProtocolError, match=match) as info:
        decode_command(wire)
    assert info.value.reason == 6
    assert info.value.source == 2
    return info.value


@pytest.mark.parametrize(
    ("message", "wire"),
    [(CEchoRQ(message_id=1), ECHO_RQ_BYTES), *VECTORS],
    ids=lambda v: type(v).__name__,
)
def test_every_missing_mandatory_field_is_refused(message: Message, wire: bytes) -> None:
    parts = _elements(wire)[1:]
    for usage_element, usage in commands.MESSAGE_FIELDS[message.command_field]:
        if usage != "M":
            continue
        kept = [p for p in parts if struct.unpack_from("<H", p, 2)[0] != usage_element]
        assert len(kept) == len(parts) - 1
        what = "CommandField" if usage_element == 0x0100 else "lacks mandatory"
        _decode_fails(b"".join(kept), what)


MALFORMED: list[tuple[bytes, str]] = [
    (b"", "no \\(0000,0100\\) CommandField"),
    (ECHO_RQ_BYTES[:-1], "overruns"),
    (ECHO_RQ_BYTES[:-3], "truncated"),
    (ECHO_RQ_BYTES + b"\0\0\0\0", "truncated"),
    (el(0x0100, b"\x30\x00\x00"), "odd length 3"),
    (struct.pack("<HHI", 0, 0x0100, 0xFFFFFFFF), "undefined length"),
    (ECHO_RQ_BYTES + struct.pack("<HHI", 0x0008, 0x0016, 0), r"\(0008,0016\).*group 0000"),
    (ECHO_RQ_BYTES + el(0x0110, us(2)), "appears twice"),
    (
        command_set(el(0x0100, us(0x0100)), el(0x0110, us(1)), el(0x0800, us(0x0101))),
        "unknown or unsupported .* 0x0100",
    ),
    (command_set(el(0x0100, b"\x30\x00\x00\x00")), "CommandField of 2 bytes"),
    (
        command_set(
            el(0x0002, b"1.2\0"),
            el(0x0100, us(0x30)),
            el(0x0110, b"\1\0\0\0"),
            el(0x0800, us(0x0101)),
        ),
        r"\(0000,0110\) MessageID \(US\) has 4 bytes",
    ),
    (
        command_set(
            el(0x0002, b"1.2\0"),
            el(0x0100, us(0x20)),
            el(0x0110, us(1)),
            el(0x0700, us(3)),
            el(0x0800, us(0x0101)),
        ),
        "not LOW",
    ),
    (
        command_set(
            el(0x0002, "1.2.é1".encode("latin-1")),
            el(0x0100, us(0x30)),
            el(0x0110, us(1)),
            el(0x0800, us(0x0101)),
        ),
        "not ASCII",
    ),
    (
        command_set(
            el(0x0002, b"\0\0"), el(0x0100, us(0x30)), el(0x0110, us(1)), el(0x0800, us(0x0101))
        ),
        "is empty",
    ),
    (
        command_set(
            el(0x0100, us(0x8030)),
            el(0x0120, us(1)),
            el(0x0800, us(0x0101)),
            el(0x0900, us(0)),
            el(0x0901, b"\x10\x00\x10\x00\x01\x00"),
        ),
        "multiple of 4",
    ),
]


@pytest.mark.parametrize(("wire", "match"), MALFORMED, ids=[m for _, m in MALFORMED])
def test_malformed_command_sets(wire: bytes, match: str) -> None:
    _decode_fails(wire, match)


@settings(max_examples=2000, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_random_bytes_raise_only_remote_protocol_error(data: bytes) -> None:
    try:
        decode_command(data)
    except RemoteProtocolError as exc:
        assert exc.reason == 6


@settings(max_examples=1000)
@given(st.sampled_from([w for _, w in VECTORS] + [ECHO_RQ_BYTES]), st.data())
def test_mutated_command_sets_raise_only_remote_protocol_error(
    wire: bytes, data: st.DataObject
) -> None:
    buf = bytearray(wire)
    for _ in range(data.draw(st.integers(1, 4))):
        buf[data.draw(st.integers(0, len(buf) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(buf)))
    try:
        msg = decode_command(bytes(buf[:cut]))
    except RemoteProtocolError:
        return
    assert type(msg) in MESSAGE_TYPES.values()


@settings(max_examples=1000)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([*commands.ELEMENTS, 0x0001, 0x4000, 0xFFFF]),
            st.binary(max_size=12),
        ),
        max_size=12,
    )
)
def test_random_element_lists_raise_only_remote_protocol_error(
    elements: list[tuple[int, bytes]],
) -> None:
    wire = b"".join(el(e, v) for e, v in elements)
    try:
        msg = decode_command(wire)
    except RemoteProtocolError as exc:
        assert exc.reason == 6
        return
    assert type(msg) in MESSAGE_TYPES.values()
    assert decode_command(encode_command(msg)) == msg


# --- round trips (hypothesis) ---------------------------------------------------

uid = st.from_regex(r"[1-9][0-9]{0,5}(\.(0|[1-9][0-9]{0,8})){1,6}", fullmatch=True).filter(
    lambda u: len(u) <= 64
)
u16 = st.integers(0, 0xFFFF)
ae = st.from_regex(r"[A-Za-z0-9_\-]([A-Za-z0-9_ \-]{0,14}[A-Za-z0-9_\-])?", fullmatch=True)
lo = st.from_regex(r"[!-\[\]-~]([ -\[\]-~]{0,62}[!-\[\]-~])?", fullmatch=True)
tags = st.lists(st.integers(0, 0xFFFFFFFF), max_size=5).map(tuple)
priority = st.sampled_from(Priority)


def optional(strategy: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.none() | strategy


status_fields = {
    "offending_element": tags,
    "error_comment": optional(lo),
    "error_id": optional(u16),
}
counts = {
    f"number_of_{k}_suboperations": optional(u16)
    for k in ("remaining", "completed", "failed", "warning")
}

STRATEGIES: dict[type, st.SearchStrategy[Message]] = {
    CEchoRQ: st.builds(
        CEchoRQ, message_id=u16, affected_sop_class_uid=uid, has_dataset=st.booleans()
    ),
    CEchoRSP: st.builds(
        CEchoRSP,
        message_id_being_responded_to=u16,
        status=u16,
        affected_sop_class_uid=optional(uid),
        has_dataset=st.booleans(),
        **status_fields,
    ),
    CStoreRQ: st.builds(
        CStoreRQ,
        message_id=u16,
        affected_sop_class_uid=uid,
        affected_sop_instance_uid=uid,
        priority=priority,
        move_originator_application_entity_title=optional(ae),
        move_originator_message_id=optional(u16),
        has_dataset=st.booleans(),
    ),
    CStoreRSP: st.builds(
        CStoreRSP,
        message_id_being_responded_to=u16,
        status=u16,
        affected_sop_class_uid=optional(uid),
        affected_sop_instance_uid=optional(uid),
        has_dataset=st.booleans(),
        **status_fields,
    ),
    CFindRQ: st.builds(
        CFindRQ,
        message_id=u16,
        affected_sop_class_uid=uid,
        priority=priority,
        has_dataset=st.booleans(),
    ),
    CFindRSP: st.builds(
        CFindRSP,
        message_id_being_responded_to=u16,
        status=u16,
        affected_sop_class_uid=optional(uid),
        has_dataset=st.booleans(),
        **status_fields,
    ),
    CGetRQ: st.builds(
        CGetRQ,
        message_id=u16,
        affected_sop_class_uid=uid,
        priority=priority,
        has_dataset=st.booleans(),
    ),
    CGetRSP: st.builds(
        CGetRSP,
        message_id_being_responded_to=u16,
        status=u16,
        affected_sop_class_uid=optional(uid),
        has_dataset=st.booleans(),
        **status_fields,
        **counts,
    ),
    CMoveRQ: st.builds(
        CMoveRQ,
        message_id=u16,
        affected_sop_class_uid=uid,
        move_destination=ae,
        priority=priority,
        has_dataset=st.booleans(),
    ),
    CMoveRSP: st.builds(
        CMoveRSP,
        message_id_being_responded_to=u16,
        status=u16,
        affected_sop_class_uid=optional(uid),
        has_dataset=st.booleans(),
        **status_fields,
        **counts,
    ),
    CCancelRQ: st.builds(CCancelRQ, message_id_being_responded_to=u16, has_dataset=st.booleans()),
}
MESSAGES = st.one_of(*STRATEGIES.values())


def test_a_strategy_for_every_message_type() -> None:
    assert set(STRATEGIES) == set(MESSAGE_TYPES.values())


@pytest.mark.parametrize("cls", list(STRATEGIES), ids=lambda c: c.__name__)
@settings(max_examples=300)
@given(data=st.data())
def test_round_trip(cls: type, data: st.DataObject) -> None:
    message = data.draw(STRATEGIES[cls])
    wire = encode_command(message)
    assert len(wire) % 2 == 0
    assert struct.unpack_from("<I", wire, 8)[0] == len(wire) - 12
    parts = _elements(wire)
    elements = [struct.unpack_from("<H", p, 2)[0] for p in parts]
    assert elements == sorted(elements)
    assert all(len(p) % 2 == 0 for p in parts)
    assert decode_command(wire) == message


# --- construction ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("factory", "match"),
    [
        (lambda: CEchoRQ(message_id=70000), "0..65535"),
        (lambda: CEchoRQ(message_id=True), "0..65535"),
        (lambda: CEchoRQ(message_id=1, affected_sop_class_uid="1.2.x"), "UID"),
        (lambda: CEchoRQ(message_id=1, affected_sop_class_uid="1." * 40 + "1"), "UID"),
        (lambda: CEchoRQ(message_id=1, affected_sop_class_uid=None), "mandatory"),  # type: ignore[arg-type]
        (lambda: CEchoRQ(message_id=1, has_dataset=1), "bool"),  # type: ignore[arg-type]
        (lambda: CFindRQ(message_id=1, affected_sop_class_uid=STUDY_FIND, priority=3), "LOW"),  # type: ignore[arg-type]
        (
            lambda: CMoveRQ(
                message_id=1, affected_sop_class_uid=STUDY_MOVE, move_destination="A" * 17
            ),
            "at most 16",
        ),
        (
            lambda: CMoveRQ(
                message_id=1, affected_sop_class_uid=STUDY_MOVE, move_destination="   "
            ),
            "empty",
        ),
        (
            lambda: CMoveRQ(
                message_id=1, affected_sop_class_uid=STUDY_MOVE, move_destination="A\\B"
            ),
            "backslash",
        ),
        (
            lambda: CStoreRSP(message_id_being_responded_to=1, status=0, error_comment="x" * 65),
            "at most 64",
        ),
        (
            lambda: CStoreRSP(message_id_being_responded_to=1, status=0, error_comment="é"),
            "default repertoire",
        ),
        (
            lambda: CStoreRSP(
                message_id_being_responded_to=1, status=0, offending_element=(1 << 32,)
            ),
            "tags",
        ),
        (lambda: CStoreRSP(message_id_being_responded_to=1, status=-1), "0..65535"),
        (
            lambda: CGetRSP(
                message_id_being_responded_to=1, status=0, number_of_failed_suboperations=-1
            ),
            "0..65535",
        ),
    ],
)
def test_constructors_refuse_bad_values(factory: object, match: str) -> None:
    with pytest.raises(LocalProtocolError, match=match):
        factory()  # type: ignore[operator]


def test_constructors_normalise() -> None:
    rq = CFindRQ(message_id=1, affected_sop_class_uid=STUDY_FIND, priority=2)  # type: ignore[arg-type]
    assert rq.priority is Priority.LOW
    mv = CMoveRQ(message_id=1, affected_sop_class_uid=STUDY_MOVE, move_destination=" DEST  ")
    assert mv.move_destination == "DEST"
    rsp = CStoreRSP(
        message_id_being_responded_to=1,
        status=0,
        offending_element=[0x00100010],  # type: ignore[arg-type]
        error_comment="  padded  ",
    )
    assert rsp.offending_element == (0x00100010,)
    assert rsp.error_comment == "padded"
    assert hash(rsp)


def test_messages_are_frozen_slotted_keyword_only() -> None:
    msg = CEchoRQ(message_id=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        msg.message_id = 2  # type: ignore[misc]
    assert not hasattr(msg, "__dict__")
    with pytest.raises(TypeError):
        CEchoRQ(1)  # type: ignore[call-arg]


def test_defaults_follow_the_tables() -> None:
    assert CEchoRQ(message_id=1).affected_sop_class_uid == "1.2.840.10008.1.1"
    assert CStoreRQ(
        message_id=1, affected_sop_class_uid=CT, affected_sop_instance_uid="1.2"
    ).has_dataset
    assert CFindRQ(message_id=1, affected_sop_class_uid=STUDY_FIND).priority is Priority.MEDIUM
    assert not CFindRSP(message_id_being_responded_to=1, status=0).has_dataset
    assert not CCancelRQ(message_id_being_responded_to=1).has_dataset


def test_encode_refuses_non_messages() -> None:
    with pytest.raises(LocalProtocolError, match="not a DIMSE message"):
        encode_command("C-ECHO")  # type: ignore[arg-type]
