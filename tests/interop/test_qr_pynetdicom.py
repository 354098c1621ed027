"""Query/Retrieve with pynetdicom, both ways, including the single-entity models.

C. pynetdicom's SCU (send_c_find / send_c_get / send_c_move / send_c_cancel)
   against dicomqr's Q/R SCP, for the Study and Patient Root models and the
   Color Palette, Defined Procedure Protocol and Protocol Approval ones.
D. dicomqr's SCU (find / get / move / cancel) against a pynetdicom SCP whose
   EVT_C_FIND / EVT_C_GET / EVT_C_MOVE handlers serve the same archive.

pynetdicom is synchronous and threaded: its SCU runs in a worker thread
(``asyncio.to_thread``) so that the in-process dicomqr servers keep answering
on the event loop; its SCPs run their own threads (``start_server(...,
block=False)``) and are shut down in a ``finally``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydicom
import pydicom.data
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

pynetdicom = pytest.importorskip("pynetdicom")

from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, build_role, evt  # noqa: E402
from pynetdicom import sop_class as sc  # noqa: E402

import dicomqr  # noqa: E402
from dicomqr import uids  # noqa: E402
from tests.interop.helpers import dataset_differences, read  # noqa: E402
from tests.interop.qr_helpers import (  # noqa: E402
    CANCEL,
    COLOR_PALETTE_FIND,
    COLOR_PALETTE_GET,
    COLOR_PALETTE_MOVE,
    COLOR_PALETTE_STORAGE,
    CT_DPP_STORAGE,
    CT_IMAGE,
    DPP_FIND,
    DPP_GET,
    DPP_MOVE,
    MR_IMAGE,
    PA_FIND,
    PA_GET,
    PA_MOVE,
    PENDING,
    PROTOCOL_APPROVAL_STORAGE,
    SUCCESS,
    QRApp,
    by_uid,
    find_results,
    images,
    make_archive,
    pixel_words,
    query,
    retrieve_set,
    save,
    series_uid,
    study_uid,
)

pytestmark = pytest.mark.interop

TIMEOUT = 15
TIMEOUTS = dicomqr.Timeouts(connect=10, acse=10, dimse=30, artim=5, idle=30)
STORAGE = (CT_IMAGE, MR_IMAGE, COLOR_PALETTE_STORAGE, CT_DPP_STORAGE, PROTOCOL_APPROVAL_STORAGE)
FIND_CLASSES = (uids.STUDY_ROOT_QR_FIND, uids.PATIENT_ROOT_QR_FIND, COLOR_PALETTE_FIND,
                DPP_FIND, PA_FIND)
GET_CLASSES = (uids.STUDY_ROOT_QR_GET, uids.PATIENT_ROOT_QR_GET, COLOR_PALETTE_GET,
               DPP_GET, PA_GET)
MOVE_CLASSES = (uids.STUDY_ROOT_QR_MOVE, uids.PATIENT_ROOT_QR_MOVE, COLOR_PALETTE_MOVE,
                DPP_MOVE, PA_MOVE)

# pynetdicom's names for the SOP classes of the three newer services
assert sc.ColorPaletteInformationModelFind == COLOR_PALETTE_FIND
assert sc.DefinedProcedureProtocolInformationModelGet == DPP_GET
assert sc.ProtocolApprovalInformationModelMove == PA_MOVE
assert sc.CTDefinedProcedureProtocolStorage == CT_DPP_STORAGE


def _same(received: dict[str, Dataset], expected: list[Dataset]) -> None:
    assert sorted(received) == sorted(str(d.SOPInstanceUID) for d in expected)
    for uid, original in by_uid(expected).items():
        diff = dataset_differences(original, received[uid], drop_trailing_padding=True)
        assert not diff, (uid, diff)


def _palette(archive: list[Dataset], label: str) -> Dataset:
    return next(d for d in archive if d.get("ContentLabel") == label)


def _of_class(archive: list[Dataset], sop_class: str) -> list[Dataset]:
    return [d for d in archive if d.SOPClassUID == sop_class]


@contextlib.asynccontextmanager
async def serve(app: QRApp) -> AsyncIterator[dicomqr.Server]:
    srv = dicomqr.make_server(ae_title="DICOMQR", handlers=app.handlers(), timeouts=TIMEOUTS)
    await srv.start("127.0.0.1", 0)
    try:
        yield srv
    finally:
        await srv.close(timeout=2)


async def _start_pynetdicom(ae: Any, handlers: list[Any]) -> tuple[Any, int]:
    """pynetdicom's server in its own threads, on a port the kernel picks."""
    scp = await asyncio.to_thread(ae.start_server, ("127.0.0.1", 0), block=False,
                                  evt_handlers=handlers)
    return scp, int(scp.server_address[1])


