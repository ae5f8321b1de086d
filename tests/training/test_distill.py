"""Distillation: teachers label unlabeled texts, the student learns from those labels (real Keras, tiny data)."""

import json

import numpy as np
import pytest
from conftest import SAMPLE, TINY_CONFIG, assert_user_error, run_cli

from sentiment import SentimentClassifier
from sentiment.errors import ConfigError
from sentiment.model.network import training_targets
from sentiment.training.distill import _token_ngrams, char_ngram_teacher, teacher_probabilities

POS = ["정말 재밌어요 최고", "배우 연기 최고 감동", "강추 합니다 명작", "너무 좋아요 또 보고싶다", "완전 만족 추천"]
NEG = ["완전 지루하고 별로", "시간 아깝다 최악", "노잼 돈 아까움", "실망 했어요 쓰레기", "환불 하고 싶다 최악"]
# Unlabeled texts made of the labeled texts' sentiment words; their polarity is known to the test only.
UNLABELED_POS = ["최고 명작 감동", "강추 최고", "연기 최고 추천", "재밌어요 만족"]
UNLABELED_NEG = ["최악 노잼", "돈 아까움 실망", "지루하고 최악", "쓰레기 별로"]


@pytest.fixture(scope="module")
def distill_config(tiny_config):
    return tiny_config.with_overrides(
        {"distill.teachers": 1, "distill.char_ngram_teacher": True, "train.epochs": 25, "train.validation_split": 0.2}
    )


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


@pytest.fixture(scope="module")
def distill_inputs(distill_config):
    """Real tokens, Word2Vec matrix and (train, valid, transfer) parts for :func:`teacher_probabilities`."""
    from sentiment.text.embeddings import embedding_matrix, train_word2vec, vocabulary_from_vectors
    from sentiment.text.tokenizers import Tokenizer

    tok = Tokenizer(distill_config.normalize, distill_config.tokenizer)
    texts, y = POS * 4 + NEG * 4, np.array([1] * 20 + [0] * 20)
    unlabeled = UNLABELED_POS + UNLABELED_NEG
    tokens, extra_tokens = tok.tokenize_many(texts), tok.tokenize_many(unlabeled)
    kv = train_word2vec(tokens + extra_tokens, distill_config.word2vec, seed=0)
    vocab = vocabulary_from_vectors(kv, 1000)
    ids = vocab.encode_many(tokens)
    return {
        "matrix": embedding_matrix(vocab, kv, 0),
        "train": (ids[::2], y[::2]),
        "valid": (ids[1::2], y[1::2]),
        "transfer": vocab.encode_many(extra_tokens),
        "texts": (texts[::2], texts[1::2], unlabeled),
    }


def run_teachers(cfg, inputs, **kwargs):
    return teacher_probabilities(
        cfg, inputs["matrix"], inputs["train"], inputs["valid"], inputs["transfer"], 2, texts=inputs["texts"], **kwargs
    )


def test_teachers_label_the_unlabeled_texts(distill_config, distill_inputs):
    soft, report, start = run_teachers(distill_config, distill_inputs)
    assert soft.shape == (8, 2) and soft.dtype == np.float32
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, atol=1e-5)
    assert (soft.argmax(axis=1) == [1] * 4 + [0] * 4).mean() >= 0.75
    assert [t["kind"] for t in report["teachers"]] == ["lstm", "char_ngram_tfidf_lr"]
    assert report["teachers"][0]["seed"] == distill_config.train.seed + 1
    assert report["transfer_rows"] == 8 and 0.0 <= report["ensemble_validation_accuracy"] <= 1.0
    assert start is None and "student_init" not in report


