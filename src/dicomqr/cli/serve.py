"""``dicomqr serve``: the server (C-ECHO, and C-STORE into an archive folder)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import ssl
import sys

from ..services.scp import ServiceDispatcher, acceptor_policy
from ..services.store import FileArchive
from ..transport.config import Limits, Timeouts
from ..transport.server import AssociationRules, Server

log = logging.getLogger("dicomqr.serve")


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "serve", help="run the DICOM server",
        description="Run the server: it answers C-ECHO and keeps every instance it receives "
        "by C-STORE as a DICOM Part 10 file under the archive folder.",
    )
    p.add_argument("--ae-title", default="DICOMQR",
                   help="our AE title (default: %(default)s)")
    p.add_argument("--host", default="",
                   help="address to listen on (default: all interfaces)")
    p.add_argument("--port", type=int, default=11112, help="TCP port (default: %(default)s)")
    p.add_argument("--archive", default="archive", metavar="DIR",
                   help="folder the received files go to (default: ./%(default)s)")
    p.add_argument("--require-called-aet", action="store_true",
                   help="reject associations not addressed to --ae-title")
    p.add_argument("--allow-aet", action="append", metavar="AE",
                   help="accept only these calling AE titles (repeatable; default: any)")
    p.add_argument("--max-pdu", type=int, default=Limits().max_pdu,
                   help="largest PDU we accept, in bytes (default: %(default)s)")
    p.add_argument("--max-associations", type=int, default=Limits().max_associations,
                   help="associations held at once; more are rejected (default: %(default)s)")
    p.add_argument("--max-connections", type=int, default=Limits().max_connections,
                   help="TCP connections held at once, associated or not; more are closed "
                   "at once (default: %(default)s)")
    p.add_argument("--idle-timeout", type=float, default=Timeouts().idle,
                   help="abort an association silent for this many seconds (default: %(default)s)")
    p.add_argument("--artim-timeout", type=float, default=Timeouts().artim,
                   help="ARTIM timer, seconds (default: %(default)s)")
    p.add_argument("--tls-cert", metavar="FILE", help="serve TLS with this certificate (PEM)")
    p.add_argument("--tls-key", metavar="FILE", help="the key of --tls-cert (PEM)")
    p.add_argument("--tls-ca", metavar="FILE",
                   help="require client certificates signed by these CAs")


def build_server(args: argparse.Namespace) -> Server:
    archive = FileArchive(args.archive)
    ssl_context = None
    if args.tls_cert:
        from ..transport.tls import server_context

        ssl_context = server_context(certfile=args.tls_cert, keyfile=args.tls_key,
                                     cafile=args.tls_ca)
    return Server(
        ae_title=args.ae_title,
        policy=acceptor_policy(),
        handler_factory=lambda conn: ServiceDispatcher(archive=archive),
        rules=AssociationRules(
            called_ae_titles=frozenset([args.ae_title]) if args.require_called_aet else None,
            calling_ae_titles=frozenset(args.allow_aet) if args.allow_aet else None,
        ),
        limits=Limits(max_pdu=args.max_pdu, max_associations=args.max_associations,
                      max_connections=max(args.max_connections, args.max_associations)),
        timeouts=Timeouts(idle=args.idle_timeout, artim=args.artim_timeout),
        ssl_context=ssl_context,
    )


async def execute(args: argparse.Namespace) -> int:
    try:
        server = build_server(args)
        await server.start(args.host, args.port)
    except (OSError, ssl.SSLError) as exc:
        where = f"{args.host or '*'}:{args.port}"
        print(f"serve: cannot start on {where} with archive {args.archive}: {exc}",
              file=sys.stderr)
        return 2
    where = ", ".join(f"{h}:{p}" for h, p in server.sockets)
    log.info("%s listening on %s, archive %s", args.ae_title, where, args.archive)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down")
    await server.close()
    return 0