@dataclass
class Store:
    """An EVT_C_STORE handler collecting what arrives (any thread)."""

    datasets: dict[str, Dataset] = field(default_factory=dict)
    originators: list[tuple[str, int]] = field(default_factory=list)
    callers: set[str] = field(default_factory=set)
    calls: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, event: Any) -> int:
        ds = event.dataset
        ds.file_meta = event.file_meta
        rq = event.request
        with self.lock:
            self.calls += 1
            self.callers.add(event.assoc.requestor.ae_title)
            self.datasets[str(ds.SOPInstanceUID)] = ds
            if rq.MoveOriginatorApplicationEntityTitle is not None:
                self.originators.append((str(rq.MoveOriginatorApplicationEntityTitle).strip(),
                                         int(rq.MoveOriginatorMessageID)))
        return 0x0000


def _scu_ae(title: str = "PYNSCU") -> Any:
    ae = AE(ae_title=title)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = ae.connection_timeout = TIMEOUT
    return ae


def _associate(ae: Any, port: int, **kwargs: Any) -> Any:
    assoc = ae.associate("127.0.0.1", port, ae_title="DICOMQR", **kwargs)
    assert assoc.is_established, "association with dicomqr failed"
    return assoc


def _statuses(responses: Iterator[tuple[Dataset, Dataset | None]]) -> list[tuple[int, Any]]:
    return [(int(status.Status), identifier) for status, identifier in responses]


# ====================================================================== C
async def test_pynetdicom_find_every_model() -> None:
    """send_c_find with Study Root, Patient Root, Color Palette, Defined
    Procedure Protocol and Protocol Approval: the matches and Success."""
    app = QRApp()
    archive = make_archive()

    def session(port: int) -> dict[str, list[tuple[int, Any]]]:
        ae = _scu_ae()
        for uid in FIND_CLASSES:
            ae.add_requested_context(uid)
        assoc = _associate(ae, port)
        try:
            accepted = {cx.abstract_syntax for cx in assoc.accepted_contexts}
            assert accepted == set(FIND_CLASSES)
            out = {}
            out["studies"] = _statuses(assoc.send_c_find(query(
                QueryRetrieveLevel="STUDY", StudyInstanceUID="", PatientName="DOE*",
                ModalitiesInStudy=""), uids.STUDY_ROOT_QR_FIND, msg_id=11))
            out["images"] = _statuses(assoc.send_c_find(query(
                QueryRetrieveLevel="IMAGE", PatientID="PID002", StudyInstanceUID=study_uid(3),
                SeriesInstanceUID=series_uid(3, 1), SOPInstanceUID=""),
                uids.PATIENT_ROOT_QR_FIND, msg_id=12))
            out["palettes"] = _statuses(assoc.send_c_find(query(
                SOPInstanceUID="", ContentLabel="*LUT", ContentDescription=""),
                sc.ColorPaletteInformationModelFind, msg_id=13))
            out["protocols"] = _statuses(assoc.send_c_find(query(
                SOPInstanceUID="", ProtocolName="CT HEAD*", SOPClassUID=""),
                sc.DefinedProcedureProtocolInformationModelFind, msg_id=14))
            out["approvals"] = _statuses(assoc.send_c_find(query(
                SOPInstanceUID="", InstanceCreationDate="20240201-", Manufacturer=""),
                sc.ProtocolApprovalInformationModelFind, msg_id=15))
            return out
        finally:
            assoc.release()

    async with serve(app) as srv:
        out = await asyncio.to_thread(session, srv.port)

    for name, responses in out.items():
        assert [s for s, _ in responses[:-1]] == [PENDING] * (len(responses) - 1), name
        assert responses[-1] == (SUCCESS, None), name
    studies = [ds for _, ds in out["studies"][:-1]]
    assert [(str(d.StudyInstanceUID), d.ModalitiesInStudy) for d in studies] == [
        (study_uid(1), "CT"), (study_uid(2), "MR")]
    assert [str(d.SOPInstanceUID) for _, d in out["images"][:-1]] == [
        str(d.SOPInstanceUID) for d in images(archive, StudyInstanceUID=study_uid(3))]
    labels = sorted(str(d.ContentLabel) for _, d in out["palettes"][:-1])
    assert labels == ["FALL LUT", "SPRING LUT", "SUMMER LUT", "WINTER LUT"]
    protocols = [d for _, d in out["protocols"][:-1]]
    assert [(d.ProtocolName, d.SOPClassUID) for d in protocols] == [
        ("CT HEAD ROUTINE", CT_DPP_STORAGE)]
    approvals = [d for _, d in out["approvals"][:-1]]
    assert [(d.InstanceCreationDate, d.Manufacturer) for d in approvals] == [
        ("20240220", "DICOMQR TESTS")]
    # the handler saw each SOP class, its model's entity and pynetdicom's IDs
    assert [(r.sop_class.uid, r.level, r.message_id) for r in app.requests] == [
        (uids.STUDY_ROOT_QR_FIND, "STUDY", 11), (uids.PATIENT_ROOT_QR_FIND, "IMAGE", 12),
        (COLOR_PALETTE_FIND, "COLOR_PALETTE", 13),
        (DPP_FIND, "DEFINED_PROCEDURE_PROTOCOL", 14),
        (PA_FIND, "PROTOCOL_APPROVAL", 15)]


