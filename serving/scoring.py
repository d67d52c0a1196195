"""One scoring path for batch files, HTTP calls, `explain` and the hand-off sheet: feature rows
in, what sales reads out.

`leadscore score` builds its feature rows with the offline builder (one cutoff per lead); the
service builds them with the online path from what an MA system posts (a property test holds the
two equal). From there both call :func:`score_features`, so a lead scored over HTTP and the same
lead scored in a nightly file get the same probability, score, tier, decision, grade, reasons
and rule breakdown.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from leadscore.features import schema
from leadscore.features.contract import FlatShape
from leadscore.features.online import ActivityColumns, online_features
from leadscore.training.model.explain import TOP_REASONS, reason_text, reasons
from leadscore.training.model.rows import FeatureRows
from leadscore.training.model.rules import format_breakdown
from leadscore.training.model.scorer import LeadScorer
from leadscore.training.model.wording import LANGUAGES


def check_language(lang: str) -> None:
    """Refuse a language the reasons are not written in before any work is done."""
    if lang not in LANGUAGES:
        raise ValueError(f"--lang must be en or ja, not {lang!r}")


@dataclass(frozen=True)
class Scored:
    """Scores of some feature rows, in their order."""

    # p_sql, score, tier, decision, instant_pass, rule_points, grade, threshold: one array each
    columns: dict[str, np.ndarray]
    reasons: list[dict]  # per row: {"positive": [...], "negative": [...]}
    breakdown: list[list[tuple[str, float]]]  # per row: (rule text, points), summing to the total

    def reasons_of(self, i: int, top: int = TOP_REASONS) -> tuple[dict, str]:
        """Row ``i``'s reasons, at most ``top`` a side, and the one line a rep reads."""
        kept = {side: items[:top] for side, items in self.reasons[i].items()}
        return kept, reason_text(kept)

    def breakdown_text(self, i: int, lang: str = "en") -> str:
        """Row ``i``'s points as a rep reads them: 'Attended a seminar +50, ...'."""
        return format_breakdown(self.breakdown[i], lang)

    @property
    def table(self) -> pd.DataFrame:
        """The score columns as a table (the service reads the arrays, files the table)."""
        return pd.DataFrame(self.columns)

    def as_columns(self, lang: str) -> pd.DataFrame:
        """The flat form for files: reasons as readable text and as JSON, the breakdown as JSON."""
        table = self.table.copy()
        table["reasons"] = [reason_text(items, lang) for items in self.reasons]
        table["reasons_json"] = [json.dumps(r, ensure_ascii=False) for r in self.reasons]
        table["rule_breakdown"] = [
            json.dumps([{"rule": rule, "points": points} for rule, points in rows],
                       ensure_ascii=False)
            for rows in self.breakdown
        ]  # fmt: skip
        return table


def score_features(
    scorer: LeadScorer,
    features: pd.DataFrame | FeatureRows,
    *,
    lang: str = "en",
    top: int = TOP_REASONS,
) -> Scored:
    """Score feature rows (a file's table or posted leads' rows) once and explain them from the
    same pass."""
    if lang not in LANGUAGES:
        raise ValueError(f"lang must be one of {', '.join(LANGUAGES)}, not {lang!r}")
    rows = FeatureRows.of(features)
    one_pass = scorer.run(rows)
    return Scored(
        columns=scorer.score_columns(rows, one_pass),
        reasons=reasons(scorer, rows, lang=lang, top=top, scored=one_pass),
        breakdown=scorer.rules.breakdown(rows, lang, points=one_pass.points),
    )


def is_flat(scorer: LeadScorer) -> bool:
    """A model trained on a flat file: it reads the next file of that shape, no activities."""
    return FlatShape.from_metadata(scorer.metadata) is not None or (
        scorer.metadata.get("data_mode") == "flat"
    )


def lead_needs(scorer: LeadScorer) -> dict[str, bool]:
    """What a posted lead must carry for ``scorer``, as the service checks it and
    ``GET /metadata`` says it."""
    return {"needs_created_at": needs_created_at(scorer), "reads_activities": not is_flat(scorer)}


def needs_created_at(scorer: LeadScorer) -> bool:
    """Whether a lead must come with ``created_at``: always for a model of events (its age and
    activity windows count from it), for a flat one exactly when its file had the column."""
    shape = FlatShape.from_metadata(scorer.metadata)
    return shape.created_at if shape is not None else not is_flat(scorer)


def online_rows(
    scorer: LeadScorer,
    leads: Sequence[Mapping[str, object]],
    activities: Sequence[Sequence[Mapping[str, object]] | ActivityColumns | pd.DataFrame],
    as_of: Sequence[object],
) -> FeatureRows:
    """Feature rows of posted leads (attributes with ``created_at``, activities, as-of time).

    Each row is the online path's vector, which equals the offline builder's row for the same
    lead and cutoff; ``lead_id`` is carried alongside for the caller, never used as a feature.
    A flat model learnt every lead as at its creation (:func:`features.offline.
    flat_feature_rows`), so its leads are seen at ``created_at``, whatever the call's time: a
    lead age the model never saw would otherwise reach it. The rows are one object block with
    the values' types as given: a DataFrame, even of one block, costs more to build and to
    read than scoring one lead.
    """
    names = scorer.feature_names
    flat = is_flat(scorer)
    values = np.empty((len(leads), len(names) + 1), dtype=object)
    for i, (lead, history, moment) in enumerate(zip(leads, activities, as_of, strict=True)):
        if flat and lead.get(schema.CREATED_AT) is not None:
            moment = lead[schema.CREATED_AT]
        vector = online_features(lead, history, moment, scorer.spec)
        values[i, 0] = lead.get(schema.LEAD_ID)
        values[i, 1:] = [vector[name] for name in names]
    return FeatureRows.from_block(values, [schema.LEAD_ID, *names])
