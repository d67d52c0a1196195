"""A starter feature spec from any export, for a person to read and edit.

Inference is deliberately conservative: it proposes what is safe to use and says in the YAML's
header comment what it left out and why (personal data, ids, timestamps, free text, sales-side
activities), and which judgement calls it made with what evidence (columns judged identifiers
by their uniqueness, repeated codes kept with rare levels grouped, activity details split into
their own signals, the time zone of the creation weekday and hour), so the reader can change
its mind with one edit instead of hunting for a column.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from leadscore.features import schema
from leadscore.features.contract import FlatExport, is_empty
from leadscore.features.directions import number_direction_by_name, propose_directions
from leadscore.features.reading import ExportFormat
from leadscore.features.spec import (
    ANY_TYPE,
    DEFAULT_MIN_SHARE,
    DEFAULT_SPEC,
    CategoricalAttribute,
    CreatedAttribute,
    Engagement,
    FeatureSpec,
    NumericAttribute,
    Ratio,
    Signal,
    feature_name,
    fold_text,
    glob_to_regex,
    load_spec,
    name_slug,
    normalise_level,
)

# a name that says "code": such a column is never a number, whatever its type
# names are matched folded (full-width ＩＤ is id), in English and in Japanese
_CODE_NAME = re.compile(
    r"(^id$|_id$|^id_|\bid\b|(?<=[^\W\da-z_])id$|number$|^uuid|guid|code$|番号$|コード$)"
)
# an organisation's name, not a fact about it: "company_size" and "company_industry" stay
_ORGANISATION = re.compile(
    r"^(?:company|organi[sz]ation|employer|account)(?:_?name)?$|(?:company|account)_?name"
    r"|会社名|企業名|法人名|勤務先"
)


def organisation_column(columns: Iterable[str]) -> str | None:
    """The column that names the lead's company (``company``, ``Account Name``, ``会社名``):
    never a feature, but what a rep reads beside the lead's id."""
    return next((c for c in columns if _ORGANISATION.search(_fold(c))), None)


# activities sales logs after taking a lead, in English and Japanese (営業 sales, 商談 deal
# meeting, 架電/電話 calls, 面談/打ち合わせ meetings, アポ appointments, 受注/失注 won/lost);
# Marketo's "Convert Lead" is sales converting it
_SALES_SIDE = re.compile(
    r"sales|call|meeting|opportunit|task|deal|sms_sent|convert"
    r"|営業|商談|架電|電話|面談|打ち?合わ?せ|アポ|タスク|受注|失注"
)
# identifiers: distinct values on at least this share of the non-empty rows, and more than a
# handful of them (five leads with five sources are not five ids)
_UNIQUE_SHARE = 0.95
_HANDFUL = 20
# free text: most non-empty rows hold a value seen nowhere else
_FREE_TEXT_SHARE = 0.5
_MANY_LEVELS = 20
_MIN_LEVEL_LEADS = 50  # about 30 in the train period of the default 60/20/20 split
# activity details
_MIN_DETAIL_SHARE = 0.005
_MIN_DETAIL_LEADS = 25
_MAX_DETAIL_SIGNALS = 10
_LIFT_BAND = (0.67, 1.5)
_MIN_Z = 1.96
# outcomes choose detail signals only from leads created this early: 80% of the default split's
# train share (0.6), so that, by creation time, no validation or test lead lends its label
EVIDENCE_SHARE = 0.48
_PATH = re.compile(r"^((?:https?://[^/?#]+)?/)([^/?#]+)")
_DATED = re.compile(r"(?<!\d)(19|20)\d{2}[-_/.]?(0[1-9]|1[0-2])(?!\d)")


def snake(text: str) -> str:
    """A readable lower_snake_case name for a column or an activity type, in its own script
    (``job_title``, ``役職``; see :func:`features.spec.feature_name`)."""
    return feature_name(str(text))


def _fold(name: object) -> str:
    """A column or activity type name as the name patterns above read it."""
    return fold_text(str(name))


