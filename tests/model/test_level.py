"""The combiner's level is read across periods, so one period's dip does not set it.

A marketing ops lead compares the scorer's mean P(SQL) with what sales converted last quarter.
When the one period the combiner was fitted on converted low by chance, every score of the next
quarter came out low with it (on the 20,000-lead Marketo world, 0.80 of the test period's rate).
The level rule pools the periods unless their levels differ beyond sampling noise, and follows
the latest when they drift. A flat file without creation times has slices of lead order, not
periods of time: their levels are read as draws about one level, and the band keeps how far
apart they were.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit

from leadscore.features.offline import LABEL
from leadscore.features.schema import CUTOFF_AT, LEAD_ID
from leadscore.features.synthetic import simulate
from leadscore.features.training_set import SPLIT, stand_in_times
from leadscore.training.job.level import (
    UNTIMED,
    Period,
    local_level,
    offset_variance,
    period_offset,
    read_level,
)
from leadscore.training.job.train import (
    LIGHTGBM_GRID,
    LOGISTIC_GRID,
    fit_scorer,
    own_log_odds,
    shift_level,
)
from leadscore.training.model.combiner import LAYERS, LogOddsBlend
from tests.worlds import default_training_set

ROWS = 5_000  # a period's rows, one lead each: about 180 SQLs at the base log-odds below


def period(level: float, seed: int) -> Period:
    """A period whose rows convert at the combiner's log-odds shifted by ``level``."""
    rng = np.random.default_rng(seed)
    log_odds = rng.normal(-4.0, 1.0, ROWS)
    label = (rng.random(ROWS) < expit(log_odds + level)).astype(int)
    return Period(log_odds, label, int(label.sum()), int(ROWS - label.sum()))


def test_a_period_offset_brings_the_mean_probability_to_the_rate():
    p = period(0.3, seed=1)
    offset = period_offset(p.log_odds, float(p.label.mean()))
    assert expit(p.log_odds + offset).mean() == pytest.approx(p.label.mean(), rel=1e-6)


def test_a_dip_within_sampling_noise_moves_the_level_only_by_its_share():
    """Four periods at +0.3 and a latest one at +0.2: pooled, each weighted by its SQLs."""
    periods = [period(0.3, seed) for seed in range(4)] + [period(0.2, seed=4)]
    level = read_level(periods)
    assert level.method == "one level" and level.same_level_p >= 0.05
    assert level.offset == pytest.approx(0.28, abs=0.04)
    variances = [offset_variance(p, o) for p, o in zip(periods, level.period_offsets, strict=True)]
    precision = 1 / np.array(variances)
    np.testing.assert_allclose(level.period_weights, precision / precision.sum())
    assert level.offset == pytest.approx(np.dot(level.period_weights, level.period_offsets))


def test_slices_of_lead_order_that_agree_read_the_pooled_level():
    """Without times, slices whose levels differ no more than their noise: DerSimonian and
    Laird's between-slice variance is 0, and the level is the pooled one."""
    periods = [period(0.3, seed) for seed in range(4)] + [period(0.2, seed=4)]
    pooled, untimed = read_level(periods), read_level(periods, timed=False)
    assert untimed.method == UNTIMED
    assert untimed.offset == pytest.approx(pooled.offset)
    np.testing.assert_allclose(untimed.period_weights, pooled.period_weights)
    assert 0 < untimed.spread < 0.1


def test_slices_of_lead_order_that_differ_are_not_extrapolated_from_the_latest():
    """A file whose latest slices converted lower: with times that is a drift to follow;
    without, the slices are draws about one level. The level sits at their plain mean, not at
    the latest slice, and the band widens by how far apart the slices were."""
    levels = [0.6, 0.4, 0.2, 0.0, -0.2]
    periods = [period(level, seed) for seed, level in enumerate(levels)]
    timed, untimed = read_level(periods), read_level(periods, timed=False)
    assert timed.method == "a moving level" and timed.offset < 0.0
    assert untimed.method == UNTIMED
    offsets = np.array(untimed.period_offsets)
    assert untimed.offset == pytest.approx(offsets.mean(), abs=0.03)  # slice noise << spread
    assert max(untimed.period_weights) - min(untimed.period_weights) < 0.05
    # the next slice may sit wherever these did: their spread, not the mean's error alone
    assert offsets.std(ddof=1) <= untimed.spread < 2 * offsets.std(ddof=1)
    assert untimed.spread > 2 * read_level(periods[:1] * 5, timed=False).spread


