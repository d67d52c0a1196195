"""The combiner's level: calibration in the large that one period's dip does not set.

The combiner (:mod:`training.model.combiner`) is fitted on one period - validation for the
judged model, the latest out-of-fold period for the refit - and its intercept carries that
period's conversion level. Levels move between periods by sampling noise (a period holds a few
hundred SQLs) and by real drift (a market, a channel mix). On a 20,000-lead world whose
validation period converted 13% below both train and test, the judged model predicted 0.80 of
the test period's rate.

So the level is read from several periods: each period's offset - the log-odds shift that
brings the mean P(SQL) of its log-odds to the period's realised rate (:func:`period_offset`) -
is the period's level plus sampling noise of known variance (:func:`offset_variance`). By a
stated rule (:func:`read_level`):

* **one level** - when the offsets differ no more than their sampling noise says (Cochran's Q
  test of homogeneity, the meta-analyst's, at ``SAME_LEVEL_P``), they are pooled, each period
  weighted by its precision (its SQLs): a dip in one period moves the level only by its share.
* **a moving level** - otherwise, a local-level model (the random walk plus noise behind
  exponential smoothing; Durbin and Koopman, *Time Series Analysis by State Space Methods*,
  ch. 2) with its random-step variance fitted by maximum likelihood: the filtered level at the
  latest period, so the latest periods weigh most, as they should when the level drifts.

Which periods, and at which link, is :func:`training.job.train.shift_level`'s: the models' own
fitting rows cut by time, and the period the combiner was fitted on, at the models' own link,
where models fitted by maximum likelihood match their fitting rows' rate.

Measured before choosing, on ten simulated worlds (3,000 to 20,000 leads, three drifting): the
judged model's mean P(SQL) over the test period's rate, and the refit's over the period after
its history. Without the level, 0.67 to 1.11 (13% off on average) and the refit 0.67 to 1.17
(19%). Periods predicted by the time folds' models read the level worse than the fitting rows
(the earliest folds, fitted on an export's first months of only young leads, were 0.6 log-odds
off). The local level always, with no test of one level: 0.88 to 1.18 (9.5%), 12%
off on two of the four 20,000-lead worlds. This rule: 0.91 to 1.27 (10.8%), within 10% on all
four 20,000-lead worlds (5% on average there), and the refit 0.91 to 1.15 (6.6%). Its cost: on
3,000-lead worlds drifting steadily the test cannot tell the drift from noise and pools, and
the judged model over-predicts the next period by 14% to 27%; the refit, which ships and has
learned the latest months, reads 0.99 to 1.10 there.

Why not statsmodels' ``UnobservedComponents``: it fits one observation variance shared by every
period, where here each period's is known from its SQL count; the filter is a dozen lines.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import expit
from scipy.stats import chi2

from leadscore.features import schema
from leadscore.features.schema import CUTOFF_AT, LABEL

SAME_LEVEL_P = 0.05  # Cochran's Q below this p-value: the periods' levels differ
# the random step's variance (log-odds squared) is searched over 0 and this grid
STEP_VARIANCES = (0.0, *np.logspace(-4, 1, 51))
MAX_OFFSET = 10.0  # a period's offset is searched within this many log-odds of the combiner's


@dataclass(frozen=True)
class Period:
    """One period predicted out of fold: the combiner's log-odds on its rows, their labels, and
    how many distinct leads reached SQL and did not (rows of one lead move together, so leads,
    not rows, set the sampling noise)."""

    log_odds: np.ndarray
    label: np.ndarray
    sql_leads: int
    other_leads: int


@dataclass(frozen=True)
class Level:
    """The shift applied to the combiner's intercept, and how it was read."""

    offset: float
    method: str  # "one level", "a moving level", or "none" (no period had both classes)
    same_level_p: float  # Cochran's Q p-value; 1.0 with fewer than two periods
    period_offsets: list[float]
    period_weights: list[float]  # each period's share in ``offset`` (they sum to 1)

    def describe(self, subject: str = "Level") -> str:
        """One line for the run's notes and MLflow."""
        offsets = ", ".join(f"{o:+.2f}" for o in self.period_offsets)
        weights = ", ".join(f"{w:.2f}" for w in self.period_weights)
        return (
            f"{subject}: {self.method} over {len(self.period_offsets)} periods (offsets oldest to "
            f"latest {offsets} log-odds; same-level test p = {self.same_level_p:.2f}); the "
            f"combiner's intercept moves {self.offset:+.3f}, weights {weights}."
        )


