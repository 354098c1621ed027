#!/usr/bin/env python3
"""dicomqr Query/Retrieve benchmark against pynetdicom and DCMTK dcmqrscp.

Rows (everything on 127.0.0.1; each DCMTK process gets ``TCP_NODELAY=1``):

* ``find``    C-FIND, Study Root, STUDY level, 10,000 matches, responses/s.  Clients: DCMTK
              ``findscu`` and dicomqr's own SCU (``qr_client.py``).  dicomqr variants of the
              handler: plain generator of Datasets (the headline), pre-encoded bytes, async
              generator, async generator of bytes.  dcmqrscp holds at most 500 studies per
              storage area, so its 10,000 studies are 20 areas queried one after the other
              (20 associations); the ``dcmqrscp, 0 matches`` cell measures that overhead.
* ``find10``  10 concurrent findscu processes, 2,000 matches each (``PatientID=G<k>*``);
              total responses/s.  dcmqrscp: each client queries its group's 4 areas in
              sequence.  Also dicomqr's SCU running the 10 clients as asyncio tasks.
* ``get``     C-GET of the 300 x 512 KiB CT study (150 MiB), MiB/s.  Clients: ``getscu -od``
              (writes files), ``getscu --ignore`` (discards), dicomqr SCU get (writes files).
* ``move``    C-MOVE of the same study: ``movescu`` to DCMTK ``storescp -od`` (writes) and to
              ``storescp --ignore``, and dicomqr's SCU moving into its own ``storage_scp``.
* ``ceiling`` the receivers fed directly: ``storescu`` sending the same 300 files to the
              writing storescp, the ignoring storescp and ``dicomqr serve``.

Servers, all started once for the whole run: dicomqr (``qr_serve.py``, uvloop), pynetdicom
(``qr_pyn_scp.py``) and DCMTK ``dcmqrscp`` (index built with ``dcmqridx`` over the same files;
fork per association, its default).  Each row: one untimed warm-up per server, then the
repetitions interleaved (every cell once per repetition, the order rotating), each run checked
(exit status, error lines, the number of responses or of received instances, the final status,
files and their SOP Instance UIDs, and on the first repetition a few files parsed), a failed
run marks its cell failed.  Results: ``WORK/results/qr-<time>.json`` and the
"Query/Retrieve" section of ``bench/RESULTS.md`` (the rest of that file is left as it is).

WORK is ``$DICOMQR_BENCH_WORK`` or ``/tmp/dicomqr-bench``.
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
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

import gen_data  # noqa: E402
import qr_data  # noqa: E402
import run as bench  # noqa: E402

HOST = bench.HOST
DCMTK = bench.DCMTK
log = bench.log

ROWS = ("find", "find10", "get", "move", "ceiling")
SERVERS = ("dicomqr", "pynetdicom", "dcmqrscp")
FIND_VARIANTS = {  # called AE title -> handler variant of qr_serve.py
    "dicomqr": ("DICOMQR", "plain generator, Datasets"),
    "dicomqr-bytes": ("DQR-BYTES", "plain generator, pre-encoded bytes"),
    "dicomqr-async": ("DQR-ASYNC", "async generator, Datasets"),
    "dicomqr-abytes": ("DQR-ABYTES", "async generator, pre-encoded bytes"),
}
RET_AE = "DCMQRRET"
DEST_WRITE, DEST_IGNORE, DEST_DQR = "STORESCP", "STOREIGN", "DQRSTORE"
CONCURRENT = 10
QR_BEGIN, QR_END = "<!-- qr:begin -->", "<!-- qr:end -->"


# --------------------------------------------------------------------------- CPU accounting


def _tree_cpu(pid: int | None, forks: bool) -> tuple[float, dict[int, float]]:
    """CPU of a server and (for dcmqrscp, which forks per association) of its live or
    not yet reaped children; reaped ones are in the parent's cutime/cstime."""
    if pid is None:
        return 0.0, {}
    kids = {k: bench.own_cpu(k) for k in bench.children(pid)} if forks else {}
    return bench._proc_cpu(pid), kids


class Probe:
    """CPU used during one run by the servers (by name), by our clients, and by others."""

    def __init__(self, servers: dict[str, tuple[int | None, bool]]) -> None:
        self.servers = servers
        self.wall = time.perf_counter()
        self.busy = bench._busy_seconds()
        self.start = {k: _tree_cpu(pid, forks) for k, (pid, forks) in servers.items()}
        t = os.times()
        self.ours = t.user + t.system + t.children_user + t.children_system

    def result(self, main: str | None) -> dict[str, Any]:
        wall = time.perf_counter() - self.wall
        busy = bench._busy_seconds() - self.busy
        used: dict[str, float] = {}
        for k, (pid, forks) in self.servers.items():
            own0, kids0 = self.start[k]
            own1, kids1 = _tree_cpu(pid, forks)
            kids = sum(v - kids0.get(c, 0.0) for c, v in kids1.items())
            used[k] = max(0.0, own1 - own0 + kids)
        t = os.times()
        clients = t.user + t.system + t.children_user + t.children_system - self.ours
        other = max(0.0, busy - sum(used.values()) - clients)
        ncpu = len(os.sched_getaffinity(0))
        return {"server_cpu_s": round(used.get(main, 0.0), 3) if main else 0.0,
                "cpu_s": {k: round(v, 3) for k, v in used.items() if v >= 0.005},
                "client_cpu_s": round(clients, 3),
                "other_cpu_pct": round(100.0 * other / (ncpu * wall), 1) if wall > 0 else 0.0}


# --------------------------------------------------------------------------- set-up


@dataclass
class Env:
    work: Path
    run_dir: Path
    large: Path
    large_manifest: dict[str, Any]
    large_uids: set[str]
    study_uid: str
    areas: list[Path]
    find_count: int
    ports: dict[str, int] = field(default_factory=dict)
    servers: dict[str, bench.Server] = field(default_factory=dict)
    move_write_dir: Path | None = None
    serve_dir: Path | None = None

    @property
    def large_bytes(self) -> int:
        return int(self.large_manifest["bytes"])


