"""Fitting a trained model to a user's own unlabeled comments (``sentiment adapt``).

The recipe (settings in the config's ``[adapt]`` section):

1. **Vocabulary.** Morphemes frequent in the new texts but unknown to the model join its vocabulary. Their
   vectors come from a Word2Vec trained on the new texts, mapped into the model's own (fine-tuned) embedding
   space by a linear map fitted on the morphemes both know (least squares with a small ridge).
2. **Class mix.** With 30+ audit labels (rows drawn at random, ``sample == "audit"``) their share; otherwise
   equal classes (``adapt.class_mix``; the EM estimate of Saerens et al. 2002 is reported, and used only with
   ``"estimate"``: it trusts the model's calibration on texts it does not know). The model's probabilities are
   reweighted to the mix.
3. **Pseudo-labels.** The model scores the new texts. With ``adapt.ngram_teacher`` (co-training), an n-gram
   model (char 1-5-grams + morpheme 1-3-grams, TF-IDF, naive-Bayes scaled, logistic regression) learns from the
   model's most confident labels: it sees the new domain's own words and spellings; the two models' mean
   relabels the texts. The most confident rows of each predicted class are kept in the class mix (at most
   ``adapt.confidence`` of any class; a confident majority class would otherwise take over).
4. **Fine-tuning.** The network (new embedding rows included) trains on those texts for ``adapt.epochs`` at
   ``adapt.learning_rate``. Each target mixes the pseudo-label with the original model's (reweighted)
   probabilities (``adapt.anchor_weight``), which, with the low learning rate, keeps what the model knew. Rows
   labeled by the user (``labeled=``) train with their labels and ``adapt.labeled_weight``, except a held-out
   part (``adapt.holdout_share``, audit rows first).
5. **Decision rule and figures.** With labels, a threshold (:mod:`sentiment.model.decision`) is chosen and
   stored as the adapted classifier's ``decision_``; the source and adapted models are measured on the
   held-out rows with 95% intervals (cross-fitted where a threshold is chosen from labels).

The result is a new classifier; the source is unchanged. Its ``training_["adaptation"]`` records the source
bundle, the texts' fingerprint and what each step did.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..config import Config
from ..errors import DataError
from ..io.labeled import class_indices
from .transfer import Trained, grown_vocabulary, network_from

Log = Callable[[str], None]
SAMPLE_COLUMN = "sample"  # how `sentiment label` chose a row: "audit" (at random) or "informative"


def adapt_classifier(
    source,
    texts: Sequence[str],
    *,
    labeled: tuple[Sequence[str], Sequence[Any]] | None = None,
    labeled_sample: Sequence[Any] | None = None,
    cfg: Config | None = None,
    workers: int = 1,
    verbose: int = 0,
    what: str = "texts",
    log: Log = lambda msg: None,
):
    """A new fitted :class:`SentimentClassifier` adapted to ``texts``; see the module docstring.

    ``labeled_sample``: for each labeled row, how it was chosen (``audit`` = drawn at random from the texts, as
    ``sentiment label`` marks it; other values: chosen by the model); audit rows estimate the class mix and are
    held out first.
    """
    from ..io.labeled import match_labels
    from ..model.bundle import bundle_id
    from ..model.decision import base_prior_of
    from ..model.network import fit_model
    from ..model.tf_import import import_keras
    from ..text.checks import check_labels, check_texts, data_fingerprint

    source._check_fitted()
    cfg = cfg or source.config_
    a = cfg.adapt
    started = time.perf_counter()
    texts = [t for t in check_texts(texts) if t.strip()]
    if len(texts) < a.min_texts:
        raise DataError(
            f"{what}: only {len(texts):,} non-empty texts; adaptation needs at least {a.min_texts:,} "
            f"unlabeled comments of the new kind (or lower adapt.min_texts)"
        )
    tokens = source.tokenizer_.tokenize_many(texts, workers=workers, show_progress=None if verbose else False)
    _check_looks_like_comments(texts, tokens, what)
    label_texts, label_y = [], np.array([], dtype=int)
    if labeled is not None:
        label_texts = check_texts(labeled[0])
        values = match_labels(check_labels(labeled[1], len(label_texts)), source.classes_, "labeled rows")
        label_y = class_indices(values, source.classes_)
    audit = _audit_mask(labeled_sample, len(label_texts))
    label_tokens = source.tokenizer_.tokenize_many(label_texts, workers=workers) if label_texts else []
    n_classes = source.n_classes_
    train_rows, held_rows = split_labeled(label_y, audit, a.holdout_share, cfg.train.seed)
    if len(label_texts):
        log(
            f"adapt: {len(label_texts):,} labeled rows ({int(audit.sum()):,} audit): {len(train_rows):,} train the "
            f"model, {len(held_rows):,} are held out for the decision rule and the before/after figures"
        )
    keras = import_keras()
    keras.utils.set_random_seed(cfg.train.seed)

    # 1. the original model's view, then the vocabulary grown with the new texts' morphemes
    src_proba = source.predict_ids(source.vocabulary_.encode_many(tokens))
    vocab, matrix, vocab_report = grown_vocabulary(source, [*tokens, *label_tokens], cfg, log)
    ids = vocab.encode_many(tokens)

    # 2. the class mix of the texts, then pseudo-labels: the model's, with an n-gram co-teacher trained on its
    #    confident ones, kept in that mix
    base = np.asarray(
        base_prior_of(getattr(source, "training_", {}), source.config_.train.class_weight, source.classes_.tolist())
    )
    mix, mix_report = estimate_class_mix(src_proba, base, label_y, audit, a.class_mix, n_classes)
    log(f"adapt: class mix {_mix_text(mix, source.classes_)} ({mix_report['method']})")
    shifted = reweight(src_proba, mix, base)  # the model's probabilities under the texts' class mix
    proba, teacher_report = shifted, None
    if a.ngram_teacher:
        proba, teacher_report = _co_teacher(cfg, texts, tokens, shifted, n_classes, mix, log)
    chosen = confident_in_mix(proba, a.confidence, mix)
    if not len(chosen):
        raise DataError(
            f"{what}: no confident pseudo-labels to learn from; the model predicts a single class "
            f"for all texts. Add a few labeled rows (--labeled) or lower adapt.confidence"
        )
    hard = np.eye(n_classes, dtype=np.float32)[proba[chosen].argmax(axis=1)]
    targets = ((hard + a.anchor_weight * shifted[chosen]) / (1.0 + a.anchor_weight)).astype(np.float32)
    train_ids = [ids[i] for i in chosen]
    weights = np.ones(len(chosen), dtype=np.float32)
    label_ids = vocab.encode_many(label_tokens) if label_texts else []
    if len(train_rows):
        train_ids += [label_ids[i] for i in train_rows]
        targets = np.vstack([targets, np.eye(n_classes, dtype=np.float32)[label_y[train_rows]]])
        weights = np.concatenate([weights, np.full(len(train_rows), a.labeled_weight, dtype=np.float32)])
    log(
        f"adapt: fine-tuning on {len(chosen):,} pseudo-labeled texts"
        + (f" and {len(train_rows):,} labeled rows" if len(train_rows) else "")
    )

    # 3. fine-tune a copy of the network with the grown embedding
    tune_cfg = cfg.with_overrides(
        {
            "train.epochs": a.epochs,
            "train.learning_rate": a.learning_rate,
            "train.average_epochs": 0,
            "train.monitor": "loss",
            "train.lr_schedule": "constant",
        }
    )
    model = network_from(source, cfg, matrix)
    rng = np.random.default_rng(cfg.train.seed)
    order = rng.permutation(len(train_ids))
    n_valid = max(1, len(order) // 10) if len(order) >= 50 else 0
    valid_idx, fit_idx = order[:n_valid], order[n_valid:]
    valid = ([train_ids[i] for i in valid_idx], targets[valid_idx]) if n_valid else None
    history = fit_model(
        model,
        tune_cfg,
        ([train_ids[i] for i in fit_idx], targets[fit_idx]),
        valid,
        n_classes,
        sample_weight=weights[fit_idx],
        verbose=verbose,
    )

    adapted = type(source)(config=cfg, workers=source.workers, verbose=source.verbose)
    adapted._set_trained(cfg, Trained(source.classes_, vocab, model, history, {}))
    after = adapted.predict_ids(ids)

    # 4. the decision rule, and figures on held-out labeled rows
    decision_report: dict[str, Any] = {}
    held = None
    if len(held_rows):
        held = {
            "y": label_y[held_rows],
            "all_audit": bool(audit[held_rows].all()),
            "before": source.predict_ids(source.vocabulary_.encode_many([label_tokens[i] for i in held_rows])),
            "after": adapted.predict_ids([label_ids[i] for i in held_rows]),
        }
    audit_y = label_y[audit] if a.class_mix != "balanced" else np.array([], dtype=int)
    rule, decision_report = fit_decision(
        a.decision, n_classes, held, after, mix, base, source, cfg.train.seed, src_proba, audit_y
    )
    adapted.decision_ = rule
    if rule is not None:
        log(f"adapt: decision rule: {rule.describe(source.classes_.tolist())}")
    fingerprint = data_fingerprint(texts, np.zeros(len(texts), dtype=int))
    report = {
        "source_bundle": bundle_id(getattr(source, "meta_", {})),
        "texts": len(texts),
        "texts_fingerprint": fingerprint["sha256"],
        "labeled_rows": len(label_texts),
        "labeled_training_rows": int(len(train_rows)),
        "labeled_held_out_rows": int(len(held_rows)),
        **vocab_report,
        **({"ngram_teacher": teacher_report} if teacher_report else {}),
        "class_mix": {**mix_report, "mix": {str(c): round(float(m), 4) for c, m in zip(source.classes_.tolist(), mix)}},
        "pseudo_labeled": int(len(chosen)),
        "pseudo_label_classes": {
            str(c): int(n)
            for c, n in zip(source.classes_.tolist(), np.bincount(hard.argmax(axis=1), minlength=n_classes))
        },
        "predicted_shares_before": _shares(src_proba, source.classes_),
        "predicted_shares_after": _shares(after, source.classes_, rule),
        "changed_predictions": int((adapted.decide(after) != source.decide(src_proba)).sum()),
        "decision": decision_report,
        "epochs_run": len(history.get("loss", [])),
        "settings": cfg.to_dict()["adapt"],
        "seconds": round(time.perf_counter() - started, 1),
    }
    adapted.training_ = {**getattr(source, "training_", {}), "adaptation": report}
    log(
        f"adapt: {report['new_tokens']:,} new morphemes, {report['changed_predictions']:,} of {len(texts):,} "
        f"predictions changed, {report['seconds']:.0f} s"
    )
    for line in held_out_lines(decision_report):
        log(f"adapt: {line}")
    return adapted


def _audit_mask(sample: Sequence[Any] | None, n: int) -> np.ndarray:
    """Which labeled rows are audit rows (drawn at random); all of them when nobody said how rows were chosen."""
    if sample is None:
        return np.ones(n, dtype=bool)
    values = [str(v).strip().lower() if v is not None and v == v else "" for v in sample]
    if len(values) != n:
        raise DataError(f"{n} labeled rows but {len(values)} sample values")
    return np.asarray([v == "audit" for v in values], dtype=bool)


def split_labeled(y: np.ndarray, audit: np.ndarray, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, held-out rows) of the labeled rows: ``share`` of them held out, audit rows first (their
    figures are unbiased), stratified by class; none held out when fewer than 20 would be or a class would have
    fewer than 5."""
    n = len(y)
    n_held = int(round(share * n))
    if n == 0 or n_held < 20:
        return np.arange(n), np.array([], dtype=int)
    rng = np.random.default_rng(seed)
    pool = np.flatnonzero(audit) if audit.sum() >= n_held else np.arange(n)
    held = []
    for c in np.unique(y[pool]):
        rows = rng.permutation(pool[y[pool] == c])
        held.extend(rows[: int(round(n_held * len(rows) / len(pool)))].tolist())
    held = np.sort(np.asarray(held, dtype=int))
    if min(np.bincount(y[held], minlength=2)[np.unique(y)]) < 5:
        return np.arange(n), np.array([], dtype=int)
    return np.setdiff1d(np.arange(n), held), held


