"""SentimentClassifier with real tokenization, Word2Vec and Keras training on tiny data."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from sentiment import SentimentClassifier
from sentiment.errors import DataError
from sentiment.model.network import build_model, predict_sequences
from sentiment.text.sequences import pad

POS = ["정말 재밌어요 최고", "배우 연기 최고 감동", "강추 합니다 명작", "너무 좋아요 또 보고싶다", "완전 만족 추천"]
NEG = ["완전 지루하고 별로", "시간 아깝다 최악", "노잼 돈 아까움", "실망 했어요 쓰레기", "환불 하고 싶다 최악"]


def test_overfits_a_tiny_set(tiny_config):
    texts, labels = POS * 4 + NEG * 4, [1] * 20 + [0] * 20
    clf = SentimentClassifier(config=tiny_config, epochs=25, validation_split=0.0)
    assert clf.fit(texts, labels) is clf
    assert (clf.predict(texts) == np.array(labels)).mean() == 1.0
    assert clf.history_["loss"][-1] < clf.history_["loss"][0] / 3


def test_learns_the_sample(tiny_model, sample_frame):
    acc = (tiny_model.predict(sample_frame["document"].tolist()) == sample_frame["label"].to_numpy()).mean()
    assert acc > 0.9


def test_proba_shape_and_order(tiny_model):
    proba = tiny_model.predict_proba(["배우 연기 정말 최고", "시간 아깝다"])
    assert proba.shape == (2, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert tiny_model.classes_.tolist() == [0, 1]
    assert (
        tiny_model.predict(["배우 연기 정말 최고", "시간 아깝다"]).tolist()
        == tiny_model.classes_[proba.argmax(axis=1)].tolist()
    )


def test_save_load_identical(tiny_model, tmp_path):
    texts = ["배우 연기 정말 최고", "시간 아깝다", "", "ㅋㅋㅋㅋㅋ", "배송 빠르고 좋아요 👍"]
    tiny_model.save(tmp_path / "again")
    again = SentimentClassifier.load(tmp_path / "again")
    np.testing.assert_array_equal(again.predict_proba(texts), tiny_model.predict_proba(texts))
    assert again.config_ == tiny_model.config_


def test_batch_equals_one_by_one(tiny_model, sample_frame):
    texts = sample_frame["document"].tolist()[:60]
    batch = tiny_model.predict_proba(texts)
    single = np.vstack([tiny_model.predict_proba([t]) for t in texts])
    np.testing.assert_allclose(batch, single, atol=1e-6)


def test_length_buckets_equal_full_padding(tiny_model, sample_frame):
    """Per-batch padding with masking gives the same probabilities as padding to maxlen."""
    ids = tiny_model.encode(sample_frame["document"].tolist())
    bucketed = tiny_model.predict_ids(ids, batch_size=16)
    cfg = tiny_model.config_
    full = tiny_model.model_.predict(
        pad(ids, cfg.sequence.maxlen, cfg.sequence.padding, cfg.sequence.truncating), verbose=0
    )[:, 0]
    np.testing.assert_allclose(bucketed[:, 1], full, atol=1e-5)


def test_string_labels_and_three_classes(tiny_config):
    neutral = ["그냥 그래요", "보통 이에요", "평범한 편", "무난 합니다", "그럭저럭"]
    texts = POS * 3 + NEG * 3 + neutral * 3
    labels = ["pos"] * 15 + ["neg"] * 15 + ["neu"] * 15
    clf = SentimentClassifier(config=tiny_config, epochs=30, validation_split=0.0).fit(texts, labels)
    assert clf.classes_.tolist() == ["neg", "neu", "pos"]
    assert clf.model_.output_shape == (None, 3)
    assert clf.predict_proba(texts).shape == (45, 3)
    assert (clf.predict(texts) == np.array(labels)).mean() > 0.9


def test_sklearn_contract(tiny_config):
    clf = SentimentClassifier(config=tiny_config, epochs=2, lstm_units=[8])
    params = clf.get_params()
    assert params["epochs"] == 2 and params["lstm_units"] == [8] and params["config"] is tiny_config
    assert not [k for k in vars(clf) if k.endswith("_")]
    clf.set_params(epochs=3)
    cloned = clone(clf)
    assert cloned.get_params()["epochs"] == 3 and cloned is not clf
    cfg = cloned.resolved_config()
    assert cfg.train.epochs == 3 and cfg.model.lstm_units == [8]
    with pytest.raises(NotFittedError):
        clf.predict(["영화"])


def test_bad_training_input(tiny_config):
    clf = SentimentClassifier(config=tiny_config)
    with pytest.raises(DataError, match="at least two classes"):
        clf.fit(POS, [1] * 5)
    with pytest.raises(DataError, match="text #1"):
        clf.fit(["좋다", None, "싫다"], [1, 0, 0])
    with pytest.raises(DataError, match="label #1 is missing"):
        clf.fit(["좋다", "별로", "싫다"], [1, float("nan"), 0])
    with pytest.raises(DataError, match="single string"):
        clf.fit("좋다", [1])


def test_default_lstm_is_cudnn_eligible():
    """Keras uses the fused cuDNN kernel only for these settings (and right-padded masks)."""
    from sentiment.config import Config

    cfg = Config().with_overrides({"model.lstm_units": [16, 8]})
    model = build_model(cfg, np.zeros((10, 4), dtype=np.float32), 2)
    lstms = [layer for layer in model.layers if type(layer).__name__ == "LSTM"]
    lstms += [layer.forward_layer for layer in model.layers if type(layer).__name__ == "Bidirectional"]
    lstms += [layer.backward_layer for layer in model.layers if type(layer).__name__ == "Bidirectional"]
    assert len(lstms) == 4
    for layer in lstms:
        assert layer.activation.__name__ == "tanh"
        assert layer.recurrent_activation.__name__ == "sigmoid"
        assert layer.recurrent_dropout == 0 and not layer.unroll and layer.use_bias
        assert layer.use_cudnn in ("auto", True)
    assert cfg.sequence.padding == "post" and cfg.model.mask_padding


def test_predict_sequences_restores_order(tiny_model):
    ids = [np.array([2] * n, dtype=np.int32) for n in (30, 1, 12, 5, 30, 2)]
    out = predict_sequences(tiny_model._predict_fn, ids, tiny_model.config_, 2, batch_size=2)
    single = np.vstack([predict_sequences(tiny_model._predict_fn, [s], tiny_model.config_, 2) for s in ids])
    np.testing.assert_allclose(out, single, atol=1e-6)
