"""What a Query/Retrieve SCP application implements, and how it is driven.

An application binds up to three handlers in :class:`QRHandlers`: ``find``,
``get`` and ``move``.  Each is called with a :class:`QRRequest` and returns
a plain generator or an async generator (DESIGN.md, the handler contract):

- find yields ``(status, identifier)`` pairs; pending statuses carry a match
  (a pydicom ``Dataset``, or ``bytes`` already encoded in
  ``request.transfer_syntax``);
- get yields the number of sub-operations, then ``(status, instance)``
  pairs, an instance being a ``Dataset``, a path to a Part 10 file or a
  :class:`~dicomqr.services.store_scu.StoreSource`;
- move yields the destination ``(host, port)`` or ``(host, port, options)``
  first (``None`` when the Move Destination AE title is unknown), then as
  get.

A status is an int or a ``Dataset`` holding Status (0000,0900) and
optionally Error Comment, Offending Element and Error ID.  A non-pending
status ends the operation with that status.

Theory of operation
-------------------
The service class never runs handler code on the event loop's critical path
in a way that could stall other associations: a plain generator runs in a
thread of its own, an async generator in a task of its own, and both
*produce ahead* into a bounded buffer (:class:`HandlerFeed`) that the
service drains.  So a handler computing its next match overlaps with the
service encoding and sending the previous ones, a handler that blocks on a
database blocks only its own thread, and the service can stop waiting for
it at any moment: on C-CANCEL (between any two items, without the handler
polling anything) or when the handler is silent for longer than
``QRHandlers.handler_timeout``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from pydicom import Dataset

from ..uids import QRSOPClass

__all__ = [
    "END",
    "ExtendedOptions",
    "HandlerFeed",
    "HandlerRaised",
    "HandlerTimedOut",
    "QRHandlers",
    "QRRequest",
]

Handler = Callable[["QRRequest"], Any]


@dataclass(frozen=True, slots=True)
class ExtendedOptions:
    """The extended negotiation agreed for a Q/R SOP class (PS3.4 C.5).

    On a request these are what was *negotiated*: both proposed by the SCU
    and accepted by the SCP.  In :class:`QRHandlers` they are what the
    application *supports*, and the SCP accepts only those.
    """

    relational: bool = False
    """Relational queries (C-FIND) or relational retrieval (C-GET/C-MOVE)."""
    date_time_matching: bool = False
    """Combined date and time range matching (C-FIND)."""
    fuzzy_matching: bool = False
    """Fuzzy semantic matching of person names (C-FIND)."""
    timezone_adjustment: bool = False
    """Timezone query adjustment (C-FIND)."""
    enhanced_conversion: bool = False
    """Enhanced multi-frame image conversion (C-FIND/C-GET/C-MOVE)."""

    @property
    def any(self) -> bool:
        return (self.relational or self.date_time_matching or self.fuzzy_matching
                or self.timezone_adjustment or self.enhanced_conversion)


NO_EXTENDED: Final = ExtendedOptions()


@dataclass(eq=False, slots=True)
class QRRequest:
    """One C-FIND, C-GET or C-MOVE request, as its handler sees it."""

    identifier: Dataset
    """The request identifier, decoded."""
    sop_class: QRSOPClass
    """The SOP class (UID, name, service, information model)."""
    level: str
    """Query/Retrieve Level, or the entity of a single-entity model."""
    message_id: int
    priority: int
    calling_ae: str
    called_ae: str
    peer: tuple[str, int]
    transfer_syntax: str
    """The presentation context's transfer syntax: bytes a find handler
    yields instead of a Dataset must be encoded in it."""
    extended: ExtendedOptions = NO_EXTENDED
    move_destination: str | None = None
    """C-MOVE: the Move Destination AE title."""
    _cancel: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @property
    def cancelled(self) -> bool:
        """True once the requestor sent C-CANCEL for this request.  Handlers
        need not poll it: the service stops asking them for items."""
        return self._cancel.is_set()

    def cancel(self) -> None:
        self._cancel.set()


@dataclass(frozen=True, slots=True, kw_only=True)
class QRHandlers:
    """The Q/R application a server serves.

    ``sop_classes`` restricts the SOP classes served (None: every Q/R SOP
    class of each service that has a handler).  ``extended`` says which
    extended negotiation options the application supports, for all its SOP
    classes, or per SOP class UID.  ``handler_timeout`` is how long the
    service waits for the handler's next item (None: forever).
    ``validate`` checks each identifier against its information model
    before the handler sees it (0xA900 on a mismatch).
    ``max_operations`` caps the Q/R operations running at once in the
    whole server; more are refused with 0xA700 (C-FIND) or
    0xA701 (C-GET, C-MOVE) (0 = no cap).
    """

    find: Handler | None = None
    get: Handler | None = None
    move: Handler | None = None
    sop_classes: Sequence[str] | None = None
    extended: ExtendedOptions | dict[str, ExtendedOptions] = NO_EXTENDED
    handler_timeout: float | None = 60.0
    validate: bool = True
    max_operations: int = 0
    buffer: int = 256
    """Items a handler may produce ahead of the network."""

    def extended_for(self, sop_class_uid: str) -> ExtendedOptions:
        if isinstance(self.extended, ExtendedOptions):
            return self.extended
        return self.extended.get(sop_class_uid, NO_EXTENDED)


class HandlerRaised(Exception):
    """The handler raised; ``__cause__`` is what it raised."""


class HandlerTimedOut(Exception):
    """The handler produced nothing within the timeout."""


class _End:
    def __repr__(self) -> str:
        return "END"


END: Final = _End()
"""Returned by :meth:`HandlerFeed.get` once the handler's generator is exhausted."""


