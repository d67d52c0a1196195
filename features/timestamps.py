"""Read an export's timestamp column the way its writer meant it: one form per column.

Exports write times in many forms: ISO 8601 from an API, ``2026/04/06 9:29`` from a Japanese
MA tool or Salesforce report, ``2026年4月6日`` from a spreadsheet, ``06/04/2026`` from a
European CRM. Why not hand each cell to a lenient parser (pandas' ``format="mixed"``): it
decides day or month order cell by cell, so in a DD/MM column ``06/04/2026`` (6 April) becomes
4 June while ``13/04/2026`` stays day first, and a third of the dates shift without a word.
Here the order of a numeric date is decided once for the whole column from the values that
settle it (a first part above 12 means day first), and a column that nothing settles is refused
with the fix (``--date-format``) instead of guessed.

A time without a zone is on the export's clock (``time_zone``, UTC by default); a time with an
offset keeps it. Every result is UTC.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

FORMS = (
    "ISO 8601 such as 2026-04-06T09:29:00+09:00, 2026-04-06 or 2026/04/06 09:29[:00], "
    "2026年4月6日[ 9時29分], or DD/MM/YYYY and MM/DD/YYYY with one order for the whole column; "
    "a clock of 24 hours or of 12 with AM/PM (午前/午後)"
)
_JAPANESE = re.compile(
    r"^(\d{4})年\s*(\d{1,2})月\s*(\d{1,2})日\s*(?:\([^)]*\))?"
    r"\s*(?:(午前|午後)?\s*(\d{1,2})[時:](\d{1,2})分?(?::?(\d{1,2})秒?)?)?$"
)
_YEAR_FIRST = re.compile(r"^(\d{4})[/.\-](\d{1,2})[/.\-](\d{1,2})(?:\s*\([^)]*\))?(.*)$")
_YEAR_LAST = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})(.*)$")
_CLOCK = re.compile(
    r"^(?:[T\s]+(\d{1,2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?\s*(?:([AP])\.?M\.?)?"
    r"\s*(Z|UTC|GMT|[+-]\d{2}:?\d{2})?$",
    re.IGNORECASE,
)
# 午後3:05 (a Japanese tool's 12-hour clock): the half of the day before the time
_JAPANESE_HALF = re.compile(r"(午前|午後)\s*(\d{1,2}:\d{2}(?::\d{2})?)")
_JAPANESE_CLOCK = re.compile(
    r"(\d{1,2})時(\d{1,2})分?(?:(\d{1,2})秒)?"
)  # 15時05分 after a slash date
# str patterns (not compiled) so that pandas runs them in Arrow's regex engine, not row by row
_OFFSET = r"(?i)(?:Z|[+-]\d{2}:?\d{2}|\s(?:UTC|GMT))$"
_SLASHED = r"^\d{4}/\d{1,2}/\d{1,2}(?: \d{1,2}:\d{2}(?::\d{2})?)?$"
_SLASH_FORMS = ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d")
_PLAIN_ISO = r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?$"
_MONTH_NAME = r"[A-Za-z]{3,}"
_WEEKDAY_WORD = re.compile(r"^(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+", re.IGNORECASE)
_WEEKDAY_TAG = re.compile(r"\s*[(（][^)）]*[)）]")  # 2026/04/06(月), a Japanese calendar habit


class TimestampError(ValueError):
    """Values of one column that cannot be read as times, with the reason and the rows."""

    def __init__(self, problem: str, bad: pd.Series, expected: str, fix: str | None = None):
        self.problem, self.bad, self.expected, self.fix = problem, bad, expected, fix
        super().__init__(problem)


@dataclass(frozen=True)
class DateOrder:
    """Which part of a DD/MM/YYYY or MM/DD/YYYY date is the day, decided for a whole column."""

    day_first: bool | None  # None: the column has no such dates


def check_time_zone(name: str) -> str:
    """An IANA zone name, or a ValueError that says what to write."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"'{name}' is not an IANA time zone name; write one such as 'Asia/Tokyo', "
            "'Europe/Berlin' or 'UTC'"
        ) from None
    return name


