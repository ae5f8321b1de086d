"""Distillation: teachers label unlabeled texts, the student learns from those labels (real Keras, tiny data)."""

import numpy as np
import pytest

from conftest import SAMPLE, TINY_CONFIG, assert_user_error, run_cli
from sentiment import SentimentClassifier
from sentiment.distill import _token_ngrams, char_ngram_teacher, teacher_probabilities
from sentiment.errors import ConfigError
from sentiment.network import training_targets

POS = ["정말 재밌어요 최고", "배우 연기 최고 감동", "강추 합니다 명작", "너무 좋아요 또 보고싶다", "완전 만족 추천"]
NEG = ["완전 지루하고 별로", "시간 아깝다 최악", "노잼 돈 아까움", "실망 했어요 쓰레기", "환불 하고 싶다 최악"]
# Unlabeled texts made of the labeled texts' sentiment words; their polarity is known to the test only.
UNLABELED_POS = ["최고 명작 감동", "강추 최고", "연기 최고 추천", "재밌어요 만족"]
UNLABELED_NEG = ["최악 노잼", "돈 아까움 실망", "지루하고 최악", "쓰레기 별로"]


@pytest.fixture(scope="module")
def distill_config(tiny_config):
    return tiny_config.with_overrides({"distill.teachers": 1, "distill.char_ngram_teacher": True,
                                       "train.epochs": 25, "train.validation_split": 0.2})


def test_training_targets_soft_and_hard():
    soft = np.array([[0.2, 0.8], [0.9, 0.1]], dtype=np.float32)
    y, loss = training_targets(soft, 2)
    assert loss == "binary_crossentropy" and y.tolist() == pytest.approx([0.8, 0.1])
    y, loss = training_targets(np.array([1, 0]), 2)
    assert loss == "binary_crossentropy" and y.dtype == np.float32 and y.tolist() == [1.0, 0.0]
    three = np.array([[0.1, 0.2, 0.7]], dtype=np.float32)
    y, loss = training_targets(three, 3)
    assert loss == "categorical_crossentropy" and y.shape == (1, 3)
    y, loss = training_targets(np.array([2, 0]), 3)
    assert loss == "sparse_categorical_crossentropy" and y.dtype == np.int32


def test_teachers_label_the_unlabeled_texts(distill_config):
    from sentiment.embeddings import embedding_matrix, train_word2vec, vocabulary_from_vectors
    from sentiment.tokenizers import Tokenizer

    tok = Tokenizer(distill_config.normalize, distill_config.tokenizer)
    texts, y = POS * 4 + NEG * 4, np.array([1] * 20 + [0] * 20)
    unlabeled = UNLABELED_POS + UNLABELED_NEG
    tokens, extra_tokens = tok.tokenize_many(texts), tok.tokenize_many(unlabeled)
    kv = train_word2vec(tokens + extra_tokens, distill_config.word2vec, seed=0)
    vocab = vocabulary_from_vectors(kv, 1000)
    ids = vocab.encode_many(tokens)
    train, valid = (ids[::2], y[::2]), (ids[1::2], y[1::2])
    soft, report = teacher_probabilities(distill_config, embedding_matrix(vocab, kv, 0), train, valid,
                                         vocab.encode_many(extra_tokens), 2,
                                         texts=(texts[::2], texts[1::2], unlabeled))
    assert soft.shape == (8, 2) and soft.dtype == np.float32
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, atol=1e-5)
    assert (soft.argmax(axis=1) == [1] * 4 + [0] * 4).mean() >= 0.75
    assert [t["kind"] for t in report["teachers"]] == ["lstm", "char_ngram_tfidf_lr"]
    assert report["teachers"][0]["seed"] == distill_config.train.seed + 1
    assert report["transfer_rows"] == 8 and 0.0 <= report["ensemble_validation_accuracy"] <= 1.0


def test_distilled_student_is_saved_with_its_teachers(distill_config, tmp_path):
    unlabeled = (UNLABELED_POS + UNLABELED_NEG) * 3
    clf = SentimentClassifier(config=distill_config).fit(POS * 4 + NEG * 4, [1] * 20 + [0] * 20,
                                                         extra_texts=unlabeled)
    report = clf.training_["distill"]
    assert report["transfer_rows"] == len(unlabeled) and len(report["teachers"]) == 2
    # The student learned the polarity of texts it only saw through the teachers' labels.
    assert (clf.predict(UNLABELED_POS + UNLABELED_NEG) == np.array([1] * 4 + [0] * 4)).mean() >= 0.75
    clf.save(tmp_path / "student")
    again = SentimentClassifier.load(tmp_path / "student")
    assert again.training_["distill"]["teachers"] == report["teachers"]
    assert again.config_.distill.teachers == 1
    np.testing.assert_array_equal(again.predict_proba(POS), clf.predict_proba(POS))


def test_distillation_with_three_classes(tiny_config):
    neutral = ["그냥 그래요", "보통 이에요", "평범한 편", "무난 합니다", "그럭저럭"]
    cfg = tiny_config.with_overrides({"distill.teachers": 1, "train.epochs": 5, "train.validation_split": 0.0})
    clf = SentimentClassifier(config=cfg).fit(POS * 3 + NEG * 3 + neutral * 3,
                                              ["pos"] * 15 + ["neg"] * 15 + ["neu"] * 15,
                                              extra_texts=UNLABELED_POS + ["보통 무난"] + UNLABELED_NEG)
    assert clf.training_["distill"]["transfer_rows"] == 9
    assert len(clf.training_["distill"]["transfer_class_shares"]) == 3
    assert clf.predict_proba(POS).shape == (5, 3)


