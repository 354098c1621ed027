"""Queries over the index: C-FIND matches and the instances a retrieve sends.

A C-FIND identifier is split into its keys (:class:`~dicomqr.archive.plan.FindPlan`);
each key of an indexed column becomes SQL (:mod:`dicomqr.archive.sql`) on
the table of its level, the rest is matched in Python
(:mod:`dicomqr.query.matching`) against the entity's kept attributes, over
the rows SQL returned.  Results stream from the database cursor: memory
does not grow with the number of matches.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final

from pydicom import Dataset
from sqlalchemy import ColumnElement, Table, and_, select

from ..query.identifier import validate
from ..query.matching import Kind, Term, compile_matcher, terms_of
from ..uids import QRModel, qr_sop_class
from .index import Index
from .plan import ORDER, FindPlan, vr_of
from .records import decode_attrs
from .schema import ENTITY_KEYS, ENTITY_TABLES, Col, instance
from .schema import patient as patient_t
from .schema import series as series_t
from .schema import study as study_t
from .sql import predicate

__all__ = ["Located", "Search"]

_RETRIEVE_AE: Final = 0x00080054


@dataclass(frozen=True, slots=True)
class Located:
    """One instance a retrieve sends."""

    path: str
    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax_uid: str


class Search:
    """Queries of one archive's index (used from handler threads)."""

    def __init__(self, index: Index, ae_title: str) -> None:
        self.index = index
        self.ae_title = ae_title

    def find(self, identifier: Dataset, sop_class: str, level: str, *,
             relational: bool = False, fuzzy: bool = False, combined: bool = False,
             transfer_syntax: str | None = None) -> Iterator[Dataset | bytes]:
        """The C-FIND responses' identifiers, as they are read: Datasets, or
        with ``transfer_syntax`` bytes encoded in it where that is quicker."""
        row = qr_sop_class(sop_class)
        assert row is not None
        if row.model in (QRModel.COLOR_PALETTE, QRModel.DEFINED_PROCEDURE_PROTOCOL,
                         QRModel.PROTOCOL_APPROVAL):
            yield from self._find_entity(identifier, sop_class, row.model.name, fuzzy=fuzzy)
            return
        plan = FindPlan(identifier, sop_class, level, relational=relational, fuzzy=fuzzy,
                        combined=combined, backend=self.index.backend)
        with self.index.engine.connect() as conn:
            # a second connection for the lower levels of a relational query,
            # while the first one streams the rows
            lower = self.index.engine.connect() if plan.lower_checks else None
            try:
                result = conn.execution_options(stream_results=True, yield_per=256).execute(
                    plan.statement())
                for r in result:
                    ds = plan.response(r, self.ae_title, transfer_syntax, lower)
                    if ds is not None:
                        yield ds
            finally:
                if lower is not None:
                    lower.close()

    def _find_entity(self, identifier: Dataset, sop_class: str, name: str, *,
                     fuzzy: bool) -> Iterator[Dataset]:
        table = ENTITY_TABLES[name]
        spec = validate(identifier, sop_class)
        # Worklist-style matching (K.2.2.1.1.1): an empty attribute matches
        # only universal keys.
        terms = terms_of(identifier, spec.keys, fuzzy=fuzzy, match_unknown=False)
        columns = dict(ENTITY_KEYS[name])
        where: list[ColumnElement[bool]] = []
        residual: list[Term] = []
        for term in terms:
            column = columns.get(term.keyword)
            found = None
            if term.keyword == "SOPInstanceUID":
                found = predicate(table, Col(term.keyword, "sop_uid", "text"), term)
            elif term.keyword == "SOPClassUID":
                found = predicate(table, Col(term.keyword, "sop_class", "text"), term)
            elif column is not None:
                kind = "date" if term.keyword.endswith("Date") else "text"
                found = predicate(table, Col(term.keyword, column, kind), term)
            if found is not None:
                where.append(found[0])
            if (found is None or not found[1]) and term.kind is not Kind.UNIVERSAL:
                residual.append(term)
        matcher = compile_matcher(residual) if residual else None
        stmt = select(table.c.attrs).order_by(table.c.id)
        if where:
            stmt = stmt.where(and_(*where))
        with self.index.engine.connect() as conn:
            for r in conn.execute(stmt):
                attrs = decode_attrs(r.attrs)
                if matcher is not None and not matcher(attrs):
                    continue
                ds = Dataset()
                for tag in spec.keys:
                    if tag in attrs:
                        ds.add(attrs[tag])
                    elif tag == _RETRIEVE_AE:
                        ds.add_new(tag, "AE", self.ae_title)
                    else:
                        ds.add_new(tag, vr_of(tag), None)
                yield ds

    # -- retrieves -------------------------------------------------------

    def locate(self, identifier: Dataset, sop_class: str, level: str, *,
               relational: bool = False) -> list[Located]:
        """The instances a C-GET or C-MOVE at ``level`` sends, in order."""
        row = qr_sop_class(sop_class)
        assert row is not None
        if row.model in (QRModel.COLOR_PALETTE, QRModel.DEFINED_PROCEDURE_PROTOCOL,
                         QRModel.PROTOCOL_APPROVAL):
            return self._locate_entity(identifier, ENTITY_TABLES[row.model.name])
        if level == "FRAME":
            level = "IMAGE"
        conds: list[ColumnElement[bool]] = []
        tables: dict[str, Table] = {"IMAGE": instance, "SERIES": series_t, "STUDY": study_t,
                                    "PATIENT": patient_t}
        uid_cols = {"PATIENT": ("PatientID", "patient_id"),
                    "STUDY": ("StudyInstanceUID", "study_uid"),
                    "SERIES": ("SeriesInstanceUID", "series_uid"),
                    "IMAGE": ("SOPInstanceUID", "sop_uid")}
        last = ORDER.index(level)
        for lv in ORDER[: last + 1]:
            keyword, column = uid_cols[lv]
            values = _uids(identifier, keyword)
            if values is None:
                continue
            conds.append(tables[lv].c[column].in_(values) if len(values) > 1
                         else tables[lv].c[column] == values[0])
        if not conds:
            return []
        stmt = (select(instance.c.path, instance.c.sop_class, instance.c.sop_uid,
                       instance.c.transfer_syntax)
                .select_from(instance)
                .join(series_t, instance.c.series_fk == series_t.c.id)
                .join(study_t, series_t.c.study_fk == study_t.c.id)
                .join(patient_t, study_t.c.patient_fk == patient_t.c.id)
                .where(and_(*conds))
                .order_by(study_t.c.id, series_t.c.series_number, series_t.c.id,
                          instance.c.instance_number, instance.c.id))
        with self.index.engine.connect() as conn:
            return [Located(self.index.path(r.path), r.sop_class, r.sop_uid, r.transfer_syntax)
                    for r in conn.execute(stmt)]

    def _locate_entity(self, identifier: Dataset, table: Table) -> list[Located]:
        values = _uids(identifier, "SOPInstanceUID")
        if not values:
            return []
        stmt = select(table.c.path, table.c.sop_class, table.c.sop_uid,
                      table.c.transfer_syntax).where(table.c.sop_uid.in_(values))
        with self.index.engine.connect() as conn:
            return [Located(self.index.path(r.path), r.sop_class, r.sop_uid, r.transfer_syntax)
                    for r in conn.execute(stmt)]


def _uids(identifier: Dataset, keyword: str) -> Sequence[str] | None:
    """The value(s) of a unique key, or None when absent/empty."""
    if keyword not in identifier:
        return None
    value = identifier[keyword].value
    if value is None or value == "":
        return None
    values = list(value) if not isinstance(value, str) else value.split("\\")
    out = [str(v).strip(" \x00") for v in values if str(v).strip(" \x00")]
    return out or None
