"""``dicomqr find | get | move HOST PORT -k KEY=VALUE ...``: the Q/R SCU.

The options follow DCMTK's findscu/getscu/movescu where they have one:
``-k`` keys (keyword or ``gggg,eeee``, ``KEY`` alone for a return key),
``-P``/``-S``/``-O`` for Patient Root, Study Root, Patient/Study Only,
``-od`` the output folder, ``-aem`` the move destination, ``--port`` to
receive a C-MOVE here.  Each response is printed as it arrives (text, or
one JSON object per line with ``--json``); the exit code says how the
operation ended: 0 success, 1 warning, failure or cancel, 2 no association.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

from pydicom import Dataset
from pydicom.datadict import dictionary_VR, tag_for_keyword

from .. import uids
from ..services import qr_scu
from ..services.handlers import ExtendedOptions
from ..services.qr_scu import QRResponse
from ..services.scp import storage_scp
from ..services.store import StoredInstance
from ..transport.client import Proposal
from ..transport.connection import AssociationClosed
from ..transport.server import Server
from ..uids import QRModel, QRService
from .options import add_client_options, associate

__all__ = ["add_parser", "build_identifier", "execute"]

_MODELS = {
    "patient": QRModel.PATIENT_ROOT, "study": QRModel.STUDY_ROOT,
    "psonly": QRModel.PATIENT_STUDY_ONLY, "instance": QRModel.COMPOSITE_INSTANCE_ROOT,
    "nobulk": QRModel.WITHOUT_BULK_DATA, "palette": QRModel.COLOR_PALETTE,
    "protocol": QRModel.DEFINED_PROCEDURE_PROTOCOL, "approval": QRModel.PROTOCOL_APPROVAL,
}


def _tag(name: str) -> int:
    if "," in name:
        group, element = name.split(",", 1)
        return (int(group, 16) << 16) | int(element, 16)
    tag = tag_for_keyword(name)
    if tag is None:
        raise ValueError(f"{name!r} is neither a DICOM keyword nor gggg,eeee")
    return int(tag)


def build_identifier(keys: Sequence[str], level: str | None = None) -> Dataset:
    """An identifier from DCMTK-style ``-k`` keys: ``PatientName=DOE*``,
    ``0010,0020=123``, or ``StudyDate`` alone for an empty return key.
    Nested keys are written ``Seq[0].Keyword=value`` or ``Seq.Keyword``."""
    ds = Dataset()
    if level:
        ds.QueryRetrieveLevel = level
    for key in keys:
        name, _, value = key.partition("=")
        _set(ds, name.strip(), value)
    return ds


def _set(ds: Dataset, path: str, value: str) -> None:
    head, dot, rest = path.partition(".")
    name = head.split("[", 1)[0]
    tag = _tag(name)
    vr = dictionary_VR(tag)
    if dot:
        if vr != "SQ":
            raise ValueError(f"{name} is not a sequence")
        if tag not in ds or not ds[tag].value:
            ds.add_new(tag, "SQ", [Dataset()])
        _set(ds[tag].value[0], rest, value)
        return
    if vr == "SQ":
        ds.add_new(tag, "SQ", [])
    elif "\\" in value:
        ds.add_new(tag, vr, value.split("\\"))
    else:
        ds.add_new(tag, vr, value)


def _sop_class(args: argparse.Namespace, service: QRService) -> str:
    if args.sop_class:
        row = uids.qr_sop_class(args.sop_class)
        if row is None or row.service is not service:
            raise ValueError(f"{args.sop_class} is not a {service.dimse} SOP class")
        return str(args.sop_class)
    rows = uids.qr_sop_classes(service, _MODELS[args.model])
    if not rows:
        raise ValueError(f"the {args.model} model has no {service.dimse} SOP class")
    return rows[0].uid


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    for service, help_text in ((QRService.FIND, "query a peer with C-FIND"),
                               (QRService.GET, "retrieve with C-GET into a folder"),
                               (QRService.MOVE, "retrieve with C-MOVE to an AE")):
        p = sub.add_parser(service.value.lower(), help=help_text, description=help_text + ".")
        add_client_options(p)
        models = p.add_mutually_exclusive_group()
        models.add_argument("-m", "--model", choices=sorted(_MODELS), default="study",
                            help="information model (default: study)")
        models.add_argument("-P", dest="model", action="store_const", const="patient",
                            help="Patient Root (as -m patient)")
        models.add_argument("-S", dest="model", action="store_const", const="study",
                            help="Study Root (as -m study)")
        models.add_argument("-O", dest="model", action="store_const", const="psonly",
                            help="Patient/Study Only (as -m psonly)")
        p.add_argument("--sop-class", help="the Q/R SOP class UID (overrides --model)")
        p.add_argument("-L", "--level", help="Query/Retrieve Level (PATIENT, STUDY, ...)")
        p.add_argument("-k", "--key", action="append", default=[], dest="keys",
                       help="a key: KEYWORD=VALUE, gggg,eeee=VALUE or KEYWORD (return key)")
        p.add_argument("--cancel", type=int, metavar="N",
                       help="send C-CANCEL after N responses")
        p.add_argument("--relational", action="store_true",
                       help="propose relational queries / retrieval (extended negotiation)")
        p.add_argument("--json", action="store_true", help="one JSON object per response")
        if service is QRService.FIND:
            p.add_argument("--fuzzy", action="store_true",
                           help="propose fuzzy semantic matching of person names")
            p.add_argument("--date-time", action="store_true",
                           help="propose combined date-time matching")
            p.add_argument("--timezone", action="store_true",
                           help="propose timezone query adjustment")
        else:
            p.add_argument("-od", "--output-directory", default=".",
                           help="where retrieved files go (get; move with --port)")
        if service is QRService.GET:
            p.add_argument("--storage-class", action="append", default=None,
                           help="storage SOP class UID to accept (repeatable; default: "
                           "common image and document classes)")
        if service is QRService.MOVE:
            p.add_argument("-aem", "--move-destination", required=True,
                           help="the destination AE title")
            p.add_argument("--port", type=int, dest="receive_port",
                           help="receive the instances here: a storage SCP on this port, "
                           "titled as the destination")
        p.set_defaults(qr_service=service)


def _print(item: QRResponse | StoredInstance, as_json: bool) -> None:
    if isinstance(item, StoredInstance):
        if as_json:
            print(json.dumps({"stored": item.path, "sop_instance_uid": item.sop_instance_uid}))
        else:
            print(f"stored {item.path}")
        return
    if as_json:
        out: dict[str, Any] = {"status": f"0x{item.status:04X}",
                               "category": item.category.value}
        if item.comment:
            out["comment"] = item.comment
        for name in ("remaining", "completed", "failed", "warning"):
            if getattr(item, name) is not None:
                out[name] = getattr(item, name)
        if item.identifier is not None:
            out["identifier"] = item.identifier.to_json_dict()
        print(json.dumps(out))
        return
    print(str(item))
    if item.identifier is not None:
        for elem in item.identifier:
            print(f"  {elem.keyword or elem.tag}: {elem.repval}")


async def execute(args: argparse.Namespace) -> int:
    service: QRService = args.qr_service
    try:
        sop_class = _sop_class(args, service)
        identifier = build_identifier(args.keys, args.level)
    except ValueError as exc:
        print(f"{service.value.lower()}: {exc}", file=sys.stderr)
        return 2
    options = ExtendedOptions(
        relational=args.relational, fuzzy_matching=getattr(args, "fuzzy", False),
        date_time_matching=getattr(args, "date_time", False),
        timezone_adjustment=getattr(args, "timezone", False))
    roles: list[Any] = []
    if service is QRService.GET:
        proposals, roles = qr_scu.get_proposals(sop_class, args.storage_class)
    else:
        proposals = [Proposal(sop_class, (uids.EXPLICIT_VR_LITTLE_ENDIAN,
                                          uids.IMPLICIT_VR_LITTLE_ENDIAN))]
    receiver: Server | None = None
    if service is QRService.MOVE and args.receive_port:
        receiver = storage_scp(args.output_directory, ae_title=args.move_destination)
        await receiver.start(None, args.receive_port)
    try:
        return await _run(args, service, sop_class, identifier, proposals, roles, options)
    finally:
        if receiver is not None:
            await receiver.close()


async def _run(args: argparse.Namespace, service: QRService, sop_class: str,
               identifier: Dataset, proposals: list[Proposal], roles: list[Any],
               options: ExtendedOptions) -> int:
    name = service.value.lower()
    conn = await associate(name, args, proposals, roles=roles,
                           async_window=qr_scu.GET_ASYNC_WINDOW
                           if service is QRService.GET else None,
                           extended=qr_scu.extended_items({sop_class: options})
                           if options.any else ())
    if conn is None:
        return 2
    final: QRResponse | None = None
    try:
        if service is QRService.FIND:
            op = qr_scu.find(conn, identifier, sop_class=sop_class)
        elif service is QRService.GET:
            folder = args.output_directory or tempfile.mkdtemp()
            op = qr_scu.get(conn, identifier, sop_class=sop_class, folder=folder)
        else:
            op = qr_scu.move(conn, identifier, args.move_destination, sop_class=sop_class)
        responses = 0
        async for item in op:
            _print(item, args.json)
            if isinstance(item, QRResponse):
                responses += 1
                if item.final:
                    final = item
                elif args.cancel is not None and responses >= args.cancel:
                    await op.cancel()
        await conn.release()
    except qr_scu.RetrieveSetupError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        await conn.release()
        return 2
    except AssociationClosed as exc:
        print(f"{name}: association lost: {exc}", file=sys.stderr)
        return 2
    if final is None:
        return 2
    return 0 if final.status == 0 else 1

