"""TLS contexts for the server and the client (the standard library's ssl).

PS3.15 Annex B.9 (BCP 195 TLS profile): TLS 1.2 or later.
"""

from __future__ import annotations

import ssl


def server_context(*, certfile: str, keyfile: str | None = None,
                   cafile: str | None = None) -> ssl.SSLContext:
    """A server context; with ``cafile`` the client must present a certificate."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(certfile, keyfile)
    if cafile:
        ctx.load_verify_locations(cafile)
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def client_context(*, cafile: str | None = None, certfile: str | None = None,
                   keyfile: str | None = None, verify: bool = True) -> ssl.SSLContext:
    """A client context that verifies the server unless ``verify`` is False."""
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if certfile:
        ctx.load_cert_chain(certfile, keyfile)
    return ctx
