"""The blocking facade, from plain synchronous code (no event loop in the test)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest

import dicomqr
from dicomqr import blocking
from dicomqr.services.store_scu import proposals_for, scan
from tests.conftest import stored_files


@pytest.fixture
def threaded_server(archive_dir: Path) -> Iterator[int]:
    """A server on its own loop in a thread, so the test itself can block."""
    loop = asyncio.new_event_loop()
    archive = dicomqr.FileArchive(archive_dir)
    srv = dicomqr.Server(ae_title="BLOCKSCP", policy=dicomqr.acceptor_policy(),
                         handler_factory=lambda c: dicomqr.ServiceDispatcher(archive=archive))
    loop.run_until_complete(srv.start("127.0.0.1", 0))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield srv.port
    finally:
        asyncio.run_coroutine_threadsafe(srv.close(timeout=1), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def test_blocking_echo_and_store(threaded_server: int, archive_dir: Path) -> None:
    with blocking.associate("127.0.0.1", threaded_server, called_ae="BLOCKSCP") as assoc:
        assert assoc.echo().status == 0
    path = Path(pydicom.data.get_testdata_file("MR_small.dcm"))
    sources, _ = scan([path])
    with blocking.associate("127.0.0.1", threaded_server, proposals_for(sources)) as assoc:
        rsp = assoc.store(path)
        assert rsp.status == 0
        assert rsp.ok
    assert len(stored_files(archive_dir)) == 1


def test_blocking_connect_refused_raises() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(OSError):
        blocking.associate("127.0.0.1", port)
