"""Items and sub-items of the A-ASSOCIATE PDUs (PS3.8 §9.3.2-9.3.3, PS3.7 D.3.3)."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dicomqr.protocol import items
from dicomqr.protocol.errors import LocalProtocolError, RemoteProtocolError
from dicomqr.protocol.items import (
    AsyncOperationsWindow,
    PresentationContextAC,
    PresentationContextRQ,
    RoleSelection,
    SOPClassCommonExtendedNegotiation,
    SOPClassExtendedNegotiation,
    UserIdentityAC,
    UserIdentityRQ,
    UserInformation,
)
from tests.fixtures import pdus as f

# (name, bytes, value, encoder, decoder)
ITEM_VECTORS: list[tuple[str, bytes, Any, Callable[[Any], bytes], Callable[[bytes], Any]]] = [
    (
        "application context",
        f.APPLICATION_CONTEXT_ITEM,
        items.APPLICATION_CONTEXT_NAME,
        items.encode_application_context,
        items.decode_application_context,
    ),
    (
        "abstract syntax",
        b"\x30\x00\x00\x11" + b"1.2.840.10008.1.1",
        f.VERIFICATION,
        items.encode_abstract_syntax,
        items.decode_abstract_syntax,
    ),
    (
        "transfer syntax",
        b"\x40\x00\x00\x13" + b"1.2.840.10008.1.2.1",
        f.EXPLICIT_LE,
        items.encode_transfer_syntax,
        items.decode_transfer_syntax,
    ),
    (
        "empty transfer syntax",
        b"\x40\x00\x00\x00",
        "",
        items.encode_transfer_syntax,
        items.decode_transfer_syntax,
    ),
    *[
        (
            f"presentation context RQ {value.context_id}",
            data,
            value,
            items.encode_presentation_context_rq,
            items.decode_presentation_context_rq,
        )
        for data, value in [
            (f.PC_RQ_VERIFICATION_ITEM, f.PC_RQ_VERIFICATION),
            (f.PC_RQ_FIND_ITEM, f.PC_RQ_FIND),
        ]
    ],
    *[
        (
            f"presentation context AC {value.context_id}",
            data,
            value,
            items.encode_presentation_context_ac,
            items.decode_presentation_context_ac,
        )
        for data, value in [
            (f.PC_AC_ACCEPTED_ITEM, f.PC_AC_ACCEPTED),
            (f.PC_AC_REJECTED_ITEM, f.PC_AC_REJECTED),
            (f.PC_AC_USER_REJECTED_ITEM, f.PC_AC_USER_REJECTED),
        ]
    ],
    (
        "maximum length",
        f.MAX_LENGTH_16K_ITEM,
        16384,
        items.encode_maximum_length,
        items.decode_maximum_length,
    ),
    (
        "implementation class UID",
        f.IMPLEMENTATION_UID_ITEM,
        f.IMPLEMENTATION_UID,
        items.encode_implementation_class_uid,
        items.decode_implementation_class_uid,
    ),
    (
        "async operations window",
        f.ASYNC_5_3_ITEM,
        f.ASYNC_5_3,
        items.encode_async_operations_window,
        items.decode_async_operations_window,
    ),
    (
        "role selection",
        f.ROLE_CT_SCP_ITEM,
        f.ROLE_CT_SCP,
        items.encode_role_selection,
        items.decode_role_selection,
    ),
    (
        "implementation version name",
        f.VERSION_NAME_ITEM,
        f.VERSION_NAME,
        items.encode_implementation_version_name,
        items.decode_implementation_version_name,
    ),
    (
        "SOP class extended negotiation",
        f.EXT_FIND_RQ_ITEM,
        f.EXT_FIND_RQ,
        items.encode_sop_class_extended,
        items.decode_sop_class_extended,
    ),
    (
        "SOP class common extended negotiation",
        f.COMMON_EXT_ITEM,
        f.COMMON_EXT,
        items.encode_sop_class_common_extended,
        items.decode_sop_class_common_extended,
    ),
    (
        "user identity RQ",
        f.USER_IDENTITY_RQ_ITEM,
        f.USER_IDENTITY_RQ,
        items.encode_user_identity_rq,
        items.decode_user_identity_rq,
    ),
    (
        "user identity AC",
        f.USER_IDENTITY_AC_ITEM,
        f.USER_IDENTITY_AC,
        items.encode_user_identity_ac,
        items.decode_user_identity_ac,
    ),
    (
        "user information RQ",
        f.USER_INFO_RQ_ITEM,
        f.USER_INFO_RQ,
        items.encode_user_information,
        items.decode_user_information,
    ),
    (
        "user information AC",
        f.USER_INFO_AC_ITEM,
        f.USER_INFO_AC,
        items.encode_user_information,
        items.decode_user_information,
    ),
    (
        "user information minimal",
        f.USER_INFO_MINIMAL_ITEM,
        f.USER_INFO_MINIMAL,
        items.encode_user_information,
        items.decode_user_information,
    ),
]
IDS = [vector[0] for vector in ITEM_VECTORS]


def item(item_type: int, body: bytes) -> bytes:
    """An item header and body; for building variants in tests."""
    return struct.pack(">BxH", item_type, len(body)) + body


def remote_reason(call: Callable[[], object]) -> int:
    with pytest.raises(RemoteProtocolError) as info:
        call()
    assert info.value.source == 2
    assert not str(info.value).startswith("internal")
    return info.value.reason


class TestGolden:
    @pytest.mark.parametrize(("name", "data", "value", "encode", "decode"), ITEM_VECTORS, ids=IDS)
    def test_encode(self, name: str, data: bytes, value: Any, encode: Any, decode: Any) -> None:
        assert encode(value) == data

    @pytest.mark.parametrize(("name", "data", "value", "encode", "decode"), ITEM_VECTORS, ids=IDS)
    def test_decode(self, name: str, data: bytes, value: Any, encode: Any, decode: Any) -> None:
        assert decode(data) == value
        assert decode(bytearray(data)) == value
        assert decode(memoryview(data)) == value

    @pytest.mark.parametrize(("name", "data", "value", "encode", "decode"), ITEM_VECTORS, ids=IDS)
    def test_truncated_or_padded(
        self, name: str, data: bytes, value: Any, encode: Any, decode: Any
    ) -> None:
        for size in range(len(data)):
            remote_reason(lambda size=size: decode(data[:size]))
        remote_reason(lambda: decode(data + b"\x00"))

    @pytest.mark.parametrize(("name", "data", "value", "encode", "decode"), ITEM_VECTORS, ids=IDS)
    def test_wrong_item_type(
        self, name: str, data: bytes, value: Any, encode: Any, decode: Any
    ) -> None:
        assert remote_reason(lambda: decode(b"\x7f" + data[1:])) == 6

    def test_reserved_bytes_not_tested(self) -> None:
        data = bytearray(f.PC_RQ_FIND_ITEM)
        data[1] = 0xFF  # item reserved byte
        data[5:8] = b"\xff\xff\xff"  # reserved bytes after the context ID
        data[9] = 0xAA  # abstract syntax sub-item reserved byte
        assert items.decode_presentation_context_rq(data) == f.PC_RQ_FIND


class TestDecodeLeniency:
    def test_uid_padding_is_stripped(self) -> None:
        padded = item(0x30, b"1.2.840.10008.1.1\x00")
        assert items.decode_abstract_syntax(padded) == f.VERIFICATION
        assert items.decode_implementation_class_uid(item(0x52, b"1.2.3\x00")) == "1.2.3"
        role = item(0x54, b"\x00\x06" + b"1.2.3\x00" + b"\x01\x00")
        assert items.decode_role_selection(role).sop_class_uid == "1.2.3"

    def test_rejected_context_transfer_syntax_not_tested(self) -> None:
        body = b"\x07\x00\x04\x00" + item(0x40, b"\xff\xfe garbage")
        decoded = items.decode_presentation_context_ac(item(0x21, body))
        assert decoded.result == 4
        assert decoded.transfer_syntax == "\xff\xfe garbage"

    def test_rejected_context_without_transfer_syntax(self) -> None:
        decoded = items.decode_presentation_context_ac(item(0x21, b"\x07\x00\x02\x00"))
        assert decoded == PresentationContextAC(context_id=7, result=2)

    def test_unknown_result_is_exposed(self) -> None:
        data = item(0x21, b"\x07\x00\x09\x00" + item(0x40, b"1.2"))
        assert items.decode_presentation_context_ac(data).result == 9

    def test_role_flags_any_non_zero(self) -> None:
        role = items.decode_role_selection(item(0x54, b"\x00\x03" + b"1.2" + b"\x02\xff"))
        assert role == RoleSelection(sop_class_uid="1.2", scu_role=True, scp_role=True)

    def test_common_extended_version_byte_not_tested(self) -> None:
        data = bytearray(f.COMMON_EXT_ITEM)
        data[1] = 0x01
        assert items.decode_sop_class_common_extended(data) == f.COMMON_EXT

    def test_common_extended_without_related(self) -> None:
        data = item(0x57, b"\x00\x03" + b"1.2" + b"\x00\x03" + b"4.5" + b"\x00\x00")
        assert items.decode_sop_class_common_extended(data) == SOPClassCommonExtendedNegotiation(
            sop_class_uid="1.2", service_class_uid="4.5"
        )

    def test_user_identity_types_exposed(self) -> None:
        data = item(0x58, b"\x09\x00" + b"\x00\x01x" + b"\x00\x00")
        identity = items.decode_user_identity_rq(data)
        assert identity.identity_type == 9
        assert identity.positive_response_requested is False

    def test_unknown_sub_items_skipped(self) -> None:
        unknown = item(0x5F, b"future") + item(0xA0, b"")
        data = item(0x50, unknown + f.USER_INFO_RQ_ITEM[4:] + item(0x60, b"x" * 300))
        assert items.decode_user_information(data) == f.USER_INFO_RQ

    def test_sub_items_in_any_order(self) -> None:
        subs = [
            f.USER_IDENTITY_RQ_ITEM,
            f.VERSION_NAME_ITEM,
            f.COMMON_EXT_ITEM,
            f.ROLE_CT_SCP_ITEM,
            f.MAX_LENGTH_16K_ITEM,
            f.EXT_FIND_RQ_ITEM,
            f.ASYNC_5_3_ITEM,
            f.IMPLEMENTATION_UID_ITEM,
        ]
        assert items.decode_user_information(item(0x50, b"".join(subs))) == f.USER_INFO_RQ

    def test_unknown_sub_item_in_presentation_context_skipped(self) -> None:
        body = f.PC_RQ_FIND_ITEM[4:] + item(0x41, b"??")
        assert items.decode_presentation_context_rq(item(0x20, body)) == f.PC_RQ_FIND

    def test_missing_maximum_length_is_none(self) -> None:
        data = item(0x50, f.IMPLEMENTATION_UID_ITEM)
        decoded = items.decode_user_information(data)
        assert decoded.maximum_length is None
        assert decoded.implementation_class_uid == f.IMPLEMENTATION_UID


class TestDecodeErrors:
    @pytest.mark.parametrize(
        "sub_item",
        [
            f.MAX_LENGTH_16K_ITEM,
            f.IMPLEMENTATION_UID_ITEM,
            f.ASYNC_5_3_ITEM,
            f.VERSION_NAME_ITEM,
            f.USER_IDENTITY_RQ_ITEM,
        ],
    )
    def test_duplicate_single_sub_item(self, sub_item: bytes) -> None:
        data = item(0x50, sub_item + sub_item)
        assert remote_reason(lambda: items.decode_user_information(data)) == 5

    def test_user_identity_rq_and_ac_together(self) -> None:
        data = item(0x50, f.USER_IDENTITY_RQ_ITEM + f.USER_IDENTITY_AC_ITEM)
        assert remote_reason(lambda: items.decode_user_information(data)) == 5

    def test_repeatable_sub_items(self) -> None:
        data = item(0x50, f.ROLE_CT_SCP_ITEM * 2 + f.EXT_FIND_RQ_ITEM * 2 + f.COMMON_EXT_ITEM * 2)
        decoded = items.decode_user_information(data)
        assert decoded.role_selections == (f.ROLE_CT_SCP,) * 2
        assert decoded.extended_negotiations == (f.EXT_FIND_RQ,) * 2
        assert decoded.common_extended_negotiations == (f.COMMON_EXT,) * 2

    @pytest.mark.parametrize(
        "data",
        [
            item(0x51, b"\x00\x00\x40"),  # 3 bytes, not 4
            item(0x53, b"\x00\x01\x00\x01\x00"),  # 5 bytes, not 4
            item(0x54, b"\x00\x03" + b"1.2" + b"\x01"),  # one role byte missing
            item(0x54, b"\x00\x03" + b"1.2" + b"\x01\x01\x01"),  # one role byte too many
            item(0x54, b"\x00\x09" + b"1.2" + b"\x01\x01"),  # UID overruns
            item(0x54, b"\x00"),  # truncated UID length
            item(0x56, b"\x00\x09" + b"1.2"),  # UID overruns
            item(0x57, b"\x00\x03" + b"1.2" + b"\x00\x03" + b"4.5"),  # no related length
            item(0x57, b"\x00\x03" + b"1.2" + b"\x00\x03" + b"4.5" + b"\x00\x00" + b"x"),
            item(0x57, b"\x00\x03" + b"1.2" + b"\x00\x03" + b"4.5" + b"\x00\x03\x00\x05ab"),
            item(0x58, b"\x01"),  # truncated
            item(0x58, b"\x01\x00" + b"\x00\x05ab"),  # primary overruns
            item(0x58, b"\x01\x00" + b"\x00\x01a"),  # no secondary length
            item(0x58, b"\x01\x00" + b"\x00\x01a" + b"\x00\x00" + b"!"),  # trailing byte
            item(0x59, b"\x00\x05ab"),  # response overruns
            item(0x59, b"\x00\x01ab"),  # trailing byte
        ],
    )
    def test_malformed_sub_item_in_user_information(self, data: bytes) -> None:
        assert remote_reason(lambda: items.decode_user_information(item(0x50, data))) == 6

    def test_sub_item_overruns_user_information(self) -> None:
        data = item(0x50, f.MAX_LENGTH_16K_ITEM[:-1])
        assert remote_reason(lambda: items.decode_user_information(data)) == 6
        data = item(0x50, f.MAX_LENGTH_16K_ITEM + b"\x52\x00")
        assert remote_reason(lambda: items.decode_user_information(data)) == 6

    @pytest.mark.parametrize(
        ("body", "reason"),
        [
            (b"\x01\x00\x00", 6),  # shorter than the fixed fields
            (b"\x02\x00\x00\x00" + item(0x30, b"1.2") + item(0x40, b"1.2"), 6),  # even ID
            (b"\x00\x00\x00\x00" + item(0x30, b"1.2") + item(0x40, b"1.2"), 6),  # ID 0
            (b"\x01\x00\x00\x00" + item(0x40, b"1.2"), 6),  # no abstract syntax
            (b"\x01\x00\x00\x00" + item(0x30, b"1.2"), 6),  # no transfer syntax
            (b"\x01\x00\x00\x00" + item(0x30, b"1.2") * 2 + item(0x40, b"1.2"), 5),
            (b"\x01\x00\x00\x00" + item(0x30, b"1.2") + b"\x40\x00\x00\x09" + b"1.2", 6),
        ],
    )
    def test_malformed_presentation_context_rq(self, body: bytes, reason: int) -> None:
        data = item(0x20, body)
        assert remote_reason(lambda: items.decode_presentation_context_rq(data)) == reason

    @pytest.mark.parametrize(
        ("body", "reason"),
        [
            (b"\x01\x00\x00", 6),
            (b"\x04\x00\x00\x00" + item(0x40, b"1.2"), 6),  # even ID
            (b"\x01\x00\x00\x00", 6),  # accepted without transfer syntax
            (b"\x01\x00\x00\x00" + item(0x40, b""), 6),  # accepted with an empty one
            (b"\x01\x00\x00\x00" + item(0x40, b"1.2") * 2, 5),
        ],
    )
    def test_malformed_presentation_context_ac(self, body: bytes, reason: int) -> None:
        data = item(0x21, body)
        assert remote_reason(lambda: items.decode_presentation_context_ac(data)) == reason


class TestConstruction:
    @pytest.mark.parametrize(
        "make",
        [
            lambda: PresentationContextRQ(
                context_id=2, abstract_syntax="1.2", transfer_syntaxes=("1",)
            ),
            lambda: PresentationContextRQ(
                context_id=0, abstract_syntax="1.2", transfer_syntaxes=("1",)
            ),
            lambda: PresentationContextRQ(
                context_id=257, abstract_syntax="1.2", transfer_syntaxes=("1",)
            ),
            lambda: PresentationContextRQ(
                context_id=True, abstract_syntax="1.2", transfer_syntaxes=("1",)
            ),
            lambda: PresentationContextRQ(
                context_id=1, abstract_syntax="1.2", transfer_syntaxes=()
            ),
            lambda: PresentationContextRQ(
                context_id=1, abstract_syntax="", transfer_syntaxes=("1",)
            ),
            lambda: PresentationContextRQ(
                context_id=1, abstract_syntax="1." + "2" * 63, transfer_syntaxes=("1",)
            ),
            lambda: PresentationContextRQ(
                context_id=1, abstract_syntax="1.2.", transfer_syntaxes=("1",)
            ),
            lambda: PresentationContextRQ(
                context_id=1, abstract_syntax="1.2", transfer_syntaxes=("1.a",)
            ),
            lambda: PresentationContextRQ(
                context_id=1, abstract_syntax="1.2", transfer_syntaxes="1"
            ),
            lambda: PresentationContextAC(context_id=1, result=0),
            lambda: PresentationContextAC(context_id=1, result=5, transfer_syntax="1.2"),
            lambda: PresentationContextAC(context_id=1, result=-1, transfer_syntax="1.2"),
            lambda: PresentationContextAC(context_id=1, result=3, transfer_syntax="x"),
            lambda: AsyncOperationsWindow(max_invoked=-1),
            lambda: AsyncOperationsWindow(max_performed=0x10000),
            lambda: RoleSelection(sop_class_uid="1.2", scu_role=1, scp_role=False),
            lambda: RoleSelection(sop_class_uid="x", scu_role=True, scp_role=False),
            lambda: SOPClassExtendedNegotiation(sop_class_uid="1.2", info="text"),
            lambda: SOPClassExtendedNegotiation(sop_class_uid="1.2", info=bytes(0xFFFF)),
            lambda: SOPClassCommonExtendedNegotiation(sop_class_uid="1.2", service_class_uid=""),
            lambda: SOPClassCommonExtendedNegotiation(
                sop_class_uid="1.2", service_class_uid="1.3", related_general_sop_classes=("y",)
            ),
            lambda: SOPClassCommonExtendedNegotiation(
                sop_class_uid="1.2",
                service_class_uid="1.3",
                related_general_sop_classes=("1",) * 30000,
            ),
            lambda: UserIdentityRQ(
                identity_type=0, positive_response_requested=False, primary_field=b"u"
            ),
            lambda: UserIdentityRQ(
                identity_type=6, positive_response_requested=False, primary_field=b"u"
            ),
            lambda: UserIdentityRQ(
                identity_type=1, positive_response_requested=0, primary_field=b"u"
            ),
            lambda: UserIdentityRQ(
                identity_type=1, positive_response_requested=False, primary_field=b""
            ),
            lambda: UserIdentityRQ(
                identity_type=1,
                positive_response_requested=False,
                primary_field=b"u",
                secondary_field=b"p",
            ),
            lambda: UserIdentityRQ(
                identity_type=5, positive_response_requested=False, primary_field=bytes(0x10000)
            ),
            lambda: UserIdentityRQ(
                identity_type=2,
                positive_response_requested=False,
                primary_field=bytes(40000),
                secondary_field=bytes(40000),
            ),
            lambda: UserIdentityAC(server_response="ok"),
            lambda: UserIdentityAC(server_response=bytes(0xFFFF)),
            lambda: UserInformation(maximum_length=-1),
            lambda: UserInformation(maximum_length=1 << 32),
            lambda: UserInformation(implementation_class_uid="not a uid"),
            lambda: UserInformation(implementation_version_name=""),
            lambda: UserInformation(implementation_version_name="x" * 17),
            lambda: UserInformation(implementation_version_name="tab\there"),
            lambda: UserInformation(async_operations_window=(1, 1)),
            lambda: UserInformation(role_selections=(f.EXT_FIND_RQ,)),
            lambda: UserInformation(extended_negotiations=f.EXT_FIND_RQ),
            lambda: UserInformation(user_identity=b"alice"),
        ],
    )
    def test_invalid_values_raise(self, make: Callable[[], object]) -> None:
        with pytest.raises(LocalProtocolError):
            make()

    def test_lists_become_tuples(self) -> None:
        context = PresentationContextRQ(
            context_id=1, abstract_syntax="1.2", transfer_syntaxes=["1.2"]
        )
        assert context.transfer_syntaxes == ("1.2",)
        info = UserInformation(role_selections=[f.ROLE_CT_SCP])
        assert info.role_selections == (f.ROLE_CT_SCP,)
        hash(info)

    def test_rejected_context_may_name_a_syntax(self) -> None:
        assert PresentationContextAC(context_id=255, result=4, transfer_syntax="1.2").result == 4

    def test_frozen(self) -> None:
        with pytest.raises(AttributeError):
            f.PC_RQ_FIND.context_id = 5  # type: ignore[misc]

    def test_item_too_long_to_encode(self) -> None:
        many = tuple(f"1.2.{n}" for n in range(8000))
        context = PresentationContextRQ(context_id=1, abstract_syntax="1.2", transfer_syntaxes=many)
        with pytest.raises(LocalProtocolError):
            items.encode_presentation_context_rq(context)

    def test_lazy_codec_names(self) -> None:
        with pytest.raises(AttributeError):
            items.encode_nothing  # type: ignore[attr-defined]  # noqa: B018
        for name in items.__all__:
            assert getattr(items, name) is not None


class TestRoundTrip:
    @given(f.presentation_contexts_rq())
    def test_presentation_context_rq(self, contexts: tuple[PresentationContextRQ, ...]) -> None:
        for context in contexts:
            data = items.encode_presentation_context_rq(context)
            assert items.decode_presentation_context_rq(data) == context

    @given(f.presentation_contexts_ac())
    def test_presentation_context_ac(self, contexts: tuple[PresentationContextAC, ...]) -> None:
        for context in contexts:
            data = items.encode_presentation_context_ac(context)
            assert items.decode_presentation_context_ac(data) == context

    @given(st.one_of(f.user_information(request=True), f.user_information(request=False)))
    def test_user_information(self, info: UserInformation) -> None:
        data = items.encode_user_information(info)
        assert items.decode_user_information(data) == info
        assert items.encode_user_information(items.decode_user_information(data)) == data

    @given(st.binary(max_size=300))
    def test_random_bytes_only_remote_errors(self, data: bytes) -> None:
        for decode in [vector[4] for vector in ITEM_VECTORS]:
            for candidate in (data, item(0x50, data), item(0x20, data), item(0x21, data)):
                try:
                    decode(candidate)
                except RemoteProtocolError as exc:
                    assert not str(exc).startswith("internal")
