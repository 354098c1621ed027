"""The archive on the other information models: Annex Y (Composite Instance
Root, IMAGE and FRAME level), Annex Z (without bulk data), Annexes HH and II
(Defined Procedure Protocol, Protocol Approval), Annex X (Color Palette
retrieve), Patient/Study Only; and queries in other character sets."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from pydicom import Dataset
from pydicom.data import get_charset_files

from dicomqr import status, uids
from dicomqr.archive.protocols import protocol_objects
from dicomqr.services import qr_scu
from dicomqr.transport.client import Proposal, connect
from tests.e2e.qr_helpers import run

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
)

TEST_FILES = Path(os.path.dirname(pydicom.data.get_testdata_file("CT_small.dcm")))
MULTIFRAME = "SC_rgb_rle_2frame.dcm"  # 2 frames, RLE Lossless
CT = TEST_FILES / "CT_small.dcm"


@pytest.fixture
async def loaded(tmp_path: Path, db_url: str) -> AsyncIterator[Running]:
    src = tmp_path / "src"
    src.mkdir()
    for name in (MULTIFRAME, "CT_small.dcm", "MR_small.dcm"):
        shutil.copy(TEST_FILES / name, src / name)
    for path in sorted(get_charset_files("chr*.dcm")):
        shutil.copy(path, src / Path(path).name)
    for i, ds in enumerate(protocol_objects(6, seed=3)):
        ds.save_as(src / f"protocol{i}.dcm", enforce_file_format=True)
    async with archive_server(tmp_path / "arch", db_url) as running:
        results = await store_paths(running.port, sorted(src.iterdir()))
        assert all(r.status == 0 for _, r in results), [(p, r) for p, r in results if r.status]
        yield running


async def _get(port: int, sop_class: str, ident: Dataset, folder: Path,
               storage: list[str], ts: tuple[str, ...] | None = None) -> Any:
    """C-GET; the storage contexts take ``ts`` only, or else (None) any
    syntax: one context per syntax, so that files can come as stored."""
    if ts is not None:
        proposals, roles = qr_scu.get_proposals(sop_class, storage, ts)
    else:
        proposals, roles = qr_scu.get_proposals(sop_class, storage)
        proposals += [Proposal(c, (t,)) for c in storage
                      for t in ("1.2.840.10008.1.2.5", "1.2.840.10008.1.2.4.50")]
    conn = await connect("127.0.0.1", port, proposals, roles=roles, calling_ae=SCU_AE,
                         called_ae=ARCHIVE_AE, timeouts=TIMEOUTS)
    try:
        return await run(qr_scu.get(conn, ident, sop_class=sop_class, folder=folder))
    finally:
        await conn.release()


async def test_without_bulk_data(loaded: Running, tmp_path: Path) -> None:
    ct = read(CT)
    out = await _get(loaded.port, uids.COMPOSITE_INSTANCE_RETRIEVE_WITHOUT_BULK_DATA_GET,
                     q(QueryRetrieveLevel="IMAGE", SOPInstanceUID=ct.SOPInstanceUID),
                     tmp_path / "got", [str(ct.SOPClassUID)])
    assert out.final.status == status.SUCCESS and out.final.completed == 1
    (got,) = [read(Path(s.path)) for s in out.stored]
    assert "PixelData" not in got
    assert got.SOPInstanceUID == ct.SOPInstanceUID
    for elem in ct:
        if elem.tag != 0x7FE00010:
            assert got[elem.tag] == elem


async def test_composite_instance_root_image_and_frames(loaded: Running, tmp_path: Path) -> None:
    src = read(TEST_FILES / MULTIFRAME)
    uid, sop_class = str(src.SOPInstanceUID), str(src.SOPClassUID)
    whole = await _get(loaded.port, uids.COMPOSITE_INSTANCE_ROOT_RETRIEVE_GET,
                       q(QueryRetrieveLevel="IMAGE", SOPInstanceUID=uid),
                       tmp_path / "image", [sop_class])
    assert whole.final.status == status.SUCCESS and whole.final.completed == 1
    assert read(Path(whole.stored[0].path)) == src
    frame = await _get(loaded.port, uids.COMPOSITE_INSTANCE_ROOT_RETRIEVE_GET,
                       q(QueryRetrieveLevel="FRAME", SOPInstanceUID=uid, SimpleFrameList=[2]),
                       tmp_path / "frame", [sop_class])
    assert frame.final.status == status.SUCCESS and frame.final.completed == 1
    new = read(Path(frame.stored[0].path))
    assert new.SOPInstanceUID != uid and int(new.NumberOfFrames) == 1
    assert new.FrameExtractionSequence[0].MultiFrameSourceSOPInstanceUID == uid
    assert np.array_equal(new.pixel_array, src.pixel_array[1])
    none = await _get(loaded.port, uids.COMPOSITE_INSTANCE_ROOT_RETRIEVE_GET,
                      q(QueryRetrieveLevel="FRAME", SOPInstanceUID=uid, SimpleFrameList=[7]),
                      tmp_path / "none", [sop_class])
    assert none.final.status == status.NO_FRAMES_FOUND
    single = await _get(loaded.port, uids.COMPOSITE_INSTANCE_ROOT_RETRIEVE_GET,
                        q(QueryRetrieveLevel="FRAME", SOPInstanceUID=read(CT).SOPInstanceUID,
                          SimpleFrameList=[1]), tmp_path / "single", [str(read(CT).SOPClassUID)])
    assert single.final.status == status.UNABLE_TO_CREATE_NEW_OBJECT


async def test_decompressed_for_a_requester_without_the_stored_syntax(
        loaded: Running, tmp_path: Path) -> None:
    src = read(TEST_FILES / MULTIFRAME)
    out = await _get(loaded.port, uids.COMPOSITE_INSTANCE_ROOT_RETRIEVE_GET,
                     q(QueryRetrieveLevel="IMAGE", SOPInstanceUID=src.SOPInstanceUID),
                     tmp_path / "got", [str(src.SOPClassUID)],
                     ts=(uids.EXPLICIT_VR_LITTLE_ENDIAN,))
    assert out.final.status == status.SUCCESS and out.final.completed == 1
    got = read(Path(out.stored[0].path))
    assert got.file_meta.TransferSyntaxUID == uids.EXPLICIT_VR_LITTLE_ENDIAN
    assert np.array_equal(got.pixel_array, src.pixel_array)


async def test_protocols_and_approvals(loaded: Running, tmp_path: Path) -> None:
    made = protocol_objects(6, seed=3)
    protocols = [d for d in made if d.SOPClassUID != "1.2.840.10008.5.1.4.1.1.200.3"]
    approvals = [d for d in made if d.SOPClassUID == "1.2.840.10008.5.1.4.1.1.200.3"]
    found = await find(loaded.port, q(SOPInstanceUID="", ProtocolName="", SOPClassUID=""),
                       uids.DEFINED_PROCEDURE_PROTOCOL_FIND)
    assert {m.SOPInstanceUID for m in found} == {d.SOPInstanceUID for d in protocols}
    name = str(protocols[0].ProtocolName)
    one = await find(loaded.port, q(SOPInstanceUID="", ProtocolName=name[:3] + "*"),
                     uids.DEFINED_PROCEDURE_PROTOCOL_FIND)
    assert {m.SOPInstanceUID for m in one} == {
        d.SOPInstanceUID for d in protocols if str(d.ProtocolName).startswith(name[:3])}
    pa = await find(loaded.port, q(SOPInstanceUID="", InstanceCreationDate=""),
                    uids.PROTOCOL_APPROVAL_FIND)
    assert {m.SOPInstanceUID for m in pa} == {d.SOPInstanceUID for d in approvals}
    got = await _get(loaded.port, uids.DEFINED_PROCEDURE_PROTOCOL_GET,
                     q(SOPInstanceUID=protocols[0].SOPInstanceUID), tmp_path / "dpp",
                     [str(protocols[0].SOPClassUID)])
    assert got.final.status == status.SUCCESS and got.final.completed == 1


async def test_color_palette_get(loaded: Running, tmp_path: Path) -> None:
    (hot,) = await find(loaded.port, q(ContentLabel="HOT_IRON", SOPInstanceUID=""),
                        uids.COLOR_PALETTE_FIND)
    out = await _get(loaded.port, uids.COLOR_PALETTE_GET, q(SOPInstanceUID=hot.SOPInstanceUID),
                     tmp_path / "pal", ["1.2.840.10008.5.1.4.39.1"])
    assert out.final.status == status.SUCCESS and out.final.completed == 1
    assert read(Path(out.stored[0].path)).ContentLabel == "HOT_IRON"


async def test_patient_study_only(loaded: Running) -> None:
    ct = read(CT)
    ident = q(QueryRetrieveLevel="PATIENT", PatientID=ct.PatientID, PatientName="")
    pats = await find(loaded.port, ident, uids.PATIENT_STUDY_ONLY_QR_FIND)
    assert [p.PatientName for p in pats] == [ct.PatientName]


@pytest.mark.parametrize(("charset", "name", "expected"), [
    (["", "ISO 2022 IR 87"], "Yamada^Tarou=山田^太郎", ["chrH31.dcm"]),
    # the ideographic group: H32's name has the same one
    (["", "ISO 2022 IR 87"], "*=山田*", ["chrH31.dcm", "chrH32.dcm"]),
    ("ISO_IR 192", "Wang^XiaoDong=王^小東", ["chrX1.dcm"]),
    ("ISO_IR 100", "Buc^J*", ["chrFren.dcm"]),
    ("ISO_IR 144", "Люкceмбypг", ["chrRuss.dcm"]),  # noqa: RUF001 - as in the file
])
async def test_query_in_other_character_sets(loaded: Running, charset: str | list[str], name: str,
                                             expected: list[str]) -> None:
    ident = q(SpecificCharacterSet=charset, QueryRetrieveLevel="PATIENT", PatientName=name,
              PatientID="")
    matches = await find(loaded.port, sop_class=uids.PATIENT_ROOT_QR_FIND, identifier=ident)
    files = {Path(p).name: p for p in get_charset_files("*.dcm")}
    wanted = {read(Path(files[name])).PatientID for name in expected}
    # The patients asked for, and the ones whose name is unknown (empty):
    # those match any value of a required key (PS3.4 C.2.2.1.2).
    assert wanted <= {m.PatientID for m in matches}
    others = [m for m in matches if m.PatientID not in wanted]
    assert all(str(m.PatientName) == "" for m in others), others
