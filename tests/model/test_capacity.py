"""Thresholds from sales capacity, as marketing ops sets them and sales lives with them."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from leadscore.cli import app
from leadscore.features import schema
from leadscore.features.offline import CUTOFF_AT, LABEL
from leadscore.features.reading import ExportFormat
from leadscore.features.synthetic import SimulationConfig, simulate
from leadscore.features.training_set import SPLIT
from leadscore.training.job.capacity import (
    Capacity,
    CapacityError,
    DealValue,
    capacity_curve,
    fill_threshold,
    first_handoffs,
    handoff_outcomes,
    parse_capacity,
    team_of,
    tune_policy,
    tune_threshold,
    write_policy,
)
from leadscore.training.job.response_delay import (
    ResponseDelay,
    ResponseDelayError,
    estimate_response_delay,
    queue_waits,
    read_outcome_times,
    working_queue_waits,
)
from leadscore.training.model.artifact import load_model
from leadscore.training.model.working_hours import WorkingHours

pytestmark = pytest.mark.xdist_group("trained_world")  # the shared world: one worker builds it

runner = CliRunner()
NO_COST_OF_WAITING = ResponseDelay(math.inf, "configured")


@pytest.fixture(scope="module")
def world_dir(trained_world) -> Path:
    """The shared trained world's folder: its export and run, read only."""
    return trained_world.run.parent


@pytest.fixture(scope="module")
def model_dir(trained_world, tmp_path_factory) -> Path:
    """A copy of the shared model: retuning writes policy.json into it."""
    copy = tmp_path_factory.mktemp("capacity") / "model"
    return Path(shutil.copytree(trained_world.model, copy))


def validation(model_dir: Path) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    scorer = load_model(model_dir)
    rows = pd.read_parquet(scorer.metadata["training_set"])
    rows = rows[(rows[SPLIT] == "validation") & rows[LABEL].notna()].reset_index(drop=True)
    passes = scorer.rules.instant_passes(rows).any(axis=1).to_numpy()
    return rows, scorer.probability(rows), passes


def weekly_passes(rows: pd.DataFrame, passes: np.ndarray) -> float:
    weeks = (rows[CUTOFF_AT].max() - rows[CUTOFF_AT].min()) / pd.Timedelta(days=7)
    return len(first_handoffs(rows, passes)) / weeks


@pytest.mark.parametrize(
    ("text", "per_week"),
    [("200/week", 200), ("40/day", 280), ("5x40/week", 200), (" 12 / week ", 12)],
)
def test_capacity_reads_as_people_say_it(text, per_week):
    assert parse_capacity(text) == per_week


@pytest.mark.parametrize("text", ["0/week", "-5/week", "lots", "200"])
def test_impossible_or_unreadable_capacity_is_refused(text):
    with pytest.raises(CapacityError):
        parse_capacity(text)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (lambda: Capacity(0), "capacity must be positive"),
        (lambda: Capacity(-20), "capacity must be positive"),
        (lambda: Capacity(100, sla_hours=0), "SLA must be a positive"),
        (lambda: Capacity(100, segment="region"), "needs each level's capacity"),
        (lambda: Capacity(100, per_segment={"kanto": 100}), "need the segment"),
        (lambda: Capacity(100, segment="region", per_segment={"kanto": 60, "*": 30}), "add up"),
        (lambda: Capacity(100, segment="region", per_segment={"kanto": 0, "*": 100}), "positive"),
        (lambda: ResponseDelay(0), "half-life must be a positive"),
        (lambda: ResponseDelay(-24), "half-life must be a positive"),
        (lambda: ResponseDelay(math.nan), "half-life must be a positive"),
        (lambda: DealValue("region", {"emea": -1.0}), "zero or more"),
    ],
)
def test_impossible_settings_say_what_to_change(settings, message):
    with pytest.raises(ValueError, match=message):
        settings()


