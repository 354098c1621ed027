"""P-DATA fragmentation and reassembly (PS3.8 Annex E, §9.3.5)."""

from __future__ import annotations

import itertools
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dicomqr.protocol.dimse import (
    CEchoRQ,
    CEchoRSP,
    CFindRQ,
    CFindRSP,
    CStoreRQ,
    Message,
    encode_command,
)
from dicomqr.protocol.errors import LocalProtocolError, RemoteProtocolError
from dicomqr.protocol.pdu import PDV
from dicomqr.protocol.pdv import (
    DEFAULT_MAX_COMMAND_SIZE,
    MIN_MAX_PDU_LENGTH,
    UNLIMITED_PDU_LENGTH,
    CommandReceived,
    DatasetFragment,
    DatasetFragmenter,
    MessageAssembler,
    MessageReceived,
    Reassembler,
    fragment,
    fragment_message,
    fragment_stream,
    max_fragment_length,
)

CT = "1.2.840.10008.5.1.4.1.1.2"
FIND = "1.2.840.10008.5.1.4.1.2.2.1"
ECHO = CEchoRQ(message_id=1)
STORE = CStoreRQ(message_id=2, affected_sop_class_uid=CT, affected_sop_instance_uid="1.2.3")
FIND_RQ = CFindRQ(message_id=3, affected_sop_class_uid=FIND)


# --- a reader for what we write (the real PDU codec lives elsewhere) ----------


def parse(chunks: list[bytes | memoryview], max_pdu_length: int) -> list[PDV]:
    """Split ``b"".join(chunks)`` into P-DATA-TF PDUs and their PDVs, checking sizes."""
    wire = b"".join(chunks)
    limit = max_pdu_length or UNLIMITED_PDU_LENGTH
    pdvs: list[PDV] = []
    offset = 0
    while offset < len(wire):
        pdu_type, reserved, pdu_length = struct.unpack_from(">BBI", wire, offset)
        assert (pdu_type, reserved) == (0x04, 0)
        assert pdu_length <= limit, "PDU above the peer's maximum length"
        body = wire[offset + 6 : offset + 6 + pdu_length]
        assert len(body) == pdu_length
        item_length, context_id, control = struct.unpack_from(">IBB", body)
        assert item_length == pdu_length - 4, "exactly one PDV per PDU"
        assert control & ~0x03 == 0
        pdvs.append(
            PDV(
                context_id=context_id,
                is_command=bool(control & 1),
                is_last=bool(control & 2),
                data=bytes(body[6:]),
            )
        )
        offset += 6 + pdu_length
    return pdvs


def reassemble(pdvs: list[PDV]) -> list[MessageReceived]:
    assembler = MessageAssembler()
    out: list[MessageReceived] = []
    for pdv in pdvs:
        out.extend(assembler.feed(pdv))
    assert assembler.idle
    return out


# --- fragment -------------------------------------------------------------------


def test_echo_rq_in_one_pdu_vector() -> None:
    command = encode_command(ECHO)  # 68 bytes
    (pdu,) = fragment(1, command, None, 16384)
    assert pdu == (
        bytes.fromhex(
            "04 00 0000004a"  # P-DATA-TF, reserved, PDU length 74 = 6 + 68
            "00000046"  # PDV item length 70 = 2 + 68
            "01"  # presentation context ID 1
            "03"  # message control header: command, last fragment
        )
        + command
    )


def test_dataset_is_sliced_not_copied() -> None:
    dataset = bytes(range(256)) * 4  # 1024 bytes
    chunks = fragment(3, encode_command(STORE), dataset, 6 + 500)
    command_pdus, rest = chunks[:1], chunks[1:]
    assert isinstance(command_pdus[0], bytes)
    headers, slices = rest[0::2], rest[1::2]
    assert [len(h) for h in headers] == [12, 12, 12]
    assert all(isinstance(s, memoryview) and s.obj is dataset for s in slices)
    assert [len(s) for s in slices] == [500, 500, 24]
    # data set fragments: 0x00 (not last), 0x00, 0x02 (last)
    assert [h[-1] for h in headers] == [0x00, 0x00, 0x02]
    assert all(h[-2] == 3 for h in headers)


