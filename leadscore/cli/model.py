"""Commands that judge and fit: rules evaluate and suggest, train, tune-threshold, promote."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from leadscore.cli.options import (
    _USER_ERRORS,
    ActivitiesOption,
    DropOption,
    IdColumnOption,
    NegativeOption,
    OptionalLeadsOption,
    OrderOption,
    OutcomesOption,
    PositiveOption,
    RecordedRulebookOption,
    RecordedSpecOption,
    WarehouseOption,
    _decided,
    _fail,
    _flat_only,
    _reads_exports,
    console,
)
from leadscore.training.model.registry import CHALLENGER, CHAMPION, REGISTERED_MODEL_NAME
from leadscore.training.model.service_level import DEFAULT_SLA_HOURS

if TYPE_CHECKING:  # pandas loads with the commands that need it, not with the CLI
    import pandas as pd


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
    leads: OptionalLeadsOption = None,
    activities: ActivitiesOption = None,
    outcomes: OutcomesOption = None,
    warehouse: WarehouseOption = None,
    fmt=None,  # from @_reads_exports: an ExportFormat, or None when no option was given
) -> None:
    """How the rulebook does over a period: MQL volume, MQL->SQL rate, SQL recall, AUC.

    Rows are the training set's cutoff snapshots with a known label. Rules that fire on no row
    (an activity type this export lacks, a misspelt level) are reported as warnings.
    """
    from leadscore.features.sources import ExportPaths
    from leadscore.training.job.rulebook_review import judge_rulebook

    export = ExportPaths(leads, activities, outcomes, warehouse, fmt=fmt)
    try:
        judged = judge_rulebook(
            training_set, export, spec=spec, rulebook=rulebook, split=split, start=start,
            end=end, decided=_decided,
        )  # fmt: skip
    except _USER_ERRORS as error:
        raise _fail(error) from None
    _print_judgement(judged, split, rulebook.stem if rulebook else "rulebook")


def _print_judgement(judged, split: str, name: str) -> None:  # type: ignore[no-untyped-def]
    """A rulebook's figures over a period (a RulebookJudgement), and its silent rules."""
    import pandas as pd

    _print_metrics(
        f"Rulebook on {split} ({judged.first_cutoff:%Y-%m-%d} to "
        f"{judged.last_cutoff:%Y-%m-%d}, SQL rate {judged.metrics['sql_rate']:.2%})",
        pd.DataFrame([judged.metrics], index=[name]),
    )
    _warn_unmatched(judged.unmatched, "in this period")


def _warn_unmatched(names: list[str], where: str) -> None:
    """Rules that fire on no row: a typo or an activity this export lacks, said out loud."""
    for name in names:
        console.print(
            f"[yellow]warning:[/] rule '{name}' matches nothing {where} (an activity type or "
            "level this export does not have?)"
        )


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
    leads: OptionalLeadsOption = None,
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
    from leadscore.features.sources import ExportPaths
    from leadscore.training.job.rulebook_review import suggest_rulebook

    export = ExportPaths(leads, activities, outcomes, warehouse, fmt=fmt)
    try:
        suggested = suggest_rulebook(
            out, training_set, export, spec=spec, rulebook=rulebook,
            from_scratch=from_scratch, target_mql_per_week=target_mql_per_week,
            max_new_rules=max_new_rules, decided=_decided,
        )  # fmt: skip
    except _USER_ERRORS as error:
        raise _fail(error) from None
    _print_suggested(suggested, out)


def _print_suggested(suggested, out: Path) -> None:  # type: ignore[no-untyped-def]
    """A suggested rulebook (a SuggestedRulebook): current vs suggested, and its files."""
    result = suggested.suggestion
    _print_metrics("Current vs suggested rulebook", result.metrics)
    _warn_unmatched(suggested.unmatched, "in the history, so no points can be learnt for it")
    console.print(
        f"wrote {out} ({len(result.rulebook.rules)} rules, "
        f"{len(result.rulebook.instant_pass)} instant passes; it {result.handoff}), "
        + ", ".join(str(p) for p in suggested.written[1:])
    )


TrackingOption = Annotated[
    str | None,
    typer.Option(help="MLflow tracking URI; default: a SQLite database mlflow.db in --out."),
]


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
    leads: OptionalLeadsOption = None,
    activities: ActivitiesOption = None,
    outcomes: OutcomesOption = None,
    warehouse: Annotated[
        Path | None, typer.Option(help="A DuckDB file with leads, activities and outcomes.")
    ] = None,
    label: Annotated[
        str | None,
        typer.Option(help="Flat mode: the 0/1 label column of --leads (the spec is inferred)."),
    ] = None,
    id_column: IdColumnOption = None,
    order_column: OrderOption = None,
    positive: PositiveOption = None,
    negative: NegativeOption = None,
    drop: DropOption = None,
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
    from leadscore.features.sources import ExportPaths
    from leadscore.features.spec import SpecError
    from leadscore.training.job.run import train_from_exports
    from leadscore.training.model.rulebook import RulebookError

    try:
        _flat_only(
            label, id_column=id_column, order_column=order_column, drop=drop, positive=positive,
            negative=negative,
        )  # fmt: skip
        result = train_from_exports(
            out, ExportPaths(leads, activities, outcomes, warehouse, fmt=fmt),
            label=label, id_column=id_column, order_column=order_column, drop=drop or (),
            positive=positive, negative=negative or (),
            spec=spec, rulebook=rulebook, training_set=training_set,
            tracking_uri=tracking_uri, refit=not no_refit, decided=_decided,
        )  # fmt: skip
    except (ContractError, SpecError, RulebookError, ValueError, FileNotFoundError) as error:
        raise _fail(error) from None
    _print_trained(result)


