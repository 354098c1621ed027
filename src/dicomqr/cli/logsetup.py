"""Logging for the command line: one handler on stderr, buffered for servers."""

from __future__ import annotations

import asyncio
import io
import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class BufferedStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Log lines go through a buffer flushed at most every ``interval``
    seconds, at once for warnings and errors, and at exit.

    A server logs a line per association; writing each with its own system
    call costs a busy server measurably (tens of microseconds an association).
    """

    def __init__(self, interval: float = 0.25) -> None:
        raw = io.FileIO(2, "w", closefd=False)
        stream = io.TextIOWrapper(io.BufferedWriter(raw, 65536), encoding="utf-8",
                                  errors="backslashreplace", write_through=False)
        super().__init__(stream)
        self._interval = interval
        self._timer: asyncio.TimerHandle | None = None

    def flush(self) -> None:
        """Deferred: :meth:`emit` schedules the real flush."""

    def emit(self, record: logging.LogRecord) -> None:
        super().emit(record)
        if record.levelno >= logging.WARNING:
            self.flush_now()
            return
        if self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # not in the event loop's thread: no deferring
                self.flush_now()
                return
            self._timer = loop.call_later(self._interval, self.flush_now)

    def flush_now(self) -> None:
        self._timer = None
        self.acquire()
        try:
            if not self.stream.closed:
                self.stream.flush()
        finally:
            self.release()

    def close(self) -> None:
        self.flush_now()
        super().close()


def setup(level: int, *, buffered: bool) -> None:
    handler: logging.Handler = BufferedStderrHandler() if buffered else logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
