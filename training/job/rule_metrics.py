"""How a points rulebook performs over a period, in the words marketing and sales use.

Rows are training-set cutoffs (a lead is looked at every few days while open), so volumes are
"hand-offs at snapshot rows per week of cutoffs": the figures compare rulebooks fairly, and the
capacity policy later turns them into leads per week.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from leadscore.features.schema import CUTOFF_AT, LABEL, LEAD_ID

# With no rulebook volume and no MQL history, hand off this share of leads a week: a stated
# default a person changes with `leadscore tune-threshold --capacity`, never zero.
DEFAULT_HANDOFF_SHARE = 0.10


def weeks_spanned(cutoffs: pd.Series) -> float:
    """The weeks the cutoffs span, at least one: what a weekly volume is counted over."""
    span = (cutoffs.max() - cutoffs.min()) / pd.Timedelta(days=7)
    return max(float(span), 1.0)


def default_handoff_leads(rows: pd.DataFrame) -> int:
    """The stated default volume: ``DEFAULT_HANDOFF_SHARE`` of the rows' leads, at least one."""
    return max(1, round(DEFAULT_HANDOFF_SHARE * rows[LEAD_ID].nunique()))


def handoff_metrics(rows: pd.DataFrame, points: np.ndarray, handoff: np.ndarray) -> dict:
    """MQL volume, MQL->SQL rate, SQL recall and AUC of the points, on labelled rows."""
    label = rows[LABEL].to_numpy(int)
    handoff = np.asarray(handoff, bool)
    sqls = max(int(label.sum()), 1)
    return {
        "rows": len(rows),
        "sql_rate": float(label.mean()) if len(rows) else float("nan"),
        "mql_rows": int(handoff.sum()),
        "mql_per_week": float(handoff.sum() / weeks_spanned(rows[CUTOFF_AT])),
        "mql_share": float(handoff.mean()) if len(rows) else float("nan"),
        "mql_to_sql_rate": float(label[handoff].mean()) if handoff.any() else float("nan"),
        "sql_recall": float(label[handoff].sum() / sqls),
        "auc_points": float(roc_auc_score(label, points))
        if 0 < label.sum() < len(label)
        else float("nan"),
    }


def threshold_for_volume(points: np.ndarray, passes: np.ndarray, volume: int) -> float:
    """The lowest points threshold that hands off at most ``volume`` rows (passes included).

    When the rows tied at the boundary are the highest points there are (a rulebook of a few
    attribute rules gives many equal totals), the threshold is that value and hands off a few
    more than ``volume``: the alternative is a threshold nobody reaches. A tie at zero points
    or below is not a hand-off.
    """
    scored = np.sort(np.asarray(points)[~np.asarray(passes, bool)])[::-1]
    room = volume - int(np.asarray(passes, bool).sum())
    if room <= 0 or scored.size == 0:
        return float(np.inf)
    if room >= scored.size:
        return float(scored[-1])
    # ties at the boundary: take the next distinct value up, so volume is never exceeded
    boundary = scored[room - 1]
    above = scored[scored > boundary]
    if (scored >= boundary).sum() <= room:
        return float(boundary)
    if not above.size:  # everyone at the top is tied: hand them off, unless they have no points
        return float(boundary) if boundary > 0 else float(np.inf)
    return float(above.min())


def top_k_handoff(points: np.ndarray, passes: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Exactly ``k`` hand-offs: instant passes first, then the most points, ties broken at random.

    For like-for-like comparisons at equal volume, where a points threshold can only land
    between distinct values.
    """
    rng = np.random.default_rng(seed)
    order = np.lexsort(
        (rng.random(len(points)), -np.asarray(points, float), ~np.asarray(passes, bool))
    )
    chosen = np.zeros(len(points), bool)
    chosen[order[: max(k, 0)]] = True
    return chosen
