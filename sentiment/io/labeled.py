"""Loading labeled tables for training and evaluation: columns, cleaning, label values."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError
from .columns import LABEL_COLUMN_NAMES, find_column
from .readers import read_table, text_column_of

# Label names this tool reads as negative / positive (compared lowercased, stripped). The first pair whose two
# names are both in a file decides; one file's two values must come from the same pair.
POLARITY_PAIRS: tuple[tuple[str, str], ...] = (
    ("0", "1"),
    ("-1", "1"),
    ("false", "true"),
    ("f", "t"),
    ("no", "yes"),
    ("n", "y"),
    ("neg", "pos"),
    ("negative", "positive"),
    ("bad", "good"),
    ("-", "+"),
    ("not recommended", "recommended"),
    ("thumbs down", "thumbs up"),
    ("부정", "긍정"),
    ("나쁨", "좋음"),
    ("비추천", "추천"),
    ("비추", "추천"),
    ("불만족", "만족"),
    ("싫어요", "좋아요"),
    ("별로", "좋음"),
    ("부정적", "긍정적"),
    ("아니오", "예"),
    ("아니요", "예"),
)
# extra column names that hold labels in exported sheets (평가 = rating/verdict, 평점/별점 = star rating)
LABEL_COLUMN_EXTRA = (
    "평가",
    "평점",
    "별점",
    "긍부정",
    "감정",
    "극성",
    "rating",
    "ratings",
    "stars",
    "star",
    "recommended",
    "is_positive",
)


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
        parts = [
            f"{len(self.texts):,} rows (text column {self.text_column!r}, label column {self.label_column!r})",
            "labels: " + ", ".join(f"{k}: {v:,}" for k, v in counts.items()),
        ]
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


def load_labeled(
    path: str | Path,
    text_column: str | None = None,
    label_column: str | None = None,
    *,
    sep: str | None = None,
    encoding: str | None = None,
    sheet: str | int | None = None,
    min_rows: int = 1,
    log: Callable[[str], None] | None = None,
    text_option: str = "--text-column",
    label_option: str = "--label-column",
) -> LabeledData:
    """Read a labeled table; rows with a missing label or no text are dropped and counted.

    ``sheet``: the workbook sheet (name or number from 1); by default the one whose column looks most like
    comments (:func:`sentiment.io.readers.text_column_of`, logged with the runner-up).
    The label column is the one named, else detected (known names such as label/평가/rating, else the only column
    of known label values); errors name the options ``text_option``/``label_option`` that set the columns.
    """
    frame, info = read_table(path, sep=sep, encoding=encoding, sheet=sheet, text_column=text_column)
    try:
        choice = text_column_of(frame, info, text_column)
    except DataError as exc:
        raise DataError(_with_option(str(exc), "--text-column", text_option, text_column)) from None
    if log:
        log(f"{path}: {choice.message().replace('--text-column', text_option)}")
    text_col = choice.column
    label_col = find_label_column(frame, label_column, str(path), exclude=text_col, option=label_option)
    if text_col == label_col:
        raise DataError(f"{path}: the text and label columns are both {text_col!r}")
    labels = frame[label_col]
    missing_label = labels.isna() | labels.map(lambda v: isinstance(v, str) and not v.strip())
    texts = frame[text_col]
    bad_text = ~texts.map(lambda v: isinstance(v, str) and bool(v.strip()))
    keep = ~(missing_label | bad_text)
    dropped = {
        "missing label": int(missing_label.sum()),
        "empty or missing text": int((bad_text & ~missing_label).sum()),
    }
    kept = frame[keep].reset_index(drop=True)
    if len(kept) < min_rows:
        raise DataError(f"{path}: {len(kept)} usable rows (text and label present); at least {min_rows} are needed")
    data = LabeledData(
        kept[text_col].astype(str).tolist(),
        coerce_labels(kept[label_col]),
        text_col,
        label_col,
        dropped,
        kept,
        np.flatnonzero(keep.to_numpy()),
    )
    if log:
        named = text_column is not None and label_column is not None
        log(f"{path}: {data.describe()}" + ("" if named else f" (choose others with {text_option}/{label_option})"))
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


def match_labels(
    labels: np.ndarray,
    classes: np.ndarray,
    path: str | Path,
    against: str = "the model's labels",
    *,
    positive_label: Any = None,
    positive_from: float | None = None,
) -> np.ndarray:
    """Map labels onto ``classes`` (``against`` says whose, for the error).

    Values equal to the classes map as they are. Otherwise, for a two-class model, negative/positive names map
    onto its negative/positive class: known pairs (1/0 against 긍정/부정, pos/neg, ...), ``positive_label`` or
    ``positive_from`` (star ratings). Anything else is an error naming the unknown values.
    """
    known = {str(c): c for c in classes.tolist()}
    as_str = [str(v) for v in labels.tolist()]
    unknown = sorted(set(as_str) - set(known))
    if not unknown and positive_label is None and positive_from is None:
        return np.asarray([known[s] for s in as_str])
    sides = class_polarity(classes)
    if sides is not None:
        try:
            mapping = _polarity_of_values(labels, positive_label, positive_from, str(path))
        except DataError:
            if positive_label is not None or positive_from is not None:
                raise
            mapping = None
        if mapping is not None:
            polarity = mapping.polarity(labels)
            return np.asarray(classes.tolist(), dtype=object)[np.where(polarity == 1, sides[1], sides[0])].astype(
                classes.dtype
            )
    hint = (
        " or name the positive value with --positive-label (star ratings: --positive-from 4)"
        if sides is not None
        else ""
    )
    raise DataError(
        f"{path}: label value(s) {', '.join(map(repr, unknown[:10]))} are not among {against} "
        f"{list(known)}; check --label-column{hint}, or relabel the data"
    )


def _polarity_of_values(
    labels: np.ndarray, positive_label: Any, positive_from: float | None, where: str
) -> LabelMapping | None:
    """A mapping for labels holding one or two values of a known pair (an evaluation sample may hold one)."""
    values = list(dict.fromkeys(labels.tolist()))
    if positive_label is None and positive_from is None and len(values) == 1:
        pair = _pair_of({_name(values[0])})
        if pair is None:
            return None
        side = (), (values[0],)
        neg, pos = side if _name(values[0]) == pair[1] else side[::-1]
        return LabelMapping(neg, pos, "known names", (0, 1))
    return binary_mapping(labels, positive_label=positive_label, positive_from=positive_from, where=where)


def find_label_column(
    frame: pd.DataFrame, wanted: str | None, path: str, exclude: str | None = None, option: str = "--label-column"
) -> str:
    """The label column: the one named, else a known name (label, 평가, rating, ...), else the only column whose
    values are a known pair of label names (긍정/부정, 1/0, True/False, ...)."""
    names = [str(c) for c in frame.columns]
    lowered = {n.lower().strip(): n for n in names if n != exclude}
    if wanted is None:
        for candidate in (*LABEL_COLUMN_NAMES, *LABEL_COLUMN_EXTRA):
            if candidate in lowered:
                return lowered[candidate]
        by_values = [n for n in lowered.values() if _looks_like_labels(frame[n])]
        if len(by_values) == 1:
            return by_values[0]
    try:
        return find_column(names, wanted, (), "label", path)
    except DataError as exc:
        raise DataError(_with_option(str(exc), "--label-column", option, wanted)) from None


def _with_option(message: str, default: str, option: str, wanted: str | None) -> str:
    """A column error naming the option that sets that column (the file's own, e.g. --labeled-text-column)."""
    message = message.replace(default, option)
    return message if wanted is None else f"{message} (named with {option})"


def _looks_like_labels(values: pd.Series) -> bool:
    kept = values.dropna().map(lambda v: str(v).strip().lower())
    distinct = set(kept[kept != ""].unique().tolist()[:3])
    return len(distinct) == 2 and _pair_of(distinct) is not None


# -- label names: which value is negative, which positive ---------------------------------------------------------
def _name(value: Any) -> str:
    """A label value as compared: ``1``, ``1.0``, ``"1"`` and ``True`` all read as their text, lowercased."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    return str(value).strip().lower()


def _pair_of(names: set[str]) -> tuple[str, str] | None:
    """The known (negative, positive) pair holding every name of ``names``, if any."""
    for pair in POLARITY_PAIRS:
        if names <= set(pair):
            return pair
    return None


@dataclass(frozen=True)
class LabelMapping:
    """How a file's label values map onto negative (0) / positive (1), and the names predictions use."""

    negative: tuple[str, ...]  # the file's values read as negative (as written)
    positive: tuple[str, ...]
    how: str  # why: "known names", "--positive-label", "--positive-from 4"
    classes: tuple[Any, Any]  # the names the trained model predicts: (negative, positive)

    def to_dict(self) -> dict[str, Any]:
        return {
            "negative": list(self.negative),
            "positive": list(self.positive),
            "how": self.how,
            "classes": [_plain(c) for c in self.classes],
        }

    def polarity(self, labels: np.ndarray) -> np.ndarray:
        """0 (negative) / 1 (positive) per label."""
        pos = {_name(v) for v in self.positive}
        return np.asarray([int(_name(v) in pos) for v in labels.tolist()], dtype=np.int64)

    def apply(self, labels: np.ndarray) -> np.ndarray:
        """The labels as the model's class names (the user's own, except star ratings, which become 0/1)."""
        classes = np.asarray(self.classes, dtype=object)
        return _typed(classes[self.polarity(labels)])

    def describe(self) -> str:
        return (
            f"negative = {'/'.join(map(str, self.negative))}, positive = {'/'.join(map(str, self.positive))} "
            f"({self.how})"
        )


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _typed(values: np.ndarray) -> np.ndarray:
    """An object array of ints or of strings as the plain typed array the rest of the package expects."""
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in values.tolist()):
        return values.astype(np.int64)
    return values.astype(str)


