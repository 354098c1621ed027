"""DCMTK's echoscu and storescu against dicomqr's SCP (in process, real sockets).

Every storescu run goes twice, at once: to dicomqr and to DCMTK's own
storescp in bit-preserving mode (+B), which writes each dataset exactly as
it came off the wire.  The two receivers must then hold the same dataset
bytes, file for file: dicomqr keeps what storescu sent, byte for byte.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from pathlib import Path

import pytest

import dicomqr
from dicomqr.services.part10 import read_file_meta
from tests.conftest import dcmtk, dcmtk_env, stored_files
from tests.interop.conftest import StoreSCP
from tests.interop.helpers import (
    DCMTK_SCU_TIMEOUTS,
    DCMTK_UNREADABLE,
    DEFLATED,
    STORESCU_PROPOSE,
    UNCOMPRESSED,
    Completed,
    by_transfer_syntax,
    dataset_differences,
    dataset_part,
    digest,
    digests,
    eventually,
    is_encapsulated,
    read,
    run,
)

pytestmark = pytest.mark.interop

CALLING = "DCMTKSCU"

_IGNORED = re.compile(r"in file: (.+?), ignoring file")


# ------------------------------------------------------------------ C-ECHO
async def test_echoscu_echo(server: dicomqr.Server, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="dicomqr")
    res = await run([dcmtk("echoscu"), "-v", *DCMTK_SCU_TIMEOUTS, "-aet", "ECHOSCU",
                     "-aec", "DICOMQR", "127.0.0.1", str(server.port)],
                    timeout=20, env=dcmtk_env())
    assert res.returncode == 0, str(res)
    assert "Received Echo Response (Success)" in res.stderr + res.stdout, str(res)
    assert await eventually(lambda: "closed: released" in caplog.text), caplog.text
    assert "ECHOSCU@127.0.0.1" in caplog.text and "Verification" in caplog.text


async def test_echoscu_wrong_called_ae_is_rejected(
    archive_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="dicomqr")
    srv = dicomqr.Server(
        ae_title="DICOMQR", policy=dicomqr.acceptor_policy(),
        handler_factory=lambda conn: dicomqr.ServiceDispatcher(),
        rules=dicomqr.AssociationRules(called_ae_titles=frozenset({"DICOMQR"})),
    )
    await srv.start("127.0.0.1", 0)
    try:
        argv = [dcmtk("echoscu"), *DCMTK_SCU_TIMEOUTS, "-aet", "ECHOSCU", "127.0.0.1",
                str(srv.port)]
        res = await run([*argv, "-aec", "NOTDICOMQR"], timeout=20, env=dcmtk_env())
        assert res.returncode != 0, str(res)
        assert "Association Rejected" in res.stderr, str(res)
        # PS3.8 Table 9-21: rejected-permanent, DICOM UL service-user, called AE not recognized
        assert "Called AE Title Not Recognized" in res.stderr, str(res)
        rejections = [r.getMessage() for r in caplog.records if "rejected" in r.getMessage()]
        assert len(rejections) == 1, caplog.text
        assert "ECHOSCU@127.0.0.1" in rejections[0] and "NOTDICOMQR" in rejections[0]
        # the server still serves the right title
        res = await run([*argv, "-aec", "DICOMQR"], timeout=20, env=dcmtk_env())
        assert res.returncode == 0, str(res)
    finally:
        await srv.close(timeout=2)


# ------------------------------------------------------------------ C-STORE
async def _storescu(files: list[Path], option: str, port: int, called: str) -> Completed:
    # -R: propose only the SOP classes of the files (else all of them, up to
    # the limit of 128 contexts); -nh: skip a file DCMTK cannot read instead
    # of stopping there (a failed C-STORE is caught by "Store Failed")
    return await run([dcmtk("storescu"), "-R", "-nh", option, *DCMTK_SCU_TIMEOUTS,
                      "-aet", CALLING, "-aec", called, "127.0.0.1", str(port),
                      *map(str, files)], timeout=60, env=dcmtk_env())


async def _store_with_storescu(files: list[Path], server: dicomqr.Server,
                               storescp: StoreSCP) -> list[Path]:
    """storescu each transfer syntax group to dicomqr and to storescp; the files sent."""
    sent: list[Path] = []
    for ts, group in sorted(by_transfer_syntax(files).items()):
        option = STORESCU_PROPOSE[ts]
        ours, theirs = await asyncio.gather(
            _storescu(group, option, server.port, "DICOMQR"),
            _storescu(group, option, storescp.port, storescp.ae_title))
        for res in (ours, theirs):
            assert res.returncode == 0, str(res)
            assert "Store Failed" not in res.stderr, str(res)
        ignored = {Path(m) for m in _IGNORED.findall(ours.stderr)}
        assert ignored == {Path(m) for m in _IGNORED.findall(theirs.stderr)}
        unexpected = {p.name for p in ignored} - DCMTK_UNREADABLE.keys()
        assert not unexpected, f"storescu {option} ignored {unexpected}:\n{ours}"
        sent.extend(p for p in group if p not in ignored)
    return sent


def _check_received(sent: list[Path], received: list[Path], reference: list[Path]) -> None:
    """What dicomqr stored is what storescu sent: count, UIDs, transfer syntax,
    calling AE, dataset bytes (as DCMTK's bit-preserving SCP got them) and
    the decoded dataset (as the original file)."""
    assert len(received) == len(sent)
    assert len(reference) == len(sent)
    # wire-identical: the dataset bytes dicomqr stored are those storescp +B stored
    assert digests(received) == digests(reference)

    # storescu names the instance by the dataset's SOP Instance UID (some of
    # pydicom's files carry another one in their file meta)
    originals = {p: read(p) for p in sent}
    expected_uids = Counter(str(ds.SOPInstanceUID) for ds in originals.values())
    metas = {p: read_file_meta(p.read_bytes()[:65536]) for p in received}
    assert Counter(m.sop_instance_uid for m in metas.values()) == expected_uids
    assert {m.source_ae_title for m in metas.values()} == {CALLING}

    unmatched = dict(originals)
    for path, meta in metas.items():
        stored = read(path)
        assert stored.file_meta.TransferSyntaxUID == meta.transfer_syntax_uid
        candidates = [(p, ds) for p, ds in unmatched.items()
                      if str(ds.SOPInstanceUID) == meta.sop_instance_uid
                      and str(ds.file_meta.TransferSyntaxUID) == meta.transfer_syntax_uid]
        assert candidates, f"{path}: {meta.transfer_syntax_uid} is not what was sent"
        problems: dict[Path, list[str]] = {}
        for src, ds in candidates:
            diff = dataset_differences(ds, stored, drop_trailing_padding=True,
                                       encapsulated=is_encapsulated(meta.transfer_syntax_uid))
            if not diff:
                del unmatched[src]
                break
            problems[src] = diff
        else:
            pytest.fail(f"{path} equals none of the files sent: {problems}")
    assert not unmatched


async def test_storescu_uncompressed_files(
    server: dicomqr.Server, storescp: StoreSCP, archive_dir: Path,
    pydicom_test_files: list[Path], big_ct_file: Path
) -> None:
    """Implicit VR LE, Explicit VR LE and Big Endian files (-xi, -xe, -xb), one
    of 4 MiB: each arrives in its own transfer syntax and decodes as sent."""
    files = [p for p in pydicom_test_files if dataset_part(p)[0] in UNCOMPRESSED]
    files.append(big_ct_file)
    assert len(files) > 100
    sent = await _store_with_storescu(files, server, storescp)
    assert big_ct_file in sent
    received = stored_files(archive_dir)
    _check_received(sent, received, storescp.files())
    assert Counter(digest(p)[0] for p in received) == Counter(digest(p)[0] for p in sent)
    assert max(p.stat().st_size for p in received) > 4 << 20


async def test_storescu_compressed_files(
    server: dicomqr.Server, storescp: StoreSCP, archive_dir: Path,
    pydicom_test_files: list[Path]
) -> None:
    """RLE, JPEG (baseline, extended, lossless), JPEG-LS, JPEG 2000 and deflated
    files, each with the storescu option that proposes its transfer syntax."""
    files = [p for p in pydicom_test_files if dataset_part(p)[0] not in UNCOMPRESSED]
    syntaxes = {dataset_part(p)[0] for p in files}
    assert len(syntaxes) >= 8, syntaxes
    sent = await _store_with_storescu(files, server, storescp)
    received = stored_files(archive_dir)
    _check_received(sent, received, storescp.files())
    assert {digest(p)[0] for p in received} == syntaxes

    # storescu re-encodes what it reads; where its bytes on the wire are the
    # file's own (storescp +B got the original bytes), dicomqr has them too
    stored = digests(received)
    unchanged = [p for p in sent if digest(p) in digests(storescp.files())]
    assert len(unchanged) >= 10, unchanged
    for p in unchanged:
        assert digest(p) in stored, p
    # deflated: DCMTK inflates and deflates again, so only the decoding matches
    assert any(digest(p)[0] == DEFLATED for p in received)
