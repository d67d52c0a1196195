"""The `leadscore` command line: the first manual a data scientist reads.

Each subcommand reads its options, builds typed objects and hands them to the package; heavy
imports happen inside the commands so that `leadscore --help` answers at once.
"""

from __future__ import annotations

import json
import sys
import tempfile
from importlib import resources
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
    rich_markup_mode="markdown",
)
console = Console(width=None if sys.stdout.isatty() else 110)
spec_app = typer.Typer(help="Write and check feature specs.", no_args_is_help=True)
features_app = typer.Typer(help="Build point-in-time training sets.", no_args_is_help=True)
app.add_typer(spec_app, name="spec")
app.add_typer(features_app, name="features")
rules_app = typer.Typer(
    help="Evaluate the points rulebook and suggest points from history.", no_args_is_help=True
)
app.add_typer(rules_app, name="rules")
DEFAULT_SPEC = Path(str(resources.files("leadscore.features") / "default_spec.yaml"))
DEFAULT_RULEBOOK = Path(str(resources.files("leadscore.training.model") / "default_rulebook.yaml"))
SpecOption = Annotated[Path, typer.Option(help="Feature spec (YAML).")]
RulebookOption = Annotated[
    Path,
    typer.Option(help="Points rulebook (YAML); its behaviour rules become features too."),
]
FittedSpecOption = Annotated[
    Path | None,
    typer.Option(
        help="Feature spec (YAML); default: the default spec when the export has every column "
        "and activity it names, else one inferred from the export (printed and saved)."
    ),
]
FittedRulebookOption = Annotated[
    Path | None,
    typer.Option(
        help="Points rulebook (YAML); default: the default rulebook's rules that fit the "
        "export, or, when none does, a rulebook suggested from history."
    ),
]
RecordedSpecOption = Annotated[
    Path | None,
    typer.Option(help="Feature spec; default: the one the training set was built with."),
]
RecordedRulebookOption = Annotated[
    Path | None,
    typer.Option(help="Points rulebook; default: the one the training set was built with."),
]
WarehouseOption = Annotated[
    Path | None,
    typer.Option(
        help="A DuckDB file with tables leads, activities, outcomes (instead of "
        "files), such as the one `leadscore simulate` writes."
    ),
]
TrainingSetOption = Annotated[
    Path, typer.Option(help="training_set.parquet written by `leadscore features build`.")
]

LeadsOption = Annotated[
    Path,
    typer.Option(
        "--leads", help="Leads file (CSV or Parquet): lead_id, created_at, attribute columns."
    ),
]


ActivitiesOption = Annotated[
    Path | None,
    typer.Option(help="Activities file: lead_id, occurred_at, activity_type, detail."),
]
OrderOption = Annotated[
    str | None,
    typer.Option(
        help="Flat mode without created_at: a column whose ascending order follows lead "
        "creation (a sequential lead number or a time); the out-of-time split follows it "
        "instead of file order, and it is never a feature."
    ),
]
OutcomesOption = Annotated[
    Path | None,
    typer.Option(
        help="Outcomes file: lead_id, sql_at (empty when never SQL), optional mql_at, "
        "first_contact_at, won_at."
    ),
]


# ------------------------------------------------------------------ how an export's files are read

_READING_OPTIONS: dict[str, tuple[object, object]] = {
    "encoding": (
        str | None,
        typer.Option(
            help="Text encoding of CSV files (utf-8, cp932, ...); default: detected (UTF-8, "
            "UTF-8 or UTF-16 with a byte-order mark, CP932/Shift_JIS).",
            rich_help_panel="Reading the export",
        ),
    ),
    "sheet": (
        str | None,
        typer.Option(
            help="Excel files: the sheet's name or 0-based position; default: the first.",
            rich_help_panel="Reading the export",
        ),
    ),
    "time_zone": (
        str | None,
        typer.Option(
            "--timezone", "--time-zone",
            help="The clock of times written without a zone (an IANA name such as "
            "Asia/Tokyo); an inferred spec reads the creation weekday and hour on it too. "
            "Default: UTC.",
            rich_help_panel="Reading the export",
        ),
    ),
    "date_format": (
        str | None,
        typer.Option(
            help="Read every time in this strptime form, such as '%d/%m/%Y %H:%M'; needed "
            "only when a column's day and month order is not settled by its values.",
            rich_help_panel="Reading the export",
        ),
    ),
    "column": (
        list[str] | None,
        typer.Option(
            metavar="CONTRACT=EXPORT",
            help="The export's name for a contract column: --column lead_id=リードID "
            "--column created_at=作成日時 (repeat).",
            rich_help_panel="Reading the export",
        ),
    ),
    "source": (
        str | None,
        typer.Option(
            help="The system the export came from (hubspot, marketo, salesforce): its "
            "documented column names are read as the contract's (see docs/en/presets.md).",
            rich_help_panel="Reading the export",
        ),
    ),
    "export_format": (
        Path | None,
        typer.Option(
            help="A YAML file with the options above (encoding, sheet, time_zone, "
            "date_format, columns, source), such as the export_format.yaml a training run "
            "writes; options given on the command line win.",
            rich_help_panel="Reading the export",
        ),
    ),
}  # fmt: skip


def _reads_exports(command):  # type: ignore[no-untyped-def]
    """Give a command the options that say how an export is written, as one ``fmt``.

    Why a decorator: seven commands read exports, and spelling seven options on each would
    let their help and defaults drift. The command declares ``fmt`` (an ExportFormat or
    None) as its last parameter; None means the user gave none of these options, so a
    command that has a remembered format (a model's) can use it.
    """
    import functools
    import inspect

    signature = inspect.signature(command, eval_str=True)
    kept = [p for p in signature.parameters.values() if p.name != "fmt"]
    added = [
        inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, default=None,
            annotation=Annotated[kind, option],  # type: ignore[valid-type]
        )
        for name, (kind, option) in _READING_OPTIONS.items()
    ]  # fmt: skip

    @functools.wraps(command)
    def run(*args, **kwargs):  # type: ignore[no-untyped-def]
        options = {name: kwargs.pop(name, None) for name in _READING_OPTIONS}
        try:
            fmt = _export_format(**options)
        except ValueError as error:
            raise _fail(error) from None
        return command(*args, fmt=fmt, **kwargs)

    run.__signature__ = signature.replace(parameters=kept + added)  # type: ignore[attr-defined]
    return run


