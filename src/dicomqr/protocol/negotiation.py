"""Association negotiation as pure functions (PS3.7 Annex D.3, PS3.8 §7.1.1.13-14, §9.3).

An A-ASSOCIATE-RQ proposes presentation contexts and, in its User
Information item, role selection (PS3.7 D.3.3.4), SOP class extended and
common extended negotiation (D.3.3.5-6), an asynchronous operations window
(D.3.3.3) and a user identity (D.3.3.7).

* :func:`negotiate_as_acceptor` answers all of them from an
  :class:`AcceptorPolicy` and returns a :class:`NegotiationResult`: the
  presentation context items of the A-ASSOCIATE-AC, the contexts now usable
  (:class:`AcceptedContext`), the user-information replies, and a rejection
  if the user identity was refused.
* :func:`negotiate_as_requestor` reads the A-ASSOCIATE-AC back against what
  was proposed, and :func:`requestor_roles` / :func:`negotiated_async_window`
  settle the roles and the window the same way on both sides.

Cost
----
A server accepting ~200 storage SOP classes in every transfer syntax must
not pay for that per association.  What depends only on the policy is done
once, when it is built: each transfer syntax list becomes one shared
``{uid: rank}`` dict.  Negotiation is then a dict or set lookup per
proposed abstract and transfer syntax; the immutable AC items and role
replies are cached by the policy (bounded by what it supports).

Transfer syntax choice
----------------------
PS3.8 §9.3.3.2 lets the acceptor pick any one of the proposed transfer
syntaxes; the requestor's order is at most a hint.  We pick the proposed
syntax that comes first in the *acceptor's* preference list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import NamedTuple

from pydicom.uid import UID_dictionary  # type: ignore[attr-defined]

from .errors import (
    REASON_INVALID_PDU_PARAMETER,
    REASON_UNEXPECTED_PDU_PARAMETER,
    RemoteProtocolError,
)
from .items import (
    IDENTITY_USERNAME_PASSCODE,
    RESULT_ABSTRACT_SYNTAX_NOT_SUPPORTED,
    RESULT_ACCEPTANCE,
    RESULT_NO_REASON,
    RESULT_TRANSFER_SYNTAXES_NOT_SUPPORTED,
    RESULT_USER_REJECTION,
    AsyncOperationsWindow,
    PresentationContextAC,
    PresentationContextRQ,
    RoleSelection,
    SOPClassExtendedNegotiation,
    UserIdentityAC,
    UserIdentityRQ,
    UserInformation,
)

__all__ = [
    "DEFAULT_TRANSFER_SYNTAXES",
    "STORAGE_SERVICE_CLASS",
    "STORAGE_SOP_CLASSES",
    "AcceptedContext",
    "AcceptorPolicy",
    "IdentityDecision",
    "NegotiationResult",
    "RejectReason",
    "RoleAgreement",
    "negotiate_as_acceptor",
    "negotiate_as_requestor",
    "negotiated_async_window",
    "requestor_roles",
]

IMPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2"
EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
#: What an abstract syntax is accepted with when the policy names no list.
DEFAULT_TRANSFER_SYNTAXES: tuple[str, ...] = (EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN)

_SYNCHRONOUS = AsyncOperationsWindow()  # the window when none is negotiated

#: The Storage Service Class (PS3.4 Annex B), as named in common extended negotiation.
STORAGE_SERVICE_CLASS = "1.2.840.10008.4.2"

# Not storage SOP classes, though "Storage" is in their names.
_NOT_STORAGE = ("Storage Commitment", "Media Storage Directory")


def _storage_sop_classes() -> frozenset[str]:
    # pydicom is the data dictionary (DESIGN.md); retired storage classes are
    # included, since old modalities still send them.
    return frozenset(
        uid
        for uid, (name, kind, *_) in UID_dictionary.items()
        if kind == "SOP Class" and "Storage" in name and not name.startswith(_NOT_STORAGE)
    )


#: Every storage SOP class pydicom knows (PS3.4 Annex B, PS3.6 Table A-1).
STORAGE_SOP_CLASSES: frozenset[str] = _storage_sop_classes()


# -- the policy ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoleAgreement:
    """Which roles the acceptor lets the *requestor* take for one SOP class.

    PS3.7 D.3.3.4: the requestor's role is SCU by default and the acceptor's
    SCP.  ``requestor_scu`` is "we act as SCP"; ``requestor_scp`` is "we act
    as SCU" (C-GET storage sub-operations, storage commitment reports).  The
    default, ``RoleAgreement()``, is the acceptor as SCP only.
    """

    requestor_scu: bool = True
    requestor_scp: bool = False


class RejectReason(NamedTuple):
    """The fields of an A-ASSOCIATE-RJ PDU (PS3.8 Table 9-21)."""

    result: int = 1  # rejected-permanent
    source: int = 1  # DICOM UL service-user
    reason: int = 1  # no-reason-given


@dataclass(frozen=True, slots=True, kw_only=True)
class IdentityDecision:
    """The answer of a user identity hook (PS3.7 D.3.3.7).

    Accepted: ``server_response`` goes back in a User Identity AC sub-item
    if a positive response was requested (empty for identity types 1 and 2,
    Table D.3-15).  Refused: the association is rejected with ``reject``
    (default: permanent, service-user, no-reason-given).
    """

    accepted: bool
    server_response: bytes = b""
    reject: RejectReason | None = None

    @classmethod
    def accept(cls, server_response: bytes = b"") -> IdentityDecision:
        return cls(accepted=True, server_response=server_response)

    @classmethod
    def refuse(cls, reject: RejectReason | None = None) -> IdentityDecision:
        return cls(accepted=False, reject=reject)


#: ``hook(sop_class_uid, requestor_info) -> reply info or None (no reply)``.
ExtendedNegotiationHook = Callable[[str, bytes], bytes | None]
#: ``hook(identity) -> IdentityDecision``.
UserIdentityHook = Callable[[UserIdentityRQ], IdentityDecision]


# For SOP classes the policy does not support: every proposed role is turned down.
_NO_ROLES = RoleAgreement(requestor_scu=False, requestor_scp=False)


class _Support(NamedTuple):
    rank: Mapping[str, int]  # transfer syntax -> preference (0 is best)
    roles: RoleAgreement


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class AcceptorPolicy:
    """What an association-acceptor supports; build once, use for every association.

    Attributes:
        contexts: abstract syntax -> transfer syntaxes it is accepted with,
            in the acceptor's order of preference (PS3.8 §9.3.3.2).
        accept_all_storage: also accept every storage SOP class: those in
            ``storage_sop_classes`` and any SOP class the requestor declares
            a member of the Storage Service Class by common extended
            negotiation (PS3.7 D.3.3.6).  ``contexts`` wins where both apply.
        storage_transfer_syntaxes: preference list for those storage classes.
        storage_sop_classes: the set the wildcard matches.
        roles: per SOP class, the roles the requestor may take.
        default_roles: roles for SOP classes not in ``roles`` (SCP only).
        storage_roles: roles for classes accepted by the storage wildcard and
            not in ``roles``; ``None`` means ``default_roles``.  A Q/R SCP
            serving C-GET sets ``RoleAgreement(requestor_scp=True)`` here.
        extended_negotiation: reply hook for SOP class extended negotiation
            (PS3.7 D.3.3.5); ``None`` sends no replies (not supported).
        async_window: the most outstanding operations invoked / performed the
            acceptor allows (0 = unlimited); ``None``: asynchronous operations
            are not supported and no reply is sent (the window is then 1, 1).
        user_identity: decision hook; ``None`` ignores user identity sub-items
            (PS3.7 D.3.3.7: an acceptor that does not support it accepts the
            association without a response).
    """

    contexts: Mapping[str, Sequence[str]] = field(default_factory=dict)
    accept_all_storage: bool = False
    storage_transfer_syntaxes: Sequence[str] = DEFAULT_TRANSFER_SYNTAXES
    storage_sop_classes: AbstractSet[str] = STORAGE_SOP_CLASSES
    roles: Mapping[str, RoleAgreement] = field(default_factory=dict)
    default_roles: RoleAgreement = RoleAgreement()
    storage_roles: RoleAgreement | None = None
    extended_negotiation: ExtendedNegotiationHook | None = None
    async_window: AsyncOperationsWindow | None = None
    user_identity: UserIdentityHook | None = None
    _supported: dict[str, _Support] = field(init=False, repr=False)
    _storage: _Support = field(init=False, repr=False)
    # Caches of immutable replies, bounded by the policy's own lists.
    _ac_items: dict[tuple[int, int, str], PresentationContextAC] = field(init=False, repr=False)
    _role_replies: dict[tuple[str, bool, bool], RoleSelection] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        ranks: dict[tuple[str, ...], dict[str, int]] = {}

        def rank(name: str, syntaxes: Sequence[str]) -> dict[str, int]:
            if isinstance(syntaxes, str):
                raise TypeError(f"{name}: give a sequence of transfer syntax UIDs, not one str")
            key = tuple(syntaxes)
            if key not in ranks:
                # setdefault keeps the first (best) rank of a UID listed twice
                table: dict[str, int] = {}
                for i, uid in enumerate(key):
                    table.setdefault(uid, i)
                ranks[key] = table
            return ranks[key]

        supported = {
            uid: _Support(rank(uid, syntaxes), self.roles.get(uid, self.default_roles))
            for uid, syntaxes in self.contexts.items()
        }
        storage_roles = self.default_roles if self.storage_roles is None else self.storage_roles
        storage = _Support(rank("storage", self.storage_transfer_syntaxes), storage_roles)
        object.__setattr__(self, "_supported", supported)
        object.__setattr__(self, "_storage", storage)
        object.__setattr__(self, "_ac_items", {})
        object.__setattr__(self, "_role_replies", {})

    def _ac_item(self, context_id: int, result: int, transfer_syntax: str) -> PresentationContextAC:
        key = (context_id, result, transfer_syntax)
        item = self._ac_items.get(key)
        if item is None:
            item = PresentationContextAC(
                context_id=context_id, result=result, transfer_syntax=transfer_syntax
            )
            self._ac_items[key] = item
        return item

    def _role_reply(
        self, proposed: RoleSelection, agreement: RoleAgreement, cache: bool
    ) -> RoleSelection:
        # Never return 1 for a role that was not proposed (PS3.7 D.3.3.4).
        key = (proposed.sop_class_uid, proposed.scu_role, proposed.scp_role)
        reply = self._role_replies.get(key) if cache else None
        if reply is None:
            reply = RoleSelection(
                sop_class_uid=proposed.sop_class_uid,
                scu_role=proposed.scu_role and agreement.requestor_scu,
                scp_role=proposed.scp_role and agreement.requestor_scp,
            )
            if cache:
                self._role_replies[key] = reply
        return reply

    def _lookup(self, uid: str, declared_storage: AbstractSet[str]) -> _Support | None:
        found = self._supported.get(uid)
        if found is not None or not self.accept_all_storage:
            return found
        if uid in self.storage_sop_classes or uid in declared_storage:
            roles = self.roles.get(uid)
            return self._storage if roles is None else _Support(self._storage.rank, roles)
        return None


# -- results ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AcceptedContext:
    """A presentation context both sides may use, with its roles.

    ``scu_role`` / ``scp_role`` are the association-*requestor*'s roles for
    the abstract syntax, as in the role selection sub-item (PS3.7 D.3.3.4);
    the acceptor's are their mirror image (:attr:`acceptor_scu`,
    :attr:`acceptor_scp`).  At least one of them is true.
    """

    context_id: int
    abstract_syntax: str
    transfer_syntax: str
    scu_role: bool = True
    scp_role: bool = False

    @property
    def acceptor_scp(self) -> bool:
        """The acceptor may perform operations the requestor invokes."""
        return self.scu_role

    @property
    def acceptor_scu(self) -> bool:
        """The acceptor may invoke operations (e.g. C-STORE in a C-GET)."""
        return self.scp_role


@dataclass(frozen=True, slots=True, kw_only=True)
class NegotiationResult:
    """What the acceptor's negotiation decided.

    Attributes:
        ac_contexts: the presentation context items of the A-ASSOCIATE-AC,
            one per distinct proposed context ID, in proposal order.
        accepted: context ID -> :class:`AcceptedContext`, for those accepted.
        role_replies: role selection sub-items for the AC (one per SOP class
            the requestor proposed roles for; none if it proposed none).
        extended_replies: SOP class extended negotiation sub-items for the AC.
        async_window: the window in force on the association.
        async_window_reply: the sub-item for the AC, if any.
        user_identity: the requestor's identity sub-item, if it sent one.
        user_identity_reply: the sub-item for the AC, if any.
        reject: not ``None`` when the association must be rejected (user
            identity refused): the A-ASSOCIATE-RJ to send instead of an AC.
    """

    ac_contexts: tuple[PresentationContextAC, ...]
    accepted: Mapping[int, AcceptedContext]
    role_replies: tuple[RoleSelection, ...] = ()
    extended_replies: tuple[SOPClassExtendedNegotiation, ...] = ()
    async_window: AsyncOperationsWindow = _SYNCHRONOUS
    async_window_reply: AsyncOperationsWindow | None = None
    user_identity: UserIdentityRQ | None = None
    user_identity_reply: UserIdentityAC | None = None
    reject: RejectReason | None = None

    def user_information(
        self,
        *,
        maximum_length: int | None,
        implementation_class_uid: str,
        implementation_version_name: str | None = None,
    ) -> UserInformation:
        """The User Information item of the A-ASSOCIATE-AC, with all the replies."""
        return UserInformation(
            maximum_length=maximum_length,
            implementation_class_uid=implementation_class_uid,
            implementation_version_name=implementation_version_name,
            async_operations_window=self.async_window_reply,
            role_selections=self.role_replies,
            extended_negotiations=self.extended_replies,
            user_identity=self.user_identity_reply,
        )


# -- shared rules -------------------------------------------------------------


def requestor_roles(
    proposed: RoleSelection | None, returned: RoleSelection | None
) -> tuple[bool, bool]:
    """The requestor's (SCU, SCP) roles for one SOP class, per PS3.7 D.3.3.4.

    * No role selection proposed: the requestor is SCU, the acceptor SCP,
      whatever comes back ("the requestor shall ignore the response if it
      has not proposed the role").
    * Proposed, but no reply for that SOP class: the same defaults.
    * Proposed and answered: a role holds if it was proposed (1) *and*
      accepted (1); a 1 returned for a role not proposed is ignored.

    ``(False, False)`` means neither side may do anything with the SOP class.
    The acceptor's roles are the mirror image: acceptor SCP = requestor SCU,
    acceptor SCU = requestor SCP.
    """
    if proposed is None or returned is None:
        return True, False
    return (
        proposed.scu_role and returned.scu_role,
        proposed.scp_role and returned.scp_role,
    )


def negotiated_async_window(
    proposed: AsyncOperationsWindow | None, returned: AsyncOperationsWindow | None
) -> AsyncOperationsWindow:
    """The asynchronous operations window in force (PS3.7 D.3.3.3).

    Absent on either side, both values are 1 (synchronous operation).
    Otherwise each value is the smaller of the two, 0 meaning unlimited; an
    acceptor that answers more than was proposed is clamped, since it may
    only negotiate down.
    """
    if proposed is None or returned is None:
        return _SYNCHRONOUS
    return AsyncOperationsWindow(
        max_invoked=_min0(proposed.max_invoked, returned.max_invoked),
        max_performed=_min0(proposed.max_performed, returned.max_performed),
    )


def _min0(a: int, b: int) -> int:
    """The smaller window, where 0 means unlimited."""
    if a == 0:
        return b
    if b == 0:
        return a
    return min(a, b)


def _first_by_sop_class(items: Iterable[RoleSelection]) -> dict[str, RoleSelection]:
    # PS3.7 D.3.3.4 allows one item per SOP class; if a peer sends more, the
    # first one counts.
    found: dict[str, RoleSelection] = {}
    for item in items:
        found.setdefault(item.sop_class_uid, item)
    return found


# -- acceptor -----------------------------------------------------------------


def negotiate_as_acceptor(
    rq_contexts: Sequence[PresentationContextRQ],
    rq_user_info: UserInformation | None,
    policy: AcceptorPolicy,
) -> NegotiationResult:
    """Answer an A-ASSOCIATE-RQ's contexts and user information from ``policy``.

    Per proposed context (PS3.8 Table 9-18 result values):

    * 0 acceptance: abstract syntax supported, a proposed transfer syntax
      acceptable (the acceptor's favourite wins), at least one role left.
    * 1 user-rejection: supported, but role negotiation leaves no role (the
      requestor proposed only a role the policy refuses, or the policy
      refuses the default roles).
    * 2 no-reason: the context ID appears more than once (PS3.8 §7.1.1.13
      makes IDs unique; an AC item could not say which duplicate it
      answers), so all of them are refused with one item.
    * 3 abstract-syntax-not-supported.
    * 4 transfer-syntaxes-not-supported.

    Replies: one role selection item per SOP class the requestor proposed
    roles for (D.3.3.4; all roles turned down for classes with no context
    that got that far); extended negotiation from the policy hook, for
    classes with an accepted context (D.3.3.5); an async window only if
    proposed and supported (D.3.3.3); a user identity AC only if the hook
    accepted and a positive response was requested (D.3.3.7).
    """
    info = rq_user_info if rq_user_info is not None else _NO_USER_INFO
    proposed_roles = _first_by_sop_class(info.role_selections)
    declared_storage: AbstractSet[str] = frozenset()
    if policy.accept_all_storage and info.common_extended_negotiations:
        declared_storage = {
            item.sop_class_uid
            for item in info.common_extended_negotiations
            if item.service_class_uid == STORAGE_SERVICE_CLASS
        }

    seen: set[int] = set()
    duplicated: set[int] = set()
    for context in rq_contexts:
        if context.context_id in seen:
            duplicated.add(context.context_id)
        seen.add(context.context_id)

    ac_contexts: list[PresentationContextAC] = []
    accepted: dict[int, AcceptedContext] = {}
    replies: dict[str, RoleSelection] = {}  # role reply per SOP class
    answered_duplicates: set[int] = set()
    lookup = policy._lookup
    ac_item = policy._ac_item
    for context in rq_contexts:
        cid = context.context_id
        if duplicated and cid in duplicated:
            if cid not in answered_duplicates:
                answered_duplicates.add(cid)
                ac_contexts.append(ac_item(cid, RESULT_NO_REASON, ""))
            continue
        abstract = context.abstract_syntax
        support = lookup(abstract, declared_storage)
        if support is None:
            ac_contexts.append(ac_item(cid, RESULT_ABSTRACT_SYNTAX_NOT_SUPPORTED, ""))
            continue
        chosen = _best_transfer_syntax(support.rank, context.transfer_syntaxes)
        if chosen is None:
            ac_contexts.append(ac_item(cid, RESULT_TRANSFER_SYNTAXES_NOT_SUPPORTED, ""))
            continue
        agreement = support.roles
        proposed = proposed_roles.get(abstract)
        if proposed is None:
            scu, scp = agreement.requestor_scu, False
        else:
            reply = replies.get(abstract)
            if reply is None:
                cache = abstract not in declared_storage  # bounded by the policy
                reply = replies[abstract] = policy._role_reply(proposed, agreement, cache)
            scu, scp = requestor_roles(proposed, reply)
        if not (scu or scp):
            ac_contexts.append(ac_item(cid, RESULT_USER_REJECTION, ""))
            continue
        ac_contexts.append(ac_item(cid, RESULT_ACCEPTANCE, chosen))
        accepted[cid] = AcceptedContext(cid, abstract, chosen, scu, scp)

    role_replies = tuple(
        replies.get(uid) or policy._role_reply(item, _NO_ROLES, cache=False)
        for uid, item in proposed_roles.items()
    )
    window_reply: AsyncOperationsWindow | None = None
    if info.async_operations_window is not None and policy.async_window is not None:
        window_reply = negotiated_async_window(info.async_operations_window, policy.async_window)
    identity = info.user_identity if isinstance(info.user_identity, UserIdentityRQ) else None
    identity_reply, reject = _decide_identity(identity, policy)
    return NegotiationResult(
        ac_contexts=tuple(ac_contexts),
        accepted=accepted,
        role_replies=role_replies,
        extended_replies=_extended_replies(info, accepted, policy),
        async_window=window_reply if window_reply is not None else _SYNCHRONOUS,
        async_window_reply=window_reply,
        user_identity=identity,
        user_identity_reply=identity_reply,
        reject=reject,
    )


_NO_USER_INFO = UserInformation(maximum_length=None)


def _best_transfer_syntax(rank: Mapping[str, int], proposed: Sequence[str]) -> str | None:
    """The proposed syntax the acceptor ranks best: O(len(proposed)) dict lookups."""
    best: str | None = None
    best_rank = len(rank)
    get = rank.get
    for uid in proposed:
        r = get(uid)
        if r is not None and r < best_rank:
            best, best_rank = uid, r
    return best


def _extended_replies(
    info: UserInformation, accepted: Mapping[int, AcceptedContext], policy: AcceptorPolicy
) -> tuple[SOPClassExtendedNegotiation, ...]:
    hook = policy.extended_negotiation
    if hook is None or not info.extended_negotiations:
        return ()
    accepted_classes = {context.abstract_syntax for context in accepted.values()}
    out: list[SOPClassExtendedNegotiation] = []
    answered: set[str] = set()
    for item in info.extended_negotiations:
        uid = item.sop_class_uid
        if uid in answered or uid not in accepted_classes:
            continue
        answered.add(uid)
        reply = hook(uid, bytes(item.info))
        if reply is not None:
            out.append(SOPClassExtendedNegotiation(sop_class_uid=uid, info=reply))
    return tuple(out)


def _decide_identity(
    identity: UserIdentityRQ | None, policy: AcceptorPolicy
) -> tuple[UserIdentityAC | None, RejectReason | None]:
    hook = policy.user_identity
    if identity is None or hook is None:
        return None, None
    decision = hook(identity)
    if not decision.accepted:
        return None, decision.reject if decision.reject is not None else RejectReason()
    if not identity.positive_response_requested:
        return None, None
    response = decision.server_response
    if identity.identity_type <= IDENTITY_USERNAME_PASSCODE:
        response = b""  # PS3.7 Table D.3-15: zero length for types 1 and 2
    return UserIdentityAC(server_response=response), None


# -- requestor ----------------------------------------------------------------


def negotiate_as_requestor(
    rq_contexts: Sequence[PresentationContextRQ],
    ac_contexts: Sequence[PresentationContextAC],
    proposed_roles: Iterable[RoleSelection] = (),
    returned_roles: Iterable[RoleSelection] = (),
) -> dict[int, AcceptedContext]:
    """The usable contexts after an A-ASSOCIATE-AC, by context ID.

    Raises :class:`RemoteProtocolError` (A-ABORT source service-provider)
    when the acceptor breaks PS3.8 §9.3.3.2 / Table 9-18:

    * an item for a context ID we did not propose, or two items for one ID
      (reason 5, unexpected PDU parameter);
    * a result value outside 0..4, or an accepted context whose transfer
      syntax is not one we proposed for it (reason 6, invalid PDU parameter
      value): "the acceptor shall select one of the proposed".

    Not errors: a proposed context with no answer, or with a rejection, is
    simply not usable; so is an accepted context for which the role
    negotiation (:func:`requestor_roles`) leaves us no role.
    """
    proposed = {context.context_id: context for context in rq_contexts}
    our_roles = _first_by_sop_class(proposed_roles)
    their_roles = _first_by_sop_class(returned_roles)
    answered: set[int] = set()
    usable: dict[int, AcceptedContext] = {}
    for ac in ac_contexts:
        cid = ac.context_id
        rq = proposed.get(cid)
        if rq is None or cid in answered:
            problem = "was not proposed" if rq is None else "is answered twice"
            raise RemoteProtocolError(
                f"A-ASSOCIATE-AC: presentation context {cid} {problem}",
                reason=REASON_UNEXPECTED_PDU_PARAMETER,
            )
        answered.add(cid)
        if ac.result != RESULT_ACCEPTANCE:
            if not RESULT_USER_REJECTION <= ac.result <= RESULT_TRANSFER_SYNTAXES_NOT_SUPPORTED:
                raise RemoteProtocolError(
                    f"A-ASSOCIATE-AC: presentation context {cid} has result {ac.result}",
                    reason=REASON_INVALID_PDU_PARAMETER,
                )
            continue
        if ac.transfer_syntax not in rq.transfer_syntaxes:
            raise RemoteProtocolError(
                f"A-ASSOCIATE-AC: presentation context {cid} accepted with transfer syntax "
                f"{ac.transfer_syntax!r}, which was not proposed for it",
                reason=REASON_INVALID_PDU_PARAMETER,
            )
        abstract = rq.abstract_syntax
        scu, scp = requestor_roles(our_roles.get(abstract), their_roles.get(abstract))
        if scu or scp:
            usable[cid] = AcceptedContext(cid, abstract, ac.transfer_syntax, scu, scp)
    return usable
