"""Matching terms as SQL: the part of PS3.4 C.2.2.2 the database does.

:func:`predicate` turns one :class:`~dicomqr.query.matching.Term` on an
indexed column into a SQLAlchemy condition.  The condition is either
*exact* (the rows it keeps are exactly the matches) or a *superset* (the
term is then also matched in Python over the rows it keeps), or there is
none (``None``: the term is matched in Python only).  It is never
narrower than the rule.

- Wildcards: ``*`` and ``?`` become ``%`` and ``_``; a literal ``%``,
  ``_`` or ``\\`` in the value is escaped, so that it matches only itself
  (``LIKE ... ESCAPE '\\'``).
- Person Name: the alphabetic, ideographic and phonetic groups have columns
  of their own, normalised as :func:`~dicomqr.query.values.pn_groups`
  does; a key without ``=`` matches when any group matches, one with ``=``
  group by group (an empty key group matches anything).  Fuzzy semantic
  matching compares the folded alphabetic group (a superset when the other
  groups are not empty).
- Dates and times are normalised in the columns (``YYYYMMDD``,
  ``HHMMSS.ffffff``), so a single value or a range is an interval test
  on the index: a value of partial precision covers its whole interval
  (the term's ``low``/``high``).
- Unknown values: an entity whose attribute is empty matches any key value
  when the term says so (``match_unknown``, PS3.4 C.2.2.1.2), so the
  condition keeps empty columns too.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, FromClause, and_, func, literal, or_

from ..query.matching import Kind, Term
from .schema import Col

__all__ = ["Condition", "like_pattern", "predicate"]

#: (SQL condition, exact); exact False: the term is matched in Python too.
Condition = tuple[ColumnElement[bool], bool]


def like_pattern(pattern: str) -> str:
    """A DICOM wildcard pattern as a LIKE pattern with ``\\`` as escape."""
    out = []
    for ch in pattern:
        if ch in "\\%_":
            out.append("\\" + ch)
        elif ch == "*":
            out.append("%")
        elif ch == "?":
            out.append("_")
        else:
            out.append(ch)
    return "".join(out)


def _match(column: Any, value: str, wild: bool) -> ColumnElement[bool]:
    if wild and ("*" in value or "?" in value):
        return column.like(like_pattern(value), escape="\\")  # type: ignore[no-any-return]
    return column == value  # type: ignore[no-any-return]


def _or_unknown(cond: ColumnElement[bool], column: Any, term: Term,
                empty: Any = "") -> ColumnElement[bool]:
    if not term.match_unknown:
        return cond
    unknown = column.is_(None) if empty is None else column == empty
    return or_(cond, unknown)


def _text(column: Any, term: Term) -> ColumnElement[bool] | None:
    if term.kind is Kind.SINGLE:
        cond = column == term.values[0]
    elif term.kind is Kind.LIST:
        cond = column.in_(term.values)
    elif term.kind is Kind.WILDCARD:
        cond = column.like(like_pattern(term.values[0]), escape="\\")
    elif term.kind is Kind.EMPTY:
        return column == ""  # type: ignore[no-any-return]
    else:
        return None
    return _or_unknown(cond, column, term)


def _pn(table: FromClause, name: str, term: Term) -> Condition | None:
    a, i, p = (table.c[name], table.c[name + "_i"], table.c[name + "_p"])
    if term.kind is Kind.EMPTY:
        return and_(a == "", i == "", p == ""), True
    if term.kind not in (Kind.SINGLE, Kind.WILDCARD):
        return None
    value = term.values[0]
    wild = term.kind is Kind.WILDCARD
    # unknown: no group at all.  The other two groups are tested through
    # coalesce() so that the planner looks this up by the alphabetic group's
    # index (few names lack it) rather than by theirs (most names do).
    unknown = (and_(a == "", func.coalesce(i, "") == "", func.coalesce(p, "") == "")
               if term.match_unknown else None)
    if term.fold_case:
        if "=" in value:
            return None
        cond: ColumnElement[bool] = or_(_match(table.c[name + "_fold"], value, wild),
                                        i != "", p != "")
        exact = False
    elif "=" not in value:
        cond, exact = or_(*(_match(c, value, wild) for c in (a, i, p))), True
    else:
        parts = [_match(c, g, wild) for c, g in zip((a, i, p), value.split("="), strict=False)
                 if g and g != "*"]
        cond, exact = (and_(*parts) if parts else literal(True)), True
    return (or_(cond, unknown) if unknown is not None else cond), exact


def _int(column: Any, term: Term) -> ColumnElement[bool] | None:
    if term.kind not in (Kind.SINGLE, Kind.LIST):
        return None
    try:
        values = [int(v) for v in term.values]
    except ValueError:
        return None  # e.g. "5.0": Python compares numbers
    cond = column == values[0] if len(values) == 1 else column.in_(values)
    return _or_unknown(cond, column, term, None)


def _interval(column: Any, term: Term) -> ColumnElement[bool] | None:
    """SINGLE or RANGE on a normalised DA/TM column, by the term's bounds."""
    if term.kind is Kind.EMPTY:
        return column == ""  # type: ignore[no-any-return]
    if term.kind not in (Kind.SINGLE, Kind.RANGE) or (term.low is None and term.high is None):
        return None
    parts = []
    if term.low is not None:
        parts.append(column >= term.low)
    if term.high is not None:
        parts.append(column <= term.high)
    cond = and_(*parts, column != "")
    return _or_unknown(cond, column, term)


def _date_time(date: Any, time: Any, term: Term) -> ColumnElement[bool] | None:
    """Combined date-time range matching (a DA key and its TM partner as one
    DT range): the bounds are compared with date + time (a missing time
    counts as midnight); the date column alone narrows on its index."""
    if term.kind not in (Kind.SINGLE, Kind.RANGE) or (term.low is None and term.high is None):
        return None
    combined = date + func.coalesce(func.nullif(time, ""), "000000.000000")
    parts = [date != ""]
    if term.low is not None:
        parts += [date >= term.low[:8], combined >= term.low]
    if term.high is not None:
        parts += [date <= term.high[:8], combined <= term.high]
    return _or_unknown(and_(*parts), date, term)


def predicate(table: FromClause, col: Col, term: Term,
              time_col: Col | None = None) -> Condition | None:
    """The SQL condition for ``term`` on the column(s) of ``col``, or None
    when SQL cannot say it (the term is then matched in Python)."""
    if term.kind is Kind.UNIVERSAL:
        return None
    if col.kind == "pn":
        return _pn(table, col.name, term)
    column = table.c[col.name]
    cond: ColumnElement[bool] | None
    if col.kind == "text":
        cond = _text(column, term)
    elif col.kind == "int":
        cond = _int(column, term)
    elif col.kind == "date" and term.time_tag is not None:
        cond = None if time_col is None else _date_time(column, table.c[time_col.name], term)
    elif col.kind in ("date", "time"):
        cond = _interval(column, term)
    else:
        cond = None
    return None if cond is None else (cond, True)