MIN_AUDIT_LABELS = 30  # audit labels needed to take the class mix from them


def estimate_class_mix(
    proba: np.ndarray, base: np.ndarray, label_y: np.ndarray, audit: np.ndarray, how: str, n_classes: int
) -> tuple[np.ndarray, dict[str, Any]]:
    """The texts' class mix (``adapt.class_mix``) and a report of how it was obtained.

    The share among the audit labels (drawn at random: unbiased) when there are at least 30. Otherwise the EM
    estimate (Saerens et al. 2002) is computed and reported, but used only with ``how = "estimate"``: EM
    corrects a count for a shifted class mix only when the model's probabilities stay calibrated on the texts,
    which a new kind of comment breaks (on Steam reviews a movie + shopping model's EM estimate was 27%
    positive for a 51% truth, further off than its plain count, 34%; docs/domains.md).
    """
    from ..model.decision import em_class_prior

    equal = np.full(n_classes, 1.0 / n_classes)
    if how == "balanced":
        return equal, {"method": 'equal classes (adapt.class_mix = "balanced")'}
    audit_y = label_y[audit] if len(label_y) else label_y
    if len(audit_y) >= MIN_AUDIT_LABELS:
        counts = np.bincount(audit_y, minlength=n_classes) + 0.5  # a half-count each: no class at exactly 0
        return counts / counts.sum(), {"method": f"share of {len(audit_y):,} audit labels"}
    em, iterations = em_class_prior(proba, base)
    estimates = {
        "em_estimate": [round(float(m), 4) for m in em],
        "em_iterations": iterations,
        "model_count": [
            round(float(m), 4) for m in np.bincount(proba.argmax(axis=1), minlength=n_classes) / len(proba)
        ],
    }
    if how == "estimate":
        return em, {
            "method": f"EM on the model's probabilities of the texts (Saerens et al. 2002; assumes they "
            f"stay calibrated on these texts), the model's own mix taken as "
            f"{[round(float(b), 3) for b in base]}",
            **estimates,
        }
    return equal, {
        "method": f"equal classes: fewer than {MIN_AUDIT_LABELS} audit labels. EM on the model's "
        f"probabilities estimates {estimates['em_estimate']} and the model's count is "
        f"{estimates['model_count']}, but both trust the model on comments it does not know; "
        f"label ~100 comments drawn at random (sentiment label) to measure the mix",
        **estimates,
    }


