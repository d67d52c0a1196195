"""From an export leadscore has not seen to a training set it can fit, deciding out loud.

A user's export does not speak the simulator's words: its columns are ``seniority`` and
``lead_source``, its activities ``Visit Webpage`` and ``Fill Out Form``. Nothing the user did
not ask for may stop a run on it, so:

* a spec or rulebook named by the user is used as written (its errors do stop the run: the
  user asked for it);
* the default spec is used only when every attribute column and activity type it names is in
  the export; otherwise the spec is inferred from the export (:func:`features.infer.infer`);
* the default rulebook keeps only the rules whose attributes and activity types exist in the
  export; when none remain, the run starts from no rules, builds its training set with every
  candidate rule compiled in, and bootstraps a rulebook from history
  (:func:`training.job.suggest.suggest`) before fitting.

Every decision is a line of plain text, which the CLI prints and the training job logs to
MLflow; the spec and rulebook used are written beside the training set so later commands
(``rules evaluate``, ``rules suggest``, ``train --training-set``) read the same ones.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from leadscore.features import schema
from leadscore.features.infer import Inference, infer
from leadscore.features.reading import ExportFormat, table_columns
from leadscore.features.schema import CUTOFF_AT, LABEL, SPLIT
from leadscore.features.sources import ExportPaths, Source
from leadscore.features.spec import (
    ANY_TYPE,
    DEFAULT_SPEC,
    CategoricalAttribute,
    FeatureSpec,
    NumericAttribute,
    dump_spec,
    glob_to_regex,
    load_spec,
)
from leadscore.features.training_set import (
    PROFILE_FILE,
    SplitEdges,
    SplitPlan,
    build_training_set,
    profile_training_set,
    write_profile,
)
from leadscore.progress import task
from leadscore.training.job.leakage import leak_suspects
from leadscore.training.job.suggest import Suggestion, bootstrap_rulebook, empty_rulebook, suggest
from leadscore.training.model.artifact import RULEBOOK_FILE, SPEC_FILE
from leadscore.training.model.rulebook import (
    DEFAULT_RULEBOOK,
    Rule,
    Rulebook,
    compile_rules,
    dump_rulebook,
    load_rulebook,
)

DECISIONS_FILE = "decisions.txt"
SUGGESTED_FILE = "rulebook_suggested.yaml"
_INFER_ACTIVITIES = 2_000_000  # activities read into pandas to infer a spec: plenty for shares


@dataclass(frozen=True)
class StartingPoint:
    """The spec and rulebook a run starts from, and why."""

    spec: FeatureSpec  # without the rulebook's signals
    rulebook: Rulebook  # when ``bootstrap``: the candidate rules, compiled in for the build
    bootstrap: bool
    decisions: tuple[str, ...]


@dataclass(frozen=True)
class Prepared:
    """A built training set with the spec (rules compiled in) and rulebook a model fits with."""

    training_set: Path
    spec: FeatureSpec  # with the rulebook's signals compiled in
    rulebook: Rulebook
    base_spec: FeatureSpec  # without them: what spec.yaml beside the training set holds
    profile: dict
    edges: SplitEdges
    decisions: tuple[str, ...]
    historical_mql_per_week: float | None
    suggestion: Suggestion | None = None
    rules_learned_until: pd.Timestamp | None = None  # last cutoff a bootstrapped rulebook saw


@dataclass(frozen=True)
class ExportShape:
    """What of an export decides whether the defaults fit: its columns, activities, details."""

    lead_columns: frozenset[str]
    details: dict[str, tuple[str, ...]]  # activity type -> its distinct details


def export_shape(source: Source) -> ExportShape:
    """Lead columns and each activity type's distinct details, by one query."""
    pairs = (
        source.activities.select(schema.ACTIVITY_TYPE, schema.DETAIL)
        .distinct()
        .to_pyarrow()
        .to_pandas()
    )
    details = {
        str(kind): tuple(str(d) for d in group[schema.DETAIL].dropna())
        for kind, group in pairs.groupby(schema.ACTIVITY_TYPE, observed=True)
    }
    return ExportShape(frozenset(source.leads.columns), details)


