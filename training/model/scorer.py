"""The lead scorer: rule baseline, logistic regression and LightGBM, joined by a combiner.

One object holds everything a score needs - the feature spec (with the rulebook's signals), the
rulebook, the two models, the combiner, the score scale and the hand-off policy - and travels as
one versioned artifact, so serving can never pair a model with the wrong encoder or threshold.

The layers:

* the **rulebook** gives points and instant passes; both are inputs to the models;
* **logistic regression** (numerics held to the training range, median-imputed and scaled,
  with missing indicators; one-hot categoricals with rare levels grouped per attribute and
  unseen levels read as rare) and **LightGBM** each give P(SQL within H days);
* in both models a **hand-raise** (a demo or quote request) only ever counts for a lead: its
  counts take non-negative weights in the logistic regression and rise monotonically in
  LightGBM, and its timing (recency, first seen, missing indicators) is used by neither. A
  request weeks ago from a lead still not SQL is a worse bet than a fresh one, but that
  staleness is read from the lead's other, timed activity, so a request never reads as a
  reason against the lead (see :func:`hand_raise_inputs`);
* every signal or numeric attribute whose spec declares a **direction** is held to it the same
  way: monotone constraints in LightGBM, sign constraints in the logistic regression, per
  encoded column from its source feature (:data:`STAT_SIGNS` maps each stat to its sign);
* the **combiner** (:class:`training.model.combiner.LogOddsBlend`) averages the two models' log-odds
  with weights pulled towards equal and gives the final probability; its slope and intercept,
  fitted on the held-out validation period, are the calibration step. No class weights
  anywhere, so the probabilities keep the real base rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, OneToOneFeatureMixin, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

from leadscore.features.infer import snake
from leadscore.features.schema import Activity
from leadscore.features.spec import FeatureSpec, NumericAttribute, Signal
from leadscore.training.model.combiner import LinearLogOdds, LogOddsBlend
from leadscore.training.model.encoding import FittedEncoding
from leadscore.training.model.policy import Policy, policy_thresholds
from leadscore.training.model.rows import FeatureRows
from leadscore.training.model.rulebook import Rulebook
from leadscore.training.model.rules import RuleScorer

RULE_POINTS = "rule_points"
INSTANT_PASS = "instant_pass"
MISSING_LEVEL = "__missing__"
COMPONENTS = ("rules", "logistic", "lightgbm")
HAND_RAISES = (Activity.DEMO_REQUEST, Activity.QUOTE_REQUEST)


def model_columns(spec: FeatureSpec) -> tuple[list[str], list[str]]:
    """(numeric, categorical) model inputs: the spec's features plus rule points and pass."""
    categorical = spec.categorical_features()
    numeric = [n for n in spec.feature_names() if n not in categorical]
    return [*numeric, RULE_POINTS, INSTANT_PASS], categorical


def hand_raise_inputs(spec: FeatureSpec) -> tuple[list[str], list[str]]:
    """(counted, timed) numeric model inputs that read a demo or quote request.

    Counted inputs (request counts and days with a request per window, the rulebook's signals
    on them, the instant-pass flag) grow with requests, so a model may only give them weight
    that rises with them. Timed inputs (recency, first seen) are empty for a lead that never
    asked and have no direction that keeps 'asked' above 'never asked', so the models leave
    them out. A signal is a hand-raise when all its activity types are (by their snake_case
    name, so an inferred 'Demo Request' type counts too).
    """
    counted, timed = [], []
    for signal in spec.signals:
        if is_hand_raise(signal):
            for name in spec.signal_features(signal):
                (timed if name.endswith(("_recency_days", "_first_days")) else counted).append(name)
    return [*counted, INSTANT_PASS], timed


def signal_of(spec: FeatureSpec) -> dict[str, tuple[Signal, str]]:
    """Each activity feature -> (its signal, its stat), from the spec's own names."""
    out = {}
    for signal in spec.signals:
        for name in spec.signal_features(signal):
            stat = name.removeprefix(f"{signal.name}_").split("_", 1)[0]
            out[name] = (signal, stat)
    return out


