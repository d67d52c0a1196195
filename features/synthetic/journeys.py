"""Each lead's hidden path through the funnel: intent, hand-off, follow-up, SQL, email status.

Steps 2-5 of the story in the package docstring. The path is drawn before any activity, so the
activity log (``activities``) and the outcomes (``outcomes``) both follow from it, and the truth
can name every time on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from leadscore.features.synthetic._draw import _HOUR, _logit, _lognormal, _sigmoid
from leadscore.features.synthetic.companies_and_people import _PAID_SOCIAL, _fit_logit, _People
from leadscore.features.synthetic.config import SimulationConfig


@dataclass(frozen=True)
class _Journey:
    """Each lead's hidden state and its path through the funnel (days since start; NaN = none)."""

    fit_logit: np.ndarray
    engagement: np.ndarray
    p_intent_episode: np.ndarray
    has_episode: np.ndarray
    intent_start: np.ndarray
    intent_end: np.ndarray
    intent_strength: np.ndarray
    p_hand_raise: np.ndarray
    hand_raised: np.ndarray
    hand_raise_at: np.ndarray
    p_score_handoff: np.ndarray
    score_handoff: np.ndarray
    score_handoff_at: np.ndarray
    follow_up_delay_hours: np.ndarray
    delay_logit_penalty: np.ndarray
    p_qualify_hand_raise: np.ndarray
    p_qualify_score: np.ndarray
    true_p_sql: np.ndarray
    mql_at: np.ndarray
    first_contact_at: np.ndarray
    sql_due_at: np.ndarray
    converts: np.ndarray
    won_at: np.ndarray
    email_until: np.ndarray
    bounce_at: np.ndarray
    unsubscribe_at: np.ndarray


def _draw_journey(rng: np.random.Generator, people: _People, config: SimulationConfig) -> _Journey:
    """Steps 2-5 of the story: fit, intent episode, hand-off, qualification, email status."""
    n = people.created.size
    created = people.created
    fit = _fit_logit(rng, people)
    paid_social = people.source == _PAID_SOCIAL
    engagement = _lognormal(rng, math.exp(-(0.9**2) / 2), 0.9, n) * np.where(paid_social, 0.7, 1.0)

    p_episode = _sigmoid(config.intent_episode_intercept + config.intent_episode_fit_slope * fit)
    has_episode = rng.random(n) < p_episode
    wait = np.where(
        rng.random(n) < config.in_market_at_creation_share,
        rng.exponential(0.5, n),
        rng.exponential(config.intent_delay_mean_days, n),
    )
    duration = _lognormal(rng, config.intent_duration_median_days, 0.6, n)
    strength = np.where(has_episode, _lognormal(rng, 1.0, config.intent_strength_sigma, n), 0.0)
    intent_start = np.where(has_episode, created + wait, np.nan)
    intent_end = intent_start + duration

    with np.errstate(divide="ignore"):
        log_strength = np.log(strength)
    p_hand_raise = np.where(
        has_episode, _sigmoid(config.hand_raise_intercept + 0.4 * fit + log_strength), 0.0
    )
    hand_raised = rng.random(n) < p_hand_raise
    hand_raise_at = intent_start + rng.beta(1.3, 2.5, n) * duration

    p_score = _sigmoid(_logit(config.score_handoff_share) + 0.7 * fit)
    score_handoff = ~hand_raised & (rng.random(n) < p_score)
    score_handoff_at = np.where(score_handoff, created + rng.exponential(60.0, n), np.nan)
    handed_off = hand_raised | score_handoff

    delay_hours = _lognormal(rng, config.follow_up_median_hours, config.follow_up_sigma, n)
    penalty = -config.delay_decay_per_day * delay_hours / 24.0
    p_qualify_a = _sigmoid(config.qualify_intercept + 0.6 * fit + penalty)
    p_qualify_b = _sigmoid(config.score_qualify_intercept + 0.6 * fit + penalty)
    true_p_sql = p_hand_raise * p_qualify_a + (1.0 - p_hand_raise) * p_score * p_qualify_b

    trigger = np.where(hand_raised, hand_raise_at, score_handoff_at)
    mql_at = trigger + rng.exponential(3.0 * _HOUR, n)
    first_contact_at = mql_at + delay_hours * _HOUR
    sql_due_at = first_contact_at + _lognormal(rng, 36.0 * _HOUR, 0.7, n)
    p_qualify = np.where(hand_raised, p_qualify_a, np.where(score_handoff, p_qualify_b, 0.0))
    converts = rng.random(n) < p_qualify
    won = converts & (rng.random(n) < _sigmoid(config.won_intercept + 0.5 * fit))
    won_at = np.where(won, sql_due_at + _lognormal(rng, 45.0, 0.5, n), np.nan)

    risky = paid_social | people.job_seeker
    bounced = rng.random(n) < np.where(risky, 2.0, 1.0) * config.bounce_share
    unsubscribes = ~bounced & (
        rng.random(n) < np.where(paid_social, 1.5, 1.0) * config.unsubscribe_share
    )
    bounce_at = np.where(bounced, created + rng.exponential(2.0, n), np.nan)
    unsubscribe_at = np.where(unsubscribes, created + rng.exponential(150.0, n), np.nan)
    return _Journey(
        fit_logit=fit,
        engagement=engagement,
        p_intent_episode=p_episode,
        has_episode=has_episode,
        intent_start=intent_start,
        intent_end=intent_end,
        intent_strength=strength,
        p_hand_raise=p_hand_raise,
        hand_raised=hand_raised,
        hand_raise_at=hand_raise_at,
        p_score_handoff=p_score,
        score_handoff=score_handoff,
        score_handoff_at=score_handoff_at,
        follow_up_delay_hours=delay_hours,
        delay_logit_penalty=penalty,
        p_qualify_hand_raise=p_qualify_a,
        p_qualify_score=p_qualify_b,
        true_p_sql=true_p_sql,
        mql_at=np.where(handed_off, mql_at, np.nan),
        first_contact_at=np.where(handed_off, first_contact_at, np.nan),
        sql_due_at=np.where(handed_off, sql_due_at, np.nan),
        converts=converts,
        won_at=won_at,
        email_until=np.where(bounced, created, np.where(unsubscribes, unsubscribe_at, np.inf)),
        bounce_at=bounce_at,
        unsubscribe_at=unsubscribe_at,
    )
