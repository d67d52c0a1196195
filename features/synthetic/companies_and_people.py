"""Who is in the world: accounts with firmographics, leads with clean attributes, and their fit.

Steps 1 and 2 of the story in the package docstring. Everything here is clean and hidden: the
export shows only messy copies of these attributes (``lead_table``), never the values themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from leadscore.features.synthetic._draw import _HOUR, _draw_codes
from leadscore.features.synthetic.catalog import _Catalog
from leadscore.features.synthetic.config import SimulationConfig


@dataclass(frozen=True)
class _Attribute:
    """A categorical attribute: its values, their effect on fit, and how often each occurs."""

    names: tuple[str, ...]
    fit: tuple[float, ...]
    mix: tuple[float, ...]
    mix_paid_social: tuple[float, ...] | None = None


_SOURCES = _Attribute(
    names=("organic_search", "paid_search", "paid_social", "email", "referral", "tradeshow",
           "partner", "direct"),
    fit=(0.1, 0.3, -0.8, -0.1, 0.6, 0.2, 0.5, 0.2),
    mix=(0.22, 0.15, 0.0, 0.10, 0.10, 0.10, 0.08, 0.15),  # paid social is drawn apart (drift)
)  # fmt: skip
_PAID_SOCIAL = _SOURCES.names.index("paid_social")
_TRADESHOW = _SOURCES.names.index("tradeshow")
_DEPARTMENTS = _Attribute(
    names=("IT", "Marketing", "Sales", "Finance", "HR", "Operations", "Other"),
    fit=(0.7, 0.0, -0.2, 0.1, -0.6, 0.3, -0.8),
    mix=(0.30, 0.12, 0.10, 0.08, 0.06, 0.14, 0.20),
    mix_paid_social=(0.18, 0.15, 0.12, 0.06, 0.10, 0.10, 0.29),
)
_JOB_LEVELS = _Attribute(
    names=("Executive", "Head", "Manager", "Staff", "Student"),
    fit=(0.4, 0.7, 0.5, -0.3, -2.5),
    mix=(0.07, 0.13, 0.30, 0.42, 0.08),
    mix_paid_social=(0.04, 0.08, 0.22, 0.46, 0.20),
)
_STUDENT = _JOB_LEVELS.names.index("Student")
_STAFF = _JOB_LEVELS.names.index("Staff")
_EMPLOYEE_BANDS = _Attribute(
    names=("1-10", "11-50", "51-200", "201-1000", "1001-5000", "5000+"),
    fit=(-1.2, -0.5, 0.0, 0.4, 0.6, 0.4),
    mix=(0.15, 0.22, 0.25, 0.20, 0.10, 0.08),
)


_INDUSTRIES = _Attribute(
    names=("Software", "Manufacturing", "Financial Services", "Healthcare", "Retail",
           "Logistics", "Education", "Public Sector", "Media"),
    fit=(0.5, 0.3, 0.3, 0.0, -0.1, 0.1, -0.6, -0.3, -0.2),
    mix=(0.18, 0.20, 0.10, 0.08, 0.12, 0.08, 0.08, 0.06, 0.10),
)  # fmt: skip
_REGIONS = _Attribute(
    names=("Kanto", "Kansai", "Chubu", "Kyushu", "APAC", "NA", "EMEA"),
    fit=(0.0,) * 7,
    mix=(0.38, 0.14, 0.07, 0.05, 0.14, 0.12, 0.10),
)
_JAPAN_REGIONS = 4  # the first four regions are in Japan


_JOB_SEEKER_FIT = -3.0


def _mixed_codes(
    rng: np.random.Generator, attribute: _Attribute, paid_social: np.ndarray
) -> np.ndarray:
    """An attribute drawn from its usual mix, or from the paid-social mix for those leads."""
    usual = _draw_codes(rng, attribute.mix, paid_social.size)
    social = _draw_codes(rng, attribute.mix_paid_social or attribute.mix, paid_social.size)
    return np.where(paid_social, social, usual)


@dataclass(frozen=True)
class _People:
    """Clean attributes of each lead (codes) and of its account, in lead_id order."""

    created: np.ndarray
    source: np.ndarray
    account: np.ndarray
    n_accounts: int
    industry: np.ndarray  # per account
    band: np.ndarray  # per account
    region: np.ndarray  # per account
    account_fit: np.ndarray  # per account
    department: np.ndarray
    job_level: np.ndarray
    job_seeker: np.ndarray


def _arrival_days(rng: np.random.Generator, n: int, growth: float, period: float) -> np.ndarray:
    """Creation times with inflow growing linearly by `growth` over the period (inverse CDF)."""
    u = rng.random(n)
    share = u if growth == 0 else (np.sqrt(1.0 + growth * (2.0 + growth) * u) - 1.0) / growth
    return share * period


def _account_of_each_lead(rng: np.random.Generator, n: int, per_account: float) -> np.ndarray:
    """Account index per lead: over-dispersed account sizes (1 + negative binomial)."""
    mean_extra, dispersion = per_account - 1.0, 0.5
    n_guess = int(n / per_account * 1.3) + 10
    if mean_extra > 0:
        extra = rng.negative_binomial(dispersion, dispersion / (dispersion + mean_extra), n_guess)
    else:
        extra = np.zeros(n_guess, dtype=np.int64)
    sizes = 1 + extra
    if sizes.sum() < n:  # rare: top up with single-lead accounts
        sizes = np.concatenate([sizes, np.ones(n, dtype=np.int64)])
    n_accounts = int(np.searchsorted(np.cumsum(sizes), n) + 1)
    account = np.repeat(np.arange(n_accounts, dtype=np.int32), sizes[:n_accounts])[:n]
    return rng.permutation(account)


def _draw_people(
    rng: np.random.Generator, n: int, config: SimulationConfig, catalog: _Catalog, period: float
) -> _People:
    created = _arrival_days(rng, n, config.lead_volume_growth, period)
    drift = created / period
    social_share = config.paid_social_share_start + drift * (
        config.paid_social_share_end - config.paid_social_share_start
    )
    source = np.where(
        rng.random(n) < social_share, _PAID_SOCIAL, _draw_codes(rng, _SOURCES.mix, n)
    ).astype(np.int16)
    # tradeshow leads are scanned at a show: move them to the show's days
    shows = catalog.show_days
    show = np.clip(np.searchsorted(shows, created, side="right") - 1, 0, shows.size - 1)
    at_show = np.clip(shows[show], 0.0, None) + rng.random(n) * 2.0
    created = np.where(source == _TRADESHOW, np.minimum(at_show, period - _HOUR), created)
    order = np.argsort(created, kind="stable")
    created, source = created[order], source[order]

    account = _account_of_each_lead(rng, n, config.leads_per_account)
    n_accounts = int(account.max()) + 1
    paid_social = source == _PAID_SOCIAL
    job_seeker = rng.random(n) < np.where(
        paid_social, min(1.0, 2.5 * config.job_seeker_share), config.job_seeker_share
    )
    job_level = _mixed_codes(rng, _JOB_LEVELS, paid_social)
    seeker_level = np.where(rng.random(n) < 0.4, _STUDENT, _STAFF)
    return _People(
        created=created,
        source=source,
        account=account,
        n_accounts=n_accounts,
        industry=_draw_codes(rng, _INDUSTRIES.mix, n_accounts),
        band=_draw_codes(rng, _EMPLOYEE_BANDS.mix, n_accounts),
        region=_draw_codes(rng, _REGIONS.mix, n_accounts),
        account_fit=0.6 * rng.standard_normal(n_accounts),
        department=_mixed_codes(rng, _DEPARTMENTS, paid_social),
        job_level=np.where(job_seeker, seeker_level, job_level).astype(np.int16),
        job_seeker=job_seeker,
    )


def _fit_logit(rng: np.random.Generator, people: _People) -> np.ndarray:
    acc = people.account
    return (
        np.asarray(_DEPARTMENTS.fit)[people.department]
        + np.asarray(_JOB_LEVELS.fit)[people.job_level]
        + np.asarray(_EMPLOYEE_BANDS.fit)[people.band[acc]]
        + np.asarray(_INDUSTRIES.fit)[people.industry[acc]]
        + np.asarray(_SOURCES.fit)[people.source]
        + _JOB_SEEKER_FIT * people.job_seeker
        + people.account_fit[acc]
        + 0.3 * rng.standard_normal(acc.size)
    )
