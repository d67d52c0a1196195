"""Fit the lead scorer honestly: choose on validation, judge on the untouched test period.

Hyperparameters of each model are searched on the train period and chosen by validation log
loss; the combiner (:mod:`training.model.combiner`) is fitted on validation, and its level read
across the train and validation periods (:mod:`training.job.level`); the test period only ever
produces the figures.
Each candidate is reported through ``on_candidate`` (the MLflow layer logs them as nested runs).

Small exports (:func:`fit_scorer` states the rule): with few SQLs, validation is widened into
cross-validation over time, the hyperparameters are fixed defaults, and the layer that ships is
the simplest one that ranks as well as the best - never one that ranks below the rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import yaml
from scipy.special import expit
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.pipeline import Pipeline

from leadscore import progress
from leadscore.features import schema
from leadscore.features.schema import CUTOFF_AT, LABEL
from leadscore.features.spec import FeatureSpec
from leadscore.features.training_set import is_stand_in, time_window
from leadscore.training.job.capacity import fill_threshold
from leadscore.training.job.evaluation import probability_metrics
from leadscore.training.job.level import (
    SAME_LEVEL_P,
    Level,
    period_offset,
    periods_of,
    read_level,
    with_band,
)
from leadscore.training.job.rule_metrics import (
    default_handoff_leads,
    top_k_handoff,
    weeks_spanned,
)
from leadscore.training.model.combiner import LAYERS, LogOddsBlend
from leadscore.training.model.policy import DEFAULT_TIERS, CapacityError, Policy
from leadscore.training.model.rulebook import Rulebook
from leadscore.training.model.rules import RuleScorer
from leadscore.training.model.scorer import (
    Layers,
    LeadScorer,
    combined_probability,
    fit_logistic,
    lightgbm_pipeline,
)
from leadscore.training.model.wording import CATALOG

LOGISTIC_GRID = ({"C": 0.01}, {"C": 0.1}, {"C": 1.0})
LIGHTGBM_GRID = (
    {"num_leaves": 15, "learning_rate": 0.05, "min_child_samples": 100, "reg_lambda": 1.0},
    {"num_leaves": 31, "learning_rate": 0.05, "min_child_samples": 50, "reg_lambda": 1.0},
    # small trees on half the columns each: steadier when SQLs number in the hundreds
    {"num_leaves": 7, "learning_rate": 0.05, "min_child_samples": 200, "reg_lambda": 5.0,
     "colsample_bytree": 0.5},
)  # fmt: skip
MAX_TREES = 600
COMBINER_PRIOR_STRENGTH = (
    100.0  # see training.model.combiner: how firmly the two models weigh equal
)

# Few SQLs: below either minimum (distinct leads with an SQL row), the figures of one validation
# period are mostly noise (Dynamics asks for 40 conversions, Einstein for 120).
MIN_VALIDATION_SQL_LEADS = 40
MIN_TRAIN_SQL_LEADS = 100
CV_FOLDS = 3  # expanding windows over train + validation when SQLs are few
FEW_SQL_LOGISTIC = {"C": 0.1}
FEW_SQL_LIGHTGBM = {"num_leaves": 7, "learning_rate": 0.05, "min_child_samples": 50,
                    "reg_lambda": 5.0, "colsample_bytree": 0.5, "n_estimators": 100}  # fmt: skip
MIN_COMBINER_SQL_LEADS = 20  # a refit's combiner: the latest period, widened until it has these
SIMPLER_WITHIN_AUC = 0.01  # with few SQLs, a simpler layer this close to the best ships
LEVEL_PERIODS = 4  # the train period, cut by time into this many periods for the level
REFIT_LEVEL_PERIODS = LEVEL_PERIODS + 1  # the refit's rows: as many periods as the judged read
# rows scored at once to read the level: a whole history's encoded inputs held at once raised
# the one-command train's peak memory by a fifth (20,000-lead Marketo export)
LEVEL_CHUNK_ROWS = 20_000


@dataclass(frozen=True)
class Candidate:
    model: str
    params: dict
    validation: dict


def _labelled(rows: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    rows = rows[rows[LABEL].notna()]
    return rows, rows[LABEL].to_numpy(int)


@dataclass(frozen=True)
class SqlCounts:
    """SQLs in one period: labelled rows, SQL rows, and distinct leads among each."""

    rows: int
    sql_rows: int
    leads: int
    sql_leads: int


def sql_counts(rows: pd.DataFrame) -> SqlCounts:
    labelled = rows[rows[LABEL].notna()]
    sql = labelled[labelled[LABEL] == 1]
    return SqlCounts(
        len(labelled), len(sql), labelled[schema.LEAD_ID].nunique(), sql[schema.LEAD_ID].nunique()
    )


def few_sql_notes(train: SqlCounts, validation: SqlCounts) -> list[str]:
    """Plain words for each period below its minimum; empty when both have enough SQLs."""
    notes = []
    for name, counts, minimum in (
        ("train", train, MIN_TRAIN_SQL_LEADS),
        ("validation", validation, MIN_VALIDATION_SQL_LEADS),
    ):
        if counts.sql_leads < minimum:
            notes.append(
                f"Few SQLs: in the {name} period only {counts.sql_leads} of {counts.leads} "
                f"leads reached SQL ({counts.sql_rows} SQL rows of {counts.rows}); steady "
                f"figures need {minimum}. Read each AUC as its interval, not its point; more "
                "history narrows it."
            )
    return notes


def time_folds(
    rows: pd.DataFrame, horizon_days: int, folds: int = CV_FOLDS
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Expanding-window folds over time: (fit positions, predicted positions) per fold.

    Rows in cutoff order are cut into ``folds + 1`` blocks of equal size; fold k predicts block
    k from every earlier row whose label window closed before block k starts (the split's own
    gap of H days) and whose lead has no row in block k (a lead never straddles).
    """
    cutoffs = rows[CUTOFF_AT].to_numpy()
    leads = rows[schema.LEAD_ID].to_numpy()
    order = np.argsort(cutoffs, kind="stable")
    out = []
    for block in np.array_split(order, folds + 1)[1:]:
        begins = cutoffs[block].min()
        fit = (cutoffs + pd.Timedelta(days=horizon_days) <= begins) & ~np.isin(leads, leads[block])
        out.append((np.flatnonzero(fit), np.sort(block)))
    return out


