"""Query/Retrieve with DCMTK, both ways (real sockets, DCMTK as subprocesses).

A. DCMTK's findscu, getscu and movescu against dicomqr's Q/R SCP
   (``make_server`` with the handlers of :class:`QRApp` over a small
   in-memory archive).  findscu, getscu and movescu know the Patient Root,
   Study Root and Patient/Study Only models only (``-P``, ``-S``, ``-O``):
   they cannot be told the Color Palette, Defined Procedure Protocol or
   Protocol Approval SOP classes, which test_qr_pynetdicom.py covers.
   getscu has no ``--cancel``; findscu and movescu do.
B. dicomqr's SCU (find, get, move, cancel) against DCMTK's dcmqrscp,
   filled by storescu first; the C-MOVE destination is dicomqr's
   ``storage_scp``, listed in dcmqrscp's HostTable.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydicom
import pydicom.data
import pytest
from pydicom.dataset import Dataset

import dicomqr
from dicomqr import uids
from tests.conftest import dcmtk, dcmtk_env
from tests.interop.conftest import start_storescp
from tests.interop.helpers import (
    DCMTK_SCU_TIMEOUTS,
    Completed,
    background,
    dataset_differences,
    eventually,
    free_port,
    read,
    run,
)
from tests.interop.qr_helpers import (
    CANCEL,
    CT_IMAGE,
    MR_IMAGE,
    PENDING,
    SUCCESS,
    UTF8,
    UTF8_NAME,
    QRApp,
    by_uid,
    final_status_lines,
    images,
    make_archive,
    pixel_words,
    query,
    rename_utf8,
    save,
    series_uid,
    study_uid,
)

pytestmark = pytest.mark.interop

TIMEOUTS = dicomqr.Timeouts(connect=10, acse=10, dimse=30, artim=5, idle=30)


# ====================================================================== A
@contextlib.asynccontextmanager
async def serve(app: QRApp, **handler_options: Any) -> AsyncIterator[dicomqr.Server]:
    srv = dicomqr.make_server(ae_title="DICOMQR", handlers=app.handlers(**handler_options),
                              timeouts=TIMEOUTS)
    await srv.start("127.0.0.1", 0)
    try:
        yield srv
    finally:
        await srv.close(timeout=2)


async def _dcmtk(tool: str, port: int, *args: str, timeout: float = 30) -> Completed:
    return await run([dcmtk(tool), "-v", *DCMTK_SCU_TIMEOUTS, "-aec", "DICOMQR", *args,
                      "127.0.0.1", str(port)], timeout=timeout, env=dcmtk_env())


def _keys(**keys: str) -> list[str]:
    out = []
    for k, v in keys.items():
        out += ["-k", f"{k}={v}"]
    return out


async def _findscu(port: int, out: Path, model: str, *args: str, **keys: str
                   ) -> tuple[Completed, list[Dataset]]:
    """findscu extracting every response to ``out`` (-X); the responses in order."""
    out.mkdir()
    res = await _dcmtk("findscu", port, model, "-X", "-od", str(out), *args, *_keys(**keys))
    assert res.returncode == 0, str(res)
    return res, [read(p) for p in sorted(out.glob("rsp*.dcm"))]


def _log(res: Completed) -> str:
    return res.stderr + res.stdout


async def test_findscu_study_root_levels(tmp_path: Path) -> None:
    """findscu -S at STUDY, SERIES and IMAGE level: each response as the
    handler made it, the final Success, the request as the handler saw it."""
    app = QRApp()
    async with serve(app) as srv:
        res, studies = await _findscu(
            srv.port, tmp_path / "study", "-S", QueryRetrieveLevel="STUDY",
            StudyInstanceUID="", PatientName="", PatientID="", StudyDate="",
            AccessionNumber="", ModalitiesInStudy="", NumberOfStudyRelatedInstances="")
        assert final_status_lines(_log(res), "Find") == ["Success"], str(res)
        assert [str(d.StudyInstanceUID) for d in studies] == [study_uid(n) for n in (1, 2, 3)]
        assert [str(d.PatientName) for d in studies] == ["DOE^JOHN", "DOE^JOHN", "SMITH^JANE"]
        assert [str(d.AccessionNumber) for d in studies] == ["ACC001", "ACC002", "ACC003"]
        assert [d.ModalitiesInStudy for d in studies] == ["CT", "MR", "CT"]
        assert [int(d.NumberOfStudyRelatedInstances) for d in studies] == [3, 1, 2]
        assert {d.QueryRetrieveLevel for d in studies} == {"STUDY"}
        assert {d.RetrieveAETitle for d in studies} == {"DICOMQR"}

        # wildcard and date range matching (done by the handler, seen by DCMTK)
        res, found = await _findscu(srv.port, tmp_path / "wild", "-S",
                                    QueryRetrieveLevel="STUDY", StudyInstanceUID="",
                                    PatientName="DOE*", StudyDate="20240201-")
        assert [str(d.StudyInstanceUID) for d in found] == [study_uid(2)]

        res, series = await _findscu(
            srv.port, tmp_path / "series", "-S", QueryRetrieveLevel="SERIES",
            StudyInstanceUID=study_uid(1), SeriesInstanceUID="", Modality="", SeriesNumber="",
            NumberOfSeriesRelatedInstances="")
        assert [(str(d.SeriesInstanceUID), d.Modality, int(d.SeriesNumber),
                 int(d.NumberOfSeriesRelatedInstances)) for d in series] == [
            (series_uid(1, 1), "CT", 1, 2), (series_uid(1, 2), "CT", 2, 1)]

        res, imgs = await _findscu(
            srv.port, tmp_path / "image", "-S", QueryRetrieveLevel="IMAGE",
            StudyInstanceUID=study_uid(1), SeriesInstanceUID=series_uid(1, 1),
            SOPInstanceUID="", SOPClassUID="", InstanceNumber="")
        def row(d: Dataset) -> tuple[str, str, int]:
            return str(d.SOPInstanceUID), str(d.SOPClassUID), int(d.InstanceNumber)

        assert [row(d) for d in imgs] == [
            row(d) for d in images(app.archive, SeriesInstanceUID=series_uid(1, 1))]

    # what the handler was given
    assert [r.level for r in app.requests] == ["STUDY", "STUDY", "SERIES", "IMAGE"]
    assert {r.sop_class.uid for r in app.requests} == {uids.STUDY_ROOT_QR_FIND}
    assert {r.calling_ae for r in app.requests} == {"FINDSCU"}
    assert {r.called_ae for r in app.requests} == {"DICOMQR"}
    assert str(app.requests[1].identifier.PatientName) == "DOE*"


async def test_findscu_patient_root_and_refusal(tmp_path: Path) -> None:
    """findscu -P at PATIENT and STUDY level; an identifier without a
    Query/Retrieve Level is refused with 0xA900 and DCMTK says so."""
    app = QRApp()
    async with serve(app) as srv:
        res, patients = await _findscu(
            srv.port, tmp_path / "patient", "-P", QueryRetrieveLevel="PATIENT",
            PatientID="", PatientName="", PatientBirthDate="", NumberOfPatientRelatedStudies="")
        assert final_status_lines(_log(res), "Find") == ["Success"], str(res)
        assert [(d.PatientID, str(d.PatientName), d.PatientBirthDate,
                 int(d.NumberOfPatientRelatedStudies)) for d in patients] == [
            ("PID001", "DOE^JOHN", "19700101", 2), ("PID002", "SMITH^JANE", "19800202", 1)]

        res, studies = await _findscu(
            srv.port, tmp_path / "study", "-P", QueryRetrieveLevel="STUDY", PatientID="PID001",
            StudyInstanceUID="", StudyDescription="")
        assert [(str(d.StudyInstanceUID), d.StudyDescription) for d in studies] == [
            (study_uid(1), "CT CHEST"), (study_uid(2), "MR HEAD")]

        # a STUDY query of Patient Root without the Patient ID above it
        res, none = await _findscu(srv.port, tmp_path / "bad", "-P",
                                   QueryRetrieveLevel="STUDY", StudyInstanceUID="")
        assert none == []
        assert final_status_lines(_log(res), "Find") == [
            "Error: DataSetDoesNotMatchSOPClass"], str(res)

        # findscu -O, Patient/Study Only (retired): served as well
        res, only = await _findscu(srv.port, tmp_path / "psonly", "-O",
                                   QueryRetrieveLevel="PATIENT", PatientID="PID002")
        assert [d.PatientID for d in only] == ["PID002"]
    assert [r.sop_class.uid for r in app.requests] == [
        uids.PATIENT_ROOT_QR_FIND, uids.PATIENT_ROOT_QR_FIND, uids.PATIENT_STUDY_ONLY_QR_FIND]


async def test_findscu_utf8(tmp_path: Path) -> None:
    """findscu with Specific Character Set ISO_IR 192 and a wild card beyond
    ASCII: dicomqr decodes the key as UTF-8 (the handler matches it) and the
    response, in UTF-8 with its Specific Character Set, reads back in DCMTK."""
    app = QRApp()
    rename_utf8(app.archive, "PID002")
    async with serve(app) as srv:
        res, found = await _findscu(srv.port, tmp_path / "utf8", "-S",
                                    SpecificCharacterSet=UTF8, QueryRetrieveLevel="STUDY",
                                    PatientName="Mü*", StudyInstanceUID="")
    assert final_status_lines(_log(res), "Find") == ["Success"], str(res)
    assert [(str(d.StudyInstanceUID), d.SpecificCharacterSet, str(d.PatientName))
            for d in found] == [(study_uid(3), UTF8, UTF8_NAME)]
    assert str(app.requests[0].identifier.PatientName) == "Mü*"
    # the bytes DCMTK stored are UTF-8
    assert UTF8_NAME.encode() in (tmp_path / "utf8" / "rsp0001.dcm").read_bytes()


def _dcmtk_files(folder: Path) -> dict[str, Dataset]:
    return {str(ds.SOPInstanceUID): ds for ds in (read(p) for p in folder.iterdir())}


def _same_instances(received: dict[str, Dataset], expected: list[Dataset]) -> None:
    """What DCMTK stored is what the handler gave, element by element."""
    assert sorted(received) == sorted(str(d.SOPInstanceUID) for d in expected)
    for uid, original in by_uid(expected).items():
        diff = dataset_differences(original, received[uid], drop_trailing_padding=True)
        assert not diff, (uid, diff)


async def test_getscu_study_and_image(tmp_path: Path) -> None:
    """getscu -S of a study and getscu -P of one image: the instances arrive
    on the association, as the handler gave them."""
    app = QRApp()
    async with serve(app) as srv:
        out = tmp_path / "study"
        out.mkdir()
        res = await _dcmtk("getscu", srv.port, "-S", "-od", str(out),
                           *_keys(QueryRetrieveLevel="STUDY", StudyInstanceUID=study_uid(1)))
        assert res.returncode == 0, str(res)
        log = _log(res)
        assert "Received C-GET Response (Success)" in log, str(res)
        assert re.search(r"Number of Completed Suboperations\s*:\s*3", log), str(res)
        assert re.search(r"Number of Failed Suboperations\s*:\s*0", log), str(res)
        assert log.count("Received C-GET Response (Pending)") == 3
        _same_instances(_dcmtk_files(out), images(app.archive, StudyInstanceUID=study_uid(1)))

        out = tmp_path / "image"
        out.mkdir()
        wanted = images(app.archive, StudyInstanceUID=study_uid(3))[1]
        res = await _dcmtk("getscu", srv.port, "-P", "-od", str(out), *_keys(
            QueryRetrieveLevel="IMAGE", PatientID="PID002", StudyInstanceUID=study_uid(3),
            SeriesInstanceUID=str(wanted.SeriesInstanceUID),
            SOPInstanceUID=str(wanted.SOPInstanceUID)))
        assert "Received C-GET Response (Success)" in _log(res), str(res)
        _same_instances(_dcmtk_files(out), [wanted])
    assert [(r.sop_class.uid, r.level, r.calling_ae) for r in app.requests] == [
        (uids.STUDY_ROOT_QR_GET, "STUDY", "GETSCU"), (uids.PATIENT_ROOT_QR_GET, "IMAGE", "GETSCU")]


async def test_movescu_to_itself_and_to_storescp(tmp_path: Path) -> None:
    """movescu -S with its own storage SCP (--port), then to DCMTK's storescp;
    an unknown destination is refused with 0xA801, an unreachable one ends
    0xA702."""
    app = QRApp()
    own_port = free_port()
    async with start_storescp(tmp_path, bit_preserving=False) as storescp, serve(app) as srv:
        app.destinations = {"MOVESCU": ("127.0.0.1", own_port),
                            "STORESCP": ("127.0.0.1", storescp.port),
                            "DEAD": ("127.0.0.1", free_port())}
        out = tmp_path / "movescu"
        out.mkdir()
        res = await _dcmtk("movescu", srv.port, "-S", "-aem", "MOVESCU", "--port",
                           str(own_port), "-od", str(out),
                           *_keys(QueryRetrieveLevel="STUDY", StudyInstanceUID=study_uid(1)))
        assert res.returncode == 0, str(res)
        assert final_status_lines(_log(res), "Move") == ["Success"], str(res)
        assert len(re.findall(r"Received Move Response \d+ \(Pending\)", _log(res))) == 3
        _same_instances(_dcmtk_files(out), images(app.archive, StudyInstanceUID=study_uid(1)))

        res = await _dcmtk("movescu", srv.port, "-S", "-aem", "STORESCP",
                           *_keys(QueryRetrieveLevel="SERIES", StudyInstanceUID=study_uid(3),
                                  SeriesInstanceUID=series_uid(3, 1)))
        assert final_status_lines(_log(res), "Move") == ["Success"], str(res)
        _same_instances({str(read(p).SOPInstanceUID): read(p) for p in storescp.files()},
                        images(app.archive, StudyInstanceUID=study_uid(3)))

        res = await _dcmtk("movescu", srv.port, "-S", "-aem", "NOWHERE",
                           *_keys(QueryRetrieveLevel="STUDY", StudyInstanceUID=study_uid(2)))
        assert final_status_lines(_log(res), "Move") == [
            "Refused: MoveDestinationUnknown"], str(res)

        # a known destination nobody listens at: every sub-operation failed
        res = await _dcmtk("movescu", srv.port, "-S", "-aem", "DEAD",
                           *_keys(QueryRetrieveLevel="STUDY", StudyInstanceUID=study_uid(2)))
        assert final_status_lines(_log(res), "Move") == [
            "Refused: OutOfResourcesSubOperations"], str(res)
    assert [r.move_destination for r in app.requests] == [
        "MOVESCU", "STORESCP", "NOWHERE", "DEAD"]


@pytest.mark.parametrize("async_handlers", [False, True], ids=["generator", "async-generator"])
async def test_findscu_cancel_then_next_query(tmp_path: Path, async_handlers: bool) -> None:
    """findscu --cancel 2 on a slow C-FIND: 0xFE00 after the second match; the
    same association (--repeat 2) then gets the whole answer.  The handler
    is a plain generator (run in a thread) or an async generator."""
    app = QRApp(delay=0.05, repeat=10, async_handlers=async_handlers)  # 30 matches, 50 ms apart
    async with serve(app) as srv:
        res = await _dcmtk("findscu", srv.port, "-S", "--cancel", "2", "--repeat", "2",
                           *_keys(QueryRetrieveLevel="STUDY", StudyInstanceUID=""))
        assert res.returncode == 0, str(res)
        log = _log(res)
        assert final_status_lines(log, "Find") == [
            "Cancel: MatchingTerminatedDueToCancelRequest", "Success"], str(res)
        assert "Sending Cancel Request (MsgID 1" in log
        # findscu numbers responses across the two queries: 2, then 30 more
        assert len(re.findall(r"Find Response: \d+ \(Pending\)", log)) == 32, str(res)
        assert log.count("Requesting Association") == 1
    first, second = (r.message_id for r in app.requests)
    assert app.stopped == [first]  # the handler was stopped, not run to its end
    assert app.yielded[first] < 30 and app.yielded[second] == 30


async def test_movescu_cancel(tmp_path: Path) -> None:
    """movescu --cancel 1: the sub-operations stop and the final response is
    0xFE00; the server then serves the next C-MOVE in full."""
    app = QRApp(repeat=20)  # each of the 3 instances 20 times: 60 sub-operations
    own_port = free_port()
    async with serve(app) as srv:
        app.destinations = {"MOVESCU": ("127.0.0.1", own_port)}
        args = ("-S", "-aem", "MOVESCU", "--port", str(own_port), "--ignore",
                *_keys(QueryRetrieveLevel="STUDY", StudyInstanceUID=study_uid(1)))
        res = await _dcmtk("movescu", srv.port, "--cancel", "1", *args)
        assert res.returncode == 0, str(res)
        log = _log(res)
        assert final_status_lines(log, "Move") == [
            "Cancel: SubOperationsTerminatedDueToCancelIndication"], str(res)
        pending = log.count("(Pending)")
        assert 1 <= pending < 60, str(res)

        res = await _dcmtk("movescu", srv.port, *args)
        assert final_status_lines(_log(res), "Move") == ["Success"], str(res)
        assert _log(res).count("(Pending)") == 60


# ====================================================================== B
@dataclass
class DcmQRSCP:
    port: int
    ae_title: str
    dest_ae: str
    dest_dir: Path
    dest: dicomqr.Server
    log: Any


#: dcmqrscp's storage area: AE title, folder, access, quota, peers.
_CONFIG = """\
NetworkTCPPort  = {port}
MaxPDUSize      = 16384
MaxAssociations = 16

