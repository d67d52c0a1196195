"""Shared by every command: the console, errors, option groups and printing helpers.

Why one module: seven commands read exports and must spell their options, help and errors
the same way.
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

console = Console(width=None if sys.stdout.isatty() else 110)
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

OptionalLeadsOption = Annotated[Path | None, typer.Option(help="Leads file (CSV or Parquet).")]
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
IdColumnOption = Annotated[
    str | None, typer.Option(help="Flat mode: the column holding the lead id.")
]
DropOption = Annotated[
    list[str] | None,
    typer.Option(
        help="Flat mode: a column to leave out (filled in after the outcome, say); repeat for "
        "several."
    ),
]
PositiveOption = Annotated[
    str | None,
    typer.Option(
        help="Flat mode: the label's value that means converted (Won, 受注), when the label is "
        "not 0/1, yes/no, true/false or a conversion date; every other value is 0."
    ),
]
NegativeOption = Annotated[
    list[str] | None,
    typer.Option(
        help="Flat mode, with --positive: a label value that means not converted (Lost, 失注); "
        "repeat for several. Leads of any other value (Open) are then undecided: scored, but "
        "not learnt from or judged on."
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
        list[str] | None,
        typer.Option(
            metavar="SHEET|TABLE=SHEET",
            help="Excel files: the sheet's name or 0-based position, for every file, or for one "
            "table's: --sheet activities=行動履歴 (repeat). Default: the one sheet named for the "
            "table (Leads, 行動履歴, 商談...), else the first.",
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
            "--column created_at=作成日時 (repeat); for one table's file alone, TABLE.COLUMN: "
            "--column activities.lead_id='Lead Id'.",
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
            help="A YAML file with the options above (encoding, sheet, sheets, time_zone, "
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
    from leadscore.features.reading import (
        ExportFormat,
        parse_column_options,
        parse_sheet_options,
    )

    given = (encoding, sheet, time_zone, date_format, column, source, export_format)
    if all(value is None for value in given):
        return None
    if source is not None and source not in preset_names():
        raise ValueError(f"--source {source!r}: choose one of {', '.join(preset_names())}")
    base = ExportFormat.load(export_format) if export_format else ExportFormat()
    every, own = parse_sheet_options(sheet or [])
    return base.with_options(
        encoding=encoding, sheet=every, sheets=own, time_zone=time_zone,
        date_format=date_format, columns=parse_column_options(column or []), source=source,
    )  # fmt: skip


def _flat_only(label: str | None, **options: object) -> None:
    """Flat-mode options without --label would be ignored without a word: refuse them."""
    given = [f"--{name.replace('_', '-')}" for name, value in options.items() if value]
    if label is None and given:
        raise typer.BadParameter(f"{', '.join(given)}: flat mode only; add --label COLUMN")


def _fail(error: Exception) -> typer.Exit | typer.BadParameter:
    """Print a contract or settings error as one clear line and exit with code 2.

    Options that name no export (or one that cannot be learnt from) are a usage mistake:
    they get the usage line, as a bad option value does.
    """
    sources = sys.modules.get("leadscore.features.sources")
    if sources is not None and isinstance(error, sources.SourceChoiceError):
        return typer.BadParameter(str(error))
    console.print("[bold red]error:[/]", end=" ")
    console.print(str(error), markup=False, highlight=False)
    return typer.Exit(code=2)


_USER_ERRORS: tuple[type[Exception], ...] = (ValueError, FileNotFoundError)


def _decided(line: str) -> None:
    """What a run decided on its own, one line each, so nothing happens without a word."""
    console.print(f"[cyan]decided:[/] {line}", highlight=False)


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
