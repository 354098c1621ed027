"""Shared tools of the interoperability and CLI tests.

Subprocesses run on the test's event loop (``asyncio.create_subprocess_exec``),
never blocking it, because the in-process dicomqr server must keep answering
while DCMTK or a ``dicomqr`` command talks to it.  Every process gets a
timeout and is killed in a ``finally``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
import socket
import sys
import time
import warnings
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset

from dicomqr import uids
from dicomqr.services.part10 import read_file_meta

#: ``python -m dicomqr.cli.main``: the command line without relying on PATH.
DICOMQR = (sys.executable, "-m", "dicomqr.cli.main")

#: The storescu option that proposes each transfer syntax on a context of its
#: own (so the file goes as it is stored; the uncompressed syntaxes follow
#: as a fallback on a second context).  Checked against ``storescu --help``
#: of DCMTK 3.6.7.
STORESCU_PROPOSE: dict[str, str] = {
    uids.IMPLICIT_VR_LITTLE_ENDIAN: "-xi",       # implicit VR LE only
    uids.EXPLICIT_VR_LITTLE_ENDIAN: "-xe",       # explicit LE alone, then BE + implicit
    "1.2.840.10008.1.2.2": "-xb",                # explicit BE alone, then LE + implicit
    "1.2.840.10008.1.2.1.99": "-xd",             # deflated explicit VR LE
    "1.2.840.10008.1.2.5": "-xr",                # RLE lossless
    "1.2.840.10008.1.2.4.50": "-xy",             # JPEG baseline (8 bit lossy)
    "1.2.840.10008.1.2.4.51": "-xx",             # JPEG extended (12 bit lossy)
    "1.2.840.10008.1.2.4.70": "-xs",             # JPEG lossless SV1
    "1.2.840.10008.1.2.4.80": "-xt",             # JPEG-LS lossless
    "1.2.840.10008.1.2.4.81": "-xu",             # JPEG-LS near-lossless
    "1.2.840.10008.1.2.4.90": "-xv",             # JPEG 2000 lossless only
    "1.2.840.10008.1.2.4.91": "-xw",             # JPEG 2000
}

UNCOMPRESSED = (uids.IMPLICIT_VR_LITTLE_ENDIAN, uids.EXPLICIT_VR_LITTLE_ENDIAN,
                "1.2.840.10008.1.2.2")
DEFLATED = "1.2.840.10008.1.2.1.99"

#: pydicom's files that storescu does not send: it reads SOP Class and
#: Instance UID from the dataset (not the file meta) and ignores the file
#: when it cannot ("missing SOP class (or instance) in file ..., ignoring
#: file").  Name -> why DCMTK cannot read it.
DCMTK_UNREADABLE = {
    "MR_truncated.dcm": "Pixel Data longer than the rest of the file (truncated)",
    "rtplan_truncated.dcm": "truncated inside (300A,012C) Isocenter Position",
    "SC_rgb_jpeg.dcm": "meta says JPEG Baseline (explicit VR) but the dataset is implicit VR; "
                       "DCMTK reads VR '  ' and a 1.3 GB element",
    "UN_sequence.dcm": "no SOP Class/Instance UID in the dataset (only a UN sequence)",
    "no_meta_group_length.dcm": "no SOP Class/Instance UID in the dataset",
    "priv_SQ.dcm": "no SOP Class/Instance UID in the dataset",
    "rtdose_rle.dcm": "every dataset element has VR UN (gdcmconv): no SOP Class UID for DCMTK",
    "rtdose_rle_1frame.dcm": "every dataset element has VR UN (gdcmconv)",
}

# Timeouts DCMTK applies itself (seconds): TCP connect, ACSE, DIMSE.
DCMTK_SCU_TIMEOUTS = ("-to", "10", "-ta", "10", "-td", "30")


# ---------------------------------------------------------------- processes
def free_port() -> int:
    """A TCP port nobody listens on right now (bind port 0, read, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Completed:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return (f"{' '.join(self.argv[:8])}{' ...' if len(self.argv) > 8 else ''} -> "
                f"{self.returncode}\n--- stdout\n{self.stdout[-4000:]}\n"
                f"--- stderr\n{self.stderr[-4000:]}")


async def run(argv: Sequence[str], *, timeout: float = 60.0,
              env: dict[str, str] | None = None) -> Completed:
    """Run a command to its end without blocking the event loop."""
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return Completed(tuple(argv), proc.returncode, out.decode("utf-8", "replace"),
                     err.decode("utf-8", "replace"))


def listening(port: int) -> bool:
    """Whether something listens on TCP ``port`` (Linux /proc; no connection made,
    so a single-process SCP such as storescp never sees a stray connect)."""
    want = f":{port:04X} "
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if (fields[1] + " ").endswith(want) and fields[3] == "0A":
                    return True
    return False


class Background:
    """A long-running subprocess (an SCP) with its output in a log file."""

    def __init__(self, argv: Sequence[str], log: Path, env: dict[str, str] | None = None):
        self.argv = tuple(argv)
        self.log_path = log
        self.env = env
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with open(self.log_path, "wb") as log:
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv, stdin=asyncio.subprocess.DEVNULL, stdout=log,
                stderr=asyncio.subprocess.STDOUT, env=self.env)

    @property
    def log(self) -> str:
        return self.log_path.read_text("utf-8", "replace")

    @property
    def returncode(self) -> int | None:
        assert self.proc is not None
        return self.proc.returncode

    async def wait_for(self, predicate: object, what: str, timeout: float = 10.0) -> None:
        """Poll ``predicate()`` until true; fail if the process dies or time runs out."""
        assert self.proc is not None and callable(predicate)
        deadline = time.monotonic() + timeout
        while not predicate():
            if self.proc.returncode is not None:
                raise AssertionError(f"{self.argv[0]} exited ({self.proc.returncode}) "
                                     f"before {what}:\n{self.log}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.argv[0]}: no {what} after {timeout} s:\n{self.log}")
            await asyncio.sleep(0.02)

    async def wait_listening(self, port: int, timeout: float = 10.0) -> None:
        await self.wait_for(lambda: listening(port), f"listener on port {port}", timeout)

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 5.0) -> int:
        """Signal the process, wait for it (kill after ``timeout``); its exit code."""
        assert self.proc is not None
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
                raise
        return self.proc.returncode

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


