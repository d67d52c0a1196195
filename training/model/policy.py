"""The hand-off policy as serving applies it: thresholds per team, on P(SQL) or on value.

Kept apart from the tuning (training/job/capacity.py) so that the scorer can apply a stored policy
without loading the training stack. The policy is one typed object, :class:`Policy`, from the
moment training or `leadscore tune-threshold` makes it to the moment a rep reads a tier. It is
JSON only in the model directory's :data:`POLICY_FILE`, and it is checked every time it is read
from there (:func:`read_policy`): a running service re-reads that file when marketing ops
re-tunes it, so a file with one bad value must be refused whole, naming the field and the form
it needs, rather than answer every call with an error or hand off every lead, or none.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass, field, replace
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError, model_validator

from leadscore.features.timestamps import check_time_zone
from leadscore.training.model.rows import FeatureRows
from leadscore.training.model.service_level import DEFAULT_SLA_HOURS
from leadscore.training.model.working_hours import WorkingHours, WorkingHoursError

EMPTY = "(empty)"
REST = "*"
POLICY_FILE = "policy.json"
"""The policy in force, in a model directory."""
POLICY_HISTORY = "policies"
"""The policies it replaced, each as written (``policy-v{version}.json``): the way back."""


class CapacityError(ValueError):
    """Capacity settings that cannot work, with what to change."""


class PolicyError(ValueError):
    """A policy that cannot be applied: names its file, each bad field and the form it needs."""


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
        if not self.column:
            raise CapacityError("a deal value needs the column it reads, e.g. annual_revenue_musd")
        for level, value in self.per_level.items():
            if not (value >= 0 and math.isfinite(value)):
                raise CapacityError(
                    f"deal value of {self.column}={level} must be zero or more, got {value}"
                )
        if self.missing is not None and not (self.missing >= 0 and math.isfinite(self.missing)):
            raise CapacityError(
                f"the deal value of a lead without {self.column} must be zero or more, "
                f"got {self.missing}"
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


# JSON numbers as a policy needs them: never a string or true/false, never NaN or infinity
Number = Annotated[float, Strict()]
AtLeastZero = Annotated[float, Strict(), Field(ge=0)]
Positive = Annotated[float, Strict(), Field(gt=0)]
Count = Annotated[int, Strict(), Field(ge=0)]
Share = Annotated[float, Strict(), Field(ge=0, le=1)]
Name = Annotated[str, Strict(), Field(min_length=1)]
Flag = Annotated[bool, Strict()]
_CHECKED = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


Text = Annotated[str, Strict()]


class Tier(BaseModel):
    """A band of scores (0-100) and what sales does with a lead in it.

    ``meaning`` is one text, or one per language (``{"en": ..., "ja": ...}``): a Japanese
    sales team reads its tiers in Japanese.
    """

    model_config = _CHECKED
    min_score: Annotated[float, Strict(), Field(ge=0, le=100)]
    meaning: Text | dict[Literal["en", "ja"], Text] = ""

    def meaning_in(self, lang: str) -> str:
        """The meaning in ``lang``: as written for it, else the default tiers' own words for
        it (a policy written before meanings had languages), else as written."""
        if isinstance(self.meaning, dict):
            return self.meaning.get(lang) or self.meaning.get("en") or ""  # type: ignore[call-overload]
        known = _DEFAULT_MEANINGS.get(self.meaning)
        return known.get(lang, self.meaning) if known else self.meaning


_MEANINGS = {  # the default tiers' meanings, in each language a sales team reads them
    "A": {"en": "hand off now: call within the SLA", "ja": "すぐに引き継ぎ：SLA内に電話"},
    "B": {"en": "warm: sales development follow-up", "ja": "有望：インサイドセールスがフォロー"},
    "C": {"en": "nurture with targeted content", "ja": "関心に合わせたコンテンツでナーチャリング"},
    "D": {"en": "general nurture", "ja": "通常のナーチャリング"},
}
# a policy written before meanings had languages holds the English text alone
_DEFAULT_MEANINGS = {meanings["en"]: meanings for meanings in _MEANINGS.values()}
DEFAULT_TIERS: dict[str, Tier] = {
    name: Tier(min_score=floor, meaning=_MEANINGS[name])  # type: ignore[arg-type]
    for name, floor in (("A", 90), ("B", 70), ("C", 40), ("D", 0))
}
"""Tiers by score (the share of validation leads beaten); the first also holds every hand-off."""


class Policy(BaseModel):
    """The versioned hand-off policy that serving reads from the model directory.

    ``threshold`` applies to P(SQL), or to P(SQL) x deal value when ``deal_value`` is set; with
    a ``segment``, ``thresholds`` gives each team (a level of it) its own, and ``threshold``
    holds for the levels not named. ``kind`` says how the volume was chosen: by training
    (``rulebook volume``, ``historical MQL volume``, ``top 10% a week``, with
    ``handoffs_per_week``; ``top 10% of leads`` and ``handoff_share`` for a model whose file
    had no creation times, where no week can be counted) or by `leadscore tune-threshold`
    (``capacity``, with the capacity a week or, without times, ``capacity_share``, the delay
    model and the expected and backtest figures). Unknown fields are refused, not
    ignored: a misspelt ``instant_pass_hands_of`` would otherwise be silently dropped.
    Policies of every earlier version load: fields they lack take the defaults here.
    """

    model_config = _CHECKED

    version: Count
    kind: Literal[
        "rulebook volume",
        "historical MQL volume",
        "top 10% a week",
        "top 10% of leads",
        "capacity",
    ]
    threshold: AtLeastZero
    thresholds: dict[Name, AtLeastZero] = {}
    segment: Name | None = None
    instant_pass_hands_off: Flag = True
    tiers: dict[Name, Tier] = DEFAULT_TIERS
    sla_hours: Positive = DEFAULT_SLA_HOURS
    # the sales team's clock (IANA name) for deadlines and times on the hand-off sheet and in
    # the API; None: the export's clock, or Asia/Tokyo for a sheet in Japanese, else UTC
    time_zone: Name | None = None
    # the hours the SLA is counted in (Mon-Fri 09:00-18:00, on time_zone's clock, which it
    # needs) and the country whose public holidays are off (JP); None: the wall clock
    working_hours: Name | None = None
    holidays: Name | None = None
    objective: Literal["expected SQLs", "expected pipeline value"] = "expected SQLs"
    handoffs_per_week: AtLeastZero | None = None
    # a model whose file had no creation times counts hand-offs as a share of its leads
    handoff_share: Share | None = None
    validation_handoffs: Count | None = None
    capacity_per_week: Positive | None = None
    capacity_share: Share | None = None
    capacity_per_segment: dict[Name, Positive] = {}
    deal_value: DealValue | None = None
    response_delay: dict[str, Number | str | None] = {}
    expected: dict[str, Number] = {}
    backtest: dict[str, dict[str, Number]] = {}

    @model_validator(mode="after")
    def _coherent(self) -> Policy:
        problems = [*tier_problems(self.tiers), *threshold_problems(self)]
        if self.time_zone is not None:
            try:
                check_time_zone(self.time_zone)
            except ValueError as error:
                problems.append(f"time_zone: {error}")
        if self.working_hours is None and self.holidays is not None:
            problems.append("holidays: only read with working_hours (Mon-Fri 09:00-18:00)")
        elif self.working_hours is not None and self.time_zone is None:
            problems.append(
                "working_hours: needs time_zone, the clock the team works on (Asia/Tokyo)"
            )
        elif self.working_hours is not None:
            try:
                self.working_clock()
            except WorkingHoursError as error:
                problems.append(f"{error.field}: {error}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def working_clock(self) -> WorkingHours | None:
        """The working hours the SLA counts in, or None for the wall clock."""
        if self.working_hours is None or self.time_zone is None:
            return None
        return WorkingHours.cached(self.working_hours, self.time_zone, self.holidays)

    def sla_text(self) -> str:
        """``24 h``, or ``8 working hours (Mon-Fri 09:00-18:00 Asia/Tokyo, JP public holidays
        off)``: what the team promises, as the CLI prints it."""
        clock = self.working_clock()
        if clock is None:
            return f"{self.sla_hours:g} h"
        return f"{self.sla_hours:g} working hours ({clock.describe()})"

    def team_settings(self) -> dict[str, Any]:
        """What marketing ops set for the team and a re-tune keeps: tier floors and meanings,
        the team's clock and its working hours. Re-tuning chooses thresholds, not these."""
        return {
            "tiers": self.tiers, "time_zone": self.time_zone,
            "working_hours": self.working_hours, "holidays": self.holidays,
        }  # fmt: skip

    def amended(self, **changes: Any) -> Policy:
        """A copy with ``changes``, checked like any policy (``model_copy`` would skip that)."""
        return Policy.model_validate({**self.model_dump(), **changes})

    def as_dict(self) -> dict[str, Any]:
        """The policy as JSON data, for the file, MLflow and the service's metadata."""
        return self.model_dump(mode="json", exclude_none=True)

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, ensure_ascii=False, allow_nan=False)


