"""dicomqr: DICOM Query/Retrieve in Python, on asyncio.

The layers, from the bottom: :mod:`dicomqr.protocol` (sans-IO PS3.8 upper
layer and PS3.7 DIMSE), :mod:`dicomqr.transport` (asyncio server and client),
:mod:`dicomqr.services` (C-ECHO, C-STORE, C-FIND, C-GET, C-MOVE), :mod:`dicomqr.cli`.
"""

from __future__ import annotations

from .services.common import NoContextError, Response
from .services.echo import echo
from .services.handlers import ExtendedOptions, QRHandlers, QRRequest
from .services.qr_scp import QRProvider
from .services.qr_scu import (
    QROperation,
    QRResponse,
    RetrieveSetupError,
    extended_items,
    find,
    get,
    get_proposals,
    move,
    qr_proposals,
    storage_classes_of,
)
from .services.scp import ServiceDispatcher, acceptor_policy, make_server, storage_scp
from .services.store import FileArchive, StoredInstance
from .services.store_scu import proposals_for, scan, store_file
from .transport.client import AssociationRejectedError, Proposal, connect
from .transport.config import Limits, Timeouts
from .transport.connection import AssociationAborted, AssociationClosed, Connection
from .transport.server import AssociationRules, Server

__version__ = "0.1.0"

__all__ = [
    "AssociationAborted",
    "AssociationClosed",
    "AssociationRejectedError",
    "AssociationRules",
    "Connection",
    "ExtendedOptions",
    "FileArchive",
    "Limits",
    "NoContextError",
    "Proposal",
    "QRHandlers",
    "QROperation",
    "QRProvider",
    "QRRequest",
    "QRResponse",
    "Response",
    "RetrieveSetupError",
    "Server",
    "ServiceDispatcher",
    "StoredInstance",
    "Timeouts",
    "acceptor_policy",
    "connect",
    "echo",
    "extended_items",
    "find",
    "get",
    "get_proposals",
    "make_server",
    "move",
    "proposals_for",
    "qr_proposals",
    "scan",
    "storage_classes_of",
    "storage_scp",
    "store_file",
]