def test_a_level_that_keeps_falling_is_followed():
    """+0.6 down to -0.2 in five steps is no noise: the latest periods weigh most."""
    periods = [period(level, seed) for seed, level in enumerate([0.6, 0.4, 0.2, 0.0, -0.2])]
    level = read_level(periods)
    assert level.method == "a moving level" and level.same_level_p < 0.05
    assert level.period_weights[-1] > 0.5
    assert level.offset < 0.0  # pooling would have said +0.2
    assert sum(level.period_weights) == pytest.approx(1.0)
    assert level.offset == pytest.approx(np.dot(level.period_weights, level.period_offsets))


@pytest.mark.parametrize("step", [0.0, 0.1, 0.2])
def test_the_level_says_how_far_the_next_period_may_sit_about_as_often_as_it_claims(step):
    """Levels that walk at random by ``step`` log-odds a period: five periods are read, and
    +/- 1.96 spreads must hold the sixth period's level, and +/- 1.96 of the spread with a
    period's noise its realised offset, nearly as often as the 95% they claim (see
    :func:`training.job.level.next_level_spread` for the fitted step alone)."""
    level_held, offset_held = [], []
    for seed in range(120):
        rng = np.random.default_rng(seed)
        levels = np.cumsum(rng.normal(0.0, step, 6))
        periods = [period(value, seed=1000 * seed + k) for k, value in enumerate(levels)]
        level = read_level(periods[:5])
        sixth = period_offset(periods[5].log_odds, float(periods[5].label.mean()))
        level_held.append(abs(levels[5] - level.offset) <= 1.96 * level.spread)
        offset_held.append(abs(sixth - level.offset) <= 1.96 * level.next_period_sd)
    assert np.mean(level_held) >= 0.88 and np.mean(offset_held) >= 0.88


def test_one_or_two_slices_say_no_more_of_the_next_than_their_pooled_level_can():
    """Too few slices to read a spread between them: the band is the pooled level's own
    uncertainty, as with times, not whatever the grid of variances allows."""
    for slices in ([period(0.3, 1)], [period(0.3, 1), period(0.3, 2)]):
        untimed, timed = read_level(slices, timed=False), read_level(slices)
        assert untimed.spread == pytest.approx(timed.spread, rel=0.05) and untimed.spread < 0.15


@pytest.mark.parametrize("between", [0.0, 0.1, 0.2])
def test_slices_of_lead_order_say_how_far_the_next_may_sit_about_as_often_as_they_claim(between):
    """Slices whose levels scatter by ``between`` log-odds about one level, in no order: five
    are read without times, and +/- 1.96 spreads must hold a sixth's level, and with a slice's
    noise its realised offset, nearly as often as the 95% they claim."""
    level_held, offset_held = [], []
    for seed in range(120):
        rng = np.random.default_rng(seed)
        levels = rng.normal(0.0, between, 6)
        periods = [period(value, seed=1000 * seed + k) for k, value in enumerate(levels)]
        level = read_level(periods[:5], timed=False)
        sixth = period_offset(periods[5].log_odds, float(periods[5].label.mean()))
        level_held.append(abs(levels[5] - level.offset) <= 1.96 * level.spread)
        offset_held.append(abs(sixth - level.offset) <= 1.96 * level.next_period_sd)
    assert np.mean(level_held) >= 0.88 and np.mean(offset_held) >= 0.88


def test_a_moving_level_is_less_sure_of_the_next_period_than_a_steady_one():
    steady = read_level([period(0.3, seed) for seed in range(5)])
    moving = read_level([period(v, seed) for seed, v in enumerate([0.6, 0.4, 0.2, 0.0, -0.2])])
    assert 0 < steady.spread < 0.1 < moving.spread
    assert moving.next_period_sd > steady.next_period_sd


def test_a_small_export_says_its_next_period_may_convert_far_from_the_mean_p():
    """Periods of 500 leads (about 18 SQLs) against 5,000: each period's own noise is about
    three times as wide, and the band the run prints says so."""
    large = read_level([period(0.3, seed) for seed in range(5)])
    small = read_level([replace(p, log_odds=p.log_odds[:500], label=p.label[:500],
                                sql_leads=int(p.label[:500].sum()),
                                other_leads=int(500 - p.label[:500].sum()))
                        for p in (period(0.3, seed) for seed in range(5))])  # fmt: skip
    assert small.noise > 2.5 * large.noise
    margins, rows = margins_and_rows(3, "2025-01-01", 0.3)
    combiner = LogOddsBlend(layer="logistic").fit(margins, rows[LABEL].to_numpy(int))
    _, level = shift_level(combiner, [(rows, margins, 5)], reference=margins)
    low, high = level.band
    assert low < 1 < high and "On a next period as large as the latest, mean P(SQL) / rate" in (
        level.describe()
    )