def _matches(shape: ExportShape, activity_type: str, detail: str | None) -> bool:
    """Whether the export has the activity (and a detail the spec's glob matches, read as
    the feature builder reads it: :func:`features.spec.glob_to_regex`)."""
    if activity_type == ANY_TYPE:
        return True
    if activity_type not in shape.details:
        return False
    if detail is None:
        return True
    pattern = re.compile(glob_to_regex(detail), re.DOTALL)
    return any(pattern.match(value) for value in shape.details[activity_type])


def spec_misfit(spec: FeatureSpec, shape: ExportShape) -> list[str]:
    """What of ``spec`` the export lacks: attribute columns, activity types (with details)."""
    missing = [
        f"column '{a.column}'" for a in spec.attributes if a.column not in shape.lead_columns
    ]
    for signal in spec.signals:
        for kind in signal.activity_types:
            if not _matches(shape, kind, signal.detail):
                what = f"activity '{kind}'" + (
                    f" with detail '{signal.detail}'" if signal.detail else ""
                )
                if what not in missing:
                    missing.append(what)
    return missing


def fitting_rules(
    rulebook: Rulebook, spec: FeatureSpec, shape: ExportShape
) -> tuple[Rulebook, list[str]]:
    """The rulebook without the rules the export cannot fire, and one note per rule left out."""
    attributes = {a.name for a in spec.attributes}
    kept: list[Rule] = []
    dropped: list[str] = []
    for rule in rulebook.rules:
        if rule.when is not None:
            absent = sorted(set(rule.when) - attributes)
            if absent:
                dropped.append(f"{rule.name} (attribute {', '.join(absent)} not in the spec)")
                continue
        elif rule.activity is not None and not _matches(
            shape, rule.activity.type, rule.activity.detail
        ):
            dropped.append(f"{rule.name} (activity '{rule.activity.type}' not in the export)")
            continue
        kept.append(rule)
    passes = []
    for trigger in rulebook.instant_pass:
        if _matches(shape, trigger.activity.type, trigger.activity.detail):
            passes.append(trigger)
        else:
            dropped.append(f"{trigger.name} (activity '{trigger.activity.type}' not in the export)")
    trimmed = rulebook.model_copy(update={"rules": tuple(kept), "instant_pass": tuple(passes)})
    return trimmed, dropped


