"""``dicomqr find``, ``get`` and ``move`` as a user runs them (subprocesses)
against an in-process Q/R SCP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pydicom
import pytest
from pydicom import Dataset
from pydicom.data import get_testdata_file

from dicomqr import QRHandlers, QRRequest, Server, make_server
from tests.interop.helpers import DICOMQR, free_port, run


@pytest.fixture(scope="session")
def event_loop_policy() -> asyncio.AbstractEventLoopPolicy:
    return asyncio.DefaultEventLoopPolicy()


CT = Path(get_testdata_file("CT_small.dcm"))  # type: ignore[arg-type]
MR = Path(get_testdata_file("MR_small.dcm"))  # type: ignore[arg-type]
SEEN: list[QRRequest] = []


def _find(request: QRRequest) -> Iterator[tuple[int, Dataset]]:
    SEEN.append(request)
    for i in range(4):
        ds = Dataset()
        ds.QueryRetrieveLevel = request.level
        ds.PatientName = f"DOE^{i}"
        ds.StudyInstanceUID = f"1.2.3.{i}"
        yield 0xFF00, ds


def _get(request: QRRequest) -> Iterator[object]:
    SEEN.append(request)
    yield 2
    yield 0xFF00, CT
    yield 0xFF00, MR


DEST_PORT = free_port()


def _move(request: QRRequest) -> Iterator[object]:
    SEEN.append(request)
    if request.move_destination != "CLIDEST":
        yield None
        return
    yield "127.0.0.1", DEST_PORT
    yield 1
    yield 0xFF00, CT


@pytest.fixture
async def qr_server() -> AsyncIterator[Server]:
    SEEN.clear()
    server = make_server(ae_title="QRSCP", handlers=QRHandlers(find=_find, get=_get, move=_move))
    await server.start("127.0.0.1", 0)
    yield server
    await server.close(timeout=2)


async def test_find_prints_each_match(qr_server: Server) -> None:
    done = await run([*DICOMQR, "find", "127.0.0.1", str(qr_server.port), "--aec", "QRSCP",
                      "-S", "-L", "STUDY", "-k", "PatientName=DOE*", "-k", "StudyInstanceUID"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("0xFF00 Pending") == 4
    assert "StudyInstanceUID: 1.2.3.3" in done.stdout
    assert "0x0000 Success" in done.stdout
    request = SEEN[0]
    assert request.identifier.PatientName == "DOE*"
    assert request.called_ae == "QRSCP"
    assert request.level == "STUDY"


async def test_find_json_and_cancel(qr_server: Server) -> None:
    done = await run([*DICOMQR, "find", "127.0.0.1", str(qr_server.port), "-P", "-L",
                      "PATIENT", "-k", "PatientID", "--json", "--cancel", "1"])
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    statuses = [line["status"] for line in lines]
    assert statuses[0] == "0xFF00"
    # The final status is Cancel unless all matches were sent before it arrived.
    assert statuses[-1] in ("0xFE00", "0x0000")
    assert done.returncode == (1 if statuses[-1] == "0xFE00" else 0)
    assert lines[0]["identifier"]["00100010"]["Value"] == [{"Alphabetic": "DOE^0"}]


async def test_refused_identifier_exit_code(qr_server: Server) -> None:
    done = await run([*DICOMQR, "find", "127.0.0.1", str(qr_server.port), "-S",
                      "-k", "PatientName=X"])  # no Query/Retrieve Level
    assert done.returncode == 1
    assert "0xA900" in done.stdout
    assert not SEEN


async def test_get_into_a_folder(qr_server: Server, tmp_path: Path) -> None:
    out = tmp_path / "got"
    done = await run([*DICOMQR, "get", "127.0.0.1", str(qr_server.port), "-S", "-L", "STUDY",
                      "-k", "StudyInstanceUID=1.2.3", "-od", str(out)])
    assert done.returncode == 0, done.stdout + done.stderr
    files = sorted(out.rglob("*.dcm"))
    assert len(files) == 2
    assert {pydicom.dcmread(f).SOPInstanceUID for f in files} == {
        pydicom.dcmread(CT).SOPInstanceUID, pydicom.dcmread(MR).SOPInstanceUID}
    assert "completed 2" in done.stdout


async def test_move_to_own_port(qr_server: Server, tmp_path: Path) -> None:
    out = tmp_path / "moved"
    done = await run([*DICOMQR, "move", "127.0.0.1", str(qr_server.port), "-S", "-L", "STUDY",
                      "-k", "StudyInstanceUID=1.2.3", "-aem", "CLIDEST", "--port",
                      str(DEST_PORT), "-od", str(out)])
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(list(out.rglob("*.dcm"))) == 1
    assert SEEN[0].move_destination == "CLIDEST"


async def test_move_unknown_destination(qr_server: Server) -> None:
    done = await run([*DICOMQR, "move", "127.0.0.1", str(qr_server.port), "-S", "-L", "STUDY",
                      "-k", "StudyInstanceUID=1.2.3", "-aem", "NOBODY"])
    assert done.returncode == 1
    assert "0xA801" in done.stdout


async def test_bad_key_and_unreachable_peer() -> None:
    done = await run([*DICOMQR, "find", "127.0.0.1", "1", "-k", "NotAKeyword=1"])
    assert done.returncode == 2
    assert "NotAKeyword" in done.stderr
    done = await run([*DICOMQR, "find", "127.0.0.1", str(free_port()), "-L", "STUDY",
                      "--timeout", "3"])
    assert done.returncode == 2
    assert "cannot associate" in done.stderr
