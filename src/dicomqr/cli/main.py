"""``dicomqr``: the command dispatcher, logging set-up and exit codes."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Coroutine, Sequence
from typing import Any

from . import echo, generate, logsetup, qr, serve, store

__all__ = ["main"]

COMMANDS = {"serve": serve, "echo": echo, "store": store, "find": qr, "get": qr, "move": qr,
            "generate": generate}


def run(coro: Coroutine[Any, Any, int]) -> int:
    """Run the command's coroutine on uvloop where it installs, asyncio otherwise."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - non-Linux
        return asyncio.run(coro)
    return uvloop.run(coro)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dicomqr",
        description="DICOM Query/Retrieve: archive server and network tools.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output (-v: info, -vv: debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in dict.fromkeys(COMMANDS.values()):
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING
    if args.verbose == 1 or (args.command == "serve" and not args.quiet):
        level = logging.INFO
    if args.verbose >= 2:
        level = logging.DEBUG
    if args.quiet:
        level = logging.ERROR
    logsetup.setup(level, buffered=args.command == "serve")
    module = COMMANDS[args.command]
    try:
        run_command = getattr(module, "run_command", None)
        if run_command is not None:  # commands that decide how to run (serve --workers)
            return int(run_command(args, run))
        return run(module.execute(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader of our output went away (``| head``): not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
