"""What waiting costs: how long handed-off leads wait for sales, and the conversions it loses.

Speed to lead matters: the longer a lead waits for first contact, the less likely it becomes an
SQL. The effect is a half-life - after ``half_life_hours`` of extra waiting a lead converts half
as often - either set by the user or estimated from an export's ``mql_at`` and
``first_contact_at``. The calibrated P(SQL) already reflects the follow-up times of its history,
so only the extra wait a queue adds is penalised.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from leadscore.features import schema
from leadscore.features.reading import ExportFormat
from leadscore.training.model.working_hours import WorkingHours

HOURS_PER_WEEK = 168.0
DEFAULT_HALF_LIFE_HOURS = 72.0
"""Assumed when neither a half-life nor an export with first_contact_at is given."""
_SETTLE_DAYS = 45
_MIN_CONTACTED = 200
_MIN_SQLS = 20


class ResponseDelayError(ValueError):
    """A delay setting or an export that cannot give a delay effect, with what to change."""


@dataclass(frozen=True)
class ResponseDelay:
    """Conversion multiplier after ``wait`` extra hours: ``0.5 ** (wait / half_life_hours)``."""

    half_life_hours: float = DEFAULT_HALF_LIFE_HOURS
    source: str = "assumed"  # "assumed", "configured" or "estimated from N contacted leads"

    def __post_init__(self) -> None:
        if math.isnan(self.half_life_hours) or self.half_life_hours <= 0:
            raise ResponseDelayError(
                f"the response half-life must be a positive number of hours (how long a wait "
                f"halves conversion), got {self.half_life_hours}; use e.g. 72"
            )

    def multiplier(self, wait_hours: np.ndarray) -> np.ndarray:
        """Share of a lead's conversion chance left after waiting ``wait_hours``."""
        return np.power(0.5, np.asarray(wait_hours, float) / self.half_life_hours)

    def as_dict(self, working: WorkingHours | None = None) -> dict:
        """The delay model as the policy records it, with the queue it was replayed through:
        around the clock, or in the team's ``working`` hours."""
        hours = HOURS_PER_WEEK if working is None else working.hours_per_week
        where = "" if working is None else f" in working hours ({working.describe()})"
        return {  # JSON has no infinity: no loss with waiting is written as null
            "half_life_hours": None if math.isinf(self.half_life_hours) else self.half_life_hours,
            "source": self.source,
            "conversion_multiplier": "0.5 ** (extra_wait_hours / half_life_hours)",
            "queue": f"first come, first served at capacity / {hours:g} follow-ups an hour{where}",
        }


def estimate_response_delay(
    outcomes: pd.DataFrame, *, as_of: pd.Timestamp | None = None
) -> ResponseDelay:
    """The half-life that best explains SQL rates by follow-up delay among contacted leads.

    Delay is ``first_contact_at - mql_at``. Only leads handed off at least 45 days before the
    export's end count, so that slow contacts had as long as fast ones to become SQL. A Poisson
    regression with a log link fits ``log P(SQL) = a + b * delay``, which is the half-life model
    (``half_life = ln 2 / -b``); it reads the effect as sales saw it, averaged over the leads
    they were sent. If delay is unrelated to lead quality (sales works leads in arrival order),
    this is the causal effect; if sales calls the best leads first, it overstates it.
    """
    from sklearn.linear_model import PoissonRegressor

    missing = [c for c in (schema.MQL_AT, schema.FIRST_CONTACT_AT) if c not in outcomes.columns]
    if missing:
        raise ResponseDelayError(
            f"the outcomes have no {' or '.join(missing)}, so the delay effect cannot be "
            f"estimated; set --response-half-life-hours instead"
        )
    stamps = outcomes[[schema.SQL_AT, schema.MQL_AT, schema.FIRST_CONTACT_AT]]
    end = as_of if as_of is not None else stamps.max().max()
    delay = outcomes[schema.FIRST_CONTACT_AT] - outcomes[schema.MQL_AT]
    usable = (
        delay.notna()
        & (delay >= pd.Timedelta(0))
        & (outcomes[schema.MQL_AT] <= end - pd.Timedelta(days=_SETTLE_DAYS))
    )
    hours = (delay[usable].dt.total_seconds() / 3600.0).to_numpy()
    became_sql = outcomes.loc[usable, schema.SQL_AT].notna().to_numpy(float)
    if len(hours) < _MIN_CONTACTED or became_sql.sum() < _MIN_SQLS:
        raise ResponseDelayError(
            f"only {len(hours)} contacted leads ({int(became_sql.sum())} SQLs) settled 45 days "
            f"before the export's end; the delay effect needs at least {_MIN_CONTACTED} "
            f"({_MIN_SQLS} SQLs): set --response-half-life-hours instead"
        )
    fit = PoissonRegressor(alpha=0.0, max_iter=1000).fit((hours / 24.0)[:, None], became_sql)
    per_day = float(fit.coef_[0])
    source = f"estimated from {len(hours)} contacted leads"
    if per_day >= 0:  # no measurable cost of waiting in this history
        return ResponseDelay(math.inf, source + " (no loss with delay found)")
    return ResponseDelay(24.0 * math.log(2) / -per_day, source)