def test_fragments_are_even_sized() -> None:
    # 6 + 9 would allow a 9-byte fragment; PS3.8 E.1 wants even ones.
    pdvs = parse(fragment(1, encode_command(ECHO), b"x" * 40, 15), 15)
    assert all(len(p.data) == 8 for p in pdvs if not p.is_last)
    assert [len(p.data) for p in pdvs if p.is_last] == [68 % 8, 40 % 8 or 8]


def test_command_pdvs_all_come_first() -> None:
    pdvs = parse(fragment(1, encode_command(STORE), b"ab" * 100, 20), 20)
    kinds = [p.is_command for p in pdvs]
    assert kinds == sorted(kinds, reverse=True)
    assert [p.is_last for p in pdvs if p.is_command].count(True) == 1
    assert [p.is_last for p in pdvs if not p.is_command].count(True) == 1
    assert pdvs[-1].is_last and not pdvs[-1].is_command


def test_empty_dataset_is_one_empty_last_fragment() -> None:
    pdvs = parse(fragment(1, encode_command(FIND_RQ), b"", 100), 100)
    assert pdvs[-1] == PDV(context_id=1, is_command=False, is_last=True, data=b"")
    (msg,) = reassemble(pdvs)
    assert msg.dataset == b""


def test_unlimited_peer_gets_1_mib_pdus() -> None:
    dataset = bytes(3 * UNLIMITED_PDU_LENGTH)
    pdvs = parse(fragment(1, encode_command(STORE), dataset, 0), 0)
    assert max(len(p.data) for p in pdvs) == UNLIMITED_PDU_LENGTH - 6
    assert max_fragment_length(0) == UNLIMITED_PDU_LENGTH - 6


def test_dataset_may_be_any_buffer() -> None:
    import array

    data = array.array("H", range(100))
    (msg,) = reassemble(parse(fragment(1, encode_command(STORE), memoryview(data), 64), 64))
    assert msg.dataset == data.tobytes()
    (msg,) = reassemble(parse(fragment(1, encode_command(STORE), bytearray(b"ab"), 64), 64))
    assert msg.dataset == b"ab"


@pytest.mark.parametrize("bad", [1, 6, 7, -1, 2**32, 16384.0, True])
def test_max_pdu_length_too_small_or_not_an_int(bad: object) -> None:
    with pytest.raises(LocalProtocolError, match="maximum PDU length"):
        fragment(1, b"\0\0", None, bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [0, 2, 256, -1, "1"])
def test_context_id_must_be_odd_1_to_255(bad: object) -> None:
    with pytest.raises(LocalProtocolError, match="odd integer"):
        fragment(bad, b"\0\0", None, 100)  # type: ignore[arg-type]


def test_empty_command_is_refused() -> None:
    with pytest.raises(LocalProtocolError, match="command set"):
        fragment(1, b"", None, 100)


def test_fragment_message_checks_has_dataset() -> None:
    with pytest.raises(LocalProtocolError, match="has_dataset=True"):
        fragment_message(1, STORE, None, 100)
    with pytest.raises(LocalProtocolError, match="has_dataset=False"):
        fragment_message(1, ECHO, b"xx", 100)
    assert b"".join(fragment_message(1, ECHO, None, 100)) == b"".join(
        fragment(1, encode_command(ECHO), None, 100)
    )


payloads = st.binary(max_size=2000).map(lambda b: b + b"\0" * (len(b) % 2))
max_lengths = st.one_of(
    st.integers(MIN_MAX_PDU_LENGTH, 64),
    st.integers(65, 4096),
    st.sampled_from([0, 16384, 65536, 2**32 - 1]),
)


