"""Noisy training labels: audit the training rows, then drop, down-weight or soften the suspicious ones.

``train.label_noise`` chooses what happens to the labels of the training rows
(never the validation rows, which keep measuring against the labels as given):

* ``keep``: nothing (the default);
* ``drop``: rows flagged by the label audit are left out;
* ``downweight``: flagged rows weigh ``train.label_noise_weight``;
* ``soft``: every row's target becomes ``(1 - s) * its label + s * the out-of-fold probabilities``
  (``s`` = ``train.label_soft_share``), so a row the audit doubts pulls less towards its given label.

The audit is the one of ``sentiment audit --no-model`` (:mod:`sentiment.training.audit`): a character n-gram
NB-LR fitted on the other folds gives every training row probabilities that never saw its label, and
confident learning (cleanlab) flags the rows whose given label those probabilities make unlikely. The model
training starts from (``train.init_from``) is not mixed in: it has seen these rows' labels and would vouch for
the wrong ones it learned. The out-of-fold probabilities are kept in the teacher cache of the run directory,
so a rerun with another setting does not refit them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import Config
from ..errors import ConfigError

Log = Callable[[str], None]

CACHE_NAME = "label-audit"


@dataclass
class LabelNoise:
    """What the audit of the training rows decided: which rows stay, their weights and targets."""

    keep: np.ndarray  # positions (into the training rows) that stay
    weight: np.ndarray | None  # per kept row, or None (all 1)
    soft: np.ndarray | None  # per kept row, (n, n_classes) targets, or None (the labels)
    report: dict[str, Any]


def audit_training_rows(
    cfg: Config,
    texts: Sequence[str],
    y: np.ndarray,
    n_classes: int,
    *,
    domains: np.ndarray | None = None,
    folds: int = 5,
    cache_dir: str | Path | None = None,
    log: Log = lambda msg: None,
) -> LabelNoise:
    """Audit the training rows (``texts``, class indices ``y``) and apply ``cfg.train.label_noise`` to them."""
    from .audit import check_audit_input, out_of_fold_ngram, require_cleanlab
    from .teacher_cache import TeacherCache, digest_arrays, digest_texts, teacher_key

    mode = cfg.train.label_noise
    if mode == "keep":
        return LabelNoise(np.arange(len(y)), None, None, {"mode": "keep"})
    if texts is None:
        raise ConfigError(
            f"train.label_noise = {mode!r} needs the training texts (the audit reads characters); "
            f"train with fit(), the pipeline or `sentiment train`, or set train.label_noise = 'keep'"
        )
    cleanlab_filter = require_cleanlab()
    started = time.perf_counter()
    check_audit_input(list(texts), y, folds, "the training rows")
    seed = cfg.train.seed
    settings = {"folds": folds, "seed": seed, "normalize": cfg.to_dict()["normalize"]}
    key = teacher_key("label-audit", settings, digest_arrays([y], digest_texts(texts)).hexdigest())
    cache = TeacherCache(cache_dir) if cache_dir is not None else None
    cached = cache.load(CACHE_NAME, key) if cache is not None else None
    if cached is not None:
        proba = cached[0]
        log(f"train: label audit reused from {cache.directory}")  # type: ignore[union-attr]
    else:
        log(f"train: label audit of {len(y):,} training rows (char n-gram NB-LR on {folds} folds)")
        proba = out_of_fold_ngram(list(texts), y, n_classes, folds, seed=seed, log=log)
        if cache is not None:
            cache.save(CACHE_NAME, key, (proba, np.zeros((0, n_classes), np.float32), {}, None))
    flagged = np.asarray(
        cleanlab_filter.find_label_issues(y, proba, filter_by="prune_by_noise_rate", n_jobs=1), dtype=bool
    )
    report: dict[str, Any] = {
        "mode": mode,
        "rows": int(len(y)),
        "flagged": int(flagged.sum()),
        "flagged_share": round(float(flagged.mean()), 4),
        "out_of_fold_accuracy": round(float((proba.argmax(axis=1) == y).mean()), 4),
        "folds": folds,
    }
    if domains is not None:
        names = np.asarray(domains).astype(str)
        report["flagged_by_domain"] = {
            str(d): {"rows": int((names == d).sum()), "flagged": int(flagged[names == d].sum())}
            for d in sorted(set(names.tolist()))
        }
    keep = np.arange(len(y))
    weight = soft = None
    if mode == "drop":
        keep = np.flatnonzero(~flagged)
    elif mode == "downweight":
        weight = np.where(flagged, cfg.train.label_noise_weight, 1.0).astype(np.float32)
        report["flagged_weight"] = cfg.train.label_noise_weight
    elif mode == "soft":
        share = cfg.train.label_soft_share
        soft = ((1.0 - share) * np.eye(n_classes, dtype=np.float32)[y] + share * proba).astype(np.float32)
        report["soft_share"] = share
    report["seconds"] = round(time.perf_counter() - started, 1)
    log(
        f"train: label audit flagged {report['flagged']:,} of {len(y):,} training rows "
        f"({report['flagged_share']:.1%}); {_what(mode, cfg)}"
    )
    return LabelNoise(keep, weight, soft, report)


def _what(mode: str, cfg: Config) -> str:
    if mode == "drop":
        return "they are left out"
    if mode == "downweight":
        return f"they weigh {cfg.train.label_noise_weight:g}"
    share = cfg.train.label_soft_share
    return f"every row's target is {1 - share:g} x its label + {share:g} x the out-of-fold probabilities"
