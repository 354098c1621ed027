#!/usr/bin/env python3
"""dicomqr C-STORE / C-ECHO benchmark against DCMTK storescp and pynetdicom.

Workloads (rows), the same sender for every receiver, everything on 127.0.0.1:

* ``large``   300 x 512x512 16-bit CT (~150 MiB) sent by DCMTK ``storescu`` on one association;
              MiB/s from storescu's wall time.
* ``small``   8,000 x 64x64 16-bit CT/MR on one association (storescu); instances/s.
* ``echo``    200 sequential associations, one C-ECHO each, from a raw-socket client in this
              process (``echo_client.py``, no process start-up counted); ms per association.
* ``echoscu`` the same with a loop of 100 DCMTK ``echoscu`` processes (includes start-up).

Receivers: ``dicomqr`` (``dicomqr serve``, uvloop), ``dicomqr-asyncio`` (the same CLI with
uvloop blocked, ``serve_asyncio.py``), ``pynetdicom`` (``pyn_scp.py``, writes files),
``pynetdicom-discard``, ``storescp`` (DCMTK, writes files) and ``storescp-ignore`` (DCMTK
``--ignore``, the client-side ceiling); optional: ``dicomqr-pdu16k`` (``--max-pdu 16384``,
the PDU size storescp and pynetdicom announce).

For each row every receiver is started on its own free port (only processes this script
starts are ever signalled), warmed up, then the repetitions run interleaved (the receiver
order rotates every repetition), received files are deleted between repetitions, and the
servers are stopped in ``finally``.  Every run is checked (storescu exit status 0, no
error lines, files received == files sent and their SOP Instance UIDs == the ones sent,
server still alive); a failed run marks its cell failed.  Results go to
``WORK/results/results-<time>.json`` (and ``results.json``) and ``bench/RESULTS.md``.

WORK is ``$DICOMQR_BENCH_WORK`` or ``/tmp/dicomqr-bench``: data, received files, logs.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import importlib.metadata
import json
import os
import platform
import random
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

import echo_client  # noqa: E402
import gen_data  # noqa: E402

HOST = "127.0.0.1"
DCMTK = Path("/usr/bin")  # full paths: pynetdicom installs same-named scripts
SENDER_AE = "BENCHSCU"
UID_IN_NAME = re.compile(r"\d+(?:\.\d+){3,}")

ROWS = ("large", "small", "echo", "echoscu")
DEFAULT_RECEIVERS = ("dicomqr", "dicomqr-asyncio", "pynetdicom", "pynetdicom-discard",
                     "storescp", "storescp-ignore")
REF_DCMTK = "storescp"
REF_PYN = "pynetdicom"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def dcmtk_env() -> dict[str, str]:
    env = dict(os.environ)
    env["TCP_NODELAY"] = "1"  # DCMTK 3.6.7 keeps Nagle on without it (anchor NOTES quirk 1)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def dicomqr_script() -> str:
    """The ``dicomqr`` console script of the interpreter running us (venv or system)."""
    beside = Path(sys.executable).parent / "dicomqr"
    if beside.exists():
        return str(beside)
    found = shutil.which("dicomqr")
    if found is None:
        raise RuntimeError("dicomqr console script not found (is dicomqr installed?)")
    return found


# --------------------------------------------------------------------------- receivers


@dataclass(frozen=True)
class Receiver:
    key: str
    label: str
    ae_title: str
    writes: bool  # writes one file per instance
    echo: bool  # measured in the echo rows
    build: Callable[[str, Path], list[str]]
    max_pdu: str
    counts_from_log: bool = False  # pyn_scp.py --discard reports what it received
    notes: str = ""


def _dicomqr(extra: list[str], asyncio_loop: bool = False) -> Callable[[str, Path], list[str]]:
    def build(port: str, archive: Path) -> list[str]:
        head = ([sys.executable, str(BENCH / "serve_asyncio.py")] if asyncio_loop
                else [dicomqr_script()])
        return [*head, "serve", "--ae-title", "DICOMQR", "--host", HOST, "--port", port,
                "--archive", str(archive), *extra]
    return build


def _pyn(extra: list[str]) -> Callable[[str, Path], list[str]]:
    def build(port: str, archive: Path) -> list[str]:
        return [sys.executable, str(BENCH / "pyn_scp.py"), "--host", HOST, "--port", port,
                "--ae-title", "PYNSCP", "--dir", str(archive), *extra]
    return build


def _storescp(extra: list[str]) -> Callable[[str, Path], list[str]]:
    def build(port: str, archive: Path) -> list[str]:
        out = [] if "--ignore" in extra else ["-od", str(archive)]
        return [str(DCMTK / "storescp"), "-aet", "STORESCP", "+xa", *extra, *out, port]
    return build


RECEIVERS: dict[str, Receiver] = {r.key: r for r in [
    Receiver("dicomqr", "dicomqr (uvloop)", "DICOMQR", True, True, _dicomqr([]),
             "1 MiB (default)"),
    Receiver("dicomqr-asyncio", "dicomqr (plain asyncio)", "DICOMQR", True, True,
             _dicomqr([], asyncio_loop=True), "1 MiB (default)",
             notes="CLI has no loop switch; bench/serve_asyncio.py blocks `import uvloop`"),
    Receiver("dicomqr-pdu16k", "dicomqr (uvloop, --max-pdu 16384)", "DICOMQR", True, True,
             _dicomqr(["--max-pdu", "16384"]), "16 KiB"),
    Receiver("pynetdicom", "pynetdicom SCP (writes files)", "PYNSCP", True, True, _pyn([]),
             "16382 (default)"),
    Receiver("pynetdicom-discard", "pynetdicom SCP (discards; ceiling)", "PYNSCP", False,
             False, _pyn(["--discard"]), "16382 (default)", counts_from_log=True),
    Receiver("storescp", "DCMTK storescp (writes files)", "STORESCP", True, True,
             _storescp([]), "16384 (default)"),
    Receiver("storescp-ignore", "DCMTK storescp --ignore (discards; ceiling)", "STORESCP",
             False, False, _storescp(["--ignore"]), "16384 (default)"),
]}

_STARTED: list[subprocess.Popen[bytes]] = []  # only what we started; stopped in finally


@dataclass
class Server:
    receiver: Receiver
    port: int
    archive: Path
    logfile: Path
    command: list[str]
    proc: subprocess.Popen[bytes] | None = None
    start_error: str = ""

    def start(self, timeout: float = 15.0) -> bool:
        self.archive.mkdir(parents=True, exist_ok=True)
        self.logfile.parent.mkdir(parents=True, exist_ok=True)
        with open(self.logfile, "wb") as out:
            self.proc = subprocess.Popen(self.command, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=dcmtk_env(),
                                         cwd=self.archive.parent, start_new_session=True)
        _STARTED.append(self.proc)
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.start_error = f"exited with status {self.proc.returncode} at start-up"
                return False
            try:
                echo_client.one_association(HOST, self.port, self.receiver.ae_title, timeout=5)
                return True
            except (OSError, echo_client.EchoError) as exc:
                last = repr(exc)
                time.sleep(0.1)
        self.start_error = f"not answering C-ECHO after {timeout:.0f} s ({last})"
        return False

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        if proc in _STARTED:
            _STARTED.remove(proc)

    def log_size(self) -> int:
        try:
            return self.logfile.stat().st_size
        except OSError:
            return 0

    def log_since(self, offset: int) -> str:
        try:
            with open(self.logfile, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 25, offset: int = 0) -> str:
        return "\n".join(self.log_since(offset).splitlines()[-lines:])


def stop_all_started() -> None:
    for proc in list(_STARTED):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        _STARTED.remove(proc)


# --------------------------------------------------------------------------- CPU accounting

_TICK = os.sysconf("SC_CLK_TCK")


def _busy_seconds() -> float:
    """CPU seconds all processors spent not idle since boot (/proc/stat)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    v = [int(x) for x in fields]
    idle = v[3] + (v[4] if len(v) > 4 else 0)  # idle + iowait
    return (sum(v[:8]) - idle) / _TICK


