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
from ..errors import ConfigError, DataError
from ..io.labeled import LabelMapping, binary_mapping, class_indices, class_polarity
from .domains import UNLABELED, combine_weights, domain_weights
from .transfer import Trained


def train_network(
    cfg: Config,
    tokens: Sequence[Sequence[str]],
    labels: np.ndarray,
    *,
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
    verbose: int = 0,
    log: Callable[[str], None] = lambda msg: None,
) -> Trained:
    """Train from tokenized texts; see :meth:`SentimentClassifier.fit_tokens`.

    Two label values read as negative/positive (:func:`sentiment.io.labeled.binary_mapping`: known names,
    ``positive_label`` or ``positive_from``) give the classes in the order (negative, positive), the user's own
    names kept; with ``train.init_from = "auto"`` such a task starts from the packaged model
    (:func:`choose_start`), fine-tuned with the ``[finetune]`` schedule.

    ``domains``/``extra_domains`` (one name per labeled/unlabeled row) switch on per-domain weights
    (``train.domain_balance``), a validation split stratified by domain and class, and per-domain
    validation figures.
    """
    from sklearn.model_selection import train_test_split

    from ..model.network import build_model, fit_model, keras_predictor, predict_sequences
    from ..model.pretrain import initialise, pretrain_encoder
    from ..model.tf_import import import_keras
    from ..text.embeddings import embedding_matrix, train_word2vec, vocabulary_from_vectors
    from .distill import check_config, teacher_probabilities
    from .transfer import network_from

    labels = np.asarray(labels)
    if len(np.unique(labels)) < 2:
        raise DataError(f"training needs at least two classes; the labels only contain {np.unique(labels).tolist()}")
    init_from, start_reason, mapping = choose_start(cfg, labels, positive_label, positive_from)
    log(f"train: {start_reason}")
    if mapping is not None:
        log(f"train: labels {mapping.describe()}")
        labels = mapping.apply(labels)
        classes = np.asarray(mapping.classes)
        classes = classes.astype(np.int64) if classes.dtype.kind in "iu" else classes.astype(str)
    else:
        classes = np.unique(labels)
    if len(tokens) != len(labels):
        raise DataError(f"{len(tokens)} texts but {len(labels)} labels")
    if domains is not None and len(domains) != len(labels):
        raise DataError(f"{len(labels)} labels but {len(domains)} domain names")
    if cfg.distill.enabled and not len(extra_tokens):
        raise ConfigError(
            "distillation is on (distill.teachers or distill.char_ngram_teacher) but there are no "
            "unlabeled texts to label; set word2vec.extra_texts (or pass --extra-texts), "
            "or turn distillation off with distill.teachers=0"
        )
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
            reports["domain_max_rows"] = {
                "limit": cfg.train.domain_max_rows,
                "kept": int(len(keep)),
                "of": int(len(labels)),
            }
            tokens, labels, domain_arr = [tokens[i] for i in keep], labels[keep], domain_arr[keep]
            texts = None if texts is None else [texts[i] for i in keep]
    y = class_indices(labels, classes)
    source = None
    if init_from:
        source, vocab, matrix, reports["init_from"] = _start_from(
            cfg, init_from, classes, [*tokens, *extra_tokens], keyed_vectors, log, polar=mapping is not None
        )
        reports["init_from"]["reason"] = start_reason
        reports["init_from"]["schedule"] = cfg.to_dict()["finetune"]
        cfg = finetune_config(cfg)
    else:
        reports["from_scratch"] = start_reason
        if keyed_vectors is None:
            keyed_vectors = train_word2vec([*tokens, *extra_tokens], cfg.word2vec, seed=seed)
        vocab = vocabulary_from_vectors(keyed_vectors, cfg.word2vec.max_vocab)
        matrix = embedding_matrix(vocab, keyed_vectors, seed)
    if mapping is not None:
        reports["label_mapping"] = mapping.to_dict()
    ids = vocab.encode_many(tokens)

    idx = np.arange(len(ids))
    valid_idx = np.array([], dtype=int)
    if cfg.train.validation_split > 0 and len(ids) >= 10:
        strata = y if not multi_domain else np.asarray([f"{d}\x1f{c}" for d, c in zip(domain_arr, y)])
        counts = np.unique(strata, return_counts=True)[1]
        stratify = strata if counts.min() >= 2 else (y if np.bincount(y).min() >= 2 else None)
        idx, valid_idx = train_test_split(
            idx, test_size=cfg.train.validation_split, random_state=seed, stratify=stratify
        )
    noise = None
    if cfg.train.label_noise != "keep":  # the training rows only: validation keeps the labels as given
        from .label_noise import audit_training_rows

        noise = audit_training_rows(
            cfg,
            None if texts is None else [texts[i] for i in idx],
            y[idx],
            len(classes),
            domains=domain_arr[idx] if multi_domain else None,
            cache_dir=teacher_cache,
            log=log,
        )
        reports["label_noise"] = noise.report
        idx = idx[noise.keep]
    train_ids, targets = [ids[i] for i in idx], y[idx]
    valid = ([ids[i] for i in valid_idx], y[valid_idx])
    train_domains = domain_arr[idx] if multi_domain else None
    noise_weight = noise.weight if noise is not None else None
    labeled_targets = (
        noise.soft if noise is not None and noise.soft is not None else np.eye(n_classes, dtype=np.float32)[targets]
    )
    by_domain = cfg.distill.domain_teachers
    if by_domain and (source is None or not multi_domain):
        raise ConfigError(
            "distill.domain_teachers fine-tunes the start network on each domain: it needs train.init_from "
            "(a bundle, or 'default') and labeled rows of several domains (--data NAME=FILE, or a domain "
            "column); set distill.domain_teachers = false otherwise"
        )
    if cfg.distill.domain_ngram_teachers and not by_domain:
        raise ConfigError(
            "distill.domain_ngram_teachers adds an n-gram model to each domain teacher: it needs "
            "distill.domain_teachers = true; set distill.domain_ngram_teachers = false otherwise"
        )
    with_transfer = cfg.distill.enabled or cfg.pretrain.epochs or by_domain
    transfer_ids = vocab.encode_many(extra_tokens) if with_transfer else []
    transfer_domains = np.asarray(
        [str(d) for d in (extra_domains if extra_domains is not None else [UNLABELED] * len(extra_tokens))],
        dtype=object,
    )
    transfer_domains = transfer_domains[: len(transfer_ids)]  # none when nothing learns from unlabeled texts
    encoder = start = soft = None
    if cfg.pretrain.epochs:  # the validation rows stay unseen
        encoder, reports["pretrain"] = pretrain_encoder(cfg, matrix, train_ids + transfer_ids, log=log)
    teacher_domain_weights = domain_weights(train_domains, cfg.train.domain_balance)
    split_texts = None  # the training and validation texts, for the teachers that read characters
    if texts is not None and (cfg.distill.enabled or cfg.distill.domain_ngram_teachers):
        split_texts = ([texts[i] for i in idx], [texts[i] for i in valid_idx])
    if cfg.distill.enabled:
        raw = None
        if split_texts is not None and extra_texts is not None:
            raw = (*split_texts, list(extra_texts))
        token_parts = ([tokens[i] for i in idx], [tokens[i] for i in valid_idx], extra_tokens)
        soft, reports["distill"], start = teacher_probabilities(
            cfg,
            matrix,
            (train_ids, targets),
            valid,
            transfer_ids,
            n_classes,
            texts=raw,
            tokens=token_parts,
            encoder=encoder,
            sample_weight=combine_weights(
                class_weights(cfg, targets, n_classes, train_domains), teacher_domain_weights, noise_weight
            ),
            domain_weight=teacher_domain_weights,
            cache_dir=teacher_cache,
            verbose=verbose,
            log=log,
        )
        if cfg.distill.teacher_models and cfg.distill.labeled_share > 0:
            from .distill import teacher_models_on
            from .domain_teachers import mix_labeled

            on_labeled = teacher_models_on(cfg, token_parts[0], n_classes)
            labeled_targets = mix_labeled(labeled_targets, on_labeled, cfg.distill.labeled_share)
    transfer_rows = np.arange(len(transfer_ids))
    if by_domain:
        from .domain_teachers import domain_teacher_probabilities, mix_labeled

        assert source is not None and train_domains is not None and domain_arr is not None
        teacher_labeled, teacher_transfer, reports["domain_teachers"] = domain_teacher_probabilities(
            cfg,
            lambda: network_from(source, cfg, matrix),
            (train_ids, targets),
            train_domains,
            valid,
            domain_arr[valid_idx],
            transfer_ids,
            transfer_domains,
            n_classes,
            sample_weight=class_weights(cfg, targets, n_classes, train_domains),
            texts=None
            if split_texts is None or not cfg.distill.domain_ngram_teachers
            else (*split_texts, list(extra_texts or [])[: len(transfer_ids)]),
            cache_dir=teacher_cache,
            verbose=verbose,
            log=log,
        )
        labeled_targets = mix_labeled(labeled_targets, teacher_labeled, cfg.distill.labeled_share)
        known = ~np.isnan(teacher_transfer).any(axis=1)
        if soft is None:  # only the unlabeled texts of a domain with a teacher are learned from
            transfer_rows = np.flatnonzero(known)
            soft = teacher_transfer[known]
        else:
            soft = np.where(known[:, None], teacher_transfer, soft).astype(np.float32)
    if soft is not None:
        keras.utils.set_random_seed(seed)
        train_ids = train_ids + [transfer_ids[i] for i in transfer_rows]
        targets = np.vstack([labeled_targets, soft])
        if noise_weight is not None:
            noise_weight = np.concatenate([noise_weight, np.ones(len(soft), dtype=np.float32)])
        if train_domains is not None:
            train_domains = np.concatenate([train_domains, transfer_domains[transfer_rows]])
    elif noise is not None and noise.soft is not None:
        targets = labeled_targets
    if source is not None and cfg.finetune.anchor_weight > 0:
        targets = _anchored(source, tokens, idx, targets, classes, cfg.finetune.anchor_weight, n_classes)
    student_cfg = cfg
    if cfg.distill.enabled and cfg.distill.student_epochs:
        student_cfg = cfg.with_overrides({"train.epochs": cfg.distill.student_epochs})
    n_students = cfg.distill.students if start is not None else 1
    row_weights = combine_weights(
        class_weights(cfg, targets, n_classes, train_domains),
        domain_weights(train_domains, cfg.train.domain_balance),
        noise_weight,
    )
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
        if source is not None:
            _freeze(model, cfg.finetune.freeze)
        fitted = fit_model(
            model,
            kcfg,
            (train_ids, targets),
            valid if len(valid_idx) else None,
            n_classes,
            sample_weight=row_weights,
            verbose=verbose,
            valid_groups=domain_arr[valid_idx] if multi_domain else None,
        )
        if not k:
            history = fitted
        if n_students > 1:
            soup.append(model.get_weights())
            seeds.append(kcfg.train.seed)
    if soup:
        reports["soup"] = keep_soup(model, soup, valid, cfg, n_classes, seeds=seeds)

    metrics: dict[str, Any] = {}
    if len(valid_idx):
        proba = predict_sequences(keras_predictor(model), valid[0], cfg, n_classes)
        pred = proba.argmax(axis=1)
        metrics["validation"] = {"rows": int(len(valid_idx)), "accuracy": float((pred == y[valid_idx]).mean())}
        if n_classes == 2 and cfg.finetune.fit_threshold:
            decision = fit_threshold(proba[:, 1], y[valid_idx], np.bincount(y, minlength=2))
            if decision:
                reports["decision"] = decision
                log(
                    f"train: decision threshold {decision['threshold']:.2f} fitted on {decision['rows']} "
                    f"validation rows (class mix {decision['minority_share']:.0%} / "
                    f"{1 - decision['minority_share']:.0%}; validation macro-F1 {decision['macro_f1_at_0.5']:.4f} "
                    f"at 0.5, {decision['macro_f1']:.4f} at the threshold)"
                )
        if multi_domain:
            from .domains import metrics_by_group

            metrics["validation"]["by_domain"] = {
                name: {k: m[k] for k in ("rows", "accuracy", "macro_f1") if k in m}
                for name, m in metrics_by_group(labels[valid_idx], proba, classes, domain_arr[valid_idx]).items()
            }
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


