#!/usr/bin/env python3
"""Archive-server benchmark: ``dicomqr serve`` against pynetdicom qrscp, DCMTK dcmqrscp, Orthanc.

Every server is an archive that is filled by C-STORE and then queried and retrieved from;
the clients are the same DCMTK tools for all of them (``/usr/bin/...``, called by full path
because pynetdicom installs scripts of the same names), everything on 127.0.0.1, every
process with ``TCP_NODELAY=1`` in its environment.  The workload is the anchor benchmark's:
a query archive of 1,000 patients x 2 studies x 2 series x 2 instances (8,000 x 64x64 16-bit,
2,000 studies; ``archive_data.py``) and one 300 x 512x512 16-bit study (``gen_data.py``).

Rows (``--rows``):

* ``ingest``   storescu of the 8,000 instances into a freshly started, empty server
               (instances/s; dcmqrscp: 4 storage areas of 500 studies, 4 storescu runs in
               sequence), and of the 300-instance study on top (MiB/s, row ``ingest-study``).
* ``find-all`` findscu, Study Root, STUDY level, ``PatientName=*`` with the return keys
               PatientID, StudyInstanceUID, StudyDate, StudyTime, AccessionNumber, StudyID,
               StudyDescription: all 2,000 studies (wall seconds; dcmqrscp: 4 findscu runs).
* ``find-qd``  the same keys with ``PatientName=A*`` and ``StudyDate=20180101-20201231``.
* ``get``      getscu of the 300-instance study into a fresh folder (MiB/s).
* ``move``     movescu of that study to a DCMTK ``storescp -od`` (MiB/s).
* ``find10``   10 findscu processes at once, each running the ``find-all`` query (total
               responses/s).

Repetitions are interleaved (each repetition runs every server once, the order rotating),
every run is checked (exit status, error lines, stored instance counts, the received files
and their SOP Instance UIDs; the C-FIND answers in an untimed counting run before the timed
ones, timed findscu runs use ``-ll error``), cells report medians, and each row has the ratio
dicomqr / peer.  Results go to ``WORK/results/archive-<time>.json`` and the section of
``bench/RESULTS.md`` between ``<!-- archive:begin -->`` and ``<!-- archive:end -->``.

WORK is ``$DICOMQR_BENCH_WORK`` or ``/tmp/dicomqr-bench``.  With ``--quick`` the data are
small (40 patients, a 20-instance study), there is one repetition, and the report goes to
``WORK/results/archive-quick.md`` instead of ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import archive_data  # noqa: E402
import archive_peers as peers_mod  # noqa: E402
import gen_data  # noqa: E402
import run as bench  # noqa: E402
from archive_peers import HOST, LABELS, MOVE_AE, PEERS, Peer  # noqa: E402

DCMTK = bench.DCMTK
log = bench.log

ROWS = ("ingest", "find-all", "find-qd", "get", "move", "find10")
CONCURRENT = 10
SHORT = {"dicomqr": "dicomqr", "pynetdicom": "pynetdicom", "dcmqrscp": "dcmqrscp",
         "orthanc": "Orthanc"}
BEGIN, END = "<!-- archive:begin -->", "<!-- archive:end -->"
NETNS_VAR = "DICOMQR_ARCHIVE_BENCH_NETNS"
RETURN_KEYS = ["PatientID", "StudyInstanceUID", "StudyDate", "StudyTime", "AccessionNumber",
               "StudyID", "StudyDescription"]
QUICK = {"patients": 40, "part_patients": 10, "study": 20}
FULL = {"patients": archive_data.PATIENTS_DEFAULT,
        "part_patients": archive_data.PART_PATIENTS_DEFAULT, "study": gen_data.LARGE_DEFAULT}

# cell rows of the report: (title, unit, higher is better, ratio basis)
ROW_INFO: dict[str, tuple[str, str, bool, str]] = {
    "ingest": ("1. Ingest the query archive (storescu)", "inst/s", True, "value"),
    "ingest-study": ("1'. Ingest the retrieve study (storescu)", "MiB/s", True, "value"),
    "find-all": ("2. C-FIND `PatientName=*`, all studies (findscu)", "s", False, "value"),
    "find-qd": ("3. C-FIND `PatientName=A*`, StudyDate range (findscu)", "s", False, "value"),
    "get": ("4. C-GET of the retrieve study (getscu -od)", "MiB/s", True, "value"),
    "move": ("4'. C-MOVE of the retrieve study (movescu → storescp -od)", "MiB/s", True,
             "value"),
    "find10": ("5. 10 concurrent findscu, query 2 (total)", "resp/s", True, "seconds"),
}


# --------------------------------------------------------------------------- context


class H:
    """Everything a run needs: data, servers, the move destination, options."""

    def __init__(self, a: argparse.Namespace, work: Path, run_dir: Path) -> None:
        self.a = a
        self.work = work
        self.run_dir = run_dir
        self.scratch = run_dir / "scratch"
        self.scratch.mkdir(parents=True, exist_ok=True)
        self.query_dir = Path()
        self.qman: dict[str, Any] = {}
        self.study_dir = Path()
        self.sman: dict[str, Any] = {}
        self.study_uid = ""
        self.study_uids: set[str] = set()
        self.peers: dict[str, Peer] = {}
        self.unavailable: dict[str, str] = {}
        self.broken: dict[str, str] = {}  # peers that could not be started
        self.loaded: dict[str, set[str]] = {}  # peer -> {"query", "study"} stored now
        self.move_dir = run_dir / "move-dest"
        self.move_port = 0
        self.dest: peers_mod.Proc | None = None
        self.quiet = bench.Quiet(a.wait_idle, a.max_other_load, a.noise_budget)
        self.counter = 0
        self.loads: dict[str, Any] = {}  # untimed loads (when the ingest row is not run)

    def expected_stored(self, peer: str) -> int:
        n = 0
        if "query" in self.loaded[peer]:
            n += int(self.qman["instances"])
        if "study" in self.loaded[peer]:
            n += int(self.sman["instances"])
        return n

    def out_file(self, name: str) -> Path:
        self.counter += 1
        return self.scratch / f"{self.counter:05d}-{name}.txt"


# --------------------------------------------------------------------------- helpers


def run_cmd(cmd: list[str], out: Path, timeout: float) -> tuple[int | None, str, float]:
    """Run a client; (exit status or None on timeout, its output, wall seconds)."""
    with open(out, "wb") as f:
        t0 = time.perf_counter()
        try:
            rc: int | None = subprocess.run(cmd, env=bench.dcmtk_env(), stdout=f,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            timeout=timeout, check=False).returncode
        except subprocess.TimeoutExpired:
            rc = None
        seconds = time.perf_counter() - t0
    return rc, out.read_text(errors="replace"), seconds


def bad_lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.startswith(("E:", "F:"))]


def check_client(name: str, rc: int | None, text: str, timeout: float) -> list[str]:
    errors = []
    if rc is None:
        errors.append(f"{name} killed after {timeout:.0f} s")
    elif rc != 0:
        errors.append(f"{name} exit status {rc}")
    bad = bad_lines(text)
    if bad:
        errors.append(f"{name}: " + " | ".join(bad[:3]))
    return errors


def _tree(pid: int | None, forks: bool) -> tuple[float, dict[int, float]]:
    """CPU of a process incl. reaped children, and (forking servers) of its live children."""
    if pid is None:
        return 0.0, {}
    kids = {k: bench.own_cpu(k) for k in bench.children(pid)} if forks else {}
    return bench._proc_cpu(pid), kids


class Probe:
    """CPU used during one run by the server, by the harness's other processes and clients,
    and by everything else on the machine (``other_cpu_pct``)."""

    def __init__(self, peer: Peer | None) -> None:
        self.main = (peer.proc.pid if peer and peer.proc else None, bool(peer and peer.forks))
        self.helpers = [p.pid for p in peers_mod.STARTED if p.pid != self.main[0]]
        self.wall = time.perf_counter()
        self.busy = bench._busy_seconds()
        self.cpu0 = _tree(*self.main)
        self.help0 = sum(bench._proc_cpu(p) for p in self.helpers)
        t = os.times()
        self.ours = t.user + t.system + t.children_user + t.children_system

    def result(self) -> dict[str, float]:
        wall = time.perf_counter() - self.wall
        busy = bench._busy_seconds() - self.busy
        own1, kids1 = _tree(*self.main)
        server = max(0.0, own1 - self.cpu0[0] + sum(
            v - self.cpu0[1].get(k, 0.0) for k, v in kids1.items()))
        helpers = max(0.0, sum(bench._proc_cpu(p) for p in self.helpers) - self.help0)
        t = os.times()
        clients = t.user + t.system + t.children_user + t.children_system - self.ours
        other = max(0.0, busy - server - helpers - clients)
        ncpu = len(os.sched_getaffinity(0))
        return {"server_cpu_s": round(server, 3), "client_cpu_s": round(clients, 3),
                "other_cpu_pct": round(100.0 * other / (ncpu * wall), 1) if wall > 0 else 0.0}


def failed_run(error: str) -> dict[str, Any]:
    return {"ok": False, "seconds": 0.0, "value": 0.0, "errors": [error], "warnings": []}


def finish(run: dict[str, Any], errors: list[str], peer: Peer) -> dict[str, Any]:
    if peer.proc is not None and not peer.alive():
        errors.append(f"{peer.key} died:\n{peer.proc.tail(8)}")
    run["ok"] = not errors
    run["errors"] = errors
    run.setdefault("warnings", [])
    return run


def ensure_running(h: H, peer: Peer) -> str:
    """'' when the server is up; restarts one that died (keeping its data)."""
    if peer.key in h.broken:
        return h.broken[peer.key]
    if peer.alive():
        return ""
    tail = peer.proc.tail(8) if peer.proc else ""
    log(f"  {peer.key} is not running; restarting it on its data\n{tail}")
    err = peer.start(fresh=False)
    if err:
        h.broken[peer.key] = f"died and could not be restarted: {err}"
        return h.broken[peer.key]
    return ""


# --------------------------------------------------------------------------- clients


def storescu_cmd(port: int, ae: str, folder: Path) -> list[str]:
    return [str(DCMTK / "storescu"), "+sd", "+r", "+sp", "*.dcm", "-aet", "STORESCU",
            "-aec", ae, HOST, str(port), str(folder)]


def find_keys(query: dict[str, Any]) -> list[str]:
    keys = ["-k", "QueryRetrieveLevel=STUDY", "-k", f"PatientName={query['PatientName']}"]
    for k in RETURN_KEYS:
        if k == "StudyDate" and query.get("StudyDate"):
            keys += ["-k", f"StudyDate={query['StudyDate']}"]
        else:
            keys += ["-k", k]
    return keys


def findscu_cmd(port: int | str, ae: str, query: dict[str, Any], mode: str) -> list[str]:
    """mode: ``quiet`` (``-ll error``, timed runs), ``lines`` (``-v -sr``: one line per
    response) or ``dump`` (``-v``: every response dumped, the counting run)."""
    out = {"quiet": ["-ll", "error"], "lines": ["-v", "-sr"], "dump": ["-v"]}[mode]
    return [str(DCMTK / "findscu"), "-S", "-aet", "FINDSCU", "-aec", ae, *out,
            *find_keys(query), HOST, str(port)]


def getscu_cmd(port: int | str, ae: str, uid: str, out: Path | str) -> list[str]:
    return [str(DCMTK / "getscu"), "-S", "-aet", "GETSCU", "-aec", ae,
            "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={uid}",
            "-od", str(out), HOST, str(port)]


def movescu_cmd(port: int | str, ae: str, uid: str) -> list[str]:
    return [str(DCMTK / "movescu"), "-S", "-aet", "MOVESCU", "-aec", ae, "-aem", MOVE_AE,
            "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={uid}", HOST, str(port)]


_RESPONSE = re.compile(r"(?:Received )?Find Response:? (\d+)")
_FINAL = re.compile(r"Received Final Find Response \(([^)]*)\)")
_STUDY_UID = re.compile(r"\(0020,000d\) UI \[([^\]]*)\]")


# --------------------------------------------------------------------------- runs


def store(h: H, peer: Peer, what: str) -> dict[str, Any]:
    """storescu of the query archive (``what='query'``) or of the retrieve study into the
    running server; checked by the instance count the server reports afterwards."""
    if what == "query":
        jobs = peer.ingest_jobs(h.query_dir)
        count, nbytes = int(h.qman["instances"]), int(h.qman["bytes"])
    else:
        jobs = [(peer.retrieve_ae(), h.study_dir)]
        count, nbytes = int(h.sman["instances"]), int(h.sman["bytes"])
    timeout = max(120.0, count / 10.0)  # pynetdicom qrscp stores ~80 small instances/s
    errors: list[str] = []
    probe = Probe(peer)
    total = 0.0
    for ae, folder in jobs:
        rc, text, seconds = run_cmd(storescu_cmd(peer.port, ae, folder),
                                    h.out_file(f"storescu-{peer.key}"), timeout)
        total += seconds
        errors += check_client(f"storescu -aec {ae}", rc, text, timeout)
    r: dict[str, Any] = {"seconds": round(total, 4), "associations": len(jobs), **probe.result()}
    r["value"] = count / total if what == "query" else nbytes / 2**20 / total
    r["instances_per_s"] = round(count / total, 1)
    h.loaded[peer.key].add(what)
    want = h.expected_stored(peer.key)
    stored, deadline = -1, time.monotonic() + 10.0
    while True:
        try:
            stored = peer.stored()
        except Exception as exc:  # a server that cannot say: the check fails
            errors.append(f"could not count the stored instances: {exc!r}")
            break
        if stored >= want or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    r["stored"] = stored
    if stored >= 0 and stored != want:
        errors.append(f"server holds {stored} instances, expected {want}")
    return finish(r, errors, peer)


def ingest_query(h: H, peer: Peer) -> dict[str, Any]:
    """Fresh, empty server, then storescu of the query archive (the start is not timed)."""
    h.loaded[peer.key] = set()
    err = peer.start(fresh=True)
    if err:
        return failed_run(f"{peer.key} did not start: {err}")
    h.quiet.wait()
    return store(h, peer, "query")


def count_find(h: H, peer: Peer, qname: str) -> dict[str, Any]:
    """Untimed findscu ``-v`` run(s): responses, distinct studies, final status; checked
    against the manifest.  pynetdicom qrscp answers once per instance (known duplicates)."""
    query = h.qman["queries"][qname]
    responses, finals, errors = 0, [], []
    uids: list[str] = []
    for ae in peer.query_aes():
        rc, text, _ = run_cmd(findscu_cmd(peer.port, ae, query, "dump"),
                              h.out_file(f"count-{qname}-{peer.key}"), 300)
        errors += check_client(f"findscu -aec {ae}", rc, text, 300)
        responses += len(_RESPONSE.findall(text))
        finals += _FINAL.findall(text)
        uids += _STUDY_UID.findall(text)
    distinct = set(uids)
    want_uids = set(h.qman["study_uids"] if qname == "all" else query["study_uids"])
    studies, instances = int(query["studies"]), int(query["instances"])
    if any(f != "Success" for f in finals) or len(finals) != len(peer.query_aes()):
        errors.append(f"final responses {finals}, expected Success per association")
    if distinct != want_uids:
        errors.append(f"{len(distinct)} distinct StudyInstanceUIDs, expected {studies} "
                      f"({len(want_uids - distinct)} missing, {len(distinct - want_uids)} "
                      "unexpected)")
    if peer.key == "pynetdicom" and responses == instances and instances != studies:
        note = (f"{responses} responses for {studies} studies: one per instance "
                "(pynetdicom qrscp does not de-duplicate)")
    else:
        note = ""
        if responses != studies:
            errors.append(f"{responses} responses, expected {studies}")
    return {"ok": not errors, "responses": responses, "distinct_studies": len(distinct),
            "expected_studies": studies, "finals": finals, "note": note, "errors": errors}


def find_run(h: H, peer: Peer, qname: str, expect: int | None) -> dict[str, Any]:
    query = h.qman["queries"][qname]
    mode = "lines" if h.a.count_every_run else "quiet"
    errors: list[str] = []
    probe = Probe(peer)
    total, responses = 0.0, 0
    for ae in peer.query_aes():
        rc, text, seconds = run_cmd(findscu_cmd(peer.port, ae, query, mode),
                                    h.out_file(f"find-{qname}-{peer.key}"), 300)
        total += seconds
        errors += check_client(f"findscu -aec {ae}", rc, text, 300)
        if mode == "lines":
            responses += len(_RESPONSE.findall(text))
            if _FINAL.findall(text) != ["Success"]:
                errors.append(f"findscu -aec {ae}: final {_FINAL.findall(text) or 'missing'}")
        elif text.strip():
            errors.append(f"findscu -aec {ae} printed at -ll error: {text.strip()[:200]}")
    r: dict[str, Any] = {"seconds": round(total, 4), "value": total,
                         "associations": len(peer.query_aes()), **probe.result()}
    if mode == "lines":
        r["responses"] = responses
        if expect is not None and responses != expect:
            errors.append(f"{responses} responses, expected {expect} (counting run)")
    return finish(r, errors, peer)


def find10_run(h: H, peer: Peer, per_client: int) -> dict[str, Any]:
    """CONCURRENT clients started together (a barrier), each running the ``all`` query
    (dcmqrscp: its storage areas one after the other); wall time until the last exits."""
    query = h.qman["queries"]["all"]
    mode = "lines" if h.a.count_every_run else "quiet"
    results: list[tuple[int, list[str], float]] = [(0, [], 0.0)] * CONCURRENT
    barrier = threading.Barrier(CONCURRENT + 1)
    time.sleep(2.0)  # let the associations of earlier runs close (pynetdicom: at most 10)

    def client(k: int) -> None:
        n, errs = 0, []
        barrier.wait()
        try:
            for ae in peer.query_aes():
                rc, text, _ = run_cmd(findscu_cmd(peer.port, ae, query, mode),
                                      h.scratch / f"find10-{peer.key}-c{k}-{ae}.txt", 900)
                errs += check_client(f"client {k + 1} -aec {ae}", rc, text, 900)
                n += len(_RESPONSE.findall(text))
                if mode == "quiet" and text.strip() and not bad_lines(text):
                    errs.append(f"client {k + 1} printed at -ll error: {text.strip()[:200]}")
        except Exception as exc:  # reported as this client's failure
            errs.append(f"client {k + 1}: harness error {exc!r}")
        results[k] = (n, errs, time.perf_counter())

    threads = [threading.Thread(target=client, args=(k,)) for k in range(CONCURRENT)]
    for t in threads:
        t.start()
    probe = Probe(peer)
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    seconds = max(r[2] for r in results) - t0
    errors = [e for r in results for e in r[1]]
    failed = sum(1 for r in results if r[1])
    r: dict[str, Any] = {"seconds": round(seconds, 4),
                         "value": CONCURRENT * per_client / seconds if seconds else 0.0,
                         "failed_clients": failed,
                         "client_seconds": [round(x[2] - t0, 3) for x in results],
                         **probe.result()}
    if mode == "lines":
        r["per_client"] = [x[0] for x in results]
        if any(x[0] != per_client for x in results):
            errors.append(f"responses per client {r['per_client']}, expected {per_client}")
    return finish(r, errors, peer)


def check_files(h: H, folder: Path, first: bool, errors: list[str], r: dict[str, Any]) -> None:
    want = len(h.study_uids)
    deadline = time.monotonic() + 5.0
    files, nbytes, _partial, uids = bench.received_stats(folder)
    while files < want and time.monotonic() < deadline:
        time.sleep(0.05)
        files, nbytes, _partial, uids = bench.received_stats(folder)
    r.update(files=files, received_mib=round(nbytes / 2**20, 2))
    if files != want:
        errors.append(f"{files} files received, {want} expected")
    if uids != h.study_uids:
        errors.append(f"file names do not match the study's SOP Instance UIDs "
                      f"({len(h.study_uids - uids)} missing, {len(uids - h.study_uids)} "
                      "unexpected)")
    if first and not errors:
        pixels = 2 * int(h.sman["rows"]) * int(h.sman["columns"])
        msg = bench.sample_check(folder, h.study_uids, pixels, k=3)
        if msg:
            errors.append(msg)
        r["sample_parsed"] = True


def get_run(h: H, peer: Peer, first: bool) -> dict[str, Any]:
    out = h.scratch / f"get-{peer.key}-{h.counter}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    os.sync()
    probe = Probe(peer)
    rc, text, seconds = run_cmd(getscu_cmd(peer.port, peer.retrieve_ae(), h.study_uid, out),
                                h.out_file(f"getscu-{peer.key}"), 600)
    r: dict[str, Any] = {"seconds": round(seconds, 4),
                         "value": int(h.sman["bytes"]) / 2**20 / seconds, **probe.result()}
    errors = check_client("getscu", rc, text, 600)
    r["warnings"] = [ln for ln in text.splitlines() if ln.startswith("W:")][:3]
    check_files(h, out, first, errors, r)
    shutil.rmtree(out, ignore_errors=True)
    return finish(r, errors, peer)


def move_run(h: H, peer: Peer, first: bool) -> dict[str, Any]:
    if h.dest is None or not h.dest.alive():
        return failed_run("the C-MOVE destination storescp is not running")
    bench.clear_received(h.move_dir)
    os.sync()
    probe = Probe(peer)
    rc, text, seconds = run_cmd(movescu_cmd(peer.port, peer.retrieve_ae(), h.study_uid),
                                h.out_file(f"movescu-{peer.key}"), 600)
    r: dict[str, Any] = {"seconds": round(seconds, 4),
                         "value": int(h.sman["bytes"]) / 2**20 / seconds, **probe.result()}
    errors = check_client("movescu", rc, text, 600)
    r["warnings"] = [ln for ln in text.splitlines() if ln.startswith("W:")][:3]
    check_files(h, h.move_dir, first, errors, r)
    bench.clear_received(h.move_dir)
    return finish(r, errors, peer)


# --------------------------------------------------------------------------- measuring


def guarded(fn: Callable[[], dict[str, Any]], what: str) -> dict[str, Any]:
    try:
        return fn()
    except Exception as exc:  # a harness problem must not stop the other cells
        log(f"  harness error in {what}: {exc!r}")
        return failed_run(f"harness error: {exc!r}")


def record(h: H, runs: dict[str, list[dict[str, Any]]], row: str, peer: Peer, rep: int,
           fn: Callable[[], dict[str, Any]], repeatable: bool = True) -> dict[str, Any]:
    """One timed run of a cell (after waiting for quiet CPUs), repeated once if other
    processes took too much CPU meanwhile and the run can be repeated."""
    err = ensure_running(h, peer) if row not in ("ingest",) else ""
    if err:
        r = failed_run(f"{peer.key} not running: {err}")
    else:
        if row != "ingest":  # ingest_query waits after the (untimed) fresh start
            h.quiet.wait()
        r = guarded(fn, f"{row}/{peer.key}")
        if repeatable and h.quiet.should_repeat(r):
            log(f"  rep {rep + 1} {row}/{peer.key}: {r['seconds']:.3f} s with "
                f"{r['other_cpu_pct']:.0f}% of the CPUs used by other processes; repeating")
            first = r
            if row != "ingest":
                h.quiet.wait()
            r = guarded(fn, f"{row}/{peer.key}")
            r["discarded_attempt"] = {k: first.get(k) for k in ("seconds", "value",
                                                                "other_cpu_pct")}
    r["rep"] = rep + 1
    runs.setdefault(row, {}).setdefault(peer.key, []).append(r)  # type: ignore[arg-type]
    unit = ROW_INFO[row][1]
    status = "ok" if r["ok"] else "FAILED " + "; ".join(r["errors"])[:300]
    log(f"  rep {rep + 1} {row}/{peer.key}: {r['seconds']:.3f} s = {r['value']:.4g} {unit} "
        f"{status}")
    return r


def rotate(items: list[Peer], k: int) -> list[Peer]:
    if not items:
        return items
    k %= len(items)
    return items[k:] + items[:k]


def load(h: H, peer: Peer, what: str, fresh: bool) -> None:
    """Untimed, checked storescu (when the ingest row is not measured)."""
    if fresh:
        h.loaded[peer.key] = set()
        err = peer.start(fresh=True)
        if err:
            h.broken[peer.key] = f"did not start: {err}"
            log(f"  {peer.key} did not start: {err}")
            return
    elif ensure_running(h, peer):
        return
    r = guarded(lambda: store(h, peer, what), f"load {what}/{peer.key}")
    h.loads.setdefault(peer.key, {})[what] = {k: r.get(k) for k in (
        "ok", "seconds", "stored", "errors")}
    log(f"  loaded {what} into {peer.key} (untimed): {r['seconds']:.1f} s, "
        f"{'ok' if r['ok'] else 'FAILED ' + '; '.join(r['errors'])[:300]}")


def measure(h: H, rows: list[str], active: list[Peer], reps: int) -> dict[str, Any]:
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {}
    counts: dict[str, dict[str, Any]] = {}
    needs_query = any(r in rows for r in ("find-all", "find-qd", "find10"))
    needs_study = any(r in rows for r in ("get", "move"))

    # 1. ingest (or an untimed load)
    if "ingest" in rows:
        log("== row ingest")
        for rep in range(reps):
            for p in rotate(active, rep):
                r = record(h, runs, "ingest", p, rep, lambda p=p: ingest_query(h, p))
                if not p.alive():
                    h.broken[p.key] = "; ".join(r["errors"])[:500] or "not running"
                    continue
                h.broken.pop(p.key, None)
                if rep < reps - 1 or not needs_query:
                    record(h, runs, "ingest-study", p, rep, lambda p=p: store(h, p, "study"),
                           repeatable=False)
    else:
        for p in active:
            if needs_query:
                load(h, p, "query", fresh=True)
            elif needs_study:
                load(h, p, "study", fresh=True)

    # 2, 3. single C-FINDs
    for row, qname in (("find-all", "all"), ("find-qd", "qd")):
        if row not in rows and not (row == "find-all" and "find10" in rows):
            continue
        log(f"== row {row}" + ("" if row in rows else " (counting run only, for find10)"))
        for p in active:
            if ensure_running(h, p):
                counts.setdefault(row, {})[p.key] = {"ok": False, "errors": [h.broken[p.key]]}
                continue
            c = guarded(lambda p=p, q=qname: count_find(h, p, q), f"count {row}/{p.key}")
            counts.setdefault(row, {})[p.key] = c
            log(f"  counting run {row}/{p.key}: {c.get('responses')} responses, "
                f"{c.get('distinct_studies')} studies "
                f"{'ok' if c['ok'] else 'FAILED ' + '; '.join(c['errors'])[:300]}")
        if row not in rows:
            continue
        for rep in range(reps):
            for p in rotate(active, rep):
                c = counts[row].get(p.key, {})
                record(h, runs, row, p, rep,
                       lambda p=p, q=qname, c=c: find_run(h, p, q, c.get("responses")))

    # 5. concurrent C-FINDs
    if "find10" in rows:
        log("== row find10")
        for rep in range(reps):
            for p in rotate(active, rep):
                c = counts.get("find-all", {}).get(p.key, {})
                per = int(c["responses"] if c.get("ok") else h.qman["queries"]["all"]["studies"])
                record(h, runs, "find10", p, rep, lambda p=p, n=per: find10_run(h, p, n))

    # 1'. the retrieve study (the last ingest repetition, after the C-FINDs) and 4. retrieves
    if needs_study or "ingest" in rows:
        for p in active:
            if "study" in h.loaded.get(p.key, set()):
                continue
            if "ingest" in rows:
                record(h, runs, "ingest-study", p, reps - 1, lambda p=p: store(h, p, "study"),
                       repeatable=False)
            else:
                load(h, p, "study", fresh=False)
    for row, fn in (("get", get_run), ("move", move_run)):
        if row not in rows:
            continue
        log(f"== row {row}")
        for rep in range(reps):
            for p in rotate(active, rep):
                record(h, runs, row, p, rep, lambda p=p, f=fn, first=rep == 0: f(h, p, first))

    out: dict[str, Any] = {}
    for row in ROW_INFO:
        if row not in runs:
            continue
        cells = {}
        for key, rr in runs[row].items():
            s = bench.summarize(rr, ROW_INFO[row][2])
            s["runs"] = rr
            crow = "find-all" if row == "find10" else row
            if row.startswith("find") and key in counts.get(crow, {}):
                s["count"] = counts[crow][key]
                if not counts[crow][key]["ok"]:
                    s["ok"] = False
                    s["errors"] = sorted(set(s["errors"]) | {
                        f"counting run ({crow}): {e}" for e in counts[crow][key]["errors"]})
            if row == "find10":
                s["failed_clients"] = [r.get("failed_clients") for r in rr]
            cells[key] = s
        out[row] = {"cells": cells}
    return out


# --------------------------------------------------------------------------- report


def _fmt_value(row: str, v: float) -> str:
    return f"{v:.3f} s" if ROW_INFO[row][1] == "s" else f"{bench.fmt(v)} {ROW_INFO[row][1]}"


def cell_text(row: str, cell: dict[str, Any] | None, unavailable: str | None) -> str:
    if unavailable:
        return "n/a (unavailable)"
    if cell is None:
        return "—"
    spread = f" (±{cell['spread_pct']:.0f}%)" if cell.get("reps_ok", 0) > 1 else ""
    if not cell.get("ok"):
        part = (f" (timed runs {cell['reps_ok']}/{cell['reps']} ok: "
                f"{_fmt_value(row, cell['median'])})") if "median" in cell else ""
        return f"**FAILED**{part}"
    text = _fmt_value(row, cell["median"]) + spread
    if row in ("ingest", "ingest-study", "find10") and "median_seconds" in cell:
        text += f"; {cell['median_seconds']:.2f} s"
    count = cell.get("count")
    if row.startswith("find-") and count:
        text += f"; {count['responses']:,} resp."
        if count["responses"] != count["distinct_studies"]:
            text += f" ({count['distinct_studies']:,} studies)"
    return text


def ratio_text(row: str, dq: dict[str, Any] | None, peer: dict[str, Any] | None) -> str:
    if not dq or not peer or not dq.get("ok") or not peer.get("ok"):
        return "—"
    higher, basis = ROW_INFO[row][2], ROW_INFO[row][3]
    if basis == "seconds":
        r = peer["median_seconds"] / dq["median_seconds"]
    else:
        r = dq["median"] / peer["median"] if higher else peer["median"] / dq["median"]
    return f"{r:.3g}x"


def render(res: dict[str, Any]) -> str:
    meta, m, cfg = res["meta"], res["machine"], res["config"]
    wl = res["workload"]
    q, s = wl["query"], wl["study"]
    order = [k for k in PEERS if k in res["peers"]]
    others = [k for k in order if k != "dicomqr"]
    out = [BEGIN, "## Archive servers: `dicomqr serve` against pynetdicom qrscp, DCMTK dcmqrscp "
           "and Orthanc\n"]
    out.append(f"Measured {meta['date']} (harness wall time {meta['wall_s']:.0f} s; load "
               f"average {meta['loadavg_start']} at the start, {meta['loadavg_end']} at the "
               f"end). Command: `{meta['command']}` (from the repository root"
               f"{', with DICOMQR_BENCH_WORK set' if meta.get('env_work') else ''}). "
               f"Written by `bench/archive.py`. Network: {meta['netns']}.\n")
    if meta.get("nonstandard"):
        out.append(f"**Non-standard run:** {meta['nonstandard']}\n")
    out.append(f"Machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['memory']} RAM, {m['os']}, "
               f"kernel {m['kernel']}, {m['python']}, DCMTK clients {m['dcmtk_package']}, "
               f"scratch on {m['work_fs']}.\n")
    out.append(f"Workload: query archive of {q['patients']:,} patients x 2 studies x 2 series x "
               f"2 instances = {q['instances']:,} instances ({q['studies']:,} studies, 64x64 "
               f"16-bit CT/MR, Explicit VR LE, {q['bytes'] / 2**20:.1f} MiB; "
               f"`bench/archive_data.py`), and one study of {s['instances']} x 512x512 16-bit CT "
               f"({s['bytes'] / 2**20:.1f} MiB; `bench/gen_data.py`). Query 3 "
               f"(`PatientName={q['queries']['qd']['PatientName']}`, "
               f"`StudyDate={q['queries']['qd']['StudyDate']}`) matches "
               f"{q['queries']['qd']['studies']} studies.\n")
    out.append(f"Medians of {cfg['reps']} interleaved repetition(s) (every repetition runs each "
               "server once, the order rotating); (±x%) is half the min-max spread relative to "
               "the median. Ratio columns: dicomqr's speed ÷ the peer's, from the medians "
               "(>1: dicomqr faster; rows in seconds: peer time ÷ dicomqr time; row 5: from the "
               "wall times, since the peers send different numbers of responses). A cell is "
               "FAILED if any repetition (or its counting run) failed a check.\n")
    out.append("### Servers\n")
    out.append("| server | version | command | settings |\n|---|---|---|---|")
    for k in order:
        p = res["peers"][k]
        if p.get("unavailable"):
            out.append(f"| {LABELS[k]} | — | — | **unavailable**: {p['unavailable']} |")
            continue
        extra = f" **Did not start:** {p['start_error'][:200]}" if p.get("start_error") else ""
        out.append(f"| {LABELS[k]} | {p['version']} | `{p['command']}` | {p['settings']}"
                   f"{extra} |")
    out.append("")
    out.append("Clients (DCMTK, from `/usr/bin`, each with `TCP_NODELAY=1`; PORT, AE, UID, DIR "
               "filled in; dcmqrscp gets one run per storage area, in sequence):\n")
    for name, cmd in res["clients"].items():
        out.append(f"- {name}: {cmd}")
    out.append("")
    out.append("### Results\n")
    head = "| row | " + " | ".join(LABELS[k] for k in order)
    head += "".join(f" | dicomqr / {SHORT[k]}" for k in others if "dicomqr" in order)
    out.append(head + " |")
    out.append("|---" * (1 + len(order) + (len(others) if "dicomqr" in order else 0)) + "|")
    rows = res["rows"]
    for row, (title, *_rest) in ROW_INFO.items():
        if row not in rows:
            continue
        cells = rows[row]["cells"]
        line = f"| {title} | " + " | ".join(
            cell_text(row, cells.get(k), res["peers"][k].get("unavailable")) for k in order)
        if "dicomqr" in order:
            line += "".join(f" | {ratio_text(row, cells.get('dicomqr'), cells.get(k))}"
                            for k in others)
        out.append(line + " |")
    out.append("")
    out.append("### Details per cell\n")
    out.append("Per-repetition values, the median wall time, the server's CPU seconds during "
               "the run (dcmqrscp with its forked children), the largest share of the CPUs "
               "that other processes used during a repetition, and the checks.\n")
    out.append("| row | server | per repetition | median wall | server CPU | other load | "
               "checks |\n|---|---|---|---|---|---|---|")
    for row in ROW_INFO:
        if row not in rows:
            continue
        for k in order:
            c = rows[row]["cells"].get(k)
            if c is None:
                continue
            per = ", ".join(_fmt_value(row, r["value"]) for r in c["runs"] if r["ok"]) or "—"
            wall = f"{c['median_seconds']:.3f} s" if "median_seconds" in c else "—"
            cpu = f"{c['server_cpu_s']:.2f} s" if "server_cpu_s" in c else "—"
            other = f"{c['other_cpu_pct_max']:.0f}%" if "other_cpu_pct_max" in c else "—"
            checks = f"ok ({c['reps_ok']}/{c['reps']})" if c["ok"] else (
                f"**FAILED** ({c['reps_ok']}/{c['reps']} ok): "
                + "; ".join(e.replace("\n", " ").replace("|", "/") for e in c["errors"])[:400])
            if c.get("count", {}).get("note"):
                checks += f"; {c['count']['note']}"
            out.append(f"| {row} | {LABELS[k]} | {per} | {wall} | {cpu} | {other} | "
                       f"{checks} |")
    out.append("")
    if res.get("loads"):
        out.append("Untimed loads (the ingest row was not measured): " + "; ".join(
            f"{LABELS[k]} {w}: {v['seconds']:.1f} s, {'ok' if v['ok'] else 'FAILED'}"
            for k, d in res["loads"].items() for w, v in d.items()) + ".\n")
    if res.get("noise"):
        n = res["noise"]
        if n["waited_s"] >= 1 or n["repeated"]:
            out.append(f"Other processes were using the machine: waited {n['waited_s']:.0f} s "
                       f"for idle CPUs, repeated {n['repeated']} run(s) (only the repeat "
                       "counts).\n")
    out.append("### How it is measured, and the peers' caveats\n")
    out.append(method_text(res))
    out.append(END)
    return "\n".join(out) + "\n"


def method_text(res: dict[str, Any]) -> str:
    wl = res["workload"]["query"]
    parts = len(wl["parts"])
    per_area = max(p["studies"] for p in wl["parts"])
    dq = res["peers"].get("dicomqr", {})
    present = {k for k, v in res["peers"].items() if not v.get("unavailable")}
    all_q = wl["queries"]["all"]
    lines = [
        "- **Ingest** (row 1): every repetition starts each server anew on an empty data "
        "folder (start not timed) and runs storescu (`+sd +r`, which reads every file before "
        "it associates) over the query archive; the server's own count of stored instances "
        "(dicomqr: Part 10 files in its archive folder; pynetdicom: rows of its SQLite "
        "instance table; dcmqrscp: files in its storage areas; Orthanc: `/statistics`) must "
        "match. Row 1' stores the retrieve study on top; in the last repetition that happens "
        "after the C-FIND rows, so that those see only the query archive.",
        f"- **dcmqrscp holds at most 500 studies per storage area** (it clamps the AETable "
        "quota to 500 and evicts the oldest study of a full area), so its query archive is "
        f"{parts} storage areas of {per_area} studies (AE titles DCMQR1..{parts}), and the "
        "retrieve study is in DCMQRRET. For dcmqrscp, ingest is "
        f"{parts} storescu runs and a C-FIND over all studies is {parts} findscu runs (one "
        "association each) in sequence; its times are the sums, process starts included.",
        "- **C-FIND** (rows 2, 3): before the timed runs, one untimed counting run per server "
        "with `findscu -v` counts the responses and the distinct StudyInstanceUIDs, compares "
        "them with the generated data's manifest, and checks the final Success. The timed runs "
        "use `-ll error` (findscu dumps every response otherwise) and are checked for exit "
        "status 0 and silence"
        + (" and, with `--count-every-run`, `-v -sr` and the response count." if
           res["config"].get("count_every_run") else "."),
        "- **pynetdicom qrscp answers once per instance, even at STUDY level** (one instance "
        f"table, no de-duplication): {wl['instances_per_study']} responses per study here "
        f"({all_q['instances']:,} for the {all_q['studies']:,} studies). Its counting run must "
        "show every expected study; the duplicates are reported, not failed. It silently "
        "drops return keys it does not index (StudyDescription).",
        f"- **pynetdicom qrscp network_timeout** is raised to "
        f"{res['config'].get('pynetdicom_network_timeout')} s (bundled default 30): it is an "
        "idle timer that only received data restarts, so an association whose C-FIND streams "
        "responses for longer is aborted after the final response (findscu exits 2). qrscp "
        "also accepts at most 10 associations at once, so in row 5 a client can be refused "
        "(\"Local Limit Exceeded\") while earlier associations wind down; the harness pauses "
        "2 s before each concurrent run, and a refused client fails the run.",
        "- **Row 5**: 10 findscu processes start together (a barrier), each running query 2 "
        "(dcmqrscp: its storage areas in sequence); wall time until the last exits; total "
        "responses/s = 10 x the responses of the counting run / wall time (pynetdicom's "
        "include its duplicates, so its ratio is taken from the wall times).",
        "- **Retrieves** (row 4): getscu `-od` into a new folder, movescu to a DCMTK "
        "`storescp -od` destination (one process for the whole run, AE STORESCP); MiB/s = "
        "the study's file bytes / client wall time. Each run is checked for exit status 0, "
        "no error lines, exactly the study's files (names carry the SOP Instance UIDs), and "
        "in the first repetition 3 files are parsed. All servers finish the sub-operations "
        "before the final C-MOVE response. Files are deleted and `sync` runs before each run.",
        "- **dicomqr C-MOVE destination**: `dicomqr serve --destination STORESCP=HOST:PORT` "
        + ("was passed." if dq.get("has_destination") else "is not an option of this dicomqr "
           "version, so it was started without a destination; its C-MOVE cell is expected to "
           "fail."),
        "- **Durability**: Orthanc fsyncs every stored file (`SyncStorageArea`, its "
        "default); `dicomqr serve` does so only with `--fsync` ("
        + ("given" if "--fsync" in res["config"].get("dicomqr_args", []) else "not given")
        + " here; `--dicomqr-arg=--fsync` adds it); pynetdicom and dcmqrscp write the files "
        "without. Each SQLite index syncs its own commits.",
        "- **TCP_NODELAY=1** is in the environment of every DCMTK process and of Orthanc "
        "(DCMTK 3.6.7 keeps Nagle's algorithm on without it: ~40 ms per small exchange).",
        "- **Orthanc** 1.10.1 cannot bind its DICOM port to one address; it listens on all "
        "interfaces, which is why the harness runs in a loopback-only network namespace when "
        "`unshare -n` works. Its defaults are kept (fsync per stored file, "
        "`StorageAccessOnFind: Always`), with DicomAlwaysAllow* so that unknown AEs may "
        "query and retrieve.",
        "- **Noise**: clients and servers share the CPUs. Before each run the harness waits "
        "(up to `--wait-idle` s) for the CPUs to be <15% busy and repeats a run once if "
        "others used more than `--max-other-load` %; sub-second cells still vary by ±10-40 % "
        "between repetitions, so differences under ~1.5x in them are not rankings.",
    ]
    keep = {"pynetdicom": ("- **pynetdicom",), "dcmqrscp": ("- **dcmqrscp",),
            "orthanc": ("- **Orthanc",), "dicomqr": ("- **dicomqr",)}
    for key, prefixes in keep.items():
        if key not in present:
            lines = [ln for ln in lines if not ln.startswith(prefixes)]
    return "\n".join(lines) + "\n"





def client_table(h: H) -> dict[str, str]:
    """Markdown of the client command lines (no paths or ports of this machine)."""
    qa = h.qman["queries"]["all"]
    qd = h.qman["queries"]["qd"]

    def show(cmd: list[str]) -> str:
        text = shlex.join(["TCP_NODELAY=1", *cmd]).replace(str(DCMTK) + "/", "")
        return "`" + text.replace(str(h.work), "WORK") + "`"
    return {
        "ingest": show(storescu_cmd(0, "AE", Path("DATA"))).replace(" 0 ", " PORT "),
        "query 2 (timed runs)": show(findscu_cmd("PORT", "AE", qa, "quiet")),
        "query 3 (timed runs)": show(findscu_cmd("PORT", "AE", qd, "quiet")),
        "counting runs": "the same with `-v` instead of `-ll error`"
        + ("; with `--count-every-run` the timed runs use `-v -sr`"
           if h.a.count_every_run else ""),
        "C-GET": show(getscu_cmd("PORT", "AE", "UID", "DIR")),
        "C-MOVE": show(movescu_cmd("PORT", "AE", "UID")) + ", destination "
        + show([str(DCMTK / "storescp"), "-aet", MOVE_AE, "-od", "DIR", "PORT"]),
    }


# --------------------------------------------------------------------------- main


def _on_signal(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def maybe_netns(a: argparse.Namespace, argv: list[str]) -> None:
    """Re-run this script in a new network namespace that has only a loopback interface."""
    if a.no_netns or os.environ.get(NETNS_VAR) or a.render_only:
        return
    if not shutil.which("unshare") or not shutil.which("ip"):
        return
    probe = subprocess.run(["unshare", "-n", "--", "ip", "link", "set", "lo", "up"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    if probe.returncode != 0:
        return
    os.environ[NETNS_VAR] = "1"
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvp("unshare", ["unshare", "-n", "--", "sh", "-c", 'ip link set lo up && exec "$@"',
                          "sh", sys.executable, str(Path(__file__).resolve()), *argv])


def wait_load(max_wait: float, below: float = 0.5) -> float:
    """Wait (at most ``max_wait`` s) until the 1-minute load average is below ``below``."""
    t0 = time.monotonic()
    said = False
    while True:
        load1 = float(Path("/proc/loadavg").read_text().split()[0])
        waited = time.monotonic() - t0
        if load1 < below or waited >= max_wait:
            if said:
                log(f"  load average {load1:.2f} after {waited:.0f} s; starting")
            return waited
        if not said:
            log(f"waiting up to {max_wait:.0f} s for the load average ({load1:.2f}) to fall "
                f"below {below}")
            said = True
        time.sleep(5.0)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--peers", default=",".join(PEERS),
                    help=f"servers, comma-separated (default {','.join(PEERS)})")
    ap.add_argument("--rows", default=",".join(ROWS),
                    help=f"rows, comma-separated (default {','.join(ROWS)})")
    ap.add_argument("--reps", type=int, default=None, help="repetitions (default 3; --quick 1)")
    ap.add_argument("--quick", action="store_true",
                    help="small data and 1 repetition, to check the harness; the report goes "
                    "to WORK/results/archive-quick.md unless --results-md is given")
    ap.add_argument("--wait-idle", type=float, default=30.0, metavar="SECONDS",
                    help="wait up to SECONDS for the load average to fall below 0.5 before "
                    "starting, and before each run for the CPUs to be idle (default 30; 0: "
                    "never wait)")
    ap.add_argument("--max-other-load", type=float, default=20.0, metavar="PCT",
                    help="repeat a run once if other processes used more than PCT%% of the "
                    "CPUs during it (default 20; 0: never)")
    ap.add_argument("--noise-budget", type=float, default=300.0, metavar="SECONDS",
                    help="total time waiting and repeating may add (default 300)")
    ap.add_argument("--count-every-run", action="store_true",
                    help="timed findscu runs with `-v -sr` (one line per response) instead of "
                    "`-ll error`, so that every run's responses are counted")
    ap.add_argument("--pynetdicom-network-timeout", type=int, default=600, metavar="SECONDS",
                    help="qrscp's network_timeout (default 600; the bundled default is 30)")
    ap.add_argument("--dicomqr-arg", action="append", default=[], metavar="ARG",
                    help="extra argument for `dicomqr serve` (repeatable), e.g. "
                    "--dicomqr-arg=--fsync")
    ap.add_argument("--work", type=Path, default=gen_data.default_workdir(),
                    help="scratch folder (default $DICOMQR_BENCH_WORK or /tmp/dicomqr-bench)")
    ap.add_argument("--results-md", type=Path, default=None,
                    help="report whose archive section is (re)written (default "
                    "bench/RESULTS.md; with --quick WORK/results/archive-quick.md)")
    ap.add_argument("--render-only", type=Path, metavar="JSON",
                    help="only render the section from an existing results JSON")
    ap.add_argument("--no-netns", action="store_true",
                    help="do not re-run in a loopback-only network namespace (unshare -n)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the servers' data folders and client logs under WORK")
    ap.add_argument("--lock-wait", type=float, default=900.0, metavar="SECONDS",
                    help="wait up to SECONDS for another benchmark on the same work folder")
    a = ap.parse_args(argv)
    work: Path = a.work.resolve()
    results_md = a.results_md or (work / "results" / "archive-quick.md" if a.quick
                                  else BENCH / "RESULTS.md")
    if a.render_only:
        bench.write_section(results_md, render(json.loads(a.render_only.read_text())),
                            BEGIN, END)
        log(f"wrote the archive section of {results_md}")
        return 0
    rows = bench.parse_list(a.rows, ROWS, "row")
    keys = bench.parse_list(a.peers, PEERS, "peer")
    reps = a.reps if a.reps is not None else (1 if a.quick else 3)
    if reps < 1 or not rows or not keys:
        raise SystemExit("nothing to do")
    for exe in ("storescu", "findscu", "getscu", "movescu", "storescp"):
        if not (DCMTK / exe).exists():
            raise SystemExit(f"{DCMTK / exe} missing: install DCMTK (apt-get install dcmtk)")
    maybe_netns(a, argv)
    netns = ("loopback-only network namespace (`unshare -n`)" if os.environ.get(NETNS_VAR)
             else "default namespace, 127.0.0.1 only")
    work.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, _on_signal)
    lock = open(work / ".run.lock", "w")  # noqa: SIM115 - held until exit
    if not bench.take_lock(lock, a.lock_wait):
        log("another benchmark still holds the work folder's lock; going on anyway")
    started = time.monotonic()
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = work / "archive-run" / f"{stamp}-{os.getpid()}"
    h = H(a, work, run_dir)
    size = QUICK if a.quick else FULL
    nonstandard = []
    if a.quick:
        nonstandard.append(f"--quick: {size['patients']} patients ({8 * size['patients']} "
                           f"instances), a {size['study']}-instance study, storage areas of "
                           f"{size['part_patients'] * 2} studies; numbers only check the harness")
    if a.count_every_run:
        nonstandard.append("timed findscu runs with `-v -sr` (--count-every-run)")
    if a.dicomqr_arg:
        nonstandard.append(f"dicomqr serve with `{shlex.join(a.dicomqr_arg)}`")
    if a.pynetdicom_network_timeout != 600:
        nonstandard.append(f"pynetdicom network_timeout {a.pynetdicom_network_timeout} s")
    res: dict[str, Any] = {
        "meta": {"date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                 "command": shlex.join(["python", "bench/archive.py", *argv]),
                 "env_work": os.environ.get("DICOMQR_BENCH_WORK", ""), "netns": netns,
                 "nonstandard": "; ".join(nonstandard), "quick": a.quick},
        "machine": bench.machine_info(work),
        "config": {"reps": reps, "rows": rows, "peers": keys, "wait_idle": a.wait_idle,
                   "max_other_load": a.max_other_load, "noise_budget": a.noise_budget,
                   "count_every_run": a.count_every_run, "dicomqr_args": a.dicomqr_arg,
                   "pynetdicom_network_timeout": a.pynetdicom_network_timeout, **size},
        "peers": {}, "rows": {},
    }
    try:
        h.query_dir, h.qman = archive_data.ensure(work, size["patients"], size["part_patients"],
                                                  log=log)
        h.study_dir, h.sman = gen_data.ensure(work, "large", size["study"])
        files = gen_data.data_files(h.study_dir)
        h.study_uids = bench.uids_of(files)
        from pydicom import dcmread

        h.study_uid = str(dcmread(files[0], stop_before_pixels=True).StudyInstanceUID)
        shown = json.loads(json.dumps(h.qman))  # a copy without the long UID lists
        del shown["study_uids"], shown["queries"]["qd"]["study_uids"]
        res["workload"] = {"query": shown, "study": h.sman}
        bench.warm_page_cache(h.study_dir)
        for part in h.qman["parts"]:
            bench.warm_page_cache(h.query_dir / part["name"])
        if a.wait_idle > 0:
            wait_load(a.wait_idle)
        res["meta"]["loadavg_start"] = " ".join(Path("/proc/loadavg").read_text().split()[:3])
        # the C-MOVE destination: one DCMTK storescp for the whole run
        h.move_port = bench.free_port()
        h.move_dir.mkdir(parents=True, exist_ok=True)
        h.dest = peers_mod.Proc([str(DCMTK / "storescp"), "-aet", MOVE_AE, "-od",
                                 str(h.move_dir), str(h.move_port)],
                                run_dir / "logs" / "move-dest-storescp.log", run_dir)
        parts = [p["name"] for p in h.qman["parts"]]
        active: list[Peer] = []
        for k in keys:
            p = peers_mod.CLASSES[k](run_dir / "peers", h.move_port, parts)
            if isinstance(p, peers_mod.PynetdicomPeer):
                p.network_timeout = a.pynetdicom_network_timeout
            if isinstance(p, peers_mod.DicomqrPeer):
                p.known_uids = archive_data.instance_uids(h.qman) | h.study_uids
                p.extra_args = list(a.dicomqr_arg)
            h.peers[k] = p
            h.loaded[k] = set()
            why = p.unavailable()
            res["peers"][k] = {"label": LABELS[k]}
            if why:
                log(f"{k}: unavailable: {why}")
                h.unavailable[k] = why
                res["peers"][k]["unavailable"] = why
                continue
            res["peers"][k]["version"] = p.version()
            if isinstance(p, peers_mod.DicomqrPeer):
                res["peers"][k]["has_destination"] = p.has_destination
                if not p.has_destination:
                    log("dicomqr serve has no --destination option: started without it")
            active.append(p)
        res["clients"] = client_table(h)
        res["rows"] = measure(h, rows, active, reps)
        for k, p in h.peers.items():
            if k in h.unavailable:
                continue
            res["peers"][k].update(command=p.shown_command(work), settings=p.settings())
            if k in h.broken:
                res["peers"][k]["start_error"] = h.broken[k]
        res["loads"] = h.loads
        res["noise"] = {"waited_s": round(h.quiet.waited, 1), "repeated": h.quiet.repeated}
    except KeyboardInterrupt:
        log("interrupted; stopping the servers")
        return 130
    finally:
        peers_mod.stop_all()
        if not a.keep:
            with contextlib.suppress(Exception):
                for p in h.peers.values():
                    p.cleanup()
                shutil.rmtree(run_dir / "scratch", ignore_errors=True)
                shutil.rmtree(h.move_dir, ignore_errors=True)
    res["meta"]["wall_s"] = time.monotonic() - started
    res["meta"]["loadavg_end"] = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    resdir = work / "results"
    resdir.mkdir(parents=True, exist_ok=True)
    name = f"archive-{'quick-' if a.quick else ''}{stamp}.json"
    text = json.dumps(res, indent=1, default=str)
    (resdir / name).write_text(text)
    (resdir / ("archive-quick.json" if a.quick else "archive.json")).write_text(text)
    results_md.parent.mkdir(parents=True, exist_ok=True)
    bench.write_section(results_md, render(res), BEGIN, END)
    log(f"wrote {resdir / name} and the archive section of {results_md} in "
        f"{res['meta']['wall_s']:.0f} s")
    failed = [f"{row}/{k}" for row, d in res["rows"].items()
              for k, c in d["cells"].items() if not c["ok"]]
    if failed:
        log(f"FAILED cells: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
