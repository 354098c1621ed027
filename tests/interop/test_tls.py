"""DICOM over TLS (PS3.15 B.9): dicomqr's server with dicomqr's client, DCMTK's
echoscu and pynetdicom, and what a plain-TCP client meets on a TLS port."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import dicomqr
from dicomqr import uids
from dicomqr.transport.tls import client_context, server_context
from tests.conftest import dcmtk, dcmtk_env
from tests.interop.helpers import DCMTK_SCU_TIMEOUTS, eventually, run

pytestmark = pytest.mark.interop

VERIFICATION = [dicomqr.Proposal(uids.VERIFICATION_SOP_CLASS, uids.UNCOMPRESSED_TRANSFER_SYNTAXES)]
TIMEOUTS = dicomqr.Timeouts(connect=5, acse=5, dimse=5, artim=5)


@dataclass(frozen=True)
class KeyPair:
    cert: Path
    key: Path


def _self_signed(directory: Path, name: str) -> KeyPair:
    """A self-signed RSA certificate for 127.0.0.1 and localhost."""
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID
    except ImportError:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", f"/CN={name}", "-keyout", str(key), "-out", str(cert),
             "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
            check=True, capture_output=True, timeout=60)
        return KeyPair(cert, key)
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    public = private.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject).public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, key_encipherment=True, key_cert_sign=True,
            content_commitment=False, data_encipherment=False, key_agreement=False,
            crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public),
                       critical=False)
        .sign(private, hashes.SHA256())
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption()))
    return KeyPair(cert, key)


@pytest.fixture(scope="session")
def tls_keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, KeyPair]:
    d = tmp_path_factory.mktemp("tls")
    return {"server": _self_signed(d, "dicomqr-server"), "client": _self_signed(d, "scu-client")}


@pytest.fixture
async def tls_server(tls_keys: dict[str, KeyPair]) -> AsyncIterator[dicomqr.Server]:
    keys = tls_keys["server"]
    srv = dicomqr.Server(
        ae_title="DICOMQR", policy=dicomqr.acceptor_policy(),
        handler_factory=lambda conn: dicomqr.ServiceDispatcher(),
        timeouts=dicomqr.Timeouts(artim=5, idle=30),
        ssl_context=server_context(certfile=str(keys.cert), keyfile=str(keys.key)),
    )
    await srv.start("127.0.0.1", 0)
    try:
        yield srv
    finally:
        await srv.close(timeout=1)


async def _tls_echo(port: int, keys: dict[str, KeyPair], **client: Any) -> int:
    ctx = client_context(cafile=str(keys["server"].cert), **client)
    conn = await dicomqr.connect("127.0.0.1", port, VERIFICATION, calling_ae="TLSSCU",
                                 called_ae="DICOMQR", ssl_context=ctx, timeouts=TIMEOUTS)
    try:
        return (await dicomqr.echo(conn)).status
    finally:
        await conn.release()


async def test_tls_echo(tls_server: dicomqr.Server, tls_keys: dict[str, KeyPair],
                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="dicomqr")
    assert await _tls_echo(tls_server.port, tls_keys) == 0x0000
    assert await eventually(lambda: "TLSSCU@127.0.0.1" in caplog.text), caplog.text


async def test_plain_tcp_client_on_tls_port_fails_cleanly(
    tls_server: dicomqr.Server, tls_keys: dict[str, KeyPair]
) -> None:
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    start = loop.time()
    with pytest.raises((dicomqr.AssociationClosed, ConnectionError, TimeoutError)):
        await dicomqr.connect("127.0.0.1", tls_server.port, VERIFICATION,
                              called_ae="DICOMQR", timeouts=TIMEOUTS)
    assert loop.time() - start < 5.5
    # DCMTK without TLS: refused too
    res = await run([dcmtk("echoscu"), *DCMTK_SCU_TIMEOUTS, "-aec", "DICOMQR", "127.0.0.1",
                     str(tls_server.port)], timeout=30, env=dcmtk_env())
    assert res.returncode != 0, str(res)
    # the server goes on serving TLS
    assert await _tls_echo(tls_server.port, tls_keys) == 0x0000
    unexpected = [c for c in errors if "exception" in c
                  and not isinstance(c["exception"], ConnectionError | OSError)]
    assert not unexpected, errors


async def test_failed_tls_handshake_leaves_nothing_behind(
    tls_server: dicomqr.Server, tls_keys: dict[str, KeyPair]
) -> None:
    with pytest.raises((dicomqr.AssociationClosed, ConnectionError, TimeoutError)):
        await dicomqr.connect("127.0.0.1", tls_server.port, VERIFICATION,
                              called_ae="DICOMQR", timeouts=TIMEOUTS)
    _, writer = await asyncio.open_connection("127.0.0.1", tls_server.port)
    writer.close()  # a port scanner: connect, say nothing, leave
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 2
    while tls_server.connections and loop.time() < deadline:
        await asyncio.sleep(0.05)
    assert not tls_server.connections
    start = loop.time()
    await tls_server.close(timeout=5)
    assert loop.time() - start < 1


async def test_dcmtk_echoscu_over_tls(tls_server: dicomqr.Server,
                                      tls_keys: dict[str, KeyPair]) -> None:
    """echoscu with anonymous TLS (no client certificate), verifying our
    certificate, under DCMTK's default BCP 195 (non-downgrading) profile."""
    res = await run([dcmtk("echoscu"), "-v", *DCMTK_SCU_TIMEOUTS, "+tla",
                     "+cf", str(tls_keys["server"].cert), "-aet", "DCMTKTLS", "-aec", "DICOMQR",
                     "127.0.0.1", str(tls_server.port)], timeout=30, env=dcmtk_env())
    assert res.returncode == 0, str(res)
    assert "Received Echo Response (Success)" in res.stderr + res.stdout, str(res)


