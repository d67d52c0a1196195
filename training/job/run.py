"""The training job: training set in, model directory and one MLflow run out."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import mlflow
import pandas as pd
import pyarrow

from leadscore import progress
from leadscore.features import schema
from leadscore.features.contract import FlatShape
from leadscore.features.reading import ExportFormat
from leadscore.features.schema import LABEL, SPLIT
from leadscore.features.sources import ExportPaths
from leadscore.features.spec import FeatureSpec
from leadscore.features.training_set import periods_lacking
from leadscore.training.job.rule_metrics import DEFAULT_HANDOFF_SHARE
from leadscore.training.job.train import component_probabilities, evaluate, fit_scorer, refit_scorer
from leadscore.training.model.artifact import save_model
from leadscore.training.model.policy import Policy
from leadscore.training.model.rulebook import Rulebook
from leadscore.training.model.scorer import LeadScorer


def weekly_mql_volume(outcomes: pd.DataFrame) -> float | None:
    """The export's MQLs a week: leads with an ``mql_at``, over the weeks from first to last.

    None when the outcomes have no ``mql_at`` column or no MQL in it: there is no history of
    hand-offs to copy. Pass the result to :func:`run_training` as ``mql_per_week``.
    """
    if schema.MQL_AT not in outcomes.columns:
        return None
    mql = pd.to_datetime(outcomes[schema.MQL_AT], utc=True, errors="coerce")
    leads = outcomes.loc[mql.notna(), schema.LEAD_ID].nunique()
    if leads == 0:
        return None
    weeks = max((mql.max() - mql.min()) / pd.Timedelta(days=7), 1.0)
    return float(leads / weeks)


def policy_note(policy: Policy, model_dir: Path) -> str:
    """Plain words on the first hand-off policy: its volume, which rule chose it, how to change.

    A model whose file had no creation times hands off a share of its leads: "185 leads a
    week" would count weeks its file does not have.
    """
    why = {
        "rulebook volume": "what the rulebook handed off on validation",
        "historical MQL volume": "no rule handed off anyone, so the export's own MQL history",
        "top 10% a week": "no rule handed off anyone and the outcomes have no mql_at, so "
        f"{DEFAULT_HANDOFF_SHARE:.0%} of the leads a week, the best ones",
        "top 10% of leads": f"no rule handed off anyone, so the best {DEFAULT_HANDOFF_SHARE:.0%} "
        "of the leads",
    }[policy.kind]
    tune = f"`leadscore tune-threshold --model {model_dir} --capacity"
    if policy.handoff_share is not None:
        return (
            f"Hand-off volume: the best {policy.handoff_share:.1%} of leads ({policy.kind}: "
            f"{why}); the file has no creation times, so there is no week to count them in. "
            f"Set the share sales can follow up with {tune} 15%`."
        )
    return (
        f"Hand-off volume: about {policy.handoffs_per_week:g} leads a week ({policy.kind}: "
        f"{why}). Set it from sales capacity with {tune} N/week`."
    )


def level_params(level: dict, prefix: str = "") -> dict[str, object]:
    """MLflow params of how the combiner's level was read (:mod:`training.job.level`); the
    next period's band only when a level was read (a model trained before has none)."""
    params = {
        f"{prefix}level.method": level["method"],
        f"{prefix}level.offset": round(level["offset"], 4),
        f"{prefix}level.intercept_shift": round(level["intercept_shift"], 4),
        f"{prefix}level.same_level_p": round(level["same_level_p"], 4),
        f"{prefix}level.periods": len(level["period_offsets"]),
    }
    if level.get("band") is not None:
        params[f"{prefix}level.spread"] = round(level["spread"], 4)
        params[f"{prefix}level.noise"] = round(level["noise"], 4)
        params[f"{prefix}level.band"] = "{:.3f}-{:.3f}".format(*level["band"])
    return params


def _log_shipped(scorer: LeadScorer) -> None:
    """MLflow params of what ships: which model, its policy, and for a refit its own settings
    and its out-of-fold figures on the latest period (never the test figures: it saw test)."""
    refit = scorer.metadata.get("refit")
    mlflow.log_params(
        {
            "shipped_model": "refit on all labelled history" if refit else "train period only",
            "policy.kind": scorer.in_force().kind,
            "policy.threshold": scorer.in_force().threshold,
            "policy.handoffs_per_week": scorer.in_force().handoffs_per_week,
            "policy.handoff_share": scorer.in_force().handoff_share,
        }
    )
    if not refit:
        return
    mlflow.log_params(
        {
            "refit.rows": refit["rows"],
            "refit.leads": refit["leads"],
            "refit.window": refit["window"],
            "refit.latest_period": refit["latest_period"],
            "refit.method": refit["method"][:500],  # MLflow's limit on a param value
            "refit.combiner.logistic_weight": round(float(scorer.combiner.coef_[0, 1]), 4),
            "refit.combiner.lightgbm_weight": round(float(scorer.combiner.coef_[0, 2]), 4),
            **level_params(scorer.metadata["level"], "refit."),
        }
    )
    mlflow.log_metrics(
        {f"refit_latest_oof_{name}": v for name, v in refit["latest_out_of_fold"].items()}
    )
    mlflow.log_dict(refit, "refit.json")


