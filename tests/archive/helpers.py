"""Shared pieces of the archive tests: an archive server on a free port,
storing files into it, and what it holds."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydicom import Dataset, dcmread

from dicomqr import status, uids
from dicomqr.archive.app import Archive
from dicomqr.archive.config import ArchiveConfig
from dicomqr.services import qr_scu
from dicomqr.services.common import Response
from dicomqr.services.handlers import ExtendedOptions
from dicomqr.services.store_scu import proposals_for, scan, store_file
from dicomqr.transport.client import connect
from dicomqr.transport.config import Timeouts
from dicomqr.transport.server import Server
from tests.e2e.qr_helpers import run

ARCHIVE_AE = "ARCHIVE"
SCU_AE = "ARCHSCU"
TIMEOUTS = Timeouts(connect=5, artim=5, acse=5, dimse=20, idle=60)


@dataclass
class Running:
    archive: Archive
    server: Server
    port: int
    root: Path


@contextlib.asynccontextmanager
async def archive_server(root: Path, db_url: str, **settings: Any) -> AsyncIterator[Running]:
    """An archive (``root``, index at ``db_url``) served on 127.0.0.1."""
    config = replace(ArchiveConfig(ae_title=ARCHIVE_AE, archive=str(root), db=db_url),
                     **settings).check()
    archive = await asyncio.to_thread(Archive, config)
    server = archive.server(timeouts=TIMEOUTS)
    await server.start("127.0.0.1", 0)
    try:
        yield Running(archive, server, server.sockets[0][1], root)
    finally:
        await server.close(timeout=2)
        await asyncio.to_thread(archive.close)


async def store_paths(port: int, paths: Iterable[str | Path], *, calling_ae: str = SCU_AE,
                      ) -> list[tuple[Path, Response]]:
    """C-STORE the files (one association per 100 files) with dicomqr's SCU."""
    sources, _ = scan(paths)
    out: list[tuple[Path, Response]] = []
    for start in range(0, len(sources), 100):
        batch = sources[start:start + 100]
        conn = await connect("127.0.0.1", port, proposals_for(batch), calling_ae=calling_ae,
                             called_ae=ARCHIVE_AE, timeouts=TIMEOUTS)
        try:
            for src in batch:
                out.append((src.path, await store_file(conn, src)))
        finally:
            await conn.release()
    return out


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.dcm")
                  if ".incoming" not in p.parts and "palettes" not in p.parts)


def partial_files(root: Path) -> list[Path]:
    """What ``.incoming`` holds (partial files of any host): nothing, once
    every C-STORE has been answered."""
    return sorted(p for p in (root / ".incoming").rglob("*") if p.is_file())


def write_instances(folder: Path, datasets: Sequence[Dataset]) -> list[Path]:
    """Part 10 files for ``datasets`` (Explicit VR Little Endian)."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, ds in enumerate(datasets):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = ds.SOPClassUID
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta = meta
        path = folder / f"{i:05d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def read(path: Path) -> Dataset:
    return dcmread(path, force=True)


def q(**elements: Any) -> Dataset:
    """An identifier from keyword=value pairs."""
    ds = Dataset()
    for keyword, value in elements.items():
        setattr(ds, keyword, value)
    return ds


async def find(port: int, identifier: Dataset, sop_class: str = uids.STUDY_ROOT_QR_FIND,
               extended: ExtendedOptions | None = None) -> list[Dataset]:
    """C-FIND with dicomqr's SCU: the matches (the final status must be Success)."""
    items = qr_scu.extended_items({sop_class: extended}) if extended else []
    conn = await connect("127.0.0.1", port, qr_scu.qr_proposals([sop_class]),
                         calling_ae=SCU_AE, called_ae=ARCHIVE_AE, timeouts=TIMEOUTS,
                         extended=items)
    try:
        out = await run(qr_scu.find(conn, identifier, sop_class=sop_class))
    finally:
        await conn.release()
    assert out.final.status == status.SUCCESS, out.final
    return out.matches