def infer_aliases(values: pd.Series) -> dict[str, str]:
    """Merge spellings that differ only in punctuation or spacing ("I.T." -> "it").

    Levels are compared by their letters and digits in every script (:func:`name_slug`), so
    ``部長`` and ``課長`` stay two levels; a level with no letter or digit at all (``-``,
    ``・``) is merged with nothing.
    """
    levels = Counter(level for level in (normalise_level(v, {}) for v in values.dropna()) if level)
    by_form: dict[str, list[str]] = {}
    for level in levels:
        form = name_slug(level).replace("_", "")
        if form:
            by_form.setdefault(form, []).append(level)
    aliases = {}
    for variants in by_form.values():
        if len(variants) > 1:
            main = max(variants, key=lambda v: levels[v])
            aliases.update({v: main for v in variants if v != main})
    return aliases


@dataclass(frozen=True)
class Inference:
    """An inferred spec, what was left out (with reasons), and the judgement calls it kept
    (with their evidence), both as lines for the spec's header."""

    spec: FeatureSpec
    skipped: list[str]
    kept: list[str] = field(default_factory=list)


def _non_empty(values: pd.Series) -> pd.Series:
    """The filled cells as text; 'no value' tokens ('', 'NA', 'null') are judged once per
    distinct value."""
    values = values.dropna()
    empty = [v for v in pd.unique(values) if is_empty(v)]
    return values[~values.isin(empty)].astype(str)


def _level_min_share(counts: pd.Series, n_rows: int) -> float | None:
    """The share of rows a level needs to keep its own weight: about ``_MIN_LEVEL_LEADS`` leads
    (rounded up to two significant figures), for a column with many levels; None (the spec's
    default) for a column with few."""
    if len(counts) <= _MANY_LEVELS:
        return None
    share = _MIN_LEVEL_LEADS / max(n_rows, 1)
    digits = 1 - math.floor(math.log10(share))
    return min(math.ceil(share * 10**digits) / 10**digits, 0.99)


