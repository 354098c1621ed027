"""A blocking facade over the async SCU API, for scripts.

Coroutines run on a private event loop in a daemon thread; each call blocks
until its coroutine finishes.  One ``BlockingAssociation`` is one
association::

    with dicomqr.blocking.associate("pacs", 104, called_ae="PACS") as assoc:
        print(assoc.echo())

Query/Retrieve operations are generators of their responses, as they
arrive; leaving the loop early sends C-CANCEL::

    proposals = dicomqr.qr_proposals([uids.STUDY_ROOT_QR_FIND])
    with dicomqr.blocking.associate("pacs", 104, proposals, called_ae="PACS") as assoc:
        for rsp in assoc.find(identifier):
            if rsp.pending:
                print(rsp.identifier.PatientName)
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from pydicom import Dataset

from . import uids
from .services import echo as _echo
from .services import qr_scu as _qr
from .services import store_scu as _store
from .services.common import Response
from .services.qr_scu import QROperation, QRResponse
from .services.store import FileArchive, StoredInstance
from .transport.client import Proposal, connect
from .transport.connection import Connection

T = TypeVar("T")

__all__ = ["BlockingAssociation", "associate"]


class _LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="dicomqr-loop",
                                       daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        fut: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return fut.result(timeout)


_shared: _LoopThread | None = None
_lock = threading.Lock()


def _runner() -> _LoopThread:
    global _shared
    with _lock:
        if _shared is None:
            _shared = _LoopThread()
        return _shared


class BlockingAssociation:
    """An established association driven from blocking code."""

    def __init__(self, conn: Connection, runner: _LoopThread) -> None:
        self.conn = conn
        self._runner = runner

    def echo(self) -> Response:
        return self._runner.run(_echo.echo(self.conn))

    def store(self, path: str | os.PathLike[str]) -> Response:
        source = _store.read_source(Path(path))
        return self._runner.run(_store.store_file(self.conn, source))

    def _iterate(self, op: QROperation) -> Iterator[Any]:
        it: AsyncIterator[Any] = aiter(op)

        async def step() -> tuple[bool, Any]:
            try:
                return True, await anext(it)
            except StopAsyncIteration:
                return False, None

        try:
            while True:
                more, item = self._runner.run(step())
                if not more:
                    return
                yield item
        finally:
            # Early exit: C-CANCEL, and the rest of the responses read off.
            self._runner.run(it.aclose())  # type: ignore[attr-defined]

    def find(self, identifier: Dataset, sop_class: str = uids.STUDY_ROOT_QR_FIND,
             ) -> Iterator[QRResponse]:
        """C-FIND: each response as it arrives (pending ones carry a match)."""
        return self._iterate(self._runner.run(
            _call(_qr.find, self.conn, identifier, sop_class=sop_class)))

    def get(self, identifier: Dataset, folder: str | os.PathLike[str] | None = None, *,
            sop_class: str = uids.STUDY_ROOT_QR_GET, sink: FileArchive | None = None,
            ) -> Iterator[QRResponse | StoredInstance]:
        """C-GET into ``folder`` (or ``sink``): responses and stored instances."""
        op = self._runner.run(_call(_qr.get, self.conn, identifier, sop_class=sop_class,
                                    folder=folder, sink=sink))
        return self._iterate(op)

    def move(self, identifier: Dataset, destination: str, *,
             sop_class: str = uids.STUDY_ROOT_QR_MOVE) -> Iterator[QRResponse]:
        """C-MOVE to the AE titled ``destination``: each response as it arrives."""
        return self._iterate(self._runner.run(
            _call(_qr.move, self.conn, identifier, destination, sop_class=sop_class)))

    def release(self) -> None:
        self._runner.run(self.conn.release())

    def abort(self) -> None:
        self.conn.loop.call_soon_threadsafe(self.conn.abort)

    def __enter__(self) -> BlockingAssociation:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self.release()
        else:
            self.abort()


async def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    # Run ``fn`` on the loop thread (it touches the connection).
    return fn(*args, **kwargs)


def associate(host: str, port: int, proposals: Sequence[Proposal] | None = None,
              **kwargs: Any) -> BlockingAssociation:
    """Open an association (the arguments of :func:`dicomqr.transport.client.connect`).

    Without ``proposals``, Verification is proposed.
    """
    if proposals is None:
        proposals = [Proposal(uids.VERIFICATION_SOP_CLASS, uids.UNCOMPRESSED_TRANSFER_SYNTAXES)]
    runner = _runner()
    conn = runner.run(connect(host, port, proposals, **kwargs))
    return BlockingAssociation(conn, runner)
