"""Commands that judge and fit: rules evaluate and suggest, train, tune-threshold, promote."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from leadscore.cli.options import (
    _USER_ERRORS,
    ActivitiesOption,
    OrderOption,
    OutcomesOption,
    RecordedRulebookOption,
    RecordedSpecOption,
    WarehouseOption,
    _fail,
    _flat_only,
    _format_beside,
    _prepare,
    _print_decisions,
    _reads_exports,
    _rule_inputs,
    _source,
    console,
)


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
