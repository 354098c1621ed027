"""Faults under the archive: a server killed while it ingests, a full disk,
an index database that goes away.  On SQLite and PostgreSQL.

- ``dicomqr serve`` (a subprocess) is killed with SIGKILL while DCMTK's
  storescu sends it 300 small files, at three moments; restarted on the
  same archive, it finishes what the crash interrupted, and then index and
  files agree: every instance row has its file, every file its row,
  nothing is left in ``.incoming``.  Sending everything again completes
  the archive.
- The archive on a small tmpfs (root and ``mount`` needed, skipped
  otherwise; the index outside it): what does not fit gets 0xA700 (Out of
  Resources), nothing half-written stays, the index lists exactly the
  files present, the server carries on, and stores again once there is room.
- PostgreSQL out of reach (a TCP proxy between the archive and the server
  is stopped), its connections terminated, the schema dropped: C-FIND and
  C-STORE answer 0xA700 (C-GET 0xA701), and work again when the database is
  back (``pool_pre_ping``).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import selectors
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydicom import Dataset
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

from dicomqr import status, uids
from dicomqr.archive.generate import GenerateSpec, iter_instances, write_archive
from dicomqr.archive.schema import instance, metadata
from dicomqr.services import qr_scu
from dicomqr.services.part10 import read_file_meta
from dicomqr.transport.client import connect
from tests.conftest import _drop_schema, dcmtk, dcmtk_env, pg_schema_url
from tests.e2e.qr_helpers import run as run_qr
from tests.interop.helpers import DICOMQR, dataset_part

from .helpers import (
    ARCHIVE_AE,
    SCU_AE,
    TIMEOUTS,
    Running,
    archive_server,
    store_paths,
    write_instances,
)
from .test_ingest import make

_LISTENING = re.compile(rf"{ARCHIVE_AE} listening on 127\.0\.0\.1:(\d+)")

#: 300 small instances: 10 patients, a study each, 3 series of 10.
SPEC = GenerateSpec(seed=5, patients=10, studies=(1, 1), series=(3, 3), instances=(10, 10),
                    rows=32, cols=32, non_ascii=0.0)
N = 300


# ====================================================================== helpers
def archive_files(root: Path) -> list[Path]:
    """Every file of the archive folder but the palettes and ``.incoming``."""
    return sorted(p for p in root.rglob("*") if p.is_file()
                  and not {".incoming", "palettes"} & set(p.relative_to(root).parts))


def incoming(root: Path) -> list[str]:
    """The partial files under ``.incoming`` (one folder per host)."""
    folder = root / ".incoming"
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def count_stored(root: Path) -> int:
    """Files in place (the two-digit bucket folders), cheaply."""
    n = 0
    with contextlib.suppress(FileNotFoundError), os.scandir(root) as entries:
        for entry in entries:
            if entry.is_dir() and len(entry.name) == 2:
                with contextlib.suppress(FileNotFoundError):
                    n += len(os.listdir(entry.path))
    return n


@dataclass
class IndexState:
    rows: dict[str, str]  # SOP Instance UID -> path


def index_state(db_url: str) -> IndexState:
    engine = create_engine(db_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            rows = {r.sop_uid: r.path for r in conn.execute(
                select(instance.c.sop_uid, instance.c.path))}
    finally:
        engine.dispose()
    return IndexState(rows)


def partial_uids(root: Path) -> set[str]:
    """The SOP Instance UIDs of the partial files in ``.incoming``."""
    out = set()
    for name in incoming(root):
        with contextlib.suppress(Exception):
            out.add(read_file_meta((root / ".incoming" / name).read_bytes()).sop_instance_uid)
    return out


def assert_consistent(root: Path, db_url: str, *, recovered: bool = False) -> IndexState:
    """Index and files agree, both ways; nothing is half-written; nothing
    is left in ``.incoming`` (``recovered``: right after a start, too)."""
    state = index_state(db_url)
    assert incoming(root) == []
    missing = [p for p in state.rows.values() if not (root / p).is_file()]
    assert not missing, f"indexed without a file: {missing[:5]}"
    files = archive_files(root)
    unindexed = sorted(set(files) - {root / p for p in state.rows.values()})
    assert not unindexed, f"files without an index row: {unindexed[:5]}"
    assert len(files) == len(state.rows)
    return state


# ====================================================================== killed while ingesting
@dataclass
class Serve:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    def text(self) -> str:
        return self.log.read_text("utf-8", "replace")


def start_serve(root: Path, db_url: str, log: Path) -> Serve:
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [*DICOMQR, "serve", "--ae-title", ARCHIVE_AE, "--host", "127.0.0.1", "--port", "0",
             "--archive", str(root), "--db", db_url],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        match = _LISTENING.search(log.read_text("utf-8", "replace"))
        if match:
            return Serve(proc, int(match.group(1)), log)
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise AssertionError("dicomqr serve did not start:\n"
                                 + log.read_text("utf-8", "replace")[-4000:])
        time.sleep(0.02)


def stop_serve(serve: Serve) -> int:
    if serve.proc.poll() is None:
        serve.proc.send_signal(signal.SIGTERM)
        try:
            serve.proc.wait(10)
        except subprocess.TimeoutExpired:
            serve.proc.kill()
            serve.proc.wait()
    return serve.proc.returncode


def storescu(port: int, *folders: Path) -> subprocess.Popen[bytes]:
    """storescu -v +sd +r of ``folders``, going on after failures (-nh)."""
    return subprocess.Popen(
        [dcmtk("storescu"), "-v", "-nh", "-to", "10", "-ta", "10", "-td", "30",
         "-aet", "CRASHSCU", "-aec", ARCHIVE_AE, "+sd", "+r", "127.0.0.1", str(port),
         *map(str, folders)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env=dcmtk_env())


def senders(port: int, source: Path, n: int = 3) -> list[subprocess.Popen[bytes]]:
    """``n`` storescu at once, each with its share of the patients' folders
    (several associations: the archive commits their instances together)."""
    patients = sorted(p for p in source.iterdir() if p.is_dir())
    return [storescu(port, *patients[i::n]) for i in range(n)]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("crash-src")
    stats = write_archive(SPEC, folder)
    assert stats.instances == N
    return folder


#: When the server is killed: as soon as the first dataset is being
#: received, and after 100 and 220 instances are in place.
MOMENTS = {"first": 0, "100": 100, "220": 220}


@pytest.mark.slow
@pytest.mark.interop
@pytest.mark.parametrize("moment", list(MOMENTS))
def test_kill_during_ingest_and_restart(tmp_path: Path, db_url: str, source: Path,
                                        moment: str) -> None:
    """SIGKILL while 3 storescu send 300 instances; restarted, the archive
    has every instance a sender was told is stored, index and files agree,
    and sending everything again completes it."""
    root = tmp_path / "archive"
    serve = start_serve(root, db_url, tmp_path / "serve1.log")
    running = senders(serve.port, source)
    threshold = MOMENTS[moment]
    try:
        deadline = time.monotonic() + 60
        while True:
            stored = count_stored(root)
            if stored >= max(threshold, 1) or (threshold == 0 and incoming(root)):
                break
            assert all(s.poll() is None for s in running), "storescu ended before the kill"
            assert time.monotonic() < deadline, "storescu too slow"
            time.sleep(0.002)
        serve.proc.send_signal(signal.SIGKILL)
        serve.proc.wait(10)
        logs = [s.communicate(timeout=30)[0].decode("utf-8", "replace") for s in running]
    finally:
        for s in running:
            if s.poll() is None:
                s.kill()
                s.wait()
        if serve.proc.poll() is None:
            serve.proc.kill()
            serve.proc.wait()
    acknowledged = {_uid_of(p) for log in logs for p in _stored_ok(log)}
    at_kill = count_stored(root)
    assert len(acknowledged) < N and at_kill < N, f"the kill came too late ({at_kill} stored)"
    assert acknowledged or not threshold, logs[0][-2000:]
    # As the crash left it: a file in place always has its row (the rename
    # follows the commit); a row without its file has its temporary file
    # still in .incoming, for the next start to rename.
    before = index_state(db_url)
    indexed = {root / p for p in before.rows.values()}
    assert set(archive_files(root)) <= indexed
    waiting = partial_uids(root)
    for uid, path in before.rows.items():
        if not (root / path).is_file():
            assert uid in waiting, path

    serve = start_serve(root, db_url, tmp_path / "serve2.log")
    try:
        state = assert_consistent(root, db_url, recovered=True)
        # what storescu was told is stored (before the kill), is
        assert acknowledged <= set(state.rows)
        by_uid = {r["SOPInstanceUID"]: r for r in iter_instances(SPEC)}
        assert set(state.rows) <= set(by_uid)

        sender = storescu(serve.port, source)
        out, _ = sender.communicate(timeout=120)
        log = out.decode("utf-8", "replace")
        assert sender.returncode == 0, log[-4000:]
        assert log.count("Received Store Response (Success)") == N, log[-4000:]
        state = assert_consistent(root, db_url)
        assert set(state.rows) == set(by_uid)
        originals = {_uid_of(p): dataset_part(p) for p in source.rglob("*.dcm")}
        for uid, rel in state.rows.items():
            assert dataset_part(root / rel) == originals[uid], uid
    finally:
        code = stop_serve(serve)
    assert code == 0, serve.text()[-4000:]
    assert "Traceback" not in serve.text(), serve.text()[-4000:]


def _stored_ok(log: str) -> list[Path]:
    """The files storescu -v was told are stored (Success)."""
    out: list[Path] = []
    current: Path | None = None
    for line in log.splitlines():
        if line.startswith("I: Sending file: "):
            current = Path(line[len("I: Sending file: "):].strip())
        elif "Received Store Response (Success)" in line and current is not None:
            out.append(current)
            current = None
    return out


def _uid_of(path: Path) -> str:
    from dicomqr.services.part10 import read_file_meta

    return read_file_meta(path.read_bytes()[:4096]).sop_instance_uid


# ====================================================================== a full disk
def _big(n: int) -> Dataset:
    """A 100 KiB CT instance."""
    ds = make("FULL", "1.2.826.0.1.3680043.8.498.95.1", "1.2.826.0.1.3680043.8.498.95.1.1", n)
    ds.Rows = ds.Columns = 226
    ds.PixelData = os.urandom(226 * 226 * 2)
    return ds


@contextlib.contextmanager
def small_tmpfs(where: Path, size: str) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("a full disk needs a small tmpfs: mount needs root")
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    where.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                         capture_output=True, text=True, check=False)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {res.stderr.strip()}")
    try:
        yield where
    finally:
        done = subprocess.run(["umount", str(where)], capture_output=True, check=False)
        if done.returncode != 0:
            subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


async def test_full_disk(tmp_path: Path, db_url: str) -> None:
    """More than fits: 0xA700 for what does not, the index lists exactly the
    files present, the server carries on and stores again once there is room."""
    paths = write_instances(tmp_path / "src", [_big(n) for n in range(1, 31)])  # 3 MiB
    with small_tmpfs(tmp_path / "small", "4m") as disk:
        root = disk / "archive"
        async with archive_server(root, db_url) as run:
            # room for about a dozen instances
            ballast = disk / "ballast"
            free = shutil.disk_usage(disk).free
            ballast.write_bytes(b"\0" * (free - (1200 << 10)))
            results = await store_paths(run.port, paths)
            codes = [r.status for _, r in results]
            assert set(codes) <= {status.SUCCESS, status.OUT_OF_RESOURCES}, codes
            assert codes.count(status.SUCCESS) >= 5
            assert codes.count(status.OUT_OF_RESOURCES) >= 10
            stored = {_uid_of(p) for p, r in results if r.status == status.SUCCESS}
            state = assert_consistent(root, db_url)
            assert set(state.rows) == stored
            for p, r in results:
                if r.status == status.SUCCESS:
                    assert dataset_part(root / state.rows[_uid_of(p)]) == dataset_part(p)
            # the server carries on: it answers a query over what it has
            code, matches = await _find_all_in(run.port, "1.2.826.0.1.3680043.8.498.95.1")
            assert code == status.SUCCESS
            assert {str(m.SOPInstanceUID) for m in matches} == stored
            # room again: the rest stores
            ballast.unlink()
            failed = [p for p, r in results if r.status != status.SUCCESS]
            again = await store_paths(run.port, failed)
            assert [r.status for _, r in again] == [status.SUCCESS] * len(failed)
            state = assert_consistent(root, db_url)
            assert len(state.rows) == len(paths)


async def test_full_disk_says_disk_full(tmp_path: Path) -> None:
    """The 0xA700 of a full disk says so in its Error Comment."""
    paths = write_instances(tmp_path / "src", [_big(n) for n in range(1, 4)])
    with small_tmpfs(tmp_path / "small", "1m") as disk:
        async with archive_server(disk / "archive", f"sqlite:///{tmp_path}/index.db") as run:
            (disk / "ballast").write_bytes(b"\0" * (shutil.disk_usage(disk).free - (40 << 10)))
            results = await store_paths(run.port, paths)
    assert [r.status for _, r in results] == [status.OUT_OF_RESOURCES] * 3
    assert [getattr(r.message, "error_comment", None) for _, r in results] == ["disk full"] * 3


# ====================================================================== PostgreSQL away
class Proxy:
    """A TCP proxy to the PostgreSQL server that can be taken down (listener
    closed, every connection cut) and brought back on the same port."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def up(self) -> None:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(64)
        self.port = s.getsockname()[1]
        self._listener = s
        t = threading.Thread(target=self._accept, args=(s,), daemon=True)
        t.start()
        self._threads.append(t)

    def down(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for s in sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets |= {client, server}
            t = threading.Thread(target=self._pump, args=(client, server), daemon=True)
            t.start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        sel = selectors.DefaultSelector()
        try:
            sel.register(a, selectors.EVENT_READ, b)
            sel.register(b, selectors.EVENT_READ, a)
            while True:
                for key, _ in sel.select():
                    data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                    if not data:
                        return
                    key.data.sendall(data)
        except (OSError, ValueError):
            return
        finally:
            sel.close()
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.close()
            with self._lock:
                self._sockets -= {a, b}


@dataclass
class PgTarget:
    url: str          # through the proxy
    direct: str       # straight to the server, same schema
    schema: str
    app: str          # application_name of the archive's connections
    proxy: Proxy
    admin: Engine


@pytest.fixture
def pg_target(request: pytest.FixtureRequest) -> Iterator[PgTarget]:
    """A fresh schema of the PostgreSQL test database, reached through a proxy."""
    base: str = request.getfixturevalue("pg_base_url")
    admin: Engine = request.getfixturevalue("pg_admin_engine")
    schema = f"t_{secrets.token_hex(8)}"
    app = f"dicomqr_crash_{secrets.token_hex(4)}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(pg_schema_url(base, schema)).update_query_dict({"application_name": app})
    proxy = Proxy(url.host or "127.0.0.1", url.port or 5432)
    proxy.up()
    try:
        yield PgTarget(url.set(host="127.0.0.1", port=proxy.port)
                       .render_as_string(hide_password=False),
                       url.render_as_string(hide_password=False), schema, app, proxy, admin)
    finally:
        proxy.down()
        _drop_schema(admin, schema)


async def _store(run: Running, path: Path) -> int:
    ((_, r),) = await store_paths(run.port, [path])
    return r.status


async def _get_status(port: int, study_uid: str, folder: Path) -> int:
    proposals, roles = qr_scu.get_proposals(uids.STUDY_ROOT_QR_GET,
                                            ["1.2.840.10008.5.1.4.1.1.2"])
    conn = await connect("127.0.0.1", port, proposals, roles=roles, calling_ae=SCU_AE,
                         called_ae=ARCHIVE_AE, timeouts=TIMEOUTS)
    try:
        ident = Dataset()
        ident.QueryRetrieveLevel = "STUDY"
        ident.StudyInstanceUID = study_uid
        out = await run_qr(qr_scu.get(conn, ident, folder=folder))
    finally:
        await conn.release()
    return out.final.status


async def test_postgresql_unavailable(tmp_path: Path, pg_target: PgTarget) -> None:
    study = "1.2.826.0.1.3680043.8.498.96.1"
    datasets = [make("PG", study, f"{study}.1", n) for n in range(1, 9)]
    paths = write_instances(tmp_path / "src", datasets)
    root = tmp_path / "archive"
    async with archive_server(root, pg_target.url) as run:
        assert await _store(run, paths[0]) == status.SUCCESS
        assert await _store(run, paths[1]) == status.SUCCESS

        # 1. the server out of reach: connections cut, new ones refused
        pg_target.proxy.down()
        code, matches = await _find_all_in(run.port, study)
        assert (code, matches) == (status.OUT_OF_RESOURCES, [])
        assert await _store(run, paths[2]) == status.OUT_OF_RESOURCES
        got = tmp_path / "got"
        assert await _get_status(run.port, study, got) == status.OUT_OF_RESOURCES_MATCHES
        assert incoming(root) == []
        # back: the pool's stale connections are replaced (pool_pre_ping)
        pg_target.proxy.up()
        code, matches = await _find_all_in(run.port, study)
        assert code == status.SUCCESS and len(matches) == 2
        assert await _store(run, paths[2]) == status.SUCCESS
        assert await _get_status(run.port, study, got) == status.SUCCESS

        # 2. the archive's connections terminated by the server
        with pg_target.admin.begin() as conn:
            killed = conn.execute(text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = :app AND pid <> pg_backend_pid()"),
                {"app": pg_target.app}).scalar_one()
        assert killed >= 1
        code, matches = await _find_all_in(run.port, study)
        assert code == status.SUCCESS and len(matches) == 3
        assert await _store(run, paths[3]) == status.SUCCESS

        # 3. the schema dropped under the running archive
        _drop_schema(pg_target.admin, pg_target.schema)
        code, matches = await _find_all_in(run.port, study)
        assert (code, matches) == (status.OUT_OF_RESOURCES, [])
        assert await _store(run, paths[4]) == status.OUT_OF_RESOURCES
        assert incoming(root) == []
        # an empty index again: the archive stores and finds
        with pg_target.admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{pg_target.schema}"'))
        engine = create_engine(pg_target.direct, poolclass=NullPool)
        try:
            metadata.create_all(engine)
        finally:
            engine.dispose()
        assert await _store(run, paths[5]) == status.SUCCESS
        code, matches = await _find_all_in(run.port, study)
        assert code == status.SUCCESS
        assert [str(m.SOPInstanceUID) for m in matches] == [str(datasets[5].SOPInstanceUID)]


async def _find_all_in(port: int, study: str) -> tuple[int, list[Dataset]]:
    conn = await connect("127.0.0.1", port, qr_scu.qr_proposals([uids.STUDY_ROOT_QR_FIND]),
                         calling_ae=SCU_AE, called_ae=ARCHIVE_AE, timeouts=TIMEOUTS)
    try:
        ident = Dataset()
        ident.QueryRetrieveLevel = "IMAGE"
        ident.StudyInstanceUID = study
        ident.SeriesInstanceUID = f"{study}.1"
        ident.SOPInstanceUID = ""
        out = await run_qr(qr_scu.find(conn, ident, sop_class=uids.STUDY_ROOT_QR_FIND))
    finally:
        await conn.release()
    return out.final.status, out.matches