def infer_attributes(
    leads: pd.DataFrame,
    personal_data: tuple[str, ...],
    exclude: tuple[str, ...] = (),
    numbers: Collection[str] = (),
    kept: list[str] | None = None,
) -> tuple[list[CategoricalAttribute | NumericAttribute], list[str]]:
    """Attributes worth a feature, and a line of explanation for every column left out.

    Judged by content, not by name:

    * an **identifier** is a column whose distinct non-empty values number at least 95% of its
      non-empty rows, and more than a handful: a text column whatever its name, a number
      column when its name says code (``_id``, ``number``, ``code``); a measure such as
      revenue may be unique and stays a number;
    * a column named as a code (``landing_page_id``, ``campaign_id``) that repeats is a
      **categorical** attribute, never a number (code 512 is not twice code 256);
    * a text column is **free text** when most of its non-empty rows hold a value seen once;
    * a categorical with many levels keeps a level only when it has about 50 leads
      (``min_share``); rarer levels are grouped. When no level has that many, the column is
      left out: nothing would be learned from it but "empty or not".

    A column is numeric when its type is, or when it is one of ``numbers`` (CSV text columns
    that hold only numbers, :attr:`features.contract.Table.numbers`). Lines for the judgement
    calls kept (repeated codes and their grouping) are appended to ``kept``.
    """
    kept = [] if kept is None else kept
    attributes: list[CategoricalAttribute | NumericAttribute] = []
    skipped: list[str] = []
    taken: set[str] = set()
    for column in leads.columns:
        values = leads[column]
        reason = None
        min_share = None
        aliases: dict[str, str] | None = None
        spelled = None  # (written counts, their levels, least leads): spellings if kept
        if column in (schema.LEAD_ID, schema.CREATED_AT, *exclude):
            continue
        code = bool(_CODE_NAME.search(_fold(column)))
        number = _is_number(values, numbers) and not code
        filled = _non_empty(values) if not pd.api.types.is_datetime64_any_dtype(values) else None
        if column in personal_data:
            reason = "personal data"
        elif filled is None:
            reason = "timestamp (an attribute filled at an unknown time may leak the outcome)"
        elif filled.empty:
            reason = "always empty"
        else:
            counts = filled.value_counts()
            distinct = len(counts)
            if (not number) and distinct >= _UNIQUE_SHARE * len(filled) and distinct > _HANDFUL:
                reason = (
                    f"an identifier: unique per lead ({distinct:,} distinct values over "
                    f"{len(filled):,} filled rows)"
                )
            elif _ORGANISATION.search(_fold(column)):
                reason = "an organisation's name (renaming a company must not move a score)"
            elif not number:
                once = int(counts[counts == 1].sum())
                aliases = infer_aliases(values)
                as_level = {v: normalise_level(v, aliases) for v in counts.index}
                raw_counts = counts
                counts = counts.groupby(counts.index.map(as_level)).sum()
                counts = counts.sort_values(ascending=False)
                distinct = len(counts)  # levels as the models see them
                min_share = _level_min_share(counts, len(leads))
                least = max(2, math.ceil((min_share or DEFAULT_MIN_SHARE) * len(leads)))
                spelled = (raw_counts, as_level, least)
                frequent = int((counts >= _MIN_LEVEL_LEADS).sum())
                if not code and once >= _FREE_TEXT_SHARE * len(filled) and distinct > 50:
                    reason = (
                        f"free text or a name ({distinct:,} distinct values, {once:,} of "
                        f"{len(filled):,} filled rows unique)"
                    )
                elif min_share is not None and frequent == 0:
                    what = "an identifier of a group" if code else "free text or a name"
                    reason = (
                        f"{what} ({distinct:,} values repeated, the most frequent on "
                        f"{int(counts.iloc[0]):,} leads; a level needs {_MIN_LEVEL_LEADS} to be "
                        "learned)"
                    )
                elif min_share is not None:
                    kept.append(
                        f"{column}: {'a repeated code' if code else 'many levels'} "
                        f"({distinct:,} levels over {len(filled):,} filled rows): {frequent} "
                        f"levels on {_MIN_LEVEL_LEADS}+ leads keep their own weight, the rest "
                        f"read as one (min_share {min_share:g})"
                    )
        if reason:
            skipped.append(f"{column}: {reason}")
            continue
        name = snake(column)
        while name in taken:
            name += "_"
        taken.add(name)
        if number:
            direction, why = number_direction_by_name(str(column))
            attributes.append(
                NumericAttribute(
                    name=name, column=str(column), direction=direction, direction_reason=why
                )
            )
        else:
            grouping = {} if min_share is None else {"min_share": min_share}
            attributes.append(
                CategoricalAttribute(
                    name=name,
                    column=str(column),
                    aliases=infer_aliases(values) if aliases is None else aliases,
                    spellings=level_spellings(*spelled) if spelled else {},
                    **grouping,
                )
            )
    return attributes, skipped


SPELLED_LEVELS = 200  # the most frequent levels whose spelling a spec keeps


def level_spellings(
    counts: pd.Series, as_level: dict[object, str | None], least: int
) -> dict[str, str]:
    """Each level as the export writes it most often, where folding changed it ('Web広告' for
    ``web広告``), for the most frequent ``SPELLED_LEVELS`` levels on ``least`` leads or more
    (its level share): a rarer one is grouped and never named, and a value written once (a
    name typed into a field) stays out of the spec (see
    :class:`features.spec.CategoricalAttribute`)."""
    written = pd.DataFrame({"written": counts.index.astype(str), "n": counts.to_numpy()})
    written["level"] = [as_level[v] for v in counts.index]
    written = written.dropna(subset=["level"])
    leads = written.groupby("level")["n"].transform("sum")
    written = written[leads >= least]
    chosen = written.sort_values("n", ascending=False, kind="stable").drop_duplicates("level")
    chosen = chosen.head(SPELLED_LEVELS)
    changed = chosen[chosen["written"].str.strip() != chosen["level"]]
    return dict(zip(changed["level"], changed["written"].str.strip(), strict=True))