def test_teachers_are_reused_from_the_cache(distill_config, distill_inputs, tmp_path):
    cache = tmp_path / "teachers"
    soft, report, _ = run_teachers(distill_config, distill_inputs, cache_dir=cache)
    assert sorted(p.name for p in cache.iterdir()) == ["teacher-1.npz", "teacher-ngram.npz"]
    assert not any("reused" in t for t in report["teachers"])
    # Settings only the student reads (teachers have their own layer sizes) leave every teacher valid.
    student_only = distill_config.with_overrides({"distill.student_epochs": 2, "model.lstm_units": [8]})
    again, reused, _ = run_teachers(student_only, distill_inputs, cache_dir=cache)
    assert [t.get("reused") for t in reused["teachers"]] == [True, True]
    np.testing.assert_array_equal(again, soft)
    assert reused["teachers"][0]["seconds"] == report["teachers"][0]["seconds"]  # the original training's
    # A setting of the LSTM teacher retrains it (and stores it again); the n-gram teacher stays.
    _, changed, _ = run_teachers(distill_config.with_overrides({"train.epochs": 3}), distill_inputs, cache_dir=cache)
    assert ["reused" in t for t in changed["teachers"]] == [False, True]
    assert changed["teachers"][0]["epochs_run"] <= 3
    # Other data (one label flipped) retrains both; an unreadable file is retrained and rewritten.
    flipped = {**distill_inputs, "train": (distill_inputs["train"][0], distill_inputs["train"][1].copy())}
    flipped["train"][1][0] = 1 - flipped["train"][1][0]
    _, other, _ = run_teachers(distill_config, flipped, cache_dir=cache)
    assert not any("reused" in t for t in other["teachers"])
    (cache / "teacher-ngram.npz").write_bytes(b"half-written")
    _, rebuilt, _ = run_teachers(distill_config, flipped, cache_dir=cache)
    assert ["reused" in t for t in rebuilt["teachers"]] == [True, False]
    _, last, _ = run_teachers(distill_config, flipped, cache_dir=cache)
    assert [t.get("reused") for t in last["teachers"]] == [True, True]
    assert sorted(p.name for p in cache.iterdir()) == ["teacher-1.npz", "teacher-ngram.npz"]  # no temporary files


def test_student_starts_from_the_best_teacher(distill_config, distill_inputs, tmp_path):
    cfg = distill_config.with_overrides(
        {"distill.teachers": 2, "distill.teacher_lstm_units": [16], "distill.student_init": "best_teacher"}
    )
    _, report, start = run_teachers(cfg, distill_inputs, cache_dir=tmp_path)
    accuracies = [t["validation_accuracy"] for t in report["teachers"][:2]]
    best = report["student_init"]["teacher"]
    assert accuracies[best - 1] == max(accuracies) == report["student_init"]["validation_accuracy"]
    with np.load(tmp_path / f"teacher-{best}.npz") as stored:
        assert len(start) == int(stored["n_weights"]) > 0
        for i, weights in enumerate(start):
            np.testing.assert_array_equal(weights, stored[f"weight_{i}"])


def test_student_init_and_epochs_in_training(distill_config):
    cfg = distill_config.with_overrides(
        {"distill.teacher_lstm_units": [16], "distill.student_init": "best_teacher", "distill.student_epochs": 1}
    )
    clf = SentimentClassifier(config=cfg).fit(
        POS * 4 + NEG * 4, [1] * 20 + [0] * 20, extra_texts=UNLABELED_POS + UNLABELED_NEG
    )
    assert clf.training_["epochs_run"] == 1  # the student's; the teacher trained with train.epochs
    assert clf.training_["distill"]["teachers"][0]["epochs_run"] > 1
    assert clf.training_["distill"]["student_init"]["teacher"] == 1
    # One epoch from the teacher's weights already separates the texts only the teachers labeled.
    assert (clf.predict(UNLABELED_POS + UNLABELED_NEG) == np.array([1] * 4 + [0] * 4)).mean() >= 0.75


