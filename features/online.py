"""Online features: one lead's feature vector from what an MA system posts, in well under 2 ms.

The offline builder answers for millions of cutoffs through a query engine; a webhook needs one
lead's answer now, and a query engine's planning time alone exceeds that budget. So this module
evaluates the same spec objects with NumPy over the lead's own activities. Both paths read every
definition from :mod:`features.spec`; a property test (``tests/data/test_point_in_time.py``)
holds them equal on random worlds.

The work per call is laid out as matrices rather than a loop per signal: which signals each
activity fires is one (signals x activities) table, built from the lead's *distinct* activity
types and details (a history of 200 page views has a handful of distinct paths, and each path's
glob matches are remembered across calls); counts for every signal and window are one matrix
product. What a spec asks for is worked out once per spec (:func:`_plan`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import numpy as np
import pandas as pd

from leadscore.features import schema
from leadscore.features.spec import (
    CategoricalAttribute,
    CreatedAttribute,
    FeatureSpec,
    glob_to_regex,
    normalise_level,
    types_of,
)

_US_PER_DAY = 86_400 * 1_000_000
_DAY_SECONDS = 86_400.0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_NAT = np.iinfo(np.int64).min
_DISTINCT_DETAILS = 4096  # detail texts whose glob matches each plan remembers


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
    return int(schema.utc_timestamp(moment).value // 1000)  # .value: nanoseconds, any unit


def _utc_texts_to_us(texts: Sequence[object]) -> np.ndarray | None:
    """Microseconds since the epoch of ISO texts that all end in ``Z`` or ``+00:00``, parsed by
    NumPy in one call; None when any text is of another form (then each goes through
    :func:`_to_us`). NumPy's parser reads the same ISO forms as ``datetime.fromisoformat``
    (fractions beyond microseconds truncated alike) at a tenth of the cost per text.
    """
    if not all(isinstance(text, str) for text in texts):
        return None
    bare = [t[:-1] if t[-1:] == "Z" else t[:-6] if t[-6:] == "+00:00" else None for t in texts]
    if None in bare:
        return None
    try:
        stamps = np.array(bare, dtype="datetime64[us]").view("int64")
    except ValueError:
        return None
    return None if (stamps == _NAT).any() else stamps


def _stamps(moments: Sequence[object]) -> np.ndarray:
    """Microseconds since the epoch, UTC, of posted activity times (texts or datetimes)."""
    if not len(moments):
        return np.empty(0, "int64")
    fast = _utc_texts_to_us(moments) if isinstance(moments[0], str) else None
    if fast is not None:
        return fast
    return np.fromiter((_to_us(m) for m in moments), "int64", len(moments))


def _numeric(value: object) -> float | None:
    """A finite number, or empty: the twin of the builder's numeric attribute.

    Why stricter than ``float``: Python reads full-width and other non-ASCII digits ('１２')
    and 'inf', which the warehouse reads as empty; an infinite value would score a lead as
    certain to convert.
    """
    if value is None or value is pd.NA:
        return None
    if isinstance(value, str) and not value.isascii():
        return None
    try:
        number = float(str(value).strip()) if isinstance(value, str) else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _created_moment(value: object) -> datetime | None:
    """A lead's creation time as a UTC datetime (to the microsecond), or None when empty."""
    if value is None or value is pd.NaT or value is pd.NA or value == "":
        return None
    if isinstance(value, float) and value != value:
        return None
    return _EPOCH + _to_us(value) * _MICROSECOND


def attribute_values(lead: Mapping[str, object], spec: FeatureSpec) -> dict[str, object]:
    """The spec's attribute features of one lead; absent or blank fields are empty (None)."""
    values: dict[str, object] = {}
    created: datetime | None = None
    for attribute in spec.attributes:
        raw = lead.get(attribute.column)
        if isinstance(attribute, CategoricalAttribute):
            values[attribute.name] = normalise_level(raw, attribute.aliases)
        elif isinstance(attribute, CreatedAttribute):
            created = created or _created_moment(raw)
            values[attribute.name] = None if created is None else attribute.level(created)
        else:
            values[attribute.name] = _numeric(raw)
    return values


