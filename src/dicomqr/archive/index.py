"""The index database: engine set-up, writing instances, recovery.

One :class:`Index` per archive.  It is used from threads only (the ingest
writer thread, the Q/R handlers' threads), never on the event loop.

Writing: :meth:`Index.write` adds a batch of :class:`InstanceRecord` in one
transaction: the patient, study and series rows are created when new, the
computed attributes (Number of ... Related ..., Modalities in Study, SOP
Classes in Study) are kept up to date, and a duplicate SOP Instance UID
follows the archive's policy (``keep``, ``replace`` or ``reject``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    create_engine,
    delete,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from .records import InstanceRecord
from .schema import ENTITY_TABLES, instance, metadata, patient, series, study

log = logging.getLogger("dicomqr.archive")

__all__ = ["DuplicatePolicy", "Index", "Outcome", "open_engine"]

DuplicatePolicy = Literal["keep", "replace", "reject"]
DUPLICATE_POLICIES: Final = ("keep", "replace", "reject")
_ID_CACHE: Final = 100_000  # (level, key) -> row id of entities seen by the writer


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one record: ``stored`` (new), ``replaced``, ``kept``
    (a duplicate, the stored one kept, the new file dropped), ``rejected``
    (the same, and the sender is told with a warning) or ``conflict`` (its
    study or series is filed under another patient or study: not stored,
    ``message`` says which)."""

    result: Literal["stored", "replaced", "kept", "rejected", "conflict"]
    obsolete_path: str | None = None
    message: str = ""


