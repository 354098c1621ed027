"""The seven PDUs of PS3.8 §9.3: golden vectors, leniency, errors, round trips."""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import replace

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from dicomqr.protocol.errors import LocalProtocolError, RemoteProtocolError
from dicomqr.protocol.items import UserInformation
from dicomqr.protocol.pdu import (
    PDU,
    PDV,
    AAbort,
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    AReleaseRP,
    AReleaseRQ,
    PDataTF,
    decode,
    encode,
)
from tests.fixtures import pdus as f

VECTOR_IDS = [name for name, _, _ in f.PDU_VECTORS]


def item(item_type: int, body: bytes) -> bytes:
    return struct.pack(">BxH", item_type, len(body)) + body


def pdu(pdu_type: int, body: bytes) -> bytes:
    return struct.pack(">BxL", pdu_type, len(body)) + body


def associate(pdu_type: int, *variable_items: bytes, fixed: bytes | None = None) -> bytes:
    """An A-ASSOCIATE-RQ/AC with the golden fixed fields and the given items."""
    fixed = f.A_ASSOCIATE_RQ[6:74] if fixed is None else fixed
    return pdu(pdu_type, fixed + b"".join(variable_items))


RQ_ITEMS = [
    f.APPLICATION_CONTEXT_ITEM,
    f.PC_RQ_VERIFICATION_ITEM,
    f.PC_RQ_FIND_ITEM,
    f.USER_INFO_RQ_ITEM,
]
AC_ITEMS = [
    f.APPLICATION_CONTEXT_ITEM,
    f.PC_AC_ACCEPTED_ITEM,
    f.PC_AC_REJECTED_ITEM,
    f.PC_AC_USER_REJECTED_ITEM,
    f.USER_INFO_AC_ITEM,
]


def remote_reason(data: bytes | bytearray) -> int:
    with pytest.raises(RemoteProtocolError) as info:
        decode(data)
    assert info.value.source == 2
    assert not str(info.value).startswith("internal")
    return info.value.reason


class TestGolden:
    @pytest.mark.parametrize(("name", "data", "value"), f.PDU_VECTORS, ids=VECTOR_IDS)
    def test_encode(self, name: str, data: bytes, value: PDU) -> None:
        assert encode(value) == data

    @pytest.mark.parametrize(("name", "data", "value"), f.PDU_VECTORS, ids=VECTOR_IDS)
    def test_decode(self, name: str, data: bytes, value: PDU) -> None:
        assert decode(data) == value
        assert decode(bytearray(data)) == value
        assert decode(memoryview(data)) == value
        assert decode(memoryview(b"junk" + data)[4:]) == value

    @pytest.mark.parametrize(("name", "data", "value"), f.PDU_VECTORS, ids=VECTOR_IDS)
    def test_length_field_matches(self, name: str, data: bytes, value: PDU) -> None:
        assert len(data) == 6 + int.from_bytes(data[2:6], "big")

    @pytest.mark.parametrize(("name", "data", "value"), f.PDU_VECTORS, ids=VECTOR_IDS)
    def test_truncated_or_extended(self, name: str, data: bytes, value: PDU) -> None:
        for size in range(len(data)):
            assert remote_reason(data[:size]) == 6
        assert remote_reason(data + b"\x00") == 6

    def test_decoded_p_data_is_bytes(self) -> None:
        decoded = decode(bytearray(f.P_DATA_TF))
        assert isinstance(decoded, PDataTF)
        assert all(type(pdv.data) is bytes for pdv in decoded.pdvs)


