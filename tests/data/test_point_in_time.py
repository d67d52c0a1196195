"""Honest training sets: no feature sees the future, labels stop at cutoff + H, splits by time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadscore.features import schema
from leadscore.features.offline import (
    CUTOFF_AT,
    LABEL,
    connect,
    feature_table,
    label_table,
    register,
)
from leadscore.features.online import online_features
from leadscore.features.training_set import SPLIT, SplitPlan, build_training_set
from tests.worlds import DETAILS, START, TEST_SPEC, TYPES, small_world

SPEC = TEST_SPEC
H = SPEC.sql_within_days


def offline_rows(leads, activities, cutoffs, spec=SPEC) -> pd.DataFrame:
    con = connect()
    table = feature_table(
        register(con, "cutoffs", cutoffs),
        register(con, "leads", leads),
        register(con, "activities", activities),
        spec,
    )
    return table.execute().sort_values([schema.LEAD_ID, CUTOFF_AT]).reset_index(drop=True)


def online_rows(leads, activities, keys: pd.DataFrame, spec=SPEC) -> pd.DataFrame:
    """What the online path computes for each (lead_id, cutoff_at) of ``keys``, in order."""
    by_lead = leads.set_index(schema.LEAD_ID)
    return pd.DataFrame(
        [
            online_features(
                by_lead.loc[lead_id].to_dict() | {schema.LEAD_ID: lead_id},
                activities[activities[schema.LEAD_ID] == lead_id],
                cutoff,
                spec,
            )
            for lead_id, cutoff in zip(keys[schema.LEAD_ID], keys[CUTOFF_AT], strict=True)
        ]
    )


def assert_same_features(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        a.reset_index(drop=True), b.reset_index(drop=True), check_dtype=False, rtol=1e-9
    )


@pytest.fixture(scope="module")
def world():
    return small_world(seed=3)


def built(world, out, batches: int | None = None) -> tuple[pd.DataFrame, object]:
    leads, activities, outcomes = world
    con = connect()
    path, edges = build_training_set(
        con,
        register(con, "leads", leads),
        register(con, "activities", activities),
        register(con, "outcomes", outcomes),
        SPEC,
        out,
        plan=SplitPlan(0.25, 0.25),
        batches=batches,
    )
    return pd.read_parquet(path), edges


@pytest.fixture(scope="module")
def training_set(world, tmp_path_factory):
    return built(world, tmp_path_factory.mktemp("training"))


# ---------------------------------------------------------------------------- leakage guard


def per_cutoff_world(leads, activities, cutoffs):
    """Each cutoff as a lead of its own, so events injected after it touch no other cutoff."""
    rows = cutoffs.reset_index(drop=True).assign(row=lambda f: np.arange(1, len(f) + 1))
    own_leads = rows.merge(leads, on=schema.LEAD_ID).drop(columns=[schema.LEAD_ID, CUTOFF_AT])
    own_activities = rows[[schema.LEAD_ID, "row"]].merge(activities, on=schema.LEAD_ID)
    rename = {"row": schema.LEAD_ID}
    return (
        rows,
        own_leads.rename(columns=rename),
        own_activities.drop(columns=[schema.LEAD_ID]).rename(columns=rename),
        rows[["row", CUTOFF_AT]].rename(columns=rename),
    )


def test_activities_after_every_cutoff_change_no_feature(world, training_set):
    leads, activities, _ = world
    rows, _ = training_set
    _, own_leads, own_activities, own_cutoffs = per_cutoff_world(
        leads, activities, rows[[schema.LEAD_ID, CUTOFF_AT]]
    )
    # after every cutoff: one event of each type (sales calls included) a microsecond later, the
    # same day and long after; a single look past the cutoff would show
    offsets = [pd.Timedelta(microseconds=1), pd.Timedelta(hours=2), pd.Timedelta(days=40)]
    future = pd.concat(
        [
            pd.DataFrame(
                {
                    schema.LEAD_ID: own_cutoffs[schema.LEAD_ID],
                    schema.OCCURRED_AT: own_cutoffs[CUTOFF_AT] + offset,
                    schema.ACTIVITY_TYPE: activity_type,
                    schema.DETAIL: "/pricing",
                }
            )
            for offset in offsets
            for activity_type in TYPES
        ],
        ignore_index=True,
    )
    before = offline_rows(own_leads, own_activities, own_cutoffs)
    with_future = pd.concat([own_activities, future], ignore_index=True)
    after = offline_rows(own_leads, with_future, own_cutoffs)
    assert_same_features(before, after)
    # and the per-cutoff world is the training set itself: the construction hides nothing
    original = rows.sort_values([schema.LEAD_ID, CUTOFF_AT]).reset_index(drop=True)
    assert before["any_activity_count_30d"].sum() == original["any_activity_count_30d"].sum()


def test_sales_activities_never_reach_a_feature(world, training_set):
    leads, activities, _ = world
    rows, _ = training_set
    cutoffs = rows[[schema.LEAD_ID, CUTOFF_AT]]
    without_sales = activities[activities[schema.ACTIVITY_TYPE] != "sales_call"]
    assert_same_features(
        offline_rows(leads, activities, cutoffs), offline_rows(leads, without_sales, cutoffs)
    )


def test_labels_use_nothing_after_cutoff_plus_horizon(world, training_set):
    _, _, outcomes = world
    rows, edges = training_set
    moment = edges.test_from
    cutoffs = rows.loc[
        rows[CUTOFF_AT] + pd.Timedelta(days=H) <= moment, [schema.LEAD_ID, CUTOFF_AT]
    ]
    rewritten = outcomes.copy()
    later = rewritten[schema.SQL_AT] > moment
    assert later.any() and (~later & rewritten[schema.SQL_AT].notna()).any()
    # whatever happens after the moment - SQL later, never, or at another time - cannot matter
    rewritten.loc[later, schema.SQL_AT] = rewritten.loc[later, schema.SQL_AT] + pd.Timedelta(days=3)
    forgotten = outcomes.copy()
    forgotten.loc[later, schema.SQL_AT] = pd.NaT

    def labels(frame: pd.DataFrame) -> pd.Series:
        con = connect()
        table = label_table(
            register(con, "cutoffs", cutoffs), register(con, "outcomes", frame), SPEC, moment
        )
        return (
            table.execute().sort_values([schema.LEAD_ID, CUTOFF_AT])[LABEL].reset_index(drop=True)
        )

    base = labels(outcomes)
    assert base.notna().all() and base.sum() > 0
    pd.testing.assert_series_equal(base, labels(rewritten))
    pd.testing.assert_series_equal(base, labels(forgotten))


def test_scoring_as_of_t_ignores_activities_after_t(world):
    leads, activities, _ = world
    lead = leads.iloc[5].to_dict()
    history = activities[activities[schema.LEAD_ID] == lead[schema.LEAD_ID]]
    as_of = history[schema.OCCURRED_AT].median()
    assert (history[schema.OCCURRED_AT] > as_of).any()
    full = online_features(lead, history, as_of, SPEC)
    cut = online_features(lead, history[history[schema.OCCURRED_AT] <= as_of], as_of, SPEC)
    assert full == cut


# --------------------------------------------------------------------------- training set


def test_leads_already_sql_at_a_cutoff_are_left_out(world, training_set):
    _, _, outcomes = world
    rows, _ = training_set
    merged = rows.merge(outcomes, on=schema.LEAD_ID)
    assert not (merged[schema.SQL_AT] <= merged[CUTOFF_AT]).any()


def test_label_is_sql_within_h_days_and_open_windows_are_unlabeled(world, training_set):
    _, _, outcomes = world
    rows, edges = training_set
    merged = rows.merge(outcomes, on=schema.LEAD_ID)
    window_end = merged[CUTOFF_AT] + pd.Timedelta(days=H)
    open_window = window_end > edges.as_of
    assert merged.loc[open_window, LABEL].isna().all()
    assert (merged.loc[open_window, SPLIT] == "unlabeled").all()
    closed = merged[~open_window]
    expected = (closed[schema.SQL_AT] <= closed[CUTOFF_AT] + pd.Timedelta(days=H)).astype(int)
    assert (closed[LABEL].astype(int) == expected).all()
    assert closed[LABEL].sum() > 0


def test_splits_are_out_of_time_with_a_gap_and_never_share_a_lead(training_set):
    rows, edges = training_set
    used = rows[rows[SPLIT].isin(["train", "validation", "test"])]
    assert set(used[SPLIT]) == {"train", "validation", "test"}
    leads_per_split = used.groupby(schema.LEAD_ID)[SPLIT].nunique()
    assert (leads_per_split == 1).all()
    horizon = pd.Timedelta(days=H)
    train, valid, test = (used[used[SPLIT] == s] for s in ("train", "validation", "test"))
    assert (train[CUTOFF_AT] + horizon <= edges.validation_from).all()
    assert (valid[CUTOFF_AT] > edges.validation_from).all()
    assert (valid[CUTOFF_AT] + horizon <= edges.test_from).all()
    assert (test[CUTOFF_AT] > edges.test_from).all()
    assert valid[CUTOFF_AT].min() - train[CUTOFF_AT].max() >= horizon


def test_the_built_training_set_holds_what_a_lead_scored_online_would_see(world, training_set):
    """The builder stages activities and batches leads; none of that may change a feature."""
    leads, activities, _ = world
    rows, _ = training_set
    sample = rows.sample(120, random_state=0).sort_values([schema.LEAD_ID, CUTOFF_AT])
    online = online_rows(leads, activities, sample)
    built_rows = sample[SPEC.feature_names()].reset_index(drop=True)
    for column in SPEC.activity_feature_names():
        np.testing.assert_allclose(
            built_rows[column].astype(float),
            online[column].astype(float),
            rtol=1e-9,
            err_msg=column,
        )


def test_building_in_lead_batches_gives_the_same_training_set(world, training_set, tmp_path):
    """A large export is built a slice of leads at a time; the slices must add up exactly."""
    rows, edges = training_set
    batched, batched_edges = built(world, tmp_path, batches=3)
    assert batched_edges == edges
    keys = [schema.LEAD_ID, CUTOFF_AT]
    pd.testing.assert_frame_equal(
        batched.sort_values(keys).reset_index(drop=True),
        rows.sort_values(keys).reset_index(drop=True),
        rtol=1e-12,
    )


def test_every_cutoff_follows_the_snapshot_policy(world, training_set):
    leads, _, _ = world
    rows, _ = training_set
    merged = rows.merge(leads[[schema.LEAD_ID, schema.CREATED_AT]], on=schema.LEAD_ID)
    age_days = (merged[CUTOFF_AT] - merged[schema.CREATED_AT]) / pd.Timedelta(days=1)
    assert np.allclose(age_days % SPEC.cutoffs.every_days, 0, atol=1e-6)
    assert age_days.max() <= SPEC.cutoffs.max_lead_age_days
    # every lead that was open at creation has its first snapshot
    assert set(merged[schema.LEAD_ID]) == set(leads[schema.LEAD_ID])


def test_messy_department_spellings_become_one_level(training_set):
    rows, _ = training_set
    assert set(rows["department"].dropna()) == {"it", "marketing"}


# ------------------------------------------------------------------------ online == offline

_TIMES = st.integers(min_value=0, max_value=150 * 86_400).map(
    lambda s: START + pd.Timedelta(seconds=s)
)
_ACTIVITY = st.fixed_dictionaries(
    {
        schema.OCCURRED_AT: _TIMES,
        schema.ACTIVITY_TYPE: st.sampled_from(TYPES),
        schema.DETAIL: st.sampled_from(DETAILS),
    }
)
# full-width, half-width, ideographic spaces, scripts with and without case
_OTHER_FORMS = ("ＩＴ", "ｉｔ", "部長", "部長\u3000", " 部長 ", "ｶﾁｮｳ", "カチョウ", "IT部長",
                "Ｎ／Ａ", "Straße", "STRASSE", "ΣΟΦΙΑ", "हिन्दी")  # fmt: skip
_ANY_CHARACTER = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
_LEAD = st.fixed_dictionaries(
    {
        schema.CREATED_AT: _TIMES,
        "department": st.one_of(
            st.sampled_from(["IT", "  it", "Information  Technology", "Sales", "", None]),
            st.sampled_from(_OTHER_FORMS),
            st.text(_ANY_CHARACTER, max_size=6),
        ),
        "employees": st.sampled_from([None, 0.0, 12.5, 3000.0]),
        "activities": st.lists(_ACTIVITY, max_size=25),
        "as_of": st.lists(_TIMES, min_size=1, max_size=3),
    }
)
_CON = connect()
# the test spec with the creation weekday and hour on two clocks, one with daylight saving
CLOCKED = SPEC.model_validate(
    SPEC.model_dump()
    | {
        "attributes": [
            *SPEC.model_dump()["attributes"],
            {"name": "created_weekday", "kind": "created", "part": "weekday",
             "time_zone": "America/New_York"},
            {"name": "created_hour", "kind": "created", "part": "hour", "time_zone": "Asia/Tokyo"},
        ]
    }
)  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(world=st.lists(_LEAD, min_size=1, max_size=5))
def test_online_features_equal_offline_on_random_worlds(world):
    leads = pd.DataFrame(
        {
            schema.LEAD_ID: range(1, len(world) + 1),
            schema.CREATED_AT: pd.to_datetime([w[schema.CREATED_AT] for w in world], utc=True),
            "department": pd.Series([w["department"] for w in world], dtype=object),
            "employees": pd.Series([w["employees"] for w in world], dtype="float64"),
        }
    )
    activities = pd.DataFrame(
        [{schema.LEAD_ID: i + 1, **a} for i, w in enumerate(world) for a in w["activities"]],
        columns=[schema.LEAD_ID, schema.OCCURRED_AT, schema.ACTIVITY_TYPE, schema.DETAIL],
    )
    activities[schema.OCCURRED_AT] = pd.to_datetime(activities[schema.OCCURRED_AT], utc=True)
    activities[schema.LEAD_ID] = activities[schema.LEAD_ID].astype("int64")
    cutoffs = pd.DataFrame(
        [(i + 1, t) for i, w in enumerate(world) for t in sorted(set(w["as_of"]))],
        columns=[schema.LEAD_ID, CUTOFF_AT],
    )
    cutoffs[CUTOFF_AT] = pd.to_datetime(cutoffs[CUTOFF_AT], utc=True)
    offline = feature_table(
        register(_CON, "h_cutoffs", cutoffs),
        register(_CON, "h_leads", leads),
        register(_CON, "h_activities", activities),
        CLOCKED,
    ).execute()
    offline = offline.sort_values([schema.LEAD_ID, CUTOFF_AT]).reset_index(drop=True)
    online = pd.DataFrame(
        [
            {
                schema.LEAD_ID: lead_id,
                CUTOFF_AT: cutoff,
                **online_features(
                    world[lead_id - 1]
                    | {schema.CREATED_AT: leads.loc[lead_id - 1, schema.CREATED_AT]},
                    activities[activities[schema.LEAD_ID] == lead_id],
                    cutoff,
                    CLOCKED,
                ),
            }
            for lead_id, cutoff in cutoffs.sort_values([schema.LEAD_ID, CUTOFF_AT]).itertuples(
                index=False
            )
        ]
    )
    assert list(offline.columns) == list(online.columns)
    for column in CLOCKED.feature_names():
        left, right = offline[column], online[column]
        assert left.isna().tolist() == right.isna().tolist(), column
        if column in CLOCKED.categorical_features():
            assert left.dropna().tolist() == right.dropna().tolist(), column
        else:
            np.testing.assert_allclose(
                left.dropna().astype(float), right.dropna().astype(float), rtol=1e-9, err_msg=column
            )


def test_cutoffs_at_activity_events_follow_the_same_open_lead_rules(world):
    from leadscore.features.offline import training_cutoffs

    leads, activities, outcomes = world
    spec = SPEC.model_copy(
        update={"cutoffs": SPEC.cutoffs.model_copy(update={"at_activity_types": ("demo_request",)})}
    )
    con = connect()
    as_of = activities[schema.OCCURRED_AT].max()
    cutoffs = training_cutoffs(
        register(con, "leads", leads),
        register(con, "activities", activities),
        register(con, "outcomes", outcomes),
        spec,
        as_of,
    ).execute()
    demos = (
        activities[activities[schema.ACTIVITY_TYPE] == "demo_request"]
        .merge(leads[[schema.LEAD_ID, schema.CREATED_AT]], on=schema.LEAD_ID)
        .merge(outcomes, on=schema.LEAD_ID)
    )
    open_demo = demos[
        (demos[schema.OCCURRED_AT] >= demos[schema.CREATED_AT])
        & (demos[schema.OCCURRED_AT] - demos[schema.CREATED_AT] <= pd.Timedelta(days=60))
        & (demos[schema.SQL_AT].isna() | (demos[schema.OCCURRED_AT] < demos[schema.SQL_AT]))
    ]
    at_events = set(zip(open_demo[schema.LEAD_ID], open_demo[schema.OCCURRED_AT], strict=True))
    found = set(zip(cutoffs[schema.LEAD_ID], cutoffs[CUTOFF_AT], strict=True))
    assert at_events and at_events <= found
    merged = cutoffs.merge(outcomes, on=schema.LEAD_ID)
    assert not (merged[schema.SQL_AT] <= merged[CUTOFF_AT]).any()


def test_a_lead_with_a_bots_volume_of_activity_is_counted_exactly():
    """Counts share packed sums, a bit field each, sized to the export's busiest lead: a lead
    with a link-checking bot's volume of activity must widen the fields, never corrupt a count."""
    cutoff = START + pd.Timedelta(days=50)
    busy = 2**17 + 5  # more than a 17-bit field holds
    bot_hits = cutoff - pd.to_timedelta(np.linspace(1, 6 * 86_400, busy), unit="s")
    earlier = cutoff - pd.to_timedelta([20, 21, 22], unit="D")
    moments = [*bot_hits, *earlier, cutoff - pd.Timedelta(days=2)]
    activities = pd.DataFrame(
        {
            schema.LEAD_ID: [1] * (busy + 3) + [2],
            schema.OCCURRED_AT: pd.DatetimeIndex(moments).tz_convert("UTC"),
            schema.ACTIVITY_TYPE: ["page_view"] * (busy + 3) + ["email_open"],
            schema.DETAIL: ["/pricing"] * (busy + 3) + [None],
        }
    )
    leads = pd.DataFrame(
        {
            schema.LEAD_ID: [1, 2],
            schema.CREATED_AT: [START, START],
            "department": ["it", "hr"],
            "employees": [10.0, 20.0],
        }
    )
    cutoffs = pd.DataFrame({schema.LEAD_ID: [1, 2], CUTOFF_AT: [cutoff, cutoff]})
    rows = offline_rows(leads, activities, cutoffs).set_index(schema.LEAD_ID)
    assert rows.loc[1, "web_visit_count_7d"] == busy
    assert rows.loc[1, "pricing_page_count_30d"] == busy + 3
    assert rows.loc[1, "any_activity_count_7d"] == busy
    assert rows.loc[1, "web_visit_days_30d"] == 6 + 3  # six dates of hits, three before
    assert rows.loc[2, "email_open_count_7d"] == 1
    assert rows.loc[2, "any_activity_count_30d"] == 1


