"""Several kinds of comments in one model: named data files, per-domain weights and per-domain figures.

A *domain* is a named source of comments (``movie``, ``shopping``, ``steam``, an app store, ...). Files are
named on the command line as ``NAME=PATH`` (``--data shopping=reviews.tsv.gz``, ``--extra-texts
shopping=unlabeled.txt``); a plain ``PATH`` belongs to the first domain. The prepared splits carry a
``domain`` column; training weights each domain by ``train.domain_balance`` so that small domains are not
drowned by a large one, and evaluation reports every domain beside the overall figures.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError

UNLABELED = "(unlabeled)"  # the domain of unlabeled texts from an unnamed file
NAME = re.compile(r"^[A-Za-z0-9_\-가-힣]{1,40}$")


def split_named(entry: str | Path) -> tuple[str | None, str]:
    """``"shopping=data/x.tsv"`` -> ``("shopping", "data/x.tsv")``; a plain path (or an existing file whose
    name holds '=') -> ``(None, path)``."""
    text = str(entry)
    if "=" not in text or Path(text).exists():
        return None, text
    name, path = text.split("=", 1)
    if not NAME.match(name):
        raise ConfigError(
            f"{text!r}: domain name {name!r} is invalid; use letters, digits, '_' or '-' "
            f"(e.g. shopping=reviews.tsv.gz), or give a plain path"
        )
    return name, path


def named_files(entries: Sequence[str | Path], default: str | None) -> list[tuple[str | None, str]]:
    """Each entry as ``(domain, path)``; unnamed entries get ``default``."""
    out = []
    for entry in entries:
        name, path = split_named(entry)
        out.append((name or default, path))
    return out


def parse_sizes(values: Sequence[str | float | int] | float | int | None) -> dict[str | None, Any]:
    """``--test-size`` values (``0.1``, ``20000``, ``movie=20000``) as ``{domain or None: size}``."""
    if values is None:
        return {}
    if isinstance(values, (int, float)):
        return {None: values}
    out: dict[str | None, Any] = {}
    for value in values:
        if isinstance(value, (int, float)):
            out[None] = value
            continue
        name, size = split_named(value) if "=" in str(value) else (None, str(value))
        out[name] = parse_test_size(size)
    return out


def parse_test_size(text: str) -> float | int:
    """A test size: a share in (0, 1) or a whole number of rows."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if 0 < value < 1:
        return value
    if value >= 1 and value == int(value):
        return int(value)
    raise ConfigError(
        f"test size {text!r} is neither a share in (0, 1) nor a whole number of rows "
        f"(e.g. 0.2 or 20000; per domain: shopping=0.2)"
    )


def domain_weights(domains: Sequence[Any], balance: float) -> np.ndarray | None:
    """Row weights giving each domain a total weight proportional to ``rows ** balance``, mean 1.

    ``balance = 1``: rows count as they come (no reweighting, returns None); ``0``: every domain weighs the
    same in total; ``0.5``: the square root of its size (small domains weighted up, as in temperature
    sampling). None when there is one domain or none.
    """
    if domains is None or not len(domains) or balance >= 1.0:
        return None
    names, index, counts = np.unique(np.asarray(domains, dtype=str), return_inverse=True, return_counts=True)
    if len(names) < 2:
        return None
    share = counts.astype(np.float64) ** balance
    share /= share.sum()
    per_row = share * len(index) / counts
    return per_row[index].astype(np.float32)


def combine_weights(*weights: np.ndarray | None) -> np.ndarray | None:
    """The product of the given per-row weights (None entries skipped), or None."""
    present = [w for w in weights if w is not None]
    if not present:
        return None
    out = np.ones_like(present[0], dtype=np.float32)
    for w in present:
        out = out * w
    return out.astype(np.float32)


def metrics_by_group(
    labels: np.ndarray,
    proba: np.ndarray,
    classes: np.ndarray,
    groups: Sequence[Any],
    min_rows: int = 1,
    pred: np.ndarray | None = None,
) -> dict[str, dict[str, Any]]:
    """Accuracy, macro-F1 and ROC AUC (binary) for each group value with at least ``min_rows`` rows
    (``pred``: predicted class indices, default the likeliest class)."""
    from ..analysis.evaluation import compute_metrics

    groups = np.asarray([str(g) if g is not None and g == g else "(missing)" for g in groups], dtype=object)
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(set(groups.tolist())):
        rows = groups == name
        if rows.sum() < min_rows:
            continue
        m = compute_metrics(labels[rows], proba[rows], classes, None if pred is None else np.asarray(pred)[rows])
        out[name] = {k: m[k] for k in ("rows", "accuracy", "macro_f1", "roc_auc", "per_class") if k in m}
    return out


def format_groups(groups: dict[str, dict[str, Any]], title: str = "group") -> str:
    """A fixed-width table of :func:`metrics_by_group` output."""
    width = max([len(title), *map(len, groups)])
    lines = [f"{title:<{width}}  {'rows':>8}  {'accuracy':>8}  {'macro-F1':>8}  {'ROC AUC':>7}"]
    for name, m in groups.items():
        auc = f"{m['roc_auc']:.4f}" if "roc_auc" in m else "-"
        lines.append(f"{name:<{width}}  {m['rows']:>8,}  {m['accuracy']:>8.4f}  {m['macro_f1']:>8.4f}  {auc:>7}")
    return "\n".join(lines)