def _export_format(  # type: ignore[no-untyped-def]
    encoding, sheet, time_zone, date_format, column, source, export_format
):
    """The ExportFormat the options describe; None when none was given."""
    from leadscore.features.presets import preset_names
    from leadscore.features.reading import ExportFormat, parse_column_options

    given = (encoding, sheet, time_zone, date_format, column, source, export_format)
    if all(value is None for value in given):
        return None
    if source is not None and source not in preset_names():
        raise ValueError(f"--source {source!r}: choose one of {', '.join(preset_names())}")
    base = ExportFormat.load(export_format) if export_format else ExportFormat()
    return base.with_options(
        encoding=encoding, sheet=sheet, time_zone=time_zone, date_format=date_format,
        columns=parse_column_options(column or []), source=source,
    )  # fmt: skip


def _flat_only(label: str | None, **options: object) -> None:
    """Flat-mode options without --label would be ignored without a word: refuse them."""
    given = [f"--{name.replace('_', '-')}" for name, value in options.items() if value]
    if label is None and given:
        raise typer.BadParameter(f"{', '.join(given)}: flat mode only; add --label COLUMN")


def _fail(error: Exception) -> typer.Exit:
    """Print a contract or settings error as one clear line and exit with code 2."""
    console.print("[bold red]error:[/]", end=" ")
    console.print(str(error), markup=False, highlight=False)
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
    from leadscore.features.synthetic import simulate as run_simulation
    from leadscore.features.synthetic import write_world

    with console.status(f"Simulating {leads:,} leads (seed {seed})"):
        world = run_simulation(leads, seed)
        paths = write_world(world, out)
    _print_world_summary(world.leads, world.activities, world.outcomes)
    for name, path in paths.items():
        console.print(f"  {name:<12} {path}")


@app.command()
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
    id_column: Annotated[
        str | None, typer.Option(help="Flat mode: the column holding the lead id.")
    ] = None,
    order_column: OrderOption = None,
    fmt=None,  # from @_reads_exports: an ExportFormat, or None when no option was given
) -> None:
    """Check an export against the data contract and summarise it.

    Event mode takes --leads with optional --activities and --outcomes; flat mode takes
    --leads with --label (and --order-column when there is no created_at). Every problem is
    reported with its file, column and rows. Timestamps without a time zone are read as UTC.
    Columns recognised as personal data are listed by name only: they never become features.
    """
    from leadscore.features.contract import ContractError, load_export, load_flat

    try:
        _flat_only(label, id_column=id_column, order_column=order_column)
        if label is not None:
            flat = load_flat(leads, label, id_column=id_column, order_column=order_column, fmt=fmt)
            console.print(
                f"flat export OK: {len(flat.leads):,} leads, label '{label}' positive rate "
                f"{flat.label.mean():.1%}, {len(flat.attribute_columns)} attribute columns"
            )
            personal, notes = flat.personal_data, flat.notes
        else:
            export = load_export(leads, activities, outcomes, fmt)
            _print_world_summary(export.leads, export.activities, export.outcomes)
            personal, notes = export.personal_data, export.notes
    except ContractError as error:
        raise _fail(error) from None
    if personal:
        console.print(f"personal data (never used as features): {', '.join(personal)}")
    for note in notes:
        console.print(f"note: {note}")


@spec_app.command("infer")
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
    order_column: OrderOption = None,
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
    from leadscore.features.contract import ContractError, load_export, load_flat
    from leadscore.features.infer import infer, spec_header
    from leadscore.features.spec import dump_spec

    try:
        _flat_only(label, order_column=order_column)
        if label is not None:
            flat = load_flat(leads, label, order_column=order_column, fmt=fmt)
            inference = infer(
                flat.leads, None, flat.personal_data, exclude=(label,),
                numbers=flat.number_columns, time_zone=_clock(fmt),
            )  # fmt: skip
        else:
            export = load_export(leads, activities, outcomes, fmt)
            inference = infer(
                export.leads, export.activities if activities else None, export.personal_data,
                numbers=export.number_columns, outcomes=export.outcomes if outcomes else None,
                time_zone=_clock(fmt),
            )  # fmt: skip
    except (ContractError, ValueError) as error:
        raise _fail(error) from None
    spec, skipped = inference.spec, inference.skipped
    out.parent.mkdir(parents=True, exist_ok=True)
    dump_spec(spec, out, header=spec_header(skipped, leads.name, inference.kept))
    console.print(
        f"wrote {out}: {len(spec.attributes)} attributes, {len(spec.signals)} signals, "
        f"{len(spec.feature_names())} features; left out {len(skipped)} (see its header)"
    )