async def test_pynetdicom_get_every_model() -> None:
    """send_c_get with SCP role selection and an EVT_C_STORE handler: a study
    (Study Root), a palette, a Defined Procedure Protocol and a Protocol
    Approval arrive on the association as the handler gave them."""
    app = QRApp()
    archive = make_archive()
    store = Store()
    palette = _palette(archive, "HOT_IRON")
    dpps = _of_class(archive, CT_DPP_STORAGE)
    approvals = _of_class(archive, PROTOCOL_APPROVAL_STORAGE)

    def session(port: int) -> list[list[tuple[int, Any]]]:
        ae = _scu_ae()
        for uid in GET_CLASSES:
            ae.add_requested_context(uid)
        for uid in STORAGE:
            ae.add_requested_context(uid)
        roles = [build_role(uid, scp_role=True) for uid in STORAGE]
        assoc = _associate(ae, port, ext_neg=roles, evt_handlers=[(evt.EVT_C_STORE, store)])
        try:
            return [
                _statuses(assoc.send_c_get(query(QueryRetrieveLevel="STUDY",
                                              StudyInstanceUID=study_uid(1)),
                                           uids.STUDY_ROOT_QR_GET)),
                _statuses(assoc.send_c_get(query(SOPInstanceUID=palette.SOPInstanceUID),
                                           sc.ColorPaletteInformationModelGet)),
                _statuses(assoc.send_c_get(query(SOPInstanceUID=[str(d.SOPInstanceUID)
                                                              for d in dpps]),
                                           sc.DefinedProcedureProtocolInformationModelGet)),
                _statuses(assoc.send_c_get(query(SOPInstanceUID=approvals[0].SOPInstanceUID),
                                           sc.ProtocolApprovalInformationModelGet)),
            ]
        finally:
            assoc.release()

    async with serve(app) as srv:
        results = await asyncio.to_thread(session, srv.port)

    expected = [images(archive, StudyInstanceUID=study_uid(1)), [palette], dpps, approvals[:1]]
    for responses, wanted in zip(results, expected, strict=True):
        n = len(wanted)
        assert [s for s, _ in responses] == [PENDING] * n + [SUCCESS]
        final = responses[-1]
        assert final[1] is None  # no Failed SOP Instance UID List on Success
    _same(store.datasets, [d for group in expected for d in group])
    assert store.originators == []  # C-GET sub-operations name no originator


async def test_pynetdicom_move_every_model() -> None:
    """send_c_move to a pynetdicom storage SCP for each model: the instances
    arrive there, naming the C-MOVE's originator; unknown destination: 0xA801."""
    app = QRApp()
    archive = make_archive()
    store = Store()
    dest_ae = AE(ae_title="PYNSTORE")
    dest_ae.network_timeout = dest_ae.acse_timeout = dest_ae.dimse_timeout = TIMEOUT
    for uid in STORAGE:
        dest_ae.add_supported_context(uid, ALL_TRANSFER_SYNTAXES[:4])
    dest, dest_port = await _start_pynetdicom(dest_ae, [(evt.EVT_C_STORE, store)])
    palettes = [_palette(archive, "PET"), _palette(archive, "PET_20_STEP")]
    dpp = _of_class(archive, CT_DPP_STORAGE)[1]
    approvals = _of_class(archive, PROTOCOL_APPROVAL_STORAGE)

    def session(port: int) -> list[list[tuple[int, Any]]]:
        ae = _scu_ae()
        for uid in MOVE_CLASSES:
            ae.add_requested_context(uid)
        assoc = _associate(ae, port)
        try:
            return [
                _statuses(assoc.send_c_move(query(QueryRetrieveLevel="SERIES",
                                               StudyInstanceUID=study_uid(1),
                                               SeriesInstanceUID=series_uid(1, 1)),
                                            "PYNSTORE", uids.STUDY_ROOT_QR_MOVE, msg_id=21)),
                _statuses(assoc.send_c_move(query(SOPInstanceUID=[str(p.SOPInstanceUID)
                                                               for p in palettes]),
                                            "PYNSTORE", sc.ColorPaletteInformationModelMove,
                                            msg_id=22)),
                _statuses(assoc.send_c_move(query(SOPInstanceUID=dpp.SOPInstanceUID), "PYNSTORE",
                                            sc.DefinedProcedureProtocolInformationModelMove,
                                            msg_id=23)),
                _statuses(assoc.send_c_move(query(SOPInstanceUID=[str(d.SOPInstanceUID)
                                                               for d in approvals]),
                                            "PYNSTORE", sc.ProtocolApprovalInformationModelMove,
                                            msg_id=24)),
                _statuses(assoc.send_c_move(query(SOPInstanceUID=dpp.SOPInstanceUID), "NOWHERE",
                                            sc.DefinedProcedureProtocolInformationModelMove,
                                            msg_id=25)),
            ]
        finally:
            assoc.release()

    try:
        async with serve(app) as srv:
            app.destinations = {"PYNSTORE": ("127.0.0.1", dest_port)}
            results = await asyncio.to_thread(session, srv.port)
    finally:
        await asyncio.to_thread(dest.shutdown)

    expected = [images(archive, SeriesInstanceUID=series_uid(1, 1)), palettes, [dpp], approvals]
    for responses, wanted in zip(results[:-1], expected, strict=True):
        assert [s for s, _ in responses] == [PENDING] * len(wanted) + [SUCCESS]
    assert [s for s, _ in results[-1]] == [0xA801]
    _same(store.datasets, [d for group in expected for d in group])
    # PS3.7 9.3.1.1: the C-STORE-RQs carry the C-MOVE's originator
    assert sorted(set(store.originators)) == [("PYNSCU", 21), ("PYNSCU", 22), ("PYNSCU", 23),
                                              ("PYNSCU", 24)]
    # the sub-associations are opened with the C-MOVE SCP's own AE title
    assert store.callers == {"DICOMQR"}