def test_the_local_level_pools_at_step_zero_and_follows_the_latest_at_a_large_step():
    offsets, variances = np.array([0.4, 0.1, -0.2]), np.array([0.01, 0.02, 0.04])
    pooled = (offsets / variances).sum() / (1 / variances).sum()
    assert local_level(offsets, variances, 0.0)[0] == pytest.approx(pooled)
    assert local_level(offsets, variances, 1e6)[0] == pytest.approx(-0.2, abs=1e-4)


def test_an_offset_spread_over_sharper_probabilities_is_less_sure_than_the_rate():
    """The same rate and leads, log-odds spread wider: the offset's noise grows."""
    rng = np.random.default_rng(0)
    label = (rng.random(ROWS) < 0.03).astype(int)
    flat, sharp = np.full(ROWS, -3.5), rng.normal(-4.0, 1.5, ROWS)
    counts = (int(label.sum()), int(ROWS - label.sum()))
    rate = float(label.mean())
    flat_v = offset_variance(Period(flat, label, *counts), period_offset(flat, rate))
    sharp_v = offset_variance(Period(sharp, label, *counts), period_offset(sharp, rate))
    assert flat_v == pytest.approx(1 / counts[0] + 1 / counts[1])
    assert sharp_v > 1.2 * flat_v


def test_a_period_without_an_sql_carries_no_level():
    empty = Period(np.full(50, -4.0), np.zeros(50, int), 0, 50)
    assert read_level([empty]).method == "none" and read_level([empty]).offset == 0.0
    level = read_level([empty, period(0.3, seed=1)])
    assert len(level.period_offsets) == 1 and level.offset == pytest.approx(0.3, abs=0.05)


def margins_and_rows(seed: int, start: str, level: float) -> tuple[np.ndarray, pd.DataFrame]:
    """A period's three component margins (rule points/10, logistic and LightGBM log-odds) and
    its rows, converting at the logistic log-odds shifted by ``level``."""
    rng = np.random.default_rng(seed)
    logistic = rng.normal(-4.0, 1.0, ROWS)
    margins = np.column_stack(
        [rng.normal(2, 1, ROWS), logistic, logistic + rng.normal(0, 0.3, ROWS)]
    )
    rows = pd.DataFrame({
        LEAD_ID: [f"{start}-{k}" for k in range(ROWS)],
        CUTOFF_AT: pd.date_range(start, periods=ROWS, freq="min", tz="UTC"),
        LABEL: (rng.random(ROWS) < expit(logistic + level)).astype(float),
    })  # fmt: skip
    return margins, rows


@pytest.mark.parametrize("layer", LAYERS)
def test_every_layer_takes_the_level_read_on_the_latest_period(layer):
    """Each layer's mean P(SQL) on the latest period is what its own link gives at the level
    read, whether it was fitted there or not."""
    history = [margins_and_rows(seed, f"2025-0{seed + 1}-01", 0.3) for seed in range(4)]
    latest_margins, latest = margins_and_rows(9, "2025-09-01", 0.0)  # fitted on a low period
    combiner = LogOddsBlend(layer=layer).fit(latest_margins, latest[LABEL].to_numpy(int))
    moved, level = shift_level(
        combiner,
        [(pd.concat([rows for _, rows in history]), np.vstack([m for m, _ in history]), 4),
         (latest, latest_margins, 1)],
        reference=latest_margins,
    )  # fmt: skip
    assert level.method in ("one level", "a moving level") and level.intercept_shift > 0
    assert moved.intercept_[0] == pytest.approx(combiner.intercept_[0] + level.intercept_shift)
    np.testing.assert_array_equal(moved.coef_, combiner.coef_)
    own = expit(own_log_odds(combiner, latest_margins) + level.offset).mean()
    assert expit(moved.decision_function(latest_margins)).mean() == pytest.approx(own, rel=1e-6)
    if layer == "rules":  # no link of its own: the combiner's, so the shift is the level read
        assert level.intercept_shift == pytest.approx(level.offset)


def test_a_combiner_fitted_on_the_one_period_read_is_left_where_it_is():
    margins, rows = margins_and_rows(3, "2025-01-01", 0.2)
    combiner = LogOddsBlend(layer="logistic").fit(margins, rows[LABEL].to_numpy(int))
    _, level = shift_level(combiner, [(rows, margins, 1)], reference=margins)
    assert level.intercept_shift == pytest.approx(0.0, abs=1e-6)


