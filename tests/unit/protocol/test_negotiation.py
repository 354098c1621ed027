"""Association negotiation (PS3.7 Annex D.3, PS3.8 §9.3.2-9.3.3), table-driven."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import pytest

from dicomqr.protocol.errors import RemoteProtocolError
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
from dicomqr.protocol.negotiation import (
    STORAGE_SOP_CLASSES,
    AcceptedContext,
    AcceptorPolicy,
    IdentityDecision,
    RejectReason,
    RoleAgreement,
    negotiate_as_acceptor,
    negotiate_as_requestor,
    negotiated_async_window,
    requestor_roles,
)

VERIFICATION = "1.2.840.10008.1.1"
CT = "1.2.840.10008.5.1.4.1.1.2"
MR = "1.2.840.10008.5.1.4.1.1.4"
PATIENT_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.1.1"
PROTOCOL_APPROVAL_FIND = "1.2.840.10008.5.1.4.1.1.200.4"
STORAGE_COMMITMENT = "1.2.840.10008.1.20.1"
PRIVATE_STORAGE = "1.2.3.4.5.6.7"

IMPLICIT = "1.2.840.10008.1.2"
EXPLICIT = "1.2.840.10008.1.2.1"
BIG = "1.2.840.10008.1.2.2"
JPEG = "1.2.840.10008.1.2.4.50"
J2K = "1.2.840.10008.1.2.4.90"


def rq(cid: int, abstract: str, *syntaxes: str) -> PresentationContextRQ:
    return PresentationContextRQ(
        context_id=cid, abstract_syntax=abstract, transfer_syntaxes=syntaxes or (IMPLICIT,)
    )


def role(uid: str, scu: bool, scp: bool) -> RoleSelection:
    return RoleSelection(sop_class_uid=uid, scu_role=scu, scp_role=scp)


POLICY = AcceptorPolicy(
    contexts={
        VERIFICATION: (EXPLICIT, IMPLICIT),
        CT: (J2K, JPEG, EXPLICIT, IMPLICIT),
        MR: (EXPLICIT,),
        PATIENT_ROOT_FIND: (EXPLICIT, IMPLICIT),
    },
)


# -- presentation context results (PS3.8 Table 9-18) ---------------------------


@pytest.mark.parametrize(
    ("context", "result", "syntax"),
    [
        (rq(1, VERIFICATION, IMPLICIT), 0, IMPLICIT),
        (rq(1, VERIFICATION, IMPLICIT, EXPLICIT), 0, EXPLICIT),  # acceptor's preference
        (rq(1, CT, IMPLICIT, EXPLICIT, JPEG, J2K), 0, J2K),
        (rq(1, CT, J2K, JPEG, EXPLICIT, IMPLICIT), 0, J2K),  # requestor order is no vote
        (rq(1, CT, IMPLICIT, BIG, JPEG), 0, JPEG),
        (rq(1, MR, BIG, IMPLICIT), 4, ""),
        (rq(1, "1.2.3.999", IMPLICIT), 3, ""),
        (rq(1, STORAGE_COMMITMENT, IMPLICIT), 3, ""),
    ],
)
def test_context_result(context: PresentationContextRQ, result: int, syntax: str) -> None:
    out = negotiate_as_acceptor([context], None, POLICY)
    assert out.ac_contexts == (
        PresentationContextAC(context_id=context.context_id, result=result, transfer_syntax=syntax),
    )
    if result == 0:
        assert out.accepted == {
            context.context_id: AcceptedContext(
                context.context_id, context.abstract_syntax, syntax, True, False
            )
        }
    else:
        assert out.accepted == {}


def test_user_rejection_when_no_role_is_left() -> None:
    # The requestor wants to be SCP only; the policy keeps the acceptor SCP only.
    info = UserInformation(role_selections=(role(CT, False, True),))
    out = negotiate_as_acceptor([rq(1, CT, EXPLICIT), rq(3, MR, EXPLICIT)], info, POLICY)
    assert [(ac.context_id, ac.result) for ac in out.ac_contexts] == [(1, 1), (3, 0)]
    assert out.role_replies == (role(CT, False, False),)
    assert set(out.accepted) == {3}


def test_user_rejection_when_the_policy_refuses_the_default_roles() -> None:
    # Acceptor only as SCU for this class (e.g. storage commitment reports).
    policy = AcceptorPolicy(
        contexts={CT: (EXPLICIT,)}, roles={CT: RoleAgreement(requestor_scu=False)}
    )
    out = negotiate_as_acceptor([rq(1, CT, EXPLICIT)], None, policy)
    assert out.ac_contexts[0].result == 1
    assert out.role_replies == ()


def test_duplicated_context_ids_are_refused_once_with_no_reason() -> None:
    contexts = [rq(1, VERIFICATION), rq(3, CT), rq(1, MR, EXPLICIT), rq(5, MR, EXPLICIT)]
    out = negotiate_as_acceptor(contexts, None, POLICY)
    assert [(ac.context_id, ac.result) for ac in out.ac_contexts] == [(1, 2), (3, 0), (5, 0)]
    assert set(out.accepted) == {3, 5}


def test_ac_items_keep_proposal_order_and_are_shared() -> None:
    contexts = [rq(9, MR, EXPLICIT), rq(1, VERIFICATION), rq(5, "1.2.3")]
    first = negotiate_as_acceptor(contexts, None, POLICY)
    again = negotiate_as_acceptor(contexts, None, POLICY)
    assert [ac.context_id for ac in first.ac_contexts] == [9, 1, 5]
    # AC items are immutable and cached by the policy: no per-association copies
    assert all(a is b for a, b in zip(first.ac_contexts, again.ac_contexts, strict=True))


def test_policy_validation() -> None:
    with pytest.raises(TypeError):
        AcceptorPolicy(contexts={CT: EXPLICIT})
    # A UID listed twice keeps its first (best) rank.
    policy = AcceptorPolicy(contexts={CT: (JPEG, EXPLICIT, JPEG)})
    out = negotiate_as_acceptor([rq(1, CT, EXPLICIT, JPEG)], None, policy)
    assert out.accepted[1].transfer_syntax == JPEG


# -- the storage wildcard ---------------------------------------------------------


STORE_ALL = AcceptorPolicy(
    contexts={VERIFICATION: (IMPLICIT,), MR: (BIG,)},
    accept_all_storage=True,
    storage_transfer_syntaxes=(JPEG, EXPLICIT, IMPLICIT),
)


@pytest.mark.parametrize(
    ("abstract", "result", "syntax"),
    [
        (CT, 0, JPEG),
        ("1.2.840.10008.5.1.4.1.1.77.1.4", 0, JPEG),  # VL Photographic Image Storage
        ("1.2.840.10008.5.1.4.1.1.200.1", 0, JPEG),  # CT Defined Procedure Protocol
        ("1.2.840.10008.5.1.4.39.1", 0, JPEG),  # Color Palette Storage (outside 1.1.x)
        (MR, 0, BIG),  # ``contexts`` wins over the wildcard
        (VERIFICATION, 0, IMPLICIT),
        (PROTOCOL_APPROVAL_FIND, 3, ""),  # a Q/R class under the storage UID root
        (PATIENT_ROOT_FIND, 3, ""),
        (STORAGE_COMMITMENT, 3, ""),
        (PRIVATE_STORAGE, 3, ""),
    ],
)
def test_accept_all_storage(abstract: str, result: int, syntax: str) -> None:
    out = negotiate_as_acceptor([rq(1, abstract, IMPLICIT, JPEG, BIG)], None, STORE_ALL)
    assert (out.ac_contexts[0].result, out.ac_contexts[0].transfer_syntax) == (result, syntax)


def test_storage_sop_classes_exclude_non_storage() -> None:
    assert CT in STORAGE_SOP_CLASSES and MR in STORAGE_SOP_CLASSES
    assert STORAGE_COMMITMENT not in STORAGE_SOP_CLASSES
    assert PROTOCOL_APPROVAL_FIND not in STORAGE_SOP_CLASSES
    assert "1.2.840.10008.1.3.10" not in STORAGE_SOP_CLASSES  # media storage directory
    assert len(STORAGE_SOP_CLASSES) > 150


def test_storage_declared_by_common_extended_negotiation() -> None:
    # PS3.7 D.3.3.6: the requestor names the service class of a SOP class we
    # may not know; with the wildcard on, a storage declaration is accepted.
    info = UserInformation(
        common_extended_negotiations=(
            SOPClassCommonExtendedNegotiation(
                sop_class_uid=PRIVATE_STORAGE, service_class_uid="1.2.840.10008.4.2"
            ),
            SOPClassCommonExtendedNegotiation(
                sop_class_uid="1.2.3.4.5.6.8", service_class_uid="1.2.840.10008.4.20"
            ),
        )
    )
    contexts = [rq(1, PRIVATE_STORAGE, EXPLICIT), rq(3, "1.2.3.4.5.6.8", EXPLICIT)]
    out = negotiate_as_acceptor(contexts, info, STORE_ALL)
    assert [ac.result for ac in out.ac_contexts] == [0, 3]
    assert [ac.result for ac in negotiate_as_acceptor(contexts, info, POLICY).ac_contexts] == [
        3,
        3,
    ]


def test_storage_roles_for_c_get() -> None:
    # A Q/R SCP serving C-GET lets the requestor be storage SCP.
    policy = AcceptorPolicy(
        contexts={PATIENT_ROOT_FIND: (IMPLICIT,)},
        accept_all_storage=True,
        storage_roles=RoleAgreement(requestor_scu=True, requestor_scp=True),
        roles={MR: RoleAgreement(requestor_scu=True, requestor_scp=False)},
    )
    info = UserInformation(
        role_selections=(
            role(CT, False, True),
            role(MR, False, True),
            role(PATIENT_ROOT_FIND, True, True),
            role("1.2.3.999", True, True),
        )
    )
    contexts = [rq(1, CT), rq(3, MR), rq(5, PATIENT_ROOT_FIND)]
    out = negotiate_as_acceptor(contexts, info, policy)
    assert out.role_replies == (
        role(CT, False, True),
        role(MR, False, False),  # ``roles`` overrides ``storage_roles``
        role(PATIENT_ROOT_FIND, True, False),  # default roles: acceptor SCP only
        role("1.2.3.999", False, False),  # not supported: every role turned down
    )
    assert out.accepted[1] == AcceptedContext(1, CT, IMPLICIT, False, True)
    assert out.accepted[1].acceptor_scu and not out.accepted[1].acceptor_scp
    assert 3 not in out.accepted and out.ac_contexts[1].result == 1
    assert out.accepted[5] == AcceptedContext(5, PATIENT_ROOT_FIND, IMPLICIT, True, False)


# -- roles (PS3.7 D.3.3.4) --------------------------------------------------------

# (proposed SCU, SCP) or None x (returned SCU, SCP) or None -> requestor's (SCU, SCP)
ROLE_OUTCOMES = [
    (None, None, (True, False)),
    (None, (0, 0), (True, False)),  # not proposed: any reply is ignored
    (None, (1, 1), (True, False)),
    ((1, 0), None, (True, False)),
    ((1, 0), (1, 0), (True, False)),
    ((1, 0), (1, 1), (True, False)),  # a 1 for a role not proposed is ignored
    ((1, 0), (0, 0), (False, False)),
    ((1, 0), (0, 1), (False, False)),
    ((0, 1), None, (True, False)),  # not returned: defaults, even though SCU not proposed
    ((0, 1), (0, 1), (False, True)),
    ((0, 1), (1, 1), (False, True)),
    ((0, 1), (0, 0), (False, False)),
    ((0, 1), (1, 0), (False, False)),
    ((1, 1), None, (True, False)),
    ((1, 1), (1, 1), (True, True)),
    ((1, 1), (1, 0), (True, False)),
    ((1, 1), (0, 1), (False, True)),
    ((1, 1), (0, 0), (False, False)),
    ((0, 0), None, (True, False)),  # (0, 0) is not a valid proposal; no roles if answered
    ((0, 0), (0, 0), (False, False)),
    ((0, 0), (1, 1), (False, False)),
]


def _role_or_none(flags: tuple[int, int] | None) -> RoleSelection | None:
    return None if flags is None else role(CT, bool(flags[0]), bool(flags[1]))


@pytest.mark.parametrize(("proposed", "returned", "expected"), ROLE_OUTCOMES)
def test_requestor_roles(
    proposed: tuple[int, int] | None,
    returned: tuple[int, int] | None,
    expected: tuple[bool, bool],
) -> None:
    assert requestor_roles(_role_or_none(proposed), _role_or_none(returned)) == expected


# proposed x policy agreement -> (reply, result, requestor roles)
ACCEPTOR_ROLES = [
    (None, (1, 0), None, 0, (True, False)),
    (None, (1, 1), None, 0, (True, False)),
    (None, (0, 1), None, 1, None),
    ((1, 0), (1, 0), (1, 0), 0, (True, False)),
    ((1, 0), (1, 1), (1, 0), 0, (True, False)),
    ((1, 0), (0, 1), (0, 0), 1, None),
    ((0, 1), (1, 0), (0, 0), 1, None),
    ((0, 1), (1, 1), (0, 1), 0, (False, True)),
    ((0, 1), (0, 1), (0, 1), 0, (False, True)),
    ((1, 1), (1, 0), (1, 0), 0, (True, False)),
    ((1, 1), (0, 1), (0, 1), 0, (False, True)),
    ((1, 1), (1, 1), (1, 1), 0, (True, True)),
    ((1, 1), (0, 0), (0, 0), 1, None),
]


@pytest.mark.parametrize(("proposed", "agree", "reply", "result", "roles"), ACCEPTOR_ROLES)
def test_acceptor_roles_and_requestor_agree(
    proposed: tuple[int, int] | None,
    agree: tuple[int, int],
    reply: tuple[int, int] | None,
    result: int,
    roles: tuple[bool, bool] | None,
) -> None:
    policy = AcceptorPolicy(
        contexts={CT: (EXPLICIT,)},
        roles={CT: RoleAgreement(requestor_scu=bool(agree[0]), requestor_scp=bool(agree[1]))},
    )
    offered = () if proposed is None else (role(CT, bool(proposed[0]), bool(proposed[1])),)
    contexts = [rq(1, CT, EXPLICIT)]
    out = negotiate_as_acceptor(contexts, UserInformation(role_selections=offered), policy)
    expected_reply = () if reply is None else (role(CT, bool(reply[0]), bool(reply[1])),)
    assert out.role_replies == expected_reply
    assert out.ac_contexts[0].result == result
    if roles is None:
        assert out.accepted == {}
    else:
        assert (out.accepted[1].scu_role, out.accepted[1].scp_role) == roles
    # The requestor, reading the same AC, reaches the same conclusion.
    seen = negotiate_as_requestor(contexts, out.ac_contexts, offered, out.role_replies)
    assert seen == dict(out.accepted)


def test_first_role_item_per_sop_class_counts() -> None:
    info = UserInformation(role_selections=(role(CT, False, True), role(CT, True, False)))
    policy = AcceptorPolicy(contexts={CT: (EXPLICIT,)}, default_roles=RoleAgreement(True, True))
    out = negotiate_as_acceptor([rq(1, CT, EXPLICIT)], info, policy)
    assert out.role_replies == (role(CT, False, True),)


# -- extended negotiation (PS3.7 D.3.3.5) ------------------------------------------


def test_extended_negotiation_passthrough() -> None:
    calls: list[tuple[str, bytes]] = []

    def hook(uid: str, info: bytes) -> bytes | None:
        calls.append((uid, info))
        return None if uid == MR else info[:1] + b"\x00"

    policy = AcceptorPolicy(contexts=POLICY.contexts, extended_negotiation=hook)
    info = UserInformation(
        extended_negotiations=(
            SOPClassExtendedNegotiation(sop_class_uid=CT, info=b"\x01\x01"),
            SOPClassExtendedNegotiation(sop_class_uid=MR, info=b"\x01"),
            SOPClassExtendedNegotiation(sop_class_uid="1.2.3.999", info=b"\x01"),
            SOPClassExtendedNegotiation(sop_class_uid=CT, info=b"\x02"),  # duplicate
        )
    )
    contexts = [rq(1, CT, EXPLICIT), rq(3, MR, EXPLICIT), rq(5, "1.2.3.999")]
    out = negotiate_as_acceptor(contexts, info, policy)
    assert out.extended_replies == (
        SOPClassExtendedNegotiation(sop_class_uid=CT, info=b"\x01\x00"),
    )
    # Only SOP classes with an accepted context reach the hook, once each.
    assert calls == [(CT, b"\x01\x01"), (MR, b"\x01")]
    # Without a hook nothing is answered (extended negotiation not supported).
    assert negotiate_as_acceptor(contexts, info, POLICY).extended_replies == ()


# -- asynchronous operations window (PS3.7 D.3.3.3) --------------------------------


@pytest.mark.parametrize(
    ("proposed", "supported", "reply"),
    [
        (None, (5, 5), None),  # not proposed: no reply
        ((5, 5), None, None),  # not supported: no reply, window 1/1
        ((5, 3), (2, 4), (2, 3)),
        ((0, 0), (8, 0), (8, 0)),  # 0 is unlimited
        ((0, 7), (0, 0), (0, 7)),
        ((1, 1), (16, 16), (1, 1)),
    ],
)
def test_async_window(
    proposed: tuple[int, int] | None,
    supported: tuple[int, int] | None,
    reply: tuple[int, int] | None,
) -> None:
    def window(pair: tuple[int, int] | None) -> AsyncOperationsWindow | None:
        return (
            None
            if pair is None
            else AsyncOperationsWindow(max_invoked=pair[0], max_performed=pair[1])
        )

    policy = AcceptorPolicy(contexts=POLICY.contexts, async_window=window(supported))
    info = UserInformation(async_operations_window=window(proposed))
    out = negotiate_as_acceptor([rq(1, VERIFICATION)], info, policy)
    assert out.async_window_reply == window(reply)
    assert out.async_window == (window(reply) or AsyncOperationsWindow())
    # the requestor computes the same window from the same two sub-items
    assert negotiated_async_window(window(proposed), out.async_window_reply) == out.async_window


def test_requestor_clamps_an_async_window_larger_than_proposed() -> None:
    proposed = AsyncOperationsWindow(max_invoked=4, max_performed=0)
    returned = AsyncOperationsWindow(max_invoked=9, max_performed=3)
    assert negotiated_async_window(proposed, returned) == AsyncOperationsWindow(
        max_invoked=4, max_performed=3
    )


# -- user identity (PS3.7 D.3.3.7) --------------------------------------------------


def identity(kind: int, positive: bool) -> UserIdentityRQ:
    secondary = b"secret" if kind == 2 else b""
    return UserIdentityRQ(
        identity_type=kind,
        positive_response_requested=positive,
        primary_field=b"alice",
        secondary_field=secondary,
    )


def _accept_all(_: UserIdentityRQ) -> IdentityDecision:
    return IdentityDecision.accept(b"server-ticket")


def _refuse(_: UserIdentityRQ) -> IdentityDecision:
    return IdentityDecision.refuse()


def _refuse_transient(_: UserIdentityRQ) -> IdentityDecision:
    return IdentityDecision.refuse(RejectReason(result=2, source=1, reason=1))


@pytest.mark.parametrize(
    ("sent", "hook", "reply", "reject"),
    [
        (None, _accept_all, None, None),
        (identity(1, True), None, None, None),  # not supported: ignored
        (identity(1, False), _accept_all, None, None),
        (identity(1, True), _accept_all, b"", None),  # types 1, 2: empty response
        (identity(2, True), _accept_all, b"", None),
        (identity(3, True), _accept_all, b"server-ticket", None),  # Kerberos
        (identity(5, True), _accept_all, b"server-ticket", None),  # JWT
        (identity(3, False), _accept_all, None, None),
        (identity(1, True), _refuse, None, RejectReason(1, 1, 1)),
        (identity(1, False), _refuse_transient, None, RejectReason(2, 1, 1)),
        (identity(1, True), None, None, None),
    ],
)
def test_user_identity(
    sent: UserIdentityRQ | None,
    hook: Callable[[UserIdentityRQ], IdentityDecision] | None,
    reply: bytes | None,
    reject: RejectReason | None,
) -> None:
    policy = AcceptorPolicy(contexts=POLICY.contexts, user_identity=hook)
    out = negotiate_as_acceptor([rq(1, VERIFICATION)], UserInformation(user_identity=sent), policy)
    expected = None if reply is None else UserIdentityAC(server_response=reply)
    assert out.user_identity_reply == expected
    assert out.reject == reject
    assert out.user_identity == sent


def test_result_user_information() -> None:
    policy = AcceptorPolicy(
        contexts={CT: (EXPLICIT,)},
        async_window=AsyncOperationsWindow(max_invoked=2, max_performed=2),
        user_identity=_accept_all,
    )
    info = UserInformation(
        role_selections=(role(CT, True, True),),
        async_operations_window=AsyncOperationsWindow(max_invoked=3, max_performed=1),
        user_identity=identity(4, True),
    )
    out = negotiate_as_acceptor([rq(1, CT, EXPLICIT)], info, policy)
    user_info = out.user_information(
        maximum_length=32768, implementation_class_uid="1.2.3.4", implementation_version_name="X"
    )
    assert user_info == UserInformation(
        maximum_length=32768,
        implementation_class_uid="1.2.3.4",
        implementation_version_name="X",
        async_operations_window=AsyncOperationsWindow(max_invoked=2, max_performed=1),
        role_selections=(role(CT, True, False),),
        user_identity=UserIdentityAC(server_response=b"server-ticket"),
    )


# -- requestor side -----------------------------------------------------------------

PROPOSED = [rq(1, VERIFICATION, IMPLICIT), rq(3, CT, EXPLICIT, JPEG), rq(5, MR, EXPLICIT)]


def ac(cid: int, result: int, syntax: str = "") -> PresentationContextAC:
    return PresentationContextAC(context_id=cid, result=result, transfer_syntax=syntax)


def test_requestor_reads_the_answer() -> None:
    answer = [ac(1, 0, IMPLICIT), ac(3, 0, JPEG), ac(5, 4)]
    assert negotiate_as_requestor(PROPOSED, answer) == {
        1: AcceptedContext(1, VERIFICATION, IMPLICIT),
        3: AcceptedContext(3, CT, JPEG),
    }
    # a proposal left unanswered is simply not usable
    assert set(negotiate_as_requestor(PROPOSED, [ac(3, 0, EXPLICIT)])) == {3}


def test_requestor_drops_contexts_without_roles() -> None:
    usable = negotiate_as_requestor(
        PROPOSED, [ac(3, 0, JPEG)], [role(CT, False, True)], [role(CT, False, False)]
    )
    assert usable == {}


def _bad_ac(cid: int, result: int, syntax: str) -> PresentationContextAC:
    # What a lenient decoder may hand us: built without the constructor's checks.
    item = object.__new__(PresentationContextAC)
    for name, value in (("context_id", cid), ("result", result), ("transfer_syntax", syntax)):
        object.__setattr__(item, name, value)
    return item


@pytest.mark.parametrize(
    ("answer", "reason", "match"),
    [
        ([ac(7, 0, IMPLICIT)], 5, "7 was not proposed"),
        ([ac(1, 0, IMPLICIT), ac(1, 0, IMPLICIT)], 5, "1 is answered twice"),
        ([ac(3, 0, IMPLICIT)], 6, "not proposed for it"),  # IMPLICIT proposed for 1 only
        ([_bad_ac(1, 9, "")], 6, "result 9"),
    ],
)
def test_requestor_rejects_a_bad_answer(
    answer: list[PresentationContextAC], reason: int, match: str
) -> None:
    with pytest.raises(RemoteProtocolError, match=match) as caught:
        negotiate_as_requestor(PROPOSED, answer)
    assert (caught.value.source, caught.value.reason) == (2, reason)


# -- cost ----------------------------------------------------------------------------

ALL_TRANSFER_SYNTAXES = (
    EXPLICIT,
    IMPLICIT,
    BIG,
    "1.2.840.10008.1.2.1.99",
    *(f"1.2.840.10008.1.2.4.{n}" for n in (50, 51, 57, 70, 80, 81, 90, 91, 100, 101, 102, 103)),
    *(f"1.2.840.10008.1.2.4.{n}" for n in (104, 105, 106, 107, 108, 110, 111, 112, 201, 202)),
    *(f"1.2.840.10008.1.2.{n}" for n in ("5", "6.1", "7.1", "8.1")),
)


def test_benchmark_128_storage_contexts_against_all_storage() -> None:
    policy = AcceptorPolicy(
        accept_all_storage=True, storage_transfer_syntaxes=ALL_TRANSFER_SYNTAXES
    )
    classes = sorted(STORAGE_SOP_CLASSES)[:128]
    contexts = [rq(2 * i + 1, uid, IMPLICIT, EXPLICIT, J2K) for i, uid in enumerate(classes)]
    info = UserInformation(role_selections=tuple(role(uid, True, True) for uid in classes))
    out = negotiate_as_acceptor(contexts, info, policy)
    assert len(out.accepted) == 128
    assert all(context.transfer_syntax == EXPLICIT for context in out.accepted.values())
    timings = {}
    for label, user_info in (("no roles", None), ("128 role items", info)):
        samples = []
        for _ in range(7):
            start = time.perf_counter()
            for _ in range(50):
                negotiate_as_acceptor(contexts, user_info, policy)
            samples.append((time.perf_counter() - start) / 50)
        timings[label] = statistics.median(samples)
    print(
        "\nnegotiate 128 storage contexts x all-storage policy: "
        + ", ".join(f"{k} {v * 1e6:.0f} us" for k, v in timings.items())
    )
    # pynetdicom spends ~69 ms here; a generous bound that still catches deep copies.
    assert max(timings.values()) < 0.005