@dataclass(frozen=True)
class DetailEvidence:
    """Why one activity detail (or page section) became its own signal."""

    activity_type: str
    detail: str  # the signal's glob
    activities: int
    share: float  # of the type's activities
    leads: int
    sql_rate: float | None = None
    rest_rate: float | None = None  # leads with the type but never this detail
    z: float | None = None

    def line(self, name: str) -> str:
        text = (
            f"{self.activity_type} '{self.detail}' -> {name}: {self.activities:,} activities "
            f"({self.share:.1%} of the type), {self.leads:,} leads"
        )
        if self.sql_rate is not None:
            text += (
                f"; SQL {self.sql_rate:.1%} vs {self.rest_rate:.1%} for the rest of the type "
                f"(z = {self.z:.1f})"
            )
        return text


def name_words(label: str) -> str:
    """``contact_sales`` from "Contact Sales", ``お問い合わせ`` from "お問い合わせ": a name part
    in the export's own words and script (:func:`features.spec.name_slug`), with a short hash
    of the text where words are lost (a long value, a value of punctuation only), so two
    different values never share a name."""
    words = name_slug(label)
    lossy = len(words) > 40
    words = words[:40].strip("_")
    if lossy or not words:
        words = f"{words}_{hashlib.sha1(label.encode()).hexdigest()[:6]}".strip("_")
    return words


def _detail_name(activity_type: str, label: str) -> str:
    """``fill_out_form_contact_sales`` from the export's own words (see :func:`name_words`)."""
    return f"{snake(activity_type)}_{name_words(label)}".strip("_")


def _two_proportions(hits: int, n: int, rest_hits: int, rest_n: int) -> float:
    pooled = (hits + rest_hits) / (n + rest_n)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n + 1 / rest_n))
    return 0.0 if spread == 0 else (hits / n - rest_hits / rest_n) / spread


def _detail_keys(details: pd.Series) -> tuple[pd.Series, bool]:
    """Each activity's candidate: its page section (``/pricing*``) when the type's details are
    mostly paths or URLs, else the exact detail value."""
    sections = details.str.extract(_PATH)
    if sections[1].notna().mean() >= 0.5:
        return (sections[0] + sections[1] + "*").dropna(), True
    return details, False


def _detail_signals(
    activity_type: str,
    rows: pd.DataFrame,
    sql_leads: set | None,
    taken: set[str],
) -> tuple[list[tuple[Signal, DetailEvidence]], list[str]]:
    total = len(rows)
    details = _non_empty(rows[schema.DETAIL])
    if details.empty:
        return [], []
    keys, paths = _detail_keys(details)
    notes = []
    dated = set() if paths else {k for k in keys.unique() if _DATED.search(k)}
    if dated:
        notes.append(
            f"{activity_type}: {len(dated):,} detail values name a date (campaign instances "
            "that never recur in the leads to score), not split"
        )
    counts = keys.value_counts()
    counts = counts[(counts >= _MIN_DETAIL_SHARE * total) & (counts < 0.95 * total)]
    counts = counts[~counts.index.isin(list(dated))]  # 95%+: the type itself, renamed
    among = keys.isin(list(counts.index)).to_numpy()
    lead_sets = (
        pd.DataFrame({"key": keys[among], "lead": rows.loc[keys.index[among], schema.LEAD_ID]})
        .groupby("key")["lead"]
        .agg(set)
    )
    type_leads = set(rows[schema.LEAD_ID])
    all_values = set(details.unique())
    found: list[tuple[float, Signal, DetailEvidence]] = []
    for key, count in counts.items():
        key = str(key)
        leads = lead_sets[key]
        if len(leads) < _MIN_DETAIL_LEADS:
            continue
        if not paths and "*" in key:
            pattern = re.compile(glob_to_regex(key))
            if any(pattern.match(v) for v in all_values - {key}):
                notes.append(f"{activity_type} '{key}': a '*' in the detail would match others")
                continue
        evidence = DetailEvidence(activity_type, key, int(count), count / total, len(leads))
        rank = float(count)
        if sql_leads is not None:
            rest = type_leads - leads
            if not rest:
                continue
            hits, rest_hits = len(leads & sql_leads), len(rest & sql_leads)
            rate, rest_rate = hits / len(leads), rest_hits / len(rest)
            z = _two_proportions(hits, len(leads), rest_hits, len(rest))
            lift = rate / rest_rate if rest_rate else (math.inf if rate else 1.0)
            if _LIFT_BAND[0] <= lift <= _LIFT_BAND[1] or abs(z) < _MIN_Z:
                continue
            evidence = DetailEvidence(
                activity_type, key, int(count), count / total, len(leads), rate, rest_rate, z
            )
            rank = abs(z)
        found.append((rank, Signal(name="", activity_types=(activity_type,), detail=key),
                      evidence))  # fmt: skip
    found.sort(key=lambda item: -item[0])
    chosen = []
    for _, signal, evidence in found[:_MAX_DETAIL_SIGNALS]:
        key = str(signal.detail)
        label = key.rstrip("*").rsplit("/", 1)[-1] if paths else key
        name = _detail_name(activity_type, label)
        if name in taken:
            name = f"{name}_{hashlib.sha1(key.encode()).hexdigest()[:6]}"
        taken.add(name)
        chosen.append((signal.model_copy(update={"name": name}), evidence))
    return chosen, notes


