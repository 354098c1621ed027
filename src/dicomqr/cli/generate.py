"""``dicomqr generate OUT``: write a synthetic archive of Part 10 files.

The same options (seed included) write the same files; see
:mod:`dicomqr.archive.generate` for what is in them and the layout.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date

from ..archive.generate import GenerateSpec, parse_span, write_archive


def _span(text: str) -> tuple[int, int]:
    try:
        return parse_span(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _date(text: str) -> date:
    try:
        if len(text) == 8 and text.isdigit():  # DICOM DA
            return date(int(text[:4]), int(text[4:6]), int(text[6:]))
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD or YYYYMMDD): {text!r}") \
            from None


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    d = GenerateSpec()
    p = sub.add_parser(
        "generate", help="write a synthetic archive of DICOM files",
        description="Write patients, studies, series and instances (with varied names, "
        "dates, modalities and 16-bit pixel data) as DICOM Part 10 files under OUT, laid "
        "out as OUT/<PatientID>/<study>/<series>/<n>.dcm, plus Defined Procedure Protocol "
        "and Protocol Approval objects under OUT/protocols/. The same options write the "
        "same files; counts given as A-B are drawn between A and B for each parent.")
    p.add_argument("out", metavar="OUT", help="folder to write into (created if missing)")
    p.add_argument("--patients", type=int, default=d.patients, metavar="N",
                   help="number of patients (default: %(default)s)")
    p.add_argument("--studies", type=_span, default=d.studies, metavar="A[-B]",
                   help="studies per patient (default: 1-3)")
    p.add_argument("--series", type=_span, default=d.series, metavar="A[-B]",
                   help="series per study (default: 1-4)")
    p.add_argument("--instances", type=_span, default=d.instances, metavar="A[-B]",
                   help="instances per series (default: 1-20)")
    p.add_argument("--rows", type=int, default=d.rows, metavar="R",
                   help="image rows (default: %(default)s)")
    p.add_argument("--cols", type=int, default=d.cols, metavar="C",
                   help="image columns (default: %(default)s)")
    p.add_argument("--seed", type=int, default=d.seed, metavar="S",
                   help="random seed (default: %(default)s)")
    p.add_argument("--start-date", type=_date, default=d.start_date, metavar="DATE",
                   help="earliest study date (default: %(default)s)")
    p.add_argument("--end-date", type=_date, default=d.end_date, metavar="DATE",
                   help="latest study date (default: %(default)s)")
    p.add_argument("--non-ascii", type=float, default=d.non_ascii, metavar="SHARE",
                   help="share of patients with names outside ASCII, in UTF-8 "
                   "(default: %(default)s)")
    p.add_argument("--protocols", type=int, default=d.protocols, metavar="N",
                   help="Defined Procedure Protocol and Protocol Approval objects to add "
                   "(one in three is an approval; default: %(default)s)")
    p.add_argument("--flat", action="store_true",
                   help="write every instance as OUT/<SOPInstanceUID>.dcm")
    p.add_argument("--index-only", action="store_true",
                   help="write no files: add the instances straight into the index of the "
                   "archive OUT (as `dicomqr serve --archive OUT` opens it, or --db), to "
                   "measure queries on millions of instances (they cannot be retrieved)")
    p.add_argument("--db", metavar="URL",
                   help="with --index-only: the index database (default: OUT/index.sqlite)")


async def execute(args: argparse.Namespace) -> int:
    try:
        spec = GenerateSpec(
            seed=args.seed, patients=args.patients, studies=args.studies, series=args.series,
            instances=args.instances, rows=args.rows, cols=args.cols,
            start_date=args.start_date, end_date=args.end_date, non_ascii=args.non_ascii,
            protocols=args.protocols)
    except ValueError as exc:
        print(f"generate: {exc}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    if args.index_only:
        return _index_only(spec, args, start)
    try:
        # Nothing else runs on the loop of this command: writing here, not in
        # a thread, lets Ctrl-C stop it at once.
        stats = write_archive(spec, args.out, flat=args.flat)
    except OSError as exc:
        print(f"generate: {exc}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - start
    print(f"{stats.patients} patients, {stats.studies} studies, {stats.series} series, "
          f"{stats.instances} instances, {stats.protocols} protocol objects")
    print(f"{stats.files} files, {stats.bytes / 2**20:.1f} MiB in {args.out} "
          f"({elapsed:.1f} s, {stats.files / max(elapsed, 1e-9):.0f} files/s)")
    return 0


def _index_only(spec: GenerateSpec, args: argparse.Namespace, start: float) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from ..archive.bulkload import load_generated
    from ..archive.config import ArchiveConfig
    from ..archive.index import Index

    config = ArchiveConfig(archive=args.out, db=args.db)
    try:
        os.makedirs(args.out, exist_ok=True)
        index = Index(config.db_url, args.out)
        count = load_generated(index, spec, progress=lambda n: print(
            f"  {n} instances", file=sys.stderr) if n % 200_000 == 0 else None)
        counts = index.counts()
        index.close()
    except (OSError, SQLAlchemyError) as exc:
        print(f"generate: {exc}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - start
    print(f"{counts['patient']} patients, {counts['study']} studies, {counts['series']} series, "
          f"{counts['instance']} instances in the index {config.db_url}")
    print(f"{count} instances added in {elapsed:.1f} s ({count / max(elapsed, 1e-9):.0f}/s)")
    return 0