def test_without_a_usable_period_the_combiner_stays_as_fitted():
    margins, rows = margins_and_rows(3, "2025-01-01", 0.2)
    combiner = LogOddsBlend().fit(margins, rows[LABEL].to_numpy(int))
    no_sql = rows.assign(**{LABEL: 0.0})
    moved, level = shift_level(combiner, [(no_sql, margins, 2)], reference=margins)
    assert level.method == "none" and moved is combiner
    assert "left as fitted" in level.describe() and level.band is None  # no band is claimed


def test_a_file_without_creation_times_reads_its_slices_as_one_level():
    """The same history with its times replaced by a flat file's stand-ins (a second apart in
    lead order): the combiner's level is read with random effects, not followed to the
    latest slice."""
    levels = [0.6, 0.4, 0.2, 0.0, -0.2]
    history = [margins_and_rows(seed, f"2025-0{seed + 1}-01", lv) for seed, lv in enumerate(levels)]
    margins = np.vstack([m for m, _ in history])
    rows = pd.concat([r for _, r in history], ignore_index=True)
    combiner = LogOddsBlend(layer="logistic").fit(margins, rows[LABEL].to_numpy(int))
    _, timed = shift_level(combiner, [(rows, margins, 5)], reference=history[-1][0])
    stand_in = rows.assign(**{CUTOFF_AT: stand_in_times(np.arange(len(rows)))})
    _, untimed = shift_level(combiner, [(stand_in, margins, 5)], reference=history[-1][0])
    assert timed.method == "a moving level" and untimed.method == UNTIMED
    assert untimed.period_offsets == pytest.approx(timed.period_offsets)
    assert untimed.offset > timed.offset + 0.2  # about the mean, not the latest slice's -0.2
    assert "no times: slices of lead order) over 5 slices (offsets first to last" in (
        untimed.describe()
    )


@pytest.fixture(scope="module")
def low_validation(tmp_path_factory):  # type: ignore[no-untyped-def]
    """A 6,000-lead world whose validation period lost a fifth of its SQL leads by chance."""
    path, spec, rulebook = default_training_set(
        simulate(6000, 11), tmp_path_factory.mktemp("low_validation")
    )
    rows = pd.read_parquet(path)
    rows = rows[rows[LABEL].notna()]
    validation = rows[SPLIT] == "validation"
    sql_leads = rows.loc[validation & (rows[LABEL] == 1), LEAD_ID].unique()
    lost = np.random.default_rng(0).choice(sql_leads, len(sql_leads) // 5, replace=False)
    rows.loc[validation & rows[LEAD_ID].isin(lost), LABEL] = 0.0
    parts = {name: rows[rows[SPLIT] == name] for name in ("train", "validation", "test")}
    scorer = fit_scorer(
        parts["train"], parts["validation"], spec, rulebook,
        logistic_grid=LOGISTIC_GRID[1:2], lightgbm_grid=LIGHTGBM_GRID[:1],
    )  # fmt: skip
    return scorer, parts


def test_a_validation_period_that_converted_low_does_not_set_the_next_quarters_level(
    low_validation,
):
    scorer, parts = low_validation
    level = scorer.metadata["level"]
    test = parts["test"]
    rate = test[LABEL].mean()
    p = scorer.probability(test)
    as_fitted = expit(logit(p) - level["intercept_shift"])  # as validation alone set it
    assert level["method"] == "one level" and level["intercept_shift"] > 0
    assert abs(np.log(p.mean() / rate)) < abs(np.log(as_fitted.mean() / rate))
    assert any(note.startswith("Level: one level over 5 periods") for note in
               scorer.metadata["notes"])  # fmt: skip


def test_the_level_keeps_each_score_explained_exactly(low_validation):
    from leadscore.training.model.explain import contributions

    scorer, parts = low_validation
    assert scorer.metadata["level"]["intercept_shift"] > 0  # the level has moved the intercept
    sample = parts["test"].sample(200, random_state=0)
    p = scorer.probability(sample)
    np.testing.assert_allclose(
        contributions(scorer, sample).sum(axis=1), np.log(p / (1 - p)), atol=1e-6
    )


def test_the_level_is_saved_with_the_model(low_validation, tmp_path: Path):
    from leadscore.training.model.artifact import load_model, save_model

    scorer, parts = low_validation
    save_model(scorer, tmp_path / "model")
    loaded = load_model(tmp_path / "model")
    np.testing.assert_allclose(loaded.probability(parts["test"]), scorer.probability(parts["test"]))
    assert loaded.metadata["level"]["method"] == "one level"