def test_student_soup(distill_config):
    """Two students from the best teacher's weights: the kept weights are the soup's or the better student's."""
    cfg = distill_config.with_overrides(
        {
            "distill.teacher_lstm_units": [16],
            "distill.student_init": "best_teacher",
            "distill.student_epochs": 2,
            "distill.students": 2,
        }
    )
    clf = SentimentClassifier(config=cfg).fit(
        POS * 4 + NEG * 4, [1] * 20 + [0] * 20, extra_texts=UNLABELED_POS + UNLABELED_NEG
    )
    soup = clf.training_["soup"]
    assert soup["students"] == 2 and soup["seeds"] == [cfg.train.seed, cfg.train.seed + 1000]
    final = clf.training_["metrics"]["validation"]["accuracy"]
    if soup["kept"]:
        assert soup["soup_validation_accuracy"] >= max(soup["validation_accuracies"])
        assert final == pytest.approx(soup["soup_validation_accuracy"])
    else:
        assert final == pytest.approx(max(soup["validation_accuracies"]))
    assert (clf.predict(UNLABELED_POS + UNLABELED_NEG) == np.array([1] * 4 + [0] * 4)).mean() >= 0.75


def test_soup_keeps_the_mean_only_when_it_does_as_well(tiny_config):
    from sentiment.model.network import build_model
    from sentiment.training.recipe import keep_soup

    rng = np.random.default_rng(0)
    model = build_model(tiny_config, rng.normal(size=(20, 16)).astype(np.float32), 2)
    good = model.get_weights()
    valid = ([rng.integers(2, 20, size=6) for _ in range(30)], rng.integers(0, 2, size=30))
    # A student whose output flips the good one's: the mean (output weights ~0) cannot beat the better of them.
    flipped = [*good[:-2], -good[-2], -good[-1]]
    report = keep_soup(model, [good, flipped], valid, tiny_config, 2, seeds=[1, 2])
    accuracies = report["validation_accuracies"]
    assert accuracies[0] + accuracies[1] == pytest.approx(1.0)
    if not report["kept"]:
        best = report["kept_student"] - 1
        assert accuracies[best] == max(accuracies)
        for got, want in zip(model.get_weights(), [good, flipped][best]):
            np.testing.assert_array_equal(got, want)
    # Two identical students: the mean is the same network, so it is kept.
    same = keep_soup(model, [good, good], valid, tiny_config, 2, seeds=[1, 2])
    assert same["kept"] and same["soup_validation_accuracy"] == same["validation_accuracies"][0]


@pytest.mark.parametrize(
    "override", [{"distill.teacher_lstm_units": [32]}, {"distill.teachers": 0, "distill.teacher_lstm_units": [16]}]
)
def test_student_init_needs_a_matching_lstm_teacher(distill_config, override):
    cfg = distill_config.with_overrides({"distill.student_init": "best_teacher", **override})
    with pytest.raises(
        ConfigError,
        match="student_init = 'best_teacher' needs LSTM teachers shaped like the student.*model.lstm_units = \\[16\\]",
    ):
        SentimentClassifier(config=cfg).fit(POS * 4 + NEG * 4, [1] * 20 + [0] * 20, extra_texts=UNLABELED_POS)


def test_distilled_student_is_saved_with_its_teachers(distill_config, tmp_path):
    unlabeled = (UNLABELED_POS + UNLABELED_NEG) * 3
    clf = SentimentClassifier(config=distill_config).fit(POS * 4 + NEG * 4, [1] * 20 + [0] * 20, extra_texts=unlabeled)
    report = clf.training_["distill"]
    assert report["transfer_rows"] == len(unlabeled) and len(report["teachers"]) == 2
    # The student learned the polarity of texts it only saw through the teachers' labels.
    assert (clf.predict(UNLABELED_POS + UNLABELED_NEG) == np.array([1] * 4 + [0] * 4)).mean() >= 0.75
    clf.save(tmp_path / "student")
    again = SentimentClassifier.load(tmp_path / "student")
    assert again.training_["distill"]["teachers"] == report["teachers"]
    assert again.config_.distill.teachers == 1
    # the loaded model scores with its ONNX graph, the fitted one with Keras
    np.testing.assert_allclose(again.predict_proba(POS), clf.predict_proba(POS), atol=1e-5, rtol=0)


