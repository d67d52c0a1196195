"""Commands that score: score every lead of a file, explain one lead."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from leadscore.cli.options import (
    ActivitiesOption,
    LeadsOption,
    _fail,
    _reads_exports,
    _remembered_format,
    console,
)


@_reads_exports
def score(
    model: Annotated[Path, typer.Option(help="Model directory written by `leadscore train`.")],
    leads: LeadsOption,
    output: Annotated[Path, typer.Option(help="Where to write the scores (.csv or .parquet).")],
    activities: ActivitiesOption = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            help="Score as of this time (ISO 8601, UTC if no zone); activities after "
            "it are ignored. Default: the latest timestamp in the input."
        ),
    ] = None,
    lang: Annotated[str, typer.Option(help="Language of the reasons: en or ja.")] = "en",
    fmt=None,  # from @_reads_exports: an ExportFormat, or None when no option was given
) -> None:
    """Score every lead of an export: one output row per input lead, in input order.

    Columns: lead_id, as_of, p_sql (P(SQL within H days)), score (0-100: the share of
    validation-period leads this one beats), decision (hand off / nurture), instant_pass,
    rule_points, the fit x engagement grade, tier (A-D), the top positive and negative
    reasons as readable text and as JSON, and error: why a row has no score (a lead created
    after --as-of), empty otherwise.

    A model trained in flat mode scores the next file of its shape: the same id column (or row
    numbers), the label column there or not (never read), created_at only if it had one, no
    --activities. Without created_at, as_of is the time of scoring.
    """
    from leadscore.features import schema
    from leadscore.features.contract import ContractError, FlatShape
    from leadscore.features.sources import from_files
    from leadscore.features.training_set import data_end
    from leadscore.serving.batch import score_source
    from leadscore.training.model.artifact import ModelDirectoryError, load_model

    try:
        scorer = load_model(model)
        fmt = _remembered_format(scorer, fmt)
        shape = FlatShape.from_metadata(scorer.metadata)
        if shape is not None or scorer.metadata.get("data_mode") == "flat":
            scored = _score_flat_file(scorer, shape, leads, activities, as_of, lang, fmt)
            moment = scored["as_of"].iloc[0]
        else:
            source = from_files(leads, activities, None, fmt=fmt)
            moment = schema.utc_timestamp(as_of) if as_of else data_end(
                source.leads, source.activities, source.outcomes
            )  # fmt: skip
            if lang not in ("en", "ja"):
                raise ValueError(f"--lang must be en or ja, not {lang!r}")
            scored = score_source(scorer, source, moment, lang=lang)
    except (ContractError, ModelDirectoryError, ValueError) as error:
        raise _fail(error) from None
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.suffix == ".parquet":
        scored.to_parquet(output, index=False)
    else:
        scored.to_csv(output, index=False)
    handed = int((scored["decision"] == "hand off").sum())
    unscored = int(scored["error"].notna().sum())
    later = f"; {unscored:,} created after it are listed unscored, see `error`" if unscored else ""
    console.print(
        f"scored {len(scored) - unscored:,} leads as of {moment:%Y-%m-%d %H:%M} UTC: "
        f"{handed:,} to hand off{later}; wrote {output}"
    )


def _score_flat_file(  # type: ignore[no-untyped-def]
    scorer, shape, leads: Path, activities: Path | None, as_of: str | None, lang: str, fmt
):
    """Scores of a flat model's next file, or a ValueError saying what to change."""
    from leadscore.features import schema
    from leadscore.features.contract import load_flat_to_score
    from leadscore.serving.batch import score_flat

    if shape is None:
        raise ValueError(
            "this flat model was trained before models remembered their file's shape; "
            "train it again with `leadscore train --leads F --label COLUMN`"
        )
    if activities is not None:
        raise ValueError("--activities: a flat model scores leads alone; leave it out")
    if lang not in ("en", "ja"):
        raise ValueError(f"--lang must be en or ja, not {lang!r}")
    needed = [attribute.column for attribute in scorer.spec.attributes]
    rows = load_flat_to_score(leads, shape, needed, fmt)
    return score_flat(scorer, rows, schema.utc_timestamp(as_of) if as_of else None, lang=lang)


@_reads_exports
def explain(
    model: Annotated[Path, typer.Option(help="Model directory written by `leadscore train`.")],
    lead_id: Annotated[str, typer.Option(help="The lead to explain.")],
    leads: LeadsOption,
    out: Annotated[
        Path, typer.Option(help="The hand-off sheet: .html for people, .json for systems.")
    ],
    activities: ActivitiesOption = None,
    as_of: Annotated[
        str | None,
        typer.Option(help="As of this time (ISO 8601); default: the latest in the input."),
    ] = None,
    lang: Annotated[str, typer.Option(help="Language: en or ja.")] = "en",
    fmt=None,  # from @_reads_exports: an ExportFormat, or None when no option was given
) -> None:
    """Write a lead's hand-off sheet: score, tier, grade, reasons, points, timeline, next step.

    Reasons come from an exact decomposition of the combined score (rules, logistic regression
    and LightGBM SHAP, weighted by the combiner) grouped into concepts a rep knows; the sheet
    also lists what is still unknown (budget, authority, need, timing) and the follow-up
    deadline from the hand-off policy.
    """
    import pandas as pd

    from leadscore.features import schema
    from leadscore.features.contract import ContractError, empty_activities, load_export
    from leadscore.serving.handoff import handoff_sheet, render_html
    from leadscore.serving.scoring import online_rows
    from leadscore.training.model.artifact import ModelDirectoryError, load_model

    try:
        if lang not in ("en", "ja"):
            raise ValueError(f"--lang must be en or ja, not {lang!r}")
        scorer = load_model(model)
        export = load_export(leads, activities, fmt=_remembered_format(scorer, fmt))
        ids = export.leads[schema.LEAD_ID]
        wanted = (
            int(lead_id) if pd.api.types.is_integer_dtype(ids) and lead_id.isdigit() else lead_id
        )
        match = export.leads[ids == wanted]
        if match.empty:
            raise ValueError(f"lead_id {lead_id} is not in {leads.name}")
        lead = match.iloc[0].to_dict()
        history = export.activities[export.activities[schema.LEAD_ID] == wanted]
        if history.empty:
            history = empty_activities(ids.dtype)
        moment = schema.utc_timestamp(as_of if as_of else max(
            [export.leads[schema.CREATED_AT].max(), export.activities[schema.OCCURRED_AT].max()]
            if len(export.activities) else [export.leads[schema.CREATED_AT].max()]
        ))  # fmt: skip
        features = online_rows(scorer, [lead], [history], [moment])
        sheet = handoff_sheet(scorer, features, lead, history, moment, lang=lang)
    except (ContractError, ModelDirectoryError, ValueError) as error:
        raise _fail(error) from None
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".json":
        out.write_text(json.dumps(sheet, indent=2, ensure_ascii=False, default=str))
    else:
        out.write_text(render_html(sheet, lang))
    console.print(
        f"lead {lead_id}: score {sheet['score']}, tier {sheet['tier']}, {sheet['decision']}; "
        f"wrote {out}"
    )
