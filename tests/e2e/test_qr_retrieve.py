"""C-GET and C-MOVE specifics: storage roles and contexts, what a handler
may yield as an instance, counts (zero, more or fewer than announced, more
than 65,535), and the C-MOVE sub-association."""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom import Dataset
from pydicom.data import get_testdata_file

from dicomqr import echo, uids
from dicomqr.services import qr_scu
from dicomqr.services.handlers import QRHandlers, QRRequest
from dicomqr.services.qr_scu import RetrieveSetupError
from dicomqr.services.store import FileArchive
from dicomqr.services.store_scu import read_source
from dicomqr.status import Category
from dicomqr.transport.client import Proposal, connect
from dicomqr.transport.server import AssociationRules

from .qr_helpers import (
    ASYNC_WINDOW,
    DEST_AE,
    MR,
    ROOT,
    SCP_AE,
    SECONDARY_CAPTURE,
    STUDY,
    TIMEOUTS,
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

Q = ds(QueryRetrieveLevel="STUDY", StudyInstanceUID=STUDY)
CT = "1.2.840.10008.5.1.4.1.1.2"
CT_SMALL = str(get_testdata_file("CT_small.dcm"))


def handler_of(items: list[Any], count: int | None = None) -> Any:
    def get(request: QRRequest) -> Iterator[Any]:
        yield len(items) if count is None else count
        for item in items:
            yield 0xFF00, item
    return get


# -- C-GET: roles and storage contexts ---------------------------------------------------

async def test_get_without_storage_scp_role_raises(tmp_path: Path) -> None:
    called: list[QRRequest] = []

    def get(request: QRRequest) -> Iterator[Any]:
        called.append(request)
        yield 0

    # A server that also stores (so it accepts storage contexts with the
    # requestor as their SCU, the default role).
    async with qr_server(QRHandlers(get=get), archive=FileArchive(tmp_path / "archive")) as srv:
        # No storage contexts at all.
        conn = await associate(srv.port, [uids.STUDY_ROOT_QR_GET])
        with pytest.raises(RetrieveSetupError, match="no storage context"):
            qr_scu.get(conn, Q, folder=tmp_path)
        await conn.release()
        # Storage contexts, but no SCP/SCU role selection: we are their SCU only.
        conn = await connect("127.0.0.1", srv.port, [
            Proposal(uids.STUDY_ROOT_QR_GET, (uids.EXPLICIT_VR_LITTLE_ENDIAN,)),
            Proposal(SECONDARY_CAPTURE, (uids.EXPLICIT_VR_LITTLE_ENDIAN,)),
            Proposal(uids.VERIFICATION_SOP_CLASS, (uids.EXPLICIT_VR_LITTLE_ENDIAN,))],
            called_ae=SCP_AE, timeouts=TIMEOUTS)
        storage = [c for c in conn.contexts.values() if c.abstract_syntax == SECONDARY_CAPTURE]
        assert storage and not storage[0].scp_role
        with pytest.raises(RetrieveSetupError, match="no storage context"):
            qr_scu.get(conn, Q, folder=tmp_path)
        # Nothing was sent: the association serves the next request.
        assert (await echo(conn)).status == 0x0000
        await conn.release()
    assert called == []
    assert dicom_files(tmp_path) == []


async def test_get_sop_class_not_accepted_raises(tmp_path: Path) -> None:
    async with qr_server(QRHandlers(get=handler_of([]))) as srv:
        conn = await associate_get(srv.port, uids.STUDY_ROOT_QR_GET)
        with pytest.raises(RetrieveSetupError, match="did not accept"):
            qr_scu.get(conn, Q, sop_class=uids.PATIENT_ROOT_QR_GET, folder=tmp_path)
        await conn.release()


@pytest.mark.parametrize(("classes", "code"), [
    ((SECONDARY_CAPTURE, CT, SECONDARY_CAPTURE), 0xB000),
    ((CT, CT), 0xA702),
])
async def test_get_instance_without_storage_context_fails(
        classes: tuple[str, ...], code: int, tmp_path: Path) -> None:
    items = [instance(i, sop_class) for i, sop_class in enumerate(classes)]
    async with qr_server(QRHandlers(get=handler_of(items))) as srv:
        conn = await associate_get(srv.port, uids.STUDY_ROOT_QR_GET, [SECONDARY_CAPTURE])
        out = await run(qr_scu.get(conn, Q, folder=tmp_path))
        await conn.release()
    final = out.final
    failed = tuple(uid_of(i) for i, c in enumerate(classes) if c == CT)
    assert final.status == code
    assert final.failed == len(failed) and final.failed_uids == failed
    assert final.completed == len(classes) - len(failed)
    assert len(dicom_files(tmp_path)) == final.completed
    assert {s.sop_class_uid for s in out.stored} <= {SECONDARY_CAPTURE}


# -- what a handler may yield as an instance ---------------------------------------------

async def test_get_instances_as_paths_sources_and_datasets(tmp_path: Path) -> None:
    palette = Path(pydicom.data.__file__).parent / "palettes" / "hotiron.dcm"
    items: list[Any] = [
        CT_SMALL,  # a path (str)
        read_source(palette),  # a StoreSource
        instance(7),  # a Dataset
        tmp_path / "no-such-file.dcm",  # a path that does not exist: failed
        None,  # nothing to send: failed
    ]
    folder = tmp_path / "got"
    async with qr_server(QRHandlers(get=handler_of(items))) as srv:
        conn = await associate_get(srv.port, uids.STUDY_ROOT_QR_GET,
                                   [CT, uids_color_palette(), SECONDARY_CAPTURE])
        out = await run(qr_scu.get(conn, Q, folder=folder))
        await conn.release()
    final = out.final
    assert final.status == 0xB000
    assert (final.completed, final.failed, final.warning) == (3, 2, 0)
    stored = {s.sop_class_uid: s for s in out.stored}
    assert set(stored) == {CT, uids_color_palette(), SECONDARY_CAPTURE}
    # Files sent from disk arrive byte for byte (after the Part 10 header).
    original = pydicom.dcmread(CT_SMALL)
    received = pydicom.dcmread(stored[CT].path)
    assert received.SOPInstanceUID == original.SOPInstanceUID
    assert received.PixelData == original.PixelData
    assert len(dicom_files(folder)) == 3


def uids_color_palette() -> str:
    return "1.2.840.10008.5.1.4.39.1"


@pytest.mark.parametrize("service", ["get", "move"])
async def test_zero_matches_is_success(service: str, tmp_path: Path) -> None:
    async def move(request: QRRequest) -> AsyncIterator[Any]:
        yield "127.0.0.1", dest.port
        yield 0

    handlers = QRHandlers(get=handler_of([]), move=move)
    async with destination(tmp_path / "dest") as dest, qr_server(handlers) as srv:
        if service == "get":
            conn = await associate_get(srv.port, uids.STUDY_ROOT_QR_GET)
            out = await run(qr_scu.get(conn, Q, folder=tmp_path / "got"))
        else:
            conn = await associate(srv.port, [uids.STUDY_ROOT_QR_MOVE])
            out = await run(qr_scu.move(conn, Q, DEST_AE))
        await conn.release()
        # No sub-association was opened for nothing.
        assert dest.total_associations == 0
    assert [r.status for r in out.responses] == [0x0000]
    assert (out.final.completed, out.final.failed, out.final.warning) == (0, 0, 0)
    assert out.final.raw is None


@pytest.mark.parametrize(("announced", "given"), [(2, 5), (6, 3)])
async def test_count_differs_from_what_is_given(announced: int, given: int,
                                                tmp_path: Path) -> None:
    """The handler's count is a promise it may break: every instance it
    gives is sent and counted, Remaining never goes negative, and what was
    announced but never given is reported failed (a warning, not a silent
    success)."""
    items = [instance(i) for i in range(given)]
    async with qr_server(QRHandlers(get=handler_of(items, announced))) as srv:
        conn = await associate_get(srv.port, uids.STUDY_ROOT_QR_GET)
        out = await run(qr_scu.get(conn, Q, folder=tmp_path))
        await conn.release()
    missing = max(announced - given, 0)
    assert out.final.status == (0xB000 if missing else 0x0000)
    assert out.final.completed == given
    assert out.final.failed == missing
    assert out.final.failed_uids == ()  # never given: no UID to name
    assert len(dicom_files(tmp_path)) == given
    assert [r.completed for r in out.pending] == list(range(1, given + 1))
    assert all(r.remaining is not None and r.remaining >= 0 for r in out.pending)
    assert out.pending[0].remaining == max(announced, 1) - 1


# -- C-MOVE sub-associations -------------------------------------------------------------

async def test_move_sub_association_gets_new_contexts_when_needed(tmp_path: Path) -> None:
    """Instances of a SOP class the sub-association was not opened for come
    later: it is replaced, and every instance arrives."""
    async def move(request: QRRequest) -> AsyncIterator[Any]:
        yield "127.0.0.1", dest.port
        yield 5
        for i in range(3):
            yield 0xFF00, instance(i)
        await asyncio.sleep(0.05)  # the first ones are on their way already
        yield 0xFF00, instance(3, MR)
        yield 0xFF00, instance(4)

    folder = tmp_path / "dest"
    async with destination(folder) as dest, qr_server(QRHandlers(move=move)) as srv:
        conn = await associate(srv.port, [uids.STUDY_ROOT_QR_MOVE])
        out = await run(qr_scu.move(conn, Q, DEST_AE))
        await conn.release()
        associations = dest.total_associations
        await no_connections(dest)  # every sub-association was released, none leaked
    assert out.final.status == 0x0000 and out.final.completed == 5
    files = dicom_files(folder)
    assert {str(pydicom.dcmread(f).SOPClassUID) for f in files} == {SECONDARY_CAPTURE, MR}
    assert len(files) == 5
    assert associations >= 2


async def no_connections(server: Any, timeout: float = 1) -> None:
    deadline = time.monotonic() + timeout
    while server.connections:
        assert time.monotonic() < deadline, f"{len(server.connections)} associations left open"
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("ae_option", [True, False])
async def test_move_destination_ae_title_option(ae_option: bool, tmp_path: Path) -> None:
    """``(host, port, {"ae_title": ...})`` sets the called AE title of the
    sub-association; without it the Move Destination is called."""
    async def move(request: QRRequest) -> AsyncIterator[Any]:
        yield ("127.0.0.1", dest.port, {"ae_title": "STORE-HERE"}) if ae_option \
            else ("127.0.0.1", dest.port)
        yield 1
        yield 0xFF00, instance(0)

    folder = tmp_path / "dest"
    rules = AssociationRules(called_ae_titles=frozenset({"STORE-HERE"}))
    async with destination(folder, rules=rules) as dest, \
            qr_server(QRHandlers(move=move)) as srv:
        conn = await associate(srv.port, [uids.STUDY_ROOT_QR_MOVE])
        out = await run(qr_scu.move(conn, Q, DEST_AE))
        await conn.release()
    if ae_option:
        assert out.final.status == 0x0000 and len(dicom_files(folder)) == 1
    else:
        assert out.final.status == 0xA702
        assert out.final.comment == "destination rejected the association"
        assert out.final.failed_uids == (uid_of(0),)


async def test_move_destination_unreachable(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nobody listens there once closed

    def move(request: QRRequest) -> Iterator[Any]:
        yield "127.0.0.1", port
        yield 2
        yield 0xFF00, instance(0)
        yield 0xFF00, instance(1)

    async with qr_server(QRHandlers(move=move)) as srv:
        conn = await associate(srv.port, [uids.STUDY_ROOT_QR_MOVE])
        out = await run(qr_scu.move(conn, Q, DEST_AE))
        await conn.release()
    final = out.final
    assert final.status == 0xA702
    assert final.comment is not None and final.comment.startswith("destination unreachable")
    assert (final.completed, final.failed) == (0, 2)
    assert final.failed_uids == (uid_of(0), uid_of(1))


# -- more than 65,535 sub-operations -------------------------------------------------------

BIG = 70_000


@pytest.mark.slow
async def test_get_more_than_65535_instances(tmp_path: Path,
                                             request: pytest.FixtureRequest) -> None:
    """70,000 tiny instances (one SOP class): all stored; the counts, being
    US elements, are capped at 65535 (retrieve.py's module docstring).

    About 25 s (CPU-bound: both ends in one process), so it runs on one
    event loop only, uvloop when it is installed.
    """
    loop_kind = request.node.callspec.params.get("event_loop_policy")
    if loop_kind == "asyncio" and importlib.util.find_spec("uvloop") is not None:
        pytest.skip("slow: runs once per session, on uvloop")
    folder = tmp_path / "got"
    try:
        await _get_big(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # 70,000 files: ~300 MB of blocks


async def _get_big(folder: Path) -> None:
    def get(request: QRRequest) -> Iterator[Any]:
        yield BIG
        for i in range(BIG):
            item = Dataset()
            item.SOPClassUID = SECONDARY_CAPTURE
            item.SOPInstanceUID = f"{ROOT}.9.{i}"
            yield 0xFF00, item

    seen_pending = 0
    first: Any = None
    capped: Any = None
    final: Any = None
    stored = 0
    start = time.monotonic()
    async with qr_server(QRHandlers(get=get)) as srv:
        # With an asynchronous operations window the C-STOREs are pipelined.
        conn = await associate_get(srv.port, uids.STUDY_ROOT_QR_GET, async_window=ASYNC_WINDOW)
        async for item in qr_scu.get(conn, Q, folder=folder):
            if not isinstance(item, qr_scu.QRResponse):
                stored += 1
            elif item.pending:
                seen_pending += 1
                first = first or item
                if item.completed == 65535 and capped is None:
                    capped = item
            else:
                final = item
        await conn.release()
    took = time.monotonic() - start
    assert final is not None and final.status == 0x0000, final
    assert stored == BIG
    assert seen_pending == BIG
    assert first.remaining == 65535  # 69,999 or so remaining: capped
    assert first.completed < 100
    assert capped is not None
    assert (final.completed, final.failed, final.warning) == (65535, 0, 0)
    assert len(dicom_files(folder)) == BIG
    print(f"C-GET of {BIG} instances: {took:.1f} s")


@pytest.mark.parametrize("code", [0x0124, 0xA701, 0xA900])
async def test_move_handler_refuses_before_naming_a_destination(code: int) -> None:
    """A move handler may refuse at once, with (status, None) in place of the
    destination: no sub-association is opened, the status arrives as is."""
    def move(request: QRRequest) -> Iterator[Any]:
        yield code, None

    async with qr_server(QRHandlers(move=move)) as srv:
        conn = await associate(srv.port, [uids.STUDY_ROOT_QR_MOVE])
        out = await run(qr_scu.move(conn, Q, "ANYWHERE"))
        await conn.release()
    assert [r.status for r in out.responses] == [code]
    assert out.final.category is Category.FAILURE