@pytest.mark.parametrize(("source", "as_file", "context_ts"), [
    pytest.param("CT_small.dcm", False, ImplicitVRLittleEndian, id="LE-dataset-to-implicit"),
    pytest.param("CT_small.dcm", False, ExplicitVRBigEndian, id="LE-dataset-to-BE"),
    pytest.param("CT_small.dcm", True, ExplicitVRBigEndian, id="LE-file-to-BE"),
    pytest.param("MR_small_bigendian.dcm", False, ExplicitVRLittleEndian, id="BE-dataset-to-LE"),
    pytest.param("MR_small_bigendian.dcm", True, ExplicitVRLittleEndian, id="BE-file-to-LE"),
])
async def test_pynetdicom_get_converts_byte_order(tmp_path: Path, source: str, as_file: bool,
                                                 context_ts: str) -> None:
    """C-GET where the requestor accepts the storage SOP class in one transfer
    syntax only, with the other byte order than the instance's: the pixel
    values that arrive are the instance's (PS3.5 7.3: OW is byte-swapped in
    big endian).  test_qr_dcmtk.py::test_get_from_dcmqrscp_big_endian checks
    the same values in dcmqrscp's conversion."""
    original = pydicom.dcmread(pydicom.data.get_testdata_file(source))
    original_ts = str(original.file_meta.TransferSyntaxUID)
    assert (original_ts == ExplicitVRBigEndian) != (context_ts == ExplicitVRBigEndian) or (
        context_ts == ImplicitVRLittleEndian)
    sop_class = str(original.SOPClassUID)
    app = QRApp(archive=[original])
    if as_file:
        app.files = dict(zip([str(original.SOPInstanceUID)],
                             save([original], tmp_path / "files"), strict=True))
    received: dict[str, tuple[Dataset, str]] = {}

    def on_store(event: Any) -> int:
        received[str(event.request.AffectedSOPInstanceUID)] = (
            event.dataset, str(event.context.transfer_syntax))
        return 0x0000

    def session(port: int) -> list[int]:
        ae = _scu_ae()
        ae.add_requested_context(uids.STUDY_ROOT_QR_GET)
        ae.add_requested_context(sop_class, [context_ts])
        assoc = _associate(ae, port, ext_neg=[build_role(sop_class, scp_role=True)],
                           evt_handlers=[(evt.EVT_C_STORE, on_store)])
        try:
            return [int(status.Status) for status, _ in assoc.send_c_get(query(
                QueryRetrieveLevel="IMAGE", StudyInstanceUID=original.StudyInstanceUID,
                SeriesInstanceUID=original.SeriesInstanceUID,
                SOPInstanceUID=original.SOPInstanceUID), uids.STUDY_ROOT_QR_GET)]
        finally:
            assoc.release()

    async with serve(app) as srv:
        statuses = await asyncio.to_thread(session, srv.port)
    assert statuses == [PENDING, SUCCESS]
    ((ds, ts),) = received.values()
    assert ts == context_ts
    assert (ds.Rows, ds.Columns) == (original.Rows, original.Columns)
    assert pixel_words(ds, ts) == pixel_words(original, original_ts)


def _context_id(assoc: Any, sop_class: str) -> int:
    return next(cx.context_id for cx in assoc.accepted_contexts
                if cx.abstract_syntax == sop_class)