HostTable BEGIN
dicomqrdest     = ({dest_ae}, 127.0.0.1, {dest_port})
HostTable END

VendorTable BEGIN
VendorTable END

AETable BEGIN
DCMQR   {area}   RW (100, 1024mb)   ANY
AETable END
"""


@contextlib.asynccontextmanager
async def start_dcmqrscp(tmp_path: Path, on_stored: Any = None) -> AsyncIterator[DcmQRSCP]:
    """dcmqrscp with one storage area filled by storescu with
    the archive's images, and dicomqr's storage SCP as move destination."""
    area = tmp_path / "dcmqr-area"
    area.mkdir()
    dest_dir = tmp_path / "dest"
    dest = dicomqr.storage_scp(dest_dir, ae_title="DICOMQRDEST", on_stored=on_stored,
                               timeouts=TIMEOUTS)
    await dest.start("127.0.0.1", 0)
    files = save(images(make_archive()), tmp_path / "files")
    try:
        for attempt in range(3):  # the free port may be taken before dcmqrscp binds it
            port = free_port()
            cfg = tmp_path / "dcmqrscp.cfg"
            cfg.write_text(_CONFIG.format(port=port, dest_ae="DICOMQRDEST", dest_port=dest.port,
                                          area=area))
            # default fork mode: DCMTK 3.6.7's --single-process segfaults as
            # soon as its first association is released (even a C-ECHO)
            argv = (dcmtk("dcmqrscp"), "-v", "-c", str(cfg), str(port))
            async with background(argv, tmp_path / f"dcmqrscp{attempt}.log",
                                  env=dcmtk_env()) as proc:
                try:
                    await proc.wait_listening(port)
                except AssertionError:
                    if proc.returncode is None or attempt == 2:
                        raise
                    continue
                res = await run([dcmtk("storescu"), *DCMTK_SCU_TIMEOUTS, "-aet", "FILLER",
                                 "-aec", "DCMQR", "127.0.0.1", str(port), *map(str, files)],
                                timeout=30, env=dcmtk_env())
                assert res.returncode == 0 and "Store Failed" not in res.stderr, str(res)
                yield DcmQRSCP(port, "DCMQR", "DICOMQRDEST", dest_dir, dest, proc)
                return
    finally:
        await dest.close(timeout=2)


async def _connect(scp: DcmQRSCP, proposals: list[dicomqr.Proposal], **kwargs: Any
                   ) -> dicomqr.Connection:
    return await dicomqr.connect("127.0.0.1", scp.port, proposals, calling_ae="DICOMQRSCU",
                                 called_ae=scp.ae_title, timeouts=TIMEOUTS, **kwargs)


async def _find(conn: dicomqr.Connection, identifier: Dataset, sop_class: str
                ) -> tuple[list[Dataset], dicomqr.QRResponse]:
    responses = await dicomqr.find(conn, identifier, sop_class=sop_class).responses()
    *pending, final = responses
    assert all(r.status == PENDING for r in pending), [str(r) for r in pending]
    assert final.final
    return [r.identifier for r in pending], final


async def test_find_against_dcmqrscp(tmp_path: Path) -> None:
    """dicomqr find, Study Root and Patient Root, every level, one association."""
    async with start_dcmqrscp(tmp_path) as scp:
        conn = await _connect(scp, dicomqr.qr_proposals(
            [uids.STUDY_ROOT_QR_FIND, uids.PATIENT_ROOT_QR_FIND]))
        try:
            found, final = await _find(conn, query(
                QueryRetrieveLevel="STUDY", StudyInstanceUID="", PatientName="", PatientID="",
                StudyDate="", AccessionNumber=""), uids.STUDY_ROOT_QR_FIND)
            assert final.status == SUCCESS
            assert sorted((str(d.StudyInstanceUID), str(d.PatientName), d.AccessionNumber)
                          for d in found) == [
                (study_uid(1), "DOE^JOHN", "ACC001"), (study_uid(2), "DOE^JOHN", "ACC002"),
                (study_uid(3), "SMITH^JANE", "ACC003")]
            assert {d.QueryRetrieveLevel for d in found} == {"STUDY"}

            found, final = await _find(conn, query(
                QueryRetrieveLevel="STUDY", StudyInstanceUID="", PatientName="DOE*"),
                uids.STUDY_ROOT_QR_FIND)
            assert sorted(str(d.StudyInstanceUID) for d in found) == [study_uid(1), study_uid(2)]

            found, final = await _find(conn, query(
                QueryRetrieveLevel="SERIES", StudyInstanceUID=study_uid(1), SeriesInstanceUID="",
                Modality=""), uids.STUDY_ROOT_QR_FIND)
            assert sorted((str(d.SeriesInstanceUID), d.Modality) for d in found) == [
                (series_uid(1, 1), "CT"), (series_uid(1, 2), "CT")]

            found, final = await _find(conn, query(
                QueryRetrieveLevel="IMAGE", StudyInstanceUID=study_uid(1),
                SeriesInstanceUID=series_uid(1, 1), SOPInstanceUID="", InstanceNumber=""),
                uids.STUDY_ROOT_QR_FIND)
            assert sorted(str(d.SOPInstanceUID) for d in found) == sorted(
                str(d.SOPInstanceUID) for d in images(make_archive(),
                                                       SeriesInstanceUID=series_uid(1, 1)))

            found, final = await _find(conn, query(QueryRetrieveLevel="PATIENT", PatientID="",
                                                PatientName=""), uids.PATIENT_ROOT_QR_FIND)
            assert final.status == SUCCESS
            assert sorted((d.PatientID, str(d.PatientName)) for d in found) == [
                ("PID001", "DOE^JOHN"), ("PID002", "SMITH^JANE")]

            found, final = await _find(conn, query(
                QueryRetrieveLevel="STUDY", PatientID="PID002", StudyInstanceUID="",
                StudyDescription=""), uids.PATIENT_ROOT_QR_FIND)
            assert [(str(d.StudyInstanceUID), d.StudyDescription) for d in found] == [
                (study_uid(3), "CT ABDOMEN")]
        finally:
            await conn.release()


async def test_find_utf8_against_dcmqrscp(tmp_path: Path) -> None:
    """A UTF-8 patient stored in dcmqrscp: dicomqr's find with Specific
    Character Set ISO_IR 192 matches "Mü*" and decodes the UTF-8 answer."""
    archive = make_archive()
    patient = images(archive, PatientID="PID002")
    rename_utf8(patient, "PID002")
    for ds in patient:  # another patient in dcmqrscp's index: new UIDs
        ds.PatientID = "PID003"
        ds.StudyInstanceUID = study_uid(9)
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = (
            str(ds.SOPInstanceUID).replace(f"{study_uid(3)}.", f"{study_uid(9)}."))
    files = save(patient, tmp_path / "utf8")
    async with start_dcmqrscp(tmp_path) as scp:
        res = await run([dcmtk("storescu"), *DCMTK_SCU_TIMEOUTS, "-aec", "DCMQR", "127.0.0.1",
                         str(scp.port), *map(str, files)], timeout=30, env=dcmtk_env())
        assert res.returncode == 0, str(res)
        conn = await _connect(scp, dicomqr.qr_proposals([uids.STUDY_ROOT_QR_FIND]))
        try:
            found, final = await _find(conn, query(
                SpecificCharacterSet=UTF8, QueryRetrieveLevel="STUDY", PatientName="Mü*",
                StudyInstanceUID="", PatientID=""), uids.STUDY_ROOT_QR_FIND)
        finally:
            await conn.release()
    assert final.status == SUCCESS
    assert [(str(d.StudyInstanceUID), d.PatientID, str(d.PatientName)) for d in found] == [
        (study_uid(9), "PID003", UTF8_NAME)]
    assert found[0].SpecificCharacterSet == UTF8


async def test_get_from_dcmqrscp(tmp_path: Path) -> None:
    """dicomqr get of a study (Study Root) and a series (Patient Root) into a
    folder: the files are the instances storescu gave dcmqrscp."""
    archive = make_archive()
    async with start_dcmqrscp(tmp_path) as scp:
        props, roles = dicomqr.get_proposals(uids.STUDY_ROOT_QR_GET, [CT_IMAGE, MR_IMAGE])
        props += dicomqr.qr_proposals([uids.PATIENT_ROOT_QR_GET])
        conn = await _connect(scp, props, roles=roles)
        out = tmp_path / "got"
        try:
            items = await dicomqr.get(conn, query(QueryRetrieveLevel="STUDY",
                                               StudyInstanceUID=study_uid(1)),
                                      folder=out).responses()
            stored = [i for i in items if isinstance(i, dicomqr.StoredInstance)]
            responses = [i for i in items if isinstance(i, dicomqr.QRResponse)]
            final = responses[-1]
            assert final.status == SUCCESS, str(final)
            assert (final.completed, final.failed, final.warning) == (3, 0, 0)
            assert [r.remaining for r in responses[:-1]] == [2, 1, 0]
            assert {s.calling_ae for s in stored} == {"DCMQR"}
            _same_instances({s.sop_instance_uid: read(Path(s.path)) for s in stored},
                            images(archive, StudyInstanceUID=study_uid(1)))

            items = await dicomqr.get(conn, query(
                QueryRetrieveLevel="SERIES", PatientID="PID001", StudyInstanceUID=study_uid(2),
                SeriesInstanceUID=series_uid(2, 1)), sop_class=uids.PATIENT_ROOT_QR_GET,
                folder=out).responses()
            assert items[-1].status == SUCCESS
            mr = [i for i in items if isinstance(i, dicomqr.StoredInstance)]
            assert [s.sop_class_uid for s in mr] == ["1.2.840.10008.5.1.4.1.1.4"]
        finally:
            await conn.release()


async def test_get_from_dcmqrscp_byte_order(tmp_path: Path) -> None:
    """The reference for test_qr_pynetdicom.py::test_pynetdicom_get_converts_byte_order:
    dicomqr's C-GET SCU takes the storage contexts in one byte order only and
    dcmqrscp converts (a little endian CT to Explicit VR Big Endian, a big
    endian MR to Explicit VR Little Endian); the pixel values that dicomqr
    stores are the originals'."""
    big = "1.2.840.10008.1.2.2"
    little = "1.2.840.10008.1.2.1"
    ct = read(Path(pydicom.data.get_testdata_file("CT_small.dcm")))
    mr = read(Path(pydicom.data.get_testdata_file("MR_small_bigendian.dcm")))
    async with start_dcmqrscp(tmp_path) as scp:
        res = await run([dcmtk("storescu"), *DCMTK_SCU_TIMEOUTS, "-xb", "-aec", "DCMQR",
                         "127.0.0.1", str(scp.port),
                         pydicom.data.get_testdata_file("MR_small_bigendian.dcm")],
                        timeout=30, env=dcmtk_env())
        assert res.returncode == 0, str(res)
        res = await run([dcmtk("storescu"), *DCMTK_SCU_TIMEOUTS, "-aec", "DCMQR",
                         "127.0.0.1", str(scp.port),
                         pydicom.data.get_testdata_file("CT_small.dcm")],
                        timeout=30, env=dcmtk_env())
        assert res.returncode == 0, str(res)
        for original, syntax in ((ct, big), (mr, little)):
            props, roles = dicomqr.get_proposals(uids.STUDY_ROOT_QR_GET, [original.SOPClassUID],
                                                 transfer_syntaxes=[syntax])
            conn = await _connect(scp, props, roles=roles)
            try:
                items = await dicomqr.get(conn, query(
                    QueryRetrieveLevel="IMAGE", StudyInstanceUID=original.StudyInstanceUID,
                    SeriesInstanceUID=original.SeriesInstanceUID,
                    SOPInstanceUID=original.SOPInstanceUID), folder=tmp_path / "got").responses()
            finally:
                await conn.release()
            assert items[-1].status == SUCCESS, str(items[-1])
            (stored,) = [i for i in items if isinstance(i, dicomqr.StoredInstance)]
            assert stored.transfer_syntax_uid == syntax
            got = read(Path(stored.path))
            assert pixel_words(got, syntax) == pixel_words(
                original, str(original.file_meta.TransferSyntaxUID))
            # all else decodes the same; Pixel Data's bytes are swapped, as they must be
            diff = dataset_differences(original, got, drop_trailing_padding=True)
            assert [d[:11] for d in diff] == ["(7FE0,0010)"], diff


