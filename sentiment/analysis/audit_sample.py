"""The audit sample of a LABELS file (`sentiment label`) matched to the rows of a scored file.

LABELS holds the comments chosen for labeling with their text column, ``row`` (0-based row number in the
scored input), ``sample`` (``audit``: drawn uniformly at random; ``informative``: chosen by the model) and
``label``. Only labeled audit rows may correct a share: informative rows were chosen for being hard, so
their errors are not the population's. A file without a ``sample`` column is taken as a random sample (and
the report says so). Rows are matched on ``row`` when every labeled row's text equals the scored file's text
at that row (same file, same order), else on the text itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from ..io.labeled import LabeledData, load_labeled, match_labels
from ..io.readers import read_table
from ..io.writers import FORMULA_PREFIXES

AUDIT = "audit"


@dataclass
class AuditLabels:
    """Labeled audit comments, as positions in the scored frame and whether their true label is positive."""

    path: str
    positions: np.ndarray  # row positions in the scored frame (scored rows only)
    positive: np.ndarray  # bool: the person's label is the positive one
    join: str  # "row" or "text"
    sample_column: bool  # LABELS has a `sample` column (else every labeled row is taken as random)
    labeled: int  # rows of LABELS with a label
    not_audit: int = 0  # labeled rows of the informative part, left out
    unmatched: int = 0  # labeled audit rows with no scored comment
    unscored: int = 0  # matched to a row that was not scored (empty, missing text)
    notes: list[str] = field(default_factory=list)

    @property
    def used(self) -> int:
        return len(self.positions)

    def describe(self) -> str:
        """One sentence for the page and the log."""
        if self.sample_column:
            what = f"{self.used:,} labeled audit comments (drawn uniformly at random) from {self.path}" + (
                f"; {self.not_audit:,} labeled informative comments left out (chosen by the model, not a random sample)"
                if self.not_audit
                else ""
            )
        else:
            what = (
                f"{self.used:,} labeled comments from {self.path}, taken as a random sample of the scored "
                "comments (the file has no `sample` column saying how they were chosen)"
            )
        how = "matched to the scored file by row number" if self.join == "row" else "matched by text"
        extra = [
            f"{n:,} {what_}"
            for n, what_ in (
                (self.unmatched, "not found in the scored file"),
                (self.unscored, "matched to unscored rows"),
            )
            if n
        ]
        return f"{what}; {how}" + (f" ({', '.join(extra)}, left out)" if extra else "") + "."


def normal_text(value: object) -> str:
    """A text as compared between LABELS and the scored file: whitespace collapsed, formula escaping undone."""
    text = " ".join(str(value).split())
    if text.startswith("'") and text[1:].startswith(FORMULA_PREFIXES):
        text = text[1:]
    return text


def read_audit_labels(
    path: str | Path,
    scored: pd.DataFrame,
    classes: np.ndarray,
    positive: str,
    *,
    text_column: str | None = None,
    label_column: str | None = None,
    scored_text_column: str | None = None,
    sep: str | None = None,
    encoding: str | None = None,
    sheet: str | int | None = None,
) -> AuditLabels:
    """Read LABELS and match its labeled audit rows to ``scored`` (columns ``text`` and ``status``).

    ``classes``: the model's labels (LABELS' values must map onto them); ``positive``: the positive one as
    written in the scored file. The LABELS text column defaults to ``scored_text_column`` when LABELS has
    it (``sentiment label`` keeps the input's name), else it is detected.
    """
    name = str(path)
    if text_column is None and scored_text_column is not None:
        header = [str(c) for c in read_table(path, sep=sep, encoding=encoding, sheet=sheet)[0].columns]
        text_column = scored_text_column if scored_text_column in header else None
    data = load_labeled(path, text_column, label_column, sep=sep, encoding=encoding, sheet=sheet, min_rows=0)
    if not data.texts:
        raise DataError(
            f"{name}: no labeled rows (column {data.label_column!r} is empty in every row with a "
            f"text); label the comments first (sentiment label ... -o {Path(name).name}) or fill in "
            f"the {data.label_column!r} column"
        )
    frame = data.frame
    assert frame is not None  # load_labeled keeps the rows
    labels = match_labels(data.labels, classes, name, against="the labels of the scored file")
    is_positive = np.asarray([str(v) == str(positive) for v in labels.tolist()])
    sample_column = "sample" in frame.columns
    keep = np.ones(len(frame), dtype=bool)
    if sample_column:
        keep = frame["sample"].map(lambda v: str(v).strip().lower() == AUDIT).to_numpy()
        if not keep.any():
            raise DataError(
                f"{name}: none of its {len(frame):,} labeled rows is an audit row (column 'sample' == "
                f"{AUDIT!r}); only comments drawn at random can correct a share. Label some audit rows, "
                "or drop the 'sample' column if every labeled row was drawn uniformly at random"
            )
    texts = [normal_text(t) for t in np.asarray(data.texts, dtype=object)[keep]]
    audit = AuditLabels(
        name,
        np.empty(0, dtype=np.int64),
        np.empty(0, dtype=bool),
        "text",
        sample_column,
        labeled=len(frame),
        not_audit=int((~keep).sum()),
    )
    scored_texts = scored["text"]
    rows = _row_join(frame.loc[keep, "row"] if "row" in frame.columns else None, texts, scored_texts)
    if rows is not None:
        audit.join = "row"
        positions = rows
    else:
        if "row" in frame.columns:
            audit.notes.append(
                "its `row` numbers do not point at the same texts in the scored file, so rows were matched by text"
            )
        first: dict[str, int] = {}
        for i, t in enumerate(scored_texts.tolist()):
            first.setdefault(normal_text(t), i)
        positions = np.asarray([first.get(t, -1) for t in texts], dtype=np.int64)
    found = positions >= 0
    audit.unmatched = int((~found).sum())
    if not found.any():
        raise DataError(
            f"{name}: none of its {len(texts):,} labeled audit comments is in the scored file (matched by "
            "row number and by text); pass the LABELS made from the same comments as the scored file"
        )
    status_ok = scored["status"].to_numpy()[positions[found]] == "ok"
    audit.unscored = int((~status_ok).sum())
    audit.positions = positions[found][status_ok]
    audit.positive = is_positive[keep][found][status_ok]
    return audit


def _row_join(rows: pd.Series | None, texts: list[str], scored_texts: pd.Series) -> np.ndarray | None:
    """Positions from the ``row`` column when each points at the same text in the scored file, else None."""
    if rows is None:
        return None
    numbers = pd.to_numeric(rows, errors="coerce")
    if numbers.isna().any() or not (numbers == numbers.round()).all():
        return None
    positions = numbers.astype(np.int64).to_numpy()
    if positions.min() < 0 or positions.max() >= len(scored_texts):
        return None
    there = scored_texts.to_numpy()[positions]
    if any(normal_text(a) != b for a, b in zip(there, texts, strict=True)):
        return None
    return positions


def audit_rows(data: LabeledData, all_rows: bool = False) -> tuple[LabeledData, str | None]:
    """The rows of a labeled table to evaluate on, and a sentence saying which (None: a plain labeled table).

    With a ``sample`` column (the file of ``sentiment label``), only the audit rows by default: they were drawn
    uniformly at random, so figures on them estimate the model's figures on all the comments; the
    informative rows were chosen because the model was unsure and make it look worse than it is.
    """
    frame = data.frame
    if frame is None or "sample" not in frame.columns:
        return data, None
    is_audit = frame["sample"].map(lambda v: str(v).strip().lower() == AUDIT).to_numpy()
    n_audit, n = int(is_audit.sum()), len(frame)
    if all_rows or n_audit == 0:
        why = "--all-rows" if all_rows else f"none of the {n:,} labeled rows is an audit row (sample == {AUDIT!r})"
        return data, (
            f"all {n:,} labeled rows ({why}); {n - n_audit:,} of them were chosen by the model (sample "
            "== 'informative'), not drawn at random, so these figures are not those of the model on "
            "all your comments (usually lower)"
        )
    kept = frame[is_audit].reset_index(drop=True)
    subset = LabeledData(
        [t for t, a in zip(data.texts, is_audit, strict=True) if a],
        np.asarray(data.labels)[is_audit],
        data.text_column,
        data.label_column,
        dict(data.dropped),
        kept,
    )
    return subset, (
        f"the audit sample: {n_audit:,} of {n:,} labeled rows (sample == {AUDIT!r}, drawn uniformly at "
        f"random, so the figures estimate the model's on all the comments); {n - n_audit:,} informative "
        "rows (chosen by the model) left out; --all-rows evaluates every row"
    )
