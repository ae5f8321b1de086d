"""The packaged default model: loads offline, records its figures, scores the hand-written sample."""

import json

from conftest import ROOT
from sentiment import SentimentClassifier
from sentiment.config import Config
from sentiment.classifier import default_model_path

PACKAGED_RECIPE = ROOT / "configs" / "extra-labels.toml"


def test_default_model_loads_and_scores(sample_frame):
    clf = SentimentClassifier.load()
    assert clf.classes_.tolist() == [0, 1]
    assert clf.predict(["배우 연기 정말 최고", "시간 아깝다"]).tolist() == [1, 0]
    movie = sample_frame[sample_frame["domain"] == "movie"]
    acc = (clf.predict(movie["document"].tolist()) == movie["label"].to_numpy()).mean()
    assert acc > 0.8, acc


def test_default_model_card_and_metrics():
    path = default_model_path()
    meta = json.loads((path / "meta.json").read_text())
    test = meta["training"]["metrics"]["test"]
    assert test["rows"] == 20_000 and 0.85 < test["accuracy"] < 1.0
    card = (path / "MODEL_CARD.md").read_text()
    assert f"Accuracy {test['accuracy']:.4f}" in card and "Known weaknesses" in card
    size = sum(p.stat().st_size for p in path.iterdir())
    assert size < 40 * 2**20  # model.keras and model.onnx hold the same weights (about 16 MB each)
    # train.tsv.gz's 130,000 rows outside the test split + the rows of extra.tsv.gz in neither split.
    assert meta["training"]["rows"] > 400_000
    # The recipe of configs/extra-labels.toml: LSTM teachers and an n-gram teacher label the unlabeled NSMC texts.
    recipe = Config.from_toml(PACKAGED_RECIPE).distill
    distill = meta["training"]["distill"]
    assert [t["kind"] for t in distill["teachers"]] == ["lstm"] * recipe.teachers + ["char_ngram_tfidf_lr"]
    assert distill["teachers"][-1]["naive_bayes"] == recipe.naive_bayes
    assert distill["transfer_rows"] == meta["training"]["extra_texts"] > 200_000
    assert f"Distillation: {recipe.teachers + 1} teachers" in card


def test_default_model_was_built_from_its_recipe():
    """The shipped bundle and configs/extra-labels.toml (what `make default-model` runs) describe the same recipe."""
    assert "--config configs/extra-labels.toml" in (ROOT / "Makefile").read_text()
    bundle = Config.from_toml(default_model_path() / "config.toml").to_dict()
    recipe = Config.from_toml(PACKAGED_RECIPE).to_dict()
    for config in (bundle, recipe):
        config["word2vec"].pop("extra_texts")  # the data paths of the machine that built it
    assert bundle == recipe