def layer_aucs(margins: np.ndarray, label: np.ndarray) -> dict[str, tuple[float, LogOddsBlend]]:
    """Each layer fitted on these margins, with the ROC-AUC of what it would ship on them."""
    out = {}
    for layer in LAYERS:
        blend = LogOddsBlend(COMBINER_PRIOR_STRENGTH, layer).fit(margins, label)
        out[layer] = (float(roc_auc_score(label, blend.decision_function(margins))), blend)
    return out


def choose_layer(aucs: dict[str, float], rules_auc: float, few_sqls: bool) -> str:
    """The layer that ships, by a stated rule.

    A layer is eligible when it ranks at least as well as the rule baseline (``rules_auc``) on
    the judging rows; the rules layer is always eligible (it is the baseline itself, as points).
    With enough SQLs the combination ships whenever eligible; otherwise, and with few SQLs
    always, the simplest eligible layer within ``SIMPLER_WITHIN_AUC`` (with few SQLs; 0
    otherwise) of the best eligible one ships.
    """
    eligible = [layer for layer in LAYERS if layer == "rules" or aucs[layer] >= rules_auc]
    if not few_sqls and "combined" in eligible:
        return "combined"
    best = max(aucs[layer] for layer in eligible)
    tolerance = SIMPLER_WITHIN_AUC if few_sqls else 0.0
    return next(layer for layer in eligible if aucs[layer] >= best - tolerance)


