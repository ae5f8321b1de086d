"""Metrics and the evaluation report folder (JSON, CSV, PNG plots)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..io.labeled import class_indices
from ..model.fitted import FittedClassifier


def compute_metrics(
    y_true: np.ndarray, proba: np.ndarray, classes: np.ndarray, pred: np.ndarray | None = None
) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision/recall/F1, confusion matrix, ROC AUC (binary).

    ``pred``: the predicted class indices (default: the likeliest class), e.g. by a bundle's decision rule."""
    from sklearn.metrics import (
        accuracy_score,
        confusion_matrix,
        f1_score,
        precision_recall_fscore_support,
        roc_auc_score,
    )

    idx = class_indices(np.asarray(y_true), np.asarray(classes))  # classes_ in any order
    pred = proba.argmax(axis=1) if pred is None else np.asarray(pred)
    labels = np.arange(len(classes))
    precision, recall, f1, support = precision_recall_fscore_support(idx, pred, labels=labels, zero_division=0)
    metrics: dict[str, Any] = {
        "rows": int(len(idx)),
        "accuracy": float(accuracy_score(idx, pred)),
        "macro_f1": float(f1_score(idx, pred, labels=labels, average="macro", zero_division=0)),
        "per_class": {
            str(c): {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for c, p, r, f, s in zip(classes.tolist(), precision, recall, f1, support)
        },
        "labels": classes.tolist(),
        "confusion_matrix": confusion_matrix(idx, pred, labels=labels).tolist(),
    }
    if len(classes) == 2 and len(np.unique(idx)) == 2:
        metrics["roc_auc"] = float(roc_auc_score(idx, proba[:, 1]))
    elif len(classes) > 2 and len(np.unique(idx)) == len(classes):
        metrics["roc_auc_ovr_macro"] = float(roc_auc_score(idx, proba, multi_class="ovr", average="macro"))
    return metrics


HEADLINE = ("rows", "accuracy", "macro_f1", "roc_auc")


def headline(metrics: dict[str, Any]) -> dict[str, Any]:
    """The headline figures of :func:`compute_metrics` output (rows, accuracy, macro-F1, ROC AUC when present)."""
    return {k: metrics[k] for k in HEADLINE if k in metrics}


def evaluate_texts(
    clf: FittedClassifier, texts: list[str], labels: np.ndarray, tokens: list[list[str]] | None = None
) -> tuple[dict[str, Any], np.ndarray]:
    """Metrics for ``texts`` (labels already in the model's classes) and the probabilities.

    ``tokens`` (from the token cache) skips tokenization; they must come from the model's tokenizer.
    """
    started = time.perf_counter()
    proba = clf.predict_proba(texts) if tokens is None else clf.predict_ids(clf.vocabulary_.encode_many(tokens))
    seconds = time.perf_counter() - started
    pred = class_indices(clf.decide(proba), clf.classes_)  # the bundle's decision rule, when it has one
    metrics = compute_metrics(labels, proba, clf.classes_, pred)
    metrics["seconds"] = round(seconds, 2)
    metrics["rows_per_second"] = round(len(texts) / seconds, 1) if seconds else None
    return metrics, proba


def format_metrics(metrics: dict[str, Any]) -> str:
    """A human-readable block: headline figures (with 95% intervals when computed), per-class table, confusion
    matrix."""
    intervals = metrics.get("intervals", {})

    def figure(name: str, key: str) -> str:
        text = f"{name}: {metrics[key]:.4f}"
        if key in intervals:
            lo, hi = intervals[key]
            text += f"  (95% interval {lo:.4f} - {hi:.4f})"
        return text

    lines = [f"evaluated on: {metrics['evaluated_on']}"] if metrics.get("evaluated_on") else []
    lines += [f"rows: {metrics['rows']:,}", figure("accuracy", "accuracy"), figure("macro-F1", "macro_f1")]
    if "roc_auc" in metrics:
        lines.append(figure("ROC AUC", "roc_auc"))
    if "roc_auc_ovr_macro" in metrics:
        lines.append(f"ROC AUC (one-vs-rest, macro): {metrics['roc_auc_ovr_macro']:.4f}")
    if intervals.get("method"):
        lines.append(f"intervals: {intervals['method']}")
    lines.append("")
    lines.append(f"{'class':>12} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>9}")
    for label, row in metrics["per_class"].items():
        lines.append(f"{label:>12} {row['precision']:9.4f} {row['recall']:9.4f} {row['f1']:9.4f} {row['support']:9,}")
    lines.append("")
    lines.append("confusion matrix (rows: true, columns: predicted)")
    labels = [str(label) for label in metrics["labels"]]
    width = max(8, *(len(label) + 1 for label in labels))
    lines.append(" " * width + "".join(f"{label:>{width}}" for label in labels))
    for label, row in zip(labels, metrics["confusion_matrix"]):
        lines.append(f"{label:>{width}}" + "".join(f"{v:>{width},}" for v in row))
    return "\n".join(lines)


def write_report(
    report_dir: str | Path,
    metrics: dict[str, Any],
    texts: list[str],
    labels: np.ndarray,
    proba: np.ndarray,
    classes: np.ndarray,
    history: dict[str, Any] | None = None,
    mistakes: int = 100,
) -> list[Path]:
    """Write metrics.json, confusion_matrix.csv, most_confident_mistakes.csv and PNG plots."""
    report = Path(report_dir)
    report.mkdir(parents=True, exist_ok=True)
    written = []
    path = report / "metrics.json"
    path.write_text(json.dumps(metrics, indent=2, ensure_ascii=False), encoding="utf-8")
    written.append(path)
    names = [str(c) for c in classes.tolist()]
    path = report / "confusion_matrix.csv"
    pd.DataFrame(metrics["confusion_matrix"], index=pd.Index(names, name="true"), columns=names).to_csv(path)
    written.append(path)
    pred = proba.argmax(axis=1)
    true_idx = np.asarray([names.index(str(v)) for v in labels.tolist()])
    wrong = np.flatnonzero(pred != true_idx)
    order = wrong[np.argsort(-proba[wrong, pred[wrong]])][:mistakes]
    path = report / "most_confident_mistakes.csv"
    pd.DataFrame(
        {
            "text": [texts[i] for i in order],
            "true": [names[true_idx[i]] for i in order],
            "predicted": [names[pred[i]] for i in order],
            "confidence": np.round(proba[order, pred[order]], 4),
        }
    ).to_csv(path, index=False)
    written.append(path)
    for key in ("by_domain", "by_group"):
        if metrics.get(key):
            path = report / f"metrics_{key}.csv"
            pd.DataFrame(
                [{"group": name, **{k: m.get(k) for k in HEADLINE}} for name, m in metrics[key].items()]
            ).to_csv(path, index=False)
            written.append(path)
    written.extend(_plots(report, metrics, true_idx, proba, names, history or {}))
    return written


def _plots(
    report: Path,
    metrics: dict[str, Any],
    true_idx: np.ndarray,
    proba: np.ndarray,
    names: list[str],
    history: dict[str, Any],
) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    from .plotting import korean_plots

    with korean_plots():  # class names may be Korean
        return _draw_plots(report, metrics, true_idx, proba, names, history)


def _draw_plots(
    report: Path,
    metrics: dict[str, Any],
    true_idx: np.ndarray,
    proba: np.ndarray,
    names: list[str],
    history: dict[str, Any],
) -> list[Path]:
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve, roc_curve

    written = []
    cm = np.asarray(metrics["confusion_matrix"])
    fig, ax = plt.subplots(figsize=(4 + 0.4 * len(names), 3.5 + 0.4 * len(names)))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(names)), names)
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, f"{v:,}", ha="center", va="center", color="white" if v > cm.max() / 2 else "black")
    ax.set_title(f"accuracy {metrics['accuracy']:.4f}")
    written.append(_save(fig, report / "confusion_matrix.png"))
    if len(names) == 2 and len(np.unique(true_idx)) == 2:
        fpr, tpr, _ = roc_curve(true_idx, proba[:, 1])
        fig, ax = plt.subplots(figsize=(4.5, 4.5))
        ax.plot(fpr, tpr, label=f"AUC {metrics.get('roc_auc', float('nan')):.4f}")
        ax.plot([0, 1], [0, 1], "--", color="grey")
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate")
        ax.legend()
        written.append(_save(fig, report / "roc_curve.png"))
        precision, recall, _ = precision_recall_curve(true_idx, proba[:, 1])
        fig, ax = plt.subplots(figsize=(4.5, 4.5))
        ax.plot(recall, precision)
        ax.set_xlabel(f"recall ({names[1]})")
        ax.set_ylabel(f"precision ({names[1]})")
        written.append(_save(fig, report / "precision_recall_curve.png"))
    if history.get("loss"):
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
        for ax, key in zip(axes, ("loss", "accuracy")):
            for prefix in ("", "val_"):
                if history.get(prefix + key):
                    ax.plot(
                        range(1, len(history[prefix + key]) + 1), history[prefix + key], marker="o", label=prefix + key
                    )
            ax.set_xlabel("epoch")
            ax.legend()
        written.append(_save(fig, report / "training_curves.png"))
    return written


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