def test_distillation_needs_unlabeled_texts(tiny_config):
    clf = SentimentClassifier(config=tiny_config, teachers=1)
    with pytest.raises(ConfigError, match="no unlabeled texts"):
        clf.fit(POS * 4 + NEG * 4, [1] * 20 + [0] * 20)


def test_token_ngrams():
    assert _token_ngrams(["a", "b", "c"], 1) == ["a", "b", "c"]
    assert _token_ngrams(["a", "b", "c"], 3) == ["a", "b", "c", "a b", "b c", "a b c"]


def test_ngram_teacher_with_morphemes_and_naive_bayes(distill_config):
    """The stronger linear teacher (char + morpheme n-grams, NB scaling) separates unseen texts by polarity."""
    cfg = distill_config.with_overrides({"distill.morpheme_ngrams": 2, "distill.naive_bayes": True,
                                         "distill.char_ngram_range": [1, 3]})
    texts, y = POS * 2 + NEG * 2, np.array([1] * 10 + [0] * 10)
    unlabeled = UNLABELED_POS + UNLABELED_NEG
    tokens = ([t.split() for t in texts], [t.split() for t in texts[:2]], [t.split() for t in unlabeled])
    transfer, valid, report = char_ngram_teacher(cfg, texts, y, texts[:2], y[:2], unlabeled, 2, tokens=tokens)
    assert transfer.shape == (8, 2) and valid.shape == (2, 2)
    assert (transfer.argmax(axis=1) == [1] * 4 + [0] * 4).all()
    assert report["morpheme_ngrams"] == 2 and report["naive_bayes"] and report["char_ngrams"] == [1, 3]
    # Without morphemes the feature count is the char n-grams' alone.
    _, _, chars_only = char_ngram_teacher(cfg.with_overrides({"distill.morpheme_ngrams": 0}), texts, y, texts[:2],
                                          y[:2], unlabeled, 2)
    assert chars_only["features"] < report["features"]


@pytest.mark.parametrize("override, message", [
    ({"distill.char_ngram_range": [4, 2]}, "char_ngram_range"),
    ({"distill.naive_bayes": True}, "two classes"),
])
def test_bad_ngram_teacher_settings_are_config_errors(distill_config, override, message):
    clf = SentimentClassifier(config=distill_config.with_overrides(override))
    texts = POS * 2 + NEG * 2 + ["그냥 그래요 보통"] * 10
    with pytest.raises(ConfigError, match=message):
        clf.fit(texts, [1] * 10 + [0] * 10 + [2] * 10, extra_texts=UNLABELED_POS)


def test_char_ngram_teacher_needs_raw_texts(distill_config):
    clf = SentimentClassifier(config=distill_config)
    tokens = [t.split() for t in POS * 4 + NEG * 4]
    with pytest.raises(ConfigError, match="needs the raw texts"):
        clf.fit_tokens(tokens, np.array([1] * 20 + [0] * 20), extra_tokens=[["최고"], ["최악"]])


def test_distillation_needs_unlabeled_texts_cli(tmp_path):
    result = run_cli("train", "--data", str(SAMPLE), "--out", str(tmp_path / "m"), "--config", str(TINY_CONFIG),
                     "--set", "distill.teachers=1")
    assert_user_error(result, "no unlabeled texts", "--extra-texts")
    assert not (tmp_path / "m").exists()


def test_teacher_weights_equal_or_chosen_on_validation(distill_config):
    from sentiment.distill import SHARES, teacher_weights

    y = np.array([1, 0, 1, 0, 1, 0, 1, 0])
    # Two LSTM teachers that are unsure, an n-gram teacher that is right and confident on every row.
    lstm = np.tile([[0.45, 0.55]], (8, 1)).astype(np.float32)
    ngram = np.eye(2, dtype=np.float32)[y] * 0.9 + 0.05
    probas = [lstm, lstm, ngram]
    weights, share = teacher_weights(distill_config, probas, y)
    assert share is None and weights.tolist() == pytest.approx([1 / 3] * 3)
    chosen = distill_config.with_overrides({"distill.char_ngram_share": "validation"})
    weights, share = teacher_weights(chosen, probas, y)
    assert share == max(SHARES) and weights.sum() == pytest.approx(1.0)
    assert weights.tolist() == pytest.approx([(1 - share) / 2, (1 - share) / 2, share])
    # A wrong, confident n-gram teacher gets the smallest share.
    weights, share = teacher_weights(chosen, [lstm, lstm, ngram[:, ::-1]], y)
    assert share == min(SHARES)
    # An n-gram teacher as good as the LSTMs where they are right gets an interior share.
    lstm_right = np.eye(2, dtype=np.float32)[np.where(np.arange(8) < 6, y, 1 - y)] * 0.8 + 0.1
    ngram_right = np.eye(2, dtype=np.float32)[np.where(np.arange(8) >= 2, y, 1 - y)] * 0.8 + 0.1
    _, share = teacher_weights(chosen, [lstm_right, lstm_right, ngram_right], y)
    assert min(SHARES) < share < max(SHARES)
    with pytest.raises(ConfigError, match="'equal', 'validation'"):
        distill_config.with_overrides({"distill.char_ngram_share": "auto"})
