"""C-STORE sub-operations of C-GET and C-MOVE: the instances a handler
gives, the C-MOVE destination association, and reading ahead.

A sub-operation's instance is a path to a Part 10 file, a
:class:`~dicomqr.services.store_scu.StoreSource` or a pydicom ``Dataset``.
Files go out as stored whenever the peer accepted their transfer syntax
(read once: header and dataset from one buffer); a Dataset is encoded in a
context the peer accepted.  Either one, when compressed in a syntax the peer
did not accept, is decompressed (in a thread) and sent uncompressed if the
peer took an uncompressed syntax for its SOP class.  For C-MOVE,
:class:`Destination` opens the association to the destination proposing the
SOP classes and transfer syntaxes of the instances at hand (and the
uncompressed syntaxes), and replaces it when a later instance needs a
context it lacks.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydicom import Dataset

from .. import uids
from ..protocol import dimse
from ..protocol.items import AsyncOperationsWindow
from ..transport.client import Proposal, connect
from ..transport.connection import Connection
from ..uids import QRService
from .codec import IdentifierCodecError, encode_identifier
from .common import NoContextError, request_response, sending_contexts
from .contract import ContractError, Violation
from .store_scu import (
    StoreSource,
    decompressed,
    load_file,
    read_dataset_bytes,
    read_source,
    store_file,
    uncompressed_context,
)

__all__ = [
    "SUB_OPERATIONS_WINDOW",
    "Destination",
    "Instance",
    "Prefetch",
    "class_and_syntax",
    "parse_destination",
    "resolve",
    "safe_resolve",
    "store",
    "uid_of",
]

#: Proposed on a C-MOVE sub-association: up to 8 C-STOREs outstanding.
SUB_OPERATIONS_WINDOW = AsyncOperationsWindow(max_invoked=8, max_performed=1)

Instance = StoreSource | Dataset


def resolve(item: Any) -> Instance:
    """A handler's sub-operation item as something that can be stored."""
    if isinstance(item, StoreSource | Dataset):
        return item
    if isinstance(item, str | os.PathLike):
        return read_source(Path(item))
    raise ValueError(f"a sub-operation needs a Dataset, a path or a StoreSource, "
                     f"not {type(item).__name__}")


def uid_of(inst: Instance) -> str:
    if isinstance(inst, StoreSource):
        return inst.sop_instance_uid
    return str(inst.get("SOPInstanceUID", ""))


def class_and_syntax(inst: Instance) -> tuple[str, str]:
    if isinstance(inst, StoreSource):
        return inst.sop_class_uid, inst.transfer_syntax_uid
    meta = getattr(inst, "file_meta", None)
    ts = str(meta.TransferSyntaxUID) if meta is not None and "TransferSyntaxUID" in meta \
        else uids.EXPLICIT_VR_LITTLE_ENDIAN
    return str(inst.get("SOPClassUID", "")), ts


async def _store_dataset(conn: Connection, ds: Dataset,
                         originator: tuple[str, int] | None) -> int:
    sop_class, ts = class_and_syntax(ds)
    if not sop_class or "SOPInstanceUID" not in ds:
        raise ValueError("the Dataset has no SOP Class UID or SOP Instance UID")
    encapsulated = uids.transfer_syntax(ts).is_encapsulated if ts in uids.TRANSFER_SYNTAXES \
        else False
    contexts = list(sending_contexts(conn, sop_class))
    chosen: tuple[int, str] | None = None
    for ctx in contexts:
        if encapsulated:
            if ctx.transfer_syntax == ts:
                chosen = (ctx.context_id, uids.EXPLICIT_VR_LITTLE_ENDIAN)
                break
        elif not uids.transfer_syntax(ctx.transfer_syntax).is_encapsulated:
            chosen = (ctx.context_id, ctx.transfer_syntax)
            if ctx.transfer_syntax == ts:
                break
    if chosen is None and encapsulated:
        # The peer lacks the compressed syntax (e.g. frames extracted from a
        # JPEG instance): decompress a copy and send it uncompressed.
        chosen = uncompressed_context(contexts)
        if chosen is not None:
            ds = await asyncio.to_thread(
                decompressed, ds, what=f"instance {ds.get('SOPInstanceUID', '')}")
    if chosen is None:
        raise NoContextError(f"no accepted context with the SCU role for {uids.name_of(sop_class)}"
                             + (f" in {uids.name_of(ts)} or uncompressed" if encapsulated else ""))
    try:
        data = encode_identifier(ds, chosen[1])
    except IdentifierCodecError as exc:
        raise ValueError(f"the Dataset cannot be encoded: {exc}") from exc
    rq = dimse.CStoreRQ(
        message_id=conn.next_message_id(), affected_sop_class_uid=sop_class,
        affected_sop_instance_uid=str(ds.SOPInstanceUID),
        move_originator_application_entity_title=originator[0] if originator else None,
        move_originator_message_id=originator[1] if originator else None,
    )
    return (await request_response(conn, chosen[0], rq, data)).status