async def test_pynetdicom_cancel() -> None:
    """send_c_cancel while iterating a slow C-FIND (30 matches, 50 ms apart),
    a slow C-GET and a C-MOVE of 30 instances to a pynetdicom storage SCP:
    each ends 0xFE00 early; the association serves on."""
    app = QRApp(delay=0.05, repeat=10)
    store = Store()
    moved = Store()
    dest_ae = AE(ae_title="PYNSTORE")
    dest_ae.network_timeout = dest_ae.acse_timeout = dest_ae.dimse_timeout = TIMEOUT
    dest_ae.add_supported_context(CT_IMAGE, ALL_TRANSFER_SYNTAXES[:4])
    dest, dest_port = await _start_pynetdicom(dest_ae, [(evt.EVT_C_STORE, moved)])
    app.destinations = {"PYNSTORE": ("127.0.0.1", dest_port)}

    def session(port: int) -> dict[str, list[tuple[int, Any]]]:
        ae = _scu_ae()
        for uid in (uids.STUDY_ROOT_QR_FIND, COLOR_PALETTE_FIND, uids.STUDY_ROOT_QR_GET,
                    CT_IMAGE, uids.STUDY_ROOT_QR_MOVE):
            ae.add_requested_context(uid)
        assoc = _associate(ae, port, ext_neg=[build_role(CT_IMAGE, scp_role=True)],
                           evt_handlers=[(evt.EVT_C_STORE, store)])
        out: dict[str, list[tuple[int, Any]]] = {}
        try:
            for name, (identifier, sop_class, msg_id) in {
                "find": (query(QueryRetrieveLevel="STUDY", StudyInstanceUID=""),
                         uids.STUDY_ROOT_QR_FIND, 7),
                "palette": (query(SOPInstanceUID=""), COLOR_PALETTE_FIND, 8),
            }.items():
                out[name] = []
                for status, ds in assoc.send_c_find(identifier, sop_class, msg_id=msg_id):
                    out[name].append((int(status.Status), ds))
                    if len(out[name]) == 1:
                        assoc.send_c_cancel(msg_id, _context_id(assoc, sop_class))
            out["get"] = []
            for status, ds in assoc.send_c_get(query(QueryRetrieveLevel="STUDY",
                                                  StudyInstanceUID=study_uid(1)),
                                               uids.STUDY_ROOT_QR_GET, msg_id=9):
                out["get"].append((int(status.Status), status, ds))  # type: ignore[arg-type]
                if len(out["get"]) == 1:
                    assoc.send_c_cancel(9, _context_id(assoc, uids.STUDY_ROOT_QR_GET))
            out["move"] = []
            for status, ds in assoc.send_c_move(query(QueryRetrieveLevel="STUDY",
                                                      StudyInstanceUID=study_uid(1)),
                                                "PYNSTORE", uids.STUDY_ROOT_QR_MOVE, msg_id=11):
                out["move"].append((int(status.Status), status, ds))  # type: ignore[arg-type]
                if len(out["move"]) == 1:
                    assoc.send_c_cancel(11, _context_id(assoc, uids.STUDY_ROOT_QR_MOVE))
            # and the association still answers in full
            out["after"] = _statuses(assoc.send_c_find(query(QueryRetrieveLevel="STUDY",
                                                          StudyInstanceUID=study_uid(2)),
                                                       uids.STUDY_ROOT_QR_FIND, msg_id=10))
            return out
        finally:
            assoc.release()

    try:
        async with serve(app) as srv:
            out = await asyncio.to_thread(session, srv.port)
    finally:
        await asyncio.to_thread(dest.shutdown)

    for name in ("find", "palette"):
        statuses = [s for s, _ in out[name]]
        assert statuses[-1] == CANCEL, (name, statuses)
        assert 1 <= len(statuses) - 1 < 10, (name, statuses)
        assert out[name][-1][1] is None
    for name, received in (("get", store), ("move", moved)):
        responses = out[name]
        assert [r[0] for r in responses[:-1]] == [PENDING] * (len(responses) - 1), name
        assert responses[-1][0] == CANCEL, name
        final = responses[-1][1]
        total = 3 * 10
        assert 1 <= final.NumberOfCompletedSuboperations < total, name
        assert final.NumberOfFailedSuboperations == 0
        assert final.NumberOfWarningSuboperations == 0
        # a Cancel response carries Completed/Failed/Warning (PS3.4 C.4.3.3.1)
        # and may carry Remaining: the sub-operations not started
        if "NumberOfRemainingSuboperations" in final:
            assert (final.NumberOfRemainingSuboperations + final.NumberOfCompletedSuboperations
                    == total), name
        assert received.calls == final.NumberOfCompletedSuboperations, name
    assert [s for s, _ in out["after"]] == [PENDING] * 10 + [SUCCESS]
    # the slow handlers were stopped before their end (the C-MOVE's too,
    # unless it had produced every item before the cancel came)
    assert {7, 8, 9} <= set(app.stopped)