@features_app.command("build")
@_reads_exports
def features_build(
    out: Annotated[
        Path, typer.Option("--out", help="Folder for training_set.parquet and profile.json.")
    ],
    leads: Annotated[Path | None, typer.Option(help="Leads file (CSV or Parquet).")] = None,
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
    from leadscore.features.training_set import SplitPlan

    try:
        plan = SplitPlan(validation_share, test_share)
        source = _source(leads, activities, outcomes, warehouse, threads, memory_limit, fmt)
        prepared = _prepare(source, out, spec, rulebook, plan=plan, as_of=as_of, fmt=fmt)
    except _USER_ERRORS as error:
        raise _fail(error) from None
    _print_profile(prepared.profile)
    console.print(f"training set: {prepared.training_set}")


_USER_ERRORS: tuple[type[Exception], ...] = (ValueError, FileNotFoundError)


def _source(  # type: ignore[no-untyped-def]
    leads: Path | None,
    activities: Path | None,
    outcomes: Path | None,
    warehouse: Path | None,
    threads: int | None = None,
    memory_limit: str | None = None,
    fmt=None,
):
    """The export named by --warehouse or by --leads (with --activities, --outcomes), its
    files read as ``fmt`` (an ExportFormat) says."""
    from leadscore.features.sources import from_files, from_warehouse

    if warehouse is not None:
        return from_warehouse(warehouse, threads, memory_limit)
    if leads is not None and outcomes is None:
        raise typer.BadParameter(
            "--outcomes is needed to learn from history (lead_id, sql_at); a one-table export "
            "with a label column trains with `leadscore train --leads F --label COLUMN`"
        )
    if leads is not None:
        return from_files(leads, activities, outcomes, threads, memory_limit, fmt)
    raise typer.BadParameter("give --leads (with --activities, --outcomes) or --warehouse")


def _prepare(  # type: ignore[no-untyped-def]
    source,
    out: Path,
    spec: Path | None,
    rulebook: Path | None,
    *,
    plan=None,
    as_of: str | None = None,
    target_mql_per_week: float | None = None,
    fmt=None,
):
    """Decide the spec and rulebook for the export, print why, and build the training set
    (with the export's format, ``fmt``, beside it)."""
    from leadscore.features import schema
    from leadscore.features.training_set import SplitPlan
    from leadscore.training.job.prepare import prepare_training_set, starting_point

    plan = plan or SplitPlan()
    start = starting_point(source, spec=spec, rulebook=rulebook, time_zone=_clock(fmt), plan=plan)
    _print_decisions(start.decisions)
    with _progress() as progress:
        task = progress.add_task("building", total=None)
        prepared = prepare_training_set(
            source, start, out, plan=plan,
            as_of=schema.utc_timestamp(as_of) if as_of else None,
            target_mql_per_week=target_mql_per_week,
            progress=lambda text: progress.update(task, description=text, advance=1),
        )  # fmt: skip
    _print_decisions(prepared.decisions[len(start.decisions) :])
    return prepared


def _clock(fmt) -> str:  # type: ignore[no-untyped-def]
    """The export's clock: the format's zone, UTC without one."""
    return fmt.time_zone if fmt is not None else "UTC"


def _print_decisions(decisions: tuple[str, ...] | list[str]) -> None:
    """What a run decided on its own, one line each, so nothing happens without a word."""
    for line in decisions:
        console.print(f"[cyan]decided:[/] {line}", highlight=False)


def _progress():  # type: ignore[no-untyped-def]
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description:<28}"), BarColumn(), TimeElapsedColumn(),
        console=console, transient=True,
    )  # fmt: skip


def _print_profile(profile: dict) -> None:
    table = Table(title=f"Training set (label: SQL within {profile['sql_within_days']} days)")
    for column in ("split", "rows", "leads", "label rate", "first cutoff", "last cutoff"):
        table.add_column(column, justify="right")
    order = ["train", "validation", "test", "gap", "unlabeled"]
    for name in sorted(profile["splits"], key=lambda s: order.index(s) if s in order else 9):
        split = profile["splits"][name]
        rate = "" if split["label_rate"] is None else f"{split['label_rate']:.2%}"
        table.add_row(
            name, f"{split['rows']:,}", f"{split['leads']:,}", rate,
            split["first_cutoff"][:10], split["last_cutoff"][:10],
        )  # fmt: skip
    console.print(table)


def _rule_inputs(  # type: ignore[no-untyped-def]
    training_set: Path | None,
    rulebook: Path | None,
    spec: Path | None,
    export: tuple[Path | None, Path | None, Path | None, Path | None],
    build_dir: Path,
    fmt=None,
):
    """(rulebook, spec, rows, historical MQLs a week) from a training set, or from an export
    built into ``build_dir``.

    A training set brings the spec and rulebook it was built with; an export gets the ones
    that fit it, decided and printed as `train` does.
    """
    import pandas as pd

    from leadscore.training.job.prepare import recorded_inputs

    if training_set is None:
        prepared = _prepare(_source(*export, fmt=fmt), build_dir, spec, rulebook, fmt=fmt)
        base, book = prepared.base_spec, prepared.rulebook
        rows = pd.read_parquet(prepared.training_set)
        return book, base, rows, prepared.historical_mql_per_week
    base, book, decisions = recorded_inputs(training_set, spec, rulebook)
    _print_decisions(decisions)
    return book, base, pd.read_parquet(training_set), None


def _print_metrics(title: str, metrics) -> None:  # type: ignore[no-untyped-def]
    table = Table(title=title)
    columns = {
        "mql_rows": ("MQL rows", "{:,.0f}"),
        "mql_per_week": ("MQL / week", "{:,.1f}"), "mql_to_sql_rate": ("MQL->SQL", "{:.2%}"),
        "sql_recall": ("SQL recall", "{:.1%}"), "auc_points": ("AUC of points", "{:.3f}"),
    }  # fmt: skip
    table.add_column("rulebook, period", no_wrap=True)
    for name, _ in columns.values():
        table.add_column(name, justify="right")
    for index, row in metrics.iterrows():
        table.add_row(str(index), *[fmt.format(row[key]) for key, (_, fmt) in columns.items()])
    console.print(table)


ExportTrainingSetOption = Annotated[
    Path | None,
    typer.Option(
        help="training_set.parquet written by `leadscore features build`; or give the export "
        "(--leads, --activities, --outcomes, or --warehouse) and one is built."
    ),
]


