"""How an export's files are written, and reading them as the data contract's tables.

A Japanese marketing-ops team exports from SATORI, Salesforce or Excel on a Monday morning:
CP932 CSVs with CRLF line ends and Japanese headers, ``.xlsx`` reports, times on Tokyo's clock
without a zone, dates written ``2026/04/06 9:29``. :class:`ExportFormat` holds what leadscore
must know to read such files (encoding, sheet, clock, date form, which of the export's columns
are the contract's own, the system the export came from); it is small YAML kept beside the
training set and in the model directory, so the next file of the same export is read the same
way when it is scored.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import gzip
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import ClassVar

import pandas as pd
import yaml

from leadscore.features import schema
from leadscore.features.spec import fold_text
from leadscore.features.timestamps import check_time_zone

# tried in this order when a CSV has no byte-order mark: UTF-8 first (strict UTF-8 almost never
# decodes text written in another encoding), then the Windows code page Japanese tools write
DETECTED = ("utf-8", "cp932")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CHUNK = 1 << 24
EXCEL = (".xlsx", ".xlsm")
_EXCEL_ONLY_OLD = (".xls",)


class ReadError(ValueError):
    """A file that cannot be read as a table, with the file's name and what would fix it."""

    def __init__(self, problem: str, *, source: str, fix: str | None = None) -> None:
        self.problem, self.source, self.fix = problem, source, fix
        super().__init__(f"{source}: {problem}" + (f". {fix}" if fix else ""))


