"""Language-model pretraining of the embedding and first LSTM layer (real Keras/TensorFlow, tiny data)."""

import numpy as np
import pytest
from conftest import ROOT

from sentiment import SentimentClassifier
from sentiment.model.network import build_model
from sentiment.model.pretrain import initialise, pretrain_encoder

UNLABELED = ROOT / "data" / "sample" / "unlabeled.txt"


@pytest.fixture(scope="module")
def corpus(tiny_config, sample_frame):
    from sentiment.text.embeddings import embedding_matrix, train_word2vec, vocabulary_from_vectors
    from sentiment.text.tokenizers import Tokenizer

    tok = Tokenizer(tiny_config.normalize, tiny_config.tokenizer)
    texts = sample_frame["document"].tolist() + UNLABELED.read_text(encoding="utf-8").splitlines()
    tokens = tok.tokenize_many(texts)
    kv = train_word2vec(tokens, tiny_config.word2vec, seed=0)
    vocab = vocabulary_from_vectors(kv, 5000)
    return vocab.encode_many(tokens), embedding_matrix(vocab, kv, 0)


@pytest.mark.parametrize("bidirectional", [True, False])
def test_language_model_learns(tiny_config, corpus, bidirectional):
    ids, matrix = corpus
    cfg = tiny_config.with_overrides(
        {
            "pretrain.epochs": 4,
            "pretrain.learning_rate": 0.003,
            "pretrain.sampled": 64,
            "model.bidirectional": bidirectional,
        }
    )
    weights, report = pretrain_encoder(cfg, matrix, ids)
    losses = [e["full_softmax_loss"] for e in report["epochs"]]
    # held-out next-token loss falls, and ends below that of guessing uniformly over the vocabulary
    assert len(losses) == 4 and losses[-1] < losses[0] - 0.3 and losses[-1] < np.log(len(matrix)), losses
    assert report["held_out_texts"] > 0 and report["texts"] + report["held_out_texts"] <= len(ids)
    model = build_model(cfg, matrix, 2)
    initialise(model, weights)
    np.testing.assert_array_equal(model.get_layer("embedding").get_weights()[0], weights[0])
    first = model.get_layer("bilstm_1" if bidirectional else "lstm_1")
    for got, want in zip(first.get_weights(), weights[1:]):
        np.testing.assert_array_equal(got, want)


def test_pretrained_classifier_saves_and_loads(tiny_config, sample_frame, tmp_path):
    cfg = tiny_config.with_overrides({"pretrain.epochs": 1, "train.epochs": 4, "train.validation_split": 0.0})
    texts, labels = sample_frame["document"].tolist(), sample_frame["label"].tolist()
    unlabeled = UNLABELED.read_text(encoding="utf-8").splitlines()
    clf = SentimentClassifier(config=cfg).fit(texts, labels, extra_texts=unlabeled)
    report = clf.training_["pretrain"]
    # every text of two or more tokens: the training texts and the unlabeled ones
    assert (
        0.9 * (len(texts) + len(unlabeled)) <= report["texts"] + report["held_out_texts"] <= len(texts) + len(unlabeled)
    )
    assert (clf.predict(texts) == np.asarray(labels)).mean() > 0.8
    clf.save(tmp_path / "pretrained")
    again = SentimentClassifier.load(tmp_path / "pretrained")
    assert again.config_.pretrain.epochs == 1
    # the loaded model scores with its ONNX graph, the fitted one with Keras
    np.testing.assert_allclose(again.predict_proba(texts[:20]), clf.predict_proba(texts[:20]), atol=1e-5, rtol=0)