def _frames(source: Source) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Leads, up to ``_INFER_ACTIVITIES`` activities and the outcomes, as pandas frames."""
    leads = source.leads.to_pyarrow().to_pandas()
    activities = source.activities
    count = int(activities.count().execute())
    if count > _INFER_ACTIVITIES:
        activities = activities.sample(_INFER_ACTIVITIES / count, seed=0)
    outcomes = source.outcomes.select(schema.LEAD_ID, schema.SQL_AT)
    return (
        leads,
        activities.to_pyarrow().to_pandas(),
        outcomes.to_pyarrow().to_pandas(),
    )


def _inferred(source: Source, time_zone: str, plan: SplitPlan) -> Inference:
    leads, activities, outcomes = _frames(source)
    train_share = 1 - plan.validation_share - plan.test_share
    outcome_columns = outcomes_in_leads(leads.columns, source.export_format)
    inference = infer(
        leads,
        activities,
        source.personal_data,
        exclude=tuple(outcome_columns),
        numbers=source.number_columns,
        outcomes=outcomes,
        time_zone=time_zone,
        evidence_share=0.8 * train_share,  # leads created early enough to be train leads
    )
    said = [f"{column}: the outcome {name}, never a feature" for column, name in
            outcome_columns.items()]  # fmt: skip
    return replace(inference, skipped=[*said, *inference.skipped])


def outcomes_in_leads(columns: Iterable[str], fmt: ExportFormat | None) -> dict[str, str]:
    """The leads file's columns that are outcomes, by the contract's name (``sql_at``) or the
    export's name mapped to one (``--column sql_at='Became a Sales Qualified Lead Date'``),
    with the outcome each is.

    Why: a CRM's contacts file often carries its own outcomes, and the same file then serves
    as --outcomes. As an attribute, an outcome would teach the model the answer itself.
    """
    names = {name: name for name in schema.OUTCOME_TIMESTAMPS}
    if fmt is not None:
        outcomes = table_columns(fmt.columns, "outcomes")
        names |= {outcomes[n]: n for n in schema.OUTCOME_TIMESTAMPS if n in outcomes}
    return {column: names[column] for column in columns if column in names}


def starting_point(
    source: Source,
    *,
    spec: Path | None = None,
    rulebook: Path | None = None,
    time_zone: str = "UTC",
    plan: SplitPlan = SplitPlan(),
) -> StartingPoint:
    """Decide the spec and rulebook for ``source`` (see the module docstring); an inferred
    spec reads the creation weekday and hour on ``time_zone``'s clock."""
    shape = export_shape(source)
    decisions: list[str] = [f"reading: {note}" for note in source.notes]
    if source.export_format is not None:
        decisions.append(f"reading: {_described(source.export_format)}")
    if spec is not None:
        base = load_spec(spec)
        decisions.append(f"spec: {spec}, as given")
    else:
        default = load_spec(DEFAULT_SPEC)
        misfit = spec_misfit(default, shape)
        if not misfit:
            base = default
            decisions.append(
                "spec: the default spec (every column and activity it names is in the export)"
            )
        else:
            inference = _inferred(source, time_zone, plan)
            base = inference.spec
            decisions.append(
                f"spec: inferred from the export ({len(base.attributes)} attributes, "
                f"{len(base.signals)} signals), as the default spec's {_few(misfit)} "
                "are not in it; see spec.yaml beside the training set"
            )
            decisions += [f"left out {line}" for line in inference.skipped]
            decisions += [f"kept {line}" for line in inference.kept]
    decisions += _leak_suspects(source, base)
    if rulebook is not None:
        book = load_rulebook(rulebook)
        compile_rules(book, base)  # a rulebook the user named that does not fit stops the run
        decisions.append(f"rulebook: {rulebook}, as given")
        return StartingPoint(base, book, False, tuple(decisions))
    book, dropped = fitting_rules(load_rulebook(DEFAULT_RULEBOOK), base, shape)
    if book.rules or book.instant_pass:
        decisions.append(
            "rulebook: the default rulebook"
            + (
                f", without {len(dropped)} rules the export cannot fire: {_few(dropped)}"
                if dropped
                else ""
            )
        )
        return StartingPoint(base, book, False, tuple(decisions))
    decisions.append(
        "rulebook: none of the default rulebook's rules fit this export, so the run starts "
        "from no rules and suggests a rulebook from history (`leadscore rules suggest`)"
    )
    return StartingPoint(base, bootstrap_rulebook(base), True, tuple(decisions))


def _leak_suspects(source: Source, spec: FeatureSpec) -> list[str]:
    """:func:`training.job.leakage.leak_suspects` of the leads' attributes against whether
    each lead ever became SQL (a lead too new to have done so counts as not: a screen, not
    a figure). Only the id and the attributes' columns are read: the screen looks at no other."""
    read = {
        a.column for a in spec.attributes if isinstance(a, CategoricalAttribute | NumericAttribute)
    }
    columns = [schema.LEAD_ID, *sorted(read & set(source.leads.columns))]
    leads = source.leads.select(*columns).to_pyarrow().to_pandas()
    sql_at = source.outcomes.select(schema.LEAD_ID, schema.SQL_AT).to_pyarrow().to_pandas()
    converted = set(sql_at.loc[sql_at[schema.SQL_AT].notna(), schema.LEAD_ID])
    label = leads[schema.LEAD_ID].isin(converted).astype(float)
    return leak_suspects(leads, label, spec, flat=False)