@dataclass(frozen=True)
class ExportFormat:
    """How an export's files are written; the defaults read a UTF-8, ISO 8601, UTC export.

    ``columns`` maps a contract column to the export's name for it (``lead_id: リードID``), in
    every file, or in one file's table alone (``activities.lead_id: Lead Id``, when the leads
    file says ``Id``; :func:`table_columns`);
    ``source`` is a system preset (``hubspot``, ``marketo``, ``salesforce``) whose documented
    column names fill in what ``columns`` does not say.
    """

    encoding: str | None = None  # None: detected (UTF-8, UTF-8 or UTF-16 with a BOM, CP932)
    # Excel: a sheet's name or 0-based position; None: the sheet named for the table, or the
    # first (:func:`choose_sheet`)
    sheet: str | None = None
    time_zone: str = "UTC"  # the clock of times written without a zone
    date_format: str | None = None  # strptime form for every time; None: decided per column
    columns: Mapping[str, str] = field(default_factory=dict)
    source: str | None = None
    # one table's sheet (``activities: 行動履歴``), over ``sheet``: one workbook, three tables
    sheets: Mapping[str, str] = field(default_factory=dict)

    FILE_NAME: ClassVar[str] = "export_format.yaml"
    METADATA_KEY: ClassVar[str] = "export_format"  # its key in a model's metadata.json

    def __post_init__(self) -> None:
        check_time_zone(self.time_zone)
        if self.encoding is not None:
            try:
                codecs.lookup(self.encoding)
            except LookupError:
                raise ValueError(
                    f"'{self.encoding}' is not an encoding Python knows; write one such as "
                    "utf-8, utf-8-sig, cp932 or shift_jis"
                ) from None
        strange = sorted(set(self.sheets) - set(schema.CONTRACT_COLUMNS))
        if strange:
            raise ValueError(
                f"sheet for '{strange[0]}': not a table; name the sheet of "
                f"{', '.join(schema.CONTRACT_COLUMNS)}"
            )
        known = {c for columns in schema.CONTRACT_COLUMNS.values() for c in columns}
        known |= {f"{table}.{c}" for table, cs in schema.CONTRACT_COLUMNS.items() for c in cs}
        unknown = sorted(set(self.columns) - known)
        if unknown:
            raise ValueError(
                f"'{unknown[0]}' is not a contract column; map one of "
                f"{', '.join(sorted(k for k in known if '.' not in k))}, in every file, or in one "
                f"table's file alone as TABLE.COLUMN ({', '.join(schema.CONTRACT_COLUMNS)})"
            )
        for table, contract in schema.CONTRACT_COLUMNS.items():
            mapped = {c: e for c, e in table_columns(self.columns, table).items() if c in contract}
            names = list(mapped.values())
            taken = [n for n in names if names.count(n) > 1]
            if taken:
                both = " and ".join(c for c, e in mapped.items() if e == taken[0])
                raise ValueError(
                    f"column '{taken[0]}' of the {table} file is mapped to two contract columns, "
                    f"{both}"
                )

    @property
    def is_default(self) -> bool:
        return self == ExportFormat()

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "columns": dict(self.columns), "sheets": dict(self.sheets)}

    def save(self, folder: Path) -> Path:
        """Write the format beside a training set or into a model directory."""
        path = Path(folder) / self.FILE_NAME
        header = "# how leadscore read this export; `score` reads the next file the same way\n"
        path.write_text(
            header + yaml.safe_dump(self.as_dict(), allow_unicode=True, sort_keys=False),
            encoding="utf-8",
        )
        return path

    @classmethod
    def load(cls, path: Path) -> ExportFormat:
        """A format from its YAML file (the one :meth:`save` writes, or a hand-written one)."""
        path = Path(path)
        if not path.exists():
            raise ValueError(f"{path}: export format file not found")
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as error:
            raise ValueError(f"{path.name}: not readable YAML ({type(error).__name__})") from None
        if not isinstance(raw, Mapping):
            raise ValueError(f"{path.name}: expected a mapping of options such as encoding: cp932")
        return cls.from_dict(raw, path.name)

    @classmethod
    def from_dict(cls, raw: Mapping[str, object], source: str) -> ExportFormat:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(
                f"{source}: unknown key(s) {', '.join(unknown)}; expected "
                f"{', '.join(sorted(known))}"
            )
        columns = raw.get("columns") or {}
        if not isinstance(columns, Mapping):
            raise ValueError(f"{source}: columns must map contract names to the export's names")
        sheets = raw.get("sheets") or {}
        if not isinstance(sheets, Mapping) or not all(
            isinstance(v, str | int) and str(v).strip() for v in sheets.values()
        ):
            raise ValueError(f"{source}: sheets must map tables to sheet names (leads: リード)")
        strange = sorted(str(k) for k in set(sheets) - set(schema.CONTRACT_COLUMNS))
        if strange:
            raise ValueError(
                f"{source}: sheets: '{strange[0]}' is not a table; name the sheet of "
                f"{', '.join(schema.CONTRACT_COLUMNS)}"
            )
        for key in ("encoding", "sheet", "date_format", "source", "time_zone"):
            value = raw.get(key)
            if value is not None and not isinstance(value, str | int if key == "sheet" else str):
                raise ValueError(f"{source}: {key} must be text, not {value!r}")
        if "time_zone" in raw and raw["time_zone"] is None:
            raise ValueError(f"{source}: time_zone is empty; write one such as Asia/Tokyo or UTC")
        return cls(**{
            **raw,
            "columns": {str(k): str(v) for k, v in columns.items()},
            "sheets": {str(k): str(v) for k, v in sheets.items()},
        })  # type: ignore[arg-type]  # fmt: skip

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, object]) -> ExportFormat | None:
        """The format a model's metadata keeps; None for a model of a default export."""
        stored = metadata.get(cls.METADATA_KEY)
        return cls.from_dict(stored, "model metadata") if isinstance(stored, Mapping) else None

    @classmethod
    def beside(cls, training_set: Path) -> ExportFormat | None:
        """The format `features build` wrote beside a training set, or None: a model trained on
        that set then reads its export's next file the same way."""
        path = Path(training_set).parent / cls.FILE_NAME
        return cls.load(path) if path.exists() else None

    @classmethod
    def remembered(cls, metadata: Mapping[str, object], given: ExportFormat | None) -> ExportFormat:
        """The format a model's export was read with, with the options ``given`` on top.

        Why: the next file of an export is written the way the first one was, so a user
        scoring it should not have to repeat --encoding or --timezone; what they do give wins.
        A model of a default export reads with the default.
        """
        remembered = cls.from_metadata(metadata)
        if given is None or remembered is None:
            return given or remembered or cls()
        default = cls().as_dict()
        changed = {k: v for k, v in given.as_dict().items() if v != default[k]}
        return remembered.with_options(**changed)

    def with_options(self, **options: object) -> ExportFormat:
        """This format with the options a user gave on the command line (None: not given)."""
        given = {k: v for k, v in options.items() if v is not None and v != {}}
        if "columns" in given:  # a name given for every file now replaces a table's own before
            new: Mapping[str, str] = given["columns"]  # type: ignore[assignment]
            kept = {
                c: e for c, e in self.columns.items()
                if "." not in c or c.split(".", 1)[1] not in new
            }  # fmt: skip
            given["columns"] = {**kept, **new}
        if "sheet" in given and "sheets" not in given:  # one sheet for every file, as asked
            given["sheets"] = {}
        elif "sheets" in given:  # a table's sheet given now joins those named before
            given["sheets"] = {**self.sheets, **given["sheets"]}  # type: ignore[dict-item]
        return replace(self, **given)  # type: ignore[arg-type]


