"""Points suggested from history: the rulebook's rules re-weighed, plus candidate new rules.

Each rule is reduced to its *unit* on every training row (1 when an attribute rule holds;
occurrences in the window, up to the cap, for a behaviour rule), so a logistic regression on
the units gives log-odds per unit; scaled to the rulebook's own range and rounded, those are
points a marketing-ops person can read. L1 regularisation, tuned on the validation period,
keeps only candidates that add something. The threshold is set on the validation period to
hand off a target volume, so the test period stays untouched for judging.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from features.offline import LABEL
from features.spec import ANY_TYPE, CategoricalAttribute, FeatureSpec
from training.rule_metrics import handoff_metrics, threshold_for_volume, top_k_handoff
from training.rulebook import (
    ActivityMatch,
    Condition,
    Rule,
    Rulebook,
    dump_rulebook,
    normalised_conditions,
)
from training.rules import behaviour_units, capped_points, condition_mask

_CANDIDATE_OCCURRENCES = 3
_MIN_LEVEL_SHARE = 0.02
_LEVELS_PER_ATTRIBUTE = 8
_C_GRID = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)


@dataclass(frozen=True)
class Suggestion:
    rulebook: Rulebook
    evidence: pd.DataFrame
    metrics: pd.DataFrame
    diff: str


def _occurrence_cap(rule: Rule) -> float:
    return abs(rule.cap / rule.points) if rule.cap is not None and rule.points else np.inf


def rule_units(rules: list[Rule], spec: FeatureSpec, rows: pd.DataFrame) -> pd.DataFrame:
    """The unit of every rule on every row (see module docstring)."""
    units = {}
    for rule in rules:
        if rule.when is not None:
            mask = np.ones(len(rows), bool)
            for field, condition in normalised_conditions(rule, spec).items():
                mask &= condition_mask(rows[field], condition)
            units[rule.name] = mask.astype(float)
        else:
            occurrences = behaviour_units(rows, rule, spec)
            units[rule.name] = np.minimum(occurrences, _occurrence_cap(rule))
    return pd.DataFrame(units, index=rows.index)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "blank"


def candidate_rules(spec: FeatureSpec, rulebook: Rulebook, rows: pd.DataFrame) -> list[Rule]:
    """New rules worth testing: frequent attribute levels and the spec's single-type signals."""
    taken = {r.name for r in rulebook.rules} | {p.name for p in rulebook.instant_pass}
    passes = {(p.activity.type, p.activity.detail) for p in rulebook.instant_pass}
    behaviour = {
        (r.activity.type, r.activity.detail) for r in rulebook.behaviour_rules if r.activity
    }
    candidates = []
    for attribute in spec.attributes:
        if not isinstance(attribute, CategoricalAttribute) or attribute.name not in rows.columns:
            continue
        shares = rows[attribute.name].value_counts(normalize=True)
        for level in shares[shares >= _MIN_LEVEL_SHARE].index[:_LEVELS_PER_ATTRIBUTE]:
            name = f"{attribute.name}_{_slug(str(level))}"
            if name not in taken:
                candidates.append(
                    Rule(
                        name=name,
                        label={"en": f"{attribute.name.replace('_', ' ').capitalize()}: {level}"},
                        when={attribute.name: Condition.model_validate({"in": [level]})},
                        points=1,
                    )
                )
    for signal in spec.signals:
        if signal.name.startswith("rule_") or ANY_TYPE in signal.activity_types:
            continue
        if len(signal.activity_types) != 1 or "count" not in signal.stats:
            continue
        key = (signal.activity_types[0], signal.detail)
        windows = spec.signal_windows(signal)
        window = 30 if 30 in windows else max(windows)
        name = f"did_{signal.name}"
        if key in passes or key in behaviour or name in taken:
            continue
        candidates.append(
            Rule(
                name=name,
                label={"en": signal.name.replace("_", " ").capitalize()},
                activity=ActivityMatch(type=key[0], detail=key[1]),
                points=1,
                cap=_CANDIDATE_OCCURRENCES,
                window_days=window,
            )
        )
    return candidates


def _fit(
    units: pd.DataFrame, label: np.ndarray, valid_units: pd.DataFrame, valid_label: np.ndarray
):  # type: ignore[no-untyped-def]
    best = None
    for c in _C_GRID:
        model = LogisticRegression(l1_ratio=1.0, solver="liblinear", C=c, max_iter=500)
        model.fit(units.to_numpy(), label)
        auc = roc_auc_score(valid_label, model.decision_function(valid_units.to_numpy()))
        if best is None or auc > best[0] + 1e-4:
            best = (auc, model)
    assert best is not None
    return best[1]