@contextlib.asynccontextmanager
async def background(argv: Sequence[str], log: Path,
                     env: dict[str, str] | None = None) -> AsyncIterator[Background]:
    proc = Background(argv, log, env)
    await proc.start()
    try:
        yield proc
    finally:
        if proc.proc is not None and proc.proc.returncode is None:
            try:
                await proc.stop(timeout=3)
            except TimeoutError:
                pass
            finally:
                await proc.kill()


async def eventually(predicate: Callable[[], object], timeout: float = 3.0) -> bool:
    """Poll ``predicate()`` on the event loop until it is true or time is up
    (log lines written when the server side of a connection closes)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


# ---------------------------------------------------------------- Part 10 files
def dataset_part(path: Path) -> tuple[str, bytes]:
    """(transfer syntax, the bytes after the file meta group) of a Part 10 file."""
    data = path.read_bytes()
    meta = read_file_meta(data[:65536])
    return meta.transfer_syntax_uid, data[meta.dataset_offset:]


def digest(path: Path) -> tuple[str, str]:
    ts, body = dataset_part(path)
    return ts, hashlib.sha256(body).hexdigest()


def digests(paths: Iterable[Path]) -> Counter[tuple[str, str]]:
    return Counter(digest(p) for p in paths)


def read(path: Path, **kwargs: object) -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(path, **kwargs)  # type: ignore[arg-type]


def has_odd_length_dataset(path: Path) -> bool:
    return len(dataset_part(path)[1]) % 2 == 1


def by_transfer_syntax(paths: Iterable[Path]) -> dict[str, list[Path]]:
    groups: dict[str, list[Path]] = {}
    for p in paths:
        groups.setdefault(dataset_part(p)[0], []).append(p)
    return groups


# ---------------------------------------------------------------- dataset comparison
TRAILING_PADDING = 0xFFFCFFFC
PIXEL_DATA = 0x7FE00010


def dataset_differences(expected: Dataset, actual: Dataset, *, encapsulated: bool = False,
                        drop_trailing_padding: bool = False) -> list[str]:
    """Element-by-element differences of two decoded datasets.

    Group lengths (gggg,0000) are ignored always.  ``drop_trailing_padding``
    ignores (FFFC,FFFC) Data Set Trailing Padding, which DCMTK leaves out
    when it re-encodes a dataset to send it.  ``encapsulated`` ignores the VR
    of Pixel Data (OB or OW: some of pydicom's files say OW for encapsulated
    pixel data, which DCMTK corrects to OB; the value is compared).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom on the invalid values of its test files
        return _differences(expected, actual, encapsulated, drop_trailing_padding, "")


def _differences(expected: Dataset, actual: Dataset, encapsulated: bool,
                 drop_trailing_padding: bool, where: str) -> list[str]:
    def keep(tag: int) -> bool:
        if tag & 0xFFFF == 0:
            return False
        return not (drop_trailing_padding and tag == TRAILING_PADDING)

    out: list[str] = []
    tags_a = {int(e.tag) for e in expected if keep(int(e.tag))}
    tags_b = {int(e.tag) for e in actual if keep(int(e.tag))}
    for tag in sorted(tags_a - tags_b):
        out.append(f"{where}({tag >> 16:04X},{tag & 0xFFFF:04X}) missing")
    for tag in sorted(tags_b - tags_a):
        out.append(f"{where}({tag >> 16:04X},{tag & 0xFFFF:04X}) unexpected")
    for tag in sorted(tags_a & tags_b):
        a, b = expected[tag], actual[tag]
        name = f"{where}({tag >> 16:04X},{tag & 0xFFFF:04X})"
        same_vr = a.VR == b.VR or (encapsulated and tag == PIXEL_DATA)
        if not same_vr:
            out.append(f"{name} VR {a.VR} != {b.VR}")
            continue
        if a.VR == "SQ":
            if len(a.value) != len(b.value):
                out.append(f"{name} {len(a.value)} items != {len(b.value)}")
                continue
            for i, (ia, ib) in enumerate(zip(a.value, b.value, strict=True)):
                out.extend(_differences(ia, ib, encapsulated, drop_trailing_padding,
                                        f"{name}[{i}]."))
        elif a.value != b.value:
            out.append(f"{name} {a.VR} {str(a.value)[:60]!r} != {str(b.value)[:60]!r}")
    return out


def is_encapsulated(ts: str) -> bool:
    info = uids.TRANSFER_SYNTAXES.get(ts)
    return bool(info and info.is_encapsulated)


def environ(**extra: str) -> dict[str, str]:
    return {**os.environ, **extra}