def fit_scorer(
    train: pd.DataFrame,
    validation: pd.DataFrame,
    spec: FeatureSpec,
    rulebook: Rulebook,
    *,
    on_candidate: Callable[[Candidate], None] | None = None,
    logistic_grid: tuple[dict, ...] = LOGISTIC_GRID,
    lightgbm_grid: tuple[dict, ...] = LIGHTGBM_GRID,
    mql_per_week: float | None = None,
    rules_learned_until: pd.Timestamp | None = None,
    gap_days: int | None = None,
) -> LeadScorer:
    """The whole scorer, with hyperparameters, combiner and shipped layer chosen on validation.

    With enough SQLs (at least ``MIN_TRAIN_SQL_LEADS`` leads with an SQL in train and
    ``MIN_VALIDATION_SQL_LEADS`` in validation): hyperparameters from the grids by validation
    log loss, the combiner fitted on validation, and the combination ships unless it ranks
    below the rule baseline on validation (:func:`choose_layer`).

    With few SQLs in either period, validation is widened: train and validation together are
    cut into ``CV_FOLDS`` expanding windows over time (:func:`time_folds`), the models take the
    fixed ``FEW_SQL_LOGISTIC`` and ``FEW_SQL_LIGHTGBM`` settings (a search on a handful of SQLs
    picks noise; the grids are not used), and the layers are fitted and judged on the
    out-of-fold predictions - every judged row predicted by models that never saw it or
    anything after it. The models that ship are fitted on the train period, as always. If the
    folds leave no SQL to judge on, validation alone judges.

    The combiner's level (its intercept) is then read across the train and validation periods,
    not from the one it was fitted on (:func:`shift_level`).

    ``mql_per_week``: the export's historical MQL hand-offs a week, the first policy's volume
    when the rulebook hands off nobody (:func:`volume_policy`). ``rules_learned_until``: when
    the rulebook's points were learnt from this history (a bootstrapped rulebook), the last
    cutoff they saw; the layers are judged only on later rows, where the rules are as
    out-of-sample as the models (on earlier rows the rules would win by having seen the label).
    ``gap_days``: the days the split keeps between periods, which the time folds keep too
    (``metadata["gap_days"]``, the refit's as well): by default the spec's label window; 0 for
    a flat file, whose split keeps no gap (its label has no date, and without ``created_at``
    its times are a stand-in a second apart, which an H-day gap would leave nothing to fit on).
    Notes in plain words (few SQLs, the shipped layer) are in ``metadata["notes"]``.
    """
    report = on_candidate or (lambda _: None)
    gap_days = spec.sql_within_days if gap_days is None else gap_days
    train, y_train = _labelled(train)
    validation, y_valid = _labelled(validation)
    counts = {"train": sql_counts(train), "validation": sql_counts(validation)}
    notes = few_sql_notes(counts["train"], counts["validation"])
    few_sqls = bool(notes)
    # The points are the rulebook's; fitting with labels learns only the rule baseline's
    # probability map (what evaluation reads), on validation like the combiner.
    rules = RuleScorer(rulebook, spec).fit(validation, y_valid)
    inputs = Layers(spec, rules)
    x_train, x_valid = inputs.model_inputs(train), inputs.model_inputs(validation)

    def judged(model: str, params: dict, fitted) -> tuple[float, object, dict]:  # type: ignore[no-untyped-def]
        p = fitted.predict_proba(x_valid)[:, 1]
        scores = {
            "log_loss": log_loss(y_valid, p, labels=[0, 1]),
            "roc_auc": roc_auc_score(y_valid, p),
        }
        report(Candidate(model, params, scores))
        return scores["log_loss"], fitted, params

    if few_sqls:
        best_logistic = fit_logistic(spec, FEW_SQL_LOGISTIC["C"], x_train, y_train)
        best_lightgbm = lightgbm_pipeline(spec, FEW_SQL_LIGHTGBM).fit(x_train, y_train)
        judged("logistic", FEW_SQL_LOGISTIC, best_logistic)
        judged("lightgbm", FEW_SQL_LIGHTGBM, best_lightgbm)
        chosen = {"logistic": dict(FEW_SQL_LOGISTIC), "lightgbm": dict(FEW_SQL_LIGHTGBM)}
    else:
        _, best_logistic, logistic_params = min(
            (
                judged("logistic", g, fit_logistic(spec, g["C"], x_train, y_train))
                for g in progress.track(logistic_grid, "Logistic regression candidates")
            ),
            key=lambda result: result[0],
        )
        lightgbm_results = []
        for grid in progress.track(lightgbm_grid, "LightGBM candidates"):
            pipeline = lightgbm_pipeline(spec, {**grid, "n_estimators": MAX_TREES})
            encode = pipeline.named_steps["encode"].fit(x_train, y_train)
            pipeline.named_steps["model"].fit(
                encode.transform(x_train),
                y_train,
                eval_X=(encode.transform(x_valid),),
                eval_y=(y_valid,),
                callbacks=[_early_stopping()],
            )
            trees = pipeline.named_steps["model"].best_iteration_ or MAX_TREES
            lightgbm_results.append(judged("lightgbm", {**grid, "n_estimators": trees}, pipeline))
        _, best_lightgbm, lightgbm_params = min(lightgbm_results, key=lambda result: result[0])
        chosen = {"logistic": dict(logistic_params), "lightgbm": dict(lightgbm_params)}

    layers = Layers(spec, rules, best_logistic, best_lightgbm)
    oof = (
        _out_of_fold(
            pd.concat([train, validation]), spec, rulebook, chosen, gap_days, rules_learned_until
        )
        if few_sqls
        else None
    )
    valid_margins = layers.component_logits(validation).to_numpy()
    if oof is None:
        rows, margins = validation, valid_margins
        judged_on = "validation"
    else:
        rows, margins = oof.rows, oof.margins
        after = " after the rows the rulebook was learnt from" if rules_learned_until else ""
        judged_on = f"out-of-fold over train + validation{after} ({len(rows)} rows)"
    label = rows[LABEL].to_numpy(int)
    fitted = layer_aucs(margins, label)
    baseline = RuleScorer(rulebook, spec).fit(rows, label).predict_proba(rows)[:, 1]
    rules_auc = float(roc_auc_score(label, baseline))
    aucs = {layer: auc for layer, (auc, _) in fitted.items()}
    shipped = choose_layer(aucs, rules_auc, few_sqls)
    notes.append(shipped_layer_note(shipped, aucs, rules_auc, judged_on))
    combiner, level = shift_level(
        fitted[shipped][1],
        [(train, margins_in_chunks(layers, train), LEVEL_PERIODS),
         (validation, valid_margins, 1)],
        reference=valid_margins,
    )  # fmt: skip
    notes.append(level.describe())
    p_valid = combined_probability(combiner, valid_margins)
    metadata = {
        "shipped_layer": shipped,
        "layer_judged_on": judged_on,
        "judged_roc_auc": {**aucs, "rule baseline": rules_auc},
        "sql_counts": {name: vars(c) for name, c in counts.items()},
        "few_sqls": few_sqls,
        "rules_learned_until": rules_learned_until,
        "chosen_params": chosen,
        "gap_days": gap_days,
        "level": vars(level),
        "notes": notes,
    }
    return LeadScorer(
        spec, rulebook, rules, best_logistic, best_lightgbm, combiner,
        score_scale=np.quantile(p_valid, np.linspace(0, 1, 101)),
        policy=volume_policy(validation, rules, p_valid, mql_per_week),
        metadata=metadata,
        logistic_means=_encoded_means(best_logistic, x_train),
        reason_catalog=yaml.safe_load(CATALOG.read_text()),
        typical_counts=typical_counts(spec, train),
    )  # fmt: skip


