"""`sentiment adapt` / SentimentClassifier.adapt: new vocabulary, pseudo-labels, fine-tuning, a new bundle."""

import json

import numpy as np
import pandas as pd
import pytest
from conftest import SAMPLE, TINY_CONFIG, assert_user_error, run_cli

from sentiment.training.adaptation import confident_in_mix, split_labeled


def test_confident_in_mix_takes_the_most_confident_of_each_class_in_the_mix():
    p1 = np.array([0.99, 0.95, 0.9, 0.8, 0.7, 0.6, 0.2, 0.1])  # 6 predicted positive, 2 negative
    proba = np.stack([1 - p1, p1], axis=1)
    chosen = confident_in_mix(proba, 1.0)
    assert chosen.tolist() == [0, 1, 6, 7]  # equal mix: two of each class, the most confident positives
    assert confident_in_mix(proba, 0.5).tolist() == [0, 7]
    assert len(confident_in_mix(np.stack([1 - p1 * 0 - 0.1, p1 * 0 + 0.1], axis=1), 1.0)) == 0  # one class
    # a 75% positive mix: three positives per negative, bounded by the share of each class
    assert confident_in_mix(proba, 1.0, np.array([0.25, 0.75])).tolist() == [0, 1, 2, 3, 4, 5, 6, 7]
    assert confident_in_mix(proba, 0.5, np.array([0.25, 0.75])).tolist() == [0, 1, 2, 7]


def test_split_labeled_holds_out_audit_rows_stratified():
    y = np.array([1] * 70 + [0] * 30)
    audit = np.zeros(100, dtype=bool)
    audit[::2] = True  # 50 audit rows
    train, held = split_labeled(y, audit, 0.3, seed=0)
    assert len(held) == 30 and set(held.tolist()) <= set(np.flatnonzero(audit).tolist())
    assert sorted([*train.tolist(), *held.tolist()]) == list(range(100))
    assert abs(y[held].mean() - y[audit].mean()) < 0.05  # the audit rows' class mix
    train, held = split_labeled(y[:40], audit[:40], 0.3, seed=0)  # 12 would be held out: too few
    assert len(held) == 0 and len(train) == 40


@pytest.fixture(scope="module")
def movie_model(tmp_path_factory):
    """A tiny model trained on the sample's movie and news comments only."""
    from sentiment import SentimentClassifier
    from sentiment.config import Config

    frame = pd.read_csv(SAMPLE)
    seen = frame[frame["domain"] != "shopping"]
    cfg = Config.from_toml(TINY_CONFIG).with_overrides({"train.epochs": 8, "train.validation_split": 0.0})
    clf = SentimentClassifier(config=cfg).fit(seen["document"].tolist(), seen["label"].tolist())
    path = tmp_path_factory.mktemp("models") / "movie"
    clf.save(path)
    return path


def shopping_texts():
    frame = pd.read_csv(SAMPLE)
    shop = frame[frame["domain"] == "shopping"]
    return shop["document"].tolist(), shop["label"].to_numpy()


def test_adapt_grows_the_vocabulary_and_returns_a_new_classifier(movie_model, tmp_path):
    from sentiment import SentimentClassifier

    source = SentimentClassifier.load(movie_model)
    texts, labels = shopping_texts()
    before = source.predict_proba(texts)
    adapted = source.adapt(
        texts * 2,
        config={"adapt.min_texts": 50, "adapt.new_token_min_count": 2, "adapt.epochs": 3, "adapt.learning_rate": 0.003},
    )
    report = adapted.training_["adaptation"]
    assert report["texts"] == 2 * len(texts) and report["new_tokens"] > 0
    assert len(adapted.vocabulary_) == len(source.vocabulary_) + report["new_tokens"]
    assert adapted.vocabulary_.tokens[: len(source.vocabulary_)] == source.vocabulary_.tokens
    new_token = adapted.vocabulary_.tokens[len(source.vocabulary_)]
    assert source.vocabulary_.encode([new_token]).tolist() == [1]  # unknown before, known after
    assert report["pseudo_labeled"] > 0 and sum(report["pseudo_label_classes"].values()) == report["pseudo_labeled"]
    # no labels: equal classes; the EM estimate is reported beside the model's count, not used
    assert report["class_mix"]["mix"] == {"0": 0.5, "1": 0.5} and report["class_mix"]["method"].startswith("equal")
    assert abs(sum(report["class_mix"]["em_estimate"]) - 1) < 1e-3 and len(report["class_mix"]["model_count"]) == 2
    assert len(set(report["pseudo_label_classes"].values())) == 1
    assert adapted.decision_ is None  # no labels: the likelier class (adapt.decision = "labels")
    np.testing.assert_array_equal(source.predict_proba(texts), before)  # the source is unchanged
    after = adapted.predict_proba(texts)
    assert after.shape == before.shape and not np.allclose(after, before)

    path = adapted.save(tmp_path / "adapted")
    again = SentimentClassifier.load(path)
    np.testing.assert_allclose(again.predict_proba(texts), after, atol=1e-6)
    meta = json.loads((path / "meta.json").read_text())
    assert meta["training"]["adaptation"]["source_bundle"] == report["source_bundle"] != ""


