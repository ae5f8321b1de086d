"""The app-facing classifier, following scikit-learn's estimator contract.

>>> clf = SentimentClassifier.load()                # the default model shipped with the package
>>> clf.predict(["배우 연기 정말 최고", "시간 아깝다"])
>>> SentimentClassifier(tagger="mecab", epochs=3).fit(texts, labels).save("models/mine")

``__init__`` only stores hyperparameters (``None`` means "take it from
``config``, else the default config"); ``fit`` returns ``self``; everything
learned ends in ``_``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from .config import Config
from .errors import ConfigError, DataError
from .tokenizers import Tokenizer

if TYPE_CHECKING:
    from .explain import Explanation

# Flat hyperparameters and the config keys they set.
PARAM_KEYS = {
    "tagger": "tokenizer.tagger",
    "vector_size": "word2vec.vector_size",
    "w2v_epochs": "word2vec.epochs",
    "min_count": "word2vec.min_count",
    "maxlen": "sequence.maxlen",
    "lstm_units": "model.lstm_units",
    "bidirectional": "model.bidirectional",
    "dropout": "model.dropout",
    "embedding_trainable": "model.embedding_trainable",
    "optimizer": "train.optimizer",
    "learning_rate": "train.learning_rate",
    "batch_size": "train.batch_size",
    "epochs": "train.epochs",
    "validation_split": "train.validation_split",
    "seed": "train.seed",
    "teachers": "distill.teachers",
}


def default_model_path() -> Path:
    """The bundle shipped inside the package."""
    return Path(str(resources.files("sentiment") / "default_model"))


class SentimentClassifier(ClassifierMixin, BaseEstimator):
    """KoNLPy tokens → Word2Vec → padded ids → (Bi)LSTM, as a scikit-learn classifier."""

    def __init__(self, config: Config | dict | str | None = None, *, tagger: str | None = None,
                 vector_size: int | None = None, w2v_epochs: int | None = None, min_count: int | None = None,
                 maxlen: int | None = None, lstm_units: Sequence[int] | None = None,
                 bidirectional: bool | None = None, dropout: float | None = None,
                 embedding_trainable: bool | None = None, optimizer: str | None = None,
                 learning_rate: float | None = None, batch_size: int | None = None, epochs: int | None = None,
                 validation_split: float | None = None, seed: int | None = None, teachers: int | None = None,
                 workers: int = 1, verbose: int = 0) -> None:
        self.config = config
        self.tagger = tagger
        self.vector_size = vector_size
        self.w2v_epochs = w2v_epochs
        self.min_count = min_count
        self.maxlen = maxlen
        self.lstm_units = lstm_units
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.embedding_trainable = embedding_trainable
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.validation_split = validation_split
        self.seed = seed
        self.teachers = teachers
        self.workers = workers
        self.verbose = verbose

    # -- configuration ---------------------------------------------------------------
    def resolved_config(self) -> Config:
        """``config`` (a Config, a dict or a TOML path; default config if None) with the flat params applied."""
        if self.config is None:
            base = Config()
        elif isinstance(self.config, Config):
            base = self.config
        elif isinstance(self.config, dict):
            base = Config.from_dict(self.config)
        else:
            base = Config.from_toml(self.config)
        overrides = {key: getattr(self, name) for name, key in PARAM_KEYS.items() if getattr(self, name) is not None}
        if "model.lstm_units" in overrides:
            overrides["model.lstm_units"] = list(overrides["model.lstm_units"])
        return base.with_overrides(overrides)

    # -- training ------------------------------------------------------------------------
    def fit(self, X: Iterable[str], y: Iterable[Any], *, extra_texts: Iterable[str] = ()) -> "SentimentClassifier":
        """Tokenize, train Word2Vec (on ``X`` plus ``extra_texts``), train the LSTM; returns ``self``.

        With distillation on (``teachers`` or ``distill.char_ngram_teacher``), the
        teachers label ``extra_texts`` and the LSTM also learns from those labels.
        """
        cfg = self.resolved_config()
        texts = check_texts(X)
        labels = check_labels(y, len(texts))
        tokenizer = Tokenizer(cfg.normalize, cfg.tokenizer)
        progress = None if self.verbose else False
        tokens = tokenizer.tokenize_many(texts, workers=self.workers, show_progress=progress)
        extra = check_texts(extra_texts)
        extra_tokens = tokenizer.tokenize_many(extra, workers=self.workers, show_progress=progress) if extra else []
        return self.fit_tokens(tokens, labels, cfg=cfg, extra_tokens=extra_tokens, texts=texts, extra_texts=extra,
                               fingerprint=data_fingerprint(texts, labels))

    def fit_tokens(self, tokens: Sequence[Sequence[str]], labels: np.ndarray, *, cfg: Config | None = None,
                   extra_tokens: Sequence[Sequence[str]] = (), keyed_vectors=None,
                   fingerprint: dict[str, Any] | None = None, texts: Sequence[str] | None = None,
                   extra_texts: Sequence[str] | None = None, teacher_cache: str | Path | None = None,
                   log: Callable[[str], None] = lambda msg: None) -> "SentimentClassifier":
        """Train from already tokenized texts (the pipeline stages call this directly).

        ``extra_tokens`` are unlabeled: Word2Vec reads them (unless ``keyed_vectors``
        is given) and, with distillation on, the teachers label them for the
        student (:mod:`sentiment.distill`). ``texts``/``extra_texts`` (the raw
        texts) are needed only by the char-n-gram teacher. ``teacher_cache`` is a
        directory where trained teachers are kept and reused on a rerun with the
        same data and teacher settings.
        """
        import keras
        from sklearn.model_selection import train_test_split

        from .distill import check_config, teacher_probabilities
        from .embeddings import embedding_matrix, train_word2vec, vocabulary_from_vectors
        from .network import build_model, fit_model, make_predictor, predict_sequences
        from .pretrain import initialise, pretrain_encoder

        cfg = cfg or self.resolved_config()
        labels = np.asarray(labels)
        classes = np.unique(labels)
        if len(classes) < 2:
            raise DataError(f"training needs at least two classes; the labels only contain {classes.tolist()}")
        if len(tokens) != len(labels):
            raise DataError(f"{len(tokens)} texts but {len(labels)} labels")
        if cfg.distill.enabled and not len(extra_tokens):
            raise ConfigError("distillation is on (distill.teachers or distill.char_ngram_teacher) but there are no "
                              "unlabeled texts to label; set word2vec.extra_texts (or pass --extra-texts), "
                              "or turn distillation off with distill.teachers=0")
        y = np.searchsorted(classes, labels)
        n_classes = len(classes)
        if cfg.distill.enabled:
            check_config(cfg, n_classes)
        seed = cfg.train.seed
        keras.utils.set_random_seed(seed)
        started = time.perf_counter()
        if keyed_vectors is None:
            keyed_vectors = train_word2vec([*tokens, *extra_tokens], cfg.word2vec, seed=seed)
        vocab = vocabulary_from_vectors(keyed_vectors, cfg.word2vec.max_vocab)
        matrix = embedding_matrix(vocab, keyed_vectors, seed)
        ids = vocab.encode_many(tokens)

        idx = np.arange(len(ids))
        valid_idx = np.array([], dtype=int)
        if cfg.train.validation_split > 0 and len(ids) >= 10:
            stratify = y if np.bincount(y).min() >= 2 else None
            idx, valid_idx = train_test_split(idx, test_size=cfg.train.validation_split, random_state=seed,
                                              stratify=stratify)
        train_ids, targets = [ids[i] for i in idx], y[idx]
        valid = ([ids[i] for i in valid_idx], y[valid_idx])
        transfer_ids = vocab.encode_many(extra_tokens) if cfg.distill.enabled or cfg.pretrain.epochs else []
        reports: dict[str, Any] = {}
        encoder = start = None
        if cfg.pretrain.epochs:  # the validation rows stay unseen
            encoder, reports["pretrain"] = pretrain_encoder(cfg, matrix, train_ids + transfer_ids, log=log)
        if cfg.distill.enabled:
            raw = None
            if texts is not None and extra_texts is not None:
                raw = ([texts[i] for i in idx], [texts[i] for i in valid_idx], list(extra_texts))
            token_parts = ([tokens[i] for i in idx], [tokens[i] for i in valid_idx], extra_tokens)
            soft, reports["distill"], start = teacher_probabilities(
                cfg, matrix, (train_ids, targets), valid, transfer_ids, n_classes, texts=raw, tokens=token_parts,
                encoder=encoder, sample_weight=_class_weights(cfg, targets, n_classes), cache_dir=teacher_cache,
                verbose=self.verbose, log=log)
            keras.utils.set_random_seed(seed)
            train_ids = train_ids + transfer_ids
            targets = np.vstack([np.eye(n_classes, dtype=np.float32)[targets], soft])
        student_cfg = cfg
        if cfg.distill.enabled and cfg.distill.student_epochs:
            student_cfg = cfg.with_overrides({"train.epochs": cfg.distill.student_epochs})
        n_students = cfg.distill.students if start is not None else 1
        row_weights = _class_weights(cfg, targets, n_classes)
        soup: list[list[np.ndarray]] = []
        seeds: list[int] = []
        for k in range(n_students):
            kcfg = student_cfg
            if k:  # the next student of a soup: same start, its own seed (data order, dropout)
                kcfg = student_cfg.with_overrides({"train.seed": seed + 1000 * k})
                keras.backend.clear_session()
                keras.utils.set_random_seed(kcfg.train.seed)
                log(f"distill: student {k + 1}/{n_students}")
            model = build_model(cfg, matrix, n_classes)
            if start is not None:
                model.set_weights(start)
            elif encoder is not None:
                initialise(model, encoder)
            fitted = fit_model(model, kcfg, (train_ids, targets), valid if len(valid_idx) else None, n_classes,
                               sample_weight=row_weights, verbose=self.verbose)
            if not k:
                history = fitted
            if n_students > 1:
                soup.append(model.get_weights())
                seeds.append(kcfg.train.seed)
        if soup:
            reports["soup"] = _keep_soup(model, soup, valid, cfg, n_classes, seeds=seeds)

        self.config_ = cfg
        self.classes_ = classes
        self.n_classes_ = len(classes)
        self.vocabulary_ = vocab
        self.model_ = model
        self.tokenizer_ = Tokenizer(cfg.normalize, cfg.tokenizer)
        self._predict_fn = make_predictor(model)
        self.history_ = history
        metrics: dict[str, Any] = {}
        if len(valid_idx):
            proba = predict_sequences(self._predict_fn, valid[0], cfg, n_classes)
            pred = proba.argmax(axis=1)
            metrics["validation"] = {"rows": int(len(valid_idx)),
                                     "accuracy": float((pred == y[valid_idx]).mean())}
        self.training_ = {
            "rows": int(len(labels)),
            "train_rows": int(len(idx)),
            "validation_rows": int(len(valid_idx)),
            "extra_texts": int(len(extra_tokens)),
            **reports,
            "class_counts": {str(c): int(n) for c, n in zip(classes.tolist(), np.bincount(y))},
            "epochs_run": len(history.get("loss", [])),
            **({"averaged": history["averaged"]} if "averaged" in history else {}),
            "seconds": round(time.perf_counter() - started, 1),
            "data_fingerprint": fingerprint or {},
            "metrics": metrics,
        }
        return self

    # -- prediction ----------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("this SentimentClassifier is not fitted; call fit(...) or SentimentClassifier.load(...)")

    def encode(self, texts: Iterable[str]) -> list[np.ndarray]:
        """Token ids for each text (tokenizer rebuilt from the model's config)."""
        self._check_fitted()
        tokens = self.tokenizer_.tokenize_many(check_texts(texts), workers=self.workers)
        return self.vocabulary_.encode_many(tokens)

    def predict_ids(self, ids: Sequence[np.ndarray], batch_size: int = 1024) -> np.ndarray:
        """Probabilities for encoded texts, ``(n, n_classes)`` in ``classes_`` order."""
        from .network import predict_sequences

        self._check_fitted()
        return predict_sequences(self._predict_fn, ids, self.config_, self.n_classes_, batch_size=batch_size)

    def predict_proba(self, X: Iterable[str]) -> np.ndarray:
        """Probabilities ``(n, n_classes)``, columns in ``classes_`` order."""
        return self.predict_ids(self.encode(X))

    def explain(self, texts: Iterable[str], batch_size: int = 1024) -> list["Explanation"]:
        """Per text: the prediction and each morpheme's span in the text and signed contribution to the
        predicted class (leave-one-token-out occlusion; see :mod:`sentiment.explain`)."""
        from .explain import explain

        self._check_fitted()
        return explain(self, texts, batch_size=batch_size)

    def predict(self, X: Iterable[str]) -> np.ndarray:
        """Predicted labels (values from ``classes_``)."""
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]

    # -- persistence ----------------------------------------------------------------------
    def save(self, path: str | Path, metrics: dict[str, Any] | None = None, model_card: str | None = None) -> Path:
        """Write a self-describing bundle directory (atomically); returns its path."""
        from .bundle import write_bundle
        from .network import scoring_copy

        self._check_fitted()
        training = dict(self.training_)
        training["metrics"] = {**training.get("metrics", {}), **(metrics or {})}
        meta = {
            "labels": self.classes_.tolist(),
            "tokenizer": self.tokenizer_.spec,
            "vocab_size": len(self.vocabulary_),
            "maxlen": self.config_.sequence.maxlen,
            "training": training,
        }
        extra = {"MODEL_CARD.md": model_card} if model_card else None
        return write_bundle(path, self.config_, self.vocabulary_, scoring_copy(self.model_), meta,
                            history=self.history_, extra_files=extra)

    @classmethod
    def load(cls, path: str | Path | None = None, *, workers: int = 1) -> "SentimentClassifier":
        """Load a bundle (the packaged default model when ``path`` is None); nothing is unpickled."""
        from .bundle import read_bundle
        from .network import make_predictor

        path = Path(path) if path is not None else default_model_path()
        config, vocab, model, meta = read_bundle(path)
        clf = cls(config=config, workers=workers)
        clf.config_ = config
        clf.classes_ = np.asarray(meta["labels"])
        clf.n_classes_ = len(clf.classes_)
        clf.vocabulary_ = vocab
        clf.model_ = model
        clf.tokenizer_ = Tokenizer(config.normalize, config.tokenizer)
        clf._predict_fn = make_predictor(model)
        clf.history_ = json.loads((path / "history.json").read_text()) if (path / "history.json").is_file() else {}
        clf.training_ = meta.get("training", {})
        clf.meta_ = meta
        return clf


