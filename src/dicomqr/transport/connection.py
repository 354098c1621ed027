"""asyncio glue: one ``asyncio.Protocol`` per association around the sans-IO core.

Theory of operation
-------------------
``data_received`` is the only place where bytes meet the protocol core: it
feeds :class:`dicomqr.protocol.association.Association`, drains its events
and writes what it queued, all synchronously, so an association costs no
task switch per PDU.  P-DATA PDVs go to the DIMSE :class:`Reassembler`;
a complete command set becomes a :class:`IncomingMessage`:

* a response (command field with bit 15 set) is routed by its Message ID
  Being Responded To to the queue of the request that waits for it;
* a request goes to the :class:`RequestHandler` the services layer
  installed.  When the request carries a dataset, the handler first chooses
  where its bytes go (``dataset_sink``): a file for C-STORE, memory for the
  rest.  The fragments are written as they arrive; nothing waits for the
  whole dataset in memory unless the handler asked for it.

Requests are handled one at a time per association, in arrival order, by a
worker task, unless an asynchronous operations window larger than one was
negotiated (then up to that many run at once).

Writes go straight to the transport with ``writelines``; big senders await
:meth:`Connection.drain`, which honours ``pause_writing``/``resume_writing``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from ..protocol import dimse
from ..protocol.association import Association as Core
from ..protocol.association import Role
from ..protocol.errors import (
    REASON_INVALID_PDU_PARAMETER,
    LocalProtocolError,
    RemoteProtocolError,
)
from ..protocol.events import (
    NEED_DATA,
    Aborted,
    AssociationAccepted,
    AssociationRejected,
    AssociationRequested,
    ConnectionClosed,
    DataReceived,
    ReleaseConfirmed,
    ReleaseRequested,
)
from ..protocol.fsm import State
from ..protocol.items import AsyncOperationsWindow
from ..protocol.negotiation import AcceptedContext
from ..protocol.pdv import CommandReceived, DatasetFragment, Reassembler, fragment
from .config import Limits, Timeouts

log = logging.getLogger("dicomqr.transport")

__all__ = [
    "AssociationAborted",
    "AssociationClosed",
    "Connection",
    "DatasetSink",
    "IncomingMessage",
    "MemorySink",
    "RequestHandler",
]


class AssociationClosed(ConnectionError):
    """The association ended (released, aborted or lost) while we waited on it."""


class AssociationAborted(AssociationClosed):
    """The association was aborted; ``source``/``reason`` as in PS3.8 Table 9-26."""

    def __init__(self, message: str, source: int = 2, reason: int = 0) -> None:
        super().__init__(message)
        self.source = source
        self.reason = reason


class DatasetSink(Protocol):
    """Where the bytes of one incoming dataset go, fragment by fragment."""

    def write(self, data: bytes) -> None: ...

    def close(self) -> None:
        """The last fragment arrived."""

    def discard(self) -> None:
        """The association ended before the last fragment: undo everything."""


class MemorySink:
    """Collects a dataset in memory, up to ``limit`` bytes."""

    __slots__ = ("_parts", "_size", "limit")

    def __init__(self, limit: int) -> None:
        self._parts: list[bytes] = []
        self._size = 0
        self.limit = limit

    def write(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self.limit:
            raise RemoteProtocolError(
                f"dataset larger than {self.limit} bytes", reason=REASON_INVALID_PDU_PARAMETER
            )
        self._parts.append(data)

    def close(self) -> None:
        pass

    def discard(self) -> None:
        self._parts.clear()

    def getvalue(self) -> bytes:
        parts = self._parts
        return parts[0] if len(parts) == 1 else b"".join(parts)


@dataclass(slots=True)
class IncomingMessage:
    """A complete DIMSE message received on ``context``."""

    context: AcceptedContext
    message: dimse.Message
    dataset: bytes | None = None
    sink: DatasetSink | None = None


class RequestHandler(Protocol):
    """What the services layer installs to serve incoming requests."""

    def dataset_sink(self, conn: Connection, context: AcceptedContext,
                     message: dimse.Message) -> DatasetSink | None:
        """Where the request's dataset goes; None = memory."""

    def handle_now(self, conn: Connection, request: IncomingMessage) -> bool:
        """Called for every request as it arrives.  Serve it synchronously if
        it can be (C-ECHO, a C-STORE with nothing to await) and nothing is
        in progress (``conn.busy`` is false), or return False to have
        :meth:`handle` run."""

    async def handle(self, conn: Connection, request: IncomingMessage) -> None:
        """Serve one request (send its responses with ``conn.send``)."""

    def cancel(self, conn: Connection, message: dimse.Message) -> None:
        """A C-CANCEL-RQ arrived (handled at once, not queued)."""


