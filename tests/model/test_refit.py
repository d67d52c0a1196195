"""The shipped model learns from the latest history, and the figures stay honest.

A model fitted on the train period alone has never seen the months that matter most when the
channel mix drifts; the refit on all labelled history has. The evaluation figures are still
those of the train-only model on a period it never saw.
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from sklearn.metrics import log_loss, roc_auc_score

from leadscore.features.offline import LABEL
from leadscore.features.synthetic import DRIFTING_CHANNEL_MIX, SimulationConfig, simulate
from leadscore.features.training_set import SPLIT, SplitPlan
from leadscore.training.job.run import run_training
from leadscore.training.job.train import LIGHTGBM_GRID, LOGISTIC_GRID, fit_scorer, refit_scorer
from leadscore.training.model.explain import contributions
from tests.worlds import default_training_set


def training_set(n: int, seed: int, config: SimulationConfig, plan: SplitPlan, out: Path):  # type: ignore[no-untyped-def]
    return default_training_set(simulate(n, seed, config), out, plan)


@pytest.fixture(scope="module")
def drifting(tmp_path_factory):  # type: ignore[no-untyped-def]
    """(train-only scorer, scorer refit on train + validation, the next period's rows)."""
    path, spec, rulebook = training_set(
        3000, 1, DRIFTING_CHANNEL_MIX, SplitPlan(0.4, 0.3), tmp_path_factory.mktemp("drift")
    )
    rows = pd.read_parquet(path)
    parts = {name: rows[(rows[SPLIT] == name) & rows[LABEL].notna()] for name in
             ("train", "validation", "test")}  # fmt: skip
    judged = fit_scorer(
        parts["train"], parts["validation"], spec, rulebook,
        logistic_grid=LOGISTIC_GRID[1:2], lightgbm_grid=LIGHTGBM_GRID[:1],
    )  # fmt: skip
    refit = refit_scorer(judged, pd.concat([parts["train"], parts["validation"]]))
    return judged, refit, parts["test"]


def test_on_a_drifting_world_the_refit_ranks_the_next_period_better(drifting):
    """Neither model saw the next period; the refit has learned the new channel mix.

    Figures (3,000 leads, next period = the last 30% of labelled rows), train-only vs refit:
    seed 1 ROC-AUC 0.758 vs 0.799, log loss 0.0917 vs 0.0880; seed 3 AUC 0.746 vs 0.747, log
    loss 0.0887 vs 0.0879; seed 2 AUC 0.733 vs 0.732, log loss 0.0858 vs 0.0869 (few SQLs: the
    logistic layer alone ships, and a third more history does not help it there; seed 2's
    refit AUC was 0.752 before earlier commits changed the models, as the combiner's level
    moves only an intercept and leaves every AUC as it is). Mean P(SQL) over the next period's
    rate, train-only vs refit: seed 1 1.20 vs 0.98, seed 2 1.14 vs 1.05, seed 3 1.27 vs 1.09
    (see training.job.level). The assertions hold on seeds 1 and 3: the refit ranks better and
    its log loss is no more than 0.002 worse.
    """
    judged, refit, future = drifting
    label = future[LABEL].to_numpy(int)
    figures = {
        name: (roc_auc_score(label, p), log_loss(label, p))
        for name, p in (("train-only", judged.probability(future)),
                        ("refit", refit.probability(future)))
    }  # fmt: skip
    assert figures["refit"][0] > figures["train-only"][0], figures
    assert figures["refit"][1] < figures["train-only"][1] + 0.002, figures


def test_the_refit_keeps_the_chosen_configuration_and_says_how_it_was_fitted(drifting):
    judged, refit, _ = drifting
    assert refit.metadata["shipped_layer"] == judged.metadata["shipped_layer"]
    assert refit.logistic.named_steps["model"].C == judged.logistic.named_steps["model"].C
    record = refit.metadata["refit"]
    assert record["rows"] > judged.metadata["sql_counts"]["train"]["rows"]
    assert "out-of-fold" in record["method"] and "latest period" in record["method"]
    assert 0.5 < record["latest_out_of_fold"]["roc_auc"] <= 1.0
    assert any(note.startswith("Shipped model: the chosen configuration refit") for note in
               refit.metadata["notes"])  # fmt: skip
    assert refit.policy.handoffs_per_week > 0 and len(refit.score_scale) == 101


def test_a_refit_model_still_explains_each_score_exactly(drifting):
    _, refit, future = drifting
    sample = future.sample(300, random_state=0)
    p = refit.probability(sample)
    np.testing.assert_allclose(
        contributions(refit, sample).sum(axis=1), np.log(p / (1 - p)), atol=1e-6
    )


@pytest.fixture(scope="module")
def both_ways(tmp_path_factory):  # type: ignore[no-untyped-def]
    """run_training on one training set, with and without refit, into one MLflow store."""
    base = tmp_path_factory.mktemp("refit_or_not")
    path, spec, rulebook = training_set(1500, 5, SimulationConfig(), SplitPlan(), base / "ts")
    uri = f"sqlite:///{base / 'mlflow.db'}"
    return {
        refit: run_training(path, spec, rulebook, base / str(refit), tracking_uri=uri,
                            refit=refit)
        for refit in (True, False)
    }, uri  # fmt: skip


def test_evaluation_figures_are_the_same_with_and_without_refit(both_ways):
    results, _ = both_ways
    pd.testing.assert_frame_equal(results[True]["metrics"], results[False]["metrics"])


def test_the_shipped_model_and_its_mlflow_run_say_it_was_refit(both_ways):
    from leadscore.training.model.artifact import load_model

    results, uri = both_ways
    refit, plain = (load_model(results[r]["model_dir"]) for r in (True, False))
    assert refit.metadata["refit"]["periods"] == ["train", "validation", "test"]
    assert plain.metadata["refit"] is None
    assert refit.metadata["test_metrics"] == plain.metadata["test_metrics"]
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    params = {r: client.get_run(results[r]["run_id"]).data for r in (True, False)}
    assert params[True].params["shipped_model"] == "refit on all labelled history"
    assert params[False].params["shipped_model"] == "train period only"
    assert "refit_latest_oof_roc_auc" in params[True].metrics
    assert params[True].params["level.method"] == plain.metadata["level"]["method"]
    assert params[True].params["refit.level.method"] == refit.metadata["level"]["method"]
    assert params[True].params["refit.level.periods"] == "5"
    low, high = refit.metadata["level"]["band"]  # how far the next period may sit, logged
    assert low < 1 < high and params[True].params["refit.level.band"] == f"{low:.3f}-{high:.3f}"
    test_metrics = {k: v for k, v in params[True].metrics.items() if k.startswith("test_")}
    assert test_metrics == {k: v for k, v in params[False].metrics.items()
                            if k.startswith("test_")}  # fmt: skip
