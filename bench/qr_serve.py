#!/usr/bin/env python3
"""The dicomqr Query/Retrieve SCP of the benchmark: ``make_server`` with in-memory handlers.

* **find**: yields prebuilt study-level matches (``qr_data.study_datasets``: 10,000 by
  default), all of them for ``PatientID`` empty or ``*``, the 2,000 of group k for ``G<k>*``.
  The handler variant is chosen by the *called AE title*, so one process serves them all:

  ==============  ===========================================================================
  ``DICOMQR``     plain generator yielding ``(0xFF00, Dataset)`` (the headline)
  ``DQR-BYTES``   plain generator yielding ``(0xFF00, bytes)`` pre-encoded at start-up in every
                  uncompressed transfer syntax (the one of ``request.transfer_syntax`` is used)
  ``DQR-ASYNC``   async generator yielding ``(0xFF00, Dataset)``
  ``DQR-ABYTES``  async generator yielding pre-encoded bytes
  ==============  ===========================================================================

* **get** / **move**: when the identifier's StudyInstanceUID is the one of the files in
  ``--retrieve-dir``, yields their count, then ``(0xFF00, path)`` for each file (dicomqr reads
  the Part 10 header and streams the dataset bytes from the file); else 0 sub-operations.
  Move destinations come from ``--move-dest AE=HOST:PORT`` (repeatable); unknown: ``None``.

Runs on uvloop when it is installed (as the ``dicomqr`` CLI), plain asyncio with
``--loop asyncio``.  Logging at WARNING.  SIGTERM/SIGINT stop it.

Usage: ``qr_serve.py --port P --retrieve-dir DIR [--move-dest AE=HOST:PORT ...]
[--find-count N] [--ae-title T] [--host H] [--loop uvloop|asyncio]``
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import qr_data
from pydicom import dcmread

from dicomqr import QRHandlers, QRRequest, make_server, uids
from dicomqr.services.codec import encode_identifier

PENDING = 0xFF00


def build_handlers(find_count: int, retrieve_dir: Path | None,
                   destinations: dict[str, tuple[str, int]]) -> QRHandlers:
    t0 = time.perf_counter()
    matches = qr_data.study_datasets(find_count)
    groups = qr_data.find_groups(matches)
    # Pre-encoded matches, in every uncompressed transfer syntax a peer may pick.
    encoded: dict[str, dict[str, list[bytes]]] = {}
    for ts in uids.UNCOMPRESSED_TRANSFER_SYNTAXES:
        blobs = {id(ds): encode_identifier(ds, ts) for ds in matches}
        encoded[ts] = {key: [blobs[id(ds)] for ds in group] for key, group in groups.items()}
    files: list[str] = []
    study = ""
    if retrieve_dir is not None:
        files = [str(p) for p in sorted(retrieve_dir.glob("*.dcm"))]
        if files:
            study = str(dcmread(files[0], stop_before_pixels=True,
                                specific_tags=["StudyInstanceUID"]).StudyInstanceUID)
    print(f"prepared {len(matches)} matches ({len(groups)} groups, "
          f"{len(encoded)} encodings) and {len(files)} retrieve files "
          f"in {time.perf_counter() - t0:.2f} s", flush=True)

    def key_of(request: QRRequest) -> str:
        return str(request.identifier.get("PatientID", "") or "")

    def find(request: QRRequest) -> Any:
        mode = request.called_ae.strip()
        if mode == "DQR-BYTES":
            return find_bytes(request)
        if mode == "DQR-ASYNC":
            return find_async(request)
        if mode == "DQR-ABYTES":
            return find_async_bytes(request)
        return find_plain(request)

    def find_plain(request: QRRequest) -> Iterator[tuple[int, Any]]:
        for ds in groups.get(key_of(request), ()):
            yield PENDING, ds

    def find_bytes(request: QRRequest) -> Iterator[tuple[int, Any]]:
        for blob in encoded[request.transfer_syntax].get(key_of(request), ()):
            yield PENDING, blob

    async def find_async(request: QRRequest) -> AsyncIterator[tuple[int, Any]]:
        for ds in groups.get(key_of(request), ()):
            yield PENDING, ds

    async def find_async_bytes(request: QRRequest) -> AsyncIterator[tuple[int, Any]]:
        for blob in encoded[request.transfer_syntax].get(key_of(request), ()):
            yield PENDING, blob

    def selected(request: QRRequest) -> list[str]:
        wanted = str(request.identifier.get("StudyInstanceUID", "") or "")
        return files if wanted == study else []

    def get(request: QRRequest) -> Iterator[Any]:
        chosen = selected(request)
        yield len(chosen)
        for path in chosen:
            yield PENDING, path

    def move(request: QRRequest) -> Iterator[Any]:
        yield destinations.get((request.move_destination or "").strip())
        chosen = selected(request)
        yield len(chosen)
        for path in chosen:
            yield PENDING, path

    return QRHandlers(find=find, get=get, move=move, sop_classes=[
        uids.STUDY_ROOT_QR_FIND, uids.STUDY_ROOT_QR_GET, uids.STUDY_ROOT_QR_MOVE,
        uids.PATIENT_ROOT_QR_FIND, uids.PATIENT_ROOT_QR_GET, uids.PATIENT_ROOT_QR_MOVE])


async def serve(a: argparse.Namespace) -> int:
    destinations: dict[str, tuple[str, int]] = {}
    for spec in a.move_dest:
        ae, _, hostport = spec.partition("=")
        host, _, port = hostport.rpartition(":")
        destinations[ae] = (host, int(port))
    handlers = build_handlers(a.find_count, a.retrieve_dir, destinations)
    server = make_server(ae_title=a.ae_title, handlers=handlers)
    await server.start(a.host, a.port)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"dicomqr Q/R SCP on {a.host}:{server.port} "
          f"({type(loop).__module__.split('.')[0]} loop)", flush=True)
    await stop.wait()
    await server.close(timeout=2.0)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ae-title", default="DICOMQR")
    ap.add_argument("--find-count", type=int, default=10000)
    ap.add_argument("--retrieve-dir", type=Path)
    ap.add_argument("--move-dest", action="append", default=[], metavar="AE=HOST:PORT")
    ap.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if a.loop == "uvloop":
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return int(uvloop.run(serve(a)))
    return asyncio.run(serve(a))


if __name__ == "__main__":
    sys.exit(main())