def _proc_cpu(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        after_comm = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(x) for x in after_comm[11:15]) / _TICK  # utime stime cutime cstime


def own_cpu(pid: int) -> float:
    """CPU seconds of one process itself (utime + stime, children left out)."""
    try:
        after = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(after[11]) + int(after[12])) / _TICK


def children(pid: int) -> list[int]:
    """The live child processes of ``pid``."""
    kids = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            after = Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(after[1]) == pid:
            kids.append(int(entry.name))
    return kids


def write_section(path: Path, section: str, begin: str, end: str) -> None:
    """Replace the section between ``begin`` and ``end`` of a report (another
    benchmark's part of bench/RESULTS.md), or append it; keep the rest."""
    text = path.read_text() if path.exists() else ""
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + section + rest.split(end, 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + section
    path.write_text(text)


class CpuProbe:
    """How much CPU the server, our clients and everybody else used during one run.
    Other processes on the machine (e.g. a test suite) compete for the same CPUs, so
    their share is recorded with every run."""

    def __init__(self, server_pid: int | None) -> None:
        self.pid = server_pid
        self.wall = time.perf_counter()
        self.busy = _busy_seconds()
        self.server = _proc_cpu(server_pid)
        t = os.times()
        self.ours = t.user + t.system + t.children_user + t.children_system

    def result(self) -> dict[str, float]:
        wall = time.perf_counter() - self.wall
        busy = _busy_seconds() - self.busy
        server = _proc_cpu(self.pid) - self.server
        t = os.times()
        clients = t.user + t.system + t.children_user + t.children_system - self.ours
        other = max(0.0, busy - server - clients)
        ncpu = len(os.sched_getaffinity(0))
        return {"server_cpu_s": round(server, 3), "client_cpu_s": round(clients, 3),
                "other_cpu_pct": round(100.0 * other / (ncpu * wall), 1) if wall > 0 else 0.0}


class Quiet:
    """Keeps other processes' CPU use out of the measurements, within a time budget.

    Before each run it waits (at most ``max_wait`` s) until the CPUs were less than
    ``idle_pct`` busy over a 0.5 s window (our servers are idle then), and a run during which
    other processes used more than ``max_other_pct`` of the CPUs is repeated once.  Waiting
    and repeating together stop when ``budget`` seconds have been spent on them."""

    def __init__(self, max_wait: float, max_other_pct: float, budget: float,
                 idle_pct: float = 15.0) -> None:
        self.max_wait = max_wait
        self.max_other_pct = max_other_pct
        self.budget = budget
        self.idle_pct = idle_pct
        self.spent = 0.0
        self.waited = 0.0
        self.repeated = 0
        self.exhausted_logged = False

    def left(self) -> float:
        left = self.budget - self.spent
        if left <= 0 and not self.exhausted_logged:
            log(f"  noise budget of {self.budget:g} s used up: no more waiting or repeating")
            self.exhausted_logged = True
        return left

    def wait(self) -> None:
        if self.max_wait <= 0 or self.left() <= 0:
            return
        t0 = time.monotonic()
        ncpu = len(os.sched_getaffinity(0))
        said = False
        while True:
            b0, w0 = _busy_seconds(), time.perf_counter()
            time.sleep(0.5)
            pct = 100.0 * (_busy_seconds() - b0) / (ncpu * (time.perf_counter() - w0))
            waited = time.monotonic() - t0
            if pct < self.idle_pct:
                break
            if waited >= self.max_wait or waited >= self.left():
                log(f"  machine still {pct:.0f}% busy after waiting {waited:.0f} s; going on")
                break
            if not said:
                log(f"  machine {pct:.0f}% busy with other work; waiting")
                said = True
        if said:  # the 0.5 s probe of an idle machine is not counted
            waited = time.monotonic() - t0
            self.waited += waited
            self.spent += waited

    def should_repeat(self, run: dict[str, Any]) -> bool:
        other_s = run.get("other_cpu_pct", 0.0) / 100 * run["seconds"] * len(
            os.sched_getaffinity(0))
        if (self.max_other_pct <= 0 or run.get("other_cpu_pct", 0.0) <= self.max_other_pct
                or other_s < 0.05 or not run["ok"]):
            return False
        if self.left() < run["seconds"]:
            return False
        self.spent += run["seconds"]
        self.repeated += 1
        return True


# --------------------------------------------------------------------------- received files


def iter_received(archive: Path) -> Iterator[os.DirEntry[str]]:
    stack = [archive]
    while stack:
        try:
            it = os.scandir(stack.pop())
        except FileNotFoundError:
            continue
        with it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    yield entry


def received_stats(archive: Path) -> tuple[int, int, int, set[str]]:
    """(final files, their bytes, partial files, SOP Instance UIDs parsed from the names).
    Files under a ``.incoming`` folder (dicomqr's partial files) are counted apart."""
    files = nbytes = partial = 0
    uids: set[str] = set()
    for entry in iter_received(archive):
        if f"{os.sep}.incoming" in entry.path or entry.name.endswith(".part"):
            partial += 1
            continue
        files += 1
        nbytes += entry.stat(follow_symlinks=False).st_size
        m = UID_IN_NAME.search(entry.name)
        if m:
            uids.add(m.group())
    return files, nbytes, partial, uids


def clear_received(archive: Path) -> None:
    """Delete every file but keep the folders: a running server may cache that its
    sub-folders exist (dicomqr does)."""
    for entry in list(iter_received(archive)):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(entry.path)


def sample_check(archive: Path, expected_uids: set[str], pixel_bytes: int, k: int = 5) -> str:
    """Parse a few received files with pydicom; return an error message or ''."""
    from pydicom import dcmread

    entries = [e for e in iter_received(archive) if ".incoming" not in e.path]
    for entry in random.Random(7).sample(entries, min(k, len(entries))):
        try:
            ds = dcmread(entry.path)
            uid = str(ds.SOPInstanceUID)
            if uid not in expected_uids:
                return f"{entry.name}: SOPInstanceUID {uid} was not sent"
            if str(ds.file_meta.MediaStorageSOPInstanceUID) != uid:
                return f"{entry.name}: file meta SOP Instance UID differs from the dataset's"
            if len(ds.PixelData) != pixel_bytes:
                return f"{entry.name}: PixelData has {len(ds.PixelData)} bytes, not {pixel_bytes}"
        except Exception as exc:
            return f"{entry.name}: unreadable by pydicom: {exc!r}"
    return ""


# --------------------------------------------------------------------------- workloads


@dataclass
class Workload:
    row: str
    title: str
    unit: str
    higher_better: bool
    count: int
    folder: Path | None = None
    manifest: dict[str, Any] = field(default_factory=dict)
    uids: set[str] = field(default_factory=set)
    timeout: float = 120.0

    def metric(self, seconds: float) -> float:
        if self.row == "large":
            return float(self.manifest["bytes"]) / 2**20 / seconds
        if self.row == "small":
            return self.count / seconds
        return 1000.0 * seconds / self.count  # ms per association


def display_command(cmd: list[str]) -> str:
    """A command line as a reader would type it from the repository root."""
    shown = []
    for arg in cmd:
        if arg == sys.executable:
            arg = "python"
        elif arg.startswith(str(BENCH)):
            arg = "bench" + arg[len(str(BENCH)):]
        elif Path(arg).name == "dicomqr" and Path(arg).is_absolute():
            arg = "dicomqr"
        shown.append(arg)
    return shlex.join(shown)


def storescu_cmd(port: int | str, ae: str, folder: Path) -> list[str]:
    return [str(DCMTK / "storescu"), "+sd", "+r", "+sp", "*.dcm", "-aet", SENDER_AE,
            "-aec", ae, HOST, str(port), str(folder)]


def echoscu_cmd(port: int | str, ae: str) -> list[str]:
    return [str(DCMTK / "echoscu"), "-aet", SENDER_AE, "-aec", ae, HOST, str(port)]


def run_store(w: Workload, srv: Server, *, check_sample: bool) -> dict[str, Any]:
    assert w.folder is not None
    clear_received(srv.archive)
    os.sync()  # do not let the previous run's write-back land in this one
    offset = srv.log_size()
    cmd = storescu_cmd(srv.port, srv.receiver.ae_title, w.folder)
    errors: list[str] = []
    warnings: list[str] = []
    probe = CpuProbe(srv.proc.pid if srv.proc else None)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, env=dcmtk_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=w.timeout, check=False)
        seconds = time.perf_counter() - t0
        output = proc.stdout.decode("utf-8", "replace")
        rc: int | None = proc.returncode
    except subprocess.TimeoutExpired as exc:
        seconds = time.perf_counter() - t0
        output = (exc.output or b"").decode("utf-8", "replace")
        rc = None
        errors.append(f"storescu killed after the {w.timeout:.0f} s timeout")
    if rc not in (0, None):
        errors.append(f"storescu exit status {rc}")
    bad = [ln for ln in output.splitlines() if ln.startswith(("E:", "F:"))]
    if bad:
        errors.append("storescu: " + " | ".join(bad[:5]))
    warnings += [ln for ln in output.splitlines() if ln.startswith("W:")][:5]
    run: dict[str, Any] = {"seconds": round(seconds, 4), "value": w.metric(seconds),
                           "storescu_rc": rc, **probe.result()}
    if srv.receiver.writes:
        deadline = time.monotonic() + 5.0  # files should be final before the C-STORE-RSP
        files, nbytes, partial, uids = received_stats(srv.archive)
        first = files
        while files < w.count and time.monotonic() < deadline and srv.alive():
            time.sleep(0.1)
            files, nbytes, partial, uids = received_stats(srv.archive)
        if first < files:
            warnings.append(f"only {first} files in place when storescu exited, {files} later")
        run.update(files=files, received_mib=round(nbytes / 2**20, 2), partial_files=partial)
        if files != w.count:
            errors.append(f"{files} files received, {w.count} sent")
        if partial:
            errors.append(f"{partial} partial files left in the archive")
        if uids and uids != w.uids:
            errors.append(f"received file names do not match the sent SOP Instance UIDs "
                          f"({len(w.uids - uids)} missing, {len(uids - w.uids)} unexpected)")
        run["uids_checked"] = bool(uids)
        if check_sample and not errors:
            pixel = 2 * int(w.manifest["rows"]) * int(w.manifest["columns"])
            msg = sample_check(srv.archive, w.uids, pixel)
            if msg:
                errors.append(msg)
            run["sample_parsed"] = True
    elif srv.receiver.counts_from_log:
        time.sleep(0.05)
        text = srv.log_since(offset)
        stored = sum(int(m) for m in re.findall(r"stored=(\d+)", text))
        run["reported_stored"] = stored
        if stored != w.count:
            errors.append(f"server reports {stored} instances received, {w.count} sent")
    if not srv.alive():
        errors.append(f"server died: {srv.log_tail(offset=offset)}")
    if errors:
        run["server_log"] = srv.log_tail(offset=offset)
        run["storescu_output"] = "\n".join(output.splitlines()[-15:])
    run.update(ok=not errors, errors=errors, warnings=warnings)
    return run