def test_a_burst_of_handoffs_waits_its_turn():
    # one follow-up an hour: three leads at 9:00 wait 0, 1 and 2 hours; one at 20:00 none
    handed_at = pd.Series(
        pd.to_datetime(["2025-03-03 09:00", "2025-03-03 09:00", "2025-03-03 20:00",
                        "2025-03-03 09:00"], utc=True)
    )  # fmt: skip
    assert queue_waits(handed_at, per_week=168).tolist() == [0.0, 1.0, 0.0, 2.0]
    assert ResponseDelay(48).multiplier(np.array([0.0, 48.0, 96.0])).tolist() == [1, 0.5, 0.25]


@pytest.fixture(scope="module")
def export_world():
    """A larger world than the model's: only its outcomes are read, so it costs a second."""
    return simulate(20000, seed=7)


def true_multiplier(world, hours: float) -> float:
    """Share of SQLs the simulator's leads keep after ``hours`` more follow-up delay."""
    config = SimulationConfig()
    truth = world.truth[world.truth["hand_raised"] | world.truth["score_handoff"]]
    p_path = np.where(truth["hand_raised"], truth["p_qualify_hand_raise"], truth["p_qualify_score"])
    logit = np.log(p_path / (1 - p_path))
    slower = 1 / (1 + np.exp(-(logit - config.delay_decay_per_day * hours / 24)))
    return float(slower.mean() / p_path.mean())


def test_the_delay_estimate_recovers_the_simulators_cost_of_waiting(export_world):
    delay = estimate_response_delay(export_world.outcomes)
    assert delay.source.startswith("estimated from")
    for hours in (24, 72):
        estimate = float(delay.multiplier(np.array([hours]))[0])
        assert estimate == pytest.approx(true_multiplier(export_world, hours), abs=0.1)


def test_a_world_where_waiting_costs_nothing_gives_no_delay_penalty():
    world = simulate(20000, seed=8, config=SimulationConfig(delay_decay_per_day=0.0))
    delay = estimate_response_delay(world.outcomes)
    assert delay.multiplier(np.array([72.0]))[0] > 0.9


def test_an_export_without_contact_times_asks_for_a_half_life(export_world):
    with pytest.raises(ResponseDelayError, match="--response-half-life-hours"):
        estimate_response_delay(export_world.outcomes.drop(columns=[schema.FIRST_CONTACT_AT]))


def test_the_policy_fills_capacity_with_the_best_leads(model_dir):
    rows, p, passes = validation(model_dir)
    capacity = max(20.0, round(weekly_passes(rows, passes) * 3))
    policy = tune_policy(rows, p, passes, Capacity(capacity), version=2, delay=NO_COST_OF_WAITING)
    assert policy.expected["handoffs_per_week"] <= capacity + 1e-9
    assert policy.expected["handoffs_per_week"] > 0.8 * capacity
    # more capacity never means a stricter threshold, and hands off more
    wider = tune_policy(
        rows, p, passes, Capacity(capacity * 2), version=2, delay=NO_COST_OF_WAITING
    )
    assert wider.thresholds["*"] <= policy.thresholds["*"]
    assert wider.expected["handoffs_per_week"] >= policy.expected["handoffs_per_week"]


def test_when_waiting_costs_the_policy_leaves_room_for_bursts(model_dir):
    rows, p, passes = validation(model_dir)
    capacity = Capacity(max(20.0, round(weekly_passes(rows, passes) * 3)))
    free = tune_policy(rows, p, passes, capacity, version=2, delay=NO_COST_OF_WAITING)
    costly = tune_policy(rows, p, passes, capacity, version=2, delay=ResponseDelay(12))
    assert costly.expected["handoffs_per_week"] <= free.expected["handoffs_per_week"]
    assert costly.expected["sla_breaches_per_week"] <= free.expected["sla_breaches_per_week"]
    assert costly.response_delay["half_life_hours"] == 12