def _evidence(units: pd.DataFrame, label: np.ndarray) -> pd.DataFrame:
    base = max(label.mean(), 1e-9)
    rows = []
    for name in units.columns:
        fires = units[name].to_numpy() > 0
        rate_fires = label[fires].mean() if fires.any() else np.nan
        rate_not = label[~fires].mean() if (~fires).any() else np.nan
        rows.append(
            {
                "rule": name,
                "fires_share": fires.mean(),
                "sql_rate_when_fires": rate_fires,
                "sql_rate_otherwise": rate_not,
                "lift": rate_fires / base if fires.any() else np.nan,
            }
        )
    return pd.DataFrame(rows).set_index("rule")


def suggest(
    rulebook: Rulebook,
    spec: FeatureSpec,
    train: pd.DataFrame,
    validation: pd.DataFrame,
    *,
    test: pd.DataFrame | None = None,
    target_mql_per_week: float | None = None,
    max_new_rules: int = 8,
) -> Suggestion:
    """A reviewable rulebook with points from history, its evidence and its figures."""
    from training.rules import RuleScorer

    candidates = candidate_rules(spec, rulebook, train)
    rules = [*rulebook.rules, *candidates]
    units = rule_units(rules, spec, train)
    valid_units = rule_units(rules, spec, validation)
    label, valid_label = train[LABEL].to_numpy(int), validation[LABEL].to_numpy(int)
    model = _fit(units, label, valid_units, valid_label)
    coefs = pd.Series(model.coef_[0], index=units.columns)
    scale = max(abs(r.points) for r in rulebook.rules) / max(coefs.abs().max(), 1e-9)
    points = (coefs * scale).round()
    keep_new = (
        points[[c.name for c in candidates]]
        .loc[lambda p: p.abs() >= 2]
        .abs()
        .mul(units[[c.name for c in candidates]].gt(0).mean())
        .sort_values(ascending=False)
        .index[:max_new_rules]
    )
    suggested_rules = []
    for rule in rules:
        if rule in candidates and rule.name not in keep_new:
            continue
        new_points = float(points[rule.name])
        if new_points == 0 and rule in candidates:
            continue
        update: dict = {"points": new_points}
        if rule.activity is not None and (rule.cap is not None):
            occurrences = _occurrence_cap(rule)
            update["cap"] = new_points * occurrences if new_points else None
        suggested_rules.append(rule.model_copy(update=update))
    # a rule with 0 points is kept (so the diff shows the proposal to drop it) but gives nothing
    draft = rulebook.model_copy(update={"rules": tuple(suggested_rules)})

    current = RuleScorer(rulebook, spec).fit(validation)
    current_passes = current.instant_passes(validation).any(axis=1).to_numpy()
    weeks = validation["cutoff_at"].agg(lambda s: (s.max() - s.min()) / pd.Timedelta(days=7))
    volume = (
        round(target_mql_per_week * max(weeks, 1.0))
        if target_mql_per_week
        else int(current.predict(validation).sum())
    )
    draft_points = _points(draft, spec, validation)
    threshold = threshold_for_volume(draft_points, current_passes, volume)
    if np.isfinite(threshold):
        threshold = float(np.ceil(threshold))
    suggested = draft.model_copy(update={"mql_threshold": threshold})

    metrics = {}
    for period, rows in (("validation", validation), ("test", test)):
        if rows is None or rows.empty:
            continue
        passes = current.instant_passes(rows).any(axis=1).to_numpy()
        now = current.decision_function(rows)
        proposed = _points(suggested, spec, rows)
        metrics[f"now, {period}"] = handoff_metrics(
            rows, now, (now >= rulebook.mql_threshold) | passes
        )
        metrics[f"suggested, {period}"] = handoff_metrics(
            rows, proposed, (proposed >= suggested.mql_threshold) | passes
        )
        # the same hand-off volume as the current rulebook in this period: a like-for-like look
        volume_now = metrics[f"now, {period}"]["mql_rows"]
        metrics[f"suggested at now's volume, {period}"] = handoff_metrics(
            rows, proposed, top_k_handoff(proposed, passes, volume_now)
        )
    evidence = _evidence(units, label)
    evidence.insert(0, "points_now", [r.points if r in rulebook.rules else np.nan for r in rules])
    evidence.insert(1, "points_suggested", points.reindex(evidence.index))
    evidence.insert(
        0,
        "status",
        [
            "kept" if r in rulebook.rules else ("new" if r.name in keep_new else "not proposed")
            for r in rules
        ],
    )
    diff = "".join(
        difflib.unified_diff(
            dump_rulebook(rulebook).splitlines(keepends=True),
            dump_rulebook(suggested).splitlines(keepends=True),
            "rulebook (current)",
            "rulebook (suggested)",
        )
    )
    return Suggestion(suggested, evidence, pd.DataFrame(metrics).T, diff)


def _points(rulebook: Rulebook, spec: FeatureSpec, rows: pd.DataFrame) -> np.ndarray:
    """Total points of a rulebook whose new rules are not compiled into ``rows`` yet."""
    units = rule_units(list(rulebook.rules), spec, rows)
    return sum(
        (capped_points(units[rule.name].to_numpy(), rule) for rule in rulebook.rules),
        np.zeros(len(rows)),
    )