def run_echo(w: Workload, srv: Server, **_: Any) -> dict[str, Any]:
    offset = srv.log_size()
    errors: list[str] = []
    probe = CpuProbe(srv.proc.pid if srv.proc else None)
    t0 = time.perf_counter()
    done = 0
    try:
        for done in range(1, w.count + 1):  # noqa: B007
            echo_client.one_association(HOST, srv.port, srv.receiver.ae_title, timeout=10)
    except (OSError, echo_client.EchoError) as exc:
        errors.append(f"association {done} of {w.count} failed: {exc!r}")
    seconds = time.perf_counter() - t0
    run: dict[str, Any] = {"seconds": round(seconds, 4), "value": w.metric(seconds),
                           **probe.result()}
    if not srv.alive():
        errors.append("server died")
    if errors:
        run["server_log"] = srv.log_tail(offset=offset)
    run.update(ok=not errors, errors=errors, warnings=[])
    return run


def run_echoscu(w: Workload, srv: Server, **_: Any) -> dict[str, Any]:
    offset = srv.log_size()
    errors: list[str] = []
    cmd = echoscu_cmd(srv.port, srv.receiver.ae_title)
    env = dcmtk_env()
    probe = CpuProbe(srv.proc.pid if srv.proc else None)
    t0 = time.perf_counter()
    for i in range(w.count):
        try:
            proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, timeout=10, check=False)
        except subprocess.TimeoutExpired:
            errors.append(f"echoscu {i + 1} of {w.count} timed out")
            break
        if proc.returncode != 0:
            errors.append(f"echoscu {i + 1} of {w.count} exit status {proc.returncode}: "
                          + proc.stdout.decode("utf-8", "replace")[-500:])
            break
    seconds = time.perf_counter() - t0
    run: dict[str, Any] = {"seconds": round(seconds, 4), "value": w.metric(seconds),
                           **probe.result()}
    if not srv.alive():
        errors.append("server died")
    if errors:
        run["server_log"] = srv.log_tail(offset=offset)
    run.update(ok=not errors, errors=errors, warnings=[])
    return run


