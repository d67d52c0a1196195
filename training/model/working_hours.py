"""Working hours: the clock a follow-up SLA is counted on.

A sales team that promises "first contact within 8 hours" means 8 of its working hours. A lead
that arrives in Tokyo on Friday at 19:00 is due on Monday at 17:00, not at 3:00 on Saturday when
no one is there; one that arrives on 2 May is due after Golden Week. Counted on the wall clock,
the hand-off sheet set deadlines at night and on holidays, and the capacity backtest's queue was
worked through nights and weekends.

A policy's working hours (``Mon-Fri 09:00-18:00`` on the policy's ``time_zone``, with a
country's public holidays off) are read by :class:`WorkingHours`. Public holidays come from
python-holidays (``holidays``), which keeps every country's calendar, the Japanese substitute
and citizens' holidays included, rather than a list of our own that would be stale by next year.

Why not pandas' ``CustomBusinessHour``: it adds whole hours only (an SLA may be 4.5 hours), and
it has no inverse for "working hours between two moments", which the backtest needs for every
hand-off at once. Here both come from one table, the working seconds since a day before the
first moment (:class:`_Table`), so a deadline and a wait are counted the same way.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from leadscore.features.schema import utc_timestamp
from leadscore.features.timestamps import check_time_zone

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
FORM = "DAYS HH:MM-HH:MM, such as 'Mon-Fri 09:00-18:00' or 'Mon,Tue,Thu 10:00-17:30'"
_TEXT = re.compile(
    r"^\s*(?P<days>[A-Za-z,\- ]+?)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s*$"
)
_DAY = 86_400  # seconds


class WorkingHoursError(ValueError):
    """Working hours that cannot be read, with the form they need, and the policy field at
    fault (``working_hours`` or ``holidays``)."""

    def __init__(self, message: str, field: str = "working_hours") -> None:
        super().__init__(message)
        self.field = field


def _day_numbers(text: str) -> frozenset[int]:
    """``Mon-Fri`` or ``Mon,Wed,Fri`` (any case; a day as three letters or more of its name,
    ``Tue``, ``Tues``, ``Tuesday``) as weekday numbers."""
    days: set[int] = set()
    for part in text.replace(" ", "").lower().split(","):
        ends = part.split("-")
        found = [
            next((k for k, name in enumerate(_FULL_NAMES) if len(end) >= 3
                  and name.startswith(end)), None)
            for end in ends
        ]  # fmt: skip
        if len(ends) > 2 or None in found:
            raise WorkingHoursError(
                f"'{part}' is not a day or a range of days; expected {FORM}", "working_hours"
            )
        first, last = found[0], found[-1]
        span = range(first, last + 1) if first <= last else [*range(first, 7), *range(last + 1)]
        days.update(span)
    return frozenset(days)


def _minutes(text: str) -> int:
    hours, minutes = (int(part) for part in text.split(":"))
    if hours > 24 or minutes > 59 or (hours == 24 and minutes):
        raise WorkingHoursError(f"'{text}' is not a time of day; expected {FORM}", "working_hours")
    return hours * 60 + minutes


@dataclass(frozen=True)
class WorkingHours:
    """The hours a team works, on its clock, with its country's public holidays off."""

    days: frozenset[int]  # weekday numbers, Monday 0
    start_minute: int  # minutes after midnight, local
    end_minute: int
    zone: str  # IANA name: the team's clock
    holidays: str | None = None  # ISO 3166 country code (JP, US, DE) or None

    @classmethod
    def parse(cls, text: str, zone: str, holidays: str | None = None) -> WorkingHours:
        """``Mon-Fri 09:00-18:00`` on ``zone``'s clock, or a WorkingHoursError with the form."""
        matched = _TEXT.match(text or "")
        if not matched:
            raise WorkingHoursError(f"'{text}': expected {FORM}")
        start, end = _minutes(matched["start"]), _minutes(matched["end"])
        if end <= start:
            raise WorkingHoursError(
                f"'{text}': the day must end after it starts (a shift past midnight is not read)"
            )
        try:
            check_time_zone(zone)
        except ValueError as error:
            raise WorkingHoursError(str(error)) from None
        if holidays is not None:
            import holidays as calendars

            if holidays.upper() not in calendars.list_supported_countries():
                raise WorkingHoursError(
                    f"'{holidays}' is not a country python-holidays knows; write its ISO "
                    "code, such as JP, US or DE",
                    "holidays",
                )
            holidays = holidays.upper()
        return cls(_day_numbers(matched["days"]), start, end, zone, holidays)

    @staticmethod
    @functools.lru_cache(maxsize=32)
    def cached(text: str, zone: str, holidays: str | None = None) -> WorkingHours:
        """:meth:`parse`, once per policy: the service reads a policy's hours on every call,
        and a country's holiday calendar is built as it is asked for."""
        return WorkingHours.parse(text, zone, holidays)

    def describe(self) -> str:
        """``Mon-Fri 09:00-18:00 Asia/Tokyo, JP public holidays off``."""
        days = sorted(self.days)
        runs: list[list[int]] = []
        for day in days:
            if runs and day == runs[-1][-1] + 1:
                runs[-1].append(day)
            else:
                runs.append([day])
        named = ",".join(
            DAY_NAMES[r[0]].title() + (f"-{DAY_NAMES[r[-1]].title()}" if len(r) > 1 else "")
            for r in runs
        )
        clock = (
            f"{self.start_minute // 60:02d}:{self.start_minute % 60:02d}-"
            f"{self.end_minute // 60:02d}:{self.end_minute % 60:02d}"
        )
        off = f", {self.holidays} public holidays off" if self.holidays else ""
        return f"{named} {clock} {self.zone}{off}"

    @property
    def hours_per_week(self) -> float:
        """Working hours in a week without a holiday: what a weekly capacity is spread over."""
        return len(self.days) * (self.end_minute - self.start_minute) / 60.0

    def seconds_at(self, table: _Table, working_seconds: np.ndarray) -> np.ndarray:
        """:meth:`_Table.seconds_at`, the table widened (twice the days, from the same first
        day) until it reaches ``working_seconds``: a long run of holidays, or a backlog."""
        while working_seconds.max() > table.total:
            table = _table(self, table.first, table.count * 2)
        return table.seconds_at(working_seconds)

    def _around(self, *moments: pd.Series, ahead_hours: float = 0.0) -> _Table:
        """The table of days from the day before the earliest of ``moments`` to past the
        latest, and ``ahead_hours`` working hours beyond it."""
        earliest = min(_local_date(m.min(), self.zone) for m in moments)
        latest = max(_local_date(m.max(), self.zone) for m in moments)
        return self._days_around(earliest, latest, ahead_hours)

    def _days_around(self, earliest: dt.date, latest: dt.date, ahead_hours: float) -> _Table:
        ahead = int(ahead_hours / self.hours_per_week * 7) + 21  # holidays: widened below
        first = earliest - dt.timedelta(days=1)
        return _table(self, first, (latest - first).days + ahead)

    def add(self, moment: dt.datetime | pd.Timestamp, hours: float) -> pd.Timestamp:
        """The moment ``hours`` working hours after ``moment`` (UTC when naive), in UTC."""
        # one moment at a time, as the service asks: numbers, not a Series (0.08 ms, not 2 ms)
        if pd.isna(moment):
            raise WorkingHoursError("the moment to count from is missing")
        start = utc_timestamp(moment)
        day = _local_date(start, self.zone)
        table = self._days_around(day, day, hours)
        target = table.clock_seconds(np.array([start.value / 1e9])) + hours * 3600
        return pd.Timestamp(round(float(self.seconds_at(table, target)[0])), unit="s", tz="UTC")

    def elapsed(self, starts: pd.Series, ends: pd.Series) -> np.ndarray:
        """Working hours from each of ``starts`` to the ``ends`` beside it (UTC when naive;
        an end before its start gives 0)."""
        starts = _utc(starts, "a start")
        ends = _utc(ends, "an end")
        if not len(starts):
            return np.zeros(0)
        table = self._around(starts, ends)
        return np.maximum(table.clock(ends) - table.clock(starts), 0.0) / 3600.0

    def on_clock(self, moments: pd.Series) -> tuple[np.ndarray, np.ndarray, _Table]:
        """``moments`` as working hours since the day before the earliest (for a queue worked
        in working hours), as UTC seconds since the epoch, and the table that turns working
        seconds back into moments (:meth:`seconds_at`)."""
        moments = _utc(moments, "a hand-off time")
        table = self._around(moments, ahead_hours=self.hours_per_week * 52)
        seconds = _seconds(moments)
        return table.clock_seconds(seconds) / 3600.0, seconds, table


