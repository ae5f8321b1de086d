"""Finding mislabeled rows: out-of-fold probabilities and confident learning (cleanlab).

Every row gets probabilities from models that never saw its label: a character
n-gram TF-IDF + naive-Bayes-scaled logistic regression (the char n-gram teacher
of :mod:`sentiment.training.distill`) fitted on the other folds, mixed with the
probabilities of a trained model passed in as a :class:`Predictor` (the
packaged model, or the user's own). The n-gram model's share of that mix is the
one whose log-loss against the given labels is lowest. Confident learning
(``cleanlab.filter.find_label_issues``) then flags the rows whose given label is
unlikely under those probabilities, class by class, ranked by self-confidence
(the probability of the given label; with two classes the same order as the
normalized margin).

The predictor's probabilities are only out-of-sample for rows the model was not
trained on: auditing a model's own training data with it finds fewer issues
(it has learned some of the wrong labels); audit with the n-gram models alone
(``predictor=None``) there.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..config import Config
from ..errors import DataError, SentimentError
from .distill import SHARES, char_ngram_teacher

Log = Callable[[str], None]

AUDIT_EXTRA = 'pip install "sentiment[audit]"'
PARALLEL_ROWS = 5_000  # fewer rows: the folds are fitted in this process
MIN_ROWS = 50  # below this the per-fold n-gram models and the per-class thresholds are noise
COLUMNS = ("row", "text", "given_label", "suggested_label", "score", "p_given", "p_suggested")


@dataclass
class Predictor:
    """A trained model's probabilities: ``proba(texts)`` is ``(n, len(classes))`` in ``classes`` order."""

    proba: Callable[[list[str]], np.ndarray]
    classes: Sequence[Any] | np.ndarray
    name: str


def require_cleanlab() -> Any:
    """``cleanlab.filter``, or an error naming the extra that installs it."""
    try:
        from cleanlab import filter as cleanlab_filter
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] != "cleanlab":
            raise
        raise SentimentError(
            f"the label audit needs cleanlab (confident learning), which is not installed; "
            f"install it with: {AUDIT_EXTRA}"
        ) from None
    return cleanlab_filter