def margins_in_chunks(layers: Layers, rows: pd.DataFrame) -> np.ndarray:
    """``layers.component_logits(rows)``, ``LEVEL_CHUNK_ROWS`` rows at a time."""
    return np.vstack([
        layers.component_logits(rows.iloc[start : start + LEVEL_CHUNK_ROWS]).to_numpy()
        for start in range(0, len(rows), LEVEL_CHUNK_ROWS)
    ])  # fmt: skip


def own_log_odds(combiner: LogOddsBlend, margins: np.ndarray) -> np.ndarray:
    """The shipped layer's log-odds at the models' own link: their log-odds weighted as the
    combiner weighs them, at slope 1, before the combiner sharpens or flattens them.

    Why not the combiner's log-odds: on the models' own fitting rows their fit is sharper than
    out of sample, and a combiner slope fitted out of sample would read that as a level (on
    3,000-lead worlds, +0.1 to +0.6 log-odds in the periods the models fitted on). At their own
    link, models fitted by maximum likelihood match their fitting rows' rate. The rules layer
    has no link of its own (its points are not fitted by likelihood): the combiner's is used.
    """
    weights = combiner.coef_[0, 1:]
    if combiner.layer == "rules" or weights.sum() <= 0:
        return combiner.decision_function(margins)
    return margins[:, 1:] @ weights / weights.sum()


