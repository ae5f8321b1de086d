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
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..config import Config

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
    verbose: int = 0,
    log: Log = lambda msg: None,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Each domain teacher's probabilities on its domain's training rows and unlabeled texts.

    ``make_network()`` returns a fresh copy of the start network. Returns ``(labeled, transfer, report)``:
    ``labeled`` is ``(len(train ids), n_classes)`` and ``transfer`` ``(len(transfer_ids), n_classes)``, NaN
    in rows whose domain has no teacher.
    """
    from ..model.network import fit_model, keras_predictor, predict_sequences
    from ..model.tf_import import import_keras
    from .distill import _accuracy

    keras = import_keras()
    if cfg.distill.domain_teacher_epochs:
        cfg = cfg.with_overrides({"train.epochs": cfg.distill.domain_teacher_epochs})
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
        log(f"distill: domain teacher {domain!r}: fine-tuning on its {len(rows):,} training rows")
        keras.backend.clear_session()
        keras.utils.set_random_seed(cfg.train.seed)
        model = make_network()
        v_rows = np.flatnonzero(v_names == domain) if v_names is not None else np.array([], dtype=int)
        domain_valid = ([valid[0][i] for i in v_rows], valid[1][v_rows]) if len(v_rows) else None
        history = fit_model(
            model,
            cfg,
            ([ids[i] for i in rows], y[rows]),
            domain_valid,
            n_classes,
            sample_weight=None if sample_weight is None else sample_weight[rows],
            verbose=verbose,
        )
        predict = keras_predictor(model)
        labeled[rows] = predict_sequences(predict, [ids[i] for i in rows], cfg, n_classes)
        t_rows = np.flatnonzero(t_names == domain) if t_names is not None else np.array([], dtype=int)
        if len(t_rows):
            transfer[t_rows] = predict_sequences(predict, [transfer_ids[i] for i in t_rows], cfg, n_classes)
        valid_accuracy = None
        if domain_valid is not None:
            valid_accuracy = _accuracy(predict_sequences(predict, domain_valid[0], cfg, n_classes), domain_valid[1])
        teachers[domain] = {
            "training_rows": int(len(rows)),
            "unlabeled_rows": int(len(t_rows)),
            "epochs_run": len(history.get("loss", [])),
            "validation_rows": int(len(v_rows)),
            "validation_accuracy": valid_accuracy,
            "seconds": round(time.perf_counter() - started, 1),
        }
        log(
            f"distill: domain teacher {domain!r}: validation accuracy {valid_accuracy} on {len(v_rows):,} rows, "
            f"{teachers[domain]['seconds']} s"
        )
        del model
    report = {"labeled_share": cfg.distill.labeled_share, "teachers": teachers}
    return labeled, transfer, report


def mix_labeled(targets: np.ndarray, teacher: np.ndarray, share: float) -> np.ndarray:
    """``(1 - share) * targets + share * teacher`` where the teacher has probabilities (targets elsewhere)."""
    known = ~np.isnan(teacher).any(axis=1)
    out = targets.astype(np.float32).copy()
    out[known] = (1.0 - share) * out[known] + share * teacher[known]
    return out