def test_a_numeric_attribute_reads_the_same_online_and_offline_whatever_its_form():
    """'inf' or '1e999' would score a lead as certain to convert; full-width digits are text
    the warehouse cannot read; true/false count as 1/0: the same on both paths."""
    raw = ["12", " 3.5 ", "inf", "-Infinity", "1e999", "\uff11\uff12", "", None, "n/a"]
    leads = pd.DataFrame(
        {
            schema.LEAD_ID: range(1, len(raw) + 1),
            schema.CREATED_AT: [START] * len(raw),
            "department": ["it"] * len(raw),
            "employees": pd.Series(raw, dtype=object),
        }
    )
    activities = pd.DataFrame(
        {
            schema.LEAD_ID: pd.Series([], dtype="int64"),
            schema.OCCURRED_AT: pd.DatetimeIndex([], tz="UTC"),
            schema.ACTIVITY_TYPE: pd.Series([], dtype=object),
            schema.DETAIL: pd.Series([], dtype=object),
        }
    )
    cutoffs = pd.DataFrame(
        {schema.LEAD_ID: leads[schema.LEAD_ID], CUTOFF_AT: START + pd.Timedelta(days=3)}
    )
    offline = offline_rows(leads, activities, cutoffs)["employees"].tolist()
    online = online_rows(leads, activities, cutoffs)["employees"].tolist()
    expected = [12.0, 3.5, None, None, None, None, None, None, None]
    assert [None if pd.isna(v) else v for v in offline] == expected
    assert [None if pd.isna(v) else v for v in online] == expected
    flags = leads.assign(employees=[True, False, True, False, True, False, True, False, True])
    assert offline_rows(flags, activities, cutoffs)["employees"].tolist()[:2] == [1.0, 0.0]
    assert online_rows(flags, activities, cutoffs)["employees"].tolist()[:2] == [1.0, 0.0]


