"""C-STORE SCP and SCU (PS3.4 Annex B, PS3.7 §9.1.1).

The SCP never decodes a dataset to store it: the Part 10 header is written
from the C-STORE-RQ command (SOP class and instance, the context's transfer
syntax, the caller's AE title) before the first dataset byte, then every
fragment is appended as it arrives, and the finished file is renamed into
place.  A file that did not arrive whole is deleted, never renamed, so the
archive holds complete instances only.

The SCU sends a file's dataset bytes straight from the file when a context
with the file's transfer syntax was accepted, and converts with pydicom only
when it must (another uncompressed transfer syntax).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import logging
import os
import re
import sys
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from .. import status
from ..protocol import dimse
from ..transport.config import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME
from ..transport.connection import Connection, IncomingMessage
from .part10 import encode_file_meta

log = logging.getLogger("dicomqr.store")

__all__ = ["FileArchive", "StoredInstance", "safe_file_name"]

_UID_RE = re.compile(r"[0-9]+(\.[0-9]+)*")


def safe_file_name(uid: str) -> str:
    """A file name for an instance UID that cannot leave its folder.

    A well-formed UID is used as it is; anything else a peer sends (``..``,
    slashes, NUL, 200 characters) becomes a digest of it.
    """
    if len(uid) <= 64 and _UID_RE.fullmatch(uid):
        return uid
    return "x" + hashlib.sha256(uid.encode("utf-8", "surrogateescape")).hexdigest()[:40]


@dataclass(frozen=True, slots=True)
class StoredInstance:
    """What the SCP knows of an instance it has just stored (``path`` as a str)."""

    path: str
    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax_uid: str
    calling_ae: str
    size: int


class _FileSink:
    """Streams one dataset into a temporary Part 10 file (a ``DatasetSink``)."""

    __slots__ = ("closed", "error", "fd", "head", "size", "tmp")

    def __init__(self, tmp: str, header: bytes) -> None:
        self.tmp = tmp
        self.error: OSError | None = None
        self.size = 0
        self.closed = False
        self.fd = -1
        # The header goes out with the first fragment: one system call less
        # per instance, which counts when instances are small.
        self.head: bytes | None = header
        try:
            self.fd = os.open(tmp, _CREATE_FLAGS, 0o644)
        except OSError as exc:
            self._fail(exc)

    def write(self, data: bytes) -> None:
        if self.fd < 0:
            return
        try:
            if self.head is not None:
                head, self.head = self.head, None
                written = os.writev(self.fd, (head, data))
                if written < len(head) + len(data):
                    # A short write (a full disk, a signal): write the rest,
                    # which then fails with the reason (ENOSPC) if there is one.
                    _write_all(self.fd, (head + bytes(data))[written:])
            else:
                _write_all(self.fd, data)
            self.size += len(data)
        except OSError as exc:
            self._fail(exc)

    def close(self) -> None:
        self.closed = True
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            try:
                if self.head is not None:  # an empty dataset
                    _write_all(fd, self.head)
                    self.head = None
                os.close(fd)
            except OSError as exc:
                self._fail(exc)

    def _fail(self, exc: OSError) -> None:
        if self.error is None:
            self.error = exc
        self.discard()

    def discard(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(self.tmp)


_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def _load_renameat2() -> Callable[[bytes, bytes], int] | None:
    """Linux renameat2(RENAME_NOREPLACE): rename unless the target exists,
    atomically, in one system call."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        func = libc.renameat2
    except (OSError, AttributeError):
        return None
    func.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint)
    func.restype = ctypes.c_int

    def call(src: bytes, dst: bytes) -> int:
        return 0 if func(-100, src, -100, dst, 1) == 0 else ctypes.get_errno()

    return call


_renameat2 = _load_renameat2() if sys.platform.startswith("linux") else None


def _rename_noreplace(src: str, dst: str) -> bool:
    """Rename ``src`` to ``dst``; False (and nothing done) if ``dst`` exists."""
    global _renameat2
    if _renameat2 is not None:
        err = _renameat2(os.fsencode(src), os.fsencode(dst))
        if err == 0:
            return True
        if err == errno.EEXIST:
            return False
        if err not in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
            raise OSError(err, os.strerror(err), src, None, dst)
        _renameat2 = None  # this kernel or file system cannot: check, then rename
    if os.path.lexists(dst):
        return False
    os.rename(src, dst)
    return True


def _write_all(fd: int, data: bytes | memoryview) -> None:
    written = os.write(fd, data)
    if written < len(data):  # short writes happen on full disks and signals
        view = memoryview(data)
        while written < len(view):
            written += os.write(fd, view[written:])


