"""Domain teachers: one fine-tuned copy of the start network per domain teaches that domain's rows.

A network trained on several domains at once trades them against each other: the large domain's habits
pull the small ones' decisions (on the shared test splits, the multi-domain BiLSTM scored 0.754 macro-F1 on
Steam reviews, the same network fine-tuned on Steam alone 0.794, at a cost on movie reviews). With
``distill.domain_teachers``, the recipe first fine-tunes a copy of the start network (``train.init_from``) on each
domain's training rows alone (the ``[finetune]`` schedule, at most ``distill.domain_teacher_epochs`` epochs,
early stopping on that domain's validation rows),
then trains the one network it keeps on every domain with targets from those specialists:

* a labeled row learns ``(1 - distill.labeled_share) * its label + distill.labeled_share * its domain
  teacher's probabilities``;
* an unlabeled text of a domain (``--extra-texts NAME=FILE``) learns its domain teacher's probabilities.

This is distillation from several domain experts into one student (Hinton et al. 2015; as in multi-task
ensembles such as Liu et al. 2019, MT-DNN-KD): the soft targets carry each expert's decisions without
making the domains fight over hard labels. The specialists' validation figures are recorded in the bundle.

With ``distill.domain_ngram_teachers``, each domain's teacher is a mix of its fine-tuned network and a char
1-5-gram NB-LR fitted on the domain's training rows (the model of ``sentiment audit --no-model``): a linear
model of characters catches what a small domain's few thousand rows teach a network badly (on Steam reviews a
char TF-IDF + LR beat the multi-domain BiLSTM). On the training rows the n-gram probabilities are out of fold
(``distill.domain_ngram_folds`` folds, so they never saw the row's label); on the unlabeled texts they come
from the fit on every training row of the domain. Its share (0, 0.05, ..., 0.95) is the one whose mix has the
lowest log-loss on that domain's validation rows, so a domain where it does not help gets (almost) none.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..config import Config
from ..errors import ConfigError

Log = Callable[[str], None]

MIN_ROWS = 50  # a domain with fewer training rows gets no teacher (its rows keep their labels)


def domain_teacher_probabilities(
    cfg: Config,
    make_network: Callable[[], Any],
    train: tuple[Sequence[np.ndarray], np.ndarray],
    train_domains: np.ndarray,
    valid: tuple[Sequence[np.ndarray], np.ndarray],
    valid_domains: np.ndarray | None,
    transfer_ids: Sequence[np.ndarray],
    transfer_domains: np.ndarray | None,
    n_classes: int,
    *,
    sample_weight: np.ndarray | None = None,
    texts: tuple[Sequence[str], Sequence[str], Sequence[str]] | None = None,
    cache_dir: str | Path | None = None,
    verbose: int = 0,
    log: Log = lambda msg: None,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Each domain teacher's probabilities on its domain's training rows and unlabeled texts.

    ``make_network()`` returns a fresh copy of the start network. Returns ``(labeled, transfer, report)``:
    ``labeled`` is ``(len(train ids), n_classes)`` and ``transfer`` ``(len(transfer_ids), n_classes)``, NaN
    in rows whose domain has no teacher. ``texts`` (the training, validation and unlabeled texts, aligned with
    the ids) are needed by ``distill.domain_ngram_teachers``; their n-gram models are cached in ``cache_dir``.
    """
    from .distill import _accuracy

    if cfg.distill.domain_teacher_epochs:
        cfg = cfg.with_overrides({"train.epochs": cfg.distill.domain_teacher_epochs})
    with_ngrams = cfg.distill.domain_ngram_teachers
    if with_ngrams and texts is None:
        raise ConfigError(
            "distill.domain_ngram_teachers fits n-gram models on the texts; train with fit(), the pipeline or "
            "`sentiment train` (which keep the texts), or set distill.domain_ngram_teachers = false"
        )
    ids, y = train
    labeled = np.full((len(ids), n_classes), np.nan, dtype=np.float32)
    transfer = np.full((len(transfer_ids), n_classes), np.nan, dtype=np.float32)
    teachers: dict[str, Any] = {}
    names = np.asarray(train_domains).astype(str)
    t_names = None if transfer_domains is None else np.asarray(transfer_domains).astype(str)
    v_names = None if valid_domains is None else np.asarray(valid_domains).astype(str)
    for domain in sorted(set(names.tolist())):
        rows = np.flatnonzero(names == domain)
        if len(rows) < MIN_ROWS or len(np.unique(y[rows])) < 2:
            teachers[domain] = {"skipped": f"{len(rows)} training rows, {len(np.unique(y[rows]))} class(es)"}
            continue
        started = time.perf_counter()
        v_rows = np.flatnonzero(v_names == domain) if v_names is not None else np.array([], dtype=int)
        t_rows = np.flatnonzero(t_names == domain) if t_names is not None else np.array([], dtype=int)
        on_rows, on_transfer, valid_proba, epochs_run, reused = _network_teacher(
            cfg,
            domain,
            make_network,
            ([ids[i] for i in rows], y[rows], None if sample_weight is None else sample_weight[rows]),
            ([valid[0][i] for i in v_rows], valid[1][v_rows]),
            [transfer_ids[i] for i in t_rows],
            n_classes,
            cache_dir,
            verbose,
            log,
        )
        labeled[rows] = on_rows
        if len(t_rows):
            transfer[t_rows] = on_transfer
        valid_accuracy = None if valid_proba is None else _accuracy(valid_proba, valid[1][v_rows])
        ngram_report = None
        if with_ngrams:
            assert texts is not None
            ngram_report = _mix_ngram_teacher(
                cfg,
                domain,
                ([texts[0][i] for i in rows], y[rows]),
                ([texts[1][i] for i in v_rows], valid[1][v_rows]),
                [texts[2][i] for i in t_rows],
                (labeled, rows, transfer, t_rows, valid_proba),
                n_classes,
                cache_dir,
                log,
            )
        teachers[domain] = {
            "training_rows": int(len(rows)),
            "unlabeled_rows": int(len(t_rows)),
            "epochs_run": epochs_run,
            "validation_rows": int(len(v_rows)),
            "validation_accuracy": valid_accuracy,
            "seconds": round(time.perf_counter() - started, 1),
            **({"reused": True} if reused else {}),
        }
        if ngram_report is not None:
            teachers[domain]["ngram"] = ngram_report
        log(
            f"distill: domain teacher {domain!r}: validation accuracy {valid_accuracy} on {len(v_rows):,} rows, "
            f"{teachers[domain]['seconds']} s"
        )
    report = {"labeled_share": cfg.distill.labeled_share, "teachers": teachers}
    return labeled, transfer, report


