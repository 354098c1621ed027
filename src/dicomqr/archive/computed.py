"""Computed attributes, worked out by the query from the index tables.

Number of Patient/Study/Series Related Studies/Series/Instances, Modalities
in Study and SOP Classes in Study (PS3.4 C.6.1.1, C.6.2.1) are not stored:
each is a correlated subquery, so they are right however instances came
and went, and ingest does not update counters.  Matching Modalities in
Study or SOP Classes in Study is an EXISTS over the series or instances of
the study (any of its values matches, C.2.2.2: multi-valued attributes).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import (
    ColumnElement,
    ScalarSelect,
    Table,
    distinct,
    exists,
    func,
    literal,
    or_,
    select,
)

from ..query.matching import Term
from .schema import Col, instance, patient, series, study
from .sql import predicate

__all__ = ["computed_column", "computed_predicate", "computed_value"]


def _aggregate(column: Any, backend: str) -> Any:
    """Distinct values joined by ``,`` (split again by :func:`computed_value`)."""
    if backend == "postgresql":
        return func.string_agg(distinct(column), literal(","))
    return func.group_concat(distinct(column))


def computed_column(level: str, col: Col, backend: str) -> ScalarSelect[Any]:
    """The correlated subquery computing ``col`` for a row of ``level``."""
    st, se, ins = study.alias("c_study"), series.alias("c_series"), instance.alias("c_instance")
    name = (level, col.name)
    q: Any
    if name == ("PATIENT", "n_studies"):
        q = select(func.count(st.c.id)).where(st.c.patient_fk == patient.c.id)
        outer: Table = patient
    elif name == ("PATIENT", "n_series"):
        q = (select(func.count(se.c.id)).select_from(se).join(st, se.c.study_fk == st.c.id)
             .where(st.c.patient_fk == patient.c.id))
        outer = patient
    elif name == ("PATIENT", "n_instances"):
        q = (select(func.count(ins.c.id)).select_from(ins)
             .join(se, ins.c.series_fk == se.c.id).join(st, se.c.study_fk == st.c.id)
             .where(st.c.patient_fk == patient.c.id))
        outer = patient
    elif name == ("STUDY", "n_series"):
        q = select(func.count(se.c.id)).where(se.c.study_fk == study.c.id)
        outer = study
    elif name == ("STUDY", "n_instances"):
        q = (select(func.count(ins.c.id)).select_from(ins).join(se, ins.c.series_fk == se.c.id)
             .where(se.c.study_fk == study.c.id))
        outer = study
    elif name == ("STUDY", "modalities"):
        q = select(_aggregate(se.c.modality, backend)).where(se.c.study_fk == study.c.id,
                                                             se.c.modality != "")
        outer = study
    elif name == ("STUDY", "sop_classes"):
        q = (select(_aggregate(ins.c.sop_class, backend)).select_from(ins)
             .join(se, ins.c.series_fk == se.c.id).where(se.c.study_fk == study.c.id))
        outer = study
    elif name == ("SERIES", "n_instances"):
        q = select(func.count(ins.c.id)).where(ins.c.series_fk == series.c.id)
        outer = series
    else:
        raise KeyError(name)
    return q.correlate(outer).scalar_subquery()  # type: ignore[no-any-return]


def computed_predicate(level: str, col: Col, term: Term) -> ColumnElement[bool] | None:
    """SQL for matching Modalities in Study / SOP Classes in Study: the study
    has a series (an instance) whose value matches.  None for the others
    (numbers are matched on the computed value)."""
    se, ins = series.alias("m_series"), instance.alias("m_instance")
    unknown = term.match_unknown
    # The values of the list are matched; the list as a whole is unknown
    # (and then matches, C.2.2.1.2) only when no series has a modality.
    term = replace(term, match_unknown=False)
    if (level, col.name) == ("STUDY", "modalities"):
        found = predicate(se, Col(col.keyword, "modality", "text"), term)
        if found is None:
            return None
        cond: ColumnElement[bool] = exists(
            select(se.c.id).where(se.c.study_fk == study.c.id, found[0]).correlate(study))
        if unknown:
            known = exists(select(se.c.id).where(se.c.study_fk == study.c.id, se.c.modality != "")
                           .correlate(study))
            cond = or_(cond, ~known)
        return cond
    if (level, col.name) == ("STUDY", "sop_classes"):
        found = predicate(ins, Col(col.keyword, "sop_class", "text"), term)
        if found is None:
            return None
        return exists(select(ins.c.id).select_from(ins).join(se, ins.c.series_fk == se.c.id)
                      .where(se.c.study_fk == study.c.id, found[0]).correlate(study))
    return None


def computed_value(col: Col, value: Any) -> Any:
    """A computed column's value as the attribute's value."""
    if col.kind == "multi":
        if not value:
            return None
        return sorted(set(str(value).split(",")))
    return int(value or 0)
