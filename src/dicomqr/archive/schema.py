"""The archive index: SQLAlchemy Core tables, and which DICOM keys live in columns.

Four tables follow the patient/study/series/instance hierarchy of the
Patient Root and Study Root models (PS3.4 C.6.1, C.6.2); three more hold
the single-entity models of Annexes X, HH and II (Color Palette, Defined
Procedure Protocol, Protocol Approval), one row per stored object.

Every key that queries commonly match on has a column of its own, indexed,
so that matching runs in SQL.  The other attributes of an entity are kept
too: ``attrs`` holds the entity's attributes (those of the first instance
received for it, bulk data left out) encoded as Explicit VR Little Endian,
so that any other key can still be matched (in Python, over the rows SQL
has narrowed down) and returned.

Column kinds (:class:`Col.kind`):

- ``text``: the value as a string, padding removed, multiple values joined
  by a backslash (as on the wire);
- ``pn``: Person Name, in four columns: the alphabetic group (``name``), the
  ideographic and phonetic groups (``name_i``, ``name_p``) and the
  alphabetic group case-folded (``name_fold``) for fuzzy semantic matching;
- ``date`` / ``time``: normalised (``YYYYMMDD``, ``HHMMSS.ffffff``) so that
  range matching is a string comparison; a time also keeps the value as
  received (``name_raw``), which is what a response returns;
- ``int``: IS/US/UL values as integers;
- ``multi`` and ``count``: computed attributes (Modalities in Study, SOP
  Classes in Study, Number of ... Related ...).  They have no column: the
  query computes them from the tables below (:mod:`dicomqr.archive.search`),
  so they are right by construction, and ingest writes one row per new
  entity and nothing else.

Text comparisons must be case-sensitive in both databases: PostgreSQL's
LIKE is; SQLite's is made so with ``PRAGMA case_sensitive_like`` on every
connection (:mod:`dicomqr.archive.index`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

__all__ = [
    "ENTITY_KEYS",
    "ENTITY_TABLES",
    "LEVEL_COLUMNS",
    "LEVEL_TABLES",
    "Col",
    "instance",
    "metadata",
    "patient",
    "series",
    "study",
]


@dataclass(frozen=True, slots=True)
class Col:
    """A DICOM attribute kept in a column (or columns, for ``pn``)."""

    keyword: str
    name: str
    kind: str


def _cols(*spec: tuple[str, str, str]) -> tuple[Col, ...]:
    return tuple(Col(k, n, kind) for k, n, kind in spec)


#: The keys held in columns, per level of the hierarchy.
LEVEL_COLUMNS: Final[dict[str, tuple[Col, ...]]] = {
    "PATIENT": _cols(
        ("PatientID", "patient_id", "text"),
        ("IssuerOfPatientID", "issuer", "text"),
        ("PatientName", "patient_name", "pn"),
        ("PatientBirthDate", "birth_date", "date"),
        ("PatientSex", "sex", "text"),
        ("NumberOfPatientRelatedStudies", "n_studies", "count"),
        ("NumberOfPatientRelatedSeries", "n_series", "count"),
        ("NumberOfPatientRelatedInstances", "n_instances", "count"),
    ),
    "STUDY": _cols(
        ("StudyInstanceUID", "study_uid", "text"),
        ("StudyDate", "study_date", "date"),
        ("StudyTime", "study_time", "time"),
        ("AccessionNumber", "accession", "text"),
        ("StudyID", "study_id", "text"),
        ("StudyDescription", "study_description", "text"),
        ("ReferringPhysicianName", "referring", "pn"),
        ("ModalitiesInStudy", "modalities", "multi"),
        ("SOPClassesInStudy", "sop_classes", "multi"),
        ("NumberOfStudyRelatedSeries", "n_series", "count"),
        ("NumberOfStudyRelatedInstances", "n_instances", "count"),
    ),
    "SERIES": _cols(
        ("SeriesInstanceUID", "series_uid", "text"),
        ("Modality", "modality", "text"),
        ("SeriesNumber", "series_number", "int"),
        ("SeriesDescription", "series_description", "text"),
        ("BodyPartExamined", "body_part", "text"),
        ("SeriesDate", "series_date", "date"),
        ("SeriesTime", "series_time", "time"),
        ("NumberOfSeriesRelatedInstances", "n_instances", "count"),
    ),
    "IMAGE": _cols(
        ("SOPInstanceUID", "sop_uid", "text"),
        ("SOPClassUID", "sop_class", "text"),
        ("InstanceNumber", "instance_number", "int"),
        ("ContentDate", "content_date", "date"),
        ("ContentTime", "content_time", "time"),
        ("NumberOfFrames", "frames", "int"),
    ),
}

metadata = MetaData()


def _columns(level: str) -> list[Column[object]]:
    out: list[Column[object]] = []
    for col in LEVEL_COLUMNS[level]:
        if col.kind == "pn":
            out += [Column(col.name, String, nullable=False, server_default=""),
                    Column(col.name + "_i", String, nullable=False, server_default=""),
                    Column(col.name + "_p", String, nullable=False, server_default=""),
                    Column(col.name + "_fold", String, nullable=False, server_default="")]
        elif col.kind == "time":
            # Normalised for matching, and as received for returning.
            out += [Column(col.name, String, nullable=False, server_default=""),
                    Column(col.name + "_raw", String, nullable=False, server_default="")]
        elif col.kind in ("int",):
            out.append(Column(col.name, Integer, nullable=True))
        elif col.kind in ("count", "multi"):
            continue  # computed by the query
        elif col.name in ("patient_id", "study_uid", "series_uid", "sop_uid", "issuer"):
            continue  # declared with their constraints below
        else:
            out.append(Column(col.name, String, nullable=False, server_default=""))
    return out


def _text_index(name: str, *cols: str) -> Index:
    # PostgreSQL: text_pattern_ops serves = and LIKE 'abc%' whatever the
    # database's collation (not < and >: range keys get plain indexes).
    return Index(name, *cols, postgresql_ops={c: "text_pattern_ops" for c in cols})


patient = Table(
    "patient", metadata,
    Column("id", Integer, primary_key=True),
    Column("patient_id", String, nullable=False),
    Column("issuer", String, nullable=False, server_default=""),
    *_columns("PATIENT"),
    Column("attrs", LargeBinary, nullable=False),
    UniqueConstraint("patient_id", "issuer", name="uq_patient"),
    _text_index("ix_patient_name", "patient_name"),
    # a name key without "=" is matched on each group: each has an index,
    # so that the OR of the three is a union of index lookups
    _text_index("ix_patient_name_i", "patient_name_i"),
    _text_index("ix_patient_name_p", "patient_name_p"),
    _text_index("ix_patient_name_fold", "patient_name_fold"),
    _text_index("ix_patient_id", "patient_id"),
    sqlite_autoincrement=True,
)

study = Table(
    "study", metadata,
    Column("id", Integer, primary_key=True),
    Column("patient_fk", Integer, ForeignKey("patient.id"), nullable=False, index=True),
    Column("study_uid", String, nullable=False, unique=True),
    *_columns("STUDY"),
    Column("attrs", LargeBinary, nullable=False),
    # dates and times are compared with >= and <= (ranges): a plain index,
    # which text_pattern_ops is not for PostgreSQL
    Index("ix_study_date", "study_date"),
    _text_index("ix_study_accession", "accession"),
    _text_index("ix_study_id", "study_id"),
    _text_index("ix_study_referring", "referring"),
    sqlite_autoincrement=True,
)

series = Table(
    "series", metadata,
    Column("id", Integer, primary_key=True),
    Column("study_fk", Integer, ForeignKey("study.id"), nullable=False, index=True),
    Column("series_uid", String, nullable=False, unique=True),
    *_columns("SERIES"),
    Column("attrs", LargeBinary, nullable=False),
    _text_index("ix_series_modality", "modality"),
    sqlite_autoincrement=True,
)

instance = Table(
    "instance", metadata,
    Column("id", Integer, primary_key=True),
    Column("series_fk", Integer, ForeignKey("series.id"), nullable=False, index=True),
    Column("sop_uid", String, nullable=False, unique=True),
    *_columns("IMAGE"),
    Column("transfer_syntax", String, nullable=False),
    Column("path", String, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("attrs", LargeBinary, nullable=False),
    # Ids are never reused (SQLite would reuse the largest after a delete):
    # a writer that remembers an id of a row gone meanwhile fails on the
    # foreign key instead of filing an instance under a stranger's row.
    sqlite_autoincrement=True,
)

#: Single-entity models (Annexes X, HH, II): the keys with a column of
#: their own (keyword, column); the rest are matched from ``attrs``.
ENTITY_KEYS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    # Table X.6-1
    "COLOR_PALETTE": (("ContentLabel", "content_label"),),
    # Table HH.6-1
    "DEFINED_PROCEDURE_PROTOCOL": (
        ("ProtocolName", "protocol_name"), ("InstanceCreationDate", "creation_date"),
        ("EquipmentModality", "modality")),
    # Table II.6-1
    "PROTOCOL_APPROVAL": (("InstanceCreationDate", "creation_date"),),
}


def _entity(name: str) -> Table:
    return Table(
        name.lower(), metadata,
        Column("id", Integer, primary_key=True),
        Column("sop_uid", String, nullable=False, unique=True),
        Column("sop_class", String, nullable=False),
        *(Column(col, String, nullable=False, server_default="") for _, col in ENTITY_KEYS[name]),
        Column("transfer_syntax", String, nullable=False),
        Column("path", String, nullable=False),
        Column("size", BigInteger, nullable=False),
        Column("attrs", LargeBinary, nullable=False),
    )


#: Single-entity models: their tables, by level name.
ENTITY_TABLES: Final[dict[str, Table]] = {name: _entity(name) for name in ENTITY_KEYS}

LEVEL_TABLES: Final[dict[str, Table]] = {
    "PATIENT": patient, "STUDY": study, "SERIES": series, "IMAGE": instance,
}