async def test_pynetdicom_echo_over_tls(tls_server: dicomqr.Server,
                                        tls_keys: dict[str, KeyPair]) -> None:
    pynetdicom = pytest.importorskip("pynetdicom")
    ctx = client_context(cafile=str(tls_keys["server"].cert))

    def echo() -> int:
        ae = pynetdicom.AE(ae_title="PYNTLS")
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
        ae.add_requested_context(uids.VERIFICATION_SOP_CLASS)
        assoc = ae.associate("127.0.0.1", tls_server.port, ae_title="DICOMQR",
                             tls_args=(ctx, "127.0.0.1"))
        assert assoc.is_established
        try:
            return int(assoc.send_c_echo().Status)
        finally:
            assoc.release()

    assert await asyncio.to_thread(echo) == 0x0000


async def test_mutual_tls(tls_keys: dict[str, KeyPair]) -> None:
    """With ``cafile`` the server wants a client certificate signed by it."""
    server_keys, client_keys = tls_keys["server"], tls_keys["client"]
    srv = dicomqr.Server(
        ae_title="DICOMQR", policy=dicomqr.acceptor_policy(),
        handler_factory=lambda conn: dicomqr.ServiceDispatcher(),
        timeouts=dicomqr.Timeouts(artim=5, idle=30),
        ssl_context=server_context(certfile=str(server_keys.cert), keyfile=str(server_keys.key),
                                   cafile=str(client_keys.cert)),
    )
    await srv.start("127.0.0.1", 0)
    try:
        # no client certificate: refused during or right after the handshake
        with pytest.raises((dicomqr.AssociationClosed, ConnectionError, TimeoutError)):
            await _tls_echo(srv.port, tls_keys)
        assert await _tls_echo(srv.port, tls_keys, certfile=str(client_keys.cert),
                               keyfile=str(client_keys.key)) == 0x0000
    finally:
        await srv.close(timeout=1)
