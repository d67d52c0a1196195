"""A model learns when a lead arrived, on the team's own clock, and says it in words.

In this world a lead created on a Tokyo working day between 09:00 and 18:00 is an office worker
with a need, and converts far more often than a lead created at night or at the weekend. The
export's times are UTC; the spec inferred with ``time_zone="Asia/Tokyo"`` must let both models
see the difference, and a rep must read "Became a lead on a Tuesday", not a column name.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leadscore.features import schema
from leadscore.features.infer import infer_spec
from leadscore.features.offline import LABEL, connect, flat_feature_rows
from leadscore.features.training_set import SPLIT
from leadscore.training.job.flat import prepare_flat_training
from leadscore.training.job.suggest import empty_rulebook, suggest
from leadscore.training.job.train import fit_scorer
from leadscore.training.model.explain import reasons
from leadscore.training.model.rulebook import normalised_conditions, parse_rulebook

ZONE = "Asia/Tokyo"


def office_hours_report(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    created = pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(
        np.sort(rng.uniform(0, 365 * 86_400, n)), unit="s"
    )
    local = created.tz_convert(ZONE)
    office = (local.dayofweek < 5) & (local.hour >= 9) & (local.hour < 18)
    source = rng.choice(["web", "event", "referral"], n)
    logit = -2.2 + 2.0 * office + 0.5 * (source == "referral")
    return pd.DataFrame(
        {
            schema.CREATED_AT: created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "lead_source": source,
            "converted": np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no"),
        }
    )


@pytest.fixture(scope="module")
def flat(tmp_path_factory):
    base = tmp_path_factory.mktemp("created")
    report = office_hours_report(4000, seed=11)
    report.to_csv(base / "leads.csv", index=False)
    leads = report.drop(columns=["converted"]).assign(
        **{schema.CREATED_AT: pd.to_datetime(report[schema.CREATED_AT], utc=True)}
    )
    spec, _ = infer_spec(leads, None, (), time_zone=ZONE)
    return prepare_flat_training(base / "leads.csv", "converted", base / "run", spec=spec)


@pytest.fixture(scope="module")
def fitted(flat):
    rows = pd.read_parquet(flat.training_set)
    labelled = rows[rows[LABEL].notna()]
    scorer = fit_scorer(
        labelled[labelled[SPLIT] == "train"],
        labelled[labelled[SPLIT] == "validation"],
        flat.spec,
        flat.rulebook,
        logistic_grid=({"C": 1.0},),
        lightgbm_grid=({"num_leaves": 7, "learning_rate": 0.1, "min_child_samples": 50},),
    )
    return scorer


def lead_at(scorer, created: str) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    lead = pd.DataFrame(
        {schema.LEAD_ID: [1], schema.CREATED_AT: [pd.Timestamp(created)], "lead_source": ["web"]}
    )
    return flat_feature_rows(connect(), lead, scorer.spec)


def test_the_models_read_the_creation_weekday_and_hour_as_levels(fitted):
    _, categorical = fitted.input_columns
    assert {"created_weekday", "created_hour"} <= set(categorical)


def test_a_lead_from_a_tokyo_office_morning_outranks_the_same_lead_on_a_saturday_night(fitted):
    # Tuesday 10:30 in Tokyo is 01:30 UTC; Saturday 23:30 in Tokyo is 14:30 UTC
    office = lead_at(fitted, "2026-01-06T01:30:00Z")
    night = lead_at(fitted, "2026-01-10T14:30:00Z")
    assert office[["created_weekday", "created_hour"]].iloc[0].tolist() == ["tuesday", "10"]
    assert night[["created_weekday", "created_hour"]].iloc[0].tolist() == ["saturday", "23"]
    p_office, p_night = fitted.probability(office)[0], fitted.probability(night)[0]
    assert p_office > 2 * p_night, (p_office, p_night)
    for model in (fitted.logistic, fitted.lightgbm):  # each model, not only their blend
        inputs = fitted.model_inputs(pd.concat([office, night], ignore_index=True))
        p = model.predict_proba(inputs)[:, 1]
        assert p[0] > p[1], model


def test_the_reason_names_the_day_and_hour_in_both_languages(fitted):
    office = lead_at(fitted, "2026-01-06T01:30:00Z")
    english = reasons(fitted, office, lang="en", top=10)[0]["positive"]
    japanese = reasons(fitted, office, lang="ja", top=10)[0]["positive"]
    texts = {r["concept"]: r["text"] for r in english}
    assert texts.get("created_weekday") == "Became a lead on a Tuesday"
    assert texts.get("created_hour") == "Became a lead between 10:00 and 10:59"
    texts = {r["concept"]: r["text"] for r in japanese}
    assert texts.get("created_weekday") == "火曜日に獲得したリード"
    assert texts.get("created_hour") == "10時台に獲得したリード"


def test_a_rule_on_the_creation_hour_reads_numbers_and_names_as_the_levels(fitted):
    rulebook = parse_rulebook(
        {
            "mql_threshold": 10,
            "grades": {"fit": {}, "engagement": {}},
            "rules": [
                {"name": "office_hours", "points": 5,
                 "when": {"created_hour": {"in": [9, 10, "11"]},
                          "created_weekday": {"in": ["Tuesday", " MONDAY"]}}},
            ],
        }
    )  # fmt: skip
    conditions = normalised_conditions(rulebook.rules[0], fitted.spec)
    assert conditions["created_hour"].in_ == ("09", "10", "11")
    assert conditions["created_weekday"].in_ == ("tuesday", "monday")


def test_rules_suggest_proposes_the_moments_a_marketer_would_write_a_rule_on(flat):
    """From no rules: office hours score up, the weekend down, on the Tokyo clock, in words."""
    rows = pd.read_parquet(flat.training_set)
    part = {name: rows[rows[SPLIT] == name] for name in ("train", "validation")}
    suggestion = suggest(empty_rulebook(), flat.spec, part["train"], part["validation"])
    rules = {rule.name: rule for rule in suggestion.rulebook.rules}
    office, weekend = rules["created_hour_office_hours"], rules["created_weekday_weekend"]
    assert office.points > 0 > weekend.points
    assert office.label["en"] == "Became a lead in office hours (09:00-17:59, Asia/Tokyo)"
    assert weekend.label["ja"] == "土日に獲得したリード（Asia/Tokyo）"
    assert office.when["created_hour"].in_ == tuple(f"{h:02d}" for h in range(9, 18))