class TestAssociateLeniency:
    def test_unknown_items_are_skipped(self) -> None:
        unknown = [item(0x60, b"future"), item(0x11, b""), item(0xFF, b"x" * 70)]
        data = associate(1, unknown[0], *RQ_ITEMS[:2], unknown[1], *RQ_ITEMS[2:], unknown[2])
        assert decode(data) == f.A_ASSOCIATE_RQ_PDU
        data = associate(2, *AC_ITEMS[:3], *unknown, *AC_ITEMS[3:], fixed=f.A_ASSOCIATE_AC[6:74])
        assert decode(data) == f.A_ASSOCIATE_AC_PDU

    def test_unknown_user_information_sub_items_are_skipped(self) -> None:
        sub_items = f.USER_INFO_RQ_ITEM[4:]
        info = item(0x50, item(0x5A, b"new") + sub_items + item(0x70, b""))
        assert decode(associate(1, *RQ_ITEMS[:3], info)) == f.A_ASSOCIATE_RQ_PDU

    def test_items_in_any_order(self) -> None:
        data = associate(1, RQ_ITEMS[3], RQ_ITEMS[2], RQ_ITEMS[0], RQ_ITEMS[1])
        decoded = decode(data)
        assert isinstance(decoded, AAssociateRQ)
        assert decoded.presentation_contexts == (f.PC_RQ_FIND, f.PC_RQ_VERIFICATION)
        assert decoded.user_information == f.USER_INFO_RQ

    def test_reserved_fields_not_tested(self) -> None:
        data = bytearray(f.A_ASSOCIATE_RQ)
        data[1] = 0xFF  # PDU reserved byte
        data[8:10] = b"\xff\xff"  # reserved after the protocol version
        data[42:74] = b"\xee" * 32  # 32 reserved bytes
        assert decode(data) == f.A_ASSOCIATE_RQ_PDU

    def test_protocol_version_exposed(self) -> None:
        data = bytearray(f.A_ASSOCIATE_RQ)
        data[6:8] = b"\x00\x06"
        decoded = decode(data)
        assert isinstance(decoded, AAssociateRQ)
        assert decoded.protocol_version == 6
        assert encode(decoded) == data

    def test_ac_ae_titles_not_tested(self) -> None:
        data = bytearray(f.A_ASSOCIATE_AC)
        data[10:26] = b"\x00\xff weird\\title  "
        data[26:42] = b" " * 16
        decoded = decode(data)
        assert isinstance(decoded, AAssociateAC)
        assert decoded.called_ae_title == "\x00\xff weird\\title"
        assert decoded.calling_ae_title == ""
        assert encode(decoded)[10:42] == b"\x00\xff weird\\title  " + b" " * 16

    def test_rq_ae_titles_exposed_for_the_association_layer(self) -> None:
        # An empty or odd AE title is answered with an A-ASSOCIATE-RJ, not an abort.
        data = bytearray(f.A_ASSOCIATE_RQ)
        data[10:26] = b" " * 16
        data[26:42] = b"  LEADING\\SPACE "
        decoded = decode(data)
        assert isinstance(decoded, AAssociateRQ)
        assert decoded.called_ae_title == ""
        assert decoded.calling_ae_title == "LEADING\\SPACE"

    def test_application_context_exposed(self) -> None:
        data = associate(1, item(0x10, b"1.2.3.4\x00"), *RQ_ITEMS[1:])
        decoded = decode(data)
        assert isinstance(decoded, AAssociateRQ)
        assert decoded.application_context == "1.2.3.4"

    def test_rejected_context_transfer_syntax_not_tested(self) -> None:
        odd = item(0x21, b"\x07\x00\x03\x00" + item(0x40, b"\x80not a uid"))
        data = associate(2, *AC_ITEMS[:4], odd, AC_ITEMS[4], fixed=f.A_ASSOCIATE_AC[6:74])
        decoded = decode(data)
        assert isinstance(decoded, AAssociateAC)
        last = decoded.presentation_contexts[-1]
        assert (last.context_id, last.result, last.transfer_syntax) == (7, 3, "\x80not a uid")
        assert encode(decoded) == data