def test_capacity_far_below_demand_breaches_the_sla_and_wastes_handoffs(model_dir):
    rows, p, passes = validation(model_dir)
    demand = max(40.0, round(weekly_passes(rows, passes) * 4))
    handoff = passes | (p >= fill_threshold(rows, p, passes, demand))
    delay = ResponseDelay(72)
    staffed = handoff_outcomes(rows, handoff, Capacity(demand * 2), delay, p)
    short = handoff_outcomes(rows, handoff, Capacity(demand / 4), delay, p)
    assert short["handoffs_per_week"] == pytest.approx(staffed["handoffs_per_week"])
    assert short["sla_breaches_per_week"] > 0.5 * short["handoffs_per_week"]
    assert staffed["sla_breaches_per_week"] < 0.2 * staffed["handoffs_per_week"]
    assert short["mql_to_sql_rate"] < 0.7 * staffed["mql_to_sql_rate"]
    assert short["sqls_per_week"] < short["sqls_per_week_without_queue"]
    # the capacity curve shows it: sending twice what sales can follow up loses SQLs
    curve = capacity_curve(rows, p, passes, Capacity(demand / 4), delay, [demand / 4, demand / 2])
    at_capacity, twice = curve["expected_sqls_per_week"]
    assert twice < at_capacity


def test_instant_passes_use_capacity_first_and_too_little_capacity_is_named(model_dir):
    rows, p, passes = validation(model_dir)
    with pytest.raises(CapacityError, match="instant passes alone need"):
        tune_policy(rows, p, passes, Capacity(0.01), version=2)
    levels = rows["region"].astype(object)
    busiest = levels[passes].value_counts().index[0]
    with pytest.raises(CapacityError, match=f"region={busiest}: instant passes alone"):
        tune_policy(
            rows, p, passes,
            Capacity(100.01, segment="region", per_segment={busiest: 0.01, "*": 100}),
            version=2,
        )  # fmt: skip


def test_segment_capacities_must_cover_every_segment(model_dir):
    rows, p, passes = validation(model_dir)
    with pytest.raises(CapacityError, match="do not cover every region"):
        tune_policy(
            rows, p, passes, Capacity(100, segment="region", per_segment={"kanto": 100}),
            version=2,
        )  # fmt: skip
    rest = Capacity(100, segment="region", per_segment={"kanto": 60, "*": 40})
    policy = tune_policy(rows, p, passes, rest, version=2)
    assert set(policy.thresholds) == {"kanto", "*"}


def test_a_segmented_policy_gives_each_segment_its_own_threshold(model_dir):
    rows, p, passes = validation(model_dir)
    levels = rows["region"].astype(object).fillna("(empty)")
    shares = levels.value_counts(normalize=True)
    per_segment = {level: max(5.0, round(200 * share, 1)) for level, share in shares.items()}
    capacity = Capacity(sum(per_segment.values()), segment="region", per_segment=per_segment)
    policy = tune_policy(rows, p, passes, capacity, version=2)
    assert set(policy.thresholds) == set(per_segment)


def test_deal_value_sends_the_leads_worth_more(model_dir):
    rows, p, passes = validation(model_dir)
    capacity = Capacity(max(20.0, round(weekly_passes(rows, passes) * 3)))

    def handed(policy) -> pd.DataFrame:
        chosen = passes | (p >= load_policy_thresholds(policy, rows))
        return first_handoffs(rows, chosen)

    by_sqls = tune_policy(rows, p, passes, capacity, version=2)
    emea_pays = DealValue("region", {"emea": 10.0, "*": 1.0})
    by_value = tune_policy(rows, p, passes, capacity, version=2, deal_value=emea_pays)
    assert by_value.objective == "expected pipeline value"
    emea_share = {
        name: (handed(policy)["region"] == "emea").mean()
        for name, policy in (("sqls", by_sqls), ("value", by_value))
    }
    assert emea_share["value"] > emea_share["sqls"] + 0.1
    revenue = DealValue("annual_revenue_musd")
    by_revenue = tune_policy(rows, p, passes, capacity, version=2, deal_value=revenue)
    assert by_revenue.deal_value.missing > 0  # a lead without revenue counts as typical
    assert (
        handed(by_revenue)["annual_revenue_musd"].median()
        > handed(by_sqls)["annual_revenue_musd"].median()
    )
    with pytest.raises(CapacityError, match="do not cover every region"):
        tune_policy(
            rows, p, passes, capacity, version=2,
            deal_value=DealValue("region", {"emea": 10.0}),
        )  # fmt: skip


