"""Shared pieces of the Query/Retrieve end-to-end tests (tests/e2e/test_qr_*.py).

Everything runs over real sockets on 127.0.0.1 with port 0: our SCU
(:mod:`dicomqr.services.qr_scu`) against our SCP (:func:`make_server` with
:class:`QRHandlers`), and :func:`storage_scp` as the C-MOVE destination.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydicom import Dataset

from dicomqr import uids
from dicomqr.protocol import dimse
from dicomqr.protocol.items import AsyncOperationsWindow
from dicomqr.services import qr_scu
from dicomqr.services.handlers import QRHandlers, QRRequest
from dicomqr.services.qr_scu import QROperation, QRResponse
from dicomqr.services.scp import make_server, storage_scp
from dicomqr.services.store import StoredInstance
from dicomqr.transport.client import connect
from dicomqr.transport.config import Timeouts
from dicomqr.transport.connection import Connection, IncomingMessage
from dicomqr.transport.server import Server

SCU_AE = "QRSCU"
SCP_AE = "QRSCP"
DEST_AE = "DEST"

ROOT = "1.2.826.0.1.3680043.8.498.77"
STUDY = f"{ROOT}.1"
SERIES = f"{ROOT}.1.1"
PATIENT = "PAT-1"

SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
CT_DPP_STORAGE = "1.2.840.10008.5.1.4.1.1.200.1"  # CT Defined Procedure Protocol Storage
PROTOCOL_APPROVAL_STORAGE = "1.2.840.10008.5.1.4.1.1.200.3"
COLOR_PALETTE_STORAGE = "1.2.840.10008.5.1.4.39.1"
MR = "1.2.840.10008.5.1.4.1.1.4"

#: Timeouts for every test association: short, so a hang fails fast.
TIMEOUTS = Timeouts(connect=5, artim=5, acse=5, dimse=10, idle=30)


# -- datasets --------------------------------------------------------------------------

def ds(**elements: Any) -> Dataset:
    """A Dataset from keyword=value pairs (``ds(PatientID="1", QueryRetrieveLevel="PATIENT")``)."""
    out = Dataset()
    for keyword, value in elements.items():
        setattr(out, keyword, value)
    return out


def instance(n: int, sop_class: str = SECONDARY_CAPTURE, *, study: str = STUDY,
             series: str = SERIES) -> Dataset:
    """A tiny composite instance: enough for a C-STORE sub-operation."""
    return ds(SOPClassUID=sop_class, SOPInstanceUID=f"{series}.{n}", PatientID=PATIENT,
              PatientName="Test^Patient", StudyInstanceUID=study, SeriesInstanceUID=series,
              Modality="OT", InstanceNumber=n)


def uid_of(n: int, series: str = SERIES) -> str:
    return f"{series}.{n}"


# -- servers ---------------------------------------------------------------------------

@contextlib.asynccontextmanager
async def qr_server(handlers: QRHandlers, *, ae_title: str = SCP_AE,
                    **options: Any) -> AsyncIterator[Server]:
    """Our Q/R SCP serving ``handlers`` on 127.0.0.1, a free port."""
    options.setdefault("timeouts", TIMEOUTS)
    srv = make_server(ae_title=ae_title, handlers=handlers, **options)
    await srv.start("127.0.0.1", 0)
    try:
        yield srv
    finally:
        await srv.close(timeout=2)


@contextlib.asynccontextmanager
async def destination(folder: Path, **options: Any) -> AsyncIterator[Server]:
    """A storage SCP (the C-MOVE destination) writing into ``folder``."""
    options.setdefault("timeouts", TIMEOUTS)
    srv = storage_scp(folder, ae_title=DEST_AE, **options)
    await srv.start("127.0.0.1", 0)
    try:
        yield srv
    finally:
        await srv.close(timeout=2)


def dicom_files(folder: Path) -> list[Path]:
    """The instances a FileArchive put in ``folder`` (not the partial ones)."""
    return sorted(p for p in folder.rglob("*.dcm") if ".incoming" not in p.parts)


# -- associations ----------------------------------------------------------------------

async def associate(port: int, sop_classes: Iterable[str], **options: Any) -> Connection:
    """An association proposing the Q/R ``sop_classes`` (no storage contexts)."""
    options.setdefault("calling_ae", SCU_AE)
    options.setdefault("called_ae", SCP_AE)
    options.setdefault("timeouts", TIMEOUTS)
    return await connect("127.0.0.1", port, qr_scu.qr_proposals(sop_classes), **options)


async def associate_get(port: int, get_class: str, storage: Sequence[str] = (SECONDARY_CAPTURE,),
                        *, extra: Sequence[str] = (), **options: Any) -> Connection:
    """An association for C-GET: the GET class plus storage contexts with us as SCP."""
    proposals, roles = qr_scu.get_proposals(get_class, storage)
    proposals += qr_scu.qr_proposals(extra)
    options.setdefault("calling_ae", SCU_AE)
    options.setdefault("called_ae", SCP_AE)
    options.setdefault("timeouts", TIMEOUTS)
    return await connect("127.0.0.1", port, proposals, roles=roles, **options)


ASYNC_WINDOW = AsyncOperationsWindow(max_invoked=0, max_performed=0)


# -- running operations ----------------------------------------------------------------

@dataclass
class Outcome:
    """Everything an operation's iterator gave."""

    responses: list[QRResponse] = field(default_factory=list)
    stored: list[StoredInstance] = field(default_factory=list)

    @property
    def final(self) -> QRResponse:
        assert self.responses, "no response at all"
        last = self.responses[-1]
        assert last.final, f"last response {last} is not final"
        return last

    @property
    def pending(self) -> list[QRResponse]:
        return [r for r in self.responses if r.pending]

    @property
    def matches(self) -> list[Dataset]:
        return [r.identifier for r in self.pending if r.identifier is not None]


