"""train.label_noise: the training rows' audit finds injected flips; drop / downweight / soft change what is learned."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import SAMPLE

from sentiment import SentimentClassifier
from sentiment.errors import ConfigError
from sentiment.training.label_noise import audit_training_rows

FLIPS = 20


@pytest.fixture(scope="module")
def flipped():
    frame = pd.read_csv(SAMPLE)
    flips = np.sort(np.random.default_rng(1).choice(len(frame), FLIPS, replace=False))
    y = frame["label"].to_numpy().copy()
    y[flips] = 1 - y[flips]
    return frame["document"].tolist(), y, flips, frame["domain"].astype(str).to_numpy()


def test_audit_of_training_rows_flags_the_flips(tiny_config, flipped, tmp_path):
    texts, y, flips, domains = flipped
    cfg = tiny_config.with_overrides({"train.label_noise": "drop"})
    logs: list[str] = []
    noise = audit_training_rows(cfg, texts, y, 2, domains=domains, cache_dir=tmp_path, log=logs.append)
    dropped = np.setdiff1d(np.arange(len(y)), noise.keep)
    assert len(np.intersect1d(dropped, flips)) >= 0.6 * FLIPS, (dropped, flips)
    assert len(dropped) <= 0.15 * len(y)
    report = noise.report
    assert report["flagged"] == len(dropped) and report["rows"] == len(y)
    assert sum(d["flagged"] for d in report["flagged_by_domain"].values()) == len(dropped)
    assert sum(d["rows"] for d in report["flagged_by_domain"].values()) == len(y)
    assert noise.weight is None and noise.soft is None

    # the same rows and labels reuse the cached out-of-fold probabilities; other settings apply to them
    soft = audit_training_rows(
        cfg.with_overrides({"train.label_noise": "soft", "train.label_soft_share": 0.4}),
        texts,
        y,
        2,
        cache_dir=tmp_path,
        log=logs.append,
    )
    assert any("reused" in line for line in logs)
    assert len(soft.keep) == len(y) and soft.soft is not None
    assert np.allclose(soft.soft.sum(axis=1), 1.0, atol=1e-5)
    assert (soft.soft[np.arange(len(y)), y] >= 0.6 - 1e-6).all()  # the label keeps at least 1 - share
    # a flagged row's target leans less towards its given label than an unflagged one's, on average
    flagged = np.zeros(len(y), bool)
    flagged[dropped] = True
    p_given = soft.soft[np.arange(len(y)), y]
    assert p_given[flagged].mean() < p_given[~flagged].mean() - 0.1

    down = audit_training_rows(
        cfg.with_overrides({"train.label_noise": "downweight", "train.label_noise_weight": 0.1}), texts, y, 2
    )
    assert len(down.keep) == len(y)
    assert np.allclose(np.unique(down.weight), [0.1, 1.0])
    assert (down.weight[dropped] == np.float32(0.1)).all()


def test_keep_does_nothing_and_no_texts_is_a_clear_error(tiny_config, flipped):
    texts, y, _, _ = flipped
    noise = audit_training_rows(tiny_config, texts, y, 2)
    assert noise.report == {"mode": "keep"} and len(noise.keep) == len(y)
    with pytest.raises(ConfigError, match="train.label_noise = 'drop' needs the training texts"):
        audit_training_rows(tiny_config.with_overrides({"train.label_noise": "drop"}), None, y, 2)


@pytest.mark.parametrize("mode", ["drop", "soft"])
def test_fit_with_label_noise_records_the_audit(tiny_config, flipped, mode):
    texts, y, _, _ = flipped
    cfg = tiny_config.with_overrides({"train.label_noise": mode, "train.init_from": "none", "train.epochs": 2})
    clf = SentimentClassifier(config=cfg).fit(texts, y.tolist())
    report = clf.training_["label_noise"]
    train_rows, valid_rows = clf.training_["train_rows"], clf.training_["validation_rows"]
    assert report["mode"] == mode and report["rows"] + valid_rows == len(y)
    assert 0 < report["flagged"] < report["rows"]
    assert train_rows == (report["rows"] - report["flagged"] if mode == "drop" else report["rows"])
    proba = clf.predict_proba(texts[:20])
    assert proba.shape == (20, 2) and np.isfinite(proba).all()