# what a person watching `leadscore train` reads, stage by stage
TRAINING_STAGES = (
    "reading the training set",
    "hyperparameter search, combiner and hand-off policy on validation",
    "judging on the test period",
    "refit on all labelled history",
    "figures and explanations to MLflow",
    "registering the model in MLflow",
)


def unjudgeable_message(lacking: dict[str, str], parts: dict[str, pd.DataFrame]) -> str:
    """Why the run stops when a period holds no SQL or no non-SQL row: what each lacks, and
    the leads with and without an SQL in every period, so a user sees where the SQLs are."""
    what = "; ".join(f"the {name} period has {held}" for name, held in lacking.items())
    counts = []
    for name, part in parts.items():
        sql_leads = part.loc[part[LABEL] == 1, schema.LEAD_ID].nunique()
        counts.append(f"{name} {sql_leads} of {part[schema.LEAD_ID].nunique()} leads")
    return (
        f"{what} (SQL leads: {', '.join(counts)}). Every period needs SQL and non-SQL leads to "
        "fit or judge a model; a training set built by leadscore widens the later periods up to "
        "40% of labelled rows first. Export a longer history, with outcomes up to date"
    )


def run_training(
    training_set: Path,
    spec: FeatureSpec,
    rulebook: Rulebook,
    out: Path,
    *,
    tracking_uri: str,
    profile: dict | None = None,
    data_mode: str = "event",
    flat_shape: FlatShape | None = None,
    decisions: Sequence[str] = (),
    mql_per_week: float | None = None,
    rules_learned_until: pd.Timestamp | None = None,
    refit: bool = True,
    export_format: ExportFormat | None = None,
) -> dict:
    """Fit, judge and log the scorer; write ``out/model``; return the figures for the console.

    ``export_format``: how the export's files were written (encoding, clock, its names for
    the contract's columns); kept in the model's metadata and logged to MLflow, so that
    `leadscore score` reads the next file of that export the same way.

    ``flat_shape``: for a flat export, the shape of its file, kept in the model's metadata so
    that `leadscore score` reads the next file of that shape. ``decisions``: what the run
    chose on its own (an inferred spec, rules left out, a bootstrapped rulebook), logged to
    MLflow as ``decisions.txt`` beside the figures. ``mql_per_week`` (:func:`weekly_mql_volume`
    of the outcomes) is the first policy's volume when the rulebook hands off nobody. The
    returned ``notes`` say in plain words how sure the figures are, which layer shipped and
    how the hand-off volume was chosen; they are logged to MLflow as ``notes.txt``.
    ``rules_learned_until``: see :func:`training.job.train.fit_scorer`.

    ``refit`` (the default): after the test period has judged the scorer fitted on the train
    period, the same configuration is refit on all labelled history and that is what ships
    (:func:`training.job.train.refit_scorer` states the method). The figures, ``test_*`` in
    MLflow, stay the train-only scorer's: the refit has seen the test period. MLflow records
    ``shipped_model``, the refit's own settings (``refit.*``) and its out-of-fold figures on
    the latest period (``refit_latest_oof_*``); the model's ``metadata["refit"]`` says the
    same. ``refit=False`` ships the train-only scorer. Its stages (``TRAINING_STAGES``) are
    reported to :mod:`leadscore.progress`.
    """
    with progress.stages("Training", TRAINING_STAGES) as begin:
        from leadscore.training.job import tracking

        begin("reading the training set")
        rows = pd.read_parquet(training_set)
        parts = {
            name: rows[(rows[SPLIT] == name) & rows[LABEL].notna()]
            for name in ("train", "validation", "test")
        }
        del rows  # the gap and unlabelled rows are not needed again
        # Arrow's pool keeps the file's buffers for reuse; nothing here reads Parquet again soon
        pyarrow.default_memory_pool().release_unused()
        counts = pd.concat({name: part[LABEL].value_counts() for name, part in parts.items()})
        if lacking := periods_lacking(counts.rename("n").rename_axis([SPLIT, LABEL]).reset_index()):
            raise ValueError(unjudgeable_message(lacking, parts))
        started = time.perf_counter()
        with tracking.training_run(tracking_uri, out / "mlartifacts", run_name="train") as run:
            mlflow.log_params(
                {
                    "data_mode": data_mode,
                    "spec_fingerprint": spec.fingerprint(),
                    "rulebook_fingerprint": rulebook.fingerprint(),
                    "sql_within_days": spec.sql_within_days,
                    **{
                        f"{name}_window": f"{part['cutoff_at'].min()} .. {part['cutoff_at'].max()}"
                        for name, part in parts.items()
                    },
                    **{f"{name}_rows": len(part) for name, part in parts.items()},
                }
            )
            begin("hyperparameter search, combiner and hand-off policy on validation")
            scorer = fit_scorer(
                parts["train"], parts["validation"], spec, rulebook,
                on_candidate=tracking.log_candidate, mql_per_week=mql_per_week,
                rules_learned_until=rules_learned_until,
                gap_days=0 if flat_shape is not None else None,
            )  # fmt: skip
            fit_seconds = time.perf_counter() - started
            logistic = scorer.logistic.named_steps["model"]
            lightgbm = scorer.lightgbm.named_steps["model"]
            mlflow.log_params(
                {
                    "logistic.C": logistic.C,
                    **{f"lightgbm.{k}": v for k, v in lightgbm.get_params().items()
                       if k in ("num_leaves", "learning_rate", "min_child_samples", "reg_lambda",
                                "colsample_bytree")},
                    "lightgbm.n_estimators": lightgbm.best_iteration_ or lightgbm.n_estimators,
                    "combiner.logistic_weight": round(float(scorer.combiner.coef_[0, 1]), 4),
                    "combiner.lightgbm_weight": round(float(scorer.combiner.coef_[0, 2]), 4),
                    "shipped_layer": scorer.metadata["shipped_layer"],
                    "layer_judged_on": scorer.metadata["layer_judged_on"],
                    "few_sqls": scorer.metadata["few_sqls"],
                    **level_params(scorer.metadata["level"]),
                    **{f"{name}_sql_leads": counts["sql_leads"]
                       for name, counts in scorer.metadata["sql_counts"].items()},
                }
            )  # fmt: skip
            mlflow.log_metrics(
                {f"judged_{layer.replace(' ', '_')}_roc_auc": auc
                 for layer, auc in scorer.metadata["judged_roc_auc"].items()}
            )  # fmt: skip
            begin("judging on the test period")
            metrics = evaluate(scorer, parts["test"])
            probabilities = component_probabilities(scorer, parts["test"])
            label = parts["test"][LABEL].to_numpy(int)
            if refit:
                begin("refit on all labelled history")
                refit_started = time.perf_counter()
                scorer = refit_scorer(scorer, pd.concat(parts.values()), mql_per_week)
                fit_seconds += time.perf_counter() - refit_started
            else:
                scorer = replace(
                    scorer,
                    metadata={
                        **scorer.metadata,
                        "refit": None,
                        "notes": [
                            *scorer.metadata["notes"],
                            "Shipped model: fitted on the train period only (refit turned off); "
                            "it has not learned from the validation and test periods.",
                        ],
                    },
                )
            _log_shipped(scorer)
            notes = [*scorer.metadata["notes"], policy_note(scorer.in_force(), out / "model")]
            mlflow.log_text("\n".join(notes) + "\n", "notes.txt")
            names = scorer.lightgbm.named_steps["encode"].get_feature_names_out()
            shipped_gbm = scorer.lightgbm.named_steps["model"].booster_
            importance = pd.Series(shipped_gbm.feature_importance("gain"), index=names)
            begin("figures and explanations to MLflow")
            tracking.log_results(metrics, probabilities, label, importance)
            tracking.log_global_explanations(scorer, parts["test"])
            mlflow.log_metric("fit_seconds", fit_seconds)
            if profile is not None:
                mlflow.log_dict(profile, "training_set_profile.json")
            if decisions:
                mlflow.log_text("\n".join(decisions) + "\n", "decisions.txt")
            if flat_shape is not None:  # column names only, never values
                mlflow.log_dict(flat_shape.as_dict(), "flat_shape.json")
            metadata = {
                **scorer.metadata,
                "notes": notes,
                "run_id": run.info.run_id,
                "tracking_uri": tracking_uri,
                "training_set": str(Path(training_set).resolve()),
                "data_mode": data_mode,
                "spec_fingerprint": spec.fingerprint(),
                "rulebook_fingerprint": rulebook.fingerprint(),
                "trained_at": pd.Timestamp.now(tz="UTC").isoformat(),
                "test_metrics": json.loads(metrics.to_json(orient="index")),
            }
            if flat_shape is not None:
                metadata[FlatShape.METADATA_KEY] = flat_shape.as_dict()
            if export_format is not None:  # column names and settings, never values
                metadata[ExportFormat.METADATA_KEY] = export_format.as_dict()
                mlflow.log_dict(export_format.as_dict(), ExportFormat.FILE_NAME)
            scorer = replace(scorer, metadata=metadata)
            begin("registering the model in MLflow")
            model_dir = save_model(scorer, out / "model")
            if export_format is not None:
                export_format.save(model_dir)
            sample = parts["test"][spec.feature_names()].head(50).reset_index(drop=True)
            # counts are never empty, but declaring them double keeps MLflow's schema check from
            # refusing a caller who sends 3.0 for 3
            sample = sample.astype({c: "float64" for c in sample.select_dtypes("integer").columns})
            model_uri, version = tracking.log_scorer(model_dir, sample, scorer.score(sample))
            scorer = replace(
                scorer, metadata={**metadata, "model_version": version, "model_uri": model_uri}
            )
            save_model(scorer, model_dir)
        return {
            "metrics": metrics,
            "fit_seconds": fit_seconds,
            "model_dir": model_dir,
            "model_version": version,
            "run_id": run.info.run_id,
            "policy": scorer.policy,
            "shipped_layer": scorer.metadata["shipped_layer"],
            "notes": notes,
        }


