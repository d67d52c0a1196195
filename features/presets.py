"""Source presets: read a HubSpot, Marketo or Salesforce export as it comes out of the system.

Why: a first export speaks its vendor's words (``Record ID``, ``activityTypeId`` 2, ``Converted
Date``), and renaming columns by hand is where many first runs stop. A preset renames the
vendor's documented columns to the contract's names, writes Marketo's numeric activity types
as their documented names, and leaves out the columns a system fills in when a lead moves on
(its stage, its status, its conversion): as attributes they would give the outcome away.

A preset never parses a timestamp or judges a value; the contract (:mod:`features.contract`)
does that next, with its own errors. Vendor names and the pages they come from live in
``presets.yaml``; which contract columns are required comes from :mod:`features.schema`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal

import pandas as pd
import yaml

from leadscore.features import schema
from leadscore.features.contract import ContractError

PRESETS_FILE = Path(__file__).with_name("presets.yaml")

TableName = Literal["leads", "activities", "outcomes"]
TABLES: tuple[TableName, ...] = ("leads", "activities", "outcomes")

_REQUIRED: dict[str, tuple[str, ...]] = {
    "leads": schema.LEAD_REQUIRED,
    "activities": schema.ACTIVITY_REQUIRED,
    "outcomes": schema.OUTCOME_REQUIRED,
}
_CONTRACT = schema.CONTRACT_COLUMNS


@dataclass(frozen=True)
class TablePreset:
    """How one of a system's exports becomes one contract table (see presets.yaml's header)."""

    columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    after_the_fact: tuple[str, ...] = ()
    activity_type_ids: Mapping[str, str] = field(default_factory=dict)
    first_activity: Mapping[str, str] = field(default_factory=dict)
    no_export: bool = False


@dataclass(frozen=True)
class Preset:
    """A system's exports in the contract's words, with the documentation they come from."""

    name: str
    system: str
    export: str
    docs: tuple[str, ...]
    tables: Mapping[str, TablePreset]


# ------------------------------------------------------------------------------------ the data


@cache
def load_presets(path: Path = PRESETS_FILE) -> dict[str, Preset]:
    """Every preset in ``path``, read once; a column the contract does not know is an error."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {name: _preset(name, entry) for name, entry in raw["presets"].items()}


def preset_names() -> tuple[str, ...]:
    """The values ``--source`` accepts, in the file's order."""
    return tuple(load_presets())


def _preset(name: str, entry: Mapping) -> Preset:
    tables = {table: _table(name, table, spec or {}) for table, spec in entry["tables"].items()}
    return Preset(name, entry["system"], entry["export"], tuple(entry["docs"]), tables)


def _table(name: str, table: str, spec: Mapping) -> TablePreset:
    columns = {
        contract: (*names.get("en", ()), *names.get("ja", ()))
        for contract, names in (spec.get("columns") or {}).items()
    }
    known = {*_CONTRACT[table], *(_REQUIRED["activities"] if spec.get("first_activity") else ())}
    unknown = sorted(set(columns) - known)
    if unknown:
        raise ValueError(f"presets.yaml: {name}.{table} maps unknown columns {unknown}")
    return TablePreset(
        columns=columns,
        after_the_fact=tuple(spec.get("after_the_fact") or ()),
        activity_type_ids={
            str(k): str(v) for k, v in (spec.get("activity_type_ids") or {}).items()
        },
        first_activity=dict(spec.get("first_activity") or {}),
        no_export=bool(spec.get("no_export", False)),
    )


# ------------------------------------------------------------------------------ applying one


