"""Options shared by the client commands (DCMTK's names where they have one)."""

from __future__ import annotations

import argparse
import ssl
import sys
from collections.abc import Sequence
from typing import Any

from ..transport.client import AssociationRejectedError, Proposal, connect
from ..transport.config import Limits, Timeouts
from ..transport.connection import AssociationClosed, Connection


def add_client_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("host", help="the peer's host name or address")
    p.add_argument("port", type=int, help="the peer's TCP port")
    p.add_argument("--aet", "--calling-aet", dest="aet", default="DICOMQR",
                   help="our (calling) AE title (default: DICOMQR)")
    p.add_argument("--aec", "--called-aet", dest="aec", default="ANY-SCP",
                   help="the peer's (called) AE title (default: ANY-SCP)")
    p.add_argument("--max-pdu", type=int, default=Limits().max_pdu,
                   help="largest PDU we accept, in bytes (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=30.0,
                   help="seconds to wait for connect, association and each response")
    p.add_argument("--tls", action="store_true", help="connect with TLS")
    p.add_argument("--tls-ca", metavar="FILE", help="CA certificates to verify the peer with")
    p.add_argument("--tls-cert", metavar="FILE", help="our certificate (PEM), for client auth")
    p.add_argument("--tls-key", metavar="FILE", help="the key of --tls-cert (PEM)")
    p.add_argument("--tls-no-verify", action="store_true",
                   help="do not verify the peer's certificate (testing only)")


def client_ssl(args: argparse.Namespace) -> ssl.SSLContext | None:
    if not (args.tls or args.tls_ca or args.tls_cert):
        return None
    from ..transport.tls import client_context

    return client_context(cafile=args.tls_ca, certfile=args.tls_cert, keyfile=args.tls_key,
                          verify=not args.tls_no_verify)


def client_limits(args: argparse.Namespace) -> tuple[Limits, Timeouts]:
    t = args.timeout
    return Limits(max_pdu=args.max_pdu), Timeouts(connect=t, acse=t, dimse=t, artim=t)


async def associate(command: str, args: argparse.Namespace, proposals: Sequence[Proposal],
                    **options: Any) -> Connection | None:
    """Open the association the client options describe (``options`` go to
    :func:`~dicomqr.transport.client.connect`); on failure say why on stderr,
    prefixed with ``command``, and return None."""
    limits, timeouts = client_limits(args)
    try:
        return await connect(args.host, args.port, proposals, calling_ae=args.aet,
                             called_ae=args.aec, ssl_context=client_ssl(args), limits=limits,
                             timeouts=timeouts, **options)
    except AssociationRejectedError as exc:
        print(f"{command}: {exc}", file=sys.stderr)
    except (OSError, TimeoutError, AssociationClosed) as exc:
        print(f"{command}: cannot associate with {args.host}:{args.port}: {exc}",
              file=sys.stderr)
    return None