def shift_level(
    combiner: LogOddsBlend,
    parts: list[tuple[pd.DataFrame, np.ndarray, int]],
    reference: np.ndarray,
    significance: float = SAME_LEVEL_P,
) -> tuple[LogOddsBlend, Level]:
    """``combiner`` with its level read across periods (:func:`training.job.level.read_level`).

    Why: the intercept fitted on one period carries that period's conversion level, and one
    period's dip or peak is mostly sampling noise. ``parts``: (labelled rows, their component
    margins, how many periods to cut them into by time), oldest first. The judged model reads
    the train period cut into ``LEVEL_PERIODS`` (the models' fitting rows) and validation (the
    period after them, where the combiner was fitted unless SQLs were few); the refit reads all
    its rows cut into ``REFIT_LEVEL_PERIODS``. Levels are read at the models' own link
    (:func:`own_log_odds`), where models fitted by maximum likelihood match their fitting rows'
    rate, so a fitting period's offset is its level and not the combiner's slope at work on
    margins sharper than out of sample. The intercept then moves until the combiner's mean
    P(SQL) on the ``reference`` margins (the latest period's) is what the models' own link gives
    them at the level read. With no usable period, the combiner is left as fitted. Periods of a
    flat file without times are slices of lead order, read as such (``timed``, see
    :mod:`training.job.level`).
    ``significance``: see :func:`training.job.level.read_level`.
    """
    periods = [
        period
        for rows, margins, count in parts
        for period in periods_of(rows, own_log_odds(combiner, margins), count)
    ]
    timed = not all(is_stand_in(rows[CUTOFF_AT]) for rows, _, _ in parts)
    level = read_level(periods, significance, timed)
    if level.method == "none":
        return combiner, level
    own = own_log_odds(combiner, reference)
    target = float(expit(own + level.offset).mean())
    moved = period_offset(combiner.decision_function(reference), target)
    return combiner.with_level(moved), replace(with_band(level, own), intercept_shift=moved)


def typical_counts(spec: FeatureSpec, rows: pd.DataFrame) -> dict[str, float]:
    """Each activity count's mean over training rows: what a reason compares a lead's own
    count to ("3x the average lead")."""
    names = [
        name for signal in spec.signals for name in spec.signal_features(signal)
        if re.search(r"_(count|days)_\d+d$", name) and name in rows.columns
    ]  # fmt: skip
    return {name: float(rows[name].mean()) for name in names}


def _encoded_means(logistic: Pipeline, inputs: pd.DataFrame) -> np.ndarray:
    """The logistic regression's encoded inputs, averaged: explanations centre on them."""
    encoded = logistic.named_steps["encode"].transform(inputs)  # sparse or dense, by density
    return np.asarray(encoded.mean(axis=0), float).ravel()


@dataclass(frozen=True)
class OutOfFold:
    """Rows predicted out of fold by :func:`time_folds`: their margins and which fold (0 is the
    earliest predicted block) predicted each."""

    rows: pd.DataFrame
    margins: np.ndarray
    fold: np.ndarray

    @property
    def label(self) -> np.ndarray:
        return self.rows[LABEL].to_numpy(int)

    @property
    def blocks(self) -> int:
        return len(np.unique(self.fold))

    def since(self, fold: int) -> OutOfFold:
        """The rows predicted by ``fold`` and every later fold."""
        kept = self.fold >= fold
        return OutOfFold(self.rows[kept], self.margins[kept], self.fold[kept])

    def latest(self) -> OutOfFold:
        """The rows of the latest predicted block: the most recent period nobody fitted on."""
        return self.since(self.fold.max())


def _fold_layers(
    rows: pd.DataFrame,
    spec: FeatureSpec,
    rulebook: Rulebook,
    chosen: dict,
    calibrate_on: pd.DataFrame | None = None,
) -> Layers:
    """Rules and both models fitted on ``rows`` with the chosen settings; no combiner yet.

    ``calibrate_on``: labelled rows to fit the rule baseline's probability map on."""
    label = rows[LABEL].to_numpy(int)
    rules = RuleScorer(rulebook, spec)
    if calibrate_on is None:
        rules = rules.fit(rows)
    else:
        rules = rules.fit(calibrate_on, calibrate_on[LABEL].to_numpy(int))
    inputs = Layers(spec, rules).model_inputs(rows)
    logistic = fit_logistic(spec, chosen["logistic"]["C"], inputs, label)
    lightgbm = lightgbm_pipeline(spec, chosen["lightgbm"]).fit(inputs, label)
    return Layers(spec, rules, logistic, lightgbm)