@dataclass(frozen=True)
class ActivityColumns:
    """A lead's activities as three parallel columns: times, types and details.

    The service's validated activities arrive as objects; reading their three fields into lists
    is cheaper than turning each into a dict first.
    """

    occurred_at: Sequence[object]
    activity_type: Sequence[object]
    detail: Sequence[object]

    @classmethod
    def of_records(cls, records: Sequence[object]) -> ActivityColumns:
        """From objects with ``occurred_at``, ``activity_type`` and ``detail`` attributes."""
        return cls(
            [getattr(r, schema.OCCURRED_AT) for r in records],
            [getattr(r, schema.ACTIVITY_TYPE) for r in records],
            [getattr(r, schema.DETAIL, None) for r in records],
        )


def _activity_arrays(
    activities: pd.DataFrame | ActivityColumns | Sequence[Mapping[str, object]],
) -> tuple[np.ndarray, Sequence[object], Sequence[object]]:
    if isinstance(activities, pd.DataFrame):
        frame = activities
        if not len(frame):
            return np.empty(0, "int64"), [], []
        times = pd.to_datetime(frame[schema.OCCURRED_AT], utc=True).dt.tz_convert(None)
        stamps = times.astype("datetime64[us]").to_numpy().view("int64")
        types = frame[schema.ACTIVITY_TYPE].astype(object).to_numpy()
        details = (
            frame[schema.DETAIL].astype(object).to_numpy()
            if schema.DETAIL in frame.columns
            else np.full(len(frame), None, dtype=object)
        )
        return stamps, list(types), list(details)
    if not isinstance(activities, ActivityColumns):
        activities = ActivityColumns(
            [a[schema.OCCURRED_AT] for a in activities],
            [a[schema.ACTIVITY_TYPE] for a in activities],
            [a.get(schema.DETAIL) for a in activities],
        )
    return _stamps(activities.occurred_at), activities.activity_type, activities.detail


@dataclass(frozen=True)
class _Plan:
    """What a spec asks of a lead's activities, laid out once per spec."""

    names: tuple[str, ...]  # every feature, in the spec's order
    signals: tuple[str, ...]
    narrowed: np.ndarray  # positions of the signals with a detail pattern
    detail_matches: Callable[[object], bytes]  # detail -> 0/1 per narrowed signal
    type_matches: Callable[[tuple[object, ...]], tuple[np.ndarray, np.ndarray]]
    windows: tuple[int, ...]  # every count window (days), each once
    counts: tuple[tuple[str, int, int], ...]  # (feature, signal, window position)
    days: tuple[tuple[str, int, int], ...]
    recency: tuple[tuple[str, int], ...]  # (feature, signal)
    first: tuple[tuple[str, int], ...]


_PLANS: dict[int, tuple[FeatureSpec, _Plan]] = {}


def _plan(spec: FeatureSpec) -> _Plan:
    """The spec's plan, made once per spec object (specs are frozen)."""
    cached = _PLANS.get(id(spec))
    if cached is not None and cached[0] is spec:
        return cached[1]
    signals = spec.signals
    narrowed = [k for k, s in enumerate(signals) if s.detail is not None]
    patterns = [_pattern(signals[k].detail) for k in narrowed]  # type: ignore[arg-type]

    @lru_cache(maxsize=_DISTINCT_DETAILS)
    def detail_matches(detail: object) -> bytes:
        if not isinstance(detail, str):
            return bytes(len(patterns))
        return bytes(p.search(detail) is not None for p in patterns)

    wanted = [types_of(s, spec) for s in signals]
    wanted_types = [None if t is None else frozenset(t) for t in wanted]
    excluded = frozenset(spec.exclude_activity_types)

    @lru_cache(maxsize=_DISTINCT_DETAILS)
    def type_matches(types: tuple[object, ...]) -> tuple[np.ndarray, np.ndarray]:
        """(signals x types) which signals each type fires, and which types are not excluded."""
        fires = [[w is None or t in w for t in types] for w in wanted_types]
        kept = np.array([t not in excluded for t in types], bool)
        return np.array(fires, bool).reshape(len(signals), len(types)), kept

    windows = sorted({w for s in signals for w in spec.signal_windows(s)})
    counts, days, recency, first = [], [], [], []
    for k, signal in enumerate(signals):
        for window in spec.signal_windows(signal):
            at = windows.index(window)
            if "count" in signal.stats:
                counts.append((f"{signal.name}_count_{window}d", k, at))
            if "days" in signal.stats:
                days.append((f"{signal.name}_days_{window}d", k, at))
        if "recency" in signal.stats:
            recency.append((f"{signal.name}_recency_days", k))
        if "first" in signal.stats:
            first.append((f"{signal.name}_first_days", k))
    plan = _Plan(
        names=tuple(spec.feature_names()),
        signals=tuple(s.name for s in signals),
        narrowed=np.array(narrowed, np.intp),
        detail_matches=detail_matches,
        type_matches=type_matches,
        windows=tuple(windows),
        counts=tuple(counts),
        days=tuple(days),
        recency=tuple(recency),
        first=tuple(first),
    )
    if len(_PLANS) >= 32:
        _PLANS.clear()
    _PLANS[id(spec)] = (spec, plan)
    return plan