def _few(items: list[str], shown: int = 4) -> str:
    more = f" and {len(items) - shown} more" if len(items) > shown else ""
    return ", ".join(items[:shown]) + more


def historical_mql_per_week(source: Source) -> float | None:
    """:func:`training.job.run.weekly_mql_volume` of the export's outcomes (one row per lead)."""
    from leadscore.training.job.run import weekly_mql_volume

    if schema.MQL_AT not in source.outcomes.columns:
        return None
    outcomes = source.outcomes.select(schema.LEAD_ID, schema.MQL_AT).to_pyarrow().to_pandas()
    return weekly_mql_volume(outcomes)


def _described(fmt: ExportFormat) -> str:
    """The export's format in one line: what was not a default."""
    given = {k: v for k, v in fmt.as_dict().items() if v not in (None, {}, "UTC")}
    return "files read with " + ", ".join(f"{k} {v}" for k, v in given.items())


def prepare_training_set(
    source: Source,
    start: StartingPoint,
    out: Path,
    *,
    as_of: pd.Timestamp | None = None,
    plan: SplitPlan = SplitPlan(),
    target_mql_per_week: float | None = None,
    suggest_when_due: bool = True,
    temporary: bool = False,
) -> Prepared:
    """Build the training set from ``start``; bootstrap the rulebook from it when due.

    A bootstrapped rulebook is proposed on the train period and tuned on validation, like
    ``rules suggest``; its rules read columns the build already made (the candidates were
    compiled in), so nothing is built twice. Writes the spec, rulebook, decisions, the export's
    format (unless the default) and, when bootstrapped, the suggestion with its evidence beside
    the training set.

    ``suggest_when_due=False`` leaves a due rulebook empty, for ``rules suggest``, which
    suggests one itself (from the train and validation periods, with a diff against no rules):
    a rulebook suggested here first would be a "current" one the user never saw.
    ``temporary``: ``out`` is deleted after the call, so no decision points a user to a file in
    it.
    """
    built_with = compile_rules(start.rulebook, start.spec)
    path, edges = build_training_set(
        source.con, source.leads, source.activities, source.outcomes, built_with, out,
        as_of=as_of, plan=plan,
    )  # fmt: skip
    with task("Profiling the training set"):
        profile = profile_training_set(source.con, path, built_with, edges)
    write_profile(profile, out)
    mql_rate = historical_mql_per_week(source)
    decisions = list(start.decisions)
    if edges.widened:
        decisions.append(f"split: {edges.widened}")
    rulebook, suggestion, learned_until = start.rulebook, None, None
    if start.bootstrap and not suggest_when_due:
        rulebook = empty_rulebook()
    elif start.bootstrap:
        with task("Suggesting a rulebook from history"):
            suggestion = bootstrap_from(path, built_with, target_mql_per_week, mql_rate)
        rulebook = suggestion.rulebook
        learned_until = bootstrap_learned_until(path)
        write_suggestion(suggestion, out / SUGGESTED_FILE, f"the training set {path}")
        where = (
            "`leadscore features build --out DIR` keeps it with its evidence for review"
            if temporary
            else f"see {out / SUGGESTED_FILE} and its evidence"
        )
        decisions.append(
            f"rulebook: suggested from history, {len(rulebook.rules)} rules and "
            f"{len(rulebook.instant_pass)} instant passes; it {suggestion.handoff}; {where}"
        )
    write_inputs(out, start.spec, rulebook)
    if source.export_format is not None:  # for the next file of this export, and for people
        source.export_format.save(out)
    (out / DECISIONS_FILE).write_text("\n".join(decisions) + "\n")
    return Prepared(
        path, compile_rules(rulebook, start.spec), rulebook, start.spec, profile, edges,
        tuple(decisions),
        mql_rate, suggestion, learned_until,
    )  # fmt: skip


