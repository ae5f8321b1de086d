"""The packaged default model: loads offline, records its figures, scores the hand-written sample."""

import json

from conftest import ROOT

from sentiment import SentimentClassifier
from sentiment.config import Config
from sentiment.model.bundle import default_model_path

PACKAGED_RECIPE = ROOT / "configs" / "multi-domain.toml"


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
    assert 0.8 < test["accuracy"] < 1.0
    by_domain = test["by_domain"]
    assert set(by_domain) == {"movie", "shopping", "steam"} and by_domain["movie"]["rows"] == 20_000
    assert test["rows"] == sum(m["rows"] for m in by_domain.values())
    card = (path / "MODEL_CARD.md").read_text()
    assert f"Accuracy {test['accuracy']:.4f}" in card and "Known weaknesses" in card
    for name, m in by_domain.items():  # the card's per-domain table holds the recorded figures
        assert f"| {name} | {m['rows']:,} | {m['accuracy']:.4f} | {m['macro_f1']:.4f} |" in card
    size = sum(p.stat().st_size for p in path.iterdir())
    assert size < 40 * 2**20  # model.keras and model.onnx hold the same weights (about 16 MB each)
    # the recipe of configs/multi-domain.toml: a movie model continued on three domains, small ones weighted up
    recipe = Config.from_toml(PACKAGED_RECIPE).train
    domains = meta["training"]["domains"]
    assert domains["balance"] == recipe.domain_balance < 1
    assert set(domains["labeled_rows"]) == set(by_domain)
    assert max(domains["labeled_rows"].values()) <= recipe.domain_max_rows
    start = meta["training"]["init_from"]
    assert len(start["bundle_id"]) == 64 and start["new_tokens"] > 0
    assert "Started from the bundle" in card and "Labeled rows per domain" in card
    assert "model.onnx" in meta["files"]  # scoring runs in ONNX Runtime


def test_default_model_was_built_from_its_recipe():
    """The shipped bundle and configs/multi-domain.toml (what `make default-model` runs) describe the same recipe.

    Two settings name the machine that built it: the unlabeled files' paths, and the bundle training started from
    (the recipe names the movie model that `make extra-labels-model` builds, runs/extra-labels/model; the shipped
    run named the packaged bundle of the time, that model's export, recorded by its id in meta.json).
    """
    makefile = (ROOT / "Makefile").read_text()
    assert "--config configs/multi-domain.toml" in makefile and "multi-domain-model: extra-labels-model" in makefile
    bundle = Config.from_toml(default_model_path() / "config.toml").to_dict()
    recipe = Config.from_toml(PACKAGED_RECIPE).to_dict()
    assert recipe["train"]["init_from"] == "runs/extra-labels/model"
    for config in (bundle, recipe):
        config["word2vec"].pop("extra_texts")
        config["train"].pop("init_from")
        config.pop("finetune")  # the bundle predates [finetune]; the recipe's repeats its [train] schedule
    assert bundle == recipe