def test_distillation_with_three_classes(tiny_config):
    neutral = ["그냥 그래요", "보통 이에요", "평범한 편", "무난 합니다", "그럭저럭"]
    cfg = tiny_config.with_overrides({"distill.teachers": 1, "train.epochs": 5, "train.validation_split": 0.0})
    clf = SentimentClassifier(config=cfg).fit(
        POS * 3 + NEG * 3 + neutral * 3,
        ["pos"] * 15 + ["neg"] * 15 + ["neu"] * 15,
        extra_texts=UNLABELED_POS + ["보통 무난"] + UNLABELED_NEG,
    )
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
    cfg = distill_config.with_overrides(
        {"distill.morpheme_ngrams": 2, "distill.naive_bayes": True, "distill.char_ngram_range": [1, 3]}
    )
    texts, y = POS * 2 + NEG * 2, np.array([1] * 10 + [0] * 10)
    unlabeled = UNLABELED_POS + UNLABELED_NEG
    tokens = ([t.split() for t in texts], [t.split() for t in texts[:2]], [t.split() for t in unlabeled])
    transfer, valid, report = char_ngram_teacher(cfg, texts, y, texts[:2], y[:2], unlabeled, 2, tokens=tokens)
    assert transfer.shape == (8, 2) and valid.shape == (2, 2)
    assert (transfer.argmax(axis=1) == [1] * 4 + [0] * 4).all()
    assert report["morpheme_ngrams"] == 2 and report["naive_bayes"] and report["char_ngrams"] == [1, 3]
    # Without morphemes the feature count is the char n-grams' alone.
    _, _, chars_only = char_ngram_teacher(
        cfg.with_overrides({"distill.morpheme_ngrams": 0}), texts, y, texts[:2], y[:2], unlabeled, 2
    )
    assert chars_only["features"] < report["features"]


def test_ngram_teacher_class_weights_by_domain_come_from_the_row_weights(distill_config):
    """With "balanced_by_domain" the linear teacher adds no pooled class weights of its own: the caller's row
    weights (class weights within each domain) are the only ones, so given the pooled weights as row weights it
    equals the "balanced" teacher."""
    from sentiment.training.recipe import class_weights

    texts, y = POS * 3 + NEG, np.array([1] * 15 + [0] * 5)  # 3 to 1: pooled class weights matter
    unlabeled = UNLABELED_POS + UNLABELED_NEG

    def teacher(class_weight, weight=None):
        cfg = distill_config.with_overrides({"train.class_weight": class_weight})
        return char_ngram_teacher(cfg, texts, y, texts[:2], y[:2], unlabeled, 2, sample_weight=weight)[0]

    pooled = class_weights(distill_config.with_overrides({"train.class_weight": "balanced"}), y, 2)
    np.testing.assert_allclose(teacher("balanced_by_domain", pooled), teacher("balanced"), atol=1e-5)
    np.testing.assert_allclose(teacher("balanced_by_domain"), teacher("none"), atol=1e-6)
    assert not np.allclose(teacher("none"), teacher("balanced"), atol=1e-3)


@pytest.mark.parametrize(
    "override, message",
    [
        ({"distill.char_ngram_range": [4, 2]}, "char_ngram_range"),
        ({"distill.naive_bayes": True}, "two classes"),
    ],
)
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
    result = run_cli(
        "train",
        "--data",
        str(SAMPLE),
        "--out",
        str(tmp_path / "m"),
        "--config",
        str(TINY_CONFIG),
        "--set",
        "distill.teachers=1",
    )
    assert_user_error(result, "no unlabeled texts", "--extra-texts")
    assert not (tmp_path / "m").exists()


