"""Thresholds from sales capacity, as marketing ops sets them and sales lives with them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from features.offline import CUTOFF_AT, LABEL
from features.synthetic import simulate, write_world
from features.training_set import SPLIT
from leadscore.cli import app
from training.artifact import load_model
from training.capacity import (
    Capacity,
    CapacityError,
    first_handoffs,
    parse_capacity,
    tune_policy,
    tune_threshold,
)

runner = CliRunner()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("capacity")
    paths = write_world(simulate(6000, seed=41), base / "export")
    result = runner.invoke(
        app,
        ["train", "--warehouse", str(paths["warehouse"]), "--out", str(base / "run"),
         "--tracking-uri", f"sqlite:///{base / 'mlflow.db'}"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return base / "run" / "model"


def validation(model_dir: Path) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    scorer = load_model(model_dir)
    rows = pd.read_parquet(scorer.metadata["training_set"])
    rows = rows[(rows[SPLIT] == "validation") & rows[LABEL].notna()].reset_index(drop=True)
    passes = scorer.rules.instant_passes(rows).any(axis=1).to_numpy()
    return rows, scorer.predict_proba(rows), passes


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


def test_the_policy_fills_capacity_with_the_best_leads(model_dir):
    rows, p, passes = validation(model_dir)
    weeks = (rows[CUTOFF_AT].max() - rows[CUTOFF_AT].min()) / pd.Timedelta(days=7)
    pass_rate = len(first_handoffs(rows, passes)) / weeks
    capacity = max(20.0, round(pass_rate * 3))
    policy = tune_policy(rows, p, passes, Capacity(capacity), version=2, tiers={})
    assert policy.expected["handoffs_per_week"] <= capacity + 1e-9
    assert policy.expected["handoffs_per_week"] > 0.8 * capacity
    # more capacity never means a stricter threshold, and hands off more
    wider = tune_policy(rows, p, passes, Capacity(capacity * 2), version=2, tiers={})
    assert wider.thresholds["*"] <= policy.thresholds["*"]
    assert wider.expected["handoffs_per_week"] >= policy.expected["handoffs_per_week"]


def test_instant_passes_use_capacity_first_and_too_little_capacity_is_named(model_dir):
    rows, p, passes = validation(model_dir)
    with pytest.raises(CapacityError, match="instant passes alone need"):
        tune_policy(rows, p, passes, Capacity(0.01), version=2, tiers={})


def test_segment_capacities_must_cover_every_segment(model_dir):
    rows, p, passes = validation(model_dir)
    with pytest.raises(CapacityError, match="do not cover every region"):
        tune_policy(
            rows, p, passes, Capacity(100, segment="region", per_segment={"kanto": 100}),
            version=2, tiers={},
        )  # fmt: skip


def test_a_segmented_policy_gives_each_segment_its_own_threshold(model_dir):
    rows, p, passes = validation(model_dir)
    levels = rows["region"].astype(object).fillna("(empty)")
    shares = levels.value_counts(normalize=True)
    per_segment = {level: max(5.0, round(200 * share, 1)) for level, share in shares.items()}
    capacity = Capacity(sum(per_segment.values()), segment="region", per_segment=per_segment)
    policy = tune_policy(rows, p, passes, capacity, version=2, tiers={})
    assert set(policy.thresholds) == set(per_segment)


def test_retuning_writes_a_new_policy_keeps_history_and_the_scorer_reads_it(model_dir):
    before = json.loads((model_dir / "policy.json").read_text())
    result = tune_threshold(model_dir, Capacity(parse_capacity("60/week")))
    after = json.loads((model_dir / "policy.json").read_text())
    assert after["version"] == before["version"] + 1
    assert (model_dir / "policies" / f"policy-v{before['version']}.json").exists()
    assert load_model(model_dir).policy["threshold"] == after["threshold"]
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


def test_tune_threshold_command_reports_the_backtest(model_dir):
    result = runner.invoke(
        app, ["tune-threshold", "--model", str(model_dir), "--capacity", "80/week"]
    )
    assert result.exit_code == 0, result.output
    assert "Out-of-time backtest" in result.output and "Capacity curve" in result.output
    bad = runner.invoke(app, ["tune-threshold", "--model", str(model_dir), "--capacity", "0/week"])
    assert bad.exit_code == 2 and "positive" in bad.output