def _sql_leads(activities: pd.DataFrame, outcomes: pd.DataFrame) -> tuple[pd.DataFrame, set]:
    """Activities up to each lead's SQL moment (what came after cannot explain it), and the
    set of leads that became SQL."""
    sql_at = outcomes.set_index(schema.LEAD_ID)[schema.SQL_AT]
    sql_at = pd.to_datetime(sql_at.where(~sql_at.map(is_empty)), utc=True, errors="coerce")
    sql_at = sql_at[sql_at.notna()]
    when = pd.to_datetime(activities[schema.OCCURRED_AT], utc=True, errors="coerce")
    limit = activities[schema.LEAD_ID].map(sql_at)
    before = limit.isna() | (when <= limit)
    return activities[before.to_numpy()], set(sql_at.index)


def infer_signals(
    activities: pd.DataFrame,
    outcomes: pd.DataFrame | None = None,
    *,
    evidence_leads: Collection[object] | None = None,
) -> tuple[list[Signal], list[str], list[str], list[str]]:
    """(signals, excluded types, notes on what was left out, evidence lines for detail signals).

    One signal per activity type, sales-side types excluded (they leak the outcome), and one
    per activity detail of any type that earns it: a form name under ``Fill Out Form``, an
    email name, an event name, or for URL paths a page section (``/pricing*``). The rule:

    * **support**: at least 0.5% of that type's activities and at least 25 distinct leads;
    * **a distinct SQL rate**, when ``outcomes`` are given (``lead_id``, ``sql_at``; a lead is
      SQL when ``sql_at`` is not empty): the leads with the detail against the leads with the
      type but never that detail, counting only activities up to a lead's SQL moment, must
      differ by a lift outside [0.67, 1.5] *and* a two-proportion z-test with |z| >= 1.96.
      The ten with the largest |z| per type are kept;
    * without outcomes, support alone: the ten most frequent per type.

    ``evidence_leads``, when given, are the only leads whose activities count as evidence for
    details. A detail that covers (nearly) all of its type is the type itself and is not
    repeated; detail values that name a date (``webinar-2025-01-10-backup``) are campaign
    instances that the leads to score will never see, and are not split.
    """
    types = activities[schema.ACTIVITY_TYPE].dropna().astype(str).value_counts()
    excluded = [t for t in types.index if _SALES_SIDE.search(_fold(t))]
    signals = [
        Signal(name="any_activity", activity_types=(ANY_TYPE,),
               stats=("count", "days", "recency", "first"))
    ]  # fmt: skip
    names = {"any_activity"}
    typed = []
    for activity_type in types.index:
        if activity_type in excluded:
            continue
        name = snake(activity_type)
        if name in names:
            continue
        names.add(name)
        typed.append(activity_type)
        signals.append(Signal(name=name, activity_types=(activity_type,)))
    notes = [f"{t}: sales-side activity (leaks the outcome)" for t in excluded]
    evidence_lines: list[str] = []
    if schema.DETAIL not in activities.columns:
        return signals, excluded, notes, evidence_lines
    seen = activities
    if evidence_leads is not None:
        seen = seen[seen[schema.LEAD_ID].isin(list(evidence_leads)).to_numpy()]
    sql_leads = None
    if outcomes is not None:
        seen, sql_leads = _sql_leads(seen, outcomes)
    kinds = seen[schema.ACTIVITY_TYPE].astype(str).to_numpy()
    for activity_type in typed:
        found, type_notes = _detail_signals(
            activity_type, seen[kinds == activity_type], sql_leads, names
        )
        notes += type_notes
        for signal, evidence in found:
            signals.append(signal)
            evidence_lines.append(evidence.line(signal.name))
    return signals, excluded, notes, evidence_lines


