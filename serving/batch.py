"""Batch scoring: every lead of an export scored as of one moment, by the same scorer as online.

Features come from the offline builder with one cutoff per lead at ``as_of``; the online path
computes the identical vector for one lead (a property test holds them equal), and both hand
their rows to :func:`serving.scoring.score_features`.
"""

from __future__ import annotations

import ibis
import pandas as pd

from features import schema
from features.offline import CUTOFF_AT, feature_table
from features.sources import Source
from serving.scoring import TOP_REASONS, score_features
from training.scorer import LeadScorer


def score_source(
    scorer: LeadScorer,
    source: Source,
    as_of: pd.Timestamp,
    *,
    lang: str = "en",
    top: int = TOP_REASONS,
) -> pd.DataFrame:
    """One row per lead of the export, in the export's order, with its top reasons."""
    leads = source.leads
    cutoffs = leads.select(
        schema.LEAD_ID, **{CUTOFF_AT: ibis.literal(as_of, type="timestamp('UTC')")}
    )
    rows = source.con.to_pyarrow(feature_table(cutoffs, leads, source.activities, scorer.spec))
    features = rows.to_pandas().set_index(schema.LEAD_ID)
    order = source.con.to_pyarrow(leads.select(schema.LEAD_ID)).to_pandas()[schema.LEAD_ID]
    features = features.loc[order.to_numpy()].reset_index()
    if len(features) != len(order):
        raise RuntimeError(f"scored {len(features)} rows for {len(order)} leads")
    scored = score_features(scorer, features, lang=lang, top=top).as_columns(lang)
    scored.insert(0, schema.LEAD_ID, features[schema.LEAD_ID].to_numpy())
    scored.insert(1, "as_of", as_of)
    return scored