REFIT_METHOD = (
    "refit on all labelled history (train + validation + test) with the hyperparameters, "
    "tree count and layer chosen on the train and validation periods; combiner (the "
    "calibration), score scale and first hand-off threshold fitted on out-of-fold predictions "
    "over time ({folds} expanding windows that keep the {horizon}-day gap and never split a "
    "lead): the combiner on {combiner_on}, its level read across {periods} periods of all "
    "history, the score scale and threshold on the latest period"
)


def refit_scorer(
    judged: LeadScorer, labelled: pd.DataFrame, mql_per_week: float | None = None
) -> LeadScorer:
    """The scorer that ships: ``judged``'s configuration refit on every labelled row.

    ``judged`` is what :func:`fit_scorer` chose and what the test period judged; its figures
    stay the evaluation's. This one learns from the latest months too, by a stated method
    (``REFIT_METHOD``): the rules and both models are refit on all of ``labelled`` with the
    chosen settings (``metadata["chosen_params"]``; LightGBM keeps its early-stopped tree
    count), and the shipped layer is kept. What was fitted on validation before is fitted on
    out-of-fold predictions over time (:func:`time_folds` over all labelled rows, each
    predicted by models that saw only rows whose label window closed before it). The
    combiner is fitted on the latest predicted block, as the judged one was on validation:
    the period right after its models' history, with the drift a shipped model meets. With
    fewer than ``MIN_COMBINER_SQL_LEADS`` SQL leads there, it is widened back one block at a
    time until it holds them, or holds every block. Why not every block always: early
    blocks are predicted by models of little history, whose weaker margins pull a pooled
    slope and intercept away from the refit's (on a drifting world the pooled fit
    under-predicted the next period by a quarter). The combiner's level is then read across
    all labelled rows (:func:`shift_level`); the judged model's stays in
    ``metadata["judged_level"]``. The score
    scale and the first policy's
    threshold come from the latest block, so a score's percentile and the hand-off volume
    stay those of leads no model had seen. When the folds leave no SQL to fit on, ``judged``
    ships unchanged and a note says so.
    """
    spec, rulebook = judged.spec, judged.rulebook
    rows, _ = _labelled(labelled)
    rows = rows.sort_values([CUTOFF_AT, schema.LEAD_ID], kind="stable").reset_index(drop=True)
    chosen = judged.metadata["chosen_params"]
    shipped = judged.metadata["shipped_layer"]
    gap_days = judged.metadata.get("gap_days", spec.sql_within_days)
    oof = _out_of_fold(
        rows, spec, rulebook, chosen, gap_days, judged.metadata.get("rules_learned_until")
    )
    if oof is None or len(np.unique(oof.latest().label)) < 2:
        return replace(
            judged,
            metadata={
                **judged.metadata,
                "refit": None,
                "notes": [
                    *judged.metadata["notes"],
                    "Shipped model: fitted on the train period only; the out-of-time folds over "
                    "all history left too few SQLs to refit the combiner honestly.",
                ],
            },
        )
    latest = oof.latest()
    # the rule baseline's map is fitted on the latest period, as fit_scorer fits it on validation
    layers = _fold_layers(rows, spec, rulebook, chosen, calibrate_on=latest.rows)
    fit_on, blocks = latest, 1
    while sql_counts(fit_on.rows).sql_leads < MIN_COMBINER_SQL_LEADS and blocks < oof.blocks:
        blocks += 1
        fit_on = oof.since(np.unique(oof.fold)[-blocks])
    combiner_on = "the latest period" if blocks == 1 else f"the latest {blocks} periods"
    margins = margins_in_chunks(layers, rows)
    combiner, level = shift_level(
        LogOddsBlend(COMBINER_PRIOR_STRENGTH, shipped).fit(fit_on.margins, fit_on.label),
        [(rows, margins, REFIT_LEVEL_PERIODS)],
        # rows is indexed by position (reset above), and the folds keep that index
        reference=margins[latest.rows.index.to_numpy()],
    )
    p_latest = combined_probability(combiner, latest.margins)
    method = REFIT_METHOD.format(
        folds=CV_FOLDS, horizon=gap_days, combiner_on=combiner_on,
        periods=REFIT_LEVEL_PERIODS,
    )  # fmt: skip
    window = time_window(rows[CUTOFF_AT])
    latest_window = time_window(latest.rows[CUTOFF_AT])
    metadata = {
        **judged.metadata,
        "refit": {
            "rows": len(rows),
            "leads": int(rows[schema.LEAD_ID].nunique()),
            "periods": ["train", "validation", "test"],
            "window": window,
            "method": method,
            "out_of_fold_rows": len(oof.rows),
            "combiner_fitted_on": combiner_on,
            "latest_period": latest_window,
            "latest_period_rows": len(latest.rows),
            "latest_out_of_fold": {
                "roc_auc": float(roc_auc_score(latest.label, p_latest)),
                "log_loss": float(log_loss(latest.label, p_latest, labels=[0, 1])),
            },
        },
        "level": vars(level),
        "judged_level": judged.metadata["level"],
        "notes": [
            *judged.metadata["notes"],
            level.describe("Shipped model's level"),
            f"Shipped model: the chosen configuration refit on all {len(rows)} labelled rows "
            f"({window}), so it has learned from the latest history; its combiner, score scale "
            f"and first hand-off threshold come from out-of-fold predictions over time. The "
            "test figures are those of the same configuration fitted on the train period "
            "alone: the refit can only be judged on periods it has not seen.",
        ],
    }
    return LeadScorer(
        spec, rulebook, layers.rules, layers.logistic, layers.lightgbm, combiner,  # type: ignore[arg-type]
        score_scale=np.quantile(p_latest, np.linspace(0, 1, 101)),
        policy=volume_policy(latest.rows, layers.rules, p_latest, mql_per_week),
        metadata=metadata,
        logistic_means=_encoded_means(layers.logistic, layers.model_inputs(rows)),  # type: ignore[arg-type]
        reason_catalog=judged.reason_catalog,
        typical_counts=typical_counts(spec, rows),
    )  # fmt: skip