class TestAssociateErrors:
    @pytest.mark.parametrize(
        "items",
        [
            RQ_ITEMS[1:],  # no application context
            [RQ_ITEMS[0], RQ_ITEMS[3]],  # no presentation context
            RQ_ITEMS[:3],  # no user information
            [*RQ_ITEMS[:3], item(0x50, f.IMPLEMENTATION_UID_ITEM)],  # no maximum length
            [*RQ_ITEMS[:3], item(0x50, b"")],
        ],
    )
    def test_missing_mandatory_item(self, items: list[bytes]) -> None:
        assert remote_reason(associate(1, *items)) == 6

    @pytest.mark.parametrize(
        "items",
        [
            [RQ_ITEMS[0], *RQ_ITEMS],  # two application contexts
            [*RQ_ITEMS, RQ_ITEMS[3]],  # two user information items
            [*RQ_ITEMS, f.PC_AC_ACCEPTED_ITEM],  # an AC context in a request
            [*RQ_ITEMS[:3], item(0x50, f.MAX_LENGTH_16K_ITEM + f.USER_IDENTITY_AC_ITEM)],
        ],
    )
    def test_unexpected_item_in_rq(self, items: list[bytes]) -> None:
        assert remote_reason(associate(1, *items)) == 5

    @pytest.mark.parametrize(
        "items",
        [
            [*AC_ITEMS, f.PC_RQ_VERIFICATION_ITEM],
            [*AC_ITEMS[:4], item(0x50, f.MAX_LENGTH_16K_ITEM + f.USER_IDENTITY_RQ_ITEM)],
            [*AC_ITEMS[:4], item(0x50, f.MAX_LENGTH_16K_ITEM + f.COMMON_EXT_ITEM)],
        ],
    )
    def test_unexpected_item_in_ac(self, items: list[bytes]) -> None:
        assert remote_reason(associate(2, *items)) == 5

    def test_duplicate_context_ids(self) -> None:
        data = associate(1, *RQ_ITEMS[:2], RQ_ITEMS[1], RQ_ITEMS[3])
        assert remote_reason(data) == 6
        data = associate(2, *AC_ITEMS[:2], AC_ITEMS[1], AC_ITEMS[4])
        assert remote_reason(data) == 6

    def test_item_overruns_pdu(self) -> None:
        data = associate(1, *RQ_ITEMS[:3], f.USER_INFO_RQ_ITEM[:-1])
        assert remote_reason(data) == 6

    def test_shorter_than_fixed_fields(self) -> None:
        assert remote_reason(pdu(1, bytes(67))) == 6
        assert remote_reason(pdu(2, bytes(10))) == 6


class TestOtherPDUs:
    def test_rj_values_exposed(self) -> None:
        decoded = decode(b"\x03\xff\x00\x00\x00\x04\xff\x09\x08\x0a")
        assert isinstance(decoded, AAssociateRJ)
        assert (decoded.result, decoded.source, decoded.reason) == (9, 8, 10)

    def test_abort_reserved_not_tested(self) -> None:
        assert decode(b"\x07\xaa\x00\x00\x00\x04\xbb\xcc\x02\x01") == AAbort(source=2, reason=1)

    def test_release_reserved_not_tested(self) -> None:
        assert decode(b"\x05\x01\x00\x00\x00\x04\x01\x02\x03\x04") == AReleaseRQ()
        assert decode(b"\x06\x01\x00\x00\x00\x04\xff\xff\xff\xff") == AReleaseRP()

    @pytest.mark.parametrize("pdu_type", [3, 5, 6, 7])
    def test_fixed_length_pdus(self, pdu_type: int) -> None:
        assert remote_reason(pdu(pdu_type, bytes(3))) == 6
        assert remote_reason(pdu(pdu_type, bytes(5))) == 6

    @pytest.mark.parametrize("pdu_type", [0, 8, 0x10, 0xFF])
    def test_unknown_pdu_type(self, pdu_type: int) -> None:
        assert remote_reason(pdu(pdu_type, bytes(4))) == 1