@rules_app.command("evaluate")
@_reads_exports
def rules_evaluate(
    training_set: ExportTrainingSetOption = None,
    rulebook: RecordedRulebookOption = None,
    spec: RecordedSpecOption = None,
    split: Annotated[
        str, typer.Option(help="Period to judge: train, validation, test, or all labelled rows.")
    ] = "test",
    start: Annotated[
        str | None, typer.Option("--from", help="Only cutoffs from this date (ISO 8601).")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Only cutoffs before this date.")] = None,
    leads: Annotated[Path | None, typer.Option(help="Leads file (CSV or Parquet).")] = None,
    activities: ActivitiesOption = None,
    outcomes: OutcomesOption = None,
    warehouse: WarehouseOption = None,
    fmt=None,  # from @_reads_exports: an ExportFormat, or None when no option was given
) -> None:
    """How the rulebook does over a period: MQL volume, MQL->SQL rate, SQL recall, AUC.

    Rows are the training set's cutoff snapshots with a known label. Rules that fire on no row
    (an activity type this export lacks, a misspelt level) are reported as warnings.
    """
    import pandas as pd

    from leadscore.features.offline import CUTOFF_AT, LABEL
    from leadscore.features.training_set import SPLIT
    from leadscore.training.job.rule_metrics import handoff_metrics
    from leadscore.training.model.rules import RuleScorer

    try:
        with tempfile.TemporaryDirectory(prefix="leadscore-") as build:
            book, base, rows, _ = _rule_inputs(
                training_set, rulebook, spec, (leads, activities, outcomes, warehouse), Path(build),
                fmt,
            )  # fmt: skip
        rows = rows[rows[LABEL].notna()]
        if split != "all":
            rows = rows[rows[SPLIT] == split]
        if start:
            rows = rows[rows[CUTOFF_AT] >= pd.Timestamp(start, tz="UTC")]
        if end:
            rows = rows[rows[CUTOFF_AT] < pd.Timestamp(end, tz="UTC")]
        if rows.empty:
            raise ValueError(f"no labelled rows in split '{split}' and the given dates")
        scorer = RuleScorer(book, base).fit(rows)
    except _USER_ERRORS as error:
        raise _fail(error) from None
    points = scorer.decision_function(rows)
    metrics = handoff_metrics(rows, points, scorer.predict(rows).astype(bool))
    _print_metrics(
        f"Rulebook on {split} ({rows[CUTOFF_AT].min():%Y-%m-%d} to "
        f"{rows[CUTOFF_AT].max():%Y-%m-%d}, SQL rate {metrics['sql_rate']:.2%})",
        pd.DataFrame([metrics], index=[rulebook.stem if rulebook else "rulebook"]),
    )
    _warn_unmatched(scorer.unmatched_rules(rows), "in this period")


def _warn_unmatched(names: list[str], where: str) -> None:
    """Rules that fire on no row: a typo or an activity this export lacks, said out loud."""
    for name in names:
        console.print(
            f"[yellow]warning:[/] rule '{name}' matches nothing {where} (an activity type or "
            "level this export does not have?)"
        )


@rules_app.command("suggest")
@_reads_exports
def rules_suggest(
    out: Annotated[Path, typer.Option("--out", help="Where to write the suggested rulebook.")],
    training_set: ExportTrainingSetOption = None,
    rulebook: RecordedRulebookOption = None,
    spec: RecordedSpecOption = None,
    from_scratch: Annotated[
        bool,
        typer.Option(
            "--from-scratch",
            help="Start from no rules at all, not from the current rulebook's rules.",
        ),
    ] = False,
    target_mql_per_week: Annotated[
        float | None,
        typer.Option(
            help="Hand-off volume the threshold aims at; default: the current rulebook's "
            "volume on the validation period, or the historical MQL volume, or the top 10% "
            "a week."
        ),
    ] = None,
    max_new_rules: Annotated[int, typer.Option(help="Most candidate rules to propose.")] = 8,
    leads: Annotated[Path | None, typer.Option(help="Leads file (CSV or Parquet).")] = None,
    activities: ActivitiesOption = None,
    outcomes: OutcomesOption = None,
    warehouse: WarehouseOption = None,
    fmt=None,  # from @_reads_exports: an ExportFormat, or None when no option was given
) -> None:
    """Propose points for every rule, new rules and instant passes, from history.

    Works from any rulebook, an empty one included: attribute levels and activities (with
    their detail patterns) that history says matter become rules with points, negative
    where history says so; an activity whose SQL rate is far above the rest (an inquiry or a
    demo form) becomes an instant pass. Fits on the train period, tunes on validation,
    reports on the untouched test period. Writes the suggested rulebook (YAML), the evidence
    per rule (how often it fires, SQL rate when it fires and when not, lift) as CSV, and a
    diff against the current rulebook.
    """
    from leadscore.training.job.prepare import suggest_from, write_suggestion
    from leadscore.training.job.suggest import empty_rulebook
    from leadscore.training.model.rules import RuleScorer

    export = (leads, activities, outcomes, warehouse)
    try:
        with tempfile.TemporaryDirectory(prefix="leadscore-") as build:
            book, base, rows, mql_rate = _rule_inputs(
                training_set, rulebook, spec, export, Path(build), fmt
            )
        if from_scratch:
            book = empty_rulebook()
        unmatched = RuleScorer(book, base).fit(rows).unmatched_rules(rows)
        result = suggest_from(
            book, base, rows, target_mql_per_week=target_mql_per_week,
            historical_mql_per_week=mql_rate, max_new_rules=max_new_rules,
        )  # fmt: skip
    except _USER_ERRORS as error:
        raise _fail(error) from None
    written = write_suggestion(result, out, str(training_set or leads or warehouse))
    _print_metrics("Current vs suggested rulebook", result.metrics)
    _warn_unmatched(unmatched, "in the history, so no points can be learnt for it")
    console.print(
        f"wrote {out} ({len(result.rulebook.rules)} rules, "
        f"{len(result.rulebook.instant_pass)} instant passes, threshold "
        f"{result.rulebook.mql_threshold:g} for {result.volume_rule}), "
        + ", ".join(str(p) for p in written[1:])
    )


TrackingOption = Annotated[
    str | None,
    typer.Option(help="MLflow tracking URI; default: a SQLite database mlflow.db in --out."),
]


@app.command()
@_reads_exports
def train(
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Folder for the training set, the model "
            "directory (OUT/model) and the MLflow store.",
        ),
    ],
    leads: Annotated[Path | None, typer.Option(help="Leads file (CSV or Parquet).")] = None,
    activities: ActivitiesOption = None,
    outcomes: OutcomesOption = None,
    warehouse: Annotated[
        Path | None, typer.Option(help="A DuckDB file with leads, activities and outcomes.")
    ] = None,
    label: Annotated[
        str | None,
        typer.Option(help="Flat mode: the 0/1 label column of --leads (the spec is inferred)."),
    ] = None,
    id_column: Annotated[str | None, typer.Option(help="Flat mode: the lead id column.")] = None,
    order_column: OrderOption = None,
    drop: Annotated[
        list[str] | None,
        typer.Option(
            help="Flat mode: a column to leave out (filled in after the outcome, say); "
            "repeat for several."
        ),
    ] = None,
    spec: Annotated[
        Path | None,
        typer.Option(
            help="Feature spec (YAML); default in event mode: the default spec when the export "
            "has every column and activity it names, else one inferred from the export; in "
            "flat mode: inferred."
        ),
    ] = None,
    rulebook: Annotated[
        Path | None,
        typer.Option(
            help="Points rulebook; default in event mode: the default rulebook's rules that "
            "fit the export, or a rulebook suggested from history when none does; in flat "
            "mode: none."
        ),
    ] = None,
    training_set: Annotated[
        Path | None,
        typer.Option(
            help="Event mode: reuse a training_set.parquet from `features build` (with the "
            "spec and rulebook it was built with) instead of building one."
        ),
    ] = None,
    tracking_uri: TrackingOption = None,
    no_refit: Annotated[
        bool,
        typer.Option(
            "--no-refit",
            help="Ship the model fitted on the train period only, instead of the same "
            "configuration refit on all labelled history after the test period judged it.",
        ),
    ] = False,
    fmt=None,  # from @_reads_exports: an ExportFormat, or None when no option was given
) -> None:
    """Train the lead scorer and log it to MLflow as model `lead-scorer`, alias `challenger`.

    Event mode (--leads, --activities, --outcomes or --warehouse) builds the point-in-time
    training set first; flat mode (--leads with --label) infers a spec from the attributes and
    splits by created_at (or by --order-column, or else file order, when there is none).
    Logistic regression and LightGBM are searched on the train period and chosen on
    validation, the combiner is fitted on validation, and all figures come from the
    untouched test period.
    """
    from leadscore.features.contract import ContractError
    from leadscore.features.spec import SpecError, load_spec
    from leadscore.training.job.flat import prepare_flat_training
    from leadscore.training.job.prepare import read_profile, recorded_inputs
    from leadscore.training.job.run import run_training
    from leadscore.training.job.tracking import default_tracking_uri
    from leadscore.training.model.rulebook import RulebookError, compile_rules, load_rulebook

    out.mkdir(parents=True, exist_ok=True)
    try:
        _flat_only(label, id_column=id_column, order_column=order_column, drop=drop)
        flat_shape, mql_per_week, learned_until = None, None, None
        if label is not None:
            if leads is None:
                raise typer.BadParameter("flat mode needs --leads with --label")
            flat = prepare_flat_training(
                leads, label, out / "training", id_column=id_column, order_column=order_column,
                drop=drop or (), spec=load_spec(spec) if spec else None,
                rulebook=load_rulebook(rulebook) if rulebook else None, fmt=fmt,
            )  # fmt: skip
            training_set, feature_spec, book = flat.training_set, flat.spec, flat.rulebook
            profile, mode, flat_shape, decisions = None, "flat", flat.shape, ()
        else:
            if training_set is None:
                source = _source(leads, activities, outcomes, warehouse, fmt=fmt)
                prepared = _prepare(source, out / "training", spec, rulebook, fmt=fmt)
                training_set, feature_spec, book = (
                    prepared.training_set, prepared.spec, prepared.rulebook
                )  # fmt: skip
                profile, decisions = prepared.profile, prepared.decisions
                mql_per_week = prepared.historical_mql_per_week
                learned_until = prepared.rules_learned_until
            else:
                base, book, decisions = recorded_inputs(training_set, spec, rulebook)
                fmt = fmt or _format_beside(training_set)
                _print_decisions(decisions)
                feature_spec = compile_rules(book, base)
                profile = read_profile(training_set)
            mode = "event"
        with console.status("Training: logistic and LightGBM candidates, combiner, MLflow"):
            result = run_training(
                training_set, feature_spec, book, out, profile=profile, data_mode=mode,
                flat_shape=flat_shape, tracking_uri=tracking_uri or default_tracking_uri(out),
                decisions=decisions, mql_per_week=mql_per_week,
                rules_learned_until=learned_until, refit=not no_refit, export_format=fmt,
            )  # fmt: skip
    except (ContractError, SpecError, RulebookError, ValueError, FileNotFoundError) as error:
        raise _fail(error) from None
    table = Table(title="Out-of-time test period")
    table.caption = "95% interval: bootstrap of roc_auc over test leads, 1,000 resamples"
    columns = ("pr_auc", "log_loss", "brier", "ece", "sql_capture_top_10pct")
    table.add_column("model")
    table.add_column("roc_auc", justify="right")
    table.add_column("95% interval", justify="right")
    for column in columns:
        table.add_column(column, justify="right")
    shipped = result["shipped_layer"]
    for name, row in result["metrics"].iterrows():
        label = f"shipped ({shipped})" if name == "combined" and shipped != "combined" else name
        interval = f"{row['roc_auc_low']:.2f}-{row['roc_auc_high']:.2f}"
        table.add_row(
            str(label), f"{row['roc_auc']:.3f}", interval, *[f"{row[c]:.4f}" for c in columns]
        )
    console.print(table)
    for note in result["notes"]:
        console.print(note, highlight=False)
    console.print(
        f"model directory {result['model_dir']}; MLflow run {result['run_id']}; "
        f"registered lead-scorer version {result['model_version']} as challenger; "
        f"fitted in {result['fit_seconds']:.0f} s"
    )


