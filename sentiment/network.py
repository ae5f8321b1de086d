"""The Keras many-to-one (Bi)LSTM: building, training with length buckets, predicting.

TensorFlow/Keras are imported inside the functions, so importing the package
(or running ``sentiment --help``) stays fast.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .config import Config
from .sequences import batch_width, bucketed_batches, count_batches, length_sorted_batches, pad


def build_model(cfg: Config, embedding: np.ndarray, n_classes: int):
    """Embedding (Word2Vec-initialised) → stacked (Bi)LSTM → sigmoid/softmax output.

    LSTM layers keep Keras' defaults (tanh/sigmoid, no recurrent dropout,
    ``unroll=False``, ``use_bias=True``), so the fused cuDNN kernel stays
    eligible on a GPU with right-padded, masked input.
    """
    import keras
    from keras import layers

    m = cfg.model
    inputs = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    embed = layers.Embedding(embedding.shape[0], embedding.shape[1], mask_zero=m.mask_padding,
                             trainable=m.embedding_trainable, name="embedding")
    x = embed(inputs)
    embed.set_weights([embedding])
    if m.embedding_dropout:
        x = layers.Dropout(m.embedding_dropout, noise_shape=(None, 1, embedding.shape[1]),
                           name="embedding_dropout")(x)
    for i, units in enumerate(m.lstm_units):
        last = i == len(m.lstm_units) - 1
        lstm = layers.LSTM(units, return_sequences=not last, name=f"lstm_{i + 1}")
        x = layers.Bidirectional(lstm, name=f"bilstm_{i + 1}")(x) if m.bidirectional else lstm(x)
        if m.dropout:
            x = layers.Dropout(m.dropout, name=f"dropout_{i + 1}")(x)
    if n_classes == 2:
        outputs = layers.Dense(1, activation="sigmoid", name="output")(x)
    else:
        outputs = layers.Dense(n_classes, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs, name="sentiment_lstm")


def _optimizer(cfg: Config):
    import keras

    classes = {"adam": keras.optimizers.Adam, "adamw": keras.optimizers.AdamW, "adamax": keras.optimizers.Adamax,
               "nadam": keras.optimizers.Nadam, "rmsprop": keras.optimizers.RMSprop,
               "sgd": keras.optimizers.SGD, "adagrad": keras.optimizers.Adagrad}
    return classes[cfg.train.optimizer](learning_rate=cfg.train.learning_rate)


def _dataset(sequences: Sequence[np.ndarray], targets: np.ndarray, cfg: Config, shuffle: bool, seed: int):
    """A tf.data pipeline of (ids, target) batches, length-bucketed when enabled."""
    import tensorflow as tf

    maxlen, seq_cfg = cfg.sequence.maxlen, cfg.sequence
    lengths = np.fromiter((min(len(s), maxlen) for s in sequences), dtype=np.int64, count=len(sequences))
    bucket = cfg.train.bucket_by_length and cfg.model.mask_padding
    rng = np.random.default_rng(seed)
    batch_size = cfg.train.batch_size

    def batches():
        if bucket and shuffle:
            index_batches = bucketed_batches(lengths, batch_size, rng)
        else:
            order = rng.permutation(len(sequences)) if shuffle else np.arange(len(sequences))
            index_batches = [order[i: i + batch_size] for i in range(0, len(order), batch_size)]
        for idx in index_batches:
            width = batch_width(lengths[idx], maxlen) if bucket else maxlen
            yield (pad([sequences[i] for i in idx], maxlen, seq_cfg.padding, seq_cfg.truncating, width),
                   targets[idx])

    y_spec = tf.TensorSpec(shape=(None,), dtype=tf.float32 if targets.dtype == np.float32 else tf.int32)
    signature = (tf.TensorSpec(shape=(None, None), dtype=tf.int32), y_spec)
    n_batches = count_batches(len(sequences), batch_size, windowed=bucket and shuffle)
    dataset = tf.data.Dataset.from_generator(batches, output_signature=signature)
    return dataset.apply(tf.data.experimental.assert_cardinality(n_batches)).prefetch(2)


def fit_model(model, cfg: Config, train: tuple[Sequence[np.ndarray], np.ndarray],
              valid: tuple[Sequence[np.ndarray], np.ndarray] | None, n_classes: int,
              class_weight: dict[int, float] | None = None, verbose: int = 0,
              callbacks: list | None = None) -> dict[str, Any]:
    """Compile and train; EarlyStopping on validation loss restores the best weights."""
    import keras

    binary = n_classes == 2
    model.compile(optimizer=_optimizer(cfg),
                  loss="binary_crossentropy" if binary else "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    x, y = train
    y = y.astype(np.float32) if binary else y.astype(np.int32)
    train_ds = _dataset(x, y, cfg, shuffle=True, seed=cfg.train.seed)
    valid_ds = None
    all_callbacks = list(callbacks or [])
    if valid is not None and len(valid[0]):
        vy = valid[1].astype(np.float32) if binary else valid[1].astype(np.int32)
        valid_ds = _dataset(valid[0], vy, cfg, shuffle=False, seed=cfg.train.seed)
        all_callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=cfg.train.patience,
                                                           restore_best_weights=True))
    timer = _epoch_timer()
    started = time.perf_counter()
    history = model.fit(train_ds, validation_data=valid_ds, epochs=cfg.train.epochs, verbose=verbose, shuffle=False,
                        class_weight=class_weight, callbacks=[*all_callbacks, timer])
    record = {key: [float(v) for v in values] for key, values in history.history.items()}
    record["epoch_seconds"] = timer.seconds
    record["train_seconds"] = time.perf_counter() - started
    return record


def _epoch_timer():
    """A Keras callback recording seconds per epoch in ``.seconds``."""
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.seconds: list[float] = []
            self._start = 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._start)

    return EpochTimer()


def make_predictor(model) -> Callable[[np.ndarray], np.ndarray]:
    """A traced-once inference function over ``(batch, length)`` int32 ids."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec(shape=(None, None), dtype=tf.int32)], reduce_retracing=True)
    def forward(ids):
        return model(ids, training=False)

    return lambda ids: forward(tf.constant(ids)).numpy()


def predict_sequences(predict: Callable[[np.ndarray], np.ndarray], sequences: Sequence[np.ndarray], cfg: Config,
                      n_classes: int, batch_size: int = 1024) -> np.ndarray:
    """Class probabilities ``(n, n_classes)`` in input order.

    With masking, rows are sorted by length and each batch is padded only to its
    longest row; the result equals full ``maxlen`` padding (tested).
    """
    n = len(sequences)
    proba = np.zeros((n, n_classes), dtype=np.float32)
    if n == 0:
        return proba
    maxlen, seq_cfg = cfg.sequence.maxlen, cfg.sequence
    lengths = np.fromiter((min(len(s), maxlen) for s in sequences), dtype=np.int64, count=n)
    bucket = cfg.model.mask_padding
    batches = length_sorted_batches(lengths, batch_size) if bucket else \
        [np.arange(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]
    for idx in batches:
        width = batch_width(lengths[idx], maxlen) if bucket else maxlen
        out = predict(pad([sequences[i] for i in idx], maxlen, seq_cfg.padding, seq_cfg.truncating, width))
        if n_classes == 2:
            p = out[:, 0]
            proba[idx, 0], proba[idx, 1] = 1.0 - p, p
        else:
            proba[idx] = out
    return proba


def scoring_copy(model):
    """An uncompiled copy with the same weights (no optimizer state: smaller bundle file)."""
    import keras

    copy = keras.Model.from_config(model.get_config())
    copy.set_weights(model.get_weights())
    return copy
