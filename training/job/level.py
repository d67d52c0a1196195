"""The combiner's level: calibration in the large that one period's dip does not set.

The combiner (:mod:`training.model.combiner`) is fitted on one period - validation for the
judged model, the latest out-of-fold period for the refit - and its intercept carries that
period's conversion level. Levels move between periods by sampling noise (a period holds a few
hundred SQLs) and by real drift (a market, a channel mix). On a 20,000-lead world whose
validation period converted 13% below both train and test, the judged model predicted 0.80 of
the test period's rate.

So the level is read from several periods: each period's offset - the log-odds shift that
brings the mean P(SQL) of its log-odds to the period's realised rate (:func:`period_offset`) -
is the period's level plus sampling noise of known variance (:func:`offset_variance`). By a
stated rule (:func:`read_level`):

* **one level** - when the offsets differ no more than their sampling noise says (Cochran's Q
  test of homogeneity, the meta-analyst's, at ``SAME_LEVEL_P``), they are pooled, each period
  weighted by its precision (its SQLs): a dip in one period moves the level only by its share.
* **a moving level** - otherwise, a local-level model (the random walk plus noise behind
  exponential smoothing; Durbin and Koopman, *Time Series Analysis by State Space Methods*,
  ch. 2) with its random-step variance fitted by maximum likelihood: the filtered level at the
  latest period, so the latest periods weigh most, as they should when the level drifts.

Which periods are read, and at which link, is said once, in
:func:`training.job.train.shift_level`.

The reading also says how sure it is: where the next period's level may sit
(:func:`next_level_spread`, the step variance averaged over rather than fixed at its estimate)
and the sampling noise of a period as large as the latest, turned into the range of the model's
mean P(SQL) over the next period's rate (``Level.band``, the ratio the test table judges). A
user whose level moves, or whose periods hold few SQLs, learns from the run that a mean P(SQL)
within 10% of next quarter's rate is more than the history can promise, and by how much.

Measured before choosing, on ten simulated worlds (3,000 to 20,000 leads, three drifting;
``benchmarks/bench_level.py``, and the Marketo-worded world of ``bench_foreign.py``): the
judged model's mean P(SQL) over the test period's rate, and the refit's over the period after
its history. Without the level, 0.67 to 1.11 (13% off on average) and the refit 0.67 to 1.17
(19%). Periods predicted by the time folds' models read the level worse than the fitting rows
(the earliest folds, fitted on an export's first months of only young leads, were 0.6 log-odds
off). The local level always, with no test of one level: 0.88 to 1.27 (10.0%), 12% off on two
of the four 20,000-lead worlds. This rule: 0.91 to 1.27 (10.7%), within 10% on all four
20,000-lead worlds (5% on average there), and the refit 0.91 to 1.15 (6.4%). Its cost: on
3,000-lead worlds drifting steadily the test cannot tell the drift from noise and pools, and
the judged model over-predicts the next period by 14% to 27%; the refit, which ships and has
learned the latest months, reads 0.98 to 1.09 there.

**A history without times** (a flat file without creation times, whose rows' times are
stand-ins in lead order: :func:`leadscore.features.training_set.is_stand_in`) is read another
way, because its periods are slices of an order, not of time. The local level's random step is
a step per period of time, and such slices have no clock: the next file a flat model scores
may be any leads (a re-export, another region), and an export's order is often not creation
order (CRMs sort by owner, by name, by last change, which moves with the outcome). Nor can the
newest leads whose outcome was still open at export be left out (:mod:`features.contract`'s
maturity rule needs dates), so the latest slices, the ones a moving level weighs most, are the
least settled. So the slices are read as draws about one level (``UNTIMED``): pooled with
random effects, each weighted by its precision with the variance between slices added
(DerSimonian and Laird's moment estimate, the meta-analyst's), and that variance kept in the
band, since the next file may sit wherever the history's slices did. When Cochran's Q is no
more than its degrees of freedom, it is the pooled level above. On X Education
(``benchmarks/bench_xeducation.py``: the last two of the training file's four slices in lead
number order converted 0.42, the held-out newest fifth 0.370, and the newer half of that 0.327)
the moving level predicted 1.138 of the held-out rate, this rule 1.086. What the rule would
cost a world whose times were missing (``bench_level.py``'s untimed column, its worlds read in
time order): the same reading on every world of 10,000 leads or more, the two drifting
20,000-lead worlds included; on the three drifting 3,000-lead worlds 0.015 to 0.037 further
from 1 than the rule with times.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import expit
from scipy.stats import chi2, norm

from leadscore.features import schema
from leadscore.features.schema import CUTOFF_AT, LABEL

SAME_LEVEL_P = 0.05  # Cochran's Q below this p-value: the periods' levels differ
# the random step's variance (log-odds squared) is searched over 0 and this grid
STEP_VARIANCES = (0.0, *np.logspace(-4, 1, 51))
MAX_OFFSET = 50.0  # a period's offset is searched within this many log-odds of its log-odds'
MOVEMENT_PERIODS = 3  # fewest periods from which the level's movement is read
BAND_LEVEL = 0.95  # the next period's band holds its mean P(SQL) over rate this often
_BAND_Z = float(norm.ppf(0.5 + BAND_LEVEL / 2))
UNTIMED = "one level with random effects (no times: slices of lead order)"


@dataclass(frozen=True)
class Period:
    """One period: the log-odds on its labelled rows, their labels, and how many distinct leads
    reached SQL and did not (rows of one lead move together, so leads, not rows, set the
    sampling noise)."""

    log_odds: np.ndarray
    label: np.ndarray
    sql_leads: int
    other_leads: int


@dataclass(frozen=True)
class Level:
    """The level read across periods, and what it moved the combiner's intercept by."""

    offset: float  # the level read: weights @ period_offsets
    # "one level", "a moving level", ``UNTIMED`` or "none" (no period had both classes)
    method: str
    same_level_p: float  # Cochran's Q p-value; 1.0 with fewer than two periods
    period_offsets: list[float]
    period_weights: list[float]  # each period's share in ``offset`` (they sum to 1)
    # standard deviation (log-odds) of the next period's level about ``offset``: the level's
    # own uncertainty, plus one random step for a moving level, or the spread between slices
    # for ``UNTIMED``
    spread: float = 0.0
    # standard deviation (log-odds) of the offset of a period as large as the latest read: the
    # sampling noise the next period's own rate adds to its level
    noise: float = 0.0
    intercept_shift: float = 0.0  # set by training.job.train.shift_level
    # the model's mean P(SQL) over the rate of a next period as large as the latest read, as
    # low and as high as it may be (``BAND_LEVEL``; :func:`with_band`); None when no level
    # was read. The test table's "mean p / rate" is the same ratio, judged after the fact
    band: tuple[float, float] | None = None

    @property
    def next_period_sd(self) -> float:
        """Standard deviation (log-odds) of the next period's offset: its level and its noise."""
        return float(np.hypot(self.spread, self.noise))

    def describe(self, subject: str = "Level") -> str:
        """One line for the run's notes."""
        if self.method == "none":
            return f"{subject}: no period held both an SQL and a non-SQL lead; left as fitted."
        offsets = ", ".join(f"{o:+.2f}" for o in self.period_offsets)
        weights = ", ".join(f"{w:.2f}" for w in self.period_weights)
        untimed = self.method == UNTIMED
        parts = "slices (offsets first to last" if untimed else "periods (offsets oldest to latest"
        return (
            f"{subject}: {self.method} over {len(self.period_offsets)} {parts} "
            f"{offsets} log-odds, weights {weights}; same-level test p = "
            f"{self.same_level_p:.2f}); the combiner's intercept moves "
            f"{self.intercept_shift:+.3f}.{self._band_words()}"
        )

    def _band_words(self) -> str:
        if self.band is None:
            return ""
        return (
            f" On a next period as large as the latest, mean P(SQL) / rate may be "
            f"{self.band[0]:.2f} to {self.band[1]:.2f} ({BAND_LEVEL:.0%}: the level +/- "
            f"{_BAND_Z * self.spread:.2f} log-odds, the period's own noise +/- "
            f"{_BAND_Z * self.noise:.2f})."
        )


