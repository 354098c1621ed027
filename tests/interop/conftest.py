"""Fixtures of the interoperability tests: a DCMTK storescp on a free port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import dcmtk, dcmtk_env
from tests.interop.helpers import Background, background, free_port


@dataclass
class StoreSCP:
    port: int
    ae_title: str
    out_dir: Path
    process: Background

    def files(self) -> list[Path]:
        return sorted(p for p in self.out_dir.iterdir() if p.is_file())


#: storescp as a reference receiver: accept every transfer syntax it knows
#: (+xa), write each dataset exactly as it came off the wire (+B, bit
#: preserving), one file per C-STORE even when SOP Instance UIDs repeat (+uf).
STORESCP_FLAGS = ("+xa", "+B", "+uf", "-ta", "10", "-td", "30")


@pytest.fixture
async def storescp(tmp_path: Path) -> AsyncIterator[StoreSCP]:
    out = tmp_path / "storescp"
    out.mkdir()
    port = free_port()
    argv = (dcmtk("storescp"), *STORESCP_FLAGS, "-aet", "STORESCP", "-od", str(out), str(port))
    async with background(argv, tmp_path / "storescp.log", env=dcmtk_env()) as proc:
        await proc.wait_listening(port)
        yield StoreSCP(port, "STORESCP", out, proc)


@pytest.fixture(scope="session")
def big_ct_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4 MiB CT image (2048 x 1024, 16 bit, Explicit VR Little Endian)."""
    import pydicom.data
    from pydicom.uid import ExplicitVRLittleEndian

    ds = pydicom.dcmread(pydicom.data.get_testdata_file("CT_small.dcm"))
    ds.Rows, ds.Columns = 1024, 2048
    ds.PixelData = bytes(range(256)) * (1024 * 2048 * 2 // 256)
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.10.1373.99.4194304.1"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    path = tmp_path_factory.mktemp("big") / "big_ct.dcm"
    ds.save_as(path, enforce_file_format=True)
    assert path.stat().st_size > 4 << 20
    return path
