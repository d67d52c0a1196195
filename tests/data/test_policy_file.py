"""The policy file is a contract: every policy an earlier version wrote still loads, and a file
with a bad value is refused whole, naming the file, the field and the form it needs.

Marketing ops edits ``policy.json`` by hand and a running service re-reads it; a value that
slipped through would answer every call with an error, or hand off every lead, or none.
"""

from __future__ import annotations

import json
import math

import pytest

from leadscore.training.model.policy import (
    DEFAULT_TIERS,
    POLICY_FILE,
    Policy,
    PolicyError,
    read_policy,
)

TIERS = {
    "A": {"min_score": 90, "meaning": "hand off now: call within the SLA"},
    "B": {"min_score": 70, "meaning": "warm: sales development follow-up"},
    "C": {"min_score": 40, "meaning": "nurture with targeted content"},
    "D": {"min_score": 0, "meaning": "general nurture"},
}
FIGURES = {
    "handoffs_per_week": 38.5,
    "sqls_per_week": 6.1,
    "mql_to_sql_rate": 0.158,
    "sla_breaches_per_week": 0.4,
}
# as the first release with a predictive layer wrote it: no tiers, no SLA
FIRST_TRAINED = {
    "version": 1,
    "kind": "rulebook volume",
    "threshold": 0.2731,
    "instant_pass_hands_off": True,
    "validation_handoffs": 57,
}
# as the first `leadscore tune-threshold` wrote it: no objective, delay model or deal value
FIRST_TUNED = {
    "version": 2,
    "capacity_per_week": 40.0,
    "sla_hours": 24.0,
    "thresholds": {"*": 0.18},
    "segment": None,
    "expected": FIGURES,
    "tiers": TIERS,
    "instant_pass_hands_off": True,
    "kind": "capacity",
    "threshold": 0.18,
    "backtest": {"policy": FIGURES, "rulebook threshold": FIGURES, "top-K per week": FIGURES},
}
# as today's tune-threshold writes a policy per region, on pipeline value
TUNED_ON_VALUE = {
    "version": 3,
    "capacity_per_week": 60.0,
    "sla_hours": 48.0,
    "thresholds": {"kanto": 3.2, "*": 0.5},
    "segment": "region",
    "expected": {**FIGURES, "pipeline_value_per_week": 81.0},
    "tiers": TIERS,
    "instant_pass_hands_off": False,
    "kind": "capacity",
    "objective": "expected pipeline value",
    "response_delay": {
        "half_life_hours": None,
        "source": "default",
        "conversion_multiplier": "0.5 ** (extra_wait_hours / half_life_hours)",
        "queue": "first come, first served at capacity / 168 follow-ups an hour",
    },
    "deal_value": {"column": "annual_revenue_musd", "per_level": {}, "missing": 12.5},
    "capacity_per_segment": {"kanto": 20.0, "*": 40.0},
    "threshold": 0.5,
    "backtest": {"policy": FIGURES},
}
# today's first policy, as `leadscore train` writes it
TRAINED = {**FIRST_TRAINED, "handoffs_per_week": 12.4, "tiers": TIERS, "sla_hours": 24}


def written(tmp_path, text: str):
    path = tmp_path / POLICY_FILE
    path.write_text(text)
    return path


@pytest.mark.parametrize("old", [FIRST_TRAINED, FIRST_TUNED, TUNED_ON_VALUE, TRAINED])
def test_every_policy_an_earlier_version_wrote_still_loads(tmp_path, old):
    policy = read_policy(written(tmp_path, json.dumps(old, indent=2)))
    assert policy.version == old["version"] and policy.threshold == old["threshold"]
    assert read_policy(written(tmp_path, policy.to_json())) == policy  # and writes back the same


def test_a_policy_from_before_tiers_and_sla_gets_the_standard_ones(tmp_path):
    policy = read_policy(written(tmp_path, json.dumps(FIRST_TRAINED)))
    assert policy.tiers == DEFAULT_TIERS and policy.sla_hours == 24
    assert list(policy.tiers) == ["A", "B", "C", "D"]


def test_a_value_policy_keeps_its_deal_value_and_thresholds_above_one(tmp_path):
    policy = read_policy(written(tmp_path, json.dumps(TUNED_ON_VALUE)))
    assert policy.deal_value is not None and policy.deal_value.missing == 12.5
    assert policy.thresholds["kanto"] == 3.2  # on P(SQL) x value, not on a probability