def periods_of(rows: pd.DataFrame, log_odds: np.ndarray, count: int) -> list[Period]:
    """``rows`` (labelled) with the combiner's ``log_odds`` on each, cut by cutoff time into
    ``count`` periods of equal row counts, oldest first."""
    order = np.argsort(rows[CUTOFF_AT].to_numpy(), kind="stable")
    label = rows[LABEL].to_numpy(int)
    leads = rows[schema.LEAD_ID].to_numpy()
    periods = []
    for block in np.array_split(order, count):
        if not len(block):
            continue
        sql_leads = len(np.unique(leads[block][label[block] == 1]))
        other_leads = len(np.unique(leads[block])) - sql_leads
        periods.append(Period(log_odds[block], label[block], sql_leads, other_leads))
    return periods


def period_offset(log_odds: np.ndarray, rate: float) -> float:
    """The shift ``d`` with mean(sigmoid(log_odds + d)) = ``rate`` (strictly between 0 and 1):
    a period's level against the log-odds', in log-odds."""
    return float(
        brentq(lambda d: expit(log_odds + d).mean() - rate, -MAX_OFFSET, MAX_OFFSET, xtol=1e-9)
    )


def offset_variance(period: Period) -> float:
    """Sampling variance of a period's offset: that of the log-odds of a rate over leads."""
    return 1.0 / period.sql_leads + 1.0 / period.other_leads


def _filter(offsets: np.ndarray, variances: np.ndarray, step: float) -> tuple[float, float]:
    """(filtered level at the latest period, log likelihood) of the local-level model with
    random-step variance ``step``, started diffuse (on the first period's offset)."""
    level, variance, loglik = offsets[0], variances[0], 0.0
    for offset, noise in zip(offsets[1:], variances[1:], strict=True):
        predicted = variance + step
        spread = predicted + noise
        surprise = offset - level
        loglik -= 0.5 * (np.log(2 * np.pi * spread) + surprise**2 / spread)
        gain = predicted / spread
        level += gain * surprise
        variance = predicted * (1 - gain)
    return float(level), float(loglik)


def read_level(periods: list[Period]) -> Level:
    """The level of ``periods`` (oldest first), by the module's rule; periods without both an
    SQL and a non-SQL lead carry no level and are left out. With none left, the shift is 0."""
    usable = [p for p in periods if p.sql_leads > 0 and p.other_leads > 0]
    if not usable:
        return Level(0.0, "none", 1.0, [], [])
    offsets = np.array([period_offset(p.log_odds, float(p.label.mean())) for p in usable])
    variances = np.array([offset_variance(p) for p in usable])
    precision = 1.0 / variances
    pooled = float(precision @ offsets / precision.sum())
    q = float(precision @ (offsets - pooled) ** 2)
    same_level_p = float(chi2.sf(q, len(usable) - 1)) if len(usable) > 1 else 1.0
    if same_level_p >= SAME_LEVEL_P:
        weights = precision / precision.sum()
        return Level(pooled, "one level", same_level_p, offsets.tolist(), weights.tolist())
    step = max(STEP_VARIANCES, key=lambda s: _filter(offsets, variances, s)[1])
    # the filtered level is linear in the offsets: each period's weight is its unit response
    weights = np.array([_filter(unit, variances, step)[0] for unit in np.eye(len(usable))])
    return Level(
        float(weights @ offsets), "a moving level", same_level_p, offsets.tolist(),
        weights.tolist(),
    )  # fmt: skip
