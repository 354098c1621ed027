"""Cut a received byte stream into PDUs (PS3.8 §9.3, §9.3.1).

Theory of operation
-------------------
TCP delivers bytes in arbitrary pieces.  :class:`PDUReader` appends them to
one ``bytearray`` (:meth:`PDUReader.feed`) and keeps an offset to the first
unread byte.  :meth:`PDUReader.next_pdu` reads the 6-byte header in place
with ``struct.unpack_from``; as soon as the header is there the PDU-type
and PDU-length are checked, so an oversized or unknown PDU is refused
before its body is buffered.  When the whole PDU is there it is decoded
from a ``memoryview`` of the buffer (one copy per PDV's data) and the
offset moves on.  Consumed bytes are dropped when the buffer empties, or
by one ``del`` of the consumed prefix once it is both large and more than
half of the buffer; so feeding *n* bytes costs O(n), however small the
pieces.

Limits (PS3.8 Table 9-26 reasons, source 2 = service provider):

* an unknown PDU-type: reason 1, unrecognized-PDU;
* a P-DATA-TF whose PDU-length exceeds ``max_pdu_length``, the maximum
  length we announced (PS3.8 Annex D.1: the limit on the variable field
  of the P-DATA-TF PDUs we receive): reason 6, invalid-PDU-parameter
  value (the PDU-length parameter);
* any other PDU longer than ``max_other_length``, or an A-ASSOCIATE-RJ,
  A-RELEASE-RQ/RP or A-ABORT whose PDU-length is not the fixed 4: reason 6.

After a :class:`~dicomqr.protocol.errors.RemoteProtocolError` the reader is
broken: every later :meth:`~PDUReader.next_pdu` raises the same error and
:meth:`~PDUReader.feed` discards its input.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NoReturn

from ._checks import check_uint
from .errors import REASON_INVALID_PDU_PARAMETER, REASON_UNRECOGNIZED_PDU, RemoteProtocolError
from .pdu import (
    PDU,
    PDU_A_ABORT,
    PDU_A_ASSOCIATE_AC,
    PDU_A_ASSOCIATE_RJ,
    PDU_A_ASSOCIATE_RQ,
    PDU_A_RELEASE_RP,
    PDU_A_RELEASE_RQ,
    PDU_HEADER,
    PDU_P_DATA_TF,
    decode_view,
)

_HEADER_SIZE = PDU_HEADER.size
_unpack_header = PDU_HEADER.unpack_from
_FIXED_FOUR = frozenset({PDU_A_ASSOCIATE_RJ, PDU_A_RELEASE_RQ, PDU_A_RELEASE_RP, PDU_A_ABORT})
_VARIABLE = frozenset({PDU_A_ASSOCIATE_RQ, PDU_A_ASSOCIATE_AC})
# Compact once this many consumed bytes sit at the front (and they are more
# than half of the buffer).
_COMPACT_AT = 1 << 16

DEFAULT_MAX_OTHER_LENGTH = 1 << 20


class PDUReader:
    """Incremental PDU decoder for one association (sans-IO).

    ``max_pdu_length`` is the largest P-DATA-TF PDU-length accepted (the
    maximum length we announced, 0 = unlimited); it may be changed at any
    time.  ``max_other_length`` caps the PDU-length of every other PDU.
    """

    __slots__ = ("_buf", "_error", "_pos", "max_other_length", "max_pdu_length")

    def __init__(
        self, max_pdu_length: int, max_other_length: int = DEFAULT_MAX_OTHER_LENGTH
    ) -> None:
        self.max_pdu_length = check_uint("max_pdu_length", max_pdu_length, 0xFFFFFFFF)
        self.max_other_length = check_uint("max_other_length", max_other_length, 0xFFFFFFFF)
        self._buf = bytearray()
        self._pos = 0
        self._error: RemoteProtocolError | None = None

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Append received bytes."""
        if self._error is None:
            self._buf += data

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as a PDU.

        At end of stream, 0 means the peer closed between PDUs; anything
        else means it closed in the middle of one.
        """
        return len(self._buf) - self._pos

    def next_pdu(self) -> PDU | None:
        """The next complete PDU, or ``None`` if more bytes are needed.

        Raises :class:`~dicomqr.protocol.errors.RemoteProtocolError` when
        the stream breaks PS3.8 (see the module docstring for the reasons).
        """
        if self._error is not None:
            raise self._error
        buf = self._buf
        pos = self._pos
        size = len(buf)
        if size - pos < _HEADER_SIZE:
            return None
        pdu_type, length = _unpack_header(buf, pos)
        if pdu_type == PDU_P_DATA_TF:
            limit = self.max_pdu_length
            if limit and length > limit:
                self._fail(f"P-DATA-TF PDU-length {length} exceeds the announced {limit}")
        elif pdu_type in _VARIABLE:
            if length > self.max_other_length:
                self._fail(f"PDU-length {length} exceeds the limit {self.max_other_length}")
        elif pdu_type in _FIXED_FOUR:
            if length != 4:
                self._fail(f"PDU-type 0x{pdu_type:02X} with PDU-length {length}, not 4")
        else:
            self._fail(f"unrecognized PDU type 0x{pdu_type:02X}", REASON_UNRECOGNIZED_PDU)
        end = pos + _HEADER_SIZE + length
        if end > size:
            return None
        view = memoryview(buf)
        try:
            pdu = decode_view(view, pos, end)
        except RemoteProtocolError as exc:
            self._error = exc
            raise
        finally:
            view.release()
        if end == size:
            buf.clear()
            self._pos = 0
        elif end >= _COMPACT_AT and end * 2 >= size:
            del buf[:end]
            self._pos = 0
        else:
            self._pos = end
        return pdu

    def __iter__(self) -> Iterator[PDU]:
        """Yield the complete PDUs buffered so far."""
        while (pdu := self.next_pdu()) is not None:
            yield pdu

    def _fail(self, message: str, reason: int = REASON_INVALID_PDU_PARAMETER) -> NoReturn:
        self._error = RemoteProtocolError(message, reason=reason)
        raise self._error