def ensure_study_files(work: Path, count: int) -> list[Path]:
    """The dcmqrscp copy of the C-FIND matches: one folder of 500 tiny files per area."""
    n_areas = -(-count // qr_data.AREA_STUDIES)
    folder = work / "data" / f"qr-studies-{count}"
    manifest = folder / "manifest.json"
    want = {"format": 1, "studies": count, "areas": n_areas}
    if manifest.exists() and json.loads(manifest.read_text()) == want:
        return [folder / f"area{a + 1:02d}" for a in range(n_areas)]
    log(f"generating {count} study files for dcmqrscp in {folder} ...")
    tmp = folder.with_name(folder.name + f".partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    for a in range(n_areas):
        first = a * qr_data.AREA_STUDIES
        qr_data.write_study_files(tmp / f"area{a + 1:02d}", first,
                                  min(qr_data.AREA_STUDIES, count - first))
    (tmp / "manifest.json").write_text(json.dumps(want))
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return [folder / f"area{a + 1:02d}" for a in range(n_areas)]


def build_dcmqrscp(env: Env) -> Path:
    """dcmqrscp.cfg and the storage areas' index files (dcmqridx, absolute file paths)."""
    root = env.run_dir / "dcmqrscp"
    shutil.rmtree(root, ignore_errors=True)
    rows = []
    areas = [(qr_data.area_title(a), folder) for a, folder in enumerate(env.areas)]
    areas.append((RET_AE, env.large))
    for title, src in areas:
        db = root / "db" / title
        db.mkdir(parents=True)
        files = sorted(str(p.resolve()) for p in src.glob("*.dcm"))
        for i in range(0, len(files), 200):  # dcmqridx takes the files as arguments
            proc = subprocess.run([str(DCMTK / "dcmqridx"), str(db), *files[i:i + 200]],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
            if proc.returncode != 0 or b"E:" in proc.stdout:
                raise RuntimeError(f"dcmqridx {db}: {proc.stdout[-500:]!r}")
        rows.append(f"{title:10s} {db} RW (500, 1024mb) ANY")
    p = env.ports
    cfg = root / "dcmqrscp.cfg"
    cfg.write_text(f"""\
# written by bench/qr.py (see anchor-bench configs/dcmqrscp.cfg)
NetworkTCPPort  = {p['dcmqrscp']}
MaxPDUSize      = 16384
MaxAssociations = 32

HostTable BEGIN
storescp        = ({DEST_WRITE}, {HOST}, {p['dest-write']})
storeign        = ({DEST_IGNORE}, {HOST}, {p['dest-ignore']})
dqrstore        = ({DEST_DQR}, {HOST}, {p['dest-dqr']})
HostTable END

VendorTable BEGIN
VendorTable END

AETable BEGIN
{chr(10).join(rows)}
AETable END
""")
    return cfg


def move_dests(env: Env) -> list[str]:
    p = env.ports
    return [f"{DEST_WRITE}={HOST}:{p['dest-write']}", f"{DEST_IGNORE}={HOST}:{p['dest-ignore']}",
            f"{DEST_DQR}={HOST}:{p['dest-dqr']}"]


def server_commands(env: Env, cfg: Path | None) -> dict[str, tuple[str, list[str]]]:
    """key -> (AE title to probe with C-ECHO, command)."""
    p = env.ports
    dests = [x for d in move_dests(env) for x in ("--move-dest", d)]
    out: dict[str, tuple[str, list[str]]] = {
        "dicomqr": ("DICOMQR", [sys.executable, str(BENCH / "qr_serve.py"), "--host", HOST,
                                "--port", str(p["dicomqr"]), "--find-count",
                                str(env.find_count), "--retrieve-dir", str(env.large), *dests]),
        "pynetdicom": ("PYNQR", [sys.executable, str(BENCH / "qr_pyn_scp.py"), "--host", HOST,
                                 "--port", str(p["pynetdicom"]), "--find-count",
                                 str(env.find_count), "--retrieve-dir", str(env.large),
                                 *dests]),
        "dest-write": (DEST_WRITE, [str(DCMTK / "storescp"), "-aet", DEST_WRITE, "+xa", "-od",
                                    str(env.move_write_dir), str(p["dest-write"])]),
        "dest-ignore": (DEST_IGNORE, [str(DCMTK / "storescp"), "-aet", DEST_IGNORE, "+xa",
                                      "--ignore", "-v", str(p["dest-ignore"])]),
        "dicomqr-serve": ("DQRSERVE", [bench.dicomqr_script(), "serve", "--ae-title",
                                       "DQRSERVE", "--host", HOST, "--port",
                                       str(p["dicomqr-serve"]), "--archive",
                                       str(env.serve_dir)]),
    }
    if cfg is not None:
        out["dcmqrscp"] = (RET_AE, [str(DCMTK / "dcmqrscp"), "-c", str(cfg)])
    return out


def start_servers(env: Env, keys: list[str]) -> dict[str, str]:
    cfg = build_dcmqrscp(env) if "dcmqrscp" in keys else None
    cmds = server_commands(env, cfg)
    failed: dict[str, str] = {}
    for key in keys:
        ae, cmd = cmds[key]
        rec = bench.Receiver(key, key, ae, False, True, lambda port, archive: [], "")
        srv = bench.Server(rec, env.ports[key], env.run_dir / "srv" / key,
                           env.run_dir / "logs" / f"{key}.log", cmd)
        log(f"starting {key}: {bench.display_command(cmd)}")
        if not srv.start(timeout=60.0):
            log(f"  {key} did not start: {srv.start_error}\n{srv.log_tail(12)}")
            srv.stop()
            failed[key] = srv.start_error + "\n" + srv.log_tail(12)
            continue
        env.servers[key] = srv
    return failed


# --------------------------------------------------------------------------- clients


def study_keys(patient_id: str) -> list[str]:
    keys = ["-k", "QueryRetrieveLevel=STUDY"]
    for k in qr_data.STUDY_KEYS:
        keys += ["-k", f"PatientID={patient_id}" if k == "PatientID" else k]
    return keys


def findscu_cmd(port: int | str, ae: str, patient_id: str = "") -> list[str]:
    # -v -sr: one "Received Find Response N" line per response, no dataset dump (the dump
    # doubles findscu's time; the line costs nothing measurable).
    return [str(DCMTK / "findscu"), "-S", "-aet", "FINDSCU", "-aec", ae, "-v", "-sr",
            *study_keys(patient_id), HOST, str(port)]


def getscu_cmd(port: int | str, ae: str, study: str, out: Path | None) -> list[str]:
    where = ["-od", str(out)] if out is not None else ["--ignore"]
    return [str(DCMTK / "getscu"), "-S", "-aet", "GETSCU", "-aec", ae, "-v",
            "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={study}", *where,
            HOST, str(port)]


def movescu_cmd(port: int | str, ae: str, study: str, dest: str) -> list[str]:
    return [str(DCMTK / "movescu"), "-S", "-aet", "MOVESCU", "-aec", ae, "-aem", dest, "-v",
            "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={study}", HOST,
            str(port)]


def qr_client_cmd(op: str, port: int | str, aes: list[str], *extra: str) -> list[str]:
    return [sys.executable, str(BENCH / "qr_client.py"), op, "--port", str(port),
            *[x for ae in aes for x in ("--ae", ae)], *extra]


_FIND_LINE = re.compile(r"Received Find Response (\d+)")
_FINAL_FIND = re.compile(r"Received Final Find Response \(([^)]*)\)")


def check_findscu(text: str, rc: int | None, expect: int, what: str) -> list[str]:
    errors = []
    if rc != 0:
        errors.append(f"{what}: exit status {rc}")
    bad = [ln for ln in text.splitlines() if ln.startswith(("E:", "F:"))]
    if bad:
        errors.append(f"{what}: " + " | ".join(bad[:3]))
    n = len(_FIND_LINE.findall(text))
    if n != expect:
        errors.append(f"{what}: {n} responses, expected {expect}")
    final = _FINAL_FIND.findall(text)
    if final != ["Success"]:
        errors.append(f"{what}: final response {final or 'missing'}")
    return errors


def _run(cmd: list[str], out: Path, timeout: float) -> tuple[int | None, str]:
    with open(out, "wb") as f:
        try:
            proc = subprocess.run(cmd, env=bench.dcmtk_env(), stdout=f,
                                  stderr=subprocess.STDOUT, timeout=timeout, check=False)
            rc: int | None = proc.returncode
        except subprocess.TimeoutExpired:
            rc = None
    return rc, out.read_text(errors="replace")


# --------------------------------------------------------------------------- cells


@dataclass
class Cell:
    row: str
    key: str
    server: str  # column: dicomqr, dicomqr-bytes, ..., pynetdicom, dcmqrscp, ceiling
    client: str  # row of the table: findscu, dqrscu, getscu-od, ...
    unit: str
    run: Callable[[Env, Path, bool], dict[str, Any]]
    probe_main: str  # the server whose CPU is reported
    info: bool = False  # shown in the details only (not a rate)


def _finish(run: dict[str, Any], errors: list[str], env: Env, main: str) -> dict[str, Any]:
    srv = env.servers.get(main)
    if srv is not None and not srv.alive():
        errors.append(f"{main} died: {srv.log_tail(8)}")
    run.update(ok=not errors, errors=errors, warnings=run.get("warnings", []))
    return run


def cell_findscu(server: str, aes: list[str], patient_id: str, expect: int,
                 info: bool = False) -> Callable[[Env, Path, bool], dict[str, Any]]:
    port_key = "dicomqr" if server.startswith("dicomqr") else server

    def run(env: Env, scratch: Path, first: bool) -> dict[str, Any]:
        port = env.ports[port_key]
        errors: list[str] = []
        probe = Probe(probes(env))
        t0 = time.perf_counter()
        total = 0
        for i, ae in enumerate(aes):
            rc, text = _run(findscu_cmd(port, ae, patient_id), scratch / f"findscu-{i}.txt", 120)
            errors += check_findscu(text, rc, expect // len(aes), f"findscu -aec {ae}")
            total += len(_FIND_LINE.findall(text))
        seconds = time.perf_counter() - t0
        value = seconds if info else expect / seconds
        r = {"seconds": round(seconds, 4), "value": value, "responses": total,
             **probe.result(port_key)}
        return _finish(r, errors, env, port_key)
    return run


def cell_findscu_concurrent(server: str, groups: list[tuple[str, list[str]]],
                            expect: int) -> Callable[[Env, Path, bool], dict[str, Any]]:
    """CONCURRENT clients at once; client k runs group k % len(groups): (PatientID, AEs)."""
    port_key = "dicomqr" if server.startswith("dicomqr") else server

    def run(env: Env, scratch: Path, first: bool) -> dict[str, Any]:
        port = env.ports[port_key]
        results: list[tuple[int, list[str], float]] = [(0, [], 0.0)] * CONCURRENT
        barrier = threading.Barrier(CONCURRENT + 1)

        def client(k: int) -> None:
            pid, aes = groups[k % len(groups)]
            n, errs = 0, []
            barrier.wait()
            for i, ae in enumerate(aes):
                rc, text = _run(findscu_cmd(port, ae, pid), scratch / f"c{k}-{i}.txt", 300)
                errs += check_findscu(text, rc, expect // len(aes), f"client {k + 1} -aec {ae}")
                n += len(_FIND_LINE.findall(text))
            results[k] = (n, errs, time.perf_counter())

        threads = [threading.Thread(target=client, args=(k,)) for k in range(CONCURRENT)]
        for t in threads:
            t.start()
        probe = Probe(probes(env))
        barrier.wait()
        t0 = time.perf_counter()
        for t in threads:
            t.join()
        seconds = max(r[2] for r in results) - t0
        errors = [e for r in results for e in r[1]]
        total = sum(r[0] for r in results)
        r = {"seconds": round(seconds, 4), "value": CONCURRENT * expect / seconds,
             "responses": total, "per_client": [x[0] for x in results],
             "client_seconds": [round(x[2] - t0, 3) for x in results],
             **probe.result(port_key)}
        return _finish(r, errors, env, port_key)
    return run


def _qr_client(env: Env, port_key: str, cmd: list[str], scratch: Path,
               metric: Callable[[dict[str, Any]], float]) -> dict[str, Any]:
    probe = Probe(probes(env))
    t0 = time.perf_counter()
    rc, text = _run(cmd, scratch / "qr_client.txt", 300)
    wall = time.perf_counter() - t0
    errors: list[str] = []
    try:
        data = json.loads(text.strip().splitlines()[-1])
    except (ValueError, IndexError):
        data = {"seconds": 0.0, "ok": False,
                "errors": [f"no JSON from qr_client.py: {text[-400:]}"]}
    errors += data.get("errors", [])
    if rc != 0 and not errors:
        errors.append(f"qr_client.py exit status {rc}")
    seconds = float(data.get("seconds") or 0.0)
    r = {"seconds": round(seconds, 4), "value": metric(data) / seconds if seconds else 0.0,
         "process_wall_s": round(wall, 4), "client": {k: v for k, v in data.items()
                                                      if k not in ("errors", "ok")},
         **probe.result(port_key)}
    return _finish(r, errors, env, port_key)


def cell_dqr_find(server: str, aes: list[str], patient_ids: list[str], expect: int,
                  clients: int = 1, ae_sets: list[list[str]] | None = None,
                  decode: bool = True) -> Callable[..., dict[str, Any]]:
    port_key = "dicomqr" if server.startswith("dicomqr") else server

    def run(env: Env, scratch: Path, first: bool) -> dict[str, Any]:
        extra = [x for p in patient_ids for x in ("--patient-id", p)]
        extra += [] if decode else ["--no-decode"]
        extra += [x for s in (ae_sets or []) for x in ("--ae-set", ",".join(s))]
        cmd = qr_client_cmd("find", env.ports[port_key], aes, *extra, "--clients",
                            str(clients), "--expect", str(expect))
        return _qr_client(env, port_key, cmd, scratch, lambda d: float(d.get("responses", 0)))
    return run


def check_files(env: Env, folder: Path, first: bool, errors: list[str],
                run: dict[str, Any]) -> None:
    want = len(env.large_uids)
    deadline = time.monotonic() + 5.0
    files, nbytes, partial, uids = bench.received_stats(folder)
    while files < want and time.monotonic() < deadline:
        time.sleep(0.05)
        files, nbytes, partial, uids = bench.received_stats(folder)
    run.update(files=files, received_mib=round(nbytes / 2**20, 2))
    if files != want:
        errors.append(f"{files} files written, {want} expected")
    if partial:
        errors.append(f"{partial} partial files left")
    if uids != env.large_uids:
        errors.append(f"file names do not match the study's SOP Instance UIDs "
                      f"({len(env.large_uids - uids)} missing, {len(uids - env.large_uids)} "
                      "unexpected)")
    if first and not errors:
        msg = bench.sample_check(folder, env.large_uids,
                                 2 * int(env.large_manifest["rows"])
                                 * int(env.large_manifest["columns"]), k=3)
        if msg:
            errors.append(msg)
        run["sample_parsed"] = True


_GET_COUNT = re.compile(r"Number of (Remaining|Completed|Failed|Warning) Suboperations\s*:\s*(\d+)")


def cell_getscu(server: str, write: bool) -> Callable[[Env, Path, bool], dict[str, Any]]:
    ae = {"dicomqr": "DICOMQR", "pynetdicom": "PYNQR", "dcmqrscp": RET_AE}[server]

    def run(env: Env, scratch: Path, first: bool) -> dict[str, Any]:
        out = scratch / "get-od"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        os.sync()
        probe = Probe(probes(env))
        t0 = time.perf_counter()
        rc, text = _run(getscu_cmd(env.ports[server], ae, env.study_uid,
                                   out if write else None), scratch / "getscu.txt", 300)
        seconds = time.perf_counter() - t0
        r: dict[str, Any] = {"seconds": round(seconds, 4),
                             "value": env.large_bytes / 2**20 / seconds, **probe.result(server)}
        errors: list[str] = []
        if rc != 0:
            errors.append(f"getscu exit status {rc}")
        bad = [ln for ln in text.splitlines() if ln.startswith(("E:", "F:"))]
        if bad:
            errors.append("getscu: " + " | ".join(bad[:3]))
        counts = dict(_GET_COUNT.findall(text))
        want = len(env.large_uids)
        r["final_counts"] = counts
        if counts.get("Completed") != str(want) or counts.get("Failed") != "0" \
                or counts.get("Warning") != "0":
            errors.append(f"getscu final counts {counts or 'missing'}, expected {want} completed")
        finals = re.findall(r"Received C-GET Response \(([^)]*)\)", text)
        if not finals or finals[-1] != "Success":
            errors.append(f"last C-GET response {finals[-1] if finals else 'missing'}")
        if write:
            check_files(env, out, first, errors, r)
        else:
            n = len(re.findall(r"Received C-STORE Request", text))
            r["stores_seen"] = n
            if n != want:
                errors.append(f"getscu --ignore saw {n} C-STORE requests, expected {want}")
            if any(out.iterdir()):
                errors.append("getscu --ignore wrote files")
        shutil.rmtree(out, ignore_errors=True)
        return _finish(r, errors, env, server)
    return run


def _ignore_count(env: Env, offset: int, want: int) -> int:
    srv = env.servers["dest-ignore"]
    deadline = time.monotonic() + 3.0
    while True:
        n = srv.log_since(offset).count("Received Store Request")
        if n >= want or time.monotonic() > deadline:
            return n
        time.sleep(0.05)


def cell_movescu(server: str, dest: str) -> Callable[[Env, Path, bool], dict[str, Any]]:
    ae = {"dicomqr": "DICOMQR", "pynetdicom": "PYNQR", "dcmqrscp": RET_AE}[server]

    def run(env: Env, scratch: Path, first: bool) -> dict[str, Any]:
        assert env.move_write_dir is not None
        bench.clear_received(env.move_write_dir)
        os.sync()
        offset = env.servers["dest-ignore"].log_size()
        probe = Probe(probes(env))
        t0 = time.perf_counter()
        rc, text = _run(movescu_cmd(env.ports[server], ae, env.study_uid, dest),
                        scratch / "movescu.txt", 300)
        seconds = time.perf_counter() - t0
        r: dict[str, Any] = {"seconds": round(seconds, 4),
                             "value": env.large_bytes / 2**20 / seconds, **probe.result(server)}
        errors: list[str] = []
        if rc != 0:
            errors.append(f"movescu exit status {rc}")
        bad = [ln for ln in text.splitlines() if ln.startswith(("E:", "F:"))]
        if bad:
            errors.append("movescu: " + " | ".join(bad[:3]))
        final = re.findall(r"Received Final Move Response \(([^)]*)\)", text)
        if final != ["Success"]:
            errors.append(f"final C-MOVE response {final or 'missing'}")
        want = len(env.large_uids)
        if dest == DEST_WRITE:
            check_files(env, env.move_write_dir, first, errors, r)
            bench.clear_received(env.move_write_dir)
        else:
            n = _ignore_count(env, offset, want)
            r["destination_received"] = n
            if n != want:
                errors.append(f"storescp --ignore received {n} instances, expected {want}")
        return _finish(r, errors, env, server)
    return run


def cell_dqr_retrieve(server: str, op: str) -> Callable[[Env, Path, bool], dict[str, Any]]:
    ae = {"dicomqr": "DICOMQR", "pynetdicom": "PYNQR", "dcmqrscp": RET_AE}[server]

    def run(env: Env, scratch: Path, first: bool) -> dict[str, Any]:
        out = scratch / f"dqr-{op}"
        shutil.rmtree(out, ignore_errors=True)
        os.sync()
        extra = ["--study", env.study_uid, "--od", str(out), "--expect",
                 str(len(env.large_uids))]
        if op == "move":
            extra += ["--dest-ae", DEST_DQR, "--dest-port", str(env.ports["dest-dqr"])]
        cmd = qr_client_cmd(op, env.ports[server], [ae], *extra)
        r = _qr_client(env, server, cmd, scratch,
                       lambda d: env.large_bytes / 2**20 if d.get("ok") else 0.0)
        if r["ok"]:
            errors: list[str] = []
            check_files(env, out, first, errors, r)
            if errors:
                r["errors"] += errors
                r["ok"] = False
        shutil.rmtree(out, ignore_errors=True)
        return r
    return run


def cell_storescu(dest: str) -> Callable[[Env, Path, bool], dict[str, Any]]:
    ae = {"dest-write": DEST_WRITE, "dest-ignore": DEST_IGNORE, "dicomqr-serve": "DQRSERVE"}[dest]

    def run(env: Env, scratch: Path, first: bool) -> dict[str, Any]:
        folder = {"dest-write": env.move_write_dir, "dicomqr-serve": env.serve_dir}.get(dest)
        if folder is not None:
            bench.clear_received(folder)
        os.sync()
        offset = env.servers["dest-ignore"].log_size()
        probe = Probe(probes(env))
        t0 = time.perf_counter()
        rc, text = _run(bench.storescu_cmd(env.ports[dest], ae, env.large),
                        scratch / "storescu.txt", 300)
        seconds = time.perf_counter() - t0
        r: dict[str, Any] = {"seconds": round(seconds, 4),
                             "value": env.large_bytes / 2**20 / seconds, **probe.result(dest)}
        errors: list[str] = []
        if rc != 0:
            errors.append(f"storescu exit status {rc}")
        bad = [ln for ln in text.splitlines() if ln.startswith(("E:", "F:"))]
        if bad:
            errors.append("storescu: " + " | ".join(bad[:3]))
        if folder is not None:
            check_files(env, folder, first, errors, r)
            bench.clear_received(folder)
        else:
            n = _ignore_count(env, offset, len(env.large_uids))
            r["destination_received"] = n
            if n != len(env.large_uids):
                errors.append(f"storescp --ignore received {n}, expected {len(env.large_uids)}")
        return _finish(r, errors, env, dest)
    return run


def probes(env: Env) -> dict[str, tuple[int | None, bool]]:
    return {k: (s.proc.pid if s.proc else None, k == "dcmqrscp") for k, s in env.servers.items()}


def build_cells(env: Env, rows: list[str], servers: list[str]) -> dict[str, list[Cell]]:
    n = env.find_count
    areas = [qr_data.area_title(a) for a in range(len(env.areas))]
    n_groups = -(-n // qr_data.GROUP_SIZE)
    per_group = qr_data.GROUP_SIZE // qr_data.AREA_STUDIES
    groups = [f"G{g}*" for g in range(n_groups)]
    group_areas = [areas[g * per_group:(g + 1) * per_group] for g in range(n_groups)]
    per_client = min(qr_data.GROUP_SIZE, n)
    out: dict[str, list[Cell]] = {r: [] for r in rows}
    has = set(servers)
    if "find" in out:
        c = out["find"]
        if "dicomqr" in has:
            for key, (ae, _label) in FIND_VARIANTS.items():
                c.append(Cell("find", f"{key}/findscu", key, "findscu", "resp/s",
                              cell_findscu(key, [ae], "", n), "dicomqr"))
            c.append(Cell("find", "dicomqr/dqrscu", "dicomqr", "dqrscu", "resp/s",
                          cell_dqr_find("dicomqr", ["DICOMQR"], [""], n), "dicomqr"))
            c.append(Cell("find", "dicomqr/dqrscu-raw", "dicomqr", "dqrscu-raw", "resp/s",
                          cell_dqr_find("dicomqr", ["DICOMQR"], [""], n, decode=False),
                          "dicomqr"))
        if "pynetdicom" in has:
            c.append(Cell("find", "pynetdicom/findscu", "pynetdicom", "findscu", "resp/s",
                          cell_findscu("pynetdicom", ["PYNQR"], "", n), "pynetdicom"))
            c.append(Cell("find", "pynetdicom/dqrscu", "pynetdicom", "dqrscu", "resp/s",
                          cell_dqr_find("pynetdicom", ["PYNQR"], [""], n), "pynetdicom"))
        if "dcmqrscp" in has:
            c.append(Cell("find", "dcmqrscp/findscu", "dcmqrscp", "findscu", "resp/s",
                          cell_findscu("dcmqrscp", areas, "", n), "dcmqrscp"))
            c.append(Cell("find", "dcmqrscp/dqrscu", "dcmqrscp", "dqrscu", "resp/s",
                          cell_dqr_find("dcmqrscp", areas, [""], n), "dcmqrscp"))
            c.append(Cell("find", "dcmqrscp/dqrscu-raw", "dcmqrscp", "dqrscu-raw", "resp/s",
                          cell_dqr_find("dcmqrscp", areas, [""], n, decode=False),
                          "dcmqrscp"))
            c.append(Cell("find", "dcmqrscp-empty/findscu", "dcmqrscp-empty", "findscu", "s",
                          cell_findscu("dcmqrscp", areas, "NOMATCH", 0, info=True), "dcmqrscp",
                          info=True))
    if "find10" in out:
        c = out["find10"]
        if "dicomqr" in has:
            for key, (ae, _label) in FIND_VARIANTS.items():
                c.append(Cell("find10", f"{key}/findscu", key, "findscu", "resp/s",
                              cell_findscu_concurrent(key, [(g, [ae]) for g in groups],
                                                      per_client), "dicomqr"))
            c.append(Cell("find10", "dicomqr/dqrscu", "dicomqr", "dqrscu", "resp/s",
                          cell_dqr_find("dicomqr", ["DICOMQR"], groups, per_client,
                                        clients=CONCURRENT), "dicomqr"))
            c.append(Cell("find10", "dicomqr/dqrscu-raw", "dicomqr", "dqrscu-raw", "resp/s",
                          cell_dqr_find("dicomqr", ["DICOMQR"], groups, per_client,
                                        clients=CONCURRENT, decode=False), "dicomqr"))
        if "pynetdicom" in has:
            c.append(Cell("find10", "pynetdicom/findscu", "pynetdicom", "findscu", "resp/s",
                          cell_findscu_concurrent("pynetdicom", [(g, ["PYNQR"]) for g in groups],
                                                  per_client), "pynetdicom"))
            c.append(Cell("find10", "pynetdicom/dqrscu", "pynetdicom", "dqrscu", "resp/s",
                          cell_dqr_find("pynetdicom", ["PYNQR"], groups, per_client,
                                        clients=CONCURRENT), "pynetdicom"))
        if "dcmqrscp" in has:
            pairs = list(zip(groups, group_areas, strict=True))
            c.append(Cell("find10", "dcmqrscp/findscu", "dcmqrscp", "findscu", "resp/s",
                          cell_findscu_concurrent("dcmqrscp", pairs, per_client), "dcmqrscp"))
            c.append(Cell("find10", "dcmqrscp/dqrscu", "dcmqrscp", "dqrscu", "resp/s",
                          cell_dqr_find("dcmqrscp", areas[:1], groups, per_client,
                                        clients=CONCURRENT, ae_sets=group_areas), "dcmqrscp"))
            c.append(Cell("find10", "dcmqrscp/dqrscu-raw", "dcmqrscp", "dqrscu-raw", "resp/s",
                          cell_dqr_find("dcmqrscp", areas[:1], groups, per_client,
                                        clients=CONCURRENT, ae_sets=group_areas,
                                        decode=False), "dcmqrscp"))
    for s in servers:
        if "get" in out:
            out["get"] += [
                Cell("get", f"{s}/getscu-od", s, "getscu-od", "MiB/s", cell_getscu(s, True), s),
                Cell("get", f"{s}/getscu-ignore", s, "getscu-ignore", "MiB/s",
                     cell_getscu(s, False), s),
                Cell("get", f"{s}/dqrscu-get", s, "dqrscu-get", "MiB/s",
                     cell_dqr_retrieve(s, "get"), s)]
        if "move" in out:
            out["move"] += [
                Cell("move", f"{s}/movescu-storescp", s, "movescu-storescp", "MiB/s",
                     cell_movescu(s, DEST_WRITE), s),
                Cell("move", f"{s}/movescu-ignore", s, "movescu-ignore", "MiB/s",
                     cell_movescu(s, DEST_IGNORE), s),
                Cell("move", f"{s}/dqrscu-move", s, "dqrscu-move", "MiB/s",
                     cell_dqr_retrieve(s, "move"), s)]
    if "ceiling" in out:
        out["ceiling"] = [
            Cell("ceiling", "ceiling/storescu-storescp", "ceiling", "storescu-storescp", "MiB/s",
                 cell_storescu("dest-write"), "dest-write"),
            Cell("ceiling", "ceiling/storescu-ignore", "ceiling", "storescu-ignore", "MiB/s",
                 cell_storescu("dest-ignore"), "dest-ignore"),
            Cell("ceiling", "ceiling/storescu-dicomqr", "ceiling", "storescu-dicomqr", "MiB/s",
                 cell_storescu("dicomqr-serve"), "dicomqr-serve")]
    return out


def warmup_cell(row: str, server: str) -> Callable[[Env, Path, bool], dict[str, Any]] | None:
    """One untimed run per server before a row's repetitions."""
    ae = {"dicomqr": "DICOMQR", "pynetdicom": "PYNQR", "dcmqrscp": RET_AE}[server]
    if row in ("find", "find10"):
        if server == "dcmqrscp":
            return cell_findscu(server, [qr_data.area_title(0)], "", qr_data.AREA_STUDIES)
        return cell_findscu(server, [ae], "G0*", qr_data.GROUP_SIZE)
    if row == "get":
        return cell_getscu(server, False)
    if row == "move":
        return cell_movescu(server, DEST_IGNORE)
    return None


# --------------------------------------------------------------------------- measuring


def measure_row(row: str, cells: list[Cell], env: Env, reps: int, quiet: bench.Quiet,
                servers: list[str]) -> dict[str, Any]:
    scratch = env.run_dir / "scratch" / row
    scratch.mkdir(parents=True, exist_ok=True)
    waited0, repeated0 = quiet.waited, quiet.repeated
    for s in servers:
        fn = warmup_cell(row, s)
        if fn is None or s not in env.servers:
            continue
        try:
            r = fn(env, scratch, False)
            if not r["ok"]:
                log(f"  warm-up {s}: {r['errors']}")
        except Exception as exc:  # the timed runs will say what is wrong
            log(f"  warm-up {s}: {exc!r}")
    runs: dict[str, list[dict[str, Any]]] = {c.key: [] for c in cells}
    for rep in range(reps):
        shift = rep % max(1, len(cells))
        for cell in cells[shift:] + cells[:shift]:
            main = cell.probe_main
            if main not in env.servers:
                runs[cell.key].append({"rep": rep + 1, "ok": False, "seconds": 0.0,
                                       "value": 0.0, "warnings": [],
                                       "errors": [f"{main} is not running"]})
                continue
            quiet.wait()
            r = _guarded(cell, env, scratch, rep == 0)
            if quiet.should_repeat(r):
                log(f"  rep {rep + 1} {cell.key}: {r['seconds']:.3f} s with "
                    f"{r['other_cpu_pct']:.0f}% of the CPUs used by other processes; repeating")
                first = r
                quiet.wait()
                r = _guarded(cell, env, scratch, False)
                r["discarded_attempt"] = {k: first.get(k) for k in (
                    "seconds", "value", "other_cpu_pct", "server_cpu_s")}
            r["rep"] = rep + 1
            runs[cell.key].append(r)
            status = "ok" if r["ok"] else "FAILED " + "; ".join(r["errors"])[:400]
            unit = "s" if cell.info else cell.unit
            log(f"  rep {rep + 1} {cell.key}: {r['seconds']:.3f} s = {r['value']:.1f} {unit} "
                f"{status}")
    out_cells = {}
    for cell in cells:
        summary = bench.summarize(runs[cell.key], not cell.info)
        summary.update(server=cell.server, client=cell.client, unit=cell.unit, info=cell.info,
                       runs=runs[cell.key])
        if runs[cell.key] and all("process_wall_s" in r for r in runs[cell.key] if r["ok"]) \
                and summary.get("reps_ok"):
            summary["median_process_wall_s"] = statistics.median(
                r["process_wall_s"] for r in runs[cell.key] if r["ok"])
        out_cells[cell.key] = summary
    return {"cells": out_cells, "idle_wait_s": round(quiet.waited - waited0, 1),
            "repeated_runs": quiet.repeated - repeated0}


def _guarded(cell: Cell, env: Env, scratch: Path, first: bool) -> dict[str, Any]:
    try:
        return cell.run(env, scratch, first)
    except Exception as exc:  # a harness problem must not stop the whole run
        log(f"  harness error in {cell.key}: {exc!r}")
        return {"ok": False, "seconds": 0.0, "value": 0.0, "warnings": [],
                "errors": [f"harness error: {exc!r}"]}


# --------------------------------------------------------------------------- report

SERVER_LABELS = {
    "dicomqr": "dicomqr",
    "dicomqr-bytes": "dicomqr, bytes",
    "dicomqr-async": "dicomqr, async gen",
    "dicomqr-abytes": "dicomqr, async gen + bytes",
    "pynetdicom": "pynetdicom",
    "dcmqrscp": "DCMTK dcmqrscp",
    "dcmqrscp-empty": "dcmqrscp, 0 matches",
    "ceiling": "ceiling",
}
CLIENT_LABELS = {
    "findscu": "DCMTK findscu",
    "dqrscu": "dicomqr SCU (`dicomqr.find`), decoding every match",
    "dqrscu-raw": "dicomqr SCU, counting the matches undecoded",
    "getscu-od": "DCMTK getscu -od (writes files)",
    "getscu-ignore": "DCMTK getscu --ignore (discards)",
    "dqrscu-get": "dicomqr SCU get (`dicomqr.get`, writes files)",
    "movescu-storescp": "DCMTK movescu → storescp -od (writes files)",
    "movescu-ignore": "DCMTK movescu → storescp --ignore (discards)",
    "dqrscu-move": "dicomqr SCU move → dicomqr storage_scp (writes files)",
    "storescu-storescp": "DCMTK storescu → storescp -od (writes files)",
    "storescu-ignore": "DCMTK storescu → storescp --ignore (discards)",
    "storescu-dicomqr": "DCMTK storescu → `dicomqr serve` (writes files)",
}
CEILING_OF = {"getscu-od": "storescu-storescp", "getscu-ignore": "storescu-ignore",
              "movescu-storescp": "storescu-storescp", "movescu-ignore": "storescu-ignore",
              "dqrscu-get": "storescu-dicomqr", "dqrscu-move": "storescu-dicomqr"}
ROW_TITLES = {
    "find": "C-FIND: 10,000 study-level matches on one association (responses/s)",
    "find10": "C-FIND: 10 concurrent clients x 2,000 matches (total responses/s)",
    "get": "C-GET: 300 x 512 KiB CT instances, 150 MiB (MiB/s)",
    "move": "C-MOVE: the same 300 instances (MiB/s)",
    "ceiling": "Receiver ceilings: storescu sending the same 300 files (MiB/s)",
}


def _cell_text(cell: dict[str, Any] | None) -> str:
    if cell is None:
        return "—"
    if not cell.get("ok"):
        med = f" {bench.fmt(cell['median'])}" if "median" in cell else ""
        return f"**FAILED**{med}"
    return f"{bench.fmt(cell['median'])} (±{cell['spread_pct']:.0f}%)"


def _ratio(a: dict[str, Any] | None, b: dict[str, Any] | None) -> str:
    if not a or not b or not a.get("ok") or not b.get("ok") or not b.get("median"):
        return "—"
    return f"{a['median'] / b['median']:.3g}x"


def render_section(res: dict[str, Any]) -> str:
    meta, m = res["meta"], res["machine"]
    out = [QR_BEGIN, "## Query/Retrieve\n"]
    out.append(f"Measured {meta['date']} (harness wall time {meta['wall_s']:.0f} s; load average "
               f"{meta['loadavg_start']} at the start, {meta['loadavg_end']} at the end). "
               f"Command: `{meta['command']}` (from the repository root"
               f"{', with DICOMQR_BENCH_WORK set' if meta.get('env_work') else ''}). "
               f"Written by `bench/qr.py`; the sections above are `bench/run.py`'s.\n")
    if meta.get("nonstandard"):
        out.append(f"**Non-standard run:** {meta['nonstandard']}\n")
    out.append(f"Machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['os']}, {m['python']}, "
               f"DCMTK {m['dcmtk_package']}, pynetdicom {m['pynetdicom']}, pydicom "
               f"{m['pydicom']}, dicomqr {m['dicomqr']}, uvloop {m['uvloop']}, scratch on "
               f"{m['work_fs']}.\n")
    out.append(f"Medians of {res['config']['reps']} repetitions, (±x%) is half the min-max spread "
               "relative to the median; ratios are speed ratios of the medians (>1: dicomqr "
               "faster). A cell is FAILED if any repetition failed its checks.\n")
    out.append("### Servers\n")
    out.append("| server | command | notes |\n|---|---|---|")
    for s in res["servers"].values():
        out.append(f"| {s['label']} | `{s['command']}` | {s['notes']} |")
    out.append("")
    out.append("Clients (`TCP_NODELAY=1` for the DCMTK ones; PORT, AE, UID, DIR filled in):\n")
    for name, cmd in res["clients"].items():
        out.append(f"- {name}: {cmd}")
    out.append("")
    rows = res["rows"]
    for row in ("find", "find10"):
        if row not in rows:
            continue
        cells = rows[row]["cells"]
        out.append(f"### {ROW_TITLES[row]}\n")
        out.append("| client | dicomqr | pynetdicom | DCMTK dcmqrscp | dicomqr / pynetdicom | "
                   "dicomqr / DCMTK | dicomqr, bytes | dicomqr, async gen | "
                   "dicomqr, async gen + bytes |")
        out.append("|---|---|---|---|---|---|---|---|---|")
        for client in ("findscu", "dqrscu", "dqrscu-raw"):
            g = {c["server"]: c for c in cells.values() if c["client"] == client}
            if not g:
                continue
            out.append(f"| {CLIENT_LABELS[client]} | {_cell_text(g.get('dicomqr'))} | "
                       f"{_cell_text(g.get('pynetdicom'))} | {_cell_text(g.get('dcmqrscp'))} | "
                       f"{_ratio(g.get('dicomqr'), g.get('pynetdicom'))} | "
                       f"{_ratio(g.get('dicomqr'), g.get('dcmqrscp'))} | "
                       f"{_cell_text(g.get('dicomqr-bytes'))} | "
                       f"{_cell_text(g.get('dicomqr-async'))} | "
                       f"{_cell_text(g.get('dicomqr-abytes'))} |")
        out.append("")
        out.append(ROW_NOTES[row](cells) + "\n")
    ceil = rows.get("ceiling", {}).get("cells", {})
    ceil_by = {c["client"]: c for c in ceil.values()}
    for row in ("get", "move"):
        if row not in rows:
            continue
        cells = rows[row]["cells"]
        out.append(f"### {ROW_TITLES[row]}\n")
        out.append("| client | dicomqr | pynetdicom | DCMTK dcmqrscp | dicomqr / pynetdicom | "
                   "dicomqr / DCMTK | receiver ceiling | dicomqr % of ceiling | "
                   "DCMTK % of ceiling |")
        out.append("|---|---|---|---|---|---|---|---|---|")
        clients = list(dict.fromkeys(c["client"] for c in cells.values()))
        for client in clients:
            g = {c["server"]: c for c in cells.values() if c["client"] == client}
            top = ceil_by.get(CEILING_OF.get(client, ""))

            def pct(c: dict[str, Any] | None, top: dict[str, Any] | None = top) -> str:
                if not c or not top or not c.get("ok") or not top.get("ok"):
                    return "—"
                return f"{100 * c['median'] / top['median']:.0f}%"
            ceiling_txt = "—"
            if top and top.get("ok"):
                ceiling_txt = (f"{bench.fmt(top['median'])} "
                               f"({CLIENT_LABELS[top['client']].split(' (')[0]})")
            out.append(f"| {CLIENT_LABELS[client]} | {_cell_text(g.get('dicomqr'))} | "
                       f"{_cell_text(g.get('pynetdicom'))} | {_cell_text(g.get('dcmqrscp'))} | "
                       f"{_ratio(g.get('dicomqr'), g.get('pynetdicom'))} | "
                       f"{_ratio(g.get('dicomqr'), g.get('dcmqrscp'))} | {ceiling_txt} | "
                       f"{pct(g.get('dicomqr'))} | {pct(g.get('dcmqrscp'))} |")
        out.append("")
        out.append(ROW_NOTES[row](cells) + "\n")
    if ceil:
        out.append(f"### {ROW_TITLES['ceiling']}\n")
        out.append("| sender → receiver | median MiB/s | per repetition |\n|---|---|---|")
        for c in ceil.values():
            per = ", ".join(bench.fmt(r["value"]) for r in c.get("runs", []) if r["ok"])
            out.append(f"| {CLIENT_LABELS[c['client']]} | {_cell_text(c)} | {per} |")
        out.append("")
    out.append("### Details per cell\n")
    out.append("Per repetition values, median wall time of the timed part, CPU seconds of the "
               "server process (dcmqrscp: with its forked children) during the run, the largest "
               "share of the CPUs that *other* processes used during a repetition (runs of "
               "0.2 s or more), and the checks.\n")
    out.append("| row | server | client | median | per repetition | median wall | server CPU | "
               "other load | checks |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    for row, data in rows.items():
        for c in data["cells"].values():
            unit = "s" if c.get("info") else c["unit"]
            per = ", ".join(bench.fmt(r["value"]) for r in c.get("runs", []) if r["ok"])
            med = f"{bench.fmt(c['median'])} {unit}" if "median" in c else "—"
            wall = f"{c['median_seconds']:.3f} s" if "median_seconds" in c else "—"
            if "median_process_wall_s" in c:
                wall += f" (process {c['median_process_wall_s']:.2f} s)"
            cpu = f"{c['server_cpu_s']:.2f} s" if "server_cpu_s" in c else "—"
            other = (f"{c['other_cpu_pct_max']:.0f}%" if "other_cpu_pct_max" in c
                     and c.get("median_seconds", 0) >= 0.2 else "—")
            checks = (f"ok ({c['reps_ok']}/{c['reps']})" if c["ok"]
                      else f"**FAILED** ({c['reps_ok']}/{c['reps']} ok): "
                      + "; ".join(c["errors"])[:300])
            out.append(f"| {row} | {SERVER_LABELS.get(c['server'], c['server'])} | "
                       f"{CLIENT_LABELS.get(c['client'], c['client'])} | {med} | {per} | {wall} | "
                       f"{cpu} | {other} | {checks} |")
    out.append("")
    waits = [(r, d["idle_wait_s"], d["repeated_runs"]) for r, d in rows.items()
             if d.get("idle_wait_s", 0) >= 1 or d.get("repeated_runs")]
    if waits:
        out.append("Other processes were using the machine: " + "; ".join(
            f"row {r}: waited {w:.0f} s for idle CPUs, repeated {n} run(s)" for r, w, n in waits)
            + " (only the repeat counts).\n")
    if res.get("start_failures"):
        out.append("Servers that did not start: " + "; ".join(
            f"{k}: {v.splitlines()[0]}" for k, v in res["start_failures"].items()) + "\n")
    out.append("### How the Q/R rows are measured\n")
    out.append(QR_METHOD)
    out.append(QR_END)
    return "\n".join(out) + "\n"


def _find_note(cells: dict[str, Any]) -> str:
    empty = cells.get("dcmqrscp-empty/findscu")
    full = cells.get("dcmqrscp/findscu")
    text = ("DCMTK: dcmqrscp keeps at most 500 studies per storage area, so its 10,000 studies "
            "are 20 areas and findscu runs once per area, one after the other (20 findscu "
            "processes and associations, the time is their sum).")
    if empty and full and empty.get("ok") and full.get("ok") and "median" in empty:
        walls = [r["seconds"] for r in full.get("runs", []) if r["ok"]]
        text += (f" The same 20 findscu runs with a query matching nothing take "
                 f"{empty['median']:.3f} s (process start, association, index scan, release; "
                 f"±{empty['spread_pct']:.0f}%); the 10,000 matches add "
                 f"{min(walls) - empty['median']:.2f}-{max(walls) - empty['median']:.2f} s to "
                 "that (fastest-slowest repetition; single findscu runs stall ~50 ms now and "
                 "then, see Noise). So this cell mostly measures dcmqrscp's per-association "
                 "cost, which its 500-study cap multiplies, not its response rate; the dicomqr "
                 "SCU rows, which need no process per area, show that rate better.")
    dqr = cells.get("dicomqr/dqrscu")
    if dqr and dqr.get("ok"):
        text += (" The dicomqr SCU row that decodes every match (reads its "
                 "StudyInstanceUID, so pydicom decodes and converts the identifier) is limited "
                 "by that decoding, whatever the server (`python3 bench/qr_profile.py --target "
                 "client --workload find` shows it); the SCU decodes lazily, and counting the "
                 "matches without looking at them (the last row) shows its protocol path alone. "
                 "findscu with `-sr` still parses every identifier into a DcmDataset.")
    return text


def _find10_note(cells: dict[str, Any]) -> str:
    return ("Ten findscu processes start together (a barrier), each asking for one PatientID "
            "group (`PatientID=G<k>*`, 2,000 studies; clients k and k+5 ask for the same group); "
            "the time runs until the last client exits. dcmqrscp: each client queries its "
            "group's 4 storage areas in sequence (4 associations). dicomqr SCU: the 10 clients "
            "are asyncio tasks in one process (one association each; for dcmqrscp 4 each).")


def _get_note(cells: dict[str, Any]) -> str:
    return ("dicomqr's handler yields the file paths (bytes streamed from the files); "
            "pynetdicom's yields `dcmread(path)` for each file (pynetdicom encodes each dataset "
            "again); dcmqrscp reads the files its index points to. MiB/s = 150.3 MiB of file "
            "bytes / wall time of the client process (DCMTK clients, start-up included) or of the "
            "association (dicomqr SCU, from the association request to the release, interpreter "
            "start-up not included; the process time is in the details). pynetdicom sends "
            "PDUs of the size the peer announces: 16 KiB to getscu and storescp, 1 MiB to "
            "dicomqr's SCU and storage_scp, hence its ~5x better figures with those.")


def _move_note(cells: dict[str, Any]) -> str:
    return ("All three C-MOVE SCPs finish the sub-operations before the final response, so the "
            "client's exit is the end of the transfer. The storescp destinations are the same "
            "two processes for every server (and for the ceiling row); the dicomqr SCU starts "
            "`storage_scp` in its own process (not timed) and moves into it. The ceiling of a "
            "row is DCMTK storescu (16 KiB PDUs, one file at a time, its process start and "
            "folder scan included) feeding the same kind of receiver; a faster sender, such as "
            "dicomqr with the 1 MiB PDUs dicomqr's storage_scp announces, can exceed it.")


ROW_NOTES: dict[str, Callable[[dict[str, Any]], str]] = {
    "find": _find_note, "find10": _find10_note, "get": _get_note, "move": _move_note}

QR_METHOD = """\
- **Matches** (`bench/qr_data.py`): 10,000 deterministic study-level identifiers
  (QueryRetrieveLevel, PatientName, PatientID, StudyInstanceUID, StudyDate, StudyTime,
  AccessionNumber, StudyID, StudyDescription; ~200 bytes encoded), built once at server start.
  The dicomqr and pynetdicom find handlers yield them from memory (the whole list for an empty
  PatientID, one group of 2,000 for `G<k>*`); dcmqrscp answers from `index.dat` files that
  `dcmqridx` filled with one tiny instance per study carrying the same values. Every C-FIND
  asks for exactly these keys.
- **Retrieve data**: `gen_data.py`'s 300 x 512x512 16-bit CT (Explicit VR LE, ~513 KiB each,
  150.3 MiB), page cache warm; dcmqrscp's retrieve area (`DCMQRRET`) indexes the same files.
- **findscu** runs with `-v -sr`: one short line per response and no dump of the identifiers.
  The harness counts the "Received Find Response" lines and requires the count to be exactly
  the expected one and the final response to be Success. (The default output, which dumps every
  identifier, doubles findscu's time.)
- **Checks** for the retrieves: exit status 0 and no `E:`/`F:` lines; getscu: its final counts
  (300 completed, 0 failed/warning) and a final Success; movescu: a final Success; writing
  clients/destinations: 300 files whose names carry exactly the study's 300 SOP Instance UIDs
  (first repetition: 3 files parsed with pydicom, PixelData length checked); `getscu --ignore`:
  300 C-STORE requests in its log; `storescp --ignore`: 300 "Received Store Request" lines in
  its log (it runs with `-v` for this); dicomqr SCU: its own counts (StoredInstance reports,
  final status, completed sub-operations) and the files. Files written are deleted and `sync`
  runs before the next run.
- **Servers** run for the whole harness (started once, warmed up with one untimed run per row);
  only processes the harness started are ever signalled.
- **CPU**: server CPU is from /proc (dcmqrscp's forked children included); "other load" is what
  processes other than the servers, the storescp destinations, the clients and the harness used.
  Before each run the harness waits (up to `--wait-idle` s) until the CPUs are <15% busy, and
  repeats a run once if others used more than `--max-other-load` % of the CPUs during it.
- **Noise**: a 2-vCPU VM where client, server and destination share the CPUs. Sub-second cells
  vary by ±10-30 % between repetitions; differences under ~1.3x between them are not rankings.
  Runs with a DCMTK client now and then take ~50 ms longer, whatever the server (storescu →
  storescp alone included; not investigated further), so their wall times fall on a ~50 ms grid
  (retrieves: 0.166 / 0.216 / 0.266 / 0.316 / 0.366 s, i.e. ~905 / 696 / 565 / 476 / 410 MiB/s;
  findscu against dicomqr: 0.32 or 0.37 s). Two such cells one step apart are not
  distinguishable; the dicomqr-SCU cells do not show the grid.
"""


def server_table(env: Env, failures: dict[str, str]) -> dict[str, Any]:
    cmds = server_commands(env, env.run_dir / "dcmqrscp" / "dcmqrscp.cfg")

    def shown(key: str) -> str:
        text = bench.display_command(cmds[key][1])
        text = text.replace(str(env.run_dir), "RUN").replace(str(env.work), "WORK")
        for port in env.ports.values():
            text = re.sub(rf"(?<=[ :]){port}\b", "PORT", text)
        return text
    return {
        "dicomqr": {"label": "dicomqr", "command": shown("dicomqr"),
                    "notes": "`make_server` + `QRHandlers` (find: plain generator of Datasets; "
                    "the variants are selected by called AE title: DQR-BYTES, DQR-ASYNC, "
                    "DQR-ABYTES), uvloop, max PDU 1 MiB (default)"},
        "pynetdicom": {"label": "pynetdicom", "command": shown("pynetdicom"),
                       "notes": "AE with EVT_C_FIND/GET/MOVE handlers, set up as pynetdicom's "
                       "qrscp app (all storage SOP classes with the SCP role); "
                       "maximum_associations 50; max PDU 16382 (default)"},
        "dcmqrscp": {"label": "DCMTK dcmqrscp", "command": shown("dcmqrscp"),
                     "notes": "config written by qr.py: 20 storage areas DCMQR01..20 of 500 "
                     "studies + DCMQRRET (the 300 retrieve files), indexes built with dcmqridx; "
                     "max PDU 16384; fork per association (default)"},
        "dest-write": {"label": "storescp (C-MOVE destination, writes)",
                       "command": shown("dest-write"), "notes": "AE STORESCP"},
        "dest-ignore": {"label": "storescp --ignore (C-MOVE destination, discards)",
                        "command": shown("dest-ignore"),
                        "notes": "AE STOREIGN; `-v` to count what arrives"},
        "dicomqr-serve": {"label": "dicomqr serve (ceiling receiver)",
                          "command": shown("dicomqr-serve"), "notes": ""},
    }


def client_table() -> dict[str, str]:
    def show(cmd: list[str], note: str = "") -> str:
        return f"`{bench.display_command(cmd)}`" + (f" {note}" if note else "")
    return {
        "findscu": show(findscu_cmd("PORT", "AE")),
        "findscu, 10 concurrent": show(findscu_cmd("PORT", "AE", "G<k>*")),
        "dicomqr SCU find": show(qr_client_cmd("find", "PORT", ["AE"], "--expect", "10000"),
                                 "(count only: `--no-decode`; concurrent: "
                                 "`--clients 10 --patient-id 'G0*' ...`)"),
        "getscu": show(getscu_cmd("PORT", "AE", "UID", Path("DIR")),
                       "(or `--ignore` instead of `-od DIR`)"),
        "movescu": show(movescu_cmd("PORT", "AE", "UID", "STORESCP"), "(or `-aem STOREIGN`)"),
        "dicomqr SCU get / move": show(qr_client_cmd(
            "get", "PORT", ["AE"], "--study", "UID", "--od", "DIR", "--expect", "300"),
            "(move: `move ... --dest-ae DQRSTORE --dest-port PORT`)"),
        "ceiling": show(bench.storescu_cmd("PORT", "AE", Path("DATA"))),
    }





# --------------------------------------------------------------------------- main


def _on_signal(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--reps", type=int, default=3, help="repetitions per cell (default 3)")
    ap.add_argument("--only", default=",".join(ROWS),
                    help=f"rows, comma-separated (default {','.join(ROWS)})")
    ap.add_argument("--servers", default=",".join(SERVERS),
                    help=f"comma-separated, from {','.join(SERVERS)} (default: all)")
    ap.add_argument("--work", type=Path, default=gen_data.default_workdir(),
                    help="scratch folder (default $DICOMQR_BENCH_WORK or /tmp/dicomqr-bench)")
    ap.add_argument("--results-md", type=Path, default=BENCH / "RESULTS.md",
                    help="report whose Query/Retrieve section is (re)written "
                    "(default bench/RESULTS.md)")
    ap.add_argument("--render-only", type=Path, metavar="JSON",
                    help="only render the section from an existing results JSON")
    ap.add_argument("--find-count", type=int, default=10000, help=argparse.SUPPRESS)
    ap.add_argument("--wait-idle", type=float, default=30.0, metavar="SECONDS",
                    help="before each run wait up to SECONDS for other processes to leave the "
                    "CPUs idle (default 30; 0: never wait)")
    ap.add_argument("--max-other-load", type=float, default=20.0, metavar="PCT",
                    help="repeat a run once if other processes used more than PCT%% of the "
                    "CPUs during it (default 20; 0: never)")
    ap.add_argument("--noise-budget", type=float, default=300.0, metavar="SECONDS",
                    help="total time waiting and repeating may add (default 300)")
    ap.add_argument("--lock-wait", type=float, default=900.0, metavar="SECONDS",
                    help="wait up to SECONDS for another run.py/qr.py on the same work folder")
    a = ap.parse_args(argv)

    if a.render_only:
        section = render_section(json.loads(a.render_only.read_text()))
        bench.write_section(a.results_md, section, QR_BEGIN, QR_END)
        log(f"wrote the Query/Retrieve section of {a.results_md}")
        return 0
    rows = bench.parse_list(a.only, ROWS, "row")
    servers = bench.parse_list(a.servers, SERVERS, "server")
    if a.reps < 1 or not rows or not servers:
        raise SystemExit("nothing to do")
    for exe in ("findscu", "getscu", "movescu", "storescu", "storescp", "dcmqrscp", "dcmqridx"):
        if not (DCMTK / exe).exists():
            raise SystemExit(f"{DCMTK / exe} missing: install DCMTK")
    work: Path = a.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, _on_signal)
    lock = open(work / ".run.lock", "w")  # noqa: SIM115 - held until exit
    if not bench.take_lock(lock, a.lock_wait):
        log("another benchmark still holds the work folder's lock; going on anyway")
    started = time.monotonic()
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = work / "qr-run" / f"{stamp}-{os.getpid()}"
    nonstandard = []
    if a.find_count != 10000:
        nonstandard.append(f"{a.find_count} C-FIND matches instead of 10,000")
    results: dict[str, Any] = {
        "meta": {"date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                 "command": shlex.join(["python3", "bench/qr.py", *(
                     sys.argv[1:] if argv is None else argv)]),
                 "env_work": os.environ.get("DICOMQR_BENCH_WORK", ""),
                 "nonstandard": "; ".join(nonstandard),
                 "loadavg_start": " ".join(Path("/proc/loadavg").read_text().split()[:3])},
        "machine": bench.machine_info(work),
        "config": {"reps": a.reps, "rows": rows, "servers": servers,
                   "wait_idle": a.wait_idle, "max_other_load": a.max_other_load,
                   "noise_budget": a.noise_budget, "find_count": a.find_count},
        "rows": {},
    }
    quiet = bench.Quiet(a.wait_idle, a.max_other_load, a.noise_budget)
    env: Env | None = None
    try:
        large, manifest = gen_data.ensure(work, "large", gen_data.LARGE_DEFAULT)
        files = gen_data.data_files(large)
        large_uids = bench.uids_of(files)
        from pydicom import dcmread

        study = str(dcmread(files[0], stop_before_pixels=True).StudyInstanceUID)
        areas = ensure_study_files(work, a.find_count) if "dcmqrscp" in servers else []
        env = Env(work=work, run_dir=run_dir, large=large, large_manifest=manifest,
                  large_uids=large_uids, study_uid=study, areas=areas,
                  find_count=a.find_count)
        env.move_write_dir = run_dir / "recv" / "storescp"
        env.serve_dir = run_dir / "recv" / "dicomqr-serve"
        env.move_write_dir.mkdir(parents=True)
        env.serve_dir.mkdir(parents=True)
        for key in ("dicomqr", "pynetdicom", "dcmqrscp", "dest-write", "dest-ignore",
                    "dest-dqr", "dicomqr-serve"):
            env.ports[key] = bench.free_port()
        bench.warm_page_cache(large)
        wanted = [s for s in servers]
        if any(r in rows for r in ("move", "ceiling")):
            wanted += ["dest-write", "dest-ignore"]
        if "ceiling" in rows:
            wanted.append("dicomqr-serve")
        failures = start_servers(env, wanted)
        results["start_failures"] = failures
        results["servers"] = {k: v for k, v in server_table(env, failures).items()
                              if k in wanted}
        results["clients"] = client_table()
        cells = build_cells(env, rows, servers)
        for row in rows:
            log(f"== row {row}")
            results["rows"][row] = measure_row(row, cells[row], env, a.reps, quiet, servers)
    except KeyboardInterrupt:
        log("interrupted; stopping servers")
        return 130
    finally:
        bench.stop_all_started()
        with contextlib.suppress(Exception):
            shutil.rmtree(run_dir / "recv", ignore_errors=True)
            shutil.rmtree(run_dir / "scratch", ignore_errors=True)
            shutil.rmtree(run_dir / "dcmqrscp" / "db", ignore_errors=True)
    results["meta"]["wall_s"] = time.monotonic() - started
    results["meta"]["loadavg_end"] = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    resdir = work / "results"
    resdir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=1, default=str)
    (resdir / f"qr-{stamp}.json").write_text(text)
    (resdir / "qr.json").write_text(text)
    bench.write_section(a.results_md, render_section(results), QR_BEGIN, QR_END)
    log(f"wrote {resdir / f'qr-{stamp}.json'} and the Query/Retrieve section of "
        f"{a.results_md} in {results['meta']['wall_s']:.0f} s")
    failed = [f"{row}/{k}" for row, d in results["rows"].items()
              for k, c in d["cells"].items() if not c["ok"]]
    if failed:
        log(f"FAILED cells: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
