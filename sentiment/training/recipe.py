"""The training recipe behind ``SentimentClassifier.fit``: Word2Vec, pretraining, distillation, the network.

:func:`train_network` takes tokenized texts and labels (plus unlabeled texts and, with several domains, the
domain of each row) and returns a :class:`Trained` holding everything a classifier needs. The estimator
(:mod:`sentiment.classifier`) only calls it and stores the result, as spaCy keeps its training loop beside
``Language``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..config import Config
from .domains import UNLABELED, combine_weights, domain_weights
from ..errors import ConfigError, DataError
from .transfer import Trained


def train_network(cfg: Config, tokens: Sequence[Sequence[str]], labels: np.ndarray, *,
                  extra_tokens: Sequence[Sequence[str]] = (), keyed_vectors=None,
                  fingerprint: dict[str, Any] | None = None, texts: Sequence[str] | None = None,
                  extra_texts: Sequence[str] | None = None, domains: Sequence[str] | None = None,
                  extra_domains: Sequence[str] | None = None, teacher_cache: str | Path | None = None,
                  verbose: int = 0, log: Callable[[str], None] = lambda msg: None) -> Trained:
    """Train from tokenized texts; see :meth:`SentimentClassifier.fit_tokens`.

    ``domains``/``extra_domains`` (one name per labeled/unlabeled row) switch on per-domain weights
    (``train.domain_balance``), a validation split stratified by domain and class, and per-domain
    validation figures.
    """
    from sklearn.model_selection import train_test_split

    from ..model.tf_import import import_keras
    from .transfer import network_from
    from .distill import check_config, teacher_probabilities
    from ..text.embeddings import embedding_matrix, train_word2vec, vocabulary_from_vectors
    from ..model.network import build_model, fit_model, make_predictor, predict_sequences
    from ..model.pretrain import initialise, pretrain_encoder

    labels = np.asarray(labels)
    classes = np.unique(labels)
    if len(classes) < 2:
        raise DataError(f"training needs at least two classes; the labels only contain {classes.tolist()}")
    if len(tokens) != len(labels):
        raise DataError(f"{len(tokens)} texts but {len(labels)} labels")
    if domains is not None and len(domains) != len(labels):
        raise DataError(f"{len(labels)} labels but {len(domains)} domain names")
    if cfg.distill.enabled and not len(extra_tokens):
        raise ConfigError("distillation is on (distill.teachers or distill.char_ngram_teacher) but there are no "
                          "unlabeled texts to label; set word2vec.extra_texts (or pass --extra-texts), "
                          "or turn distillation off with distill.teachers=0")
    n_classes = len(classes)
    if cfg.distill.enabled:
        check_config(cfg, n_classes)
    seed = cfg.train.seed
    keras = import_keras()
    keras.utils.set_random_seed(seed)
    started = time.perf_counter()
    domain_arr = None if domains is None else np.asarray([str(d) for d in domains], dtype=object)
    multi_domain = domain_arr is not None and len(set(domain_arr.tolist())) > 1
    reports: dict[str, Any] = {}
    if multi_domain and cfg.train.domain_max_rows:
        keep = _capped(domain_arr, cfg.train.domain_max_rows, seed)
        if len(keep) < len(labels):
            reports["domain_max_rows"] = {"limit": cfg.train.domain_max_rows, "kept": int(len(keep)),
                                          "of": int(len(labels))}
            tokens, labels, domain_arr = [tokens[i] for i in keep], labels[keep], domain_arr[keep]
            texts = None if texts is None else [texts[i] for i in keep]
    y = np.searchsorted(classes, labels)
    source = None
    if cfg.train.init_from:
        source, vocab, matrix, reports["init_from"] = _start_from(cfg, classes, [*tokens, *extra_tokens],
                                                                  keyed_vectors, log)
    else:
        if keyed_vectors is None:
            keyed_vectors = train_word2vec([*tokens, *extra_tokens], cfg.word2vec, seed=seed)
        vocab = vocabulary_from_vectors(keyed_vectors, cfg.word2vec.max_vocab)
        matrix = embedding_matrix(vocab, keyed_vectors, seed)
    ids = vocab.encode_many(tokens)

    idx = np.arange(len(ids))
    valid_idx = np.array([], dtype=int)
    if cfg.train.validation_split > 0 and len(ids) >= 10:
        strata = y if not multi_domain else np.asarray([f"{d}\x1f{c}" for d, c in zip(domain_arr, y)])
        counts = np.unique(strata, return_counts=True)[1]
        stratify = strata if counts.min() >= 2 else (y if np.bincount(y).min() >= 2 else None)
        idx, valid_idx = train_test_split(idx, test_size=cfg.train.validation_split, random_state=seed,
                                          stratify=stratify)
    train_ids, targets = [ids[i] for i in idx], y[idx]
    valid = ([ids[i] for i in valid_idx], y[valid_idx])
    train_domains = domain_arr[idx] if multi_domain else None
    transfer_ids = vocab.encode_many(extra_tokens) if cfg.distill.enabled or cfg.pretrain.epochs else []
    encoder = start = None
    if cfg.pretrain.epochs:  # the validation rows stay unseen
        encoder, reports["pretrain"] = pretrain_encoder(cfg, matrix, train_ids + transfer_ids, log=log)
    teacher_domain_weights = domain_weights(train_domains, cfg.train.domain_balance)
    if cfg.distill.enabled:
        raw = None
        if texts is not None and extra_texts is not None:
            raw = ([texts[i] for i in idx], [texts[i] for i in valid_idx], list(extra_texts))
        token_parts = ([tokens[i] for i in idx], [tokens[i] for i in valid_idx], extra_tokens)
        soft, reports["distill"], start = teacher_probabilities(
            cfg, matrix, (train_ids, targets), valid, transfer_ids, n_classes, texts=raw, tokens=token_parts,
            encoder=encoder, sample_weight=combine_weights(class_weights(cfg, targets, n_classes),
                                                           teacher_domain_weights),
            domain_weight=teacher_domain_weights, cache_dir=teacher_cache, verbose=verbose, log=log)
        keras.utils.set_random_seed(seed)
        train_ids = train_ids + transfer_ids
        targets = np.vstack([np.eye(n_classes, dtype=np.float32)[targets], soft])
        if train_domains is not None:
            extra = extra_domains if extra_domains is not None else [UNLABELED] * len(transfer_ids)
            train_domains = np.concatenate([train_domains, np.asarray([str(d) for d in extra], dtype=object)])
    student_cfg = cfg
    if cfg.distill.enabled and cfg.distill.student_epochs:
        student_cfg = cfg.with_overrides({"train.epochs": cfg.distill.student_epochs})
    n_students = cfg.distill.students if start is not None else 1
    row_weights = combine_weights(class_weights(cfg, targets, n_classes),
                                  domain_weights(train_domains, cfg.train.domain_balance))
    soup: list[list[np.ndarray]] = []
    seeds: list[int] = []
    for k in range(n_students):
        kcfg = student_cfg
        if k:  # the next student of a soup: same start, its own seed (data order, dropout)
            kcfg = student_cfg.with_overrides({"train.seed": seed + 1000 * k})
            keras.backend.clear_session()
            keras.utils.set_random_seed(kcfg.train.seed)
            log(f"distill: student {k + 1}/{n_students}")
        model = build_model(cfg, matrix, n_classes) if source is None else network_from(source, cfg, matrix)
        if start is not None:
            model.set_weights(start)
        elif encoder is not None:
            initialise(model, encoder)
        fitted = fit_model(model, kcfg, (train_ids, targets), valid if len(valid_idx) else None, n_classes,
                           sample_weight=row_weights, verbose=verbose)
        if not k:
            history = fitted
        if n_students > 1:
            soup.append(model.get_weights())
            seeds.append(kcfg.train.seed)
    if soup:
        reports["soup"] = keep_soup(model, soup, valid, cfg, n_classes, seeds=seeds)

    metrics: dict[str, Any] = {}
    if len(valid_idx):
        proba = predict_sequences(make_predictor(model), valid[0], cfg, n_classes)
        pred = proba.argmax(axis=1)
        metrics["validation"] = {"rows": int(len(valid_idx)), "accuracy": float((pred == y[valid_idx]).mean())}
        if multi_domain:
            from .domains import metrics_by_group

            metrics["validation"]["by_domain"] = {
                name: {k: m[k] for k in ("rows", "accuracy", "macro_f1") if k in m}
                for name, m in metrics_by_group(labels[valid_idx], proba, classes, domain_arr[valid_idx]).items()}
    report = {
        "rows": int(len(labels)),
        "train_rows": int(len(idx)),
        "validation_rows": int(len(valid_idx)),
        "extra_texts": int(len(extra_tokens)),
        **reports,
        "class_counts": {str(c): int(n) for c, n in zip(classes.tolist(), np.bincount(y))},
        **({"domains": _domain_summary(domain_arr, extra_domains, cfg)} if multi_domain else {}),
        "epochs_run": len(history.get("loss", [])),
        **({"averaged": history["averaged"]} if "averaged" in history else {}),
        "seconds": round(time.perf_counter() - started, 1),
        "data_fingerprint": fingerprint or {},
        "metrics": metrics,
    }
    return Trained(classes, vocab, model, history, report)


def _capped(domains: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """Sorted row indices keeping at most ``limit`` rows of each domain (a seeded sample)."""
    rng = np.random.default_rng(seed)
    keep = []
    for name in sorted(set(domains.tolist())):
        rows = np.flatnonzero(domains == name)
        keep.append(rows if len(rows) <= limit else rng.choice(rows, limit, replace=False))
    return np.sort(np.concatenate(keep))


def _start_from(cfg: Config, classes: np.ndarray, token_lists: Sequence[Sequence[str]], keyed_vectors, log):
    """``train.init_from``: the source classifier, its vocabulary grown with ``token_lists``, the embedding."""
    from ..model.bundle import bundle_id
    from .transfer import grown_vocabulary, load_source

    source = load_source(cfg.train.init_from)
    if [str(c) for c in source.classes_.tolist()] != [str(c) for c in classes.tolist()]:
        raise DataError(f"train.init_from: the bundle's labels {source.classes_.tolist()} differ from the data's "
                        f"{classes.tolist()}; start from a bundle with the same labels")
    vocab, matrix, report = grown_vocabulary(source, token_lists, cfg, log, keyed_vectors=keyed_vectors)
    log(f"train: starting from {cfg.train.init_from} ({len(source.vocabulary_):,} tokens, "
        f"{report['new_tokens']:,} new)")
    return source, vocab, matrix, {"bundle": cfg.train.init_from, "bundle_id": bundle_id(source.meta_), **report}


def _domain_summary(domains: np.ndarray, extra_domains: Sequence[str] | None, cfg: Config) -> dict[str, Any]:
    """Labeled (and unlabeled) rows per domain and the balance used."""
    labeled = {str(k): int(v) for k, v in zip(*np.unique(domains.astype(str), return_counts=True))}
    summary: dict[str, Any] = {"labeled_rows": labeled, "balance": cfg.train.domain_balance}
    if extra_domains is not None and len(extra_domains):
        summary["unlabeled_rows"] = {str(k): int(v) for k, v in
                                     zip(*np.unique(np.asarray(extra_domains, dtype=str), return_counts=True))}
    return summary


def keep_soup(model, soup: list[list[np.ndarray]], valid: tuple[list[np.ndarray], np.ndarray], cfg: Config,
              n_classes: int, seeds: list[int]) -> dict[str, Any]:
    """Set the mean of the students' weights (a uniform model soup), or the best student when it does better.

    The soup is kept when its validation accuracy is at least the best
    student's; without validation rows it is kept.
    """
    from .distill import _accuracy
    from ..model.network import make_predictor, mean_weights, predict_sequences

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


def class_weights(cfg: Config, targets: np.ndarray, n_classes: int) -> np.ndarray | None:
    """Per-row weights for ``train.class_weight = "balanced"`` (soft targets count as their likeliest class)."""
    if cfg.train.class_weight != "balanced":
        return None
    from sklearn.utils.class_weight import compute_class_weight

    hard = targets.argmax(axis=1) if targets.ndim == 2 else targets
    present = np.unique(hard)
    weights = np.ones(n_classes)
    weights[present] = compute_class_weight("balanced", classes=present, y=hard)
    return weights[hard].astype(np.float32)
