"""Fitting a trained model to a user's own unlabeled comments (``sentiment adapt``).

The recipe (settings in the config's ``[adapt]`` section):

1. **Vocabulary.** Morphemes frequent in the new texts but unknown to the model join its vocabulary. Their
   vectors come from a Word2Vec trained on the new texts, mapped into the model's own (fine-tuned) embedding
   space by a linear map fitted on the morphemes both know (least squares with a small ridge).
2. **Pseudo-labels.** The model scores the new texts. With ``adapt.ngram_teacher`` (co-training), an n-gram
   model (char 1-5-grams + morpheme 1-3-grams, TF-IDF, naive-Bayes scaled, logistic regression) learns from the
   model's most confident labels: it sees the new domain's own words and spellings; the two models' mean
   relabels the texts. The most confident ``adapt.confidence`` share of each predicted class is kept, the
   classes balanced to the smallest (the new domain's class mix is unknown; a confident majority class
   would otherwise take over).
3. **Fine-tuning.** The network (new embedding rows included) trains on those texts for ``adapt.epochs`` at
   ``adapt.learning_rate``. Each target mixes the pseudo-label with the original model's own probabilities
   (``adapt.anchor_weight``), which, with the low learning rate, keeps what the model knew. Rows labeled by the
   user (``labeled=``) train with their labels and ``adapt.labeled_weight``.

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
from .transfer import Trained, grown_vocabulary, network_from

Log = Callable[[str], None]


def adapt_classifier(source, texts: Sequence[str], *, labeled: tuple[Sequence[str], Sequence[Any]] | None = None,
                     cfg: Config | None = None, workers: int = 1, verbose: int = 0, what: str = "texts",
                     log: Log = lambda msg: None):
    """A new fitted :class:`SentimentClassifier` adapted to ``texts``; see the module docstring."""
    from ..model.tf_import import import_keras
    from ..model.bundle import bundle_id
    from ..text.checks import check_labels, check_texts, data_fingerprint
    from ..io.labeled import match_labels
    from ..model.network import fit_model

    source._check_fitted()
    cfg = cfg or source.config_
    a = cfg.adapt
    started = time.perf_counter()
    texts = [t for t in check_texts(texts) if t.strip()]
    if len(texts) < a.min_texts:
        raise DataError(f"{what}: only {len(texts):,} non-empty texts; adaptation needs at least {a.min_texts:,} "
                        f"unlabeled comments of the new kind (or lower adapt.min_texts)")
    tokens = source.tokenizer_.tokenize_many(texts, workers=workers, show_progress=None if verbose else False)
    _check_looks_like_comments(texts, tokens, what)
    label_texts, label_y = [], np.array([], dtype=int)
    if labeled is not None:
        label_texts = check_texts(labeled[0])
        values = match_labels(check_labels(labeled[1], len(label_texts)), source.classes_, "labeled rows")
        label_y = np.searchsorted(source.classes_, values)  # classes_ are sorted (np.unique)
    label_tokens = source.tokenizer_.tokenize_many(label_texts, workers=workers) if label_texts else []
    n_classes = source.n_classes_
    keras = import_keras()
    keras.utils.set_random_seed(cfg.train.seed)

    # 1. the original model's view, then the vocabulary grown with the new texts' morphemes
    src_proba = source.predict_ids(source.vocabulary_.encode_many(tokens))
    vocab, matrix, vocab_report = grown_vocabulary(source, [*tokens, *label_tokens], cfg, log)
    ids = vocab.encode_many(tokens)

    # 2. pseudo-labels: the model's, with an n-gram co-teacher trained on its confident ones
    proba, teacher_report = src_proba, None
    if a.ngram_teacher:
        proba, teacher_report = _co_teacher(cfg, texts, tokens, src_proba, n_classes, log)
    chosen = confident_balanced(proba, a.confidence)
    if not len(chosen):
        raise DataError(f"{what}: no confident pseudo-labels to learn from; the model predicts a single class "
                        f"for all texts. Add a few labeled rows (--labeled) or lower adapt.confidence")
    hard = np.eye(n_classes, dtype=np.float32)[proba[chosen].argmax(axis=1)]
    targets = ((hard + a.anchor_weight * src_proba[chosen]) / (1.0 + a.anchor_weight)).astype(np.float32)
    train_ids = [ids[i] for i in chosen]
    weights = np.ones(len(chosen), dtype=np.float32)
    if len(label_texts):
        train_ids += vocab.encode_many(label_tokens)
        targets = np.vstack([targets, np.eye(n_classes, dtype=np.float32)[label_y]])
        weights = np.concatenate([weights, np.full(len(label_y), a.labeled_weight, dtype=np.float32)])
    log(f"adapt: fine-tuning on {len(chosen):,} pseudo-labeled texts"
        + (f" and {len(label_texts):,} labeled rows" if len(label_texts) else ""))

    # 3. fine-tune a copy of the network with the grown embedding
    tune_cfg = cfg.with_overrides({"train.epochs": a.epochs, "train.learning_rate": a.learning_rate,
                                   "train.average_epochs": 0, "train.monitor": "loss",
                                   "train.lr_schedule": "constant"})
    model = network_from(source, cfg, matrix)
    rng = np.random.default_rng(cfg.train.seed)
    order = rng.permutation(len(train_ids))
    n_valid = max(1, len(order) // 10) if len(order) >= 50 else 0
    valid_idx, fit_idx = order[:n_valid], order[n_valid:]
    valid = ([train_ids[i] for i in valid_idx], targets[valid_idx]) if n_valid else None
    history = fit_model(model, tune_cfg, ([train_ids[i] for i in fit_idx], targets[fit_idx]), valid, n_classes,
                        sample_weight=weights[fit_idx], verbose=verbose)

    adapted = type(source)(config=cfg, workers=source.workers, verbose=source.verbose)
    adapted._set_trained(cfg, Trained(source.classes_, vocab, model, history, {}))
    after = adapted.predict_ids(ids)
    fingerprint = data_fingerprint(texts, np.zeros(len(texts), dtype=int))
    report = {
        "source_bundle": bundle_id(getattr(source, "meta_", {})),
        "texts": len(texts),
        "texts_fingerprint": fingerprint["sha256"],
        "labeled_rows": len(label_texts),
        **vocab_report,
        **({"ngram_teacher": teacher_report} if teacher_report else {}),
        "pseudo_labeled": int(len(chosen)),
        "pseudo_label_classes": {str(c): int(n) for c, n in
                                 zip(source.classes_.tolist(), np.bincount(hard.argmax(axis=1), minlength=n_classes))},
        "predicted_shares_before": _shares(src_proba, source.classes_),
        "predicted_shares_after": _shares(after, source.classes_),
        "changed_predictions": int((after.argmax(axis=1) != src_proba.argmax(axis=1)).sum()),
        "epochs_run": len(history.get("loss", [])),
        "settings": cfg.to_dict()["adapt"],
        "seconds": round(time.perf_counter() - started, 1),
    }
    adapted.training_ = {**getattr(source, "training_", {}), "adaptation": report}
    log(f"adapt: {report['new_tokens']:,} new morphemes, {report['changed_predictions']:,} of {len(texts):,} "
        f"predictions changed, {report['seconds']:.0f} s")
    return adapted


def confident_balanced(proba: np.ndarray, share: float) -> np.ndarray:
    """Row indices: the most confident ``share`` of each predicted class, every class cut to the smallest."""
    pred = proba.argmax(axis=1)
    confidence = proba.max(axis=1)
    per_class = [np.flatnonzero(pred == c) for c in range(proba.shape[1])]
    present = [rows for rows in per_class if len(rows)]
    if len(present) < 2:
        return np.array([], dtype=int)
    keep = max(1, int(min(len(rows) for rows in present) * share))
    chosen = [rows[np.argsort(-confidence[rows], kind="stable")][:keep] for rows in present]
    return np.sort(np.concatenate(chosen))


def _shares(proba: np.ndarray, classes: np.ndarray) -> dict[str, float]:
    counts = np.bincount(proba.argmax(axis=1), minlength=len(classes))
    return {str(c): round(float(n) / max(len(proba), 1), 4) for c, n in zip(classes.tolist(), counts)}


def _check_looks_like_comments(texts: Sequence[str], tokens: Sequence[Sequence[str]], what: str) -> None:
    """Refuse columns of ids, numbers or codes (the wrong column) with a clear error."""
    sample = range(min(len(texts), 2000))
    hangul = sum(any("\uac00" <= ch <= "\ud7a3" for ch in texts[i]) for i in sample) / max(len(sample), 1)
    mean_tokens = float(np.mean([len(tokens[i]) for i in sample])) if len(sample) else 0.0
    if hangul < 0.2 or mean_tokens < 1.5:
        example = ", ".join(repr(texts[i][:30]) for i in list(sample)[:3])
        raise DataError(f"{what}: these do not look like Korean comments ({hangul:.0%} contain Hangul, "
                        f"{mean_tokens:.1f} morphemes per text on average; e.g. {example}); is it the right "
                        f"column? Name it with --text-column")


def _co_teacher(cfg: Config, texts: Sequence[str], tokens: Sequence[Sequence[str]], src_proba: np.ndarray,
                n_classes: int, log: Log) -> tuple[np.ndarray, dict[str, Any]]:
    """The mean of the model's probabilities and an n-gram model's trained on its confident labels."""
    from .distill import char_ngram_teacher

    chosen = confident_balanced(src_proba, cfg.adapt.confidence)
    if len(chosen) < 20:
        return src_proba, {"skipped": f"only {len(chosen)} confident texts"}
    rng = np.random.default_rng(cfg.train.seed)
    order = rng.permutation(chosen)
    n_valid = max(1, len(order) // 10)
    valid, fit = order[:n_valid], order[n_valid:]
    y = src_proba.argmax(axis=1)
    teacher_cfg = cfg.with_overrides({"distill.char_ngram_range": [1, 5], "distill.morpheme_ngrams": 3,
                                      "distill.naive_bayes": n_classes == 2, "distill.char_ngram_c": 4.0,
                                      "train.class_weight": "none"})
    log(f"adapt: training the n-gram co-teacher on {len(fit):,} confident pseudo-labels")
    all_proba, _, report = char_ngram_teacher(
        teacher_cfg, [texts[i] for i in fit], y[fit], [texts[i] for i in valid], y[valid], list(texts), n_classes,
        tokens=([tokens[i] for i in fit], [tokens[i] for i in valid], list(tokens)))
    report["agreement_with_model"] = round(float((all_proba.argmax(axis=1) == y).mean()), 4)
    return ((src_proba + all_proba) / 2.0).astype(np.float32), report


def adaptation_card(report: dict[str, Any]) -> str:
    """The model card section of an adapted bundle."""
    s = report["settings"]
    lines = ["## Adaptation",
             f"- Adapted from `{report.get('source_path', 'a bundle')}` (bundle id `{report['source_bundle'][:16]}`) "
             f"with `sentiment adapt` on {report['texts']:,} unlabeled texts"
             + (f" of `{report['texts_file']}`" if report.get("texts_file") else "")
             + f" (sha256 `{report['texts_fingerprint'][:16]}`)"
             + (f" and {report['labeled_rows']:,} labeled rows" if report["labeled_rows"] else "") + ".",
             f"- Vocabulary: {report['new_tokens']:,} new morphemes (at least {s['new_token_min_count']} "
             f"occurrences), vectors mapped into the model's embedding space"
             + (f" (R² {report['mapping_r2']} on {report['anchors']:,} shared morphemes)"
                if report.get("mapping_r2") is not None else "") + ".",
             f"- Pseudo-labels: {report['pseudo_labeled']:,} texts ({report['pseudo_label_classes']}), the most "
             f"confident {s['confidence']:.0%} of each predicted class"
             + (", by the model and an n-gram co-teacher" if report.get("ngram_teacher") else "")
             + f"; fine-tuned {report['epochs_run']} epoch(s) at learning rate {s['learning_rate']}, targets "
             f"anchored to the original model's probabilities (weight {s['anchor_weight']}).",
             f"- Predicted shares on the texts: before {report['predicted_shares_before']}, after "
             f"{report['predicted_shares_after']}; {report['changed_predictions']:,} predictions changed."]
    evaluation = report.get("evaluation")
    if evaluation:
        lines.append(f"- On `{evaluation['file']}`: " + "; ".join(
            f"{name} accuracy {m['accuracy']:.4f}, macro-F1 {m['macro_f1']:.4f}"
            for name, m in evaluation.items() if isinstance(m, dict)) + ".")
    return "\n".join(lines)
