"""The outcomes table as the CRM knows it at export time, and the hidden truth beside it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from leadscore.features import schema
from leadscore.features.synthetic._draw import _pick, _timestamps
from leadscore.features.synthetic.companies_and_people import _DEPARTMENTS, _JOB_LEVELS, _People
from leadscore.features.synthetic.journeys import _Journey


def _censored(days: np.ndarray, period: float) -> np.ndarray:
    return np.where(days <= period, days, np.nan)


def _outcome_frame(
    journey: _Journey, lead_ids: np.ndarray, start: pd.Timestamp, period: float
) -> pd.DataFrame:
    """One row per lead, as the CRM knows it at export time: later events are not known yet."""
    sql_at = np.where(journey.converts, journey.sql_due_at, np.nan)
    return pd.DataFrame(
        {
            schema.LEAD_ID: lead_ids,
            schema.SQL_AT: _timestamps(_censored(sql_at, period), start),
            schema.MQL_AT: _timestamps(_censored(journey.mql_at, period), start),
            schema.FIRST_CONTACT_AT: _timestamps(
                _censored(journey.first_contact_at, period), start
            ),
            schema.WON_AT: _timestamps(_censored(journey.won_at, period), start),
        }
    )


def _truth_frame(
    journey: _Journey, people: _People, lead_ids: np.ndarray, start: pd.Timestamp
) -> pd.DataFrame:
    """The hidden truth: every latent value and uncensored time an oracle may need."""
    stamps = {
        "intent_start_at": journey.intent_start,
        "intent_end_at": journey.intent_end,
        "hand_raise_at": journey.hand_raise_at,
        "score_handoff_at": journey.score_handoff_at,
        "sql_due_at": journey.sql_due_at,
        "bounced_at": journey.bounce_at,
        "unsubscribed_at": journey.unsubscribe_at,
    }
    stamped = {name: _timestamps(days, start) for name, days in stamps.items()}
    return pd.DataFrame(
        {
            schema.LEAD_ID: lead_ids,
            "true_p_sql": journey.true_p_sql,
            "fit_logit": journey.fit_logit,
            "p_intent_episode": journey.p_intent_episode,
            "has_intent_episode": journey.has_episode,
            "intent_start_at": stamped["intent_start_at"],
            "intent_end_at": stamped["intent_end_at"],
            "intent_strength": journey.intent_strength,
            "p_hand_raise": journey.p_hand_raise,
            "hand_raised": journey.hand_raised,
            "hand_raise_at": stamped["hand_raise_at"],
            "p_score_handoff": journey.p_score_handoff,
            "score_handoff": journey.score_handoff,
            "score_handoff_at": stamped["score_handoff_at"],
            "follow_up_delay_hours": journey.follow_up_delay_hours,
            "delay_logit_penalty": journey.delay_logit_penalty,
            "p_qualify_hand_raise": journey.p_qualify_hand_raise,
            "p_qualify_score": journey.p_qualify_score,
            "converts": journey.converts,
            "sql_due_at": stamped["sql_due_at"],
            "engagement": journey.engagement,
            "is_job_seeker": people.job_seeker,
            "true_department": _pick(_DEPARTMENTS.names, people.department),
            "true_job_level": _pick(_JOB_LEVELS.names, people.job_level),
            "bounced_at": stamped["bounced_at"],
            "unsubscribed_at": stamped["unsubscribed_at"],
        }
    )