class HandlerFeed:
    """Items of a handler's (plain or async) generator, produced ahead.

    :meth:`get` returns the items ready now (at least one), or ``[END]``.
    It raises :class:`HandlerRaised` / :class:`HandlerTimedOut`, and
    returns ``[]`` at once when ``stop_event`` is set.
    """

    def __init__(self, source: Any, *, limit: int = 256,
                 stop_event: asyncio.Event | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        self._items: collections.deque[Any] = collections.deque()
        self._limit = max(1, limit)
        self._lock = threading.Lock()
        self._space = threading.Condition(self._lock)
        self._waiter: asyncio.Future[None] | None = None
        self._done = False
        self._error: BaseException | None = None
        self._stopped = False
        self._stop_event = stop_event
        self._task: asyncio.Task[None] | None = None
        self._async_space: asyncio.Event | None = None
        if hasattr(source, "__anext__"):
            self._async_space = asyncio.Event()
            self._async_space.set()
            self._task = self.loop.create_task(self._run_async(source))
        elif hasattr(source, "__next__"):
            threading.Thread(target=self._run_thread, args=(source,),
                             name="dicomqr-handler", daemon=True).start()
        else:
            raise TypeError(f"handler returned {type(source).__name__}, not a generator")

    # -- producers ---------------------------------------------------------------
    def _run_thread(self, it: Iterator[Any]) -> None:
        try:
            for item in it:
                with self._space:
                    while len(self._items) >= self._limit and not self._stopped:
                        self._space.wait()
                    if self._stopped:
                        break
                    self._items.append(item)
                    wake = self._waiter is not None
                if wake:
                    self.loop.call_soon_threadsafe(self._wake)
        except BaseException as exc:
            self._error = exc
        finally:
            close = getattr(it, "close", None)
            if self._stopped and close is not None:
                with contextlib.suppress(Exception):  # the operation is over anyway
                    close()
            self._done = True
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits
                self.loop.call_soon_threadsafe(self._wake)

    async def _run_async(self, agen: AsyncIterator[Any]) -> None:
        space = self._async_space
        assert space is not None
        try:
            async for item in agen:
                self._items.append(item)
                self._wake()
                if len(self._items) >= self._limit:
                    space.clear()
                    await space.wait()
                if self._stopped:
                    break
        except asyncio.CancelledError:
            pass
        except BaseException as exc:
            self._error = exc
        finally:
            aclose = getattr(agen, "aclose", None)
            if self._stopped and aclose is not None:
                with contextlib.suppress(BaseException):  # the operation is over anyway
                    await aclose()
            self._done = True
            self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- consumer ----------------------------------------------------------------
    async def get(self, timeout: float | None) -> list[Any]:
        """The items ready now; waits up to ``timeout`` for the first one."""
        while True:
            if self._stop_event is not None and self._stop_event.is_set():
                return []
            with self._lock:
                if self._items:
                    items = list(self._items)
                    self._items.clear()
                    self._space.notify()
                    if self._async_space is not None:
                        self._async_space.set()
                    return items
                if self._done:
                    if self._error is not None:
                        raise HandlerRaised(str(self._error)) from self._error
                    return [END]
                waiter = self._waiter = self.loop.create_future()
            await self._wait(waiter, timeout)

    async def _wait(self, waiter: asyncio.Future[None], timeout: float | None) -> None:
        stop = self._stop_event
        on_stop = None
        if stop is not None:
            # Wake on C-CANCEL as well as on a new item.  Only this waiter,
            # and only if the event fired: the task is cancelled when we
            # return, and its callback must not wake the *next* waiter (that
            # spun the loop and defeated the timeout).
            on_stop = self.loop.create_task(stop.wait())
            on_stop.add_done_callback(
                lambda t: None if t.cancelled() or waiter.done() else waiter.set_result(None))
        try:
            if timeout is None:
                await waiter
            else:
                try:
                    async with asyncio.timeout(timeout):
                        await waiter
                except TimeoutError:
                    raise HandlerTimedOut(
                        f"handler produced nothing for {timeout:g} s") from None
        finally:
            self._waiter = None
            if on_stop is not None:
                on_stop.cancel()

    @property
    def ready(self) -> bool:
        """True when :meth:`get` would return at once."""
        return bool(self._items) or self._done

    def stop(self) -> None:
        """Stop producing (cancel, error or early end); the generator is closed."""
        with self._space:
            self._stopped = True
            self._space.notify_all()
        if self._async_space is not None:
            self._async_space.set()
        if self._task is not None and not self._task.done():
            self._task.cancel()
