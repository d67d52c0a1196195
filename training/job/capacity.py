"""Thresholds from sales capacity: hand off what sales can follow up, and the best of it.

A lead is handed off at the first snapshot where it qualifies (an instant pass, or a calibrated
P(SQL) - times its deal value when value is known - at or above its segment's threshold); after
that it is with sales and is not counted again. Hand-offs queue for a fixed number of follow-ups
a week (training/job/response_delay.py), and every hour a lead waits beyond its usual follow-up
costs conversions. So each segment's threshold is chosen on the validation period, among those
that keep its weekly hand-offs (instant passes first) within its capacity, to maximise expected
SQLs - or expected pipeline value - after the queue's delay. The backtest replays the
out-of-time test weeks through the same queue.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import ValidationError

from leadscore.features import schema
from leadscore.features.reading import ExportFormat
from leadscore.features.schema import CUTOFF_AT, LABEL
from leadscore.features.training_set import TRAINING_SET_FILE, is_stand_in
from leadscore.training.job.response_delay import (
    ResponseDelay,
    estimate_response_delay,
    queue_waits,
    read_outcome_times,
    working_queue_waits,
)
from leadscore.training.job.rule_metrics import weeks_spanned
from leadscore.training.model.policy import (
    POLICY_FILE,
    POLICY_HISTORY,
    REST,
    CapacityError,
    DealValue,
    Policy,
    levels_of,
    policy_problem,
    policy_thresholds,
    store_policy,
)
from leadscore.training.model.scorer import LeadScorer
from leadscore.training.model.service_level import DEFAULT_SLA_HOURS
from leadscore.training.model.working_hours import WorkingHours

WEEK = pd.Timedelta(days=7)
_FILL_SHARES = (1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.6, 0.5)
"""Shares of capacity the optimiser tries: a queue filled to the brim makes bursts wait."""


@dataclass(frozen=True)
class Capacity:
    """Follow-ups sales can make per week, overall or per segment, and the first-contact SLA.

    ``per_segment`` maps levels of the ``segment`` attribute to their team's weekly capacity;
    ``'*'`` covers every level not named. Each team works its own queue.
    """

    per_week: float
    sla_hours: float = DEFAULT_SLA_HOURS
    segment: str | None = None  # an attribute feature, e.g. region
    per_segment: dict[str, float] = field(default_factory=dict)
    # the hours the SLA counts in (the policy's working_clock); None: the wall clock
    working: WorkingHours | None = None

    def __post_init__(self) -> None:
        if not self.per_week > 0:
            raise CapacityError(f"capacity must be positive, got {self.per_week:g} per week")
        if not self.sla_hours > 0:
            raise CapacityError(f"the SLA must be a positive number of hours, got {self.sla_hours}")
        if self.segment and not self.per_segment:
            raise CapacityError(
                f"capacity split by {self.segment} needs each level's capacity: "
                f"--segment-capacity LEVEL=N/week for every level (or '*=N/week' for the rest)"
            )
        if self.per_segment and not self.segment:
            raise CapacityError("segment capacities need the segment they split (--segment)")
        for name, value in self.per_segment.items():
            if not value > 0:
                raise CapacityError(f"segment '{name}': capacity must be positive, got {value:g}")
        total = sum(self.per_segment.values())
        if self.per_segment and abs(total - self.per_week) > 1e-6 * self.per_week:
            raise CapacityError(
                f"segment capacities add up to {total:g} a week, not the total {self.per_week:g}"
            )

    def teams(self, rows: pd.DataFrame) -> pd.Series:
        """The team (segment level, or '*') whose queue each row's hand-off joins."""
        if self.segment is None:
            return pd.Series(REST, index=rows.index, dtype=object)
        if self.segment not in rows.columns:
            raise CapacityError(f"segment '{self.segment}' is not a feature of this model")
        levels = levels_of(rows[self.segment])
        named = levels.isin(list(self.per_segment))
        if not named.all() and REST not in self.per_segment:
            missing = sorted(set(levels[~named]))
            raise CapacityError(
                f"segment capacities do not cover every {self.segment}: "
                f"{', '.join(map(str, missing))} have none (add them, or '*' for the rest)"
            )
        return levels.where(named, REST)

    def of_team(self, team: str) -> float:
        return self.per_segment.get(team, self.per_week) if self.segment else self.per_week


