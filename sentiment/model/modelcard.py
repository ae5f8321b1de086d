"""The model card (MODEL_CARD.md) written into exported bundles."""

from __future__ import annotations

from typing import Any

from ..config import Config

WEAKNESSES = """\
- Trained on movie reviews only: shopping and news comments are a domain shift (different vocabulary and
  topics); expect lower accuracy there and evaluate on your own labeled sample before relying on it.
- Sarcasm and irony ("참 잘~ 만들었네요"), negation far from the sentiment word, and mixed reviews
  are the most common confident mistakes (see `most_confident_mistakes.csv` in the evaluation report).
- Two classes only (negative 0 / positive 1): neutral comments are forced to one side.
- Tokens unseen in training (new slang, names) map to `<unk>`; very long comments are cut to `maxlen` tokens
  (the last ones are kept)."""


_CLASS_WEIGHTS = {
    "balanced": "balanced class weights, ",
    "balanced_by_domain": "class weights balanced within each domain, ",
}


def _count(value: Any) -> str:
    """``1,234`` for a number, ``?`` when the bundle does not record it."""
    return f"{value:,}" if isinstance(value, int) else "?"


def _normalization(cfg: Config) -> str:
    """The normalization steps the config turns on, in words."""
    n = cfg.normalize
    if not n.enabled:
        return "none (texts go to the tagger as written)"
    steps = ["Unicode NFC", "whitespace collapsed", f"runs of one character cut to {n.max_repeat}"]
    steps += ["URLs stripped"] * n.strip_urls + ["HTML stripped"] * n.strip_html + ["Latin lowercased"] * n.lowercase
    return ", ".join(steps) + f", at most {n.max_chars} characters"


def _ngram_teacher_name(report: dict[str, Any]) -> str:
    """E.g. 'char (1-5)-gram + morpheme (1-3)-gram TF-IDF, NB-scaled, + logistic regression'."""
    low, high = report.get("char_ngrams", [2, 4])
    parts = f"char ({low}-{high})-gram"
    if report.get("morpheme_ngrams"):
        parts += f" + morpheme (1-{report['morpheme_ngrams']})-gram"
    return parts + " TF-IDF" + (", NB-scaled," if report.get("naive_bayes") else "") + " + logistic regression"


def _distill_lines(report: dict[str, Any] | None) -> list[str]:
    """The teachers and the transfer set, when the model was distilled."""
    if not report:
        return []
    teachers = "; ".join(
        (t.get("network") or _ngram_teacher_name(t))
        + (f" seed {t['seed']}" if "seed" in t else "")
        + f": validation accuracy {t['validation_accuracy']:.4f}"
        for t in report["teachers"]
    )
    accuracy = f"ensemble validation accuracy {report['ensemble_validation_accuracy']:.4f}"
    share = report.get("char_ngram_share")
    mean = (
        f"mean probabilities ({accuracy})"
        if share is None
        else (
            f"weighted mean probabilities (n-gram teacher share {share:.2f}, chosen on the validation rows; {accuracy})"
        )
    )
    reused = sum(bool(t.get("reused")) for t in report["teachers"])
    again = f" ({reused} reused from an earlier run, their training time not counted below)" if reused else ""
    init = report.get("student_init")
    start = f" It started from teacher {init['teacher']}'s weights (the best on validation)." if init else ""
    trained = [t for t in report["teachers"] if t.get("kind") != "model"]
    given = len(report["teachers"]) - len(trained)
    who = (f"{len(trained)} teachers trained on the same training rows" if trained else "") + (
        f"{' and ' if trained else ''}{given} trained bundle(s) (`distill.teacher_models`)" if given else ""
    )
    return [
        f"- Distillation: {who} "
        f"({teachers}){again}; "
        f"their {mean} "
        f"label {report['transfer_rows']:,} unlabeled texts, which the network learns from as soft targets "
        f"beside the labeled rows.{start}"
    ]


