"""The combiner: the two models' log-odds, averaged with weights pulled towards equal, calibrated.

Why not a free logistic regression over the components: the combiner is fitted on the
validation period alone, a few hundred SQLs. Free weights chase that period's noise - one
model looks a little better there and takes most of the weight, and on the test period the
blend falls below the better single model. Equal weights on the log-odds are the robust
default (the "forecast combination puzzle"); the data may move them, but only as far as the
evidence outweighs a prior of ``prior_strength``. The overall slope and the intercept are free:
they are the calibration step, so no separate calibrator is needed.

The rule points are not an input: both models already see them, and a separate, collinear
weight on them came out slightly negative, so every points rule read a little against a lead.
The combiner still speaks the scorer's three margins (rule points per 10, logistic log-odds,
LightGBM log-odds) and exposes ``coef_`` over them, with 0 for the rule points.

A **layer** other than the combination can ship instead (``layer``): the rule points alone, or
one model alone, each calibrated by its own slope and intercept, and the other inputs weighted
0. Training picks it when the combination ranks below the rules on validation, or, with few
SQLs, when it is as good and simpler (see :func:`training.job.train.choose_layer`); serving and
explanations read ``coef_`` and need no change. No weight may turn negative: a model that ranks
leads upside down on the fitting period is not turned over to fit it; it gets weight 0 there
and is judged for it.
"""

from __future__ import annotations

import copy

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted, validate_data

_POINTS, _LOGISTIC, _LIGHTGBM = 0, 1, 2
LAYERS = ("rules", "logistic", "lightgbm", "combined")
"""What a scorer can ship, simplest first."""
_ALONE = {"rules": _POINTS, "logistic": _LOGISTIC, "lightgbm": _LIGHTGBM}


class LinearLogOdds:
    """``predict_proba`` and ``predict`` for a binary classifier whose log-odds are linear.

    Shared by the combiner and :class:`training.model.scorer.SignConstrainedLogistic`; a subclass
    gives ``decision_function`` and ``classes_``.
    """

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        p = expit(self.decision_function(X))  # type: ignore[attr-defined]
        return np.column_stack([1.0 - p, p])

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[(self.decision_function(X) > 0).astype(int)]  # type: ignore[attr-defined]


class LogOddsBlend(LinearLogOdds, ClassifierMixin, BaseEstimator):
    """P(SQL) = sigmoid(b + s * (l1 + l2) / 2 + t * (l1 - l2) / 2), with ``t`` shrunk to 0.

    ``l1`` and ``l2`` are the logistic and LightGBM log-odds (columns 1 and 2 of the margins;
    column 0, the rule points, is read past). ``prior_strength`` is the L2 penalty on ``t``
    against the summed log loss: large keeps the weights equal, 0 lets them go free; each
    model's weight ``(s ± t) / 2`` is held at zero or above. With ``layer`` one of ``rules``,
    ``logistic`` or ``lightgbm``, P(SQL) = sigmoid(b + s * that margin) alone, ``s`` >= 0.
    """

    def __init__(self, prior_strength: float = 100.0, layer: str = "combined") -> None:
        self.prior_strength = prior_strength
        self.layer = layer

    def fit(self, X: np.ndarray, y: np.ndarray) -> LogOddsBlend:
        if self.layer not in LAYERS:
            raise ValueError(f"layer '{self.layer}' is not one of {', '.join(LAYERS)}")
        X, y = validate_data(self, X, y)
        self.classes_ = np.unique(y)
        if self.layer == "combined":  # weights w1, w2 with t = w1 - w2 shrunk: s = w1 + w2
            columns = [_LOGISTIC, _LIGHTGBM]
            penalty = self.prior_strength * np.array([[0, 0, 0], [0, 1, -1], [0, -1, 1]])
        else:
            columns = [_ALONE[self.layer]]
            penalty = np.zeros((2, 2))
        design = np.column_stack([np.ones(len(X)), X[:, columns]])
        sign = np.where(y == self.classes_[-1], 1.0, -1.0)

        def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
            z = sign * (design @ theta)
            gradient = -design.T @ (sign * expit(-z)) + penalty @ theta
            return float(-log_expit(z).sum() + 0.5 * theta @ penalty @ theta), gradient

        start = np.array([0.0, *np.full(len(columns), 1.0 / len(columns))])
        bounds = [(None, None), *[(0.0, None)] * len(columns)]
        theta = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=bounds).x
        intercept = theta[0]
        coef = np.zeros(X.shape[1])
        coef[columns] = theta[1:]
        self.coef_ = coef[np.newaxis, :]
        self.intercept_ = np.array([intercept])
        return self

    def with_level(self, offset: float) -> LogOddsBlend:
        """A copy whose intercept moves by ``offset`` log-odds: the level read across several
        periods (:mod:`training.job.level`) in place of the one period the blend was fitted on.
        Weights and slope stay; explanations read the intercept, so they stay exact."""
        check_is_fitted(self)
        moved = copy.deepcopy(self)
        moved.intercept_ = self.intercept_ + offset
        return moved

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return X @ self.coef_[0] + self.intercept_[0]