RUNNERS: dict[str, Callable[..., dict[str, Any]]] = {
    "large": run_store, "small": run_store, "echo": run_echo, "echoscu": run_echoscu,
}


def summarize(runs: list[dict[str, Any]], higher_better: bool) -> dict[str, Any]:
    values = [r["value"] for r in runs if r["ok"]]
    cell: dict[str, Any] = {"ok": bool(runs) and all(r["ok"] for r in runs),
                            "reps_ok": len(values), "reps": len(runs)}
    if values:
        med = statistics.median(values)
        cell.update(median=med, min=min(values), max=max(values),
                    spread_pct=100.0 * (max(values) - min(values)) / 2 / med if med else 0.0,
                    median_seconds=statistics.median(r["seconds"] for r in runs if r["ok"]),
                    server_cpu_s=statistics.median(r.get("server_cpu_s", 0.0)
                                                   for r in runs if r["ok"]))
    if runs:
        cell["other_cpu_pct_max"] = max(r.get("other_cpu_pct", 0.0) for r in runs)
    cell["errors"] = sorted({e for r in runs for e in r["errors"]})
    return cell


_START_FAILED: dict[str, str] = {}  # receivers that did not start: not retried in later rows


def measure_row(w: Workload, receivers: list[Receiver], reps: int, work: Path,
                stamp: str, warm: Workload | None, quiet: Quiet) -> dict[str, Any]:
    """All repetitions of one row.  For the store rows every run gets a freshly started
    receiver writing into a new, empty folder (a folder that held and lost 8,000 entries is
    slower to create files in, which would penalise whichever receiver ran later); the echo
    rows keep one server per receiver for the whole row."""
    store_row = w.row in ("large", "small")
    applicable = [r for r in receivers if r.echo or store_row]
    servers: dict[str, Server] = {}
    launches: dict[str, int] = {}
    waited0, repeated0 = quiet.waited, quiet.repeated
    cells: dict[str, dict[str, Any]] = {}
    runs: dict[str, list[dict[str, Any]]] = {r.key: [] for r in applicable}
    used: dict[str, bool] = {}  # the running server of a receiver has had a timed run

    def launch(rec: Receiver) -> Server | None:
        old = servers.pop(rec.key, None)
        if old is not None:
            old.stop()
            shutil.rmtree(old.archive, ignore_errors=True)
        n = launches[rec.key] = launches.get(rec.key, 0) + 1
        port = free_port()
        archive = work / "received" / f"{stamp}-{os.getpid()}" / f"{rec.key}-{n}"
        shutil.rmtree(archive, ignore_errors=True)
        srv = Server(rec, port, archive, work / "logs" / stamp / f"{w.row}-{rec.key}-{n}.log",
                     rec.build(str(port), archive))
        if n == 1:
            log(f"{w.row}: starting {rec.key}: {shlex.join(srv.command)}")
        if not srv.start():
            log(f"  {rec.key} did not start: {srv.start_error}\n{srv.log_tail(12)}")
            srv.stop()
            if n == 1:
                _START_FAILED[rec.key] = f"in row {w.row}; not retried"
                cells[rec.key] = {"ok": False, "reps_ok": 0, "reps": 0,
                                  "errors": [f"server {srv.start_error}"],
                                  "server_log": srv.log_tail(12)}
            return None
        servers[rec.key] = srv
        used[rec.key] = False
        if warm is not None and store_row:  # untimed warm-up: a few instances
            r = run_store(warm, srv, check_sample=False)
            if not r["ok"]:
                log(f"  warm-up problems: {r['errors']}")
            clear_received(archive)
        return srv

    def one_run(rec: Receiver, rep: int, check_sample: bool) -> dict[str, Any] | None:
        srv: Server | None = servers.get(rec.key)
        if store_row and (srv is None or used[rec.key]):
            srv = launch(rec)
        if srv is None or not srv.alive():
            return None
        used[rec.key] = True
        quiet.wait()
        try:
            return RUNNERS[w.row](w, srv, check_sample=check_sample)
        except Exception as exc:  # a harness problem must not stop the whole run
            log(f"  harness error: {exc!r}")
            return {"ok": False, "seconds": 0.0, "value": 0.0, "warnings": [],
                    "errors": [f"harness error: {exc!r}"]}

    try:
        for rec in applicable:
            if rec.key in _START_FAILED:
                cells[rec.key] = {"ok": False, "reps_ok": 0, "reps": 0,
                                  "errors": [f"server did not start ({_START_FAILED[rec.key]})"]}
                continue
            launch(rec)
        order = [r for r in applicable if r.key in servers]
        for rep in range(reps):
            shift = rep % max(1, len(order))
            for rec in order[shift:] + order[:shift]:
                key = rec.key
                if runs[key] and not runs[key][-1]["ok"] and any(
                        "timeout" in e or "died" in e for e in runs[key][-1]["errors"]):
                    continue  # do not wait out a timeout again
                r = one_run(rec, rep, check_sample=(rep == 0))
                if r is None:
                    runs[key].append({"rep": rep + 1, "ok": False, "seconds": 0.0, "value": 0.0,
                                      "errors": ["server not running (did not restart)"],
                                      "warnings": []})
                    continue
                if quiet.should_repeat(r):
                    log(f"  rep {rep + 1} {key}: {r['seconds']:.3f} s with "
                        f"{r['other_cpu_pct']:.0f}% of the CPUs used by other processes; "
                        "repeating it")
                    first = r
                    again = one_run(rec, rep, check_sample=False)
                    if again is not None:
                        r = again
                        r["discarded_attempt"] = {k: first[k] for k in (
                            "seconds", "value", "other_cpu_pct", "server_cpu_s")}
                r["rep"] = rep + 1
                runs[key].append(r)
                status = "ok" if r["ok"] else "FAILED " + "; ".join(r["errors"])[:300]
                log(f"  rep {rep + 1} {key}: {r['seconds']:.3f} s = "
                    f"{r['value']:.2f} {w.unit} {status}")
    finally:
        for srv in servers.values():
            srv.stop()
            shutil.rmtree(srv.archive, ignore_errors=True)
    for key, rr in runs.items():
        if key not in cells:
            cells[key] = summarize(rr, w.higher_better)
            cells[key]["runs"] = rr
    return {"title": w.title, "unit": w.unit, "higher_better": w.higher_better,
            "count": w.count, "cells": cells,
            "idle_wait_s": round(quiet.waited - waited0, 1),
            "repeated_runs": quiet.repeated - repeated0,
            "bytes": w.manifest.get("bytes"), "source": str(w.folder) if w.folder else None}


