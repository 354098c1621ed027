"""dicomqr's C-STORE SCU against DCMTK's storescp (a subprocess on a free port)."""

from __future__ import annotations

from pathlib import Path

import pydicom.data
import pytest

import dicomqr
from dicomqr.cli.store import _batches
from dicomqr.services.store_scu import StoreSource, proposals_for, scan, store_file
from dicomqr.transport.client import connect
from tests.interop.conftest import StoreSCP, start_storescp
from tests.interop.helpers import (
    DCMTK_UNREADABLE,
    dataset_differences,
    digest,
    digests,
    has_odd_length_dataset,
    is_encapsulated,
    read,
)

pytestmark = pytest.mark.interop

TIMEOUTS = dicomqr.Timeouts(connect=10, acse=10, dimse=30, artim=5)

#: pydicom's files whose dataset has an odd number of bytes, against PS3.5
#: (every value, so every dataset, has even length).  Sent as they are, the
#: last PDV fragment has odd length, which PS3.8 Annex E.1 forbids; storescp
#: aborts the association ("DIMSE: Odd Fragment Length").  See
#: test_odd_length_dataset_does_not_abort_the_association.
ODD_LENGTH = {
    "image_dfl.dcm": "deflated stream of 4303 bytes, not padded to even length",
    "rtplan_truncated.dcm": "truncated implicit VR dataset of 1829 bytes",
}


async def _send(scp: StoreSCP, sources: list[StoreSource]) -> dict[Path, int]:
    """C-STORE every source (as many associations as the contexts need)."""
    statuses: dict[Path, int] = {}
    for batch in _batches(sources):
        conn = await connect("127.0.0.1", scp.port, proposals_for(batch), calling_ae="DICOMQR",
                             called_ae=scp.ae_title, timeouts=TIMEOUTS)
        try:
            for src in batch:
                statuses[src.path] = (await store_file(conn, src)).status
        except BaseException:
            conn.abort()
            raise
        await conn.release()
    return statuses


def _dataset_uids(path: Path) -> tuple[str, str]:
    ds = read(path, stop_before_pixels=True)
    return str(ds.get("SOPClassUID", "")), str(ds.get("SOPInstanceUID", ""))


def _sendable(pydicom_test_files: list[Path]) -> list[Path]:
    odd = [p for p in pydicom_test_files if has_odd_length_dataset(p)]
    assert {p.name for p in odd} <= ODD_LENGTH.keys(), odd
    return [p for p in pydicom_test_files if p not in odd]


async def test_store_to_storescp_bit_preserving(
    storescp: StoreSCP, pydicom_test_files: list[Path], big_ct_file: Path
) -> None:
    """Every file answered with Success; storescp (+B) holds exactly the
    dataset bytes of each file, in its own transfer syntax."""
    files = [*_sendable(pydicom_test_files), big_ct_file]
    sources, skipped = scan(files)
    assert not skipped
    statuses = await _send(storescp, sources)
    refused = {p.name: hex(s) for p, s in statuses.items() if s != 0}
    assert not refused
    assert len(statuses) == len(files)
    assert digests(storescp.files()) == digests(files)


async def test_store_to_storescp_parsed(
    tmp_path: Path, pydicom_test_files: list[Path]
) -> None:
    """storescp in its normal mode parses every dataset and writes it again:
    what it decoded equals the original file.

    storescp refuses, legitimately: with 0xA900 (data set does not match
    SOP class) the files whose file meta names another SOP Instance UID than
    their dataset (dicomqr takes the UID from the file meta, storescp checks
    it against the dataset); the files DCMTK cannot read
    (``DCMTK_UNREADABLE``), sent one per association, with 0xC000 (no SOP
    Class/Instance UID in the dataset) or by aborting the association (a
    dataset it cannot parse).  dicomqr reports either cleanly and the next
    association works."""
    sendable = _sendable(pydicom_test_files)
    files = [p for p in sendable if p.name not in DCMTK_UNREADABLE]
    suspects = [p for p in sendable if p.name in DCMTK_UNREADABLE]
    sources, skipped = scan(files)
    assert not skipped
    mismatched = {src.path for src in sources if _dataset_uids(src.path) != (
        src.sop_class_uid, src.sop_instance_uid)}
    assert len(mismatched) < 15, mismatched
    outcomes: dict[str, str] = {}
    async with start_storescp(tmp_path, bit_preserving=False) as scp:
        statuses = await _send(scp, sources)
        received = scp.files()
        for path in suspects:
            try:
                (status,) = (await _send(scp, scan([path])[0])).values()
            except dicomqr.AssociationClosed as exc:
                outcomes[path.name] = f"association closed: {exc}"
            else:
                outcomes[path.name] = f"{status:#06x}"
        log = scp.process.log
    refused = {p.name: hex(s) for p, s in statuses.items() if s != 0}
    assert refused == {p.name: "0xa900" for p in mismatched}, log[-3000:]
    assert len(received) == len(files)  # storescp writes before it checks
    assert all(o == "0xc000" or o.startswith("association closed: aborted")
               for o in outcomes.values()), outcomes

    unmatched = {p: read(p) for p in files}
    for path in received:
        stored = read(path)
        uid = str(stored.file_meta.MediaStorageSOPInstanceUID)
        ts = str(stored.file_meta.TransferSyntaxUID)
        candidates = [(p, ds) for p, ds in unmatched.items()
                      if digest(p)[0] == ts and uid in (
                          str(ds.SOPInstanceUID), str(ds.file_meta.MediaStorageSOPInstanceUID))]
        problems = {}
        for src, ds in candidates:
            diff = dataset_differences(ds, stored, encapsulated=is_encapsulated(ts),
                                       drop_trailing_padding=True)
            if not diff:
                del unmatched[src]
                break
            problems[src.name] = diff
        else:
            pytest.fail(f"{path.name} ({ts}) equals none of the files sent: {problems}")
    assert not unmatched


async def test_odd_length_dataset_does_not_abort_the_association(storescp: StoreSCP) -> None:
    """A deflated file whose deflate stream has odd length (pydicom's
    image_dfl.dcm: 4303 bytes) must still go with even fragments (PS3.5
    pads a deflated stream with one NUL byte), and the association must live
    on for the next instance."""
    deflated = Path(pydicom.data.get_testdata_file("image_dfl.dcm"))
    ct = Path(pydicom.data.get_testdata_file("CT_small.dcm"))
    assert has_odd_length_dataset(deflated)
    statuses = await _send(storescp, scan([deflated, ct])[0])
    assert statuses == {deflated: 0, ct: 0}
    (first, _second) = sorted(storescp.files(), key=lambda p: p.stat().st_mtime_ns)
    assert not dataset_differences(read(deflated), read(first))