NO_START = ("", "none")


def choose_start(
    cfg: Config, labels: np.ndarray, positive_label: Any = None, positive_from: float | None = None
) -> tuple[str | None, str, LabelMapping | None]:
    """Where training starts (a bundle to fine-tune, or None for a new network), why (for the log and the bundle),
    and how the labels read as negative/positive (None for other tasks).

    ``train.init_from = "auto"`` starts from the packaged model when the labels are two classes read as
    negative/positive and the config's text processing and network match the packaged model's.
    """
    wanted = cfg.train.init_from
    scratch = wanted in NO_START
    try:
        mapping = binary_mapping(labels, positive_label=positive_label, positive_from=positive_from)
    except DataError:
        if wanted == "auto" or positive_label is not None or positive_from is not None:
            raise
        mapping = None  # a new network learns any two names; a named bundle must have the same ones
    if scratch:
        return None, "training a new network (train.init_from = 'none', --from-scratch)", mapping
    if wanted != "auto":
        return wanted, f"starting from {wanted} (train.init_from)", mapping
    if mapping is None:
        values = list(dict.fromkeys(labels.tolist()))
        shown = ", ".join(map(repr, values[:8])) + (", ..." if len(values) > 8 else "")
        hint = "; star ratings? --positive-from 4 reads them as negative/positive" if _numeric(values) else ""
        return (
            None,
            (
                f"training a new network: the labels have {len(values)} classes ({shown}), the packaged "
                f"model knows two (negative/positive){hint}"
            ),
            None,
        )
    differs = _differs_from_packaged(cfg)
    if differs:
        return (
            None,
            (
                f"training a new network: the config's {', '.join(differs)} differ(s) from the packaged "
                f"model's, so its network cannot be reused (train.init_from = 'auto')"
            ),
            mapping,
        )
    return (
        "default",
        (
            "starting from the packaged model: the labels are two classes read as negative/positive "
            "(train.init_from = 'auto'; --from-scratch trains a new network)"
        ),
        mapping,
    )