@settings(max_examples=400)
@given(max_lengths, payloads, st.sampled_from([1, 3, 127, 255]))
def test_fragment_reassemble_round_trip(max_pdu: int, dataset: bytes, context_id: int) -> None:
    command = encode_command(STORE)
    pdvs = parse(fragment(context_id, command, dataset, max_pdu), max_pdu)
    assert all(p.context_id == context_id for p in pdvs)
    assert all(len(p.data) % 2 == 0 for p in pdvs)
    assert all(p.data for p in pdvs) or dataset == b""
    (msg,) = reassemble(pdvs)
    assert msg == MessageReceived(context_id=context_id, message=STORE, dataset=dataset)


@pytest.mark.parametrize("max_pdu", range(MIN_MAX_PDU_LENGTH, 80))
def test_every_small_max_pdu_length(max_pdu: int) -> None:
    dataset = bytes(range(200))
    pdvs = parse(fragment(1, encode_command(STORE), dataset, max_pdu), max_pdu)
    (msg,) = reassemble(pdvs)
    assert msg.dataset == dataset and msg.message == STORE


# --- streaming ------------------------------------------------------------------


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


@settings(max_examples=300)
@given(max_lengths, payloads, st.lists(st.integers(0, 2000), max_size=20))
def test_streaming_matches_fragment(max_pdu: int, dataset: bytes, cuts: list[int]) -> None:
    whole = fragment(5, b"\0\0", dataset, max_pdu)[1:]  # drop the command PDU
    pieces = [*split(dataset, cuts), b""]  # an empty piece is harmless
    streamed = list(fragment_stream(5, pieces, len(dataset), max_pdu))
    assert b"".join(streamed) == b"".join(whole)
    for chunk in streamed:  # headers, and slices of the pieces (no copies)
        if isinstance(chunk, memoryview):
            assert any(chunk.obj is piece for piece in pieces)
        else:
            assert len(chunk) == 12


def test_streaming_a_pdv_across_pieces() -> None:
    # max PDU 12: fragments of 6 bytes; 10 bytes fed as 4 + 6
    fragmenter = DatasetFragmenter(context_id=1, total_length=10, max_pdu_length=12)
    first = fragmenter.feed(b"abcd")
    assert len(first) == 2  # header of a 6-byte fragment, then "abcd"
    assert bytes(first[0]) == fragment(1, b"\0\0", b"abcdef" + b"ghij", 12)[1]
    assert bytes(first[1]) == b"abcd"
    second = fragmenter.feed(b"efghij")
    assert [bytes(c) for c in second] == [
        b"ef",  # the rest of the first fragment
        fragment(1, b"\0\0", b"abcdef" + b"ghij", 12)[3],  # header: 4 bytes, last
        b"ghij",
    ]
    assert fragmenter.remaining == 0
    assert fragmenter.close() == []
    pdvs = parse(fragment(1, b"\0\0", None, 12) + first + second, 12)[1:]
    assert [p.data for p in pdvs] == [b"abcdef", b"ghij"]
    assert [p.is_last for p in pdvs] == [False, True]


def test_streaming_length_mismatches() -> None:
    fragmenter = DatasetFragmenter(context_id=1, total_length=4, max_pdu_length=100)
    with pytest.raises(LocalProtocolError, match="longer than announced"):
        fragmenter.feed(b"12345")
    fragmenter.feed(b"12")
    with pytest.raises(LocalProtocolError, match="shorter than announced: 2 of 4"):
        fragmenter.close()
    with pytest.raises(LocalProtocolError, match="total_length"):
        DatasetFragmenter(context_id=1, total_length=-1, max_pdu_length=100)


def test_streaming_empty_dataset() -> None:
    fragmenter = DatasetFragmenter(context_id=1, total_length=0, max_pdu_length=100)
    assert fragmenter.feed(b"") == []
    (header,) = fragmenter.close()
    assert header == fragment(1, b"\0\0", b"", 100)[1]
    assert fragmenter.close() == []
    with pytest.raises(LocalProtocolError, match="closed"):
        fragmenter.feed(b"")


# --- reassembly: good paths -------------------------------------------------------


def pdvs_of(
    message: Message, dataset: bytes | None, max_pdu: int = 64, context_id: int = 1
) -> list[PDV]:
    return parse(fragment(context_id, encode_command(message), dataset, max_pdu), max_pdu)


