"""The creation weekday and hour: the same on a Tokyo or a New York clock offline and online.

A lead created at 06:59 UTC on the day New York springs forward was created at 01:59 there, and
one a second later at 03:00; a model that learnt "created at 9:00" must hear the same from the
service as from the training set, whatever the daylight saving rules of the zone.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadscore.features import schema
from leadscore.features.infer import infer, spec_header
from leadscore.features.offline import attribute_features, connect, register
from leadscore.features.online import attribute_values
from leadscore.features.spec import SpecError, dump_spec, load_spec, parse_spec
from leadscore.features.training_set import flat_training_set

ZONES = ("UTC", "Asia/Tokyo", "America/New_York", "Europe/London", "Australia/Lord_Howe",
         "Asia/Kolkata")  # fmt: skip
CLOCKS = parse_spec(
    {
        "attributes": [
            {"name": f"{part}_{i}", "kind": "created", "part": part, "time_zone": zone}
            for i, zone in enumerate(ZONES)
            for part in ("weekday", "hour")
        ]
    }
)
_CON = connect()


def offline_levels(created: list[object]) -> pd.DataFrame:
    leads = pd.DataFrame(
        {
            schema.LEAD_ID: range(len(created)),
            schema.CREATED_AT: pd.to_datetime(pd.Series(created, dtype=object), utc=True),
        }
    )
    table = attribute_features(register(_CON, "created_leads", leads), CLOCKS)
    rows = _CON.to_pyarrow(table).to_pandas().sort_values(schema.LEAD_ID)
    return rows.drop(columns=[schema.LEAD_ID, schema.CREATED_AT]).reset_index(drop=True)


def online_levels(created: list[object]) -> pd.DataFrame:
    return pd.DataFrame([attribute_values({schema.CREATED_AT: c}, CLOCKS) for c in created])


def as_lists(frame: pd.DataFrame) -> list[list[object]]:
    return frame.astype(object).where(frame.notna(), None).values.tolist()


@pytest.mark.parametrize(
    ("utc", "zone", "weekday", "hour"),
    [
        # New York springs forward on 2024-03-10: 02:00 EST is 03:00 EDT
        ("2024-03-10T06:59:59.999999Z", "America/New_York", "sunday", "01"),
        ("2024-03-10T07:00:00Z", "America/New_York", "sunday", "03"),
        # and falls back on 2024-11-03: 01:30 comes twice
        ("2024-11-03T05:30:00Z", "America/New_York", "sunday", "01"),
        ("2024-11-03T06:30:00Z", "America/New_York", "sunday", "01"),
        ("2024-11-03T07:30:00Z", "America/New_York", "sunday", "02"),
        # Tokyo is UTC+9 all year: 15:00 UTC on New Year's Eve is past midnight there
        ("2024-12-31T15:00:00Z", "Asia/Tokyo", "wednesday", "00"),
        ("2024-12-31T14:59:59Z", "Asia/Tokyo", "tuesday", "23"),
        ("2024-07-01T01:00:00Z", "Asia/Tokyo", "monday", "10"),
        ("2024-07-01T01:00:00Z", "UTC", "monday", "01"),
    ],
)
def test_the_creation_weekday_and_hour_follow_the_zones_own_clock(utc, zone, weekday, hour):
    spec = parse_spec(
        {
            "attributes": [
                {"name": "created_weekday", "kind": "created", "part": "weekday",
                 "time_zone": zone},
                {"name": "created_hour", "kind": "created", "part": "hour", "time_zone": zone},
            ]
        }
    )  # fmt: skip
    leads = pd.DataFrame({schema.LEAD_ID: [1], schema.CREATED_AT: [pd.Timestamp(utc)]})
    offline = attribute_features(register(_CON, "one_lead", leads), spec).execute()
    assert offline[["created_weekday", "created_hour"]].iloc[0].tolist() == [weekday, hour]
    # the service posts the creation time as text, or as a datetime with another offset
    moment = datetime.fromisoformat(utc.replace("Z", "+00:00"))
    for posted in (utc, moment, moment.astimezone(UTC).replace(tzinfo=None)):
        online = attribute_values({schema.CREATED_AT: posted}, spec)
        assert online == {"created_weekday": weekday, "created_hour": hour}, posted


# instants from 1970 to 2040, and the hour either side of each zone's switches
_ANY_INSTANT = st.integers(min_value=0, max_value=2_208_988_800 * 10**6).map(
    lambda us: pd.Timestamp(us, unit="us", tz="UTC")
)


def switches(zone: str) -> list[pd.Timestamp]:
    """The UTC moments in 2020-2025 at which ``zone``'s offset from UTC changes."""
    hours = pd.date_range("2020-01-01", "2026-01-01", freq="h", tz="UTC")
    offset = pd.Series(hours.tz_convert(zone).tz_localize(None) - hours.tz_localize(None))
    return list(hours[offset.diff().fillna(pd.Timedelta(0)).ne(pd.Timedelta(0)).to_numpy()])