@app.command()
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


def _format_beside(training_set: Path):  # type: ignore[no-untyped-def]
    """The export format `features build` wrote beside a training set, or None."""
    from leadscore.features.reading import ExportFormat

    path = Path(training_set).parent / ExportFormat.FILE_NAME
    return ExportFormat.load(path) if path.exists() else None


def _remembered_format(scorer, given):  # type: ignore[no-untyped-def]
    """The format the model's export was read with (its next file is written the same way),
    with the options the user gave on top of it; the default for a model of a default
    export."""
    from leadscore.features.reading import ExportFormat

    remembered = ExportFormat.from_metadata(scorer.metadata)
    if given is None or remembered is None:
        return given or remembered or ExportFormat()
    default = ExportFormat().as_dict()
    changed = {k: v for k, v in given.as_dict().items() if v != default[k]}
    return remembered.with_options(**changed)


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


@app.command()
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


@app.command("tune-threshold")
def tune_threshold(
    model: Annotated[Path, typer.Option(help="Model directory written by `leadscore train`.")],
    capacity: Annotated[
        str, typer.Option(help="Follow-ups sales can make: 200/week, 40/day or 5x40/week.")
    ],
    sla_hours: Annotated[float, typer.Option(help="First contact within this many hours.")] = 24.0,
    segment: Annotated[
        str | None, typer.Option(help="Split capacity by this attribute (e.g. region).")
    ] = None,
    segment_capacity: Annotated[
        list[str] | None,
        typer.Option(
            help="LEVEL=N/week for one segment level; repeat for every level, or give "
            "'*=N/week' for the levels not named."
        ),
    ] = None,
    training_set: Annotated[
        Path | None, typer.Option(help="Training set; default: the one the model was trained on.")
    ] = None,
    response_half_life_hours: Annotated[
        float | None,
        typer.Option(
            help="Hours of extra waiting for first contact that halve a lead's chance of "
            "becoming SQL. Default: estimated from --outcomes, else 72."
        ),
    ] = None,
    outcomes: Annotated[
        Path | None,
        typer.Option(
            help="Outcomes file with mql_at and first_contact_at: estimates the half-life from "
            "how the SQL rate falls with follow-up delay."
        ),
    ] = None,
    deal_value: Annotated[
        str | None,
        typer.Option(
            help="Attribute holding a lead's deal value (e.g. annual_revenue_musd): thresholds "
            "then maximise expected pipeline value instead of expected SQLs."
        ),
    ] = None,
    level_value: Annotated[
        list[str] | None,
        typer.Option(
            help="LEVEL=AMOUNT: the deal value of one level of a categorical --deal-value "
            "attribute; repeat for every level, or give '*=AMOUNT' for the rest."
        ),
    ] = None,
) -> None:
    """Set the hand-off thresholds from sales capacity, without retraining.

    Hand-offs queue for sales, first come first served, at the weekly capacity; every hour a
    lead waits beyond its usual follow-up halves its chance by the response half-life. Chooses
    the thresholds (per segment) that give the most expected SQLs (or pipeline value) after
    that wait, instant passes first; replays the out-of-time test weeks against the rulebook
    threshold and plain top-K per week; prints the capacity curve. The new policy, with the
    delay model it used, is written into the model directory (earlier ones kept under
    policies/) and to the MLflow run.
    """
    from leadscore.features.contract import ContractError
    from leadscore.training.job.capacity import Capacity, CapacityError, DealValue, parse_capacity
    from leadscore.training.job.capacity import tune_threshold as tune
    from leadscore.training.job.response_delay import (
        ResponseDelay,
        ResponseDelayError,
        estimate_response_delay,
        read_outcome_times,
    )

    def pairs(items: list[str] | None, option: str, form: str) -> dict[str, str]:
        parsed = {}
        for item in items or []:
            level, _, amount = item.partition("=")
            if not amount.strip():
                raise CapacityError(f"{option} {item!r}: write it as {form}")
            parsed[level.strip().lower()] = amount.strip()
        return parsed

    try:
        per_segment = {
            level: parse_capacity(amount)
            for level, amount in pairs(segment_capacity, "--segment-capacity", "LEVEL=N/week")
        }
        if per_segment and not segment:
            raise CapacityError("--segment-capacity needs --segment")
        settings = Capacity(parse_capacity(capacity), sla_hours, segment, per_segment)
        if response_half_life_hours is not None:
            delay = ResponseDelay(response_half_life_hours, "configured")
        elif outcomes is not None:
            delay = estimate_response_delay(read_outcome_times(outcomes))
        else:
            delay = ResponseDelay()
        per_level = {}
        for level, amount in pairs(level_value, "--level-value", "LEVEL=AMOUNT").items():
            try:
                per_level[level] = float(amount)
            except ValueError:
                raise CapacityError(
                    f"--level-value {level}={amount}: AMOUNT must be a number"
                ) from None
        if per_level and not deal_value:
            raise CapacityError("--level-value needs --deal-value (the attribute it prices)")
        value = DealValue(deal_value, per_level) if deal_value else None
        result = tune(model, settings, training_set, delay=delay, deal_value=value)
    except (CapacityError, ResponseDelayError, ContractError, FileNotFoundError) as error:
        raise _fail(error) from None
    policy = result["policy"]
    expected = policy.expected
    half_life = policy.response_delay["half_life_hours"]
    console.print(
        f"policy v{policy.version} ({policy.objective}): thresholds "
        + ", ".join(f"{k}={v:.4g}" for k, v in policy.thresholds.items())
        + f"; expected {expected['handoffs_per_week']:.0f} hand-offs, "
        f"{expected['sqls_per_week']:.1f} SQLs and {expected['sla_breaches_per_week']:.1f} SLA "
        f"breaches a week; response half-life "
        + (f"{half_life:.0f} h" if half_life else "none")
        + f" ({policy.response_delay['source']})"
    )
    valued = "pipeline_value_per_week" in result["backtest"].columns
    backtest = Table(title="Out-of-time backtest, per week, through the sales queue")
    columns = ["policy", "hand-offs", "SQLs", "MQL->SQL", "SLA breaches", "mean wait h"]
    for column in columns + ["value"] * valued:
        backtest.add_column(column, justify="right")
    for name, row in result["backtest"].iterrows():
        backtest.add_row(
            str(name), f"{row['handoffs_per_week']:.1f}", f"{row['sqls_per_week']:.2f}",
            f"{row['mql_to_sql_rate']:.2%}", f"{row['sla_breaches_per_week']:.1f}",
            f"{row['mean_wait_hours']:.0f}",
            *([f"{row['pipeline_value_per_week']:,.0f}"] if valued else []),
        )  # fmt: skip
    console.print(backtest)
    rulebook = result["backtest"].loc["rulebook threshold"]
    matched = result["backtest"].loc["policy, volume matched on test"]
    for how, suffix in (("through the queue", ""), ("at usual follow-up", "_without_queue")):
        rate, sqls = f"mql_to_sql_rate{suffix}", f"sqls_per_week{suffix}"
        console.print(
            f"at the rulebook's {rulebook['handoffs_per_week']:.1f} hand-offs a week, {how}: "
            f"MQL->SQL {matched[rate]:.2%} vs {rulebook[rate]:.2%} "
            f"(x{matched[rate] / max(rulebook[rate], 1e-12):.2f}), SQLs a week "
            f"{matched[sqls]:.2f} vs {rulebook[sqls]:.2f} "
            f"(x{matched[sqls] / max(rulebook[sqls], 1e-12):.2f})"
        )
    curve = Table(title=f"Capacity curve (validation period, capacity {settings.per_week:g}/week)")
    columns = ["hand-offs / week", "SQLs / week", "MQL->SQL", "SLA breaches / week"]
    for column in columns + ["value / week"] * valued:
        curve.add_column(column, justify="right")
    for row in result["curve"].to_dict("records"):
        curve.add_row(
            f"{row['handoffs_per_week']:.1f}", f"{row['expected_sqls_per_week']:.2f}",
            f"{row['expected_mql_to_sql_rate']:.2%}", f"{row['sla_breaches_per_week']:.1f}",
            *([f"{row['expected_value_per_week']:,.0f}"] if valued else []),
        )  # fmt: skip
    console.print(curve)


