"""Distillation: teachers trained on the labeled rows label unlabeled texts for the student.

The teachers are ``distill.teachers`` (Bi)LSTMs built like the student (with
``distill.teacher_lstm_units`` and seeds ``seed+1``, ``seed+2``, ...) and,
optionally, a character n-gram TF-IDF + logistic-regression model (with
morpheme n-grams and naive-Bayes feature scaling when asked). Each
trains on the student's training rows and stops early on the student's
validation rows, so those rows stay unseen by every model that shapes the
student. The mean of the teachers' probabilities on the transfer set (the
unlabeled texts) becomes the student's soft targets; with
``distill.student_init = "best_teacher"`` the student starts from the weights
of the LSTM teacher with the best validation accuracy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..config import Config
from ..errors import ConfigError
from ..model.tf_import import import_keras
from .teacher_cache import Teacher, TeacherCache, digest_arrays, digest_texts, teacher_key

Log = Callable[[str], None]


def _accuracy(proba: np.ndarray, y: np.ndarray) -> float | None:
    return float((proba.argmax(axis=1) == y).mean()) if len(y) else None


def lstm_teacher(
    cfg: Config,
    matrix: np.ndarray,
    index: int,
    train: tuple[list[np.ndarray], np.ndarray],
    valid: tuple[list[np.ndarray], np.ndarray],
    transfer_ids: Sequence[np.ndarray],
    n_classes: int,
    sample_weight: np.ndarray | None,
    verbose: int,
    encoder: list[np.ndarray] | None = None,
) -> Teacher:
    """Train teacher number ``index`` (1-based); returns (transfer proba, validation proba, report, weights).

    A pretrained ``encoder`` (:mod:`sentiment.model.pretrain`) initialises the teacher
    when its first layer has the student's size.
    """
    keras = import_keras()

    from ..model.network import build_model, fit_model, keras_predictor, predict_sequences
    from ..model.pretrain import initialise

    tcfg = _teacher_config(cfg, index)
    seed = tcfg.train.seed
    keras.utils.set_random_seed(seed)
    started = time.perf_counter()
    model = build_model(tcfg, matrix, n_classes)
    pretrained = encoder is not None and tcfg.model.lstm_units[0] == cfg.model.lstm_units[0]
    if pretrained:
        initialise(model, encoder)
    history = fit_model(
        model, tcfg, train, valid if len(valid[0]) else None, n_classes, sample_weight=sample_weight, verbose=verbose
    )
    predict = keras_predictor(model)
    transfer = predict_sequences(predict, transfer_ids, tcfg, n_classes)
    valid_proba = predict_sequences(predict, valid[0], tcfg, n_classes)
    layers = "→".join(f"{'BiLSTM' if tcfg.model.bidirectional else 'LSTM'}({u})" for u in tcfg.model.lstm_units)
    report = {
        "kind": "lstm",
        "network": layers,
        "seed": seed,
        "pretrained": pretrained,
        "epochs_run": len(history.get("loss", [])),
        **({"averaged": history["averaged"]} if "averaged" in history else {}),
        "validation_accuracy": _accuracy(valid_proba, valid[1]),
        "seconds": round(time.perf_counter() - started, 1),
    }
    weights = model.get_weights()
    keras.backend.clear_session()
    return transfer, valid_proba, report, weights


def _teacher_config(cfg: Config, index: int) -> Config:
    """The config LSTM teacher ``index`` trains with: the student's, with its own seed and layer sizes."""
    return cfg.with_overrides(
        {"train.seed": cfg.train.seed + index, "model.lstm_units": list(cfg.distill.teacher_lstm_units)}
    )


