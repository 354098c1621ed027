"""The archive server put together: index, file store, ingest, Q/R handlers.

:class:`Archive` opens (or creates) an archive folder and its index, adds
the standard color palettes pydicom ships the first time, and makes the
server (:meth:`Archive.server`).  ``dicomqr serve`` is this, with its
settings from the command line and a TOML file.
"""

from __future__ import annotations

import logging
import os
import shutil
import ssl
from pathlib import Path
from typing import Any

from pydicom.data import get_palette_files

from ..services.qr_scp import QRProvider
from ..services.scp import ServiceDispatcher, acceptor_policy
from ..services.store import safe_file_name
from ..transport.config import Limits, Timeouts
from ..transport.server import AssociationRules, Server
from .config import ArchiveConfig
from .index import Index
from .ingest import ArchiveStore
from .qr import archive_handlers
from .records import read_header, record_of
from .schema import ENTITY_TABLES
from .search import Search

log = logging.getLogger("dicomqr.archive")

__all__ = ["Archive"]


class Archive:
    """An archive folder with its index, ready to serve."""

    def __init__(self, config: ArchiveConfig, *, worker: bool = False) -> None:
        """Open the archive; ``worker``: as one of several processes serving
        it (the parent opened it first: recovery and palettes are done)."""
        self.config = config
        root = Path(config.archive)
        root.mkdir(parents=True, exist_ok=True)
        self.index = Index(config.db_url, root, fsync=config.fsync,
                           duplicates=config.duplicates)  # type: ignore[arg-type]
        access = config.access
        self.store = ArchiveStore(
            root, self.index, fsync=config.fsync, recover=not worker,
            may_store=None if access.store is None else
            (lambda ae: access.allows("store", ae)))
        self.search = Search(self.index, config.ae_title)
        self.handlers = archive_handlers(
            self.search, destinations=config.destinations,
            may_query=None if access.query is None else (lambda ae: access.allows("query", ae)),
            may_retrieve=None if access.retrieve is None else
            (lambda ae: access.allows("retrieve", ae)))
        if not worker:
            self._add_palettes()

    def _add_palettes(self) -> None:
        """The standard color palettes (PS3.6 Annex B), from pydicom's copies,
        in every archive from the start."""
        from sqlalchemy import func, select

        table = ENTITY_TABLES["COLOR_PALETTE"]
        with self.index.engine.connect() as conn:
            if conn.execute(select(func.count()).select_from(table)).scalar_one():
                return
        records = []
        folder = Path(self.index.root) / "palettes"
        folder.mkdir(exist_ok=True)
        for src in sorted(get_palette_files("*.dcm")):
            ds = read_header(src)
            uid = str(ds.SOPInstanceUID)
            dst = folder / f"{safe_file_name(uid)}.dcm"
            shutil.copyfile(src, dst)
            records.append(record_of(
                ds, path=os.path.relpath(dst, self.index.root), size=dst.stat().st_size,
                transfer_syntax_uid=str(ds.file_meta.TransferSyntaxUID)))
        self.index.write(records)
        log.info("added %d standard color palettes", len(records))

    def server(self, **overrides: Any) -> Server:
        """The server for this archive (start it with ``await server.start(...)``)."""
        cfg = self.config
        provider = QRProvider(self.handlers)
        policy = acceptor_policy(storage=True, qr=provider)
        ssl_context: ssl.SSLContext | None = None
        if cfg.tls_cert:
            from ..transport.tls import server_context

            ssl_context = server_context(certfile=cfg.tls_cert, keyfile=cfg.tls_key,
                                         cafile=cfg.tls_ca)
        limits = Limits()
        limits = Limits(
            max_pdu=cfg.max_pdu or limits.max_pdu,
            max_associations=cfg.max_associations or limits.max_associations,
            max_connections=max(cfg.max_connections or limits.max_connections,
                                cfg.max_associations or limits.max_associations))
        timeouts = Timeouts()
        timeouts = Timeouts(idle=cfg.idle_timeout or timeouts.idle,
                            artim=cfg.artim_timeout or timeouts.artim)
        store = self.store
        options: dict[str, Any] = {
            "rules": AssociationRules(
                called_ae_titles=frozenset([cfg.ae_title]) if cfg.require_called_aet else None,
                calling_ae_titles=cfg.access.callers()),
            "limits": limits, "timeouts": timeouts, "ssl_context": ssl_context,
        }
        options.update(overrides)
        return Server(ae_title=cfg.ae_title, policy=policy,
                      handler_factory=lambda conn: ServiceDispatcher(archive=store, qr=provider),
                      **options)

    def close(self) -> None:
        self.store.close()
        self.index.close()