def parse_capacity(text: str) -> float:
    """'200/week', '40/day' (7 days a week), '5x40/week' (reps x per-rep) -> follow-ups a week."""
    match = re.fullmatch(
        r"\s*(?:(\d+(?:\.\d+)?)\s*x\s*)?(-?\d+(?:\.\d+)?)\s*/\s*(week|day)\s*", text
    )
    if not match:
        raise CapacityError(
            f"capacity {text!r} not understood; write it like 200/week, 40/day, 5x40/week or 15%"
        )
    reps, amount, unit = match.groups()
    value = float(amount) * (float(reps) if reps else 1.0) * (7.0 if unit == "day" else 1.0)
    if value <= 0:
        raise CapacityError(f"capacity must be positive, got {text!r}")
    return value


def parse_share(text: str) -> float | None:
    """'15%' -> 0.15, the share of leads sales can follow up; None when ``text`` is no share.

    Why a share: a file without creation times (a flat CRM report) has no weeks to count
    follow-ups in, and "the best 15% of each report" is how such teams say it. A model with
    times takes it as that share of its leads a week.
    """
    match = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*%\s*", text)
    if not match:
        return None
    share = float(match.group(1)) / 100
    if not 0 < share <= 1:
        raise CapacityError(f"capacity {text!r}: a share of leads is more than 0% and at most 100%")
    return share


def first_handoffs(rows: pd.DataFrame, qualifies: np.ndarray) -> pd.DataFrame:
    """The first qualifying snapshot of each lead (later ones are already with sales)."""
    chosen = rows[qualifies]
    return chosen.sort_values(CUTOFF_AT, kind="stable").drop_duplicates(
        schema.LEAD_ID, keep="first"
    )


def fill_threshold(
    rows: pd.DataFrame, key: np.ndarray, passes: np.ndarray, per_week: float
) -> float:
    """Lowest key whose weekly first-time hand-offs, instant passes first, stay within capacity.

    A lead is handed off at some point exactly when its best key reaches the threshold, so the
    volume at a threshold is the number of leads whose best key does.
    """
    weeks = weeks_spanned(rows[CUTOFF_AT])
    budget = math.floor(per_week * weeks + 1e-9)
    best = (
        pd.Series(np.where(passes, np.inf, key), index=rows.index)
        .groupby(rows[schema.LEAD_ID].to_numpy())
        .max()
        .sort_values(ascending=False)
        .to_numpy()
    )
    pass_volume = int(np.isinf(best).sum())
    if pass_volume > budget:
        raise CapacityError(
            f"instant passes alone need {pass_volume / weeks:.0f} follow-ups a week, more than the "
            f"capacity of {per_week:g}: raise capacity, or narrow the instant-pass triggers"
        )
    if budget >= len(best):
        return float(np.min(key)) if len(key) else 1.0
    first_left_out = best[budget]
    above = key[key > first_left_out]
    return float(above.min()) if len(above) else float(np.nextafter(first_left_out, np.inf))


def handoff_outcomes(
    rows: pd.DataFrame,
    handoff: np.ndarray,
    capacity: Capacity,
    delay: ResponseDelay,
    converts: np.ndarray,
    value: np.ndarray | None = None,
) -> dict[str, float]:
    """Per week: hand-offs, SQLs and MQL->SQL rate after the queue's delay, and SLA breaches.

    ``converts`` is the chance (or, replaying history, the fact) that a lead becomes SQL when
    followed up at the usual speed; the queue multiplies it by what waiting leaves. A breach is
    a lead whose wait for a free follow-up slot alone exceeds the SLA. With the team's working
    hours the queue is worked in them and the SLA counts them
    (:func:`training.job.response_delay.working_queue_waits`).
    """
    frame = rows.assign(
        _converts=converts, _value=1.0 if value is None else value, _team=capacity.teams(rows)
    )
    handed = first_handoffs(frame, handoff)
    waits = pd.Series(0.0, index=handed.index)  # extra hours on the wall clock
    late = pd.Series(0.0, index=handed.index)  # the same, as the SLA counts them
    for team, members in handed.groupby("_team"):
        per_week = capacity.of_team(str(team))
        if capacity.working is None:
            waits[members.index] = late[members.index] = queue_waits(members[CUTOFF_AT], per_week)
        else:
            waits[members.index], late[members.index] = working_queue_waits(
                members[CUTOFF_AT], per_week, capacity.working
            )
    kept = handed["_converts"] * delay.multiplier(waits.to_numpy())
    weeks, count = weeks_spanned(rows[CUTOFF_AT]), len(handed)
    outcomes = {
        "handoffs_per_week": count / weeks,
        "sqls_per_week": float(kept.sum() / weeks),
        "mql_to_sql_rate": float(kept.sum() / count) if count else 0.0,
        "sla_breaches_per_week": float((late.to_numpy() > capacity.sla_hours).sum() / weeks),
        "mean_wait_hours": float(waits.mean()) if count else 0.0,
        "sqls_per_week_without_queue": float(handed["_converts"].sum() / weeks),
        "mql_to_sql_rate_without_queue": float(handed["_converts"].mean()) if count else 0.0,
    }
    if value is not None:
        outcomes["pipeline_value_per_week"] = float((kept * handed["_value"]).sum() / weeks)
    return outcomes