def created_attributes(
    leads: pd.DataFrame, time_zone: str, taken: Collection[str] = ()
) -> tuple[list[CreatedAttribute], str | None]:
    """``created_weekday`` and ``created_hour`` on ``time_zone``'s clocks when the leads have a
    creation time, and the header line that says so; none, and no line, when they have not.

    Why the zone is asked for, not guessed: an export's timestamps are UTC (or say their
    offset), and where its leads live is not in the data; a Tokyo team's 10:00 is 01:00 UTC.
    """
    if schema.CREATED_AT not in leads.columns:
        return [], None
    created = pd.to_datetime(leads[schema.CREATED_AT], utc=True, errors="coerce")
    if created.isna().all():
        return [], None
    attributes = [
        CreatedAttribute(name=name, part=part, time_zone=time_zone)  # type: ignore[arg-type]
        for name, part in (("created_weekday", "weekday"), ("created_hour", "hour"))
        if name not in taken
    ]
    names = " and ".join(a.name for a in attributes)
    line = (
        f"{schema.CREATED_AT}: the weekday and hour a lead was created, on {time_zone} clocks "
        f"-> {names} (set time_zone to where the leads are, an IANA name such as Asia/Tokyo)"
    )
    return attributes, line if attributes else None


# history judges a direction on a lead's first weeks: what it did in them, and whether it became
# SQL after them. Why not its whole life: a lead that became SQL stops counting there, one that
# did not keeps counting for months, and every activity would look like bad news.
DIRECTION_WINDOW_DAYS = 30


def _with_directions(
    signals: list[Signal],
    leads: pd.DataFrame,
    activities: pd.DataFrame,
    outcomes: pd.DataFrame | None,
    evidence_leads: Collection[object] | None,
) -> list[Signal]:
    """The signals with proposed directions (:mod:`features.directions`): from their names,
    and, when outcomes and creation times are given, from the evidence leads' (the train
    period's) first ``DIRECTION_WINDOW_DAYS`` days against their SQL after them."""
    if outcomes is None or schema.CREATED_AT not in leads.columns:
        return propose_directions(signals)
    created = pd.to_datetime(leads.set_index(schema.LEAD_ID)[schema.CREATED_AT], utc=True,
                             errors="coerce")  # fmt: skip
    ends = created + pd.Timedelta(days=DIRECTION_WINDOW_DAYS)
    sql_at = outcomes.set_index(schema.LEAD_ID)[schema.SQL_AT]
    sql_at = pd.to_datetime(sql_at.where(~sql_at.map(is_empty)), utc=True, errors="coerce")
    sql_at = sql_at[sql_at.notna()].reindex(created.index)
    open_after = sql_at.isna() | (sql_at > ends)
    population = set(created.index[open_after.to_numpy() & created.notna().to_numpy()])
    if evidence_leads is not None:
        population &= set(evidence_leads)
    when = pd.to_datetime(activities[schema.OCCURRED_AT], utc=True, errors="coerce")
    end = activities[schema.LEAD_ID].map(ends)
    early = activities[(activities[schema.LEAD_ID].isin(list(population)) & (when <= end))
                       .to_numpy()]  # fmt: skip
    sql_leads = set(sql_at.index[sql_at.notna().to_numpy()]) & population
    return propose_directions(signals, early, population, sql_leads)