def test_reassembler_streams_dataset_fragments() -> None:
    reassembler = Reassembler()
    events = [
        e for p in pdvs_of(STORE, b"0123456789" * 10, max_pdu=46) for e in reassembler.feed(p)
    ]
    assert events[0] == CommandReceived(context_id=1, message=STORE)
    fragments = events[1:]
    assert all(isinstance(f, DatasetFragment) for f in fragments)
    assert [f.is_last for f in fragments] == [False, False, True]  # type: ignore[union-attr]
    assert b"".join(f.data for f in fragments) == b"0123456789" * 10  # type: ignore[union-attr]
    assert reassembler.idle and reassembler.awaiting_dataset is None


def test_reassembler_reports_message_awaiting_dataset() -> None:
    reassembler = Reassembler()
    *head, tail = pdvs_of(STORE, b"abcd" * 20)
    for pdv in head:
        reassembler.feed(pdv)
    assert reassembler.awaiting_dataset == STORE
    assert not reassembler.idle
    reassembler.feed(tail)
    assert reassembler.idle


def test_messages_in_sequence_and_on_different_contexts() -> None:
    rsp = CFindRSP(message_id_being_responded_to=3, status=0xFF00, has_dataset=True)
    final = CFindRSP(message_id_being_responded_to=3, status=0)
    stream = (
        pdvs_of(ECHO, None, context_id=1)
        + pdvs_of(rsp, b"match-1\0", context_id=3)
        + pdvs_of(rsp, b"match-2\0", context_id=3, max_pdu=10)
        + pdvs_of(final, None, context_id=5)
    )
    assert [(m.context_id, m.message, m.dataset) for m in reassemble(stream)] == [
        (1, ECHO, None),
        (3, rsp, b"match-1\0"),
        (3, rsp, b"match-2\0"),
        (5, final, None),
    ]


def test_empty_last_fragments_are_allowed() -> None:
    command = encode_command(STORE)
    stream = [
        PDV(context_id=1, is_command=True, is_last=False, data=command),
        PDV(context_id=1, is_command=True, is_last=True, data=b""),
        PDV(context_id=1, is_command=False, is_last=False, data=b"ab"),
        PDV(context_id=1, is_command=False, is_last=True, data=b""),
    ]
    (msg,) = reassemble(stream)
    assert msg.dataset == b"ab"


def test_memoryview_pdv_data_is_accepted() -> None:
    command = memoryview(encode_command(ECHO))
    (event,) = Reassembler().feed(PDV(context_id=1, is_command=True, is_last=True, data=command))  # type: ignore[arg-type]
    assert event == CommandReceived(context_id=1, message=ECHO)


# --- reassembly: every rule, violated ----------------------------------------------


def cmd(data: bytes, *, last: bool = True, context_id: int = 1) -> PDV:
    return PDV(context_id=context_id, is_command=True, is_last=last, data=data)


def dat(data: bytes, *, last: bool = True, context_id: int = 1) -> PDV:
    return PDV(context_id=context_id, is_command=False, is_last=last, data=data)


ECHO_CMD = encode_command(ECHO)
STORE_CMD = encode_command(STORE)

