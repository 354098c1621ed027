"""The archive answering C-FIND, C-GET and C-MOVE over what it stored,
with dicomqr's SCU over sockets, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dicomqr import status, uids
from dicomqr.services import qr_scu
from dicomqr.services.handlers import ExtendedOptions
from dicomqr.transport.client import connect
from tests.e2e.qr_helpers import destination, run

from .helpers import (
    ARCHIVE_AE,
    SCU_AE,
    TIMEOUTS,
    Running,
    archive_server,
    find,
    q,
    read,
    store_paths,
    stored_files,
    write_instances,
)
from .test_ingest import CT, MR, small_archive

ROOT = "1.2.826.0.1.3680043.8.498.91"


@pytest.fixture
async def loaded(tmp_path: Path, db_url: str) -> AsyncIterator[Running]:
    datasets = small_archive()
    for ds in datasets:
        ds.InstitutionName = "North Hospital" if ds.PatientID == "P0" else "South Clinic"
        ds.AdmittingDiagnosesDescription = (
            "Fracture of the wrist" if ds.StudyInstanceUID.endswith(".0.1") else "Headache")
    paths = write_instances(tmp_path / "src", datasets)
    async with archive_server(tmp_path / "arch", db_url,
                              destinations={}) as running:
        results = await store_paths(running.port, paths)
        assert all(r.status == 0 for _, r in results)
        yield running


async def test_study_level_all(loaded: Running) -> None:
    matches = await find(loaded.port, q(
        QueryRetrieveLevel="STUDY", PatientName="*", PatientID="", StudyInstanceUID="",
        StudyDate="", StudyTime="", ModalitiesInStudy="", NumberOfStudyRelatedInstances="",
        NumberOfStudyRelatedSeries="", StudyDescription="", RetrieveAETitle=""))
    assert len(matches) == 3
    by_uid = {m.StudyInstanceUID: m for m in matches}
    first = by_uid[f"{ROOT}.0.0"]
    assert first.PatientName == "Name^P0" and first.PatientID == "P0"
    assert first.StudyDate == "20240102" and first.StudyTime == "1030"
    assert list(first.ModalitiesInStudy) == ["CT", "MR"]
    assert int(first.NumberOfStudyRelatedInstances) == 4
    assert int(first.NumberOfStudyRelatedSeries) == 2
    assert first.RetrieveAETitle == ARCHIVE_AE
    assert first.QueryRetrieveLevel == "STUDY"


@pytest.mark.parametrize(("keys", "expected"), [
    ({"PatientID": "P1"}, {f"{ROOT}.1.0"}),
    ({"PatientName": "Name^P?"}, {f"{ROOT}.0.0", f"{ROOT}.0.1", f"{ROOT}.1.0"}),
    ({"PatientName": "name^p0"}, set()),  # case-sensitive without fuzzy matching
    ({"ModalitiesInStudy": "MR"}, {f"{ROOT}.0.0", f"{ROOT}.0.1"}),
    ({"StudyDate": "20240101-20240102"}, {f"{ROOT}.0.0", f"{ROOT}.0.1", f"{ROOT}.1.0"}),
    ({"StudyDate": "-20231231"}, set()),
    ({"StudyInstanceUID": f"{ROOT}.0.1\\{ROOT}.1.0"}, {f"{ROOT}.0.1", f"{ROOT}.1.0"}),
    # a key of the Series IE (General Equipment): not matched at STUDY level
    ({"InstitutionName": "North*"}, {f"{ROOT}.0.0", f"{ROOT}.0.1", f"{ROOT}.1.0"}),
    # a Study IE attribute that has no column: matched in Python
    ({"AdmittingDiagnosesDescription": "Fracture*"}, {f"{ROOT}.0.1"}),
    ({"AccessionNumber": "A1.0"}, {f"{ROOT}.1.0"}),
])
async def test_study_level_matching(loaded: Running, keys: dict[str, str],
                                    expected: set[str]) -> None:
    ident = q(**{"QueryRetrieveLevel": "STUDY", "StudyInstanceUID": "", **keys})
    matches = await find(loaded.port, ident)
    assert {m.StudyInstanceUID for m in matches} == expected


async def test_fuzzy_person_names(loaded: Running) -> None:
    matches = await find(loaded.port, q(QueryRetrieveLevel="STUDY", PatientName="name^p0",
                                        StudyInstanceUID=""),
                         extended=ExtendedOptions(fuzzy_matching=True))
    assert {m.StudyInstanceUID for m in matches} == {f"{ROOT}.0.0", f"{ROOT}.0.1"}


async def test_patient_root_levels(loaded: Running) -> None:
    pats = await find(loaded.port, q(QueryRetrieveLevel="PATIENT", PatientID="",
                                     PatientName="", NumberOfPatientRelatedStudies="",
                                     NumberOfPatientRelatedInstances=""),
                      uids.PATIENT_ROOT_QR_FIND)
    assert {(p.PatientID, int(p.NumberOfPatientRelatedStudies),
             int(p.NumberOfPatientRelatedInstances)) for p in pats} == {("P0", 2, 8),
                                                                        ("P1", 1, 2)}
    series = await find(loaded.port, q(QueryRetrieveLevel="SERIES", PatientID="P0",
                                       StudyInstanceUID=f"{ROOT}.0.0", SeriesInstanceUID="",
                                       Modality="MR", NumberOfSeriesRelatedInstances=""),
                        uids.PATIENT_ROOT_QR_FIND)
    assert [(s.SeriesInstanceUID, int(s.NumberOfSeriesRelatedInstances)) for s in series] == [
        (f"{ROOT}.0.0.1", 2)]
    images = await find(loaded.port, q(QueryRetrieveLevel="IMAGE", PatientID="P0",
                                       StudyInstanceUID=f"{ROOT}.0.0",
                                       SeriesInstanceUID=f"{ROOT}.0.0.1", SOPInstanceUID="",
                                       SOPClassUID="", InstanceNumber=""),
                        uids.PATIENT_ROOT_QR_FIND)
    assert sorted((i.SOPInstanceUID, i.SOPClassUID, int(i.InstanceNumber)) for i in images) == [
        (f"{ROOT}.0.0.1.1", MR, 1), (f"{ROOT}.0.0.1.2", MR, 2)]


@pytest.mark.parametrize(("keys", "expected"), [
    ({"Modality": "MR"}, {f"{ROOT}.0.0", f"{ROOT}.0.1"}),  # a column of the series table
    ({"InstitutionName": "North*"}, {f"{ROOT}.0.0", f"{ROOT}.0.1"}),  # Series IE, no column
])
async def test_relational_query(loaded: Running, keys: dict[str, str],
                                expected: set[str]) -> None:
    """Relational: a STUDY query with a SERIES key matches studies that have
    such a series; hierarchical ignores it."""
    ident = q(QueryRetrieveLevel="STUDY", StudyInstanceUID="", **keys)
    rel = await find(loaded.port, ident, extended=ExtendedOptions(relational=True))
    assert {m.StudyInstanceUID for m in rel} == expected
    hier = await find(loaded.port, ident)
    assert len(hier) == 3


async def test_color_palettes_are_there(loaded: Running) -> None:
    matches = await find(loaded.port, q(ContentLabel="HOT*", SOPInstanceUID=""),
                         uids.COLOR_PALETTE_FIND)
    assert sorted(m.ContentLabel for m in matches) == ["HOT_IRON", "HOT_METAL_BLUE"]
    everything = await find(loaded.port, q(ContentLabel="", SOPInstanceUID=""),
                            uids.COLOR_PALETTE_FIND)
    assert len(everything) == 8
    labels = {m.ContentLabel for m in everything}
    assert "HOT_IRON" in labels
    hot = await find(loaded.port, q(ContentLabel="HOT_IRON", SOPInstanceUID=""),
                     uids.COLOR_PALETTE_FIND)
    assert [m.ContentLabel for m in hot] == ["HOT_IRON"]


# -- retrieves ---------------------------------------------------------------------------

async def test_get_study_byte_identical(loaded: Running, tmp_path: Path) -> None:
    proposals, roles = qr_scu.get_proposals(uids.STUDY_ROOT_QR_GET, [CT, MR])
    conn = await connect("127.0.0.1", loaded.port, proposals, roles=roles, calling_ae=SCU_AE,
                         called_ae=ARCHIVE_AE, timeouts=TIMEOUTS)
    try:
        out = await run(qr_scu.get(conn, q(QueryRetrieveLevel="STUDY",
                                           StudyInstanceUID=f"{ROOT}.0.0"),
                                   folder=tmp_path / "got"))
    finally:
        await conn.release()
    assert out.final.status == status.SUCCESS
    assert out.final.completed == 4 and out.final.failed == 0
    got = {read(Path(s.path)).SOPInstanceUID: Path(s.path) for s in out.stored}
    stored = {read(p).SOPInstanceUID: p for p in stored_files(loaded.root)}
    assert len(got) == 4
    for uid, path in got.items():
        assert read(path) == read(stored[uid])


async def test_move_series_and_unknown_destination(tmp_path: Path, db_url: str) -> None:
    paths = write_instances(tmp_path / "src", small_archive())
    async with destination(tmp_path / "dest") as dest:
        dest_port = dest.sockets[0][1]
        async with archive_server(tmp_path / "arch", db_url,
                                  destinations={"DEST": ("127.0.0.1", dest_port)}) as running:
            await store_paths(running.port, paths)
            conn = await connect("127.0.0.1", running.port,
                                 qr_scu.qr_proposals([uids.STUDY_ROOT_QR_MOVE]),
                                 calling_ae=SCU_AE, called_ae=ARCHIVE_AE, timeouts=TIMEOUTS)
            try:
                ident = q(QueryRetrieveLevel="SERIES", StudyInstanceUID=f"{ROOT}.0.1",
                          SeriesInstanceUID=f"{ROOT}.0.1.0\\{ROOT}.0.1.1")
                out = await run(qr_scu.move(conn, ident, "DEST"))
                assert out.final.status == status.SUCCESS and out.final.completed == 4
                unknown = await run(qr_scu.move(conn, ident, "NOBODY"))
                assert unknown.final.status == status.MOVE_DESTINATION_UNKNOWN
            finally:
                await conn.release()
    received = [read(p) for p in (tmp_path / "dest").rglob("*.dcm")]
    assert sorted(str(d.SOPInstanceUID) for d in received) == sorted(
        f"{ROOT}.0.1.{k}.{n}" for k in range(2) for n in (1, 2))