def table_columns(columns: Mapping[str, str], table: str) -> dict[str, str]:
    """The contract-to-export names for one table's file: the names for every file, then the
    table's own (``activities.lead_id``), which win. Why per table: one system's exports name
    one column two ways (a lead export's ``Id``, its activity export's ``Lead Id``)."""
    every = {c: e for c, e in columns.items() if "." not in c}
    own = {c.split(".", 1)[1]: e for c, e in columns.items() if c.startswith(f"{table}.")}
    return {**every, **own}


def parse_sheet_options(values: Sequence[str]) -> tuple[str | None, dict[str, str]]:
    """``--sheet`` options as (the sheet of every file, each table's own): ``--sheet リード``
    names one sheet for all, ``--sheet activities=行動履歴`` one table's."""
    tables = ", ".join(schema.CONTRACT_COLUMNS)
    every, own = None, {}
    for value in values:
        table, sep, name = (part.strip() for part in value.partition("="))
        if sep and re.fullmatch(r"[A-Za-z_]+", table):  # TABLE=SHEET, or a misspelt one
            if table not in schema.CONTRACT_COLUMNS or not name or table in own:
                why = (
                    f"'{table}' is not a table ({tables})"
                    if table not in schema.CONTRACT_COLUMNS
                    else "no sheet after '='"
                    if not name
                    else f"{table}'s sheet is named twice"
                )
                raise ValueError(f"--sheet {value!r}: {why}; expected SHEET or TABLE=SHEET")
            own[table] = name
        elif every is None:
            every = value
        else:
            raise ValueError(
                f"--sheet {value!r}: a sheet for every file is already named ({every!r}); name "
                f"one table's as TABLE=SHEET ({tables})"
            )
    return every, own


def parse_column_options(pairs: Sequence[str]) -> dict[str, str]:
    """``--column lead_id=リードID`` options as a mapping, or a ValueError naming the bad one."""
    mapping = {}
    for pair in pairs:
        contract, sep, export = pair.partition("=")
        if not sep or not contract.strip() or not export.strip():
            raise ValueError(
                f"--column {pair!r}: expected CONTRACT=EXPORT, such as lead_id=リードID"
            )
        mapping[contract.strip()] = export.strip()
    return mapping


def _open_bytes(path: Path):  # type: ignore[no-untyped-def]
    """The file's bytes, decompressed when its name ends in .gz (as pandas reads it)."""
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else path.open("rb")


