"""95% intervals for evaluation figures: Wilson for accuracy, a seeded percentile bootstrap for macro-F1 and
ROC AUC (Efron & Tibshirani 1993, ch. 13).

Accuracy is a proportion of independent rows, so its Wilson score interval is exact enough and needs no
resampling. Macro-F1 and ROC AUC are not proportions; their intervals come from resampling the rows with
replacement (``n_boot`` times, seeded so that a rerun prints the same interval) and taking the 2.5th and
97.5th percentiles. Each resample is scored with counting operations only (a confusion matrix; for ROC AUC
the Mann-Whitney statistic over the distinct scores, ties counted one half), so 1,000 resamples of 20,000
rows take about a second.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .report_stats import Z95, wilson

BOOTSTRAP_RESAMPLES = 1000


def metric_intervals(
    true_idx: np.ndarray,
    proba: np.ndarray,
    n_boot: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
    z: float = Z95,
    pred: np.ndarray | None = None,
) -> dict[str, Any]:
    """``{"accuracy": [lo, hi], "macro_f1": [lo, hi], "roc_auc": [lo, hi] (two classes, both present),
    "method": ...}`` for true class indices ``true_idx`` and class probabilities ``proba`` (n, k); decisions
    are ``pred`` (class indices, e.g. by a bundle's decision rule) or ``proba.argmax(1)``, as in
    :func:`sentiment.analysis.evaluation.compute_metrics`."""
    true_idx = np.asarray(true_idx, dtype=np.int64)
    proba = np.asarray(proba, dtype=float)
    n, k = proba.shape
    pred = proba.argmax(axis=1) if pred is None else np.asarray(pred, dtype=np.int64)
    lo, hi = wilson(np.array([int((pred == true_idx).sum())]), np.array([max(n, 1)]), z)
    out: dict[str, Any] = {"accuracy": [float(lo[0]), float(hi[0])]}
    if n == 0:
        return out
    with_auc = k == 2 and len(np.unique(true_idx)) == 2
    if with_auc:
        scores, inverse = np.unique(proba[:, 1], return_inverse=True)
    rng = np.random.default_rng(seed)
    f1s, aucs = np.empty(n_boot), []
    cells = true_idx * k + pred
    for b in range(n_boot):
        rows = rng.integers(0, n, n)
        cm = np.bincount(cells[rows], minlength=k * k).reshape(k, k)
        tp = np.diag(cm).astype(float)
        denom = cm.sum(axis=0) + cm.sum(axis=1)
        f1s[b] = float(np.mean(np.divide(2 * tp, denom, out=np.zeros(k), where=denom > 0)))
        if with_auc:
            t = true_idx[rows] == 1
            pos = np.bincount(inverse[rows][t], minlength=len(scores))
            neg = np.bincount(inverse[rows][~t], minlength=len(scores))
            n_pos, n_neg = pos.sum(), neg.sum()
            if n_pos and n_neg:
                below = np.cumsum(neg) - neg
                aucs.append(float(np.sum(pos * (below + 0.5 * neg))) / (n_pos * n_neg))
    alpha = (1 - _coverage(z)) / 2
    out["macro_f1"] = [float(v) for v in np.quantile(f1s, [alpha, 1 - alpha])]
    if with_auc and aucs:
        out["roc_auc"] = [float(v) for v in np.quantile(aucs, [alpha, 1 - alpha])]
    out["method"] = (
        f"accuracy: Wilson score interval; macro-F1{' and ROC AUC' if 'roc_auc' in out else ''}: "
        f"percentile bootstrap, {n_boot:,} resamples of the rows, seed {seed}"
    )
    return out


def _coverage(z: float) -> float:
    """The two-sided coverage of a normal quantile ``z`` (0.95 for 1.96)."""
    from math import erf, sqrt

    return erf(z / sqrt(2))