def load_policy_thresholds(policy, rows: pd.DataFrame) -> np.ndarray:
    """The thresholds the scorer applies when this policy is current."""
    from leadscore.training.model.policy import policy_thresholds

    return policy_thresholds(policy, rows)


def test_retuning_writes_a_new_policy_keeps_history_and_the_scorer_reads_it(model_dir):
    before = json.loads((model_dir / "policy.json").read_text())
    result = tune_threshold(model_dir, Capacity(parse_capacity("60/week")))
    after = json.loads((model_dir / "policy.json").read_text())
    assert after["version"] == before["version"] + 1
    assert (model_dir / "policies" / f"policy-v{before['version']}.json").exists()
    assert load_model(model_dir).policy.threshold == after["threshold"]
    assert after["response_delay"]["half_life_hours"] == 72
    assert after["response_delay"]["source"] == "assumed"
    backtest = result["backtest"]
    assert {
        "policy",
        "rulebook threshold",
        "top-K per week",
        "policy at the rulebook's volume",
    } <= set(backtest.index)
    same, rulebook = (
        backtest.loc["policy at the rulebook's volume"],
        backtest.loc["rulebook threshold"],
    )
    assert same["mql_to_sql_rate"] > rulebook["mql_to_sql_rate"]
    assert not result["curve"].empty


def test_a_value_policy_is_applied_by_the_scorer_as_tuned(model_dir):
    rows, p, passes = validation(model_dir)
    value = DealValue("region", {"emea": 10.0, "*": 1.0})
    result = tune_threshold(model_dir, Capacity(40), delay=ResponseDelay(48), deal_value=value)
    policy = result["policy"]
    assert policy.objective == "expected pipeline value"
    assert "pipeline_value_per_week" in result["backtest"].columns
    scorer = load_model(model_dir)
    tuned = passes | (p * value.of(rows) >= policy.thresholds["*"])
    served = scorer.score(rows)["decision"].to_numpy() == "hand off"
    assert (served != tuned).sum() <= 1  # at most a lead exactly on the threshold