def check_config(cfg: Config, n_classes: int) -> None:
    """Raise :class:`ConfigError` for distillation settings that cannot work with ``n_classes`` classes."""
    d = cfg.distill
    low_high = d.char_ngram_range
    if len(low_high) != 2 or low_high[0] > low_high[1]:
        raise ConfigError(
            f"distill.char_ngram_range = {low_high!r} is invalid; expected [min, max] with min <= max, e.g. [2, 4]"
        )
    if d.student_init == "best_teacher" and (not d.teachers or d.teacher_lstm_units != cfg.model.lstm_units):
        raise ConfigError(
            f"distill.student_init = 'best_teacher' needs LSTM teachers shaped like the student; "
            f"distill.teachers = {d.teachers}, distill.teacher_lstm_units = {d.teacher_lstm_units}, "
            f"model.lstm_units = {cfg.model.lstm_units}. Set distill.teachers >= 1 and the same "
            f"units, or distill.student_init = 'none'"
        )
    if d.students > 1 and d.student_init != "best_teacher":
        raise ConfigError(
            f"distill.students = {d.students} needs distill.student_init = 'best_teacher' (a soup "
            f"averages students that start from the same weights); set it, or distill.students = 1"
        )
    if d.char_ngram_teacher and d.naive_bayes and n_classes != 2:
        raise ConfigError(
            f"distill.naive_bayes works with two classes; the labels have {n_classes}. Set distill.naive_bayes=false"
        )


def _nb_ratios(features: Any, y: np.ndarray) -> np.ndarray:
    """Naive-Bayes log-count ratios of the feature columns (class 1 against class 0), smoothed by 1."""
    positive = np.asarray(features[y == 1].sum(axis=0)).ravel() + 1.0
    negative = np.asarray(features[y == 0].sum(axis=0)).ravel() + 1.0
    return np.log((positive / positive.sum()) / (negative / negative.sum())).astype(np.float32)