def _soup_lines(report: dict[str, Any] | None) -> list[str]:
    """The students whose weights were averaged, when there were several."""
    if not report:
        return []
    accuracies = ", ".join(f"{a:.4f}" for a in report["validation_accuracies"] if a is not None) or "n/a"
    if report["kept"]:
        outcome = "the mean of their weights is the saved network"
        if report.get("soup_validation_accuracy") is not None:
            outcome += f" (validation accuracy {report['soup_validation_accuracy']:.4f})"
    else:
        outcome = (
            f"the mean of their weights did worse on validation ({report['soup_validation_accuracy']:.4f}), "
            f"student {report['kept_student']} is the saved network"
        )
    return [
        f"- Student soup: {report['students']} students from the same start with seeds "
        f"{', '.join(map(str, report['seeds']))} (validation accuracies {accuracies}); {outcome}."
    ]


def _averaging(report: dict[str, Any] | None) -> str:
    """How the kept weights relate to the epochs, when weight averaging was on."""
    if not report:
        return ""
    if report["kept"]:
        return f"; kept the mean of the weights after the last {report['epochs']} epochs"
    return f"; the mean of the last {report['epochs']} epochs' weights did worse on validation, best epoch kept"


def _domain_lines(training: dict[str, Any], cfg: Config) -> list[str]:
    """Where training started, how domains were sampled and weighted."""
    lines = []
    data = training.get("data")
    if data:
        dropped = ", ".join(f"{k} {v:,}" for k, v in data.get("dropped", {}).items() if v)
        lines.append(
            f"- Labeled file: `{data['file']}` (text column `{data['text_column']}`, label column "
            f"`{data['label_column']}`), {_count(data.get('rows_read'))} rows read"
            + (f" ({dropped} dropped)" if dropped else "")
            + "."
        )
    mapping = training.get("label_mapping")
    if mapping:
        lines.append(
            f"- Labels: {'/'.join(map(str, mapping['negative']))} → negative, "
            f"{'/'.join(map(str, mapping['positive']))} → positive ({mapping['how']}); the model predicts "
            f"{mapping['classes'][0]!r} / {mapping['classes'][1]!r}."
        )
    start = training.get("init_from")
    if start:
        f = type(cfg.finetune)(**start["schedule"]) if start.get("schedule") else None
        lines.append(
            f"- Started from the bundle `{start['bundle']}` (id `{start.get('bundle_id', '')[:16]}`"
            + (f", labels {start['labels']}" if start.get("labels") is not None else "")
            + "): its "
            f"network and vocabulary, grown by {start.get('new_tokens', 0):,} morphemes of the new data "
            f"(vectors mapped into its embedding space, R² {start.get('mapping_r2')})"
            + (f"; why: {start['reason']}" if start.get("reason") else "")
            + "."
        )
        if f is not None:
            lines.append(
                f"- Fine-tuning (`[finetune]`): learning rate {f.learning_rate}, up to {f.epochs} epochs "
                f"(ran {training.get('epochs_run', '?')}; early stopping on the validation rows, patience "
                f"{f.patience}), frozen: {f.freeze}, "
                + (
                    f"targets mixed with the starting model's probabilities (weight {f.anchor_weight})."
                    if f.anchor_weight
                    else "the labels as targets (no soft anchor)."
                )
            )
    elif training.get("from_scratch"):
        lines.append(f"- New network: {training['from_scratch']}.")
    decision = training.get("decision")
    if decision:
        lines.append(
            f"- Decision threshold {decision['threshold']:.2f} (P(positive)), fitted on "
            f"{decision['rows']:,} validation rows because the class mix is "
            f"{decision['minority_share']:.0%} / {1 - decision['minority_share']:.0%} (validation macro-F1 "
            f"{decision['macro_f1_at_0.5']:.4f} at 0.5, {decision['macro_f1']:.4f} at the threshold)."
        )
    teachers = (training.get("domain_teachers") or {}).get("teachers")
    if teachers:
        parts = "; ".join(
            f"{name}: {t['training_rows']:,} rows, {t['epochs_run']} epoch(s)"
            f"{' (fine-tuned by an earlier run of the same recipe and reused)' if t.get('reused') else ''}, "
            f"validation accuracy {t['validation_accuracy']:.4f}"
            + (
                f", with a char n-gram NB-LR at share {t['ngram']['share']:g} (its validation accuracy "
                f"{t['ngram']['validation_accuracy']:.4f}, the mix's {t['ngram']['mixed_validation_accuracy']:.4f})"
                if t.get("ngram", {}).get("mixed_validation_accuracy") is not None
                else ""
            )
            for name, t in teachers.items()
            if t.get("validation_accuracy") is not None
        )
        lines.append(
            f"- Domain teachers (`distill.domain_teachers`): a copy of the start network fine-tuned on each domain "
            f"alone ({parts}); each labeled row learned {1 - training['domain_teachers']['labeled_share']:g} x "
            f"its label + {training['domain_teachers']['labeled_share']:g} x its domain teacher's probabilities, "
            "each unlabeled text of a domain its teacher's probabilities."
        )
    noise = training.get("label_noise")
    if noise and noise.get("mode", "keep") != "keep":
        lines.append(
            f'- Label audit of the training rows (`train.label_noise = "{noise["mode"]}"`): {noise["flagged"]:,} '
            f"of {noise['rows']:,} rows flagged ({noise['flagged_share']:.1%})."
        )
    domains = training.get("domains")
    if domains:
        rows = ", ".join(f"{name} {n:,}" for name, n in domains["labeled_rows"].items())
        capped = training.get("domain_max_rows")
        lines.append(
            f"- Labeled rows per domain{' after sampling' if capped else ''}: {rows}"
            + (f" (at most {capped['limit']:,} per domain, `train.domain_max_rows`)" if capped else "")
            + f"; each domain weighs in proportion to its rows to the power {domains['balance']} "
            "(`train.domain_balance`)."
        )
    return lines


