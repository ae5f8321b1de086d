"""The fitted decision rule (sentiment.model.decision): fitting, storage in the bundle, every scoring path using it."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import assert_user_error, run_cli

from sentiment.errors import BundleError
from sentiment.model.decision import DecisionRule, decide, em_class_prior, fit_threshold, macro_f1_at, share_threshold


def test_fit_threshold_finds_the_boundary_of_shifted_scores():
    rng = np.random.default_rng(0)
    y = (rng.random(2000) < 0.7).astype(int)
    p1 = np.clip(0.25 + 0.3 * y + rng.normal(0, 0.08, len(y)), 0.001, 0.999)  # the boundary sits near 0.4
    t = fit_threshold(p1, y)
    assert 0.33 < t < 0.47
    assert macro_f1_at(p1, y, t) > macro_f1_at(p1, y, 0.5) + 0.1
    assert fit_threshold(p1, np.ones_like(y)) == 0.5  # one class: nothing to fit
    assert fit_threshold(np.array([0.2, 0.3, 0.8, 0.9]), np.array([0, 0, 1, 1])) == pytest.approx(0.55)
    assert share_threshold(np.linspace(0, 1, 101), 0.3) == pytest.approx(0.7)


def test_em_recovers_a_shifted_class_mix():
    """Calibrated posteriors of a balanced model on texts that are 75% positive: EM finds 75%."""
    rng = np.random.default_rng(1)
    y = (rng.random(20000) < 0.75).astype(int)
    score = rng.normal(np.where(y == 1, 1.0, -1.0), 1.0)
    p1 = 1.0 / (1.0 + np.exp(-2.0 * score))  # the exact posterior under equal classes
    proba = np.stack([1 - p1, p1], axis=1)
    assert abs((p1 >= 0.5).mean() - 0.75) > 0.05  # counting decisions is biased
    mix, iterations = em_class_prior(proba, [0.5, 0.5])
    assert abs(mix[1] - 0.75) < 0.02 and iterations > 1


def test_rule_round_trip_and_decisions():
    classes = np.array([0, 1])
    rule = DecisionRule(0.7, (0.3, 0.7), (0.5, 0.5), "fitted", {"labels": 90})
    again = DecisionRule.from_dict(json.loads(json.dumps(rule.to_dict(classes.tolist()))), classes.tolist())
    assert again == rule
    proba = np.array([[0.4, 0.6], [0.2, 0.8], [0.9, 0.1]])
    assert decide(proba, classes, rule=rule).tolist() == [0, 1, 0]
    assert decide(proba, classes, 0.5, rule).tolist() == [1, 1, 0]  # the user's threshold wins
    prior_only = DecisionRule(None, (0.2, 0.8), (0.5, 0.5))
    assert decide(np.array([[0.7, 0.3], [0.85, 0.15]]), classes, rule=prior_only).tolist() == [1, 0]
    assert "0.700" in rule.describe(["neg", "pos"]) and "likeliest" in DecisionRule().describe(["a", "b"])
    with pytest.raises(BundleError, match='invalid "decision" entry'):
        DecisionRule.from_dict({"threshold": 1.5}, [0, 1])
    with pytest.raises(BundleError, match="share for each label"):
        DecisionRule.from_dict({"class_prior": {"0": 1.0}, "base_prior": {"0": 0.5, "1": 0.5}}, [0, 1])


@pytest.fixture(scope="module")
def ruled(tiny_model_dir, sample_frame, tmp_path_factory):
    """The tiny model saved again with a threshold that changes some decisions; (path, texts, expected labels)."""
    from sentiment import SentimentClassifier

    clf = SentimentClassifier.load(tiny_model_dir)
    texts = sample_frame["document"].tolist()
    p1 = clf.predict_proba(texts)[:, 1]
    threshold = float(np.quantile(p1, 0.75))  # a quarter of the texts positive, whatever the tiny model says
    assert ((p1 >= threshold) != (p1 >= 0.5)).sum() > 10
    clf.decision_ = DecisionRule(threshold, method="test rule")
    path = clf.save(tmp_path_factory.mktemp("ruled") / "model")
    return path, texts, (p1 >= threshold).astype(int), (p1 >= 0.5).astype(int), threshold


def test_bundle_keeps_the_rule_and_predict_uses_it(ruled, tiny_model_dir):
    from sentiment import SentimentClassifier
    from sentiment.analysis.evaluation import evaluate_texts

    path, texts, expected, likelier, threshold = ruled
    clf = SentimentClassifier.load(path)
    assert clf.decision_.threshold == pytest.approx(threshold, abs=1e-6)
    assert json.loads((path / "meta.json").read_text())["decision"]["method"] == "test rule"
    np.testing.assert_array_equal(clf.predict(texts), expected)
    np.testing.assert_array_equal(clf.predict(texts, threshold=0.5), likelier)
    assert SentimentClassifier.load(tiny_model_dir).decision_ is None  # bundles without a rule: as before
    np.testing.assert_array_equal(SentimentClassifier.load(tiny_model_dir).predict(texts), likelier)
    metrics, _ = evaluate_texts(clf, texts, expected)
    assert metrics["accuracy"] == 1.0  # evaluate decides as predict does


def test_score_cli_and_ray_scorer_use_the_rule(ruled, tmp_path):
    from sentiment.apps.distributed import BatchScorer

    path, texts, expected, likelier, _ = ruled
    data = tmp_path / "in.csv"
    pd.DataFrame({"document": texts}).to_csv(data, index=False)
    for extra, want in (((), expected), (("--threshold", "0.5"), likelier)):
        out = tmp_path / f"out{len(extra)}.csv"
        result = run_cli("score", str(data), "-o", str(out), "--model", str(path), "-q", *extra)
        assert result.returncode == 0, result.stderr[-2000:]
        np.testing.assert_array_equal(pd.read_csv(out)["pred_label"].to_numpy(), want)
    labeled = tmp_path / "labeled.csv"
    pd.DataFrame({"document": texts, "label": expected}).to_csv(labeled, index=False)
    result = run_cli("evaluate", "--model", str(path), "--data", str(labeled), "--json", "--no-cache")
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = json.loads(result.stdout)
    assert metrics["accuracy"] == 1.0 and metrics["intervals"]["accuracy"][1] == pytest.approx(1.0)
    info = run_cli("info", str(path))
    assert info.returncode == 0 and "decision: predict 1 when P(1) >= " in info.stdout, info.stderr[-2000:]
    scorer = BatchScorer(str(path), "document", "", None, True, 256, None)  # what each Ray actor runs
    np.testing.assert_array_equal(scorer(pd.DataFrame({"document": texts}))["pred_label"].astype(int), expected)
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in path.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    meta = json.loads((bad / "meta.json").read_text())
    meta["decision"] = {"threshold": "high"}
    (bad / "meta.json").write_text(json.dumps(meta))
    assert_user_error(
        run_cli("score", str(data), "-o", str(tmp_path / "x.csv"), "--model", str(bad)), 'invalid "decision" entry'
    )


def test_serve_uses_the_rule(ruled):
    from fastapi.testclient import TestClient

    from sentiment.apps.serving import create_app

    path, texts, expected, likelier, threshold = ruled
    with TestClient(create_app(str(path))) as client:
        body = client.post("/v1/predict", json={"texts": texts[:100]}).json()
        assert [p["label"] for p in body["predictions"]] == expected[:100].tolist()
        body = client.post("/v1/predict", json={"texts": texts[:100], "threshold": 0.5}).json()
        assert [p["label"] for p in body["predictions"]] == likelier[:100].tolist()
        model = client.get("/v1/model").json()
        assert model["decision"]["threshold"] == pytest.approx(threshold, abs=1e-6)