def char_ngram_teacher(
    cfg: Config,
    train_texts: Sequence[str],
    train_y: np.ndarray,
    valid_texts: Sequence[str],
    valid_y: np.ndarray,
    transfer_texts: Sequence[str],
    n_classes: int,
    tokens: tuple[Sequence[Sequence[str]], ...] | None = None,
    sample_weight: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Char_wb n-gram TF-IDF (+ morpheme n-grams, NB scaling) + logistic regression on normalized texts.

    ``tokens`` holds the (train, valid, transfer) token lists; they are needed
    when ``distill.morpheme_ngrams`` is on. ``sample_weight`` (per training row,
    e.g. domain weights) multiplies the class weights of ``train.class_weight = "balanced"``; with
    "balanced_by_domain" the class weights must be in ``sample_weight`` already.
    """
    import scipy.sparse as sparse
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from ..text.normalize import Normalizer

    d = cfg.distill
    started = time.perf_counter()
    normalize = Normalizer(cfg.normalize)
    low, high = d.char_ngram_range
    vectorizers = [
        (
            TfidfVectorizer(
                analyzer="char_wb",
                ngram_range=(low, high),
                min_df=2,
                sublinear_tf=True,
                preprocessor=normalize,
                dtype=np.float32,
            ),
            0,
        )
    ]
    if d.morpheme_ngrams:
        if tokens is None:
            raise ConfigError(
                "distill.morpheme_ngrams needs the token lists of the texts; train with fit(), the "
                "pipeline or `sentiment train`, or set distill.morpheme_ngrams=0"
            )
        vectorizers.append(
            (
                TfidfVectorizer(
                    analyzer=lambda toks: _token_ngrams(toks, d.morpheme_ngrams),
                    min_df=2,
                    sublinear_tf=True,
                    dtype=np.float32,
                ),
                1,
            )
        )
    sources = [(train_texts, valid_texts, transfer_texts), tokens]

    def features(part: int, start: int = 0, stop: int | None = None, fit: bool = False) -> Any:
        blocks = []
        for vectorizer, source in vectorizers:
            rows = sources[source][part][start:stop]
            blocks.append(vectorizer.fit_transform(rows) if fit else vectorizer.transform(rows))
        return sparse.hstack(blocks, format="csr", dtype=np.float32)

    x_train = features(0, fit=True)
    ratios = _nb_ratios(x_train, train_y) if d.naive_bayes else None
    if ratios is not None:
        x_train = x_train.multiply(ratios).tocsr()
    weight = "balanced" if cfg.train.class_weight == "balanced" else None  # by domain: in ``sample_weight``
    model = LogisticRegression(C=d.char_ngram_c, max_iter=2000, class_weight=weight)
    model.fit(x_train, train_y, sample_weight=sample_weight)
    del x_train

    def proba(part: int, n_rows: int) -> np.ndarray:
        out = np.zeros((n_rows, n_classes), dtype=np.float32)
        for start in range(0, n_rows, 50_000):  # bounded memory for large transfer sets
            x = features(part, start, start + 50_000)
            if ratios is not None:
                x = x.multiply(ratios).tocsr()
            out[start : start + x.shape[0]][:, model.classes_] = model.predict_proba(x)
        return out

    transfer, valid_proba = proba(2, len(transfer_texts)), proba(1, len(valid_texts))
    report = {
        "kind": "char_ngram_tfidf_lr",
        "C": d.char_ngram_c,
        "char_ngrams": [low, high],
        "morpheme_ngrams": d.morpheme_ngrams,
        "naive_bayes": d.naive_bayes,
        "features": int(sum(len(v.vocabulary_) for v, _ in vectorizers)),
        "validation_accuracy": _accuracy(valid_proba, valid_y),
        "seconds": round(time.perf_counter() - started, 1),
    }
    return transfer, valid_proba, report


def _token_ngrams(tokens: Sequence[str], n: int) -> list[str]:
    """Token 1..n-grams, joined by a space (tokens never contain one)."""
    grams = list(tokens)
    for size in range(2, n + 1):
        grams.extend(" ".join(tokens[i : i + size]) for i in range(len(tokens) - size + 1))
    return grams


def teacher_probabilities(
    cfg: Config,
    matrix: np.ndarray,
    train: tuple[list[np.ndarray], np.ndarray],
    valid: tuple[list[np.ndarray], np.ndarray],
    transfer_ids: Sequence[np.ndarray],
    n_classes: int,
    *,
    texts: tuple[Sequence[str], Sequence[str], Sequence[str]] | None = None,
    tokens: tuple[Sequence[Sequence[str]], ...] | None = None,
    encoder: list[np.ndarray] | None = None,
    sample_weight: np.ndarray | None = None,
    domain_weight: np.ndarray | None = None,
    cache_dir: str | Path | None = None,
    verbose: int = 0,
    log: Log = lambda msg: None,
) -> tuple[np.ndarray, dict[str, Any], list[np.ndarray] | None]:
    """Mean teacher probabilities ``(len(transfer_ids), n_classes)``, a report of each teacher, the student's start.

    ``train``/``valid`` are (ids, class indices) of the student's own split;
    ``texts`` holds the raw (train, valid, transfer) texts, needed by the
    char-n-gram teacher only, ``tokens`` their token lists (for
    ``distill.morpheme_ngrams``); ``encoder`` holds pretrained weights for the LSTM teachers.
    With ``cache_dir``, teachers trained before on the same data and settings
    are reused from there and new ones are stored (:mod:`sentiment.training.teacher_cache`).
    The third value holds the weights of the LSTM teacher with the best
    validation accuracy when ``distill.student_init = "best_teacher"``, else None.
    """
    d = cfg.distill
    check_config(cfg, n_classes)
    if d.char_ngram_teacher and texts is None:
        raise ConfigError(
            "distill.char_ngram_teacher needs the raw texts; train with fit(), the pipeline or "
            "`sentiment train`, or set distill.char_ngram_teacher=false"
        )
    cache = TeacherCache(cache_dir) if cache_dir is not None else None
    lstm_data = ""
    if cache is not None and d.teachers:
        sha = digest_arrays([matrix, train[1], valid[1], *(encoder or [])])
        sha = digest_arrays([*train[0], *valid[0], *transfer_ids], sha)
        lstm_data = digest_arrays([] if sample_weight is None else [sample_weight], sha).hexdigest()

    def cached(
        index: int | str, what: str, kind: str, settings: dict[str, Any], data: str, build: Callable[[], Teacher]
    ) -> Teacher:
        key = teacher_key(kind, settings, data) if cache is not None else ""
        teacher = cache.load(index, key) if cache is not None else None
        if teacher is not None:
            teacher[2]["reused"] = True
            return teacher
        log(f"distill: training {what}")
        teacher = build()
        if cache is not None:
            cache.save(index, key, teacher)
        return teacher

    results: list[Teacher] = []
    for index in range(1, d.teachers + 1):
        tcfg = _teacher_config(cfg, index)
        settings = {**tcfg.to_dict(), "encoder": encoder is not None, "n_classes": n_classes}
        for section in ("normalize", "tokenizer", "word2vec", "distill"):  # already in the data digest or unused
            settings.pop(section, None)
        results.append(
            cached(
                index,
                f"teacher {index}/{d.teachers} (LSTM)",
                "lstm",
                settings,
                lstm_data,
                lambda index=index: lstm_teacher(
                    cfg, matrix, index, train, valid, transfer_ids, n_classes, sample_weight, verbose, encoder
                ),
            )
        )
        report = results[-1][2]
        log(
            f"distill: teacher {index}/{d.teachers} (LSTM): validation accuracy {report['validation_accuracy']}, "
            f"{report['seconds']} s{' (reused)' if report.get('reused') else ''}"
        )
    for name in d.teacher_models:
        results.append(model_teacher(cfg, name, tokens, n_classes, valid[1], log))
    if d.char_ngram_teacher:
        train_texts, valid_texts, transfer_texts = texts
        data = ""
        # "balanced_by_domain": the row weights the LSTM teachers get (class weights within each domain, domain and
        # noise weights); "balanced": the logistic regression's own class weights times the domain weights
        ngram_weight = sample_weight if cfg.train.class_weight == "balanced_by_domain" else domain_weight
        if cache is not None:
            sha = digest_texts([*train_texts, *valid_texts, *transfer_texts])
            if d.morpheme_ngrams and tokens is not None:
                sha = digest_texts([toks for part in tokens for toks in part], sha)
            data = digest_arrays(
                [train[1], valid[1], *([] if ngram_weight is None else [ngram_weight])], sha
            ).hexdigest()
        sections = cfg.to_dict()
        settings = {
            "distill": {
                k: v
                for k, v in sections["distill"].items()
                if k.startswith("char_ngram_") or k in ("morpheme_ngrams", "naive_bayes")
            },
            "normalize": sections["normalize"],
            "class_weight": cfg.train.class_weight,
            "n_classes": n_classes,
        }
        results.append(
            cached(
                "ngram",
                "the char n-gram teacher",
                "char_ngram",
                settings,
                data,
                lambda: (
                    *char_ngram_teacher(
                        cfg,
                        train_texts,
                        train[1],
                        valid_texts,
                        valid[1],
                        transfer_texts,
                        n_classes,
                        tokens=tokens,
                        sample_weight=ngram_weight,
                    ),
                    None,
                ),
            )
        )
        report = results[-1][2]
        log(
            f"distill: char n-gram teacher: validation accuracy {report['validation_accuracy']}, "
            f"{report['seconds']} s{' (reused)' if report.get('reused') else ''}"
        )
    valid_probas = [teacher[1] for teacher in results]
    weights, share = teacher_weights(cfg, valid_probas, valid[1])
    soft = np.average([teacher[0] for teacher in results], axis=0, weights=weights).astype(np.float32)
    valid_mean = np.average(valid_probas, axis=0, weights=weights)
    reports = [teacher[2] for teacher in results]
    summary = {
        "teachers": reports,
        "transfer_rows": len(transfer_ids),
        "teacher_weights": [round(float(w), 4) for w in weights],
        "ensemble_validation_accuracy": _accuracy(valid_mean, valid[1]),
        "transfer_class_shares": [round(float(v), 4) for v in soft.mean(axis=0)],
    }
    if share is not None:
        summary["char_ngram_share"] = share
        summary["equal_weights_validation_accuracy"] = _accuracy(np.mean(valid_probas, axis=0), valid[1])
    start = None
    if d.student_init == "best_teacher":
        best = max(range(d.teachers), key=lambda i: (reports[i]["validation_accuracy"] or 0.0, -i))
        start = results[best][3]
        summary["student_init"] = {"teacher": best + 1, "validation_accuracy": reports[best]["validation_accuracy"]}
    log(
        f"distill: teacher weights {summary['teacher_weights']}, ensemble validation accuracy "
        f"{summary['ensemble_validation_accuracy']}"
    )
    return soft, summary, start


def _teacher_source(cfg: Config, name: str, n_classes: int):
    """The bundle ``name`` read as a teacher; errors when its tokens or classes would not match ``cfg``'s."""
    from .transfer import load_source

    source = load_source(name)
    mine, theirs = cfg.to_dict(), source.config_.to_dict()
    differ = [s for s in ("normalize", "tokenizer") if mine[s] != theirs[s]]
    if differ:
        raise ConfigError(
            f"distill.teacher_models: {name!r} was trained with other [{'], ['.join(differ)}] settings than "
            f"this config, so its tokens would differ; use a teacher with the same tokenizer or change the config"
        )
    if source.n_classes_ != n_classes:
        raise ConfigError(
            f"distill.teacher_models: {name!r} predicts {source.n_classes_} classes "
            f"{source.classes_.tolist()}; the data has {n_classes}; use a teacher trained on the same labels"
        )
    return source


def _source_proba(source, token_lists: Sequence[Sequence[str]], n_classes: int) -> np.ndarray:
    from ..model.network import keras_predictor, predict_sequences

    ids = source.vocabulary_.encode_many(token_lists)
    return predict_sequences(keras_predictor(source.model_), ids, source.config_, n_classes).astype(np.float32)


def model_teacher(
    cfg: Config,
    name: str,
    tokens: tuple[Sequence[Sequence[str]], ...] | None,
    n_classes: int,
    valid_y: np.ndarray,
    log: Log = lambda msg: None,
) -> Teacher:
    """A trained bundle as a teacher: its probabilities on the transfer set and the validation rows.

    The bundle reads the same tokens (its ``[normalize]`` and ``[tokenizer]`` must equal ``cfg``'s) and
    predicts the same classes in the same order; its vocabulary encodes the tokens.
    """
    if tokens is None:
        raise ConfigError(
            f"distill.teacher_models needs the token lists of the texts; train with fit(), the pipeline or "
            f"`sentiment train`, or remove {name!r} from distill.teacher_models"
        )
    started = time.perf_counter()
    source = _teacher_source(cfg, name, n_classes)
    log(f"distill: teacher model {name}: {len(tokens[2]):,} unlabeled and {len(tokens[1]):,} validation texts")
    transfer, valid_proba = _source_proba(source, tokens[2], n_classes), _source_proba(source, tokens[1], n_classes)
    report = {
        "kind": "model",
        "model": str(name),
        "network": f"the bundle {name} ("
        + "→".join(
            f"{'BiLSTM' if source.config_.model.bidirectional else 'LSTM'}({u})"
            for u in source.config_.model.lstm_units
        )
        + ")",
        "validation_accuracy": _accuracy(valid_proba, valid_y),
        "seconds": round(time.perf_counter() - started, 1),
    }
    log(f"distill: teacher model {name}: validation accuracy {report['validation_accuracy']}")
    return transfer, valid_proba, report, None


def teacher_models_on(cfg: Config, token_lists: Sequence[Sequence[str]], n_classes: int) -> np.ndarray:
    """The mean probabilities of ``distill.teacher_models`` on ``token_lists`` (e.g. the labeled training rows)."""
    probas = [
        _source_proba(_teacher_source(cfg, name, n_classes), token_lists, n_classes)
        for name in cfg.distill.teacher_models
    ]
    return np.mean(probas, axis=0).astype(np.float32)


SHARES = tuple(round(0.05 * i, 2) for i in range(1, 20))  # 0.05 ... 0.95


def lowest_log_loss_share(
    base: np.ndarray, other: np.ndarray, y: np.ndarray, shares: Sequence[float] = SHARES
) -> float:
    """The share ``s`` of ``shares`` whose mix ``(1 - s) * base + s * other`` has the lowest log-loss on ``y``."""
    rows = np.arange(len(y))

    def log_loss(share: float) -> float:
        mix = (1 - share) * base + share * other
        return float(-np.log(np.clip(mix[rows, y], 1e-7, 1.0)).mean())

    return min(shares, key=log_loss)


def teacher_weights(
    cfg: Config, valid_probas: Sequence[np.ndarray], valid_y: np.ndarray
) -> tuple[np.ndarray, float | None]:
    """Weights of the teachers' mean (the char-n-gram teacher last) and the share chosen on validation, if any.

    ``distill.char_ngram_share = "validation"`` gives the char-n-gram teacher the
    share of :data:`SHARES` whose mix has the lowest log-loss on the validation
    rows; the LSTM teachers split the rest equally. Otherwise every teacher
    weighs the same.
    """
    n = len(valid_probas)
    d = cfg.distill
    if not (d.char_ngram_teacher and d.char_ngram_share == "validation" and n > 1 and len(valid_y)):
        return np.full(n, 1.0 / n), None
    share = lowest_log_loss_share(np.mean(valid_probas[:-1], axis=0), valid_probas[-1], valid_y)
    weights = np.full(n, (1 - share) / (n - 1))
    weights[-1] = share
    return weights, share
