"""Value normalisation for attribute matching: dates, times, names, padding.

Pure functions shared by :mod:`dicomqr.query.matching` and by the archive,
which stores the same normalised forms in its index columns so that SQL can
compare them as plain strings.  Formats are those of PS3.5 Table 6.2-1.

- DA ``YYYYMMDD``; the ACR-NEMA form ``YYYY.MM.DD`` is read (PS3.5 Table
  6.2-1 note: "not compliant", but old archives hold it).
- TM ``HH[MM[SS[.F{1,6}]]]`` (partial precision allowed); the legacy
  ``HH:MM:SS.frac`` form is read.  Normalised: ``HHMMSS.ffffff``.
- DT ``YYYY[MM[DD[HH[MM[SS[.F{1,6}]]]]]][&ZZXX]``.  Normalised:
  ``YYYYMMDDHHMMSS.ffffff`` in UTC when an offset applies.  "The offset
  from Universal Coordinated Time, if present in the Value of the
  Attribute, shall be taken into account for the purposes of the match"
  (PS3.4 C.2.2.2.5): a value's own ``&ZZXX`` wins, else the ``offset``
  argument (the dataset's Timezone Offset From UTC (0008,0201)); with
  neither, the value is taken as it stands, which is exact when the
  archive's local time is UTC and otherwise treats all unqualified values
  as being in one (unknown) zone.

A partial value stands for an interval: its *bounds* are the first and the
last instant it covers at microsecond resolution (``'12'`` is 12:00:00 to
12:59:59.999999; ``'202002'`` is 1-29 February 2020).  A normalised value
is the lower bound.  All forms are fixed width, so string order is time
order.

Padding (PS3.5 Table 6.2-1): for AE, CS, SH, LO, PN, AS, DA, TM, DT, IS
and DS leading and trailing spaces are not significant; for ST, LT, UT, UC
and UR only trailing spaces are (leading spaces are part of the text); UI
is padded with a trailing NUL.  Person names: trailing empty components
and groups and their delimiters may be omitted (PS3.5 6.2.1), so
``'Doe^John^^'`` and ``'Doe^John'`` are the same name.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Final

from pydicom.dataset import Dataset
from pydicom.valuerep import PersonName

__all__ = [
    "as_list",
    "clean",
    "combine_da_tm",
    "da_bounds",
    "dt_bounds",
    "element_value",
    "fold_text",
    "normalize_da",
    "normalize_dt",
    "normalize_pn",
    "normalize_tm",
    "pn_groups",
    "present_values",
    "split_range",
    "text_of",
    "tm_bounds",
    "to_number",
    "tz_of",
]

_STRIP_BOTH: Final = frozenset({"AE", "CS", "SH", "LO", "PN", "AS", "DA", "TM", "DT", "IS", "DS"})
_STRIP_TRAILING: Final = frozenset({"ST", "LT", "UT", "UC", "UR"})

_DA: Final = re.compile(r"([0-9]{4})(?:([0-9]{2})([0-9]{2})?)?", re.ASCII)
_DA_LEGACY: Final = re.compile(r"([0-9]{4})\.([0-9]{2})\.([0-9]{2})", re.ASCII)
_TM: Final = re.compile(r"([0-9]{2})(?:([0-9]{2})(?:([0-9]{2})(?:\.([0-9]{0,6}))?)?)?", re.ASCII)
_TM_LEGACY: Final = re.compile(r"[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{0,6})?)?", re.ASCII)
_DT_TEXT: Final = r"[0-9]{4}(?:[0-9]{2}){0,5}(?:\.[0-9]{0,6})?(?:[+-][0-9]{4})?"
_DT: Final = re.compile(
    r"([0-9]{4})([0-9]{2})?([0-9]{2})?([0-9]{2})?([0-9]{2})?([0-9]{2})?"
    r"(?:\.([0-9]{0,6}))?([+-][0-9]{4})?",
    re.ASCII,
)
_DT_RANGE: Final = re.compile(rf"({_DT_TEXT})?-({_DT_TEXT})?", re.ASCII)
_NUMERIC: Final = frozenset({"IS", "DS", "US", "UL", "SS", "SL", "SV", "UV", "FL", "FD", "AT"})
_TZ: Final = re.compile(r"[+-](?:0[0-9]|1[0-4])[0-5][0-9]", re.ASCII)
_TIMEZONE_OFFSET_FROM_UTC: Final = 0x00080201
_LOWEST: Final = "00010101000000.000000"
_HIGHEST: Final = "99991231235959.999999"


def clean(vr: str, value: str) -> str:
    """``value`` without the padding that is not significant for ``vr``."""
    if vr in _STRIP_BOTH:
        return value.strip(" ")
    if vr in _STRIP_TRAILING:
        return value.rstrip(" ")
    if vr == "UI":
        return value.strip("\x00 ")
    return value


# -- dates -------------------------------------------------------------------


def _last_day(year: int, month: int) -> int:
    return calendar.monthrange(max(year, 1), month)[1]


def _check(value: str, month: int, day: int, hour: int = 0, minute: int = 0,
           second: int = 0) -> None:
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour <= 23 and minute <= 59
            and second <= 60):
        raise ValueError(f"not a valid date/time: {value!r}")


def da_bounds(value: str) -> tuple[str, str]:
    """First and last day ``value`` covers, as ``YYYYMMDD``.

    Accepts a full DA, its legacy form, and (leniently, for query values)
    ``YYYY`` or ``YYYYMM``.  Raises ``ValueError`` otherwise.
    """
    text = value.strip(" ")
    legacy = _DA_LEGACY.fullmatch(text)
    if legacy:
        text = "".join(legacy.groups())
    m = _DA.fullmatch(text)
    if m is None:
        raise ValueError(f"not a DA value: {value!r}")
    year, month, day = m.groups()
    lo_m, hi_m = (month, month) if month else ("01", "12")
    lo_d = day or "01"
    hi_d = day or f"{_last_day(int(year), int(hi_m)):02d}"
    _check(value, int(lo_m), int(lo_d))
    _check(value, int(hi_m), int(hi_d))
    return year + lo_m + lo_d, year + hi_m + hi_d


def normalize_da(value: str) -> str:
    """A stored DA as ``YYYYMMDD`` (legacy ``YYYY.MM.DD`` accepted).

    Raises ``ValueError`` for anything else, partial dates included.
    """
    low, high = da_bounds(value)
    if low != high:
        raise ValueError(f"not a complete DA value: {value!r}")
    return low


# -- times -------------------------------------------------------------------


def _tm_parts(value: str) -> tuple[str, str | None, str | None, str | None]:
    text = value.strip(" ")
    if _TM_LEGACY.fullmatch(text):
        text = text.replace(":", "")
    m = _TM.fullmatch(text)
    if m is None:
        raise ValueError(f"not a TM value: {value!r}")
    hh, mm, ss, frac = m.groups()
    _check(value, 1, 1, int(hh), int(mm or 0), int(ss or 0))
    return hh, mm, ss, frac


def tm_bounds(value: str) -> tuple[str, str]:
    """First and last instant ``value`` covers, as ``HHMMSS.ffffff``.

    ``'12'`` -> ``('120000.000000', '125959.999999')``;
    ``'1230'`` -> ``('123000.000000', '123059.999999')``.
    """
    hh, mm, ss, frac = _tm_parts(value)
    digits = frac or ""
    low = f"{hh}{mm or '00'}{ss or '00'}.{digits.ljust(6, '0')}"
    high = f"{hh}{mm or '59'}{ss or '59'}.{digits.ljust(6, '9')}"
    return low, high


def normalize_tm(value: str) -> str:
    """A stored TM as fixed-width ``HHMMSS.ffffff`` (its lower bound)."""
    return tm_bounds(value)[0]


# -- date-times --------------------------------------------------------------


def _offset_minutes(offset: str) -> int:
    text = offset.strip(" ")
    if not re.fullmatch(r"[+-][0-9]{4}", text, re.ASCII) or not _plausible_offset(text):
        raise ValueError(f"not a UTC offset: {offset!r}")
    minutes = int(text[1:3]) * 60 + int(text[3:5])
    return -minutes if text[0] == "-" else minutes


def _plausible_offset(offset: str) -> bool:
    """Whether ``&ZZXX`` can be a UTC offset (-1200 to +1400, PS3.5 Table 6.2-1)."""
    return int(offset[1:3]) <= 14 and int(offset[3:5]) <= 59


def _to_utc(stamp: str, minutes: int) -> str:
    """``stamp`` (``YYYYMMDDHHMMSS.ffffff``, local at ``minutes`` east of UTC) in UTC."""
    if minutes == 0:
        return stamp
    second = min(int(stamp[12:14]), 59)  # a leap second has no datetime
    try:
        m = datetime(int(stamp[0:4]), int(stamp[4:6]), int(stamp[6:8]), int(stamp[8:10]),
                     int(stamp[10:12]), second, int(stamp[15:21]))
        m -= timedelta(minutes=minutes)
    except (OverflowError, ValueError):  # beyond year 1 or 9999 (or year 0)
        return _LOWEST if int(stamp[0:4]) < 5000 else _HIGHEST
    return (f"{m.year:04d}{m.month:02d}{m.day:02d}{m.hour:02d}{m.minute:02d}{m.second:02d}"
            f".{m.microsecond:06d}")


def dt_bounds(value: str, *, offset: str | None = None) -> tuple[str, str]:
    """First and last instant ``value`` covers, as ``YYYYMMDDHHMMSS.ffffff``.

    Converted to UTC with the value's own ``&ZZXX``, else with ``offset``
    (e.g. Timezone Offset From UTC (0008,0201)), else left as it is.
    """
    m = _DT.fullmatch(value.strip(" "))
    if m is None:
        raise ValueError(f"not a DT value: {value!r}")
    year, month, day, hour, minute, second, frac, own = m.groups()
    if frac is not None and second is None:
        raise ValueError(f"not a DT value: {value!r}")
    last = f"{_last_day(int(year), int(month or 12)):02d}"
    digits = frac or ""
    low = (f"{year}{month or '01'}{day or '01'}{hour or '00'}{minute or '00'}{second or '00'}"
           f".{digits.ljust(6, '0')}")
    high = (f"{year}{month or '12'}{day or last}{hour or '23'}{minute or '59'}{second or '59'}"
            f".{digits.ljust(6, '9')}")
    for stamp in (low, high):
        _check(value, int(stamp[4:6]), int(stamp[6:8]), int(stamp[8:10]), int(stamp[10:12]),
               int(stamp[12:14]))
        if int(stamp[6:8]) > _last_day(int(stamp[0:4]), int(stamp[4:6])):
            raise ValueError(f"not a valid date: {value!r}")
    zone = own if own is not None else offset
    if zone is None:
        return low, high
    minutes = _offset_minutes(zone)
    return _to_utc(low, minutes), _to_utc(high, minutes)


def normalize_dt(value: str, *, offset: str | None = None) -> str:
    """A stored DT as ``YYYYMMDDHHMMSS.ffffff`` (its lower bound; UTC if an offset applies)."""
    return dt_bounds(value, offset=offset)[0]


def combine_da_tm(date: str, time: str, *, high: bool = False) -> str:
    """A DA and a TM read as one DT, normalised (``YYYYMMDDHHMMSS.ffffff``).

    The combined date-time range matching of PS3.4 C.2.2.2.5 compares the
    concatenated values.  An empty ``time`` stands for the whole day: its
    lower bound is midnight (or, with ``high``, its upper bound 23:59:59.999999).
    No offset applies (TM values carry none, C.2.2.2.5).
    """
    day = da_bounds(date)[1 if high else 0]
    if not time.strip(" "):
        return day + ("235959.999999" if high else "000000.000000")
    return day + tm_bounds(time)[1 if high else 0]


def split_range(vr: str, value: str) -> tuple[str | None, str | None] | None:
    """``(low, high)`` text of a range value of a DA, TM or DT key, or ``None``.

    ``None`` means ``value`` is not a range.  An open end is ``None``.  A DT
    may contain ``-`` as the sign of its offset: a value that parses as one
    DT is a single value, otherwise the ``-`` that splits it into two DTs
    (or one and an open end) is the range's.  Raises ``ValueError`` when
    ``value`` has a ``-`` but is no range of its VR.
    """
    text = value.strip(" ")
    if "-" not in text:
        return None
    if vr == "DT":
        single = _DT.fullmatch(text)
        if single and (single.group(8) is None or _plausible_offset(single.group(8))):
            return None
        m = _DT_RANGE.fullmatch(text.replace(" ", ""))
        if m is None:
            raise ValueError(f"not a DT range: {value!r}")
        return m.group(1), m.group(2)
    low, _, high = text.partition("-")
    if "-" in high:
        raise ValueError(f"not a {vr} range: {value!r}")
    return low.strip(" ") or None, high.strip(" ") or None


# -- names, text, numbers -------------------------------------------------------


def normalize_pn(value: str) -> str:
    """A person name without insignificant padding and trailing empty parts.

    Spaces around each component go; trailing empty components of each
    group and trailing empty groups go with their delimiters (PS3.5 6.2.1).
    """
    groups = []
    for group in value.split("="):
        parts = [part.strip(" ") for part in group.split("^")]
        while parts and not parts[-1]:
            parts.pop()
        groups.append("^".join(parts))
    while groups and not groups[-1]:
        groups.pop()
    return "=".join(groups)


def pn_groups(value: str) -> tuple[str, str, str]:
    """The alphabetic, ideographic and phonetic groups of a name, normalised.

    Absent groups are ``''``; anything after a third ``=`` is ignored.
    """
    groups = normalize_pn(value).split("=")[:3]
    groups += [""] * (3 - len(groups))
    return groups[0], groups[1], groups[2]


def fold_text(value: str) -> str:
    """``value`` with case, accents and compatibility forms folded.

    NFKD, ``casefold``, NFKD again, combining marks dropped, NFC:
    ``'Jérôme'`` -> ``'jerome'``, half-width ``'ﾀﾛｳ'`` -> ``'タロウ'``.  Used
    for PN matching when it is case-insensitive or fuzzy (PS3.4 C.2.2.2.1
    allows literal PN matching insensitive to case, accents and other
    character encoding variants; C.2.2.2.1.1 fuzzy semantic matching).
    """
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", value).casefold())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", bare)


def to_number(value: object) -> Decimal | None:
    """A numeric value (IS, DS, US, FD, AT ... as text or number) as a Decimal.

    ``None`` when it is not a number.  Floats go through ``repr`` so that
    the shortest text that round-trips is compared (FL values read from
    the identifier and from the candidate convert alike).
    """
    original = getattr(value, "original_string", None)
    if isinstance(original, str):  # IS / DS as read: exactly what was written
        value = original
    try:
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return Decimal(int(value))
        if isinstance(value, float):
            return Decimal(repr(float(value)))
        text = value.decode("ascii") if isinstance(value, bytes) else str(value)
        number = Decimal(text.strip(" \x00"))
    except (InvalidOperation, ValueError, UnicodeDecodeError):
        return None
    return None if number.is_nan() else number


# -- values as pydicom gives them (candidates and keys) ------------------------------


def as_list(value: object) -> list[object]:
    """The values of an element value: none, one, or each of a MultiValue or
    Sequence; raw bytes are split at backslashes."""
    if value is None:
        return []
    if isinstance(value, bytes):
        return list(value.decode("latin-1").split("\\"))
    if isinstance(value, str | PersonName):
        return [value]
    if isinstance(value, Sequence):
        return list(value)
    return [value]


def text_of(value: object) -> str:
    """One value as text: the string pydicom read when it kept it (IS, DS, DA ...)."""
    if isinstance(value, str):
        return value
    original = getattr(value, "original_string", None)
    if isinstance(original, str):
        return original
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(int(value))  # IS, US ... and AT (a BaseTag)
    return str(value)


def element_value(ds: Dataset, tag: int) -> object:
    """The value of ``ds[tag]``, or its raw bytes when pydicom cannot convert it."""
    if tag not in ds:
        return None
    try:
        return ds[tag].value
    except (ValueError, TypeError, OverflowError):
        raw: object = ds.get_item(tag).value
        return raw


def tz_of(ds: Dataset) -> str | None:
    """Timezone Offset From UTC (0008,0201) of ``ds``, when it is one."""
    value = element_value(ds, _TIMEZONE_OFFSET_FROM_UTC)
    text = text_of(value).strip(" ") if isinstance(value, str | bytes) else ""
    return text if _TZ.fullmatch(text) else None


def present_values(vr: str, value: object) -> list[object]:
    """The non-empty values of a candidate attribute, padding dropped."""
    out: list[object] = []
    for item in as_list(value):
        if item is None:
            continue
        if vr in _NUMERIC and isinstance(item, int | float) and not isinstance(item, bool):
            out.append(item)
            continue
        text = clean(vr, text_of(item))
        if vr == "PN":
            text = normalize_pn(text)
        if text:
            out.append(text)
    return out
