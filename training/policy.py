"""The hand-off policy as serving applies it: thresholds per team, on P(SQL) or on value.

Kept apart from the tuning (training/capacity.py) so that the scorer can apply a stored policy
without loading the training stack.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd

from leadscore.training.rows import FeatureRows

EMPTY = "(empty)"
REST = "*"


class CapacityError(ValueError):
    """Capacity settings that cannot work, with what to change."""


def levels_of(values: pd.Series) -> pd.Series:
    """Category levels as policies key them: an empty value is its own level."""
    return values.astype(object).where(values.notna(), EMPTY)


@dataclass(frozen=True)
class DealValue:
    """What a lead's deal is worth: a numeric column as is, or a value per level of a column.

    With a deal value the policy ranks leads by expected value, P(SQL) x value, instead of
    P(SQL). A lead without a value counts as a typical deal: ``missing``, the median value of
    the tuning period, stored in the policy so that serving fills in the same number.
    """

    column: str
    per_level: dict[str, float] = field(default_factory=dict)  # '*' for levels not named
    missing: float | None = None

    def __post_init__(self) -> None:
        for level, value in self.per_level.items():
            if not (value >= 0 and math.isfinite(value)):
                raise CapacityError(
                    f"deal value of {self.column}={level} must be zero or more, got {value}"
                )

    def of(self, rows: pd.DataFrame) -> np.ndarray:
        """Each row's deal value; a clear error when the column is absent or a level unpriced."""
        if self.column not in rows.columns:
            raise CapacityError(
                f"deal value column '{self.column}' is not in the training set; use a lead "
                f"attribute of the feature spec (e.g. annual_revenue_musd)"
            )
        if self.per_level:
            levels = levels_of(rows[self.column])
            values = levels.map(self.per_level)
            if values.isna().any() and REST not in self.per_level:
                missing = sorted(set(levels[values.isna()]))
                raise CapacityError(
                    f"deal values do not cover every {self.column}: "
                    f"{', '.join(map(str, missing))} have none (add them, or '*' for the rest)"
                )
            return values.fillna(self.per_level.get(REST)).to_numpy(float)
        values = pd.to_numeric(rows[self.column], errors="coerce")
        negative = values < 0
        if negative.any():
            raise CapacityError(
                f"deal value column '{self.column}' has negative values in rows "
                f"{', '.join(map(str, values.index[negative][:5]))}: values must be zero or more"
            )
        fill = self.missing if self.missing is not None else values.median()
        return values.fillna(0.0 if pd.isna(fill) else fill).to_numpy(float)

    def fitted(self, rows: pd.DataFrame) -> DealValue:
        """This deal value with its fill for missing values taken from ``rows``."""
        if self.per_level or self.column not in rows.columns:
            return self
        known = pd.to_numeric(rows[self.column], errors="coerce").dropna()
        return replace(self, missing=float(known.median()) if len(known) else 0.0)


@dataclass
class Policy:
    """The versioned hand-off policy that serving reads from the model directory.

    ``thresholds`` apply to P(SQL), or to P(SQL) x deal value when ``deal_value`` is set.
    """

    version: int
    capacity_per_week: float
    sla_hours: float
    thresholds: dict[str, float]  # team (segment level or '*') -> threshold
    segment: str | None
    expected: dict[str, float]
    tiers: dict
    instant_pass_hands_off: bool = True
    kind: str = "capacity"
    objective: str = "expected SQLs"
    response_delay: dict = field(default_factory=dict)
    deal_value: dict | None = None
    capacity_per_segment: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["threshold"] = self.thresholds.get(REST, min(self.thresholds.values()))
        return data


def policy_thresholds(policy: dict, rows: pd.DataFrame | FeatureRows) -> np.ndarray:
    """Each row's P(SQL) hand-off threshold under a stored policy: the one rule serving applies.

    The rows are read only for the policy's segment and deal value; without either, a posted
    lead's rows are never turned into a DataFrame, which would cost more than its decision.
    """
    default = float(policy.get("threshold", 1.0))
    segment, per_level = policy.get("segment"), policy.get("thresholds", {})
    if not (segment or policy.get("deal_value")):
        return np.full(len(rows), default)
    rows = FeatureRows.of(rows).frame
    if segment and segment in rows.columns:
        levels = levels_of(rows[segment])
        thresholds = levels.map(per_level).fillna(per_level.get(REST, default)).to_numpy(float)
    else:
        thresholds = np.full(len(rows), default)
    if policy.get("deal_value"):
        value = DealValue(**policy["deal_value"]).of(rows)
        with np.errstate(divide="ignore", invalid="ignore"):
            thresholds = np.where(value > 0, thresholds / value, np.inf)
    return thresholds
