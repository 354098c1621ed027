"""The ``dicomqr`` command line as a user runs it: subprocesses, real sockets."""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pydicom.data
import pytest

import dicomqr
from dicomqr import uids
from tests.conftest import stored_files
from tests.interop.helpers import DICOMQR, Background, background, digests, free_port, run


@pytest.fixture(scope="session")
def event_loop_policy() -> asyncio.AbstractEventLoopPolicy:
    """Plain asyncio only: the commands run in their own processes (on uvloop,
    as ``dicomqr`` does); the test's own loop only waits for them."""
    return asyncio.DefaultEventLoopPolicy()

TIMEOUT = 30
LISTENING = re.compile(r"CLISCP listening on 127\.0\.0\.1:(\d+)")
#: The log line of an association: calling AE, peer, called AE, the accepted
#: contexts (and, logged when it ends, how it ended).
ASSOCIATION = re.compile(
    r"association (?:from )?(\S+)@127\.0\.0\.1:\d+ (?:->|to) CLISCP(?! rejected)\W+(.*)")

#: The options of ``dicomqr serve`` that README.md documents.
SERVE_OPTIONS = ("--config", "--ae-title", "--host", "--port", "--archive", "--db",
                 "--destination", "--duplicates", "--fsync", "--workers", "--allow-store",
                 "--allow-query", "--allow-retrieve", "--require-called-aet",
                 "--allow-aet", "--max-pdu", "--max-associations", "--idle-timeout",
                 "--tls-cert", "--tls-key", "--tls-ca")


@dataclass
class CliServer:
    port: int
    archive: Path
    process: Background

    def associations(self) -> list[tuple[str, str]]:
        """(calling AE, rest of the line) of each association log line."""
        return ASSOCIATION.findall(self.process.log)


@pytest.fixture
async def cli_server(tmp_path: Path) -> AsyncIterator[CliServer]:
    """``dicomqr serve`` on a port the kernel picks (--port 0; the log says which)."""
    archive = tmp_path / "archive"
    argv = (*DICOMQR, "serve", "--ae-title", "CLISCP", "--host", "127.0.0.1", "--port", "0",
            "--archive", str(archive), "--idle-timeout", "20")
    async with background(argv, tmp_path / "serve.log") as proc:
        await proc.wait_for(lambda: LISTENING.search(proc.log), "'listening on' log line",
                            timeout=TIMEOUT)
        match = LISTENING.search(proc.log)
        assert match is not None
        yield CliServer(int(match.group(1)), archive, proc)


def _files(dest: Path) -> list[Path]:
    """A folder (with a subfolder) of pydicom files: CT, MR, SC, RT, compressed (each with
    a SOP Instance UID of its own: the archive keeps the first of duplicates)."""
    names = ["CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "JPEG2000.dcm", "SC_rgb_rle.dcm",
             "JPEGLSNearLossless_16.dcm", "SC_rgb_jpeg_dcmtk.dcm", "liver_1frame.dcm",
             "dicomdirtests/77654033/CT2/17106", "dicomdirtests/98892003/MR2/4950"]
    out = []
    for i, name in enumerate(names):
        target = dest / ("sub" if i % 2 else "") / f"{i:02d}_{Path(name).name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(pydicom.data.get_testdata_file(name), target)
        out.append(target)
    return out


async def test_echo(cli_server: CliServer) -> None:
    res = await run([*DICOMQR, "echo", "127.0.0.1", str(cli_server.port), "--aet", "CLIECHO",
                     "--aec", "CLISCP", "--repeat", "3"], timeout=TIMEOUT)
    assert res.returncode == 0, str(res)
    assert res.stdout.count("C-ECHO: 0x0000 Success") == 3, str(res)
    assert "Traceback" not in res.stderr
    await cli_server.process.wait_for(lambda: "closed: released" in cli_server.process.log,
                                      "release log line")
    (line,) = cli_server.associations()
    assert line[0] == "CLIECHO"
    assert "Verification SOP Class" in line[1]