def apply_preset(
    name: str, table: TableName, frame: pd.DataFrame, source: str
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """``frame`` (one of ``name``'s exports, read from the file ``source``) in the contract's
    words, and one note per expected column it lacks or column it left out.

    A contract column already in ``frame`` (the user named it, or the file is already in
    leadscore's form) is kept and the vendor's is not looked for. Other columns stay as written
    and become attributes, except, in the leads table, the system's after-the-fact columns; the
    outcomes table keeps only the contract's columns, since one file may serve as both.
    """
    preset = _known_preset(name, source)
    spec = preset.tables.get(table, TablePreset(no_export=True))
    if spec.no_export:
        return frame, (
            f"{name}: {preset.system} documents no {table} export; "
            f"{source} is read with leadscore's own column names",
        )
    if spec.first_activity and not set(spec.first_activity) <= set(frame.columns):
        return _from_first_activities(preset, spec, frame, source)
    frame, notes = _renamed(preset, table, spec, frame, source, _REQUIRED[table])
    frame, typed = _activity_types_named(name, spec, frame)
    frame, dropped = _without_after_the_fact(preset, spec, frame)
    if table == "outcomes":
        frame = frame[[c for c in _CONTRACT["outcomes"] if c in frame.columns]]
    return frame, (*notes, *typed, *dropped)


def _known_preset(name: str, source: str) -> Preset:
    presets = load_presets()
    if name not in presets:
        raise ContractError(
            f"unknown source preset '{name}'", source=source,
            expected=f"one of {', '.join(presets)}",
        )  # fmt: skip
    return presets[name]


def column_key(name: object) -> str:
    """A column name as presets compare it: NFKC, any case, no spaces, '_' or '-'.

    Why: exports write one field as 'Record ID', 'record_id' or, from a Japanese UI with a
    full-width space, 'リード　ID'; all of them are the same column to the user.
    """
    text = unicodedata.normalize("NFKC", str(name)).casefold()
    return re.sub(r"[\s_\-]+", "", text)


def find_column(columns: Iterable[object], names: Sequence[str]) -> str | None:
    """The first of ``columns`` that is one of ``names`` (in the order of ``names``)."""
    by_key: dict[str, str] = {}
    for column in columns:
        by_key.setdefault(column_key(column), str(column))
    return next((by_key[column_key(n)] for n in names if column_key(n) in by_key), None)


def _renamed(
    preset: Preset,
    table: str,
    spec: TablePreset,
    frame: pd.DataFrame,
    source: str,
    required: Sequence[str],
) -> tuple[pd.DataFrame, list[str]]:
    """``frame`` with the vendor's columns under the contract's names; notes for absent ones."""
    renames: dict[str, str] = {}
    notes: list[str] = []
    for contract, names in spec.columns.items():
        if contract in frame.columns:
            continue
        column = find_column(frame.columns, names)
        if column is not None:
            renames[column] = contract
        elif contract in required:
            raise _missing(preset, table, spec, contract, source)
        elif names and contract in _CONTRACT[table]:
            notes.append(f"{preset.name}: '{names[0]}' not found; {contract} left empty")
    return frame.rename(columns=renames), notes


def _missing(
    preset: Preset, table: str, spec: TablePreset, contract: str, source: str
) -> ContractError:
    names = spec.columns.get(contract, ())
    looked_for = ", ".join(f"'{n}'" for n in names)
    fix = f"Export it with that column, or name yours with --column {contract}=<column>"
    if spec.first_activity:
        kinds = ", ".join(f"'{kind}' for {c}" for c, kind in spec.first_activity.items())
        fix = (
            f"{preset.system} has no standard column for {', '.join(spec.first_activity)}: give "
            f"its activity export as the {table} file (a lead's first activity stands in: "
            f"{kinds}), or name your column with --column {next(iter(spec.first_activity))}"
            "=<column>"
        )
    return ContractError(
        f"the {preset.name} preset found no column for {contract} in the {table} file",
        source=source, column=contract,
        expected=f"{preset.system}'s column {looked_for}" if names else None, fix=fix,
    )  # fmt: skip


def _activity_types_named(
    name: str, spec: TablePreset, frame: pd.DataFrame
) -> tuple[pd.DataFrame, list[str]]:
    """Numeric activity type ids written as the vendor's documented names.

    Ids the preset does not know (a subscription's custom activity types) keep their number
    and get a note, so the user can see them in the spec and name them there.
    """
    if not spec.activity_type_ids or schema.ACTIVITY_TYPE not in frame.columns:
        return frame, []
    text = frame[schema.ACTIVITY_TYPE].astype("string").str.strip()
    ids = text.str.replace(r"\.0+$", "", regex=True)  # 2.0 as a spreadsheet writes 2
    numeric = ids.str.fullmatch(r"\d+").fillna(False)
    named = ids.map(spec.activity_type_ids)
    frame = frame.assign(**{schema.ACTIVITY_TYPE: text.where(~numeric, named.fillna(ids))})
    unknown = sorted(set(ids[numeric & named.isna()]), key=int)
    if not unknown:
        return frame, []
    shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
    return frame, [
        f"{name}: activity type ids {shown} are not standard activity types; "
        "kept as numbers (custom activities)"
    ]


def _without_after_the_fact(
    preset: Preset, spec: TablePreset, frame: pd.DataFrame
) -> tuple[pd.DataFrame, list[str]]:
    keys = {column_key(n) for n in spec.after_the_fact}
    dropped = [c for c in frame.columns if column_key(c) in keys]
    if not dropped:
        return frame, []
    listed = ", ".join(f"'{c}'" for c in dropped)
    return frame.drop(columns=dropped), [
        f"{preset.name}: left out {listed}: {preset.system} fills these in when a lead moves "
        "on, so they would give the outcome away"
    ]


def _from_first_activities(
    preset: Preset, spec: TablePreset, frame: pd.DataFrame, source: str
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Outcomes from an activity export: each outcome time is a lead's first activity of a type.

    Marketo's extract writes ``activityDate`` in one ISO 8601 UTC form, so the earliest is the
    smallest text and no timestamp is parsed here; the contract parses what is kept.
    """
    required = (schema.LEAD_ID, schema.OCCURRED_AT, schema.ACTIVITY_TYPE)
    frame, _ = _renamed(preset, "outcomes", spec, frame, source, required)
    frame, _ = _activity_types_named(preset.name, spec, frame)
    outcomes = pd.DataFrame({schema.LEAD_ID: pd.Series(dtype=frame[schema.LEAD_ID].dtype)})
    notes = []
    for column, kind in spec.first_activity.items():
        rows = frame[frame[schema.ACTIVITY_TYPE] == kind]
        first = (
            rows.sort_values(schema.OCCURRED_AT, kind="stable")
            .drop_duplicates(schema.LEAD_ID)[[schema.LEAD_ID, schema.OCCURRED_AT]]
            .rename(columns={schema.OCCURRED_AT: column})
        )
        outcomes = outcomes.merge(first, on=schema.LEAD_ID, how="outer")
        notes.append(
            f"{preset.name}: {len(first)} leads have a '{kind}' activity in {source}; "
            f"its date stands in for {column}"
        )
    return outcomes.reset_index(drop=True), tuple(notes)
