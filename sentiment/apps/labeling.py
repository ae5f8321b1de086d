"""The LABELS file of ``sentiment label``: choosing its rows, exporting it, resuming it, recording decisions.

LABELS is one table (CSV, or ``.xlsx`` with ``--export``): every column of INPUT (the text column under its own
name), then ``row`` (the row's 0-based position among INPUT's data rows), ``sample`` (``audit`` or
``informative``, see :mod:`sentiment.training.selection`), ``prob_1`` (the model's P(positive) when the row was chosen),
``label`` (empty until labeled) and ``decided_at`` (when the labeling page recorded the decision; a skipped
comment has a time and no label). Rows are in labeling order. It loads unchanged wherever a labeled table is
read (``adapt --labeled``, ``evaluate --data``): rows without a label are dropped there and counted.

The labeling page (:mod:`sentiment.apps.labeling_page`) keeps LABELS valid at every moment: each decision rewrites
the whole file to a temporary file in the same folder, fsyncs it, renames it over LABELS (atomic on POSIX and
Windows) and fsyncs the folder, before the page is answered. A crash or ``kill -9`` at any point leaves either
the file before or the file after the decision, never a torn one; a restart of the same command reads LABELS
and continues at the first undecided row. Undo clears the most recent decision (by ``decided_at``).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError
from ..io.durable_csv import csv_cell, csv_text, write_durably
from ..io.readers import is_plain_text, read_table, read_text_lines, text_column_of
from ..io.writers import FORMULA_PREFIXES, escape_formulas, write_table
from ..training.selection import check_selection_args

ADDED_COLUMNS = ("row", "sample", "prob_1", "label", "decided_at")
DECISIONS = ("positive", "negative", "skip")
EXPORT_TYPES = (".csv", ".xlsx")
PAGE_TYPES = (".csv",)
_SPACE = re.compile(r"\s+")
Log = Callable[[str], None]


def label_words(spec: str) -> tuple[str, str]:
    """``"긍정,부정"`` -> (positive word, negative word); two different non-empty words, positive first."""
    words = [w.strip() for w in str(spec).split(",")]
    if len(words) != 2 or not all(words) or words[0] == words[1]:
        raise DataError(
            f"--labels {spec!r}: give two different words separated by a comma, the positive one "
            f"first, e.g. --labels 1,0 (the default) or --labels 긍정,부정 or --labels pos,neg"
        )
    return words[0], words[1]


def labels_type(path: str | Path, export: bool) -> str:
    """The suffix of LABELS, checked against what the mode can write."""
    suffix = Path(path).suffix.lower()
    allowed = EXPORT_TYPES if export else PAGE_TYPES
    if suffix not in allowed:
        if not export and suffix in EXPORT_TYPES:
            raise DataError(
                f"-o {path}: the labeling page records each decision in a .csv file; give -o "
                f"{Path(path).with_suffix('.csv')}, or add --export to write an .xlsx for labeling "
                f"in Excel"
            )
        raise DataError(f"-o {path}: LABELS must be {' or '.join(allowed)} (e.g. -o labels.csv)")
    return suffix


def text_key(text: Any) -> str:
    """How a text is compared between INPUT and LABELS: spaces collapsed, the formula guard's quote dropped."""
    text = "" if text is None or (isinstance(text, float) and np.isnan(text)) else str(text)
    if text.startswith("'") and text[1:2] and text[1] in FORMULA_PREFIXES:
        text = text[1:]
    return _SPACE.sub(" ", text).strip()


def shown_text(text: str) -> str:
    """The comment as the page shows it (without the quote the formula guard put in front)."""
    return text[1:] if text.startswith("'") and text[1:2] and text[1] in FORMULA_PREFIXES else text


@dataclass
class LabelsTable:
    """LABELS in memory: every cell a string (``""`` when empty), in file order."""

    frame: pd.DataFrame
    text_column: str
    created: bool  # written just now (False: an existing LABELS was found and checked)

    def counts(self) -> dict[str, int]:
        decided = (self.frame["label"] != "") | (self.frame["decided_at"] != "")
        return {
            "rows": len(self.frame),
            "audit": int((self.frame["sample"] == "audit").sum()),
            "informative": int((self.frame["sample"] == "informative").sum()),
            "decided": int(decided.sum()),
            "labeled": int((self.frame["label"] != "").sum()),
        }


