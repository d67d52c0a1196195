"""A starter feature spec from any export, for a person to read and edit.

Inference is deliberately conservative: it proposes what is safe to use and says in the YAML's
header comment what it left out and why (personal data, ids, timestamps, free text, sales-side
activities), so the reader can change its mind with one edit instead of hunting for a column.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection

import pandas as pd

from features import schema
from features.spec import (
    ANY_TYPE,
    CategoricalAttribute,
    Engagement,
    FeatureSpec,
    NumericAttribute,
    Ratio,
    Signal,
    normalise_level,
)

_ID_NAME = re.compile(r"(^id$|_id$|^id_|\bid\b|number$|^uuid|guid)", re.IGNORECASE)
_ORGANISATION = re.compile(r"company|organi[sz]ation|account_?name|employer", re.IGNORECASE)
_SALES_SIDE = re.compile(r"sales|call|meeting|opportunit|task|deal|sms_sent", re.IGNORECASE)
_FREE_TEXT_SHARE = 0.2
_MAX_PAGE_SIGNALS = 10
_MIN_PAGE_SHARE = 0.005


def snake(text: str) -> str:
    """A readable lower_snake_case name for a column or a page path segment."""
    name = re.sub(r"[^a-z0-9]+", "_", str(text).lower()).strip("_")
    return name if re.match(r"^[a-z]", name) else f"f_{name}"


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text)


def infer_aliases(values: pd.Series) -> dict[str, str]:
    """Merge spellings that differ only in punctuation or spacing ("I.T." -> "it")."""
    levels = Counter(level for level in (normalise_level(v, {}) for v in values.dropna()) if level)
    by_form: dict[str, list[str]] = {}
    for level in levels:
        by_form.setdefault(_squash(level), []).append(level)
    aliases = {}
    for variants in by_form.values():
        if len(variants) > 1:
            main = max(variants, key=lambda v: levels[v])
            aliases.update({v: main for v in variants if v != main})
    return aliases


def infer_attributes(
    leads: pd.DataFrame,
    personal_data: tuple[str, ...],
    exclude: tuple[str, ...] = (),
    numbers: Collection[str] = (),
) -> tuple[list[CategoricalAttribute | NumericAttribute], list[str]]:
    """Attributes worth a feature, and a line of explanation for every column left out.

    A column is numeric when its type is, or when it is one of ``numbers`` (CSV text columns
    that hold only numbers, :attr:`features.contract.Table.numbers`).
    """
    attributes: list[CategoricalAttribute | NumericAttribute] = []
    skipped: list[str] = []
    taken: set[str] = set()
    for column in leads.columns:
        values = leads[column]
        reason = None
        if column in (schema.LEAD_ID, schema.CREATED_AT, *exclude):
            continue
        if column in personal_data:
            reason = "personal data"
        elif pd.api.types.is_datetime64_any_dtype(values):
            reason = "timestamp (an attribute filled at an unknown time may leak the outcome)"
        elif _ID_NAME.search(str(column)):
            reason = "an identifier"
        elif _ORGANISATION.search(str(column)):
            reason = "an organisation's name (renaming a company must not move a score)"
        elif values.notna().sum() == 0:
            reason = "always empty"
        elif not _is_number(values, numbers):
            distinct = values.dropna().astype(str).nunique()
            if distinct > _FREE_TEXT_SHARE * max(values.notna().sum(), 1) and distinct > 50:
                reason = f"free text or a name ({distinct:,} distinct values)"
        if reason:
            skipped.append(f"{column}: {reason}")
            continue
        name = snake(column)
        while name in taken:
            name += "_"
        taken.add(name)
        if _is_number(values, numbers):
            attributes.append(NumericAttribute(name=name, column=str(column)))
        else:
            attributes.append(
                CategoricalAttribute(name=name, column=str(column), aliases=infer_aliases(values))
            )
    return attributes, skipped


def _page_segments(activities: pd.DataFrame) -> list[str]:
    details = activities[schema.DETAIL].dropna().astype(str)
    paths = details[details.str.startswith("/")]
    if paths.empty:
        return []
    first = paths.str.extract(r"^/([^/?#]+)", expand=False).dropna()
    shares = first.value_counts(normalize=True)
    return [s for s, share in shares.items() if share >= _MIN_PAGE_SHARE][:_MAX_PAGE_SIGNALS]


def infer_signals(activities: pd.DataFrame) -> tuple[list[Signal], list[str], list[str]]:
    """Signals per activity type and per top page section; sales-side types are excluded."""
    types = activities[schema.ACTIVITY_TYPE].dropna().astype(str).value_counts()
    excluded = [t for t in types.index if _SALES_SIDE.search(t)]
    signals = [
        Signal(name="any_activity", activity_types=(ANY_TYPE,),
               stats=("count", "days", "recency", "first"))
    ]  # fmt: skip
    names = {"any_activity"}
    for activity_type in types.index:
        if activity_type in excluded:
            continue
        name = snake(activity_type)
        if name in names:
            continue
        names.add(name)
        signals.append(Signal(name=name, activity_types=(activity_type,)))
    page_types = tuple(
        activities.loc[
            activities[schema.DETAIL].astype(str).str.startswith("/"), schema.ACTIVITY_TYPE
        ].astype(str).unique()
    )  # fmt: skip
    for segment in _page_segments(activities):
        name = f"page_{snake(segment)}"
        if name not in names and page_types:
            names.add(name)
            signals.append(Signal(name=name, activity_types=page_types, detail=f"/{segment}*"))
    notes = [f"{t}: sales-side activity (leaks the outcome)" for t in excluded]
    return signals, excluded, notes


def _is_number(values: pd.Series, numbers: Collection[str]) -> bool:
    if values.name in numbers:
        return True
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def infer_spec(
    leads: pd.DataFrame,
    activities: pd.DataFrame | None,
    personal_data: tuple[str, ...],
    *,
    exclude: tuple[str, ...] = (),
    numbers: Collection[str] = (),
) -> tuple[FeatureSpec, list[str]]:
    """A starter spec and the list of what was left out, with reasons (``numbers``: see
    :func:`infer_attributes`)."""
    attributes, skipped = infer_attributes(leads, personal_data, exclude, numbers)
    signals: list[Signal] = []
    excluded: list[str] = []
    engagement: list[Engagement] = []
    ratios: list[Ratio] = []
    if activities is not None and len(activities):
        signals, excluded, notes = infer_signals(activities)
        skipped += notes
        weights = {s.name: 1.0 for s in signals[1:]}
        if weights:
            engagement = [Engagement(name="all", half_life_days=14, weights=weights)]
        names = {s.name for s in signals}
        if {"email_open", "email_click"} <= names:
            ratios = [
                Ratio(name="click_to_open_90d", numerator="email_click_count_90d",
                      denominator="email_open_count_90d")
            ]  # fmt: skip
    spec = FeatureSpec(
        attributes=tuple(attributes),
        signals=tuple(signals),
        engagement=tuple(engagement),
        ratios=tuple(ratios),
        exclude_activity_types=tuple(excluded),
        lead_age=schema.CREATED_AT in leads.columns,
    )
    return spec, skipped


def spec_header(skipped: list[str], source: str) -> str:
    """The YAML comment that explains an inferred spec to the person who will edit it."""
    lines = [
        f"# Feature spec inferred by `leadscore spec infer` from {source}.",
        "# Edit freely: rename features, merge levels with aliases, add detail patterns.",
        "# Timestamps without a zone are UTC. Left out on purpose:",
    ]
    lines += [f"#   - {line}" for line in skipped] or ["#   (nothing)"]
    return "\n".join(lines) + "\n"
