"""distill.domain_teachers: a fine-tuned copy of the start network per domain teaches that domain's rows."""

from __future__ import annotations

import numpy as np
import pytest

from sentiment import SentimentClassifier
from sentiment.errors import ConfigError
from sentiment.training.domain_teachers import mix_labeled


def test_mix_labeled_keeps_rows_without_a_teacher():
    targets = np.eye(2, dtype=np.float32)[[0, 1, 1]]
    teacher = np.array([[0.2, 0.8], [np.nan, np.nan], [0.6, 0.4]], dtype=np.float32)
    mixed = mix_labeled(targets, teacher, 0.5)
    np.testing.assert_allclose(mixed, [[0.6, 0.4], [0.0, 1.0], [0.3, 0.7]], atol=1e-6)


def test_fit_with_domain_teachers(tiny_config, tiny_model_dir, sample_frame):
    frame = sample_frame[sample_frame["domain"].isin(["movie", "shopping"])]
    texts, labels, domains = frame["document"].tolist(), frame["label"].tolist(), frame["domain"].tolist()
    cfg = tiny_config.with_overrides(
        {
            "train.init_from": str(tiny_model_dir),
            "distill.domain_teachers": True,
            "finetune.epochs": 2,
            "train.validation_split": 0.2,
        }
    )
    clf = SentimentClassifier(config=cfg).fit(texts, labels, domains=domains)
    report = clf.training_["domain_teachers"]
    assert report["labeled_share"] == 0.5 and set(report["teachers"]) == {"movie", "shopping"}
    rows = clf.training_["train_rows"]
    assert sum(t["training_rows"] for t in report["teachers"].values()) == rows
    for teacher in report["teachers"].values():
        assert 1 <= teacher["epochs_run"] <= 2 and teacher["validation_rows"] > 0
        assert 0.0 <= teacher["validation_accuracy"] <= 1.0
    assert clf.predict_proba(texts[:10]).shape == (10, 2)


def test_domain_teachers_need_a_start_and_several_domains(tiny_config, sample_frame):
    texts, labels = sample_frame["document"].tolist(), sample_frame["label"].tolist()
    cfg = tiny_config.with_overrides({"train.init_from": "none", "distill.domain_teachers": True})
    with pytest.raises(ConfigError, match="distill.domain_teachers fine-tunes the start network"):
        SentimentClassifier(config=cfg).fit(texts, labels, domains=sample_frame["domain"].tolist())


def test_fit_with_domain_ngram_teachers(tiny_config, tiny_model_dir, sample_frame):
    frame = sample_frame[sample_frame["domain"].isin(["movie", "shopping"])]
    texts, labels, domains = frame["document"].tolist(), frame["label"].tolist(), frame["domain"].tolist()
    cfg = tiny_config.with_overrides(
        {
            "train.init_from": str(tiny_model_dir),
            "distill.domain_teachers": True,
            "distill.domain_ngram_teachers": True,
            "distill.domain_ngram_folds": 3,
            "finetune.epochs": 1,
            "train.validation_split": 0.25,
        }
    )
    clf = SentimentClassifier(config=cfg).fit(texts, labels, domains=domains)
    teachers = clf.training_["domain_teachers"]["teachers"]
    assert set(teachers) == {"movie", "shopping"}
    for teacher in teachers.values():
        ngram = teacher["ngram"]
        assert 0.0 <= ngram["share"] <= 0.95 and ngram["features"] > 0
        for key in ("validation_accuracy", "out_of_fold_accuracy", "mixed_validation_accuracy"):
            assert 0.0 <= ngram[key] <= 1.0
    assert clf.predict_proba(texts[:5]).shape == (5, 2)