def prepare_export(
    export: ExportPaths,
    out: Path,
    *,
    spec: Path | None = None,
    rulebook: Path | None = None,
    plan: SplitPlan = SplitPlan(),
    as_of: str | pd.Timestamp | None = None,
    target_mql_per_week: float | None = None,
    decided: Callable[[str], None] | None = None,
    suggest_when_due: bool = True,
    temporary: bool = False,
) -> Prepared:
    """Open an export, decide its spec and rulebook, and build its training set under ``out``.

    Why one call: `features build`, `train` and `rules` start from an export the same way.
    ``decided`` hears each decision as it is made (the starting point's before the long build,
    a bootstrapped rulebook's after it), so nothing happens without a word; ``as_of`` is an ISO
    8601 time (UTC if no zone) or a timestamp; ``suggest_when_due`` and ``temporary`` as in
    :func:`prepare_training_set`.
    """
    say = decided or (lambda _: None)
    source = export.open()
    try:
        start = starting_point(
            source, spec=spec, rulebook=rulebook, time_zone=export.time_zone, plan=plan
        )
        for line in start.decisions:
            say(line)
        prepared = prepare_training_set(
            source, start, out, plan=plan,
            as_of=schema.utc_timestamp(as_of) if as_of else None,
            target_mql_per_week=target_mql_per_week, suggest_when_due=suggest_when_due,
            temporary=temporary,
        )  # fmt: skip
    finally:
        # DuckDB keeps the memory of the build until its connection closes: a training job
        # that follows in the same process would otherwise fit its models on top of it
        source.con.disconnect()
    for line in prepared.decisions[len(start.decisions) :]:
        say(line)
    return prepared


def labelled_periods(training_set: Path | pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The labelled rows of the train, validation and test periods."""
    rows = pd.read_parquet(training_set) if isinstance(training_set, Path) else training_set
    rows = rows[rows[LABEL].notna()]
    return {name: rows[rows[SPLIT] == name] for name in ("train", "validation", "test")}


BOOTSTRAP_TUNING_SHARE = 0.25  # the latest quarter of the train period tunes a bootstrap


def bootstrap_from(
    training_set: Path,
    spec: FeatureSpec,
    target_mql_per_week: float | None = None,
    historical_mql_per_week: float | None = None,
) -> Suggestion:
    """A rulebook suggested from an empty one on the train period alone.

    Its points are fitted on the train period's earlier rows and their regularisation and
    instant passes tuned on its latest ``BOOTSTRAP_TUNING_SHARE``, so the validation period
    that later chooses the model's layers has not chosen the rules too (judged there, rules
    tuned on it would look better than they are).
    """
    train = labelled_periods(training_set)["train"]
    cut = train[CUTOFF_AT].quantile(1 - BOOTSTRAP_TUNING_SHARE)
    early, late = train[train[CUTOFF_AT] <= cut], train[train[CUTOFF_AT] > cut]
    if early[LABEL].nunique() < 2 or late[LABEL].nunique() < 2:
        raise ValueError(
            "the train period has too few SQLs to suggest a rulebook from; export more "
            "history, or name a rulebook with --rulebook"
        )
    return suggest(
        empty_rulebook(), spec, early, late, target_mql_per_week=target_mql_per_week,
        historical_mql_per_week=historical_mql_per_week,
    )  # fmt: skip


def suggest_from(
    rulebook: Rulebook,
    spec: FeatureSpec,
    training_set: Path | pd.DataFrame,
    *,
    target_mql_per_week: float | None = None,
    historical_mql_per_week: float | None = None,
    max_new_rules: int = 8,
) -> Suggestion:
    """:func:`training.job.suggest.suggest` on a training set's train, validation and test."""
    parts = labelled_periods(training_set)
    if parts["train"].empty or parts["validation"].empty:
        raise ValueError(
            "the training set needs labelled train and validation rows; export more history"
        )
    return suggest(
        rulebook, spec, parts["train"], parts["validation"], test=parts["test"],
        target_mql_per_week=target_mql_per_week,
        historical_mql_per_week=historical_mql_per_week, max_new_rules=max_new_rules,
    )  # fmt: skip