def read_input(
    path: str | Path,
    text_column: str | None = None,
    *,
    sep: str | None = None,
    encoding: str | None = None,
    sheet: str | int | None = None,
    log: Log = lambda m: None,
) -> tuple[pd.DataFrame, str]:
    """INPUT as read by the other commands, and its text column. A plain ``.txt`` (no tab in its first line) is
    one comment a line: column ``text``, one row per non-empty line (as ``adapt --texts`` reads it)."""
    if is_plain_text(path) and sep is None:
        frame = pd.DataFrame({"text": read_text_lines(path, encoding=encoding)})
        if text_column not in (None, "text"):
            raise DataError(
                f"{path} is plain text (one comment a line, no columns); leave out --text-column {text_column!r}"
            )
        if frame.empty:
            raise DataError(f"{path} has no comments (every line is empty)")
        return frame, "text"
    frame, info = read_table(path, sep=sep, encoding=encoding, sheet=sheet, text_column=text_column)
    choice = text_column_of(frame, info, text_column)  # as every other command chooses it
    if text_column is None or info.sheet:
        log(f"{path}: {choice.message()}")
    return frame, choice.column


def _as_strings(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.astype(object).where(frame.notna(), "")
    return out.map(lambda v: v if isinstance(v, str) else str(v))


def build_labels(
    frame: pd.DataFrame, text_column: str, selection: pd.DataFrame, log: Log = lambda m: None
) -> tuple[pd.DataFrame, str]:
    """The LABELS table for ``selection`` (from :func:`sentiment.training.selection.select_rows`) of INPUT ``frame``:
    (all-string frame, text column name). INPUT columns whose names LABELS needs get the suffix ``_input``."""
    renamed = {c: f"{c}_input" for c in frame.columns if str(c) in ADDED_COLUMNS}
    if renamed:
        log(
            "INPUT columns renamed in LABELS (their names are LABELS' own): "
            + ", ".join(f"{a!r} -> {b!r}" for a, b in renamed.items())
        )
    rows = selection["row"].to_numpy()
    chosen = frame.iloc[rows].rename(columns=renamed).reset_index(drop=True)
    chosen["row"] = rows
    chosen["sample"] = selection["sample"].to_numpy()
    if "prob_1" not in selection:
        raise DataError(
            "the labeling page and LABELS need a two-class (positive/negative) model; this model has more classes"
        )
    chosen["prob_1"] = [f"{p:.6f}" for p in selection["prob_1"]]
    chosen["label"] = ""
    chosen["decided_at"] = ""
    return _as_strings(escape_formulas(chosen)), renamed.get(text_column, text_column)


def check_existing(path: Path, frame: pd.DataFrame, text_column: str) -> LabelsTable:
    """Read an existing LABELS and make sure it was made by ``sentiment label`` from this INPUT."""
    try:
        labels, _ = read_table(path)
    except DataError as exc:
        raise DataError(
            f"-o {path} exists but cannot be read as a LABELS table ({exc}); choose another -o or remove it"
        ) from None
    labels.columns = [str(c) for c in labels.columns]
    if "decided_at" not in labels.columns and {"row", "sample", "label"} <= set(labels.columns):
        labels["decided_at"] = ""
    missing = [c for c in ADDED_COLUMNS if c not in labels.columns]
    renamed_text = f"{text_column}_input" if text_column in ADDED_COLUMNS else text_column
    if missing or renamed_text not in labels.columns:
        lacks = ", ".join(repr(c) for c in [*missing, *([renamed_text] if renamed_text not in labels.columns else [])])
        raise DataError(
            f"-o {path} exists and is not a LABELS file of this INPUT (no column {lacks}); nothing "
            f"was changed. Choose another -o, or remove {path} to start a new selection"
        )
    labels = _as_strings(labels)
    rows = pd.to_numeric(labels["row"], errors="coerce")
    bad = rows.isna() | (rows < 0) | (rows >= len(frame)) | (rows != rows.round())
    if bad.any() or rows.duplicated().any():
        where = int(np.flatnonzero(bad | rows.duplicated())[0])
        raise DataError(
            f"-o {path} was made from a different INPUT: its row column holds "
            f"{labels['row'].iloc[where]!r} "
            f"(line {where + 2}), but INPUT has rows 0 to {len(frame) - 1}, each once; choose another "
            f"-o, or remove {path} to start a new selection"
        )
    rows = rows.astype(int).to_numpy()
    for i, r in enumerate(rows):
        if text_key(labels[renamed_text].iloc[i]) != text_key(frame[text_column].iloc[r]):
            raise DataError(
                f"-o {path} was made from a different INPUT: its line {i + 2} (row {r}) holds "
                f"{labels[renamed_text].iloc[i][:40]!r}, but INPUT's row {r} is "
                f"{text_key(frame[text_column].iloc[r])[:40]!r}; choose another -o for this INPUT, or "
                f"remove {path} to start a new selection. Nothing was changed."
            )
    samples = set(labels["sample"]) - {"audit", "informative"}
    if samples:
        raise DataError(
            f"-o {path}: the sample column holds {sorted(samples)[:3]}, not only 'audit' and "
            f"'informative'; it was edited or comes from elsewhere. Choose another -o"
        )
    return LabelsTable(labels, renamed_text, created=False)


def prepare_labels(
    input_path: str | Path,
    labels_path: str | Path,
    *,
    n: int = 300,
    model: Any = None,
    text_column: str | None = None,
    audit_share: float = 0.3,
    seed: int = 0,
    export: bool = False,
    sep: str | None = None,
    encoding: str | None = None,
    sheet: str | int | None = None,
    log: Log = lambda m: None,
) -> LabelsTable:
    """Read INPUT; resume an existing LABELS made from it, else choose ``n`` rows with ``model`` (a
    :class:`~sentiment.classifier.SentimentClassifier`, or a callable returning one, loaded only when needed)
    and write LABELS (atomically). The caller holds LABELS' lock."""
    labels_path = Path(labels_path)
    suffix = labels_type(labels_path, export)
    if labels_path.is_dir():
        raise DataError(f"-o {labels_path} is a folder; give a file name such as {labels_path / 'labels.csv'}")
    if not labels_path.parent.is_dir():
        raise DataError(f"-o {labels_path}: the folder {labels_path.parent} does not exist")
    frame, column = read_input(input_path, text_column, sep=sep, encoding=encoding, sheet=sheet, log=log)
    if labels_path.exists():
        table = check_existing(labels_path, frame, column)
        c = table.counts()
        then = (
            "left as it is (remove it for a new selection)"
            if export
            else "continuing with them (--n, --seed, --audit-share and --model apply to a new selection only)"
        )
        log(
            f"{labels_path} already holds {c['rows']:,} comments chosen from {input_path} ({c['decided']:,} "
            f"decided, {c['labeled']:,} labeled); {then}"
        )
        return table
    texts = frame[column].tolist()
    check_selection_args(sum(isinstance(t, str) and bool(t.strip()) for t in texts), n, audit_share)
    clf = model() if callable(model) and not hasattr(model, "select_for_labeling") else model
    if getattr(clf, "n_classes_", 2) != 2:
        raise DataError(
            f"sentiment label needs a two-class (positive/negative) model; this one has the classes "
            f"{list(clf.classes_)}"
        )
    selection = clf.select_for_labeling(texts, n, audit_share=audit_share, seed=seed, log=log)
    labels, text_col = build_labels(frame, column, selection, log)
    if suffix == ".xlsx":
        out = labels.copy()
        out["row"] = out["row"].astype(int)
        out["prob_1"] = out["prob_1"].astype(float)
        write_table(out, labels_path, escape=False)
    else:
        write_csv(labels, labels_path)
    table = LabelsTable(labels, text_col, created=True)
    c = table.counts()
    log(
        f"wrote {labels_path}: {c['rows']:,} comments from {input_path} ({c['audit']:,} audit: drawn at random; "
        f"{c['informative']:,} informative: uncertain and varied), in labeling order"
    )
    return table


class DecisionConflict(DataError):
    """A decision for a comment that is not the one waiting (a second tab, a repeated key press)."""


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Replace ``path`` with the all-string ``frame`` as UTF-8 CSV, durably."""
    write_durably(path, csv_text(list(frame.columns), frame.itertuples(index=False, name=None)).encode("utf-8"))


class LabelStore:
    """The labeling page's state: LABELS in memory, each change written through durably.

    Every cell of LABELS is kept as its CSV text, so a write is one join and one fsync (a few milliseconds for
    thousands of rows), and cells the page does not change are written back exactly as they were read. Not
    thread-safe by itself: the page serializes calls with a lock.
    """

    def __init__(
        self, path: str | Path, table: LabelsTable, words: tuple[str, str] = ("1", "0"), threshold: float = 0.5
    ) -> None:
        frame = table.frame.reset_index(drop=True)
        self.path = Path(path)
        self.text_column = table.text_column
        self.positive, self.negative = words
        self.threshold = threshold
        self.columns = [str(c) for c in frame.columns]
        self.rows = [int(r) for r in frame["row"]]
        self.samples = frame["sample"].tolist()
        self.texts = frame[self.text_column].tolist()
        self.labels = frame["label"].tolist()
        self.times = frame["decided_at"].tolist()
        self.prob = pd.to_numeric(frame["prob_1"], errors="coerce").to_numpy()
        self._cells = [[csv_cell(v) for v in values] for values in frame.itertuples(index=False, name=None)]
        self._header = ",".join(csv_cell(c) for c in self.columns)
        self._label_at, self._time_at = self.columns.index("label"), self.columns.index("decided_at")
        used = set(self.labels) - {"", self.positive, self.negative}
        if used:
            listed = ", ".join(repr(v) for v in sorted(used)[:5])
            raise DataError(
                f"{self.path} already holds the label(s) {listed}, which are not the words of this "
                f"run ({self.positive!r} for positive, {self.negative!r} for negative); continue with "
                f"the same words, e.g. --labels {','.join(sorted(used)[:2])} (positive first)"
            )
        # page decisions, oldest first (undo takes the last); decided_at parsed once, file order breaks ties
        stamped = [i for i, t in enumerate(self.times) if t]
        parsed = pd.to_datetime(
            pd.Series([self.times[i] for i in stamped], dtype=object), errors="coerce", utc=True, format="ISO8601"
        )
        keys = parsed.fillna(pd.Timestamp.min.tz_localize("UTC")).tolist()
        self.order = [i for _, i in sorted(zip(keys, stamped, strict=True))]

    # -- reading ------------------------------------------------------------------------
    def decided(self, position: int) -> bool:
        return bool(self.labels[position] or self.times[position])

    def current(self) -> int | None:
        """Position (in file order) of the first undecided comment, or None when all are decided."""
        return next((i for i in range(len(self.rows)) if not self.decided(i)), None)

    def table(self) -> pd.DataFrame:
        """LABELS as it is now (every cell a string)."""
        return pd.read_csv(io.StringIO(self._csv()), dtype=str, keep_default_na=False)

    def accuracy(self) -> dict[str, Any]:
        """The model's accuracy on the audit rows labeled so far (its cut-off: ``threshold``), 95% Wilson interval."""
        from ..analysis.report_stats import wilson

        n = correct = 0
        for i, sample in enumerate(self.samples):
            label = self.labels[i]
            if sample != "audit" or label not in (self.positive, self.negative) or np.isnan(self.prob[i]):
                continue
            n += 1
            correct += (self.prob[i] >= self.threshold) == (label == self.positive)
        if not n:
            return {"labels": 0, "estimate": None, "low": None, "high": None}
        low, high = wilson(np.array([correct]), np.array([n]))
        return {
            "labels": n,
            "correct": int(correct),
            "estimate": correct / n,
            "low": float(low[0]),
            "high": float(high[0]),
            "threshold": self.threshold,
        }

    def item(self, position: int) -> dict[str, Any]:
        return {
            "position": position,
            "row": self.rows[position],
            "text": shown_text(self.texts[position]),
            "label": self.labels[position],
            "skipped": not self.labels[position] and bool(self.times[position]),
        }

    def state(self) -> dict[str, Any]:
        current = self.current()
        return {
            "total": len(self.rows),
            "decided": sum(1 for i in range(len(self.rows)) if self.decided(i)),
            "positive": self.labels.count(self.positive),
            "negative": self.labels.count(self.negative),
            "skipped": sum(1 for lab, t in zip(self.labels, self.times, strict=True) if t and not lab),
            "current": None if current is None else self.item(current),
            "last": self.item(self.order[-1]) if self.order else None,
            "accuracy": self.accuracy(),
            "words": {"positive": self.positive, "negative": self.negative},
            "file": str(self.path),
        }

    # -- writing --------------------------------------------------------------------------
    def decide(self, row: int, decision: str) -> dict[str, Any]:
        """Record ``decision`` (positive / negative / skip) for the waiting comment, which must be INPUT row
        ``row``; LABELS is rewritten durably before this returns."""
        if decision not in DECISIONS:
            raise DataError(f"decision {decision!r} is not one of {', '.join(DECISIONS)}")
        current = self.current()
        if current is None or self.rows[current] != int(row):
            raise DecisionConflict(
                f"row {row} is not the comment waiting for a decision"
                + ("" if current is None else f" (row {self.rows[current]} is)")
            )
        label = {"positive": self.positive, "negative": self.negative}.get(decision, "")
        self._set(current, label, datetime.now(UTC).astimezone().isoformat(timespec="microseconds"))
        self.order.append(current)
        return self.state()

    def undo(self) -> dict[str, Any]:
        """Clear the most recent page decision; that comment is the next one shown."""
        if not self.order:
            raise DecisionConflict("there is no decision to undo")
        self._set(self.order[-1], "", "")
        self.order.pop()
        return self.state()

    def _set(self, position: int, label: str, time: str) -> None:
        """Change one row's label and time, in the file first: if writing fails, nothing changes."""
        old = self.labels[position], self.times[position]
        cells = self._cells[position]
        self.labels[position], self.times[position] = label, time
        cells[self._label_at], cells[self._time_at] = csv_cell(label), csv_cell(time)
        try:
            write_durably(self.path, self._csv().encode("utf-8"))
        except BaseException:
            self.labels[position], self.times[position] = old
            cells[self._label_at], cells[self._time_at] = csv_cell(old[0]), csv_cell(old[1])
            raise

    def _csv(self) -> str:
        return self._header + "\n" + "".join(",".join(cells) + "\n" for cells in self._cells)
