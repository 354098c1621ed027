#!/usr/bin/env python3
"""Minimal pynetdicom storage SCP used as a benchmark receiver.

Accepts Verification and every storage SOP class pynetdicom knows, in every transfer syntax
(like ``storescp +xa``), on the given address.  By default each received instance is written
as a Part 10 file named after its SOP Instance UID with ``event.encoded_dataset()`` (preamble,
file meta and the dataset bytes as received -- no decoding, pynetdicom's recommended fast
path).  ``--discard`` answers Success and writes nothing (pynetdicom's network-layer ceiling).

After each association it prints ``association released: stored=N failed=M`` to stdout so
the harness can count what arrived even when nothing is written.

Usage: ``pyn_scp.py --port P --dir DIR [--ae-title T] [--host H] [--discard]``
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from pynetdicom import (
    AE,
    ALL_TRANSFER_SYNTAXES,
    AllStoragePresentationContexts,
    VerificationPresentationContexts,
    evt,
)

UID_RE = re.compile(r"^[0-9.]{1,64}$")


class Counter:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stored = 0
        self.failed = 0
        self.serial = 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ae-title", default="PYNSCP")
    ap.add_argument("--dir", type=Path, required=True)
    ap.add_argument("--discard", action="store_true", help="write nothing")
    a = ap.parse_args(argv)
    outdir: Path = a.dir
    outdir.mkdir(parents=True, exist_ok=True)
    count = Counter()

    def on_store(event: Any) -> int:
        if a.discard:
            with count.lock:
                count.stored += 1
            return 0x0000
        try:
            name = str(event.request.AffectedSOPInstanceUID)
            if not UID_RE.match(name):
                with count.lock:
                    count.serial += 1
                    name = f"instance-{count.serial}"
            with open(outdir / f"{name}.dcm", "wb") as f:
                f.write(event.encoded_dataset())
        except Exception as exc:  # answer "out of resources" as storescp would
            print(f"store failed: {exc!r}", file=sys.stderr, flush=True)
            with count.lock:
                count.failed += 1
            return 0xA700
        with count.lock:
            count.stored += 1
        return 0x0000

    def on_end(event: Any) -> None:
        with count.lock:
            stored, failed = count.stored, count.failed
            count.stored = count.failed = 0
        print(f"association {event.event.name}: stored={stored} failed={failed}", flush=True)

    ae = AE(ae_title=a.ae_title)
    for cx in [*AllStoragePresentationContexts, *VerificationPresentationContexts]:
        assert cx.abstract_syntax is not None
        ae.add_supported_context(cx.abstract_syntax, ALL_TRANSFER_SYNTAXES)
    ae.maximum_associations = 50

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    print(f"pynetdicom SCP on {a.host}:{a.port} ({'discard' if a.discard else outdir})",
          flush=True)
    ae.start_server(
        (a.host, a.port),
        block=True,
        evt_handlers=[(evt.EVT_C_STORE, on_store), (evt.EVT_RELEASED, on_end),
                      (evt.EVT_ABORTED, on_end)],
    )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
