"""Which sheet and column of an input table hold the comments (or the labels).

Every command that reads comments (``score``, ``train``, ``evaluate``, ``adapt``, ``report``, the pipeline's
``prepare``) asks :func:`choose_text_column`, which looks at every column of every sheet of a workbook (one
table for the other formats) and scores how much it looks like comments:

* text: the share of its values that are text, not numbers and not dates (a column of ``2019년 12월 21일``
  is no comment column); columns under half text are no candidates;
* length: longer texts look more like comments (log of the median length in characters);
* Hangul: the share of Hangul among the letters (0.5 + share, so Latin comments still count);
* variety: comments rarely repeat (an app-name or a category column does);
* rows: a sheet of two rows (a cover sheet) weighs less than one of thousands (log of the row count);
* name: a column with a usual name (``댓글``, ``리뷰``, ``review``, ``document``...) counts double.

The choice and the runner-up are logged (:meth:`TextChoice.message`); ``--text-column`` and ``--sheet``
override it. When the two best score within 10% of each other and neither has a usual name, the choice is
refused with both named, rather than made by chance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import DataError

TEXT_COLUMN_NAMES = (
    "document",
    "text",
    "comment",
    "comments",
    "review",
    "content",
    "contents",
    "sentence",
    "body",
    "댓글",
    "내용",
    "리뷰",
    "본문",
    "문장",
    "텍스트",
)
LABEL_COLUMN_NAMES = ("label", "labels", "sentiment", "polarity", "target", "class", "y", "레이블", "라벨", "감성")


SAMPLE = 1000  # values per column looked at
TIE = 1.1  # the best must score this many times the runner-up unless it has a usual name


@dataclass
class Candidate:
    """One column and how comment-like it looks."""

    sheet: str | None
    column: str
    score: float
    rows: int = 0
    median_length: float = 0.0
    hangul: float = 0.0
    known_name: bool = False

    def where(self) -> str:
        return f"column {self.column!r}" + (f" of sheet {self.sheet!r}" if self.sheet is not None else "")

    def figures(self) -> str:
        """Its median length and Hangul share, and for a sheet (read whole) its rows with a value."""
        rows = f"{self.rows:,} row{'s' if self.rows != 1 else ''}, " if self.sheet is not None else ""
        return f"{rows}median {self.median_length:.0f} characters, {self.hangul:.0%} Hangul"


@dataclass
class TextChoice:
    """The column chosen (``best``), the next best one, and whether the user named it."""

    best: Candidate
    runner_up: Candidate | None = None
    named: bool = False

    @property
    def column(self) -> str:
        return self.best.column

    @property
    def sheet(self) -> str | None:
        return self.best.sheet

    def message(self) -> str:
        """One log line: what was chosen, on what figures, the runner-up and how to choose another."""
        if self.named:
            return f"text {self.best.where()} (as given)"
        text = f"text {self.best.where()} ({self.best.figures()})"
        if self.runner_up is not None:
            text += f"; runner-up: {self.runner_up.where()} ({self.runner_up.figures()})"
        options = "--text-column" + (" / --sheet" if self.best.sheet is not None else "")
        return text + f"; choose another with {options}"


def comment_likeness(
    values: pd.Series, rows: int | None = None, known_name: bool = False
) -> tuple[float, float, float]:
    """(score, median length, Hangul share) of a column; score 0 for a column that is not mostly text."""
    from .times import parse_times

    present = values.dropna()
    head = present.iloc[:SAMPLE]
    if head.empty:
        return 0.0, 0.0, 0.0
    strings = pd.Series([v.strip() for v in head if isinstance(v, str) and v.strip()], dtype=object)
    if len(strings) < 0.5 * len(head):
        return 0.0, 0.0, 0.0
    numeric = pd.to_numeric(strings, errors="coerce").notna().mean()
    dates = parse_times(strings).times.notna().mean()
    text_share = len(strings) / len(head) * (1.0 - numeric) * (1.0 - dates)
    if text_share < 0.5:
        return 0.0, 0.0, 0.0
    lengths = strings.str.len()
    joined = "".join(strings.tolist())
    letters = sum(ch.isalpha() for ch in joined)
    hangul = sum("\uac00" <= ch <= "\ud7a3" or "\u3131" <= ch <= "\u318e" for ch in joined) / max(letters, 1)
    variety = strings.nunique() / len(strings)
    rows = len(present) if rows is None else rows
    score = (
        text_share
        * (0.2 + 0.8 * variety)
        * math.log2(1.0 + float(np.median(lengths)))
        * (0.5 + hangul)
        * math.log10(10.0 + rows)
        * (2.0 if known_name else 1.0)
    )
    return score, float(np.median(lengths)), hangul


def choose_text_column(
    tables: dict[str | None, pd.DataFrame],
    path: str,
    wanted: str | None = None,
    known: tuple[str, ...] = TEXT_COLUMN_NAMES,
) -> TextChoice:
    """The most comment-like column over all ``tables`` (sheet name -> frame; ``None`` for a file without
    sheets), or the column named ``wanted`` (on the sheet where it looks most like comments).

    Raises :class:`DataError` naming every table's columns when no column qualifies, the named one is
    missing, or the two best are too close to call.
    """
    known_names = {name.lower() for name in known}
    if wanted is not None:
        having = [(sheet, frame) for sheet, frame in tables.items() if wanted in [str(c) for c in frame.columns]]
        if not having:
            raise DataError(_missing(tables, path, wanted))
        scored = [_candidate(sheet, frame, wanted, known_names) for sheet, frame in having]
        scored.sort(key=lambda c: -c.score)
        return TextChoice(scored[0], scored[1] if len(scored) > 1 else None, named=True)
    candidates = [
        _candidate(sheet, frame, str(column), known_names)
        for sheet, frame in tables.items()
        for column in frame.columns
    ]
    candidates = sorted((c for c in candidates if c.score > 0), key=lambda c: -c.score)
    if not candidates:
        raise DataError(_none(tables, path))
    best = candidates[0]
    runner_up = candidates[1] if len(candidates) > 1 else None
    if runner_up is not None and not best.known_name and best.score < TIE * runner_up.score:
        raise DataError(
            f"{path}: cannot tell which column holds the text: {best.where()} and "
            f"{runner_up.where()} look alike ({best.figures()}; {runner_up.figures()}); columns found: "
            f"{_listing(tables)}. Name it with --text-column."
        )
    return TextChoice(best, runner_up)


def _candidate(sheet: str | None, frame: pd.DataFrame, column: str, known_names: set[str]) -> Candidate:
    values = frame[column]
    if isinstance(values, pd.DataFrame):  # duplicate column names: the first
        values = values.iloc[:, 0]
    known = column.lower().strip() in known_names
    score, length, hangul = comment_likeness(values, known_name=known)
    return Candidate(sheet, column, score, int(values.notna().sum()), length, hangul, known)


def _listing(tables: dict[str | None, pd.DataFrame]) -> str:
    if len(tables) == 1:
        return ", ".join(repr(str(c)) for c in next(iter(tables.values())).columns)
    return "; ".join(
        f"{i} {sheet!r} (columns: {', '.join(repr(str(c)) for c in frame.columns) or 'none'})"
        for i, (sheet, frame) in enumerate(tables.items(), 1)
    )


def _missing(tables: dict[str | None, pd.DataFrame], path: str, wanted: str) -> str:
    if len(tables) == 1:
        return f"{path}: no column {wanted!r}; columns found: {_listing(tables)}"
    return (
        f"{path}: no sheet has a column {wanted!r}; sheets: {_listing(tables)}. Choose the sheet with --sheet "
        f"NAME or NUMBER (1 = first) and the column with --text-column"
    )


def _none(tables: dict[str | None, pd.DataFrame], path: str) -> str:
    if len(tables) == 1:
        return (
            f"{path}: cannot tell which column holds the text (no column is mostly text); columns found: "
            f"{_listing(tables)}. Name it with --text-column."
        )
    return (
        f"{path}: no sheet has a recognizable text column; sheets: {_listing(tables)}. Choose the sheet with "
        f"--sheet NAME or NUMBER (1 = first) and the column with --text-column"
    )


def find_column(
    columns: list[str],
    wanted: str | None,
    candidates: tuple[str, ...],
    what: str,
    path: str,
    frame: pd.DataFrame | None = None,
) -> str:
    """Resolve a column: the one named, else (text with ``frame``) the most comment-like one (see
    :func:`choose_text_column`), else a known name, else an error listing the columns."""
    names = [str(c) for c in columns]
    if wanted is not None:
        if wanted in names:
            return wanted
        raise DataError(f"{path}: no column {wanted!r}; columns found: {', '.join(map(repr, names))}")
    if frame is not None and what == "text":
        table = frame.set_axis([str(c) for c in frame.columns], axis=1)
        return choose_text_column({None: table}, path, None, candidates).column
    lowered = {n.lower().strip(): n for n in names}
    for candidate in candidates:
        if candidate in lowered:
            return lowered[candidate]
    option = "--text-column" if what == "text" else "--label-column"
    raise DataError(
        f"{path}: cannot tell which column holds the {what}; columns found: "
        f"{', '.join(map(repr, names))}. Name it with {option}."
    )