@app.command()
def promote(
    version: Annotated[
        str | None, typer.Option(help="Model version to promote; default: the challenger.")
    ] = None,
    tracking_uri: Annotated[
        str, typer.Option(help="MLflow tracking URI of the registry.")
    ] = "sqlite:///demo/mlflow.db",
    alias: Annotated[str, typer.Option(help="Alias to move.")] = "champion",
) -> None:
    """Move the `champion` alias of the registered model `lead-scorer` (serving loads it)."""
    from mlflow.exceptions import MlflowException

    from leadscore.training.job.tracking import promote as move_alias

    try:
        chosen = move_alias(tracking_uri, version, alias)
    except MlflowException as error:
        raise _fail(error) from None
    console.print(f"lead-scorer version {chosen} is now {alias}")


@app.command()
def serve(
    model: Annotated[
        str,
        typer.Option(
            help="Model directory written by `leadscore train`, or a registry URI such as "
            "models:/lead-scorer@champion (with --tracking-uri)."
        ),
    ],
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 3000,
    host: Annotated[str, typer.Option(help="Address to bind; 0.0.0.0 for all.")] = "127.0.0.1",
    workers: Annotated[int, typer.Option(min=1, help="Worker processes (one per core).")] = 1,
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow tracking URI, for a models:/ URI.")
    ] = None,
    start_timeout: Annotated[
        float,
        typer.Option(min=1, help="Seconds to wait for the server to answer /readyz at start."),
    ] = 120.0,
) -> None:
    """Serve scores over HTTP for MA systems (BentoML): POST /score and /score_batch.

    Checks the model first and refuses to start, with the reason, when it is missing or
    corrupt; a server that cannot start (port in use, workers failing) ends with the reason
    and a non-zero exit. Set LEADSCORE_API_KEY to require `Authorization: Bearer <key>`, and
    LEADSCORE_WEBHOOK_SECRET to accept HMAC-SHA256 signed webhooks; LEADSCORE_MAX_BATCH caps
    /score_batch (default 1,000). A policy re-tuned with `leadscore tune-threshold` is picked up
    within seconds, without a restart. Stop with Ctrl+C or SIGTERM (systemd, `docker stop`):
    the server and its workers stop with it.
    """
    from leadscore.serving.server import (
        ServerFailed,
        StopSignals,
        check_model,
        exit_as_stopped_by,
        local_url,
        model_location,
        serve_until_stopped,
        start_server,
        stop_server,
        tracking_location,
        wait_ready,
    )
    from leadscore.training.model.artifact import ModelDirectoryError

    errors = Console(stderr=True, width=None if sys.stderr.isatty() else 110)

    def refuse(message: str, code: int) -> typer.Exit:
        errors.print("[bold red]error:[/]", end=" ")
        errors.print(message, markup=False, highlight=False, soft_wrap=True)
        return typer.Exit(code=code)

    tracking_uri = tracking_location(tracking_uri)
    try:
        handle = check_model(model_location(model), tracking_uri)
    except ModelDirectoryError as error:
        raise refuse(str(error), 2) from None
    with StopSignals() as stops:
        server = start_server(
            str(handle.directory), port=port, host=host, workers=workers,
            tracking_uri=tracking_uri, echo=sys.stderr.buffer,
        )  # fmt: skip
        stops.attach(server)
        try:
            wait_ready(local_url(host, port), server, timeout=start_timeout)
        except ServerFailed as failure:
            stop_server(server)
            if stops.received is None:
                raise refuse(f"the server did not start: {failure}", 1) from None
        if stops.received is None:
            console.print(
                f"serving model version {handle.model_version} from {handle.directory} on "
                f"{local_url(host, port)} (docs at /, scores at POST /score)"
            )
        code = serve_until_stopped(server, stops)
    if stops.received is not None:
        console.print("server stopped")
        exit_as_stopped_by(stops.received)
    raise refuse(f"the server stopped by itself with code {code}", code if code > 0 else 1)


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Working folder for the demo.")] = Path("demo"),
    leads: Annotated[int, typer.Option("--leads", min=500, help="Leads to simulate.")] = 20_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 7,
    capacity: Annotated[
        str, typer.Option(help="Sales follow-up capacity for the hand-off policy.")
    ] = "100/week",
    serve_scores: Annotated[
        bool,
        typer.Option(
            "--serve/--no-serve",
            help="End by serving the model over HTTP; in a terminal it keeps serving until "
            "Ctrl+C, otherwise it stops after one scored call.",
        ),
    ] = True,
    port: Annotated[int, typer.Option(help="Port for the scoring service.")] = 3000,
) -> None:
    """The main job on the embedded default, end to end on a synthetic MA export.

    Runs the same commands a data scientist would, in order: simulate an export (Parquet and an
    embedded DuckDB warehouse), check it against the data contract as a user's export would be,
    build the point-in-time training set with the default feature spec and rulebook, judge the
    default rulebook on the out-of-time test period, propose points from history, train and
    register the scorer, set the hand-off thresholds from sales capacity, score every lead
    with its reasons, and serve the model to MA systems over HTTP.
    """
    export = out / "export"
    training = out / "training"
    console.rule("1. Simulate an MA export")
    simulate(out=export, leads=leads, seed=seed)
    console.rule("2. Check it against the data contract")
    validate(
        leads=export / "leads.parquet", activities=export / "activities.parquet",
        outcomes=export / "outcomes.parquet",
    )  # fmt: skip
    console.rule("3. Build the point-in-time training set")
    features_build(
        out=training, warehouse=export / "world.duckdb", leads=None, activities=None,
        outcomes=None, spec=DEFAULT_SPEC, rulebook=DEFAULT_RULEBOOK, as_of=None,
        validation_share=0.2, test_share=0.2, threads=None, memory_limit=None,
    )  # fmt: skip
    console.rule("4. The points rulebook on the out-of-time test period")
    training_set = training / "training_set.parquet"
    rules_evaluate(
        training_set=training_set, rulebook=DEFAULT_RULEBOOK, spec=DEFAULT_SPEC, split="test",
        start=None, end=None,
    )  # fmt: skip
    console.rule("5. Points suggested from history")
    rules_suggest(
        training_set=training_set, out=out / "rulebook_suggested.yaml",
        rulebook=DEFAULT_RULEBOOK, spec=DEFAULT_SPEC, target_mql_per_week=None,
        max_new_rules=8,
    )  # fmt: skip
    console.rule("6. Train the scorer (MLflow run, registered as lead-scorer@challenger)")
    tracking = f"sqlite:///{(out / 'mlflow.db').resolve()}"
    train(
        out=out, leads=None, activities=None, outcomes=None, warehouse=None, label=None,
        id_column=None, drop=None, spec=DEFAULT_SPEC, rulebook=DEFAULT_RULEBOOK,
        training_set=training_set, tracking_uri=tracking,
    )  # fmt: skip
    promote(version=None, tracking_uri=tracking, alias="champion")
    console.rule(f"7. Hand-off thresholds from sales capacity ({capacity})")
    tune_threshold(
        model=out / "model", capacity=capacity, sla_hours=24.0, segment=None,
        segment_capacity=None, training_set=training_set, response_half_life_hours=None,
        outcomes=export / "outcomes.parquet", deal_value=None, level_value=None,
    )  # fmt: skip
    console.rule("8. Score every lead as of the export's end")
    scores = out / "scores.csv"
    score(
        model=out / "model", leads=export / "leads.parquet", output=scores,
        activities=export / "activities.parquet", as_of=None, lang="en",
    )  # fmt: skip
    _print_top_leads(scores)
    console.print(f"MLflow UI on this run: make mlflow-ui (store {tracking})")
    if serve_scores:
        console.rule(f"9. Serve scores to MA systems on http://127.0.0.1:{port}")
        _serve_demo(out, export, scores, port)