def reweight(proba: np.ndarray, mix: np.ndarray, base: np.ndarray) -> np.ndarray:
    """Probabilities under class mix ``mix`` for a model whose probabilities assume ``base``."""
    out = np.asarray(proba, dtype=np.float64) * (np.asarray(mix) / np.asarray(base))
    return (out / out.sum(axis=1, keepdims=True)).astype(np.float32)


def fit_decision(
    how: str,
    n_classes: int,
    held: dict[str, np.ndarray] | None,
    after: np.ndarray,
    mix: np.ndarray,
    base: np.ndarray,
    source,
    seed: int,
    src_proba: np.ndarray | None = None,
    audit_y: np.ndarray | None = None,
):
    """(the adapted model's :class:`DecisionRule` or None, its report with held-out figures).

    With labels: the threshold from :func:`sentiment.model.decision.threshold_from_labels` (the predicted share on the
    texts matched to the audit labels' share, or macro-F1 on the held-out rows when audit labels are few).
    Held-out figures of a fitted threshold are cross-fitted: each half of the held-out rows is scored with
    the threshold chosen from the other half's labels.
    """
    from ..model.decision import DecisionRule, share_threshold, threshold_from_labels

    report: dict[str, Any] = {}
    rule = None
    classes = source.classes_.tolist()
    binary = n_classes == 2
    audit_y = np.array([], dtype=int) if audit_y is None else audit_y
    if held is not None:
        y, before, after_held = held["y"], held["before"], held["after"]
        by_share = held["all_audit"]  # held-out rows drawn at random: their share may choose the threshold
        figures = {
            "source": held_out_figures(y, class_indices(source.decide(before), source.classes_), seed),
            "adapted (likelier class)": held_out_figures(y, after_held.argmax(axis=1), seed),
        }
        if binary:
            figures["source, fitted threshold"] = held_out_figures(
                y, cross_fitted(before[:, 1], y, seed, src_proba[:, 1] if by_share else None), seed
            )
            figures["adapted, fitted threshold"] = held_out_figures(
                y, cross_fitted(after_held[:, 1], y, seed, after[:, 1] if by_share else None), seed
            )
        report["held_out"] = {
            "rows": int(len(y)),
            "figures": figures,
            "note": "rows not used to train the adapted model; fitted thresholds are "
            "cross-fitted (each half scored with the threshold chosen from the other "
            "half's labels)",
        }
    if not binary or how == "none":
        return None, {**report, "rule": "likelier class"}
    if how in ("labels", "estimate") and (held is not None or len(audit_y) >= 30):
        threshold, method = threshold_from_labels(
            after[:, 1], audit_y, *((held["after"][:, 1], held["y"]) if held is not None else (None, None))
        )
        rule = DecisionRule(
            threshold,
            tuple(float(m) for m in mix),
            tuple(float(m) for m in mix),
            method,
            {"labels": int(len(audit_y) if len(audit_y) >= 30 else len(held["y"]))},
        )
    elif how == "estimate":
        threshold = share_threshold(after[:, 1], float(mix[1]))
        rule = DecisionRule(
            threshold,
            tuple(float(m) for m in mix),
            tuple(float(m) for m in mix),
            "threshold at which the predicted share matches the estimated class mix",
            {},
        )
    if rule is None:
        return None, {**report, "rule": "likelier class"}
    return rule, {**report, "rule": rule.to_dict(classes)}


