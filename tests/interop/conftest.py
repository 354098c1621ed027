"""Fixtures of the interoperability tests: a DCMTK storescp on a free port."""

from __future__ import annotations

import contextlib
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


#: storescp accepts every transfer syntax it knows (+xa) and writes one file
#: per C-STORE even when SOP Instance UIDs repeat (+uf); DCMTK's own
#: timeouts for ACSE and DIMSE messages.
STORESCP_FLAGS = ("+xa", "+uf", "-ta", "10", "-td", "30")
#: ... and as a reference receiver it writes each dataset exactly as it came
#: off the wire, without parsing it (+B, bit preserving).
BIT_PRESERVING = "+B"


@contextlib.asynccontextmanager
async def start_storescp(tmp_path: Path, *, bit_preserving: bool,
                         name: str = "storescp") -> AsyncIterator[StoreSCP]:
    out = tmp_path / name
    out.mkdir()
    for attempt in range(3):  # the free port may be taken before storescp binds it
        port = free_port()
        argv = (dcmtk("storescp"), *STORESCP_FLAGS,
                *([BIT_PRESERVING] if bit_preserving else []),
                "-aet", "STORESCP", "-od", str(out), str(port))
        async with background(argv, tmp_path / f"{name}.log", env=dcmtk_env()) as proc:
            try:
                await proc.wait_listening(port)
            except AssertionError:
                if proc.returncode is None or attempt == 2:
                    raise
                continue
            yield StoreSCP(port, "STORESCP", out, proc)
            return


@pytest.fixture
async def storescp(tmp_path: Path) -> AsyncIterator[StoreSCP]:
    """storescp in bit-preserving mode: its files hold the bytes it received."""
    async with start_storescp(tmp_path, bit_preserving=True) as scp:
        yield scp


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
