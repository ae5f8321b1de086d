"""Batch scoring of comment files: streaming, parallel, atomic and resumable.

The input is read in chunks; each chunk's texts are tokenized in worker
processes while the model scores the previous chunk; each scored chunk is
written as a part file (atomically) into ``.OUTPUT.parts/``; at the end the
parts are joined into a temporary file that is renamed to the output. A killed
run continues with ``resume=True`` from the last completed part and produces
the same file as an uninterrupted run.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..classifier import SentimentClassifier
from ..errors import DataError, SentimentError
from ..io.decoding import bad_encoding_rows, line_list
from ..io.excel import check_excel_cells
from ..io.locks import locked
from ..io.progress import progress_bar
from ..io.readers import iter_table, text_column_of
from ..io.writers import atomic_target, check_output, escape_formulas, output_kind, write_frame
from ..model.decision import DecisionRule, decide

STATUS_OK = "ok"
STATUS_BAD_ENCODING = "bad_encoding"  # the row held undecodable bytes (encoding_errors="replace"); not scored
PARTS_FORMAT = 1
OUTPUT_ENCODINGS = ("utf-8", "utf-8-sig")  # utf-8-sig: Excel opens Korean CSV correctly


@dataclass
class ScoreSummary:
    """What a scoring run did."""

    output: str
    text_column: str
    encoding: str | None
    rows: int = 0
    scored: int = 0
    status_counts: dict[str, int] = field(default_factory=dict)
    label_counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    resumed_chunks: int = 0
    skipped_rows: int = 0  # left out for undecodable bytes (encoding_errors="skip-rows")
    skipped_lines: str = ""  # their line numbers, e.g. "5, 734,219"

    def lines(self) -> list[str]:
        out = [f"rows read: {self.rows:,}", f"scored: {self.scored:,}"]
        if self.skipped_rows:
            out.append(f"skipped (undecodable bytes): {self.skipped_rows:,} row(s), on line(s) {self.skipped_lines}")
        flagged = {k: v for k, v in self.status_counts.items() if k != STATUS_OK}
        out.append("flagged: " + (", ".join(f"{k} {v:,}" for k, v in sorted(flagged.items())) or "none"))
        if self.scored:
            shares = ", ".join(f"{label} {n:,} ({n / self.scored:.1%})" for label, n in self.label_counts.items())
            out.append(f"predicted labels: {shares}")
        rate = self.rows / self.seconds if self.seconds else 0.0
        out.append(f"elapsed: {self.seconds:.1f} s ({rate:,.0f} rows/s)")
        if self.resumed_chunks:
            out.append(f"resumed: {self.resumed_chunks} chunk(s) were already done")
        out.append(f"output: {self.output}")
        return out


def row_status(value: Any) -> str:
    """Why a cell cannot be scored ('missing', 'not_text', 'empty'), or 'ok'."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return "missing"
    if not isinstance(value, str):
        return "not_text"
    if not value.strip():
        return "empty"
    return STATUS_OK


def chunk_statuses(chunk: pd.DataFrame, column: str) -> pd.Series:
    """:func:`row_status` of each row, or ``bad_encoding`` for rows read with undecodable bytes replaced."""
    statuses = chunk[column].map(row_status).astype(object)
    return statuses.mask(bad_encoding_rows(chunk), STATUS_BAD_ENCODING)


def output_columns(classes: np.ndarray, prefix: str) -> list[str]:
    return [f"{prefix}status", f"{prefix}pred_label", *(f"{prefix}prob_{c}" for c in classes.tolist())]