def is_hand_raise(signal: Signal) -> bool:
    """A demo or quote request (by the snake_case name of every activity type it matches)."""
    return bool(signal.activity_types) and all(
        snake(t) in HAND_RAISES for t in signal.activity_types
    )


def signal_sign(signal: Signal) -> int:
    """+1 up, -1 down, 0 free; a hand-raise is up unless the spec says otherwise."""
    if signal.direction == "free" and is_hand_raise(signal):
        return 1
    return signal.sign


# How a signal's direction d (+1 up, -1 down) holds each stat, and the missing indicator of a
# stat (1 when the signal never fired in the lookback):
#   count, days:   d   (more events, or more days with one, move the score the signal's way)
#   recency_days: -d   (days since the last event: fewer days is fresher, so the sign flips)
#   first_days:    0   (days since the first event: a long relationship or a stale lead; no
#                       domain fact says which)
#   missing indicator of recency: -d (never fired: for an up signal, below any fire); an
#                       empty recency of a directed signal reads as the lookback + 1 days
#                       (Layers.never_columns), so both models see 'never' as the farthest
# A numeric attribute's value takes d; its missing indicator stays free.
STAT_SIGNS = {"count": 1, "days": 1, "recency": -1, "first": 0}


def input_signs(spec: FeatureSpec) -> dict[str, int]:
    """Numeric model input -> the sign its effect must have (+1, -1); free inputs are absent.

    Rule points and the instant-pass flag always rise (a rule's own sign is in its points).
    """
    signs = {RULE_POINTS: 1, INSTANT_PASS: 1}
    for name, (signal, stat) in signal_of(spec).items():
        sign = signal_sign(signal) * STAT_SIGNS[stat]
        if sign:
            signs[name] = sign
    for attribute in spec.attributes:
        if isinstance(attribute, NumericAttribute) and attribute.sign:
            signs[attribute.name] = attribute.sign
    return signs


def encoded_signs(spec: FeatureSpec, encoded_names: list[str]) -> tuple[list[int], list[int]]:
    """(signs, zero) of the logistic regression's encoded columns (``numeric__<input>`` and
    ``numeric__missingindicator_<input>``): the sign each weight must have (0 free), and the
    columns held at zero (a hand-raise's timing, see :func:`hand_raise_inputs`)."""
    signs_of = input_signs(spec)
    features = signal_of(spec)
    _, timed = hand_raise_inputs(spec)
    signs, zero = [], []
    for j, name in enumerate(encoded_names):
        block, column = name.split("__", 1)
        source = column.removeprefix("missingindicator_")
        sign = 0
        if block != "numeric":
            pass
        elif source in timed:
            zero.append(j)
        elif column == source:
            sign = signs_of.get(source, 0)
        elif source in features and features[source][1] == "recency":
            sign = -signal_sign(features[source][0])  # never fired
        elif source in features and is_hand_raise(features[source][0]):
            zero.append(j)  # a request count is never missing; hold its indicator at zero
        signs.append(sign)
    return signs, zero


