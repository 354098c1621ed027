"""SOP class extended negotiation of the Q/R SOP classes (PS3.4 C.5, X.5, Y.5),
end to end: what the SCU proposes, what the server's QRHandlers(extended=...)
supports, what is agreed (request.extended), and what it changes
(relational queries and retrieves, Query/Retrieve View)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dicomqr import uids
from dicomqr.services import qr_scu
from dicomqr.services.handlers import ExtendedOptions, QRHandlers, QRRequest
from dicomqr.services.qr_scu import extended_items

from .qr_helpers import (
    DEST_AE,
    SERIES,
    Seen,
    associate,
    associate_get,
    ds,
    instance,
    qr_server,
    run,
    uid_of,
)

NONE = ExtendedOptions()
RELATIONAL = ExtendedOptions(relational=True)


def recording(seen: Seen) -> QRHandlers:
    def find(request: QRRequest) -> Iterator[Any]:
        seen(request)
        yield 0xFF00, ds(QueryRetrieveLevel=request.level, SeriesInstanceUID=SERIES)

    def get(request: QRRequest) -> Iterator[Any]:
        seen(request)
        yield 1
        yield 0xFF00, instance(0)

    def move(request: QRRequest) -> Iterator[Any]:
        seen(request)
        yield None  # enough to see the request: 0xA801
    return QRHandlers(find=find, get=get, move=move)


def serving(seen: Seen, extended: Any) -> QRHandlers:
    base = recording(seen)
    return QRHandlers(find=base.find, get=base.get, move=base.move, extended=extended)


@pytest.mark.parametrize(("proposed", "supported", "agreed", "reply"), [
    pytest.param(ExtendedOptions(relational=True, fuzzy_matching=True), RELATIONAL,
                 RELATIONAL, b"\x01\x00\x00", id="relational-of-relational+fuzzy"),
    pytest.param(ExtendedOptions(relational=True, fuzzy_matching=True),
                 ExtendedOptions(fuzzy_matching=True, timezone_adjustment=True),
                 ExtendedOptions(fuzzy_matching=True), b"\x00\x00\x01",
                 id="fuzzy-of-relational+fuzzy"),
    pytest.param(ExtendedOptions(relational=True, date_time_matching=True,
                                 fuzzy_matching=True, timezone_adjustment=True,
                                 enhanced_conversion=True),
                 ExtendedOptions(relational=True, date_time_matching=True, fuzzy_matching=True,
                                 timezone_adjustment=True, enhanced_conversion=True),
                 ExtendedOptions(relational=True, date_time_matching=True, fuzzy_matching=True,
                                 timezone_adjustment=True, enhanced_conversion=True),
                 b"\x01\x01\x01\x01\x01", id="all-of-all"),
    pytest.param(ExtendedOptions(relational=True), NONE, NONE, b"\x00", id="none-supported"),
])
async def test_find_agreed_options(proposed: ExtendedOptions, supported: ExtendedOptions,
                                   agreed: ExtendedOptions, reply: bytes) -> None:
    seen = Seen()
    async with qr_server(serving(seen, {uids.STUDY_ROOT_QR_FIND: supported})) as srv:
        conn = await associate(srv.port, [uids.STUDY_ROOT_QR_FIND],
                               extended=extended_items({uids.STUDY_ROOT_QR_FIND: proposed}))
        out = await run(qr_scu.find(conn, ds(QueryRetrieveLevel="STUDY", StudyInstanceUID="")))
        await conn.release()
    assert out.final.status == 0x0000
    assert seen.last.extended == agreed
    # The acceptor answers as many bytes as were proposed (PS3.4 C.5.1.1).
    assert conn.extended_negotiation.get(uids.STUDY_ROOT_QR_FIND) == reply


async def test_nothing_proposed_nothing_agreed() -> None:
    seen = Seen()
    everything = ExtendedOptions(relational=True, date_time_matching=True, fuzzy_matching=True,
                                 timezone_adjustment=True, enhanced_conversion=True)
    async with qr_server(serving(seen, everything)) as srv:
        conn = await associate(srv.port, [uids.STUDY_ROOT_QR_FIND])
        await run(qr_scu.find(conn, ds(QueryRetrieveLevel="STUDY", StudyInstanceUID="")))
        await conn.release()
    assert seen.last.extended == NONE
    assert conn.extended_negotiation == {}  # no reply to a sub-item never sent


async def test_options_are_per_sop_class() -> None:
    """Supported for Study Root only: Patient Root gets nothing, though asked."""
    seen = Seen()
    proposal = {uids.STUDY_ROOT_QR_FIND: RELATIONAL, uids.PATIENT_ROOT_QR_FIND: RELATIONAL}
    async with qr_server(serving(seen, {uids.STUDY_ROOT_QR_FIND: RELATIONAL})) as srv:
        conn = await associate(srv.port, list(proposal), extended=extended_items(proposal))
        await run(qr_scu.find(conn, ds(QueryRetrieveLevel="STUDY", StudyInstanceUID="")))
        await run(qr_scu.find(conn, ds(QueryRetrieveLevel="PATIENT", PatientID=""),
                              sop_class=uids.PATIENT_ROOT_QR_FIND))
        await conn.release()
    assert [r.extended for r in seen.requests] == [RELATIONAL, NONE]


# -- relational queries and retrieves: keys above the level ---------------------------------

SERIES_WITHOUT_STUDY = {"QueryRetrieveLevel": "SERIES", "SeriesInstanceUID": SERIES,
                        "Modality": "MR"}


@pytest.mark.parametrize("relational", [True, False])
async def test_relational_find_allows_keys_above_level(relational: bool) -> None:
    """A SERIES query without the Study Instance UID above it, with a key
    of the STUDY level: refused by a hierarchical search, fine relationally."""
    seen = Seen()
    proposal = {uids.STUDY_ROOT_QR_FIND: RELATIONAL}
    identifier = {"QueryRetrieveLevel": "SERIES", "SeriesInstanceUID": "",
                  "StudyDate": "20200101-"}
    async with qr_server(serving(seen, RELATIONAL)) as srv:
        conn = await associate(srv.port, [uids.STUDY_ROOT_QR_FIND],
                               extended=extended_items(proposal) if relational else [])
        out = await run(qr_scu.find(conn, ds(**identifier)))
        await conn.release()
    if relational:
        assert out.final.status == 0x0000 and len(out.matches) == 1
        assert seen.last.level == "SERIES" and seen.last.extended.relational
        assert str(seen.last.identifier.StudyDate) == "20200101-"
    else:
        assert out.final.status == 0xA900
        assert out.final.offending == (0x0020000D,)  # Study Instance UID, above SERIES
        assert seen.requests == []


@pytest.mark.parametrize("service", ["get", "move"])
@pytest.mark.parametrize("relational", [True, False])
async def test_relational_retrieve_allows_missing_unique_keys_above(
        service: str, relational: bool, tmp_path: Path) -> None:
    seen = Seen()
    sop_class = uids.STUDY_ROOT_QR_GET if service == "get" else uids.STUDY_ROOT_QR_MOVE
    proposal = extended_items({sop_class: RELATIONAL}) if relational else []
    identifier = ds(QueryRetrieveLevel="SERIES", SeriesInstanceUID=SERIES)
    async with qr_server(serving(seen, RELATIONAL)) as srv:
        if service == "get":
            conn = await associate_get(srv.port, sop_class, extended=proposal)
            out = await run(qr_scu.get(conn, identifier, folder=tmp_path))
        else:
            conn = await associate(srv.port, [sop_class], extended=proposal)
            out = await run(qr_scu.move(conn, identifier, DEST_AE))
        await conn.release()
    if relational:
        assert seen.last.extended == RELATIONAL and seen.last.level == "SERIES"
        assert out.final.status == (0x0000 if service == "get" else 0xA801)
    else:
        assert out.final.status == 0xA900 and out.final.offending == (0x0020000D,)
        assert seen.requests == []


async def test_relational_is_not_granted_where_undefined(tmp_path: Path) -> None:
    """Composite Instance Root Retrieve has no relational retrieve (Y.5.1.1:
    byte 1 unused): nothing is granted for it; its enhanced multi-frame
    conversion (byte 2) is."""
    seen = Seen()
    proposal = {uids.COMPOSITE_INSTANCE_ROOT_RETRIEVE_GET:
                ExtendedOptions(relational=True, enhanced_conversion=True)}
    supported = ExtendedOptions(relational=True, enhanced_conversion=True)
    async with qr_server(serving(seen, supported)) as srv:
        conn = await associate_get(srv.port, uids.COMPOSITE_INSTANCE_ROOT_RETRIEVE_GET,
                                   extended=extended_items(proposal))
        identifier = ds(QueryRetrieveLevel="IMAGE", SOPInstanceUID=uid_of(0),
                        QueryRetrieveView="ENHANCED")
        out = await run(qr_scu.get(conn, identifier,
                                   sop_class=uids.COMPOSITE_INSTANCE_ROOT_RETRIEVE_GET,
                                   folder=tmp_path))
        await conn.release()
    assert conn.extended_negotiation[uids.COMPOSITE_INSTANCE_ROOT_RETRIEVE_GET] == b"\x00\x01"
    assert seen.last.extended == ExtendedOptions(enhanced_conversion=True)
    # Query/Retrieve View is a parameter of the agreed conversion: accepted.
    assert out.final.status == 0x0000
    assert str(seen.last.identifier.QueryRetrieveView) == "ENHANCED"


async def test_single_entity_find_fuzzy_matching() -> None:
    """Color Palette C-FIND negotiates like the Basic Worklist (K.5): bytes
    1 and 2 always 1, byte 3 fuzzy matching, byte 4 timezone."""
    seen = Seen()
    proposal = {uids.COLOR_PALETTE_FIND: ExtendedOptions(fuzzy_matching=True,
                                                         timezone_adjustment=True)}
    supported = ExtendedOptions(fuzzy_matching=True)
    async with qr_server(serving(seen, supported)) as srv:
        conn = await associate(srv.port, [uids.COLOR_PALETTE_FIND],
                               extended=extended_items(proposal))
        out = await run(qr_scu.find(conn, ds(ContentLabel="", ContentDescription="*"),
                                    sop_class=uids.COLOR_PALETTE_FIND))
        await conn.release()
    assert out.final.status == 0x0000
    assert conn.extended_negotiation[uids.COLOR_PALETTE_FIND] == b"\x01\x01\x01\x00"
    assert seen.last.extended == ExtendedOptions(fuzzy_matching=True)


async def test_query_retrieve_view_needs_enhanced_conversion() -> None:
    seen = Seen()
    identifier = ds(QueryRetrieveLevel="STUDY", StudyInstanceUID="", QueryRetrieveView="CLASSIC")
    enhanced = ExtendedOptions(enhanced_conversion=True)
    async with qr_server(serving(seen, enhanced)) as srv:
        plain = await associate(srv.port, [uids.STUDY_ROOT_QR_FIND])
        refused = await run(qr_scu.find(plain, identifier))
        await plain.release()
        agreed = await associate(srv.port, [uids.STUDY_ROOT_QR_FIND],
                                 extended=extended_items({uids.STUDY_ROOT_QR_FIND: enhanced}))
        accepted = await run(qr_scu.find(agreed, identifier))
        await agreed.release()
    assert refused.final.status == 0x0212 and refused.final.offending == (0x00080053,)
    assert accepted.final.status == 0x0000
    assert seen.last.extended == enhanced
    assert str(seen.last.identifier.QueryRetrieveView) == "CLASSIC"
    assert len(seen.requests) == 1


def test_extended_items_refuses_non_qr_sop_class() -> None:
    with pytest.raises(ValueError, match="not a Q/R SOP class"):
        extended_items({"1.2.840.10008.5.1.4.1.1.2": RELATIONAL})
    assert extended_items({uids.STUDY_ROOT_QR_FIND: NONE}) == []  # nothing to propose