def _out_of_fold(
    rows: pd.DataFrame,
    spec: FeatureSpec,
    rulebook: Rulebook,
    chosen: dict,
    gap_days: int,
    rules_learned_until: pd.Timestamp | None = None,
) -> OutOfFold | None:
    """Margins predicted out of fold by :func:`time_folds` with the ``chosen`` settings
    (``{"logistic": {"C": ..}, "lightgbm": {..}}``), or None when the folds leave no SQL or no
    non-SQL to judge on. Rows the rulebook's points were learnt from (cutoff up to
    ``rules_learned_until``) are predicted but left out: the rules would be judged in-sample."""
    rows = rows.reset_index(drop=True)
    label = rows[LABEL].to_numpy(int)
    predicted, margins, folds = [], [], []
    windows = progress.track(time_folds(rows, gap_days), "Out-of-time folds")
    for k, (fit, block) in enumerate(windows):
        if len(np.unique(label[fit])) < 2:
            continue
        fold = _fold_layers(rows.iloc[fit], spec, rulebook, chosen)
        predicted.append(block)
        margins.append(fold.component_logits(rows.iloc[block]).to_numpy())
        folds.append(np.full(len(block), k))
    if not predicted:
        return None
    at, stacked, fold_of = np.concatenate(predicted), np.vstack(margins), np.concatenate(folds)
    if rules_learned_until is not None:
        unseen = rows[CUTOFF_AT].to_numpy()[at] > rules_learned_until
        at, stacked, fold_of = at[unseen], stacked[unseen], fold_of[unseen]
    if len(np.unique(label[at])) < 2:
        return None
    return OutOfFold(rows.iloc[at], stacked, fold_of)


def shipped_layer_note(shipped: str, aucs: dict[str, float], rules_auc: float, on: str) -> str:
    """Which layer ships and why, with each layer's ROC-AUC where it was judged."""
    figures = ", ".join(f"{layer} {auc:.3f}" for layer, auc in aucs.items())
    why = (
        "the combination of both models"
        if shipped == "combined"
        else f"the simplest layer that ranks with the best (the {shipped} layer alone)"
    )
    return (
        f"Shipped layer: {shipped} - {why}. ROC-AUC judged on {on}: {figures}; rule baseline "
        f"{rules_auc:.3f}. No layer that ranks below the rules there ships."
    )


def _early_stopping():  # type: ignore[no-untyped-def]
    from lightgbm import early_stopping

    return early_stopping(stopping_rounds=40, verbose=False)


