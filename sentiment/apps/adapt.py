"""``sentiment adapt``: read the files, adapt a bundle to the texts, save the new bundle (and evaluate it)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..classifier import SentimentClassifier
from ..io.labeled import class_indices
from ..model.bundle import default_model_path
from ..training.adaptation import SAMPLE_COLUMN, adapt_classifier, adaptation_card

Log = Callable[[str], None]


def adapt_bundle(
    model: str | None,
    texts_file: str,
    output: str,
    cfg_overrides: Sequence[str] = (),
    *,
    text_column: str | None = None,
    labeled_file: str | None = None,
    label_column: str | None = None,
    eval_file: str | None = None,
    sep: str | None = None,
    encoding: str | None = None,
    sheet: str | int | None = None,
    workers: int = 0,
    overwrite: bool = False,
    verbose: int = 0,
    labeled_text_column: str | None = None,
    positive_label: Any = None,
    positive_from: float | None = None,
    log: Log = lambda msg: None,
):
    """``sentiment adapt``: read the files, adapt the bundle ``model`` (None: the packaged one), save to ``output``.

    With ``eval_file`` (labeled), the source and the adapted model are both evaluated on it and the figures
    are stored in the new bundle and printed. The labeled files' columns are found on their own
    (``labeled_text_column``/``label_column`` name them), independently of ``text_column`` of ``texts_file``;
    their label names map onto the model's as in :func:`sentiment.io.labeled.match_labels`.
    """
    from ..errors import SentimentError
    from ..io.locks import exclusive_lock

    out = Path(output)
    with exclusive_lock(out, "model directory", create_folder=True):  # one writer of the output bundle
        if out.exists() and not overwrite:
            raise SentimentError(f"{out} already exists; pass --overwrite to replace it")
        return _adapt_bundle(
            model,
            texts_file,
            out,
            cfg_overrides,
            text_column=text_column,
            labeled_file=labeled_file,
            label_column=label_column,
            eval_file=eval_file,
            sep=sep,
            encoding=encoding,
            sheet=sheet,
            workers=workers,
            verbose=verbose,
            labeled_text_column=labeled_text_column,
            positive_label=positive_label,
            positive_from=positive_from,
            log=log,
        )


def _adapt_bundle(
    model: str | None,
    texts_file: str,
    out,
    cfg_overrides: Sequence[str],
    *,
    text_column,
    labeled_file,
    label_column,
    eval_file,
    sep,
    encoding,
    sheet,
    workers,
    verbose,
    labeled_text_column,
    positive_label,
    positive_from,
    log,
):
    from ..io.labeled import load_labeled, match_labels
    from ..io.readers import read_table, read_text_lines, text_column_of

    source_path = Path(model) if model else default_model_path()
    source = SentimentClassifier.load(source_path, workers=workers)
    cfg = source.config_.with_overrides(list(cfg_overrides))
    if text_column is None and Path(texts_file).name.lower().removesuffix(".gz").endswith(".txt"):
        texts, column = read_text_lines(texts_file, encoding=encoding), "text"  # one text a line, or NSMC .txt
    else:
        frame, info = read_table(texts_file, sep=sep, encoding=encoding, sheet=sheet, text_column=text_column)
        choice = text_column_of(frame, info, text_column)
        column = choice.column
        if text_column is None or info.sheet:
            log(f"{texts_file}: {choice.message()}")
        texts = [t for t in frame[column].tolist() if isinstance(t, str) and t.strip()]

    def read_labeled(path: str) -> tuple[Any, Any]:
        """A labeled file (``--labeled``, ``--eval-data``): its columns found on their own, labels in the model's."""
        data = load_labeled(
            path,
            labeled_text_column,
            label_column,
            sep=sep,
            encoding=encoding,
            log=log,
            text_option="--labeled-text-column",
            label_option="--labeled-label-column",
        )
        y = match_labels(data.labels, source.classes_, path, positive_label=positive_label, positive_from=positive_from)
        return data, y

    labeled, sample = None, None
    if labeled_file:
        data, y_labeled = read_labeled(labeled_file)
        labeled = (data.texts, y_labeled)
        if data.frame is not None and SAMPLE_COLUMN in data.frame.columns:  # a LABELS file of `sentiment label`
            sample = data.frame[SAMPLE_COLUMN].tolist()
    adapted = adapt_classifier(
        source,
        texts,
        labeled=labeled,
        labeled_sample=sample,
        cfg=cfg,
        workers=workers,
        verbose=verbose,
        what=f"{texts_file} column {column!r}",
        log=log,
    )
    report = adapted.training_["adaptation"]
    report.update(
        source_path=str(model or "default (packaged)"),
        texts_file=str(texts_file),
        **({"labeled_file": str(labeled_file)} if labeled_file else {}),
    )
    metrics = {}
    if eval_file:
        from ..analysis.evaluation import compute_metrics, headline

        test, y = read_labeled(eval_file)
        for name, clf in (("source", source), ("adapted", adapted)):
            proba = clf.predict_proba(test.texts)  # decided by each model's rule (the adapted one's fitted threshold)
            m = compute_metrics(y, proba, source.classes_, class_indices(clf.decide(proba), source.classes_))
            metrics[name] = headline(m)
            log(
                f"{eval_file}: {name} accuracy {m['accuracy']:.4f}, macro-F1 {m['macro_f1']:.4f}"
                + (f", ROC AUC {m['roc_auc']:.4f}" if "roc_auc" in m else "")
            )
        report["evaluation"] = {"file": str(eval_file), **metrics}
    card_path = source_path / "MODEL_CARD.md"
    card = card_path.read_text(encoding="utf-8") if card_path.is_file() else f"# Model card: {out.name}\n"
    adapted.save(out, model_card=card.rstrip() + "\n\n" + adaptation_card(report) + "\n")
    log(f"adapted model bundle -> {out}")
    return adapted, report
