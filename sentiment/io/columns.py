"""Which column holds the texts (or the labels): the names recognised, and the choice among a table's columns."""

from __future__ import annotations

import pandas as pd

from ..errors import DataError

TEXT_COLUMN_NAMES = ("document", "text", "comment", "comments", "review", "content", "contents", "sentence",
                     "body", "댓글", "내용", "리뷰", "본문", "문장", "텍스트")

LABEL_COLUMN_NAMES = ("label", "labels", "sentiment", "polarity", "target", "class", "y", "레이블", "라벨", "감성")

def find_column(columns: list[str], wanted: str | None, candidates: tuple[str, ...], what: str,
                path: str, frame: pd.DataFrame | None = None) -> str:
    """Resolve the text/label column: the one named, else a known name, else the only text column."""
    names = [str(c) for c in columns]
    if wanted is not None:
        if wanted in names:
            return wanted
        raise DataError(f"{path}: no column {wanted!r}; columns found: {', '.join(map(repr, names))}")
    lowered = {n.lower().strip(): n for n in names}
    for candidate in candidates:
        if candidate in lowered:
            return lowered[candidate]
    if frame is not None and what == "text":
        text_like = [c for c in names if _is_text_column(frame[c])]
        if len(text_like) == 1:
            return text_like[0]
    option = "--text-column" if what == "text" else "--label-column"
    raise DataError(f"{path}: cannot tell which column holds the {what}; columns found: "
                    f"{', '.join(map(repr, names))}. Name it with {option}.")

def _is_text_column(series: pd.Series) -> bool:
    values = series.dropna()
    if values.empty:
        return False
    sample = values.iloc[:200]
    strings = [v for v in sample if isinstance(v, str)]
    if len(strings) < 0.9 * len(sample):
        return False
    numeric = pd.to_numeric(pd.Series(strings), errors="coerce").notna().mean()
    return numeric < 0.5
