"""Where an export comes from: files (validated by the contract) or an embedded DuckDB warehouse.

A warehouse table is already typed, so its contract check is a handful of SQL counts instead of
a pass through pandas: that keeps a 50M-activity export out of Python memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import ibis
import ibis.expr.types as ir

from leadscore.features import schema
from leadscore.features.contract import ContractError, empty_activities, load_export
from leadscore.features.offline import connect, register
from leadscore.features.personal_data import personal_data_columns
from leadscore.features.reading import ExportFormat

TABLES = ("leads", "activities", "outcomes")


@dataclass(frozen=True)
class Source:
    """An export as backend tables, ready for the feature builder."""

    con: ibis.BaseBackend
    leads: ir.Table
    activities: ir.Table
    outcomes: ir.Table
    personal_data: tuple[str, ...]
    notes: tuple[str, ...] = ()
    number_columns: tuple[str, ...] = ()  # CSV lead columns holding only numbers (Table.numbers)
    export_format: ExportFormat | None = None  # how its files were written (None: the default)


def from_files(
    leads: Path,
    activities: Path | None,
    outcomes: Path | None,
    threads: int | None = None,
    memory_limit: str | None = None,
    fmt: ExportFormat | None = None,
) -> Source:
    """Validate CSV, Excel or Parquet files with the data contract (read as ``fmt`` says)
    and load them into in-memory DuckDB."""
    export = load_export(leads, activities, outcomes, fmt)
    con = connect(threads=threads, memory_limit=memory_limit)
    activity_frame = (
        export.activities
        if len(export.activities)
        else empty_activities(export.leads[schema.LEAD_ID].dtype)
    )
    return Source(
        con,
        register(con, "leads", export.leads),
        register(con, "activities", activity_frame),
        register(con, "outcomes", export.outcomes),
        export.personal_data,
        export.notes,
        export.number_columns,
        None if fmt is None or fmt.is_default else fmt,
    )


class SourceChoiceError(ValueError):
    """The options name no export, or one that cannot be learnt from: a usage mistake, which
    the command line reports with its usage line."""


@dataclass(frozen=True)
class ExportPaths:
    """Where an export to learn from lies: a DuckDB ``warehouse``, or a ``leads`` file with its
    ``activities`` and ``outcomes`` (read as ``fmt`` says); DuckDB's ``threads`` and
    ``memory_limit`` for the build."""

    leads: Path | None = None
    activities: Path | None = None
    outcomes: Path | None = None
    warehouse: Path | None = None
    threads: int | None = None
    memory_limit: str | None = None
    fmt: ExportFormat | None = None

    def open(self) -> Source:
        """The export as a :class:`Source`, checked by the contract.

        Why here: four commands take the same choice, and each must refuse a leads file
        without outcomes the same way (it has nothing to learn from) and point to flat mode.
        """
        if self.warehouse is not None:
            return from_warehouse(self.warehouse, self.threads, self.memory_limit)
        if self.leads is not None and self.outcomes is None:
            raise SourceChoiceError(
                "--outcomes is needed to learn from history (lead_id, sql_at); a one-table "
                "export with a label column trains with `leadscore train --leads F --label "
                "COLUMN`"
            )
        if self.leads is not None:
            return from_files(
                self.leads, self.activities, self.outcomes, self.threads, self.memory_limit,
                self.fmt,
            )  # fmt: skip
        raise SourceChoiceError("give --leads (with --activities, --outcomes) or --warehouse")

    @property
    def time_zone(self) -> str:
        """The export's clock: the format's zone, UTC without one."""
        return self.fmt.time_zone if self.fmt is not None else "UTC"


def from_warehouse(
    database: Path, threads: int | None = None, memory_limit: str | None = None
) -> Source:
    """Open leads, activities and outcomes tables of a DuckDB file and check their contract."""
    if not database.exists():
        raise ContractError("warehouse file not found", source=str(database))
    con = connect(database, threads=threads, memory_limit=memory_limit)
    missing = [t for t in TABLES if t not in con.list_tables()]
    if missing:
        raise ContractError(
            f"missing table(s) {', '.join(missing)}", source=database.name,
            expected="tables leads, activities and outcomes",
        )  # fmt: skip
    leads, activities, outcomes = (con.table(t) for t in TABLES)
    _check_columns(database.name, leads, activities, outcomes)
    _check_counts(database.name, leads, activities, outcomes)
    sample = leads.limit(200).execute()
    return Source(con, leads, activities, outcomes, tuple(personal_data_columns(sample)))


def _check_columns(source: str, leads: ir.Table, activities: ir.Table, outcomes: ir.Table) -> None:
    for name, table, required in (
        ("leads", leads, schema.LEAD_REQUIRED),
        ("activities", activities, (*schema.ACTIVITY_REQUIRED, schema.DETAIL)),
        ("outcomes", outcomes, schema.OUTCOME_REQUIRED),
    ):
        for column in required:
            if column not in table.columns:
                raise ContractError(
                    f"missing required column '{column}'", source=f"{source}:{name}",
                    expected=f"columns {', '.join(required)}",
                )  # fmt: skip


def _check_counts(source: str, leads: ir.Table, activities: ir.Table, outcomes: ir.Table) -> None:
    duplicates = (leads.count() - leads[schema.LEAD_ID].nunique()).execute()
    if duplicates:
        raise ContractError(
            f"duplicate lead_id ({duplicates:,} extra rows)", source=f"{source}:leads",
            column=schema.LEAD_ID, expected="each lead exactly once",
        )  # fmt: skip
    for name, table in (("activities", activities), ("outcomes", outcomes)):
        unknown = table.anti_join(leads, schema.LEAD_ID).count().execute()
        if unknown:
            raise ContractError(
                f"{unknown:,} rows of unknown leads", source=f"{source}:{name}",
                column=schema.LEAD_ID, expected="a lead_id that appears in leads",
            )  # fmt: skip
    for name, table, column in (
        ("leads", leads, schema.CREATED_AT),
        ("activities", activities, schema.OCCURRED_AT),
        ("activities", activities, schema.ACTIVITY_TYPE),
    ):
        empty = table[column].isnull().sum().execute()
        if empty:
            raise ContractError(
                f"{empty:,} empty values", source=f"{source}:{name}", column=column,
                expected="a value on every row",
            )  # fmt: skip