def _keep_soup(model, soup: list[list[np.ndarray]], valid: tuple[list[np.ndarray], np.ndarray], cfg: Config,
               n_classes: int, seeds: list[int]) -> dict[str, Any]:
    """Set the mean of the students' weights (a uniform model soup), or the best student when it does better.

    The soup is kept when its validation accuracy is at least the best
    student's; without validation rows it is kept.
    """
    from .distill import _accuracy
    from .network import make_predictor, mean_weights, predict_sequences

    def accuracy(weights: list[np.ndarray]) -> float | None:
        model.set_weights(weights)
        return _accuracy(predict_sequences(make_predictor(model), valid[0], cfg, n_classes), valid[1])

    accuracies = [accuracy(weights) for weights in soup]
    mean = mean_weights(soup)
    soup_accuracy = accuracy(mean)
    kept = soup_accuracy is None or soup_accuracy >= max(accuracies)
    best = int(np.argmax([a or 0.0 for a in accuracies]))
    model.set_weights(mean if kept else soup[best])
    return {"students": len(soup), "seeds": seeds, "validation_accuracies": accuracies,
            "soup_validation_accuracy": soup_accuracy, "kept": bool(kept),
            **({} if kept else {"kept_student": best + 1})}


def _class_weights(cfg: Config, targets: np.ndarray, n_classes: int) -> np.ndarray | None:
    """Per-row weights for ``train.class_weight = "balanced"`` (soft targets count as their likeliest class)."""
    if cfg.train.class_weight != "balanced":
        return None
    from sklearn.utils.class_weight import compute_class_weight

    hard = targets.argmax(axis=1) if targets.ndim == 2 else targets
    present = np.unique(hard)
    weights = np.ones(n_classes)
    weights[present] = compute_class_weight("balanced", classes=present, y=hard)
    return weights[hard].astype(np.float32)