# --------------------------------------------------------------------------- environment


def _cmd_output(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=20, check=False).stdout.decode("utf-8", "replace").strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"? ({exc!r})"


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _fs_type(path: Path) -> str:
    best, fstype = "", "?"
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            if len(parts) > 2 and str(path).startswith(parts[1]) and len(parts[1]) > len(best):
                best, fstype = parts[1], parts[2]
    except OSError:
        pass
    return fstype


def source_digest() -> str:
    h = hashlib.sha256()
    src = REPO / "src" / "dicomqr"
    for p in sorted(src.rglob("*.py")):
        h.update(str(p.relative_to(src)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()[:12]


def machine_info(work: Path) -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines()
                  if ln.startswith("model name")), platform.processor() or "?")
    mem = ""
    with contextlib.suppress(OSError):
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kib / 2**20:.1f} GiB"
    os_name = ""
    with contextlib.suppress(OSError):
        for ln in Path("/etc/os-release").read_text().splitlines():
            if ln.startswith("PRETTY_NAME="):
                os_name = ln.split("=", 1)[1].strip('"')
    head = _cmd_output(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    dirty = _cmd_output(["git", "-C", str(REPO), "status", "--porcelain", "--", "src"])
    try:
        import uvloop

        uvloop_version = str(getattr(uvloop, "__version__", "?"))
    except ImportError:
        uvloop_version = "not installed (dicomqr falls back to asyncio)"
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "memory": mem,
        "os": os_name,
        "kernel": platform.release(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "python_executable": sys.executable,
        "dcmtk": _cmd_output([str(DCMTK / "storescp"), "--version"]).splitlines()[0],
        "dcmtk_package": _cmd_output(["dpkg-query", "-W", "-f", "${Version}", "dcmtk"]),
        "pynetdicom": _version("pynetdicom"),
        "pydicom": _version("pydicom"),
        "dicomqr": (f"{_version('dicomqr')} (git {head}"
                    f"{', uncommitted changes in src/' if dirty else ''}; "
                    f"src digest {source_digest()})"),
        "uvloop": uvloop_version,
        "numpy": _version("numpy"),
        "work_dir": str(work),
        "work_fs": _fs_type(work),
    }


# --------------------------------------------------------------------------- report


def fmt(value: float) -> str:
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def ratio(cell: dict[str, Any], ref: dict[str, Any] | None, higher_better: bool) -> str:
    if not ref or "median" not in ref or "median" not in cell or not ref.get("ok"):
        return "—"
    r = cell["median"] / ref["median"] if higher_better else ref["median"] / cell["median"]
    return f"{r:.3g}x"


def render(results: dict[str, Any]) -> str:
    meta, m = results["meta"], results["machine"]
    out: list[str] = []
    out.append("# dicomqr benchmark: C-STORE and C-ECHO against DCMTK storescp and pynetdicom\n")
    out.append(f"Measured {meta['date']} (harness wall time {meta['wall_s']:.0f} s). "
               f"Command: `{meta['command']}` (from the repository root"
               f"{', with DICOMQR_BENCH_WORK set' if meta.get('env_work') else ''}).\n")
    if meta.get("nonstandard"):
        out.append(f"**Non-standard run:** {meta['nonstandard']}\n")
    out.append("Medians of the repetitions; spread is min-max of the repetitions and ±% is half "
               "of it relative to the median. The ratio columns are *speed* ratios (receiver "
               "vs reference, >1 = faster than the reference, for ms/association as well), "
               "against DCMTK storescp writing files and pynetdicom writing files. "
               "A cell is FAILED if any repetition failed a check.\n")
    out.append("## Machine\n")
    out.append("| | |\n|---|---|")
    for k, label in [("nproc", "CPUs (nproc)"), ("cpu_model", "CPU"), ("memory", "RAM"),
                     ("os", "OS"), ("kernel", "kernel"), ("python", "Python"),
                     ("dcmtk", "DCMTK"), ("dcmtk_package", "DCMTK package"),
                     ("pynetdicom", "pynetdicom"), ("pydicom", "pydicom"),
                     ("dicomqr", "dicomqr"), ("uvloop", "uvloop"), ("numpy", "numpy (data)"),
                     ("work_fs", "scratch file system")]:
        out.append(f"| {label} | {m.get(k, '?')} |")
    out.append("")
    out.append("## Receivers and senders\n")
    out.append("All on 127.0.0.1 (the client always connects to 127.0.0.1; storescp 3.6.7 has "
               "no bind option and listens on all interfaces), each on its own free port, "
               "started and stopped by the harness. DCMTK processes run with `TCP_NODELAY=1`.\n")
    out.append("| receiver | command (PORT, DIR filled in) | writes files | max PDU announced |")
    out.append("|---|---|---|---|")
    for r in results["receivers"].values():
        note = f" — {r['notes']}" if r.get("notes") else ""
        out.append(f"| {r['label']} | `{r['command']}`{note} | {'yes' if r['writes'] else 'no'} "
                   f"| {r['max_pdu']} |")
    out.append("")
    for name, cmd in results["senders"].items():
        out.append(f"- {name}: `{cmd}`")
    out.append("")
    for row, data in results["rows"].items():
        cells = data["cells"]
        hb = data["higher_better"]
        out.append(f"## {data['title']}\n")
        if data.get("bytes"):
            out.append(f"{data['count']:,} instances, {data['bytes'] / 2**20:.1f} MiB "
                       f"(file sizes), {results['config']['reps']} repetitions.\n")
        else:
            out.append(f"{data['count']} associations per repetition, "
                       f"{results['config']['reps']} repetitions.\n")
        out.append(f"| receiver | median {data['unit']} | spread | per repetition | "
                   f"median wall | vs storescp | vs pynetdicom | server CPU | "
                   f"other load | checks |")
        out.append("|---|---|---|---|---|---|---|---|---|---|")
        for key, cell in cells.items():
            label = results["receivers"][key]["label"]
            if "median" in cell:
                med = fmt(cell["median"])
                spread = f"{fmt(cell['min'])}-{fmt(cell['max'])} (±{cell['spread_pct']:.0f}%)"
                per = ", ".join(fmt(r["value"]) for r in cell.get("runs", []) if r["ok"])
                wall = f"{cell['median_seconds']:.3f} s"
                cpu = f"{cell['server_cpu_s']:.2f} s"
            else:
                med = spread = per = wall = cpu = "—"
            other = (f"{cell['other_cpu_pct_max']:.0f}%"
                     if "other_cpu_pct_max" in cell and cell.get("median_seconds", 0) >= 0.2
                     else "—")
            if cell["ok"]:
                checks = f"ok ({cell['reps_ok']}/{cell['reps']})"
            elif cell["reps"] == 0:
                checks = "**FAILED** (server did not start)"
                med = "**FAILED**"
            else:
                checks = f"**FAILED** ({cell['reps_ok']}/{cell['reps']} ok)"
                med = f"**FAILED** {med if med != '—' else ''}".strip()
            out.append(f"| {label} | {med} | {spread} | {per} | {wall} | "
                       f"{ratio(cell, cells.get(REF_DCMTK), hb)} | "
                       f"{ratio(cell, cells.get(REF_PYN), hb)} | {cpu} | {other} | {checks} |")
        out.append("")
        notes = results.get("row_notes", {}).get(row)
        if notes:
            out.append(notes + "\n")
        if data.get("idle_wait_s", 0) >= 1 or data.get("repeated_runs"):
            out.append(f"Other processes were using the machine: the harness waited "
                       f"{data['idle_wait_s']:.0f} s in total for idle CPUs before runs of this "
                       f"row and repeated {data.get('repeated_runs', 0)} run(s) during which "
                       "others used too much CPU (only the repeat counts).\n")
    failures = [(row, key, cell) for row, data in results["rows"].items()
                for key, cell in data["cells"].items() if not cell["ok"]]
    out.append("## Failures\n")
    if not failures:
        out.append("None: every repetition of every cell passed its checks.\n")
    for row, key, cell in failures:
        out.append(f"- **{row} / {key}**: " + "; ".join(cell["errors"])[:1500])
        logs = [cell.get("server_log", "")] + [r.get("server_log", "")
                                                for r in cell.get("runs", []) if not r["ok"]]
        tail = next((t for t in logs if t), "")
        if tail:
            out.append("\n  server log (tail):\n\n  ```text\n"
                       + "\n".join("  " + ln[:300] for ln in tail.splitlines()[-12:])
                       + "\n  ```\n")
    out.append("")
    out.append("## How it is measured\n")
    out.append(METHOD)
    return "\n".join(out) + "\n"


METHOD = """\
- **Data** (`bench/gen_data.py`, cached under `$DICOMQR_BENCH_WORK/data`): deterministic
  synthetic Part 10 files, Explicit VR Little Endian, 16-bit MONOCHROME2. Small: 64x64 CT/MR,
  4 instances per series, 2 series per study, 2 studies per patient (~9 KiB per file). Large: one
  CT series of 512x512 slices (~512 KiB per file). Read once before the run (page cache warm).
- **Store rows**: one `storescu +sd +r` run = one association carrying every file; the time is
  storescu's wall time, which includes its process start-up and its scan of the folder (it reads
  every file once before associating, anchor NOTES quirk 13) — the same for every receiver, and
  visible on its own in the `storescp --ignore` row, which is the sender's ceiling.
- **Checks per repetition**: storescu exit status 0 and no `E:`/`F:` lines; receivers that write:
  number of files == number sent, no partial files left, the SOP Instance UIDs in the file names
  == the set sent, and (first repetition) 5 random files parsed with pydicom (SOP Instance UID,
  file meta, PixelData length); pynetdicom-discard: the count of C-STOREs it reports; the server
  is still running afterwards.
- **Fresh receiver per store run**: every timed store run gets a newly started receiver
  writing into a new, empty folder, warmed up with 5 instances (untimed, deleted again, then
  `sync`). Reusing a folder that had held 8,000 files measurably slows file creation on ext4
  and would penalise whichever receiver happened to run later. The echo rows keep one server
  per receiver for all repetitions.
- **Echo rows**: `echo` is the raw-socket client `bench/echo_client.py` inside the harness
  process (A-ASSOCIATE-RQ with one Verification context, C-ECHO-RQ, A-RELEASE-RQ, TCP_NODELAY,
  waiting for each answer, result and status checked); `echoscu` spawns `/usr/bin/echoscu` per
  association, so it includes the process start-up (~20 ms per echoscu on this machine). The
  discarding variants run the same association code as their writing twins and are not
  measured for echo.
- **server CPU** is the receiver process's user+system CPU time during the run (median);
  **other load** is the largest share of the machine's CPUs that processes *other* than the
  receiver, the sender and this harness used during any repetition of the cell (from
  /proc/stat): anything above a few % means the machine was shared and the cell is suspect.
  It is only shown for cells whose runs last 0.2 s or more (the kernel counts CPU time in 10 ms
  ticks, so shorter runs give meaningless percentages).
- **Order**: the repetitions are interleaved (every receiver once, then the next repetition),
  rotating the receiver order each repetition, so slow drift of the machine hits every receiver
  alike.
- **Other work on the machine**: before each run the harness waits (up to `--wait-idle`, 30 s)
  until the CPUs are <15 % busy over 0.5 s, and a run during which other processes used more
  than `--max-other-load` (20 %) of the CPUs is repeated once, only the repeat counting (the
  JSON keeps the discarded attempt); waiting and repeating stop after `--noise-budget` (150 s).
- **Noise**: a 2-vCPU VM where sender and receiver share the CPUs. Expect ±5-20 % on multi-second
  cells and more on sub-second ones (see the spread column); differences under ~1.3x between
  sub-second cells are not rankings.
"""


ROW_NOTES = {
    "echo": "pynetdicom's per-association cost is dominated by copying its supported "
            "presentation contexts (every storage SOP class x every transfer syntax, as "
            "`storescp +xa` accepts) for each association (anchor NOTES quirk 5).",
}


# --------------------------------------------------------------------------- main

#: The sections other benchmarks keep in bench/RESULTS.md (qr.py, archive.py,
#: index_latency.py), carried over when this one rewrites the file.
OTHER_SECTIONS = ("qr", "archive", "latency")


def with_qr_section(text: str, path: Path) -> str:
    """The other benchmarks keep their sections in the same file (between
    ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->``): carry them over."""
    try:
        old = path.read_text()
    except OSError:
        return text
    for name in OTHER_SECTIONS:
        begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
        if begin in old and end in old:
            section = begin + old.split(begin, 1)[1].split(end, 1)[0] + end + "\n"
            text = text.rstrip("\n") + "\n\n" + section
    return text


def warm_page_cache(folder: Path) -> None:
    for p in folder.glob("*.dcm"):
        with open(p, "rb") as f:
            while f.read(1 << 20):
                pass


def uids_of(files: list[Path]) -> set[str]:
    from pydicom import dcmread

    return {str(dcmread(p, stop_before_pixels=True, specific_tags=["SOPInstanceUID"])
                .SOPInstanceUID) for p in files}


def prepare(work: Path, rows: list[str], small: int, large: int,
            echo_n: int, echoscu_n: int) -> dict[str, Workload]:
    specs = {
        "large": Workload("large", f"Large: {large} x 512x512 16-bit CT on one association "
                          "(storescu)", "MiB/s", True, large, timeout=120.0),
        "small": Workload("small", f"Small: {small:,} x 64x64 16-bit on one association "
                          "(storescu)", "inst/s", True, small, timeout=240.0),
        "echo": Workload("echo", f"Echo: {echo_n} sequential associations x 1 C-ECHO, "
                         "raw-socket client", "ms/assoc", False, echo_n),
        "echoscu": Workload("echoscu", f"Echo: {echoscu_n} sequential `echoscu` processes "
                            "(process start-up included)", "ms/assoc", False, echoscu_n),
    }
    out: dict[str, Workload] = {}
    for row in rows:
        w = specs[row]
        if row in ("large", "small"):
            folder, manifest = gen_data.ensure(work, row, w.count)
            w.folder, w.manifest = folder, manifest
            files = gen_data.data_files(folder)
            w.uids = uids_of(files)
            if len(files) != w.count or len(w.uids) != w.count:
                raise RuntimeError(f"{folder}: {len(files)} files / {len(w.uids)} UIDs, "
                                   f"expected {w.count}")
            warm_page_cache(folder)
        out[row] = w
    if "small" in out or "large" in out:  # 5 files for the untimed warm-up of each receiver
        src = out["small" if "small" in out else "large"]
        assert src.folder is not None
        warm = work / "data" / "warmup"
        shutil.rmtree(warm, ignore_errors=True)
        warm.mkdir(parents=True)
        for p in gen_data.data_files(src.folder)[:5]:
            shutil.copy(p, warm / p.name)
        out["warmup"] = Workload("warmup", "warm-up", src.unit, True, 5, folder=warm,
                                 manifest=src.manifest, uids=uids_of(gen_data.data_files(warm)))
    return out


def parse_list(text: str, allowed: list[str] | tuple[str, ...], what: str) -> list[str]:
    items = [x.strip() for x in text.split(",") if x.strip()]
    bad = [x for x in items if x not in allowed]
    if bad:
        raise SystemExit(f"unknown {what}: {', '.join(bad)} (choose from {', '.join(allowed)})")
    return items


def take_lock(lock: Any, max_wait: float) -> bool:
    """One benchmark at a time per work folder: concurrent runs would share the CPUs."""
    import fcntl

    t0 = time.monotonic()
    said = False
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if not said:
                log("another run.py is running on this work folder; waiting for it to finish")
                said = True
            if time.monotonic() - t0 > max_wait:
                return False
            time.sleep(1.0)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--reps", type=int, default=3, help="repetitions per cell (default 3)")
    ap.add_argument("--only", default=",".join(ROWS),
                    help=f"rows to run, comma-separated (default {','.join(ROWS)})")
    ap.add_argument("--receivers", default=",".join(DEFAULT_RECEIVERS),
                    help=f"comma-separated, from {','.join(RECEIVERS)} "
                    f"(default {','.join(DEFAULT_RECEIVERS)})")
    ap.add_argument("--work", type=Path, default=gen_data.default_workdir(),
                    help="scratch folder (default $DICOMQR_BENCH_WORK or /tmp/dicomqr-bench)")
    ap.add_argument("--results-md", type=Path, default=BENCH / "RESULTS.md",
                    help="where to render the report (default bench/RESULTS.md)")
    ap.add_argument("--render-only", type=Path, metavar="JSON",
                    help="only render the report from an existing results JSON")
    ap.add_argument("--small-count", type=int, default=gen_data.SMALL_DEFAULT,
                    help=argparse.SUPPRESS)  # smaller workloads for testing the harness
    ap.add_argument("--large-count", type=int, default=gen_data.LARGE_DEFAULT,
                    help=argparse.SUPPRESS)
    ap.add_argument("--wait-idle", type=float, default=30.0, metavar="SECONDS",
                    help="before each run wait up to SECONDS for other processes to leave the "
                    "CPUs idle (default 30; 0: never wait)")
    ap.add_argument("--max-other-load", type=float, default=20.0, metavar="PCT",
                    help="repeat a run once if other processes used more than PCT%% of the "
                    "CPUs during it (default 20; 0: never repeat)")
    ap.add_argument("--noise-budget", type=float, default=150.0, metavar="SECONDS",
                    help="total time that waiting and repeating may add (default 150)")
    ap.add_argument("--lock-wait", type=float, default=900.0, metavar="SECONDS",
                    help="wait up to SECONDS for another run on the same work folder to end "
                    "(default 900)")
    ap.add_argument("--echo-count", type=int, default=200, help=argparse.SUPPRESS)
    ap.add_argument("--echoscu-count", type=int, default=100,
                    help="echoscu processes per repetition in the echoscu row (default 100)")
    a = ap.parse_args(argv)

    if a.render_only:
        a.results_md.write_text(with_qr_section(
            render(json.loads(a.render_only.read_text())), a.results_md))
        log(f"wrote {a.results_md}")
        return 0
    rows = parse_list(a.only, ROWS, "row")
    receivers = [RECEIVERS[k] for k in parse_list(a.receivers, list(RECEIVERS), "receiver")]
    if a.reps < 1 or not rows or not receivers:
        raise SystemExit("nothing to do")
    work: Path = a.work.resolve()
    if work == REPO or REPO in work.parents:
        log(f"note: work folder {work} is inside the repository")
    work.mkdir(parents=True, exist_ok=True)
    for exe in ("storescu", "storescp", "echoscu"):
        if not (DCMTK / exe).exists():
            raise SystemExit(f"{DCMTK / exe} missing: install DCMTK (scripts/install-test-deps.sh)")

    signal.signal(signal.SIGTERM, _on_signal)
    lock = open(work / ".run.lock", "w")  # noqa: SIM115 - held until the process exits
    if not take_lock(lock, a.lock_wait):
        log(f"another run.py still holds {work / '.run.lock'} after {a.lock_wait:g} s; "
            "going on anyway (the two runs will disturb each other)")
    started = time.monotonic()
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    nonstandard = []
    if a.small_count != gen_data.SMALL_DEFAULT or a.large_count != gen_data.LARGE_DEFAULT:
        nonstandard.append(f"reduced workload (small {a.small_count}, large {a.large_count})")
    if a.echo_count != 200:
        nonstandard.append(f"{a.echo_count} echo associations")
    results: dict[str, Any] = {
        "meta": {
            "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "command": shlex.join([Path(sys.executable).name, *sys.argv]) if argv is None
            else shlex.join(["run.py", *argv]),
            "cwd": os.getcwd(),
            "env_work": os.environ.get("DICOMQR_BENCH_WORK", ""),
            "nonstandard": "; ".join(nonstandard),
        },
        "machine": machine_info(work),
        "config": {"reps": a.reps, "rows": rows, "receivers": [r.key for r in receivers],
                   "wait_idle": a.wait_idle, "max_other_load": a.max_other_load,
                   "noise_budget": a.noise_budget},
        "receivers": {r.key: {"label": r.label, "writes": r.writes, "max_pdu": r.max_pdu,
                              "notes": r.notes,
                              "command": display_command(r.build("PORT", Path("DIR")))}
                      for r in receivers},
        "senders": {
            "store rows": "TCP_NODELAY=1 "
            + shlex.join(storescu_cmd("PORT", "AE", Path("DATA"))),
            "echo row": "bench/echo_client.py logic in-process (raw socket, TCP_NODELAY)",
            "echoscu row": "TCP_NODELAY=1 " + shlex.join(echoscu_cmd("PORT", "AE")),
        },
        "rows": {},
        "row_notes": ROW_NOTES,
    }
    quiet = Quiet(a.wait_idle, a.max_other_load, a.noise_budget)
    try:
        workloads = prepare(work, rows, a.small_count, a.large_count, a.echo_count,
                            a.echoscu_count)
        for row in rows:
            log(f"== row {row}")
            results["rows"][row] = measure_row(workloads[row], receivers, a.reps, work, stamp,
                                               workloads.get("warmup"), quiet)
    except KeyboardInterrupt:
        log("interrupted; stopping servers")
        stop_all_started()
        return 130
    finally:
        stop_all_started()
        shutil.rmtree(work / "received" / f"{stamp}-{os.getpid()}", ignore_errors=True)
    results["meta"]["wall_s"] = time.monotonic() - started
    resdir = work / "results"
    resdir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=1)
    (resdir / f"results-{stamp}.json").write_text(text)
    (resdir / "results.json").write_text(text)
    a.results_md.write_text(with_qr_section(render(results), a.results_md))
    log(f"wrote {resdir / f'results-{stamp}.json'} and {a.results_md} "
        f"in {results['meta']['wall_s']:.0f} s")
    failed = [f"{row}/{k}" for row, d in results["rows"].items()
              for k, c in d["cells"].items() if not c["ok"]]
    if failed:
        log(f"FAILED cells: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