def parse_times(
    text: pd.Series, *, time_zone: str = "UTC", date_format: str | None = None
) -> pd.Series:
    """Text times (gaps as NA) as UTC timestamps; raises :class:`TimestampError`.

    ``date_format`` (strptime, such as ``%d/%m/%Y %H:%M``) reads every value one way and is the
    answer to a column whose day and month order the values do not settle.
    """
    check_time_zone(time_zone)
    text = text.astype("string[pyarrow]")
    filled = text.notna()
    if date_format is not None:
        zoned = "%z" in date_format or "%Z" in date_format  # offsets written: kept, as UTC
        parsed = pd.to_datetime(text, format=date_format, errors="coerce", utc=zoned)
        date_only = date_format.split(" ")[0]  # a date with its time left out reads too
        retry = filled & parsed.isna()
        if date_only != date_format and retry.any():
            parsed[retry] = pd.to_datetime(
                text[retry], format=date_only, errors="coerce", utc=zoned
            )
        _raise_bad(filled & parsed.isna(), f"values not in the form {date_format!r}", date_format)
        return _utc(parsed) if zoned else _on_clock(parsed, time_zone)
    text = text.str.strip()
    parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us, UTC]")
    slashed = _slash_times(text, filled)
    fast = slashed.notna()
    if fast.any():
        parsed[fast] = _on_clock(slashed[fast], time_zone)
    rest = filled & ~fast
    plain = text.str.match(_PLAIN_ISO).fillna(False)
    iso = _rewrite(text, rest & ~plain)
    try:
        order = date_order(iso[rest & ~plain])
    except TimestampError as error:  # its rows are among those it read: name them in the column
        error.bad = error.bad.reindex(text.index, fill_value=False)
        raise
    if order.day_first is not None:
        iso = iso.where(~rest, iso.map(lambda v: _year_last(v, order), na_action="ignore"))
    aware = rest & iso.str.contains(_OFFSET).fillna(False)
    if aware.any():
        parsed[aware] = _utc(
            pd.to_datetime(iso[aware], utc=True, errors="coerce", format="ISO8601")
        )
    naive = rest & ~aware
    if naive.any():
        local = pd.to_datetime(iso[naive], errors="coerce", format="ISO8601")
        parsed[naive] = _on_clock(local, time_zone)
        worded = naive & parsed.isna() & iso.str.contains(_MONTH_NAME).fillna(False)
        if worded.any():  # '3 Mar 2026': a month written as a word has only one reading
            parsed[worded] = _worded(iso[worded], time_zone)
    _raise_bad(filled & parsed.isna(), "unparseable timestamp", FORMS)
    return parsed


def _worded(values: pd.Series, time_zone: str) -> pd.Series:
    """Times whose month is a word, on the clock; one that names a zone is left unread (NaT,
    then a named error): 'GMT+9' means +9 to a person and -9 to the parser that reads it."""
    read = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us, UTC]")
    zoned = values.str.contains(r"(?i)(?:gmt|utc)\s*[+-]|[+-]\d{2}:?\d{2}$").fillna(False)
    for index, value in values[~zoned].items():
        with contextlib.suppress(ValueError, TypeError, OverflowError):
            moment = pd.Timestamp(pd.to_datetime(value, format="mixed"))
            read[index] = (
                moment.tz_convert("UTC") if moment.tzinfo else _on_clock(
                    pd.Series([moment]), time_zone
                ).iloc[0]
            )  # fmt: skip
    return read


