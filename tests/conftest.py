"""Shared fixtures: an in-process dicomqr server on a free port, test data."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dicomqr import FileArchive, Server, ServiceDispatcher, acceptor_policy
from dicomqr.transport.config import Limits, Timeouts

DCMTK = Path("/usr/bin")


def dcmtk(tool: str) -> str:
    """The DCMTK binary by its Debian path (pynetdicom's scripts share the names)."""
    path = DCMTK / tool
    if not path.exists():
        pytest.skip(f"DCMTK {tool} not installed")
    return str(path)


def dcmtk_env() -> dict[str, str]:
    # DCMTK leaves Nagle on unless told: ~40 ms per message otherwise.
    return {**os.environ, "TCP_NODELAY": "1"}


@pytest.fixture
def archive_dir(tmp_path: Path) -> Path:
    d = tmp_path / "archive"
    d.mkdir()
    return d


@pytest.fixture
async def server(archive_dir: Path) -> AsyncIterator[Server]:
    """A dicomqr server (C-ECHO + C-STORE into ``archive_dir``) on 127.0.0.1."""
    archive = FileArchive(archive_dir)
    srv = Server(
        ae_title="DICOMQR",
        policy=acceptor_policy(),
        handler_factory=lambda conn: ServiceDispatcher(archive=archive),
        limits=Limits(),
        timeouts=Timeouts(artim=5, idle=30),
    )
    await srv.start("127.0.0.1", 0)
    yield srv
    await srv.close(timeout=2)


def stored_files(archive_dir: Path) -> list[Path]:
    return sorted(p for p in archive_dir.rglob("*.dcm") if ".incoming" not in p.parts)


@pytest.fixture(scope="session")
def pydicom_test_files() -> list[Path]:
    """pydicom's test files that are valid DICOM with a Part 10 header."""
    import pydicom.data

    from dicomqr.services.part10 import Part10Error, read_file_meta

    files = []
    # The files shipped in the package only (no downloads: no network here).
    for path in (Path(pydicom.data.__file__).parent / "test_files").rglob("*"):
        if not path.is_file():
            continue
        try:
            meta = read_file_meta(path.read_bytes()[:65536])
        except Part10Error:
            continue
        if meta.sop_class_uid == "1.2.840.10008.1.3.10":
            continue  # DICOMDIR: a media file, not an instance to store
        if meta.sop_class_uid and meta.sop_instance_uid:
            files.append(path)
    return sorted(files)


def have(tool: str) -> bool:
    return shutil.which(tool) is not None
