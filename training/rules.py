"""The rule baseline as a scikit-learn estimator: points, grades and a breakdown that adds up.

``RuleScorer`` reads feature rows (offline training-set rows or one online vector as a frame)
produced with the spec that :func:`training.rulebook.compile_rules` extended, so rule points
never re-read activities. ``fit`` learns nothing about the points (marketing ops own them); with
labels it fits a one-feature logistic map from points to a probability, so calibration,
pipelines and the combiner can treat the rulebook like any other model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from features.spec import FeatureSpec
from training.rulebook import (
    ENGAGEMENT_GRADES,
    FIT_GRADES,
    Condition,
    InstantPass,
    Rule,
    Rulebook,
    RulebookError,
    compile_rules,
    normalised_conditions,
    rule_feature,
)


def condition_mask(values: pd.Series, condition: Condition) -> np.ndarray:
    """Rows whose value passes one attribute test (an empty value passes only `missing`)."""
    if condition.missing is not None:
        return (values.isna() == condition.missing).to_numpy()
    if condition.equals is not None:
        return (values == condition.equals).fillna(False).to_numpy(bool)
    if condition.in_ is not None:
        return values.isin(list(condition.in_)).fillna(False).to_numpy(bool)
    low, high = condition.range or (None, None)
    numbers = pd.to_numeric(values, errors="coerce")
    mask = numbers.notna()
    if low is not None:
        mask &= numbers >= low
    if high is not None:
        mask &= numbers < high
    return mask.to_numpy(bool)


def unit_column(rule: Rule | InstantPass, spec: FeatureSpec, columns: pd.Index) -> str:
    """The feature a behaviour rule reads: its own compiled one, or an identical spec feature.

    The fallback lets a rulebook proposed by ``rules suggest`` (whose new rules were made from
    spec signals) be judged on the training set it came from, without a rebuild.
    """
    own = rule_feature(rule)
    if own in columns:
        return own
    assert rule.activity is not None
    decays = isinstance(rule, Rule) and rule.half_life_days
    for signal in spec.signals:
        same = (
            signal.activity_types == (rule.activity.type,) and signal.detail == rule.activity.detail
        )
        column = f"{signal.name}_count_{rule.window_days}d"
        if same and not decays and column in columns:
            return column
    raise RulebookError(
        f"rule '{rule.name}': no feature column {own}; rebuild the training set with "
        "`leadscore features build --rulebook` naming this rulebook"
    )


def behaviour_units(frame: pd.DataFrame, rule: Rule, spec: FeatureSpec) -> np.ndarray:
    """Occurrences (or decayed occurrences) of a behaviour rule's activity in its window."""
    return frame[unit_column(rule, spec, frame.columns)].fillna(0).to_numpy(float)


def capped_points(units: np.ndarray, rule: Rule) -> np.ndarray:
    points = units * rule.points
    if rule.cap is None:
        return points
    return np.minimum(points, rule.cap) if rule.points > 0 else np.maximum(points, rule.cap)