def check_audit_input(
    texts: Sequence[str], labels: np.ndarray, folds: int, where: str = "the data", workers: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The sorted classes and each row's class index; errors for data (and settings) the audit cannot use."""
    if not isinstance(workers, (int, np.integer)) or workers < 0:
        raise SentimentError(f"workers (--workers) = {workers!r} is invalid; give 0 (one per core) or more")
    if not isinstance(folds, (int, np.integer)) or isinstance(folds, bool) or not 2 <= folds <= 20:
        raise SentimentError(f"folds (--folds) = {folds!r} is invalid; give a whole number from 2 to 20 (default 5)")
    if len(texts) != len(labels):
        raise DataError(f"{where}: {len(texts)} texts but {len(labels)} labels")
    if not len(texts):
        raise DataError(f"{where}: no labeled rows; give a table with a text and a label column")
    values = np.asarray([str(v) for v in labels.tolist()]) if labels.dtype == object else labels
    classes, y, counts = np.unique(values, return_inverse=True, return_counts=True)
    if len(classes) < 2:
        raise DataError(
            f"{where}: every row has label {classes.tolist()[0]!r}; the audit compares classes and "
            f"needs at least two (check --label-column)"
        )
    if len(texts) < MIN_ROWS:
        raise DataError(
            f"{where}: only {len(texts)} labeled rows; the audit needs at least {MIN_ROWS} (it fits "
            f"a model on the other folds of every row)"
        )
    rare = [f"{c!r} ({n} rows)" for c, n in zip(classes.tolist(), counts.tolist(), strict=True) if n < folds]
    if rare:
        raise DataError(
            f"{where}: label(s) {', '.join(rare)} have fewer rows than folds ({folds}); each class "
            f"needs at least {folds} rows: relabel or drop them, or lower --folds"
        )
    return classes, y.astype(np.int64)


def align_classes(predictor: Predictor, classes: np.ndarray, where: str = "the data") -> np.ndarray:
    """For each data class, the column of the predictor's probabilities; unknown labels are an error."""
    known = {str(c): i for i, c in enumerate(predictor.classes)}
    unknown = [c for c in classes.tolist() if str(c) not in known]
    if unknown:
        raise DataError(
            f"{where}: label value(s) {', '.join(map(repr, unknown[:10]))} are not among the labels of "
            f"the model {predictor.name} {[str(c) for c in predictor.classes]}; check --label-column, "
            f"give a --model trained on these labels, or audit with the n-gram models alone (--no-model)"
        )
    return np.asarray([known[str(c)] for c in classes.tolist()])


def ngram_config(n_classes: int) -> Config:
    """The n-gram model fitted per fold: char 1-5-grams, NB scaling (two classes), C = 4 (the packaged recipe's)."""
    return Config().with_overrides(
        {
            "distill.char_ngram_range": [1, 5],
            "distill.char_ngram_c": 4.0,
            "distill.naive_bayes": n_classes == 2,
            "distill.morpheme_ngrams": 0,
            "train.class_weight": "balanced",
        }
    )


def out_of_fold_ngram(
    texts: Sequence[str],
    y: np.ndarray,
    n_classes: int,
    folds: int,
    seed: int = 0,
    workers: int = 0,
    log: Log = lambda msg: None,
) -> np.ndarray:
    """Each row's probabilities from the n-gram model fitted on the other ``folds - 1`` folds.

    The folds are fitted in ``workers`` processes at once (0: one per core, at most ``folds``; 1: in this
    process); below :data:`PARALLEL_ROWS` rows always in this process (starting workers costs more).
    """
    from joblib import Parallel, delayed
    from sklearn.model_selection import StratifiedKFold

    cfg = ngram_config(n_classes)
    texts = list(texts)
    splits = list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))
    workers = min(folds, workers or len(os.sched_getaffinity(0)))

    def fit(train: np.ndarray, held_out: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        _, proba, report = char_ngram_teacher(
            cfg, [texts[i] for i in train], y[train], [texts[i] for i in held_out], y[held_out], [], n_classes
        )
        return proba, report

    if workers > 1 and len(texts) >= PARALLEL_ROWS:
        results = Parallel(n_jobs=workers)(delayed(fit)(train, held_out) for train, held_out in splits)
    else:
        results = [fit(train, held_out) for train, held_out in splits]
    proba = np.zeros((len(texts), n_classes), dtype=np.float32)
    for fold, ((_, held_out), (fold_proba, report)) in enumerate(zip(splits, results, strict=True), 1):
        proba[held_out] = fold_proba
        log(
            f"audit: n-gram model, fold {fold}/{folds}: accuracy on its held-out rows "
            f"{report['validation_accuracy']:.4f}, {report['seconds']} s"
        )
    return proba


def mix(model_proba: np.ndarray, ngram_proba: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """The mix ``(1 - s) * model + s * ngram`` with the n-gram share ``s`` of lowest log-loss on the given labels."""
    rows = np.arange(len(y))

    def log_loss(share: float) -> float:
        p = (1 - share) * model_proba[rows, y] + share * ngram_proba[rows, y]
        return float(-np.log(np.clip(p, 1e-7, 1.0)).mean())

    share = min(SHARES, key=log_loss)
    return ((1 - share) * model_proba + share * ngram_proba).astype(np.float32), share


def audit_labels(
    texts: Sequence[str],
    labels: Sequence[Any] | np.ndarray,
    predictor: Predictor | None = None,
    *,
    folds: int = 5,
    seed: int = 0,
    workers: int = 0,
    where: str = "the data",
    log: Log = lambda msg: None,
) -> pd.DataFrame:
    """The rows whose given label is likely wrong, most suspicious first.

    Columns: ``row`` (the row's 0-based position in ``texts``), ``text``,
    ``given_label``, ``suggested_label`` (the likeliest other label), ``score``
    (1 - the out-of-fold probability of the given label: how likely it is
    wrong), ``p_given`` and ``p_suggested``. ``table.attrs["summary"]`` holds
    :func:`summarize`'s figures. ``predictor``: a trained model mixed with the
    per-fold n-gram models (None: the n-gram models alone); ``workers``: processes fitting the folds (0: one
    per core).
    """
    cleanlab_filter = require_cleanlab()
    started = time.perf_counter()
    labels = np.asarray(list(labels) if not isinstance(labels, np.ndarray) else labels)
    texts = list(texts)
    classes, y = check_audit_input(texts, labels, folds, where, workers)
    columns = align_classes(predictor, classes, where) if predictor is not None else None
    n_classes = len(classes)
    log(f"audit: {len(texts):,} rows, labels {classes.tolist()}; n-gram model on {folds} folds")
    ngram = out_of_fold_ngram(texts, y, n_classes, folds, seed, workers, log)
    share = 1.0
    proba = ngram
    if predictor is not None:
        log(f"audit: probabilities of the model {predictor.name}")
        model = np.asarray(predictor.proba(texts), dtype=np.float64)[:, columns]
        model = model / np.clip(model.sum(axis=1, keepdims=True), 1e-12, None)  # its classes beyond the data's
        proba, share = mix(model, ngram, y)
        log(f"audit: n-gram share of the mix {share} (lowest log-loss on the given labels)")
    flagged = cleanlab_filter.find_label_issues(
        y, proba, return_indices_ranked_by="self_confidence", filter_by="prune_by_noise_rate", n_jobs=1
    )
    table = issue_table(texts, y, classes, proba, np.asarray(flagged, dtype=np.int64))
    table.attrs["summary"] = summarize(
        table,
        len(texts),
        classes,
        folds=folds,
        model=(predictor.name if predictor is not None else None),
        ngram_share=share,
        seconds=time.perf_counter() - started,
    )
    return table


def issue_table(
    texts: Sequence[str], y: np.ndarray, classes: np.ndarray, proba: np.ndarray, flagged: np.ndarray
) -> pd.DataFrame:
    """The flagged rows in the given order, with the given and suggested labels and their probabilities."""
    p = proba[flagged].astype(np.float64)
    given = y[flagged]
    others = p.copy()
    others[np.arange(len(flagged)), given] = -1.0
    suggested = others.argmax(axis=1)
    p_given = p[np.arange(len(flagged)), given]
    order = np.argsort(p_given, kind="stable")  # cleanlab's ranking, made stable for ties
    flagged, given, suggested, p_given, p = flagged[order], given[order], suggested[order], p_given[order], p[order]
    return pd.DataFrame(
        {
            "row": flagged,
            "text": [texts[i] for i in flagged.tolist()],
            "given_label": classes[given],
            "suggested_label": classes[suggested],
            "score": np.round(1.0 - p_given, 4),
            "p_given": np.round(p_given, 4),
            "p_suggested": np.round(p[np.arange(len(flagged)), suggested], 4),
        },
        columns=list(COLUMNS),
    )


def summarize(table: pd.DataFrame, rows: int, classes: np.ndarray, **extra: Any) -> dict[str, Any]:
    """How many rows were flagged, out of how many, and for which (given, suggested) label pairs."""
    pairs = table.groupby(["given_label", "suggested_label"], sort=False).size().sort_values(ascending=False)
    return {
        "rows": rows,
        "flagged": len(table),
        "flagged_share": round(len(table) / rows, 4) if rows else 0.0,
        "classes": [_plain(c) for c in classes.tolist()],
        "label_pairs": [{"given": _plain(g), "suggested": _plain(s), "rows": int(n)} for (g, s), n in pairs.items()],
        **{k: (round(v, 1) if k == "seconds" else v) for k, v in extra.items()},
    }


def _plain(value: Any) -> Any:
    """A JSON-ready label value (numpy ints to int)."""
    return value.item() if isinstance(value, np.generic) else value


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """The summary for people: the count, the share and the label pairs."""
    lines = [
        f"audit: {summary['flagged']:,} of {summary['rows']:,} rows ({summary['flagged_share']:.1%}) flagged "
        f"as likely mislabeled ({summary['seconds']} s)"
    ]
    for pair in summary["label_pairs"]:
        plural = "s" if pair["rows"] != 1 else ""
        lines.append(f"  labeled {pair['given']!s}, likely {pair['suggested']!s}: {pair['rows']:,} row{plural}")
    return lines


def card_section(summaries: dict[str, dict[str, Any]]) -> str:
    """A model card section from audits of the training files (name -> ``sentiment audit --json``'s summary)."""
    lines = [
        "- `sentiment audit --no-model` on the labeled files the model was trained on (out-of-fold char "
        "n-gram models and confident learning, docs/audit.md): the rows flagged as likely mislabeled. The "
        "model was trained on the labels as they are, flagged rows included; examples, and how many flagged rows "
        "are really mislabeled: docs/results.md (Label audit).",
        "",
        "| data | rows | flagged | share | labeled → likely (rows) | folds |",
        "|---|---|---|---|---|---|",
    ]
    for name, s in summaries.items():
        pairs = ", ".join(f"{p['given']} → {p['suggested']} ({p['rows']:,})" for p in s["label_pairs"])
        lines.append(
            f"| {name} | {s['rows']:,} | {s['flagged']:,} | {s['flagged_share']:.1%} | {pairs} | {s['folds']} |"
        )
    return "\n".join(lines)
