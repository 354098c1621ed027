#!/usr/bin/env python3
"""dicomqr's own Q/R SCU for the benchmark (``dicomqr.find`` / ``get`` / ``move``).

Prints one JSON object: ``seconds`` (from before the association request to after its
release, interpreter start-up and imports excluded), what arrived and the final status, and
``ok`` / ``errors`` from its own checks.

* ``find --port P --ae AE [--ae AE2 ...] [--patient-id V] [--clients K] [--expect N]``:
  a STUDY-level C-FIND (Study Root) with the keys of ``qr_data.STUDY_KEYS``, on one
  association per called AE title, in sequence (dcmqrscp's 20 storage areas).  Each match is
  decoded (its StudyInstanceUIDs must be distinct); with ``--no-decode`` the matches are only
  counted (``QRResponse.raw``, distinct by bytes), which dicomqr's lazy decoding makes free.  With
  ``--clients K``, K clients run at once (asyncio tasks, each its own associations), client k
  with the k-th ``--patient-id`` value and the k-th ``--ae-set`` (both cycled); ``--expect``
  is per client.
* ``get --port P --ae AE --study UID --od DIR [--expect N]``: C-GET into DIR (dicomqr's
  ``FileArchive``); the storage contexts are ``get_proposals()``'s default (31 common classes).
* ``move ... --dest-ae T --dest-port P2 --od DIR``: starts ``storage_scp(DIR)`` on P2 in this
  process (not timed), then the C-MOVE to T; the files counted are those in DIR.

Runs on uvloop when installed (``--loop asyncio`` for the standard loop).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import qr_data
from pydicom import Dataset

import dicomqr
from dicomqr import StoredInstance, uids
from dicomqr.services.qr_scu import GET_ASYNC_WINDOW

HOST = "127.0.0.1"


def study_query(patient_id: str) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = "STUDY"
    for key in qr_data.STUDY_KEYS:
        setattr(ds, key, "")
    ds.PatientID = patient_id
    return ds


async def one_find(port: int, ae: str, patient_id: str, decode: bool) -> dict[str, Any]:
    conn = await dicomqr.connect(HOST, port, dicomqr.qr_proposals([uids.STUDY_ROOT_QR_FIND]),
                                 calling_ae="DQRSCU", called_ae=ae)
    n = 0
    final = None
    seen: set[Any] = set()
    try:
        async for rsp in dicomqr.find(conn, study_query(patient_id)):
            if rsp.pending:
                n += 1
                if decode:  # what an application does: look at the match
                    if rsp.identifier is not None:
                        seen.add(str(rsp.identifier.get("StudyInstanceUID", "")))
                else:  # count only: the identifier stays undecoded (its bytes)
                    seen.add(rsp.raw)
            else:
                final = rsp.status
    finally:
        await conn.release()
    return {"responses": n, "distinct": len(seen), "final": final}


async def run_find(a: argparse.Namespace) -> dict[str, Any]:
    values = a.patient_id or [""]

    async def client(k: int) -> dict[str, Any]:
        total = {"responses": 0, "distinct": 0, "finals": []}
        aes = a.ae_set[k % len(a.ae_set)].split(",") if a.ae_set else a.ae
        for ae in aes:
            r = await one_find(a.port, ae, values[k % len(values)], not a.no_decode)
            total["responses"] += r["responses"]
            total["distinct"] += r["distinct"]
            total["finals"].append(r["final"])
        return total

    t0 = time.perf_counter()
    results = await asyncio.gather(*(client(k) for k in range(a.clients)),
                                   return_exceptions=True)
    seconds = time.perf_counter() - t0
    errors = []
    per_client = []
    for k, r in enumerate(results):
        if isinstance(r, BaseException):
            errors.append(f"client {k + 1}: {type(r).__name__}: {r}")
            per_client.append(0)
            continue
        per_client.append(r["responses"])
        if a.expect is not None and r["responses"] != a.expect:
            errors.append(f"client {k + 1}: {r['responses']} responses, expected {a.expect}")
        if r["distinct"] != r["responses"]:
            errors.append(f"client {k + 1}: {r['distinct']} distinct matches in "
                          f"{r['responses']} responses")
        bad = [f for f in r["finals"] if f != 0]
        if bad:
            shown = ", ".join(hex(f) if f is not None else "none" for f in bad)
            errors.append(f"client {k + 1}: final status {shown}")
    return {"seconds": seconds, "responses": sum(per_client), "per_client": per_client,
            "ok": not errors, "errors": errors}


def count_files(folder: Path) -> tuple[int, int]:
    n = size = 0
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d != ".incoming"]
        for name in files:
            n += 1
            size += os.stat(os.path.join(root, name)).st_size
    return n, size


def retrieve_query(study: str) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = "STUDY"
    ds.StudyInstanceUID = study
    return ds


def final_checks(final: Any, expect: int | None, received: int, errors: list[str]) -> None:
    if final is None:
        errors.append("no final response")
    elif final.status != 0:
        errors.append(f"final status {final.status:#06x} ({final})")
    elif expect is not None and final.completed not in (None, expect):
        errors.append(f"final response: {final.completed} completed, expected {expect}")
    if expect is not None and received != expect:
        errors.append(f"{received} instances received, expected {expect}")


async def run_get(a: argparse.Namespace) -> dict[str, Any]:
    folder = Path(a.od)
    folder.mkdir(parents=True, exist_ok=True)
    proposals, roles = dicomqr.get_proposals(uids.STUDY_ROOT_QR_GET)
    t0 = time.perf_counter()
    # As `dicomqr get` does: an asynchronous operations window lets the SCP
    # have several C-STORE sub-operations in flight (if it agrees).
    conn = await dicomqr.connect(HOST, a.port, proposals, roles=roles,
                                 calling_ae="DQRSCU", called_ae=a.ae[0],
                                 async_window=GET_ASYNC_WINDOW)
    stored = 0
    final = None
    try:
        async for item in dicomqr.get(conn, retrieve_query(a.study), folder=folder):
            if isinstance(item, StoredInstance):
                stored += 1
            elif item.final:
                final = item
    finally:
        await conn.release()
    seconds = time.perf_counter() - t0
    files, nbytes = count_files(folder)
    errors: list[str] = []
    final_checks(final, a.expect, stored, errors)
    if a.expect is not None and files != a.expect:
        errors.append(f"{files} files in the folder, expected {a.expect}")
    return {"seconds": seconds, "stored": stored, "files": files, "bytes": nbytes,
            "ok": not errors, "errors": errors}


async def run_move(a: argparse.Namespace) -> dict[str, Any]:
    folder = Path(a.od)
    folder.mkdir(parents=True, exist_ok=True)
    received = 0

    async def on_stored(_: StoredInstance) -> None:
        nonlocal received
        received += 1

    dest = dicomqr.storage_scp(folder, ae_title=a.dest_ae, on_stored=on_stored)
    await dest.start(HOST, a.dest_port)
    try:
        t0 = time.perf_counter()
        conn = await dicomqr.connect(HOST, a.port,
                                     dicomqr.qr_proposals([uids.STUDY_ROOT_QR_MOVE]),
                                     calling_ae="DQRSCU", called_ae=a.ae[0])
        final = None
        pending = 0
        try:
            async for rsp in dicomqr.move(conn, retrieve_query(a.study), a.dest_ae):
                if rsp.final:
                    final = rsp
                else:
                    pending += 1
        finally:
            await conn.release()
        seconds = time.perf_counter() - t0
    finally:
        await dest.close()
    files, nbytes = count_files(folder)
    errors: list[str] = []
    final_checks(final, a.expect, received, errors)
    if a.expect is not None and files != a.expect:
        errors.append(f"{files} files in the folder, expected {a.expect}")
    return {"seconds": seconds, "stored": received, "files": files, "bytes": nbytes,
            "pending_responses": pending, "ok": not errors, "errors": errors}


async def run(a: argparse.Namespace) -> dict[str, Any]:
    try:
        return await {"find": run_find, "get": run_get, "move": run_move}[a.op](a)
    except Exception as exc:  # reported, never a traceback without JSON
        return {"seconds": 0.0, "ok": False, "errors": [f"{type(exc).__name__}: {exc}"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("op", choices=["find", "get", "move"])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ae", action="append", required=True, help="called AE title(s)")
    ap.add_argument("--patient-id", action="append", help="find: PatientID value(s)")
    ap.add_argument("--ae-set", action="append",
                    help="find: comma-separated called AE titles of client k (cycled; "
                    "instead of --ae)")
    ap.add_argument("--clients", type=int, default=1)
    ap.add_argument("--no-decode", action="store_true",
                    help="find: count the matches without decoding them (distinct by bytes)")
    ap.add_argument("--expect", type=int)
    ap.add_argument("--study")
    ap.add_argument("--od")
    ap.add_argument("--dest-ae", default="DQRSTORE")
    ap.add_argument("--dest-port", type=int)
    ap.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    a = ap.parse_args(argv)
    result: dict[str, Any]
    if a.loop == "uvloop":
        try:
            import uvloop
        except ImportError:
            result = asyncio.run(run(a))
        else:
            result = uvloop.run(run(a))
    else:
        result = asyncio.run(run(a))
    print(json.dumps(result), flush=True)
    return 0 if result.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
