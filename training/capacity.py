"""Thresholds from sales capacity: hand off what sales can follow up, and the best of it.

A lead is handed off at the first snapshot where it qualifies (an instant pass, or a calibrated
P(SQL) at or above its segment's threshold); after that it is with sales and is not counted
again. With a fixed number of follow-ups a week, expected SQLs are largest when the leads with
the highest probabilities go first, so each segment's threshold is the probability at which its
weekly first-time hand-offs, instant passes included (they use capacity first), fill its
capacity on the validation period. The backtest replays the out-of-time test weeks.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from features import schema
from features.offline import CUTOFF_AT, LABEL

WEEK = pd.Timedelta(days=7)


class CapacityError(ValueError):
    """Capacity settings that cannot work, with what to change."""


@dataclass(frozen=True)
class Capacity:
    """Follow-ups sales can make per week, overall or per segment, and the first-contact SLA."""

    per_week: float
    sla_hours: float = 24.0
    segment: str | None = None  # an attribute feature, e.g. region
    per_segment: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.per_week > 0:
            raise CapacityError(f"capacity must be positive, got {self.per_week:g} per week")
        if self.sla_hours <= 0:
            raise CapacityError(f"the SLA must be a positive number of hours, got {self.sla_hours}")
        for name, value in self.per_segment.items():
            if not value > 0:
                raise CapacityError(f"segment '{name}': capacity must be positive, got {value:g}")


def parse_capacity(text: str) -> float:
    """'200/week', '40/day' (7 days a week), '5x40/week' (reps x per-rep) -> follow-ups a week."""
    match = re.fullmatch(
        r"\s*(?:(\d+(?:\.\d+)?)\s*x\s*)?(-?\d+(?:\.\d+)?)\s*/\s*(week|day)\s*", text
    )
    if not match:
        raise CapacityError(
            f"capacity {text!r} not understood; write it like 200/week, 40/day or 5x40/week"
        )
    reps, amount, unit = match.groups()
    value = float(amount) * (float(reps) if reps else 1.0) * (7.0 if unit == "day" else 1.0)
    if value <= 0:
        raise CapacityError(f"capacity must be positive, got {text!r}")
    return value


def first_handoffs(rows: pd.DataFrame, qualifies: np.ndarray) -> pd.DataFrame:
    """The first qualifying snapshot of each lead (later ones are already with sales)."""
    chosen = rows[qualifies]
    return chosen.sort_values(CUTOFF_AT).drop_duplicates(schema.LEAD_ID, keep="first")


def _weeks(rows: pd.DataFrame) -> float:
    return max((rows[CUTOFF_AT].max() - rows[CUTOFF_AT].min()) / WEEK, 1.0)


def _segment_threshold(
    rows: pd.DataFrame, p: np.ndarray, passes: np.ndarray, per_week: float
) -> float:
    """Lowest p whose weekly first-time hand-offs (passes first) stay within capacity."""
    weeks = _weeks(rows)
    budget = per_week * weeks
    pass_volume = len(first_handoffs(rows, passes))
    if pass_volume > budget:
        raise CapacityError(
            f"instant passes alone need {pass_volume / weeks:.0f} follow-ups a week, more than the "
            f"capacity of {per_week:g}: raise capacity, or narrow the instant-pass triggers"
        )
    candidates = np.unique(p)[::-1]
    low, high = 0, len(candidates) - 1
    best = 1.0
    while low <= high:  # volume falls as the threshold rises: binary search on distinct p
        middle = (low + high) // 2
        threshold = candidates[middle]
        volume = len(first_handoffs(rows, passes | (p >= threshold)))
        if volume <= budget:
            best, low = float(threshold), middle + 1
        else:
            high = middle - 1
    return best


@dataclass
class Policy:
    """The versioned hand-off policy that serving reads from the model directory."""

    version: int
    capacity_per_week: float
    sla_hours: float
    thresholds: dict[str, float]  # segment level -> threshold ("*" when not segmented)
    segment: str | None
    expected: dict[str, float]
    tiers: dict
    instant_pass_hands_off: bool = True
    kind: str = "capacity"

    def threshold_for(self, segments: pd.Series | None, size: int) -> np.ndarray:
        if self.segment is None or segments is None:
            return np.full(size, self.thresholds["*"])
        return (
            segments.astype(object)
            .map(self.thresholds)
            .fillna(self.thresholds.get("*", 1.0))
            .to_numpy(float)
        )

    def as_dict(self) -> dict:
        data = asdict(self)
        data["threshold"] = self.thresholds.get("*", min(self.thresholds.values()))
        return data


def tune_policy(
    rows: pd.DataFrame,
    p: np.ndarray,
    passes: np.ndarray,
    capacity: Capacity,
    *,
    version: int,
    tiers: dict,
    instant_pass_hands_off: bool = True,
) -> Policy:
    """Thresholds per segment that fill each segment's weekly capacity with the best leads."""
    thresholds: dict[str, float] = {}
    if capacity.segment is None:
        thresholds["*"] = _segment_threshold(rows, p, passes, capacity.per_week)
    else:
        levels = rows[capacity.segment].astype(object).fillna("(empty)")
        missing = sorted(set(levels) - set(capacity.per_segment))
        if missing:
            raise CapacityError(
                f"segment capacities do not cover every {capacity.segment}: "
                f"{', '.join(map(str, missing))} have none (add them, or '*' for the rest)"
            )
        total = sum(capacity.per_segment.values())
        if abs(total - capacity.per_week) > 1e-6 * capacity.per_week:
            raise CapacityError(
                f"segment capacities add up to {total:g} a week, "
                f"not the total {capacity.per_week:g}"
            )
        for level in sorted(set(levels)):
            inside = (levels == level).to_numpy()
            thresholds[str(level)] = _segment_threshold(
                rows[inside], p[inside], passes[inside], capacity.per_segment[level]
            )
    policy = Policy(version, capacity.per_week, capacity.sla_hours, thresholds, capacity.segment,
                    {}, tiers, instant_pass_hands_off)  # fmt: skip
    handed = first_handoffs(
        rows.assign(_p=p), passes | (p >= policy.threshold_for(_segments(rows, policy), len(rows)))
    )
    weeks = _weeks(rows)
    policy.expected = {
        "handoffs_per_week": len(handed) / weeks,
        "mql_to_sql_rate": float(handed["_p"].mean()) if len(handed) else 0.0,
        "sqls_per_week": float(handed["_p"].sum() / weeks),
    }
    return policy