# ====================================================================== D
@dataclass
class PynetdicomQR:
    """A pynetdicom Q/R SCP serving the archive (find/get/move handlers)."""

    archive: list[Dataset] = field(default_factory=make_archive)
    destinations: dict[str, tuple[str, int]] = field(default_factory=dict)
    delay: float = 0.0
    repeat: int = 1
    requests: list[tuple[str, str, int]] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)

    def _items(self, event: Any, items: list[Any]) -> Iterator[Any]:
        """The (status, dataset) pairs, ``delay`` apart, until C-CANCEL."""
        for i, item in enumerate(items):
            if event.is_cancelled:
                self.cancelled.append(event.request.MessageID)
                yield (CANCEL, None)
                return
            if i and self.delay:
                time.sleep(self.delay)
            yield item

    def _note(self, event: Any, kind: str) -> None:
        self.requests.append((kind, str(event.request.AffectedSOPClassUID),
                              int(event.request.MessageID)))

    def find(self, event: Any) -> Iterator[Any]:
        self._note(event, "find")
        identifier = event.identifier
        matches = find_results(identifier, str(event.request.AffectedSOPClassUID), self.archive,
                               "PYNQR")
        yield from self._items(event, [(PENDING, d) for _ in range(self.repeat)
                                       for d in matches])

    def get(self, event: Any) -> Iterator[Any]:
        self._note(event, "get")
        found = self.repeat * retrieve_set(event.identifier,
                                           str(event.request.AffectedSOPClassUID), self.archive)
        yield len(found)
        yield from self._items(event, [(PENDING, d) for d in found])

    def move(self, event: Any) -> Iterator[Any]:
        self._note(event, "move")
        dest = self.destinations.get(event.move_destination.strip()
                                     if isinstance(event.move_destination, str)
                                     else event.move_destination.decode().strip())
        if dest is None:
            yield (None, None)
            return
        yield dest
        found = self.repeat * retrieve_set(event.identifier,
                                           str(event.request.AffectedSOPClassUID), self.archive)
        yield len(found)
        yield from self._items(event, [(PENDING, d) for d in found])


@contextlib.asynccontextmanager
async def pynetdicom_qr(app: PynetdicomQR) -> AsyncIterator[int]:
    ae = AE(ae_title="PYNQR")
    ae.network_timeout = ae.acse_timeout = ae.dimse_timeout = TIMEOUT
    ts = ALL_TRANSFER_SYNTAXES[:4]
    for uid in (*FIND_CLASSES, *GET_CLASSES, *MOVE_CLASSES):
        ae.add_supported_context(uid, ts)
    # C-GET: the requestor may take the storage SCP role for these
    for uid in STORAGE:
        ae.add_supported_context(uid, ts, scu_role=False, scp_role=True)
        # C-MOVE: pynetdicom proposes its requested contexts to the destination
        ae.add_requested_context(uid, ts[:3])
    handlers: list[tuple[Any, Callable[..., Any]]] = [
        (evt.EVT_C_FIND, app.find), (evt.EVT_C_GET, app.get), (evt.EVT_C_MOVE, app.move)]
    scp, port = await _start_pynetdicom(ae, handlers)
    try:
        yield port
    finally:
        await asyncio.to_thread(scp.shutdown)


async def _connect(port: int, proposals: list[dicomqr.Proposal], **kwargs: Any
                   ) -> dicomqr.Connection:
    return await dicomqr.connect("127.0.0.1", port, proposals, calling_ae="DICOMQRSCU",
                                 called_ae="PYNQR", timeouts=TIMEOUTS, **kwargs)


def _split(items: list[Any]) -> tuple[list[dicomqr.QRResponse], list[dicomqr.StoredInstance]]:
    return ([i for i in items if isinstance(i, dicomqr.QRResponse)],
            [i for i in items if isinstance(i, dicomqr.StoredInstance)])


