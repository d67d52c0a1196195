"""A follow-up SLA is counted in the hours the sales team works.

A Tokyo team promises first contact within 8 hours. A lead handed off on Friday at 19:00 is due
on Monday at 17:00: the sheet used to say Saturday 3:00, when no one is there, and the capacity
backtest counted every weekend's wait as a breach. Golden Week and New York's daylight saving
move the deadline as a rep would expect.
"""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadscore.serving.team_clock import follow_up_deadline
from leadscore.training.model.policy import Policy, PolicyError, parse_policy
from leadscore.training.model.working_hours import WorkingHours, WorkingHoursError

TOKYO = WorkingHours.parse("Mon-Fri 09:00-18:00", "Asia/Tokyo", "JP")


def tokyo(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="Asia/Tokyo")


@pytest.mark.parametrize(
    ("handed_off", "hours", "due"),
    [
        ("2026-07-03 19:00", 8, "2026-07-06 17:00"),  # Friday night: Monday, not Saturday
        ("2026-07-01 10:00", 9, "2026-07-02 10:00"),  # 8 hours on Wednesday, 1 on Thursday
        ("2026-07-01 07:30", 1, "2026-07-01 10:00"),  # before opening: counted from 9:00
        ("2026-07-01 17:00", 1, "2026-07-01 18:00"),  # due at the close, not the next opening
        ("2026-05-01 17:00", 2, "2026-05-07 10:00"),  # Golden Week: 4, 5 and 6 May are off
        ("2026-09-18 12:00", 9, "2026-09-24 12:00"),  # Silver Week: 21-23 September are off
        ("2026-07-01 10:00", 4.5, "2026-07-01 14:30"),  # an SLA in half hours
    ],
)
def test_a_tokyo_teams_deadline_falls_in_its_working_hours(handed_off, hours, due):
    assert TOKYO.add(tokyo(handed_off), hours) == tokyo(due)


def test_a_new_york_deadline_keeps_the_clock_through_daylight_saving_and_july_4():
    new_york = WorkingHours.parse("mon-fri 9:00-17:00", "America/New_York", "US")
    local = lambda text: pd.Timestamp(text, tz="America/New_York")  # noqa: E731
    # clocks move forward on Sunday 8 March 2026: Monday opens at 9:00 EDT
    assert new_york.add(local("2026-03-06 16:00"), 4) == local("2026-03-09 12:00")
    # Independence Day on a Saturday is observed on Friday 3 July
    assert new_york.add(local("2026-07-02 16:00"), 4) == local("2026-07-06 12:00")


def test_working_hours_between_two_moments_undo_adding_them():
    starts = pd.Series([tokyo("2026-07-03 10:00"), tokyo("2026-07-03 17:00")])
    ends = pd.Series([tokyo("2026-07-06 10:00"), tokyo("2026-07-03 16:00")])
    assert TOKYO.elapsed(starts, ends).tolist() == [9.0, 0.0]  # an end before its start: 0
    # ends far before every start, and starts after every end: 0, never a number read from
    # the wrong end of the clock
    starts = pd.Series([tokyo("2026-07-20 10:00"), tokyo("2026-07-01 10:00")])
    ends = pd.Series([tokyo("2026-06-29 10:00"), tokyo("2026-07-02 10:00")])
    assert TOKYO.elapsed(starts, ends).tolist() == [0.0, 9.0]
    with pytest.raises(WorkingHoursError, match="an end is missing"):
        TOKYO.elapsed(starts, pd.Series([tokyo("2026-07-21 10:00"), pd.NaT]))


@settings(max_examples=60, deadline=None)
@given(
    minutes=st.integers(0, 60 * 24 * 120),
    hours=st.floats(0.25, 200, allow_nan=False),
)
def test_the_deadline_is_exactly_the_sla_in_working_hours_later(minutes, hours):
    start = tokyo("2026-01-01 00:00") + pd.Timedelta(minutes=minutes)
    due = TOKYO.add(start, hours)
    assert due > start
    elapsed = TOKYO.elapsed(pd.Series([start]), pd.Series([due]))[0]
    assert elapsed == pytest.approx(hours, abs=1 / 3600)  # deadlines are kept to the second
    local = due.tz_convert("Asia/Tokyo")
    assert local.weekday() < 5 and 9 <= local.hour + local.minute / 60 <= 18


@pytest.mark.parametrize(
    ("text", "zone", "holidays", "said"),
    [
        ("weekdays 9-18", "Asia/Tokyo", None, "expected DAYS HH:MM-HH:MM"),
        ("Mon-Fri 18:00-09:00", "Asia/Tokyo", None, "end after it starts"),
        ("Mon-Fry 09:00-18:00", "Asia/Tokyo", None, "'mon-fry' is not a day"),
        ("Mon-Fri 09:00-25:00", "Asia/Tokyo", None, "'25:00' is not a time of day"),
        ("Mon-Fri 09:00-18:00", "Tokyo", None, "Tokyo"),
        ("Mon-Fri 09:00-18:00", "Asia/Tokyo", "Japan", "'Japan' is not a country"),
        ("Monkey-Fri 09:00-18:00", "Asia/Tokyo", None, "'monkey-fri' is not a day"),
    ],
)
def test_hours_that_cannot_be_read_say_the_form_they_need(text, zone, holidays, said):
    with pytest.raises(WorkingHoursError, match=said):
        WorkingHours.parse(text, zone, holidays)


def test_the_policy_says_its_sla_in_working_hours_and_needs_a_clock_for_them():
    policy = Policy(version=1, kind="capacity", threshold=0.3, sla_hours=8)
    assert policy.sla_text() == "8 h" and policy.working_clock() is None
    team = policy.amended(time_zone="Asia/Tokyo", working_hours="Mon-Fri 09:00-18:00",
                          holidays="jp")  # fmt: skip
    assert (
        team.sla_text() == "8 working hours (Mon-Fri 09:00-18:00 Asia/Tokyo, JP public "
        "holidays off)"
    )
    friday_night = tokyo("2026-07-03 19:00").tz_convert("UTC").to_pydatetime()
    assert follow_up_deadline(friday_night, "hand off", team) == tokyo("2026-07-06 17:00")
    assert follow_up_deadline(friday_night, "hand off", policy) == tokyo("2026-07-04 03:00")
    assert follow_up_deadline(friday_night, "nurture", team) is None
    for changes, said in [
        ({"working_hours": "Mon-Fri 09:00-18:00"}, "working_hours: needs time_zone"),
        ({"holidays": "JP"}, "holidays: only read with working_hours"),
        ({"working_hours": "9 to 5", "time_zone": "Asia/Tokyo"}, "working_hours: '9 to 5'"),
        (
            {"working_hours": "Mon-Fri 09:00-18:00", "time_zone": "Asia/Tokyo", "holidays": "XX"},
            "holidays: 'XX' is not a country",
        ),
    ]:
        with pytest.raises(PolicyError, match=said):
            parse_policy({**policy.as_dict(), **changes}, "policy.json")
