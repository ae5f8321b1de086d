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
