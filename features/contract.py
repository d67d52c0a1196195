"""The data contract for MA/CRM exports: load, validate, normalise, or say exactly what is wrong.

Two shapes of export are accepted:

* **event mode**: `leads` (one row per lead), `activities` (one row per tracked action) and
  `outcomes` (when a lead became SQL), as Marketo or HubSpot export them;
* **flat mode**: one table, one row per lead, with a 0/1 label column, as many CRM reports look.

Every problem gets its own :class:`ContractError` naming the file, the column, the rows (1-based
data rows; for CSV also the line, counting the header as line 1) and the expected form, so a data
scientist can fix the export without reading code. Nothing is dropped silently: a row that cannot
be read stops the load. Timestamps without a time zone are taken as UTC.

Values of personal-data columns (see :mod:`features.personal_data`) never appear in an error.
"""

from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from leadscore.features import schema
from leadscore.features.personal_data import personal_data_columns
from leadscore.features.reading import (
    ExportFormat,
    ReadError,
    read_excel_table,
    read_text_table,
    rename_columns,
    table_columns,
    title_note,
)
from leadscore.features.spec import MISSING_MARKERS, fold_text
from leadscore.features.timestamps import TimestampError, on_clock, parse_times

_SHOWN_ROWS = 5
_SNIFF_ROWS = 200
_READERS = {
    ".csv": "csv", ".tsv": "tsv", ".txt": "tsv", ".parquet": "parquet", ".pq": "parquet",
    ".xlsx": "excel", ".xlsm": "excel", ".xls": "excel",
}  # fmt: skip
_LABEL_CLASSES = {
    "1": 1, "0": 0, "1.0": 1, "0.0": 0,
    "yes": 1, "no": 0, "y": 1, "n": 0,
    "true": 1, "false": 0, "t": 1, "f": 0,
    # Japanese spreadsheets: yes/no, present/absent, and the circle and cross marks
    "はい": 1, "いいえ": 0, "あり": 1, "なし": 0, "有": 1, "無": 0, "○": 1, "〇": 1, "×": 0,
}  # fmt: skip
# what exports write for "no value" (pandas' own list and the spec's missing markers)
_EMPTY_TOKENS = frozenset(
    {"#n/a", "#n/a n/a", "#na", "-1.#ind", "-1.#qnan", "-nan", "1.#ind", "1.#qnan", "<na>",
     "n/a", "na", "null", "nan", "none", *MISSING_MARKERS}
)  # fmt: skip
_INTEGER_ID = re.compile(r"^(0|-?[1-9]\d{0,17})$")
_LEADING_ZERO = re.compile(r"^[-+]?0\d")
_WHOLE_DECIMALS = re.compile(r"(?<=\d)\.0*$")


class ContractError(ValueError):
    """An export that breaks the data contract, with where and how to fix it."""

    def __init__(
        self,
        problem: str,
        *,
        source: str,
        column: str | None = None,
        rows: Sequence[int] = (),
        values: Sequence[object] = (),
        expected: str | None = None,
        fix: str | None = None,
        csv: bool = False,
        title_rows: int = 0,
    ) -> None:
        self.problem, self.source, self.column = problem, source, column
        self.rows = [int(r) for r in rows]
        self.expected, self.fix = expected, fix
        parts = [f"{source}: {problem}"]
        if column is not None:
            parts.append(f" in column '{column}'")
        if self.rows:
            shown = ", ".join(_row_label(r, csv, title_rows) for r in self.rows[:_SHOWN_ROWS])
            more = len(self.rows) - _SHOWN_ROWS
            parts.append(f" at {shown}" + (f" (and {more} more rows)" if more > 0 else ""))
        if values:
            parts.append(f"; found {', '.join(repr(v) for v in list(values)[:_SHOWN_ROWS])}")
        if expected:
            parts.append(f". Expected {expected}")
        if fix:
            parts.append(f". {fix}")
        super().__init__("".join(parts))


def _row_label(row: int, csv: bool, title_rows: int = 0) -> str:
    """A data row as a person finds it: in a CSV also its line, past the header and any title
    rows above it."""
    return f"row {row} (line {row + 1 + title_rows})" if csv else f"row {row}"


@dataclass(frozen=True)
class Table:
    """A frame with the name it came from, so errors can point at the file.

    ``numbers``: the CSV columns whose every value is a number or a gap. Their cells stay
    text, as the service gets them; the columns count as numbers only where a column is
    judged (personal data, a starter spec), never for the values a feature reads.
    """

    frame: pd.DataFrame
    source: str
    csv: bool = False
    numbers: tuple[str, ...] = ()
    time_zone: str = "UTC"  # the clock of times written without a zone
    date_format: str | None = None
    notes: tuple[str, ...] = ()  # what reading decided (a preset's absent columns, say)
    kind: str | None = None  # the table it was read as: leads, activities or outcomes
    # the contract columns --column mapped in every file: a file that lacks one of those is
    # told to map it for its table alone
    mapped: tuple[str, ...] = ()
    title_rows: int = 0  # rows above the header holding a title, not read as data
    # an Excel sheet chosen among several without being named, and how to choose another
    sheet_choice: str | None = None

    def error(self, problem: str, **kwargs: object) -> ContractError:
        return ContractError(
            problem, source=self.source, csv=self.csv, title_rows=self.title_rows, **kwargs
        )  # type: ignore[arg-type]


@dataclass(frozen=True)
class MAExport:
    """A validated event-mode export: leads, their activities and their outcomes."""

    leads: pd.DataFrame
    activities: pd.DataFrame
    outcomes: pd.DataFrame
    personal_data: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())
    number_columns: tuple[str, ...] = ()  # Table.numbers of the leads file

    @property
    def attribute_columns(self) -> list[str]:
        """Lead columns that may become features: not ids, not timestamps, not personal data."""
        return attribute_columns(self.leads, self.personal_data)