def _network_teacher(
    cfg: Config,
    domain: str,
    make_network: Callable[[], Any],
    train: tuple[list[np.ndarray], np.ndarray, np.ndarray | None],
    valid: tuple[list[np.ndarray], np.ndarray],
    transfer_ids: list[np.ndarray],
    n_classes: int,
    cache_dir: str | Path | None,
    verbose: int,
    log: Log,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, int, bool]:
    """The domain's fine-tuned network: its probabilities on the training rows, unlabeled texts, validation rows.

    Returns ``(on_rows, on_transfer, on_valid or None, epochs run, reused from the cache)``. The probabilities
    are cached in ``cache_dir`` under a key of everything the fine-tuning depends on (the start network's
    weights, the domain's rows, labels and weights, the schedule), so a rerun of the recipe that changes only
    the joint training reuses them.
    """
    from ..model.network import fit_model, keras_predictor, predict_sequences
    from ..model.tf_import import import_keras
    from .teacher_cache import TeacherCache, digest_arrays, digest_texts, teacher_key

    keras = import_keras()
    ids, y, weight = train
    keras.backend.clear_session()
    keras.utils.set_random_seed(cfg.train.seed)
    model = make_network()
    cache = TeacherCache(cache_dir) if cache_dir is not None else None
    name = f"domain-network-{digest_texts([domain]).hexdigest()[:12]}"
    key = ""
    if cache is not None:
        # ``cfg.train`` holds the teacher's effective schedule ([finetune]'s, epochs from
        # distill.domain_teacher_epochs); the keys popped are read by the joint training only, and the domain's
        # rows themselves are in the data digest
        settings = cfg.to_dict()
        for joint in ("monitor_domains", "domain_balance", "domain_max_rows", "label_noise", "init_from"):
            settings["train"].pop(joint, None)
        settings = {k: settings[k] for k in ("model", "sequence", "train")}
        arrays = [*model.get_weights(), y, valid[1], *([] if weight is None else [weight])]
        data = digest_arrays(transfer_ids, digest_arrays(valid[0], digest_arrays(ids, digest_arrays(arrays))))
        key = teacher_key("domain-network", settings, data.hexdigest())
        cached = cache.load(name, key)
        if cached is not None:
            both, on_valid, report, _ = cached
            log(f"distill: domain teacher {domain!r}: fine-tuned network's probabilities reused from {cache_dir}")
            on_valid = on_valid if len(valid[1]) else None
            return both[: len(ids)], both[len(ids) :], on_valid, int(report["epochs_run"]), True
    log(f"distill: domain teacher {domain!r}: fine-tuning on its {len(ids):,} training rows")
    history = fit_model(
        model, cfg, (ids, y), valid if len(valid[1]) else None, n_classes, sample_weight=weight, verbose=verbose
    )
    predict = keras_predictor(model)
    on_rows = predict_sequences(predict, ids, cfg, n_classes)
    on_transfer = predict_sequences(predict, transfer_ids, cfg, n_classes)
    on_valid = predict_sequences(predict, valid[0], cfg, n_classes)
    epochs_run = len(history.get("loss", []))
    if cache is not None:
        cache.save(name, key, (np.vstack([on_rows, on_transfer]), on_valid, {"epochs_run": epochs_run}, None))
    return on_rows, on_transfer, on_valid if len(valid[1]) else None, epochs_run, False