VIOLATIONS: list[tuple[str, list[PDV], int, str]] = [
    ("dataset before any command", [dat(b"ab")], 5, "no command before it"),
    (
        "dataset before command complete",
        [cmd(STORE_CMD[:10], last=False), dat(b"ab")],
        5,
        "before the last fragment of the command set",
    ),
    (
        "command while dataset in progress",
        [cmd(STORE_CMD), dat(b"ab", last=False), cmd(ECHO_CMD)],
        5,
        "while the data set of a C-STORE-RQ is incomplete",
    ),
    (
        "command after command with dataset",
        [cmd(STORE_CMD), cmd(ECHO_CMD)],
        5,
        "while the data set of a C-STORE-RQ",
    ),
    (
        "dataset for a message without one",
        [cmd(ECHO_CMD), dat(b"ab")],
        5,
        "C-ECHO-RQ, declared no data set .*0101H",
    ),
    (
        "context changes inside the command",
        [cmd(STORE_CMD[:10], last=False), cmd(STORE_CMD[10:], context_id=3)],
        6,
        "context 3 in the middle of a command set on context 1",
    ),
    (
        "context changes inside the dataset",
        [cmd(STORE_CMD), dat(b"ab", last=False), dat(b"cd", context_id=3)],
        6,
        "context 3 in the middle of a data set on context 1",
    ),
    (
        "context changes between command and dataset",
        [cmd(STORE_CMD), dat(b"ab", context_id=5)],
        6,
        "context 5 in the middle of a data set",
    ),
    ("empty non-last command PDV", [cmd(b"", last=False)], 6, "empty command PDV"),
    (
        "empty non-last dataset PDV",
        [cmd(STORE_CMD), dat(b"", last=False)],
        6,
        "empty data set PDV",
    ),
    ("empty command set", [cmd(b"")], 6, "empty command set"),
    (
        "command set above the cap",
        [cmd(b"\0" * 4096, last=False)] * 17,
        6,
        f"exceeds {DEFAULT_MAX_COMMAND_SIZE} bytes",
    ),
    ("undecodable command set", [cmd(b"\0" * 10)], 6, "truncated"),
    ("unknown command field", [cmd(ECHO_CMD.replace(b"\x30\x00", b"\x30\x01", 1))], 6, "0x0130"),
]


@pytest.mark.parametrize(
    ("stream", "reason", "match"),
    [v[1:] for v in VIOLATIONS],
    ids=[v[0] for v in VIOLATIONS],
)
def test_rule_violations(stream: list[PDV], reason: int, match: str) -> None:
    for assembler in (Reassembler(), MessageAssembler()):
        with pytest.raises(RemoteProtocolError, match=match) as info:
            for pdv in stream:
                assembler.feed(pdv)
        assert (info.value.source, info.value.reason) == (2, reason)
        # broken for good: the association must be aborted
        with pytest.raises(LocalProtocolError, match="already failed"):
            assembler.feed(cmd(ECHO_CMD))


def test_command_cap_is_configurable() -> None:
    reassembler = Reassembler(max_command_size=len(STORE_CMD))
    assert reassembler.feed(cmd(STORE_CMD))
    small = Reassembler(max_command_size=len(STORE_CMD) - 1)
    with pytest.raises(RemoteProtocolError, match="exceeds"):
        small.feed(cmd(STORE_CMD))


def test_dataset_cap_is_a_local_limit() -> None:
    assembler = MessageAssembler(max_dataset_size=4)
    assembler.feed(cmd(STORE_CMD))
    assembler.feed(dat(b"ab", last=False))
    with pytest.raises(RemoteProtocolError, match="limit of 4 bytes") as info:
        assembler.feed(dat(b"cde"))
    assert info.value.reason == 0
    with pytest.raises(LocalProtocolError, match="already failed"):
        assembler.feed(cmd(ECHO_CMD))


@settings(max_examples=500)
@given(
    st.lists(
        st.builds(
            PDV,
            context_id=st.sampled_from([1, 3]),
            is_command=st.booleans(),
            is_last=st.booleans(),
            data=st.sampled_from([b"", b"ab", ECHO_CMD, STORE_CMD, STORE_CMD[:20], STORE_CMD[20:]]),
        ),
        max_size=12,
    )
)
def test_random_pdv_sequences_raise_only_remote_protocol_error(stream: list[PDV]) -> None:
    assembler = MessageAssembler()
    try:
        for pdv in stream:
            for event in assembler.feed(pdv):
                assert isinstance(event.message, CEchoRQ | CStoreRQ)
    except RemoteProtocolError as exc:
        assert exc.reason in (5, 6)


def test_echo_rsp_round_trip_through_bytes() -> None:
    rsp = CEchoRSP(message_id_being_responded_to=1, status=0)
    (msg,) = reassemble(pdvs_of(rsp, None, max_pdu=MIN_MAX_PDU_LENGTH))
    assert msg.message == rsp and msg.dataset is None
