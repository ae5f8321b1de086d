"""Loading labeled tables for training and evaluation: columns, cleaning, label values."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from .columns import LABEL_COLUMN_NAMES, find_column
from .readers import read_table, text_column_of


@dataclass
class LabeledData:
    """Texts and labels read from a table, with what was dropped and why."""

    texts: list[str]
    labels: np.ndarray
    text_column: str
    label_column: str
    dropped: dict[str, int] = field(default_factory=dict)
    frame: pd.DataFrame | None = None  # the kept rows, original columns
    rows: np.ndarray | None = None  # each kept row's 0-based position among the file's data rows

    def describe(self) -> str:
        counts = pd.Series(self.labels).value_counts().sort_index()
        parts = [f"{len(self.texts):,} rows (text column {self.text_column!r}, label column {self.label_column!r})",
                 "labels: " + ", ".join(f"{k}: {v:,}" for k, v in counts.items())]
        if any(self.dropped.values()):
            parts.append("dropped: " + ", ".join(f"{k} {v:,}" for k, v in self.dropped.items() if v))
        return "; ".join(parts)


def coerce_labels(values: pd.Series) -> np.ndarray:
    """Labels as ints when every value is an integer (``"1"``, ``1.0``), else as stripped strings."""
    as_str = values.map(lambda v: str(v).strip())
    numeric = pd.to_numeric(as_str, errors="coerce")
    if numeric.notna().all() and (numeric == numeric.round()).all():
        return numeric.astype(np.int64).to_numpy()
    return as_str.to_numpy(dtype=object).astype(str)


def load_labeled(path: str | Path, text_column: str | None = None, label_column: str | None = None, *,
                 sep: str | None = None, encoding: str | None = None, sheet: str | int | None = None,
                 min_rows: int = 1, log: Callable[[str], None] | None = None) -> LabeledData:
    """Read a labeled table; rows with a missing label or no text are dropped and counted.

    ``sheet``: the workbook sheet (name or number from 1); by default the one whose column looks most like
    comments (:func:`sentiment.io.readers.text_column_of`, logged with the runner-up).
    """
    frame, info = read_table(path, sep=sep, encoding=encoding, sheet=sheet, text_column=text_column)
    choice = text_column_of(frame, info, text_column)
    if log:
        log(f"{path}: {choice.message()}")
    text_col = choice.column
    label_col = find_column(list(frame.columns), label_column, LABEL_COLUMN_NAMES, "label", str(path))
    if text_col == label_col:
        raise DataError(f"{path}: the text and label columns are both {text_col!r}")
    labels = frame[label_col]
    missing_label = labels.isna() | labels.map(lambda v: isinstance(v, str) and not v.strip())
    texts = frame[text_col]
    bad_text = ~texts.map(lambda v: isinstance(v, str) and bool(v.strip()))
    keep = ~(missing_label | bad_text)
    dropped = {"missing label": int(missing_label.sum()), "empty or missing text": int((bad_text & ~missing_label).sum())}
    kept = frame[keep].reset_index(drop=True)
    if len(kept) < min_rows:
        raise DataError(f"{path}: {len(kept)} usable rows (text and label present); at least {min_rows} are needed")
    data = LabeledData(kept[text_col].astype(str).tolist(), coerce_labels(kept[label_col]), text_col, label_col,
                       dropped, kept, np.flatnonzero(keep.to_numpy()))
    if log:
        log(f"{path}: {data.describe()}")
    return data


def check_trainable(data: LabeledData, path: str | Path, min_rows: int = 20) -> None:
    """At least ``min_rows`` rows and two classes with two rows each."""
    if len(data.texts) < min_rows:
        raise DataError(f"{path}: only {len(data.texts)} usable rows; training needs at least {min_rows}")
    values, counts = np.unique(data.labels, return_counts=True)
    if len(values) < 2:
        raise DataError(f"{path}: every row has label {values.tolist()[0]!r}; training needs at least two classes")
    rare = [str(v) for v, c in zip(values.tolist(), counts) if c < 2]
    if rare:
        raise DataError(f"{path}: label(s) {', '.join(rare)} occur only once; each class needs at least 2 rows")


def match_labels(labels: np.ndarray, classes: np.ndarray, path: str | Path, against: str = "the model's labels"
                 ) -> np.ndarray:
    """Map labels onto ``classes`` (``against`` says whose, for the error); unknown values are an error naming them."""
    known = {str(c): c for c in classes.tolist()}
    as_str = [str(v) for v in labels.tolist()]
    unknown = sorted(set(as_str) - set(known))
    if unknown:
        raise DataError(f"{path}: label value(s) {', '.join(map(repr, unknown[:10]))} are not among {against} "
                        f"{list(known)}; check --label-column or relabel the data")
    return np.asarray([known[s] for s in as_str])