@dataclass(frozen=True)
class _Table:
    """The working clock of ``count`` local days from ``first``: each day's opening moment
    (UTC seconds), the working seconds before it and in it. Moments read on it
    (:meth:`clock`) and back (:meth:`moments`) by one table, so a deadline and a wait are
    counted the same way."""

    first: dt.date
    count: int
    opens: np.ndarray
    before: np.ndarray
    length: np.ndarray

    @property
    def total(self) -> float:
        return float(self.before[-1] + self.length[-1])

    def clock(self, moments: pd.Series) -> np.ndarray:
        """Working seconds from the table's first day to each of ``moments`` (UTC)."""
        return self.clock_seconds(_seconds(moments))

    def clock_seconds(self, seconds: np.ndarray) -> np.ndarray:
        """:meth:`clock` of moments given as UTC seconds since the epoch."""
        day = np.searchsorted(self.opens, seconds, side="right") - 1
        if (day < 0).any() or (day >= self.count).any():
            raise ValueError("a moment outside the working clock's days")  # a caller's bug
        return self.before[day] + np.clip(seconds - self.opens[day], 0.0, self.length[day])

    def seconds_at(self, working_seconds: np.ndarray) -> np.ndarray:
        """The moments (UTC seconds since the epoch) at which the clock reads
        ``working_seconds``; one reached at a day's close is that close, not the next
        opening."""
        day = np.searchsorted(self.before + self.length, working_seconds, side="left")
        if (day >= self.count).any():
            raise ValueError("working hours past the working clock's days")  # a caller's bug
        return self.opens[day] + (working_seconds - self.before[day])


