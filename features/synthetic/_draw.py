"""Draws and conversions every part of the simulated world shares; times are days since start."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

_SECOND = 1.0 / 86_400.0
_HOUR = 1.0 / 24.0


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _draw_codes(
    rng: np.random.Generator, weights: np.ndarray | tuple[float, ...] | list[float], size: int
) -> np.ndarray:
    """Codes 0..k-1 drawn with the given (unnormalised) weights, as small integers."""
    cdf = np.cumsum(np.asarray(weights, dtype=float))
    cdf /= cdf[-1]
    codes = np.searchsorted(cdf, rng.random(size), side="right")
    return np.minimum(codes, len(cdf) - 1).astype(np.int16)


def _lognormal(rng: np.random.Generator, median: float, sigma: float, size: int) -> np.ndarray:
    return median * np.exp(sigma * rng.standard_normal(size))


def _pick(values: list[str] | tuple[str, ...], codes: np.ndarray) -> pd.Series:
    """Categorical strings by code into `values` (-1 is missing), with no loop over rows.

    `values` may repeat a string (the same title in two groups); codes are mapped to uniques.
    """
    unique_codes, uniques = pd.factorize(np.asarray(values, dtype=object))
    mapped = np.where(codes >= 0, unique_codes[np.maximum(codes, 0)], -1)
    return pd.Series(pd.Categorical.from_codes(mapped, categories=uniques))


def _text(values: list[str] | tuple[str, ...], codes: np.ndarray) -> pd.Series:
    return _pick(values, codes).astype("str")


def _timestamps(days: np.ndarray, start: pd.Timestamp) -> pd.Series:
    """UTC timestamps to the second from days since `start`; NaN becomes NaT."""
    seconds = np.round(days * 86_400.0)
    missing = np.isnan(seconds)
    micros = np.where(missing, 0, seconds).astype(np.int64) * 1_000_000 + start.value // 1_000
    micros[missing] = np.iinfo(np.int64).min
    return pd.Series(micros.view("M8[us]")).dt.tz_localize("UTC")


def _logit(share: float) -> float:
    share = min(max(share, 1e-12), 1.0 - 1e-12)
    return math.log(share / (1.0 - share))
