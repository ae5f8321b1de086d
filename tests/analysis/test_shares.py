"""The share estimator of `report --labeled` and the evaluation intervals: their statistical properties on
synthetic data with a known truth."""

import numpy as np
import pytest

from sentiment.analysis.intervals import metric_intervals
from sentiment.analysis.report_stats import wilson
from sentiment.analysis.shares import (
    METHOD_MODEL,
    METHOD_PPI,
    Calibration,
    corrected_share,
    fit_calibration,
    group_shares,
)


def biased_population(n: int, seed: int, slope: float = 0.6, shift: float = 1.0):
    """P(positive) of a model whose probabilities are miscalibrated on these comments: the true chance of a
    positive is sigmoid(shift + slope * logit(p)), so the model under-calls positives."""
    rng = np.random.default_rng(seed)
    p = rng.beta(0.5, 0.5, n)
    truth = rng.random(n) < Calibration(shift, slope)(p)
    return p, p >= 0.5, truth


def test_corrected_share_is_unbiased_and_its_interval_covers_the_truth():
    p, decided, truth = biased_population(20_000, seed=1)
    true_share = truth.mean()
    assert true_share - decided.mean() > 0.08  # the model's count is far off
    estimates, covered, widths = [], [], []
    for seed in range(300):
        audit = np.random.default_rng(seed).choice(len(p), 300, replace=False)
        e = corrected_share(p, decided, audit, truth[audit])
        assert e.method == METHOD_PPI and e.labels == 300 and e.comments == len(p)
        assert e.uncorrected == pytest.approx(decided.mean())
        estimates.append(e.estimate)
        covered.append(e.low <= true_share <= e.high)
        widths.append(e.high - e.low)
    assert abs(np.mean(estimates) - true_share) < 0.004  # unbiased (standard error of the mean ~0.0015)
    assert 0.92 <= np.mean(covered) <= 0.985
    # narrower than the 300 labels alone would give (the model's ranking carries information)
    k = int(truth[:300].sum())
    lo, hi = wilson(np.array([k]), np.array([300]))
    assert np.mean(widths) < 0.85 * (hi[0] - lo[0])


def test_interval_includes_the_model_error_even_when_the_audit_finds_none():
    p = np.r_[np.full(500, 0.9), np.full(500, 0.1)]
    decided = p > 0.5
    audit = np.arange(0, 1000, 10)  # 100 audited comments, all called right
    e = corrected_share(p, decided, audit, decided[audit])
    sampling_only = wilson(np.array([500]), np.array([1000]))
    assert e.method == METHOD_PPI and e.low <= e.estimate <= e.high
    assert (e.high - e.low) > 1.05 * (sampling_only[1][0] - sampling_only[0][0])  # the guard widens it


def test_too_few_labels_leave_the_share_uncorrected():
    p, decided, truth = biased_population(2_000, seed=2)
    e = corrected_share(p, decided, np.arange(10), truth[:10], min_labels=30)
    assert e.method == METHOD_MODEL and not e.corrected and e.labels == 10
    assert e.estimate == e.uncorrected == pytest.approx(decided.mean())


def test_calibration_recovers_known_parameters_and_stays_finite_on_separable_labels():
    p, _, truth = biased_population(50_000, seed=3, slope=0.6, shift=1.0)
    c = fit_calibration(p, truth)
    assert c.intercept == pytest.approx(1.0, abs=0.08) and c.slope == pytest.approx(0.6, abs=0.05)
    separable = fit_calibration(np.array([0.1, 0.2, 0.8, 0.9]), np.array([False, False, True, True]))
    assert np.isfinite([separable.intercept, separable.slope]).all() and abs(separable.slope) < 10
    one_class = fit_calibration(np.array([0.6, 0.7, 0.9]), np.array([True, True, True]))
    assert np.isfinite(one_class(np.array([0.01, 0.5, 0.99]))).all()


def test_group_shares_correct_each_group_with_its_own_labels():
    rng = np.random.default_rng(4)
    p_a, dec_a, truth_a = biased_population(6_000, seed=5, slope=1.0, shift=0.0)  # calibrated group
    p_b, dec_b, truth_b = biased_population(6_000, seed=6, slope=0.6, shift=1.5)  # strongly under-called
    p_c, dec_c, truth_c = biased_population(400, seed=7)  # small group
    p = np.r_[p_a, p_b, p_c]
    decided, truth = np.r_[dec_a, dec_b, dec_c], np.r_[truth_a, truth_b, truth_c]
    groups = np.array(["a"] * 6000 + ["b"] * 6000 + ["c"] * 400, dtype=object)
    audit = rng.choice(len(p), 600, replace=False)
    table = group_shares(p, decided, groups, audit, truth[audit], min_labels=30)
    assert list(table.index) == ["a", "b", "c"]  # largest first
    assert table.loc["c", "method"] == METHOD_MODEL and table.loc["c", "labels"] == int((groups[audit] == "c").sum())
    for g, t in (("a", truth_a), ("b", truth_b)):
        row = table.loc[g]
        assert row["method"] == METHOD_PPI and row["comments"] == 6000
        assert row["labels"] == int((groups[audit] == g).sum())
        assert row["low"] <= t.mean() <= row["high"]
    assert truth_b.mean() - table.loc["b", "uncorrected"] > 0.1  # the correction mattered there


def test_metric_intervals_bracket_the_figures_and_are_seeded():
    from sklearn.metrics import f1_score, roc_auc_score

    rng = np.random.default_rng(8)
    y = rng.integers(0, 2, 2000)
    score = np.clip(0.5 + (y - 0.5) * 0.4 + rng.normal(0, 0.3, 2000), 0, 1)
    proba = np.column_stack([1 - score, score])
    out = metric_intervals(y, proba, n_boot=300, seed=1)
    accuracy = (proba.argmax(1) == y).mean()
    lo, hi = wilson(np.array([int(accuracy * 2000)]), np.array([2000]))
    assert out["accuracy"] == pytest.approx([lo[0], hi[0]])
    auc, f1 = roc_auc_score(y, score), f1_score(y, proba.argmax(1), average="macro")
    assert out["roc_auc"][0] < auc < out["roc_auc"][1] and out["roc_auc"][1] - out["roc_auc"][0] < 0.06
    assert out["macro_f1"][0] < f1 < out["macro_f1"][1]
    assert metric_intervals(y, proba, n_boot=300, seed=1) == out
    assert "bootstrap" in out["method"] and "Wilson" in out["method"]
