#!/usr/bin/env python3
"""The pynetdicom Query/Retrieve SCP of the benchmark, the way pynetdicom documents it.

One ``AE`` with ``EVT_C_FIND``, ``EVT_C_GET`` and ``EVT_C_MOVE`` handlers, set up like
pynetdicom's bundled ``qrscp`` app (Verification; Patient and Study Root FIND/GET/MOVE; every
storage SOP class in every transfer syntax with the SCP role, for the C-STORE sub-operations of
C-GET) but without its database:

* find yields ``(0xFF00, Dataset)`` for the same prebuilt study-level matches as the dicomqr
  SCP (``qr_data.study_datasets``; all for ``PatientID`` empty or ``*``, group k for ``G<k>*``),
  checking ``event.is_cancelled`` between matches as ``qrscp`` does;
* get / move yield the number of files in ``--retrieve-dir`` (when the StudyInstanceUID is
  theirs), then ``(0xFF00, dcmread(path))`` for each file: pynetdicom re-encodes each dataset
  for the sub-operation's presentation context;
* move destinations from ``--move-dest AE=HOST:PORT``, with the CT Image Storage context
  (Explicit and Implicit VR Little Endian) for the sub-association.

``maximum_associations`` is raised from 10 to 50 (the concurrent row runs 10 clients; pynetdicom
rejects the 11th association otherwise); everything else is pynetdicom's default (max PDU 16382,
timeouts).  SIGTERM stops it.

Usage: ``qr_pyn_scp.py --port P --retrieve-dir DIR [--move-dest AE=HOST:PORT ...]
[--find-count N] [--ae-title T] [--host H]``
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import qr_data
from pydicom import dcmread
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import (
    AE,
    ALL_TRANSFER_SYNTAXES,
    AllStoragePresentationContexts,
    build_context,
    evt,
)
from pynetdicom.sop_class import (
    CTImageStorage,
    PatientRootQueryRetrieveInformationModelFind,
    PatientRootQueryRetrieveInformationModelGet,
    PatientRootQueryRetrieveInformationModelMove,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
    Verification,
)

PENDING = 0xFF00
CANCEL = 0xFE00


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ae-title", default="PYNQR")
    ap.add_argument("--find-count", type=int, default=10000)
    ap.add_argument("--retrieve-dir", type=Path)
    ap.add_argument("--move-dest", action="append", default=[], metavar="AE=HOST:PORT")
    a = ap.parse_args(argv)

    t0 = time.perf_counter()
    groups = qr_data.find_groups(qr_data.study_datasets(a.find_count))
    files: list[str] = []
    study = ""
    if a.retrieve_dir is not None:
        files = [str(p) for p in sorted(a.retrieve_dir.glob("*.dcm"))]
        if files:
            study = str(dcmread(files[0], stop_before_pixels=True).StudyInstanceUID)
    destinations: dict[str, tuple[str, int]] = {}
    for spec in a.move_dest:
        ae_title, _, hostport = spec.partition("=")
        host, _, port = hostport.rpartition(":")
        destinations[ae_title] = (host, int(port))
    move_contexts = [build_context(CTImageStorage,
                                   [ExplicitVRLittleEndian, ImplicitVRLittleEndian])]
    print(f"prepared {a.find_count} matches and {len(files)} retrieve files in "
          f"{time.perf_counter() - t0:.2f} s", flush=True)

    def on_find(event: Any) -> Iterator[tuple[int, Any]]:
        key = str(event.identifier.get("PatientID", "") or "")
        for ds in groups.get(key, ()):
            if event.is_cancelled:
                yield CANCEL, None
                return
            yield PENDING, ds

    def selected(event: Any) -> list[str]:
        wanted = str(event.identifier.get("StudyInstanceUID", "") or "")
        return files if wanted == study else []

    def on_get(event: Any) -> Iterator[Any]:
        chosen = selected(event)
        yield len(chosen)
        for path in chosen:
            if event.is_cancelled:
                yield CANCEL, None
                return
            yield PENDING, dcmread(path)

    def on_move(event: Any) -> Iterator[Any]:
        dest = destinations.get(str(event.move_destination, "ascii").strip()
                                if isinstance(event.move_destination, bytes)
                                else str(event.move_destination).strip())
        if dest is None:
            yield None, None
            return
        yield dest[0], dest[1], {"contexts": move_contexts}
        chosen = selected(event)
        yield len(chosen)
        for path in chosen:
            if event.is_cancelled:
                yield CANCEL, None
                return
            yield PENDING, dcmread(path)

    ae = AE(ae_title=a.ae_title)
    ae.maximum_associations = 50
    ae.add_supported_context(Verification, ALL_TRANSFER_SYNTAXES)
    for cx in AllStoragePresentationContexts:
        assert cx.abstract_syntax is not None
        ae.add_supported_context(cx.abstract_syntax, ALL_TRANSFER_SYNTAXES,
                                 scp_role=True, scu_role=False)
    for uid in (PatientRootQueryRetrieveInformationModelFind,
                PatientRootQueryRetrieveInformationModelGet,
                PatientRootQueryRetrieveInformationModelMove,
                StudyRootQueryRetrieveInformationModelFind,
                StudyRootQueryRetrieveInformationModelGet,
                StudyRootQueryRetrieveInformationModelMove):
        ae.add_supported_context(uid)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    print(f"pynetdicom Q/R SCP on {a.host}:{a.port}", flush=True)
    ae.start_server((a.host, a.port), block=True, evt_handlers=[
        (evt.EVT_C_FIND, on_find), (evt.EVT_C_GET, on_get), (evt.EVT_C_MOVE, on_move)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