class Prefetch:
    """Reads the next instance's file while the current C-STORE is answered.

    One sub-operation at a time (no asynchronous operations window), the
    time a C-STORE-RSP takes to come back is idle; reading the next file
    then means the next C-STORE-RQ leaves as soon as the response is in.
    """

    __slots__ = ("buffer", "data", "payload", "source")

    def __init__(self, buffer: deque[Any]) -> None:
        self.buffer = buffer
        self.payload: Any = None
        self.source: StoreSource | None = None
        self.data: bytes | memoryview | None = None

    def take(self, payload: Any) -> tuple[StoreSource, bytes | memoryview] | None:
        if payload is not self.payload or self.source is None or self.data is None:
            return None
        found = (self.source, self.data)
        self.payload = self.source = self.data = None
        return found

    def read_next(self) -> None:
        buffer = self.buffer
        if not buffer:
            return
        item = buffer[0]
        if not (isinstance(item, tuple) and len(item) == 2):
            return
        payload = item[1]
        data: bytes | memoryview | None
        try:
            if isinstance(payload, str | os.PathLike):
                source, data = load_file(payload)
            elif isinstance(payload, StoreSource):
                source, data = payload, read_dataset_bytes(payload)
            else:
                return
        except (OSError, ValueError):
            return  # the sub-operation reports it when its turn comes
        if data is not None:
            self.payload, self.source, self.data = payload, source, data


async def store(conn: Connection, inst: Instance, originator: tuple[str, int] | None,
                 prefetch: Prefetch | None = None,
                 data: bytes | memoryview | None = None) -> int:
    if isinstance(inst, StoreSource):
        waiting = prefetch.read_next if prefetch is not None else None
        return (await store_file(conn, inst, originator, data=data,
                                 while_waiting=waiting)).status
    return await _store_dataset(conn, inst, originator)


@dataclass(slots=True)
class Destination:
    """The C-MOVE sub-association, opened for the SOP classes at hand."""

    host: str
    port: int
    called_ae: str
    calling_ae: str
    options: dict[str, Any]
    conn: Connection | None = None
    proposed: set[tuple[str, str]] = field(default_factory=set)

    async def open(self, instances: Sequence[Instance]) -> None:
        if self.conn is not None:
            await self.conn.release()
            self.conn = None
        pairs: dict[str, dict[str, None]] = {}
        for inst in instances:
            sop_class, ts = class_and_syntax(inst)
            pairs.setdefault(sop_class, {})[ts] = None
        proposals: list[Proposal] = []
        for sop_class, syntaxes in pairs.items():
            room = 128 - len(proposals)
            if room < 2:
                break
            for ts in list(syntaxes)[: room - 1]:
                proposals.append(Proposal(sop_class, (ts,)))
            proposals.append(Proposal(sop_class, uids.UNCOMPRESSED_TRANSFER_SYNTAXES))
        self.proposed = {(p.abstract_syntax, ts) for p in proposals for ts in p.transfer_syntaxes}
        kwargs = {k: v for k, v in self.options.items()
                  if k in ("ssl_context", "limits", "timeouts")}
        # An asynchronous operations window lets several C-STOREs be in
        # flight when the destination agrees (a dicomqr storage SCP does).
        self.conn = await connect(self.host, self.port, proposals,
                                  calling_ae=self.options.get("calling_ae", self.calling_ae),
                                  called_ae=self.called_ae, async_window=SUB_OPERATIONS_WINDOW,
                                  **kwargs)

    def covers(self, inst: Instance) -> bool:
        sop_class, ts = class_and_syntax(inst)
        return (sop_class, ts) in self.proposed or any(
            (sop_class, u) in self.proposed for u in uids.UNCOMPRESSED_TRANSFER_SYNTAXES)

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.release()
            self.conn = None


def parse_destination(item: Any) -> tuple[str, int, dict[str, Any]]:
    if isinstance(item, tuple) and len(item) in (2, 3):
        host, port = item[0], item[1]
        options = item[2] if len(item) == 3 else {}
        if (isinstance(host, str) and host and isinstance(port, int)
                and not isinstance(port, bool) and 0 < port < 65536
                and isinstance(options, dict)):
            return host, port, options
    raise ContractError(Violation.BAD_DESTINATION, QRService.MOVE,
                        f"destination {item!r} is not (address, port[, options])")


def safe_resolve(pair: Any) -> Instance | None:
    try:
        if isinstance(pair, tuple) and len(pair) == 2 and pair[1] is not None:
            return resolve(pair[1])
    except (OSError, ValueError):
        pass
    return None