def train_from_exports(
    out: Path,
    export: ExportPaths,
    *,
    label: str | None = None,
    id_column: str | None = None,
    order_column: str | None = None,
    positive: str | None = None,
    negative: Sequence[str] = (),
    drop: Sequence[str] = (),
    spec: Path | None = None,
    rulebook: Path | None = None,
    training_set: Path | None = None,
    tracking_uri: str | None = None,
    refit: bool = True,
    decided: Callable[[str], None] | None = None,
) -> dict:
    """`leadscore train` in one call: from an export (or a built training set) to a model.

    Flat mode (``label`` given: one leads file with a label column) infers a spec unless one
    is named and starts from no rules; event mode builds the point-in-time training set from
    ``export`` with the spec and rulebook that fit it, or reuses ``training_set`` with the
    ones it was built with (and the export format beside it). Then :func:`run_training`, into
    ``tracking_uri`` (default: ``out/mlflow.db``). ``decided`` hears each decision as it is
    made; the stages are reported to :mod:`leadscore.progress`. Returns
    :func:`run_training`'s figures.
    """
    from leadscore.features.sources import SourceChoiceError
    from leadscore.features.spec import load_spec
    from leadscore.training.job.flat import prepare_flat_training
    from leadscore.training.job.prepare import (
        prepare_export,
        read_profile,
        recorded_inputs,
        recorded_learned_until,
    )
    from leadscore.training.job.tracking import default_tracking_uri
    from leadscore.training.model.rulebook import compile_rules, load_rulebook

    say = decided or (lambda _: None)
    out.mkdir(parents=True, exist_ok=True)
    fmt, flat_shape, mql_per_week, learned_until = export.fmt, None, None, None
    profile: dict | None = None
    decisions: tuple[str, ...] = ()
    if label is not None:
        if export.leads is None:
            raise SourceChoiceError("flat mode needs --leads with --label")
        flat = prepare_flat_training(
            export.leads, label, out / "training", id_column=id_column,
            order_column=order_column, drop=drop, positive=positive, negative=negative,
            spec=load_spec(spec) if spec else None,
            rulebook=load_rulebook(rulebook) if rulebook else None, fmt=fmt,
        )  # fmt: skip
        training_set, feature_spec, book = flat.training_set, flat.spec, flat.rulebook
        mode, flat_shape, decisions, fmt = "flat", flat.shape, flat.notes, flat.fmt
        for line in decisions:
            say(line)
    elif training_set is None:
        prepared = prepare_export(
            export, out / "training", spec=spec, rulebook=rulebook, decided=decided
        )
        training_set, feature_spec, book = prepared.training_set, prepared.spec, prepared.rulebook
        profile, decisions = prepared.profile, prepared.decisions
        mql_per_week = prepared.historical_mql_per_week
        learned_until = prepared.rules_learned_until
        mode = "event"
    else:
        base, book, decisions = recorded_inputs(training_set, spec, rulebook)
        learned_until = recorded_learned_until(training_set, rulebook)
        fmt = fmt or ExportFormat.beside(training_set)
        for line in decisions:
            say(line)
        feature_spec = compile_rules(book, base)
        profile = read_profile(training_set)
        mode = "event"
    return run_training(
        training_set, feature_spec, book, out, profile=profile, data_mode=mode,
        flat_shape=flat_shape, tracking_uri=tracking_uri or default_tracking_uri(out),
        decisions=decisions, mql_per_week=mql_per_week, rules_learned_until=learned_until,
        refit=refit, export_format=fmt,
    )  # fmt: skip
