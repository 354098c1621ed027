"""The plan of one C-FIND over the index: SQL conditions, what is left to
Python, and how each response key is filled.

Levels and tables: the query level's table is joined to the tables of the
levels above it (a Study Root STUDY query reads the patient keys from the
patient table).  Hierarchical queries match the keys of the query level
and the unique keys above it (PS3.4 C.4.1.3.1.1); keys of lower levels are
returned empty.  Relational queries (C.4.1.3.2, when negotiated) also
match keys of lower levels: an entity matches when one of its series (or
instances) matches them, in SQL (EXISTS) for indexed columns and in Python
over the lower entities' kept attributes for the rest.  Keys of two lower
levels (a series key and an instance key in one STUDY query) are each
matched by some entity of their level: the SQL part jointly, the Python
part level by level.

Attributes that are not keys of the model ("all other attributes at this
level", PS3.4 Table C.6-1 ...) belong to the level of their information
entity (:mod:`dicomqr.query.entities`); an attribute of unknown entity
counts as one of the query level.  Without a column, they are matched on
the attributes kept for the entity: those of the first instance stored for
it.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any, Final

from pydicom import Dataset
from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword
from sqlalchemy import ColumnElement, Connection, Select, and_, bindparam, exists, select

from ..query.entities import entity_of
from ..query.identifier import validate
from ..query.matching import Kind, Term, compile_matcher, terms_of
from ..query.models import InformationModel, model_for
from ..services.codec import encode_elements
from ..uids import qr_sop_class
from .computed import computed_column, computed_predicate, computed_value
from .records import decode_attrs
from .schema import LEVEL_COLUMNS, LEVEL_TABLES, Col
from .sql import predicate

__all__ = ["ORDER", "FindPlan", "vr_of"]

ORDER: Final = ("PATIENT", "STUDY", "SERIES", "IMAGE")
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


def _db_levels(level: str) -> list[str]:
    """The tables a query at ``level`` reads: its own, then every level up
    (unique keys above are matched there; a Study Root STUDY query reads
    the patient keys from the patient table)."""
    return list(reversed(ORDER[: ORDER.index(level) + 1]))


_EMPTY: Final = "empty"
_ATTRS: Final = "attrs"


class FindPlan:
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
        # relational: conditions on lower levels (SQL), terms left to Python
        # per lower level, and computed attributes those terms need
        self.lower: dict[str, list[ColumnElement[bool]]] = {}
        self.lower_residual: dict[str, list[Term]] = {}
        self.lower_computed: dict[str, dict[Col, None]] = {}
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
            model_level = model.level_of(keyword) or _entity_level(model, keyword)
            if owner is not None and owner[0] in self.tables:
                self.fill[tag] = owner
                if owner[1].kind in _COMPUTED:
                    self.computed[owner] = None
            elif (owner is not None and ORDER.index(owner[0]) > ORDER.index(level)) or (
                    model_level is not None and model_level in ORDER
                    and ORDER.index(model_level) > ORDER.index(level)):
                self.fill[tag] = _EMPTY  # a key of a lower level: returned empty
                if relational and term is not None and term.kind is not Kind.UNIVERSAL:
                    lower = owner[0] if owner is not None else str(model_level)
                    self._lower(lower, owner[1] if owner is not None else None, term)
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
                found = predicate(self.tables[lv], col, term, _time_col(lv, term))
            if found is not None:
                self.where.append(found[0])
            if found is None or not found[1]:
                self.residual.append(term)
        self.matcher = compile_matcher(self.residual) if self.residual else None
        self.lower_checks = [(self._lower_statement(lv), compile_matcher(terms),
                              tuple(self.lower_computed.get(lv, ())))
                             for lv, terms in sorted(self.lower_residual.items(),
                                                     key=lambda kv: ORDER.index(kv[0]))]
        self.need_attrs = self.matcher is not None or any(
            v == _ATTRS for t, v in self.fill.items() if t not in (_RETRIEVE_AE, _AVAILABILITY))

    def _lower(self, lv: str, col: Col | None, term: Term) -> None:
        """A key of a lower level (relational): SQL where its column says it
        exactly, else (also) Python over the lower entities' attributes."""
        found = None
        if col is not None and col.kind in _COMPUTED:
            self.lower_computed.setdefault(lv, {})[col] = None
        elif col is not None:
            found = predicate(LEVEL_TABLES[lv], col, term, _time_col(lv, term))
        if found is not None:
            self.lower.setdefault(lv, []).append(found[0])
        if found is None or not found[1]:
            self.lower_residual.setdefault(lv, []).append(term)

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
            fk = child.c[_PARENT_FK[ORDER[ORDER.index(lv) + 1]]]
            stmt = stmt.join(parent, fk == parent.c.id)
            child = parent
        conds = list(self.where)
        sub = self._exists()
        if sub is not None:
            conds.append(sub)
        if conds:
            stmt = stmt.where(and_(*conds))
        # "id + 0": ordered by id, but without making the planner walk the
        # table in id order when an index of a condition narrows it (SQLite
        # does that without statistics)
        return stmt.order_by(base.c.id + 0)

    def _exists(self) -> ColumnElement[bool] | None:
        """Relational: keys of lower levels as EXISTS over their tables."""
        return _exists_below(self.level, self.lower, self.tables[self.level])

    def _lower_statement(self, lv: str) -> Select[Any]:
        """The kept attributes (and computed ones) of the entities of level
        ``lv`` below one row of the query level, that pass the SQL part."""
        start = ORDER.index(self.level)
        chain = [ORDER[i] for i in range(start + 1, ORDER.index(lv) + 1)]
        tables = [LEVEL_TABLES[name] for name in chain]
        cols: list[Any] = [tables[-1].c.attrs]
        cols += [computed_column(lv, col, self.backend).label(f"{lv}__{col.name}")
                 for col in self.lower_computed.get(lv, ())]
        q = select(*cols).select_from(tables[0])
        for parent_lv, child_lv in itertools.pairwise(chain):
            parent, child = LEVEL_TABLES[parent_lv], LEVEL_TABLES[child_lv]
            q = q.join(child, child.c[_PARENT_FK[child_lv]] == parent.c.id)
        conds: list[ColumnElement[bool]] = [
            tables[0].c[_PARENT_FK[chain[0]]] == bindparam("parent")]
        for name in chain:
            conds += self.lower.get(name, [])
        below = _exists_below(lv, self.lower, tables[-1])
        if below is not None:  # the SQL keys of deeper levels: on the same path
            conds.append(below)
        return q.where(and_(*conds))

    def _lower_match(self, row_id: int, conn: Connection) -> bool:
        """Relational, Python part: for each lower level with such keys, one
        of the row's entities there matches them."""
        for stmt, matcher, computed in self.lower_checks:
            for r in conn.execute(stmt, {"parent": row_id}):
                attrs = decode_attrs(r.attrs)
                for col in computed:
                    tag = int(tag_for_keyword(col.keyword) or 0)
                    attrs.add_new(tag, *_value(tag, col, r, self._level_of(col)))
                if matcher(attrs):
                    break
            else:
                return False
        return True

    @staticmethod
    def _level_of(col: Col) -> str:
        return next(lv for lv, cols in LEVEL_COLUMNS.items() if col in cols)

    def response(self, row: Any, retrieve_ae: str, transfer_syntax: str | None = None,
                 conn: Connection | None = None) -> Dataset | bytes | None:
        """The response identifier for ``row``, or None when the part of the
        match done in Python says no.  With ``transfer_syntax``, when every
        key comes from a column, the identifier is encoded straight from
        the row (no Dataset is built).  ``conn`` reads lower levels for a
        relational query's Python part."""
        if self.lower_checks and (conn is None or not self._lower_match(row.id, conn)):
            return None
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
                ds.add_new(tag, vr_of(tag), None)
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
                out.append((tag, vr_of(tag), None))
        return out

    def _add_computed(self, attrs: Dataset, row: Any) -> None:
        for lv, col in self.computed:
            tag = int(tag_for_keyword(col.keyword) or 0)
            attrs.add_new(tag, *_value(tag, col, row, lv))