def periods_of(rows: pd.DataFrame, log_odds: np.ndarray, count: int) -> list[Period]:
    """``rows`` (labelled) with the ``log_odds`` on each, cut by cutoff time into ``count``
    periods of equal row counts, oldest first."""
    order = np.argsort(rows[CUTOFF_AT].to_numpy(), kind="stable")
    label = rows[LABEL].to_numpy(int)
    leads = rows[schema.LEAD_ID].to_numpy()
    periods = []
    for block in np.array_split(order, count):
        if not len(block):
            continue
        sql_leads = len(np.unique(leads[block][label[block] == 1]))
        other_leads = len(np.unique(leads[block])) - sql_leads
        periods.append(Period(log_odds[block], label[block], sql_leads, other_leads))
    return periods


def period_offset(log_odds: np.ndarray, rate: float) -> float:
    """The shift ``d`` with mean(sigmoid(log_odds + d)) = ``rate`` (strictly between 0 and 1):
    a period's level against the log-odds', in log-odds."""
    return float(
        brentq(lambda d: expit(log_odds + d).mean() - rate, -MAX_OFFSET, MAX_OFFSET, xtol=1e-9)
    )


def offset_variance(period: Period, offset: float) -> float:
    """Sampling variance of a period's ``offset``.

    The offset moves the mean P(SQL) by mean(p(1-p)) per log-odds, so its variance is the
    rate's over that squared. The rate's is counted over leads (the log-odds of a rate over
    ``sql_leads`` and ``other_leads``, ``1/sql + 1/other``, scaled back to the rate), as a lead's
    rows convert together; where the log-odds spread leads apart, mean(p(1-p)) falls below
    rate(1-rate) and the offset is that much less sure than the rate.
    """
    p = expit(period.log_odds + offset)
    rate = float(period.label.mean())
    over_leads = 1.0 / period.sql_leads + 1.0 / period.other_leads
    return over_leads * (rate * (1 - rate) / float(np.mean(p * (1 - p)))) ** 2