def _numeric(values: list[Any]) -> bool:
    import pandas as pd

    return bool(values) and bool(pd.to_numeric(pd.Series([str(v) for v in values]), errors="coerce").notna().all())


def _differs_from_packaged(cfg: Config) -> list[str]:
    """The config keys that keep the packaged model's network from being reused (text processing, shapes)."""
    from ..model.bundle import default_model_path

    base = Config.from_toml(default_model_path() / "config.toml")
    ours, theirs = cfg.to_dict(), base.to_dict()
    keys = [
        ("normalize", None),
        ("tokenizer", None),
        ("sequence", "maxlen"),
        ("model", "lstm_units"),
        ("model", "bidirectional"),
        ("word2vec", "vector_size"),
    ]
    return [
        f"[{section}]" if key is None else f"{section}.{key}"
        for section, key in keys
        if (ours[section] if key is None else ours[section][key])
        != (theirs[section] if key is None else theirs[section][key])
    ]


def finetune_config(cfg: Config) -> Config:
    """The config with the ``[finetune]`` schedule as its training schedule."""
    f = cfg.finetune
    return cfg.with_overrides(
        {"train.learning_rate": f.learning_rate, "train.epochs": f.epochs, "train.patience": f.patience}
    )


def _anchored(
    source,
    tokens: Sequence[Sequence[str]],
    idx: np.ndarray,
    targets: np.ndarray,
    classes: np.ndarray,
    weight: float,
    n_classes: int,
) -> np.ndarray:
    """The labeled rows' targets mixed with the starting model's probabilities (weight ``weight`` against 1)."""
    from ..model.network import keras_predictor, predict_sequences

    ids = source.vocabulary_.encode_many([tokens[i] for i in idx])
    proba = predict_sequences(keras_predictor(source.model_), ids, source.config_, source.n_classes_)
    if n_classes == 2:
        proba = proba[:, list(class_polarity(source.classes_))]  # (negative, positive), as ``classes``
    else:
        proba = proba[:, class_indices(classes, source.classes_)]
    n = len(idx)
    hard = targets[:n] if targets.ndim == 2 else np.eye(n_classes, dtype=np.float32)[targets[:n]]
    mixed = ((hard + weight * proba) / (1.0 + weight)).astype(np.float32)
    if targets.ndim == 2:
        return np.vstack([mixed, targets[n:]])
    return mixed


