"""The rule baseline as a scikit-learn estimator: points, grades and a breakdown that adds up.

``RuleScorer`` reads feature rows (offline training-set rows, or the online path's rows)
produced with the spec that :func:`training.model.rulebook.compile_rules` extended, so rule points
never re-read activities. ``fit`` learns nothing about the points (marketing ops own them); with
labels it fits a one-feature logistic map from points to a probability, so calibration,
pipelines and the combiner can treat the rulebook like any other model.

Points, passes and grades are computed as arrays over :class:`training.model.rows.FeatureRows`, the
same code for a file of millions of rows and for the one lead a webhook posts; the DataFrame
methods (``rule_points``, ``instant_passes``, ``grades``) wrap those arrays for readers.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from leadscore.features.spec import FeatureSpec
from leadscore.training.model.rows import FeatureRows
from leadscore.training.model.rulebook import (
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


def _levels(values: pd.Series | np.ndarray) -> np.ndarray:
    """A column as a 1-d object array with every empty value (NaN, NA, NaT) as None."""
    levels = np.array(values, dtype=object)
    levels[pd.isna(levels)] = None
    return levels


def condition_mask(values: pd.Series | np.ndarray, condition: Condition) -> np.ndarray:
    """Rows whose value passes one attribute test (an empty value passes only `missing`)."""
    return _level_mask(_levels(values), condition)


def _level_mask(levels: np.ndarray, condition: Condition) -> np.ndarray:
    """:func:`condition_mask` of levels whose empty values are already None.

    Element by element with Python's own ``==`` and set membership, which is what pandas'
    object comparisons and ``isin`` do, without a Series per call: one lead's rules cost
    microseconds, a file's a few milliseconds per condition.
    """
    if condition.missing is not None:
        return np.fromiter((v is None for v in levels), bool, len(levels)) == condition.missing
    if condition.equals is not None:
        wanted = condition.equals
        return np.fromiter((v is not None and v == wanted for v in levels), bool, len(levels))
    if condition.in_ is not None:
        members = frozenset(condition.in_)
        mask = np.fromiter((v is not None and v in members for v in levels), bool, len(levels))
        # isin matches NaN; a missing marker in a rule (None) means "missing" as well
        if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in members):
            mask |= np.fromiter((v is None for v in levels), bool, len(levels))
        return mask
    low, high = condition.range or (None, None)
    numbers = np.asarray(pd.to_numeric(levels, errors="coerce"), dtype=float)
    mask = ~np.isnan(numbers)
    if low is not None:
        mask &= numbers >= low
    if high is not None:
        mask &= numbers < high
    return mask


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


def _grade(score: np.ndarray, floors: dict[str, float], names: tuple[str, ...]) -> np.ndarray:
    grade = np.full(len(score), names[-1], dtype=object)
    for name in reversed(names[:-1]):
        if name in floors:
            grade[score >= floors[name]] = name
    return grade


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

    @property
    def rule_names(self) -> list[str]:
        """Rule names in rulebook order: the columns of :meth:`point_table`."""
        return [rule.name for rule in self.rulebook.rules]

    @property
    def pass_names(self) -> list[str]:
        """Instant-pass names in rulebook order: the columns of :meth:`pass_table`."""
        return [p.name for p in self.rulebook.instant_pass]

    def unit_table(self, X: pd.DataFrame | FeatureRows) -> np.ndarray:
        """(rows x rules): 1/0 for attribute rules, occurrences in the window otherwise."""
        check_is_fitted(self, "spec_")
        rows = FeatureRows.of(X)
        rules = self.rulebook.rules
        behaviour = [r.name for r in rules if r.when is None]
        counts = rows.numbers([self.columns_[name] for name in behaviour])
        counts = np.where(np.isnan(counts), 0.0, counts)  # pandas may hand out a read-only view
        fields = list(dict.fromkeys(f for r in rules if r.when is not None
                                    for f in self.conditions_[r.name]))  # fmt: skip
        levels = rows.levels(fields)
        units = np.empty((len(rows), len(rules)))
        for k, rule in enumerate(rules):
            if rule.when is not None:
                mask = np.ones(len(rows), bool)
                for field, condition in self.conditions_[rule.name].items():
                    mask &= _level_mask(levels[:, fields.index(field)], condition)
                units[:, k] = mask
            else:
                units[:, k] = counts[:, behaviour.index(rule.name)]
        return units

    def point_table(self, X: pd.DataFrame | FeatureRows) -> np.ndarray:
        """(rows x rules): the points each rule gives each row, in rulebook order."""
        units = self.unit_table(X)
        points = np.empty_like(units)
        for k, rule in enumerate(self.rulebook.rules):
            points[:, k] = capped_points(units[:, k], rule)
        return points

    def pass_table(self, X: pd.DataFrame | FeatureRows) -> np.ndarray:
        """(rows x instant passes): whether each trigger fired."""
        check_is_fitted(self, "spec_")
        columns = [self.columns_[p.name] for p in self.rulebook.instant_pass]
        return FeatureRows.of(X).numbers(columns) > 0  # an empty count (NaN) is no pass

    def rule_units(self, X: pd.DataFrame | FeatureRows) -> pd.DataFrame:
        """Per rule: 1/0 for attribute rules, occurrences in the window for behaviour rules."""
        index = FeatureRows.of(X).index
        return pd.DataFrame(self.unit_table(X), columns=self.rule_names, index=index)

    def rule_points(self, X: pd.DataFrame | FeatureRows) -> pd.DataFrame:
        """One column per rule, in rulebook order: the points each rule gives each row."""
        index = FeatureRows.of(X).index
        return pd.DataFrame(self.point_table(X), columns=self.rule_names, index=index)

    def instant_passes(self, X: pd.DataFrame | FeatureRows) -> pd.DataFrame:
        """One boolean column per instant-pass trigger."""
        index = FeatureRows.of(X).index
        return pd.DataFrame(self.pass_table(X), columns=self.pass_names, index=index, dtype=bool)

    def decision_function(self, X: pd.DataFrame | FeatureRows) -> np.ndarray:
        """Total points."""
        return self.point_table(X).sum(axis=1)

    def predict(self, X: pd.DataFrame | FeatureRows) -> np.ndarray:
        """1 = hand off (MQL): points at the threshold or above, or an instant pass."""
        passes = self.pass_table(X).any(axis=1)
        return ((self.decision_function(X) >= self.rulebook.mql_threshold) | passes).astype(int)

    def _calibration_inputs(self, X: pd.DataFrame | FeatureRows) -> np.ndarray:
        passes = self.pass_table(X).any(axis=1).astype(float)
        return np.column_stack([self.decision_function(X), passes])

    def predict_proba(self, X: pd.DataFrame | FeatureRows) -> np.ndarray:
        """P(SQL) from points and instant pass, by the logistic map fitted on labels."""
        check_is_fitted(self, "calibration_")
        if self.calibration_ is None:
            raise RulebookError("fit the RuleScorer with labels to get probabilities")
        return self.calibration_.predict_proba(self._calibration_inputs(X))

    # ---------------------------------------------------------------------- for sales

    def grade_table(self, points: np.ndarray) -> dict[str, np.ndarray]:
        """Fit and engagement sub-scores and grades, and the fit x engagement grade (A1 best)."""
        fit_rules = {r.name for r in self.rulebook.attribute_rules}
        engagement_rules = {r.name for r in self.rulebook.behaviour_rules}
        names = self.rule_names
        fit_at = [i for i, name in enumerate(names) if name in fit_rules]
        engagement_at = [i for i, name in enumerate(names) if name in engagement_rules]
        fit = points[:, fit_at].sum(axis=1)
        engagement = points[:, engagement_at].sum(axis=1)
        fit_grade = _grade(fit, self.rulebook.grades.fit, FIT_GRADES)
        engagement_grade = _grade(engagement, self.rulebook.grades.engagement, ENGAGEMENT_GRADES)
        return {
            "fit_points": fit,
            "engagement_points": engagement,
            "fit_grade": fit_grade,
            "engagement_grade": engagement_grade,
            "grade": fit_grade + engagement_grade,
        }

    def grades(
        self, X: pd.DataFrame | FeatureRows, points: np.ndarray | pd.DataFrame | None = None
    ) -> pd.DataFrame:
        """Fit and engagement sub-scores and the fit x engagement grade (A1 best, D4 worst)."""
        table = self.point_table(X) if points is None else np.asarray(points, dtype=float)
        return pd.DataFrame(self.grade_table(table), index=FeatureRows.of(X).index)

    def breakdown(
        self,
        X: pd.DataFrame | FeatureRows,
        lang: str = "en",
        points: np.ndarray | pd.DataFrame | None = None,
    ) -> list[list[tuple[str, float]]]:
        """Per row, the rules that gave points, as (label, points); they sum to the total."""
        table = self.point_table(X) if points is None else np.asarray(points, dtype=float)
        names = [r.text(lang) for r in self.rulebook.rules]
        return [[(names[j], float(row[j])) for j in np.flatnonzero(row)] for row in table]

    def unmatched_rules(self, X: pd.DataFrame | FeatureRows) -> list[str]:
        """Rules and passes that fire on no row of X: a typo or an activity this export lacks."""
        units = self.unit_table(X)
        silent = [name for k, name in enumerate(self.rule_names) if not units[:, k].any()]
        passes = self.pass_table(X)
        return silent + [name for k, name in enumerate(self.pass_names) if not passes[:, k].any()]


NO_POINTS = {"en": "no points", "ja": "加点なし"}


def format_breakdown(items: list[tuple[str, float]], lang: str = "en") -> str:
    """'Attended a seminar +50, Viewed the careers page -5' for a sales rep (in Japanese,
    'セミナーに参加 +50、採用ページを閲覧 -5')."""
    separator = "、" if lang == "ja" else ", "
    return separator.join(f"{label} {points:+g}" for label, points in items) or NO_POINTS[lang]