@dataclass(frozen=True)
class FlatExport:
    """A validated flat export: one row per lead, attributes and a 0/1 label.

    ``order``: when the export has no created_at, what orders its leads in time (a
    sequential lead number, say), aligned with ``leads``; the column itself is not kept.
    ``number_columns``: :attr:`Table.numbers` of the file.
    """

    leads: pd.DataFrame
    label: pd.Series
    label_column: str
    personal_data: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())
    order: pd.Series | None = None
    number_columns: tuple[str, ...] = ()
    id_column: str | None = None  # the file's id column; None: row numbers are the ids
    order_column: str | None = None
    created_from: str | None = None  # the file's column read as created_at (creation_column)

    @property
    def attribute_columns(self) -> list[str]:
        return attribute_columns(self.leads, self.personal_data, exclude=(self.label_column,))

    def shape(self, dropped: Sequence[str] = ()) -> FlatShape:
        """The shape a model trained on this file remembers, ``dropped`` columns left out."""
        return FlatShape(
            label_column=self.label_column, id_column=self.id_column,
            order_column=self.order_column, created_at=schema.CREATED_AT in self.leads.columns,
            dropped=tuple(dropped),
        )  # fmt: skip


@dataclass(frozen=True)
class FlatShape:
    """What a flat model remembers of the file it learnt from, so that it reads the next one.

    Why: a flat export has no fixed column names, so the model directory must say which column
    was the id (None: row numbers from 1 were the ids), which was the label (the next file may
    have it or not; it is never read), which ordered the leads for the split and which were
    dropped (both ignored when scoring), and whether the file had ``created_at`` (the next one
    needs it exactly when it did).
    """

    label_column: str
    id_column: str | None = None
    order_column: str | None = None
    created_at: bool = False
    dropped: tuple[str, ...] = ()

    METADATA_KEY: ClassVar[str] = "flat_shape"  # its key in the model's metadata.json

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "dropped": list(self.dropped)}

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, object]) -> FlatShape | None:
        """The shape stored in a model's metadata; None for a model trained in event mode."""
        stored = metadata.get(cls.METADATA_KEY)
        if not isinstance(stored, Mapping):
            return None
        return cls(**{**stored, "dropped": tuple(stored.get("dropped") or ())})


def attribute_columns(
    leads: pd.DataFrame, personal_data: Sequence[str], exclude: Sequence[str] = ()
) -> list[str]:
    """Lead columns other than the id, the creation time, personal data and `exclude`."""
    skip = {schema.LEAD_ID, schema.CREATED_AT, *personal_data, *exclude}
    return [c for c in leads.columns if c not in skip]


# ---------------------------------------------------------------------------------------- reading


def read_table(path: str | Path, fmt: ExportFormat | None = None, kind: str = "leads") -> Table:
    """Read a CSV, TSV, Excel or Parquet file as ``kind``'s table (leads, activities,
    outcomes); CSV and Excel cells stay text, typed by the validators and the spec.

    ``fmt`` says how the export is written (encoding, sheet, clock, date form, its names for
    the contract's columns, the system it came from); by default the encoding is detected.
    Why not type number-looking CSV columns here: a code such as an industry code '0111'
    would lose its zero, and '50' in a column with gaps would read '50.0', where the service
    gets the text a lead was posted with; the spec says which attributes are numbers.
    """
    fmt = fmt or ExportFormat()
    path = Path(path)
    source = path.name
    suffix = "".join(s for s in path.suffixes[-2:] if s.lower() != ".gz")[-8:].lower()
    kind_of_file = next((k for ext, k in _READERS.items() if suffix.endswith(ext)), None)
    if kind_of_file is None:
        raise ContractError(
            "unknown file type", source=source,
            expected="a .csv, .csv.gz, .tsv, .xlsx or .parquet file",
        )  # fmt: skip
    if not path.exists():
        raise ContractError("file not found", source=str(path), fix="Check the path")
    if path.stat().st_size == 0:
        raise ContractError("the file is empty", source=source, expected="a header and rows")
    choice = None  # which sheet of several was read, when none was named
    try:
        skipped = 0  # title rows above the header
        if kind_of_file == "parquet":
            frame = pd.read_parquet(path)
        elif kind_of_file == "excel":
            sheet = read_excel_table(path, fmt, kind)
            frame, skipped, source, choice = (
                sheet.frame, sheet.title_rows, sheet.source, sheet.choice
            )  # fmt: skip
        else:
            frame, skipped = read_text_table(path, fmt, tab=kind_of_file == "tsv")
    except ReadError as error:
        raise ContractError(error.problem, source=error.source, fix=error.fix) from None
    frame, trailing = _without_trailing_blank_rows(frame)
    frame, footer = _without_totals_row(frame)
    frame, more = _without_trailing_blank_rows(frame)  # a blank line above the totals
    trailing += more
    if frame.empty:
        raise ContractError("the file has a header but no rows", source=source)
    frame.columns = [str(c).strip() for c in frame.columns]
    try:
        frame = rename_columns(
            frame, table_columns(fmt.columns, kind), schema.CONTRACT_COLUMNS.get(kind, ())
        )
    except ValueError as error:
        raise ContractError(str(error), source=source) from None
    chosen = choice is not None and fmt.sheets.get(kind, fmt.sheet) is None  # not by --sheet
    picked = (f"{path.name}: read {choice}",) if chosen else ()
    notes = picked + title_note(source, skipped)
    if footer:
        notes += (f"{source}: its last row is a totals row ({footer!r}) and was left out",)
    if trailing:
        notes += (f"{source}: its last {trailing} row(s) have no value in any cell and were "
                  "left out",)  # fmt: skip
    if fmt.source is not None:  # after the user's own names, which win
        from leadscore.features.presets import apply_preset  # it raises this module's errors

        frame, preset_notes = apply_preset(fmt.source, kind, frame, source)  # type: ignore[arg-type]
        notes += preset_notes
    mapped = tuple(c for c in fmt.columns if "." not in c)
    read = {"time_zone": fmt.time_zone, "date_format": fmt.date_format, "notes": notes,
            "kind": kind, "mapped": mapped, "sheet_choice": choice}  # fmt: skip
    if kind_of_file == "parquet":
        return Table(frame, source, **read)  # type: ignore[arg-type]
    numbers = _number_columns(frame) if kind == "leads" else ()  # judged on leads alone
    return Table(
        frame, source, csv=kind_of_file != "excel", numbers=numbers, title_rows=skipped, **read
    )  # type: ignore[arg-type]