def detect_encoding(path: Path) -> str:
    """The file's text encoding: its byte-order mark, else the first of :data:`DETECTED`
    that decodes every byte.

    Why not a statistical detector (charset-normalizer, chardet): the candidates here are few,
    and a strict decode is a proof where a detector's guess on a short file of numbers and
    ASCII headers is not. The whole file is decoded, in chunks, because a CP932 byte may first
    appear in row 90,000.
    """
    with _open_bytes(path) as handle:
        head = handle.read(4)
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding
    for encoding in DETECTED:
        if _decodes(path, encoding):
            return encoding
    raise ReadError(
        "the file is neither UTF-8 nor CP932 (Shift_JIS) text", source=path.name,
        fix="Give its encoding with --encoding (for example --encoding euc_jp)",
    )  # fmt: skip


def _decodes(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        with _open_bytes(path) as handle:
            while chunk := handle.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _first_lines(path: Path, encoding: str) -> list[str]:
    """The file's first :data:`HEAD_ROWS` lines, as text (a quoted field may span lines)."""
    with _open_bytes(path) as raw, io.TextIOWrapper(raw, encoding=encoding, newline="") as text:
        return [line for _, line in zip(range(HEAD_ROWS), text, strict=False)]


def sniff_layout(path: Path, encoding: str, default: str) -> tuple[str, int]:
    """The separator of a text file and the title rows above its header (:func:`title_rows`).

    The separator is ``default``, or a tab or semicolon when that splits the header into more
    fields (Excel's 'Unicode text' is tab-separated, European Excel writes semicolons); quoted
    names are read as the CSV reader reads them. Each candidate is judged on the header it
    finds (a title may sit above it): one that finds no header of two fields or more is out,
    then the fewest title rows win, then the most fields. Why the header, not the widest
    line: a comma file whose cells hold HubSpot's multi-select values (``a;b;c``) splits
    wider on semicolons, but its header does not.
    """
    lines = _first_lines(path, encoding)
    layouts = {}
    for sep in (default, "\t", ";", ","):
        rows = list(csv.reader(lines, delimiter=sep))
        skipped = title_rows(rows) if rows else 0
        width = len(rows[skipped]) if len(rows) > skipped else 0
        layouts[sep] = (skipped, width)
    usable = [sep for sep, (_, width) in layouts.items() if width >= 2]
    if not usable:
        return default, 0
    best = min(usable, key=lambda sep: (layouts[sep][0], -layouts[sep][1], sep != default))
    return best, layouts[best][0]


HEAD_ROWS = 30  # the rows looked at for the separator and for a title above the header


def title_rows(rows: Sequence[Sequence[object]]) -> int:
    """How many rows above the header hold a title (a report's name, its export date, blank
    rows); 0 when the first row is the header.

    Japanese Excel reports and CRM report exports often start so, and the header read from
    their first row names no column the user asked for. The first row is a title only when it
    fills at most half the cells the rows under it typically fill; the header is then the
    first row that fills most of that width with distinct names. A first row as wide as the
    data is the header, whatever follows, so a plain file is never second-guessed.
    """
    cells = [[str(c).strip() for c in row if not _blank_cell(c)] for row in rows]
    filled = sorted(len(names) for names in cells[1:] if names)
    if len(filled) < 2:
        return 0
    typical = filled[len(filled) // 2]
    if len(cells[0]) > typical / 2:
        return 0
    for place, names in enumerate(cells):
        if len(names) >= max(2, 0.8 * typical) and len(set(names)) == len(names):
            return place
    return 0


def _blank_cell(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value) or not str(value).strip()


def title_note(source: str, skipped: int) -> tuple[str, ...]:
    """What reading a titled file decided, in words (nothing for a plain file)."""
    if not skipped:
        return ()
    return (
        f"{source}: the header is row {skipped + 1}; the {skipped} row(s) above it hold a title "
        "and were not read as data",
    )


def read_text_table(path: Path, fmt: ExportFormat, tab: bool) -> tuple[pd.DataFrame, int]:
    """A CSV or TSV file as text cells (only a blank cell is empty), in its encoding, and the
    title rows above its header that were skipped (:func:`title_rows`).

    CRLF line ends and a UTF-8 byte-order mark are read by pandas' parser as they are.
    """
    encoding = fmt.encoding or detect_encoding(path)
    try:
        separator, skipped = sniff_layout(path, encoding, "\t" if tab else ",")
        # only a blank cell is empty here: pandas' default would also read 'NA' (North
        # America, say) as missing, where the service, which gets the text, keeps it
        frame = pd.read_csv(
            path, sep=separator, dtype=str, keep_default_na=False, na_values=[""],
            encoding=encoding, encoding_errors="strict", skiprows=skipped,
        )  # fmt: skip
        return frame, skipped
    except UnicodeDecodeError as exc:
        raise ReadError(
            f"the file is not {encoding} text (byte {exc.start:,} cannot be read)",
            source=path.name,
            fix="Give its encoding with --encoding (utf-8, cp932, ...) or leave it out to detect",
        ) from None
    except pd.errors.EmptyDataError:
        raise ReadError(
            "the file is empty", source=path.name, fix="Export a header and rows"
        ) from None
    except pd.errors.ParserError as exc:
        raise ReadError(
            f"the file is not valid CSV ({exc})", source=path.name,
            fix="Quote fields that contain the separator",
        ) from None  # fmt: skip


# what a workbook holding several tables calls each one's sheet (folded by fold_text)
SHEET_NAMES = {
    "leads": {"leads", "lead", "contacts", "contact", "people", "リード", "見込み客", "リード一覧"},
    "activities": {
        "activities", "activity", "activity log", "activity history", "events",
        "アクティビティ", "行動履歴", "活動履歴", "行動", "アクション履歴",
    },
    "outcomes": {
        "outcomes", "outcome", "opportunities", "opportunity", "deals", "conversions",
        "商談", "成果", "商談化", "受注",
    },
}  # fmt: skip


@dataclass(frozen=True)
class Sheet:
    """The sheet :func:`read_excel_table` read: its rows, and where and why it read them."""

    frame: pd.DataFrame
    title_rows: int  # rows above the header, skipped (:func:`title_rows`)
    source: str  # the file's name, with the sheet's when the workbook has several
    # which sheet of several was read and how to choose another, when the table's own was not
    # named: a fix for an error about a column the sheet lacks
    choice: str | None


def choose_sheet(
    names: Sequence[str], fmt: ExportFormat, kind: str, source: str
) -> tuple[int, str | None]:
    """The position of the sheet to read as ``kind``'s table, and, when the workbook has
    several and the table's own was not named, which it is (:attr:`Sheet.choice`).

    The table's own sheet (``fmt.sheets``) wins, then one for every file (``fmt.sheet``, a
    name or a 0-based position). Unnamed, a workbook of one sheet reads it; of several, the
    one sheet named for the table (``SHEET_NAMES``: 行動履歴 for activities), else the first;
    two sheets named for it are an error naming both. A name is looked for before a position,
    so a sheet named ``2024`` is read by its name.
    Why look at the names: a Japanese MA export or a hand-made workbook keeps leads, activity
    history and deals as sheets of one file, and passing it as --leads, --activities and
    --outcomes read its first sheet three times, stopping on columns the activities lacked.
    """
    listed = f"of {len(names)}: {', '.join(names)}; choose another with --sheet {kind}=NAME"
    own = kind in fmt.sheets
    asked = fmt.sheets.get(kind, fmt.sheet)
    if asked is not None:  # a name first: a sheet may be named 2024
        position = list(names).index(str(asked)) if str(asked) in names else None
        if position is None and str(asked).isdigit():
            position = int(asked)
            if position >= len(names):
                raise ReadError(
                    f"no sheet at position {position}", source=source,
                    fix=f"The workbook has {len(names)} sheet(s), 0 to {len(names) - 1}: "
                    f"{', '.join(names)}",
                )  # fmt: skip
        if position is None:
            raise ReadError(
                f"no sheet {asked!r}", source=source,
                fix=f"The workbook's sheets are {', '.join(names)}; choose one with "
                + (f"--sheet {kind}=NAME" if own else "--sheet"),
            )  # fmt: skip
        # one --sheet read for every table of a workbook of several: say so if a column lacks
        return position, None if own or len(names) == 1 else (
            f"sheet '{names[position]}' (--sheet, for every table) {listed}"
        )
    if len(names) == 1:
        return 0, None
    named = [k for k, name in enumerate(names) if fold_text(str(name)) in SHEET_NAMES.get(kind, ())]
    if len(named) > 1:
        raise ReadError(
            f"sheets {' and '.join(repr(names[k]) for k in named)} are both named for {kind}",
            source=source, fix=f"Choose one with --sheet {kind}=NAME",
        )  # fmt: skip
    position = named[0] if named else 0
    why = f"named for {kind}" if named else "the first"
    return position, f"sheet '{names[position]}' ({why}) {listed}"


def read_excel_table(path: Path, fmt: ExportFormat, kind: str = "leads") -> Sheet:
    """A sheet of an Excel workbook as the CSV reader gives it: text cells, except columns
    whose cells are all dates (typed by Excel), which stay times; the sheet is ``kind``'s
    table's (:func:`choose_sheet`), and title rows above its header are skipped
    (:func:`title_rows`).

    Why convert numbers to text: the rest of the contract reads CSV cells as text (a code
    ``0111`` keeps its zero, the spec says which attributes are numbers), and Excel stores
    every number as a float, so ``12345`` must read ``12345``, not ``12345.0``.
    """
    if path.suffix.lower() in _EXCEL_ONLY_OLD:
        raise ReadError(
            "the old Excel format (.xls) is not read", source=path.name,
            fix="Save the workbook as .xlsx (Excel: File > Save As > Excel Workbook) or as CSV",
        )  # fmt: skip
    try:
        book = pd.ExcelFile(path, engine="openpyxl")
    except Exception as exc:  # openpyxl raises several types for a damaged or foreign file
        raise ReadError(
            f"not a readable .xlsx workbook ({type(exc).__name__})", source=path.name
        ) from None
    names = [str(n) for n in book.sheet_names]
    sheet, choice = choose_sheet(names, fmt, kind, path.name)
    head = book.parse(sheet, dtype=object, header=None, nrows=HEAD_ROWS)
    skipped = title_rows(head.itertuples(index=False))
    raw = book.parse(sheet, dtype=object, header=skipped)
    frame = pd.DataFrame(index=raw.index)
    for column in raw.columns:
        values = raw[column]
        filled = values.dropna()
        if len(filled) and filled.map(lambda v: isinstance(v, dt.date)).all():
            frame[str(column)] = pd.to_datetime(values)
        else:
            frame[str(column)] = pd.Series(values.map(_cell_text).tolist(), dtype="str")
    source = f"{path.name} [{names[sheet]}]" if len(names) > 1 else path.name
    return Sheet(frame, skipped, source, choice)


def _cell_text(value: object) -> str | None:
    if _blank_cell(value):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.date):  # a date cell in a column of text: ISO, read as such
        return value.isoformat()
    return str(value)


def rename_columns(
    frame: pd.DataFrame, columns: Mapping[str, str], wanted: Sequence[str]
) -> pd.DataFrame:
    """The export's names for contract columns renamed to the contract's (``wanted`` only).

    A mapped name the file does not have is an error only when the file also lacks the
    contract's own name: one mapping serves the leads, activities and outcomes files alike,
    and an activities file need not carry ``created_at``.
    """
    renames = {}
    for contract, export in columns.items():
        if contract not in wanted or export not in frame.columns or export == contract:
            continue
        if contract in frame.columns:
            raise ValueError(
                f"both '{contract}' and '{export}', mapped to it by --column, are in the file; "
                f"drop or rename one of them"
            )
        renames[export] = contract
    return frame.rename(columns=renames)
