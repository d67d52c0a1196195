"""Commands that read and shape data: simulate, validate, spec infer, features build."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leadscore.cli.options import (
    _USER_ERRORS,
    ActivitiesOption,
    DropOption,
    FittedRulebookOption,
    FittedSpecOption,
    IdColumnOption,
    LeadsOption,
    NegativeOption,
    OptionalLeadsOption,
    OrderOption,
    OutcomesOption,
    PositiveOption,
    WarehouseOption,
    _decided,
    _fail,
    _flat_only,
    _print_profile,
    _print_world_summary,
    _reads_exports,
    console,
)


def simulate(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the synthetic export to.")],
    leads: Annotated[int, typer.Option("--leads", min=1, help="Number of leads.")] = 20_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; same seed, same world.")] = 7,
) -> None:
    """Write a synthetic Marketo/HubSpot-style export (leads, activities, outcomes).

    The world has accounts with firmographics, leads with job level, department and source,
    activity streams driven by a purchase intent that changes over time, sales follow-up delay
    and SQL outcomes, plus the traps of a real export: sales activities logged only after a lead
    became SQL, messy attributes and a channel mix that drifts. Files: leads/activities/outcomes
    as Parquet, the hidden truth (true conversion probability) as truth.parquet, and all tables
    in an embedded DuckDB file world.duckdb.
    """
    _simulate(out, leads, seed)


def _simulate(out: Path, leads: int, seed: int) -> None:
    """Simulate a world, write it to ``out`` and summarise it (simulate, and the demo)."""
    from leadscore.features.synthetic import simulate as run_simulation
    from leadscore.features.synthetic import write_world

    with console.status(f"Simulating {leads:,} leads (seed {seed})"):
        world = run_simulation(leads, seed)
        paths = write_world(world, out)
    _print_world_summary(world.leads, world.activities, world.outcomes)
    for name, path in paths.items():
        console.print(f"  {name:<12} {path}")


@_reads_exports
def validate(
    leads: LeadsOption,
    activities: Annotated[
        Path | None,
        typer.Option(help="Activities file: lead_id, occurred_at, activity_type, detail."),
    ] = None,
    outcomes: Annotated[
        Path | None,
        typer.Option(
            help="Outcomes file: lead_id, sql_at (empty when never SQL), optional "
            "mql_at, first_contact_at, won_at."
        ),
    ] = None,
    label: Annotated[
        str | None,
        typer.Option(help="Flat mode: the 0/1 (yes/no, true/false) label column of --leads."),
    ] = None,
    id_column: IdColumnOption = None,
    order_column: OrderOption = None,
    positive: PositiveOption = None,
    negative: NegativeOption = None,
    fmt=None,  # from @_reads_exports: an ExportFormat, or None when no option was given
) -> None:
    """Check an export against the data contract and summarise it.

    Event mode takes --leads with optional --activities and --outcomes; flat mode takes
    --leads with --label (and --order-column when there is no created_at). Every problem is
    reported with its file, column and rows. Timestamps without a time zone are read as UTC.
    Columns recognised as personal data are listed by name only: they never become features.
    """
    from leadscore.features.contract import ContractError, check_export

    try:
        _flat_only(
            label, id_column=id_column, order_column=order_column, positive=positive,
            negative=negative,
        )  # fmt: skip
        export = check_export(
            leads, activities, outcomes, label=label, id_column=id_column,
            order_column=order_column, positive=positive, negative=negative or (), fmt=fmt,
        )  # fmt: skip
    except ContractError as error:
        raise _fail(error) from None
    _print_checked(export)


def _print_checked(export) -> None:  # type: ignore[no-untyped-def]
    """A checked export (an MAExport or a FlatExport): its summary, personal data, notes."""
    from leadscore.features.contract import FlatExport

    if isinstance(export, FlatExport):
        console.print(
            f"flat export OK: {len(export.leads):,} leads, label '{export.label_column}' positive "
            f"rate {export.label.mean():.1%}, {len(export.attribute_columns)} attribute columns"
        )
    else:
        _print_world_summary(export.leads, export.activities, export.outcomes)
    if export.personal_data:
        console.print(f"personal data (never used as features): {', '.join(export.personal_data)}")
    for note in export.notes:
        console.print(f"note: {note}")


@_reads_exports
def spec_infer(
    leads: LeadsOption,
    out: Annotated[Path, typer.Option("--out", help="Where to write the spec (YAML).")],
    activities: ActivitiesOption = None,
    outcomes: Annotated[
        Path | None,
        typer.Option(
            help="Outcomes file (lead_id, sql_at): an activity detail then becomes its own "
            "signal only when its SQL rate differs from the rest of its type."
        ),
    ] = None,
    label: Annotated[
        str | None, typer.Option(help="Flat mode: the label column, left out of the features.")
    ] = None,
    id_column: IdColumnOption = None,
    order_column: OrderOption = None,
    positive: PositiveOption = None,
    negative: NegativeOption = None,
    drop: DropOption = None,
    fmt=None,  # from @_reads_exports: an ExportFormat, or None when no option was given
) -> None:
    """Write a starter feature spec from an export, for a person to read and edit.

    Attributes become categorical (with aliases for spellings such as 'I.T.' vs 'it', and rare
    levels of a many-level code grouped) or numeric features; activity types, and the details
    (form, email or event names, page sections) with enough leads and, given --outcomes, a
    distinct SQL rate, become signals with counts over windows, recency and a decay-weighted
    engagement score. Personal data, columns unique per lead, timestamps, free text and
    sales-side activities are left out; the YAML's header says why, with the evidence.
    """
    from leadscore.features.contract import ContractError
    from leadscore.features.infer import write_inferred_spec

    try:
        _flat_only(
            label, id_column=id_column, order_column=order_column, positive=positive,
            negative=negative, drop=drop,
        )  # fmt: skip
        inference = write_inferred_spec(
            leads, out, activities=activities, outcomes=outcomes, label=label,
            id_column=id_column, order_column=order_column, positive=positive,
            negative=negative or (), drop=drop or (), fmt=fmt,
        )  # fmt: skip
    except (ContractError, ValueError) as error:
        raise _fail(error) from None
    spec = inference.spec
    console.print(
        f"wrote {out}: {len(spec.attributes)} attributes, {len(spec.signals)} signals, "
        f"{len(spec.feature_names())} features; left out {len(inference.skipped)} (see its "
        "header)"
    )


@_reads_exports
def features_build(
    out: Annotated[
        Path, typer.Option("--out", help="Folder for training_set.parquet and profile.json.")
    ],
    leads: OptionalLeadsOption = None,
    activities: ActivitiesOption = None,
    outcomes: OutcomesOption = None,
    warehouse: WarehouseOption = None,
    spec: FittedSpecOption = None,
    rulebook: FittedRulebookOption = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            help="The export's as-of time (ISO 8601, UTC if no zone); default: the "
            "latest timestamp in the data. Nothing after it is used."
        ),
    ] = None,
    validation_share: Annotated[
        float, typer.Option(help="Share of labelled rows for validation.")
    ] = 0.2,
    test_share: Annotated[
        float, typer.Option(help="Share of labelled rows for the out-of-time test.")
    ] = 0.2,
    threads: Annotated[
        int | None, typer.Option(help="DuckDB threads (default: all cores).")
    ] = None,
    memory_limit: Annotated[
        str | None,
        typer.Option(help="DuckDB memory limit such as 6GB; beyond it DuckDB spills to disk."),
    ] = None,
    fmt=None,  # from @_reads_exports: an ExportFormat, or None when no option was given
) -> None:
    """Build a point-in-time training set: cutoffs, features, labels, out-of-time split.

    Cutoffs follow the spec's policy (a snapshot every N days while the lead is open, and/or at
    activity events). The label is SQL within H days after the cutoff; leads already SQL are
    left out, and cutoffs whose label window is not over are kept as 'unlabeled'. Train,
    validation and test are cut by cutoff time with an H-day gap, and a lead never straddles
    two splits. Writes training_set.parquet, profile.json (rows and label rate per split,
    null rates, top categories), and the spec, rulebook and decisions it was built with.
    """
    from leadscore.features.sources import ExportPaths
    from leadscore.features.training_set import SplitPlan
    from leadscore.training.job.prepare import prepare_export

    try:
        plan = SplitPlan(validation_share, test_share)
        export = ExportPaths(leads, activities, outcomes, warehouse, threads, memory_limit, fmt)
        prepared = prepare_export(
            export, out, spec=spec, rulebook=rulebook, plan=plan, as_of=as_of,
            decided=_decided,
        )  # fmt: skip
    except _USER_ERRORS as error:
        raise _fail(error) from None
    _print_built(prepared)


def _print_built(prepared) -> None:  # type: ignore[no-untyped-def]
    """A built training set: its profile and where it lies."""
    _print_profile(prepared.profile)
    console.print(f"training set: {prepared.training_set}")