def _without_trailing_blank_rows(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The frame without the rows at its end whose every cell is blank, and how many.

    Why: a spreadsheet saved as CSV keeps rows someone once touched (``,,,``) after its data;
    they hold nothing, so leaving them out loses nothing, where reading them stopped the run
    on "empty value in column 'lead_id'". Only trailing ones: a blank row between leads is
    still named, and the row numbers of the rest stay the file's.
    """
    last = len(frame)
    while last and all(is_empty(cell) for cell in frame.iloc[last - 1]):
        last -= 1  # from the end: a file whose last row holds a value costs one row's look
    return frame.iloc[:last], len(frame) - last


# what a spreadsheet report writes in the first cell of its totals row (folded)
_TOTALS = frozenset(
    {"合計", "総計", "総合計", "計", "小計", "total", "totals", "grand total", "sum"}
)


def _without_totals_row(frame: pd.DataFrame) -> tuple[pd.DataFrame, str | None]:
    """The frame without a totals row at its end, and the word that marked it (None if none).

    Why: a Japanese Excel report ends in a 合計 row, an English one in 'Total'; read as data
    it would be a lead named 合計, scored beside the rest. Only the last row, and only when
    its first filled cell is such a word.
    """
    if frame.empty:
        return frame, None
    filled = [cell for cell in frame.iloc[-1] if not is_empty(cell)]
    first = fold_text(str(filled[0])) if filled else ""
    return (frame.iloc[:-1], str(filled[0])) if first in _TOTALS else (frame, None)


def is_empty(value: object) -> bool:
    """One cell says 'no value': empty, blank, or a token such as 'NA', 'null', 'n/a'."""
    if value is None or (not isinstance(value, str) and bool(pd.isna(value))):
        return True
    return isinstance(value, str) and value.strip().lower() in _EMPTY_TOKENS  # '' is a marker


def _empty_text(values: pd.Series) -> pd.Series:
    """Cells that say 'no value' in a column that is otherwise numbers or times."""
    return values.isna() | values.str.strip().str.lower().isin(_EMPTY_TOKENS).fillna(False)


def _number_columns(frame: pd.DataFrame) -> tuple[str, ...]:
    """CSV text columns whose values are all numbers, gaps aside ('NA', 'null' and the like).

    A value with a leading zero ('0111') marks a code, not a quantity: nobody writes a count
    that way, and industry codes, postcodes and phone numbers are written exactly so.
    """
    found = []
    for column in frame.columns:
        if not (frame[column].dtype == object or pd.api.types.is_string_dtype(frame[column])):
            continue  # an Excel date column
        values = frame[column].astype("string").str.strip()
        head = values.dropna().head(_SNIFF_ROWS)  # most text columns fail on their first rows
        if pd.to_numeric(head[~_empty_text(head)], errors="coerce").isna().any():
            continue
        if values.str.match(_LEADING_ZERO).fillna(False).any():
            continue
        numbers = pd.to_numeric(values, errors="coerce")
        if numbers.notna().sum() > 0 and numbers.notna().sum() == (~_empty_text(values)).sum():
            found.append(column)
    return tuple(found)


# ------------------------------------------------------------------------------------ validation


def _require_columns(
    table: Table,
    required: Sequence[str],
    expected: str | None = None,
    named_by: Mapping[str, str] | None = None,
) -> None:
    """Each of ``required`` is a column of the table, or a ContractError with the fix: a
    contract column is mapped with ``--column`` (for this table's file alone when the other
    files have it mapped), one the user named with an option (``named_by``: column -> option,
    such as ``--id-column``) is named again there, and any other (a model's attribute) is
    renamed in the file, as the model reads it by that name."""
    present = {_squash(c): str(c) for c in table.frame.columns if _squash(c)}
    contract = {c for columns in schema.CONTRACT_COLUMNS.values() for c in columns}
    for column in required:
        if column in table.frame.columns:
            continue
        wanted = _squash(column)
        close = difflib.get_close_matches(wanted, list(present), n=1, cutoff=0.6) if wanted else []
        near = present[close[0]] if close else None
        if column in contract:
            key = f"{table.kind}.{column}" if table.kind and column in table.mapped else column
            if near:
                hint = f"Did you mean '{near}'? Map it with --column {shlex.quote(f'{key}={near}')}"
            else:
                hint = f"If the export names it otherwise, map it: --column {key}=<its name>"
        elif named_by and column in named_by:
            name = shlex.quote(near) if near else "<its name>"
            hint = f"Name the column as the file writes it: {named_by[column]} {name}"
            if near:
                hint = f"Did you mean '{near}'? {hint}"
        else:
            hint = f"Rename the file's column to '{column}'" + (
                f" (did you mean '{near}'?)" if near else ""
            ) + ": the model reads it by that name"  # fmt: skip
        if table.sheet_choice:
            hint += f". Or the table is on another sheet: this is {table.sheet_choice}"
        raise table.error(
            f"missing required column '{column}'",
            expected=expected or f"columns {', '.join(required)}", fix=hint,
        )  # fmt: skip


def _squash(name: object) -> str:
    """A column name as compared for a near miss: folded, without spaces, marks or underscores,
    letters of every script kept ('Lead ID' meets 'lead_id', '顧客 番号' meets '顧客番号';
    keeping only a-z once squashed every Japanese name to nothing, and then all matched)."""
    return re.sub(r"[\W_]+", "", fold_text(str(name)))


def _rows(mask: pd.Series) -> list[int]:
    """1-based data-row numbers where `mask` is true."""
    return [i + 1 for i in mask.to_numpy().nonzero()[0]]


def _require_values(table: Table, column: str) -> None:
    """Every row has a value: not blank, and in a number column not 'NA', 'null' and the like."""
    values = table.frame[column]
    missing = values.isna()
    if values.dtype == object or pd.api.types.is_string_dtype(values):
        text = values.astype("string")
        missing |= text.str.strip().eq("").fillna(False)
        if column in table.numbers:
            missing |= _empty_text(text)
    if missing.any():
        raise table.error("empty value", column=column, rows=_rows(missing), expected="a value")


def parse_timestamps(table: Table, column: str, *, required: bool) -> pd.Series:
    """Parse `column` to UTC timestamps, one form for the whole column (see
    :mod:`features.timestamps`); times without a zone are on the table's clock; bad values
    name their rows and the forms that are read."""
    values = table.frame[column]
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = on_clock(values, table.time_zone)
    else:
        text = values.astype("string").str.strip()
        text = text.mask(_empty_text(text), pd.NA)
        try:
            parsed = parse_times(text, time_zone=table.time_zone, date_format=table.date_format)
        except TimestampError as error:
            personal = column in personal_data_columns(table.frame[[column]])
            shown = [] if personal else text[error.bad]
            raise table.error(
                error.problem, column=column, rows=_rows(error.bad),
                values=list(shown)[:_SHOWN_ROWS], expected=error.expected, fix=error.fix,
            ) from None  # fmt: skip
    if required and parsed.isna().any():
        raise table.error(
            "empty timestamp", column=column, rows=_rows(parsed.isna()),
            expected="a timestamp on every row",
        )  # fmt: skip
    return parsed.astype("datetime64[us, UTC]")


def _normalise_ids(ids: pd.Series) -> pd.Series:
    """Integer-looking ids become int64 so that CSV and Parquet exports of one CRM join."""
    if pd.api.types.is_integer_dtype(ids):
        return ids.astype("int64")
    if pd.api.types.is_float_dtype(ids) and (ids.dropna() % 1 == 0).all():
        return ids.astype("int64")
    text = ids.astype("string").str.strip()
    whole = text.str.replace(_WHOLE_DECIMALS, "", regex=True)  # '17.0' as a CRM writes 17
    if whole.str.fullmatch(_INTEGER_ID).all():
        return whole.astype("int64")
    return text.astype("string")


def _check_unique(table: Table, column: str) -> None:
    duplicated = table.frame[column].duplicated(keep=False)
    if duplicated.any():
        raise table.error(
            "duplicate lead_id", column=column, rows=_rows(duplicated),
            values=table.frame.loc[duplicated, column].drop_duplicates().head(_SHOWN_ROWS).tolist(),
            expected="each lead exactly once", fix="Remove or merge the duplicated leads",
        )  # fmt: skip


def _check_known_leads(table: Table, known: pd.Series, what: str) -> None:
    unknown = ~table.frame[schema.LEAD_ID].isin(known)
    if unknown.any():
        raise table.error(
            f"{what} of an unknown lead", column=schema.LEAD_ID, rows=_rows(unknown),
            values=table.frame.loc[unknown, schema.LEAD_ID].drop_duplicates().head(5).tolist(),
            expected="a lead_id that appears in the leads file",
            fix="Export the leads too, or drop these rows upstream",
        )  # fmt: skip


def _match_id_types(ids: pd.Series, leads: pd.Series) -> pd.Series:
    """Ids of activities or outcomes in the form the leads' ids took (text ids trimmed alike)."""
    if leads.dtype == "string":
        return ids.astype("string").str.strip()
    return ids if ids.dtype == leads.dtype else _normalise_ids(ids)


def validate_leads(table: Table) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Validated leads (lead_id unique, created_at UTC) and their personal-data columns."""
    _require_columns(table, schema.LEAD_REQUIRED)
    _require_values(table, schema.LEAD_ID)
    frame = table.frame.copy()
    frame[schema.LEAD_ID] = _normalise_ids(frame[schema.LEAD_ID])
    table = replace(table, frame=frame)
    _check_unique(table, schema.LEAD_ID)
    frame[schema.CREATED_AT] = parse_timestamps(table, schema.CREATED_AT, required=True)
    personal = personal_data_columns(frame.drop(columns=[schema.CREATED_AT]), table.numbers)
    return frame, tuple(personal)


def validate_activities(table: Table, leads: pd.DataFrame) -> pd.DataFrame:
    """Validated activities: every lead known, every timestamp parsed, types non-empty."""
    _require_columns(table, schema.ACTIVITY_REQUIRED)
    _require_values(table, schema.LEAD_ID)
    _require_values(table, schema.ACTIVITY_TYPE)
    frame = table.frame.copy()
    frame[schema.LEAD_ID] = _match_id_types(frame[schema.LEAD_ID], leads[schema.LEAD_ID])
    table = replace(table, frame=frame)
    _check_known_leads(table, leads[schema.LEAD_ID], "activity")
    frame[schema.OCCURRED_AT] = parse_timestamps(table, schema.OCCURRED_AT, required=True)
    if schema.DETAIL not in frame.columns:
        frame[schema.DETAIL] = pd.Series(pd.NA, index=frame.index, dtype="string")
    return frame


def validate_outcomes(table: Table, leads: pd.DataFrame) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Validated outcomes, one row per lead; leads absent from the file count as never SQL."""
    _require_columns(table, schema.OUTCOME_REQUIRED)
    _require_values(table, schema.LEAD_ID)
    frame = table.frame.copy()
    frame[schema.LEAD_ID] = _match_id_types(frame[schema.LEAD_ID], leads[schema.LEAD_ID])
    table = replace(table, frame=frame)
    _check_known_leads(table, leads[schema.LEAD_ID], "outcome")
    duplicated = frame[schema.LEAD_ID].duplicated(keep=False)
    if duplicated.any():
        raise table.error(
            "more than one outcome for a lead", column=schema.LEAD_ID, rows=_rows(duplicated),
            expected="one outcome row per lead",
        )  # fmt: skip
    for column in schema.OUTCOME_TIMESTAMPS:
        if column in frame.columns:
            frame[column] = parse_timestamps(table, column, required=False)
        else:
            frame[column] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us, UTC]")
    frame = frame[[schema.LEAD_ID, *schema.OUTCOME_TIMESTAMPS]]
    notes: list[str] = []
    absent = ~leads[schema.LEAD_ID].isin(frame[schema.LEAD_ID])
    if absent.any():
        notes.append(f"{int(absent.sum())} leads have no outcome row and count as never SQL")
        filler = pd.DataFrame({schema.LEAD_ID: leads.loc[absent, schema.LEAD_ID].to_numpy()})
        for column in schema.OUTCOME_TIMESTAMPS:
            filler[column] = pd.Series(pd.NaT, index=filler.index, dtype="datetime64[us, UTC]")
        frame = pd.concat([frame, filler], ignore_index=True)
    created = frame[schema.LEAD_ID].map(leads.set_index(schema.LEAD_ID)[schema.CREATED_AT])
    early = frame[schema.SQL_AT] < created
    if early.any():
        notes.append(f"{int(early.sum())} leads became SQL before their created_at (kept as is)")
    return frame, tuple(notes)


def load_export(
    leads: str | Path,
    activities: str | Path | None = None,
    outcomes: str | Path | None = None,
    fmt: ExportFormat | None = None,
) -> MAExport:
    """Load and validate an event-mode export; activities and outcomes are optional files,
    all written as ``fmt`` says (by default: encoding detected, ISO times, UTC)."""
    lead_table = read_table(leads, fmt, "leads")
    lead_frame, personal = validate_leads(lead_table)
    notes = list(lead_table.notes)
    if activities is None:
        activity_frame = empty_activities(lead_frame[schema.LEAD_ID].dtype)
    else:
        activity_table = read_table(activities, fmt, "activities")
        activity_frame = validate_activities(activity_table, lead_frame)
        notes += activity_table.notes
    if outcomes is None:
        outcome_frame = pd.DataFrame(columns=[schema.LEAD_ID, *schema.OUTCOME_TIMESTAMPS])
    else:
        outcome_table = read_table(outcomes, fmt, "outcomes")
        outcome_frame, outcome_notes = validate_outcomes(outcome_table, lead_frame)
        notes += [*outcome_table.notes, *outcome_notes]
    return MAExport(
        lead_frame, activity_frame, outcome_frame, personal, tuple(notes), lead_table.numbers
    )


def empty_activities(id_dtype: object = "int64") -> pd.DataFrame:
    """An activity table with no rows and the contract's columns (a lead with no history)."""
    return pd.DataFrame(
        {
            schema.LEAD_ID: pd.Series(dtype=id_dtype),  # type: ignore[call-overload]
            schema.OCCURRED_AT: pd.Series(dtype="datetime64[us, UTC]"),
            schema.ACTIVITY_TYPE: pd.Series(dtype="string"),
            schema.DETAIL: pd.Series(dtype="string"),
        }
    )


def label_dates(table: Table, column: str) -> pd.Series | None:
    """The dates of a label written as the date a lead converted ('Became a Sales Qualified
    Lead Date', 受注日), empty when it never did; None when the column is not so written.

    Why: HubSpot, Salesforce and Japanese CRMs report a conversion as its date, and such a
    column is a label (a date: converted; empty: not). Every filled cell must be a time and
    at least one cell empty; else the column is read as classes, whose error names the rows.
    """
    values = table.frame[column]
    if not pd.api.types.is_datetime64_any_dtype(values):
        text = values.astype("string").str.strip()
        filled = ~_empty_text(text)
        if not filled.any() or filled.all() or text[filled].isin(list(_LABEL_CLASSES)).any():
            return None
    try:
        dates = parse_timestamps(table, column, required=False)
    except ContractError:
        return None
    return dates if 0 < dates.notna().sum() < len(dates) else None


def parse_label(
    table: Table, column: str, positive: str | None = None, negative: Sequence[str] = ()
) -> tuple[pd.Series, pd.Series | None]:
    """A 0/1 label from 0/1, yes/no, true/false, y/n (any case, full-width too), はい/いいえ,
    あり/なし, 有/無, ○/×, or a conversion date (:func:`label_dates`: a date is 1, empty 0);
    with ``positive`` (Won, 受注), that value is 1 and the others 0, or with ``negative``
    (Lost, 失注) those are 0 and the rest undecided (NaN), compared as folded text; anything
    else is an error, which names the fix when the label has two words. Returns the label
    and, for a label of dates, the dates (None otherwise)."""
    raw = table.frame[column]
    if negative and positive is None:
        raise table.error(
            "--negative without --positive", column=column,
            fix="Say which value means converted too: --positive VALUE",
        )  # fmt: skip
    if positive is not None:
        return _label_of(table, column, positive, negative), None
    dates = label_dates(table, column)
    text = raw.astype("string").str.normalize("NFKC").str.strip().str.lower()
    label = text.map(_LABEL_CLASSES) if dates is None else dates.notna().astype(int)
    bad = label.isna()
    if bad.any():
        found = text[bad].fillna("<empty>").drop_duplicates().head(_SHOWN_ROWS).tolist()
        words = raw.astype("string").str.strip().dropna().drop_duplicates()
        raise table.error(
            "label with values other than the two classes", column=column, rows=_rows(bad),
            values=found, expected="0/1, yes/no, true/false or はい/いいえ on every row, or "
            "the date each lead converted (empty when it did not)",
            fix="Or say which value means converted: "
            + " or ".join(f"--positive {shlex.quote(w)}" for w in sorted(words))
            if len(words) == 2 and not _empty_text(words).any() else None,
        )  # fmt: skip
    if label.nunique() < 2:
        raise table.error(
            f"the label has only one class ({int(label.iloc[0])})", column=column,
            expected="both converted (1) and not converted (0) leads",
        )  # fmt: skip
    return label.astype("int8"), dates


_GROUPED_NUMBER = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")


def parse_order(table: Table, column: str) -> pd.Series:
    """What orders a flat export's leads in time: numbers (a sequential lead number) or times.

    Why it matters: without created_at the out-of-time split follows this order, so a file
    that lists its newest leads first would otherwise test on its oldest. Only plain numbers
    (thousands separators allowed) and ISO 8601 times are taken: a lenient parser reads
    '660,737' as the year 660 and 'March 3' as a day in year 1, orders that look right and
    are not. Integers keep their type, so 18-digit lead numbers stay distinct.
    """
    _require_values(table, column)
    values = table.frame[column]
    bad: pd.Series | None = None
    if pd.api.types.is_bool_dtype(values):
        order, bad = values, pd.Series(True, index=values.index)
    elif pd.api.types.is_datetime64_any_dtype(values):
        order = parse_timestamps(table, column, required=True)
    elif pd.api.types.is_numeric_dtype(values):
        order, bad = values, ~pd.Series(np.isfinite(values.astype("float64")), index=values.index)
    else:
        text = values.astype("string").str.strip()
        grouped = text.str.fullmatch(_GROUPED_NUMBER).fillna(False)
        numbers = pd.to_numeric(text.where(~grouped, text.str.replace(",", "")), errors="coerce")
        finite = numbers.notna() & np.isfinite(numbers.astype("float64"))
        times = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
        if finite.all():
            order = numbers
        elif times.notna().all():
            order = times
        else:  # name the rows that break the form most rows have
            order = numbers
            bad = ~finite if finite.sum() >= times.notna().sum() else times.isna()
    if bad is not None and bad.any():
        raise table.error(
            "values that cannot order leads in time", column=column, rows=_rows(bad),
            values=values.astype("string")[bad].head(_SHOWN_ROWS).tolist(),
            expected="a number (such as a sequential lead number) or an ISO 8601 time on "
            "every row",
        )  # fmt: skip
    if order.nunique() < 2:
        raise table.error(
            "one value on every row, which orders nothing", column=column,
            expected="values that follow lead creation, such as a sequential lead number",
        )  # fmt: skip
    return order


def _check_order_column(table: Table, column: str, label: str) -> None:
    """An order column must be neither the label, nor personal data, nor beside created_at."""
    if column == label:
        raise table.error(
            "the label cannot order the leads in time", column=column,
            expected="a column that follows lead creation, such as a sequential lead number",
        )  # fmt: skip
    if column in personal_data_columns(table.frame[[column]], table.numbers):
        raise table.error(  # no values: they are personal data
            "personal data cannot order the leads in time", column=column,
            expected="a column that follows lead creation, such as a sequential lead number",
        )  # fmt: skip
    if schema.CREATED_AT in table.frame.columns:
        raise table.error(
            "both created_at and an order column", column=column,
            fix="created_at already orders the leads in time: leave out the order column",
        )  # fmt: skip


def _with_lead_ids(
    table: Table, id_column: str | None, leave_out: Sequence[str] = ()
) -> tuple[Table, str | None]:
    """The flat file with ``lead_id`` by one rule, for training and scoring alike.

    The rule: ``id_column`` when given, else a ``lead_id`` column, else the 1-based row number,
    so every row still comes back in the scored output exactly once. Ids must be non-empty and
    unique. ``leave_out`` columns are removed, unless one is the id. Returns the note to print
    when row numbers became the ids.
    """
    frame = table.frame.drop(
        columns=[
            c for c in leave_out if c in table.frame.columns and c != (id_column or schema.LEAD_ID)
        ]
    )
    note = None
    column = id_column or schema.LEAD_ID
    if column not in frame.columns:
        frame.insert(0, schema.LEAD_ID, range(1, len(frame) + 1))
        note = "no lead_id column: row numbers (from 1) are the lead ids"
    table = replace(table, frame=frame)
    _require_values(table, column)  # errors name the column as the file does
    frame[column] = _normalise_ids(frame[column])
    _check_unique(table, column)
    if column != schema.LEAD_ID:
        frame = frame.rename(columns={column: schema.LEAD_ID})
        numbers = tuple(schema.LEAD_ID if c == column else c for c in table.numbers)
        table = replace(table, frame=frame, numbers=numbers)
    return table, note


# names a CRM or MA tool gives the time a lead was created (Create Date, CreatedDate, 作成日時,
# 登録日): read, folded, as created_at in a flat file that has none
_CREATION_NAME = re.compile(r"creat|作成日|作成時|登録日|登録時")


def creation_column(
    table: Table, leave_out: Sequence[str] = ()
) -> tuple[str | None, str, pd.Series | None]:
    """The column of a flat file without ``created_at`` that holds when each lead was created,
    what was decided, in words ("" when no column is named so), and its times as read (so
    they are read once).

    Why: a CRM report writes the creation time as 'Created Date' or 作成日時, not
    ``created_at``; without it the split would follow file order and the creation weekday and
    hour would be lost, without a word. A column is taken when its name says creation and it
    holds a time on every row; when two do, neither is, and the note says how to choose.
    """
    named = [
        c for c in table.frame.columns
        if c not in leave_out and _CREATION_NAME.search(fold_text(str(c)))
    ]  # fmt: skip
    timed = {}
    for column in named:
        try:
            timed[column] = parse_timestamps(table, column, required=True)
        except ContractError:
            continue
    if len(timed) == 1:
        [(column, times)] = timed.items()
        return (
            column,
            (
                f"'{column}' is when each lead was created (its name, and a time on every row): "
                "the split follows it and it gives the creation weekday and hour; if it is not, "
                "name the creation time with --column created_at=NAME, or leave it out with --drop"
            ),
            times,
        )
    if len(timed) > 1:
        return (
            None,
            (
                f"{' and '.join(repr(c) for c in timed)} may each be when a lead was created; "
                "name the creation time with --column created_at=NAME to split by time"
            ),
            None,
        )
    return None, "", None


def load_flat(
    path: str | Path,
    label: str,
    *,
    id_column: str | None = None,
    order_column: str | None = None,
    fmt: ExportFormat | None = None,
    drop: Sequence[str] = (),
    positive: str | None = None,
    negative: Sequence[str] = (),
) -> FlatExport:
    """Load a flat export: one row per lead, a label column, attributes, optional created_at.

    Without an id column the 1-based row number becomes the lead_id, so every row still comes
    back in the scored output exactly once. ``order_column`` orders the leads in time when
    there is no created_at; it is then left out of the attributes, never a feature. Without
    either, a column named and filled as a creation time is read as created_at
    (:func:`creation_column`; ``drop`` columns never are), and ``FlatExport.created_from``
    names it.
    """
    table = read_table(path, fmt)
    created_from, creation_note, created = None, "", None
    if schema.CREATED_AT not in table.frame.columns and order_column is None:
        leave_out = [label, *(c for c in (id_column,) if c), *drop]
        created_from, creation_note, created = creation_column(table, leave_out)
        if created_from is not None:
            renamed = table.frame.rename(columns={created_from: schema.CREATED_AT})
            table = replace(table, frame=renamed)
    named_by = {label: "--label", id_column: "--id-column", order_column: "--order-column"}
    _require_columns(
        table, [label] + [c for c in (id_column, order_column) if c is not None],
        named_by={c: option for c, option in named_by.items() if c is not None},
    )  # fmt: skip
    if order_column is not None:
        _check_order_column(table, order_column, label)
    order = parse_order(table, order_column) if order_column is not None else None
    notes: list[str] = [*table.notes, *([creation_note] if creation_note else [])]
    if order_column is not None:
        notes.append(f"'{order_column}' orders the leads in time for the split; not a feature")
    had_ids = schema.LEAD_ID in table.frame.columns
    table, note = _with_lead_ids(table, id_column, leave_out=[c for c in (order_column,) if c])
    notes += [note] if note else []
    frame = table.frame
    target, dates = parse_label(table, label, positive, negative)
    if positive is not None:
        notes.append(_label_words(frame, label, positive, negative))
    if created is not None:  # read as creation_column found it
        frame[schema.CREATED_AT] = created
    elif schema.CREATED_AT in frame.columns:
        frame[schema.CREATED_AT] = parse_timestamps(table, schema.CREATED_AT, required=True)
    if dates is not None:
        target, note = _mature_label(table, target, dates, frame.get(schema.CREATED_AT), label)
        notes.append(note)
    leads = frame.drop(columns=[label])
    personal = tuple(
        personal_data_columns(
            leads.drop(columns=[schema.CREATED_AT], errors="ignore"), table.numbers
        )
    )
    return FlatExport(
        leads, target.set_axis(leads.index), label, personal, tuple(notes),
        order=None if order is None else order.set_axis(leads.index),
        number_columns=table.numbers,
        id_column=id_column or (schema.LEAD_ID if had_ids else None), order_column=order_column,
        created_from=created_from,
    )  # fmt: skip


def _label_of(table: Table, column: str, positive: str, negative: Sequence[str] = ()) -> pd.Series:
    """The label with ``positive`` as 1, and every other value 0, or with ``negative`` given,
    those 0 and the rest NaN: an open deal is neither won nor lost, and taking it as lost
    would read the newest leads, the ones still open, as the worst (see :func:`parse_label`).
    """
    _require_values(table, column)
    folded = table.frame[column].astype("string").map(fold_text)
    for option, value in [("--positive", positive), *(("--negative", n) for n in negative)]:
        if fold_text(value) not in set(folded):
            raise table.error(
                f"{option} {value!r} is not a value of the label", column=column,
                values=table.frame[column].astype("string").drop_duplicates().head(
                    _SHOWN_ROWS).tolist(),
                expected="one of the label's values, as the file writes it",
            )  # fmt: skip
    won = folded == fold_text(positive)
    if negative:
        lost = folded.isin([fold_text(n) for n in negative])
        label = won.astype("float64").where(won | lost)
    else:
        label = won.astype("int8")
    if label.dropna().nunique() < 2:
        raise table.error(
            f"every lead judged is {positive!r}", column=column,
            expected="both converted (1) and not converted (0) leads",
        )  # fmt: skip
    return label


def _label_words(frame: pd.DataFrame, column: str, positive: str, negative: Sequence[str]) -> str:
    """What --positive (and --negative) made of the label's values, for the run's notes."""
    written = sorted(set(frame[column].astype("string").dropna()))

    def listed(values: list[str]) -> str:
        shown = ", ".join(values[:_SHOWN_ROWS])
        return shown + (", ..." if len(values) > _SHOWN_ROWS else "")

    if not negative:
        others = [v for v in written if fold_text(v) != fold_text(positive)]
        return f"'{column}': {positive!r} is 1, every other value 0 ({listed(others)})"
    named = {fold_text(v) for v in (positive, *negative)}
    open_ = [v for v in written if fold_text(v) not in named]
    undecided = int((~frame[column].astype("string").map(fold_text).isin(named)).sum())
    return (
        f"'{column}': {positive!r} is 1, {', '.join(repr(n) for n in negative)} 0"
        + (f"; the {undecided:,} leads of other values ({listed(open_)}) are undecided: not "
           "learnt from or judged on, scored as any lead" if undecided else "")
    )  # fmt: skip


MATURITY_QUANTILE = 0.9  # the share of converters that convert within the maturity window
MATURITY_CONVERTERS = 20  # converters with a date on or after creation, to read the window from
MATURITY_SPAN_SHARE = 0.25  # the window's longest, as a share of the file's creation span


def _mature_label(
    table: Table, label: pd.Series, dates: pd.Series, created: pd.Series | None, column: str
) -> tuple[pd.Series, str]:
    """A dated label with the leads too recent to judge left unlabelled (NaN), and the note.

    A lead created days before the export had no time to convert, and an empty date would
    teach that it never does: the newest leads would read as a fall in the rate (the fall
    X Education's newest leads show, say). With creation times, leads created less than the
    time most converters take (``MATURITY_QUANTILE`` of them, at least a day, at most
    ``MATURITY_SPAN_SHARE`` of the file's span) before the file's latest time are not learnt
    from; they are still scored. Fewer than ``MATURITY_CONVERTERS`` converters dated on or
    after their creation cannot say how long converting takes, and no lead is set aside;
    without creation times nothing says how old a lead is. The note says which.
    """
    said = f"'{column}' holds the date each lead converted: a date is 1, empty 0"
    if created is None:
        return label, said + "; without created_at, the newest leads' empty dates may only mean "
        "they had no time yet"
    delays = ((dates - created).dt.total_seconds() / 86_400)[dates.notna()]
    before = int((delays < 0).sum())
    early = f"; {before:,} converted before their created_at (kept as 1)" if before else ""
    timed = delays[delays >= 0]
    if len(timed) < MATURITY_CONVERTERS:
        return label, (
            f"{said}{early}; {len(timed)} converters dated after their creation are too few to "
            "tell how long converting takes, so no lead is set aside as too recent: the newest "
            "leads' empty dates may only mean they had no time yet"
        )
    span = (created.max() - created.min()).total_seconds() / 86_400
    wanted = max(1.0, float(np.ceil(timed.quantile(MATURITY_QUANTILE))))
    window = min(wanted, max(1.0, np.floor(MATURITY_SPAN_SHARE * span)))
    capped = f" (capped at {MATURITY_SPAN_SHARE:.0%} of the file's span)" if window < wanted else ""
    end = max(created.max(), dates.max())
    recent = (created > end - pd.Timedelta(days=window)).to_numpy()
    mature = label.astype("float64").where(~recent)
    if mature.dropna().nunique() < 2:
        raise table.error(
            f"the leads old enough to judge (created over {window:g} days before "
            f"{end:%Y-%m-%d}) hold one class only", column=column,
            expected="both converted and not converted leads among them",
        )  # fmt: skip
    return mature, (
        f"{said}{early}; {MATURITY_QUANTILE:.0%} of converters converted within {wanted:g} days "
        f"of creation, so the {int(recent.sum()):,} leads created in the {window:g} days"
        f"{capped} before the file's latest time ({end:%Y-%m-%d}) are too recent to judge: not "
        "learnt from or judged on, scored as any lead"
    )


def load_flat_to_score(
    path: str | Path, shape: FlatShape, needed: Sequence[str], fmt: ExportFormat | None = None
) -> pd.DataFrame:
    """The next file of a flat model's shape, ready to score: lead_id, attributes, and
    ``created_at`` when the model had it.

    ``needed`` are the columns the model reads (its spec's attributes). The label column may be
    there or not and is never read; the order column and the dropped columns are ignored too,
    and so is a ``created_at`` the model never had. Ids follow the rule they had in training.
    """
    table = read_table(path, fmt)
    required = [c for c in (shape.id_column,) if c]
    required += [schema.CREATED_AT] * shape.created_at + [c for c in needed if c not in required]
    label = f"; the label '{shape.label_column}' may be left out"
    _require_columns(
        table, required, expected=f"the columns of the file the model learnt from: "
        f"{', '.join(required)}{label}",
    )  # fmt: skip
    ignored = [shape.label_column, shape.order_column, *shape.dropped]
    ignored += [] if shape.created_at else [schema.CREATED_AT]
    table, _ = _with_lead_ids(table, shape.id_column, leave_out=[c for c in ignored if c])
    frame = table.frame
    if shape.created_at:
        frame[schema.CREATED_AT] = parse_timestamps(table, schema.CREATED_AT, required=True)
    return frame


def check_export(
    leads: Path,
    activities: Path | None = None,
    outcomes: Path | None = None,
    *,
    label: str | None = None,
    id_column: str | None = None,
    order_column: str | None = None,
    positive: str | None = None,
    negative: Sequence[str] = (),
    fmt: ExportFormat | None = None,
) -> MAExport | FlatExport:
    """`leadscore validate`: an export checked against the data contract, every problem a
    :class:`ContractError` naming its file, column and rows.

    Flat mode when ``label`` is given (one leads file with a label column), event mode else.
    """
    if label is not None:
        return load_flat(
            leads, label, id_column=id_column, order_column=order_column, fmt=fmt,
            positive=positive, negative=negative,
        )  # fmt: skip
    return load_export(leads, activities, outcomes, fmt)
