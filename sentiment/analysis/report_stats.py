"""Statistics of the report: Wilson intervals, weighted log-odds with an informative Dirichlet prior,
periods, shares per group (times are read by :mod:`sentiment.io.times`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

Z95 = 1.959964
PERIODS = {"day": "D", "week": "W-SUN", "month": "M"}  # pandas period frequencies (weeks run Monday to Sunday)


def wilson(k: np.ndarray, n: np.ndarray, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for k successes in n trials (vectorized)."""
    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def log_odds_z(a: np.ndarray, b: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """z-scores of the weighted log-odds ratio of each word in corpus ``a`` against corpus ``b`` with an
    informative Dirichlet prior ``prior`` (pseudo-counts per word), Monroe, Colaresi & Quinn (2008), eq. 16-22."""
    a, b, prior = (np.asarray(x, dtype=float) for x in (a, b, prior))
    a0 = prior.sum()
    la = np.log((a + prior) / (a.sum() + a0 - a - prior))
    lb = np.log((b + prior) / (b.sum() + a0 - b - prior))
    return (la - lb) / np.sqrt(1.0 / (a + prior) + 1.0 / (b + prior))


def period_of(span: pd.Timedelta) -> str:
    """'day', 'week' or 'month': a readable number of points for a time ``span`` (see PERIODS)."""
    if span <= pd.Timedelta(days=92):
        return "day"
    if span <= pd.Timedelta(days=2 * 366):
        return "week"
    return "month"


def group_table(ok: pd.DataFrame, positive: str, key: str = "group") -> pd.DataFrame:
    """Per value of ``key``: comments, positive comments, share positive and its 95% Wilson interval."""
    table = (
        ok.assign(pos=(ok["pred"] == positive))
        .groupby(key, observed=True, sort=False)["pos"]
        .agg(n="size", positive="sum")
    )
    table["share"] = table["positive"] / table["n"]
    table["lo"], table["hi"] = wilson(table["positive"].to_numpy(), table["n"].to_numpy())
    return table
