"""``dicomqr serve`` as the archive: a TOML config file, worker processes,
access rules, C-MOVE destinations; and its config errors."""

from __future__ import annotations

import asyncio
import re
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydicom import Dataset

from dicomqr import status, uids
from dicomqr.archive.config import ConfigError, load_config
from dicomqr.services import qr_scu
from dicomqr.transport.client import connect
from tests.e2e.qr_helpers import destination, run
from tests.interop.helpers import DICOMQR, background
from tests.interop.helpers import run as run_process

from .helpers import SCU_AE, TIMEOUTS, store_paths, write_instances
from .test_ingest import small_archive

LISTENING = re.compile(r"CFGSCP listening on 127\.0\.0\.1:(\d+)")


@pytest.fixture(scope="session")
def event_loop_policy() -> asyncio.AbstractEventLoopPolicy:
    return asyncio.DefaultEventLoopPolicy()


@pytest.fixture
async def dest(tmp_path: Path) -> AsyncIterator[int]:
    async with destination(tmp_path / "dest") as srv:
        yield srv.sockets[0][1]


async def test_config_file_workers_access_and_move(tmp_path: Path, dest: int) -> None:
    archive = tmp_path / "archive"
    config = tmp_path / "dicomqr.toml"
    config.write_text(f'''
ae_title = "CFGSCP"
host = "127.0.0.1"
port = 0
archive = "{archive}"
workers = 2
duplicates = "reject"

[destinations]
DEST = "127.0.0.1:{dest}"

[access]
store = ["{SCU_AE}"]
query = ["*"]
retrieve = ["{SCU_AE}", "OTHER"]
''')
    argv = (*DICOMQR, "serve", "--config", str(config))
    async with background(argv, tmp_path / "serve.log") as proc:
        await proc.wait_for(lambda: LISTENING.search(proc.log), "listening", timeout=30)
        match = LISTENING.search(proc.log)
        assert match is not None
        port = int(match.group(1))
        assert "2 worker processes" in proc.log
        paths = write_instances(tmp_path / "src", small_archive())
        results = await store_paths(port, paths)
        assert all(r.status == 0 for _, r in results)
        again = await store_paths(port, paths[:1])  # duplicates = reject
        assert [r.status for _, r in again] == [status.ELEMENTS_DISCARDED]
        refused = await store_paths(port, paths[:1], calling_ae="STRANGER")
        assert [r.status for _, r in refused] == [status.NOT_AUTHORIZED]
        ident = Dataset()
        ident.QueryRetrieveLevel = "STUDY"
        ident.StudyInstanceUID = ""
        # Several associations at once: both workers answer the same.
        conns = await asyncio.gather(*(connect(
            "127.0.0.1", port, qr_scu.qr_proposals([uids.STUDY_ROOT_QR_FIND,
                                                    uids.STUDY_ROOT_QR_MOVE]),
            calling_ae=ae, called_ae="CFGSCP", timeouts=TIMEOUTS)
            for ae in (SCU_AE, SCU_AE, "NOBODY", "NOBODY")))
        try:
            finds = await asyncio.gather(*(run(qr_scu.find(c, ident)) for c in conns))
            assert all(len(f.matches) == 3 for f in finds)
            move = Dataset()
            move.QueryRetrieveLevel = "STUDY"
            move.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.91.1.0"
            moved = await run(qr_scu.move(conns[0], move, "DEST"))
            assert moved.final.status == status.SUCCESS and moved.final.completed == 2
            denied = await run(qr_scu.move(conns[2], move, "DEST"))
            assert denied.final.status == status.NOT_AUTHORIZED
        finally:
            for c in conns:
                await c.release()
        assert proc.proc is not None
        proc.proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.proc.wait(), 20) == 0
        assert "ERROR" not in proc.log, proc.log
    assert len(list((tmp_path / "dest").rglob("*.dcm"))) == 2


@pytest.mark.parametrize(("text", "error"), [
    ('duplicates = "sometimes"', "duplicates"),
    ("port = 70000", "port"),
    ("workers = 0", "workers"),
    ('colour = "blue"', "unknown setting"),
    ('[destinations]\nPACS = "nohostport"', "AE=HOST:PORT"),
    ('[access]\nstore = "A"\ndelete = ["B"]', "unknown access"),
    ("port = ", "dicomqr.toml"),
    ('port = "104"', "port"),
    ("fsync = 1", "fsync"),
    ("max_pdu = -5", "max_pdu"),
])
def test_config_errors(tmp_path: Path, text: str, error: str) -> None:
    path = tmp_path / "dicomqr.toml"
    path.write_text(text + "\n")
    with pytest.raises(ConfigError, match=error):
        load_config(path)


async def test_bad_config_exits_with_message(tmp_path: Path) -> None:
    path = tmp_path / "dicomqr.toml"
    path.write_text('duplicates = "sometimes"\n')
    res = await run_process([*DICOMQR, "serve", "--config", str(path)], timeout=30)
    assert res.returncode == 2
    assert "duplicates" in res.stderr