class SignConstrainedLogistic(LinearLogOdds, ClassifierMixin, BaseEstimator):
    """L2 logistic regression with some weights held at or above zero, some at or below zero,
    and some at zero.

    ``non_negative``, ``non_positive`` and ``zero`` are column positions. Collinear columns
    (the same count over 7, 30 and 90 days, and the rulebook's copy of it) otherwise split
    their weight into a large positive and a negative part, and a lead's pricing view or
    demo request would read as bad news.

    Why not scikit-learn's ``LogisticRegression``: it takes no bounds on weights. The same
    objective (``C`` x the summed log loss + half the squared weights, intercept free) is
    minimised here by SciPy's L-BFGS-B with each constrained weight bounded. The problem is
    convex, so the answer is its one optimum: the same whatever the order of the columns
    (a Japanese export and its English twin list them differently), which dropping
    wrong-signed columns and refitting, as an earlier version did, is not. ``coef_`` covers
    every column, so the encoder in front of it does not change.
    """

    def __init__(
        self,
        C: float = 1.0,
        max_iter: int = 2000,
        non_negative: tuple[int, ...] = (),
        zero: tuple[int, ...] = (),
        non_positive: tuple[int, ...] = (),
    ) -> None:
        self.C = C
        self.max_iter = max_iter
        self.non_negative = non_negative
        self.zero = zero
        self.non_positive = non_positive

    def __setstate__(self, state: dict) -> None:
        # a model pickled before non_positive existed held no weight below zero
        state.setdefault("non_positive", ())
        super().__setstate__(state)

    def fit(self, X: np.ndarray, y: np.ndarray) -> SignConstrainedLogistic:
        X, y = validate_data(self, X, y, accept_sparse="csr")
        self.classes_ = np.unique(y)
        target = (y == self.classes_[-1]).astype(float)
        bounds = [(None, None)] * (X.shape[1] + 1)  # the last is the intercept
        for columns, bound in (
            (self.non_negative, (0.0, None)), (self.non_positive, (None, 0.0)),
            (self.zero, (0.0, 0.0)),
        ):  # fmt: skip
            for j in columns:
                bounds[j] = bound
        scale = 1.0 / X.shape[0]  # the mean loss: the same optimum, better conditioned

        def objective(params: np.ndarray) -> tuple[float, np.ndarray]:
            weights, intercept = params[:-1], params[-1]
            margin = X @ weights + intercept
            loss = self.C * np.sum(np.logaddexp(0.0, margin) - target * margin)
            error = self.C * (expit(margin) - target)
            gradient = np.append(X.T @ error + weights, error.sum())
            return scale * (loss + 0.5 * weights @ weights), scale * gradient

        fitted = minimize(
            objective, np.zeros(X.shape[1] + 1), jac=True, method="L-BFGS-B", bounds=bounds,
            options={"maxiter": self.max_iter, "ftol": 1e-12, "gtol": 1e-8},
        )  # fmt: skip
        self.coef_ = fitted.x[np.newaxis, :-1]
        self.intercept_ = fitted.x[-1:]
        self.n_iter_ = np.array([fitted.nit])
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        return self.margin(validate_data(self, X, accept_sparse="csr", reset=False))

    def margin(self, X: np.ndarray) -> np.ndarray:
        """Log-odds of rows already encoded by the scorer, without re-validating them."""
        return X @ self.coef_[0] + self.intercept_[0]


