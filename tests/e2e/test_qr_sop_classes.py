"""Each of the 21 Q/R SOP classes, round trip: our SCU against our SCP.

For every SOP class and every level of its information model, a valid
identifier goes out; the handler must see exactly that request (SOP class,
level, identifier, calling AE, peer, transfer syntax, move destination),
and the SCU must get the matches (C-FIND) or the instances (C-GET into a
folder, C-MOVE to a storage SCP) with the right counts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom import Dataset

from dicomqr import uids
from dicomqr.protocol.dimse import Priority
from dicomqr.services import qr_scu
from dicomqr.services.common import find_context
from dicomqr.services.handlers import QRHandlers, QRRequest
from dicomqr.status import Category
from dicomqr.transport.client import Proposal, connect
from dicomqr.uids import QRModel, QRService

from .qr_helpers import (
    COLOR_PALETTE_STORAGE,
    CT_DPP_STORAGE,
    DEST_AE,
    PATIENT,
    PROTOCOL_APPROVAL_STORAGE,
    SCP_AE,
    SCU_AE,
    SECONDARY_CAPTURE,
    SERIES,
    STUDY,
    Seen,
    associate,
    associate_get,
    destination,
    dicom_files,
    ds,
    instance,
    qr_server,
    run,
    uid_of,
)

PALETTES = sorted((Path(pydicom.data.__file__).parent / "palettes").glob("*.dcm"))

#: The storage SOP class of the instances each model retrieves.
STORAGE_OF = {
    QRModel.PATIENT_ROOT: SECONDARY_CAPTURE,
    QRModel.STUDY_ROOT: SECONDARY_CAPTURE,
    QRModel.PATIENT_STUDY_ONLY: SECONDARY_CAPTURE,
    QRModel.COMPOSITE_INSTANCE_ROOT: SECONDARY_CAPTURE,
    QRModel.WITHOUT_BULK_DATA: SECONDARY_CAPTURE,
    QRModel.DEFINED_PROCEDURE_PROTOCOL: CT_DPP_STORAGE,
    QRModel.PROTOCOL_APPROVAL: PROTOCOL_APPROVAL_STORAGE,
    QRModel.COLOR_PALETTE: COLOR_PALETTE_STORAGE,
}
SINGLE_ENTITY_LEVEL = {
    QRModel.DEFINED_PROCEDURE_PROTOCOL: "DEFINED_PROCEDURE_PROTOCOL",
    QRModel.PROTOCOL_APPROVAL: "PROTOCOL_APPROVAL",
    QRModel.COLOR_PALETTE: "COLOR_PALETTE",
}
MATCHES = 3


@dataclass(frozen=True)
class Case:
    sop_class: str
    level: str
    identifier: dict[str, Any]

    @property
    def row(self) -> uids.QRSOPClass:
        row = uids.qr_sop_class(self.sop_class)
        assert row is not None
        return row

    def __str__(self) -> str:
        return f"{self.row.keyword}-{self.level}"


def _find_identifiers(model: QRModel) -> Iterator[tuple[str, dict[str, Any]]]:
    """A valid baseline (hierarchical) C-FIND identifier per level."""
    patient = {"PatientID": PATIENT} if model is QRModel.PATIENT_ROOT else {}
    if model in (QRModel.PATIENT_ROOT, QRModel.PATIENT_STUDY_ONLY):
        yield "PATIENT", {"QueryRetrieveLevel": "PATIENT", "PatientID": "", "PatientName": ""}
        yield "STUDY", {"QueryRetrieveLevel": "STUDY", "PatientID": PATIENT,
                        "StudyInstanceUID": "", "StudyDate": ""}
    if model is QRModel.STUDY_ROOT:
        yield "STUDY", {"QueryRetrieveLevel": "STUDY", "StudyInstanceUID": "",
                        "PatientName": "Test*", "StudyDate": ""}
    if model in (QRModel.PATIENT_ROOT, QRModel.STUDY_ROOT):
        yield "SERIES", {"QueryRetrieveLevel": "SERIES", **patient, "StudyInstanceUID": STUDY,
                         "SeriesInstanceUID": "", "Modality": ""}
        yield "IMAGE", {"QueryRetrieveLevel": "IMAGE", **patient, "StudyInstanceUID": STUDY,
                        "SeriesInstanceUID": SERIES, "SOPInstanceUID": "", "InstanceNumber": ""}
    if model in SINGLE_ENTITY_LEVEL:
        # The worklist-style search: any keys, no Query/Retrieve Level.
        yield SINGLE_ENTITY_LEVEL[model], {"SOPInstanceUID": "", "SOPClassUID": ""}


def _retrieve_identifiers(model: QRModel) -> Iterator[tuple[str, dict[str, Any]]]:
    """A valid baseline C-MOVE/C-GET identifier per level."""
    patient = {"PatientID": PATIENT} if model is QRModel.PATIENT_ROOT else {}
    if model in (QRModel.PATIENT_ROOT, QRModel.PATIENT_STUDY_ONLY):
        yield "PATIENT", {"QueryRetrieveLevel": "PATIENT", "PatientID": PATIENT}
        yield "STUDY", {"QueryRetrieveLevel": "STUDY", "PatientID": PATIENT,
                        "StudyInstanceUID": STUDY}
    if model is QRModel.STUDY_ROOT:
        yield "STUDY", {"QueryRetrieveLevel": "STUDY", "StudyInstanceUID": STUDY}
    if model in (QRModel.PATIENT_ROOT, QRModel.STUDY_ROOT):
        yield "SERIES", {"QueryRetrieveLevel": "SERIES", **patient, "StudyInstanceUID": STUDY,
                         "SeriesInstanceUID": SERIES}
        yield "IMAGE", {"QueryRetrieveLevel": "IMAGE", **patient, "StudyInstanceUID": STUDY,
                        "SeriesInstanceUID": SERIES,
                        "SOPInstanceUID": [uid_of(i) for i in range(MATCHES)]}
    if model in (QRModel.COMPOSITE_INSTANCE_ROOT, QRModel.WITHOUT_BULK_DATA):
        yield "IMAGE", {"QueryRetrieveLevel": "IMAGE",
                        "SOPInstanceUID": [uid_of(i) for i in range(MATCHES)]}
    if model is QRModel.COMPOSITE_INSTANCE_ROOT:
        yield "FRAME", {"QueryRetrieveLevel": "FRAME", "SOPInstanceUID": uid_of(0),
                        "SimpleFrameList": [1, 3]}
    if model in SINGLE_ENTITY_LEVEL:
        yield SINGLE_ENTITY_LEVEL[model], {
            "SOPInstanceUID": [uid_of(i) for i in range(MATCHES)]}


def _cases(service: QRService) -> list[Case]:
    out = []
    for row in uids.qr_sop_classes(service):
        levels = _find_identifiers if service is QRService.FIND else _retrieve_identifiers
        for level, identifier in levels(row.model):
            out.append(Case(row.uid, level, identifier))
    return out


FIND_CASES = _cases(QRService.FIND)
GET_CASES = _cases(QRService.GET)
MOVE_CASES = _cases(QRService.MOVE)


def test_every_sop_class_and_level_is_covered() -> None:
    covered = {c.sop_class for c in FIND_CASES + GET_CASES + MOVE_CASES}
    assert covered == set(uids.QR_SOP_CLASSES)
    assert len(covered) == 21
    levels = {(c.row.model, c.level) for c in GET_CASES + MOVE_CASES}
    assert (QRModel.COMPOSITE_INSTANCE_ROOT, "FRAME") in levels
    assert {lv for m, lv in levels if m is QRModel.PATIENT_ROOT} == {
        "PATIENT", "STUDY", "SERIES", "IMAGE"}


def _assert_request(request: QRRequest, case: Case, conn: Any,
                    move_destination: str | None = None) -> None:
    assert request.sop_class.uid == case.sop_class
    assert request.sop_class.service is case.row.service
    assert request.level == case.level
    for keyword, value in case.identifier.items():
        assert keyword in request.identifier, keyword
        got = request.identifier[keyword].value
        if isinstance(value, list):
            assert list(got) == value, keyword
        else:
            assert (got if got is not None else "") == value, keyword
    assert set(request.identifier.dir()) == set(case.identifier)
    assert request.calling_ae == SCU_AE
    assert request.called_ae == SCP_AE
    local = conn.transport.get_extra_info("sockname")
    assert request.peer == ("127.0.0.1", local[1])
    assert request.transfer_syntax == find_context(conn, case.sop_class).transfer_syntax
    assert request.move_destination == move_destination
    assert not request.cancelled


@pytest.mark.parametrize("case", FIND_CASES, ids=str)
async def test_find_round_trip(case: Case) -> None:
    seen = Seen()

    def find(request: QRRequest) -> Iterator[tuple[int, Dataset]]:
        seen(request)
        for i in range(MATCHES):
            match = Dataset()
            for keyword in request.identifier.dir():
                setattr(match, keyword, request.identifier[keyword].value)
            match.SOPInstanceUID = uid_of(i)
            match.SpecificCharacterSet = "ISO_IR 192"
            match.PatientName = "Müller^Jörg"
            yield 0xFF00, match

    async with qr_server(QRHandlers(find=find)) as srv:
        conn = await associate(srv.port, [case.sop_class])
        out = await run(qr_scu.find(conn, ds(**case.identifier), sop_class=case.sop_class))
        await conn.release()
    _assert_request(seen.last, case, conn)
    assert len(seen.requests) == 1
    assert [r.status for r in out.responses] == [0xFF00] * MATCHES + [0x0000]
    assert out.final.category is Category.SUCCESS
    assert out.final.identifier is None
    assert [str(m.SOPInstanceUID) for m in out.matches] == [uid_of(i) for i in range(MATCHES)]
    assert all(str(m.PatientName) == "Müller^Jörg" for m in out.matches)
    if "QueryRetrieveLevel" in case.identifier:
        assert {m.QueryRetrieveLevel for m in out.matches} == {case.level}


def _instances(case: Case, request: QRRequest) -> list[Any]:
    """What the handler sends: Datasets, or palette files by path."""
    if case.row.model is QRModel.COLOR_PALETTE:
        return [str(p) for p in PALETTES[:MATCHES]]
    return [instance(i, STORAGE_OF[case.row.model]) for i in range(MATCHES)]


def _expected_uids(case: Case) -> set[str]:
    if case.row.model is QRModel.COLOR_PALETTE:
        return {str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID)
                for p in PALETTES[:MATCHES]}
    return {uid_of(i) for i in range(MATCHES)}


def _assert_progress(out: Any) -> None:
    assert [r.status for r in out.pending] == [0xFF00] * MATCHES
    # One pending response per sub-operation, counts adding up and growing
    # (several sub-operations may be in flight at once, so equal steps are fine).
    progress = [(r.remaining, r.completed, r.failed, r.warning) for r in out.pending]
    assert all(sum(p) == MATCHES and p[2:] == (0, 0) for p in progress), progress
    assert [p[1] for p in progress] == sorted(p[1] for p in progress)
    assert progress[-1] == (0, MATCHES, 0, 0)
    final = out.final
    assert final.status == 0x0000 and final.category is Category.SUCCESS
    assert (final.remaining, final.completed, final.failed, final.warning) == (
        None, MATCHES, 0, 0)
    assert final.failed_uids == ()
    assert final.identifier is None


@pytest.mark.parametrize("case", GET_CASES, ids=str)
async def test_get_round_trip(case: Case, tmp_path: Path) -> None:
    seen = Seen()

    def get(request: QRRequest) -> Iterator[Any]:
        seen(request)
        items = _instances(case, request)
        yield len(items)
        for item in items:
            yield 0xFF00, item

    folder = tmp_path / "got"
    async with qr_server(QRHandlers(get=get)) as srv:
        conn = await associate_get(srv.port, case.sop_class, [STORAGE_OF[case.row.model]])
        out = await run(qr_scu.get(conn, ds(**case.identifier), sop_class=case.sop_class,
                                   folder=folder))
        await conn.release()
    _assert_request(seen.last, case, conn)
    _assert_progress(out)
    assert {s.sop_instance_uid for s in out.stored} == _expected_uids(case)
    assert {s.sop_class_uid for s in out.stored} == {STORAGE_OF[case.row.model]}
    files = dicom_files(folder)
    assert len(files) == MATCHES
    assert {str(pydicom.dcmread(f).SOPInstanceUID) for f in files} == _expected_uids(case)


@pytest.mark.parametrize("case", MOVE_CASES, ids=str)
async def test_move_round_trip(case: Case, tmp_path: Path) -> None:
    seen = Seen()
    received: list[Any] = []
    folder = tmp_path / "moved"

    async def on_stored(stored: Any) -> None:
        received.append(stored)

    async def move(request: QRRequest) -> AsyncIterator[Any]:
        seen(request)
        yield "127.0.0.1", dest.port
        items = _instances(case, request)
        yield len(items)
        for item in items:
            yield 0xFF00, item

    async with destination(folder, on_stored=on_stored) as dest, \
            qr_server(QRHandlers(move=move)) as srv:
        conn = await associate(srv.port, [case.sop_class])
        out = await run(qr_scu.move(conn, ds(**case.identifier), DEST_AE,
                                    sop_class=case.sop_class))
        await conn.release()
    _assert_request(seen.last, case, conn, move_destination=DEST_AE)
    _assert_progress(out)
    assert out.stored == []
    files = dicom_files(folder)
    assert len(files) == MATCHES
    assert {str(pydicom.dcmread(f).SOPInstanceUID) for f in files} == _expected_uids(case)
    # The sub-association comes from the Q/R SCP (its AE title as called).
    assert {r.calling_ae for r in received} == {SCP_AE}


async def test_find_on_implicit_vr_context_handler_sees_it() -> None:
    """The negotiated transfer syntax reaches the handler, and matches are
    encoded in it."""
    seen = Seen()

    def find(request: QRRequest) -> Iterator[tuple[int, Dataset]]:
        seen(request)
        yield 0xFF00, ds(QueryRetrieveLevel="STUDY", StudyInstanceUID=STUDY, PatientID="X")

    async with qr_server(QRHandlers(find=find)) as srv:
        conn = await connect("127.0.0.1", srv.port, [
            Proposal(uids.STUDY_ROOT_QR_FIND, (uids.IMPLICIT_VR_LITTLE_ENDIAN,))],
            calling_ae=SCU_AE, called_ae=SCP_AE)
        out = await run(qr_scu.find(conn, ds(QueryRetrieveLevel="STUDY", StudyInstanceUID="",
                                             PatientID="")))
        await conn.release()
    assert seen.last.transfer_syntax == uids.IMPLICIT_VR_LITTLE_ENDIAN
    assert [str(m.PatientID) for m in out.matches] == ["X"]
    assert out.final.status == 0


async def test_async_handlers_and_priority(tmp_path: Path) -> None:
    """Async generator handlers work too; the priority reaches the request."""
    seen = Seen()

    async def find(request: QRRequest) -> AsyncIterator[tuple[int, Dataset]]:
        seen(request)
        for i in range(5):
            yield 0xFF00, ds(QueryRetrieveLevel="STUDY", StudyInstanceUID=f"{STUDY}.{i}")

    async def get(request: QRRequest) -> AsyncIterator[Any]:
        seen(request)
        yield 2
        yield 0xFF00, instance(1)
        yield 0xFF00, instance(2)

    async with qr_server(QRHandlers(find=find, get=get)) as srv:
        conn = await associate_get(srv.port, uids.STUDY_ROOT_QR_GET,
                                   extra=[uids.STUDY_ROOT_QR_FIND])
        found = await run(qr_scu.find(conn, ds(QueryRetrieveLevel="STUDY", StudyInstanceUID=""),
                                      priority=Priority.HIGH))
        got = await run(qr_scu.get(conn, ds(QueryRetrieveLevel="STUDY", StudyInstanceUID=STUDY),
                                   folder=tmp_path, priority=Priority.LOW))
        await conn.release()
    assert len(found.matches) == 5 and found.final.status == 0
    assert got.final.completed == 2 and len(dicom_files(tmp_path)) == 2
    assert [r.priority for r in seen.requests] == [Priority.HIGH, Priority.LOW]
    assert seen.requests[0].message_id != seen.requests[1].message_id