class FileArchive:
    """The storage SCP's destination: a folder of Part 10 files.

    Files go to ``root/<2 hex digits>/<SOP Instance UID>.dcm`` (the digits
    spread instances over 256 folders); a second instance with the same UID
    is kept beside the first as ``<UID>_2.dcm`` and so on.  Partial files
    live in ``root/.incoming`` and never appear under their final name.
    ``on_stored`` runs after each instance is in place; what it returns (a
    status code) is the C-STORE status, 0x0000 when it returns None.
    """

    def __init__(self, root: str | os.PathLike[str],
                 on_stored: Callable[[StoredInstance], Awaitable[int | None]] | None = None,
                 *, clean: bool = True, incoming: str = ".incoming") -> None:
        self.root = Path(root)
        self.incoming = self.root / incoming
        self.incoming.mkdir(parents=True, exist_ok=True)
        if clean:  # leftovers of a crash (False: other processes share the folder)
            for stale in self.incoming.glob("*.part"):
                stale.unlink(missing_ok=True)
        self.on_stored = on_stored
        self._dirs: set[str] = set()
        self._root = str(self.root)
        self._incoming = str(self.incoming)
        self._token = uuid.uuid4().hex[:12]
        self._counter = 0

    def sink(self, conn: Connection, context_ts: str, rq: dimse.CStoreRQ) -> _FileSink:
        header = encode_file_meta(
            sop_class_uid=rq.affected_sop_class_uid,
            sop_instance_uid=rq.affected_sop_instance_uid,
            transfer_syntax_uid=context_ts,
            implementation_class_uid=IMPLEMENTATION_CLASS_UID,
            implementation_version_name=IMPLEMENTATION_VERSION_NAME,
            source_ae_title=conn.peer_ae,
        )
        self._counter += 1
        return _FileSink(f"{self._incoming}/{self._token}-{self._counter}.part", header)

    def _final_path(self, uid: str) -> str:
        name = safe_file_name(uid)
        bucket = hashlib.blake2b(uid.encode("utf-8", "surrogateescape"),
                                 digest_size=1).hexdigest()
        folder = f"{self._root}/{bucket}"
        if bucket not in self._dirs:
            os.makedirs(folder, exist_ok=True)
            self._dirs.add(bucket)
        return f"{folder}/{name}.dcm"

    def commit(self, sink: _FileSink, uid: str) -> str:
        """Move a finished file to its final name; never overwrite another.

        The check and the rename run without a pause in the event loop, so no
        other association of this process can take the name in between.
        """
        path = self._final_path(uid)
        n = 1
        while not _rename_noreplace(sink.tmp, path):
            n += 1
            path = f"{path.rsplit('/', 1)[0]}/{safe_file_name(uid)}_{n}.dcm"
        return path

    def finish(self, conn: Connection, request: IncomingMessage
                ) -> tuple[int, str, StoredInstance | None]:
        """Put a received file in place: (status, comment, what was stored)."""
        rq = request.message
        assert isinstance(rq, dimse.CStoreRQ)
        sink = request.sink
        if not isinstance(sink, _FileSink) or not sink.closed:
            return status.CANNOT_UNDERSTAND, "dataset was not received", None
        error = sink.error
        if error is None:
            try:
                path = self.commit(sink, rq.affected_sop_instance_uid)
            except OSError as exc:
                sink.discard()
                error = exc
            else:
                return status.SUCCESS, "", StoredInstance(
                    path, rq.affected_sop_class_uid, rq.affected_sop_instance_uid,
                    request.context.transfer_syntax, conn.peer_ae, sink.size)
        full = error.errno in (errno.ENOSPC, errno.EDQUOT)
        log.error("%s: C-STORE %s not stored: %s", conn.describe(),
                  rq.affected_sop_instance_uid, error)
        return status.OUT_OF_RESOURCES, "disk full" if full else \
            f"cannot store: {error.strerror}", None

    @property
    def immediate(self) -> bool:
        """True when a C-STORE is answered as soon as its file is in place,
        without a task switch (:meth:`store_now`); False makes the server
        await :meth:`handle_store`."""
        return self.on_stored is None

    def store_now(self, conn: Connection, request: IncomingMessage) -> None:
        """Finish and answer a C-STORE when there is no ``on_stored`` to await."""
        code, comment, _ = self.finish(conn, request)
        send_store_response(conn, request, code, comment)

    async def handle_store(self, conn: Connection, request: IncomingMessage) -> None:
        code, comment, stored = self.finish(conn, request)
        if stored is not None and self.on_stored is not None:
            try:
                result = await self.on_stored(stored)
            except Exception as exc:
                log.exception("%s: storage handler failed", conn.describe())
                code, comment = status.PROCESSING_FAILURE, f"handler failed: {exc}"
            else:
                code = status.SUCCESS if result is None else int(result)
        send_store_response(conn, request, code, comment)


def send_store_response(conn: Connection, request: IncomingMessage, code: int,
                        comment: str = "") -> None:
    rq = request.message
    assert isinstance(rq, dimse.CStoreRQ)
    rsp = dimse.CStoreRSP(
        message_id_being_responded_to=rq.message_id,
        affected_sop_class_uid=rq.affected_sop_class_uid,
        affected_sop_instance_uid=rq.affected_sop_instance_uid,
        status=code,
        error_comment=comment[:64] if comment and code != status.SUCCESS else None,
    )
    conn.send(request.context.context_id, rsp)

