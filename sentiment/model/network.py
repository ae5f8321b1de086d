"""The Keras many-to-one (Bi)LSTM: building and training with length buckets.

Prediction (Keras or ONNX Runtime) and its length-sorted batching live in :mod:`sentiment.model.runtime`.

TensorFlow/Keras are imported inside the functions, so importing the package
(or running ``sentiment --help``) stays fast.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..config import Config
from ..text.sequences import batch_width, bucketed_batches, count_batches, pad
from .runtime import Predictor, predict_sequences  # noqa: F401 (re-exported)
from .tf_import import import_keras, import_tensorflow


def build_model(cfg: Config, embedding: np.ndarray, n_classes: int):
    """Embedding (Word2Vec-initialised) → stacked (Bi)LSTM → sigmoid/softmax output.

    LSTM layers keep Keras' defaults (tanh/sigmoid, no recurrent dropout,
    ``unroll=False``, ``use_bias=True``), so the fused cuDNN kernel stays
    eligible on a GPU with right-padded, masked input.
    """
    keras: Any = import_keras()  # a module; Any lets classes derive from its members
    layers = keras.layers

    m = cfg.model
    inputs = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    embed = layers.Embedding(
        embedding.shape[0],
        embedding.shape[1],
        mask_zero=m.mask_padding,
        trainable=m.embedding_trainable,
        name="embedding",
    )
    x = embed(inputs)
    embed.set_weights([embedding])
    if m.embedding_dropout:
        x = layers.Dropout(m.embedding_dropout, noise_shape=(None, 1, embedding.shape[1]), name="embedding_dropout")(x)
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


def _learning_rate(cfg: Config, steps: int):
    """``train.learning_rate``, or a cosine decay from it to 0 over ``steps`` when ``train.lr_schedule = "cosine"``."""
    keras: Any = import_keras()  # a module; Any lets classes derive from its members

    if cfg.train.lr_schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(cfg.train.learning_rate, decay_steps=max(1, steps))
    return cfg.train.learning_rate


def _optimizer(cfg: Config, steps: int = 1):
    """The configured optimizer; ``steps`` (batches in the whole run) sizes the learning-rate schedule."""
    keras: Any = import_keras()  # a module; Any lets classes derive from its members

    learning_rate = _learning_rate(cfg, steps)
    if cfg.train.optimizer == "adam" and cfg.train.sparse_updates:
        return _lazy_adam_class()(learning_rate=learning_rate)
    classes = {
        "adam": keras.optimizers.Adam,
        "adamw": keras.optimizers.AdamW,
        "adamax": keras.optimizers.Adamax,
        "nadam": keras.optimizers.Nadam,
        "rmsprop": keras.optimizers.RMSprop,
        "sgd": keras.optimizers.SGD,
        "adagrad": keras.optimizers.Adagrad,
    }
    return classes[cfg.train.optimizer](learning_rate=learning_rate)


def _lazy_adam_class():
    """Adam that updates only the embedding rows a batch uses ("lazy" Adam).

    Keras' Adam turns the embedding's sparse gradient dense and rewrites the
    whole vocabulary x dims matrix and both moment matrices every step; on a
    CPU that is a large share of a step. Here rows without gradient keep their
    weights and moments, as in TensorFlow Addons' LazyAdam. Dense variables
    get the ordinary Adam update.
    """
    keras: Any = import_keras()  # a module; Any lets classes derive from its members
    tf = import_tensorflow()

    class LazyAdam(keras.optimizers.Adam):
        def update_step(self, gradient, variable, learning_rate):
            if not isinstance(gradient, tf.IndexedSlices):
                return super().update_step(gradient, variable, learning_rate)
            dtype = variable.dtype
            rows, positions = tf.unique(gradient.indices)  # a token may occur several times in a batch
            grad = tf.math.unsorted_segment_sum(tf.cast(gradient.values, dtype), positions, tf.shape(rows)[0])
            step = tf.cast(self.iterations + 1, dtype)
            alpha = (
                tf.cast(learning_rate, dtype)
                * tf.sqrt(1 - tf.pow(tf.cast(self.beta_2, dtype), step))
                / (1 - tf.pow(tf.cast(self.beta_1, dtype), step))
            )
            index = self._get_variable_index(variable)
            m, v = self._momentums[index], self._velocities[index]
            m_rows = self.beta_1 * tf.gather(m, rows) + (1 - self.beta_1) * grad
            v_rows = self.beta_2 * tf.gather(v, rows) + (1 - self.beta_2) * tf.square(grad)
            self.assign(m, tf.IndexedSlices(m_rows, rows))
            self.assign(v, tf.IndexedSlices(v_rows, rows))
            self.assign_sub(variable, tf.IndexedSlices(alpha * m_rows / (tf.sqrt(v_rows) + self.epsilon), rows))

    return LazyAdam


def _dataset(
    sequences: Sequence[np.ndarray],
    targets: np.ndarray,
    cfg: Config,
    shuffle: bool,
    seed: int,
    weights: np.ndarray | None = None,
):
    """A tf.data pipeline of (ids, target[, weight]) batches, length-bucketed when enabled."""
    tf = import_tensorflow()

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
            index_batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        for idx in index_batches:
            width = batch_width(lengths[idx], maxlen) if bucket else maxlen
            ids = pad([sequences[i] for i in idx], maxlen, seq_cfg.padding, seq_cfg.truncating, width)
            yield (ids, targets[idx]) if weights is None else (ids, targets[idx], weights[idx])

    y_spec = tf.TensorSpec(
        shape=(None, *targets.shape[1:]), dtype=tf.float32 if targets.dtype == np.float32 else tf.int32
    )
    signature: tuple[Any, ...] = (tf.TensorSpec(shape=(None, None), dtype=tf.int32), y_spec)
    if weights is not None:
        signature += (tf.TensorSpec(shape=(None,), dtype=tf.float32),)
    n_batches = count_batches(len(sequences), batch_size, windowed=bucket and shuffle)
    dataset = tf.data.Dataset.from_generator(batches, output_signature=signature)
    return dataset.apply(tf.data.experimental.assert_cardinality(n_batches)).prefetch(2)


def training_targets(y: np.ndarray, n_classes: int) -> tuple[np.ndarray, str]:
    """Targets and loss for Keras: class indices ``(n,)`` or class probabilities ``(n, n_classes)``.

    Probabilities (soft labels from teachers) train with cross-entropy against
    the whole distribution; a binary model's single output takes P(class 1).
    """
    if n_classes == 2:
        return (y[:, 1] if y.ndim == 2 else y).astype(np.float32), "binary_crossentropy"
    if y.ndim == 2:
        return y.astype(np.float32), "categorical_crossentropy"
    return y.astype(np.int32), "sparse_categorical_crossentropy"


def fit_model(
    model,
    cfg: Config,
    train: tuple[Sequence[np.ndarray], np.ndarray],
    valid: tuple[Sequence[np.ndarray], np.ndarray] | None,
    n_classes: int,
    sample_weight: np.ndarray | None = None,
    verbose: int = 0,
    callbacks: list | None = None,
    valid_groups: np.ndarray | None = None,
) -> dict[str, Any]:
    """Compile and train; early stopping on ``train.monitor`` (validation loss or accuracy) restores the best weights.

    Targets are class indices or class probabilities (see :func:`training_targets`);
    ``sample_weight`` (one per training row) carries class weights. With ``valid_groups`` (the domain of each
    validation row, two or more domains) and ``train.monitor_domains``, early stopping watches the mean of the
    domains' validation figures (``val_domain_loss`` / ``val_domain_accuracy`` in the history) instead of the
    pooled rows', so that each domain counts once whatever its number of rows.
    """
    keras: Any = import_keras()  # a module; Any lets classes derive from its members

    x, y = train
    y, loss = training_targets(y, n_classes)
    weights = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float32)
    train_ds = _dataset(x, y, cfg, shuffle=True, seed=cfg.train.seed, weights=weights)
    steps = int(train_ds.cardinality()) * cfg.train.epochs
    model.compile(optimizer=_optimizer(cfg, steps), loss=loss, metrics=[_accuracy_metric(n_classes)])
    valid_ds = None
    all_callbacks = list(callbacks or [])
    monitor = cfg.train.monitor
    by_domain = None
    if valid is not None and len(valid[0]):
        if cfg.train.monitor_domains and valid_groups is not None and len(np.unique(valid_groups)) > 1:
            by_domain = _DomainValidation(model, valid, np.asarray(valid_groups).astype(str), cfg, n_classes)
            all_callbacks.append(by_domain.callback())  # writes the val_* figures; Keras evaluates nothing itself
            monitor = f"domain_{monitor}"
        else:
            valid_ds = _dataset(
                valid[0], training_targets(valid[1], n_classes)[0], cfg, shuffle=False, seed=cfg.train.seed
            )
        all_callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor=f"val_{monitor}",
                patience=cfg.train.patience,
                mode="min" if monitor.endswith("loss") else "max",
                restore_best_weights=True,
            )
        )
    timer = _epoch_timer()
    snapshots = _weight_snapshots(cfg.train.average_epochs)
    started = time.perf_counter()
    history = model.fit(
        train_ds,
        validation_data=valid_ds,
        epochs=cfg.train.epochs,
        verbose=verbose,
        shuffle=False,
        callbacks=[*all_callbacks, timer, snapshots],
    )
    record: dict[str, Any] = {key: [float(v) for v in values] for key, values in history.history.items()}
    record["epoch_seconds"] = timer.seconds
    if len(snapshots.weights) > 1:
        if by_domain is not None:
            score = by_domain.score
        elif valid_ds is not None:
            score = _pooled_score(model, valid_ds)
        else:
            score = None
        record["averaged"] = _keep_average(model, snapshots.weights, score, record, monitor)
    record["train_seconds"] = time.perf_counter() - started
    return record


def _weight_snapshots(keep: int):
    """A Keras callback keeping the model's weights after each of the last ``keep`` epochs in ``.weights``."""
    keras: Any = import_keras()  # a module; Any lets classes derive from its members

    class WeightSnapshots(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.weights: list[list[np.ndarray]] = []

        def on_epoch_end(self, epoch, logs=None):
            if keep > 1:
                self.weights = [*self.weights, self.model.get_weights()][-keep:]

    return WeightSnapshots()


def mean_weights(weight_sets: Sequence[list[np.ndarray]]) -> list[np.ndarray]:
    """The element-wise mean of several ``model.get_weights()`` lists of one architecture."""
    return [np.mean(layer, axis=0) for layer in zip(*weight_sets)]


def _pooled_score(model, valid_ds) -> Any:
    """The validation figures of the weights in place, as Keras evaluates them on ``valid_ds``."""

    def score() -> dict[str, float]:
        loss, accuracy = model.evaluate(valid_ds, verbose=0)
        return {"val_loss": float(loss), "val_accuracy": float(accuracy)}

    return score


def _keep_average(
    model, snapshots: list[list[np.ndarray]], score: Any, record: dict[str, Any], monitor: str
) -> dict[str, Any]:
    """Set the mean of ``snapshots`` when it does at least as well on the validation rows as the weights in place.

    ``score()`` gives the validation figures of the weights in place (None: no validation rows, the mean is kept);
    ``monitor`` names the one compared ("loss", "accuracy", "domain_loss", "domain_accuracy"). The weights in
    place are the best epoch's (restored by early stopping).
    """
    mean = mean_weights(snapshots)
    report: dict[str, Any] = {"epochs": len(snapshots)}
    if score is None:
        model.set_weights(mean)
        return {**report, "kept": True}
    best = model.get_weights()
    lower = monitor.endswith("loss")
    best_value = (min if lower else max)(record[f"val_{monitor}"])
    model.set_weights(mean)
    figures = score()
    value = figures[f"val_{monitor}"]
    kept = value <= best_value if lower else value >= best_value
    if not kept:
        model.set_weights(best)
    return {**report, **figures, "kept": bool(kept)}


class _DomainValidation:
    """Validation figures per domain: pooled ``val_loss``/``val_accuracy`` and their means over the domains.

    Loss is the cross-entropy of the targets (class indices or probabilities) against the predicted
    probabilities, as Keras computes it without sample weights; accuracy compares the likeliest classes.
    """

    def __init__(
        self, model, valid: tuple[Sequence[np.ndarray], np.ndarray], groups: np.ndarray, cfg: Config, n_classes: int
    ) -> None:
        self.model, self.cfg, self.n_classes = model, cfg, n_classes
        self.ids = valid[0]
        y = np.asarray(valid[1])
        self.targets = y.astype(np.float32) if y.ndim == 2 else np.eye(n_classes, dtype=np.float32)[y]
        self.groups = [np.flatnonzero(groups == name) for name in sorted(set(groups.tolist()))]
        self.predict = keras_predictor(model)

    def score(self) -> dict[str, float]:
        proba = predict_sequences(self.predict, self.ids, self.cfg, self.n_classes)
        losses = -(self.targets * np.log(np.clip(proba, 1e-7, 1.0))).sum(axis=1)
        hits = (proba.argmax(axis=1) == self.targets.argmax(axis=1)).astype(np.float64)
        return {
            "val_loss": float(losses.mean()),
            "val_accuracy": float(hits.mean()),
            "val_domain_loss": float(np.mean([losses[rows].mean() for rows in self.groups])),
            "val_domain_accuracy": float(np.mean([hits[rows].mean() for rows in self.groups])),
        }

    def callback(self):
        keras: Any = import_keras()  # a module; Any lets classes derive from its members
        score = self.score

        class DomainValidation(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                if logs is not None:
                    logs.update(score())

        return DomainValidation()


def _accuracy_metric(n_classes: int):
    """Accuracy that also holds for soft targets: the likeliest class of target and prediction agree."""
    if n_classes > 2:
        return "accuracy"  # categorical/sparse accuracy compare argmaxes already
    ops = import_keras().ops

    def accuracy(y_true, y_pred):
        return ops.mean(ops.equal(ops.reshape(y_true, (-1,)) >= 0.5, ops.reshape(y_pred, (-1,)) >= 0.5))

    return accuracy


def _epoch_timer():
    """A Keras callback recording seconds per epoch in ``.seconds``."""
    keras: Any = import_keras()  # a module; Any lets classes derive from its members

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


def scoring_copy(model):
    """An uncompiled copy with the same weights (no optimizer state: smaller bundle file)."""
    keras: Any = import_keras()  # a module; Any lets classes derive from its members

    copy = keras.Model.from_config(model.get_config())
    copy.set_weights(model.get_weights())
    return copy


def keras_predictor(model) -> Predictor:
    """A traced-once TensorFlow function over ``(batch, length)`` int32 ids."""
    tf = import_tensorflow()

    @tf.function(input_signature=[tf.TensorSpec(shape=(None, None), dtype=tf.int32)], reduce_retracing=True)
    def forward(ids):
        return model(ids, training=False)

    return lambda ids: forward(tf.constant(ids)).numpy()