async def test_store_folder(cli_server: CliServer, tmp_path: Path) -> None:
    files = _files(tmp_path / "src")
    res = await run([*DICOMQR, "store", "127.0.0.1", str(cli_server.port), str(tmp_path / "src"),
                     "--aet", "CLISTORE", "--aec", "CLISCP"], timeout=TIMEOUT)
    assert res.returncode == 0, str(res)
    assert f"stored {len(files)} of {len(files)} instances" in res.stderr, str(res)
    received = stored_files(cli_server.archive)
    assert digests(received) == digests(files)
    # one log line for the one association: calling AE, peer, accepted contexts
    await cli_server.process.wait_for(lambda: "closed: released" in cli_server.process.log,
                                      "release log line")
    (line,) = cli_server.associations()
    assert line[0] == "CLISTORE"
    for name in ("CT Image Storage", "MR Image Storage", "RT Plan Storage"):
        assert name in line[1], line[1]


async def test_one_log_line_per_association(cli_server: CliServer) -> None:
    proposals = [dicomqr.Proposal(uids.VERIFICATION_SOP_CLASS, (uids.EXPLICIT_VR_LITTLE_ENDIAN,))]
    for i in range(3):
        conn = await dicomqr.connect("127.0.0.1", cli_server.port, proposals,
                                     calling_ae=f"LOOP{i}", called_ae="CLISCP")
        assert (await dicomqr.echo(conn)).status == 0
        await conn.release()
    await cli_server.process.wait_for(
        lambda: cli_server.process.log.count("closed: released") == 3, "3 release log lines")
    assert [ae for ae, _ in cli_server.associations()] == ["LOOP0", "LOOP1", "LOOP2"]
    assert all("Verification SOP Class [ExplicitVRLittleEndian]" in c
               for _, c in cli_server.associations())


async def test_nothing_listening_fails_cleanly(tmp_path: Path) -> None:
    src = _files(tmp_path / "src")[:1]
    port = free_port()
    store, echo = await asyncio.gather(
        run([*DICOMQR, "store", "127.0.0.1", str(port), *map(str, src)], timeout=TIMEOUT),
        run([*DICOMQR, "echo", "127.0.0.1", str(port)], timeout=TIMEOUT))
    for res, name in ((store, "store"), (echo, "echo")):
        assert res.returncode not in (0, None), str(res)
        assert f"{name}: cannot associate with 127.0.0.1:{port}" in res.stderr, str(res)
        assert "refused" in res.stderr.lower(), str(res)
        assert "Traceback" not in res.stderr, str(res)


async def test_serve_help_mentions_every_option() -> None:
    res = await run([*DICOMQR, "serve", "--help"], timeout=TIMEOUT)
    assert res.returncode == 0, str(res)
    from dicomqr.cli.main import build_parser

    parser = build_parser()
    serve = parser._subparsers._group_actions[0].choices["serve"]  # type: ignore[union-attr]
    declared = {opt for action in serve._actions for opt in action.option_strings
                if opt.startswith("--")}
    assert set(SERVE_OPTIONS) <= declared
    for option in declared:
        assert option in res.stdout, option


async def test_sigterm_stops_the_server(cli_server: CliServer) -> None:
    proc = cli_server.process
    start = asyncio.get_running_loop().time()
    assert await proc.stop(signal.SIGTERM, timeout=5) == 0, proc.log
    assert asyncio.get_running_loop().time() - start < 3
    assert "shutting down" in proc.log
    assert "Traceback" not in proc.log


async def test_sigterm_with_an_open_association(cli_server: CliServer) -> None:
    """An association still open: the server waits for it (5 s), aborts it, exits 0."""
    proposals = [dicomqr.Proposal(uids.VERIFICATION_SOP_CLASS, (uids.EXPLICIT_VR_LITTLE_ENDIAN,))]
    conn = await dicomqr.connect("127.0.0.1", cli_server.port, proposals, called_ae="CLISCP")
    try:
        assert (await dicomqr.echo(conn)).status == 0
        proc = cli_server.process
        assert await proc.stop(signal.SIGTERM, timeout=10) == 0, proc.log
        await asyncio.wait_for(asyncio.shield(conn.closed), 2)
        assert "Traceback" not in proc.log
    finally:
        if not conn.closed.done():
            conn.abort()


async def test_serve_on_busy_port_fails_cleanly(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        res = await run([*DICOMQR, "serve", "--host", "127.0.0.1", "--port", str(port),
                         "--archive", str(tmp_path / "archive")], timeout=TIMEOUT)
    assert res.returncode not in (0, None), str(res)
    assert "Traceback" not in res.stderr, str(res)
    assert str(port) in res.stderr