def _freeze(model, what: str) -> None:
    """``finetune.freeze``: keep the embedding (and the (Bi)LSTM layers) as they are."""
    if what == "none":
        return
    for layer in model.layers:
        if layer.name == "embedding" or (what == "encoder" and layer.name.startswith(("bilstm_", "lstm_"))):
            layer.trainable = False


def fit_threshold(
    p_positive: np.ndarray, y: np.ndarray, class_counts: np.ndarray, *, min_rows: int = 40, skewed_below: float = 0.4
) -> dict[str, Any] | None:
    """The decision threshold with the best macro-F1 on held-out rows (:func:`sentiment.model.decision.fit_threshold`),
    when the class mix is off 50/50.

    None when the mix is balanced (minority share at least ``skewed_below``), the held-out rows are fewer than
    ``min_rows`` or hold one class, or the threshold does no better than 0.5 on them.
    """
    from ..model.decision import fit_threshold as best_threshold
    from ..model.decision import macro_f1_at

    minority = float(class_counts.min() / max(class_counts.sum(), 1))
    if minority >= skewed_below or len(y) < min_rows or len(np.unique(y)) < 2:
        return None
    threshold = best_threshold(p_positive, y)
    at_half, best = macro_f1_at(p_positive, y, 0.5), macro_f1_at(p_positive, y, threshold)
    if best <= at_half:
        return None
    return {
        "threshold": round(threshold, 4),
        "rows": int(len(y)),
        "minority_share": round(minority, 4),
        "macro_f1_at_0.5": round(at_half, 4),
        "macro_f1": round(best, 4),
        "fitted_on": "validation rows",
    }