async def test_move_from_dcmqrscp(tmp_path: Path) -> None:
    """dicomqr move to dicomqr's storage SCP (in dcmqrscp's HostTable): the
    instances arrive there; an unknown destination gets 0xA801."""
    archive = make_archive()
    received: list[dicomqr.StoredInstance] = []

    async def on_stored(stored: dicomqr.StoredInstance) -> None:
        received.append(stored)

    async with start_dcmqrscp(tmp_path, on_stored) as scp:
        conn = await _connect(scp, dicomqr.qr_proposals([uids.STUDY_ROOT_QR_MOVE]))
        try:
            responses = await dicomqr.move(conn, query(
                QueryRetrieveLevel="STUDY", StudyInstanceUID=[study_uid(1), study_uid(3)]),
                scp.dest_ae).responses()
            final = responses[-1]
            assert final.status == SUCCESS, str(final)
            assert (final.completed, final.failed) == (5, 0)
            assert len(responses) == 6
            expected = images(archive, StudyInstanceUID=study_uid(1)) + images(
                archive, StudyInstanceUID=study_uid(3))
            _same_instances({s.sop_instance_uid: read(Path(s.path)) for s in received}, expected)
            # DCMTK's sub-association calls us with its own AE title
            assert {s.calling_ae for s in received} == {"DCMQR"}

            responses = await dicomqr.move(conn, query(QueryRetrieveLevel="STUDY",
                                                    StudyInstanceUID=study_uid(2)),
                                           "UNKNOWNAE").responses()
            assert [r.status for r in responses] == [0xA801]
        finally:
            await conn.release()