def test_teacher_weights_equal_or_chosen_on_validation(distill_config):
    from sentiment.training.distill import SHARES, teacher_weights

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


def test_pipeline_rerun_reuses_the_teachers(tmp_path):
    """The train stage keeps its teachers in RUN/teachers; a student-only change retrains the student alone."""
    unlabeled = SAMPLE.parent / "unlabeled.txt"
    args = [
        "pipeline",
        "--data",
        str(SAMPLE),
        "--extra-texts",
        str(unlabeled),
        "--run-dir",
        str(tmp_path / "run"),
        "--test-size",
        "0.2",
        "--config",
        str(TINY_CONFIG),
        "--set",
        "distill.teachers=1",
        "--set",
        "distill.char_ngram_teacher=true",
        "--set",
        "distill.teacher_lstm_units=[16]",
    ]
    first = run_cli(*args)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "(reused)" not in first.stderr
    assert sorted(p.name for p in (tmp_path / "run" / "teachers").iterdir()) == ["teacher-1.npz", "teacher-ngram.npz"]
    second = run_cli(*args, "--set", "distill.student_init=best_teacher", "--set", "distill.student_epochs=1")
    assert second.returncode == 0, second.stderr[-3000:]
    assert second.stderr.count("(reused)") == 2 and "train: up to date" not in second.stderr
    meta = json.loads((tmp_path / "run" / "model" / "meta.json").read_text())
    assert meta["training"]["epochs_run"] == 1 and meta["training"]["distill"]["student_init"]["teacher"] == 1
    # --force retrains the teachers too.
    forced = run_cli(*args, "--force")
    assert forced.returncode == 0, forced.stderr[-3000:]
    assert "(reused)" not in forced.stderr and "distill: training teacher 1/1 (LSTM)" in forced.stderr


def test_students_need_a_shared_start(distill_config):
    with pytest.raises(ConfigError, match="distill.students = 2 needs distill.student_init = 'best_teacher'"):
        SentimentClassifier(config=distill_config.with_overrides({"distill.students": 2})).fit(
            POS * 4 + NEG * 4, [1] * 20 + [0] * 20, extra_texts=UNLABELED_POS
        )


def test_a_trained_bundle_teaches_as_it_is(tiny_config, tiny_model_dir, tiny_model):
    """distill.teacher_models: the bundle's own probabilities on the unlabeled texts become the soft targets."""
    cfg = tiny_config.with_overrides(
        {"distill.teacher_models": [str(tiny_model_dir)], "train.validation_split": 0.2, "train.init_from": "none"}
    )
    unlabeled = (UNLABELED_POS + UNLABELED_NEG) * 3
    clf = SentimentClassifier(config=cfg).fit(POS * 4 + NEG * 4, [1] * 20 + [0] * 20, extra_texts=unlabeled)
    report = clf.training_["distill"]
    assert [t["kind"] for t in report["teachers"]] == ["model"]
    assert report["teachers"][0]["model"] == str(tiny_model_dir) and report["transfer_rows"] == len(unlabeled)
    # one teacher: the soft targets are its probabilities, whose mean the report records
    expected = tiny_model.predict_proba(unlabeled).mean(axis=0)
    np.testing.assert_allclose(report["transfer_class_shares"], expected, atol=1e-3)


def test_a_teacher_model_with_other_tokens_is_refused(tiny_config, tiny_model_dir):
    cfg = tiny_config.with_overrides(
        {"distill.teacher_models": [str(tiny_model_dir)], "normalize.max_repeat": 3, "train.init_from": "none"}
    )
    with pytest.raises(ConfigError, match=r"other \[normalize\] settings"):
        SentimentClassifier(config=cfg).fit(POS * 4 + NEG * 4, [1] * 20 + [0] * 20, extra_texts=UNLABELED_POS * 3)
