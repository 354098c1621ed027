"""``dicomqr serve``: the archive server.

It keeps every instance received by C-STORE (files under the archive
folder, an index in SQLite or PostgreSQL) and answers C-FIND, C-GET and
C-MOVE over them, for every Query/Retrieve SOP class.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import ssl
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from ..archive.config import (
    AccessRules,
    ArchiveConfig,
    ConfigError,
    access_titles,
    load_config,
    parse_destination,
)
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
    p.add_argument("--workers", type=int, metavar="N",
                   help="serve with N processes sharing the port (default: 1); each uses a "
                   "core, and the index and files are shared")
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
        "ae_title", "host", "port", "archive", "db", "duplicates", "fsync", "workers",
        "require_called_aet", "max_pdu", "max_associations", "max_connections",
        "idle_timeout", "artim_timeout", "tls_cert", "tls_key", "tls_ca")}
    if args.destination:
        out["destinations"] = dict(parse_destination(d) for d in args.destination)
    rules = {w: getattr(args, f"allow_{w}") for w in ("store", "query", "retrieve")}
    if args.allow_aet:
        rules = {w: (v or []) + args.allow_aet for w, v in rules.items()}
    if any(v is not None for v in rules.values()):
        out["access"] = AccessRules(**{w: access_titles(v, w) for w, v in rules.items()})
    return out


def run_command(args: argparse.Namespace,
                run: Callable[[Coroutine[Any, Any, int]], int]) -> int:
    """Serve: in this process, or with ``--workers N`` in N worker processes
    sharing one listening socket (the index and the files are shared; each
    association is served whole by the worker that accepted it)."""
    try:
        config = load_config(args.config, _overrides(args))
    except ConfigError as exc:
        print(f"serve: {exc}", file=sys.stderr)
        return 2
    if config.workers <= 1:
        return run(_serve(config))
    return _supervise(config, run)


async def execute(args: argparse.Namespace) -> int:
    """Serve in this process (``--workers`` is ignored here)."""
    try:
        config = load_config(args.config, _overrides(args))
    except ConfigError as exc:
        print(f"serve: {exc}", file=sys.stderr)
        return 2
    return await _serve(config)


async def _serve(config: ArchiveConfig, sock: socket.socket | None = None,
                 worker: bool = False) -> int:
    from ..archive.app import Archive

    try:
        archive = await asyncio.to_thread(Archive, config, worker=worker)
    except (OSError, SQLAlchemyError) as exc:
        print(f"serve: cannot open the archive {config.archive} (index {config.db_url}): "
              f"{exc}", file=sys.stderr)
        return 2
    try:
        server = archive.server()
        await server.start(config.host, config.port, sock=sock)
    except (OSError, ssl.SSLError) as exc:
        archive.close()
        where = f"{config.host or '*'}:{config.port}"
        print(f"serve: cannot start on {where}: {exc}", file=sys.stderr)
        return 2
    if not worker:
        where = ", ".join(f"{h}:{p}" for h, p in server.sockets)
        log.info("%s listening on %s, archive %s, index %s", config.ae_title, where,
                 config.archive, archive.index.backend)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    if not worker:
        log.info("shutting down")
    await server.close()
    await asyncio.to_thread(archive.close)
    return 0


def _listen(config: ArchiveConfig) -> socket.socket:
    if config.host:
        sock = socket.create_server((config.host, config.port), backlog=256)
    elif socket.has_dualstack_ipv6():
        sock = socket.create_server(("", config.port), family=socket.AF_INET6,
                                    dualstack_ipv6=True, backlog=256)
    else:
        sock = socket.create_server(("", config.port), backlog=256)
    sock.setblocking(False)
    return sock


def _supervise(config: ArchiveConfig, run: Callable[[Coroutine[Any, Any, int]], int]) -> int:
    from ..archive.app import Archive

    try:
        # Recovery of interrupted ingests, the standard palettes: once, here.
        Archive(config).close()
        sock = _listen(config)
    except (OSError, SQLAlchemyError) as exc:
        print(f"serve: cannot start with archive {config.archive} (index {config.db_url}) "
              f"on {config.host or '*'}:{config.port}: {exc}", file=sys.stderr)
        return 2
    host, port = sock.getsockname()[:2]
    children: dict[int, float] = {}
    stopping = False

    def spawn() -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            code = 1
            try:
                code = run(_serve(config, sock, worker=True))
            finally:
                logging.shutdown()
                os._exit(code)
        children[pid] = time.monotonic()

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for _ in range(config.workers):
        spawn()
    log.info("%s listening on %s:%s with %d worker processes, archive %s", config.ae_title,
             host, port, config.workers, config.archive)
    failures = 0
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        started = children.pop(pid, time.monotonic())
        if stopping:
            continue
        failures = failures + 1 if time.monotonic() - started < 5 else 0
        log.error("worker %d ended (status %d)%s", pid, status,
                  "; starting another" if failures < 5 else "; giving up")
        if failures >= 5:
            stop(signal.SIGTERM, None)
            continue
        spawn()
    log.info("shutting down")
    sock.close()
    return 0 if stopping else 1