def on_clock(values: pd.Series, time_zone: str) -> pd.Series:
    """Typed times as UTC: zone-aware ones converted, naive ones read on ``time_zone``'s clock
    (an Excel cell or a Parquet column without a zone)."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return _utc(values)
    return _on_clock(values, check_time_zone(time_zone))


def _on_clock(local: pd.Series, time_zone: str) -> pd.Series:
    """Naive times on ``time_zone``: in the hour a clock is set back, the earlier reading;
    in the hour it skips, the moment just after."""
    local = pd.to_datetime(local)
    ambiguous = np.ones(len(local), dtype=bool)
    aware = local.dt.tz_localize(time_zone, ambiguous=ambiguous, nonexistent="shift_forward")
    return _utc(aware)


def _utc(moments: pd.Series) -> pd.Series:
    return moments.dt.tz_convert("UTC").astype("datetime64[us, UTC]")


def _raise_bad(bad: pd.Series, problem: str, expected: str) -> None:
    if bad.any():
        raise TimestampError(problem, bad, expected)


def _slash_times(text: pd.Series, filled: pd.Series) -> pd.Series:
    """Naive times of the values in the form Japanese tools write most (``2026/04/06 9:29``,
    with or without seconds or a time), NaT elsewhere.

    Why a path of its own: these forms are read by pandas' strptime in C, where rewriting
    each value to ISO in Python costs about a microsecond per distinct value, the better part
    of loading a large export.
    """
    found = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us]")
    todo = filled & text.str.match(_SLASHED).fillna(False)
    for form in _SLASH_FORMS:
        if not todo.any():
            break
        read = pd.to_datetime(text[todo], format=form, errors="coerce")
        read = read[read.notna()]
        found[read.index] = read.astype("datetime64[us]")
        todo[read.index] = False
    return found


def _rewrite(text: pd.Series, other: pd.Series) -> pd.Series:
    """The ``other`` values (neither plain ISO nor a common slash form) in ISO form where
    their form is known, rewritten once per distinct value; the rest left as they are."""
    if not other.any():
        return text
    distinct = pd.unique(text[other])
    rewritten = dict(zip(distinct, (_normalise(v) for v in distinct), strict=True))
    return text.where(~other, text[other].map(rewritten))


def _normalise(value: str) -> str:
    """Full-width digits and separators as ASCII (NFKC), a weekday tag dropped, Japanese and
    slash dates written as ISO; day-month-year dates are left for :func:`date_order`."""
    text = unicodedata.normalize("NFKC", value).strip()
    japanese = _JAPANESE.match(text)
    if japanese:
        y, mo, d, half, h, mi, s = japanese.groups()
        if half is not None:
            if int(h) > 12:
                return text  # 午後13時: left for the ISO parser to refuse by row
            h = str(int(h) % 12 + (12 if half == "午後" else 0))
        clock = f" {int(h):02d}:{int(mi):02d}:{int(s or 0):02d}" if h is not None else ""
        return f"{y}-{int(mo):02d}-{int(d):02d}{clock}"
    text = _WEEKDAY_TAG.sub("", _WEEKDAY_WORD.sub("", text))
    year_first = _YEAR_FIRST.match(text)
    if year_first:
        y, mo, d, rest = year_first.groups()
        return f"{y}-{int(mo):02d}-{int(d):02d}{_clock(rest)}"
    return text


def _clock(rest: str) -> str:
    """' 9:05' as ' 09:05:00' (ISO wants two-digit hours), ' 7:11 PM' and ' 午後7:11' as
    ' 19:11:00' (US reports and some Japanese tools write a 12-hour clock); an offset kept as
    written."""
    rest = _JAPANESE_CLOCK.sub(
        lambda m: f"{m.group(1)}:{m.group(2)}" + (f":{m.group(3)}" if m.group(3) else ""), rest
    )
    rest = _JAPANESE_HALF.sub(
        lambda m: f" {m.group(2)} {'AM' if m.group(1) == '午前' else 'PM'}", rest
    )
    match = _CLOCK.match(rest)
    if match is None:
        return rest  # left for the ISO parser to refuse by row
    h, mi, s, fraction, half, zone = match.groups()
    if half is not None:  # 12 AM is midnight; 0 PM (午後0:15, as some phones write) is noon
        if h is None or int(h) > 12:
            return rest  # '13:00 PM', or a half-day without a time: refused by row
        h = str(int(h) % 12 + (12 if half.upper() == "P" else 0))
    clock = f" {int(h):02d}:{mi}:{s or '00'}{fraction or ''}" if h is not None else ""
    if zone and zone.upper() in ("UTC", "GMT"):
        zone = "+00:00"
    return f"{clock}{zone or ''}"


def date_order(values: pd.Series) -> DateOrder:
    """Day or month first for the column's DD/MM/YYYY-or-MM/DD/YYYY values, decided once.

    A first part above 12 can only be a day, a second part above 12 only a day too; a column
    with both is two forms mixed and is refused; a column where every such date would read
    either way (both parts at most 12, and different) needs ``--date-format``.
    """
    parts = values.str.extract(_YEAR_LAST).dropna(subset=[0, 1])
    if parts.empty:
        return DateOrder(None)
    first, second = parts[0].astype(int), parts[1].astype(int)
    day_first, month_first = (first > 12).any(), (second > 12).any()
    if day_first and month_first:
        raise TimestampError(
            "dates with the day first and dates with the month first in one column",
            _rows_of(values, parts.index[(first > 12) | (second > 12)]),
            "one order for the whole column",
            fix="Export the column in one form, or give --date-format",
        )  # fmt: skip
    if not (day_first or month_first) and (first != second).any():
        raise TimestampError(
            "dates that read as day first or as month first (every day is 12 or less)",
            _rows_of(values, parts.index[first != second]),
            "a column whose order is settled",
            fix="Give --date-format '%d/%m/%Y %H:%M' (day first) or '%m/%d/%Y %H:%M' "
            "(month first)",
        )  # fmt: skip
    return DateOrder(bool(day_first) or not month_first)


def _rows_of(values: pd.Series, index: pd.Index) -> pd.Series:
    return pd.Series(values.index.isin(index), index=values.index)


def _year_last(value: str, order: DateOrder) -> str:
    match = _YEAR_LAST.match(value)
    if match is None:
        return value
    a, b, y, rest = match.groups()
    day, month = (a, b) if order.day_first else (b, a)
    return f"{y}-{int(month):02d}-{int(day):02d}{_clock(rest)}"
