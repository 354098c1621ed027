"""``dicomqr store HOST PORT FILE|DIR...``: C-STORE, as DCMTK's storescu."""

from __future__ import annotations

import argparse
import sys
import time

from .. import uids
from ..services.common import NoContextError
from ..services.store_scu import StoreSource, proposals_for, scan, store_file
from ..transport.connection import AssociationClosed
from .options import add_client_options, associate


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("store", help="send DICOM files with C-STORE",
                       description="Send files (folders are searched recursively) with "
                       "C-STORE, each in its own transfer syntax when the peer accepts it.")
    add_client_options(p)
    p.add_argument("paths", nargs="+", metavar="FILE|DIR", help="files or folders to send")


def _contexts_needed(syntaxes: set[str]) -> int:
    """Contexts :func:`proposals_for` makes for one SOP class with these syntaxes."""
    fallback = {uids.EXPLICIT_VR_LITTLE_ENDIAN, uids.IMPLICIT_VR_LITTLE_ENDIAN} - syntaxes
    return len(syntaxes) + (1 if fallback else 0)


def _batches(sources: list[StoreSource]) -> list[list[StoreSource]]:
    """Split the files so that each association needs at most 128 contexts
    (in one pass: the count is kept per SOP class as files are added)."""
    batches: list[list[StoreSource]] = []
    current: list[StoreSource] = []
    by_class: dict[str, set[str]] = {}
    total = 0
    for src in sources:
        syntaxes = by_class.get(src.sop_class_uid, set())
        if src.transfer_syntax_uid not in syntaxes:
            before = _contexts_needed(syntaxes) if syntaxes else 0
            grown = syntaxes | {src.transfer_syntax_uid}
            after = total - before + _contexts_needed(grown)
            if after > 128 and current:
                batches.append(current)
                current, by_class = [], {}
                grown = {src.transfer_syntax_uid}
                after = _contexts_needed(grown)
            by_class[src.sop_class_uid] = grown
            total = after
        current.append(src)
    if current:
        batches.append(current)
    return batches


async def execute(args: argparse.Namespace) -> int:
    sources, skipped = scan(args.paths)
    for why in skipped:
        print(f"store: skipped {why}", file=sys.stderr)
    if not sources:
        print("store: no DICOM files to send", file=sys.stderr)
        return 1
    sources.sort(key=lambda s: (s.sop_class_uid, s.transfer_syntax_uid))
    start = time.perf_counter()
    sent = failed = 0
    size = 0
    for batch in _batches(sources):
        conn = await associate("store", args, proposals_for(batch))
        if conn is None:
            return 2
        try:
            for src in batch:
                try:
                    rsp = await store_file(conn, src)
                except NoContextError as exc:
                    failed += 1
                    print(f"store: {src.path}: {exc}", file=sys.stderr)
                    continue
                if rsp.ok:
                    sent += 1
                    size += src.path.stat().st_size
                else:
                    failed += 1
                    print(f"store: {src.path}: {rsp}", file=sys.stderr)
            await conn.release()
        except AssociationClosed as exc:
            print(f"store: association lost: {exc}", file=sys.stderr)
            return 2
    elapsed = time.perf_counter() - start
    print(f"stored {sent} of {sent + failed} instances ({size / 1048576:.1f} MiB) "
          f"in {elapsed:.2f} s", file=sys.stderr)
    return 1 if failed or skipped else 0
