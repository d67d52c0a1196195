"""On a world whose true probability the export shows, the scorer nearly matches that truth.

The simulator's own probability depends on intent no export reveals, so it cannot tell a weak
model from a blind export. Relabelled from :mod:`features.observable_truth`, the same training
set has a best possible model that reads only the features; the trained scorer should come
close to it on the out-of-time test, beat the rules by a clear margin, and stay calibrated.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from leadscore.features.observable_truth import BASE_RATE, TRUE_P, relabel, true_probability
from leadscore.features.offline import LABEL
from leadscore.features.spec import FeatureSpec, load_spec
from leadscore.features.training_set import SPLIT
from leadscore.training.job.train import LIGHTGBM_GRID, LOGISTIC_GRID, evaluate, fit_scorer
from leadscore.training.model.rulebook import compile_rules, load_rulebook

pytestmark = pytest.mark.xdist_group("trained_world")  # the shared world: one worker builds it

ROOT = Path(__file__).resolve().parents[2]
BASE_RATE_HERE = 0.05  # more positives than the usual few percent: a small world, a steady AUC
GAP_TOLERANCE = 0.03  # issue 5 asks for 0.02 at 20,000 leads; this world is 6,000


def default_spec() -> FeatureSpec:
    return compile_rules(load_rulebook(), load_spec(ROOT / "features" / "default_spec.yaml"))


def lead(**features: object) -> dict:
    """A default-spec feature row: a quiet lead with nothing filled in, plus ``features``."""
    spec = default_spec()
    row: dict = {name: None for name in spec.categorical_features()}
    for name in spec.feature_names():
        if name not in row:
            row[name] = np.nan if name.endswith("_recency_days") else 0.0
    return row | features


@pytest.fixture(scope="module")
def relabelled_world(trained_world) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(test rows, test metrics) of the shared 6,000-lead world relabelled and trained as usual.

    One candidate per model keeps it quick; the search itself is the training tests' concern.
    """
    rulebook, spec = load_rulebook(), default_spec()
    rows = relabel(pd.read_parquet(trained_world.training_set), seed=31, base_rate=BASE_RATE_HERE)
    part = {
        name: rows[(rows[SPLIT] == name) & rows[LABEL].notna()]
        for name in ("train", "validation", "test")
    }
    scorer = fit_scorer(
        part["train"], part["validation"], spec, rulebook,
        logistic_grid=LOGISTIC_GRID[-1:], lightgbm_grid=LIGHTGBM_GRID[:1],
    )  # fmt: skip
    return part["test"], evaluate(scorer, part["test"])


def test_relabelling_keeps_the_split_the_unlabelled_rows_and_the_base_rate():
    rows = pd.DataFrame(
        [
            lead(department="it", job_level="head", source="referral"),
            lead(department="hr", job_level="student", source="paid_social"),
            lead(source="direct"),
            lead(department="it", job_level="staff", source="email"),
        ]
    )
    rows[LABEL] = [0.0, 1.0, np.nan, 0.0]
    rows[SPLIT] = ["train", "test", "unlabeled", "validation"]
    relabelled = relabel(rows, seed=1)
    assert relabelled[SPLIT].tolist() == rows[SPLIT].tolist()
    assert relabelled[LABEL].isna().tolist() == [False, False, True, False]
    assert np.isclose(relabelled[TRUE_P][rows[LABEL].notna()].mean(), BASE_RATE)


def test_an_it_head_who_asked_for_a_demo_is_truly_hotter_than_a_quiet_student():
    hot = lead(
        department="it", job_level="head", demo_request_count_30d=1.0, demo_request_count_90d=1.0,
        engagement_intent=20.0, pricing_page_count_30d=2.0, any_activity_recency_days=0.5,
    )  # fmt: skip
    cold = lead(department="other", job_level="student", any_activity_recency_days=60.0)
    p = true_probability(pd.DataFrame([hot, cold]))
    assert p[0] > 10 * p[1]


def test_the_combined_model_comes_close_to_a_truth_the_export_shows(relabelled_world):
    test, metrics = relabelled_world
    truth_auc = roc_auc_score(test[LABEL].to_numpy(int), test[TRUE_P])
    auc = metrics["roc_auc"]
    assert truth_auc - auc["combined"] <= GAP_TOLERANCE, (truth_auc, auc.to_dict())
    assert auc["combined"] > auc["rules"] + 0.03, auc.to_dict()
    assert metrics.loc["combined", "ece"] <= 0.02