def open_engine(url: str, *, fsync: bool = False) -> Engine:
    """An engine for the index database at ``url`` (any SQLAlchemy URL)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               pool_size=16, max_overflow=16)
        sync = "FULL" if fsync else "NORMAL"

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            # WAL: readers never wait for the writer, and a process crash
            # loses no committed transaction (NORMAL syncs at checkpoints).
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={sync}")
            # Matching is case-sensitive (PS3.4 C.2.2.2.1): SQLite's LIKE
            # folds ASCII case unless told otherwise.
            cur.execute("PRAGMA case_sensitive_like=ON")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_size=16, max_overflow=16, pool_pre_ping=True)


# Statements built once: SQLAlchemy then only binds parameters (building
# a statement per row costs more than the database's own work).
_FIND_INSTANCE = select(instance.c.id, instance.c.path, instance.c.series_fk).where(
    instance.c.sop_uid == bindparam("uid"))
_FIND_PATIENT = select(patient.c.id).where(patient.c.patient_id == bindparam("pid"),
                                           patient.c.issuer == bindparam("issuer"))
_FIND_STUDY = select(study.c.id, study.c.patient_fk).where(study.c.study_uid == bindparam("uid"))
_FIND_SERIES = select(series.c.id, series.c.study_fk).where(
    series.c.series_uid == bindparam("uid"))
_INSERT_PATIENT = insert(patient).returning(patient.c.id)
_INSERT_STUDY = insert(study).returning(study.c.id)
_INSERT_SERIES = insert(series).returning(series.c.id)
_INSERT_INSTANCE = insert(instance)


class Index:
    """The archive's index.  ``root`` is the folder stored paths are relative to."""

    def __init__(self, url: str, root: str | os.PathLike[str], *, fsync: bool = False,
                 duplicates: DuplicatePolicy = "keep") -> None:
        if duplicates not in DUPLICATE_POLICIES:
            raise ValueError(f"duplicate policy {duplicates!r}: one of {DUPLICATE_POLICIES}")
        self.url = url
        self.root = os.fspath(root)
        self.engine = open_engine(url, fsync=fsync)
        self.duplicates: DuplicatePolicy = duplicates
        self.backend = self.engine.dialect.name
        metadata.create_all(self.engine)
        if self.backend == "sqlite":
            # Statistics for the planner (PostgreSQL's autovacuum keeps its own).
            with self.engine.begin() as conn:
                conn.exec_driver_sql("PRAGMA optimize")
        # Patient/study/series row ids the writer has seen: most instances
        # belong to an entity stored a moment ago, so its lookup is skipped.
        # Cleared when a transaction fails (the ids may not exist then).
        self._ids: dict[tuple[str, Any], tuple[int, int | None]] = {}

    def close(self) -> None:
        self.engine.dispose()

    def path(self, stored: str) -> str:
        """The file of a stored (relative) path."""
        return stored if os.path.isabs(stored) else os.path.join(self.root, stored)

    # -- writing ---------------------------------------------------------

    def write(self, records: Sequence[InstanceRecord]) -> list[Outcome]:
        """Add ``records`` in one transaction (the caller puts the files in
        place after the commit: see :mod:`dicomqr.archive.ingest`)."""
        try:
            with self.engine.begin() as conn:
                return [self._write_one(conn, rec) for rec in records]
        except BaseException:
            self._ids.clear()
            raise

    def _write_one(self, conn: Connection, rec: InstanceRecord) -> Outcome:
        if rec.entity is not None:
            return self._write_entity(conn, rec)
        found = conn.execute(_FIND_INSTANCE, {"uid": rec.sop_instance_uid}).first()
        if found is not None and self.duplicates != "replace":
            return Outcome("kept" if self.duplicates == "keep" else "rejected")
        cols = rec.columns
        pat = cols["PATIENT"]
        patient_key = (pat["patient_id"], pat["issuer"])
        study_uid = cols["STUDY"]["study_uid"]
        series_uid = cols["SERIES"]["series_uid"]
        conflict = self._conflict(conn, patient_key, study_uid, series_uid)
        if conflict:
            return Outcome("conflict", message=conflict)
        obsolete = None
        if found is not None:
            obsolete = found.path
            self._remove_instance(conn, found.id, found.series_fk)
        patient_id = self._lookup(conn, "P", patient_key)[0]
        if patient_id is None:
            patient_id = conn.execute(_INSERT_PATIENT, {**pat, "attrs": rec.attrs}
                                      ).scalar_one()
        study_id = self._lookup(conn, "S", study_uid)[0]
        if study_id is None:
            study_id = conn.execute(_INSERT_STUDY, {
                **cols["STUDY"], "patient_fk": patient_id, "attrs": rec.attrs,
            }).scalar_one()
        series_id = self._lookup(conn, "E", series_uid)[0]
        if series_id is None:
            series_id = conn.execute(_INSERT_SERIES, {
                **cols["SERIES"], "study_fk": study_id, "attrs": rec.attrs,
            }).scalar_one()
        conn.execute(_INSERT_INSTANCE, {
            **cols["IMAGE"], "series_fk": series_id, "transfer_syntax": rec.transfer_syntax_uid,
            "path": rec.path, "size": rec.size, "attrs": rec.attrs})
        self._remember(("P", patient_key), (patient_id, None))
        self._remember(("S", study_uid), (study_id, patient_id))
        self._remember(("E", series_uid), (series_id, study_id))
        return Outcome("replaced" if obsolete else "stored", obsolete)

    def _lookup(self, conn: Connection, kind: str, key: Any) -> tuple[int | None, int | None]:
        """(row id, parent row id) of a patient ("P"), study ("S") or series
        ("E"), or (None, None) when it is not in the index."""
        cached = self._ids.get((kind, key))
        if cached is not None:
            return cached
        if kind == "P":
            row = conn.execute(_FIND_PATIENT, {"pid": key[0], "issuer": key[1]}).first()
        else:
            row = conn.execute(_FIND_STUDY if kind == "S" else _FIND_SERIES,
                               {"uid": key}).first()
        if row is None:
            return None, None
        found = (int(row[0]), row[1] if len(row) > 1 else None)
        self._remember((kind, key), found)
        return found

    def _conflict(self, conn: Connection, patient_key: tuple[str, str], study_uid: str,
                  series_uid: str) -> str:
        """Why the instance cannot join the hierarchy as it stands: its study
        belongs to another patient, or its series to another study ("" when
        it can)."""
        patient_id = self._lookup(conn, "P", patient_key)[0]
        study_id, study_patient = self._lookup(conn, "S", study_uid)
        if study_id is not None and study_patient != patient_id:
            return f"study {study_uid} belongs to another patient"
        series_id, series_study = self._lookup(conn, "E", series_uid)
        if series_id is not None and series_study != study_id:
            return f"series {series_uid} belongs to another study"
        return ""

    def _remember(self, key: tuple[str, Any], ids: tuple[int, int | None]) -> None:
        if len(self._ids) > _ID_CACHE:
            self._ids.clear()
        self._ids[key] = ids

    def _remove_instance(self, conn: Connection, instance_id: int, series_id: int) -> None:
        """Delete an instance row (a replaced duplicate), and the series,
        study and patient rows it leaves empty."""
        self._ids.clear()
        conn.execute(delete(instance).where(instance.c.id == instance_id))
        left = conn.execute(select(instance.c.id).where(instance.c.series_fk == series_id)
                            .limit(1)).first()
        if left is not None:
            return
        study_id = conn.execute(select(series.c.study_fk).where(series.c.id == series_id)
                                ).scalar_one()
        conn.execute(delete(series).where(series.c.id == series_id))
        if conn.execute(select(series.c.id).where(series.c.study_fk == study_id)
                        .limit(1)).first() is not None:
            return
        patient_id = conn.execute(select(study.c.patient_fk).where(study.c.id == study_id)
                                  ).scalar_one()
        conn.execute(delete(study).where(study.c.id == study_id))
        if conn.execute(select(study.c.id).where(study.c.patient_fk == patient_id)
                        .limit(1)).first() is None:
            conn.execute(delete(patient).where(patient.c.id == patient_id))

    def _write_entity(self, conn: Connection, rec: InstanceRecord) -> Outcome:
        assert rec.entity is not None
        table = ENTITY_TABLES[rec.entity]
        found = conn.execute(select(table.c.id, table.c.path)
                             .where(table.c.sop_uid == rec.sop_instance_uid)).first()
        values = {**rec.columns[rec.entity], "sop_uid": rec.sop_instance_uid,
                  "sop_class": rec.sop_class_uid, "transfer_syntax": rec.transfer_syntax_uid,
                  "path": rec.path, "size": rec.size, "attrs": rec.attrs}
        if found is None:
            conn.execute(insert(table).values(**values))
            return Outcome("stored")
        if self.duplicates != "replace":
            return Outcome("kept" if self.duplicates == "keep" else "rejected")
        conn.execute(update(table).where(table.c.id == found.id).values(**values))
        return Outcome("replaced", found.path)

    def write_one_by_one(self, records: Sequence[InstanceRecord]) -> list[Outcome | Exception]:
        """As :meth:`write`, a transaction per record: after a batch failed,
        this finds which record it was (e.g. another process stored the same
        UID meanwhile) and keeps the others."""
        out: list[Outcome | Exception] = []
        for rec in records:
            try:
                out.append(self.write([rec])[0])
            except IntegrityError:
                try:  # raced: the row is there now; decide again
                    out.append(self.write([rec])[0])
                except Exception as exc:
                    out.append(exc)
            except Exception as exc:
                out.append(exc)
        return out

    # -- recovery ------------------------------------------------------------

    def stored_path(self, sop_uid: str) -> str | None:
        """The file the index has for an instance (or a single-entity object),
        relative to the root; None when it has none."""
        with self.engine.connect() as conn:
            for table in (instance, *ENTITY_TABLES.values()):
                found = conn.execute(select(table.c.path).where(table.c.sop_uid == sop_uid)
                                     ).scalar()
                if found is not None:
                    return str(found)
        return None

    def counts(self) -> dict[str, int]:
        """Rows per table (for logs and tests)."""
        from sqlalchemy import func

        with self.engine.connect() as conn:
            return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                    for t in (patient, study, series, instance, *ENTITY_TABLES.values())}