def _print_trained(result: dict) -> None:
    """The training job's figures on the out-of-time test period, its notes, where it went."""
    from leadscore.training.job.evaluation import BOOTSTRAP_LEVEL, with_interval

    table = Table(title="Out-of-time test period")
    table.caption = (
        f"In brackets: {BOOTSTRAP_LEVEL:.0%}, bootstrap over test leads. mean p / rate: 1.00 "
        "when the level is right"
    )
    # Brier is left to MLflow and the model's metadata: log loss and ECE say as much, and the
    # table must fit a 100-column terminal beside the intervals
    columns = {"pr_auc": "pr_auc", "log_loss": "log_loss", "ece": "ece",
               "sql_capture_top_10pct": "SQLs in top 10%"}  # fmt: skip
    table.add_column("model")
    table.add_column("roc_auc", justify="right")
    table.add_column("mean p / rate", justify="right")
    for header in columns.values():
        table.add_column(header, justify="right")
    shipped = result["shipped_layer"]
    for name, row in result["metrics"].iterrows():
        label = f"shipped ({shipped})" if name == "combined" and shipped != "combined" else name
        table.add_row(
            str(label),
            with_interval(row, "roc_auc", 3),
            with_interval(row, "mean_p_over_rate", 2),
            *[f"{row[c]:.4f}" for c in columns],
        )
    console.print(table)
    for note in result["notes"]:
        console.print(note, highlight=False)
    console.print(
        f"model directory {result['model_dir']}; MLflow run {result['run_id']}; "
        f"registered {REGISTERED_MODEL_NAME} version {result['model_version']} as {CHALLENGER}; "
        f"fitted in {result['fit_seconds']:.0f} s"
    )


