"""The `leadscore` command line: the first manual a data scientist reads.

Each subcommand reads its options, builds typed objects and hands them to the package; heavy
imports happen inside the commands so that `leadscore --help` answers at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    name="leadscore",
    help=(
        "Predictive lead scoring for B2B marketing and sales: validate an MA/CRM export, "
        "simulate one, and run the lead-scoring job end to end."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
console = Console()

LeadsOption = Annotated[
    Path,
    typer.Option(
        "--leads", help="Leads file (CSV or Parquet): lead_id, created_at, attribute columns."
    ),
]


def _fail(error: Exception) -> typer.Exit:
    """Print a contract or settings error as one clear line and exit with code 2."""
    console.print(f"[bold red]error:[/] {error}", highlight=False)
    return typer.Exit(code=2)


@app.command()
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
    from features.synthetic import simulate as run_simulation
    from features.synthetic import write_world

    with console.status(f"Simulating {leads:,} leads (seed {seed})"):
        world = run_simulation(leads, seed)
        paths = write_world(world, out)
    _print_world_summary(world.leads, world.activities, world.outcomes)
    for name, path in paths.items():
        console.print(f"  {name:<12} {path}")


@app.command()
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
    id_column: Annotated[
        str | None, typer.Option(help="Flat mode: the column holding the lead id.")
    ] = None,
) -> None:
    """Check an export against the data contract and summarise it.

    Event mode takes --leads with optional --activities and --outcomes; flat mode takes
    --leads with --label. Every problem is reported with its file, column and rows. Timestamps
    without a time zone are read as UTC. Columns recognised as personal data are listed by
    name only: they never become features.
    """
    from features.contract import ContractError, load_export, load_flat

    try:
        if label is not None:
            flat = load_flat(leads, label, id_column=id_column)
            console.print(
                f"flat export OK: {len(flat.leads):,} leads, label '{label}' positive rate "
                f"{flat.label.mean():.1%}, {len(flat.attribute_columns)} attribute columns"
            )
            personal, notes = flat.personal_data, flat.notes
        else:
            export = load_export(leads, activities, outcomes)
            _print_world_summary(export.leads, export.activities, export.outcomes)
            personal, notes = export.personal_data, export.notes
    except ContractError as error:
        raise _fail(error) from None
    if personal:
        console.print(f"personal data (never used as features): {', '.join(personal)}")
    for note in notes:
        console.print(f"note: {note}")


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Working folder for the demo.")] = Path("demo"),
    leads: Annotated[int, typer.Option("--leads", min=100, help="Leads to simulate.")] = 20_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 7,
) -> None:
    """The main job on the embedded default: simulate an export, then validate it as a user's.

    The synthetic export goes through the same loader and contract checks a real export does.
    """
    from features.contract import load_export
    from features.synthetic import simulate as run_simulation
    from features.synthetic import write_world

    console.rule("1. Simulate an MA export")
    with console.status(f"Simulating {leads:,} leads"):
        paths = write_world(run_simulation(leads, seed), out / "export")
    console.rule("2. Load it through the data contract")
    export = load_export(paths["leads"], paths["activities"], paths["outcomes"])
    _print_world_summary(export.leads, export.activities, export.outcomes)
    console.print(f"personal data (never used as features): {', '.join(export.personal_data)}")


def _print_world_summary(leads, activities, outcomes) -> None:  # type: ignore[no-untyped-def]
    from features import schema

    table = Table(title="Export", show_header=True)
    for column in ("leads", "activities", "SQL leads", "SQL rate", "first lead", "last lead"):
        table.add_column(column, justify="right")
    sql = int(outcomes[schema.SQL_AT].notna().sum()) if len(outcomes) else 0
    created = leads[schema.CREATED_AT]
    table.add_row(
        f"{len(leads):,}", f"{len(activities):,}", f"{sql:,}",
        f"{sql / max(len(leads), 1):.1%}", f"{created.min():%Y-%m-%d}", f"{created.max():%Y-%m-%d}",
    )  # fmt: skip
    console.print(table)
    if len(activities):
        counts = activities[schema.ACTIVITY_TYPE].value_counts().head(20)
        mix = Table(title="Activity mix", show_header=True)
        mix.add_column("activity_type")
        mix.add_column("count", justify="right")
        for name, count in counts.items():
            mix.add_row(str(name), f"{count:,}")
        console.print(mix)


if __name__ == "__main__":
    app()