class TestPData:
    def test_message_control_header_reserved_bits_ignored(self) -> None:
        data = pdu(4, b"\x00\x00\x00\x03" + b"\x01" + b"\xfc" + b"x")
        assert decode(data) == PDataTF(
            pdvs=(PDV(context_id=1, is_command=False, is_last=False, data=b"x"),)
        )

    def test_empty_pdv(self) -> None:
        data = pdu(4, b"\x00\x00\x00\x02\x05\x03")
        assert decode(data) == PDataTF(
            pdvs=(PDV(context_id=5, is_command=True, is_last=True, data=b""),)
        )
        assert encode(decode(data)) == data

    @pytest.mark.parametrize(
        "body",
        [
            b"",  # no PDV
            b"\x00\x00\x00\x01\x01",  # item-length 1 < 2
            b"\x00\x00\x00\x00",  # item-length 0, truncated
            b"\x00\x00\x00\x05\x01\x03ab",  # overruns the PDU
            b"\x00\x00\x00\x03\x01\x03a" + b"\x00\x00",  # trailing partial header
        ],
    )
    def test_malformed(self, body: bytes) -> None:
        assert remote_reason(pdu(4, body)) == 6

    def test_encode_accepts_buffers(self) -> None:
        data = bytearray(b"abc")
        pdv = PDV(context_id=1, is_command=False, is_last=True, data=memoryview(data))  # type: ignore[arg-type]
        assert encode(PDataTF(pdvs=(pdv,))) == pdu(4, b"\x00\x00\x00\x05\x01\x02abc")

    def test_large(self) -> None:
        payload = bytes(range(256)) * 4096
        value = PDataTF(pdvs=(PDV(context_id=255, is_command=False, is_last=True, data=payload),))
        assert decode(encode(value)) == value


class TestConstruction:
    def rq(self, **changes: object) -> AAssociateRQ:
        return replace(f.A_ASSOCIATE_RQ_PDU, **changes)  # type: ignore[arg-type]

    def ac(self, **changes: object) -> AAssociateAC:
        return replace(f.A_ASSOCIATE_AC_PDU, **changes)  # type: ignore[arg-type]

    @pytest.mark.parametrize("title", ["", "   ", "A" * 17, "BACK\\SLASH", "TAB\tAE", "CAFÉ", 5])
    def test_rq_ae_title(self, title: object) -> None:
        with pytest.raises(LocalProtocolError):
            self.rq(called_ae_title=title)
        with pytest.raises(LocalProtocolError):
            self.rq(calling_ae_title=title)

    def test_ae_titles_are_normalised(self) -> None:
        value = self.rq(called_ae_title="  PADDED  ", calling_ae_title="X" * 16)
        assert value.called_ae_title == "PADDED"
        assert encode(value)[10:42] == b"PADDED          " + b"X" * 16

    def test_ac_ae_titles_are_reserved(self) -> None:
        assert (
            self.ac(called_ae_title="", calling_ae_title="ODD\\ONE").calling_ae_title == "ODD\\ONE"
        )
        for title in ["A" * 17, "\u20ac", None]:
            with pytest.raises(LocalProtocolError):
                self.ac(called_ae_title=title)

    @pytest.mark.parametrize(
        "changes",
        [
            {"presentation_contexts": ()},
            {"presentation_contexts": (f.PC_RQ_VERIFICATION, f.PC_RQ_VERIFICATION)},
            {"presentation_contexts": (f.PC_AC_ACCEPTED,)},
            {"user_information": UserInformation(maximum_length=None)},
            {"user_information": UserInformation(user_identity=f.USER_IDENTITY_AC)},
            {"user_information": None},
            {"application_context": "not.a.uid"},
            {"protocol_version": -1},
            {"protocol_version": 0x10000},
        ],
    )
    def test_rq_invalid(self, changes: dict[str, object]) -> None:
        with pytest.raises(LocalProtocolError):
            self.rq(**changes)

    @pytest.mark.parametrize(
        "changes",
        [
            {"presentation_contexts": ()},
            {"presentation_contexts": (f.PC_AC_ACCEPTED, f.PC_AC_ACCEPTED)},
            {"presentation_contexts": (f.PC_RQ_VERIFICATION,)},
            {"user_information": UserInformation(maximum_length=None)},
            {"user_information": UserInformation(user_identity=f.USER_IDENTITY_RQ)},
            {"user_information": UserInformation(common_extended_negotiations=(f.COMMON_EXT,))},
        ],
    )
    def test_ac_invalid(self, changes: dict[str, object]) -> None:
        with pytest.raises(LocalProtocolError):
            self.ac(**changes)

    @pytest.mark.parametrize(
        "make",
        [
            lambda: AAssociateRJ(result=0, source=1, reason=1),
            lambda: AAssociateRJ(result=3, source=1, reason=1),
            lambda: AAssociateRJ(result=1, source=0, reason=1),
            lambda: AAssociateRJ(result=1, source=4, reason=1),
            lambda: AAssociateRJ(result=1, source=1, reason=4),
            lambda: AAssociateRJ(result=1, source=2, reason=3),
            lambda: AAssociateRJ(result=1, source=3, reason=0),
            lambda: AAbort(source=1),
            lambda: AAbort(source=0, reason=2),
            lambda: AAbort(source=2, reason=3),
            lambda: AAbort(source=2, reason=7),
            lambda: PDV(context_id=2, is_command=True, is_last=True, data=b""),
            lambda: PDV(context_id=1, is_command=1, is_last=True, data=b""),
            lambda: PDV(context_id=1, is_command=True, is_last=None, data=b""),
            lambda: PDV(context_id=1, is_command=True, is_last=True, data="text"),
            lambda: PDataTF(pdvs=()),
            lambda: PDataTF(pdvs=(b"raw",)),
        ],
    )
    def test_invalid(self, make: Callable[[], object]) -> None:
        with pytest.raises(LocalProtocolError):
            make()

    def test_encode_not_a_pdu(self) -> None:
        with pytest.raises(LocalProtocolError):
            encode(f.PC_AC_ACCEPTED)  # type: ignore[arg-type]


