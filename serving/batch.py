"""Batch scoring: every lead of an export scored as of one moment, by the same scorer as online.

Features come from the offline builder with one cutoff per lead at ``as_of``; the online path
computes the identical vector for one lead (a property test holds them equal), and both hand
their rows to :func:`serving.scoring.score_features`. A flat model's file is scored the same way
from the rows its training set was built with (:func:`features.offline.flat_feature_rows`).
A file of ``SHOW_PROGRESS_FROM`` leads or more reports its stages to :mod:`leadscore.progress`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import ibis
import pandas as pd

from leadscore.features import schema
from leadscore.features.contract import FlatShape, load_flat_to_score
from leadscore.features.offline import connect, feature_table, flat_feature_rows
from leadscore.features.reading import ExportFormat
from leadscore.features.schema import CUTOFF_AT
from leadscore.features.sources import Source, from_files
from leadscore.features.training_set import data_end
from leadscore.progress import stages
from leadscore.serving.scoring import TOP_REASONS, check_language, is_flat, score_features
from leadscore.training.model.artifact import load_model
from leadscore.training.model.scorer import LeadScorer

SHOW_PROGRESS_FROM = 5_000  # leads; fewer score in a few seconds, with nothing to watch
SCORING_STAGES = ("features as of the scoring time", "scores and reasons", "the scores table")


def score_source(
    scorer: LeadScorer,
    source: Source,
    as_of: pd.Timestamp,
    *,
    lang: str = "en",
    top: int = TOP_REASONS,
) -> pd.DataFrame:
    """One row per lead of the export, in the export's order, with its top reasons.

    A lead created after ``as_of`` did not exist yet: like the service, which answers such a
    lead with an error, its row carries no score and says why in ``error`` (empty on every
    scored row), so no lead is dropped and none is scored from a negative age. Columns have
    nullable types whether or not a row is empty, so every run writes the same file schema.
    """
    as_of = schema.utc_timestamp(as_of)
    leads = source.leads
    order = source.con.to_pyarrow(leads.select(schema.LEAD_ID, schema.CREATED_AT)).to_pandas()
    show = len(order) >= SHOW_PROGRESS_FROM
    with stages(f"Scoring {len(order):,} leads", SCORING_STAGES, show=show) as begin:
        begin(SCORING_STAGES[0])
        cutoffs = leads.select(
            schema.LEAD_ID, **{CUTOFF_AT: ibis.literal(as_of, type="timestamp('UTC')")}
        )
        rows = source.con.to_pyarrow(feature_table(cutoffs, leads, source.activities, scorer.spec))
        features = rows.to_pandas().set_index(schema.LEAD_ID)
        features = features.loc[order[schema.LEAD_ID].to_numpy()].reset_index()
        if len(features) != len(order):
            raise RuntimeError(f"scored {len(features)} rows for {len(order)} leads")
        created = pd.to_datetime(order[schema.CREATED_AT], utc=True)
        return _score_rows(scorer, features, created, as_of, lang=lang, top=top, begin=begin)


def score_flat(
    scorer: LeadScorer,
    leads: pd.DataFrame,
    as_of: pd.Timestamp | None = None,
    *,
    lang: str = "en",
    top: int = TOP_REASONS,
) -> pd.DataFrame:
    """One row per lead of a flat model's next file, in the file's order, in the columns of
    :func:`score_source`.

    ``leads`` as :func:`features.contract.load_flat_to_score` reads them. Each lead is scored as
    the model learnt, at its creation. ``as_of`` defaults to the latest ``created_at``, or to the
    moment of scoring when the file has none; a lead created after it is listed unscored.
    """
    show = len(leads) >= SHOW_PROGRESS_FROM
    with stages(f"Scoring {len(leads):,} leads", SCORING_STAGES, show=show) as begin:
        begin(SCORING_STAGES[0])
        features = flat_feature_rows(connect(), leads, scorer.spec)
        created = None
        if schema.CREATED_AT in leads.columns:
            created = pd.Series(pd.to_datetime(leads[schema.CREATED_AT], utc=True).to_numpy())
        as_of = flat_as_of(leads, as_of)
        return _score_rows(scorer, features, created, as_of, lang=lang, top=top, begin=begin)


def flat_as_of(leads: pd.DataFrame, as_of: object | None = None) -> pd.Timestamp:
    """The moment a flat file is scored at: ``as_of`` when given, else its latest
    ``created_at``, else now (a file without times has no moment of its own)."""
    if as_of is None:
        if schema.CREATED_AT in leads.columns:
            as_of = pd.to_datetime(leads[schema.CREATED_AT], utc=True).max()
        else:
            as_of = pd.Timestamp.now(tz="UTC").floor("s")
    return schema.utc_timestamp(as_of)


def _score_rows(
    scorer: LeadScorer,
    features: pd.DataFrame,
    created: pd.Series | None,
    as_of: pd.Timestamp,
    *,
    lang: str,
    top: int,
    begin: Callable[[str], None],
) -> pd.DataFrame:
    """The scores file of feature rows (lead_id first): one row each, none dropped.

    A lead created after ``as_of`` did not exist yet: its row carries no score and says why in
    ``error`` (empty on every scored row). Columns have nullable types whether or not a row is
    empty, so every run writes the same file schema.
    """
    if created is None:
        created = pd.Series(pd.NaT, index=range(len(features)), dtype="datetime64[ns, UTC]")
    not_yet = (created > as_of).to_numpy()
    # every row is scored, then the ones not created yet are emptied: the columns and their
    # types come from the scorer even when no lead existed yet
    begin(SCORING_STAGES[1])
    scored = score_features(scorer, features, lang=lang, top=top).as_columns(lang)
    begin(SCORING_STAGES[2])
    # nullable by kind, never by value: pandas' convert_dtypes would make a float column
    # whose values happen to be whole (rule points, say) an integer one in some runs
    nullable = {"i": "Int64", "u": "Int64", "b": "boolean", "O": "string"}
    scored = scored.astype(
        {c: nullable[t.kind] for c, t in scored.dtypes.items() if t.kind in nullable}
    )
    scored.loc[not_yet, :] = pd.NA
    scored.insert(0, schema.LEAD_ID, features[schema.LEAD_ID].to_numpy())
    scored.insert(1, "as_of", as_of)
    scored["error"] = pd.Series(
        [
            f"created_at {moment:%Y-%m-%dT%H:%M:%SZ} is after the scoring time "
            f"{as_of:%Y-%m-%dT%H:%M:%SZ}: not scored; score as of a later time"
            if late
            else None
            for moment, late in zip(created, not_yet, strict=True)
        ],
        dtype="string",
    )
    return scored


@dataclass(frozen=True)
class ScoredFile:
    """The scores of an export's leads file, the moment they hold for, and where they went."""

    scores: pd.DataFrame  # one row per input lead, in input order (see score_source)
    as_of: pd.Timestamp
    path: Path

    @property
    def handed_off(self) -> int:
        return int((self.scores["decision"] == "hand off").sum())

    @property
    def unscored(self) -> int:
        """Leads created after ``as_of``: listed, without a score, ``error`` says why."""
        return int(self.scores["error"].notna().sum())


