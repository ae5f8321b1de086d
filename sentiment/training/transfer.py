"""Starting a network from a trained one: its vocabulary grown with new morphemes, its layers copied.

Used by the training recipe (``train.init_from``) and by adaptation. ``source`` is anything with a fitted
classifier's ``config_``, ``vocabulary_``, ``model_`` (Keras), ``classes_`` and ``n_classes_``: a fitted
:class:`~sentiment.SentimentClassifier`, or the :class:`Source` that :func:`load_source` reads from a bundle
without the estimator.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config import Config
from ..text.vocab import OOV_ID, Vocabulary

Log = Callable[[str], None]


@dataclass
class Trained:
    """What training produced."""

    classes: np.ndarray
    vocabulary: Vocabulary
    model: Any  # the Keras model
    history: dict[str, Any]
    report: dict[str, Any]  # becomes the bundle's meta["training"]


@dataclass
class Source:
    """A trained network read from a bundle, its parts named as on a fitted classifier."""

    config_: Config
    vocabulary_: Vocabulary
    model_: Any  # the Keras model
    classes_: np.ndarray
    meta_: dict[str, Any] = field(default_factory=dict)

    @property
    def n_classes_(self) -> int:
        return len(self.classes_)


def load_source(name: str | Path) -> Source:
    """The bundle ``name`` ("default": the packaged model) with its Keras model."""
    from ..model.bundle import default_model_path, read_bundle

    path = default_model_path() if str(name) == "default" else Path(name)
    config, vocab, model, meta = read_bundle(path)
    return Source(config, vocab, model, np.asarray(meta["labels"]), meta)


def network_from(source, cfg: Config, matrix: np.ndarray):
    """A new network with ``matrix`` as its embedding and every other layer's weights from ``source``."""
    from ..errors import ConfigError
    from ..model.network import build_model

    want, have = cfg.model, source.config_.model
    if (want.lstm_units, want.bidirectional) != (have.lstm_units, have.bidirectional):
        raise ConfigError(
            f"the config's network (model.lstm_units = {want.lstm_units}, model.bidirectional = "
            f"{want.bidirectional}) differs from the source model's ({have.lstm_units}, "
            f"{have.bidirectional}); use the source's [model] settings to start from it"
        )
    model = build_model(cfg, matrix, source.n_classes_)
    for layer in source.model_.layers:
        if layer.weights and layer.name != "embedding":
            model.get_layer(layer.name).set_weights(layer.get_weights())
    return model


def grown_vocabulary(
    source, token_lists: Sequence[Sequence[str]], cfg: Config, log: Log, keyed_vectors=None
) -> tuple[Vocabulary, np.ndarray, dict[str, Any]]:
    """The source vocabulary plus frequent unknown morphemes, and the embedding matrix for it.

    The new morphemes' vectors come from ``keyed_vectors`` (trained on ``token_lists`` when None).
    """
    from ..text.embeddings import train_word2vec

    a = cfg.adapt
    old = source.vocabulary_
    embedding = source.model_.get_layer("embedding").get_weights()[0]
    counts = Counter(t for toks in token_lists for t in toks)
    known = sum(n for t, n in counts.items() if t in old.index)
    new = [t for t, n in counts.most_common() if n >= a.new_token_min_count and t not in old.index]
    new = new[: a.max_new_tokens]
    report: dict[str, Any] = {
        "known_token_share": round(known / max(sum(counts.values()), 1), 4),
        "new_tokens": len(new),
    }
    if not new:
        return old, embedding, report
    w2v_cfg = cfg.word2vec.__class__(
        **{**cfg.to_dict()["word2vec"], "min_count": a.new_token_min_count, "max_vocab": 10_000_000, "extra_texts": []}
    )
    kv = keyed_vectors if keyed_vectors is not None else train_word2vec(token_lists, w2v_cfg, seed=cfg.train.seed)
    anchors = [t for t, _ in counts.most_common() if t in old.index and t in kv.key_to_index][:20_000]
    dim = embedding.shape[1]
    rng = np.random.default_rng(cfg.train.seed)
    if len(anchors) >= 2 * dim:
        x = np.asarray([kv[t] for t in anchors], dtype=np.float64)
        y = np.asarray([embedding[old.index[t]] for t in anchors], dtype=np.float64)
        ridge = 1e-2 * np.trace(x.T @ x) / dim
        mapping = np.linalg.solve(x.T @ x + ridge * np.eye(dim), x.T @ y)
        fitted = x @ mapping
        r2 = 1.0 - float(((y - fitted) ** 2).sum() / ((y - y.mean(axis=0)) ** 2).sum())
        rows = np.asarray([kv[t] @ mapping if t in kv.key_to_index else embedding[OOV_ID] for t in new])
        report.update(anchors=len(anchors), mapping_r2=round(r2, 4))
    else:  # too few shared morphemes to fit a map: small random vectors, learned during fine-tuning
        rows = rng.normal(0.0, float(embedding[2:].std()), (len(new), dim))
        report.update(anchors=len(anchors), mapping_r2=None)
    log(
        f"adapt: {len(new):,} new morphemes (vectors mapped from {len(anchors):,} shared ones, "
        f"R² {report['mapping_r2']})"
    )
    vocab = Vocabulary([*old.tokens[2:], *new])
    return vocab, np.vstack([embedding, rows.astype(embedding.dtype)]), report
