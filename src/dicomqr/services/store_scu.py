"""C-STORE SCU: send instances from files, as stored, without decoding them.

:func:`scan` reads the few hundred header bytes of each file (Part 10 meta:
SOP class, instance, transfer syntax, where the dataset starts);
:func:`proposals_for` turns a set of files into presentation contexts (each
SOP class with its files' own transfer syntaxes, plus the uncompressed ones
to fall back on); :func:`store_file` sends the dataset bytes straight from
the file when the file's transfer syntax was accepted and converts with
pydicom otherwise: between uncompressed syntaxes, or from a compressed one
by decompressing (pydicom's pixel data decoders: pylibjpeg, pylibjpeg-libjpeg,
pylibjpeg-openjpeg, pylibjpeg-rle, numpy) when the peer did not accept the
file's own syntax but took an uncompressed one (Explicit VR Little Endian
preferred, then Implicit VR Little Endian, then Explicit VR Big Endian).
A decompressed instance keeps its SOP Instance UID: it is the same instance
in another transfer syntax.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import io
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.filewriter import write_dataset

from .. import uids
from ..protocol import dimse
from ..protocol.negotiation import AcceptedContext
from ..transport.client import Proposal
from ..transport.connection import Connection
from .codec import in_byte_order
from .common import NoContextError, Response, request_response, sending_contexts
from .part10 import Part10Error, read_file_meta

__all__ = [
    "StoreSource",
    "can_decompress",
    "choose_context",
    "decompressed",
    "encode_dataset",
    "load_file",
    "proposals_for",
    "scan",
    "store_file",
    "uncompressed_context",
]

_HEAD = 65536
_INLINE_READ = 4 << 20  # files smaller than this are read on the event loop


@dataclass(frozen=True, slots=True)
class StoreSource:
    """One file to send: what its header says and where its dataset starts.

    ``dataset_offset`` is None for a file without Part 10 header (a bare
    dataset), which is then decoded with pydicom to be sent.
    """

    path: Path
    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax_uid: str
    dataset_offset: int | None


def _iter_files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    for p in paths:
        path = Path(p)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    yield Path(root) / name
        else:
            yield path


def read_source(path: Path) -> StoreSource:
    """Read a file's header; raises ``ValueError``/``OSError`` when it is not DICOM."""
    with open(path, "rb") as f:
        head = f.read(_HEAD)
    try:
        meta = read_file_meta(head)
        if meta.sop_class_uid and meta.sop_instance_uid:
            return StoreSource(path, meta.sop_class_uid, meta.sop_instance_uid,
                               meta.transfer_syntax_uid, meta.dataset_offset)
    except Part10Error:
        pass
    # No (usable) Part 10 header: let pydicom find out what it is.
    try:
        ds = dcmread(path, force=True, stop_before_pixels=True)
        sop_class = str(ds.SOPClassUID)
        sop_instance = str(ds.SOPInstanceUID)
    except Exception as exc:
        raise ValueError(f"{path}: not a DICOM file ({exc})") from None
    ts = uids.IMPLICIT_VR_LITTLE_ENDIAN
    file_meta = getattr(ds, "file_meta", None)
    if file_meta is not None and "TransferSyntaxUID" in file_meta:
        ts = str(file_meta.TransferSyntaxUID)
    return StoreSource(path, sop_class, sop_instance, ts, None)


def scan(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[StoreSource], list[str]]:
    """Files (and folders, recursively) to sources; the second list says
    which files were skipped and why."""
    sources: list[StoreSource] = []
    skipped: list[str] = []
    for path in _iter_files(paths):
        try:
            source = read_source(path)
        except (OSError, ValueError) as exc:
            skipped.append(str(exc))
            continue
        if source.sop_class_uid == uids.MEDIA_STORAGE_DIRECTORY_STORAGE:
            skipped.append(f"{path}: a DICOMDIR (media directory) is not sent with C-STORE")
            continue
        sources.append(source)
    return sources, skipped


def proposals_for(sources: Iterable[StoreSource]) -> list[Proposal]:
    """Presentation contexts for the given files.

    Per SOP class: one context for each distinct transfer syntax of its
    files, proposed alone, so that the answer says whether the peer takes
    that syntax and the bytes can go as stored whatever the peer prefers;
    then one context with the uncompressed syntaxes not proposed yet, to
    fall back on (the SCU converts between uncompressed syntaxes).
    Raises ``ValueError`` above the limit of 128 contexts.
    """
    by_class: dict[str, dict[str, None]] = {}
    for src in sources:
        by_class.setdefault(src.sop_class_uid, {})[src.transfer_syntax_uid] = None
    proposals: list[Proposal] = []
    for sop_class, syntaxes in by_class.items():
        proposals.extend(Proposal(sop_class, (ts,)) for ts in syntaxes)
        rest = tuple(ts for ts in (uids.EXPLICIT_VR_LITTLE_ENDIAN, uids.IMPLICIT_VR_LITTLE_ENDIAN)
                     if ts not in syntaxes)
        if rest:
            proposals.append(Proposal(sop_class, rest))
    if len(proposals) > 128:
        raise ValueError(f"{len(proposals)} presentation contexts needed, at most 128 allowed")
    return proposals


