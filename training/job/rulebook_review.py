"""`rules evaluate` and `rules suggest`: a rulebook judged or improved on history.

Both start from a training set (with the spec and rulebook it was built with) or from an
export, built into a temporary folder with the spec and rulebook that fit it, decided out loud
as `train` does. Why a module of its own: the command line only parses and prints.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from leadscore.features.schema import CUTOFF_AT, LABEL, SPLIT
from leadscore.features.sources import ExportPaths
from leadscore.features.spec import FeatureSpec
from leadscore.training.job.prepare import (
    prepare_export,
    recorded_inputs,
    suggest_from,
    write_suggestion,
)
from leadscore.training.job.rule_metrics import handoff_metrics
from leadscore.training.job.suggest import Suggestion, empty_rulebook
from leadscore.training.model.rulebook import Rulebook
from leadscore.training.model.rules import RuleScorer


@dataclass(frozen=True)
class RuleInputs:
    """What a rulebook is judged on: the rulebook, its spec, the rows, and the export's
    historical MQLs a week (None when read from a training set)."""

    rulebook: Rulebook
    spec: FeatureSpec  # without the rulebook's signals
    rows: pd.DataFrame
    historical_mql_per_week: float | None


def rule_inputs(
    training_set: Path | None,
    export: ExportPaths,
    *,
    spec: Path | None = None,
    rulebook: Path | None = None,
    decided: Callable[[str], None] | None = None,
    suggest_when_due: bool = True,
) -> RuleInputs:
    """The inputs from ``training_set``, or from ``export`` built into a temporary folder.

    A training set brings the spec and rulebook it was built with (or those named); an export
    gets the ones that fit it, each decision passed to ``decided``; when none fits, a rulebook
    bootstrapped from history as `train` would (``suggest_when_due``), else no rules.
    """
    say = decided or (lambda _: None)
    if training_set is None:
        with tempfile.TemporaryDirectory(prefix="leadscore-") as build:
            prepared = prepare_export(
                export, Path(build), spec=spec, rulebook=rulebook, decided=decided,
                suggest_when_due=suggest_when_due, temporary=True,
            )  # fmt: skip
            rows = pd.read_parquet(prepared.training_set)
        return RuleInputs(
            prepared.rulebook, prepared.base_spec, rows, prepared.historical_mql_per_week
        )
    base, book, decisions = recorded_inputs(training_set, spec, rulebook)
    for line in decisions:
        say(line)
    return RuleInputs(book, base, pd.read_parquet(training_set), None)


@dataclass(frozen=True)
class RulebookJudgement:
    """How a rulebook did over a period: its hand-off metrics, the period, the silent rules."""

    metrics: dict  # training.job.rule_metrics.handoff_metrics
    first_cutoff: pd.Timestamp
    last_cutoff: pd.Timestamp
    unmatched: list[str]  # rules that fire on no row of the period


def judge_rulebook(
    training_set: Path | None,
    export: ExportPaths,
    *,
    spec: Path | None = None,
    rulebook: Path | None = None,
    split: str = "test",
    start: str | None = None,
    end: str | None = None,
    decided: Callable[[str], None] | None = None,
) -> RulebookJudgement:
    """The rulebook on the labelled rows of ``split`` (or ``"all"``), cutoffs from ``start``
    to before ``end`` (ISO 8601, UTC): MQL volume, MQL->SQL rate, SQL recall, AUC."""
    inputs = rule_inputs(training_set, export, spec=spec, rulebook=rulebook, decided=decided)
    rows = inputs.rows[inputs.rows[LABEL].notna()]
    if split != "all":
        rows = rows[rows[SPLIT] == split]
    if start:
        rows = rows[rows[CUTOFF_AT] >= pd.Timestamp(start, tz="UTC")]
    if end:
        rows = rows[rows[CUTOFF_AT] < pd.Timestamp(end, tz="UTC")]
    if rows.empty:
        raise ValueError(f"no labelled rows in split '{split}' and the given dates")
    scorer = RuleScorer(inputs.rulebook, inputs.spec).fit(rows)
    points = scorer.decision_function(rows)
    metrics = handoff_metrics(rows, points, scorer.predict(rows).astype(bool))
    return RulebookJudgement(
        metrics, rows[CUTOFF_AT].min(), rows[CUTOFF_AT].max(), scorer.unmatched_rules(rows)
    )


@dataclass(frozen=True)
class SuggestedRulebook:
    """A suggestion from history, the files written for review, and the rules it could not
    learn points for (they fire on no row of the history)."""

    suggestion: Suggestion
    written: list[Path]  # the rulebook (YAML), its evidence (CSV) and its diff
    unmatched: list[str]


def suggest_rulebook(
    out: Path,
    training_set: Path | None,
    export: ExportPaths,
    *,
    spec: Path | None = None,
    rulebook: Path | None = None,
    from_scratch: bool = False,
    target_mql_per_week: float | None = None,
    max_new_rules: int = 8,
    decided: Callable[[str], None] | None = None,
) -> SuggestedRulebook:
    """Propose points, new rules and instant passes from history and write them to ``out``
    (with the evidence and the diff beside it); ``from_scratch`` starts from no rules."""
    inputs = rule_inputs(  # from no rules where none fits (see prepare_training_set)
        training_set, export, spec=spec, rulebook=rulebook, decided=decided,
        suggest_when_due=False,
    )  # fmt: skip
    book = empty_rulebook() if from_scratch else inputs.rulebook
    unmatched = RuleScorer(book, inputs.spec).fit(inputs.rows).unmatched_rules(inputs.rows)
    result = suggest_from(
        book, inputs.spec, inputs.rows, target_mql_per_week=target_mql_per_week,
        historical_mql_per_week=inputs.historical_mql_per_week, max_new_rules=max_new_rules,
    )  # fmt: skip
    written = write_suggestion(result, out, str(training_set or export.leads or export.warehouse))
    return SuggestedRulebook(result, written, unmatched)