async def test_cancel_against_dcmqrscp(tmp_path: Path) -> None:
    """op.cancel() after the first response.  C-MOVE to a slow destination and
    C-GET into a slow sink (0.3 s per instance): dcmqrscp stops and answers
    0xFE00 with the counts so far.  C-FIND: dcmqrscp sends its three matches
    at once and logs "late C-CANCEL-RQ, ignoring", so the final status is
    Success (0xFE00 if the cancel ever won the race); the association stays
    usable."""
    received: list[str] = []

    async def slow(stored: dicomqr.StoredInstance) -> None:
        received.append(stored.sop_instance_uid)
        await asyncio.sleep(0.3)

    async def cancel_after_first(op: dicomqr.QROperation) -> list[dicomqr.QRResponse]:
        seen = []
        async for rsp in op:
            if isinstance(rsp, dicomqr.QRResponse):
                seen.append(rsp)
                await op.cancel()
        return seen

    study1 = query(QueryRetrieveLevel="STUDY", StudyInstanceUID=study_uid(1))
    async with start_dcmqrscp(tmp_path, slow) as scp:
        conn = await _connect(scp, dicomqr.qr_proposals(
            [uids.STUDY_ROOT_QR_MOVE, uids.STUDY_ROOT_QR_FIND]))
        try:
            seen = await cancel_after_first(dicomqr.move(conn, study1, scp.dest_ae))
            assert [r.status for r in seen[:-1]] == [PENDING] * (len(seen) - 1)
            final = seen[-1]
            assert final.status == CANCEL, [str(r) for r in seen]
            assert final.completed is not None and final.completed < 3
            assert final.failed == 0 and final.failed_uids == ()
            assert len(received) < 3

            seen = await cancel_after_first(dicomqr.find(conn, query(
                QueryRetrieveLevel="IMAGE", StudyInstanceUID=study_uid(1),
                SeriesInstanceUID=series_uid(1, 1), SOPInstanceUID="")))
            statuses = [r.status for r in seen]
            assert statuses[-1] in (CANCEL, SUCCESS), statuses
            assert set(statuses[:-1]) == {PENDING}
            if statuses[-1] == SUCCESS:
                assert await eventually(lambda: "late C-CANCEL-RQ, ignoring" in scp.log.log)

            found, final = await _find(conn, query(QueryRetrieveLevel="STUDY", StudyInstanceUID=""),
                                       uids.STUDY_ROOT_QR_FIND)
            assert final.status == SUCCESS and len(found) == 3
        finally:
            await conn.release()

        props, roles = dicomqr.get_proposals(uids.STUDY_ROOT_QR_GET, [CT_IMAGE])
        conn = await _connect(scp, props, roles=roles)
        got: list[str] = []

        async def slow_sink(stored: dicomqr.StoredInstance) -> None:
            got.append(stored.sop_instance_uid)
            await asyncio.sleep(0.3)

        try:
            seen = await cancel_after_first(dicomqr.get(
                conn, study1, sink=dicomqr.FileArchive(tmp_path / "got", slow_sink)))
            final = seen[-1]
            assert final.status == CANCEL, [str(r) for r in seen]
            assert final.completed is not None and 1 <= final.completed < 3
            assert len(got) == final.completed
        finally:
            await conn.release()


async def test_two_gets_into_two_folders(tmp_path: Path) -> None:
    """Two C-GETs on one association into two folders: each study lands in
    the folder its get() named."""
    async with start_dcmqrscp(tmp_path) as scp:
        props, roles = dicomqr.get_proposals(uids.STUDY_ROOT_QR_GET, [CT_IMAGE, MR_IMAGE])
        conn = await _connect(scp, props, roles=roles)
        try:
            for n in (1, 2):
                items = await dicomqr.get(conn, query(QueryRetrieveLevel="STUDY",
                                                   StudyInstanceUID=study_uid(n)),
                                          folder=tmp_path / f"study{n}").responses()
                assert items[-1].status == SUCCESS
        finally:
            await conn.release()
    for n in (1, 2):
        folder = tmp_path / f"study{n}"
        stored = {read(p).StudyInstanceUID for p in folder.rglob("*.dcm")}
        assert stored == {study_uid(n)}, (folder, stored)
