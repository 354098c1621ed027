"""``dicomqr serve``: the archive server.

It keeps every instance received by C-STORE (files under the archive
folder, an index in SQLite or PostgreSQL) and answers C-FIND, C-GET and
C-MOVE over them, for every Query/Retrieve SOP class.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import ssl
import sys
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from ..archive.config import AccessRules, ConfigError, load_config, parse_destination
from ..transport.config import Limits, Timeouts

log = logging.getLogger("dicomqr.serve")


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "serve", help="run the archive server",
        description="Run the archive: it keeps every instance received by C-STORE (DICOM "
        "files under --archive, indexed in SQLite or PostgreSQL) and answers C-FIND, C-GET "
        "and C-MOVE over them. Settings come from --config (TOML) and the options below, "
        "which win over the file.",
    )
    p.add_argument("--config", metavar="FILE", help="a TOML file with these settings")
    p.add_argument("--ae-title", help="our AE title (default: DICOMQR)")
    p.add_argument("--host", help="address to listen on (default: all interfaces)")
    p.add_argument("--port", type=int, help="TCP port (default: 11112)")
    p.add_argument("--archive", metavar="DIR",
                   help="folder of the stored files and, by default, the SQLite index "
                   "(default: ./archive)")
    p.add_argument("--db", metavar="URL",
                   help="the index database, an SQLAlchemy URL, e.g. "
                   "postgresql+psycopg://user:password@host/db (default: DIR/index.sqlite)")
    p.add_argument("--destination", action="append", metavar="AE=HOST:PORT",
                   help="a known C-MOVE destination (repeatable)")
    p.add_argument("--duplicates", choices=("keep", "replace", "reject"),
                   help="a second instance with a stored SOP Instance UID: keep the stored "
                   "one (default), replace it, or reject the new one with a warning (0xB006)")
    p.add_argument("--fsync", action="store_true", default=None,
                   help="flush every file (and the index) to disk before answering")
    for what in ("store", "query", "retrieve"):
        p.add_argument(f"--allow-{what}", action="append", metavar="AE",
                       help=f"calling AE titles that may {what} (repeatable; default: any); "
                       "others get 0x0124 (Refused: Not Authorized)")
    p.add_argument("--allow-aet", action="append", metavar="AE",
                   help="accept associations only from these calling AE titles (repeatable)")
    p.add_argument("--require-called-aet", action="store_true", default=None,
                   help="reject associations not addressed to --ae-title")
    p.add_argument("--max-pdu", type=int,
                   help=f"largest PDU we accept, in bytes (default: {Limits().max_pdu})")
    p.add_argument("--max-associations", type=int,
                   help="associations held at once; more are rejected "
                   f"(default: {Limits().max_associations})")
    p.add_argument("--max-connections", type=int,
                   help="TCP connections held at once, associated or not "
                   f"(default: {Limits().max_connections})")
    p.add_argument("--idle-timeout", type=float,
                   help=f"abort an association silent this long, s (default: {Timeouts().idle})")
    p.add_argument("--artim-timeout", type=float,
                   help=f"ARTIM timer, seconds (default: {Timeouts().artim})")
    p.add_argument("--tls-cert", metavar="FILE", help="serve TLS with this certificate (PEM)")
    p.add_argument("--tls-key", metavar="FILE", help="the key of --tls-cert (PEM)")
    p.add_argument("--tls-ca", metavar="FILE",
                   help="require client certificates signed by these CAs")


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {k: getattr(args, k, None) for k in (
        "ae_title", "host", "port", "archive", "db", "duplicates", "fsync",
        "require_called_aet", "max_pdu", "max_associations", "max_connections",
        "idle_timeout", "artim_timeout", "tls_cert", "tls_key", "tls_ca")}
    if args.destination:
        out["destinations"] = dict(parse_destination(d) for d in args.destination)
    rules = {w: getattr(args, f"allow_{w}") for w in ("store", "query", "retrieve")}
    if args.allow_aet:
        rules = {w: (v or []) + args.allow_aet for w, v in rules.items()}
    if any(v is not None for v in rules.values()):
        out["access"] = AccessRules(**{
            w: (None if v is None or "*" in v else frozenset(v)) for w, v in rules.items()})
    return out


async def execute(args: argparse.Namespace) -> int:
    from ..archive.app import Archive

    try:
        config = load_config(args.config, _overrides(args))
    except ConfigError as exc:
        print(f"serve: {exc}", file=sys.stderr)
        return 2
    try:
        archive = await asyncio.to_thread(Archive, config)
    except (OSError, SQLAlchemyError) as exc:
        print(f"serve: cannot open the archive {config.archive} (index {config.db_url}): "
              f"{exc}", file=sys.stderr)
        return 2
    try:
        server = archive.server()
        await server.start(config.host, config.port)
    except (OSError, ssl.SSLError) as exc:
        archive.close()
        where = f"{config.host or '*'}:{config.port}"
        print(f"serve: cannot start on {where}: {exc}", file=sys.stderr)
        return 2
    where = ", ".join(f"{h}:{p}" for h, p in server.sockets)
    log.info("%s listening on %s, archive %s, index %s", config.ae_title, where,
             config.archive, archive.index.backend)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down")
    await server.close()
    await asyncio.to_thread(archive.close)
    return 0