def _codes(values: Sequence[object]) -> tuple[list[object], np.ndarray]:
    """Distinct values in order of appearance, and each value's position among them."""
    index: dict[object, int] = {}
    codes = np.fromiter((index.setdefault(v, len(index)) for v in values), np.intp, len(values))
    return list(index), codes


def _fired(
    plan: _Plan, types: Sequence[object], details: Sequence[object]
) -> tuple[np.ndarray, np.ndarray]:
    """(signals x activities) whether each activity fires each signal, and the activities the
    spec does not exclude (an excluded type fires nothing)."""
    distinct_types, type_codes = _codes(types)
    distinct_details, detail_codes = _codes(details)
    by_type, kept = plan.type_matches(tuple(distinct_types))
    fired = by_type[:, type_codes]
    if len(plan.narrowed):
        matches = b"".join(map(plan.detail_matches, distinct_details))
        by_detail = np.frombuffer(matches, bool).reshape(len(distinct_details), len(plan.narrowed))
        fired[plan.narrowed] &= by_detail.T[:, detail_codes]
    return fired, kept[type_codes]


def online_features(
    lead: Mapping[str, object],
    activities: pd.DataFrame | ActivityColumns | Sequence[Mapping[str, object]],
    as_of: object,
    spec: FeatureSpec,
) -> dict[str, object]:
    """The feature vector of one lead as of ``as_of``, equal to the offline builder's row.

    ``lead`` holds ``created_at`` and raw attribute values; ``activities`` its history in any
    order (rows after ``as_of`` are ignored, so a replayed export scores as it did then).
    """
    plan = _plan(spec)
    cutoff = _to_us(as_of)
    values: dict[str, object] = attribute_values(lead, spec)
    if spec.lead_age:
        created = lead.get(schema.CREATED_AT)
        values["lead_age_days"] = (
            None if created is None else (cutoff - _to_us(created)) / 1e6 / _DAY_SECONDS
        )
    stamps, types, details = _activity_arrays(activities)
    fired, kept = _fired(plan, types, details)
    keep = kept & (stamps <= cutoff) & (stamps > cutoff - spec.lookback_days * _US_PER_DAY)
    stamps, fired = stamps[keep], fired[:, keep]
    age_days = (cutoff / 1e6 - stamps / 1e6) / _DAY_SECONDS
    windows_us = np.array(plan.windows, "int64") * _US_PER_DAY
    inside = stamps[:, np.newaxis] > cutoff - windows_us  # (activities x windows)
    counts = fired.astype(float) @ inside.astype(float)  # (signals x windows), exact counts
    for name, k, at in plan.counts:
        values[name] = int(counts[k, at])
    days = np.floor_divide(stamps, _US_PER_DAY)
    for name, k, at in plan.days:
        values[name] = int(np.unique(days[fired[k] & inside[:, at]]).size)
    any_fired = fired.any(axis=1)
    if plan.recency:
        least = np.where(fired, age_days, np.inf).min(axis=1, initial=np.inf)
        for name, k in plan.recency:
            values[name] = float(least[k]) if any_fired[k] else None
    if plan.first:
        most = np.where(fired, age_days, -np.inf).max(axis=1, initial=-np.inf)
        for name, k in plan.first:
            values[name] = float(most[k]) if any_fired[k] else None
    for score in spec.engagement:
        weight = np.zeros(len(stamps))
        for signal_name, points in score.weights.items():
            weight += np.where(fired[plan.signals.index(signal_name)], points, 0.0)
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
    return {name: values[name] for name in plan.names}
