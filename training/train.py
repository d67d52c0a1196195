"""Fit the lead scorer honestly: choose on validation, judge on the untouched test period.

Hyperparameters of each model are searched on the train period and chosen by validation log
loss; the combiner (:mod:`training.combiner`) is fitted on validation; the test period only
ever produces the figures.
Each candidate is reported through ``on_candidate`` (the MLflow layer logs them as nested runs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import yaml
from sklearn.metrics import log_loss, roc_auc_score

from features.offline import LABEL
from features.spec import FeatureSpec
from training.combiner import LogOddsBlend
from training.evaluation import probability_metrics
from training.explain import CATALOG
from training.rule_metrics import top_k_handoff
from training.rulebook import Rulebook
from training.rules import RuleScorer
from training.scorer import LeadScorer, fit_logistic, lightgbm_pipeline

LOGISTIC_GRID = ({"C": 0.01}, {"C": 0.1}, {"C": 1.0})
LIGHTGBM_GRID = (
    {"num_leaves": 15, "learning_rate": 0.05, "min_child_samples": 100, "reg_lambda": 1.0},
    {"num_leaves": 31, "learning_rate": 0.05, "min_child_samples": 50, "reg_lambda": 1.0},
    # small trees on half the columns each: steadier when SQLs number in the hundreds
    {"num_leaves": 7, "learning_rate": 0.05, "min_child_samples": 200, "reg_lambda": 5.0,
     "colsample_bytree": 0.5},
)  # fmt: skip
MAX_TREES = 600
COMBINER_PRIOR_STRENGTH = 100.0  # see training.combiner: how firmly the two models weigh equal


@dataclass(frozen=True)
class Candidate:
    model: str
    params: dict
    validation: dict


def _labelled(rows: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    rows = rows[rows[LABEL].notna()]
    return rows, rows[LABEL].to_numpy(int)


def fit_scorer(
    train: pd.DataFrame,
    validation: pd.DataFrame,
    spec: FeatureSpec,
    rulebook: Rulebook,
    *,
    on_candidate: Callable[[Candidate], None] | None = None,
    logistic_grid: tuple[dict, ...] = LOGISTIC_GRID,
    lightgbm_grid: tuple[dict, ...] = LIGHTGBM_GRID,
) -> LeadScorer:
    """The whole scorer, with hyperparameters and combiner chosen on the validation period."""
    report = on_candidate or (lambda _: None)
    train, y_train = _labelled(train)
    validation, y_valid = _labelled(validation)
    rules = RuleScorer(rulebook, spec).fit(train)
    draft = LeadScorer(spec, rulebook, rules, None, None, None, np.zeros(101))  # type: ignore[arg-type]
    x_train, x_valid = draft.model_inputs(train), draft.model_inputs(validation)

    def judged(model: str, params: dict, fitted) -> tuple[float, object]:  # type: ignore[no-untyped-def]
        p = fitted.predict_proba(x_valid)[:, 1]
        scores = {
            "log_loss": log_loss(y_valid, p, labels=[0, 1]),
            "roc_auc": roc_auc_score(y_valid, p),
        }
        report(Candidate(model, params, scores))
        return scores["log_loss"], fitted

    best_logistic = min(
        (
            judged("logistic", g, fit_logistic(spec, g["C"], x_train, y_train))
            for g in logistic_grid
        ),
        key=lambda pair: pair[0],
    )[1]
    lightgbm_results = []
    for grid in lightgbm_grid:
        pipeline = lightgbm_pipeline(spec, {**grid, "n_estimators": MAX_TREES})
        encode = pipeline.named_steps["encode"].fit(x_train, y_train)
        pipeline.named_steps["model"].fit(
            encode.transform(x_train),
            y_train,
            eval_X=(encode.transform(x_valid),),
            eval_y=(y_valid,),
            callbacks=[_early_stopping()],
        )
        trees = pipeline.named_steps["model"].best_iteration_ or MAX_TREES
        lightgbm_results.append(judged("lightgbm", {**grid, "n_estimators": trees}, pipeline))
    best_lightgbm = min(lightgbm_results, key=lambda pair: pair[0])[1]

    draft.logistic, draft.lightgbm = best_logistic, best_lightgbm
    draft.logistic_means = np.asarray(
        best_logistic.named_steps["encode"].transform(x_train), float
    ).mean(axis=0)
    components = draft.component_logits(validation).to_numpy()
    draft.combiner = LogOddsBlend(COMBINER_PRIOR_STRENGTH).fit(components, y_valid)
    p_valid = draft.predict_proba(validation)
    draft.score_scale = np.quantile(p_valid, np.linspace(0, 1, 101))
    draft.policy = volume_policy(draft, validation, rules)
    draft.reason_catalog = yaml.safe_load(CATALOG.read_text())
    return draft


def _early_stopping():  # type: ignore[no-untyped-def]
    from lightgbm import early_stopping

    return early_stopping(stopping_rounds=40, verbose=False)


def volume_policy(scorer: LeadScorer, validation: pd.DataFrame, rules: RuleScorer) -> dict:
    """A first hand-off policy: the threshold that hands off what the rulebook did on validation.

    The capacity-based policy replaces it; until then, 'as many as marketing sends today, but
    the best ones' is the fair starting point.
    """
    p = scorer.predict_proba(validation)
    passes = rules.instant_passes(validation).any(axis=1).to_numpy()
    volume = int(rules.predict(validation).sum())
    chosen = top_k_handoff(p, passes, volume)
    scored = chosen & ~passes
    threshold = float(p[scored].min()) if scored.any() else 1.0
    return {
        "version": 1,
        "kind": "rulebook volume",
        "threshold": threshold,
        "instant_pass_hands_off": scorer.rulebook.instant_pass_hands_off,
        "validation_handoffs": int(chosen.sum()),
        # tiers by score (the share of validation leads beaten); A also holds every hand-off
        "tiers": {
            "A": {"min_score": 90, "meaning": "hand off now: call within the SLA"},
            "B": {"min_score": 70, "meaning": "warm: sales development follow-up"},
            "C": {"min_score": 40, "meaning": "nurture with targeted content"},
            "D": {"min_score": 0, "meaning": "general nurture"},
        },
        "sla_hours": 24,
    }


def component_probabilities(scorer: LeadScorer, rows: pd.DataFrame) -> dict[str, np.ndarray]:
    """P(SQL) of the rules (fitted on the same validation rows), each model and the combination."""
    inputs = scorer.model_inputs(rows)
    return {
        "rules": scorer.rules.predict_proba(rows)[:, 1],
        "logistic": scorer.logistic.predict_proba(inputs)[:, 1],
        "lightgbm": scorer.lightgbm.predict_proba(inputs)[:, 1],
        "combined": scorer.predict_proba(rows),
    }


def evaluate(scorer: LeadScorer, validation: pd.DataFrame, test: pd.DataFrame) -> pd.DataFrame:
    """Test-period metrics for rules, logistic, LightGBM and the combination, side by side."""
    validation, y_valid = _labelled(validation)
    test, y_test = _labelled(test)
    # the rule baseline's probability map is fitted on validation, like the combiner
    scorer.rules.fit(validation, y_valid)
    probabilities = component_probabilities(scorer, test)
    return pd.DataFrame(
        {name: probability_metrics(y_test, p) for name, p in probabilities.items()}
    ).T