def test_adapt_cli_with_labels_and_evaluation(movie_model, tmp_path):
    texts, labels = shopping_texts()
    unlabeled = tmp_path / "shop.txt"
    unlabeled.write_text("\n".join(texts * 2), encoding="utf-8")
    labeled = tmp_path / "labeled.csv"  # a LABELS file of `sentiment label`: audit rows first, then informative
    pd.DataFrame(
        {
            "row": range(len(texts)),
            "document": texts,
            "label": labels,
            "sample": ["audit"] * 80 + ["informative"] * (len(texts) - 80),
        }
    ).to_csv(labeled, index=False)
    test = tmp_path / "test.csv"
    pd.DataFrame({"document": texts, "label": labels}).to_csv(test, index=False)
    out = tmp_path / "adapted"
    result = run_cli(
        "adapt",
        "--model",
        str(movie_model),
        "--texts",
        str(unlabeled),
        "--labeled",
        str(labeled),
        "--eval-data",
        str(test),
        "--out",
        str(out),
        "--set",
        "adapt.min_texts=50",
        "--json",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["labeled_rows"] == len(texts) and set(report["evaluation"]) == {"file", "source", "adapted"}
    assert "adapted accuracy" in result.stderr
    # held out: 30% of the labeled rows, all from the audit part, never trained on
    held = report["decision"]["held_out"]
    assert held["rows"] == report["labeled_held_out_rows"] == round(0.3 * len(texts))
    assert report["labeled_training_rows"] + held["rows"] == len(texts)
    for figures in held["figures"].values():
        lo, hi = figures["macro_f1_95"]
        assert lo <= figures["macro_f1"] <= hi and figures["accuracy_95"][0] <= figures["accuracy"]
    assert "audit labels" in report["class_mix"]["method"]
    meta = json.loads((out / "meta.json").read_text())
    rule = meta["decision"]
    assert 0 < rule["threshold"] < 1 and "80 audit labels" in rule["method"] and rule == report["decision"]["rule"]
    card = (out / "MODEL_CARD.md").read_text()
    assert "## Adaptation" in card and f"{len(texts)} labeled rows" in card and "Decision rule: predict" in card
    assert "held-out labeled rows" in card
    assert meta["training"]["adaptation"]["evaluation"]["adapted"]["rows"] == len(texts)
    summary = run_cli(
        "adapt",
        "--model",
        str(movie_model),
        "--texts",
        str(unlabeled),
        "--out",
        str(tmp_path / "u"),
        "--set",
        "adapt.min_texts=50",
        "--set",
        "adapt.epochs=1",
        "-q",
    )
    assert summary.returncode == 0, summary.stderr[-3000:]
    assert "class mix of the texts" in summary.stdout and "EM on the model's probabilities" in summary.stdout
    assert "no labeled rows" in summary.stdout

    assert_user_error(
        run_cli("adapt", "--model", str(movie_model), "--texts", str(unlabeled), "--out", str(out)), "already exists"
    )
    few = tmp_path / "few.txt"
    few.write_text("\n".join(texts[:30]), encoding="utf-8")
    assert_user_error(
        run_cli("adapt", "--model", str(movie_model), "--texts", str(few), "--out", str(tmp_path / "x")),
        "only 30 non-empty texts",
        "at least 200",
    )
    numbers = tmp_path / "ids.csv"
    pd.DataFrame({"id": range(300), "document": [f"A{i:05d}" for i in range(300)]}).to_csv(numbers, index=False)
    assert_user_error(
        run_cli("adapt", "--model", str(movie_model), "--texts", str(numbers), "--out", str(tmp_path / "y")),
        "do not look like Korean comments",
        "--text-column",
    )