def render_model_card(
    name: str,
    cfg: Config,
    meta: dict[str, Any],
    metrics: dict[str, Any] | None,
    stats: dict[str, Any] | None,
    command: str,
) -> str:
    """Markdown: data, recipe, figures, known weaknesses, the command that rebuilds it."""
    training = meta.get("training", {})
    m = cfg.model
    layers = " → ".join(f"{'BiLSTM' if m.bidirectional else 'LSTM'}({u})" for u in m.lstm_units)
    lines = [
        f"# Model card: {name}",
        "",
        "## Data",
        f"- Training rows: {_count(training.get('rows'))} ({training.get('class_counts')}); "
        f"{training.get('validation_rows', 0):,} of them held out for early stopping.",
        f"- Data fingerprint (sha256 of texts and labels): `{training.get('data_fingerprint', {}).get('sha256')}`",
    ]
    if training.get("extra_texts"):
        lines.append(
            f"- Unlabeled texts: {training['extra_texts']:,} (`word2vec.extra_texts`: "
            f"{', '.join(cfg.word2vec.extra_texts) or 'passed to fit'}; texts equal to a test text left out)."
        )
    if stats and stats.get("domains"):
        lines.append(
            "- Domains (each split on its own; its test split never used for training, Word2Vec or early "
            "stopping): "
            + "; ".join(
                f"{name}: `{d.get('file')}`, {_count(d.get('read'))} rows read, {_count(d.get('train'))} "
                f"train / {_count(d.get('test'))} test"
                for name, d in stats["domains"].items()
            )
            + "."
        )
        for added in stats.get("added_train", []):
            lines.append(
                f"- Added to the train split of {added.get('domain', 'the first domain')} (`--add-train`): "
                f"{_count(added.get('added'))} labeled rows of `{added.get('file')}`."
            )
    elif stats:
        lines.append(
            f"- Preparation: {_count(stats.get('read'))} rows read, "
            f"{stats.get('dropped_duplicates', 0):,} duplicates and "
            f"{stats.get('dropped_conflicting_labels', 0):,} conflicting-label rows dropped, "
            f"{_count(stats.get('test'))} rows held out as the test split (never used for training, "
            "Word2Vec or early stopping)."
        )
        for added in stats.get("added_train", []):
            lines.append(
                f"- Added to the train split (`--add-train`): {_count(added.get('added'))} labeled rows of "
                f"`{added.get('file')}` ({_count(added.get('read'))} read; "
                f"{_count(added.get('dropped_in_splits'))} already in a split, "
                f"{_count(added.get('dropped_duplicates'))} duplicates dropped)."
            )
    lines += _domain_lines(training, cfg)
    epochs = cfg.distill.student_epochs if cfg.distill.enabled and cfg.distill.student_epochs else cfg.train.epochs
    schedule = (training.get("init_from") or {}).get("schedule")
    train = (
        cfg.train
        if not schedule
        else cfg.with_overrides(
            {"train.learning_rate": schedule["learning_rate"], "train.patience": schedule["patience"]}
        ).train
    )
    epochs = schedule["epochs"] if schedule else epochs
    lines += [
        "",
        "## Recipe",
        f"- Normalization: {_normalization(cfg)}.",
        f"- Tokenizer: KoNLPy `{cfg.tokenizer.tagger}` ({'morpheme/POS' if cfg.tokenizer.with_pos else 'morphemes'}).",
        f"- Word2Vec: {cfg.word2vec.vector_size} dims, {'skip-gram' if cfg.word2vec.sg else 'CBOW'}, "
        f"window {cfg.word2vec.window}, min_count {cfg.word2vec.min_count}, {cfg.word2vec.epochs} epochs; "
        f"vocabulary {_count(meta.get('vocab_size'))} (0 = padding, 1 = unknown).",
        f"- Sequences: maxlen {cfg.sequence.maxlen}, padding '{cfg.sequence.padding}' with masking, "
        f"truncating '{cfg.sequence.truncating}'.",
        f"- Network: Embedding ({'fine-tuned' if m.embedding_trainable else 'frozen'}, dropout "
        f"{m.embedding_dropout}) → {layers} → dropout {m.dropout} → output.",
        *_distill_lines(training.get("distill")),
        *_soup_lines(training.get("soup")),
        f"- Training: {train.optimizer} lr {train.learning_rate}"
        f"{' (cosine decay)' if train.lr_schedule == 'cosine' else ''}, batch {train.batch_size}, "
        f"{_CLASS_WEIGHTS.get(train.class_weight, '')}"
        f"up to {epochs} epochs (ran {training.get('epochs_run', '?')}), early stopping on "
        f"validation {train.monitor}"
        f"{' (the mean over the domains)' if train.monitor_domains and training.get('domains') else ''} "
        f"(patience {train.patience}){_averaging(training.get('averaged'))}, "
        f"seed {train.seed}; "
        f"{training.get('seconds', '?')} s on the machine that built it.",
        "",
        "## Figures (held-out test split)",
    ]
    if metrics:
        lines.append(
            f"- Accuracy {metrics['accuracy']:.4f}, macro-F1 {metrics['macro_f1']:.4f}"
            + (f", ROC AUC {metrics['roc_auc']:.4f}" if "roc_auc" in metrics else "")
            + f" on {metrics['rows']:,} rows."
        )
        if metrics.get("by_domain"):
            lines += ["", "| domain | test rows | accuracy | macro-F1 | ROC AUC |", "|---|---|---|---|---|"]
            lines += [
                f"| {name} | {m['rows']:,} | {m['accuracy']:.4f} | {m['macro_f1']:.4f} | "
                f"{m.get('roc_auc', float('nan')):.4f} |"
                for name, m in metrics["by_domain"].items()
            ]
    else:
        lines.append("- Not evaluated on a held-out split.")
    weaknesses = (
        WEAKNESSES
        if not training.get("domains")
        else WEAKNESSES.replace(
            "- Trained on movie reviews only: shopping and news comments are a domain shift (different vocabulary and\n"
            "  topics); expect lower accuracy there",
            f"- Trained on {', '.join(training['domains']['labeled_rows'])} comments: other kinds (news, apps, ...) "
            "are a domain shift;\n  expect lower accuracy there (`sentiment adapt` fits the model to your own "
            "unlabeled comments)",
        )
    )
    lines += ["", "## Known weaknesses", weaknesses, "", "## Rebuild", "```", command, "```", ""]
    return "\n".join(lines)