_SWITCHES = [moment for zone in ZONES for moment in switches(zone)]
_NEAR_SWITCH = st.tuples(
    st.sampled_from(_SWITCHES), st.integers(min_value=-3 * 3600 * 10**6, max_value=3 * 3600 * 10**6)
).map(lambda pair: pair[0] + pd.Timedelta(microseconds=pair[1]))

_CREATED = st.one_of(_ANY_INSTANT, _NEAR_SWITCH, st.none())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(created=st.lists(_CREATED, min_size=1, max_size=12))
def test_online_creation_levels_equal_offline_and_pandas_in_every_zone(created):
    offline = offline_levels(created)
    assert as_lists(online_levels(created)) == as_lists(offline)
    # and both are the zone's clock, as pandas (a third reading of the rules) sees it
    utc = pd.to_datetime(pd.Series(created, dtype=object), utc=True)
    expected = {}
    for i, zone in enumerate(ZONES):
        local = utc.dt.tz_convert(zone)
        expected[f"weekday_{i}"] = local.dt.day_name().str.lower()
        expected[f"hour_{i}"] = local.dt.strftime("%H")
    assert as_lists(offline) == as_lists(pd.DataFrame(expected))


def test_the_sampled_switches_are_the_daylight_saving_ones():
    """Two a year in each zone with daylight saving, none in Tokyo: the strategy above
    probes the hours where a fixed offset would go wrong."""
    assert len(switches("America/New_York")) == len(switches("Europe/London")) == 12
    assert switches("Asia/Tokyo") == switches("UTC") == []
    assert pd.Timestamp("2024-03-10T07:00:00Z") in switches("America/New_York")


def test_a_time_zone_that_is_not_an_iana_name_is_refused_with_the_fix():
    with pytest.raises(SpecError, match=r"attributes\.0\.created\.time_zone.*Asia/Tokyo"):
        parse_spec(
            {"attributes": [{"name": "h", "kind": "created", "part": "hour", "time_zone": "JST+9"}]}
        )


# ------------------------------------------------------------------------------- inference


def export(n: int = 40, *, created: bool = True) -> pd.DataFrame:
    leads = pd.DataFrame(
        {
            schema.LEAD_ID: range(1, n + 1),
            "lead_source": ["web", "event", "referral", "partner"] * (n // 4),
        }
    )
    if created:
        stamps = pd.date_range("2025-01-06T01:00:00Z", periods=n, freq="7h")
        leads.insert(1, schema.CREATED_AT, stamps)
    return leads


def test_an_export_with_creation_times_gets_the_weekday_and_hour_in_the_zone_asked_for(
    tmp_path,
):
    inference = infer(export(), None, (), time_zone="Asia/Tokyo")
    created = {a.name: a for a in inference.spec.attributes if a.kind == "created"}
    assert {n: (a.part, a.time_zone) for n, a in created.items()} == {
        "created_weekday": ("weekday", "Asia/Tokyo"),
        "created_hour": ("hour", "Asia/Tokyo"),
    }
    assert {"created_weekday", "created_hour"} <= set(inference.spec.categorical_features())
    header = spec_header(inference.skipped, "leads.csv", inference.kept)
    assert "on Asia/Tokyo clocks -> created_weekday and created_hour" in header
    # the YAML a person edits reads back as the same spec
    path = tmp_path / "spec.yaml"
    text = dump_spec(inference.spec, path, header)
    assert "kind: created\n  part: weekday\n  time_zone: Asia/Tokyo" in text
    assert load_spec(path) == inference.spec
    assert infer(export(), None, ()).spec.attributes[-1].time_zone == "UTC"  # the default


def test_an_export_without_creation_times_has_no_weekday_or_hour():
    inference = infer(export(created=False), None, ())
    assert [a.name for a in inference.spec.attributes] == ["lead_source"]
    assert "created" not in " ".join(inference.kept)


def test_a_flat_file_without_created_at_refuses_a_spec_that_reads_it(tmp_path):
    """Flat files without created_at get stand-in creation times to order the split; those
    must never be read as a weekday or an hour."""
    spec = infer(export(), None, ()).spec
    leads = export(created=False)
    label = pd.Series([0, 1] * 20)
    with pytest.raises(SpecError, match=r"created_weekday.*no 'created_at'"):
        flat_training_set(connect(), leads, label, spec, tmp_path)