class TestProperties:
    @given(f.pdus)
    def test_round_trip(self, value: PDU) -> None:
        data = encode(value)
        assert decode(data) == value
        assert encode(decode(data)) == data

    @given(st.binary(max_size=400))
    @example(b"\x01\x00\x00\x00\x00\x44" + bytes(68))
    @example(b"\x04\x00\x00\x00\x00\x06\x00\x00\x00\x02\x01\x00")
    def test_random_bytes(self, data: bytes) -> None:
        self.decode_or_remote_error(data)

    @given(st.binary(max_size=400), st.sampled_from(range(1, 8)))
    def test_random_bodies(self, body: bytes, pdu_type: int) -> None:
        self.decode_or_remote_error(pdu(pdu_type, body))

    @given(st.sampled_from([data for _, data, _ in f.PDU_VECTORS]), st.data())
    def test_mutations(self, vector: bytes, data: st.DataObject) -> None:
        mutated = bytearray(vector)
        for _ in range(data.draw(st.integers(1, 4))):
            position = data.draw(st.integers(0, len(mutated) - 1))
            kind = data.draw(st.sampled_from(["byte", "length16", "truncate", "delete"]))
            if kind == "byte":
                mutated[position] = data.draw(st.integers(0, 255))
            elif kind == "length16" and position + 2 <= len(mutated):
                mutated[position : position + 2] = data.draw(st.binary(min_size=2, max_size=2))
            elif kind == "truncate":
                del mutated[position:]
            else:
                del mutated[position]
            if not mutated:
                break
        self.decode_or_remote_error(mutated)
        # Keep the PDU-length consistent so that the variable items are parsed.
        if len(mutated) >= 6:
            mutated[2:6] = struct.pack(">L", len(mutated) - 6)
            self.decode_or_remote_error(mutated)

    @staticmethod
    def decode_or_remote_error(data: bytes | bytearray) -> None:
        try:
            decode(data)
        except RemoteProtocolError as exc:
            assert exc.source == 2
            assert exc.reason in (1, 5, 6)
            assert not str(exc).startswith("internal")
