"""The app-facing classifier, following scikit-learn's estimator contract.

>>> clf = SentimentClassifier.load()                # the default model shipped with the package
>>> clf.predict(["배우 연기 정말 최고", "시간 아깝다"])
>>> SentimentClassifier(tagger="mecab", epochs=3).fit(texts, labels).save("models/mine")

``__init__`` only stores hyperparameters (``None`` means "take it from
``config``, else the default config"); ``fit`` returns ``self``; everything
learned ends in ``_``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .config import Config
from .estimator import EstimatorAPI
from .model.bundle import default_model_path
from .text.checks import check_labels, check_texts, data_fingerprint
from .text.tokenizers import Tokenizer
from .text.vocab import Vocabulary

if TYPE_CHECKING:
    from .analysis.explain import Explanation
    from .model.onnx_int8 import Int8Graph

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


class SentimentClassifier(EstimatorAPI):
    """KoNLPy tokens → Word2Vec → padded ids → (Bi)LSTM, as a scikit-learn classifier."""

    # Set by fit/load (scikit-learn's trailing underscore), declared for type checkers.
    config_: Config
    classes_: np.ndarray
    n_classes_: int
    vocabulary_: Vocabulary
    tokenizer_: Tokenizer
    runtime_: str
    history_: dict[str, Any]
    training_: dict[str, Any]
    meta_: dict[str, Any]
    _bundle_path: Path

    def __init__(
        self,
        config: Config | dict | str | None = None,
        *,
        tagger: str | None = None,
        vector_size: int | None = None,
        w2v_epochs: int | None = None,
        min_count: int | None = None,
        maxlen: int | None = None,
        lstm_units: Sequence[int] | None = None,
        bidirectional: bool | None = None,
        dropout: float | None = None,
        embedding_trainable: bool | None = None,
        optimizer: str | None = None,
        learning_rate: float | None = None,
        batch_size: int | None = None,
        epochs: int | None = None,
        validation_split: float | None = None,
        seed: int | None = None,
        teachers: int | None = None,
        workers: int = 1,
        verbose: int = 0,
    ) -> None:
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
    def fit(
        self,
        X: Iterable[str],
        y: Iterable[Any],
        *,
        extra_texts: Iterable[str] = (),
        domains: Iterable[Any] | None = None,
        positive_label: Any = None,
        positive_from: float | None = None,
    ) -> SentimentClassifier:
        """Tokenize, train Word2Vec (on ``X`` plus ``extra_texts``), train the LSTM; returns ``self``.

        With distillation on (``teachers`` or ``distill.char_ngram_teacher``), the
        teachers label ``extra_texts`` and the LSTM also learns from those labels.
        ``domains`` (one name per row of ``X``) weights each domain by ``train.domain_balance``.
        Two label values read as negative/positive (긍정/부정, 1/0, ...; ``positive_label`` names the positive one,
        ``positive_from`` reads star ratings) keep their names and, with ``train.init_from = "auto"`` (the
        default), training starts from the packaged model.
        """
        cfg = self.resolved_config()
        texts = check_texts(X)
        labels = check_labels(y, len(texts))
        tokenizer = Tokenizer(cfg.normalize, cfg.tokenizer)
        progress = None if self.verbose else False
        tokens = tokenizer.tokenize_many(texts, workers=self.workers, show_progress=progress)
        extra = check_texts(extra_texts)
        extra_tokens = tokenizer.tokenize_many(extra, workers=self.workers, show_progress=progress) if extra else []
        return self.fit_tokens(
            tokens,
            labels,
            cfg=cfg,
            extra_tokens=extra_tokens,
            texts=texts,
            extra_texts=extra,
            domains=None if domains is None else [str(d) for d in domains],
            fingerprint=data_fingerprint(texts, labels),
            positive_label=positive_label,
            positive_from=positive_from,
        )

    def fit_tokens(
        self,
        tokens: Sequence[Sequence[str]],
        labels: np.ndarray,
        *,
        cfg: Config | None = None,
        extra_tokens: Sequence[Sequence[str]] = (),
        keyed_vectors=None,
        fingerprint: dict[str, Any] | None = None,
        texts: Sequence[str] | None = None,
        extra_texts: Sequence[str] | None = None,
        domains: Sequence[str] | None = None,
        extra_domains: Sequence[str] | None = None,
        teacher_cache: str | Path | None = None,
        positive_label: Any = None,
        positive_from: float | None = None,
        log: Callable[[str], None] = lambda msg: None,
    ) -> SentimentClassifier:
        """Train from already tokenized texts (the pipeline stages call this directly).

        ``extra_tokens`` are unlabeled: Word2Vec reads them (unless ``keyed_vectors``
        is given) and, with distillation on, the teachers label them for the
        student (:mod:`sentiment.training.distill`). ``texts``/``extra_texts`` (the raw
        texts) are needed only by the char-n-gram teacher. ``domains``/``extra_domains``
        name each row's domain (per-domain weights, ``train.domain_balance``).
        ``teacher_cache`` is a directory where trained teachers are kept and reused
        on a rerun with the same data and teacher settings. The recipe itself lives in
        :func:`sentiment.training.recipe.train_network`.
        """
        from .training.recipe import train_network

        cfg = cfg or self.resolved_config()
        trained = train_network(
            cfg,
            tokens,
            labels,
            extra_tokens=extra_tokens,
            keyed_vectors=keyed_vectors,
            fingerprint=fingerprint,
            texts=texts,
            extra_texts=extra_texts,
            domains=domains,
            extra_domains=extra_domains,
            teacher_cache=teacher_cache,
            positive_label=positive_label,
            positive_from=positive_from,
            verbose=self.verbose,
            log=log,
        )
        return self._set_trained(cfg, trained)

    def _set_trained(self, cfg: Config, trained) -> SentimentClassifier:
        """Store a :class:`sentiment.training.recipe.Trained` as the fitted attributes; returns ``self``."""
        from .model.network import keras_predictor

        self.config_ = cfg
        self.classes_ = trained.classes
        self.n_classes_ = len(trained.classes)
        self.vocabulary_ = trained.vocabulary
        self.model_ = trained.model
        self.tokenizer_ = Tokenizer(cfg.normalize, cfg.tokenizer)
        self._predict_fn = keras_predictor(trained.model)
        self.runtime_ = "keras"
        self.history_ = trained.history
        self.training_ = trained.report
        self.decision_ = None
        fitted = trained.report.get("decision")  # finetune.fit_threshold: a skewed class mix, held-out rows
        if fitted:
            from .model.decision import DecisionRule

            self.decision_ = DecisionRule(threshold=fitted["threshold"], method="validation macro-F1", details=fitted)
        return self

    def adapt(
        self,
        texts: Iterable[str],
        labeled: tuple[Iterable[str], Iterable[Any]] | None = None,
        *,
        sample: Iterable[Any] | None = None,
        config: Config | dict | None = None,
        log: Callable[[str], None] = lambda msg: None,
    ) -> SentimentClassifier:
        """A new classifier fitted to ``texts`` (unlabeled comments of a new kind); ``self`` is unchanged.

        ``labeled`` = (texts, labels) adds a few rows labeled by you: the model learns from most of them, and a
        held-out part (``adapt.holdout_share``) measures the source and adapted models; a decision threshold is
        chosen from the labels (``decision_``, ``training_["adaptation"]["decision"]``). ``sample`` says per
        labeled row how it was chosen ("audit": at random; :meth:`select_for_labeling`'s ``sample`` column);
        30+ audit rows give the class mix. ``config`` overrides the ``[adapt]`` settings (a Config, or a dict
        such as ``{"adapt.epochs": 3}``). See :mod:`sentiment.training.adaptation`.
        """
        from .training.adaptation import adapt_classifier

        self._check_fitted()
        cfg = config if isinstance(config, Config) else self.config_.with_overrides(config or {})
        pairs = None if labeled is None else (list(labeled[0]), list(labeled[1]))
        return adapt_classifier(
            self,
            list(texts),
            labeled=pairs,
            labeled_sample=None if sample is None else list(sample),
            cfg=cfg,
            workers=self.workers,
            verbose=self.verbose,
            log=log,
        )

    def select_for_labeling(
        self,
        texts: Iterable[Any],
        n: int = 300,
        *,
        audit_share: float = 0.3,
        seed: int = 0,
        log: Callable[[str], None] = lambda msg: None,
    ):
        """Which ``n`` of ``texts`` to label: a DataFrame in labeling order with ``row`` (position in ``texts``),
        ``sample`` (``"audit"``: a uniform random sample, ``round(n * audit_share)`` rows, for unbiased figures;
        ``"informative"``: uncertain under this model, diverse, no near-duplicates), ``prob_1`` (this model's
        P(positive)) and ``text``. Missing or blank texts are never chosen. See :mod:`sentiment.training.selection`.
        """
        from .training.selection import check_selection_args, select_rows

        self._check_fitted()
        texts = list(texts)
        usable = [i for i, t in enumerate(texts) if isinstance(t, str) and t.strip()]
        check_selection_args(len(usable), n, audit_share)  # before the (slow) scoring
        proba = np.full((len(texts), self.n_classes_), 1.0 / self.n_classes_)
        if usable:
            proba[usable] = self.predict_proba([texts[i] for i in usable])
        return select_rows(texts, proba, n, audit_share=audit_share, seed=seed, log=log)

    # -- prediction ----------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "_predict_fn"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(
                "this SentimentClassifier is not fitted; call fit(...) or SentimentClassifier.load(...)"
            )

    def encode(self, texts: Iterable[str]) -> list[np.ndarray]:
        """Token ids for each text (tokenizer rebuilt from the model's config)."""
        self._check_fitted()
        tokens = self.tokenizer_.tokenize_many(check_texts(texts), workers=self.workers)
        return self.vocabulary_.encode_many(tokens)

    def predict_ids(self, ids: Sequence[np.ndarray], batch_size: int = 256) -> np.ndarray:
        """Probabilities for encoded texts, ``(n, n_classes)`` in ``classes_`` order."""
        from .model.runtime import predict_sequences

        self._check_fitted()
        return predict_sequences(self._predict_fn, ids, self.config_, self.n_classes_, batch_size=batch_size)

    def predict_proba(self, X: Iterable[str]) -> np.ndarray:
        """Probabilities ``(n, n_classes)``, columns in ``classes_`` order."""
        return self.predict_ids(self.encode(X))

    def explain(self, texts: Iterable[str], batch_size: int = 1024) -> list[Explanation]:
        """Per text: the prediction and each morpheme's span in the text and signed contribution to the
        predicted class (leave-one-token-out occlusion; see :mod:`sentiment.analysis.explain`)."""
        from .analysis.explain import explain

        self._check_fitted()
        return explain(self, texts, batch_size=batch_size)

    def predict(self, X: Iterable[str], threshold: float | None = None) -> np.ndarray:
        """Predicted labels (values from ``classes_``): by the bundle's fitted decision rule (``decision_``, e.g.
        a threshold fitted by ``adapt``) when it has one, else the likeliest class. ``threshold`` (two-class
        models): predict the second class when its probability is at least this, whatever the rule."""
        return self.decide(self.predict_proba(X), threshold)

    def decide(self, proba: np.ndarray, threshold: float | None = None) -> np.ndarray:
        """The labels for probabilities ``proba`` (n, n_classes): ``threshold`` when given, else ``decision_``,
        else the likeliest class (see :mod:`sentiment.model.decision`)."""
        from .model.decision import decide

        self._check_fitted()
        return decide(proba, self.classes_, threshold, getattr(self, "decision_", None))

    # -- persistence ----------------------------------------------------------------------
    def save(self, path: str | Path, metrics: dict[str, Any] | None = None, model_card: str | None = None) -> Path:
        """Write a self-describing bundle directory (atomically); returns its path."""
        from .model.bundle import write_bundle
        from .model.network import scoring_copy

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
        decision = getattr(self, "decision_", None)
        if decision is not None:
            meta["decision"] = decision.to_dict(self.classes_.tolist())
        extra = {"MODEL_CARD.md": model_card} if model_card else None
        return write_bundle(
            path,
            self.config_,
            self.vocabulary_,
            scoring_copy(self.model_),
            meta,
            history=self.history_,
            extra_files=extra,
        )

    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        *,
        runtime: str = "auto",
        precision: str = "auto",
        workers: int = 1,
        threads: int | None = None,
        int8_graph: Int8Graph | None = None,
    ) -> SentimentClassifier:
        """Load a bundle (the packaged default model when ``path`` is None); nothing is unpickled.

        ``runtime``: "auto" runs the bundle's ONNX graph in ONNX Runtime when it
        has one (``model.onnx``) and Keras otherwise; "onnx" requires the graph;
        "keras" runs the Keras model (imports TensorFlow). ``precision``: "auto"
        (default) is the precision the bundle recorded as its default, else fp32;
        "fp32" scores in full precision; "int8" (ONNX only) runs the statically
        quantized graph built at load time (:mod:`sentiment.model.onnx_int8`):
        about half the inference CPU, probabilities within about 0.01 of fp32.
        With either, a comment's probability depends on the comment alone, never
        on the rows scored with it (in any batch, order, chunk, engine or service
        micro-batch). ``threads``:
        ONNX Runtime's intra-op threads (default: the cores available).
        ``int8_graph``: the int8 graph built already from this bundle
        (:func:`sentiment.model.bundle.bundle_int8_graph`; refused if built from
        another), used in place: processes that map the same one share its tables
        (the Ray engine builds it once for all its actors).
        Without Keras in use, TensorFlow is never imported; ``model_`` (the
        Keras model) is still available and is loaded on first access.
        """
        from .errors import BundleError, SentimentError
        from .model.bundle import ONNX_FILE, backend, load_keras_model, read_bundle, read_verified
        from .model.decision import DecisionRule
        from .model.network import keras_predictor
        from .model.runtime import check_runtime, onnx_predictor

        check_runtime(runtime, precision)
        path = Path(path) if path is not None else default_model_path()
        config, vocab, _, meta = read_bundle(path, keras_model=False)
        has_onnx = ONNX_FILE in meta.get("files", {})
        use_keras, precision = backend(runtime, precision, meta)
        if int8_graph is not None and (use_keras or precision != "int8"):
            raise SentimentError(
                f"int8_graph is for a model run in int8 with ONNX Runtime; this load runs "
                f"{'Keras' if use_keras else 'ONNX Runtime'} in {precision}: leave int8_graph out, or load "
                f"with precision='int8'"
            )
        if not (use_keras or has_onnx) or (use_keras and precision != "fp32"):
            needs = f"precision {precision!r}" if precision != "fp32" else f"runtime {runtime!r}"
            raise BundleError(
                f"{needs} needs an ONNX graph ({ONNX_FILE}), and {path} has none; add it with "
                f"`sentiment export --model {path} --in-place` (or --out NEW_DIR), or use "
                "--runtime keras with --precision fp32"
            )
        clf = cls(config=config, workers=workers)
        clf.config_ = config
        clf.classes_ = np.asarray(meta["labels"])
        clf.n_classes_ = len(clf.classes_)
        clf.vocabulary_ = vocab
        clf.tokenizer_ = Tokenizer(config.normalize, config.tokenizer)
        clf._bundle_path = path
        if use_keras:
            clf.model_ = model = load_keras_model(path, meta)
            clf._predict_fn = keras_predictor(model)
            clf.runtime_ = "keras"
        else:
            graph = read_verified(path, ONNX_FILE, meta)
            clf._predict_fn = onnx_predictor(graph, config, precision=precision, threads=threads, int8=int8_graph)
            clf.runtime_ = "onnx" if precision == "fp32" else f"onnx-{precision}"
        clf.history_ = json.loads((path / "history.json").read_text()) if (path / "history.json").is_file() else {}
        clf.training_ = meta.get("training", {})
        clf.decision_ = (
            DecisionRule.from_dict(meta["decision"], clf.classes_.tolist(), f"{path / 'meta.json'}")
            if meta.get("decision") is not None
            else None
        )
        clf.meta_ = meta
        return clf

    @property
    def model_(self):
        """The Keras model; a loaded classifier that scores with ONNX reads it (and imports TensorFlow) on first
        access."""
        model = self.__dict__.get("_keras_model")
        if model is None:
            path = self.__dict__.get("_bundle_path")
            if path is None:
                raise AttributeError("model_")
            from .model.bundle import load_keras_model

            model = self._keras_model = load_keras_model(path, self.meta_)
        return model

    @model_.setter
    def model_(self, model) -> None:
        self._keras_model = model


def audit_labels(
    texts: Iterable[str],
    labels: Iterable[Any],
    model: str | Path | SentimentClassifier | Literal[False] | None = None,
    *,
    folds: int = 5,
    seed: int = 0,
    workers: int = 0,
    where: str = "the data",
    log: Callable[[str], None] | None = None,
) -> Any:
    """The rows whose label is likely wrong, most suspicious first, as a pandas DataFrame.

    Columns: ``row`` (0-based position in ``texts``), ``text``, ``given_label``,
    ``suggested_label``, ``score`` (1 - the out-of-fold probability of the given
    label), ``p_given``, ``p_suggested``; ``.attrs["summary"]`` holds the counts
    and label pairs. ``model``: a bundle directory or a loaded classifier whose
    probabilities are mixed with per-fold char n-gram models (None: the packaged
    model; False: the n-gram models alone, for labels the model does not know
    or its own training data). ``workers``: processes fitting the folds (0: one
    per core). ``where`` names the data in error messages.
    Needs cleanlab (``pip install "sentiment[audit]"``).
    See :mod:`sentiment.training.audit`.
    """
    from .training.audit import Predictor, check_audit_input, require_cleanlab
    from .training.audit import audit_labels as run_audit

    require_cleanlab()  # these checks before a model loads
    texts = check_texts(texts)
    labels = check_labels(labels, len(texts))
    check_audit_input(texts, labels, folds, where, workers)
    predictor = None
    if model is not False:
        clf = model if isinstance(model, SentimentClassifier) else SentimentClassifier.load(model)
        name = (
            str(model) if isinstance(model, (str, Path)) else ("default (packaged)" if model is None else "passed in")
        )
        predictor = Predictor(clf.predict_proba, clf.classes_, name)
    return run_audit(
        texts, labels, predictor, folds=folds, seed=seed, workers=workers, where=where, log=log or (lambda msg: None)
    )