def test_the_portable_clock_reads_the_same_microseconds_as_duckdbs_own():
    """Window arithmetic runs on DuckDB's epoch_us; a warehouse gets the portable form."""
    from leadscore.features.offline import epoch_us, portable_epoch_us

    moments = pd.DataFrame(
        {
            "at": pd.to_datetime(
                [
                    "1969-12-31 23:59:59.999999",
                    "1970-01-01 00:00:00.000000",
                    "2024-03-31 01:30:00.000001",
                    "2026-11-23 19:21:15.123456",
                ],
                utc=True,
            )
        }
    )
    table = register(connect(), "moments", moments)
    read = table.select(duckdb=epoch_us(table.at), portable=portable_epoch_us(table.at)).execute()
    expected = (moments["at"] - pd.Timestamp("1970-01-01", tz="UTC")) // pd.Timedelta(
        microseconds=1
    )
    assert read["duckdb"].tolist() == expected.tolist()
    assert read["portable"].tolist() == expected.tolist()


def test_a_cutoff_passed_twice_is_one_row_with_the_counts_of_one(world):
    """Callers of feature_table may repeat a (lead, cutoff); it must not count twice."""
    leads, activities, _ = world
    lead_id = int(activities[schema.LEAD_ID].mode()[0])
    cutoff = activities.loc[activities[schema.LEAD_ID] == lead_id, schema.OCCURRED_AT].max()
    once = pd.DataFrame({schema.LEAD_ID: [lead_id], CUTOFF_AT: [cutoff]})
    twice = pd.concat([once, once], ignore_index=True)
    single = offline_rows(leads, activities, once)
    repeated = offline_rows(leads, activities, twice)
    assert single["any_activity_count_30d"].iloc[0] > 0
    assert_same_features(repeated, single)


def test_a_spec_whose_only_window_is_the_lookback_builds_the_online_features(world):
    from leadscore.features.spec import parse_spec

    spec = parse_spec(
        {
            "lookback_days": 30,
            "windows": [30],
            "attributes": [],
            "signals": [
                {"name": "web_visit", "activity_types": ["page_view"],
                 "stats": ["count", "days", "recency"]},
            ],
        }
    )  # fmt: skip
    leads, activities, _ = world
    cutoffs = activities.groupby(schema.LEAD_ID, as_index=False)[schema.OCCURRED_AT].max()
    cutoffs = cutoffs.rename(columns={schema.OCCURRED_AT: CUTOFF_AT}).head(20)
    offline = offline_rows(leads, activities, cutoffs, spec)
    online = online_rows(leads, activities, offline, spec)
    assert offline["web_visit_count_30d"].sum() > 0
    assert_same_features(offline[spec.feature_names()], online[spec.feature_names()])