def queue_waits(handed_at: pd.Series, per_week: float) -> np.ndarray:
    """Extra hours each hand-off waits for a free follow-up slot, in ``handed_at``'s order.

    Assumption: sales works its queue first come, first served at an even pace of
    ``per_week / 168`` first contacts an hour, around the clock; a lead handed off to an empty
    queue is contacted at its usual speed (no extra wait). Hand-offs beyond capacity therefore
    pile up, and every lead behind them waits longer.
    """
    if handed_at.empty:
        return np.zeros(0)
    origin = handed_at.min()
    arrival = ((handed_at - origin).dt.total_seconds() / 3600.0).to_numpy(float)
    return first_come_first_served(arrival, HOURS_PER_WEEK / per_week)


def working_queue_waits(
    handed_at: pd.Series, per_week: float, working: WorkingHours
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`queue_waits` for a team that works its queue in its working hours only: each
    hand-off's extra wait on the wall clock (what the response half-life, read from real
    follow-up delays, discounts) and in working hours (what the SLA counts).

    The queue runs on the working clock at ``per_week`` first contacts spread over the week's
    working hours, so a Friday night's hand-offs wait for Monday's opening, behind the backlog
    that is there, rather than being served over the weekend at the weekly rate. A hand-off
    to an empty queue outside working hours waits no extra (its usual follow-up covers it).
    """
    if handed_at.empty:
        return np.zeros(0), np.zeros(0)
    on_clock, arrival, table = working.on_clock(handed_at)
    waited = first_come_first_served(on_clock, working.hours_per_week / per_week)
    contact = working.seconds_at(table, (on_clock + waited) * 3600.0)
    return np.where(waited > 0, np.maximum(contact - arrival, 0.0) / 3600.0, 0.0), waited


def first_come_first_served(arrival: np.ndarray, slot: float) -> np.ndarray:
    """Extra waits of arrivals (hours on one clock) served in order, one per ``slot`` hours."""
    order = np.argsort(arrival, kind="stable")
    position = np.arange(len(order)) * slot
    # contact_i = max(arrival_i, contact_{i-1} + slot), unrolled as a running maximum
    contact = position + np.maximum.accumulate(arrival[order] - position)
    waits = np.empty(len(order))
    waits[order] = contact - arrival[order]
    return waits


def read_outcome_times(path: Path, fmt: ExportFormat | None = None) -> pd.DataFrame:
    """The outcome timestamps of an export's outcomes file (CSV, Excel or Parquet) that the
    estimate needs, read as ``fmt`` says (the model's export's, so a CP932 file with Japanese
    headers reads as it did in training)."""
    from leadscore.features.contract import parse_timestamps, read_table

    table = read_table(path, fmt, kind="outcomes")
    present = [c for c in schema.OUTCOME_TIMESTAMPS if c in table.frame.columns]
    if schema.SQL_AT not in present:
        raise ResponseDelayError(f"{path}: an outcomes file needs a {schema.SQL_AT} column")
    return pd.DataFrame({c: parse_timestamps(table, c, required=False) for c in present})
