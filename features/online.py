"""Online features: one lead's feature vector from what an MA system posts, in well under 2 ms.

The offline builder answers for millions of cutoffs through a query engine; a webhook needs one
lead's answer now, and a query engine's planning time alone exceeds that budget. So this module
evaluates the same spec objects with NumPy over the lead's own activities. Both paths read every
definition from :mod:`features.spec`; a property test (``tests/data/test_point_in_time.py``)
holds them equal on random worlds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import numpy as np
import pandas as pd

from features import schema
from features.spec import (
    CategoricalAttribute,
    FeatureSpec,
    glob_to_regex,
    normalise_level,
    types_of,
)

_US_PER_DAY = 86_400 * 1_000_000
_DAY_SECONDS = 86_400.0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@lru_cache(maxsize=256)
def _pattern(glob: str) -> re.Pattern[str]:
    return re.compile(glob_to_regex(glob), re.DOTALL)


def _to_us(moment: object) -> int:
    """Microseconds since the epoch, UTC; naive times are UTC.

    ISO strings and datetimes go through the standard library's C parser: pd.Timestamp costs
    several microseconds a call, which for 200 posted activities is most of the 2 ms budget.
    """
    if isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
        except ValueError:
            moment = pd.Timestamp(moment).to_pydatetime()
    if isinstance(moment, datetime) and not isinstance(moment, pd.Timestamp):
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return (moment - _EPOCH) // _MICROSECOND
    stamp = pd.Timestamp(moment)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int(stamp.value // 1000)  # .value is nanoseconds whatever the unit


def _numeric(value: object) -> float | None:
    if value is None or value is pd.NA:
        return None
    try:
        number = float(str(value).strip()) if isinstance(value, str) else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if number != number else number


def attribute_values(lead: Mapping[str, object], spec: FeatureSpec) -> dict[str, object]:
    """The spec's attribute features of one lead; absent or blank fields are empty (None)."""
    values: dict[str, object] = {}
    for attribute in spec.attributes:
        raw = lead.get(attribute.column)
        if isinstance(attribute, CategoricalAttribute):
            values[attribute.name] = normalise_level(raw, attribute.aliases)
        else:
            values[attribute.name] = _numeric(raw)
    return values


def _activity_arrays(
    activities: pd.DataFrame | Sequence[Mapping[str, object]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if isinstance(activities, pd.DataFrame):
        frame = activities
        if not len(frame):
            return np.empty(0, "int64"), np.empty(0, object), np.empty(0, object)
        times = pd.to_datetime(frame[schema.OCCURRED_AT], utc=True).dt.tz_convert(None)
        stamps = times.astype("datetime64[us]").to_numpy().view("int64")
        types = frame[schema.ACTIVITY_TYPE].astype(object).to_numpy()
        details = (
            frame[schema.DETAIL].astype(object).to_numpy()
            if schema.DETAIL in frame.columns
            else np.full(len(frame), None, dtype=object)
        )
        return stamps, types, details
    stamps = np.fromiter((_to_us(a[schema.OCCURRED_AT]) for a in activities), "int64")
    types = np.array([a[schema.ACTIVITY_TYPE] for a in activities], dtype=object)
    details = np.array([a.get(schema.DETAIL) for a in activities], dtype=object)
    return stamps, types, details


def online_features(
    lead: Mapping[str, object],
    activities: pd.DataFrame | Sequence[Mapping[str, object]],
    as_of: object,
    spec: FeatureSpec,
) -> dict[str, object]:
    """The feature vector of one lead as of ``as_of``, equal to the offline builder's row.

    ``lead`` holds ``created_at`` and raw attribute values; ``activities`` its history in any
    order (rows after ``as_of`` are ignored, so a replayed export scores as it did then).
    """
    cutoff = _to_us(as_of)
    values: dict[str, object] = attribute_values(lead, spec)
    if spec.lead_age:
        created = lead.get(schema.CREATED_AT)
        values["lead_age_days"] = (
            None if created is None else (cutoff - _to_us(created)) / 1e6 / _DAY_SECONDS
        )
    stamps, types, details = _activity_arrays(activities)
    keep = (stamps <= cutoff) & (stamps > cutoff - spec.lookback_days * _US_PER_DAY)
    if spec.exclude_activity_types and len(types):
        keep &= ~np.isin(types, list(spec.exclude_activity_types))
    stamps, types, details = stamps[keep], types[keep], details[keep]
    age_days = (cutoff / 1e6 - stamps / 1e6) / _DAY_SECONDS
    days = np.floor_divide(stamps, _US_PER_DAY)
    fired_by_signal: dict[str, np.ndarray] = {}
    for signal in spec.signals:
        types_wanted = types_of(signal, spec)
        fired = (
            np.isin(types, list(types_wanted))
            if types_wanted is not None
            else np.ones(len(types), bool)
        )
        if signal.detail is not None and fired.any():
            pattern = _pattern(signal.detail)
            fired &= np.fromiter(
                (isinstance(d, str) and pattern.search(d) is not None for d in details),
                bool,
                len(details),
            )
        fired_by_signal[signal.name] = fired
        for window in spec.signal_windows(signal):
            inside = fired & (stamps > cutoff - window * _US_PER_DAY)
            if "count" in signal.stats:
                values[f"{signal.name}_count_{window}d"] = int(inside.sum())
            if "days" in signal.stats:
                values[f"{signal.name}_days_{window}d"] = int(np.unique(days[inside]).size)
        if "recency" in signal.stats:
            values[f"{signal.name}_recency_days"] = (
                float(age_days[fired].min()) if fired.any() else None
            )
        if "first" in signal.stats:
            values[f"{signal.name}_first_days"] = (
                float(age_days[fired].max()) if fired.any() else None
            )
    for score in spec.engagement:
        weight = np.zeros(len(stamps))
        for signal_name, points in score.weights.items():
            weight += np.where(fired_by_signal[signal_name], points, 0.0)
        if score.window_days:
            weight *= stamps > cutoff - score.window_days * _US_PER_DAY
        values[f"engagement_{score.name}"] = float(
            np.sum(weight * np.power(0.5, age_days / score.half_life_days))
        )
    for ratio in spec.ratios:
        numerator, denominator = values[ratio.numerator], values[ratio.denominator]
        values[ratio.name] = (
            None
            if numerator is None or denominator is None or denominator == 0
            else float(numerator) / float(denominator)  # type: ignore[arg-type]
        )
    return {name: values[name] for name in spec.feature_names()}
