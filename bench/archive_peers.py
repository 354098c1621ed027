"""The archive servers of ``bench/archive.py``: how each is configured, started and asked.

Every server listens on a free port of 127.0.0.1, writes under its own data folder (a new one
at every fresh start), logs to a file, and gets ``TCP_NODELAY=1`` in its environment (DCMTK
and Orthanc keep Nagle's algorithm on without it; the others ignore it).  Only processes
started here are ever signalled, by their PID.

=============  ===============================================================================
dicomqr        ``dicomqr serve --archive DIR [--destination STORESCP=HOST:PORT]``
pynetdicom     ``python -m pynetdicom qrscp -c qrscp.ini`` (SQLite via SQLAlchemy)
dcmqrscp       DCMTK ``dcmqrscp -c dcmqrscp.cfg``: one storage area (AE title ``DCMQR<k>``) per
               part of the query archive (<= 500 studies each, its cap) + ``DCMQRRET``
orthanc        ``Orthanc orthanc.json`` in the foreground (SQLite index, no plugins)
=============  ===============================================================================
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import echo_client
import run as bench

HOST = bench.HOST
DCMTK = bench.DCMTK
ORTHANC = Path("/usr/sbin/Orthanc")
MOVE_AE = "STORESCP"  # the C-MOVE destination (a DCMTK storescp -od started by the harness)
PEERS = ("dicomqr", "pynetdicom", "dcmqrscp", "orthanc")
LABELS = {"dicomqr": "dicomqr serve", "pynetdicom": "pynetdicom qrscp",
          "dcmqrscp": "DCMTK dcmqrscp", "orthanc": "Orthanc"}


def _out(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=30, check=False).stdout.decode("utf-8", "replace")
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"? ({exc!r})"


def _dpkg(package: str) -> str:
    return _out(["dpkg-query", "-W", "-f", "${Version}", package]).strip()


class Proc:
    """One server process that we started (own session, log file, SIGTERM to its PID)."""

    def __init__(self, cmd: list[str], logfile: Path, cwd: Path) -> None:
        logfile.parent.mkdir(parents=True, exist_ok=True)
        self.logfile = logfile
        with open(logfile, "ab") as out:
            self.popen = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, env=bench.dcmtk_env(),
                                          cwd=cwd, start_new_session=True)
        STARTED.append(self)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        if self in STARTED:
            STARTED.remove(self)

    def tail(self, lines: int = 12) -> str:
        try:
            text = self.logfile.read_bytes()[-20000:].decode("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


STARTED: list[Proc] = []


def stop_all() -> None:
    for proc in list(STARTED):
        proc.stop()


class Peer:
    key = "?"
    ae = "?"
    forks = False  # server forks a child per association (CPU accounting)

    def __init__(self, root: Path, move_port: int, parts: list[str]) -> None:
        self.root = root / self.key
        self.move_port = move_port
        self.parts = parts  # names of the query archive's part folders
        self.proc: Proc | None = None
        self.port = 0
        self.generation = 0
        self.data: Path = self.root / "gen0"
        self.last_command: list[str] = []

    # ---- what to ask
    def query_aes(self) -> list[str]:
        """Called AE titles that together hold the query archive (queried in sequence)."""
        return [self.ae]

    def ingest_jobs(self, query_dir: Path) -> list[tuple[str, Path]]:
        """(called AE, folder) per storescu run that ingests the query archive."""
        return [(self.ae, query_dir)]

    def retrieve_ae(self) -> str:
        return self.ae

    # ---- life cycle
    def unavailable(self) -> str:
        """Why this peer cannot run here ('' if it can)."""
        return ""

    def command(self) -> list[str]:
        raise NotImplementedError

    def prepare(self) -> None:
        """Write the configuration into ``self.data`` (called before every start)."""

    def start(self, fresh: bool, timeout: float = 60.0) -> str:
        """Start the server (a new, empty data folder when ``fresh``); '' or an error."""
        self.stop()
        if fresh or not self.data.exists():
            shutil.rmtree(self.data, ignore_errors=True)  # the previous generation's data
            self.generation += 1
            self.data = self.root / f"gen{self.generation}"
            self.data.mkdir(parents=True)
        self.port = bench.free_port()
        self.prepare()
        cmd = self.command()
        self.last_command = cmd
        self.proc = Proc(cmd, self.root / "logs" / f"{self.key}.log", self.data)
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if not self.proc.alive():
                return f"exited with status {self.proc.popen.returncode} at start-up:\n" \
                    + self.proc.tail()
            try:
                echo_client.one_association(HOST, self.port, self.query_aes()[0], timeout=5)
                return self.ready()
            except (OSError, echo_client.EchoError) as exc:
                last = repr(exc)
                time.sleep(0.2)
        return f"not answering C-ECHO after {timeout:.0f} s ({last}):\n" + self.proc.tail()

    def ready(self) -> str:
        return ""

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()
            self.proc = None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.alive()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.data, ignore_errors=True)

    # ---- state
    def stored(self) -> int:
        """Instances the server holds now (to check ingest)."""
        raise NotImplementedError

    def version(self) -> str:
        raise NotImplementedError

    def settings(self) -> str:
        return ""

    def shown_command(self, work: Path) -> str:
        """The last command line, without this machine's paths and ports."""
        if not self.last_command:
            return ""
        text = shlex.join(self.last_command).replace(sys.executable, "python")
        text = text.replace(str(self.data), "DIR").replace(str(work), "WORK")
        with contextlib.suppress(RuntimeError):
            text = text.replace(bench.dicomqr_script(), "dicomqr")
        text = text.replace(str(DCMTK) + "/", "").replace(str(ORTHANC), "Orthanc")
        return re.sub(r"(?<=[ :=])\d{4,5}\b", "PORT", text)


