"""Bad requests, bad handlers and bad peers on the Q/R services, over real
sockets: each gets its status (or a clear error), the reason is logged,
and the server goes on serving."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydicom import Dataset

from dicomqr import uids
from dicomqr.protocol import dimse
from dicomqr.services import qr_scu
from dicomqr.services.handlers import QRHandlers, QRRequest
from dicomqr.services.qr_scu import QRResponse, RetrieveSetupError
from dicomqr.status import Category
from dicomqr.transport.client import AssociationRejectedError
from dicomqr.transport.server import AssociationRules
from dicomqr.uids import QRService

from .qr_helpers import (
    DEST_AE,
    PATIENT,
    SCP_AE,
    SERIES,
    STUDY,
    Outcome,
    Seen,
    as_response,
    associate,
    associate_get,
    destination,
    dicom_files,
    ds,
    encode,
    instance,
    qr_server,
    raw_request,
    run,
    uid_of,
    valid_identifier,
)

F, G, M = QRService.FIND, QRService.GET, QRService.MOVE
CIR_GET = uids.COMPOSITE_INSTANCE_ROOT_RETRIEVE_GET


def never_called(request: QRRequest) -> Iterator[Any]:
    raise AssertionError("the handler must not be called")
    yield  # pragma: no cover


def one_match(request: QRRequest) -> Iterator[Any]:
    yield 0xFF00, ds(QueryRetrieveLevel="STUDY", StudyInstanceUID=STUDY)


async def operation(port: int, sop_class: str, identifier: Dataset, tmp_path: Path,
                    **connect_options: Any) -> Outcome:
    """One request of ``sop_class`` with our SCU, on a fresh association."""
    row = uids.qr_sop_class(sop_class)
    assert row is not None
    if row.service is G:
        conn = await associate_get(port, sop_class, **connect_options)
        op = qr_scu.get(conn, identifier, sop_class=sop_class, folder=tmp_path / "got")
    elif row.service is M:
        conn = await associate(port, [sop_class], **connect_options)
        op = qr_scu.move(conn, identifier, DEST_AE, sop_class=sop_class)
    else:
        conn = await associate(port, [sop_class], **connect_options)
        op = qr_scu.find(conn, identifier, sop_class=sop_class)
    out = await run(op)
    await conn.release()
    return out


async def still_serves(port: int) -> None:
    conn = await associate(port, [uids.STUDY_ROOT_QR_FIND])
    out = await run(qr_scu.find(conn, ds(QueryRetrieveLevel="STUDY", StudyInstanceUID="")))
    await conn.release()
    assert out.final.status == 0x0000


async def set_soon(event: threading.Event, timeout: float = 2) -> None:
    """Wait (without blocking the loop the server runs on) for ``event``."""
    deadline = time.monotonic() + timeout
    while not event.is_set():
        assert time.monotonic() < deadline, "the handler's generator was not closed"
        await asyncio.sleep(0.005)


ALL_HANDLERS = QRHandlers(find=never_called, get=never_called, move=never_called)

# -- identifiers that do not fit the information model -----------------------------------

LEVEL, PATIENT_ID, STUDY_UID, SERIES_UID, SOP_UID = (
    0x00080052, 0x00100020, 0x0020000D, 0x0020000E, 0x00080018)
FRAME_KEYS = (0x00081161, 0x00081162, 0x00081163)

BAD_IDENTIFIERS = [
    # (SOP class, identifier, status, Offending Element, Error Comment)
    pytest.param(uids.STUDY_ROOT_QR_FIND, {"StudyInstanceUID": ""}, 0xA900, (LEVEL,),
                 "Query/Retrieve Level missing", id="find-no-level"),
    pytest.param(uids.STUDY_ROOT_QR_FIND, {"QueryRetrieveLevel": "PATIENT"}, 0xA900, (LEVEL,),
                 "Query/Retrieve Level 'PATIENT' not in model", id="find-level-not-in-model"),
    pytest.param(uids.STUDY_ROOT_QR_FIND, {"QueryRetrieveLevel": "FRAME"}, 0xA900, (LEVEL,),
                 "Query/Retrieve Level 'FRAME' not in model", id="find-frame-level"),
    pytest.param(uids.STUDY_ROOT_QR_FIND, {"QueryRetrieveLevel": ["STUDY", "SERIES"]}, 0xA900,
                 (LEVEL,), "Query/Retrieve Level 'STUDY/SERIES' not in model",  # no \\ in an LO
                 id="find-two-levels"),
    pytest.param(uids.PATIENT_ROOT_QR_FIND,
                 {"QueryRetrieveLevel": "STUDY", "StudyInstanceUID": ""}, 0xA900,
                 (PATIENT_ID,), "PatientID missing (above level STUDY)",
                 id="find-unique-key-above-missing"),
    pytest.param(uids.PATIENT_ROOT_QR_FIND,
                 {"QueryRetrieveLevel": "STUDY", "PatientID": "PAT*"}, 0xA900, (PATIENT_ID,),
                 "PatientID above level STUDY: one value only", id="find-wildcard-above"),
    pytest.param(uids.STUDY_ROOT_QR_FIND,
                 {"QueryRetrieveLevel": "SERIES", "StudyInstanceUID": STUDY,
                  "StudyDate": "20200101"}, 0xA900, (0x00080020,),
                 "StudyDate is a key above level SERIES", id="find-key-above-level"),
    pytest.param(uids.PATIENT_ROOT_QR_FIND,
                 {"QueryRetrieveLevel": "IMAGE", "PatientID": PATIENT, "StudyInstanceUID": STUDY,
                  "SeriesInstanceUID": SERIES, "PatientName": "X"}, 0xA900, (0x00100010,),
                 "PatientName is a key above level IMAGE", id="find-patient-key-at-image"),
    pytest.param(uids.STUDY_ROOT_QR_FIND,
                 {"QueryRetrieveLevel": "STUDY", "InstanceAvailability": "ONLINE"}, 0xA900,
                 (0x00080056,), "Instance Availability cannot be matched in C-FIND",
                 id="find-instance-availability"),
    pytest.param(uids.STUDY_ROOT_QR_MOVE,
                 {"QueryRetrieveLevel": "SERIES", "StudyInstanceUID": STUDY}, 0xA900,
                 (SERIES_UID,), "SeriesInstanceUID missing", id="move-unique-key-missing"),
    pytest.param(uids.STUDY_ROOT_QR_MOVE, {}, 0xA900, (),
                 "Identifier is empty: nothing to retrieve", id="move-empty"),
    pytest.param(uids.PATIENT_ROOT_QR_GET,
                 {"QueryRetrieveLevel": "PATIENT", "PatientID": ["A", "B"]}, 0xA900,
                 (PATIENT_ID,), "PatientID at level PATIENT: one value only",
                 id="get-two-patients"),
    pytest.param(uids.STUDY_ROOT_QR_GET,
                 {"QueryRetrieveLevel": "SERIES", "SeriesInstanceUID": SERIES}, 0xA900,
                 (STUDY_UID,), "StudyInstanceUID missing (above level SERIES)",
                 id="get-above-missing"),
    pytest.param(uids.STUDY_ROOT_QR_GET,
                 {"QueryRetrieveLevel": "STUDY", "StudyInstanceUID": "1.2.*"}, 0xA900,
                 (STUDY_UID,), "StudyInstanceUID: UIDs only, no wild cards",
                 id="get-wildcard-uid"),
    pytest.param(CIR_GET, {"QueryRetrieveLevel": "SERIES", "SOPInstanceUID": uid_of(0)},
                 0xA900, (LEVEL,), "Query/Retrieve Level 'SERIES' not in model",
                 id="cir-series-level"),
    pytest.param(CIR_GET, {"QueryRetrieveLevel": "IMAGE"}, 0xA900, (SOP_UID,),
                 "SOPInstanceUID missing", id="cir-no-uid"),
    pytest.param(CIR_GET, {"QueryRetrieveLevel": "IMAGE", "SOPInstanceUID": uid_of(0),
                           "SpecificCharacterSet": "ISO_IR 100"}, 0xA900, (0x00080005,),
                 "Specific Character Set shall not be present", id="cir-charset"),
    pytest.param(CIR_GET, {"QueryRetrieveLevel": "FRAME", "SOPInstanceUID": [uid_of(0), uid_of(1)],
                           "SimpleFrameList": [1]}, 0xAA04, (SOP_UID,),
                 "FRAME level takes a single SOP Instance UID", id="cir-frame-two-uids"),
    pytest.param(CIR_GET, {"QueryRetrieveLevel": "FRAME", "SOPInstanceUID": uid_of(0),
                           "SimpleFrameList": [3, 1]}, 0xAA04, (0x00081161,),
                 "Simple Frame List: increasing frame numbers from 1", id="cir-frames-down"),
    pytest.param(CIR_GET, {"QueryRetrieveLevel": "FRAME", "SOPInstanceUID": uid_of(0),
                           "SimpleFrameList": [1], "CalculatedFrameList": [1, 5, 1]}, 0xAA04,
                 (0x00081161, 0x00081162), "FRAME level request with more than one frame range"
                 " key", id="cir-two-frame-keys"),
    pytest.param(CIR_GET, {"QueryRetrieveLevel": "IMAGE", "SOPInstanceUID": uid_of(0),
                           "SimpleFrameList": [1]}, 0xAA04, (0x00081161,),
                 "Frame range keys need Query/Retrieve Level FRAME", id="cir-frames-at-image"),
    pytest.param(uids.COMPOSITE_INSTANCE_RETRIEVE_WITHOUT_BULK_DATA_GET,
                 {"QueryRetrieveLevel": "FRAME", "SOPInstanceUID": uid_of(0)}, 0xA900, (LEVEL,),
                 "Query/Retrieve Level 'FRAME' not in model", id="wbd-frame"),
    pytest.param(uids.COLOR_PALETTE_MOVE,
                 {"QueryRetrieveLevel": "IMAGE", "SOPInstanceUID": uid_of(0)}, 0xA900, (LEVEL,),
                 "Query/Retrieve Level shall not be present", id="palette-move-level"),
    pytest.param(uids.PROTOCOL_APPROVAL_GET, {"PatientID": "x"}, 0xA900, (SOP_UID,),
                 "SOPInstanceUID missing", id="approval-get-no-uid"),
    pytest.param(uids.STUDY_ROOT_QR_FIND,
                 {"QueryRetrieveLevel": "STUDY", "QueryRetrieveView": "ENHANCED"}, 0x0212,
                 (0x00080053,), "Query/Retrieve View without enhanced conversion negotiated",
                 id="find-view-not-negotiated"),
]


# Some values are invalid on purpose (pydicom warns as it encodes them).
@pytest.mark.filterwarnings("ignore:Invalid value for VR:UserWarning")
@pytest.mark.parametrize(("sop_class", "identifier", "code", "offending", "comment"),
                         BAD_IDENTIFIERS)
async def test_identifier_refused(sop_class: str, identifier: dict[str, Any], code: int,
                                  offending: tuple[int, ...], comment: str,
                                  tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dicomqr")
    async with qr_server(ALL_HANDLERS) as srv:
        out = await operation(srv.port, sop_class, ds(**identifier), tmp_path)
        await can_associate(srv.port)
    final = out.final
    assert [r.status for r in out.responses] == [code]
    assert final.category is Category.FAILURE
    assert final.offending == offending
    assert final.comment == comment
    assert final.raw is None and final.completed is None
    assert any(comment in r.getMessage() for r in caplog.records), "not logged"


async def can_associate(port: int) -> None:
    """The server takes a new association (whatever its handlers do)."""
    conn = await associate(port, [uids.STUDY_ROOT_QR_FIND])
    assert conn.is_open
    await conn.release()


@pytest.mark.filterwarnings("ignore:Invalid value for VR:UserWarning")
@pytest.mark.parametrize(("sop_class", "identifier", "level"), [
    pytest.param(uids.STUDY_ROOT_QR_FIND, {"QueryRetrieveLevel": "study"}, "STUDY",
                 id="lower-case-level"),
    pytest.param(uids.STUDY_ROOT_QR_FIND,
                 {"QueryRetrieveLevel": "STUDY", "SeriesInstanceUID": "", "Modality": ""},
                 "STUDY", id="keys-below-level"),
    pytest.param(uids.STUDY_ROOT_QR_FIND,
                 {"QueryRetrieveLevel": "STUDY", "InstanceAvailability": ""}, "STUDY",
                 id="instance-availability-empty"),
    pytest.param(uids.STUDY_ROOT_QR_MOVE,
                 {"QueryRetrieveLevel": "STUDY", "StudyInstanceUID": STUDY, "PatientID": "P"},
                 "STUDY", id="move-with-extra-keys"),
    pytest.param(uids.PROTOCOL_APPROVAL_GET,
                 {"QueryRetrieveLevel": "X", "SOPInstanceUID": uid_of(0)}, "PROTOCOL_APPROVAL",
                 id="approval-get-tolerates-level"),
])
async def test_lenient_identifiers_accepted(sop_class: str, identifier: dict[str, Any],
                                            level: str, tmp_path: Path) -> None:
    seen = Seen()

    def handler(request: QRRequest) -> Iterator[Any]:
        seen(request)
        if request.sop_class.service is M:
            yield None  # unknown destination: enough to see the request
        elif request.sop_class.service is G:
            yield 0

    private = ds(**identifier)
    private.add_new(0x00091010, "LO", "private")  # unrecognised private: ignored
    async with qr_server(QRHandlers(find=handler, get=handler, move=handler)) as srv:
        out = await operation(srv.port, sop_class, private, tmp_path)
    assert seen.last.level == level
    assert out.final.status in (0x0000, 0xA801)


# -- requests for the wrong SOP class or operation ---------------------------------------

def rq(service: QRService, message_id: int, sop_class: str) -> dimse.Message:
    if service is F:
        return dimse.CFindRQ(message_id=message_id, affected_sop_class_uid=sop_class)
    if service is G:
        return dimse.CGetRQ(message_id=message_id, affected_sop_class_uid=sop_class)
    return dimse.CMoveRQ(message_id=message_id, affected_sop_class_uid=sop_class,
                         move_destination=DEST_AE)


@pytest.mark.parametrize(("service", "affected", "context", "code", "comment"), [
    pytest.param(F, "1.2.3.4.5.6", uids.STUDY_ROOT_QR_FIND, 0x0122,
                 "SOP class 1.2.3.4.5.6 is not served", id="find-unknown-class"),
    pytest.param(G, "1.2.840.10008.5.1.4.1.1.2", uids.STUDY_ROOT_QR_GET, 0x0122,
                 "SOP class 1.2.840.10008.5.1.4.1.1.2 is not served", id="get-storage-class"),
    pytest.param(F, uids.STUDY_ROOT_QR_GET, uids.STUDY_ROOT_QR_GET, 0x0211,
                 "C-FIND is not an operation of C-GET SOP class", id="find-on-get-context"),
    pytest.param(G, uids.STUDY_ROOT_QR_FIND, uids.STUDY_ROOT_QR_FIND, 0x0211,
                 "C-GET is not an operation of C-FIND SOP class", id="get-on-find-context"),
    pytest.param(M, uids.STUDY_ROOT_QR_GET, uids.STUDY_ROOT_QR_GET, 0x0211,
                 "C-MOVE is not an operation of C-GET SOP class", id="move-on-get-context"),
    pytest.param(F, uids.PATIENT_ROOT_QR_FIND, uids.STUDY_ROOT_QR_FIND, 0x0212,
                 "SOP class differs from the presentation context's",
                 id="find-served-class-other-context"),
])
async def test_wrong_sop_class_or_operation(service: QRService, affected: str, context: str,
                                            code: int, comment: str) -> None:
    proposals = [uids.STUDY_ROOT_QR_FIND, uids.PATIENT_ROOT_QR_FIND, uids.STUDY_ROOT_QR_GET]
    async with qr_server(QRHandlers(find=never_called, get=never_called)) as srv:
        conn = await associate(srv.port, proposals)
        identifier = ds(QueryRetrieveLevel="STUDY", StudyInstanceUID=STUDY)
        (incoming,) = await raw_request(conn, context, rq(service, conn.next_message_id(),
                                                          affected), encode(identifier))
        # The association carries on.
        out = await run(qr_scu.find(conn, ds(StudyInstanceUID="")))  # no level: 0xA900
        await conn.release()
    rsp = as_response(service, incoming)
    assert type(rsp.message).__name__ == {F: "CFindRSP", G: "CGetRSP", M: "CMoveRSP"}[service]
    assert rsp.status == code and rsp.category is Category.FAILURE and rsp.final
    assert rsp.comment == comment
    assert rsp.message.affected_sop_class_uid == affected
    if code == 0x0212:
        assert rsp.offending == (0x00000002,)  # Affected SOP Class UID
    assert out.final.status == 0xA900


async def test_scu_refuses_what_cannot_be_sent(tmp_path: Path) -> None:
    """Our SCU checks before sending: the SOP class fits the operation and
    was accepted on the association; an unserved class is not accepted."""
    async with qr_server(QRHandlers(find=one_match)) as srv:
        conn = await associate(srv.port, [uids.STUDY_ROOT_QR_FIND, uids.STUDY_ROOT_QR_GET])
        assert {c.abstract_syntax for c in conn.contexts.values()} == {uids.STUDY_ROOT_QR_FIND}
        with pytest.raises(ValueError, match="not a C-FIND SOP class"):
            qr_scu.find(conn, ds(), sop_class=uids.STUDY_ROOT_QR_GET)
        with pytest.raises(ValueError, match="not a C-MOVE SOP class"):
            qr_scu.move(conn, ds(), DEST_AE, sop_class="1.2.3.4")
        with pytest.raises(RetrieveSetupError, match="did not accept"):
            qr_scu.find(conn, ds(), sop_class=uids.PATIENT_ROOT_QR_FIND)
        with pytest.raises(ValueError, match="not an AE title"):
            qr_scu.move(conn, ds(), "A" * 17)
        out = await run(qr_scu.find(conn, ds(QueryRetrieveLevel="STUDY", StudyInstanceUID="")))
        await conn.release()
        assert out.final.status == 0
        with pytest.raises(AssociationRejectedError):
            await associate(srv.port, [uids.PATIENT_ROOT_QR_MOVE])  # nothing acceptable


# -- handlers that misbehave -------------------------------------------------------------

def _raises_on_call(request: QRRequest) -> Iterator[Any]:
    raise ValueError("bad configuration")


def _returns_a_list(request: QRRequest) -> Any:
    return [(0xFF00, ds(StudyInstanceUID=STUDY))]


RAISED = {F: 0xC311, G: 0xC411, M: 0xC511}


@pytest.mark.parametrize("service", [F, G, M])
@pytest.mark.parametrize(("handler", "comment"), [
    (_raises_on_call, "handler raised ValueError"),
    (_returns_a_list, "handler raised TypeError"),
])
async def test_handler_not_a_generator(service: QRService, handler: Any, comment: str,
                                       tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    sop_class = {F: uids.STUDY_ROOT_QR_FIND, G: uids.STUDY_ROOT_QR_GET,
                 M: uids.STUDY_ROOT_QR_MOVE}[service]
    handlers = {"find": one_match, service.value.lower(): handler}
    async with qr_server(QRHandlers(**handlers)) as srv:
        out = await operation(srv.port, sop_class, valid_identifier(sop_class), tmp_path)
        await can_associate(srv.port)
    assert out.final.status == RAISED[service]
    assert out.final.comment == comment
    assert any("handler raised" in r.getMessage() and r.levelno == logging.WARNING
               for r in caplog.records)


GARBAGE = [42, "x", (1, 2, 3), None, 2.5]
INVALID_STATUS = 0xC002


def _garbage_cases() -> Iterator[Any]:
    for value in GARBAGE:
        name = repr(value)
        # C-FIND: in place of a (status, identifier) pair.
        yield pytest.param(F, "item", value, INVALID_STATUS, id=f"find-item-{name}")
        # C-GET / C-MOVE: in place of the count, and of a (status, instance) pair.
        count = True if value == 42 else value  # 42 is a fine count; True is not
        yield pytest.param(G, "count", count, 0xC413, id=f"get-count-{count!r}")
        yield pytest.param(G, "item", value, INVALID_STATUS, id=f"get-item-{name}")
        yield pytest.param(M, "destination", value,
                           0xA801 if value is None else 0xC515, id=f"move-destination-{name}")
        yield pytest.param(M, "count", count, 0xC513, id=f"move-count-{count!r}")
        yield pytest.param(M, "item", value, INVALID_STATUS, id=f"move-item-{name}")
    yield pytest.param(F, "match", 42, 0xC312, id="find-match-int")
    yield pytest.param(F, "match", b"\x08\x00\x52", 0xC312, id="find-match-odd-bytes")
    yield pytest.param(F, "match", None, 0xC312, id="find-match-none")


@pytest.mark.parametrize(("service", "where", "value", "code"), list(_garbage_cases()))
async def test_handler_yields_garbage(service: QRService, where: str, value: Any, code: int,
                                      tmp_path: Path) -> None:
    closed = threading.Event()

    def handler(request: QRRequest) -> Iterator[Any]:
        try:
            if service is M:
                if where == "destination":
                    yield value
                    return
                yield "127.0.0.1", dest.port
            if service is not F:
                if where == "count":
                    yield value
                    return
                yield 2
                yield 0xFF00, instance(0)
            else:
                yield 0xFF00, ds(QueryRetrieveLevel="STUDY", StudyInstanceUID=STUDY)
            yield (0xFF00, value) if where == "match" else value
            yield 0xFF00, instance(1)  # never asked for
        finally:
            closed.set()

    sop_class = {F: uids.STUDY_ROOT_QR_FIND, G: uids.STUDY_ROOT_QR_GET,
                 M: uids.STUDY_ROOT_QR_MOVE}[service]
    async with destination(tmp_path / "dest") as dest, \
            qr_server(QRHandlers(find=handler, get=handler, move=handler)) as srv:
        out = await operation(srv.port, sop_class, valid_identifier(sop_class), tmp_path)
        await can_associate(srv.port)
    assert out.final.status == code, out.final
    assert out.final.category is Category.FAILURE
    assert out.final.comment
    await set_soon(closed)
    if where == "item" and service is not F:
        # The instance before the garbage went through and is counted.
        assert (out.final.completed, out.final.failed) == (1, 0)
        assert len(dicom_files(tmp_path)) == 1


@pytest.mark.parametrize("kind", ["plain", "async"])
@pytest.mark.parametrize("service", [F, G, M])
async def test_handler_that_hangs(service: QRService, kind: str, tmp_path: Path,
                                  caplog: pytest.LogCaptureFixture) -> None:
    """Silent for longer than handler_timeout: 0xC311/0xC411/0xC511, promptly,
    after what was produced before; the association goes on."""
    release = threading.Event()
    timeout = 0.3

    def first_items(request: QRRequest) -> list[Any]:
        if request.sop_class.service is F:
            return [(0xFF00, ds(QueryRetrieveLevel="STUDY", StudyInstanceUID=STUDY))]
        out: list[Any] = [("127.0.0.1", dest.port)] if request.sop_class.service is M else []
        return [*out, 2, (0xFF00, instance(0))]

    def plain(request: QRRequest) -> Iterator[Any]:
        if request.identifier.get("StudyID") == "quick":
            yield from one_match(request)
            return
        yield from first_items(request)
        release.wait(10)  # hangs (a database that does not answer)

    async def async_(request: QRRequest) -> AsyncIterator[Any]:
        if request.identifier.get("StudyID") == "quick":
            for item in one_match(request):
                yield item
            return
        for item in first_items(request):
            yield item
        await asyncio.sleep(3600)

    handler = plain if kind == "plain" else async_
    sop_class = {F: uids.STUDY_ROOT_QR_FIND, G: uids.STUDY_ROOT_QR_GET,
                 M: uids.STUDY_ROOT_QR_MOVE}[service]
    try:
        async with destination(tmp_path / "dest") as dest, qr_server(QRHandlers(
                find=handler, get=handler, move=handler, handler_timeout=timeout)) as srv:
            if service is G:
                conn = await associate_get(srv.port, sop_class, extra=[uids.STUDY_ROOT_QR_FIND])
                op = qr_scu.get(conn, valid_identifier(sop_class), folder=tmp_path / "got")
            else:
                conn = await associate(srv.port, [sop_class, uids.STUDY_ROOT_QR_FIND])
                op = (qr_scu.find(conn, valid_identifier(sop_class)) if service is F
                      else qr_scu.move(conn, valid_identifier(sop_class), DEST_AE))
            start = time.monotonic()
            out = await run(op)
            took = time.monotonic() - start
            quick = await run(qr_scu.find(conn, ds(QueryRetrieveLevel="STUDY",
                                                   StudyInstanceUID="", StudyID="quick")))
            await conn.release()
    finally:
        release.set()
    final = out.final
    assert final.status == RAISED[service]
    assert final.comment == f"handler produced nothing for {timeout:g} s"
    assert timeout <= took < timeout + 0.7
    if service is M:
        # Sent while the next item was awaited: its pending response may not be.
        assert len(out.pending) <= 1
    else:
        assert len(out.pending) == 1
    if service is not F:
        assert (final.completed, final.failed) == (1, 0)
    assert quick.final.status == 0x0000
    assert any("handler produced nothing" in r.getMessage() for r in caplog.records)


async def test_waiting_for_a_slow_handler_does_not_spin() -> None:
    """While the service waits for a slow handler's next item, the event
    loop sleeps (a cancelled wake-up once woke the next wait, again and
    again: a busy loop that also defeated handler_timeout)."""
    async def find(request: QRRequest) -> AsyncIterator[Any]:
        for pause in (0.05, 0.6, 0):
            yield 0xFF00, ds(QueryRetrieveLevel="STUDY", StudyInstanceUID=STUDY)
            await asyncio.sleep(pause)

    async with qr_server(QRHandlers(find=find, handler_timeout=5)) as srv:
        conn = await associate(srv.port, [uids.STUDY_ROOT_QR_FIND])
        cpu = time.process_time()
        out = await run(qr_scu.find(conn, ds(QueryRetrieveLevel="STUDY", StudyInstanceUID="")))
        cpu = time.process_time() - cpu
        await conn.release()
    assert out.final.status == 0x0000 and len(out.matches) == 3
    assert cpu < 0.3, f"{cpu:.2f} s of CPU to wait 0.65 s"


# -- peers that go away --------------------------------------------------------------------

@pytest.mark.parametrize("service", [F, G, M])
async def test_requestor_aborts_mid_operation(service: QRService, tmp_path: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:
    """The SCU aborts while matches / sub-operations stream: the handler is
    stopped, C-MOVE's sub-association released, the server logs it and
    serves the next association; nothing crashes."""
    caplog.set_level(logging.INFO, logger="dicomqr")
    closed = threading.Event()

    def handler(request: QRRequest) -> Iterator[Any]:
        try:
            if service is M:
                yield "127.0.0.1", dest.port
            if service is F:
                for i in range(100_000):
                    yield 0xFF00, ds(QueryRetrieveLevel="STUDY", StudyInstanceUID=f"{STUDY}.{i}")
                    time.sleep(0.001)
            else:
                yield 100_000
                for i in range(100_000):
                    yield 0xFF00, instance(i)
        finally:
            closed.set()

    sop_class = {F: uids.STUDY_ROOT_QR_FIND, G: uids.STUDY_ROOT_QR_GET,
                 M: uids.STUDY_ROOT_QR_MOVE}[service]
    async with destination(tmp_path / "dest") as dest, \
            qr_server(QRHandlers(find=handler, get=handler, move=handler)) as srv:
        if service is G:
            conn = await associate_get(srv.port, sop_class)
            op = qr_scu.get(conn, valid_identifier(sop_class), folder=tmp_path / "got")
        else:
            conn = await associate(srv.port, [sop_class])
            op = (qr_scu.find(conn, valid_identifier(sop_class)) if service is F
                  else qr_scu.move(conn, valid_identifier(sop_class), DEST_AE))
        pending = 0
        with pytest.raises(Exception) as raised:
            async for item in op:
                if isinstance(item, QRResponse) and item.pending:
                    pending += 1
                    if pending == 5:
                        conn.abort()
        assert "abort" in str(raised.value)
        await set_soon(closed)  # the handler was stopped
        deadline = time.monotonic() + 2
        while srv.connections or dest.connections:
            assert time.monotonic() < deadline, "associations left open"
            await asyncio.sleep(0.01)
        await can_associate(srv.port)
    messages = [r.getMessage() for r in caplog.records]
    # One line says how the association ended: the A-ABORT arrives, even
    # though the aborting side had unread data (it lingers instead of
    # resetting the connection).
    ended = [m for m in messages if m.startswith("association QRSCU") and f"{SCP_AE}: " in m
             and "1 requests" in m]
    assert len(ended) == 1, messages
    assert "closed: peer aborted" in ended[0], ended
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], messages



async def test_move_destination_refuses_is_logged(tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dicomqr")

    def move(request: QRRequest) -> Iterator[Any]:
        yield "127.0.0.1", dest.port
        yield 1
        yield 0xFF00, instance(0)

    rules = AssociationRules(called_ae_titles=frozenset({"NOT-DEST"}))
    async with destination(tmp_path / "dest", rules=rules) as dest, \
            qr_server(QRHandlers(move=move, find=one_match)) as srv:
        out = await operation(srv.port, uids.STUDY_ROOT_QR_MOVE,
                              valid_identifier(uids.STUDY_ROOT_QR_MOVE), tmp_path)
        await still_serves(srv.port)
    assert out.final.status == 0xA702
    assert out.final.failed_uids == (uid_of(0),)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(f"C-MOVE to {DEST_AE}" in m and "destination rejected the association" in m
               for m in warnings), warnings
    assert any("rejected: called AE title 'DEST' not served" in r.getMessage()
               for r in caplog.records)
