"""Deadlines and times on the sales team's clock, in the team's language.

A rep in Tokyo who reads ``2026-07-01T23:59:59+00:00`` has to work out that the call is due
by 8:59 on Thursday morning; the sheet says ``2026年7月2日(木) 8:59 JST`` instead. Which clock:
the one asked for (an option, an API field), else the policy's ``time_zone`` (marketing ops
sets it once per team), else the clock the export was written on (a Japanese MA tool writes
Tokyo times), else Tokyo for a sheet in Japanese, else UTC.

Dates are worded by Babel from the Unicode CLDR, the same data phones and calendars use, so
each language gets its own order, weekday and zone names without a table of our own.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pandas as pd
from babel.dates import format_skeleton, format_time, get_timezone_name

from leadscore.features.reading import ExportFormat
from leadscore.features.timestamps import check_time_zone
from leadscore.training.model.policy import Policy
from leadscore.training.model.scorer import LeadScorer

UTC = "UTC"
LANGUAGE_ZONES = {"ja": "Asia/Tokyo"}  # a sheet in Japanese is read in Japan unless told


def team_time_zone(scorer: LeadScorer, lang: str, given: str | None = None) -> str:
    """The IANA zone a team reads its times in (see the module docstring for the order)."""
    if given:
        return check_time_zone(given)
    policy_zone = scorer.in_force().time_zone
    if policy_zone:
        return policy_zone
    export_zone = ExportFormat.remembered(scorer.metadata, None).time_zone
    if export_zone and export_zone != UTC:
        return export_zone
    return LANGUAGE_ZONES.get(lang, UTC)


def follow_up_deadline(as_of: datetime, decision: str, policy: Policy) -> pd.Timestamp | None:
    """When a handed-off lead must have been called: the moment scored plus the SLA, counted
    in the policy's working hours when it has them (a lead in on Friday night is due on
    Monday, not on Saturday), else on the wall clock."""
    if decision != "hand off":
        return None
    clock = policy.working_clock()
    if clock is not None:
        return clock.add(as_of, policy.sla_hours)
    return pd.Timestamp(as_of) + pd.Timedelta(hours=policy.sla_hours)


def on_team_clock(moment: datetime, zone: str) -> pd.Timestamp:
    """``moment`` (UTC when naive, as in the data contract) on the team's clock."""
    stamp = pd.Timestamp(moment)
    stamp = stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp
    return stamp.tz_convert(ZoneInfo(zone))


NO_DEADLINE = {"en": "no deadline (not handed off)", "ja": "期限なし（引き継ぎ対象外）"}


def zone_name(moment: datetime, zone: str, lang: str) -> str:
    """The zone as people write it: JST in Japanese, EDT in English; the IANA name where the
    language has no short name for it (English has only '+0900' for Tokyo, so Asia/Tokyo)."""
    if zone == UTC:
        return UTC
    short = get_timezone_name(moment, "short", locale=lang)
    return zone if short[:1] in "+-" or short.startswith("GMT") else short


def moment_text(moment: datetime, zone: str, lang: str, *, year: bool = True) -> str:
    """``2026年7月2日(木) 8:59 JST`` / ``Wed, Jul 1, 2026, 7:59 PM EDT``; without the year and
    zone (``7月2日(木) 8:59``) for a timeline whose zone is said once above it."""
    local = on_team_clock(moment, zone).to_pydatetime()
    day = format_skeleton("yMMMEd" if year else "MMMEd", local, locale=lang)
    time = format_time(local, "short", locale=lang)
    if not year:
        return f"{day} {time}"
    separator = " " if lang == "ja" else ", "
    return f"{day}{separator}{time} {zone_name(local, zone, lang)}"


def deadline_text(deadline: datetime | None, zone: str, lang: str) -> str:
    """The follow-up deadline in words, or that there is none (the lead is not handed off):
    the same on the sheet and in the API."""
    return moment_text(deadline, zone, lang) if deadline is not None else NO_DEADLINE[lang]