def test_the_ngram_share_follows_the_domain_validation_rows(tiny_config, sample_frame, tmp_path):
    """A network that already knows every validation label gets no n-gram share; one that knows nothing (0.5
    everywhere) gets some; the labeled rows get out-of-fold probabilities, and a rerun reuses the cached fits."""
    from sentiment.training.domain_teachers import _mix_ngram_teacher

    frame = sample_frame.sample(frac=1.0, random_state=0)
    texts, y = frame["document"].tolist(), frame["label"].astype(int).to_numpy()
    train, valid, transfer = (texts[:250], y[:250]), (texts[250:330], y[250:330]), texts[330:]
    cfg = tiny_config.with_overrides({"distill.domain_ngram_folds": 3})
    shares, logs = {}, []
    for network_name, network_valid in (("perfect", np.eye(2, dtype=np.float32)[valid[1]]), ("blind", None)):
        if network_valid is None:
            network_valid = np.full((len(valid[1]), 2), 0.5, dtype=np.float32)
        labeled = np.full((250, 2), 0.5, dtype=np.float32)
        on_transfer = np.full((len(transfer), 2), 0.5, dtype=np.float32)
        network = (labeled, np.arange(250), on_transfer, np.arange(len(transfer)), network_valid)
        report = _mix_ngram_teacher(cfg, "movie", train, valid, transfer, network, 2, tmp_path, logs.append)
        shares[network_name] = report["share"]
        if report["share"]:
            # the labeled rows moved by the out-of-fold probabilities, which mostly agree with the labels
            assert ((labeled.argmax(axis=1) == train[1]).mean()) > 0.6
            assert not np.allclose(on_transfer, 0.5)
    assert shares["perfect"] == 0.0 and shares["blind"] > 0.0
    assert sum("reused" in line for line in logs) == 1  # the second network reused the first one's n-gram fits


def test_domain_ngram_teachers_need_domain_teachers(tiny_config, tiny_model_dir, sample_frame):
    texts, labels = sample_frame["document"].tolist(), sample_frame["label"].tolist()
    cfg = tiny_config.with_overrides({"train.init_from": str(tiny_model_dir), "distill.domain_ngram_teachers": True})
    with pytest.raises(ConfigError, match="needs distill.domain_teachers = true"):
        SentimentClassifier(config=cfg).fit(texts, labels, domains=sample_frame["domain"].tolist())


def test_the_network_teacher_is_reused_only_for_the_same_inputs(tmp_path):
    """A rerun with the same start, rows and schedule reads the fine-tuned network's probabilities back
    (identical); another label, or another start network, fine-tunes again."""
    from sentiment.config import Config
    from sentiment.model.network import build_model
    from sentiment.training.domain_teachers import _network_teacher

    cfg = Config().with_overrides(
        {"sequence.maxlen": 10, "model.lstm_units": [4], "train.epochs": 2, "train.batch_size": 16, "train.seed": 1}
    )
    rng = np.random.default_rng(0)
    seqs = [rng.integers(2, 30, size=rng.integers(2, 10)).astype(np.int32) for _ in range(100)]
    y = np.array([int((s < 15).sum() > len(s) / 2) for s in seqs])
    matrix = rng.normal(size=(30, 8)).astype(np.float32)
    start = build_model(cfg, matrix, 2).get_weights()

    def network(weights=start):
        model = build_model(cfg, matrix, 2)
        model.set_weights(weights)
        return model

    def teach(labels, make=network):
        logs: list[str] = []
        train, valid = (seqs[:70], labels[:70], None), (seqs[70:90], labels[70:90])
        out = _network_teacher(cfg, "steam", make, train, valid, seqs[90:], 2, tmp_path, 0, logs.append)
        return out, logs

    (rows, transfer, on_valid, epochs, reused), logs = teach(y)
    assert rows.shape == (70, 2) and transfer.shape == (10, 2) and on_valid.shape == (20, 2) and 1 <= epochs <= 2
    assert "fine-tuning" in logs[-1] and not reused
    again, logs = teach(y)
    assert "reused" in logs[-1] and again[3] == epochs and again[4]
    for got, want in zip(again[:3], (rows, transfer, on_valid)):
        np.testing.assert_array_equal(got, want)
    flipped = y.copy()
    flipped[0] = 1 - flipped[0]
    assert "fine-tuning" in teach(flipped)[1][-1]
    other = [w + 0.01 for w in start]
    assert "fine-tuning" in teach(y, lambda: network(other))[1][-1]