async def test_dicomqr_find_against_pynetdicom() -> None:
    """dicomqr find on every model pynetdicom serves: matches and Success."""
    app = PynetdicomQR()
    async with pynetdicom_qr(app) as port:
        conn = await _connect(port, dicomqr.qr_proposals(FIND_CLASSES))
        try:
            async def run(identifier: Dataset, sop_class: str) -> list[Dataset]:
                responses = await dicomqr.find(conn, identifier, sop_class=sop_class).responses()
                assert [r.status for r in responses[:-1]] == [PENDING] * (len(responses) - 1)
                assert responses[-1].status == SUCCESS and responses[-1].identifier is None
                return [r.identifier for r in responses[:-1]]

            studies = await run(query(QueryRetrieveLevel="STUDY", StudyInstanceUID="",
                                   PatientName="", NumberOfStudyRelatedInstances=""),
                                uids.STUDY_ROOT_QR_FIND)
            assert [(str(d.StudyInstanceUID), int(d.NumberOfStudyRelatedInstances))
                    for d in studies] == [(study_uid(1), 3), (study_uid(2), 1), (study_uid(3), 2)]
            assert {d.RetrieveAETitle for d in studies} == {"PYNQR"}
            series = await run(query(QueryRetrieveLevel="SERIES", PatientID="PID001",
                                  StudyInstanceUID=study_uid(1), SeriesInstanceUID="",
                                  SeriesNumber=""), uids.PATIENT_ROOT_QR_FIND)
            assert [str(d.SeriesInstanceUID) for d in series] == [series_uid(1, 1),
                                                                 series_uid(1, 2)]
            palettes = await run(query(SOPInstanceUID="", ContentLabel="HOT*"), COLOR_PALETTE_FIND)
            assert sorted(d.ContentLabel for d in palettes) == ["HOT_IRON", "HOT_METAL_BLUE"]
            protocols = await run(query(SOPInstanceUID="", ProtocolName=""), DPP_FIND)
            assert [d.ProtocolName for d in protocols] == ["CT HEAD ROUTINE", "CT CHEST LOW DOSE"]
            approvals = await run(query(SOPInstanceUID="", InstanceCreationDate="-20240131"),
                                  PA_FIND)
            assert [d.InstanceCreationDate for d in approvals] == ["20240110"]
        finally:
            await conn.release()
    assert [(k, uid) for k, uid, _ in app.requests] == [("find", u) for u in (
        uids.STUDY_ROOT_QR_FIND, uids.PATIENT_ROOT_QR_FIND, COLOR_PALETTE_FIND, DPP_FIND,
        PA_FIND)]


async def test_dicomqr_get_against_pynetdicom(tmp_path: Path) -> None:
    """dicomqr get (storage SCP role) from pynetdicom: a study, a series by
    Patient Root, palettes, a protocol, an approval; files equal the sources."""
    app = PynetdicomQR()
    archive = app.archive
    async with pynetdicom_qr(app) as port:
        props, roles = dicomqr.get_proposals(uids.STUDY_ROOT_QR_GET, STORAGE)
        props += dicomqr.qr_proposals([uids.PATIENT_ROOT_QR_GET, COLOR_PALETTE_GET, DPP_GET,
                                       PA_GET])
        conn = await _connect(port, props, roles=roles)
        out = tmp_path / "got"
        stored: list[dicomqr.StoredInstance] = []
        try:
            cases = [
                (query(QueryRetrieveLevel="STUDY", StudyInstanceUID=study_uid(3)),
                 uids.STUDY_ROOT_QR_GET, images(archive, StudyInstanceUID=study_uid(3))),
                (query(QueryRetrieveLevel="SERIES", PatientID="PID001",
                    StudyInstanceUID=study_uid(2), SeriesInstanceUID=series_uid(2, 1)),
                 uids.PATIENT_ROOT_QR_GET, images(archive, StudyInstanceUID=study_uid(2))),
                (query(SOPInstanceUID=[str(_palette(archive, x).SOPInstanceUID)
                                    for x in ("WINTER LUT", "SPRING LUT")]),
                 COLOR_PALETTE_GET, [_palette(archive, "WINTER LUT"),
                                     _palette(archive, "SPRING LUT")]),
                (query(SOPInstanceUID=_of_class(archive, CT_DPP_STORAGE)[0].SOPInstanceUID),
                 DPP_GET, _of_class(archive, CT_DPP_STORAGE)[:1]),
                (query(SOPInstanceUID=_of_class(archive, PROTOCOL_APPROVAL_STORAGE)[1]
                    .SOPInstanceUID), PA_GET, _of_class(archive, PROTOCOL_APPROVAL_STORAGE)[1:]),
            ]
            for identifier, sop_class, wanted in cases:
                responses, got = _split(await dicomqr.get(conn, identifier, sop_class=sop_class,
                                                          folder=out).responses())
                final = responses[-1]
                assert final.status == SUCCESS, str(final)
                assert (final.completed, final.failed, final.warning) == (len(wanted), 0, 0)
                assert [r.remaining for r in responses[:-1]] == list(
                    range(len(wanted) - 1, -1, -1))
                assert {g.calling_ae for g in got} == {"PYNQR"}
                _same({g.sop_instance_uid: read(Path(g.path)) for g in got}, wanted)
                stored += got
        finally:
            await conn.release()
    assert len(stored) == 2 + 1 + 2 + 1 + 1