def local_level(
    offsets: np.ndarray, variances: np.ndarray, step: float
) -> tuple[float, float, float]:
    """(filtered level at the latest period, log likelihood, the filtered level's variance)
    of the local-level model with random-step variance ``step``, started diffuse (on the first
    period's offset).

    Step 0 gives the precision-weighted mean of every offset; a step far above the variances
    gives the latest offset. Written out (a dozen lines) because statsmodels'
    ``UnobservedComponents`` fits one observation variance for every period, where here each
    period's is known."""
    level, variance, loglik = offsets[0], variances[0], 0.0
    for offset, noise in zip(offsets[1:], variances[1:], strict=True):
        predicted = variance + step
        spread = predicted + noise
        surprise = offset - level
        loglik -= 0.5 * (np.log(2 * np.pi * spread) + surprise**2 / spread)
        gain = predicted / spread
        level += gain * surprise
        variance = predicted * (1 - gain)
    return float(level), float(loglik), float(variance)


def read_level(
    periods: list[Period], significance: float = SAME_LEVEL_P, timed: bool = True
) -> Level:
    """The level of ``periods`` (oldest first), by the module's rule; periods without both an
    SQL and a non-SQL lead carry no level and are left out. With none left, the level is 0
    and ``method`` is "none". A ``significance`` above 1 skips the test of one level (the local
    level always, as ``benchmarks/bench_level.py`` compares). ``timed`` False: the periods
    are slices of lead order, read by :func:`random_effects_level`, and ``significance``
    plays no part (Cochran's Q sets the variance between slices instead)."""
    usable = [p for p in periods if p.sql_leads > 0 and p.other_leads > 0]
    if not usable:
        return Level(0.0, "none", 1.0, [], [])
    offsets = np.array([period_offset(p.log_odds, float(p.label.mean())) for p in usable])
    variances = np.array([offset_variance(p, o) for p, o in zip(usable, offsets, strict=True)])
    precision = 1.0 / variances
    noise = float(np.sqrt(variances[-1]))
    pooled = float(precision @ offsets / precision.sum())
    q = float(precision @ (offsets - pooled) ** 2)
    p_value = float(chi2.sf(q, len(usable) - 1)) if len(usable) > 1 else 1.0
    if not timed:
        return random_effects_level(offsets, variances, q, p_value, noise)
    step = 0.0
    if p_value < significance:
        step = max(STEP_VARIANCES, key=lambda s: local_level(offsets, variances, s)[1])
    if step == 0.0:  # one level: the filter at step 0 is the precision-weighted mean
        weights = precision / precision.sum()
        spread = next_level_spread(offsets, variances, pooled)
        return Level(
            pooled, "one level", p_value, offsets.tolist(), weights.tolist(), spread, noise
        )
    # the filtered level is linear in the offsets: each period's weight is its unit response
    weights = np.array([local_level(unit, variances, step)[0] for unit in np.eye(len(usable))])
    offset = float(weights @ offsets)
    return Level(
        offset, "a moving level", p_value, offsets.tolist(), weights.tolist(),
        next_level_spread(offsets, variances, offset), noise,
    )  # fmt: skip


def random_effects_level(
    offsets: np.ndarray, variances: np.ndarray, q: float, same_level_p: float, noise: float
) -> Level:
    """The level of slices read as draws about one level: the random-effects mean, each slice
    weighted by ``1 / (variance + tau2)``, with ``tau2`` the variance between slices by
    DerSimonian and Laird's moment estimate (0 when Cochran's Q is no more than its degrees of
    freedom, and then the pooled level); ``q`` is Cochran's Q of the offsets, as
    :func:`read_level` computed it. Written out (three lines) because statsmodels, whose
    ``combine_effects`` has it, is not otherwise needed.

    The next slice's level sits ``tau2`` plus the mean's own variance about it. From five
    slices ``tau2``'s estimate is often 0 or too small, as the local level's step is (see
    :func:`next_level_spread`), so the spread averages over it the same way: each between-slice
    variance of ``STEP_VARIANCES`` weighs by its restricted likelihood (the plain likelihood
    reads the variance low, as a mean fitted on five slices leaves them closer than they are).
    In the simulation of tests/model/test_level.py (120 sets of six 5,000-lead slices
    scattered by 0, 0.1, 0.2 and 0.3 log-odds), +/- 1.96 spreads held the sixth slice's level
    100%, 95%, 91% and 93% of the time; by the plain likelihood, 87% at 0.2."""
    precision = 1.0 / variances
    scale = precision.sum() - (precision**2).sum() / precision.sum()
    tau2 = max(0.0, (q - (len(offsets) - 1)) / scale) if scale > 0 else 0.0
    weights = 1.0 / (variances + tau2)
    offset = float(weights @ offsets / weights.sum())
    return Level(
        offset, UNTIMED, same_level_p, offsets.tolist(), (weights / weights.sum()).tolist(),
        _between_slices_spread(offsets, variances, offset), noise,
    )  # fmt: skip