async def run(op: QROperation, timeout: float = 10) -> Outcome:
    """Iterate ``op`` to its end (within ``timeout``)."""
    out = Outcome()

    async def consume() -> None:
        async for item in op:
            if isinstance(item, QRResponse):
                out.responses.append(item)
            else:
                out.stored.append(item)
    await asyncio.wait_for(consume(), timeout)
    return out


# -- raw DIMSE, for requests our SCU would never send -----------------------------------

def context_id(conn: Connection, abstract_syntax: str) -> int:
    for ctx in conn.contexts.values():
        if ctx.abstract_syntax == abstract_syntax:
            return ctx.context_id
    raise AssertionError(f"no accepted context for {abstract_syntax}")


async def raw_request(conn: Connection, context: str, rq: dimse.Message,
                      dataset: bytes | None, *, timeout: float = 5) -> list[IncomingMessage]:
    """Send ``rq`` (and ``dataset``) on the context of ``context`` and read its
    responses up to the first non-pending one."""
    msg_id: int = rq.message_id  # type: ignore[union-attr]
    queue = conn.open_exchange(msg_id)
    try:
        conn.send(context_id(conn, context), rq, dataset)
        return await read_until_final(conn, queue, timeout=timeout)
    finally:
        conn.close_exchange(msg_id)


async def read_until_final(conn: Connection, queue: asyncio.Queue[Any], *,
                           timeout: float = 5) -> list[IncomingMessage]:
    out: list[IncomingMessage] = []
    while True:
        incoming = await conn.next_response(queue, timeout)
        out.append(incoming)
        if getattr(incoming.message, "status", 0) not in (0xFF00, 0xFF01):
            return out


def encode(identifier: Dataset, ts: str = uids.EXPLICIT_VR_LITTLE_ENDIAN) -> bytes:
    from dicomqr.services.codec import encode_identifier
    return encode_identifier(identifier, ts)


# -- handlers --------------------------------------------------------------------------

class Seen:
    """Collects the requests handlers were called with."""

    def __init__(self) -> None:
        self.requests: list[QRRequest] = []

    def __call__(self, request: QRRequest) -> QRRequest:
        self.requests.append(request)
        return request

    @property
    def last(self) -> QRRequest:
        assert self.requests, "the handler was never called"
        return self.requests[-1]


# -- identifiers -----------------------------------------------------------------------

def valid_identifier(sop_class: str) -> Dataset:
    """A valid baseline identifier for ``sop_class``, at its model's top level."""
    row = uids.qr_sop_class(sop_class)
    assert row is not None
    find = row.service is uids.QRService.FIND
    model = row.model
    if model in (uids.QRModel.PATIENT_ROOT, uids.QRModel.PATIENT_STUDY_ONLY):
        return ds(QueryRetrieveLevel="PATIENT", PatientID="" if find else PATIENT)
    if model is uids.QRModel.STUDY_ROOT:
        return ds(QueryRetrieveLevel="STUDY", StudyInstanceUID="" if find else STUDY)
    if model in (uids.QRModel.COMPOSITE_INSTANCE_ROOT, uids.QRModel.WITHOUT_BULK_DATA):
        return ds(QueryRetrieveLevel="IMAGE", SOPInstanceUID=uid_of(0))
    return ds(SOPInstanceUID="" if find else uid_of(0))  # single-entity models


def as_response(service: uids.QRService, incoming: IncomingMessage) -> QRResponse:
    """A raw response as our SCU reports it (QROperation does the same)."""
    return QRResponse(service, incoming.message.status,  # type: ignore[union-attr]
                      incoming.message,  # type: ignore[arg-type]
                      incoming.dataset, incoming.context.transfer_syntax)
