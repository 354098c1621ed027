"""The archive's C-FIND, C-GET and C-MOVE handlers.

They follow the same handler contract a library user implements
(:mod:`dicomqr.services.handlers`): plain generators, run by the service
in threads of their own, so the database work here never blocks the event
loop.

- find yields a pending response per match, streamed from the index;
- get and move yield the number of instances, then each instance: the
  stored file, sent as stored when the peer accepts its transfer syntax
  (the service converts otherwise); for Composite Instance Retrieve
  Without Bulk Data the instance without its bulk data (PS3.4 Annex Z);
  for a FRAME-level Composite Instance Root Retrieve the new instance made
  of the frames asked for (PS3.4 Annex Y), or 0xAA00-0xAA04 when it cannot
  be made;
- move first names the destination, from the archive's table of known AE
  titles (None: 0xA801, Move Destination unknown).

An index that cannot be read gives 0xA700 (C-FIND) / 0xA701 (C-GET,
C-MOVE): out of resources.  A caller the access rules do not allow gets
0x0124 (Refused: Not Authorized).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from pydicom import Dataset, dcmread
from pydicom.uid import generate_uid
from sqlalchemy.exc import SQLAlchemyError

from .. import status
from ..services.handlers import ExtendedOptions, QRHandlers, QRRequest
from ..uids import QRModel
from .search import Located, Search

log = logging.getLogger("dicomqr.archive")

__all__ = ["SUPPORTED_EXTENDED", "archive_handlers"]

#: What the archive supports of the extended negotiation (PS3.4 C.5).
SUPPORTED_EXTENDED = ExtendedOptions(relational=True, date_time_matching=True,
                                     fuzzy_matching=True)

Allow = Callable[[str], bool]


def _refused(service: str, calling_ae: str) -> Dataset:
    ds = Dataset()
    ds.Status = status.NOT_AUTHORIZED
    ds.ErrorComment = f"{calling_ae} may not {service} here"[:64]
    return ds


def _failure(code: int, comment: str) -> Dataset:
    ds = Dataset()
    ds.Status = code
    ds.ErrorComment = comment[:64]
    return ds


def archive_handlers(search: Search, *, destinations: Mapping[str, tuple[str, int]],
                     may_query: Allow | None = None, may_retrieve: Allow | None = None,
                     handler_timeout: float | None = 60.0) -> QRHandlers:
    """The Q/R handlers of an archive over ``search``."""

    def find(request: QRRequest) -> Iterator[Any]:
        if may_query is not None and not may_query(request.calling_ae):
            yield _refused("query", request.calling_ae), None
            return
        ext = request.extended
        try:
            for match in search.find(request.identifier, request.sop_class.uid, request.level,
                                     relational=ext.relational, fuzzy=ext.fuzzy_matching,
                                     combined=ext.date_time_matching,
                                     transfer_syntax=request.transfer_syntax):
                yield status.PENDING, match
        except SQLAlchemyError as exc:
            log.error("C-FIND: index unavailable: %s", exc)
            yield _failure(status.OUT_OF_RESOURCES, "index unavailable"), None
            return
        yield status.SUCCESS, None

    def retrieve(request: QRRequest) -> Iterator[Any]:
        if may_retrieve is not None and not may_retrieve(request.calling_ae):
            yield _refused("retrieve", request.calling_ae), None
            return
        try:
            located = search.locate(request.identifier, request.sop_class.uid, request.level,
                                    relational=request.extended.relational)
        except SQLAlchemyError as exc:
            log.error("%s: index unavailable: %s", request.sop_class.service.dimse, exc)
            yield _failure(status.OUT_OF_RESOURCES_MATCHES, "index unavailable"), None
            return
        model = request.sop_class.model
        if model is QRModel.COMPOSITE_INSTANCE_ROOT and request.level == "FRAME":
            yield from _frames(request, located)
            return
        yield len(located)
        for loc in located:
            if model is QRModel.WITHOUT_BULK_DATA:
                yield status.PENDING, _without_bulk(loc)
            else:
                yield status.PENDING, loc.path

    def move(request: QRRequest) -> Iterator[Any]:
        if may_retrieve is not None and not may_retrieve(request.calling_ae):
            yield _refused("retrieve", request.calling_ae), None
            return
        dest = destinations.get(request.move_destination or "")
        if dest is None:
            yield None
            return
        yield dest
        yield from retrieve(request)

    return QRHandlers(find=find, get=retrieve, move=move, extended=SUPPORTED_EXTENDED,
                      handler_timeout=handler_timeout)


def _without_bulk(loc: Located) -> Dataset | str:
    from .transform import without_bulk_data

    try:
        ds = dcmread(loc.path, force=True)
    except Exception:
        return loc.path  # unreadable: the sub-operation fails and says so
    return without_bulk_data(ds)


def _frames(request: QRRequest, located: list[Located]) -> Iterator[Any]:
    """FRAME level (PS3.4 Y.4.1.3/Y.4.2.3): one new instance, or a failure."""
    from .frames import FrameExtractionError, extract_frames

    if not located:
        yield _failure(status.NO_FRAMES_FOUND, "SOP instance not found"), None
        return
    ident = request.identifier
    simple = _numbers(ident, "SimpleFrameList")
    calculated = _numbers(ident, "CalculatedFrameList")
    time_range = _numbers(ident, "TimeRange")
    try:
        ds = dcmread(located[0].path, force=True)
        new = extract_frames(
            ds, simple=[int(v) for v in simple] if simple else None,
            calculated=[int(v) for v in calculated] if calculated else None,
            time_range=(float(time_range[0]), float(time_range[1])) if time_range else None,
            new_uid=generate_uid())
    except FrameExtractionError as exc:
        yield _failure(exc.status, exc.comment), None
        return
    except Exception as exc:
        log.warning("frame extraction failed: %s", exc)
        yield _failure(status.UNABLE_TO_EXTRACT_FRAMES, f"cannot extract frames: {exc}"), None
        return
    yield 1
    yield status.PENDING, new


def _numbers(ident: Dataset, keyword: str) -> list[Any] | None:
    if keyword not in ident or ident[keyword].value in (None, ""):
        return None
    value = ident[keyword].value
    if isinstance(value, str | bytes | int | float):
        return [value]
    return list(value)