def _is_number(values: pd.Series, numbers: Collection[str]) -> bool:
    if values.name in numbers:
        return True
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _evidence_leads(leads: pd.DataFrame, share: float) -> Collection[object] | None:
    """The earliest ``share`` of leads by creation, when there is a creation time: outcomes
    choose signals only where the split trains, so the later periods that judge a model never
    chose its features."""
    if schema.CREATED_AT not in leads.columns:
        return None
    created = pd.to_datetime(leads[schema.CREATED_AT], utc=True, errors="coerce")
    if created.isna().all():
        return None
    return set(leads.loc[(created <= created.quantile(share)).to_numpy(),
                         schema.LEAD_ID])  # fmt: skip


_EMAIL = re.compile(r"e-?mail|メール")
_OPEN = re.compile(r"\bopen|開封")
_CLICK = re.compile(r"\bclick|クリック")


def _email_signal(signals: list[Signal], action: re.Pattern[str]) -> str | None:
    """The name of the signal that counts every email opened (or clicked), in any language:
    'email_open', Marketo's 'Open Email', a Japanese tool's 'メール開封'."""
    for signal in signals:
        words = " ".join(fold_text(t) for t in signal.activity_types)
        if signal.detail is None and _EMAIL.search(words) and action.search(words):
            return signal.name
    return None


def infer(
    leads: pd.DataFrame,
    activities: pd.DataFrame | None,
    personal_data: tuple[str, ...],
    *,
    exclude: tuple[str, ...] = (),
    numbers: Collection[str] = (),
    outcomes: pd.DataFrame | None = None,
    time_zone: str = "UTC",
    evidence_share: float = EVIDENCE_SHARE,
) -> Inference:
    """A starter spec, what was left out and why, and the evidence for what was kept.

    ``numbers``: see :func:`infer_attributes`. ``outcomes`` (``lead_id``, ``sql_at``) let
    activity details earn a signal by their SQL rate (see :func:`infer_signals`); only leads
    created in the earliest ``evidence_share`` of the export count as evidence (pass a share
    below the split's train share, so no validation or test label chooses a feature). With a
    creation time, the creation weekday and hour on ``time_zone``'s clocks (an IANA name) are
    attributes too (:func:`created_attributes`). The cutoff policy is the default spec's
    (a snapshot every 14 days for a lead's first 12 weeks): with the pydantic defaults (every
    7 days for 26 weeks) most leads straddled the split edges, the periods kept different
    kinds of leads, and a model calibrated on validation under-predicted the test period by
    a fifth on the foreign exports of ``benchmarks/bench_foreign.py``.
    """
    kept: list[str] = []
    attributes, skipped = infer_attributes(leads, personal_data, exclude, numbers, kept)
    created, line = created_attributes(leads, time_zone, {a.name for a in attributes})
    kept += [line] if line else []
    signals: list[Signal] = []
    excluded: list[str] = []
    engagement: list[Engagement] = []
    ratios: list[Ratio] = []
    if activities is not None and len(activities):
        evidence_leads = _evidence_leads(leads, evidence_share) if outcomes is not None else None
        signals, excluded, notes, evidence = infer_signals(
            activities, outcomes, evidence_leads=evidence_leads
        )
        typed = {s.name for s in signals[1:] if s.detail is None}
        skipped += notes
        kept += evidence
        signals = _with_directions(signals, leads, activities, outcomes, evidence_leads)
        kept += [
            f"{s.name}: direction {s.direction} ({s.direction_reason})"
            for s in signals
            if s.direction_reason
        ]
        # each activity counts once: the type's signal, not again for its detail
        weights = {s.name: 1.0 for s in signals if s.name in typed}
        if weights:
            engagement = [Engagement(name="all", half_life_days=14, weights=weights)]
        opened, clicked = _email_signal(signals, _OPEN), _email_signal(signals, _CLICK)
        if opened and clicked:
            ratios = [
                Ratio(name="click_to_open_90d", numerator=f"{clicked}_count_90d",
                      denominator=f"{opened}_count_90d")
            ]  # fmt: skip
    spec = FeatureSpec(
        cutoffs=load_spec(DEFAULT_SPEC).cutoffs,
        attributes=(*attributes, *created),
        signals=tuple(signals),
        engagement=tuple(engagement),
        ratios=tuple(ratios),
        exclude_activity_types=tuple(excluded),
        lead_age=schema.CREATED_AT in leads.columns,
    )
    return Inference(spec, skipped, kept)