def tune_policy(
    rows: pd.DataFrame,
    p: np.ndarray,
    passes: np.ndarray,
    capacity: Capacity,
    *,
    version: int,
    team_settings: Mapping[str, object] | None = None,
    instant_pass_hands_off: bool = True,
    delay: ResponseDelay | None = None,
    deal_value: DealValue | None = None,
) -> Policy:
    """Per team, the threshold within capacity that maximises expected SQLs (or value) after delay.
    ``team_settings``: what the policy keeps of the team's (:meth:`Policy.team_settings`;
    default tiers when none).

    Filling capacity to the brim is not always best: inflow comes in bursts, and a full queue
    makes the leads behind a burst wait. So each team tries thresholds that fill 50-100% of its
    capacity and keeps the one with the most expected SQLs (or pipeline value) after the wait.
    """
    delay = delay or ResponseDelay()
    deal_value = deal_value.fitted(rows) if deal_value else None
    value = deal_value.of(rows) if deal_value else None
    key = p if value is None else p * value
    teams = capacity.teams(rows)
    thresholds: dict[str, float] = {}
    for team in sorted(set(teams)):
        inside = (teams == team).to_numpy()
        members = rows[inside]
        team_capacity = Capacity(
            capacity.of_team(team), capacity.sla_hours, working=capacity.working
        )
        gain = key[inside]
        best_threshold, best_gain = 1.0, -np.inf
        for share in _FILL_SHARES:
            try:
                threshold = fill_threshold(
                    members, gain, passes[inside], team_capacity.per_week * share
                )
            except CapacityError as error:
                if share < 1.0:  # the passes fit the whole capacity, just not this share of it
                    break
                where = f"{capacity.segment}={team}: " if capacity.segment else ""
                raise CapacityError(where + str(error)) from None
            handoff = passes[inside] | (gain >= threshold)
            expected = handoff_outcomes(members, handoff, team_capacity, delay, gain)
            if expected["sqls_per_week"] > best_gain + 1e-12:
                best_threshold, best_gain = threshold, expected["sqls_per_week"]
        thresholds[team] = best_threshold
    policy = Policy(
        version=version,
        kind="capacity",
        objective="expected SQLs" if deal_value is None else "expected pipeline value",
        threshold=thresholds.get(REST, min(thresholds.values())),
        thresholds=thresholds,
        segment=capacity.segment,
        instant_pass_hands_off=instant_pass_hands_off,
        **(team_settings or {}),
        sla_hours=capacity.sla_hours,
        capacity_per_week=capacity.per_week,
        capacity_per_segment=dict(capacity.per_segment),
        deal_value=deal_value,
        response_delay=delay.as_dict(capacity.working),
    )
    handoff = passes | (p >= policy_thresholds(policy, rows))
    expected = handoff_outcomes(rows, handoff, capacity, delay, p, value)
    return policy.amended(expected=expected)


def replay(
    rows: pd.DataFrame,
    handoff: np.ndarray,
    capacity: Capacity,
    delay: ResponseDelay,
    value: np.ndarray | None = None,
) -> dict[str, float]:
    """Labelled weeks replayed: each real SQL survives the queue's extra wait with its odds."""
    return handoff_outcomes(rows, handoff, capacity, delay, rows[LABEL].to_numpy(float), value)