def _fingerprint(path: Path, settings: dict[str, Any]) -> str:
    stat = path.stat()
    data = json.dumps(
        {
            "input": str(path.resolve()),
            "size": stat.st_size,
            "mtime": stat.st_mtime_ns,
            "settings": settings,
            "format": PARTS_FORMAT,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(data.encode()).hexdigest()


@locked("output", "output")
def score_file(
    input_path: str | Path,
    output: str | Path,
    clf: SentimentClassifier,
    *,
    text_column: str | None = None,
    sep: str | None = None,
    encoding: str | None = None,
    chunksize: int = 50_000,
    workers: int = 0,
    overwrite: bool = False,
    resume: bool = False,
    escape: bool = True,
    output_encoding: str = "utf-8",
    column_prefix: str = "",
    batch_size: int = 256,
    threshold: float | None = None,
    show_progress: bool | None = None,
    encoding_errors: str = "strict",
    sheet: str | int | None = None,
    log: Callable[[str], None] = lambda msg: print(msg, file=sys.stderr),
) -> ScoreSummary:
    """Score every row of ``input_path`` and write the rows with added columns to ``output``.

    The run holds the lock of ``output`` (see :mod:`sentiment.io.locks`) from start to end.

    ``encoding_errors``: ``strict`` (undecodable bytes are an error), ``replace`` (their rows are kept, with
    U+FFFD and status ``bad_encoding``, unscored) or ``skip-rows`` (their rows are left out and counted).
    ``sheet``: the workbook sheet (name or number from 1); by default the one whose column looks most like
    comments (:func:`sentiment.io.readers.text_column_of`, logged with the runner-up).
    ``threshold`` (two-class models only): predict the second class (e.g. 1,
    positive) when its probability is at least this, instead of the likelier class.
    """
    input_path = Path(input_path)
    check_threshold(threshold, clf.classes_)
    if output_encoding not in OUTPUT_ENCODINGS:
        raise DataError(
            f"output encoding {output_encoding!r} is not supported; use one of {', '.join(OUTPUT_ENCODINGS)}"
        )
    to_stdout = str(output) == "-"
    check_output(output, overwrite or resume)
    started = time.perf_counter()
    chunks = iter_table(
        input_path,
        sep=sep,
        encoding=encoding,
        chunksize=chunksize,
        encoding_errors=encoding_errors,
        sheet=sheet,
        text_column=text_column,
    )
    first, info = next(chunks)
    choice = text_column_of(first, info, text_column)
    column = choice.column
    if text_column is None or info.sheet:
        log(choice.message())
    if info.encoding:
        log(f"encoding: {info.encoding}")
    new_columns = output_columns(clf.classes_, column_prefix)
    clash = [c for c in new_columns if c in first.columns]
    if clash:
        raise DataError(
            f"{input_path} already has column(s) {', '.join(map(repr, clash))}; "
            f"pass --column-prefix (e.g. 'pred_') to name the added columns differently"
        )
    if len(first) < min(chunksize, 5000):
        workers = 1  # a small file: worker start-up would cost more than it saves
    summary = ScoreSummary(output=str(output), text_column=column, encoding=info.encoding)
    status_counts: Counter[str] = Counter()
    label_counts: Counter[str] = Counter()

    def all_chunks():
        yield first
        for chunk, _ in chunks:
            yield chunk

    settings = {
        "text_column": column,
        "sep": info.sep,
        "encoding": info.encoding,
        "chunksize": chunksize,
        "escape": escape,
        "prefix": column_prefix,
        "encoding_errors": encoding_errors,
        "sheet": info.sheet,
        "output_encoding": output_encoding,
        "threshold": threshold,
        "model": clf.meta_.get("files") if hasattr(clf, "meta_") else id(clf),
        "output": str(output),
        "runtime": getattr(clf, "runtime_", None),  # a resumed run keeps one back end and precision
        "decision": clf.meta_.get("decision") if hasattr(clf, "meta_") else None,
    }
    parts = None if to_stdout else _Parts(Path(output), _fingerprint(input_path, settings), resume)
    done = parts.completed if parts else 0
    summary.resumed_chunks = done

    def pending():
        for index, chunk in enumerate(all_chunks()):
            if index < done:
                previous = parts.summary(index)
                status_counts.update(previous["status"])
                label_counts.update(previous["labels"])
                summary.rows += len(chunk)
                continue
            statuses = chunk_statuses(chunk, column)
            yield (index, chunk, statuses), chunk[column][statuses == STATUS_OK].tolist()

    shown_as = label_names(clf.classes_, escape)
    bar = progress_bar(total=None, unit="rows", desc="scoring", enable=show_progress)
    try:
        for (index, chunk, statuses), ids in clf.tokenizer_.iter_batches(
            pending(), workers=workers, vocab=clf.vocabulary_
        ):
            out = score_frame(
                chunk,
                clf,
                column,
                prefix=column_prefix,
                threshold=threshold,
                escape=escape,
                batch_size=batch_size,
                ids=ids,
                statuses=statuses,
            )
            labels = out[f"{column_prefix}pred_label"][statuses == STATUS_OK]
            chunk_labels = Counter(shown_as.get(str(v), str(v)) for v in labels.tolist())
            chunk_status = Counter(statuses.tolist())
            if parts is None:
                out.to_csv(sys.stdout, index=False, header=index == 0)
            else:
                parts.write(index, out, {"status": chunk_status, "labels": chunk_labels})
            status_counts.update(chunk_status)
            label_counts.update(chunk_labels)
            summary.rows += len(chunk)
            bar.update(len(chunk))
    except SentimentError:  # bad input found mid-way: a resume would hit it again, so keep no parts
        if parts is not None:
            parts.discard()
        raise
    finally:
        bar.close()
    if parts is not None:
        parts.join(Path(output), output_encoding)
    summary.skipped_rows, summary.skipped_lines = info.skipped_rows, line_list(info)
    summary.status_counts = dict(status_counts)
    summary.scored = status_counts.get(STATUS_OK, 0)
    summary.label_counts = {label: label_counts[label] for label in map(str, clf.classes_.tolist())}
    summary.seconds = time.perf_counter() - started
    return summary


def score_frame(
    frame: pd.DataFrame,
    clf: SentimentClassifier,
    column: str,
    *,
    prefix: str = "",
    threshold: float | None = None,
    escape: bool = True,
    batch_size: int = 256,
    ids: Sequence[np.ndarray] | None = None,
    statuses: pd.Series | None = None,
) -> pd.DataFrame:
    """``frame`` with the added columns (``{prefix}status``, ``{prefix}pred_label``, ``{prefix}prob_*``).

    The one scoring step of every engine (``score_file``'s chunks, the Ray actors of
    :mod:`sentiment.apps.distributed`): rows whose ``column`` cell is not a non-blank
    text keep their status and get no prediction; ``escape`` guards every text cell
    against formula injection. ``ids`` (token ids of the scorable rows, in order)
    and ``statuses`` (:func:`chunk_statuses`) may be given when computed elsewhere
    (``score_file`` tokenizes in worker processes); else the texts are tokenized here.
    """
    if statuses is None:
        statuses = chunk_statuses(frame, column)
    ok = (statuses == STATUS_OK).to_numpy()
    if ids is None:
        ids = clf.encode(frame[column][ok].tolist())
    proba = clf.predict_ids(ids, batch_size=batch_size)
    out = _scored_frame(frame, statuses, ok, proba, clf.classes_, prefix, threshold, getattr(clf, "decision_", None))
    return escape_formulas(out) if escape else out


def label_names(classes: np.ndarray, escape: bool) -> dict[str, str]:
    """Each class name as written in an output (escaped, e.g. ``'-1``) -> the class name."""
    names = pd.DataFrame({"label": pd.Series([str(c) for c in classes.tolist()], dtype=object)})
    shown = escape_formulas(names) if escape else names
    return dict(zip(shown["label"].tolist(), names["label"].tolist()))


def check_threshold(threshold: float | None, classes: np.ndarray, option: str = "--threshold") -> None:
    """Raise :class:`DataError` unless ``threshold`` is None or a probability strictly between 0 and 1 for a
    two-class model (``option``: how the message names the setting, e.g. the JSON field ``threshold``)."""
    if threshold is None:
        return
    if len(classes) != 2:
        raise DataError(
            f"{option} works with two-class models; this model has {len(classes)} classes "
            f"({', '.join(map(str, classes.tolist()))}). Leave {option} out to predict the likeliest class"
        )
    if not 0.0 < threshold < 1.0:
        raise DataError(
            f"{option} {threshold} is invalid; expected a probability of class {classes[1]} strictly "
            f"between 0 and 1, e.g. 0.6 (the default, the likelier class, is 0.5)"
        )


def predicted_classes(
    proba: np.ndarray, classes: np.ndarray, threshold: float | None = None, rule: DecisionRule | None = None
) -> np.ndarray:
    """For two classes with ``threshold``: the second class when its probability >= ``threshold``; else by the
    bundle's fitted decision ``rule`` (None: the likeliest class); see :mod:`sentiment.model.decision`."""
    return decide(proba, classes, threshold, rule)


def _scored_frame(
    chunk: pd.DataFrame,
    statuses: pd.Series,
    ok: np.ndarray,
    proba: np.ndarray,
    classes: np.ndarray,
    prefix: str,
    threshold: float | None = None,
    rule: DecisionRule | None = None,
) -> pd.DataFrame:
    out = chunk.copy()
    out[f"{prefix}status"] = statuses.to_numpy()
    labels = pd.Series([None] * len(chunk), dtype=object)
    labels[ok] = predicted_classes(proba, classes, threshold, rule).tolist() if len(proba) else []
    out[f"{prefix}pred_label"] = labels.to_numpy()
    for j, label in enumerate(classes.tolist()):
        column = np.full(len(chunk), np.nan, dtype=np.float64)
        column[ok] = np.round(proba[:, j].astype(np.float64), 6)
        out[f"{prefix}prob_{label}"] = column
    return out


class _Parts:
    """Completed chunks of one scoring run, kept beside the output until the end."""

    def __init__(self, output: Path, fingerprint: str, resume: bool) -> None:
        self.kind, self.gz = output_kind(output)
        self.output = output
        self.dir = output.parent / f".{output.name}.parts"
        manifest = self.dir / "manifest.json"
        self.completed = 0
        if resume and manifest.is_file():
            data = json.loads(manifest.read_text())
            if data.get("fingerprint") == fingerprint:
                while (self.dir / self._name(self.completed)).is_file():
                    self.completed += 1
        if not self.completed:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir.mkdir(parents=True)
            manifest.write_text(json.dumps({"fingerprint": fingerprint}))

    def _name(self, index: int) -> str:
        ext = {"csv": "csv", "tsv": "tsv", "jsonl": "jsonl"}.get(self.kind, "parquet")
        return f"part-{index:06d}.{ext}"

    def summary(self, index: int) -> dict[str, dict[str, int]]:
        return json.loads((self.dir / f"part-{index:06d}.json").read_text())

    def write(self, index: int, frame: pd.DataFrame, summary: dict[str, Any]) -> None:
        name = self._name(index)
        tmp = self.dir / f".{name}.tmp"
        if self.kind in ("csv", "tsv", "jsonl"):
            write_frame(frame, tmp, self.kind, False, "utf-8", header=index == 0, append=False)
        else:  # parquet and xlsx parts keep dtypes as parquet
            if self.kind == "xlsx":
                check_excel_cells(frame, self.output)  # fail at the first such cell, not at the end
            frame.to_parquet(tmp, index=False)
        (self.dir / f"part-{index:06d}.json").write_text(json.dumps(summary))
        os.replace(tmp, self.dir / name)

    def discard(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def join(self, output: Path, encoding: str) -> None:
        """Concatenate the parts into a temporary file, rename it to ``output``, drop the parts."""
        names = sorted(p.name for p in self.dir.glob("part-*") if not p.name.endswith(".json"))
        tmp = atomic_target(output)
        try:
            if self.kind in ("csv", "tsv", "jsonl"):
                import gzip

                opener: Any = gzip.open if self.gz else open
                with opener(tmp, "wb") as out:
                    if encoding == "utf-8-sig":
                        out.write(codecs.BOM_UTF8)
                    for name in names:
                        with open(self.dir / name, "rb") as part:
                            shutil.copyfileobj(part, out, 1 << 20)
            else:
                frame = pd.concat([pd.read_parquet(self.dir / n) for n in names], ignore_index=True)
                write_frame(frame, tmp, self.kind, False, encoding, header=True, append=False)
            os.replace(tmp, output)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        shutil.rmtree(self.dir, ignore_errors=True)
