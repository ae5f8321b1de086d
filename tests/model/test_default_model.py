"""The packaged default model: loads offline, records its figures, scores the hand-written sample."""

import json

from conftest import ROOT

from sentiment import SentimentClassifier
from sentiment.config import Config
from sentiment.model.bundle import default_model_path

PACKAGED_RECIPE = ROOT / "configs" / "domain-teachers.toml"


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
    # the recipe of configs/domain-teachers.toml: the multi-domain model (a movie model continued on three
    # domains, small ones weighted up) learns again from one fine-tuned copy of itself per domain
    recipe = Config.from_toml(PACKAGED_RECIPE).train
    domains = meta["training"]["domains"]
    assert domains["balance"] == recipe.domain_balance < 1
    assert set(domains["labeled_rows"]) == set(by_domain)
    if recipe.domain_max_rows:  # 0: every labeled row of each domain
        assert max(domains["labeled_rows"].values()) <= recipe.domain_max_rows
    assert sum(domains["labeled_rows"].values()) == meta["training"]["rows"]
    start = meta["training"]["init_from"]
    assert len(start["bundle_id"]) == 64 and start["new_tokens"] > 0
    assert "Started from the bundle" in card and "Labeled rows per domain" in card
    assert "model.onnx" in meta["files"]  # scoring runs in ONNX Runtime
    teachers = meta["training"]["domain_teachers"]["teachers"]
    assert set(teachers) == set(by_domain)
    assert sum(t["training_rows"] for t in teachers.values()) == meta["training"]["train_rows"]
    assert "Domain teachers" in card


def test_default_model_was_built_from_its_recipe():
    """The shipped bundle and configs/domain-teachers.toml (what `make default-model` runs) describe the same recipe.

    One setting names the machine that built it: the unlabeled files' paths.
    """
    makefile = (ROOT / "Makefile").read_text()
    assert (
        "--config configs/domain-teachers.toml" in makefile and "domain-teachers-model: multi-domain-model" in makefile
    )
    assert "--config configs/multi-domain.toml" in makefile and "multi-domain-model: extra-labels-model" in makefile
    bundle = Config.from_toml(default_model_path() / "config.toml").to_dict()
    recipe = Config.from_toml(PACKAGED_RECIPE).to_dict()
    assert recipe["train"]["init_from"] == "runs/multi-domain/model"
    for config in (bundle, recipe):
        config["word2vec"].pop("extra_texts")
    assert bundle == recipe