def check_texts(texts: Iterable[Any]) -> list[str]:
    """A list of str; anything else is refused with the position of the first bad value."""
    if isinstance(texts, str):
        raise DataError("expected a list of texts, got a single string; wrap it in a list: [text]")
    out = list(texts)
    for i, text in enumerate(out):
        if not isinstance(text, str):
            raise DataError(f"text #{i} is {text!r} ({type(text).__name__}), not a string; "
                            "convert or drop missing values first")
    return out


def check_labels(labels: Iterable[Any], n: int) -> np.ndarray:
    """Labels as an array; missing labels are refused."""
    arr = np.asarray(list(labels))
    if len(arr) != n:
        raise DataError(f"{n} texts but {len(arr)} labels")
    for i, value in enumerate(arr.tolist()):
        if value is None or (isinstance(value, float) and np.isnan(value)):
            raise DataError(f"label #{i} is missing; drop rows without a label first")
    if arr.dtype.kind == "f" and np.all(arr == np.round(arr)):
        arr = arr.astype(np.int64)
    return arr


def data_fingerprint(texts: Sequence[str], labels: np.ndarray) -> dict[str, Any]:
    """sha256 over texts and labels, with row count: identifies the training data."""
    digest = hashlib.sha256()
    for text, label in zip(texts, labels.tolist()):
        digest.update(text.encode("utf-8", "surrogatepass"))
        digest.update(b"\x1f")
        digest.update(str(label).encode("utf-8"))
        digest.update(b"\x1e")
    return {"sha256": digest.hexdigest(), "rows": len(texts)}
