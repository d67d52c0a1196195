"""A known true probability that is a function of what the export shows, for judging models.

Why it exists: the simulator's ``true_p_sql`` depends on a lead's latent intent, which no
export shows, so no model can reach its AUC and the gap to it says little about the models.
Relabelling a point-in-time training set with ``label ~ Bernoulli(p)``, where ``p`` is a
fixed function of the feature row at the cutoff, gives a world in which the best possible
model is known and visible: any AUC a model loses against ``p`` on the out-of-time test is
lost by the model, not by the export.

The function is meant to be learnable but not handed to any one model: a fit block with an
interaction (an IT department head counts more than IT and a head apart), engagement that
saturates (tanh, log, caps) and counts only as far as the fit behind it, a cold-lead decay on
the recency of the last activity, momentum (this week against the month's pace), a hand-raise
that weighs more when fresh, careers-page and unsubscribe penalties, and a bump for new leads.
It follows the rulebook's signals in shape, so the rules carry some of it but not most. A
hand-raise only ever raises ``p``, as the models assume. It reads the feature columns of
``features/default_spec.yaml``. The intercept is solved so that the mean probability over the
labelled rows is ``base_rate`` (a few percent, like the simulated label).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import expit

from leadscore.features.schema import LABEL

TRUE_P = "true_p_observable"
BASE_RATE = 0.03

_DEPARTMENT = {"it": 1.0, "marketing": 0.4, "operations": 0.1, "finance": -0.2, "hr": -0.4,
               "sales": -0.1, "other": -0.3}  # fmt: skip
_JOB_LEVEL = {"executive": 0.6, "head": 0.8, "manager": 0.4, "staff": 0.0, "student": -2.0}
_EMPLOYEE_BAND = {"1-10": -0.9, "11-50": -0.3, "51-200": 0.0, "201-1000": 0.35,
                  "1001-5000": 0.5, "5000+": 0.3}  # fmt: skip
_SOURCE = {"referral": 0.6, "partner": 0.5, "tradeshow": 0.3, "organic_search": 0.1,
           "direct": 0.1, "email": 0.0, "paid_search": -0.1, "paid_social": -0.7}  # fmt: skip
_INDUSTRY = {"software": 0.3, "financial services": 0.25, "manufacturing": 0.1,
             "education": -0.3, "public sector": -0.2}  # fmt: skip
_UNKNOWN_LEVEL = -0.25  # an empty attribute: the lead left the form blank


def _level(rows: pd.DataFrame, column: str, effects: dict[str, float], empty: float) -> np.ndarray:
    values = rows[column]
    return values.map(effects).where(values.notna(), empty).fillna(0.0).to_numpy(float)


def _count(rows: pd.DataFrame, column: str) -> np.ndarray:
    return rows[column].fillna(0.0).to_numpy(float)


def _requests(rows: pd.DataFrame, days: int) -> np.ndarray:
    """Demo and quote requests in the last ``days``: the hand-raises."""
    return sum(_count(rows, f"{kind}_request_count_{days}d") for kind in ("demo", "quote"))


def fit_logit(rows: pd.DataFrame) -> np.ndarray:
    """Who the lead is: department, level (with the IT-leader interaction), size, channel."""
    department = _level(rows, "department", _DEPARTMENT, _UNKNOWN_LEVEL)
    level = _level(rows, "job_level", _JOB_LEVEL, _UNKNOWN_LEVEL)
    it_leader = rows["department"].eq("it") & rows["job_level"].isin(["head", "executive"])
    return (
        department
        + level
        + 0.7 * it_leader.to_numpy(float)
        + _level(rows, "employee_band", _EMPLOYEE_BAND, _UNKNOWN_LEVEL)
        + _level(rows, "source", _SOURCE, 0.0)
        + _level(rows, "industry", _INDUSTRY, 0.0)
    )


def engagement_logit(rows: pd.DataFrame) -> np.ndarray:
    """What the lead did lately, each signal saturating: the tenth visit says little more."""
    return (
        1.0 * np.tanh(_count(rows, "engagement_intent") / 12.0)
        + 0.3 * np.minimum(_count(rows, "pricing_page_count_30d"), 3.0)
        + 0.4 * np.minimum(_count(rows, "webinar_attended_count_90d"), 2.0)
        + 0.25 * np.log1p(_count(rows, "case_study_count_30d"))
        + 0.2 * np.log1p(_count(rows, "content_download_count_90d"))
        + 0.2 * np.log1p(_count(rows, "any_activity_days_30d"))
        - 0.3 * np.minimum(_count(rows, "careers_page_count_90d"), 3.0)
    )


def true_logit(rows: pd.DataFrame) -> np.ndarray:
    """The log-odds of SQL within H days, up to the intercept, from one feature row each."""
    fit = fit_logit(rows)
    engagement = engagement_logit(rows)
    recency = rows["any_activity_recency_days"].fillna(90.0).to_numpy(float)
    fresh_requests = _requests(rows, 30)
    older_requests = _requests(rows, 90) - fresh_requests
    age = _count(rows, "lead_age_days")
    # days active this week beyond the month's weekly pace: a lead warming up, not cooling off
    momentum = _count(rows, "any_activity_days_7d") - _count(rows, "any_activity_days_30d") / 4.3
    return (
        0.7 * fit
        + engagement * 2.0 * expit(1.5 * fit)  # engagement counts only with a fit behind it
        - 0.8 * (1.0 - np.exp(-recency / 10.0))  # a lead gone quiet cools off
        + 0.5 * np.tanh(momentum / 2.0)
        + 1.8 * np.minimum(fresh_requests, 1.0)
        + 0.9 * np.minimum(older_requests, 1.0)
        - 1.0 * _count(rows, "unsubscribe_count_365d")
        + 0.4 * np.exp(-age / 14.0)  # a new lead is at its warmest
    )


def true_probability(rows: pd.DataFrame, base_rate: float = BASE_RATE) -> np.ndarray:
    """P(SQL within H days) per row; the intercept sets the labelled rows' mean to ``base_rate``."""
    logit = true_logit(rows)
    labelled = rows[LABEL].notna().to_numpy() if LABEL in rows else np.ones(len(rows), bool)
    shape = logit[labelled]
    intercept = brentq(lambda b: expit(shape + b).mean() - base_rate, -30.0, 30.0)
    return expit(logit + intercept)


def relabel(rows: pd.DataFrame, seed: int, base_rate: float = BASE_RATE) -> pd.DataFrame:
    """The training set with each labelled row's label drawn from the observable truth.

    Unlabelled rows (label window still open) stay unlabelled, splits stay as they are, so the
    out-of-time design is untouched; ``TRUE_P`` holds the probability each label was drawn from.
    """
    p = true_probability(rows, base_rate)
    draw = np.random.default_rng(seed).random(len(rows)) < p
    out = rows.copy()
    out[TRUE_P] = p
    out[LABEL] = pd.Series(draw.astype(float), index=rows.index).where(rows[LABEL].notna())
    return out