def score_file(
    model: Path,
    leads: Path,
    output: Path,
    *,
    activities: Path | None = None,
    as_of: str | None = None,
    lang: str = "en",
    fmt: ExportFormat | None = None,
) -> ScoredFile:
    """`leadscore score`: every lead of ``leads`` scored by the model directory ``model``,
    written to ``output`` (.parquet, else CSV).

    The file is read the way the model's export was (its remembered format, with ``fmt`` on
    top). An event model scores as of ``as_of`` (ISO 8601, UTC if no zone; default: the latest
    time in the input); a flat model scores the next file of its shape, without activities.
    """
    check_language(lang)  # before the model and the file are read, not after
    scorer = load_model(model)
    fmt = ExportFormat.remembered(scorer.metadata, fmt)
    if is_flat(scorer):
        rows = flat_file_rows(scorer, leads, activities, fmt)
        scored = score_flat(scorer, rows, schema.utc_timestamp(as_of) if as_of else None, lang=lang)
        moment = scored["as_of"].iloc[0]
    else:
        source = from_files(leads, activities, None, fmt=fmt)
        moment = schema.utc_timestamp(as_of) if as_of else data_end(
            source.leads, source.activities, source.outcomes
        )  # fmt: skip
        scored = score_source(scorer, source, moment, lang=lang)
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.suffix == ".parquet":
        scored.to_parquet(output, index=False)
    else:
        scored.to_csv(output, index=False)
    return ScoredFile(scored, moment, output)


def flat_file_rows(
    scorer: LeadScorer, leads: Path, activities: Path | None, fmt: ExportFormat
) -> pd.DataFrame:
    """A flat model's next file as `score` and `explain` read it (lead_id, its attributes,
    ``created_at`` when the model had it), or a ValueError saying what to change."""
    shape = FlatShape.from_metadata(scorer.metadata)
    if shape is None:
        raise ValueError(
            "this flat model was trained before models remembered their file's shape; "
            "train it again with `leadscore train --leads F --label COLUMN`"
        )
    if activities is not None:
        raise ValueError("--activities: a flat model reads leads alone; leave it out")
    needed = [attribute.column for attribute in scorer.spec.attributes]
    return load_flat_to_score(leads, shape, needed, fmt)