def infer_spec(
    leads: pd.DataFrame,
    activities: pd.DataFrame | None,
    personal_data: tuple[str, ...],
    *,
    exclude: tuple[str, ...] = (),
    numbers: Collection[str] = (),
    outcomes: pd.DataFrame | None = None,
    time_zone: str = "UTC",
) -> tuple[FeatureSpec, list[str]]:
    """A starter spec and the list of what was left out, with reasons (see :func:`infer`,
    which also gives the evidence for what was kept)."""
    inference = infer(
        leads,
        activities,
        personal_data,
        exclude=exclude,
        numbers=numbers,
        outcomes=outcomes,
        time_zone=time_zone,
    )
    return inference.spec, inference.skipped


def spec_header(skipped: list[str], source: str, kept: list[str] | None = None) -> str:
    """The YAML comment that explains an inferred spec to the person who will edit it."""
    lines = [
        f"# Feature spec inferred by `leadscore spec infer` from {source}.",
        "# Edit freely: rename features, merge levels with aliases, add detail patterns.",
        "# Timestamps without a zone are UTC. Left out on purpose:",
    ]
    lines += [f"#   - {line}" for line in skipped] or ["#   (nothing)"]
    if kept:
        lines.append(
            "# Kept, with the evidence (repeated codes with rare levels grouped; activity "
            "details that became signals: support, SQL rate vs the rest of their type; the "
            "creation weekday and hour, with their time zone; each signal's direction, from "
            "its name or its history):"
        )
        lines += [f"#   - {line}" for line in kept]
    return "\n".join(lines) + "\n"


def infer_flat(flat: FlatExport, drop: Sequence[str] = (), *, time_zone: str = "UTC") -> Inference:
    """:func:`infer` on a flat export (whose leads have no label column), ``drop`` columns
    left out (as `train` and `spec infer` read a flat file alike)."""
    return infer(
        flat.leads, None, flat.personal_data, exclude=tuple(drop),
        numbers=flat.number_columns, time_zone=time_zone,
    )  # fmt: skip


def write_inferred_spec(
    leads: Path,
    out: Path,
    *,
    activities: Path | None = None,
    outcomes: Path | None = None,
    label: str | None = None,
    id_column: str | None = None,
    order_column: str | None = None,
    positive: str | None = None,
    negative: Sequence[str] = (),
    drop: Sequence[str] = (),
    fmt: ExportFormat | None = None,
) -> Inference:
    """`leadscore spec infer`: a starter spec inferred from an export, written to ``out`` with
    a header that says what was left out and kept, and why.

    Flat mode (``label`` given) reads one leads file as `train` does (``id_column``,
    ``order_column``, ``positive``, ``negative``, ``drop``) and leaves the label and ``drop``
    out of the features;
    event mode reads the export's files, ``outcomes`` letting an activity detail become its
    own signal only when its SQL rate differs. The creation weekday and hour are read on the
    clock of ``fmt`` (UTC without one).
    """
    from leadscore.features.contract import load_export, load_flat
    from leadscore.features.spec import dump_spec

    clock = fmt.time_zone if fmt is not None else "UTC"
    if label is not None:
        flat = load_flat(
            leads, label, id_column=id_column, order_column=order_column, fmt=fmt, drop=drop,
            positive=positive, negative=negative,
        )  # fmt: skip
        inference = infer_flat(flat, drop, time_zone=clock)
    else:
        export = load_export(leads, activities, outcomes, fmt)
        inference = infer(
            export.leads, export.activities if activities else None, export.personal_data,
            numbers=export.number_columns, outcomes=export.outcomes if outcomes else None,
            time_zone=clock,
        )  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    header = spec_header(inference.skipped, leads.name, inference.kept)
    dump_spec(inference.spec, out, header=header)
    return inference
