"""How good a probability is: ranking, calibration and what sales gets at the top of the list.

scikit-learn gives ROC-AUC, PR-AUC, log loss and Brier; expected calibration error, the SQL
capture at the top k% and bootstrap intervals over leads (of ROC-AUC and of mean P(SQL) over
the SQL rate) are written here because scikit-learn has none of them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping

import numpy as np
from scipy import sparse
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

TOP_SHARES = (0.05, 0.10, 0.20)


def expected_calibration_error(label: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Mean |observed rate - predicted p| over equal-count bins, weighted by bin size.

    Equal-count bins, because with a 3% base rate equal-width bins leave all but the first
    nearly empty and the figure would say nothing.
    """
    order = np.argsort(p)
    error = 0.0
    for chunk in np.array_split(order, bins):
        if chunk.size:
            error += chunk.size * abs(label[chunk].mean() - p[chunk].mean())
    return float(error / max(len(p), 1))


def reliability_curve(
    label: np.ndarray, p: np.ndarray, bins: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """(mean predicted, observed rate) per equal-count bin."""
    order = np.argsort(p)
    chunks = [c for c in np.array_split(order, bins) if c.size]
    return np.array([p[c].mean() for c in chunks]), np.array([label[c].mean() for c in chunks])


def capture_at_top(label: np.ndarray, score: np.ndarray, share: float) -> float:
    """Share of all SQLs found among the top ``share`` of rows by score."""
    k = max(1, round(share * len(score)))
    top = np.argsort(-score, kind="stable")[:k]
    return float(label[top].sum() / max(label.sum(), 1))


def probability_metrics(
    label: np.ndarray, p: np.ndarray, groups: np.ndarray | None = None
) -> dict[str, float]:
    """The figures of one probability; with ``groups`` (lead ids), the bootstrap intervals of
    ROC-AUC (``roc_auc_low``, ``roc_auc_high``; :func:`bootstrap_auc_interval`) and of mean
    P(SQL) over the rate (``mean_p_over_rate_low``, ``_high``; :func:`bootstrap_level_interval`)."""
    label = np.asarray(label, int)
    p = np.clip(np.asarray(p, float), 1e-6, 1 - 1e-6)
    metrics = {
        "roc_auc": float(roc_auc_score(label, p)),
        "pr_auc": float(average_precision_score(label, p)),
        "log_loss": float(log_loss(label, p, labels=[0, 1])),
        "brier": float(brier_score_loss(label, p)),
        "ece": expected_calibration_error(label, p),
        # calibration in the large: a level that drifts between periods shows here first
        "mean_p_over_rate": float(p.mean() / label.mean()),
    }
    for share in TOP_SHARES:
        metrics[f"sql_capture_top_{int(share * 100)}pct"] = capture_at_top(label, p, share)
    if groups is not None:
        metrics["roc_auc_low"], metrics["roc_auc_high"] = bootstrap_auc_interval(label, p, groups)
        low, high = bootstrap_level_interval(label, p, groups)
        metrics["mean_p_over_rate_low"], metrics["mean_p_over_rate_high"] = low, high
    return metrics


BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_LEVEL = 0.95
_CELLS_PER_CHUNK = 4_000_000  # resamples x scored values held at once


def bootstrap_auc_interval(
    label: np.ndarray,
    p: np.ndarray,
    groups: np.ndarray,
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    level: float = BOOTSTRAP_LEVEL,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ROC-AUC, resampling leads (``groups``), not rows.

    Why leads: a lead's weekly snapshots share its fate, so resampling rows would treat one SQL
    seen five times as five pieces of evidence and give an interval too narrow. Each resample
    draws leads with replacement; a lead drawn twice weighs twice. The AUC of every resample is
    the weighted Mann-Whitney statistic over the distinct scores (ties count half), computed for
    a block of resamples at once; resamples without an SQL or without a non-SQL are skipped.
    """
    label = np.asarray(label, int)
    _, lead_of_row = np.unique(np.asarray(groups), return_inverse=True)
    values, value_of_row = np.unique(np.asarray(p, float), return_inverse=True)
    n_leads, n_values = lead_of_row.max() + 1, len(values)
    # (distinct scores x leads) counts of SQL and non-SQL rows: a resample's weight at each
    # score is these times its lead counts
    positive, negative = (
        sparse.csr_matrix(
            (np.ones(int(mask.sum())), (value_of_row[mask], lead_of_row[mask])),
            shape=(n_values, n_leads),
        )
        for mask in (label == 1, label == 0)
    )
    chunk = max(1, _CELLS_PER_CHUNK // max(n_values, n_leads))
    aucs = []
    for counts in _lead_resamples(n_leads, resamples, chunk, seed):
        pos, neg = (positive @ counts.T).T, (negative @ counts.T).T
        below = np.cumsum(neg, axis=1) - neg  # non-SQL weight strictly below each score
        wins = (pos * (below + 0.5 * neg)).sum(axis=1)
        pairs = pos.sum(axis=1) * neg.sum(axis=1)
        aucs.append(np.divide(wins, pairs, out=np.full(len(counts), np.nan), where=pairs > 0))
    return _percentile_interval(np.concatenate(aucs), level)


def bootstrap_level_interval(
    label: np.ndarray, p: np.ndarray, groups: np.ndarray
) -> tuple[float, float]:
    """Percentile bootstrap interval of mean P(SQL) over the SQL rate, resampling leads.

    Why: calibration in the large is judged against a rate of a few dozen SQLs on a small
    export, where 1.15 may be chance; the interval says how far the rate alone can wander.
    Leads are resampled as in :func:`bootstrap_auc_interval`, the ratio of each resample is
    its weighted sum of P(SQL) over its weighted count of SQL rows; a resample without an SQL
    is infinitely far above its rate, so a test of a handful of SQLs reads an upper end of inf.
    """
    _, lead_of_row = np.unique(np.asarray(groups), return_inverse=True)
    n_leads = lead_of_row.max() + 1
    p_sum = np.bincount(lead_of_row, weights=np.asarray(p, float), minlength=n_leads)
    sql_sum = np.bincount(lead_of_row, weights=np.asarray(label, float), minlength=n_leads)
    ratios = []
    chunk = max(1, _CELLS_PER_CHUNK // n_leads)
    for counts in _lead_resamples(n_leads, BOOTSTRAP_RESAMPLES, chunk, seed=0):
        expected, realised = counts @ p_sum, counts @ sql_sum
        ratios.append(
            np.divide(expected, realised, out=np.full(len(counts), np.inf), where=realised > 0)
        )
    return _percentile_interval(np.concatenate(ratios), BOOTSTRAP_LEVEL)


def with_interval(metrics: Mapping[str, float], figure: str, digits: int) -> str:
    """A figure with its bootstrap interval beside it, "0.812 [0.77-0.85]" (the figure alone
    when none was computed): how `train` prints it and the benchmarks quote it."""
    low, high = metrics.get(f"{figure}_low"), metrics.get(f"{figure}_high")
    if high is None and low is not None and f"{figure}_high" in metrics:
        high = math.inf  # JSON has no infinity: metadata keeps an unbounded end as null
    shown = f"{metrics[figure]:.{digits}f}"
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return shown
    return f"{shown} [{low:.2f}-{high:.2f}]"


def _lead_resamples(n_leads: int, resamples: int, chunk: int, seed: int) -> Iterator[np.ndarray]:
    """Blocks of at most ``chunk`` resamples, each row a count per lead (drawn with replacement)."""
    rng = np.random.default_rng(seed)
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        yield rng.multinomial(n_leads, np.full(n_leads, 1.0 / n_leads), size=size)


def _percentile_interval(values: np.ndarray, level: float) -> tuple[float, float]:
    """Percentiles of the resamples, NaN ones skipped; with an infinite one among them, read
    off the sorted values without interpolating (between two infinities it gives NaN)."""
    tail = (1.0 - level) / 2.0 * 100.0
    method = "inverted_cdf" if np.isinf(values).any() else "linear"
    low, high = np.nanpercentile(values, [tail, 100.0 - tail], method=method)
    return float(low), float(high)