def _start_from(
    cfg: Config,
    init_from: str,
    classes: np.ndarray,
    token_lists: Sequence[Sequence[str]],
    keyed_vectors,
    log,
    polar: bool = False,
):
    """The source classifier, its vocabulary grown with ``token_lists``, the embedding.

    ``polar``: ``classes`` are (negative, positive), so any two-class source whose second class is the positive
    one fits, whatever its label names."""
    from ..model.bundle import bundle_id
    from .transfer import grown_vocabulary, load_source

    source = load_source(init_from)
    same = [str(c) for c in source.classes_.tolist()] == [str(c) for c in classes.tolist()]
    polar = polar and class_polarity(source.classes_) == (0, 1)  # its output: P(second class = positive)
    if not same and not polar:
        raise DataError(
            f"train.init_from: the bundle's labels {source.classes_.tolist()} differ from the data's "
            f"{classes.tolist()}; start from a bundle with the same labels, or train a new network "
            f"with --from-scratch"
        )
    vocab, matrix, report = grown_vocabulary(source, token_lists, cfg, log, keyed_vectors=keyed_vectors)
    log(f"train: starting from {init_from} ({len(source.vocabulary_):,} tokens, {report['new_tokens']:,} new)")
    return (
        source,
        vocab,
        matrix,
        {
            "bundle": init_from,
            "bundle_id": bundle_id(source.meta_),
            "labels": [c.item() if hasattr(c, "item") else c for c in source.classes_.tolist()],
            **report,
        },
    )