def _between_slices_spread(offsets: np.ndarray, variances: np.ndarray, offset: float) -> float:
    """Standard deviation (log-odds) of the next slice's level about ``offset``: a mixture over
    between-slice variances, each weighed by the likelihood of the slices' offsets. With fewer
    than ``MOVEMENT_PERIODS`` slices the likelihood cannot favour any variance (one slice says
    nothing of the spread), so, as :func:`next_level_spread` does, the spread is the pooled
    level's own uncertainty: read such a band as a floor."""
    if len(offsets) < MOVEMENT_PERIODS:
        return next_level_spread(offsets, variances, offset)
    loglik, means, ahead = [], [], []
    for tau2 in STEP_VARIANCES:
        total = variances + tau2
        mean = float((offsets / total).sum() / (1.0 / total).sum())
        fit = np.sum(np.log(2 * np.pi * total) + (offsets - mean) ** 2 / total)
        loglik.append(-0.5 * float(fit + np.log((1.0 / total).sum())))  # restricted
        means.append(mean)
        ahead.append(tau2 + 1.0 / (1.0 / total).sum())
    return _mixture_spread(np.array(loglik), np.array(means), np.array(ahead), offset)


def _mixture_spread(
    loglik: np.ndarray, levels: np.ndarray, ahead: np.ndarray, offset: float
) -> float:
    """Standard deviation about ``offset`` of a mixture of forecasts, one per variance of the
    grid, each weighed by its likelihood: at ``levels``, with variances ``ahead``."""
    weight = np.exp(loglik - loglik.max())
    return float(np.sqrt(weight @ (ahead + (levels - offset) ** 2) / weight.sum()))


def with_band(level: Level, own_log_odds: np.ndarray) -> Level:
    """``level`` with its ``band``: mean P(SQL) over the rate of a next period as large as the
    latest, at the ends of ``BAND_LEVEL``, on the leads of ``own_log_odds`` (the latest
    period's, at the link the level was read on). The mean P(SQL) is the level's; the rate may
    sit ``next_period_sd`` log-odds either side of it."""
    if level.method == "none":
        return level
    predicted = float(expit(own_log_odds + level.offset).mean())
    ends = (
        predicted / float(expit(own_log_odds + level.offset + z * level.next_period_sd).mean())
        for z in (_BAND_Z, -_BAND_Z)
    )
    return replace(level, band=tuple(ends))


def next_level_spread(offsets: np.ndarray, variances: np.ndarray, offset: float) -> float:
    """Standard deviation (log-odds) of the next period's level about ``offset``.

    Why not the fitted step's alone: from five periods the step's maximum-likelihood estimate is
    often 0 or too small. In the simulation of tests/model/test_level.py (120 random walks of
    five 5,000-lead periods, steps of 0, 0.1 and 0.2 log-odds), +/- 1.96 spreads from the fitted
    step alone held the sixth period's level 96%, 65% and 79% of the time. So the step is
    averaged over: each step variance of ``STEP_VARIANCES`` weighs by its likelihood (a flat
    prior over that log-spaced grid, 0 included), and the next period's level is the mixture of
    the local-level model's forecasts (its filtered variance plus one step) about ``offset``:
    100%, 96% and 93% there. With fewer than ``MOVEMENT_PERIODS`` periods one difference at most
    says how the level moves, too little for the step's likelihood to favour any size (the grid
    reaches steps of 3 log-odds), so the spread is the pooled level's own uncertainty, even when
    the two periods differ: read such a band as a floor.
    """
    if len(offsets) < MOVEMENT_PERIODS:
        precision = 1.0 / variances
        pooled = float(precision @ offsets / precision.sum())
        return float(np.sqrt(1.0 / precision.sum() + (pooled - offset) ** 2))
    fits = [local_level(offsets, variances, step) for step in STEP_VARIANCES]
    return _mixture_spread(
        np.array([fit[1] for fit in fits]),
        np.array([fit[0] for fit in fits]),
        np.array([fit[2] + step for fit, step in zip(fits, STEP_VARIANCES, strict=True)]),
        offset,
    )