@dataclass(slots=True)
class _Pending:
    """A command whose dataset fragments are still arriving."""

    context: AcceptedContext
    message: dimse.Message
    sink: DatasetSink
    is_request: bool


@dataclass(slots=True)
class _Exchange:
    """Responses awaited for one of our requests."""

    queue: asyncio.Queue[IncomingMessage | BaseException] = field(
        default_factory=asyncio.Queue
    )


class Connection(asyncio.Protocol):
    """One association over one transport connection (either role)."""

    def __init__(
        self,
        role: Role,
        *,
        limits: Limits,
        timeouts: Timeouts,
        on_associate: Callable[[Connection, AssociationRequested], None] | None = None,
        handler: RequestHandler | None = None,
        on_closed: Callable[[Connection], None] | None = None,
        on_made: Callable[[Connection], None] | None = None,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.limits = limits
        self.timeouts = timeouts
        self.core = Core(role, clock=self.loop.time, max_pdu_length=limits.max_pdu,
                         artim_timeout=timeouts.artim)
        self._reasm = Reassembler(max_command_size=limits.max_command_size)
        self._on_associate = on_associate
        self.handler = handler
        self._on_closed = on_closed
        self._on_made = on_made
        self.transport: asyncio.Transport | None = None
        self.peer: tuple[str, int] = ("", 0)
        #: Negotiated: accepted contexts by id, peer's max PDU, async window.
        self.contexts: dict[int, AcceptedContext] = {}
        self.peer_max_pdu = 0
        self.max_operations = 1
        #: The asynchronous operations window agreed (PS3.7 D.3.3.3): how many
        #: operations the *requestor* may have outstanding as invoker
        #: (``max_invoked``) and as performer (``max_performed``); 0 = no limit.
        self.async_window = AsyncOperationsWindow()
        #: SOP class extended negotiation agreed: SOP class UID -> the
        #: acceptor's application information (PS3.7 D.3.3.5).
        self.extended_negotiation: dict[str, bytes] = {}
        self.calling_ae = ""
        self.called_ae = ""
        self.established: asyncio.Future[None] = self.loop.create_future()
        self.closed: asyncio.Future[None] = self.loop.create_future()
        self.close_reason = ""
        self._pending: _Pending | None = None
        self._exchanges: dict[int, _Exchange] = {}
        self._requests: asyncio.Queue[IncomingMessage | None] = asyncio.Queue()
        self._workers: list[asyncio.Task[None]] = []
        self.started = self.loop.time()
        self.summary = ""
        self.requests_received = 0
        #: Requests received and not yet fully answered (queued or running).
        self._in_flight = 0
        self._idle_waiters: list[asyncio.Future[None]] = []
        self._artim_handle: asyncio.TimerHandle | None = None
        self._idle_handle: asyncio.TimerHandle | None = None
        self._last_rx = 0.0
        self._write_ok = asyncio.Event()
        self._write_ok.set()
        self._release_waiter: asyncio.Future[None] | None = None
        self._message_id = 0
        self._flush_soon = False
        self._linger = False
        self.aborted: Aborted | None = None
        #: The A-ASSOCIATE-AC/RJ confirmation, for the requestor's ``connect``.
        self._association_answer: AssociationAccepted | AssociationRejected | None = None

    # ------------------------------------------------------------------ asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, only alike.
        self.transport = transport  # type: ignore[assignment]
        # TCP_NODELAY: both asyncio and uvloop set it on every TCP transport
        # (checked by tests/e2e/test_echo_store.py), so no system call here.
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            self.peer = (str(peer[0]), int(peer[1]))
        self._last_rx = self.loop.time()
        if self._on_made is not None:
            self._on_made(self)
        self.core.connection_made()
        self._pump()

    def data_received(self, data: bytes) -> None:
        if self._linger:
            return  # aborted: read and discard until the peer closes
        self._last_rx = self.loop.time()
        self.core.receive_data(data)
        self._pump()

    def eof_received(self) -> bool | None:
        self.core.receive_data(b"")
        self._pump()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if self.core.state is not State.STA1:
            self.core.receive_data(b"")
            self._pump()
        self._finish(self.close_reason or (str(exc) if exc else "connection lost"))

    def pause_writing(self) -> None:
        self._write_ok.clear()

    def resume_writing(self) -> None:
        self._write_ok.set()

    # ------------------------------------------------------------------ core driving
    def _pump(self) -> None:
        core = self.core
        try:
            while True:
                event = core.next_event()
                if event is NEED_DATA:
                    break
                if isinstance(event, DataReceived):
                    for pdv in event.pdvs:
                        self._on_pdv(pdv)
                else:
                    self._on_event(event)
        except RemoteProtocolError as exc:
            # A DIMSE-level violation (bad command set, dataset where none was
            # announced, ...): the association cannot go on.
            log.warning("%s: %s; aborting", self.describe(), exc)
            core.abort_provider(exc)
            self._flush()
            return self._pump()
        self._flush()
        self._arm_artim()

    def _flush(self) -> None:
        out = self.core.data_to_send()
        if out and self.transport is not None and not self.transport.is_closing() \
                and not self._linger:
            if len(out) == 1:
                self.transport.write(out[0])
            else:
                self.transport.writelines(out)
        if self.core.wants_close and self.transport is not None:
            self._close_transport()

    def _close_transport(self) -> None:
        transport = self.transport
        assert transport is not None
        if transport.is_closing():
            return
        if self.core.abort_sent and transport.can_write_eof():
            # Closing a socket with unread data makes the kernel reset the
            # connection and drop what we have not sent yet: the A-ABORT.
            # Send it and our FIN, then close once the peer closes too (or
            # after a second; what it still sends is discarded).
            if not self._linger:
                self._linger = True
                transport.write_eof()
                self.loop.call_later(1.0, transport.close)
            return
        transport.close()

    def _arm_artim(self) -> None:
        deadline = self.core.get_timer()
        if self._artim_handle is not None:
            if deadline is not None and self._artim_handle.when() == deadline:
                return
            self._artim_handle.cancel()
            self._artim_handle = None
        if deadline is not None:
            self._artim_handle = self.loop.call_at(deadline, self._on_artim)

    def _on_artim(self) -> None:
        self._artim_handle = None
        self.core.handle_timer(self.loop.time())
        self._pump()

    def _on_event(self, event: object) -> None:
        if isinstance(event, AssociationRequested):
            self.calling_ae = event.request.calling_ae_title
            self.called_ae = event.request.called_ae_title
            assert self._on_associate is not None
            self._on_associate(self, event)
        elif isinstance(event, AssociationAccepted | AssociationRejected):
            # Interpreted by the client, which awaits ``established``.
            if not self.established.done():
                self.established.set_result(None)
            self._association_answer = event
        elif isinstance(event, ReleaseRequested):
            self._on_release_requested(event)
        elif isinstance(event, ReleaseConfirmed):
            if self.core.state is State.STA12:
                # Release collision, acceptor side: the peer answered our
                # request (AR-10); now we answer theirs (AR-4).
                self.core.release_response()
            if self._release_waiter is not None and not self._release_waiter.done():
                self._release_waiter.set_result(None)
        elif isinstance(event, Aborted):
            self.aborted = event
            self._fail_all(AssociationAborted(
                event.message or f"aborted (source {event.source}, reason {event.reason})",
                event.source, event.reason))
        elif isinstance(event, ConnectionClosed):
            self._finish(event.message)

    def _on_release_requested(self, event: ReleaseRequested) -> None:
        # Answer at once when nothing is in progress; otherwise after the
        # in-flight requests finished (the peer should not ask before, PS3.7 §10.1).
        async def answer() -> None:
            await self.wait_requests_done()
            if self.core.state in (State.STA8, State.STA9, State.STA10, State.STA12):
                self.core.release_response()
                self._pump()
        if event.collision:
            # PS3.8 §9.2.1: the requestor answers first (Sta9, AR-9) and then
            # waits for the acceptor's answer; the acceptor (Sta10) waits for
            # that answer before it answers (Sta12).
            if self.core.role is Role.REQUESTOR:
                self.core.release_response()
            return
        if self._in_flight == 0:
            self.core.release_response()
        else:
            self.loop.create_task(answer())

    def _on_pdv(self, pdv: object) -> None:
        for ev in self._reasm.feed(pdv):  # type: ignore[arg-type]
            if isinstance(ev, CommandReceived):
                self._on_command(ev)
            else:
                assert isinstance(ev, DatasetFragment)
                pending = self._pending
                assert pending is not None
                pending.sink.write(ev.data)
                if ev.is_last:
                    self._pending = None
                    pending.sink.close()
                    ds = pending.sink.getvalue() if isinstance(pending.sink, MemorySink) else None
                    self._deliver(IncomingMessage(pending.context, pending.message, ds,
                                                  None if ds is not None else pending.sink),
                                  pending.is_request)

    def _on_command(self, ev: CommandReceived) -> None:
        msg = ev.message
        context = self.contexts.get(ev.context_id)
        if context is None:
            raise RemoteProtocolError(
                f"message on presentation context {ev.context_id}, which was not accepted",
                reason=REASON_INVALID_PDU_PARAMETER,
            )
        is_request = not (int(msg.command_field) & 0x8000)
        if isinstance(msg, dimse.CCancelRQ):
            if self.handler is not None:
                self.handler.cancel(self, msg)
            return
        if not msg.has_dataset:
            self._deliver(IncomingMessage(context, msg), is_request)
            return
        sink: DatasetSink | None = None
        if is_request and self.handler is not None:
            sink = self.handler.dataset_sink(self, context, msg)
        if sink is None:
            sink = MemorySink(self.limits.max_dataset_in_memory)
        self._pending = _Pending(context, msg, sink, is_request)

    def _deliver(self, incoming: IncomingMessage, is_request: bool) -> None:
        if is_request:
            if self.handler is None:
                raise RemoteProtocolError("request received by an SCU-only association",
                                          reason=REASON_INVALID_PDU_PARAMETER)
            handler = self.handler
            self.requests_received += 1
            if handler.handle_now(self, incoming):
                return  # answered at once (only done when nothing is queued before it)
            self._in_flight += 1
            self._requests.put_nowait(incoming)
            if not self._workers:
                for _ in range(max(1, self.max_operations)):
                    self._workers.append(self.loop.create_task(self._worker()))
            return
        msg_id = getattr(incoming.message, "message_id_being_responded_to", None)
        exchange = self._exchanges.get(msg_id) if msg_id is not None else None
        if exchange is None:
            log.warning("%s: response to unknown message ID %s ignored", self.describe(), msg_id)
            return
        exchange.queue.put_nowait(incoming)

    async def _worker(self) -> None:
        handler = self.handler
        assert handler is not None
        while True:
            incoming = await self._requests.get()
            try:
                if incoming is None:
                    return
                await handler.handle(self, incoming)
            except AssociationClosed:
                pass
            except Exception:  # the services layer answers errors itself; this is a bug
                log.exception("%s: request handler failed", self.describe())
                self.abort()
            finally:
                self._in_flight -= 1
                if self._in_flight == 0 and self._idle_waiters:
                    for fut in self._idle_waiters:
                        if not fut.done():
                            fut.set_result(None)
                    self._idle_waiters.clear()

    @property
    def busy(self) -> bool:
        """True while requests received earlier are queued or being served."""
        return self._in_flight > 0

    async def wait_requests_done(self) -> None:
        """Wait until every request received so far has been answered."""
        if self._in_flight:
            fut = self.loop.create_future()
            self._idle_waiters.append(fut)
            await fut

    # ------------------------------------------------------------------ sending
    @property
    def is_open(self) -> bool:
        """True while messages can still be sent on the association."""
        return self.core.is_established and not self.closed.done()

    @property
    def max_invoked_by_us(self) -> int:
        """Requests we may have outstanding at once (0 = no limit): C-STORE
        sub-operations of a C-GET on the acceptor's side, requests of ours on
        the requestor's."""
        w = self.async_window
        return w.max_invoked if self.core.role is Role.REQUESTOR else w.max_performed

    def next_message_id(self) -> int:
        self._message_id = self._message_id % 0xFFFF + 1
        return self._message_id

    def send(self, context_id: int, message: dimse.Message,
             dataset: bytes | memoryview | None = None, *, flush: bool = True) -> None:
        """Queue one DIMSE message (command + optional dataset) for sending.

        ``flush=False`` leaves the bytes queued until the end of the current
        event-loop iteration, so that many small messages (C-FIND responses)
        go out in one write.
        """
        self.send_encoded(context_id, dimse.encode_command(message), dataset, flush=flush)

    def send_encoded(self, context_id: int, command: bytes,
                     dataset: bytes | memoryview | None = None, *, flush: bool = True) -> None:
        """:meth:`send` for a command set encoded already (by
        :func:`~dicomqr.protocol.dimse.encode_command`): a service sending the
        same command many times (C-FIND pending responses) encodes it once."""
        if not self.core.is_established and self.core.state not in (State.STA7, State.STA8):
            raise AssociationClosed(self.close_reason or "association is not established")
        chunks = fragment(context_id, command, dataset, self.peer_max_pdu)
        self.core.send_pdata(chunks)
        if flush:
            self._flush()
        elif not self._flush_soon:
            self._flush_soon = True
            self.loop.call_soon(self._deferred_flush)

    def _deferred_flush(self) -> None:
        self._flush_soon = False
        self._flush()

    def send_chunks(self, chunks: list[bytes | memoryview]) -> None:
        """Queue ready-made P-DATA-TF PDUs (a streamed dataset's fragments)."""
        self.core.send_pdata(chunks)
        self._flush()

    async def drain(self) -> None:
        """Wait until the transport's write buffer is below its high-water mark."""
        if not self._write_ok.is_set():
            waiter = self.loop.create_task(self._write_ok.wait())
            done, _ = await asyncio.wait((waiter, self.closed), return_when=asyncio.FIRST_COMPLETED)
            if waiter not in done:
                waiter.cancel()
                raise AssociationClosed(self.close_reason or "association closed")

    def open_exchange(self, message_id: int) -> asyncio.Queue[IncomingMessage | BaseException]:
        """Start waiting for the responses to our request ``message_id``."""
        if message_id in self._exchanges:
            raise LocalProtocolError(f"message ID {message_id} is already in use")
        ex = _Exchange()
        self._exchanges[message_id] = ex
        if self.closed.done():
            ex.queue.put_nowait(AssociationClosed(self.close_reason or "association closed"))
        return ex.queue

    def close_exchange(self, message_id: int) -> None:
        self._exchanges.pop(message_id, None)

    async def next_response(self, queue: asyncio.Queue[IncomingMessage | BaseException],
                            timeout: float | None = None) -> IncomingMessage:
        """The next response of an exchange, within the DIMSE timeout."""
        if timeout is None:
            timeout = self.timeouts.dimse
        try:
            item = await asyncio.wait_for(queue.get(), timeout)
        except TimeoutError:
            self.abort()
            raise AssociationAborted("DIMSE timeout: no response", 0, 0) from None
        if isinstance(item, BaseException):
            raise item
        return item

    # ------------------------------------------------------------------ release/abort
    async def release(self) -> None:
        """A-RELEASE: ask, wait for the answer (within the ACSE timeout), close."""
        if self.core.state is not State.STA6:
            self.abort()
            return
        self._release_waiter = self.loop.create_future()
        self.core.release()
        self._pump()
        try:
            await asyncio.wait_for(asyncio.shield(self.closed), self.timeouts.acse)
        except TimeoutError:
            self.abort()

    def abort(self) -> None:
        """A-ABORT (service user) and close."""
        if self.core.wants_close:
            return
        if self.core.state in (State.STA2, State.STA13):
            # No association to abort (awaiting the RQ, or already released /
            # rejected and awaiting the close): PS3.8 has no A-ABORT here.
            if self.transport is not None:
                self.transport.close()
        else:
            self.core.abort()
            self._pump()
        self._fail_all(AssociationAborted("aborted by local user", 0, 0))

    # ------------------------------------------------------------------ bookkeeping
    def start_idle_timer(self) -> None:
        if self.timeouts.idle is not None:
            self._idle_handle = self.loop.call_later(self.timeouts.idle, self._check_idle)

    def _check_idle(self) -> None:
        assert self.timeouts.idle is not None
        idle_for = self.loop.time() - self._last_rx
        busy = self._in_flight > 0
        if idle_for >= self.timeouts.idle and not busy and not self.core.wants_close:
            log.info("%s: idle for %.0f s, aborting", self.describe(), idle_for)
            self.close_reason = "network idle timeout"
            self.abort()
            return
        remaining = max(0.1, self.timeouts.idle - idle_for)
        self._idle_handle = self.loop.call_later(remaining, self._check_idle)

    def _fail_all(self, exc: BaseException) -> None:
        for ex in self._exchanges.values():
            ex.queue.put_nowait(exc)
        if self._pending is not None:
            self._pending.sink.discard()
            self._pending = None

    def _finish(self, reason: str) -> None:
        if self.closed.done():
            return
        self.close_reason = self.close_reason or reason or self.core.close_reason
        for handle in (self._artim_handle, self._idle_handle):
            if handle is not None:
                handle.cancel()
        self._fail_all(AssociationClosed(self.close_reason or "association closed"))
        for _ in self._workers:
            self._requests.put_nowait(None)
        if not self.established.done():
            self.established.set_exception(AssociationClosed(self.close_reason or "closed"))
            self.established.exception()  # mark retrieved
        self.closed.set_result(None)
        if self._release_waiter is not None and not self._release_waiter.done():
            self._release_waiter.set_result(None)
        self._write_ok.set()
        if self.transport is not None:
            self.transport.close()
        if self._on_closed is not None:
            self._on_closed(self)

    @property
    def peer_ae(self) -> str:
        """The AE title of the other side of the association."""
        return self.calling_ae if self.core.role is Role.ACCEPTOR else self.called_ae

    def describe(self) -> str:
        return f"{self.calling_ae or '?'}@{self.peer[0]}:{self.peer[1]}"