def tier_problems(tiers: dict[str, Tier]) -> list[str]:
    """What makes tiers unusable: none at all, floors not falling, scores left without a tier.

    Tiers are listed from the top: the first holds every hand-off, and a score takes the first
    tier whose floor it reaches, so the floors must fall strictly and the last must be 0.
    """
    if not tiers:
        return ['tiers: none given; list them from the top, e.g. {"A": {"min_score": 0}}']
    problems = []
    floors = [(name, tier.min_score) for name, tier in tiers.items()]
    for (upper, upper_floor), (lower, lower_floor) in pairwise(floors):
        if lower_floor >= upper_floor:
            problems.append(
                f"tiers: {lower} (min_score {lower_floor:g}) is listed after {upper} "
                f"(min_score {upper_floor:g}); list tiers from the highest min_score to the lowest"
            )
    last, floor = floors[-1]
    if floor != 0:
        problems.append(
            f"tiers: the last tier, {last}, starts at {floor:g}, so lower scores have no tier; "
            "give it min_score 0"
        )
    return problems


def threshold_problems(policy: Policy) -> list[str]:
    """What makes thresholds unusable: above 1 on a probability, or saying two things at once."""
    problems = []
    if policy.deal_value is None:
        named = {"threshold": policy.threshold} | {
            f"thresholds.{team}": value for team, value in policy.thresholds.items()
        }
        for where, value in named.items():
            if value > 1:
                problems.append(
                    f"{where}: {value:g} is above 1, but it applies to P(SQL), a probability "
                    "from 0 to 1 (score floors belong in tiers)"
                )
    teams = sorted(set(policy.thresholds) - {REST})
    if teams and not policy.segment:
        problems.append(
            f"thresholds: names teams ({', '.join(teams)}) but the policy has no segment to "
            f"tell them apart; set segment, or keep only '{REST}'"
        )
    if REST in policy.thresholds and policy.thresholds[REST] != policy.threshold:
        problems.append(
            f"threshold: {policy.threshold:g} differs from thresholds.{REST} "
            f"{policy.thresholds[REST]:g}; both hold for the teams not named, give them one value"
        )
    return problems


