"""Working hours: the clock a follow-up SLA is counted on.

A sales team that promises "first contact within 8 hours" means 8 of its working hours. A lead
that arrives in Tokyo on Friday at 19:00 is due on Monday at 17:00, not at 3:00 on Saturday when
no one is there; one that arrives on 2 May is due after Golden Week. Counted on the wall clock,
the hand-off sheet set deadlines at night and on holidays, and the capacity backtest counted a
weekend's wait as SLA breaches.

A policy's working hours (``Mon-Fri 09:00-18:00`` on the policy's ``time_zone``, with a
country's public holidays off) are read by :class:`WorkingHours`. Public holidays come from
python-holidays (``holidays``), which keeps every country's calendar, the Japanese substitute
and citizens' holidays included, rather than a list of our own that would be stale by next year.

Why not pandas' ``CustomBusinessHour``: it adds whole hours only (an SLA may be 4.5 hours), and
it has no inverse for "working hours between two moments", which the backtest needs for every
hand-off at once. Here both come from one function, the working seconds since a day before the
first moment (:meth:`WorkingHours._clock`), so a deadline and a wait are counted the same way.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from leadscore.features.timestamps import check_time_zone

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FORM = "DAYS HH:MM-HH:MM, such as 'Mon-Fri 09:00-18:00' or 'Mon,Tue,Thu 10:00-17:30'"
_TEXT = re.compile(
    r"^\s*(?P<days>[A-Za-z,\- ]+?)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s*$"
)
_DAY = 86_400  # seconds


class WorkingHoursError(ValueError):
    """Working hours that cannot be read, with the form they need."""


def _day_numbers(text: str) -> frozenset[int]:
    """``Mon-Fri`` or ``Mon,Wed,Fri`` (any case, three letters or more) as weekday numbers."""
    days: set[int] = set()
    for part in text.replace(" ", "").lower().split(","):
        ends = part.split("-")
        try:
            first, last = (DAY_NAMES.index(end[:3]) for end in (ends[0], ends[-1]))
        except ValueError:
            raise WorkingHoursError(
                f"'{part}' is not a day or a range of days; expected {FORM}"
            ) from None
        if len(ends) > 2:
            raise WorkingHoursError(f"'{part}' is not a day or a range of days; expected {FORM}")
        span = range(first, last + 1) if first <= last else [*range(first, 7), *range(last + 1)]
        days.update(span)
    return frozenset(days)


def _minutes(text: str) -> int:
    hours, minutes = (int(part) for part in text.split(":"))
    if hours > 24 or minutes > 59 or (hours == 24 and minutes):
        raise WorkingHoursError(f"'{text}' is not a time of day; expected {FORM}")
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
                    f"holidays '{holidays}': not a country python-holidays knows; write its ISO "
                    "code, such as JP, US or DE"
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

    @cached_property
    def _calendar(self):  # type: ignore[no-untyped-def]
        import holidays as calendars

        return calendars.country_holidays(self.holidays) if self.holidays else {}

    def _days(self, first: dt.date, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For ``count`` local days from ``first``: each day's opening and closing moments
        (UTC seconds) and whether it is worked."""
        dates = pd.date_range(first, periods=count, freq="D")
        local = dates.tz_localize(None)
        opens, closes = (
            (local + pd.to_timedelta(minute, unit="min"))
            .tz_localize(self.zone, ambiguous=False, nonexistent="shift_forward")
            .tz_convert("UTC")
            .as_unit("s")
            .asi8
            for minute in (self.start_minute, self.end_minute)
        )
        worked = np.array(
            [d.weekday() in self.days and d.date() not in self._calendar for d in dates]
        )
        return opens.astype(float), closes.astype(float), worked

    def _clock(self, first: dt.date, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each day's opening moment, working seconds before it (since ``first``) and working
        seconds in it: the working clock of ``count`` days, which :meth:`elapsed` and
        :meth:`add` both read."""
        opens, closes, worked = self._days(first, count)
        length = np.where(worked, closes - opens, 0.0)
        before = np.concatenate([[0.0], np.cumsum(length)[:-1]])
        return opens, before, length

    def _local_dates(self, moments: pd.Series) -> np.ndarray:
        return moments.dt.tz_convert(self.zone).dt.tz_localize(None).dt.normalize().to_numpy()

    def _worked_seconds(self, moments: pd.Series, first: dt.date, count: int) -> np.ndarray:
        opens, before, length = self._clock(first, count)
        day = (self._local_dates(moments) - np.datetime64(first)) // np.timedelta64(1, "D")
        day = day.astype(int)
        seconds = moments.dt.tz_convert("UTC").dt.as_unit("s").astype("int64").to_numpy(float)
        return before[day] + np.clip(seconds - opens[day], 0.0, length[day])

    def elapsed(self, starts: pd.Series, ends: pd.Series) -> np.ndarray:
        """Working hours from each of ``starts`` to the ``ends`` beside it (UTC times; an end
        before its start gives 0)."""
        starts, ends = _utc(starts), _utc(ends)
        if not len(starts):
            return np.zeros(0)
        first = (self._local_dates(starts).min() - np.timedelta64(1, "D")).astype("M8[D]")
        last = self._local_dates(ends).max().astype("M8[D]")
        count = int((last - first) // np.timedelta64(1, "D")) + 2
        first_day = first.astype(dt.date)
        worked = self._worked_seconds(ends, first_day, count) - self._worked_seconds(
            starts, first_day, count
        )
        return np.maximum(worked, 0.0) / 3600.0

    def add(self, moment: dt.datetime | pd.Timestamp, hours: float) -> pd.Timestamp:
        """The moment ``hours`` working hours after ``moment`` (UTC when naive), in UTC."""
        start = _utc(pd.Series([pd.Timestamp(moment)]))
        first = (self._local_dates(start)[0] - np.timedelta64(1, "D")).astype("M8[D]")
        first_day = first.astype(dt.date)
        per_week = len(self.days) * (self.end_minute - self.start_minute) * 60
        if not per_week:
            raise WorkingHoursError("no working day in the week: name at least one")
        count = int(hours * 3600 / per_week * 7) + 21
        while True:  # a long run of holidays can need more days: widen until the target fits
            target = self._worked_seconds(start, first_day, count)[0] + hours * 3600
            opens, before, length = self._clock(first_day, count)
            ends = before + length
            day = int(np.searchsorted(ends, target, side="left"))
            if day < count:
                # reached at the close of a day, the deadline is that close, not the next open
                moment_s = opens[day] + (target - before[day])
                return pd.Timestamp(round(float(moment_s)), unit="s", tz="UTC")
            count *= 2


def _utc(moments: pd.Series) -> pd.Series:
    moments = pd.to_datetime(pd.Series(moments).reset_index(drop=True))
    return moments.dt.tz_localize("UTC") if moments.dt.tz is None else moments.dt.tz_convert("UTC")