def _mix_ngram_teacher(
    cfg: Config,
    domain: str,
    train: tuple[list[str], np.ndarray],
    valid: tuple[list[str], np.ndarray],
    transfer_texts: list[str],
    network: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None],
    n_classes: int,
    cache_dir: str | Path | None,
    log: Log,
) -> dict[str, Any]:
    """Mix the domain's n-gram model into its teacher's probabilities (in place); returns its report."""
    from .audit import ngram_config, out_of_fold_ngram
    from .distill import SHARES, _accuracy, char_ngram_teacher, lowest_log_loss_share
    from .teacher_cache import TeacherCache, digest_arrays, digest_texts, teacher_key

    labeled, rows, transfer, t_rows, network_valid = network
    (train_texts, train_y), (valid_texts, valid_y) = train, valid
    folds = cfg.distill.domain_ngram_folds
    settings = {"folds": folds, "seed": cfg.train.seed, "normalize": cfg.to_dict()["normalize"], "model": "char1-5nb"}
    data = digest_arrays([train_y, valid_y], digest_texts([train_texts, valid_texts, transfer_texts])).hexdigest()
    key = teacher_key("domain-ngram", settings, data)
    cache = TeacherCache(cache_dir) if cache_dir is not None else None
    name = f"domain-ngram-{digest_texts([domain]).hexdigest()[:12]}"
    cached = cache.load(name, key) if cache is not None else None
    if cached is not None:
        both, out_of_fold, report, _ = cached
        log(f"distill: domain teacher {domain!r}: n-gram model reused from {cache_dir}")
    else:
        started = time.perf_counter()
        log(f"distill: domain teacher {domain!r}: char n-gram NB-LR, {folds} folds + all rows")
        out_of_fold = out_of_fold_ngram(train_texts, train_y, n_classes, folds, seed=cfg.train.seed, log=log)
        on_transfer, on_valid, report = char_ngram_teacher(
            ngram_config(n_classes), train_texts, train_y, valid_texts, valid_y, transfer_texts, n_classes
        )
        both = np.vstack([on_valid, on_transfer]).astype(np.float32)
        report = {
            "validation_accuracy": report["validation_accuracy"],
            "out_of_fold_accuracy": _accuracy(out_of_fold, train_y),
            "features": report["features"],
            "seconds": round(time.perf_counter() - started, 1),
        }
        if cache is not None:
            cache.save(name, key, (both, out_of_fold, report, None))
    on_valid, on_transfer = both[: len(valid_y)], both[len(valid_y) :]
    share = 0.5  # no validation rows of the domain: half and half
    if network_valid is not None and len(valid_y):
        share = lowest_log_loss_share(network_valid, on_valid, valid_y, (0.0, *SHARES))
        report["mixed_validation_accuracy"] = _accuracy((1 - share) * network_valid + share * on_valid, valid_y)
    report["share"] = share
    labeled[rows] = (1 - share) * labeled[rows] + share * out_of_fold
    if len(t_rows):
        transfer[t_rows] = (1 - share) * transfer[t_rows] + share * on_transfer
    log(
        f"distill: domain teacher {domain!r}: n-gram share {share:g} (validation accuracy: n-gram "
        f"{report['validation_accuracy']}, mix {report.get('mixed_validation_accuracy')})"
    )
    return report


def mix_labeled(targets: np.ndarray, teacher: np.ndarray, share: float) -> np.ndarray:
    """``(1 - share) * targets + share * teacher`` where the teacher has probabilities (targets elsewhere)."""
    known = ~np.isnan(teacher).any(axis=1)
    out = targets.astype(np.float32).copy()
    out[known] = (1.0 - share) * out[known] + share * teacher[known]
    return out