async def test_dicomqr_move_against_pynetdicom(tmp_path: Path) -> None:
    """dicomqr move from pynetdicom to dicomqr's storage SCP: a study, a
    palette, a protocol and an approval arrive; unknown destination 0xA801."""
    app = PynetdicomQR()
    archive = app.archive
    approval = _of_class(archive, PROTOCOL_APPROVAL_STORAGE)[0]
    received: list[dicomqr.StoredInstance] = []

    async def on_stored(stored: dicomqr.StoredInstance) -> None:
        received.append(stored)

    dest = dicomqr.storage_scp(tmp_path / "dest", ae_title="DICOMQRDEST", on_stored=on_stored,
                               timeouts=TIMEOUTS)
    await dest.start("127.0.0.1", 0)
    try:
        app.destinations = {"DICOMQRDEST": ("127.0.0.1", dest.port)}
        async with pynetdicom_qr(app) as port:
            conn = await _connect(port, dicomqr.qr_proposals(MOVE_CLASSES))
            try:
                cases = [
                    (query(QueryRetrieveLevel="STUDY", StudyInstanceUID=study_uid(1)),
                     uids.STUDY_ROOT_QR_MOVE, images(archive, StudyInstanceUID=study_uid(1))),
                    (query(SOPInstanceUID=_palette(archive, "FALL LUT").SOPInstanceUID),
                     COLOR_PALETTE_MOVE, [_palette(archive, "FALL LUT")]),
                    (query(SOPInstanceUID=[str(d.SOPInstanceUID)
                                        for d in _of_class(archive, CT_DPP_STORAGE)]),
                     DPP_MOVE, _of_class(archive, CT_DPP_STORAGE)),
                    (query(SOPInstanceUID=approval.SOPInstanceUID), PA_MOVE, [approval]),
                ]
                expected: list[Dataset] = []
                for identifier, sop_class, wanted in cases:
                    responses = await dicomqr.move(conn, identifier, "DICOMQRDEST",
                                                   sop_class=sop_class).responses()
                    final = responses[-1]
                    assert final.status == SUCCESS, str(final)
                    assert (final.completed, final.failed) == (len(wanted), 0)
                    assert len(responses) == len(wanted) + 1
                    expected += wanted
                responses = await dicomqr.move(conn, query(SOPInstanceUID="1.2.3"), "NOWHERE",
                                               sop_class=DPP_MOVE).responses()
                assert [r.status for r in responses] == [0xA801]
            finally:
                await conn.release()
    finally:
        await dest.close(timeout=2)
    _same({s.sop_instance_uid: read(Path(s.path)) for s in received}, expected)
    assert {s.calling_ae for s in received} == {"PYNQR"}


async def test_dicomqr_cancel_against_pynetdicom(tmp_path: Path) -> None:
    """op.cancel() after the first response of a slow find, get and move
    (pynetdicom's handlers check event.is_cancelled): each ends 0xFE00."""
    app = PynetdicomQR(delay=0.05, repeat=10)
    dest = dicomqr.storage_scp(tmp_path / "dest", ae_title="DICOMQRDEST", timeouts=TIMEOUTS)
    await dest.start("127.0.0.1", 0)
    app.destinations = {"DICOMQRDEST": ("127.0.0.1", dest.port)}
    try:
        async with pynetdicom_qr(app) as port:
            props, roles = dicomqr.get_proposals(uids.STUDY_ROOT_QR_GET, [CT_IMAGE])
            props += dicomqr.qr_proposals([uids.STUDY_ROOT_QR_FIND, DPP_FIND,
                                           uids.STUDY_ROOT_QR_MOVE])
            conn = await _connect(port, props, roles=roles)
            try:
                finals = {}
                ops = {
                    "find": dicomqr.find(conn, query(QueryRetrieveLevel="STUDY",
                                                  StudyInstanceUID="")),
                    "dpp": dicomqr.find(conn, query(SOPInstanceUID=""), sop_class=DPP_FIND),
                    "get": dicomqr.get(conn, query(QueryRetrieveLevel="STUDY",
                                                StudyInstanceUID=study_uid(1)),
                                       folder=tmp_path / "got"),
                    "move": dicomqr.move(conn, query(QueryRetrieveLevel="STUDY",
                                                  StudyInstanceUID=study_uid(1)),
                                         "DICOMQRDEST"),
                }
                for name, op in ops.items():
                    responses = []
                    async for item in op:
                        if isinstance(item, dicomqr.QRResponse):
                            responses.append(item)
                            if len(responses) == 1:
                                await op.cancel()
                    assert [r.status for r in responses[:-1]] == [PENDING] * (
                        len(responses) - 1), name
                    finals[name] = responses
                # the association still serves a whole find
                whole = await dicomqr.find(conn, query(QueryRetrieveLevel="STUDY",
                                                    StudyInstanceUID=study_uid(2))).responses()
            finally:
                await conn.release()
    finally:
        await dest.close(timeout=2)
    for name, responses in finals.items():
        final = responses[-1]
        assert final.status == CANCEL, (name, [str(r) for r in responses])
        assert 2 <= len(responses) < 10, (name, [str(r) for r in responses])
    for name in ("get", "move"):
        final = finals[name][-1]
        assert final.completed is not None and 1 <= final.completed < 30
        assert final.failed == 0
    assert [r.status for r in whole] == [PENDING] * 10 + [SUCCESS]
    assert len(app.cancelled) == 4
