"""How good a probability is: ranking, calibration and what sales gets at the top of the list.

scikit-learn gives ROC-AUC, PR-AUC, log loss and Brier; expected calibration error and the SQL
capture at the top k% are written here because scikit-learn has neither.
"""

from __future__ import annotations

import numpy as np
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


def probability_metrics(label: np.ndarray, p: np.ndarray) -> dict[str, float]:
    label = np.asarray(label, int)
    p = np.clip(np.asarray(p, float), 1e-6, 1 - 1e-6)
    metrics = {
        "roc_auc": float(roc_auc_score(label, p)),
        "pr_auc": float(average_precision_score(label, p)),
        "log_loss": float(log_loss(label, p, labels=[0, 1])),
        "brier": float(brier_score_loss(label, p)),
        "ece": expected_calibration_error(label, p),
    }
    for share in TOP_SHARES:
        metrics[f"sql_capture_top_{int(share * 100)}pct"] = capture_at_top(label, p, share)
    return metrics