def _domain_summary(domains: np.ndarray, extra_domains: Sequence[str] | None, cfg: Config) -> dict[str, Any]:
    """Labeled (and unlabeled) rows per domain and the balance used."""
    labeled = {str(k): int(v) for k, v in zip(*np.unique(domains.astype(str), return_counts=True))}
    summary: dict[str, Any] = {"labeled_rows": labeled, "balance": cfg.train.domain_balance}
    if extra_domains is not None and len(extra_domains):
        summary["unlabeled_rows"] = {
            str(k): int(v) for k, v in zip(*np.unique(np.asarray(extra_domains, dtype=str), return_counts=True))
        }
    return summary


def keep_soup(
    model,
    soup: list[list[np.ndarray]],
    valid: tuple[list[np.ndarray], np.ndarray],
    cfg: Config,
    n_classes: int,
    seeds: list[int],
) -> dict[str, Any]:
    """Set the mean of the students' weights (a uniform model soup), or the best student when it does better.

    The soup is kept when its validation accuracy is at least the best
    student's; without validation rows it is kept.
    """
    from ..model.network import keras_predictor, mean_weights, predict_sequences
    from .distill import _accuracy

    def accuracy(weights: list[np.ndarray]) -> float | None:
        model.set_weights(weights)
        return _accuracy(predict_sequences(keras_predictor(model), valid[0], cfg, n_classes), valid[1])

    accuracies = [accuracy(weights) for weights in soup]
    mean = mean_weights(soup)
    soup_accuracy = accuracy(mean)
    kept = soup_accuracy is None or soup_accuracy >= max(accuracies)
    best = int(np.argmax([a or 0.0 for a in accuracies]))
    model.set_weights(mean if kept else soup[best])
    return {
        "students": len(soup),
        "seeds": seeds,
        "validation_accuracies": accuracies,
        "soup_validation_accuracy": soup_accuracy,
        "kept": bool(kept),
        **({} if kept else {"kept_student": best + 1}),
    }


def class_weights(
    cfg: Config, targets: np.ndarray, n_classes: int, domains: np.ndarray | None = None
) -> np.ndarray | None:
    """Per-row weights for ``train.class_weight`` "balanced" or "balanced_by_domain" (soft targets count as
    their likeliest class).

    "balanced" weighs classes by their inverse frequency over all rows; "balanced_by_domain" within each
    domain of ``domains`` (one per row), so that one domain's class mix (movie reviews mostly positive) does not
    tilt another's (a balanced domain keeps weights of about 1). Without several domains both are the same.
    """
    if cfg.train.class_weight == "none":
        return None
    hard = targets.argmax(axis=1) if targets.ndim == 2 else targets
    if cfg.train.class_weight == "balanced_by_domain" and domains is not None and len(set(domains.tolist())) > 1:
        weights = np.ones(len(hard), dtype=np.float32)
        names = np.asarray(domains).astype(str)
        for name in np.unique(names):
            rows = np.flatnonzero(names == name)
            weights[rows] = _balanced(hard[rows], n_classes)
        return weights
    return _balanced(hard, n_classes)


def _balanced(hard: np.ndarray, n_classes: int) -> np.ndarray:
    from sklearn.utils.class_weight import compute_class_weight

    present = np.unique(hard)
    weights = np.ones(n_classes)
    weights[present] = compute_class_weight("balanced", classes=present, y=hard)
    return weights[hard].astype(np.float32)
