"""C-FIND, C-GET and C-MOVE SCU (PS3.4 C.4, PS3.7 §9.1.2-9.1.4, §9.3.2-9.3.4).

Each operation is an async iterator of responses as they arrive::

    async with find(conn, identifier) as responses:
        async for rsp in responses:
            if rsp.pending: print(rsp.identifier.PatientName)

It ends after the final response.  What the SCU does with each status
(continue, stop, report) is read from the PS3.2 Annex N table in
:mod:`dicomqr.services.scu_behavior`.  :meth:`QROperation.cancel` sends
C-CANCEL-RQ; the iterator then ends with the SCP's Cancel (or final)
response.  Leaving the loop early cancels too, and the responses still in
flight are read off in the background so the association stays usable.

C-GET needs the association to carry storage contexts on which we are the
SCP (:func:`get_proposals` builds them, within the 128-context limit); the
instances arrive on the same association and go to a pluggable sink (by
default files in a folder, written as they stream in), and the iterator
yields a :class:`~dicomqr.services.store.StoredInstance` for each beside
the C-GET responses (connect with ``async_window=GET_ASYNC_WINDOW`` to
let the SCP pipeline them).  C-MOVE sends the instances to another AE: for
receiving them here, :func:`storage_scp` starts a storage SCP.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydicom import Dataset

from .. import status as _status
from .. import uids
from ..protocol import dimse
from ..protocol.items import AsyncOperationsWindow, RoleSelection, SOPClassExtendedNegotiation
from ..transport.client import Proposal
from ..transport.connection import Connection, IncomingMessage
from ..uids import QRService
from .codec import IdentifierCodecError, decode_identifier, encode_identifier
from .common import NoContextError, find_context
from .extended import encode as encode_extended
from .handlers import ExtendedOptions
from .scu_behavior import Action, Behavior, behavior
from .store import FileArchive, StoredInstance, send_store_response

log = logging.getLogger("dicomqr.scu")

__all__ = [
    "COMMON_STORAGE_SOP_CLASSES",
    "GET_ASYNC_WINDOW",
    "QROperation",
    "QRResponse",
    "RetrieveSetupError",
    "extended_items",
    "find",
    "get",
    "get_proposals",
    "move",
    "qr_proposals",
    "storage_classes_of",
]


class RetrieveSetupError(NoContextError):
    """The association cannot carry the retrieve asked for (no storage SCP
    role accepted for C-GET, no context for the SOP class)."""


_UNDECODED: Any = object()


@dataclass(frozen=True, slots=True)
class QRResponse:
    """One C-FIND/C-GET/C-MOVE response, as the SCU reports it.

    The identifier is decoded when first asked for (``raw`` holds its bytes
    in ``transfer_syntax``): a caller that counts or stores matches does
    not pay for decoding them.
    """

    service: QRService
    status: int
    message: dimse.CFindRSP | dimse.CGetRSP | dimse.CMoveRSP
    raw: bytes | None = None
    transfer_syntax: str = uids.IMPLICIT_VR_LITTLE_ENDIAN
    _identifier: Any = field(default=_UNDECODED, repr=False, compare=False)

    @property
    def identifier(self) -> Dataset | None:
        """The response's dataset (a match, or the Failed SOP Instance UID
        List), decoded; None when there is none or it cannot be decoded."""
        ident = self._identifier
        if ident is _UNDECODED:
            ident = None
            if self.raw is not None:
                try:
                    ident = decode_identifier(self.raw, self.transfer_syntax, strict=False)
                except IdentifierCodecError as exc:
                    log.warning("response identifier undecodable: %s", exc)
            object.__setattr__(self, "_identifier", ident)
        return ident  # type: ignore[no-any-return]

    @property
    def category(self) -> _status.Category:
        return _status.category_of(self.status)

    @property
    def behavior(self) -> Behavior:
        """The PS3.2 Annex N row that applies (what the SCU does with it)."""
        return behavior(self.service, self.status)

    @property
    def pending(self) -> bool:
        return not self.behavior.action.is_final

    @property
    def final(self) -> bool:
        return self.behavior.action.is_final

    @property
    def ok(self) -> bool:
        return self.behavior.action in (Action.CONTINUE, Action.CONTINUE_WITH_WARNING,
                                        Action.COMPLETE, Action.REPORT_WARNING)

    @property
    def comment(self) -> str | None:
        return self.message.error_comment

    @property
    def offending(self) -> tuple[int, ...]:
        return tuple(self.message.offending_element)

    def _count(self, name: str) -> int | None:
        return getattr(self.message, f"number_of_{name}_suboperations", None)

    @property
    def remaining(self) -> int | None:
        return self._count("remaining")

    @property
    def completed(self) -> int | None:
        return self._count("completed")

    @property
    def failed(self) -> int | None:
        return self._count("failed")

    @property
    def warning(self) -> int | None:
        return self._count("warning")

    @property
    def failed_uids(self) -> tuple[str, ...]:
        """Failed SOP Instance UID List (0008,0058) of a retrieve response."""
        if self.identifier is None or "FailedSOPInstanceUIDList" not in self.identifier:
            return ()
        value = self.identifier.FailedSOPInstanceUIDList
        if isinstance(value, str):
            return (value,) if value else ()
        return tuple(str(v) for v in value)

    def __str__(self) -> str:
        text = _status.describe(self.status, self.message.affected_sop_class_uid)
        if self.comment:
            text += f" ({self.comment})"
        counts = [f"{name} {getattr(self, name)}"
                  for name in ("remaining", "completed", "failed", "warning")
                  if getattr(self, name) is not None]
        if counts:
            text += f" [{', '.join(counts)}]"
        return text


# -- proposals ----------------------------------------------------------------------

#: Storage SOP classes a C-GET proposes when the caller names none: the
#: common image and document classes (a C-GET may propose at most 127
#: storage contexts beside its own).
COMMON_STORAGE_SOP_CLASSES: tuple[str, ...] = tuple(str(u) for u in (
    "1.2.840.10008.5.1.4.1.1.1",  # CR
    "1.2.840.10008.5.1.4.1.1.1.1",  # DX for presentation
    "1.2.840.10008.5.1.4.1.1.1.1.1",  # DX for processing
    "1.2.840.10008.5.1.4.1.1.1.2",  # MG for presentation
    "1.2.840.10008.5.1.4.1.1.1.2.1",  # MG for processing
    "1.2.840.10008.5.1.4.1.1.2",  # CT
    "1.2.840.10008.5.1.4.1.1.2.1",  # Enhanced CT
    "1.2.840.10008.5.1.4.1.1.3.1",  # US multi-frame
    "1.2.840.10008.5.1.4.1.1.4",  # MR
    "1.2.840.10008.5.1.4.1.1.4.1",  # Enhanced MR
    "1.2.840.10008.5.1.4.1.1.6.1",  # US
    "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture
    "1.2.840.10008.5.1.4.1.1.12.1",  # XA
    "1.2.840.10008.5.1.4.1.1.12.2",  # XRF
    "1.2.840.10008.5.1.4.1.1.13.1.3",  # Breast tomosynthesis
    "1.2.840.10008.5.1.4.1.1.20",  # NM
    "1.2.840.10008.5.1.4.1.1.66",  # Raw data
    "1.2.840.10008.5.1.4.1.1.66.4",  # Segmentation
    "1.2.840.10008.5.1.4.1.1.88.11",  # Basic Text SR
    "1.2.840.10008.5.1.4.1.1.88.22",  # Enhanced SR
    "1.2.840.10008.5.1.4.1.1.88.33",  # Comprehensive SR
    "1.2.840.10008.5.1.4.1.1.104.1",  # Encapsulated PDF
    "1.2.840.10008.5.1.4.1.1.11.1",  # Grayscale softcopy presentation state
    "1.2.840.10008.5.1.4.1.1.128",  # PET
    "1.2.840.10008.5.1.4.1.1.481.1",  # RT Image
    "1.2.840.10008.5.1.4.1.1.481.2",  # RT Dose
    "1.2.840.10008.5.1.4.1.1.481.3",  # RT Structure Set
    "1.2.840.10008.5.1.4.1.1.481.5",  # RT Plan
    "1.2.840.10008.5.1.4.1.1.77.1.4",  # VL photographic
    "1.2.840.10008.5.1.4.1.1.200.2",  # Protocol Approval storage
    "1.2.840.10008.5.1.4.39.1",  # Color Palette storage
))

_IDENTIFIER_SYNTAXES = (uids.EXPLICIT_VR_LITTLE_ENDIAN, uids.IMPLICIT_VR_LITTLE_ENDIAN)


def qr_proposals(sop_classes: Iterable[str]) -> list[Proposal]:
    """Contexts for Q/R SOP classes (identifiers go in uncompressed syntaxes)."""
    return [Proposal(uid, _IDENTIFIER_SYNTAXES) for uid in sop_classes]


#: The window a C-GET SCU proposes so that the SCP may have several C-STORE
#: sub-operations outstanding (PS3.7 D.3.3.3: the requestor *performs* them).
GET_ASYNC_WINDOW = AsyncOperationsWindow(max_invoked=1, max_performed=8)


def get_proposals(sop_class: str = uids.STUDY_ROOT_QR_GET,
                  storage_sop_classes: Iterable[str] | None = None,
                  transfer_syntaxes: Sequence[str] = uids.UNCOMPRESSED_TRANSFER_SYNTAXES,
                  ) -> tuple[list[Proposal], list[RoleSelection]]:
    """Contexts and role selections for a C-GET association.

    ``storage_sop_classes``: the SOP classes the instances may have (e.g. a
    study-level C-FIND's SOP Classes in Study (0008,0062)); None: the
    common ones.  Each gets one context with ``transfer_syntaxes`` and a
    role selection making us its SCP (PS3.4 C.4.3.1).  At most 127 are
    proposed (the C-GET context takes the 128th); ``ValueError`` beyond.
    """
    wanted = list(dict.fromkeys(storage_sop_classes if storage_sop_classes is not None
                                else COMMON_STORAGE_SOP_CLASSES))
    if len(wanted) > 127:
        raise ValueError(f"{len(wanted)} storage SOP classes: at most 127 fit beside the "
                         "C-GET context (PS3.8 allows 128 contexts)")
    proposals = [Proposal(sop_class, _IDENTIFIER_SYNTAXES)]
    proposals += [Proposal(uid, tuple(transfer_syntaxes)) for uid in wanted]
    roles = [RoleSelection(sop_class_uid=uid, scu_role=False, scp_role=True) for uid in wanted]
    return proposals, roles


def storage_classes_of(matches: Iterable[QRResponse | Dataset]) -> list[str]:
    """The SOP classes a prior C-FIND said the studies hold: SOP Classes in
    Study (0008,0062) of study-level matches, and SOP Class UID (0008,0016)
    of image-level ones, in order of first appearance.  Ask for them as
    return keys; feed the result to :func:`get_proposals`."""
    found: dict[str, None] = {}
    for match in matches:
        ds = match.identifier if isinstance(match, QRResponse) else match
        if ds is None:
            continue
        for keyword in ("SOPClassesInStudy", "SOPClassUID"):
            value = ds.get(keyword)
            if not value:
                continue
            for uid in [value] if isinstance(value, str) else value:
                if uid:
                    found[str(uid)] = None
    return list(found)


def extended_items(options: dict[str, ExtendedOptions]) -> list[SOPClassExtendedNegotiation]:
    """SOP class extended negotiation sub-items proposing ``options`` per SOP class."""
    items = []
    for uid, opts in options.items():
        row = uids.qr_sop_class(uid)
        if row is None:
            raise ValueError(f"{uid} is not a Q/R SOP class")
        info = encode_extended(row.service, opts, row.model)
        if info:
            items.append(SOPClassExtendedNegotiation(sop_class_uid=uid, info=info))
    return items


# -- the operation ------------------------------------------------------------------

_END = object()


class QROperation:
    """One C-FIND/C-GET/C-MOVE in progress: iterate it for its responses."""

    def __init__(self, conn: Connection, service: QRService, context_id: int,
                 rq: dimse.CFindRQ | dimse.CGetRQ | dimse.CMoveRQ, dataset: bytes,
                 transfer_syntax: str, storage: _RetrieveStorage | None = None) -> None:
        self.conn = conn
        self.service = service
        self.context_id = context_id
        self.rq = rq
        self.message_id = rq.message_id
        self._dataset = dataset
        self._ts = transfer_syntax
        self._storage = storage
        self._queue: asyncio.Queue[Any] | None = None
        self._started = False
        self._done = False
        self._cancel_sent = False
        self.final: QRResponse | None = None
        self._items: asyncio.Queue[Any] = asyncio.Queue()
        self._pump: asyncio.Task[None] | None = None

    def _start(self) -> None:
        if self._started:
            return
        self._started = True
        self._queue = self.conn.open_exchange(self.message_id)
        if self._storage is not None:
            self._storage.listeners.append(self._items)
        self.conn.send(self.context_id, self.rq, self._dataset)
        self._pump = self.conn.loop.create_task(self._read())

    async def _read(self) -> None:
        assert self._queue is not None
        try:
            while True:
                incoming = await self.conn.next_response(self._queue)
                rsp = self._response(incoming)
                if rsp.final:
                    if self._storage is not None:
                        # C-STORE sub-operations are answered before the
                        # final C-GET-RSP is sent: their reports are queued.
                        await asyncio.sleep(0)
                    self.final = rsp
                    self._items.put_nowait(rsp)
                    break
                self._items.put_nowait(rsp)
        except BaseException as exc:
            self._items.put_nowait(exc)
        finally:
            self.conn.close_exchange(self.message_id)
            if self._storage is not None and self._items in self._storage.listeners:
                self._storage.listeners.remove(self._items)
            self._items.put_nowait(_END)

    def _response(self, incoming: IncomingMessage) -> QRResponse:
        msg = incoming.message
        code = getattr(msg, "status", _status.PROCESSING_FAILURE)
        return QRResponse(self.service, code, msg,  # type: ignore[arg-type]
                          incoming.dataset, incoming.context.transfer_syntax)

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Any]:
        self._start()
        try:
            while True:
                item = await self._items.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            if self.final is None:
                await self.cancel()

    async def cancel(self) -> None:
        """Send C-CANCEL-RQ (once); the iteration ends with the final response."""
        if not self._started or self._cancel_sent or self.final is not None:
            return
        self._cancel_sent = True
        if self.conn.is_open:
            self.conn.send(self.context_id,
                           dimse.CCancelRQ(message_id_being_responded_to=self.message_id))

    async def responses(self) -> list[Any]:
        """Run to the end and return every item."""
        return [item async for item in self]

    async def __aenter__(self) -> QROperation:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._started and self.final is None:
            await self.cancel()


class _RetrieveStorage:
    """Serves the C-STORE sub-operations of C-GETs on a requestor's association."""

    def __init__(self, archive: FileArchive) -> None:
        self.listeners: list[asyncio.Queue[Any]] = []
        self.user_hook = archive.on_stored
        archive.on_stored = self._stored
        self.archive = archive

    def use(self, archive: FileArchive) -> None:
        """Send the next C-GET's instances to ``archive``."""
        if archive is self.archive:
            return
        if self.listeners:
            raise RetrieveSetupError(
                "another C-GET is in progress on this association with another sink: "
                "its instances could not be told apart")
        self.archive.on_stored = self.user_hook
        self.user_hook = archive.on_stored
        archive.on_stored = self._stored
        self.archive = archive

    async def _stored(self, stored: StoredInstance) -> int | None:
        result = None
        if self.user_hook is not None:
            result = await self.user_hook(stored)
        for q in self.listeners:
            q.put_nowait(stored)
        return result

    def dataset_sink(self, conn: Connection, context: Any, message: dimse.Message) -> Any:
        if isinstance(message, dimse.CStoreRQ):
            return self.archive.sink(conn, context.transfer_syntax, message)
        return None

    def handle_now(self, conn: Connection, request: IncomingMessage) -> bool:
        # The common case (files into a folder, no hook of the caller's to
        # await) is finished at once, without a task switch per instance.
        if (conn.busy or self.user_hook is not None or request.sink is None
                or not isinstance(request.message, dimse.CStoreRQ)
                or type(self.archive) is not FileArchive):
            return False
        code, comment, stored = self.archive.finish(conn, request)
        if stored is not None:
            for q in self.listeners:
                q.put_nowait(stored)
        send_store_response(conn, request, code, comment)
        return True

    async def handle(self, conn: Connection, request: IncomingMessage) -> None:
        msg = request.message
        if isinstance(msg, dimse.CStoreRQ) and request.sink is not None:
            await self.archive.handle_store(conn, request)
        elif isinstance(msg, dimse.CStoreRQ):
            send_store_response(conn, request, _status.SOP_CLASS_NOT_SUPPORTED, "no sink")

    def cancel(self, conn: Connection, message: dimse.Message) -> None:
        pass


def _context(conn: Connection, sop_class: str) -> tuple[int, str]:
    try:
        ctx = find_context(conn, sop_class)
    except NoContextError:
        raise RetrieveSetupError(f"the peer did not accept {uids.name_of(sop_class)}") from None
    return ctx.context_id, ctx.transfer_syntax


def _identifier_bytes(identifier: Dataset, ts: str) -> bytes:
    return encode_identifier(identifier, ts)


def find(conn: Connection, identifier: Dataset, *, sop_class: str = uids.STUDY_ROOT_QR_FIND,
         priority: dimse.Priority = dimse.Priority.MEDIUM) -> QROperation:
    """C-FIND: iterate the result for each response (pending ones carry a match)."""
    _check_service(sop_class, QRService.FIND)
    context_id, ts = _context(conn, sop_class)
    rq = dimse.CFindRQ(message_id=conn.next_message_id(), affected_sop_class_uid=sop_class,
                       priority=priority)
    return QROperation(conn, QRService.FIND, context_id, rq, _identifier_bytes(identifier, ts), ts)


def get(conn: Connection, identifier: Dataset, *, sop_class: str = uids.STUDY_ROOT_QR_GET,
        folder: str | os.PathLike[str] | None = None, sink: FileArchive | None = None,
        priority: dimse.Priority = dimse.Priority.MEDIUM) -> QROperation:
    """C-GET: iterate for the responses and a StoredInstance per instance received.

    The instances go to ``sink`` (a :class:`FileArchive` or anything with its
    ``sink``/``handle_store`` methods) or into ``folder``.
    """
    _check_service(sop_class, QRService.GET)
    context_id, ts = _context(conn, sop_class)
    storage_roles = [c for c in conn.contexts.values()
                     if c.scp_role and c.abstract_syntax != sop_class]
    if not storage_roles:
        raise RetrieveSetupError(
            "the peer accepted no storage context with us as SCP: a C-GET could not "
            "deliver any instance (propose them with get_proposals())")
    storage = conn.handler if isinstance(conn.handler, _RetrieveStorage) else None
    if sink is None:
        if folder is None:
            raise ValueError("give the folder (or sink) the retrieved instances go to")
        same = storage is not None and storage.archive.root == Path(folder)
        sink = storage.archive if same and storage is not None else FileArchive(folder)
    if storage is None:
        storage = _RetrieveStorage(sink)
        conn.handler = storage
    else:
        # C-STOREs carry nothing that ties them to their C-GET: two at once
        # on one association can only share one sink.
        storage.use(sink)
    rq = dimse.CGetRQ(message_id=conn.next_message_id(), affected_sop_class_uid=sop_class,
                      priority=priority)
    return QROperation(conn, QRService.GET, context_id, rq, _identifier_bytes(identifier, ts), ts,
                       storage)


def move(conn: Connection, identifier: Dataset, destination: str, *,
         sop_class: str = uids.STUDY_ROOT_QR_MOVE,
         priority: dimse.Priority = dimse.Priority.MEDIUM) -> QROperation:
    """C-MOVE to the AE titled ``destination`` (which the SCP must know)."""
    _check_service(sop_class, QRService.MOVE)
    if not destination or len(destination) > 16:
        raise ValueError(f"move destination {destination!r} is not an AE title")
    context_id, ts = _context(conn, sop_class)
    rq = dimse.CMoveRQ(message_id=conn.next_message_id(), affected_sop_class_uid=sop_class,
                       move_destination=destination, priority=priority)
    return QROperation(conn, QRService.MOVE, context_id, rq, _identifier_bytes(identifier, ts), ts)


def _check_service(sop_class: str, service: QRService) -> None:
    row = uids.qr_sop_class(sop_class)
    if row is None or row.service is not service:
        raise ValueError(f"{sop_class} is not a {service.dimse} SOP class")