def _count_files(folder: Path, skip: tuple[str, ...] = ()) -> int:
    n = 0
    for entry in bench.iter_received(folder):
        if ".incoming" in entry.path or entry.name.endswith(".part") or entry.name in skip:
            continue
        n += 1
    return n


# --------------------------------------------------------------------------- dicomqr


def dicomqr_serve_options() -> str:
    """``dicomqr serve --help`` (to see which options this version has)."""
    try:
        return _out([bench.dicomqr_script(), "serve", "--help"])
    except RuntimeError as exc:
        return f"? ({exc})"


class DicomqrPeer(Peer):
    forks = True  # with --workers N its worker processes serve (CPU accounting)
    key = "dicomqr"
    ae = "DICOMQR"

    def __init__(self, root: Path, move_port: int, parts: list[str]) -> None:
        super().__init__(root, move_port, parts)
        help_text = dicomqr_serve_options()
        self.has_destination = "--destination" in help_text
        self.known_uids: set[str] = set()
        self.extra_args: list[str] = []

    def unavailable(self) -> str:
        try:
            bench.dicomqr_script()
        except RuntimeError as exc:
            return str(exc)
        return ""

    def command(self) -> list[str]:
        cmd = [bench.dicomqr_script(), "serve", "--ae-title", self.ae, "--host", HOST,
               "--port", str(self.port), "--archive", str(self.data / "archive")]
        if self.has_destination:
            cmd += ["--destination", f"{MOVE_AE}={HOST}:{self.move_port}"]
        return cmd + self.extra_args

    def stored(self) -> int:
        """Part 10 files under the archive folder whose names carry one of the SOP Instance
        UIDs the harness sent (``known_uids``): files the server keeps for itself (e.g. the
        colour palettes it serves) are not ingested instances; duplicates count twice."""
        n = 0
        for e in bench.iter_received(self.data / "archive"):
            if ".incoming" in e.path or not e.name.endswith(".dcm"):
                continue
            m = bench.UID_IN_NAME.search(e.name)
            if not self.known_uids or (m is not None and m.group() in self.known_uids):
                n += 1
        return n

    def version(self) -> str:
        return f"dicomqr {bench.machine_info(self.root)['dicomqr']}"

    def settings(self) -> str:
        dest = ("`--destination STORESCP=...` (C-MOVE destination)" if self.has_destination
                else "no `--destination` option in this version: C-MOVE has no destination")
        extra = f"; extra options `{shlex.join(self.extra_args)}`" if self.extra_args else ""
        return (f"defaults of `dicomqr serve` (index DIR/index.sqlite, no fsync unless "
                f"`--fsync`, uvloop if installed, max PDU 1 MiB); {dest}{extra}")