class TrainingRange(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Numeric inputs held inside the range seen in training; an empty value stays empty.

    Why: a logistic regression extrapolates in a straight line, so one value far outside
    training - revenue typed in dollars where the export has millions, a bot's thousands of
    page views - reads as a certain conversion and heads the sales queue. Held at the
    training range, it counts as the largest (or smallest) value the model has seen. No
    training row changes, so the fit is the same. scikit-learn has no fitted clipping step.
    """

    def fit(self, X: np.ndarray, y: object = None) -> TrainingRange:
        X = validate_data(self, X, dtype=float, ensure_all_finite="allow-nan")
        seen = ~np.isnan(X)
        # a column empty on every training row has no range: nothing to hold it to
        self.low_ = np.where(seen.any(axis=0), np.where(seen, X, np.inf).min(axis=0), -np.inf)
        self.high_ = np.where(seen.any(axis=0), np.where(seen, X, -np.inf).max(axis=0), np.inf)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=float, ensure_all_finite="allow-nan", reset=False)
        return np.clip(X, self.low_, self.high_)  # NaN stays NaN


class RareLevels(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Per categorical input, levels rarer than its attribute's ``min_share`` of training rows,
    and levels never seen in training, read as one level, ``__other__``.

    Why not the encoders' own ``min_frequency``: scikit-learn takes one threshold for every
    column, and the spec sets one per attribute (a rare industry is noise; a rare country
    may be the market a team is opening). ``min_shares`` follow the categorical inputs.
    """

    other = "__other__"

    def __init__(self, min_shares: tuple[float, ...] = ()) -> None:
        self.min_shares = min_shares

    def fit(self, X: np.ndarray, y: object = None) -> RareLevels:
        levels = np.asarray(X, dtype=object)
        self.n_features_in_ = levels.shape[1]
        self.kept_ = []
        for j in range(levels.shape[1]):
            shares = pd.Series(levels[:, j]).value_counts(normalize=True, dropna=False)
            self.kept_.append(frozenset(shares.index[shares >= self.min_shares[j]]))
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        levels = np.array(X, dtype=object)
        for j, kept in enumerate(self.kept_):
            levels[~pd.Series(levels[:, j]).isin(list(kept)).to_numpy(), j] = self.other
        return levels


def _rare_levels(spec: FeatureSpec) -> RareLevels:
    shares = {a.name: a.min_share for a in spec.attributes if not isinstance(a, NumericAttribute)}
    return RareLevels(tuple(shares[name] for name in model_columns(spec)[1]))


def _missing_level_imputer() -> SimpleImputer:
    """Empty levels become the missing level, and a column empty on every training row stays.

    Why keep it: scikit-learn drops an all-empty column (a form field added after the train
    period), which would shift every later categorical input one place in the fast encoding
    and leave LightGBM's per-column constraints one short.
    """
    return SimpleImputer(strategy="constant", fill_value=MISSING_LEVEL, keep_empty_features=True)


def logistic_pipeline(spec: FeatureSpec, c: float) -> Pipeline:
    numeric, categorical = model_columns(spec)
    encode = ColumnTransformer(
        [
            (
                "numeric",
                make_pipeline(
                    TrainingRange(),
                    SimpleImputer(strategy="median", add_indicator=True),
                    StandardScaler(),
                ),
                numeric,
            ),
            (
                "categorical",
                make_pipeline(
                    _missing_level_imputer(),
                    _rare_levels(spec),
                    OneHotEncoder(handle_unknown="ignore", sparse_output=True),
                ),
                categorical,
            ),
        ],
        # Sparse while fitting when the one-hot levels make the encoded rows mostly zeros (an
        # export's job titles and landing pages: hundreds of levels): the dense matrix of all
        # labelled rows was the training job's peak memory. Scoring never calls transform: it
        # runs the fitted steps as array operations (FittedEncoding).
        sparse_threshold=0.3,
    )
    return Pipeline([("encode", encode), ("model", SignConstrainedLogistic(C=c, max_iter=2000))])


def fit_logistic(spec: FeatureSpec, c: float, x: pd.DataFrame, y: np.ndarray) -> Pipeline:
    """The logistic pipeline fitted so that no weight goes against a declared direction.

    The encoder is fitted first, because which encoded columns exist (missing indicators,
    one-hot levels) depends on the data; then each encoded column is held to the sign of
    :func:`encoded_signs` (a demo or quote request's count never weighs against a lead,
    its timing is held at zero).
    """
    pipeline = logistic_pipeline(spec, c)
    encode = pipeline.named_steps["encode"]
    encoded = encode.fit_transform(x, y)
    signs, zero = encoded_signs(spec, list(encode.get_feature_names_out()))
    model = pipeline.named_steps["model"]
    model.set_params(
        non_negative=tuple(j for j, sign in enumerate(signs) if sign > 0),
        non_positive=tuple(j for j, sign in enumerate(signs) if sign < 0),
        zero=tuple(zero),
    ).fit(encoded, y)
    return pipeline


# LightGBM's native categorical splits, held to groups a decision can rest on: a level (or a
# set of levels on one side of a split) needs 50 training rows, level means are shrunk
# towards the whole (cat_smooth, cat_l2), and an attribute of four levels or fewer is split
# one level against the rest
CATEGORICAL_SPLITS = {"min_data_per_group": 50, "cat_smooth": 10.0, "cat_l2": 10.0,
                      "max_cat_to_onehot": 4}  # fmt: skip


def lightgbm_pipeline(spec: FeatureSpec, params: dict) -> Pipeline:
    """LightGBM on the numeric inputs as they are and the categorical ones as LightGBM's own
    categories (rare levels grouped per attribute first, see :class:`RareLevels`).

    Why native categories: the ordinal codes of a many-level code such as a landing page's id
    are in alphabetical order, so a split on them as numbers cuts through unrelated pages;
    LightGBM's categorical split orders the levels by their gradient statistics and can put
    one good page on its own side. The encoded inputs stay the ordinal codes (the fast
    encoding and the explanations read them unchanged); a code of -1, a level never seen in
    training, reads as missing.
    """
    numeric, categorical = model_columns(spec)
    encode = ColumnTransformer(
        [
            ("numeric", "passthrough", numeric),
            (
                "categorical",
                make_pipeline(
                    _missing_level_imputer(),
                    _rare_levels(spec),
                    OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                ),
                categorical,
            ),
        ],
        verbose_feature_names_out=False,
    )
    # each input held to its direction (input_signs: a demo or quote request, a pass, more
    # rule points and more of an 'up' signal never lower the score); LightGBM holds the
    # values it sees, never where an empty one goes. When a request came is left out (an
    # empty recency, 'never asked', may fall on either side of a split, so no monotone
    # direction keeps it below every request)
    _, timed = hand_raise_inputs(spec)
    signs = input_signs(spec)
    names = [*numeric, *categorical]
    constraints = [signs.get(name, 0) for name in names]
    if timed:  # LightGBM never splits on a feature that is in no interaction set
        params = {**params, "interaction_constraints": [
            [j for j, name in enumerate(names) if name not in timed]
        ]}  # fmt: skip
    if categorical:  # 'categorical_column': the booster's own name for categorical_feature,
        # which the scikit-learn wrapper would warn about and take only at fit time
        params = {**CATEGORICAL_SPLITS, **params, "categorical_column": list(
            range(len(numeric), len(names))
        )}  # fmt: skip
    model = LGBMClassifier(verbose=-1, n_jobs=2, monotone_constraints=constraints, **params)
    return Pipeline([("encode", encode), ("model", model)])


COMBINER_INPUTS = ("rule_points_per_10", "logistic_logit", "lightgbm_logit")
_ONE_THREAD_BELOW = 512


def gbm_predict_options(n_rows: int) -> dict:
    """LightGBM predict options for a batch of ``n_rows``.

    Waking the OpenMP thread pool costs milliseconds, far more than predicting a few rows: one
    thread is 20x faster for a single lead, which is what an MA webhook sends.
    """
    return {"num_threads": 1} if n_rows < _ONE_THREAD_BELOW else {}


def combined_probability(combiner: LogOddsBlend, margins: np.ndarray) -> np.ndarray:
    """P(SQL) from the combiner's inputs: the sigmoid of its linear log-odds (``coef_``,
    ``intercept_``), which is what its ``predict_proba`` returns.

    ``predict_proba`` validates its input on every call (tens of microseconds, more than the
    rest of one lead's arithmetic); these margins come from the scorer itself, already checked.
    Batch and online scoring both go through here, so they stay equal.
    """
    return expit(margins @ combiner.coef_.T + combiner.intercept_)[:, 0]


@dataclass(frozen=True)
class ScoringPass:
    """What one pass of the scorer over some rows computed, for scoring and explaining alike."""

    points: np.ndarray  # (rows x rules), in rulebook order (RuleScorer.rule_names)
    total_points: np.ndarray
    passes: np.ndarray  # an instant-pass trigger fired
    z_logistic: np.ndarray  # logistic regression's encoded inputs
    z_gbm: np.ndarray  # LightGBM's encoded inputs
    margins: np.ndarray  # the combiner's inputs
    p: np.ndarray


@dataclass(frozen=True)
class LayerPass:
    """One pass of the :class:`Layers` over some rows, before the combiner."""

    points: np.ndarray  # (rows x rules), in rulebook order
    numbers: np.ndarray  # the numeric model inputs; the last two are rule points and pass flag
    z_logistic: np.ndarray
    z_gbm: np.ndarray
    margins: np.ndarray  # rule points per 10 and each model's log-odds: the combiner's inputs


@dataclass(frozen=True)
class Layers:
    """The three scored layers before they are combined: rules, logistic regression, LightGBM.

    Why a class apart from :class:`LeadScorer`: the training job fits the layers in steps (the
    rules first, which give the models their inputs; then the models; then the combiner on
    their margins). It builds one of these at each step instead of filling in a half-empty
    scorer, and the finished scorer runs the very same code through its own ``layers``.
    """

    spec: FeatureSpec
    rules: RuleScorer
    logistic: Pipeline | None = None  # None while only the models' inputs are needed
    lightgbm: Pipeline | None = None

    @cached_property
    def input_columns(self) -> tuple[list[str], list[str]]:
        """(numeric, categorical) model inputs, :func:`model_columns` of the spec, listed once."""
        return model_columns(self.spec)

    @cached_property
    def encodings(self) -> tuple[FittedEncoding, FittedEncoding]:
        """The fitted encoders of both models as array operations (equal to ``transform``)."""
        logistic, lightgbm = self._models()
        return (
            FittedEncoding.of(logistic.named_steps["encode"]),
            FittedEncoding.of(lightgbm.named_steps["encode"]),
        )

    @cached_property
    def encoded_sources(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Per model, the input each encoded column came from, for explanations."""
        numeric, categorical = self.input_columns
        logistic, lightgbm = (tuple(e.sources(numeric, categorical)) for e in self.encodings)
        return logistic, lightgbm

    def _models(self) -> tuple[Pipeline, Pipeline]:
        if self.logistic is None or self.lightgbm is None:
            raise RuntimeError("these layers have no fitted models yet: only their inputs")
        return self.logistic, self.lightgbm

    def input_arrays(
        self,
        rows: pd.DataFrame | FeatureRows,
        points: np.ndarray | pd.DataFrame | None = None,
        passes: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(numeric, categorical) model inputs as arrays, in :func:`model_columns` order.

        Numeric inputs are the spec's features, then rule points and the pass flag; absent
        features are empty (NaN) and empty categorical levels are None. ``points`` (rows x
        rules) and ``passes`` (rows x triggers) are the rules' tables when already computed.
        """
        rows = FeatureRows.of(rows)
        numeric, categorical = self.input_columns
        features = numeric[:-2]  # the spec's; rule points and the pass flag come from the rules
        points = self.rules.point_table(rows) if points is None else np.asarray(points, float)
        passes = self.rules.pass_table(rows) if passes is None else passes
        numbers = np.column_stack(
            [rows.numbers(features), points.sum(axis=1), passes.any(axis=1) * 1.0]
        )
        never, days = self.never_columns
        if len(never):
            block = numbers[:, never]
            numbers[:, never] = np.where(np.isnan(block), days, block)
        return numbers, rows.levels(categorical)

    @cached_property
    def never_columns(self) -> tuple[np.ndarray, float]:
        """(positions, days): the recency inputs of signals with a direction, and the days an
        empty one ('never happened') reads as: one more than the lookback, beyond any event.

        Why: a monotone constraint holds the values a tree sees, never where an empty value
        goes, and the logistic model fills an empty value with the median. A lead's first
        pricing view 20 days ago then scored below 'never viewed'. As the farthest time, never
        sits at the cold end of the constrained axis for both models. Signals without a
        direction (and every signal of a model pickled before directions) keep empty values.
        """
        numeric, _ = self.input_columns
        _, timed = hand_raise_inputs(self.spec)
        directed = {
            name for name, (signal, stat) in signal_of(self.spec).items()
            if stat == "recency" and signal_sign(signal) and name not in timed
        }  # fmt: skip
        positions = [j for j, name in enumerate(numeric) if name in directed]
        return np.array(positions, dtype=int), float(self.spec.lookback_days + 1)

    def model_inputs(
        self, rows: pd.DataFrame | FeatureRows, points: np.ndarray | pd.DataFrame | None = None
    ) -> pd.DataFrame:
        """The models' inputs as the pipelines are fitted on them: named columns.

        Empty levels are NaN, which the pipelines' imputers fill with the missing level. Why
        not None: the imputer leaves None alone, and pandas turns it into NaN only in a column
        that also holds text, so a batch whose column is all empty (one lead, say) would be
        encoded as an unknown level where every other batch says "missing".
        """
        numeric, categorical = self.input_columns
        numbers, levels = self.input_arrays(rows, points)
        levels = np.where(pd.isna(levels), np.nan, levels)
        data = {name: numbers[:, j] for j, name in enumerate(numeric)}
        data |= {name: levels[:, j] for j, name in enumerate(categorical)}
        return pd.DataFrame(data, index=FeatureRows.of(rows).index)

    def run(self, rows: FeatureRows) -> LayerPass:
        """Each layer's answer for the rows, and what it was computed from.

        Rule points, model inputs and both encodings are computed once, as arrays: for a single
        lead, pandas and scikit-learn bookkeeping paid four times over was most of the latency.
        """
        logistic, lightgbm = self._models()
        points = self.rules.point_table(rows)
        passes = self.rules.pass_table(rows)
        numbers, levels = self.input_arrays(rows, points, passes)
        logistic_encoding, gbm_encoding = self.encodings
        z_logistic = logistic_encoding.apply(numbers, levels)
        z_gbm = gbm_encoding.apply(numbers, levels)
        margins = np.column_stack(
            [
                numbers[:, -2] / 10.0,
                logistic.named_steps["model"].margin(z_logistic),
                lightgbm.named_steps["model"].booster_.predict(
                    z_gbm, raw_score=True, **gbm_predict_options(len(rows))
                ),
            ]
        )
        return LayerPass(points, numbers, z_logistic, z_gbm, margins)

    def component_logits(self, rows: pd.DataFrame | FeatureRows) -> pd.DataFrame:
        """The combiner's inputs: rule points (per 10) and each model's log-odds.

        The instant-pass flag is not among them: both models already see it, and a second,
        collinear copy could take a negative weight and make a demo request read as bad news.
        """
        rows = FeatureRows.of(rows)
        margins = self.run(rows).margins
        return pd.DataFrame(margins, columns=list(COMBINER_INPUTS), index=rows.index)


@dataclass(frozen=True)
class LeadScorer:
    """Everything needed to turn feature rows into p_sql, a 0-100 score and a decision.

    Built complete by the training job, from fitted parts, and never changed after: a new
    policy or new metadata is a new scorer (:func:`dataclasses.replace`). Every method takes
    feature rows as a DataFrame (files, training) or as :class:`training.model.rows.FeatureRows`
    (the service's posted leads) and runs the same array code on both.
    """

    spec: FeatureSpec
    rulebook: Rulebook
    rules: RuleScorer
    logistic: Pipeline
    lightgbm: Pipeline
    combiner: LogOddsBlend
    score_scale: np.ndarray  # 101 quantiles of validation p_sql: score = its percentile
    policy: Policy  # the hand-off policy; a model directory's policy.json replaces it on load
    metadata: dict = field(default_factory=dict)
    logistic_means: np.ndarray | None = None  # encoded training means: explanations centre on them
    reason_catalog: dict | None = None  # the catalog trained with, so reasons travel with the model
    # training rows' mean of each activity count: "3x the average lead" (None: trained before)
    typical_counts: dict[str, float] | None = None

    @cached_property
    def layers(self) -> Layers:
        """The scorer's rules and models as :class:`Layers`: the code the job fitted them with."""
        return Layers(self.spec, self.rules, self.logistic, self.lightgbm)

    @property
    def encodings(self) -> tuple[FittedEncoding, FittedEncoding]:
        return self.layers.encodings

    @property
    def encoded_sources(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return self.layers.encoded_sources

    @property
    def input_columns(self) -> tuple[list[str], list[str]]:
        return self.layers.input_columns

    @cached_property
    def feature_names(self) -> list[str]:
        """The spec's features in training-set order, listed once."""
        return self.spec.feature_names()

    def model_inputs(
        self, rows: pd.DataFrame | FeatureRows, points: np.ndarray | pd.DataFrame | None = None
    ) -> pd.DataFrame:
        """The models' inputs as the pipelines are fitted on them (:meth:`Layers.model_inputs`)."""
        return self.layers.model_inputs(rows, points)

    def run(self, rows: pd.DataFrame | FeatureRows) -> ScoringPass:
        """One pass over the rows that scoring and explaining both read from."""
        rows = FeatureRows.of(rows)
        layers = self.layers.run(rows)
        p = combined_probability(self.combiner, layers.margins)
        passed = layers.numbers[:, -1] > 0
        return ScoringPass(
            layers.points, layers.numbers[:, -2], passed, layers.z_logistic, layers.z_gbm,
            layers.margins, p,
        )  # fmt: skip

    def component_logits(self, rows: pd.DataFrame | FeatureRows) -> pd.DataFrame:
        """The combiner's inputs (:meth:`Layers.component_logits`)."""
        return self.layers.component_logits(rows)

    def probability(self, rows: pd.DataFrame | FeatureRows) -> np.ndarray:
        """P(SQL) per row, one dimension: a name of its own, because scikit-learn's
        ``predict_proba`` returns one column per class."""
        return self.run(rows).p

    def scores(self, p_sql: np.ndarray) -> np.ndarray:
        """0-100: the share of validation-period leads this probability beats."""
        return np.clip(np.searchsorted(self.score_scale, p_sql, side="right") - 1, 0, 100)

    def thresholds(self, rows: pd.DataFrame | FeatureRows) -> np.ndarray:
        """Each row's hand-off threshold: its segment's, divided by deal value if valued."""
        return policy_thresholds(self.in_force(), rows)

    def in_force(self) -> Policy:
        """The hand-off policy this scorer applies."""
        return self.policy

    def tiers(
        self, scores: np.ndarray, handoff: np.ndarray, policy: Policy | None = None
    ) -> np.ndarray:
        """A-D from the policy's score floors (listed from the top); every hand-off is tier A."""
        bands = list((policy or self.in_force()).tiers.items())
        tier = np.full(len(scores), bands[-1][0], dtype=object)
        for name, band in reversed(bands):
            tier[scores >= band.min_score] = name
        tier[handoff] = bands[0][0]
        return tier

    def score_columns(
        self, rows: pd.DataFrame | FeatureRows, scored: ScoringPass | None = None
    ) -> dict[str, np.ndarray]:
        """The columns of :meth:`score` as arrays, plus each row's ``threshold``."""
        rows = FeatureRows.of(rows)
        scored = scored or self.run(rows)
        p = scored.p
        passes = scored.passes
        policy = self.in_force()  # one policy for the whole call, even if a new one comes in
        thresholds = policy_thresholds(policy, rows)
        handoff = (p >= thresholds) | (passes & policy.instant_pass_hands_off)
        scores = self.scores(p)
        return {
            "p_sql": p,
            "score": scores,
            "tier": self.tiers(scores, handoff, policy),
            "decision": np.where(handoff, "hand off", "nurture"),
            "instant_pass": passes,
            "rule_points": scored.total_points,
            "grade": self.rules.grade_table(scored.points)["grade"],
            "threshold": thresholds,
        }

    def score(
        self, rows: pd.DataFrame | FeatureRows, scored: ScoringPass | None = None
    ) -> pd.DataFrame:
        """p_sql, score, decision and the rule view for each row, in input order."""
        columns = self.score_columns(rows, scored)
        columns.pop("threshold")
        return pd.DataFrame(columns, index=FeatureRows.of(rows).index)