def edited(**changes: object) -> dict:
    return {**TRAINED, **changes}


def without(name: str) -> dict:
    return {k: v for k, v in TRAINED.items() if k != name}


def tiers(**floors: float) -> dict:
    return {name: {"min_score": floor} for name, floor in floors.items()}


BAD = {
    "a threshold in words": (edited(threshold="abc"), "threshold", "valid number"),
    "a threshold left empty": (edited(threshold=None), "threshold", "valid number"),
    "no threshold at all": (without("threshold"), "threshold", "Field required"),
    "a threshold of NaN": (edited(threshold=math.nan), "threshold", "finite number"),
    "an infinite threshold": (edited(threshold=math.inf), "threshold", "finite number"),
    "a negative threshold": (edited(threshold=-1), "threshold", "greater than or equal to 0"),
    "a score used as a threshold": (edited(threshold=50), "threshold", "probability from 0 to 1"),
    "a team's threshold below 0": (
        edited(segment="region", thresholds={"kanto": -0.2}),
        "thresholds.kanto",
        "greater than or equal to 0",
    ),
    "teams without the segment": (edited(thresholds={"kanto": 0.2}), "thresholds", "no segment"),
    "two thresholds for the rest": (
        edited(thresholds={"*": 0.4}),
        "threshold",
        "give them one value",
    ),
    "no tiers": (edited(tiers={}), "tiers", "none given"),
    "tiers out of order": (edited(tiers=tiers(A=40, B=70, D=0)), "tiers", "highest min_score"),
    "tiers that leave low scores out": (edited(tiers=tiers(A=90, B=40)), "tiers", "min_score 0"),
    "a tier floor in words": (
        edited(tiers={"A": {"min_score": "90"}, "D": {"min_score": 0}}),
        "tiers.A.min_score",
        "valid number",
    ),
    "a tier floor above 100": (
        edited(tiers=tiers(A=120, D=0)),
        "tiers.A.min_score",
        "less than or equal to 100",
    ),
    "a version in quotes": (edited(version="2"), "version", "valid integer"),
    "a fractional version": (edited(version=2.5), "version", "valid integer"),
    "a version left empty": (edited(version=None), "version", "valid integer"),
    "an unknown kind": (edited(kind="volume"), "kind", "'rulebook volume'"),
    "a yes/no in words": (edited(instant_pass_hands_off="no"), "instant_pass_hands_off", "bool"),
    "an SLA of zero hours": (edited(sla_hours=0), "sla_hours", "greater than 0"),
    "a misspelt field": (edited(treshold=0.2), "treshold", "not a field of a policy"),
    "a negative deal value": (
        edited(deal_value={"column": "region", "per_level": {"emea": -1}}),
        "deal_value",
        "zero or more",
    ),
}


@pytest.mark.parametrize("data, field, form", BAD.values(), ids=BAD.keys())
def test_a_bad_value_is_refused_naming_the_file_the_field_and_the_form(tmp_path, data, field, form):
    path = written(tmp_path, json.dumps(data))  # NaN and Infinity as Python's json writes them
    with pytest.raises(PolicyError) as refused:
        read_policy(path)
    message = str(refused.value)
    assert str(path) in message
    assert f"{field}:" in message
    assert form in message
    assert "policies/" in message  # the way back: an earlier policy


@pytest.mark.parametrize(
    "text, form",
    [
        ('{"version": 1, "kind": "rulebook volume", "threshold": 0.2', "not valid JSON"),
        ("[0.2]", "valid dictionary"),
        ("", "not valid JSON"),
    ],
)
def test_a_file_that_is_not_a_policy_object_is_refused(tmp_path, text, form):
    path = written(tmp_path, text)
    with pytest.raises(PolicyError, match=form) as refused:
        read_policy(path)
    assert str(path) in str(refused.value)


def test_a_policy_is_checked_when_made_in_code_too():
    with pytest.raises(ValueError, match="tiers: none given"):
        Policy(version=1, kind="capacity", threshold=0.2, tiers={})
    with pytest.raises(ValueError, match="frozen"):
        Policy(version=1, kind="capacity", threshold=0.2).threshold = 0.9  # type: ignore[misc]