_VRS: dict[int, str] = {}


def _exists_below(level: str, conds_of: dict[str, list[ColumnElement[bool]]],
                  table: Any) -> ColumnElement[bool] | None:
    """EXISTS over the levels below ``level`` (whose row is ``table``) with
    the conditions given for them, all on one path down (None: none)."""
    deeper = [lv for lv in conds_of if ORDER.index(lv) > ORDER.index(level)]
    if not deeper:
        return None
    deepest = max(deeper, key=ORDER.index)
    chain = [ORDER[i] for i in range(ORDER.index(level) + 1, ORDER.index(deepest) + 1)]
    tables = [LEVEL_TABLES[lv] for lv in chain]
    q = select(tables[-1].c.id).select_from(tables[0])
    for parent_lv, child_lv in itertools.pairwise(chain):
        parent, child = LEVEL_TABLES[parent_lv], LEVEL_TABLES[child_lv]
        q = q.join(child, child.c[_PARENT_FK[child_lv]] == parent.c.id)
    conds: list[ColumnElement[bool]] = [tables[0].c[_PARENT_FK[chain[0]]] == table.c.id]
    for lv in chain:
        conds += conds_of.get(lv, [])
    return exists(q.where(and_(*conds)))


def _entity_level(model: InformationModel, keyword: str) -> str | None:
    """The level of an attribute that is not a key of the model ("all other
    attributes at this level"), from the IE it belongs to; None: unknown."""
    entity = entity_of(keyword)
    if entity is None or entity in model.level_names:
        return entity
    if entity == "PATIENT":  # Study Root: the patient attributes are STUDY's
        return model.level_names[0]
    return entity  # below the model's levels (Patient/Study Only): never matched


def _time_col(lv: str, term: Term) -> Col | None:
    """The TM column paired with a DA key's column, for a combined date-time term."""
    if term.time_tag is None:
        return None
    pair = _COL_OF.get(_TIME_PAIR.get(term.keyword, ""))
    return pair[1] if pair is not None and pair[0] == lv else None


def vr_of(tag: int) -> str:
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
    vr = vr_of(tag)
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