@functools.lru_cache(maxsize=256)
def _table(hours: WorkingHours, first: dt.date, count: int) -> _Table:
    """:class:`_Table` for ``hours``, kept: the service counts a deadline per lead, and the
    leads of a day share one table (built once, about 2 ms)."""
    dates = pd.date_range(first, periods=count, freq="D")
    opens, closes = (
        (dates + pd.to_timedelta(minute, unit="min"))
        # an opening in a repeated hour at the earlier, a close at the later: the longer day
        .tz_localize(hours.zone, ambiguous=np.full(count, ambiguous), nonexistent="shift_forward")
        .tz_convert("UTC")
        .as_unit("s")
        .asi8.astype(float)
        for minute, ambiguous in ((hours.start_minute, True), (hours.end_minute, False))
    )
    off = _holiday_dates(hours.holidays, tuple(range(dates[0].year, dates[-1].year + 1)))
    worked = np.array([d.weekday() in hours.days and d.date() not in off for d in dates])
    length = np.where(worked, closes - opens, 0.0)
    before = np.concatenate([[0.0], np.cumsum(length)[:-1]])
    return _Table(first, count, opens, before, length)


@functools.lru_cache(maxsize=64)
def _holiday_dates(country: str | None, years: tuple[int, ...]) -> frozenset[dt.date]:
    """A country's public holidays in ``years``, as a set no thread changes: python-holidays
    fills a calendar's years as they are asked for, which threads scoring at once could race."""
    if country is None:
        return frozenset()
    import holidays as calendars

    return frozenset(calendars.country_holidays(country, years=list(years)))


def _seconds(moments: pd.Series) -> np.ndarray:
    """UTC times as seconds since the epoch."""
    return moments.dt.as_unit("s").astype("int64").to_numpy(float)


def _local_date(moment: pd.Timestamp, zone: str) -> dt.date:
    return moment.tz_convert(zone).date()


def _utc(moments: pd.Series | list, what: str) -> pd.Series:
    """``moments`` as UTC times (naive ones are UTC, as in the data contract)."""
    moments = pd.to_datetime(pd.Series(moments).reset_index(drop=True))
    if moments.isna().any():
        raise WorkingHoursError(f"{what} is missing: working hours count from a time")
    moments = moments.dt.tz_localize("UTC") if moments.dt.tz is None else moments
    return moments.dt.tz_convert("UTC")
