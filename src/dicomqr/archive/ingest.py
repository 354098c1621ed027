"""Ingest: C-STORE into the file store and the index, as one unit of work.

The dataset streams into a temporary file under ``.incoming`` as it
arrives (:class:`~dicomqr.services.store.FileArchive` does that).  When the
last fragment is in, the job goes to the writer thread, which

1. parses the file's header (up to Pixel Data) into an index record,
2. writes the record in one transaction, together with the other jobs
   waiting (a group commit: many associations storing at once share
   transactions),
3. renames the files into place, and answers.

A crash leaves temporary files in ``.incoming``, and the next start looks
at each: one whose SOP Instance UID the index has, without its file, was
committed and is renamed into place now; the others were not indexed and
are deleted.  So the index and the files agree: both or neither.

The database work runs in the writer thread, never on the event loop.  A
database that cannot be written gives the sender 0xA700 (Out of
Resources), and a full disk 0xA700 too; the temporary file is deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import queue
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from .. import status
from ..protocol import dimse
from ..services.part10 import Part10Error, read_file_meta
from ..services.store import FileArchive, safe_file_name, send_store_response
from ..transport.connection import Connection, IncomingMessage
from .index import Index, Outcome
from .records import InstanceRecord, read_stored, record_of

log = logging.getLogger("dicomqr.archive")

__all__ = ["ArchiveStore"]

_BATCH = 256


@dataclass(slots=True)
class _Job:
    temp: str
    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax_uid: str
    size: int
    describe: str
    done: Callable[[int, str], None]
    record: InstanceRecord | None = None
    final: str = ""
    result: tuple[int, str] = field(default=(status.SUCCESS, ""))


class ArchiveStore(FileArchive):
    """The storage SCP's destination in the archive: files plus index.

    ``may_store(calling_ae)`` says whether a caller may store (0x0124
    otherwise).  ``fsync`` flushes each file to disk before it is indexed.
    ``recover``: finish interrupted ingests and clear ``.incoming`` first
    (False in the worker processes of a server).
    """

    def __init__(self, root: str | os.PathLike[str], index: Index, *, fsync: bool = False,
                 may_store: Callable[[str], bool] | None = None, recover: bool = True) -> None:
        # Interrupted ingests are finished before FileArchive clears
        # .incoming of leftovers.  A worker process of a server does
        # neither: the parent did, before the workers started.
        node = node_name()
        # Each host has its own folder of partial files, so that servers on
        # several hosts can share an archive folder (and its index).
        incoming = f".incoming/{node}"
        if recover:
            _recover(Path(root) / incoming, index)
        super().__init__(root, clean=recover, incoming=incoming)
        self.node = node
        self.index = index
        self.fsync = fsync
        self.may_store = may_store
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="dicomqr-ingest", daemon=True)
        self._thread.start()
        self._names = 0

    @property
    def immediate(self) -> bool:
        # Answered from the loop without a task: the job goes to the writer
        # thread, which has the response sent when the instance is indexed.
        return True

    def close(self) -> None:
        """Stop the writer thread once the jobs queued are done."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=30)

    async def handle_store(self, conn: Connection, request: IncomingMessage) -> None:
        self.store_now(conn, request)

    def store_now(self, conn: Connection, request: IncomingMessage) -> None:
        """Check the C-STORE and hand it to the writer thread; the response
        is sent (on the loop) once the instance is in the index and in place."""
        rq = request.message
        assert isinstance(rq, dimse.CStoreRQ)
        sink = request.sink
        if self.may_store is not None and not self.may_store(conn.calling_ae):
            if sink is not None:
                sink.discard()
            send_store_response(conn, request, status.NOT_AUTHORIZED,
                                f"{conn.calling_ae} may not store here")
            return
        if sink is None or not getattr(sink, "closed", False):
            send_store_response(conn, request, status.CANNOT_UNDERSTAND,
                                "dataset was not received")
            return
        error: OSError | None = getattr(sink, "error", None)
        if error is not None:
            sink.discard()
            send_store_response(conn, request, *_disk_error(conn.describe(), rq, error))
            return
        loop = asyncio.get_running_loop()

        def done(code: int, comment: str) -> None:
            loop.call_soon_threadsafe(_answer, conn, request, code, comment)

        self._queue.put(_Job(
            sink.tmp, rq.affected_sop_class_uid,  # type: ignore[attr-defined]
            rq.affected_sop_instance_uid, request.context.transfer_syntax,
            getattr(sink, "size", 0), conn.describe(), done))

    # -- the writer thread -------------------------------------------------

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            jobs = [job]
            stop = False
            while len(jobs) < _BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                jobs.append(more)
            try:
                self._process(jobs)
            except Exception:  # never let the writer die: answer and go on
                log.exception("ingest: batch of %d failed", len(jobs))
                for j in jobs:
                    _discard(j.temp)
                    j.done(status.OUT_OF_RESOURCES, "cannot index the instance")
            if stop:
                return

    def _process(self, jobs: list[_Job]) -> None:
        ready: list[_Job] = []
        for job in jobs:
            if self.fsync:
                error = _fsync_path(job.temp)
                if error is not None:
                    _discard(job.temp)
                    job.done(*_disk_error(job.describe, job.sop_instance_uid, error))
                    continue
            try:
                ds, attrs = read_stored(job.temp)
                job.final = self._final_name(job.sop_instance_uid)
                job.record = record_of(
                    ds, path=job.final, size=job.size, attrs=attrs,
                    transfer_syntax_uid=job.transfer_syntax_uid,
                    sop_class_uid=job.sop_class_uid, sop_instance_uid=job.sop_instance_uid)
            except Exception as exc:
                log.warning("%s: C-STORE %s: cannot read the dataset: %s", job.describe,
                            job.sop_instance_uid, exc)
                _discard(job.temp)
                job.done(status.CANNOT_UNDERSTAND, f"cannot read the data set: {exc}"[:64])
                continue
            ready.append(job)
        if not ready:
            return
        records = [j.record for j in ready if j.record is not None]
        results: list[Outcome | Exception]
        try:
            results = list(self.index.write(records))
        except SQLAlchemyError as exc:
            if _unavailable(exc):
                results = [exc] * len(ready)
            else:
                # A constraint failed: another process stored the same entity
                # or UID meanwhile, or an entity seen before is gone.  Each
                # record again, on its own, with fresh lookups.
                results = self.index.write_one_by_one(records)
        for job, result in zip(ready, results, strict=True):
            if isinstance(result, Exception):
                log.error("%s: C-STORE %s: index write failed: %s", job.describe,
                          job.sop_instance_uid, result)
                _discard(job.temp)
                job.done(status.OUT_OF_RESOURCES, "index unavailable")
                continue
            job.result = self._place(job, result)
        for job in ready:
            if job.record is not None:
                job.done(*job.result)

    def _place(self, job: _Job, outcome: Outcome) -> tuple[int, str]:
        if outcome.result == "conflict":
            # The instance contradicts the index (PS3.4 C.6: a series has one
            # study, a study one patient): not stored, and said why.
            _discard(job.temp)
            log.warning("%s: C-STORE %s refused: %s", job.describe, job.sop_instance_uid,
                        outcome.message)
            return status.CANNOT_UNDERSTAND, outcome.message[:64]
        if outcome.result in ("kept", "rejected"):
            _discard(job.temp)
            if outcome.result == "rejected":
                return status.ELEMENTS_DISCARDED, "duplicate SOP Instance UID: not stored"
            return status.SUCCESS, ""
        final = self.index.path(job.final)
        try:
            os.replace(job.temp, final)
        except OSError as exc:
            # Committed but not in place: the temporary file stays, and the
            # next start renames it.
            log.error("%s: C-STORE %s: rename failed: %s", job.describe,
                      job.sop_instance_uid, exc)
            return status.OUT_OF_RESOURCES, f"cannot store: {exc.strerror}"
        if self.fsync:
            _fsync_dir(os.path.dirname(final))
        if outcome.obsolete_path and outcome.obsolete_path != job.final:
            _discard(self.index.path(outcome.obsolete_path))
        return status.SUCCESS, ""

    def _final_name(self, uid: str) -> str:
        """A new file name in the store for ``uid``, relative to the root."""
        path = self._final_path(uid)
        if os.path.lexists(path):
            self._names += 1
            path = f"{os.path.dirname(path)}/{safe_file_name(uid)}.{self._token}{self._names}.dcm"
        return os.path.relpath(path, self._root)


