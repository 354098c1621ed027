"""``dicomqr echo HOST PORT``: C-ECHO, as DCMTK's echoscu."""

from __future__ import annotations

import argparse
import sys
import time

from .. import uids
from ..services.echo import echo
from ..transport.client import Proposal
from ..transport.connection import AssociationClosed
from .options import add_client_options, associate


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("echo", help="verify a peer with C-ECHO",
                       description="Open an association, send C-ECHO-RQ, release.")
    add_client_options(p)
    p.add_argument("-r", "--repeat", type=int, default=1,
                   help="C-ECHOs to send on the association (default: 1)")


async def execute(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    conn = await associate("echo", args, [Proposal(uids.VERIFICATION_SOP_CLASS,
                                                   uids.UNCOMPRESSED_TRANSFER_SYNTAXES)])
    if conn is None:
        return 2
    failures = 0
    try:
        for _ in range(args.repeat):
            rsp = await echo(conn)
            if not rsp.ok:
                failures += 1
            print(f"C-ECHO: {rsp}")
        await conn.release()
    except AssociationClosed as exc:
        print(f"echo: association lost: {exc}", file=sys.stderr)
        return 2
    elapsed = (time.perf_counter() - start) * 1000
    print(f"{args.repeat} C-ECHO to {args.aec}@{args.host}:{args.port} in {elapsed:.1f} ms",
          file=sys.stderr)
    return 1 if failures else 0
