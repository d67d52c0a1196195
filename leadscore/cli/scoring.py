"""Commands that score: score every lead of a file, explain one lead."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leadscore.cli.options import (
    ActivitiesOption,
    LeadsOption,
    _fail,
    _reads_exports,
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
    from leadscore.features.contract import ContractError
    from leadscore.serving.batch import score_file
    from leadscore.training.model.artifact import ModelDirectoryError

    try:
        scored = score_file(
            model, leads, output, activities=activities, as_of=as_of, lang=lang, fmt=fmt
        )
    except (ContractError, ModelDirectoryError, ValueError) as error:
        raise _fail(error) from None
    _print_scored(scored)


def _print_scored(scored) -> None:  # type: ignore[no-untyped-def]
    """A scored file (a ScoredFile) in one line: how many, as of when, handed off, where."""
    unscored = scored.unscored
    later = f"; {unscored:,} created after it are listed unscored, see `error`" if unscored else ""
    console.print(
        f"scored {len(scored.scores) - unscored:,} leads as of {scored.as_of:%Y-%m-%d %H:%M} "
        f"UTC: {scored.handed_off:,} to hand off{later}; wrote {scored.path}"
    )


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
    team_time_zone: Annotated[
        str | None,
        typer.Option(
            help="The sales team's clock for the deadline and times (IANA name, e.g. "
            "Asia/Tokyo); default: the policy's time_zone, else the export's clock, else "
            "Asia/Tokyo for --lang ja, else UTC."
        ),
    ] = None,
    fmt=None,  # from @_reads_exports: an ExportFormat, or None when no option was given
) -> None:
    """Write a lead's hand-off sheet: score, tier, grade, reasons, points, timeline, next step.

    Reasons come from an exact decomposition of the combined score (rules, logistic regression
    and LightGBM SHAP, weighted by the combiner) grouped into concepts a rep knows; the sheet
    also lists what is still unknown (budget, authority, need, timing) and the follow-up
    deadline from the hand-off policy.
    """
    from leadscore.features.contract import ContractError
    from leadscore.serving.handoff import write_handoff_sheet
    from leadscore.training.model.artifact import ModelDirectoryError

    try:
        sheet = write_handoff_sheet(
            model, lead_id, leads, out, activities=activities, as_of=as_of, lang=lang, fmt=fmt,
            time_zone=team_time_zone,
        )  # fmt: skip
    except (ContractError, ModelDirectoryError, ValueError) as error:
        raise _fail(error) from None
    console.print(
        f"lead {lead_id}: score {sheet['score']}, tier {sheet['tier']}, {sheet['decision']}; "
        f"wrote {out}"
    )