def write_suggestion(suggestion: Suggestion, out: Path, source: str) -> list[Path]:
    """The suggested rulebook (YAML), its evidence (CSV) and its diff, for a person to review."""
    out.parent.mkdir(parents=True, exist_ok=True)
    header = (
        f"# Suggested by `leadscore rules suggest` from {source}.\n"
        "# Review the points, the evidence (.evidence.csv) and the diff (.diff) before use.\n"
        f"# The threshold {suggestion.handoff}.\n"
    )
    out.write_text(dump_rulebook(suggestion.rulebook, header=header))
    suggestion.evidence.to_csv(out.with_suffix(".evidence.csv"))
    out.with_suffix(".diff").write_text(suggestion.diff)
    return [out, out.with_suffix(".evidence.csv"), out.with_suffix(".diff")]


def write_inputs(out: Path, spec: FeatureSpec, rulebook: Rulebook) -> None:
    """The spec (without the rules compiled in) and rulebook beside a training set, so that
    `rules evaluate`, `rules suggest` and `train --training-set` read what it was built with."""
    dump_spec(spec, out / SPEC_FILE)
    (out / RULEBOOK_FILE).write_text(dump_rulebook(rulebook))


def bootstrap_learned_until(training_set: Path) -> pd.Timestamp:
    """The last cutoff a rulebook bootstrapped from ``training_set`` learnt its points from:
    the train period's (:func:`bootstrap_from` proposes on it)."""
    rows = pd.read_parquet(training_set, columns=[CUTOFF_AT, LABEL, SPLIT])
    return rows.loc[(rows[SPLIT] == "train") & rows[LABEL].notna(), CUTOFF_AT].max()


def recorded_learned_until(training_set: Path, rulebook: Path | None) -> pd.Timestamp | None:
    """:func:`bootstrap_learned_until` when the rulebook training reads is the one bootstrapped
    from ``training_set`` (written beside it with its suggestion; none named, or that very
    file named), else None.

    Why: `train --training-set` on such a set must judge the layers only after those rows,
    as the one command did; on earlier rows the rules would win by having seen the label."""
    written = beside(training_set, RULEBOOK_FILE)
    if written is None or beside(training_set, SUGGESTED_FILE) is None:
        return None
    if rulebook is not None and Path(rulebook).resolve() != written.resolve():
        return None
    return bootstrap_learned_until(training_set)


def beside(training_set: Path, name: str) -> Path | None:
    """A file written next to a training set by :func:`prepare_training_set`, if there."""
    path = Path(training_set).parent / name
    return path if path.exists() else None


def read_profile(training_set: Path) -> dict | None:
    path = beside(training_set, PROFILE_FILE)
    return json.loads(path.read_text()) if path else None


def recorded_inputs(
    training_set: Path, spec: Path | None = None, rulebook: Path | None = None
) -> tuple[FeatureSpec, Rulebook, tuple[str, ...]]:
    """The spec and rulebook a training set was built with: those named, else the ones
    written beside it, else (a set built before they were written) the defaults, said so."""
    if not Path(training_set).exists():
        raise FileNotFoundError(
            f"{training_set}: no training set here; build one with `leadscore features build`"
        )
    decisions = []
    chosen = {}
    for what, given, name, default in (
        ("spec", spec, SPEC_FILE, DEFAULT_SPEC),
        ("rulebook", rulebook, RULEBOOK_FILE, DEFAULT_RULEBOOK),
    ):
        recorded = beside(training_set, name)
        chosen[what] = given or recorded or default
        if given:
            decisions.append(f"{what}: {given}, as given")
        elif recorded:
            decisions.append(f"{what}: {recorded}, the one the training set was built with")
        else:
            decisions.append(
                f"{what}: the default {what}, as no {name} lies beside the training set; "
                f"pass --{what} if it was built with another"
            )
    base, book = load_spec(chosen["spec"]), load_rulebook(chosen["rulebook"])
    compile_rules(book, base)  # names the rule and field of a rulebook that does not fit
    return base, book, tuple(decisions)