def top_k_per_week(rows: pd.DataFrame, key: np.ndarray, passes: np.ndarray, k: float) -> np.ndarray:
    """The plain baseline: each week, the k best snapshots (passes first) whatever the history."""
    frame = rows[[CUTOFF_AT]].assign(_key=np.where(passes, np.inf, key))
    week = ((frame[CUTOFF_AT] - frame[CUTOFF_AT].min()) // WEEK).astype(int)
    rank = frame.groupby(week)["_key"].rank(ascending=False, method="first")
    return (rank <= k).to_numpy()


def capacity_curve(
    rows: pd.DataFrame,
    p: np.ndarray,
    passes: np.ndarray,
    capacity: Capacity,
    delay: ResponseDelay,
    volumes: list[float],
    value: np.ndarray | None = None,
) -> pd.DataFrame:
    """Expected SQLs, MQL->SQL rate and SLA breaches against hand-offs per week.

    Each point sends that many leads a week, the best first, to the current sales capacity:
    past capacity the queue grows, waits eat conversions, and more hand-offs stop paying.
    """
    key = p if value is None else p * value
    weeks = weeks_spanned(rows[CUTOFF_AT])
    pass_volume = len(first_handoffs(rows, passes)) / weeks
    out = []
    for volume in volumes:
        if volume < pass_volume:
            continue
        threshold = fill_threshold(rows, key, passes, volume)
        expected = handoff_outcomes(rows, passes | (key >= threshold), capacity, delay, p, value)
        out.append(
            {
                "handoffs_per_week": expected["handoffs_per_week"],
                "expected_sqls_per_week": expected["sqls_per_week"],
                "expected_mql_to_sql_rate": expected["mql_to_sql_rate"],
                "sla_breaches_per_week": expected["sla_breaches_per_week"],
                **(
                    {"expected_value_per_week": expected["pipeline_value_per_week"]}
                    if value is not None
                    else {}
                ),
                "threshold": threshold,
            }
        )
    return pd.DataFrame(out)


def write_policy(model_dir: Path, policy: Policy) -> Path:
    """Make ``policy`` current, keeping the file it replaces, as it was, under ``policies/``."""
    current = model_dir / POLICY_FILE
    history = model_dir / POLICY_HISTORY
    history.mkdir(exist_ok=True)
    if current.exists():
        old = current.read_text(encoding="utf-8")
        try:
            version = json.loads(old).get("version", 0)
        except (ValueError, AttributeError):  # a broken file is kept too, for the record
            version = "unreadable"
        (history / f"policy-v{version}.json").write_text(old, encoding="utf-8")
    return store_policy(policy, current)


def tune_threshold(
    model_dir: Path,
    capacity: Capacity,
    training_set: Path | None = None,
    *,
    delay: ResponseDelay | None = None,
    deal_value: DealValue | None = None,
    loaded: Tuning | None = None,
    team: Mapping[str, object] | None = None,
) -> dict:
    """Re-tune the policy of a trained model for a capacity, without retraining.

    Tunes on the validation period, replays the out-of-time test weeks through the sales queue
    for the new policy, the rulebook threshold and plain top-K per week, draws the capacity
    curve, and compares with the rulebook at the rulebook's own weekly volume. Writes the
    policy, with the delay model it assumed, into the model directory (the old one kept under
    ``policies/``) and into the training's MLflow run. ``loaded``: the model and rows when
    the caller has read them already. ``team``: the team settings the new policy keeps
    (:meth:`Policy.team_settings`), by default the policy in force's; its working hours count
    the backtest's SLA breaches.
    """
    delay = delay or ResponseDelay()
    loaded = loaded or Tuning.load(model_dir, training_set)
    scorer, valid, test = loaded.scorer, loaded.valid, loaded.test
    team, working = team_of(scorer, team)
    capacity = replace(capacity, working=working)
    capacity.teams(valid)  # a segment the model lacks, or levels without capacity, fail here
    p_valid, p_test = scorer.probability(valid), scorer.probability(test)
    passes_valid = scorer.rules.instant_passes(valid).any(axis=1).to_numpy()
    passes_test = scorer.rules.instant_passes(test).any(axis=1).to_numpy()
    policy = tune_policy(
        valid, p_valid, passes_valid, capacity,
        version=scorer.in_force().version + 1,
        team_settings=team, instant_pass_hands_off=scorer.rulebook.instant_pass_hands_off,
        delay=delay, deal_value=deal_value,
    )  # fmt: skip
    fitted_value = policy.deal_value
    value_test = fitted_value.of(test) if fitted_value else None
    key_test = p_test if value_test is None else p_test * value_test
    rulebook_handoff = scorer.rules.predict(test).astype(bool)
    backtest = {
        "policy": replay(
            test, passes_test | (p_test >= policy_thresholds(policy, test)), capacity,
            delay, value_test,
        ),
        "rulebook threshold": replay(test, rulebook_handoff, capacity, delay, value_test),
        "top-K per week": replay(
            test, top_k_per_week(test, key_test, passes_test, capacity.per_week), capacity,
            delay, value_test,
        ),
    }  # fmt: skip
    # like for like: the rulebook's own weekly volume, the best leads first, the same sales team
    # (a rulebook that hands off no one has no volume to match)
    rulebook_volume = backtest["rulebook threshold"]["handoffs_per_week"]
    if rulebook_volume > 0:
        same = fill_threshold(valid, p_valid, passes_valid, rulebook_volume)
        backtest["policy at the rulebook's volume"] = replay(
            test, passes_test | (p_test >= same), capacity, delay, value_test
        )
        matched = fill_threshold(test, p_test, passes_test, rulebook_volume)
        backtest["policy, volume matched on test"] = replay(
            test, passes_test | (p_test >= matched), capacity, delay, value_test
        )
    curve = capacity_curve(
        valid, p_valid, passes_valid, capacity, delay,
        sorted({round(capacity.per_week * f, 1) for f in (0.25, 0.5, 0.75, 1, 1.25, 1.5, 2)}),
        fitted_value.of(valid) if fitted_value else None,
    )  # fmt: skip
    policy = policy.amended(backtest=backtest)
    figure = _curve_figure(curve, capacity.per_week)
    _store(Path(model_dir), scorer, policy, curve, figure)
    return {"policy": policy, "backtest": pd.DataFrame(backtest).T, "curve": curve}


@dataclass(frozen=True)
class Tuning:
    """What re-tuning reads: the model directory's scorer and the labelled validation and test
    rows of its training set (or ``training_set``), read once per `tune-threshold`."""

    model_dir: Path
    scorer: LeadScorer
    valid: pd.DataFrame
    test: pd.DataFrame

    @classmethod
    def load(cls, model_dir: Path, training_set: Path | None = None) -> Tuning:
        from leadscore.features.schema import SPLIT
        from leadscore.training.model.artifact import load_model

        scorer = load_model(model_dir)
        path = Path(training_set or scorer.metadata.get("training_set") or TRAINING_SET_FILE)
        if not path.is_file():
            raise CapacityError(f"training set {path} not found; pass --training-set")
        rows = pd.read_parquet(path)
        rows = rows[rows[LABEL].notna()]
        valid = rows[rows[SPLIT] == "validation"].reset_index(drop=True)
        test = rows[rows[SPLIT] == "test"].reset_index(drop=True)
        return cls(Path(model_dir), scorer, valid, test)


def team_of(
    scorer: LeadScorer, given: Mapping[str, object] | None
) -> tuple[dict[str, object], WorkingHours | None]:
    """The team settings a re-tuned policy keeps (the policy in force's, with ``given`` on
    top) and the working hours they give, checked as the policy will be: a re-tune used to
    drop the team's clock that marketing ops had set. Working hours without a team clock are
    on the clock the export was written on, as the hand-off sheet reads times without one
    (a Japanese export read with --timezone Asia/Tokyo), unless that is UTC, which says
    nothing of where the team sits."""
    in_force = scorer.in_force()
    team = {**in_force.team_settings(), **(given or {})}
    if team.get("working_hours") and not team.get("time_zone"):
        export_clock = ExportFormat.remembered(scorer.metadata, None).time_zone
        team["time_zone"] = None if export_clock == "UTC" else export_clock
    try:
        return team, in_force.amended(**team).working_clock()
    except ValidationError as error:
        raise CapacityError("; ".join(policy_problem(e) for e in error.errors())) from None


def _store(
    model_dir: Path, scorer: LeadScorer, policy: Policy, curve: pd.DataFrame, figure: object
) -> None:
    """The tuned policy into the model directory, and with its curve into the training's run."""
    import mlflow

    write_policy(model_dir, policy)
    uri, run_id = scorer.metadata.get("tracking_uri"), scorer.metadata.get("run_id")
    if uri and run_id:
        mlflow.set_tracking_uri(uri)
        with mlflow.start_run(run_id=run_id):
            mlflow.log_dict(policy.as_dict(), f"policies/policy-v{policy.version}.json")
            mlflow.log_dict(
                json.loads(curve.to_json(orient="records")),
                f"policies/capacity-curve-v{policy.version}.json",
            )
            mlflow.log_figure(figure, f"policies/capacity-curve-v{policy.version}.png")


def share_text(share: float) -> str:
    """A share as people write it: 0.15 is '15%', 0.125 '12.5%' (never rounded to '12%')."""
    return f"{share * 100:.4g}%"


def share_outcomes(
    rows: pd.DataFrame, handoff: np.ndarray, converts: np.ndarray
) -> dict[str, float]:
    """Share of leads handed off, MQL->SQL rate and share of SQLs caught, one row per lead.

    ``converts`` is each lead's chance of SQL (expected figures) or its label (a backtest).
    Without times there is no queue to wait in and nothing to count a week over.
    """
    handoff = np.asarray(handoff, bool)
    total = float(np.sum(converts))
    return {
        "handoff_share": float(handoff.mean()) if len(rows) else 0.0,
        "handoffs": float(handoff.sum()),
        "mql_to_sql_rate": float(np.mean(converts[handoff])) if handoff.any() else 0.0,
        "sql_share": float(np.sum(converts[handoff]) / total) if total > 0 else 0.0,
    }


def share_per_week(rows: pd.DataFrame, share: float) -> float:
    """``share`` of the leads ``rows`` saw arrive, a week (for a file without times, whose
    stand-in times span one week, that share of its leads)."""
    return share * rows[schema.LEAD_ID].nunique() / weeks_spanned(rows[CUTOFF_AT])


def share_threshold(rows: pd.DataFrame, key: np.ndarray, passes: np.ndarray, share: float) -> float:
    """The lowest key that hands off at most ``share`` of the rows' leads, instant passes first."""
    leads = rows[schema.LEAD_ID].nunique()
    try:
        return fill_threshold(rows, key, passes, share_per_week(rows, share))
    except CapacityError:
        raise CapacityError(
            f"instant passes alone hand off {first_handoffs(rows, passes).shape[0] / leads:.1%} "
            f"of the leads, more than the share of {share:.1%}: raise the share, or narrow the "
            "instant-pass triggers"
        ) from None


def share_curve(
    rows: pd.DataFrame, p: np.ndarray, key: np.ndarray, passes: np.ndarray, share: float
) -> pd.DataFrame:
    """Expected MQL->SQL rate and share of SQLs caught at shares around ``share`` (those the
    instant passes leave room for): where handing off more stops paying."""
    leads, passing = rows[schema.LEAD_ID].nunique(), len(first_handoffs(rows, passes))
    points = []
    for each in sorted({min(round(share * f, 4), 1.0) for f in (0.25, 0.5, 0.75, 1, 1.5, 2, 3)}):
        if passing <= each * leads:
            threshold = share_threshold(rows, key, passes, each)
            points.append({"share": each, **share_outcomes(rows, passes | (key >= threshold), p)})
    return pd.DataFrame(points)


def tune_share(
    model_dir: Path,
    share: float,
    training_set: Path | None = None,
    *,
    sla_hours: float = DEFAULT_SLA_HOURS,
    deal_value: DealValue | None = None,
    loaded: Tuning | None = None,
    team: Mapping[str, object] | None = None,
) -> dict:
    """Re-tune the policy of a model whose file had no creation times: the best ``share`` of
    the leads (by P(SQL), or by P(SQL) x deal value), instant passes first.

    Such a file's rows have stand-in times a second apart, so the queue and the weekly counts
    of :func:`tune_threshold` would read seconds as the week sales works in. The threshold is
    chosen on validation; the backtest replays the test leads for the policy, the best
    ``share`` of test itself (the volume matched, the best a threshold could do) and the
    rulebook threshold when it hands off anyone; the curve gives the expected MQL->SQL rate
    and share of SQLs caught on validation at other shares. ``sla_hours`` still sets the
    follow-up deadline of a handed-off lead. Written to the model directory and the
    training's MLflow run. ``loaded`` and ``team`` as for :func:`tune_threshold`.
    """
    loaded = loaded or Tuning.load(model_dir, training_set)
    scorer, valid, test = loaded.scorer, loaded.valid, loaded.test
    team, _ = team_of(scorer, team)
    p_valid, p_test = scorer.probability(valid), scorer.probability(test)
    passes_valid = scorer.rules.instant_passes(valid).any(axis=1).to_numpy()
    passes_test = scorer.rules.instant_passes(test).any(axis=1).to_numpy()
    fitted = deal_value.fitted(valid) if deal_value else None
    key_valid = p_valid * fitted.of(valid) if fitted else p_valid
    key_test = p_test * fitted.of(test) if fitted else p_test
    threshold = share_threshold(valid, key_valid, passes_valid, share)
    handoff = passes_valid | (key_valid >= threshold)
    label = test[LABEL].to_numpy(float)
    backtest = {
        "policy": share_outcomes(test, passes_test | (key_test >= threshold), label),
        f"best {share_text(share)} of test": share_outcomes(
            test, passes_test | (key_test >= share_threshold(test, key_test, passes_test, share)),
            label,
        ),
    }  # fmt: skip
    rulebook = scorer.rules.predict(test).astype(bool)
    if rulebook.any():  # a bootstrapped or empty rulebook may hand off no one: nothing to show
        backtest["rulebook threshold"] = share_outcomes(test, rulebook, label)
    curve = share_curve(valid, p_valid, key_valid, passes_valid, share)
    policy = Policy(
        version=scorer.in_force().version + 1,
        kind="capacity",
        objective="expected SQLs" if fitted is None else "expected pipeline value",
        threshold=threshold,
        thresholds={REST: threshold},
        instant_pass_hands_off=scorer.rulebook.instant_pass_hands_off,
        **team,
        sla_hours=sla_hours,
        capacity_share=share,
        handoff_share=round(float(handoff.mean()), 4),
        validation_handoffs=int(handoff.sum()),
        deal_value=fitted,
        expected=share_outcomes(valid, handoff, p_valid),
        backtest=backtest,
    )
    _store(Path(model_dir), scorer, policy, curve, _share_figure(curve, share))
    return {"policy": policy, "backtest": pd.DataFrame(backtest).T, "curve": curve}


def _pairs(items: Sequence[str], option: str, form: str) -> dict[str, str]:
    """``LEVEL=VALUE`` options as {level: value}, levels lower-cased as the policy keeps them."""
    parsed = {}
    for item in items:
        level, _, amount = item.partition("=")
        if not amount.strip():
            raise CapacityError(f"{option} {item!r}: write it as {form}")
        parsed[level.strip().lower()] = amount.strip()
    return parsed


def tune_for_capacity(
    model_dir: Path,
    capacity: str,
    *,
    sla_hours: float = 24.0,
    segment: str | None = None,
    segment_capacity: Sequence[str] = (),
    training_set: Path | None = None,
    response_half_life_hours: float | None = None,
    outcomes: Path | None = None,
    deal_value: str | None = None,
    level_value: Sequence[str] = (),
    working_hours: str | None = None,
    holidays: str | None = None,
    team_time_zone: str | None = None,
) -> dict:
    """`leadscore tune-threshold` in one call: capacity as people write it, to a new policy.

    ``capacity`` and each ``segment_capacity`` (``LEVEL=N/week``, ``'*'`` for the rest) are
    read by :func:`parse_capacity`; the response half-life is ``response_half_life_hours``, or
    estimated from the ``outcomes`` file's follow-up delays, or the default; ``deal_value``
    names the attribute holding a lead's value, ``level_value`` (``LEVEL=AMOUNT``) prices the
    levels of a categorical one. ``working_hours`` (``Mon-Fri 09:00-18:00``, or ``none`` for
    the wall clock), ``holidays`` (a country code) and ``team_time_zone`` replace the team
    settings of the policy in force; not given, they are kept. Returns
    :func:`tune_threshold`'s result with the ``capacity`` it was tuned for.
    """
    team = {
        key: value for key, value in (
            ("working_hours", working_hours), ("holidays", holidays),
            ("time_zone", team_time_zone),
        ) if value is not None
    }  # fmt: skip
    if str(team.get("working_hours", "")).strip().lower() == "none":  # back to the wall clock
        if holidays is not None:
            raise CapacityError("--holidays needs working hours; --working-hours none has none")
        team.update(working_hours=None, holidays=None)
    if holidays is not None:
        team["holidays"] = holidays.strip().upper()
    per_segment = {
        level: parse_capacity(amount)
        for level, amount in _pairs(segment_capacity, "--segment-capacity", "LEVEL=N/week").items()
    }
    if per_segment and not segment:
        raise CapacityError("--segment-capacity needs --segment")
    share = parse_share(capacity)
    loaded = Tuning.load(model_dir, training_set)  # once, for the choice and the tuning
    valid = loaded.valid
    per_level = {}
    for level, amount in _pairs(level_value, "--level-value", "LEVEL=AMOUNT").items():
        try:
            per_level[level] = float(amount)
        except ValueError:
            raise CapacityError(
                f"--level-value {level}={amount}: AMOUNT must be a number"
            ) from None
    if per_level and not deal_value:
        raise CapacityError("--level-value needs --deal-value (the attribute it prices)")
    value = DealValue(deal_value, per_level) if deal_value else None
    if is_stand_in(valid[CUTOFF_AT]):  # before --outcomes is read: it is refused here
        refused = [option for option, given in (
            ("--segment", segment), ("--response-half-life-hours", response_half_life_hours),
            ("--outcomes", outcomes),
        ) if given is not None]  # fmt: skip
        if share is None or refused:
            raise CapacityError(
                "the file this model learnt from has no creation times, so there is no week "
                "to count follow-ups in and no queue to wait in: give the share of leads sales "
                "can follow up, e.g. --capacity 15%"
                + (f", without {', '.join(refused)}" if refused else "")
            )
        result = tune_share(
            model_dir, share, sla_hours=sla_hours, deal_value=value, loaded=loaded, team=team
        )
        return {**result, "capacity": None}
    if response_half_life_hours is not None:
        delay = ResponseDelay(response_half_life_hours, "configured")
    elif outcomes is not None:
        fmt = ExportFormat.remembered(loaded.scorer.metadata, None)  # as the export was read
        delay = estimate_response_delay(read_outcome_times(outcomes, fmt))
    else:
        delay = ResponseDelay()
    # a share: that share of the leads validation saw arrive, a week
    per_week = parse_capacity(capacity) if share is None else share_per_week(valid, share)
    settings = Capacity(per_week, sla_hours, segment, per_segment)
    result = tune_threshold(
        model_dir, settings, delay=delay, deal_value=value, loaded=loaded, team=team
    )
    return {**result, "capacity": settings}


def _share_figure(curve: pd.DataFrame, current: float):  # type: ignore[no-untyped-def]
    from leadscore.training.job.figures import pyplot

    plt = pyplot()

    fig, left = plt.subplots(figsize=(6, 4))
    left.plot(curve["share"], curve["sql_share"], "o-", label="share of SQLs caught")
    left.plot(curve["share"], curve["mql_to_sql_rate"], "s--", label="MQL->SQL rate")
    left.axvline(current, color="grey", linestyle=":", label="chosen share")
    left.set(xlabel="share of leads handed off", title="Capacity curve (validation)")
    left.legend(loc="lower right")
    fig.tight_layout()
    return fig


def _curve_figure(curve: pd.DataFrame, current: float):  # type: ignore[no-untyped-def]
    from leadscore.training.job.figures import pyplot

    plt = pyplot()

    fig, left = plt.subplots(figsize=(6, 4))
    left.plot(
        curve["handoffs_per_week"], curve["expected_sqls_per_week"], "o-", label="SQLs / week"
    )
    left.axvline(current, color="grey", linestyle=":", label="current capacity")
    left.set(xlabel="hand-offs per week", ylabel="expected SQLs per week", title="Capacity curve")
    right = left.twinx()
    right.plot(
        curve["handoffs_per_week"], curve["expected_mql_to_sql_rate"], "s--", color="tab:orange"
    )
    right.set_ylabel("expected MQL->SQL rate")
    left.legend(loc="lower right")
    fig.tight_layout()
    return fig