def encode_dataset(ds: Dataset, transfer_syntax_uid: str) -> bytes:
    """Encode ``ds`` in an uncompressed transfer syntax."""
    ts = uids.transfer_syntax(transfer_syntax_uid)
    if ts.is_encapsulated or ts.is_deflated:
        raise NoContextError(f"cannot convert to {ts.name}")
    buf = io.BytesIO()
    from pydicom.filebase import DicomFileLike

    fp = DicomFileLike(buf)
    fp.is_little_endian = ts.is_little_endian
    fp.is_implicit_VR = ts.is_implicit_vr
    write_dataset(fp, in_byte_order(ds, ts.is_little_endian))
    return buf.getvalue()


def _read(path: Path, offset: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read()


async def _dataset_bytes(source: StoreSource, target_ts: str) -> bytes:
    """The bytes to send for ``source`` in ``target_ts``."""
    if source.dataset_offset is not None and target_ts == source.transfer_syntax_uid:
        size = source.path.stat().st_size
        if size < _INLINE_READ:
            return _read(source.path, source.dataset_offset)
        return await asyncio.to_thread(_read, source.path, source.dataset_offset)

    def convert() -> bytes:
        ds: Dataset = dcmread(source.path, force=True)
        if _is_encapsulated(source.transfer_syntax_uid):
            ds = decompressed(ds, what=str(source.path), copy_first=False)
        return encode_dataset(ds, target_ts)

    return await asyncio.to_thread(convert)


def _is_encapsulated(transfer_syntax_uid: str) -> bool:
    ts = uids.TRANSFER_SYNTAXES.get(transfer_syntax_uid)
    return ts is not None and ts.is_encapsulated


@functools.lru_cache(maxsize=64)
def can_decompress(transfer_syntax_uid: str) -> bool:
    """Whether an installed pixel data decoder reads ``transfer_syntax_uid``."""
    from pydicom.pixels.decoders.base import get_decoder
    from pydicom.uid import UID

    try:
        return bool(get_decoder(UID(transfer_syntax_uid)).is_available)
    except (NotImplementedError, ValueError, KeyError):
        return False


def decompressed(ds: Dataset, *, what: str, copy_first: bool = True) -> Dataset:
    """``ds`` with its encapsulated Pixel Data decoded (native, little
    endian; YCbCr decoded to RGB as pydicom does by default), ready for
    :func:`encode_dataset`; a copy unless ``copy_first`` is False.

    Raises :class:`NoContextError` naming ``what`` when it cannot be done:
    no decoder for the syntax, or data the decoder rejects.  Slow for large
    instances: run it in a thread.
    """
    meta = getattr(ds, "file_meta", None)
    ts = str(meta.TransferSyntaxUID) if meta is not None and "TransferSyntaxUID" in meta \
        else "(unknown transfer syntax)"
    name = uids.name_of(ts) if ts in uids.TRANSFER_SYNTAXES else ts
    if not can_decompress(ts):
        raise NoContextError(f"{what}: the peer did not accept {name}, and no installed "
                             "decoder can decompress it to send it uncompressed")
    out = copy.deepcopy(ds) if copy_first else ds
    try:
        # Same instance, other transfer syntax: the SOP Instance UID stays.
        out.decompress(generate_instance_uid=False)
    except Exception as exc:  # the decoders raise many kinds on bad data
        raise NoContextError(f"{what}: the peer did not accept {name}, and decompressing "
                             f"failed ({type(exc).__name__}: {exc})") from exc
    return out


def uncompressed_context(contexts: Iterable[AcceptedContext]) -> tuple[int, str] | None:
    """The accepted uncompressed context we prefer among ``contexts``:
    Explicit VR Little Endian, then Implicit VR Little Endian, then
    Explicit VR Big Endian (the order of UNCOMPRESSED_TRANSFER_SYNTAXES)."""
    best: tuple[int, AcceptedContext] | None = None
    for ctx in contexts:
        if ctx.transfer_syntax in uids.UNCOMPRESSED_TRANSFER_SYNTAXES:
            rank = uids.UNCOMPRESSED_TRANSFER_SYNTAXES.index(ctx.transfer_syntax)
            if best is None or rank < best[0]:
                best = (rank, ctx)
    return None if best is None else (best[1].context_id, best[1].transfer_syntax)


def choose_context(conn: Connection, source: StoreSource) -> tuple[int, str]:
    """The context to send ``source`` on: its own transfer syntax if accepted
    (the bytes go as stored), else the preferred accepted uncompressed one,
    to convert an uncompressed file or decompress a compressed one.

    Raises :class:`NoContextError` when the peer accepted neither, or when
    the file's syntax is compressed and no installed decoder reads it.
    """
    contexts = list(sending_contexts(conn, source.sop_class_uid))
    for ctx in contexts:
        if ctx.transfer_syntax == source.transfer_syntax_uid and source.dataset_offset is not None:
            return ctx.context_id, ctx.transfer_syntax
    fallback = uncompressed_context(contexts)
    stored_in = uids.name_of(source.transfer_syntax_uid) \
        if source.transfer_syntax_uid in uids.TRANSFER_SYNTAXES else source.transfer_syntax_uid
    if fallback is None:
        raise NoContextError(
            f"no accepted context for {uids.name_of(source.sop_class_uid)} in "
            f"{stored_in} or in an uncompressed transfer syntax")
    if source.transfer_syntax_uid not in uids.TRANSFER_SYNTAXES:
        raise NoContextError(f"{source.path}: stored in the unknown transfer syntax "
                             f"{stored_in}, which the peer did not accept")
    if _is_encapsulated(source.transfer_syntax_uid) and \
            not can_decompress(source.transfer_syntax_uid):
        raise NoContextError(
            f"{source.path}: stored in {stored_in}, which the peer did not accept, and no "
            "installed decoder can decompress it to send it uncompressed")
    return fallback


def load_file(path: str | os.PathLike[str]) -> tuple[StoreSource, memoryview | None]:
    """Read a file once: its header as a :class:`StoreSource`, and its
    dataset bytes as stored (a view into the one buffer read), or None for
    a large file or one without a Part 10 header (sent the slower way)."""
    with open(path, "rb") as f:
        blob = None if os.fstat(f.fileno()).st_size >= _INLINE_READ else f.read()
    p = Path(path)
    if blob is not None:
        try:
            meta = read_file_meta(blob)
        except Part10Error:
            meta = None
        if meta is not None and meta.sop_class_uid and meta.sop_instance_uid:
            source = StoreSource(p, meta.sop_class_uid, meta.sop_instance_uid,
                                 meta.transfer_syntax_uid, meta.dataset_offset)
            return source, memoryview(blob)[meta.dataset_offset:]
    return read_source(p), None


def read_dataset_bytes(source: StoreSource) -> bytes | None:
    """The dataset bytes of a Part 10 file as stored (None for a bare
    dataset, which needs decoding), read on the spot: small files only."""
    if source.dataset_offset is None or source.path.stat().st_size >= _INLINE_READ:
        return None
    return _read(source.path, source.dataset_offset)


async def store_file(conn: Connection, source: StoreSource,
                     move_originator: tuple[str, int] | None = None, *,
                     data: bytes | memoryview | None = None,
                     while_waiting: Callable[[], None] | None = None) -> Response:
    """Send one instance (C-STORE-RQ) and return the C-STORE-RSP.

    ``data``: the file's dataset bytes read already (by
    :func:`read_dataset_bytes`), used when they can go as stored.
    ``while_waiting``: see :func:`~dicomqr.services.common.request_response`.
    """
    context_id, ts = choose_context(conn, source)
    dataset: bytes | memoryview
    if data is not None and ts == source.transfer_syntax_uid:
        dataset = data
    else:
        dataset = await _dataset_bytes(source, ts)
    if len(dataset) % 2:
        # PS3.8 Annex E.1: every fragment has an even length, and strict peers
        # (DCMTK) abort on an odd one.  A deflated stream of odd length gets
        # one trailing NUL (PS3.5 A.5, as DCMTK writes it); any other odd data
        # set is malformed already, and is padded the same way rather than
        # taking the association down.
        dataset = bytes(dataset) + b"\x00"
    rq = dimse.CStoreRQ(
        message_id=conn.next_message_id(),
        affected_sop_class_uid=source.sop_class_uid,
        affected_sop_instance_uid=source.sop_instance_uid,
        priority=dimse.Priority.MEDIUM,
        move_originator_application_entity_title=move_originator[0] if move_originator else None,
        move_originator_message_id=move_originator[1] if move_originator else None,
    )
    return await request_response(conn, context_id, rq, dataset, while_waiting)