def _recover(incoming: Path, index: Index) -> None:
    """Finish or undo what a crash left in ``incoming`` (see the module
    docstring): runs before anything is received."""
    if not incoming.is_dir():
        return
    finished = dropped = 0
    for temp in sorted(incoming.glob("*.part")):
        uid = None
        try:
            with open(temp, "rb") as f:
                uid = read_file_meta(f.read(65536)).sop_instance_uid
        except (OSError, Part10Error):
            pass
        stored = index.stored_path(uid) if uid else None
        final = index.path(stored) if stored else None
        if final is not None and not os.path.exists(final):
            os.makedirs(os.path.dirname(final), exist_ok=True)
            os.replace(temp, final)
            finished += 1
        else:
            _discard(str(temp))
            dropped += 1
    if finished or dropped:
        log.warning("ingest recovery: %d committed instances put in place, %d partial files "
                    "deleted", finished, dropped)


def node_name() -> str:
    """This host, as a file name (the partial files of an archive are per
    host)."""
    name = socket.gethostname() or "localhost"
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:64]


def _answer(conn: Connection, request: IncomingMessage, code: int, comment: str) -> None:
    if conn.is_open:  # the peer may have gone meanwhile: nobody to tell
        send_store_response(conn, request, code, comment)


def _disk_error(describe: str, what: dimse.CStoreRQ | str, error: OSError) -> tuple[int, str]:
    """The status for a file that could not be written (a full disk ...)."""
    uid = what if isinstance(what, str) else what.affected_sop_instance_uid
    log.error("%s: C-STORE %s not stored: %s", describe, uid, error)
    full = error.errno in (errno.ENOSPC, errno.EDQUOT)
    return status.OUT_OF_RESOURCES, "disk full" if full else f"cannot store: {error.strerror}"


def _discard(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _fsync_path(path: str) -> OSError | None:
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        return exc
    return None


def _fsync_dir(path: str) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _unavailable(exc: SQLAlchemyError) -> bool:
    from sqlalchemy.exc import DBAPIError, OperationalError

    return isinstance(exc, OperationalError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated)