def volume_policy(
    validation: pd.DataFrame,
    rules: RuleScorer,
    p: np.ndarray,
    mql_per_week: float | None = None,
) -> Policy:
    """A first hand-off policy: as many hand-offs as marketing sends today, but the best ones.

    The volume, by the first rule that applies (``kind`` records which):

    * ``rulebook volume``: what the rulebook handed off on validation, when it handed off any;
    * ``historical MQL volume``: without a usable rulebook, the export's MQLs a week
      (``mql_per_week``, :func:`training.job.run.weekly_mql_volume`), counted as leads handed off
      the first time;
    * ``top 10% a week``: without either, ``DEFAULT_HANDOFF_SHARE`` of validation's leads a
      week (at least one lead; :func:`training.job.rule_metrics.default_handoff_leads`), the best
      ones, counted as the MQL volume is (each lead at its first hand-off). Not
      the top tenth of each week's rows with the lowest week's cut for all: that handed off
      18% of a flat CRM report's leads, whose quiet weeks set the bar for every week.

    A flat file without creation times has no weeks (its rows' times are stand-ins, a second
    apart in lead order): its volume is the share of validation's leads handed off
    (``handoff_share``), and without a rulebook volume it is ``top 10% of leads``.

    Instant passes hand off whatever the volume. The capacity-based policy (``leadscore
    tune-threshold``) replaces it. ``p``: the rows' P(SQL), as the scorer being built gives it
    (a refit scorer's threshold is set on out-of-fold predictions, see :func:`refit_scorer`).
    """
    passes = rules.instant_passes(validation).any(axis=1).to_numpy()
    untimed = is_stand_in(validation[CUTOFF_AT])
    weeks = weeks_spanned(validation[CUTOFF_AT])  # 1 for stand-in times, a second apart
    volume = int(rules.predict(validation).sum())
    if volume > 0:
        kind = "rulebook volume"
        chosen = top_k_handoff(p, passes, volume)
    elif mql_per_week is not None and mql_per_week > 0:
        kind = "historical MQL volume"
        try:
            threshold = fill_threshold(validation, p, passes, mql_per_week)
        except CapacityError:  # instant passes alone exceed it: they still hand off
            threshold = 1.0
        chosen = passes | (p >= threshold)
    else:  # no rule handed off anyone, so no instant pass fired either
        kind = "top 10% of leads" if untimed else "top 10% a week"
        threshold = fill_threshold(validation, p, passes, default_handoff_leads(validation) / weeks)
        chosen = passes | (p >= threshold)
    scored = chosen & ~passes
    threshold = float(p[scored].min()) if scored.any() else 1.0
    handed = validation.loc[passes | (p >= threshold), schema.LEAD_ID].nunique()
    if untimed:
        volume = {"handoff_share": round(handed / validation[schema.LEAD_ID].nunique(), 4)}
    else:
        volume = {"handoffs_per_week": round(handed / weeks, 1)}
    return Policy(
        version=1,
        kind=kind,
        threshold=threshold,
        instant_pass_hands_off=rules.rulebook.instant_pass_hands_off,
        validation_handoffs=int(chosen.sum()),
        tiers=DEFAULT_TIERS,
        **volume,
    )


def component_probabilities(scorer: LeadScorer, rows: pd.DataFrame) -> dict[str, np.ndarray]:
    """P(SQL) of the rules (their probability map fitted on validation), each model and the
    combination."""
    inputs = scorer.model_inputs(rows)
    return {
        "rules": scorer.rules.predict_proba(rows)[:, 1],
        "logistic": scorer.logistic.predict_proba(inputs)[:, 1],
        "lightgbm": scorer.lightgbm.predict_proba(inputs)[:, 1],
        "combined": scorer.probability(rows),
    }


def evaluate(scorer: LeadScorer, test: pd.DataFrame) -> pd.DataFrame:
    """Test-period metrics for rules, logistic, LightGBM and the combination, side by side.

    ``combined`` is what the scorer ships (its ``metadata["shipped_layer"]``); each ROC-AUC and
    mean P(SQL) over the SQL rate comes with its bootstrap interval over test leads
    (``roc_auc_low``, ``roc_auc_high``, ``mean_p_over_rate_low``, ...). Reads the
    scorer and never changes it: the rule baseline's probability map was fitted with the
    combiner, on validation (:func:`fit_scorer`).
    """
    test, y_test = _labelled(test)
    probabilities = component_probabilities(scorer, test)
    return pd.DataFrame(
        {
            name: probability_metrics(y_test, p, test[schema.LEAD_ID].to_numpy())
            for name, p in probabilities.items()
        }
    ).T