def _segments(rows: pd.DataFrame, policy: Policy) -> pd.Series | None:
    if policy.segment is None:
        return None
    return rows[policy.segment].astype(object).fillna("(empty)")


def replay(rows: pd.DataFrame, handoff: np.ndarray, capacity_per_week: float | None) -> dict:
    """Week by week on labelled rows: hand-offs, SQLs, MQL->SQL rate, SLA breaches."""
    handed = first_handoffs(rows, handoff)
    week = ((handed[CUTOFF_AT] - rows[CUTOFF_AT].min()) // WEEK).astype(int)
    per_week = handed.groupby(week)[LABEL].agg(["size", "sum"])
    weeks = _weeks(rows)
    breaches = (
        float(np.maximum(per_week["size"] - capacity_per_week, 0).sum() / weeks)
        if capacity_per_week
        else 0.0
    )
    return {
        "handoffs_per_week": len(handed) / weeks,
        "sqls_per_week": float(handed[LABEL].sum() / weeks),
        "mql_to_sql_rate": float(handed[LABEL].mean()) if len(handed) else 0.0,
        "sla_breaches_per_week": breaches,
    }


def top_k_per_week(rows: pd.DataFrame, p: np.ndarray, passes: np.ndarray, k: float) -> np.ndarray:
    """The plain baseline: each week, the k best snapshots (passes first) whatever the history."""
    frame = rows[[CUTOFF_AT]].assign(_p=np.where(passes, 2.0, p))
    week = ((frame[CUTOFF_AT] - frame[CUTOFF_AT].min()) // WEEK).astype(int)
    rank = frame.groupby(week)["_p"].rank(ascending=False, method="first")
    return (rank <= k).to_numpy()


def capacity_curve(
    rows: pd.DataFrame, p: np.ndarray, passes: np.ndarray, capacities: list[float]
) -> pd.DataFrame:
    """Expected SQLs and MQL->SQL rate against hand-offs per week (validation period)."""
    weeks = _weeks(rows)
    pass_volume = len(first_handoffs(rows, passes)) / weeks
    out = []
    for per_week in capacities:
        if per_week < pass_volume:
            continue
        threshold = _segment_threshold(rows, p, passes, per_week)
        handed = first_handoffs(rows.assign(_p=p), passes | (p >= threshold))
        out.append(
            {
                "capacity_per_week": per_week,
                "handoffs_per_week": len(handed) / weeks,
                "expected_sqls_per_week": handed["_p"].sum() / weeks,
                "expected_mql_to_sql_rate": handed["_p"].mean() if len(handed) else 0.0,
                "threshold": threshold,
            }
        )
    return pd.DataFrame(out)


def write_policy(model_dir: Path, policy: dict) -> Path:
    """Make ``policy`` current, keeping the one it replaces under ``policies/``."""
    current = model_dir / "policy.json"
    history = model_dir / "policies"
    history.mkdir(exist_ok=True)
    if current.exists():
        old = json.loads(current.read_text())
        (history / f"policy-v{old.get('version', 0)}.json").write_text(json.dumps(old, indent=2))
    current.write_text(json.dumps(policy, indent=2))
    return current


def tune_threshold(model_dir: Path, capacity: Capacity, training_set: Path | None = None) -> dict:
    """Re-tune the policy of a trained model for a capacity, without retraining.

    Tunes on the validation period, replays the out-of-time test weeks for the new policy, the
    rulebook threshold and plain top-K per week, draws the capacity curve, and compares with
    the rulebook at the rulebook's own weekly volume. Writes the policy into the model
    directory (the old one kept under ``policies/``) and into the training's MLflow run.
    """
    import mlflow

    from features.training_set import SPLIT
    from training.artifact import load_model

    scorer = load_model(model_dir)
    path = Path(training_set or scorer.metadata.get("training_set") or "training_set.parquet")
    if not path.is_file():
        raise CapacityError(f"training set {path} not found; pass --training-set")
    rows = pd.read_parquet(path)
    rows = rows[rows[LABEL].notna()]
    valid = rows[rows[SPLIT] == "validation"].reset_index(drop=True)
    test = rows[rows[SPLIT] == "test"].reset_index(drop=True)
    if capacity.segment and capacity.segment not in valid.columns:
        raise CapacityError(f"segment '{capacity.segment}' is not a feature of this model")
    p_valid, p_test = scorer.predict_proba(valid), scorer.predict_proba(test)
    passes_valid = scorer.rules.instant_passes(valid).any(axis=1).to_numpy()
    passes_test = scorer.rules.instant_passes(test).any(axis=1).to_numpy()
    policy = tune_policy(
        valid, p_valid, passes_valid, capacity,
        version=int(scorer.policy.get("version", 0)) + 1,
        tiers=scorer.policy.get("tiers", {}),
        instant_pass_hands_off=scorer.rulebook.instant_pass_hands_off,
    )  # fmt: skip
    test_threshold = policy.threshold_for(_segments(test, policy), len(test))
    rulebook_handoff = scorer.rules.predict(test).astype(bool)
    backtest = {
        "policy": replay(test, passes_test | (p_test >= test_threshold), capacity.per_week),
        "rulebook threshold": replay(test, rulebook_handoff, capacity.per_week),
        "top-K per week": replay(
            test, top_k_per_week(test, p_test, passes_test, capacity.per_week), capacity.per_week
        ),
    }
    rulebook_volume = backtest["rulebook threshold"]["handoffs_per_week"]
    same = tune_policy(valid, p_valid, passes_valid, Capacity(rulebook_volume), version=0, tiers={})
    same_volume = replay(test, passes_test | (p_test >= same.thresholds["*"]), rulebook_volume)
    backtest["policy at the rulebook's volume"] = same_volume
    # like for like: the same test-period volume as the rulebook (a comparison, not a choice)
    matched = _segment_threshold(test, p_test, passes_test, rulebook_volume)
    backtest["policy, volume matched on test"] = replay(
        test, passes_test | (p_test >= matched), rulebook_volume
    )
    curve = capacity_curve(
        valid, p_valid, passes_valid,
        sorted({round(capacity.per_week * f, 1) for f in (0.25, 0.5, 0.75, 1, 1.25, 1.5, 2)}),
    )  # fmt: skip
    policy_dict = policy.as_dict()
    policy_dict["backtest"] = backtest
    write_policy(Path(model_dir), policy_dict)
    uri, run_id = scorer.metadata.get("tracking_uri"), scorer.metadata.get("run_id")
    if uri and run_id:
        mlflow.set_tracking_uri(uri)
        with mlflow.start_run(run_id=run_id):
            mlflow.log_dict(policy_dict, f"policies/policy-v{policy.version}.json")
            mlflow.log_dict(
                json.loads(curve.to_json(orient="records")),
                f"policies/capacity-curve-v{policy.version}.json",
            )
            mlflow.log_figure(
                _curve_figure(curve, capacity.per_week),
                f"policies/capacity-curve-v{policy.version}.png",
            )
    return {"policy": policy_dict, "backtest": pd.DataFrame(backtest).T, "curve": curve}


def _curve_figure(curve: pd.DataFrame, current: float):  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
