"""DIMSE messages over P-DATA: fragmentation and reassembly (PS3.8 Annex E).

Theory of operation
-------------------
A DIMSE message is a command set and, optionally, a data set.  PS3.8 E.1
cuts each into fragments, one per Presentation Data Value (PDV), whose
message control header says command or data set, and last fragment or not
(PS3.8 E.2).  All fragments of a message use the same presentation context,
the command fragments come before the data set fragments, and the fragments
of two messages are never interleaved on one association (PS3.8 E.1).  So
a receiver has at most one message in progress, whatever the context.

Sending: :func:`fragment` returns the P-DATA-TF PDUs for one message, ready
for ``transport.writelines``.  Each PDU holds one PDV and is at most the
peer's maximum length (PS3.8 D.1: the announced value bounds the PDU-length
field, i.e. the PDU minus its 6-byte header).  A data set is never copied: its
PDUs are a 12-byte header (PDU header + PDV header) followed by a
``memoryview`` slice of the caller's buffer, so the buffer must not change
until it is written.  :class:`DatasetFragmenter` (and the generator
:func:`fragment_stream`) does the same for a data set that arrives in
pieces, e.g. read from a file by the caller; a PDV may then span two pieces,
which costs nothing since the header is written ahead of them.

Fragment sizes are even: PS3.8 E.1 requires every fragment to have an even
number of bytes, so the largest fragment is the announced maximum minus the
6-byte PDV header, rounded down to even.  PS3.8 sets no minimum maximum
length (only 0, "no maximum"); the smallest that carries an even, non-empty
fragment is 8 (:data:`MIN_MAX_PDU_LENGTH`), and smaller values raise
:class:`LocalProtocolError`.  When the peer announces 0 we still cut at
:data:`UNLIMITED_PDU_LENGTH` (1 MiB): the 12 bytes of header per MiB cost
nothing, and the peer never has to hold a whole multi-gigabyte PDU.

Receiving: :class:`Reassembler` takes the PDVs one at a time and reports
:class:`CommandReceived` once the command set is complete (decoded by
:func:`.dimse.decode_command`), then one :class:`DatasetFragment` per data
set PDV so that a data set can stream to disk.  :class:`MessageAssembler`
wraps it for callers that want whole messages (:class:`MessageReceived`).

Violations raise :class:`RemoteProtocolError` carrying the A-ABORT reason
(PS3.8 Table 9-26).  A P-DATA-TF PDU is expected in the Data Transfer state,
so "unexpected PDU" (2) would misname the fault; what is wrong is a PDV,
a parameter of that PDU:

* reason 5, unexpected PDU parameter, for a well-formed PDV in the wrong
  place: a data set fragment with no command before it (including after a
  command whose Command Data Set Type said 0101H, no data set), a data set
  fragment before the command's last fragment, a command fragment while a
  data set is in progress;
* reason 6, invalid PDU parameter value, for a PDV whose content is
  invalid: the presentation context changing inside a message, an empty
  fragment that is not the last one, a command set above the size cap (no
  valid command set comes near 64 KiB; the cap is a DoS guard like h2's
  CONTINUATION backlog), and a command set :func:`.dimse.decode_command`
  cannot decode;
* reason 0, not specified, when :class:`MessageAssembler` refuses a data set
  above its configured size: that is legal DICOM, refused by a local limit.

Not checked here, being the association's business: whether the context ID
was accepted, and PS3.8 E.1's rule that one P-DATA-TF carries PDVs of one
message only (we accept PDUs that mix the end of one message with the start
of the next: liberal in what we receive).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final, TypeAlias

from .commands import message_name
from .dimse import Message, decode_command, encode_command
from .errors import (
    REASON_INVALID_PDU_PARAMETER,
    REASON_NOT_SPECIFIED,
    REASON_UNEXPECTED_PDU_PARAMETER,
    LocalProtocolError,
    RemoteProtocolError,
)
from .pdu import PDU_P_DATA_TF, PDV

__all__ = [
    "DEFAULT_MAX_COMMAND_SIZE",
    "MIN_MAX_PDU_LENGTH",
    "UNLIMITED_PDU_LENGTH",
    "CommandReceived",
    "DatasetFragment",
    "DatasetFragmenter",
    "MessageAssembler",
    "MessageReceived",
    "Reassembler",
    "fragment",
    "fragment_message",
    "fragment_stream",
    "max_fragment_length",
]

MIN_MAX_PDU_LENGTH: Final = 8
"""The smallest maximum PDU length we can honour: a 6-byte PDV header and 2 bytes."""

UNLIMITED_PDU_LENGTH: Final = 1 << 20
"""The PDU length we send to a peer that announced 0 (no maximum)."""

DEFAULT_MAX_COMMAND_SIZE: Final = 64 * 1024
"""Cap on a received command set; a real one is a few hundred bytes."""

_MAX_UINT32: Final = 0xFFFFFFFF
_PDV_HEADER_LENGTH: Final = 6  # item length (4), context ID (1), control header (1)

# P-DATA-TF header (PS3.8 Table 9-22) and PDV item header (Table 9-23):
# PDU type, reserved, PDU length, item length, context ID, control header.
_HEADER = struct.Struct(">BxIIBB")

# Message control header (PS3.8 E.2): bit 0 set = command, bit 1 set = last.
_DATA, _COMMAND, _LAST = 0x00, 0x01, 0x02


def max_fragment_length(max_pdu_length: int) -> int:
    """The largest (even) fragment one PDV may carry under ``max_pdu_length``.

    ``max_pdu_length`` is the peer's Maximum Length Received (PS3.8 D.1),
    0 meaning no maximum.
    """
    if type(max_pdu_length) is not int or not (
        max_pdu_length == 0 or MIN_MAX_PDU_LENGTH <= max_pdu_length <= _MAX_UINT32
    ):
        raise LocalProtocolError(
            f"maximum PDU length must be 0 (no maximum) or {MIN_MAX_PDU_LENGTH}.."
            f"{_MAX_UINT32}, not {max_pdu_length!r}: a PDV needs 6 header bytes and "
            "PS3.8 E.1 requires even, so non-empty, fragments of at least 2 bytes"
        )
    if max_pdu_length == 0:
        max_pdu_length = UNLIMITED_PDU_LENGTH
    return (max_pdu_length - _PDV_HEADER_LENGTH) & ~1


def _check_context_id(context_id: int) -> None:
    if type(context_id) is not int or not 1 <= context_id <= 255 or not context_id & 1:
        raise LocalProtocolError(
            f"presentation context ID must be an odd integer in 1..255, not {context_id!r}"
        )


def _bytes_view(data: bytes | bytearray | memoryview) -> memoryview:
    view = memoryview(data)
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    return view


def _header(context_id: int, length: int, control: int) -> bytes:
    return _HEADER.pack(PDU_P_DATA_TF, length + _PDV_HEADER_LENGTH, length + 2, context_id, control)


def fragment(
    context_id: int,
    command: bytes,
    dataset: bytes | bytearray | memoryview | None,
    max_pdu_length: int,
) -> list[bytes | memoryview]:
    """The P-DATA-TF PDUs that carry one DIMSE message, for ``writelines``.

    ``command`` is an encoded command set (:func:`.dimse.encode_command`);
    its PDUs come first, each a single ``bytes``.  Then, if ``dataset`` is
    not None, one PDU per data set fragment as two chunks: a 12-byte header
    and a ``memoryview`` slice of ``dataset`` (not copied).  An empty data
    set is sent as one empty last fragment.  Pass ``dataset=None`` and
    stream the data set with :class:`DatasetFragmenter` to send it in pieces.
    """
    _check_context_id(context_id)
    size = max_fragment_length(max_pdu_length)
    total = len(command)
    if not total:
        raise LocalProtocolError("a DIMSE message needs a command set; got 0 bytes")
    chunks: list[bytes | memoryview] = []
    for start in range(0, total, size):
        piece = command[start : start + size]
        last = _LAST if start + size >= total else 0
        chunks.append(_header(context_id, len(piece), _COMMAND | last) + piece)
    if dataset is not None:
        view = _bytes_view(dataset)
        total = len(view)
        if not total:
            chunks.append(_header(context_id, 0, _DATA | _LAST))
        for start in range(0, total, size):
            stop = min(start + size, total)
            last = _LAST if stop == total else 0
            chunks.append(_header(context_id, stop - start, _DATA | last))
            chunks.append(view[start:stop])
    return chunks


def fragment_message(
    context_id: int,
    message: Message,
    dataset: bytes | bytearray | memoryview | None,
    max_pdu_length: int,
) -> list[bytes | memoryview]:
    """:func:`fragment` for a message object, checking ``has_dataset`` against ``dataset``."""
    if message.has_dataset != (dataset is not None):
        raise LocalProtocolError(
            f"{type(message).__name__} has has_dataset={message.has_dataset} but "
            f"{'no' if dataset is None else 'a'} data set was given"
        )
    return fragment(context_id, encode_command(message), dataset, max_pdu_length)


class DatasetFragmenter:
    """Fragments a data set of known length that is supplied in pieces.

    Sans-IO: the caller reads the pieces (from a file, in a thread, in any
    sizes) and passes each to :meth:`feed`, which returns the wire chunks to
    write: PDU headers as ``bytes`` and slices of the piece as
    ``memoryview``.  Because ``total_length`` is known, each header can be
    written before all of its fragment has been read.  :meth:`close` checks
    that exactly ``total_length`` bytes were fed.  Send the command first,
    with ``fragment(context_id, command, None, max_pdu_length)``.
    """

    __slots__ = ("_closed", "_context_id", "_fed", "_pdv_left", "_size", "_total", "_unassigned")

    def __init__(self, *, context_id: int, total_length: int, max_pdu_length: int) -> None:
        _check_context_id(context_id)
        if type(total_length) is not int or total_length < 0:
            raise LocalProtocolError(f"total_length must be an integer >= 0, not {total_length!r}")
        self._context_id = context_id
        self._size = max_fragment_length(max_pdu_length)
        self._total = total_length
        self._fed = 0  # bytes passed to feed() so far
        self._unassigned = total_length  # bytes not yet announced by a PDV header
        self._pdv_left = 0  # bytes the current PDV still expects
        self._closed = False

    @property
    def remaining(self) -> int:
        """Bytes still to be fed."""
        return self._total - self._fed

    def feed(self, piece: bytes | bytearray | memoryview) -> list[bytes | memoryview]:
        """The wire chunks for the next ``piece`` of the data set."""
        if self._closed:
            raise LocalProtocolError("data set fragmenter already closed")
        view = _bytes_view(piece)
        n = len(view)
        if n > self._total - self._fed:
            raise LocalProtocolError(
                f"data set longer than announced: {self._fed + n} bytes fed, "
                f"total_length is {self._total}"
            )
        self._fed += n
        chunks: list[bytes | memoryview] = []
        pos = 0
        while pos < n:
            if not self._pdv_left:
                length = min(self._size, self._unassigned)
                self._unassigned -= length
                last = _LAST if not self._unassigned else 0
                chunks.append(_header(self._context_id, length, _DATA | last))
                self._pdv_left = length
            take = min(self._pdv_left, n - pos)
            chunks.append(view[pos : pos + take])
            pos += take
            self._pdv_left -= take
        return chunks

    def close(self) -> list[bytes | memoryview]:
        """Finish; returns the one empty PDV of an empty data set, else nothing."""
        if self._fed != self._total:
            raise LocalProtocolError(
                f"data set shorter than announced: {self._fed} of {self._total} bytes fed"
            )
        if self._closed:
            return []
        self._closed = True
        if self._total == 0:
            return [_header(self._context_id, 0, _DATA | _LAST)]
        return []


def fragment_stream(
    context_id: int,
    pieces: Iterable[bytes | bytearray | memoryview],
    total_length: int,
    max_pdu_length: int,
) -> Iterator[bytes | memoryview]:
    """Yield the wire chunks of a data set read as ``pieces`` (see :class:`DatasetFragmenter`).

    The iterable does the reading; this module does none.
    """
    fragmenter = DatasetFragmenter(
        context_id=context_id, total_length=total_length, max_pdu_length=max_pdu_length
    )
    for piece in pieces:
        yield from fragmenter.feed(piece)
    yield from fragmenter.close()


# --- receiving ----------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandReceived:
    """A complete command set arrived on ``context_id``.

    If ``message.has_dataset``, :class:`DatasetFragment` events follow;
    otherwise the message is complete.
    """

    context_id: int
    message: Message


@dataclass(frozen=True, slots=True, kw_only=True)
class DatasetFragment:
    """One fragment of the data set of the message last reported by :class:`CommandReceived`."""

    context_id: int
    data: bytes
    is_last: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageReceived:
    """A whole DIMSE message (from :class:`MessageAssembler`)."""

    context_id: int
    message: Message
    dataset: bytes | None


Event: TypeAlias = CommandReceived | DatasetFragment

_IDLE, _COMMAND_STATE, _DATASET_STATE, _ERROR = range(4)


def _unexpected(text: str) -> RemoteProtocolError:
    return RemoteProtocolError(text, reason=REASON_UNEXPECTED_PDU_PARAMETER)


def _invalid(text: str) -> RemoteProtocolError:
    return RemoteProtocolError(text, reason=REASON_INVALID_PDU_PARAMETER)


class Reassembler:
    """Turns received PDVs into :class:`CommandReceived` and :class:`DatasetFragment`.

    One message at a time (PS3.8 E.1 forbids interleaving).  After it has
    raised :class:`RemoteProtocolError` it is broken: the association must
    be aborted, and a further :meth:`feed` raises :class:`LocalProtocolError`.
    """

    __slots__ = ("_context_id", "_error", "_last", "_max", "_message", "_pieces", "_size", "_state")

    def __init__(self, *, max_command_size: int = DEFAULT_MAX_COMMAND_SIZE) -> None:
        self._max = max_command_size
        self._state = _IDLE
        self._context_id = 0
        self._pieces: list[bytes] = []
        self._size = 0
        self._message: Message | None = None  # awaiting its data set
        self._last: Message | None = None  # the last complete message
        self._error = ""

    @property
    def idle(self) -> bool:
        """True between messages."""
        return self._state == _IDLE

    @property
    def awaiting_dataset(self) -> Message | None:
        """The message whose data set is being received, if any."""
        return self._message

    def feed(self, pdv: PDV) -> list[Event]:
        """Take one PDV; return what it completed (at most one event)."""
        if self._state == _ERROR:
            raise LocalProtocolError(f"reassembler already failed: {self._error}")
        try:
            return self._feed(pdv)
        except RemoteProtocolError as exc:
            self._state = _ERROR
            self._error = str(exc)
            self._pieces = []
            raise

    def _feed(self, pdv: PDV) -> list[Event]:
        data = pdv.data
        context_id = pdv.context_id
        if not data and not pdv.is_last:
            kind = "command" if pdv.is_command else "data set"
            raise _invalid(
                f"empty {kind} PDV on context {context_id} that is not the last fragment"
            )
        if self._state != _IDLE and context_id != self._context_id:
            what = "command set" if self._state == _COMMAND_STATE else "data set"
            raise _invalid(
                f"PDV on presentation context {context_id} in the middle of a {what} "
                f"on context {self._context_id}; PS3.8 E.1 requires one context per message"
            )
        if pdv.is_command:
            return self._command(context_id, data, pdv.is_last)
        if self._state == _DATASET_STATE:
            if pdv.is_last:
                self._state = _IDLE
                self._last, self._message = self._message, None
            return [DatasetFragment(context_id=context_id, data=data, is_last=pdv.is_last)]
        if self._state == _COMMAND_STATE:
            raise _unexpected(
                f"data set PDV on context {context_id} before the last fragment of the "
                "command set (PS3.8 E.1: command fragments come first)"
            )
        after = ""
        if self._last is not None and not self._last.has_dataset:
            last = message_name(self._last.command_field)
            after = (
                f"; the last message, a {last}, declared no data set (Command Data Set Type 0101H)"
            )
        raise _unexpected(f"data set PDV on context {context_id} with no command before it{after}")

    def _command(self, context_id: int, data: bytes, is_last: bool) -> list[Event]:
        if self._state == _DATASET_STATE:
            assert self._message is not None
            pending = message_name(self._message.command_field)
            raise _unexpected(
                f"command PDV on context {context_id} while the data set of a {pending} "
                "is incomplete (PS3.8 E.1 forbids interleaving)"
            )
        if self._state == _IDLE:
            self._state = _COMMAND_STATE
            self._context_id = context_id
            self._pieces = []
            self._size = 0
        self._size += len(data)
        if self._size > self._max:
            raise _invalid(
                f"command set on context {context_id} exceeds {self._max} bytes; "
                "a DIMSE-C command set is a few hundred"
            )
        self._pieces.append(data)
        if not is_last:
            return []
        command = b"".join(self._pieces)
        self._pieces = []
        if not command:
            raise _invalid(f"empty command set on context {context_id}")
        message = decode_command(command)
        if message.has_dataset:
            self._state = _DATASET_STATE
            self._message = message
        else:
            self._state = _IDLE
            self._last = message
        return [CommandReceived(context_id=context_id, message=message)]


class MessageAssembler:
    """A :class:`Reassembler` that collects each data set and reports whole messages.

    For small data sets (C-FIND identifiers, responses); stream C-STORE
    data sets with :class:`Reassembler` instead.  ``max_dataset_size`` caps
    the bytes held for one data set (None: no cap); above it the peer gets
    A-ABORT reason 0 (a local limit, not a protocol violation).
    """

    __slots__ = ("_error", "_max", "_message", "_pieces", "_reassembler", "_size")

    def __init__(
        self,
        *,
        max_command_size: int = DEFAULT_MAX_COMMAND_SIZE,
        max_dataset_size: int | None = None,
    ) -> None:
        self._reassembler = Reassembler(max_command_size=max_command_size)
        self._max = max_dataset_size
        self._message: Message | None = None
        self._pieces: list[bytes] = []
        self._size = 0
        self._error = ""

    @property
    def idle(self) -> bool:
        """True between messages."""
        return self._reassembler.idle

    def feed(self, pdv: PDV) -> list[MessageReceived]:
        """Take one PDV; return the message it completed, if any."""
        if self._error:
            raise LocalProtocolError(f"message assembler already failed: {self._error}")
        done: list[MessageReceived] = []
        for event in self._reassembler.feed(pdv):
            if isinstance(event, CommandReceived):
                if event.message.has_dataset:
                    self._message = event.message
                else:
                    done.append(
                        MessageReceived(
                            context_id=event.context_id, message=event.message, dataset=None
                        )
                    )
                continue
            self._size += len(event.data)
            if self._max is not None and self._size > self._max:
                self._pieces = []
                self._error = f"data set above {self._max} bytes"
                raise RemoteProtocolError(
                    f"data set on context {event.context_id} exceeds the limit of "
                    f"{self._max} bytes",
                    reason=REASON_NOT_SPECIFIED,
                )
            self._pieces.append(event.data)
            if event.is_last:
                assert self._message is not None
                done.append(
                    MessageReceived(
                        context_id=event.context_id,
                        message=self._message,
                        dataset=b"".join(self._pieces),
                    )
                )
                self._message = None
                self._pieces = []
                self._size = 0
        return done
