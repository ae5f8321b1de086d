"""Language-model pretraining of the embedding and the first (Bi)LSTM layer on unlabeled text.

The first LSTM layer reads every text as the classifier will (same embedding,
same layer, right padding with masking) and learns to predict the next token
(and, for a bidirectional layer, its backward half the previous token) with a
sampled softmax over the vocabulary. The trained embedding and layer weights
then initialise the classifier (and the distillation teachers); the language
model's output layers are thrown away, so nothing of it reaches the saved
model. Only the first layer is pretrained: in a stacked bidirectional network,
the second layer sees both directions and could not be trained as a language
model without seeing the tokens it predicts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..config import Config
from .tf_import import import_keras, import_tensorflow

Log = Callable[[str], None]


def _language_model(cfg: Config, embedding: np.ndarray):
    """Embedding + first (Bi)LSTM layer with sampled-softmax heads; built inside a function to keep
    TensorFlow imports lazy."""
    keras: Any = import_keras()  # a module; Any lets classes derive from its members
    tf = import_tensorflow()
    layers = keras.layers

    m, p = cfg.model, cfg.pretrain
    vocab_size, dim = embedding.shape
    units = m.lstm_units[0]

    class LanguageModel(keras.Model):
        def __init__(self) -> None:
            super().__init__(name="language_model")
            self.embedding = layers.Embedding(vocab_size, dim, mask_zero=True, name="embedding")
            self.dropout = layers.Dropout(m.embedding_dropout, noise_shape=(None, 1, dim))
            lstm = layers.LSTM(units, return_sequences=True, name="lstm_1")
            self.encoder = layers.Bidirectional(lstm, name="bilstm_1") if m.bidirectional else lstm
            self.output_dropout = layers.Dropout(m.dropout)
            self.heads = [
                (
                    self.add_weight(shape=(vocab_size, units), initializer="glorot_uniform", name=f"w{i}"),
                    self.add_weight(shape=(vocab_size,), initializer="zeros", name=f"b{i}"),
                )
                for i in range(2 if m.bidirectional else 1)
            ]

        def call(self, ids, training=False):
            x = self.dropout(self.embedding(ids), training=training)
            return self.output_dropout(self.encoder(x, training=training), training=training)

        def loss_on(self, ids, training: bool):
            """Mean next-token (and previous-token) loss; sampled softmax in training, full softmax otherwise."""
            states = self(ids, training=training)
            real = ids[:, 1:] != 0  # right padding: position t+1 is a token, so t is too
            pairs = [(states[:, :-1, :units], ids[:, 1:])]  # forward states predict the next token
            if m.bidirectional:
                pairs.append((states[:, 1:, units:], ids[:, :-1]))  # backward states predict the previous one
            losses = []
            for (weights, bias), (inputs, targets) in zip(self.heads, pairs):
                x = tf.boolean_mask(inputs, real)
                y = tf.cast(tf.boolean_mask(targets, real), tf.int64)
                if training and p.sampled < vocab_size - 1:  # a small vocabulary takes the full softmax
                    loss = tf.nn.sampled_softmax_loss(weights, bias, y[:, None], x, p.sampled, vocab_size)
                else:
                    logits = tf.matmul(x, weights, transpose_b=True) + bias
                    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits)
                losses.append(tf.reduce_mean(loss))
            return tf.add_n(losses) / len(losses)

    model = LanguageModel()
    model(np.ones((1, 2), dtype=np.int32))
    model.embedding.set_weights([embedding])
    return model


def pretrain_encoder(
    cfg: Config, embedding: np.ndarray, sequences: Sequence[np.ndarray], log: Log = lambda msg: None
) -> tuple[list[np.ndarray], dict]:
    """Train the language model on id sequences; returns (embedding + first-layer weights, report)."""
    keras = import_keras()
    tf = import_tensorflow()

    from ..text.sequences import batch_width, bucketed_batches, pad

    p, maxlen = cfg.pretrain, cfg.sequence.maxlen
    keras.utils.set_random_seed(cfg.train.seed)
    sequences = [s for s in sequences if len(s) >= 2]  # a single token predicts nothing
    lengths = np.fromiter((min(len(s), maxlen) for s in sequences), dtype=np.int64, count=len(sequences))
    model = _language_model(cfg, embedding)
    optimizer = keras.optimizers.Adam(learning_rate=p.learning_rate, clipnorm=1.0)
    spec = [tf.TensorSpec((None, None), tf.int32)]

    @tf.function(input_signature=spec, reduce_retracing=True)
    def step(ids):
        with tf.GradientTape() as tape:
            loss = model.loss_on(ids, training=True)
        variables = model.trainable_variables
        optimizer.apply(tape.gradient(loss, variables), variables)
        return loss

    def batch(idx: np.ndarray) -> np.ndarray:
        return pad(
            [sequences[i] for i in idx], maxlen, "post", cfg.sequence.truncating, batch_width(lengths[idx], maxlen)
        )

    rng = np.random.default_rng(cfg.train.seed)
    order = rng.permutation(len(sequences))
    held_out, train_rows = order[: min(2048, len(sequences) // 10)], order[min(2048, len(sequences) // 10) :]
    held_loss = tf.function(lambda ids: model.loss_on(ids, training=False), input_signature=spec, reduce_retracing=True)
    report: dict = {"texts": len(train_rows), "held_out_texts": len(held_out), "epochs": [], "sampled": p.sampled}
    started = time.perf_counter()
    for epoch in range(p.epochs):
        epoch_start, total, steps = time.perf_counter(), 0.0, 0
        for idx in bucketed_batches(lengths[train_rows], cfg.train.batch_size, rng):
            total += float(step(tf.constant(batch(train_rows[idx]))))
            steps += 1
        full = (
            float(
                np.mean(
                    [float(held_loss(tf.constant(batch(held_out[i : i + 256])))) for i in range(0, len(held_out), 256)]
                )
            )
            if len(held_out)
            else float("nan")
        )
        report["epochs"].append(
            {
                "sampled_loss": round(total / max(steps, 1), 4),
                "full_softmax_loss": round(full, 4),
                "seconds": round(time.perf_counter() - epoch_start, 1),
            }
        )
        log(
            f"pretrain: epoch {epoch + 1}/{p.epochs}: sampled-softmax loss {total / max(steps, 1):.3f}, "
            f"held-out full-softmax loss {full:.3f} (perplexity {np.exp(full):,.0f}, {len(held_out):,} texts), "
            f"{time.perf_counter() - epoch_start:.0f} s"
        )
    report["seconds"] = round(time.perf_counter() - started, 1)
    weights = [*model.embedding.get_weights(), *model.encoder.get_weights()]
    keras.backend.clear_session()
    return weights, report


def initialise(model, weights: list[np.ndarray]) -> None:
    """Copy pretrained embedding and first-layer weights into a classifier made by
    :func:`~sentiment.model.network.build_model`."""
    first = next(layer for layer in model.layers if layer.name in ("bilstm_1", "lstm_1"))
    model.get_layer("embedding").set_weights(weights[:1])
    first.set_weights(weights[1:])
