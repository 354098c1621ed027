"""PDUReader: cutting a byte stream into PDUs (PS3.8 §9.3, Annex D.1 limits)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dicomqr.protocol.errors import LocalProtocolError, RemoteProtocolError
from dicomqr.protocol.framing import PDUReader
from dicomqr.protocol.pdu import PDU, PDV, PDataTF, encode
from tests.fixtures import pdus as f

VECTOR_IDS = [name for name, _, _ in f.PDU_VECTORS]
ALL_BYTES = b"".join(data for _, data, _ in f.PDU_VECTORS)
ALL_PDUS = [value for _, _, value in f.PDU_VECTORS]


def drain(reader: PDUReader) -> list[PDU]:
    return list(reader)


def p_data(size: int) -> bytes:
    pdv = PDV(context_id=1, is_command=False, is_last=True, data=bytes(size))
    return encode(PDataTF(pdvs=(pdv,)))


def header(pdu_type: int, length: int) -> bytes:
    return struct.pack(">BxL", pdu_type, length)


class TestFeeding:
    @pytest.mark.parametrize(("name", "data", "value"), f.PDU_VECTORS, ids=VECTOR_IDS)
    def test_whole(self, name: str, data: bytes, value: PDU) -> None:
        reader = PDUReader(max_pdu_length=16384)
        assert reader.next_pdu() is None
        reader.feed(data)
        assert reader.next_pdu() == value
        assert reader.next_pdu() is None
        assert reader.buffered == 0

    @pytest.mark.parametrize(("name", "data", "value"), f.PDU_VECTORS, ids=VECTOR_IDS)
    def test_one_byte_at_a_time(self, name: str, data: bytes, value: PDU) -> None:
        reader = PDUReader(max_pdu_length=16384)
        for position in range(len(data) - 1):
            reader.feed(data[position : position + 1])
            assert reader.next_pdu() is None
            assert reader.buffered == position + 1
        reader.feed(data[-1:])
        assert reader.next_pdu() == value
        assert reader.buffered == 0

    def test_concatenated(self) -> None:
        reader = PDUReader(max_pdu_length=16384)
        reader.feed(ALL_BYTES)
        assert drain(reader) == ALL_PDUS
        assert reader.buffered == 0

    def test_concatenated_one_byte_at_a_time(self) -> None:
        reader = PDUReader(max_pdu_length=16384)
        received: list[PDU] = []
        for position in range(len(ALL_BYTES)):
            reader.feed(memoryview(ALL_BYTES)[position : position + 1])
            received.extend(reader)
        assert received == ALL_PDUS

    @given(st.lists(st.integers(1, 500), min_size=1, max_size=40), st.integers(1, 4))
    def test_any_chunking(self, sizes: list[int], repeat: int) -> None:
        stream = ALL_BYTES * repeat
        reader = PDUReader(max_pdu_length=16384)
        received: list[PDU] = []
        position = 0
        index = 0
        while position < len(stream):
            size = sizes[index % len(sizes)]
            reader.feed(bytearray(stream[position : position + size]))
            position += size
            index += 1
            received.extend(reader)
        assert received == ALL_PDUS * repeat
        assert reader.buffered == 0

    def test_buffered_tells_clean_close_from_mid_pdu(self) -> None:
        reader = PDUReader(max_pdu_length=0)
        reader.feed(f.A_RELEASE_RQ + f.A_RELEASE_RP[:3])
        assert reader.next_pdu() == f.PDU_VECTORS[5][2]
        assert reader.next_pdu() is None
        assert reader.buffered == 3

    def test_feeding_after_a_pdu_is_returned(self) -> None:
        # The decoder must not leave a view on the buffer (BufferError on resize).
        reader = PDUReader(max_pdu_length=0)
        reader.feed(f.P_DATA_TF + f.P_DATA_TF[:10])
        first = reader.next_pdu()
        reader.feed(f.P_DATA_TF[10:])
        assert reader.next_pdu() == first == f.P_DATA_TF_PDU

    def test_compaction_keeps_memory_bounded(self) -> None:
        one = p_data(1000)
        reader = PDUReader(max_pdu_length=0)
        for _ in range(1000):
            reader.feed(one + one[:500])
            assert reader.next_pdu() is not None
            reader.feed(one[500:])
            assert reader.next_pdu() is not None
            assert reader.buffered == 0
        reader.feed(one * 200 + one[:7])
        assert len(drain(reader)) == 200
        assert reader.buffered == 7
        assert len(reader._buf) < 200 * len(one)  # the consumed prefix was dropped

    def test_large_pdu_in_small_pieces(self) -> None:
        data = p_data(1 << 20)
        reader = PDUReader(max_pdu_length=1 << 21)
        for position in range(0, len(data), 4096):
            assert reader.next_pdu() is None
            reader.feed(data[position : position + 4096])
        decoded = reader.next_pdu()
        assert isinstance(decoded, PDataTF)
        assert len(decoded.pdvs[0].data) == 1 << 20


class TestLimits:
    def reason(self, reader: PDUReader, data: bytes) -> int:
        reader.feed(data)
        with pytest.raises(RemoteProtocolError) as info:
            drain(reader)
        assert info.value.source == 2
        return info.value.reason

    def test_p_data_at_the_limit(self) -> None:
        data = p_data(16384 - 6)
        assert int.from_bytes(data[2:6], "big") == 16384
        reader = PDUReader(max_pdu_length=16384)
        reader.feed(data)
        assert reader.next_pdu() is not None

    def test_oversize_p_data_rejected_from_its_header(self) -> None:
        reader = PDUReader(max_pdu_length=16384)
        assert self.reason(reader, header(4, 16385)) == 6

    def test_oversize_p_data_rejected_whole(self) -> None:
        assert self.reason(PDUReader(max_pdu_length=1000), p_data(1000)) == 6

    def test_zero_means_unlimited(self) -> None:
        reader = PDUReader(max_pdu_length=0)
        reader.feed(header(4, 0xFFFFFFFF))
        assert reader.next_pdu() is None

    def test_limit_can_change(self) -> None:
        reader = PDUReader(max_pdu_length=0)
        reader.max_pdu_length = 100
        assert self.reason(reader, p_data(200)) == 6

    def test_limit_does_not_apply_to_association_pdus(self) -> None:
        reader = PDUReader(max_pdu_length=100)
        reader.feed(f.A_ASSOCIATE_RQ)
        assert reader.next_pdu() == f.A_ASSOCIATE_RQ_PDU

    @pytest.mark.parametrize("pdu_type", [1, 2])
    def test_oversize_association_pdu(self, pdu_type: int) -> None:
        reader = PDUReader(max_pdu_length=0, max_other_length=1000)
        assert self.reason(reader, header(pdu_type, 1001)) == 6
        reader = PDUReader(max_pdu_length=0)
        assert self.reason(reader, header(pdu_type, (1 << 20) + 1)) == 6

    @pytest.mark.parametrize("pdu_type", [3, 5, 6, 7])
    def test_fixed_length_pdus(self, pdu_type: int) -> None:
        assert self.reason(PDUReader(max_pdu_length=0), header(pdu_type, 5)) == 6
        assert self.reason(PDUReader(max_pdu_length=0), header(pdu_type, 0xFFFFFF)) == 6

    @pytest.mark.parametrize("pdu_type", [0, 8, 0x41, 0xFF])
    def test_unknown_pdu_type(self, pdu_type: int) -> None:
        assert self.reason(PDUReader(max_pdu_length=0), header(pdu_type, 4)) == 1

    def test_malformed_body(self) -> None:
        assert self.reason(PDUReader(max_pdu_length=0), header(4, 0)) == 6

    def test_error_is_sticky(self) -> None:
        reader = PDUReader(max_pdu_length=0)
        reader.feed(header(9, 4) + f.A_RELEASE_RQ)
        with pytest.raises(RemoteProtocolError) as first:
            reader.next_pdu()
        reader.feed(f.A_RELEASE_RP)
        with pytest.raises(RemoteProtocolError) as second:
            reader.next_pdu()
        assert second.value is first.value

    def test_error_after_good_pdus(self) -> None:
        reader = PDUReader(max_pdu_length=0)
        reader.feed(f.A_RELEASE_RQ + f.A_ABORT_USER + header(4, 0))
        assert reader.next_pdu() is not None
        assert reader.next_pdu() is not None
        with pytest.raises(RemoteProtocolError):
            reader.next_pdu()

    @pytest.mark.parametrize(
        "kwargs", [{"max_pdu_length": -1}, {"max_pdu_length": 1 << 32}, {"max_other_length": -5}]
    )
    def test_constructor(self, kwargs: dict[str, int]) -> None:
        with pytest.raises(LocalProtocolError):
            PDUReader(**{"max_pdu_length": 0, **kwargs})


class TestRobustness:
    @given(st.lists(st.binary(max_size=64), max_size=20))
    def test_random_bytes(self, chunks: list[bytes]) -> None:
        reader = PDUReader(max_pdu_length=4096, max_other_length=4096)
        try:
            for chunk in chunks:
                reader.feed(chunk)
                drain(reader)
        except RemoteProtocolError as exc:
            assert exc.reason in (1, 5, 6)
            assert not str(exc).startswith("internal")

    @given(st.data())
    def test_mutated_stream(self, data: st.DataObject) -> None:
        stream = bytearray(ALL_BYTES)
        for _ in range(data.draw(st.integers(1, 3))):
            position = data.draw(st.integers(0, len(stream) - 1))
            stream[position] = data.draw(st.integers(0, 255))
        reader = PDUReader(max_pdu_length=4096)
        step = data.draw(st.integers(1, 300))
        try:
            for position in range(0, len(stream), step):
                reader.feed(stream[position : position + step])
                drain(reader)
        except RemoteProtocolError as exc:
            assert not str(exc).startswith("internal")