def _serve_demo(out: Path, export: Path, scores: Path, port: int) -> None:
    """Start the service and score the top lead over HTTP as an MA webhook would; in a
    terminal, keep serving until Ctrl+C (or SIGTERM), otherwise stop and say so."""
    import pandas as pd

    from leadscore.features.schema import LEAD_ID
    from leadscore.serving.client import ScoringClient, lead_payload
    from leadscore.serving.server import (
        ServerFailed,
        StopSignals,
        serve_until_stopped,
        start_server,
        stop_server,
        wait_ready,
    )

    url, log = f"http://127.0.0.1:{port}", out / "server.log"
    with StopSignals() as stops:
        server = start_server(str(out / "model"), port=port, log=log)
        stops.attach(server)
        try:
            wait_ready(url, server, timeout=180)
            top = pd.read_csv(scores).sort_values("p_sql", ascending=False).iloc[0]
            leads = pd.read_parquet(export / "leads.parquet")
            activities = pd.read_parquet(export / "activities.parquet")
            body = lead_payload(
                leads[leads[LEAD_ID] == top[LEAD_ID]].iloc[0].to_dict(),
                activities[activities[LEAD_ID] == top[LEAD_ID]],
                as_of=top["as_of"], lang="ja",
            )  # fmt: skip
            answer = ScoringClient(url).score(body)
            console.print(
                f"POST {url}/score for lead {answer['lead_id']}: score {answer['score']}, "
                f"tier {answer['tier']}, {answer['decision']} (p_sql {answer['p_sql']:.1%})"
            )
            for reason in answer["reasons"]["positive"]:
                console.print(f"  + {reason['text']}", highlight=False)
            if sys.stdin.isatty() and stops.received is None:
                console.print(f"API docs: {url}/   metadata: {url}/metadata   log: {log}")
                console.print("serving; Ctrl+C stops it")
                serve_until_stopped(server, stops)
        except ServerFailed as failure:
            if stops.received is None:
                console.print("[bold red]error:[/]", end=" ")
                console.print(f"the scoring service did not start: {failure}", markup=False)
                raise typer.Exit(code=1) from None
        except Exception:
            if stops.received is None:
                raise  # a stop request cuts the call short; anything else is a fault
        finally:
            stop_server(server)
    console.print(
        f"server stopped; serve the model again with `leadscore serve --model {out / 'model'}` "
        f"(its log: {log})"
    )


def _print_top_leads(scores: Path, count: int = 10) -> None:
    import pandas as pd

    ranked = pd.read_csv(scores).sort_values("p_sql", ascending=False).head(count)
    table = Table(title=f"Top {count} leads, with their reasons", show_lines=True)
    for column, justify in (("lead_id", "right"), ("p_sql", "right"), ("score", "right"),
                            ("tier", "center"), ("grade", "center"), ("why", "left")):  # fmt: skip
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for row in ranked.itertuples(index=False):
        table.add_row(
            str(row.lead_id), f"{row.p_sql:.1%}", str(row.score), row.tier, row.grade,
            row.reasons.replace(" / ", "\n"),
        )  # fmt: skip
    console.print(table)


def _print_world_summary(leads, activities, outcomes) -> None:  # type: ignore[no-untyped-def]
    from leadscore.features import schema

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
