"""Queries over the index: C-FIND matches and the instances a retrieve sends.

A C-FIND identifier is split into its keys; each key of an indexed column
becomes SQL (:mod:`dicomqr.archive.sql`) on the table of its level, the
rest is matched in Python (:mod:`dicomqr.query.matching`) against the
entity's kept attributes, over the rows SQL returned.  Results stream from
the database cursor: memory does not grow with the number of matches.

Levels and tables: the query level's table is joined to the tables of the
levels above it (a Study Root STUDY query reads the patient keys from the
patient table).  Hierarchical queries match the keys of the query level
and the unique keys above it (PS3.4 C.4.1.3.1.1); keys of lower levels are
returned empty.  Relational queries (C.4.1.3.2, when negotiated) also
match keys of lower levels: a study matches when one of its series (or
instances) matches them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from pydicom import Dataset
from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword
from sqlalchemy import ColumnElement, Select, Table, and_, exists, select

from ..query.identifier import validate
from ..query.matching import Kind, Term, compile_matcher, terms_of
from ..query.models import model_for
from ..services.codec import encode_elements
from ..uids import QRModel, qr_sop_class
from .computed import computed_column, computed_predicate, computed_value
from .index import Index
from .records import decode_attrs
from .schema import ENTITY_KEYS, ENTITY_TABLES, LEVEL_COLUMNS, LEVEL_TABLES, Col, instance
from .schema import patient as patient_t
from .schema import series as series_t
from .schema import study as study_t
from .sql import predicate

__all__ = ["Located", "Search"]

_ORDER: Final = ("PATIENT", "STUDY", "SERIES", "IMAGE")
_PARENT_FK: Final = {"STUDY": "patient_fk", "SERIES": "study_fk", "IMAGE": "series_fk"}
_COL_OF: Final[dict[str, tuple[str, Col]]] = {
    col.keyword: (level, col) for level, cols in LEVEL_COLUMNS.items() for col in cols
}
#: The TM column paired with a DA column for combined date-time matching.
_TIME_PAIR: Final = {"StudyDate": "StudyTime", "SeriesDate": "SeriesTime",
                     "ContentDate": "ContentTime"}
_COMPUTED: Final = ("count", "multi")
_QR_LEVEL: Final = 0x00080052
_SPECIFIC_CHARSET: Final = 0x00080005
_RETRIEVE_AE: Final = 0x00080054
_AVAILABILITY: Final = 0x00080056


@dataclass(frozen=True, slots=True)
class Located:
    """One instance a retrieve sends."""

    path: str
    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax_uid: str


def _db_levels(level: str) -> list[str]:
    """The tables a query at ``level`` reads: its own, then every level up
    (unique keys above are matched there; a Study Root STUDY query reads
    the patient keys from the patient table)."""
    return list(reversed(_ORDER[: _ORDER.index(level) + 1]))


_EMPTY: Final = "empty"
_ATTRS: Final = "attrs"


class _Plan:
    """One C-FIND at one level: SQL conditions, terms left to Python, and
    how each response key is filled."""

    def __init__(self, identifier: Dataset, sop_class: str, level: str, *,
                 relational: bool, fuzzy: bool, combined: bool, backend: str) -> None:
        self.backend = backend
        row = qr_sop_class(sop_class)
        assert row is not None
        self.model = row.model
        self.level = level
        self.identifier = identifier
        spec = validate(identifier, sop_class, relational=relational)
        self.keys: tuple[int, ...] = spec.keys
        self.levels = _db_levels(level)
        model = model_for(sop_class)
        assert model is not None
        self.tables = {lv: LEVEL_TABLES[lv] for lv in self.levels}
        self.where: list[ColumnElement[bool]] = []
        self.residual: list[Term] = []
        self.lower: dict[str, list[ColumnElement[bool]]] = {}
        # response key -> (level, Col) filled from a column, or _ATTRS (the
        # entity's kept attributes) or _EMPTY (a key of a lower level)
        self.fill: dict[int, tuple[str, Col] | str] = {}
        # computed attributes to select (level, Col), in order
        self.computed: dict[tuple[str, Col], None] = {}
        terms = terms_of(identifier, self.keys, fuzzy=fuzzy, combined_datetime=combined)
        # An empty unique key is not "unknown": a stored entity always has
        # its unique keys (C.2.2.1.1); matching one ignores empty values.
        unique = {k.keyword for lv in model.levels for k in model.unique_keys(lv.name)}
        by_tag = {t.tag: replace(t, match_unknown=False) if t.keyword in unique else t
                  for t in terms}
        for tag in self.keys:
            keyword = keyword_for_tag(tag)
            owner = _COL_OF.get(keyword)
            term = by_tag.get(tag)
            model_level = model.level_of(keyword)
            if owner is not None and owner[0] in self.tables:
                self.fill[tag] = owner
                if owner[1].kind in _COMPUTED:
                    self.computed[owner] = None
            elif (owner is not None and _ORDER.index(owner[0]) > _ORDER.index(level)) or (
                    model_level is not None and model_level in _ORDER
                    and _ORDER.index(model_level) > _ORDER.index(level)):
                self.fill[tag] = _EMPTY  # a key of a lower level: returned empty
                if (relational and term is not None and owner is not None
                        and owner[1].kind not in _COMPUTED):
                    self._lower(owner, term)
                continue
            else:
                self.fill[tag] = _ATTRS
            if term is None or term.kind is Kind.UNIVERSAL:
                continue
            found: tuple[ColumnElement[bool], bool] | None = None
            if owner is not None and owner[1].kind in _COMPUTED:
                cond = computed_predicate(owner[0], owner[1], term)
                found = None if cond is None else (cond, True)
            elif owner is not None and owner[0] in self.tables:
                lv, col = owner
                time_col = None
                if term.time_tag is not None:
                    pair = _COL_OF.get(_TIME_PAIR.get(keyword, ""))
                    time_col = pair[1] if pair is not None and pair[0] == lv else None
                found = predicate(self.tables[lv], col, term, time_col)
            if found is not None:
                self.where.append(found[0])
            if found is None or not found[1]:
                self.residual.append(term)
        self.matcher = compile_matcher(self.residual) if self.residual else None
        self.need_attrs = self.matcher is not None or any(
            v == _ATTRS for t, v in self.fill.items() if t not in (_RETRIEVE_AE, _AVAILABILITY))

    def _lower(self, owner: tuple[str, Col], term: Term) -> None:
        lv, col = owner
        found = predicate(LEVEL_TABLES[lv], col, replace(term, match_unknown=False))
        if found is not None:
            # a superset here would need the lower entity's attributes in
            # Python; the SQL part is what relational matching applies
            self.lower.setdefault(lv, []).append(found[0])

    def statement(self) -> Select[Any]:
        base = self.tables[self.level]
        cols: list[Any] = [base.c.id]
        if self.need_attrs:
            cols.append(base.c.attrs)
        for lv in self.levels:
            t = self.tables[lv]
            cols += [c.label(f"{lv}__{c.name}") for c in t.c if c.name not in ("attrs",)]
        for lv, col in self.computed:
            cols.append(computed_column(lv, col, self.backend).label(f"{lv}__{col.name}"))
        stmt = select(*cols).select_from(base)
        child = base
        for lv in self.levels[1:]:
            parent = self.tables[lv]
            fk = child.c[_PARENT_FK[_ORDER[_ORDER.index(lv) + 1]]]
            stmt = stmt.join(parent, fk == parent.c.id)
            child = parent
        conds = list(self.where)
        sub = self._exists()
        if sub is not None:
            conds.append(sub)
        if conds:
            stmt = stmt.where(and_(*conds))
        return stmt.order_by(base.c.id)

    def _exists(self) -> ColumnElement[bool] | None:
        """Relational: keys of lower levels as EXISTS over their tables."""
        if not self.lower:
            return None
        deepest = max(self.lower, key=_ORDER.index)
        start = _ORDER.index(self.level)
        chain = [_ORDER[i] for i in range(start + 1, _ORDER.index(deepest) + 1)]
        tables = [LEVEL_TABLES[lv] for lv in chain]
        q = select(tables[-1].c.id).select_from(tables[0])
        for parent_lv, child_lv in itertools.pairwise(chain):
            p, c = LEVEL_TABLES[parent_lv], LEVEL_TABLES[child_lv]
            q = q.join(c, c.c[_PARENT_FK[child_lv]] == p.c.id)
        conds: list[ColumnElement[bool]] = [
            tables[0].c[_PARENT_FK[chain[0]]] == self.tables[self.level].c.id]
        for lv in chain:
            conds += self.lower.get(lv, [])
        return exists(q.where(and_(*conds)))

    def response(self, row: Any, retrieve_ae: str,
                 transfer_syntax: str | None = None) -> Dataset | bytes | None:
        """The response identifier for ``row``, or None when the part of the
        match done in Python says no.  With ``transfer_syntax``, when every
        key comes from a column, the identifier is encoded straight from
        the row (no Dataset is built)."""
        if transfer_syntax is not None and not self.need_attrs:
            return encode_elements(self._triples(row, retrieve_ae), transfer_syntax)
        attrs: Dataset | None = None
        if self.need_attrs:
            attrs = decode_attrs(row.attrs)
        if self.matcher is not None:
            assert attrs is not None
            self._add_computed(attrs, row)
            if not self.matcher(attrs):
                return None
        ds = Dataset()
        for tag in self.keys:
            how = self.fill.get(tag)
            if tag == _RETRIEVE_AE:
                ds.add_new(tag, "AE", retrieve_ae)
            elif tag == _AVAILABILITY:
                ds.add_new(tag, "CS", "ONLINE")
            elif isinstance(how, tuple):
                ds.add_new(tag, *_value(tag, how[1], row, how[0]))
            elif how != _EMPTY and attrs is not None and tag in attrs:
                ds.add(attrs[tag])
            else:
                ds.add_new(tag, _vr(tag), None)
        ds.add_new(_QR_LEVEL, "CS", self.level)
        return ds

    def _triples(self, row: Any, retrieve_ae: str) -> list[tuple[int, str, Any]]:
        out: list[tuple[int, str, Any]] = [(_QR_LEVEL, "CS", self.level)]
        for tag in self.keys:
            how = self.fill.get(tag)
            if tag == _RETRIEVE_AE:
                out.append((tag, "AE", retrieve_ae))
            elif tag == _AVAILABILITY:
                out.append((tag, "CS", "ONLINE"))
            elif isinstance(how, tuple):
                out.append((tag, *_value(tag, how[1], row, how[0])))
            else:
                out.append((tag, _vr(tag), None))
        return out

    def _add_computed(self, attrs: Dataset, row: Any) -> None:
        for lv, col in self.computed:
            tag = int(tag_for_keyword(col.keyword) or 0)
            attrs.add_new(tag, *_value(tag, col, row, lv))


_VRS: dict[int, str] = {}


def _vr(tag: int) -> str:
    vr = _VRS.get(tag)
    if vr is None:
        try:
            vr = str(dictionary_VR(tag))
        except KeyError:
            vr = "UN"
        _VRS[tag] = vr
    return vr


def _value(tag: int, col: Col, row: Any, lv: str) -> tuple[str, Any]:
    """(VR, value) of a key filled from the columns of ``row``."""
    m = row._mapping
    key = f"{lv}__{col.name}"
    vr = _vr(tag)
    value: Any
    if col.kind in _COMPUTED:
        value = computed_value(col, m[key])
        if vr == "IS" and value is not None:
            value = str(value)
    elif col.kind == "pn":
        groups = [m[key], m[key + "_i"], m[key + "_p"]]
        while groups and not groups[-1]:
            groups.pop()
        value = "=".join(groups) or None
    elif col.kind == "time":
        value = m[key + "_raw"] or None
    elif col.kind == "int":
        value = m[key]
        if value is not None and vr == "IS":
            value = str(value)
    else:
        value = m[key] or None
    return vr, value


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
        plan = _Plan(identifier, sop_class, level, relational=relational, fuzzy=fuzzy,
                     combined=combined, backend=self.index.backend)
        with self.index.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=256).execute(
                plan.statement())
            for r in result:
                ds = plan.response(r, self.ae_title, transfer_syntax)
                if ds is not None:
                    yield ds

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
                        ds.add_new(tag, _vr(tag), None)
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
        last = _ORDER.index(level)
        for lv in _ORDER[: last + 1]:
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