def tune_threshold(
    model: Annotated[Path, typer.Option(help="Model directory written by `leadscore train`.")],
    capacity: Annotated[
        str,
        typer.Option(
            help="Follow-ups sales can make: 200/week, 40/day, 5x40/week, or a share of the "
            "leads (15%; the only form for a model whose file had no creation times)."
        ),
    ],
    sla_hours: Annotated[
        float,
        typer.Option(
            help="First contact within this many hours (working hours with --working-hours)."
        ),
    ] = DEFAULT_SLA_HOURS,
    working_hours: Annotated[
        str | None,
        typer.Option(
            help="The hours the SLA counts in, on the team's clock: 'Mon-Fri 09:00-18:00' (a "
            "lead in on Friday night is due on Monday); 'none' for the wall clock. Default: "
            "the policy in force's."
        ),
    ] = None,
    holidays: Annotated[
        str | None,
        typer.Option(
            help="With --working-hours: the country whose public holidays are off (JP, US, "
            "DE...). Default: the policy in force's."
        ),
    ] = None,
    team_time_zone: Annotated[
        str | None,
        typer.Option(
            help="The team's clock (an IANA name such as Asia/Tokyo) for working hours and "
            "deadlines. Default: the policy in force's, else the clock the export was read on "
            "(--timezone at training) unless UTC."
        ),
    ] = None,
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

    Capacity is follow-ups a week (200/week, 40/day, 5x40/week) or a share of the leads
    (15%). A model whose file had no creation times takes a share only: the best 15% of its
    leads, backtested as shares of the test leads, with no week and no queue.

    Hand-offs queue for sales, first come first served, at the weekly capacity; every hour a
    lead waits beyond its usual follow-up halves its chance by the response half-life. Chooses
    the thresholds (per segment) that give the most expected SQLs (or pipeline value) after
    that wait, instant passes first; replays the out-of-time test weeks against the rulebook
    threshold and plain top-K per week; prints the capacity curve. The new policy, with the
    delay model it used, is written into the model directory (earlier ones kept under
    policies/) and to the MLflow run.
    """
    from leadscore.features.contract import ContractError
    from leadscore.training.job.capacity import CapacityError, tune_for_capacity
    from leadscore.training.job.response_delay import ResponseDelayError

    try:
        result = tune_for_capacity(
            model, capacity, sla_hours=sla_hours, segment=segment,
            segment_capacity=segment_capacity or (), training_set=training_set,
            response_half_life_hours=response_half_life_hours, outcomes=outcomes,
            deal_value=deal_value, level_value=level_value or (),
            working_hours=working_hours, holidays=holidays, team_time_zone=team_time_zone,
        )  # fmt: skip
    except (CapacityError, ResponseDelayError, ContractError, FileNotFoundError) as error:
        raise _fail(error) from None
    _print_policy(result)


def _print_policy(result: dict) -> None:
    """A tuned policy: its thresholds and expectations, the backtest, the capacity curve."""
    policy = result["policy"]
    if policy.capacity_share is not None:
        _print_share_policy(result)
        return
    expected = policy.expected
    half_life = policy.response_delay["half_life_hours"]
    console.print(
        f"policy v{policy.version} ({policy.objective}): thresholds "
        + ", ".join(f"{k}={v:.4g}" for k, v in policy.thresholds.items())
        + f"; expected {expected['handoffs_per_week']:.0f} hand-offs, "
        f"{expected['sqls_per_week']:.1f} SQLs and {expected['sla_breaches_per_week']:.1f} SLA "
        f"breaches a week (first contact within {policy.sla_text()}); response half-life "
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
    _print_like_for_like(result["backtest"])
    curve = Table(
        title=f"Capacity curve (validation period, capacity {result['capacity'].per_week:g}/week)"
    )
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


def _print_like_for_like(backtest: pd.DataFrame) -> None:
    """The policy against the rulebook at the rulebook's own weekly volume, or why there is
    no such comparison (a rulebook that hands off no one has no volume to match)."""
    if "policy, volume matched on test" not in backtest.index:
        console.print("the rulebook hands off no one on test: there is no volume of its to match")
        return
    rulebook = backtest.loc["rulebook threshold"]
    matched = backtest.loc["policy, volume matched on test"]
    for how, suffix in (("through the queue", ""), ("at usual follow-up", "_without_queue")):
        rate, sqls = f"mql_to_sql_rate{suffix}", f"sqls_per_week{suffix}"
        console.print(
            f"at the rulebook's {rulebook['handoffs_per_week']:.1f} hand-offs a week, {how}: "
            f"MQL->SQL {matched[rate]:.2%} vs {rulebook[rate]:.2%} "
            f"(x{matched[rate] / max(rulebook[rate], 1e-12):.2f}), SQLs a week "
            f"{matched[sqls]:.2f} vs {rulebook[sqls]:.2f} "
            f"(x{matched[sqls] / max(rulebook[sqls], 1e-12):.2f})"
        )


def _print_share_policy(result: dict) -> None:
    """A policy tuned to a share of the leads (a file without creation times): the share, the
    backtest on test's leads and the curve, with no week and no queue in them."""
    from leadscore.training.job.capacity import share_text

    policy, expected = result["policy"], result["policy"].expected
    console.print(
        f"policy v{policy.version} ({policy.objective}): threshold {policy.threshold:.4g}, the "
        f"best {share_text(policy.capacity_share)} of leads; on validation it hands off "
        f"{expected['handoff_share']:.1%}, expected MQL->SQL {expected['mql_to_sql_rate']:.1%}, "
        f"{expected['sql_share']:.0%} of the SQLs; follow up within {policy.sla_text()}"
    )
    backtest = Table(title="Out-of-time backtest on the test leads")
    for column in ("policy", "handed off", "leads", "MQL->SQL", "share of SQLs"):
        backtest.add_column(column, justify="right")
    for name, row in result["backtest"].iterrows():
        backtest.add_row(
            str(name), f"{row['handoff_share']:.1%}", f"{row['handoffs']:.0f}",
            f"{row['mql_to_sql_rate']:.1%}", f"{row['sql_share']:.1%}",
        )  # fmt: skip
    console.print(backtest)
    curve = Table(title="Capacity curve (validation, expected)")
    for column in ("share handed off", "MQL->SQL", "share of SQLs"):
        curve.add_column(column, justify="right")
    for row in result["curve"].to_dict("records"):
        curve.add_row(
            f"{row['handoff_share']:.1%}", f"{row['mql_to_sql_rate']:.1%}",
            f"{row['sql_share']:.1%}",
        )  # fmt: skip
    console.print(curve)


def promote(
    version: Annotated[
        str | None, typer.Option(help="Model version to promote; default: the challenger.")
    ] = None,
    tracking_uri: Annotated[
        str, typer.Option(help="MLflow tracking URI of the registry.")
    ] = "sqlite:///demo/mlflow.db",
    alias: Annotated[str, typer.Option(help="Alias to move.")] = CHAMPION,
) -> None:
    """Move the `champion` alias of the registered model `lead-scorer` (serving loads it)."""
    from mlflow.exceptions import MlflowException

    from leadscore.training.job.tracking import promote as move_alias

    try:
        chosen = move_alias(tracking_uri, version, alias)
    except MlflowException as error:
        raise _fail(error) from None
    console.print(f"{REGISTERED_MODEL_NAME} version {chosen} is now {alias}")