def test_tune_threshold_command_reports_the_backtest(world_dir, model_dir):
    result = runner.invoke(
        app,
        ["tune-threshold", "--model", str(model_dir), "--capacity", "80/week",
         "--outcomes", str(world_dir / "export" / "outcomes.parquet")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Out-of-time backtest" in result.output and "Capacity curve" in result.output
    written = json.loads((model_dir / "policy.json").read_text())["response_delay"]
    estimated = estimate_response_delay(
        read_outcome_times(world_dir / "export" / "outcomes.parquet")
    )
    assert written["source"] == estimated.source and written["source"].startswith("estimated from")
    assert written["half_life_hours"] == pytest.approx(estimated.half_life_hours, rel=1e-9)
    for bad, message in [
        (["--capacity", "0/week"], "positive"),
        (["--capacity", "80/week", "--response-half-life-hours", "0"], "half-life"),
        (["--capacity", "80/week", "--level-value", "emea=10"], "needs --deal-value"),
        (["--capacity", "80/week", "--deal-value", "no_such_column"], "not in the training set"),
    ]:
        refused = runner.invoke(app, ["tune-threshold", "--model", str(model_dir), *bad])
        assert refused.exit_code == 2 and message in refused.output, refused.output


def test_a_share_of_the_leads_is_that_share_of_validations_leads_a_week(model_dir):
    """Marketing ops may say "the best 10% of leads": a model with times takes it as that share
    of the leads validation saw arrive, a week, and tunes the queue as for any capacity."""
    result = runner.invoke(app, ["tune-threshold", "--model", str(model_dir), "--capacity", "10%"])
    assert result.exit_code == 0, result.output
    written = json.loads((model_dir / "policy.json").read_text())
    rows = pd.read_parquet(load_model(model_dir).metadata["training_set"])
    valid = rows[(rows[SPLIT] == "validation") & rows[LABEL].notna()]
    weeks = (valid[CUTOFF_AT].max() - valid[CUTOFF_AT].min()) / pd.Timedelta(days=7)
    assert written["capacity_per_week"] == pytest.approx(
        0.1 * valid[schema.LEAD_ID].nunique() / weeks
    )
    assert "Out-of-time backtest, per week, through the sales queue" in result.output
    for bad in ("0%", "120%", "ten percent"):
        refused = runner.invoke(
            app, ["tune-threshold", "--model", str(model_dir), "--capacity", bad]
        )
        assert refused.exit_code == 2 and "capacity" in refused.output, refused.output


def test_follow_up_delays_are_read_from_the_outcomes_file_as_the_export_was(world_dir, tmp_path):
    """A Japanese team's outcomes file: CP932, Japanese headers, Tokyo's clock, as a sheet of
    the export's workbook. Read with the export's format, the half-life is the one the
    Parquet file gives."""
    outcomes = pd.read_parquet(world_dir / "export" / "outcomes.parquet")
    names = {schema.LEAD_ID: "リードID", schema.SQL_AT: "商談化日時", schema.MQL_AT: "MQL日時",
             schema.FIRST_CONTACT_AT: "初回接触日時"}  # fmt: skip
    written = outcomes[list(names)].rename(columns=names)
    for column in list(names.values())[1:]:
        local = pd.to_datetime(written[column], utc=True).dt.tz_convert("Asia/Tokyo")
        written[column] = local.dt.strftime("%Y/%m/%d %H:%M:%S").where(local.notna(), "")
    csv_file = tmp_path / "商談.csv"
    written.to_csv(csv_file, index=False, encoding="cp932")
    book = tmp_path / "export.xlsx"
    with pd.ExcelWriter(book) as sheets:
        written.iloc[:0].to_excel(sheets, sheet_name="リード", index=False)
        written.to_excel(sheets, sheet_name="商談", index=False)
    fmt = ExportFormat(time_zone="Asia/Tokyo", columns=names)

    expected = estimate_response_delay(
        read_outcome_times(world_dir / "export" / "outcomes.parquet")
    )
    for path in (csv_file, book):
        estimated = estimate_response_delay(read_outcome_times(path, fmt))
        assert estimated.half_life_hours == pytest.approx(expected.half_life_hours, rel=1e-6)


def test_a_retune_keeps_the_teams_clock_and_counts_breaches_in_its_working_hours(
    trained_world, tmp_path
):
    """Marketing ops set the team's clock in policy.json; a data scientist re-tunes capacity.
    The clock stays (a re-tune used to drop it), and with working hours the backtest works the
    queue in them: its breaches are not the wall clock's."""
    model = Path(shutil.copytree(trained_world.model, tmp_path / "model"))
    in_force = load_model(model).in_force()
    write_policy(model, in_force.amended(version=in_force.version + 1, time_zone="Asia/Tokyo"))
    tune = ["tune-threshold", "--model", str(model), "--capacity", "40/week", "--sla-hours", "8"]
    hours = ["--working-hours", "Mon-Fri 09:00-18:00", "--holidays", "JP"]
    tuned = [runner.invoke(app, tune), runner.invoke(app, tune + hours)]
    for result in tuned:
        assert result.exit_code == 0, result.output
    assert (
        "first contact within 8 working hours (Mon-Fri 09:00-18:00 Asia/Tokyo, JP "
        "public holidays off)" in " ".join(tuned[1].output.split())
    )
    policy = json.loads((model / "policy.json").read_text())
    assert policy["time_zone"] == "Asia/Tokyo"
    assert (policy["working_hours"], policy["holidays"]) == ("Mon-Fri 09:00-18:00", "JP")
    versions = sorted((model / "policies").glob("policy-v*.json"))
    wall = json.loads(versions[-1].read_text())
    assert wall["time_zone"] == "Asia/Tokyo" and "working_hours" not in wall
    breaches = [p["backtest"]["policy"]["sla_breaches_per_week"] for p in (wall, policy)]
    assert breaches[1] != pytest.approx(breaches[0])
    # kept by the next re-tune, until told otherwise
    again = runner.invoke(app, ["tune-threshold", "--model", str(model), "--capacity", "40/week"])
    assert json.loads((model / "policy.json").read_text())["holidays"] == "JP", again.output
    off = runner.invoke(app, ["tune-threshold", "--model", str(model), "--capacity", "40/week",
                              "--working-hours", "none"])  # fmt: skip
    assert "working_hours" not in json.loads((model / "policy.json").read_text()), off.output
    bad = runner.invoke(app, ["tune-threshold", "--model", str(model), "--capacity", "40/week",
                              "--working-hours", "9 to 5"])  # fmt: skip
    assert bad.exit_code == 2 and "working_hours: '9 to 5': expected DAYS" in bad.output


def test_a_team_works_its_queue_in_its_working_hours():
    """Tokyo, Mon-Fri 09:00-18:00, 45 first contacts a week: one per working hour. Two leads
    handed off on Friday at 19:00 wait for Monday: the first is called at the opening (no
    extra wait beyond its usual follow-up), the second an hour later, 63 hours on the wall
    clock after its hand-off but one working hour, which is what the SLA counts."""
    working = WorkingHours.parse("Mon-Fri 09:00-18:00", "Asia/Tokyo", "JP")
    friday = pd.Timestamp("2026-07-03 19:00", tz="Asia/Tokyo").tz_convert("UTC")
    wednesday = pd.Timestamp("2026-07-08 11:00", tz="Asia/Tokyo").tz_convert("UTC")
    handed_at = pd.Series([friday, friday, wednesday])
    wall, counted = working_queue_waits(handed_at, per_week=45, working=working)
    assert counted.tolist() == pytest.approx([0.0, 1.0, 0.0])
    assert wall.tolist() == pytest.approx([0.0, 63.0, 0.0])
    assert queue_waits(handed_at, per_week=45).tolist() == pytest.approx([0.0, 168 / 45, 0.0])


def test_working_hours_without_a_team_clock_are_on_the_clock_the_export_was_written_on(
    trained_world,
):
    """A Japanese export read with --timezone Asia/Tokyo: `--working-hours` alone counts on
    Tokyo's clock, as the hand-off sheet reads its times. An export on UTC says nothing of
    where the team sits, so the run asks for the clock."""
    from dataclasses import replace

    scorer = load_model(trained_world.model)
    hours = {"working_hours": "Mon-Fri 09:00-18:00"}
    tokyo = ExportFormat(time_zone="Asia/Tokyo").as_dict()
    japanese = replace(scorer, metadata={**scorer.metadata, ExportFormat.METADATA_KEY: tokyo})
    team, working = team_of(japanese, hours)
    assert team["time_zone"] == "Asia/Tokyo" and working.zone == "Asia/Tokyo"
    queue = NO_COST_OF_WAITING.as_dict(working)["queue"]
    assert (
        queue == "first come, first served at capacity / 45 follow-ups an hour in working "
        "hours (Mon-Fri 09:00-18:00 Asia/Tokyo)"
    )
    with pytest.raises(CapacityError, match="working_hours: needs time_zone"):
        team_of(scorer, hours)