def cross_fitted(p1: np.ndarray, y: np.ndarray, seed: int, p1_texts: np.ndarray | None = None) -> np.ndarray:
    """Predictions (0/1) of each half of the labeled rows with the threshold chosen from the other half's labels
    (stratified halves): by share on ``p1_texts`` when given (the rows are audit rows), else by macro-F1."""
    from ..model.decision import threshold_from_labels

    rng = np.random.default_rng(seed + 1)
    half = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == c))
        half[rows[: len(rows) // 2]] = True
    pred = np.zeros(len(y), dtype=int)
    for part in (half, ~half):
        other = ~part
        if p1_texts is not None:
            threshold, _ = threshold_from_labels(p1_texts, y[other], min_audit=1)
        else:
            threshold, _ = threshold_from_labels(p1[other], np.array([]), p1[other], y[other])
        pred[part] = (p1[part] >= threshold).astype(int)
    return pred


def held_out_figures(y: np.ndarray, pred: np.ndarray, seed: int, resamples: int = 1000) -> dict[str, Any]:
    """Accuracy (95% Wilson interval) and macro-F1 (95% percentile bootstrap interval) of ``pred`` against ``y``."""
    from sklearn.metrics import f1_score

    from ..analysis.report_stats import wilson

    y, pred = np.asarray(y), np.asarray(pred)
    labels = np.unique(y)
    correct = int((y == pred).sum())
    lo, hi = wilson(np.array([correct]), np.array([len(y)]))
    f1 = float(f1_score(y, pred, labels=labels, average="macro", zero_division=0))
    rng = np.random.default_rng(seed)
    boot = [
        f1_score(y[idx], pred[idx], labels=labels, average="macro", zero_division=0)
        for idx in (rng.integers(0, len(y), len(y)) for _ in range(resamples))
    ]
    return {
        "accuracy": round(correct / len(y), 4),
        "accuracy_95": [round(float(lo[0]), 4), round(float(hi[0]), 4)],
        "macro_f1": round(f1, 4),
        "macro_f1_95": [round(float(np.percentile(boot, 2.5)), 4), round(float(np.percentile(boot, 97.5)), 4)],
    }


def held_out_lines(decision_report: dict[str, Any]) -> list[str]:
    """The before/after figures on held-out labeled rows, one line each (empty without any)."""
    held = decision_report.get("held_out")
    if not held:
        return []
    lines = [f"on {held['rows']:,} held-out labeled rows (not used for training; 95% intervals):"]
    for name, f in held["figures"].items():
        lines.append(
            f"  {name:<27} accuracy {f['accuracy']:.3f} [{f['accuracy_95'][0]:.3f}, "
            f"{f['accuracy_95'][1]:.3f}], macro-F1 {f['macro_f1']:.3f} [{f['macro_f1_95'][0]:.3f}, "
            f"{f['macro_f1_95'][1]:.3f}]"
        )
    return lines


def _mix_text(mix: np.ndarray, classes: np.ndarray) -> str:
    return ", ".join(f"{c}: {m:.1%}" for c, m in zip(classes.tolist(), mix))


def confident_in_mix(proba: np.ndarray, share: float, mix: np.ndarray | None = None) -> np.ndarray:
    """Row indices: the most confident rows of each predicted class, as many of each class as ``mix`` (the class
    mix; None: equal) asks, at most ``share`` of any class's predicted rows."""
    pred = proba.argmax(axis=1)
    confidence = proba.max(axis=1)
    n_classes = proba.shape[1]
    mix = np.full(n_classes, 1.0 / n_classes) if mix is None else np.asarray(mix, dtype=float)
    per_class = [np.flatnonzero(pred == c) for c in range(n_classes)]
    present = [c for c in range(n_classes) if len(per_class[c])]
    if len(present) < 2:
        return np.array([], dtype=int)
    scale = min(share * len(per_class[c]) / mix[c] for c in present)  # the most rows the mix allows
    chosen = [
        per_class[c][np.argsort(-confidence[per_class[c]], kind="stable")][: max(1, int(scale * mix[c]))]
        for c in present
    ]
    return np.sort(np.concatenate(chosen))


def _shares(proba: np.ndarray, classes: np.ndarray, rule=None) -> dict[str, float]:
    counts = np.bincount(rule.indices(proba) if rule is not None else proba.argmax(axis=1), minlength=len(classes))
    return {str(c): round(float(n) / max(len(proba), 1), 4) for c, n in zip(classes.tolist(), counts)}


def _check_looks_like_comments(texts: Sequence[str], tokens: Sequence[Sequence[str]], what: str) -> None:
    """Refuse columns of ids, numbers or codes (the wrong column) with a clear error."""
    sample = range(min(len(texts), 2000))
    hangul = sum(any("\uac00" <= ch <= "\ud7a3" for ch in texts[i]) for i in sample) / max(len(sample), 1)
    mean_tokens = float(np.mean([len(tokens[i]) for i in sample])) if len(sample) else 0.0
    if hangul < 0.2 or mean_tokens < 1.5:
        example = ", ".join(repr(texts[i][:30]) for i in list(sample)[:3])
        raise DataError(
            f"{what}: these do not look like Korean comments ({hangul:.0%} contain Hangul, "
            f"{mean_tokens:.1f} morphemes per text on average; e.g. {example}); is it the right "
            f"column? Name it with --text-column"
        )


def _co_teacher(
    cfg: Config,
    texts: Sequence[str],
    tokens: Sequence[Sequence[str]],
    src_proba: np.ndarray,
    n_classes: int,
    mix: np.ndarray,
    log: Log,
) -> tuple[np.ndarray, dict[str, Any]]:
    """The mean of the model's probabilities and an n-gram model's trained on its confident labels."""
    from .distill import char_ngram_teacher

    chosen = confident_in_mix(src_proba, cfg.adapt.confidence, mix)
    if len(chosen) < 20:
        return src_proba, {"skipped": f"only {len(chosen)} confident texts"}
    rng = np.random.default_rng(cfg.train.seed)
    order = rng.permutation(chosen)
    n_valid = max(1, len(order) // 10)
    valid, fit = order[:n_valid], order[n_valid:]
    y = src_proba.argmax(axis=1)
    teacher_cfg = cfg.with_overrides(
        {
            "distill.char_ngram_range": [1, 5],
            "distill.morpheme_ngrams": 3,
            "distill.naive_bayes": n_classes == 2,
            "distill.char_ngram_c": 4.0,
            "train.class_weight": "none",
        }
    )
    log(f"adapt: training the n-gram co-teacher on {len(fit):,} confident pseudo-labels")
    all_proba, _, report = char_ngram_teacher(
        teacher_cfg,
        [texts[i] for i in fit],
        y[fit],
        [texts[i] for i in valid],
        y[valid],
        list(texts),
        n_classes,
        tokens=([tokens[i] for i in fit], [tokens[i] for i in valid], list(tokens)),
    )
    report["agreement_with_model"] = round(float((all_proba.argmax(axis=1) == y).mean()), 4)
    return ((src_proba + all_proba) / 2.0).astype(np.float32), report


def _rule_text(rule: Any) -> str:
    if not isinstance(rule, dict):
        return str(rule or "likelier class")
    if "threshold" in rule:
        return (
            f"predict the second class when its probability is at least {rule['threshold']:.3f} "
            f"({rule['method']}); `--threshold` overrides it"
        )
    return rule.get("method") or "likelier class"


def adaptation_summary(report: dict[str, Any]) -> str:
    """What ``sentiment adapt`` prints: the class mix, the decision rule and the held-out figures."""
    lines = [
        f"class mix of the texts: {report['class_mix'].get('mix', 'equal')} ({report['class_mix']['method']})",
        f"predicted shares: before {report['predicted_shares_before']}, after {report['predicted_shares_after']}",
        f"decision rule: {_rule_text(report['decision'].get('rule'))}",
    ]
    held = held_out_lines(report["decision"])
    if held:
        lines += held
    elif report.get("labeled_rows"):
        lines.append(
            f"{report['labeled_rows']:,} labeled rows: too few to hold some out (adapt.holdout_share); "
            "no figures measured on rows the model did not learn from"
        )
    else:
        lines.append(
            "no labeled rows: the class mix is an estimate and the figures are unknown; label a few hundred "
            "comments (`sentiment label`) and pass them with --labeled to measure and fit the decision"
        )
    return "\n".join(lines)


def adaptation_card(report: dict[str, Any]) -> str:
    """The model card section of an adapted bundle."""
    s = report["settings"]
    lines = [
        "## Adaptation",
        f"- Adapted from `{report.get('source_path', 'a bundle')}` (bundle id `{report['source_bundle'][:16]}`) "
        f"with `sentiment adapt` on {report['texts']:,} unlabeled texts"
        + (f" of `{report['texts_file']}`" if report.get("texts_file") else "")
        + f" (sha256 `{report['texts_fingerprint'][:16]}`)"
        + (f" and {report['labeled_rows']:,} labeled rows" if report["labeled_rows"] else "")
        + ".",
        f"- Vocabulary: {report['new_tokens']:,} new morphemes (at least {s['new_token_min_count']} "
        f"occurrences), vectors mapped into the model's embedding space"
        + (
            f" (R² {report['mapping_r2']} on {report['anchors']:,} shared morphemes)"
            if report.get("mapping_r2") is not None
            else ""
        )
        + ".",
        f"- Pseudo-labels: {report['pseudo_labeled']:,} texts ({report['pseudo_label_classes']}), the most "
        f"confident {s['confidence']:.0%} of each predicted class"
        + (", by the model and an n-gram co-teacher" if report.get("ngram_teacher") else "")
        + f"; fine-tuned {report['epochs_run']} epoch(s) at learning rate {s['learning_rate']}, targets "
        f"anchored to the original model's probabilities (weight {s['anchor_weight']}).",
        f"- Class mix of the texts: {report['class_mix'].get('mix', 'equal')} "
        f"({report['class_mix']['method']}); pseudo-labels and the model's probabilities follow it.",
        f"- Predicted shares on the texts: before {report['predicted_shares_before']}, after "
        f"{report['predicted_shares_after']}; {report['changed_predictions']:,} predictions changed.",
        f"- Decision rule: {_rule_text(report['decision'].get('rule'))}.",
    ]
    lines += [
        f"- {line}" if not line.startswith("  ") else f"  - {line.strip()}"
        for line in held_out_lines(report["decision"])
    ]
    evaluation = report.get("evaluation")
    if evaluation:
        lines.append(
            f"- On `{evaluation['file']}`: "
            + "; ".join(
                f"{name} accuracy {m['accuracy']:.4f}, macro-F1 {m['macro_f1']:.4f}"
                for name, m in evaluation.items()
                if isinstance(m, dict)
            )
            + "."
        )
    return "\n".join(lines)
