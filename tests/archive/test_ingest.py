"""Ingest: C-STORE into files plus index, duplicates, access, crash recovery,
an index that cannot be written.  Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom import Dataset
from sqlalchemy import create_engine, select

from dicomqr import status
from dicomqr.archive.config import AccessRules
from dicomqr.archive.index import Index
from dicomqr.archive.ingest import node_name
from dicomqr.archive.records import read_header, record_of
from dicomqr.archive.schema import instance, study
from dicomqr.uids import STUDY_ROOT_QR_FIND as STUDY_ROOT_FIND

from .helpers import (
    archive_server,
    partial_files,
    read,
    store_paths,
    stored_files,
    write_instances,
)

CT = "1.2.840.10008.5.1.4.1.1.2"
MR = "1.2.840.10008.5.1.4.1.1.4"


def make(patient: str, study_uid: str, series_uid: str, n: int, *, modality: str = "CT",
         sop_class: str = CT, description: str = "first") -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = f"{series_uid}.{n}"
    ds.PatientID = patient
    ds.PatientName = f"Name^{patient}"
    ds.PatientBirthDate = "19700101"
    ds.StudyInstanceUID = study_uid
    ds.StudyDate = "20240102"
    ds.StudyTime = "1030"
    ds.AccessionNumber = f"A{study_uid[-3:]}"
    ds.StudyDescription = description
    ds.SeriesInstanceUID = series_uid
    ds.Modality = modality
    ds.SeriesNumber = 1
    ds.InstanceNumber = n
    ds.Rows = ds.Columns = 4
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelData = bytes(range(32))
    return ds


def small_archive() -> list[Dataset]:
    root = "1.2.826.0.1.3680043.8.498.91"
    out = []
    for p, (studies, mods) in enumerate([(2, ("CT", "MR")), (1, ("CT",))]):
        for s in range(studies):
            st = f"{root}.{p}.{s}"
            for k, mod in enumerate(mods):
                se = f"{st}.{k}"
                for n in range(1, 3):
                    out.append(make(f"P{p}", st, se, n, modality=mod,
                                    sop_class=CT if mod == "CT" else MR))
    return out


async def test_store_and_index(tmp_path: Path, db_url: str) -> None:
    datasets = small_archive()
    paths = write_instances(tmp_path / "src", datasets)
    async with archive_server(tmp_path / "arch", db_url) as run:
        results = await store_paths(run.port, paths)
        assert [r.status for _, r in results] == [0] * len(paths)
        counts = run.archive.index.counts()
        assert counts["patient"] == 2 and counts["study"] == 3
        assert counts["series"] == 5 and counts["instance"] == 10
        assert counts["color_palette"] == 8  # pydicom's standard palettes
        with run.archive.index.engine.connect() as conn:
            rows = {r.study_uid: r for r in conn.execute(select(study))}
            first = rows["1.2.826.0.1.3680043.8.498.91.0.0"]
            assert first.study_time == "103000.000000" and first.study_time_raw == "1030"
            paths_in_index = [r.path for r in conn.execute(select(instance.c.path))]
        ident = Dataset()
        ident.QueryRetrieveLevel = "STUDY"
        ident.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.91.0.0"
        ident.ModalitiesInStudy = ident.SOPClassesInStudy = ""
        ident.NumberOfStudyRelatedSeries = ident.NumberOfStudyRelatedInstances = ""
        (match,) = run.archive.search.find(ident, STUDY_ROOT_FIND, "STUDY")
        assert list(match.ModalitiesInStudy) == ["CT", "MR"]
        assert list(match.SOPClassesInStudy) == sorted([CT, MR])
        assert (match.NumberOfStudyRelatedSeries, match.NumberOfStudyRelatedInstances) == (2, 4)
    files = stored_files(tmp_path / "arch")
    assert len(files) == 10
    assert sorted(str(f.relative_to(tmp_path / "arch")) for f in files) == sorted(paths_in_index)
    # Kept as received: the dataset part is byte-identical.
    by_uid = {str(read(f).SOPInstanceUID): f for f in files}
    for src in paths:
        sent = read(src)
        kept = read(by_uid[str(sent.SOPInstanceUID)])
        assert kept == sent
        assert kept.file_meta.TransferSyntaxUID == sent.file_meta.TransferSyntaxUID


@pytest.mark.parametrize(("policy", "code"), [
    ("keep", status.SUCCESS), ("replace", status.SUCCESS),
    ("reject", status.ELEMENTS_DISCARDED)])
async def test_duplicates(tmp_path: Path, db_url: str, policy: str, code: int) -> None:
    st, se = "1.2.826.0.1.3680043.8.498.92.1", "1.2.826.0.1.3680043.8.498.92.1.1"
    (a,) = write_instances(tmp_path / "a", [make("P", st, se, 1)])
    (b,) = write_instances(tmp_path / "b", [make("P", st, se, 1, description="second")])
    async with archive_server(tmp_path / "arch", db_url, duplicates=policy) as run:
        assert [r.status for _, r in await store_paths(run.port, [a])] == [0]
        assert [r.status for _, r in await store_paths(run.port, [b])] == [code]
        counts = run.archive.index.counts()
        assert (counts["study"], counts["series"], counts["instance"]) == (1, 1, 1)
    (kept,) = stored_files(tmp_path / "arch")
    expected = "second" if policy == "replace" else "first"
    assert read(kept).StudyDescription == expected
    assert partial_files(tmp_path / "arch") == []


async def test_store_not_authorized(tmp_path: Path, db_url: str) -> None:
    paths = write_instances(tmp_path / "src", small_archive()[:2])
    async with archive_server(tmp_path / "arch", db_url,
                              access=AccessRules(store=frozenset({"MODALITY"}))) as run:
        results = await store_paths(run.port, paths, calling_ae="INTRUDER")
        assert [r.status for _, r in results] == [status.NOT_AUTHORIZED] * 2
        assert run.archive.index.counts()["instance"] == 0
        ok = await store_paths(run.port, paths, calling_ae="MODALITY")
        assert [r.status for _, r in ok] == [0, 0]
    assert len(stored_files(tmp_path / "arch")) == 2


async def test_crash_between_commit_and_rename_is_finished(tmp_path: Path, db_url: str) -> None:
    """The index row was committed, the process died before the rename: the
    next start puts the file in place; a partial file nothing was indexed
    for, and one of an instance whose file is in place, are deleted."""
    root = tmp_path / "arch"
    (src,) = write_instances(tmp_path / "src", [make("P", "1.2.3.4", "1.2.3.4.5", 1)])
    incoming = root / ".incoming" / node_name()
    incoming.mkdir(parents=True)
    temp = incoming / "crashed-1.part"
    temp.write_bytes(src.read_bytes())
    index = Index(db_url, root)
    rec = record_of(read_header(str(temp)), path="ab/1.2.3.4.5.1.dcm", size=temp.stat().st_size,
                    transfer_syntax_uid="1.2.840.10008.1.2.1")
    index.write([rec])
    stray = incoming / "never-indexed.part"
    stray.write_bytes(b"partial")
    (other,) = write_instances(tmp_path / "other", [make("P", "1.2.3.4", "1.2.3.4.5", 2)])
    uncommitted = incoming / "uncommitted.part"
    uncommitted.write_bytes(other.read_bytes())
    index.close()
    async with archive_server(root, db_url) as run:
        assert (root / "ab" / "1.2.3.4.5.1.dcm").read_bytes() == src.read_bytes()
        assert not temp.exists() and not stray.exists() and not uncommitted.exists()
        assert run.archive.index.counts()["instance"] == 1
        # the same again: in place already, so the partial copy goes
        temp.write_bytes(src.read_bytes())
    async with archive_server(root, db_url):
        assert not temp.exists()
        assert (root / "ab" / "1.2.3.4.5.1.dcm").read_bytes() == src.read_bytes()


async def test_index_unavailable_gives_out_of_resources(tmp_path: Path, db_url: str) -> None:
    paths = write_instances(tmp_path / "src", small_archive()[:1])
    async with archive_server(tmp_path / "arch", db_url) as run:
        good = run.archive.index.engine
        # The database goes away: every connection attempt fails.
        run.archive.index.engine = create_engine(
            "postgresql+psycopg://nobody:x@127.0.0.1:1/none", pool_pre_ping=True)
        try:
            results = await store_paths(run.port, paths)
        finally:
            run.archive.index.engine.dispose()
            run.archive.index.engine = good
        assert [r.status for _, r in results] == [status.OUT_OF_RESOURCES]
        assert run.archive.index.counts()["instance"] == 0
        assert stored_files(tmp_path / "arch") == []
        assert partial_files(tmp_path / "arch") == []
        # Back again: the same instance stores.
        assert [r.status for _, r in await store_paths(run.port, paths)] == [0]


async def test_many_associations_at_once_share_transactions(tmp_path: Path, db_url: str) -> None:
    import asyncio

    root = "1.2.826.0.1.3680043.8.498.93"
    groups = [write_instances(tmp_path / f"src{g}", [
        make(f"P{g}", f"{root}.{g}", f"{root}.{g}.1", n) for n in range(1, 21)])
        for g in range(6)]
    async with archive_server(tmp_path / "arch", db_url) as run:
        results = await asyncio.gather(*(store_paths(run.port, g) for g in groups))
        assert all(r.status == 0 for batch in results for _, r in batch)
        counts = run.archive.index.counts()
        assert (counts["patient"], counts["instance"]) == (6, 120)
    assert len(stored_files(tmp_path / "arch")) == 120
    assert partial_files(tmp_path / "arch") == []


async def test_instance_contradicting_the_hierarchy_is_refused(tmp_path: Path,
                                                               db_url: str) -> None:
    """A series belongs to one study and a study to one patient (PS3.4 C.6):
    an instance that says otherwise is refused (0xC000, saying why), and
    nothing is filed under the wrong entity."""
    root = "1.2.826.0.1.3680043.8.498.94"
    first = make("P1", f"{root}.1", f"{root}.1.1", 1)
    same_series_other_study = make("P1", f"{root}.2", f"{root}.1.1", 2)
    same_study_other_patient = make("P2", f"{root}.1", f"{root}.1.2", 3)
    paths = write_instances(tmp_path / "src", [first, same_series_other_study,
                                               same_study_other_patient])
    async with archive_server(tmp_path / "arch", db_url) as run:
        results = [r for _, r in await store_paths(run.port, paths)]
        assert [r.status for r in results] == [0, status.CANNOT_UNDERSTAND,
                                               status.CANNOT_UNDERSTAND]
        assert "another study" in (results[1].message.error_comment or "")
        assert "another patient" in (results[2].message.error_comment or "")
        counts = run.archive.index.counts()
        assert (counts["patient"], counts["study"], counts["series"],
                counts["instance"]) == (1, 1, 1, 1)
    assert len(stored_files(tmp_path / "arch")) == 1
    assert partial_files(tmp_path / "arch") == []