# --------------------------------------------------------------------------- pynetdicom


class PynetdicomPeer(Peer):
    key = "pynetdicom"
    ae = "QRSCP"
    network_timeout = 600

    def unavailable(self) -> str:
        out = subprocess.run([sys.executable, "-c", "import pynetdicom, sqlalchemy"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
        if out.returncode != 0:
            return ("pynetdicom qrscp needs pynetdicom and sqlalchemy in this Python: "
                    + out.stdout.decode("utf-8", "replace").strip().splitlines()[-1])
        return ""

    def prepare(self) -> None:
        (self.data / "qrscp.ini").write_text(f"""\
# written by bench/archive.py: pynetdicom's bundled default.ini except the port, the bind
# address, absolute storage paths (relative ones are resolved against the qrscp package
# folder), identifier logging off, network_timeout and the C-MOVE destination
[DEFAULT]
    ae_title: {self.ae}
    port: {self.port}
    max_pdu: 16382
    acse_timeout: 30
    dimse_timeout: 30
    network_timeout: {self.network_timeout}
    bind_address: {HOST}
    instance_location: {self.data / 'instances'}
    database_location: {self.data / 'instances.sqlite'}
    log_identifier: False

[{MOVE_AE}]
    address: {HOST}
    port: {self.move_port}
""")

    def command(self) -> list[str]:
        return [sys.executable, "-m", "pynetdicom", "qrscp", "-c", str(self.data / "qrscp.ini")]

    def stored(self) -> int:
        db = self.data / "instances.sqlite"
        if not db.exists():
            return 0
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
        try:
            return int(con.execute("select count(*) from instance").fetchone()[0])
        finally:
            con.close()

    def version(self) -> str:
        try:
            import pydicom
            import pynetdicom
            import sqlalchemy
        except ImportError as exc:
            return f"? ({exc})"
        return (f"pynetdicom {pynetdicom.__version__}, pydicom {pydicom.__version__}, "
                f"SQLAlchemy {sqlalchemy.__version__}, SQLite {sqlite3.sqlite_version}, "
                f"Python {platform.python_version()}")

    def settings(self) -> str:
        return (f"bundled app; max PDU 16382; network_timeout {self.network_timeout} s (bundled "
                "default 30, see caveats); one process, a thread per association, at most 10 "
                "associations (pynetdicom's default, not configurable in qrscp)")


# --------------------------------------------------------------------------- dcmqrscp


class DcmqrscpPeer(Peer):
    key = "dcmqrscp"
    ae = "DCMQR1"
    forks = True
    RET = "DCMQRRET"

    def query_aes(self) -> list[str]:
        return [f"DCMQR{i + 1}" for i in range(len(self.parts))]

    def ingest_jobs(self, query_dir: Path) -> list[tuple[str, Path]]:
        return [(f"DCMQR{i + 1}", query_dir / p) for i, p in enumerate(self.parts)]

    def retrieve_ae(self) -> str:
        return self.RET

    def unavailable(self) -> str:
        missing = [x for x in ("dcmqrscp",) if not (DCMTK / x).exists()]
        return f"{', '.join(missing)} missing: install DCMTK (apt-get install dcmtk)" \
            if missing else ""

    def areas(self) -> list[str]:
        return [*self.query_aes(), self.RET]

    def prepare(self) -> None:
        rows = []
        for title in self.areas():
            area = self.data / "db" / title
            area.mkdir(parents=True, exist_ok=True)
            rows.append(f"{title:10s} {area} RW (500, 1024mb) ANY")
        (self.data / "dcmqrscp.cfg").write_text(f"""\
# written by bench/archive.py (after the anchor benchmark's configs/dcmqrscp.cfg).
# One storage area per <= 500 studies: dcmqrscp clamps maxStudies to 500 and evicts the
# oldest study of a full area.
NetworkTCPPort  = {self.port}
MaxPDUSize      = 16384
MaxAssociations = 32

HostTable BEGIN
storescp        = ({MOVE_AE}, {HOST}, {self.move_port})
HostTable END

VendorTable BEGIN
VendorTable END

AETable BEGIN
{chr(10).join(rows)}
AETable END
""")

    def command(self) -> list[str]:
        return [str(DCMTK / "dcmqrscp"), "-c", str(self.data / "dcmqrscp.cfg")]

    def stored(self) -> int:
        return _count_files(self.data / "db", skip=("index.dat",))

    def version(self) -> str:
        first = _out([str(DCMTK / "dcmqrscp"), "--version"]).strip().splitlines()
        head = first[0].strip().strip("$").replace("dcmtk:", "").strip() if first else "?"
        return f"{head} (Debian package dcmtk {_dpkg('dcmtk')})"

    def settings(self) -> str:
        return (f"{len(self.parts)} storage areas DCMQR1..{len(self.parts)} (one per part of "
                "the archive, <= 500 studies each) + DCMQRRET for the retrieve study; max PDU "
                "16384; fork per association (default); `TCP_NODELAY=1`")


# --------------------------------------------------------------------------- Orthanc


class OrthancPeer(Peer):
    key = "orthanc"
    ae = "ORTHANC"

    def __init__(self, root: Path, move_port: int, parts: list[str]) -> None:
        super().__init__(root, move_port, parts)
        self.http_port = 0

    def unavailable(self) -> str:
        if not ORTHANC.exists():
            return f"{ORTHANC} missing (apt-get install orthanc)"
        return ""

    def prepare(self) -> None:
        self.http_port = bench.free_port()
        cfg = {
            "Name": "DICOMQR-BENCH-ORTHANC",
            "StorageDirectory": str(self.data / "storage"),
            "IndexDirectory": str(self.data / "storage"),
            "Plugins": [],
            "HttpServerEnabled": True,
            "HttpPort": self.http_port,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "DicomServerEnabled": True,
            "DicomAet": self.ae,
            "DicomPort": self.port,
            "DicomCheckCalledAet": False,
            "DicomAlwaysAllowEcho": True,
            "DicomAlwaysAllowStore": True,
            "DicomAlwaysAllowFind": True,
            "DicomAlwaysAllowGet": True,
            "DicomAlwaysAllowMove": True,
            "DicomModalities": {MOVE_AE: [MOVE_AE, HOST, self.move_port]},
        }
        (self.data / "orthanc.json").write_text(json.dumps(cfg, indent=1) + "\n")

    def command(self) -> list[str]:
        return [str(ORTHANC), str(self.data / "orthanc.json")]

    def _http(self, path: str) -> Any:
        # no proxies: this must go to 127.0.0.1 directly
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"http://{HOST}:{self.http_port}{path}", timeout=30) as r:
            return json.loads(r.read())

    def ready(self) -> str:
        deadline = time.monotonic() + 30
        while True:
            try:
                self._http("/system")
                return ""
            except OSError as exc:
                if time.monotonic() > deadline:
                    return f"REST API not answering: {exc!r}"
                time.sleep(0.2)

    def stored(self) -> int:
        return int(self._http("/statistics")["CountInstances"])

    def version(self) -> str:
        first = _out([str(ORTHANC), "--version"]).strip().splitlines()
        head = os.path.basename(first[0].strip()) if first else "?"
        return f"{head} (Debian package orthanc {_dpkg('orthanc')}, SQLite index, no plugins)"

    def settings(self) -> str:
        return ("Orthanc defaults (SQLite index, SyncStorageArea true, StorageAccessOnFind "
                "Always, 4 DICOM threads) + DicomAlwaysAllowEcho/Store/Find/Get/Move true, "
                "C-MOVE destination STORESCP in DicomModalities, REST API on localhost only "
                "(used to count stored instances); `TCP_NODELAY=1`")


CLASSES: dict[str, type[Peer]] = {"dicomqr": DicomqrPeer, "pynetdicom": PynetdicomPeer,
                                  "dcmqrscp": DcmqrscpPeer, "orthanc": OrthancPeer}