def policy_problem(error: dict[str, Any]) -> str:
    """One pydantic error in words: the field, what it needs, and what it got."""
    where = ".".join(str(part) for part in error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "not a field of a policy; check the spelling, or remove it"
    elif error["type"] not in ("missing", "value_error"):
        got = repr(error["input"])
        message += f", got {got if len(got) <= 40 else got[:37] + '...'}"
    return f"{where}: {message}" if where else message


def parse_policy(data: object, source: str) -> Policy:
    """``data`` (parsed JSON) as a policy, or a :class:`PolicyError` that says what to fix."""
    try:
        return Policy.model_validate(data)
    except ValidationError as error:
        problems = [policy_problem(e) for e in error.errors(include_url=False)]
        raise PolicyError(
            f"{source}: not a usable hand-off policy: {'; '.join(problems)}. Fix the file, or "
            f"copy back an earlier one from {POLICY_HISTORY}/"
        ) from None


def read_policy(path: Path) -> Policy:
    """The policy in a ``policy.json``, checked; a :class:`PolicyError` names what is wrong."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise PolicyError(f"{path}: cannot be read ({error})") from None
    try:
        data = json.loads(text)
    except ValueError as error:
        raise PolicyError(f"{path}: not valid JSON ({error})") from None
    return parse_policy(data, str(path))


def store_policy(policy: Policy, path: Path) -> Path:
    """Write ``policy`` to ``path`` whole or not at all: a running service may read it any time."""
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".policy-", suffix=".json")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(policy.to_json())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def policy_thresholds(policy: Policy, rows: pd.DataFrame | FeatureRows) -> np.ndarray:
    """Each row's P(SQL) hand-off threshold under a stored policy: the one rule serving applies.

    The rows are read only for the policy's segment and deal value; without either, a posted
    lead's rows are never turned into a DataFrame, which would cost more than its decision.
    """
    default = policy.threshold
    if not (policy.segment or policy.deal_value):
        return np.full(len(rows), default)
    rows = FeatureRows.of(rows).frame
    if policy.segment and policy.segment in rows.columns:
        levels = levels_of(rows[policy.segment])
        thresholds = (
            levels.map(policy.thresholds)
            .fillna(policy.thresholds.get(REST, default))
            .to_numpy(float)
        )
    else:
        thresholds = np.full(len(rows), default)
    if policy.deal_value:
        value = policy.deal_value.of(rows)
        with np.errstate(divide="ignore", invalid="ignore"):
            thresholds = np.where(value > 0, thresholds / value, np.inf)
    return thresholds
