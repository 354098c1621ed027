"""pynetdicom as SCU against dicomqr's SCP, and as SCP for dicomqr's SCU.

pynetdicom is synchronous and threaded: its SCU runs in a worker thread
(``asyncio.to_thread``) so that the in-process dicomqr server keeps
answering on the event loop; its SCP runs its own threads
(``start_server(..., block=False)``) and is shut down in a ``finally``.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydicom.data
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import (
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

pynetdicom = pytest.importorskip("pynetdicom")

from pynetdicom import (  # noqa: E402
    AE,
    ALL_TRANSFER_SYNTAXES,
    AllStoragePresentationContexts,
    build_role,
    evt,
)
from pynetdicom.pdu_primitives import (  # noqa: E402
    AsynchronousOperationsWindowNegotiation,
    UserIdentityNegotiation,
)
from pynetdicom.sop_class import (  # noqa: E402
    CTImageStorage,
    MRImageStorage,
    Verification,
)

import dicomqr  # noqa: E402
from dicomqr.services.part10 import read_file_meta  # noqa: E402
from dicomqr.services.store_scu import proposals_for, scan, store_file  # noqa: E402
from dicomqr.transport.config import IMPLEMENTATION_CLASS_UID  # noqa: E402
from tests.conftest import stored_files  # noqa: E402
from tests.interop.helpers import (  # noqa: E402
    dataset_differences,
    dataset_part,
    digest,
    eventually,
    free_port,
    has_odd_length_dataset,
    read,
)

pytestmark = pytest.mark.interop

TIMEOUT = 15
UNCOMPRESSED = (ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian)


def _testdata(name: str) -> Path:
    return Path(pydicom.data.get_testdata_file(name))


def _scu_ae(title: str) -> Any:
    ae = AE(ae_title=title)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = TIMEOUT
    ae.connection_timeout = TIMEOUT
    ae.add_requested_context(Verification)
    # one context per transfer syntax: each file goes in its own encoding
    for sop_class in (CTImageStorage, MRImageStorage):
        for ts in UNCOMPRESSED:
            ae.add_requested_context(sop_class, ts)
    return ae


@dataclass
class ScuResult:
    established: bool
    rejected: bool = False
    echo_status: int | None = None
    store_statuses: list[int] = field(default_factory=list)
    accepted: list[tuple[str, str]] = field(default_factory=list)
    acceptor_implementation: str = ""
    acceptor_max_pdu: int = 0
    scu_role: dict[str, bool] = field(default_factory=dict)
    async_operations: tuple[int, int] | None = None


def _run_scu(port: int, files: list[Path], ext_neg: list[Any] | None = None,
             calling: str = "PYNETDICOM") -> ScuResult:
    """The pynetdicom SCU session (in a worker thread)."""
    ae = _scu_ae(calling)
    assoc = ae.associate("127.0.0.1", port, ae_title="DICOMQR", ext_neg=ext_neg)
    if not assoc.is_established:
        return ScuResult(False, rejected=assoc.is_rejected)
    try:
        result = ScuResult(
            True,
            accepted=[(cx.abstract_syntax, cx.transfer_syntax[0])
                      for cx in assoc.accepted_contexts],
            acceptor_implementation=str(assoc.acceptor.implementation_class_uid),
            acceptor_max_pdu=assoc.acceptor.maximum_length,
            scu_role={cx.abstract_syntax: cx.as_scu for cx in assoc.accepted_contexts},
            async_operations=assoc.acceptor.asynchronous_operations,
        )
        result.echo_status = int(assoc.send_c_echo().Status)
        for path in files:
            rsp = assoc.send_c_store(path)
            result.store_statuses.append(int(rsp.Status) if "Status" in rsp else -1)
    finally:
        if assoc.is_established:
            assoc.release()
    return result


def _check_archive(archive_dir: Path, files: list[Path], calling: str) -> None:
    """Each file arrived in its own transfer syntax, its dataset as it was."""
    received = stored_files(archive_dir)
    assert len(received) == len(files)
    by_uid = {str(read(p, stop_before_pixels=True).SOPInstanceUID): p for p in files}
    assert len(by_uid) == len(files), "test files must have distinct SOP Instance UIDs"
    for path in received:
        meta = read_file_meta(path.read_bytes()[:65536])
        original = by_uid[meta.sop_instance_uid]
        assert meta.source_ae_title == calling
        assert meta.transfer_syntax_uid == dataset_part(original)[0], path
        assert not dataset_differences(read(original), read(path)), path


# ------------------------------------------------------------------ pynetdicom SCU
async def test_pynetdicom_scu_echo_and_store(
    server: dicomqr.Server, archive_dir: Path, big_ct_file: Path
) -> None:
    files = [_testdata(n) for n in ("CT_small.dcm", "MR_small.dcm")]
    files += [_testdata(f"dicomdirtests/77654033/CT2/{n}") for n in ("17106", "17136")]
    files += [_testdata("dicomdirtests/98892003/MR2/4950"), big_ct_file]
    result = await asyncio.to_thread(_run_scu, server.port, files)
    assert result.established
    assert result.echo_status == 0x0000
    assert result.store_statuses == [0x0000] * len(files)
    assert result.acceptor_implementation == IMPLEMENTATION_CLASS_UID
    # every proposed context accepted, in the transfer syntax proposed
    storage = {(sop, ts) for sop, ts in result.accepted if sop != Verification}
    assert storage == {(sop, ts) for sop in (CTImageStorage, MRImageStorage)
                       for ts in UNCOMPRESSED}
    assert len(result.accepted) == 7
    _check_archive(archive_dir, files, "PYNETDICOM")
    # pydicom encodes these files again exactly as they were
    assert sorted(digest(p) for p in stored_files(archive_dir)) == sorted(
        digest(p) for p in files)


async def test_pynetdicom_scu_each_uncompressed_syntax(
    server: dicomqr.Server, archive_dir: Path
) -> None:
    """The same MR image in Implicit VR LE and Explicit VR Big Endian (one
    association each: the files share their SOP Instance UID)."""
    for name in ("MR_small_implicit.dcm", "MR_small_bigendian.dcm"):
        result = await asyncio.to_thread(_run_scu, server.port, [_testdata(name)])
        assert result.store_statuses == [0x0000]
    received = stored_files(archive_dir)
    assert sorted(dataset_part(p)[0] for p in received) == sorted(
        [ImplicitVRLittleEndian, ExplicitVRBigEndian])
    for path in received:
        ts = dataset_part(path)[0]
        original = _testdata("MR_small_implicit.dcm" if ts == ImplicitVRLittleEndian
                             else "MR_small_bigendian.dcm")
        assert not dataset_differences(read(original), read(path))


async def test_pynetdicom_scu_extended_negotiation_accepted(
    server: dicomqr.Server, archive_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """SCP/SCU role selection, asynchronous operations window and user
    identity (username) items in the A-ASSOCIATE-RQ: the association is
    accepted and works."""
    caplog.set_level("INFO", logger="dicomqr")
    async_window = AsynchronousOperationsWindowNegotiation()
    async_window.maximum_number_operations_invoked = 4
    async_window.maximum_number_operations_performed = 4
    identity = UserIdentityNegotiation()
    identity.user_identity_type = 1
    identity.primary_field = b"pynetdicom-user"
    identity.positive_response_requested = False
    ext_neg = [build_role(CTImageStorage, scu_role=True, scp_role=True),
               build_role(MRImageStorage, scu_role=True, scp_role=False),
               async_window, identity]
    files = [_testdata("CT_small.dcm")]
    result = await asyncio.to_thread(_run_scu, server.port, files, ext_neg, "ROLES")
    assert result.established, caplog.text
    assert result.echo_status == 0x0000
    assert result.store_statuses == [0x0000]
    assert result.scu_role[CTImageStorage] and result.scu_role[MRImageStorage]
    assert result.async_operations is not None and min(result.async_operations) >= 1
    _check_archive(archive_dir, files, "ROLES")
    assert await eventually(lambda: "ROLES@127.0.0.1" in caplog.text), caplog.text

    # user identity with a positive response requested: still accepted
    identity.positive_response_requested = True
    result = await asyncio.to_thread(_run_scu, server.port, [], [identity], "IDENTITY")
    assert result.established, caplog.text
    assert result.echo_status == 0x0000


async def test_proposal_takes_pydicom_uids(server: dicomqr.Server) -> None:
    conn = await dicomqr.connect("127.0.0.1", server.port,
                                 [dicomqr.Proposal(Verification, (ExplicitVRLittleEndian,))],
                                 called_ae="DICOMQR")
    try:
        assert (await dicomqr.echo(conn)).status == 0x0000
    finally:
        await conn.release()


# ------------------------------------------------------------------ pynetdicom SCP
@dataclass
class Received:
    transfer_syntax: str
    sop_class_uid: str
    sop_instance_uid: str
    calling_ae: str
    raw: bytes
    dataset: Dataset


def _select_files(pydicom_test_files: list[Path], count: int = 20) -> list[Path]:
    """``count`` files with distinct SOP Instance UIDs: one of each transfer
    syntax first, then new (SOP class, transfer syntax) pairs."""
    sources = [scan([p])[0][0] for p in pydicom_test_files
               if not has_odd_length_dataset(p)]  # see test_dcmtk_scp.py ODD_LENGTH
    chosen: list[Path] = []
    seen_uids: set[str] = set()
    seen: set[object] = set()
    for first_pass in (True, False):
        for src in sources:
            pair = (src.sop_class_uid, src.transfer_syntax_uid)
            key = src.transfer_syntax_uid if first_pass else pair
            if key in seen or pair in seen or src.sop_instance_uid in seen_uids:
                continue
            seen.update((src.transfer_syntax_uid, pair))
            seen_uids.add(src.sop_instance_uid)
            chosen.append(src.path)
    return chosen[:count]


async def test_store_to_pynetdicom_scp(pydicom_test_files: list[Path]) -> None:
    received: list[Received] = []
    echoes: list[str] = []
    lock = threading.Lock()

    def on_echo(event: Any) -> int:
        with lock:
            echoes.append(event.assoc.requestor.ae_title)
        return 0x0000

    def on_store(event: Any) -> int:
        rq = event.request
        item = Received(
            transfer_syntax=str(event.context.transfer_syntax),
            sop_class_uid=str(rq.AffectedSOPClassUID),
            sop_instance_uid=str(rq.AffectedSOPInstanceUID),
            calling_ae=event.assoc.requestor.ae_title,
            raw=rq.DataSet.getvalue(),
            dataset=event.dataset,  # decoded by pynetdicom (inflated if deflated)
        )
        with lock:
            received.append(item)
        return 0x0000

    files = _select_files(pydicom_test_files)
    assert len(files) == 20
    sources = scan(files)[0]
    syntaxes = {s.transfer_syntax_uid for s in sources}
    assert len(syntaxes) >= 8, syntaxes

    ae = AE(ae_title="PYNSCP")
    ae.network_timeout = ae.acse_timeout = ae.dimse_timeout = TIMEOUT
    for cx in AllStoragePresentationContexts:
        ae.add_supported_context(cx.abstract_syntax, ALL_TRANSFER_SYNTAXES)
    ae.add_supported_context(Verification, ALL_TRANSFER_SYNTAXES[:4])
    handlers = [(evt.EVT_C_STORE, on_store), (evt.EVT_C_ECHO, on_echo)]
    for attempt in range(3):  # the free port may be taken before pynetdicom binds it
        port = free_port()
        try:
            scp = await asyncio.to_thread(ae.start_server, ("127.0.0.1", port), block=False,
                                          evt_handlers=handlers)
            break
        except OSError:
            if attempt == 2:
                raise
    try:
        timeouts = dicomqr.Timeouts(connect=10, acse=10, dimse=30, artim=5)
        conn = await dicomqr.connect(
            "127.0.0.1", port,
            [dicomqr.Proposal(str(Verification), (str(ExplicitVRLittleEndian),)),
             *proposals_for(sources)],
            calling_ae="DICOMQR", called_ae="PYNSCP", timeouts=timeouts)
        try:
            assert (await dicomqr.echo(conn)).status == 0x0000
            statuses = [(await store_file(conn, src)).status for src in sources]
        finally:
            await conn.release()
    finally:
        await asyncio.to_thread(scp.shutdown)
    assert statuses == [0x0000] * len(sources)
    assert echoes == ["DICOMQR"]
    assert len(received) == len(sources)
    for src, item in zip(sources, received, strict=True):
        assert (item.sop_class_uid, item.sop_instance_uid) == (
            src.sop_class_uid, src.sop_instance_uid)
        assert item.transfer_syntax == src.transfer_syntax_uid
        assert item.calling_ae == "DICOMQR"
        assert item.raw == dataset_part(src.path)[1], src.path.name
        original = read(src.path)
        assert not dataset_differences(original, item.dataset), src.path.name