class RuleScorer(ClassifierMixin, BaseEstimator):
    """Points from a rulebook, per rule and in total; MQL when points >= threshold or on a pass."""

    def __init__(self, rulebook: Rulebook, spec: FeatureSpec) -> None:
        self.rulebook = rulebook
        self.spec = spec

    def fit(self, X: pd.DataFrame, y: object = None) -> RuleScorer:
        self.spec_ = compile_rules(self.rulebook, self.spec)
        self.conditions_ = {
            r.name: normalised_conditions(r, self.spec_) for r in self.rulebook.attribute_rules
        }
        attributes = {f for r in self.rulebook.attribute_rules for f in r.when or {}}
        missing = sorted(attributes - set(X.columns))
        if missing:
            raise RulebookError(f"the feature rows lack the attributes {', '.join(missing)}")
        self.columns_ = {
            r.name: unit_column(r, self.spec_, X.columns)
            for r in [*self.rulebook.behaviour_rules, *self.rulebook.instant_pass]
        }
        self.classes_ = np.array([0, 1])
        self.calibration_ = None
        if y is not None:
            features = self._calibration_inputs(X)
            self.calibration_ = LogisticRegression(C=1e6).fit(features, np.asarray(y, int))
        return self

    # ---------------------------------------------------------------------------- points

    def rule_units(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per rule: 1/0 for attribute rules, occurrences in the window for behaviour rules."""
        check_is_fitted(self, "spec_")
        behaviour = [r.name for r in self.rulebook.rules if r.when is None]
        counts = X.reindex(columns=[self.columns_[name] for name in behaviour]).to_numpy(
            dtype=float, na_value=0.0
        )  # one block read: a column at a time costs more than the rules for one lead
        counts = np.nan_to_num(counts, nan=0.0)
        fields = {f: X[f] for r in self.rulebook.attribute_rules for f in self.conditions_[r.name]}
        columns = {}
        for rule in self.rulebook.rules:
            if rule.when is not None:
                mask = np.ones(len(X), bool)
                for field, condition in self.conditions_[rule.name].items():
                    mask &= condition_mask(fields[field], condition)
                columns[rule.name] = mask.astype(float)
            else:
                columns[rule.name] = counts[:, behaviour.index(rule.name)]
        return pd.DataFrame(columns, index=X.index)

    def rule_points(self, X: pd.DataFrame) -> pd.DataFrame:
        """One column per rule, in rulebook order: the points each rule gives each row."""
        units = self.rule_units(X)
        return pd.DataFrame(
            {
                rule.name: capped_points(units[rule.name].to_numpy(), rule)
                for rule in self.rulebook.rules
            },
            index=X.index,
        )

    def instant_passes(self, X: pd.DataFrame) -> pd.DataFrame:
        """One boolean column per instant-pass trigger."""
        check_is_fitted(self, "spec_")
        return pd.DataFrame(
            {
                p.name: X[rule_feature(p)].fillna(0).to_numpy() > 0
                for p in self.rulebook.instant_pass
            },
            index=X.index,
            dtype=bool,
        )

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """Total points."""
        return self.rule_points(X).sum(axis=1).to_numpy()

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """1 = hand off (MQL): points at the threshold or above, or an instant pass."""
        passes = self.instant_passes(X).any(axis=1).to_numpy()
        return ((self.decision_function(X) >= self.rulebook.mql_threshold) | passes).astype(int)

    def _calibration_inputs(self, X: pd.DataFrame) -> np.ndarray:
        passes = self.instant_passes(X).any(axis=1).to_numpy(float)
        return np.column_stack([self.decision_function(X), passes])

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """P(SQL) from points and instant pass, by the logistic map fitted on labels."""
        check_is_fitted(self, "calibration_")
        if self.calibration_ is None:
            raise RulebookError("fit the RuleScorer with labels to get probabilities")
        return self.calibration_.predict_proba(self._calibration_inputs(X))

    # ---------------------------------------------------------------------- for sales

    def grades(self, X: pd.DataFrame, points: pd.DataFrame | None = None) -> pd.DataFrame:
        """Fit and engagement sub-scores and the fit x engagement grade (A1 best, D4 worst)."""
        points = self.rule_points(X) if points is None else points
        fit_rules = {r.name for r in self.rulebook.attribute_rules}
        engagement_rules = {r.name for r in self.rulebook.behaviour_rules}
        table = points.to_numpy(float)
        names = list(points.columns)
        fit_at = [i for i, name in enumerate(names) if name in fit_rules]
        engagement_at = [i for i, name in enumerate(names) if name in engagement_rules]
        fit = pd.Series(table[:, fit_at].sum(axis=1), index=X.index)
        engagement = pd.Series(table[:, engagement_at].sum(axis=1), index=X.index)
        fit_grade = _grade(fit, self.rulebook.grades.fit, FIT_GRADES)
        engagement_grade = _grade(engagement, self.rulebook.grades.engagement, ENGAGEMENT_GRADES)
        return pd.DataFrame(
            {
                "fit_points": fit,
                "engagement_points": engagement,
                "fit_grade": fit_grade,
                "engagement_grade": engagement_grade,
                "grade": fit_grade + engagement_grade,
            },
            index=X.index,
        )

    def breakdown(
        self, X: pd.DataFrame, lang: str = "en", points: pd.DataFrame | None = None
    ) -> list[list[tuple[str, float]]]:
        """Per row, the rules that gave points, as (label, points); they sum to the total."""
        points = self.rule_points(X) if points is None else points
        labels = {r.name: r.text(lang) for r in self.rulebook.rules}
        names = [labels[name] for name in points.columns]
        table = points.to_numpy(float)
        return [[(names[j], float(row[j])) for j in np.flatnonzero(row)] for row in table]

    def unmatched_rules(self, X: pd.DataFrame) -> list[str]:
        """Rules and passes that fire on no row of X: a typo or an activity this export lacks."""
        units = self.rule_units(X)
        silent = [name for name in units.columns if not units[name].any()]
        passes = self.instant_passes(X)
        return silent + [name for name in passes.columns if not passes[name].any()]


def _grade(score: pd.Series, floors: dict[str, float], names: tuple[str, ...]) -> pd.Series:
    values = score.to_numpy(float)
    grade = np.full(len(values), names[-1], dtype=object)
    for name in reversed(names[:-1]):
        if name in floors:
            grade[values >= floors[name]] = name
    return pd.Series(grade, index=score.index, dtype=object)


def format_breakdown(items: list[tuple[str, float]]) -> str:
    """'Attended a seminar +50, Viewed the careers page -5' for a sales rep."""
    return ", ".join(f"{label} {points:+g}" for label, points in items) or "no points"