def binary_mapping(
    labels: np.ndarray, *, positive_label: Any = None, positive_from: float | None = None, where: str = "the labels"
) -> LabelMapping | None:
    """Read two label values as negative/positive; None when the labels are a task of three or more classes.

    Known pairs (:data:`POLARITY_PAIRS`: 1/0, True/False, 긍정/부정, pos/neg, 좋음/나쁨, 추천/비추천, ...) map
    by themselves, in either order; ``positive_label`` names the positive value of any two; ``positive_from``
    reads numeric ratings (stars) as positive from that value up, negative below it. Two values that are no
    known pair, without ``positive_label``, are an error naming them.
    """
    values = list(dict.fromkeys(labels.tolist()))
    if positive_from is not None:
        numbers = pd.to_numeric(pd.Series([str(v) for v in values]), errors="coerce")
        if numbers.isna().any():
            bad = [v for v, n in zip(values, numbers) if pd.isna(n)]
            raise DataError(
                f"{where}: --positive-from {positive_from:g} needs numeric ratings, but the labels "
                f"include {', '.join(map(repr, bad[:5]))}; leave --positive-from out for named labels"
            )
        pos = tuple(sorted((v for v, n in zip(values, numbers) if n >= positive_from), key=float))
        neg = tuple(sorted((v for v, n in zip(values, numbers) if n < positive_from), key=float))
        if not pos or not neg:
            raise DataError(
                f"{where}: --positive-from {positive_from:g} puts every rating "
                f"({', '.join(map(str, sorted(values, key=float)))}) on one side; choose a value between "
                f"the lowest and the highest rating"
            )
        return LabelMapping(neg, pos, f"--positive-from {positive_from:g}", (0, 1))
    if positive_label is not None:
        wanted = _name(positive_label)
        names = [_name(v) for v in values]
        if wanted not in names:
            raise DataError(
                f"{where}: --positive-label {positive_label!r} is not one of the label values "
                f"{', '.join(map(repr, values[:10]))}"
            )
        if len(values) != 2:
            raise DataError(
                f"{where}: --positive-label needs exactly two label values; found {len(values)} "
                f"({', '.join(map(repr, values[:10]))}); with star ratings use --positive-from"
            )
        pos_value = values[names.index(wanted)]
        neg_value = values[1 - names.index(wanted)]
        return LabelMapping((neg_value,), (pos_value,), "--positive-label", (_plain(neg_value), _plain(pos_value)))
    if len(values) != 2:
        return None
    names = [_name(v) for v in values]
    pair = _pair_of(set(names))
    if pair is None:
        raise DataError(
            f"{where}: the label values {values[0]!r} and {values[1]!r} are not names this tool knows "
            f"for negative/positive (such as 긍정/부정, 1/0, pos/neg); say which one is positive with "
            f"--positive-label {values[0]!s}, or train a new model of your own classes with "
            f"--from-scratch"
        )
    neg_value = values[names.index(pair[0])]
    pos_value = values[names.index(pair[1])]
    return LabelMapping((neg_value,), (pos_value,), "known names", (_plain(neg_value), _plain(pos_value)))


def class_polarity(classes: np.ndarray) -> tuple[int, int] | None:
    """(index of the negative class, index of the positive one) of a two-class model: by their names when they
    are a known pair, else by position (the second class is the positive one, as ``--threshold`` reads it)."""
    if len(classes) != 2:
        return None
    names = [_name(c) for c in classes.tolist()]
    pair = _pair_of(set(names))
    if pair is not None and len(set(names)) == 2:
        return names.index(pair[0]), names.index(pair[1])
    return 0, 1


def class_indices(labels: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """The position of each label in ``classes`` (any order), compared as text."""
    index = {str(c): i for i, c in enumerate(classes.tolist())}
    return np.asarray([index[str(v)] for v in labels.tolist()], dtype=np.int64)
