"""The knobs of the simulated world: what each one changes in the export, and its default."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import pandas as pd

from leadscore.features import schema


@dataclass(frozen=True)
class SimulationConfig:
    """Knobs of the simulated export; the defaults give a plausible mid-size B2B SaaS funnel."""

    start: pd.Timestamp = field(default_factory=lambda: pd.Timestamp("2025-01-01", tz="UTC"))
    """First moment a lead can be created; naive timestamps are taken as UTC."""
    months: int = 18
    """Length of the period; leads arrive across it and the export is taken at its end."""
    lead_volume_growth: float = 0.3
    """Lead inflow at the end of the period relative to its start, minus one (0 = flat)."""
    leads_per_account: float = 3.0
    """Average leads per account (buying committees); account sizes are over-dispersed."""
    paid_social_share_start: float = 0.10
    """Share of new leads from paid social at the start of the period."""
    paid_social_share_end: float = 0.40
    """Share of new leads from paid social at the end: the drift that lowers the label rate."""
    job_seeker_share: float = 0.04
    """Share of leads who look for a job rather than a product (2.5 times more in paid social)."""
    missing_share: float = 0.10
    """Share of missing department, industry, employee band and (x1.5) job title values."""
    missing_job_level_share: float = 0.20
    """Share of leads whose job level was never filled in."""
    placeholder_share: float = 0.03
    """Share of categorical values left at the form's "Select" placeholder."""
    variant_share: float = 0.30
    """Share of department values written in a variant spelling or case ("it", "I.T.")."""
    missing_revenue_share: float = 0.60
    """Share of accounts without annual revenue."""
    missing_phone_share: float = 0.30
    """Share of leads without a phone number."""
    intent_episode_intercept: float = -0.7
    """Logit of having a buying episode for a lead of average fit (fit_logit = 0)."""
    intent_episode_fit_slope: float = 0.8
    """How much fit raises the logit of having a buying episode."""
    in_market_at_creation_share: float = 0.3
    """Share of episodes that start within hours of creation (the lead came in market)."""
    intent_delay_mean_days: float = 120.0
    """Mean wait from creation to the start of the other episodes (exponential)."""
    intent_duration_median_days: float = 21.0
    """Median length of a buying episode (log-normal, sigma 0.6)."""
    intent_strength_sigma: float = 0.6
    """Spread of the log-normal episode strength (median 1): activity rate and hand-raise odds."""
    hand_raise_intercept: float = -0.4
    """Logit of a hand-raise during an episode of strength 1 for a lead with fit_logit = 0."""
    score_handoff_share: float = 0.05
    """Share of leads of average fit handed off by the marketing score without a hand-raise."""
    qualify_intercept: float = 0.0
    """Logit of qualifying after a hand-raise (fit_logit = 0, no follow-up delay)."""
    score_qualify_intercept: float = -1.5
    """Logit of qualifying after a score-based hand-off (fit_logit = 0, no delay)."""
    follow_up_median_hours: float = 18.0
    """Median sales follow-up delay from MQL to first contact (log-normal)."""
    follow_up_sigma: float = 1.2
    """Spread of the log-normal follow-up delay."""
    delay_decay_per_day: float = 0.25
    """Logit of qualifying lost per day of follow-up delay: speed to lead matters."""
    won_intercept: float = -1.5
    """Logit of winning an SQL for a lead with fit_logit = 0."""
    email_open_rate_per_day: float = 0.11
    """Background email opens per day of an average lead (clicks add about 12%)."""
    web_rate_per_day: float = 0.045
    """Background web and content actions per day of an average lead."""
    episode_rate_per_day: float = 1.2
    """Extra actions per day during a buying episode of strength 1."""
    sales_activities_mean: float = 3.0
    """Mean sales calls and meetings logged per SQL (at least one)."""
    unsubscribe_share: float = 0.10
    """Share of leads who unsubscribe at some point (emails stop afterwards)."""
    bounce_share: float = 0.03
    """Share of leads whose email address bounces (no email activity at all)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", schema.utc_timestamp(self.start))
        if self.months < 1:
            raise ValueError(f"SimulationConfig.months is {self.months}; expected at least 1")
        if self.leads_per_account < 1:
            raise ValueError(
                f"SimulationConfig.leads_per_account is {self.leads_per_account}; expected >= 1"
            )
        for item in fields(self):
            value = getattr(self, item.name)
            if "_share" in item.name and not 0.0 <= value <= 1.0:
                raise ValueError(
                    f"SimulationConfig.{item.name} is {value}; expected a share in [0, 1]"
                )
            positive = ("_days", "_hours", "_per_day", "_sigma", "_mean", "_growth")
            if item.name.endswith(positive) and value < 0:
                raise ValueError(f"SimulationConfig.{item.name} is {value}; expected >= 0")

    @property
    def export_at(self) -> pd.Timestamp:
        """When the export is taken: the end of the period."""
        return self.start + pd.DateOffset(months=self.months)


DRIFTING_CHANNEL_MIX = SimulationConfig(
    paid_social_share_start=0.0,
    paid_social_share_end=1.0,
    lead_volume_growth=2.0,
    intent_episode_intercept=0.5,
    hand_raise_intercept=0.5,
)
"""No paid social at first, nothing else at the end, and three times the inflow by then: the
early history a train-only model learns from is not the world it will score (the world of the
refit's test and of ``benchmarks/bench_level.py``)."""
