"""Reading comment tables, whole or in chunks (streaming).

Formats by extension: CSV, TSV, NSMC ``.txt`` (tab-separated), ``.gz`` of those, Excel ``.xlsx``, Parquet, JSONL.
Text encodings are tried in a documented order (:mod:`sentiment.io.decoding`): the ``--encoding`` given, else
UTF-8 (with or without BOM), else CP949 (a superset of EUC-KR, used by Korean Excel and older tools).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import DataError
from .columns import TEXT_COLUMN_NAMES, TextChoice, choose_text_column, find_column
from .decoding import TableInfo, decoded, detect_encoding, handle_bad_bytes, line_list, mark_surrogates, open_binary
from .excel import read_sheet

DELIMITED = {".csv": ",", ".tsv": "\t", ".txt": "\t"}

READABLE = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz", ".xlsx", ".parquet", ".jsonl", ".jsonl.gz")


def table_kind(path: str | Path) -> tuple[str, bool]:
    """('delimited'|'xlsx'|'parquet'|'jsonl', gzipped) from the file name."""
    name = str(path).lower()
    gz = name.endswith(".gz")
    if gz:
        name = name[:-3]
    for ext in (".csv", ".tsv", ".txt"):
        if name.endswith(ext):
            return "delimited", gz
    for ext, kind in ((".xlsx", "xlsx"), (".parquet", "parquet"), (".jsonl", "jsonl"), (".ndjson", "jsonl")):
        if name.endswith(ext) and not (gz and kind in ("xlsx", "parquet")):
            return kind, gz
    raise DataError(f"{path}: unsupported file type; readable types: {', '.join(READABLE)}")


def check_input(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise DataError(f"input file not found: {path}")
    if path.is_dir():
        raise DataError(f"{path} is a directory; give a data file ({', '.join(READABLE)})")
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty (0 bytes)")
    return path


def _default_sep(path: Path) -> str:
    name = path.name.lower().removesuffix(".gz")
    return DELIMITED[Path(name).suffix]


def _check_columns(frame: pd.DataFrame, path: Path, sep: str | None) -> pd.DataFrame:
    if frame.shape[1] == 0:
        raise DataError(f"{path} has no columns")
    if sep is not None and frame.shape[1] == 1:
        header = str(frame.columns[0])
        for other, name in ((",", "','"), ("\t", "'\\t'"), (";", "';'"), ("|", "'|'")):
            if other != sep and other in header:
                raise DataError(
                    f"{path}: found a single column {header[:60]!r} with separator {sep!r}; the file "
                    f"looks separated by {name}: pass --sep {name}"
                )
    return frame


def read_table(
    path: str | Path,
    *,
    sep: str | None = None,
    encoding: str | None = None,
    encoding_errors: str = "strict",
    sheet: str | int | None = None,
    text_column: str | None = None,
) -> tuple[pd.DataFrame, TableInfo]:
    """Read a whole table; every column is read as-is (text columns as strings)."""
    frames = list(
        iter_table(
            path,
            sep=sep,
            encoding=encoding,
            encoding_errors=encoding_errors,
            sheet=sheet,
            text_column=text_column,
            chunksize=None,
        )
    )
    info = frames[0][1]
    frame = pd.concat([f for f, _ in frames], ignore_index=True) if len(frames) > 1 else frames[0][0]
    return frame, info


def iter_table(
    path: str | Path,
    *,
    sep: str | None = None,
    encoding: str | None = None,
    chunksize: int | None = 50_000,
    encoding_errors: str = "strict",
    sheet: str | int | None = None,
    text_column: str | None = None,
) -> Iterator[tuple[pd.DataFrame, TableInfo]]:
    """Yield ``(chunk, info)`` pairs; ``chunksize=None`` yields the whole table once.

    Workbooks: ``sheet`` (a name, or a number counting from 1) picks the sheet; without it the
    first sheet with the text column (``text_column``, else a recognizable one) is read.

    Raises :class:`DataError` for missing/empty/binary files, undecodable text
    (``encoding_errors="strict"``), a table with no rows, and a likely wrong separator.
    """
    path = check_input(path)
    kind, gz = table_kind(path)
    if sheet is not None and kind != "xlsx":
        raise DataError(f"--sheet {sheet!r} applies to Excel .xlsx workbooks; {path} is not one")
    yielded = False
    source: Any = path
    if kind == "delimited":
        enc = detect_encoding(path, gz, encoding, encoding_errors)
        sep = sep or _default_sep(path)
        info = TableInfo(str(path), "tsv" if sep == "\t" else "csv", enc, sep, encoding_errors)
        source = decoded(path, gz, info)
        try:
            reader = pd.read_csv(
                source,
                sep=sep,
                encoding=enc if source is path else "utf-8",
                dtype=str,
                keep_default_na=False,
                na_values=[""],
                quoting=3 if sep == "\t" else 0,
                chunksize=chunksize,
                compression="gzip" if gz and source is path else None,
                on_bad_lines="error",
                engine="c",
            )
            chunks = [reader] if chunksize is None else reader
            for chunk in chunks:
                chunk = _check_columns(handle_bad_bytes(chunk, info), path, sep)
                if len(chunk):
                    yielded = True
                    yield chunk, info
        except pd.errors.EmptyDataError:
            raise DataError(f"{path} has no header and no rows") from None
        except pd.errors.ParserError as exc:
            raise DataError(
                f"{path}: cannot parse as {info.kind.upper()} with separator {sep!r} "
                f"({str(exc).strip()}); check the separator (--sep) or quoting"
            ) from None
        finally:
            if source is not path:
                source.close()
    elif kind == "jsonl":
        enc = detect_encoding(path, gz, encoding, encoding_errors)
        info = TableInfo(str(path), "jsonl", enc, encoding_errors=encoding_errors)
        source = decoded(path, gz, info)
        try:
            reader = pd.read_json(
                source,
                lines=True,
                encoding=enc if source is path else "utf-8",
                dtype=False,
                chunksize=chunksize or 10**12,
                compression="gzip" if gz and source is path else None,
            )
            with reader:
                rows = 0
                for chunk in reader:
                    rows += len(chunk)
                    chunk = handle_bad_bytes(mark_surrogates(chunk, info, rows - len(chunk)), info)
                    if len(chunk):
                        yielded = True
                        yield chunk, info
        except ValueError as exc:
            raise DataError(f"{path}: not valid JSON Lines (one JSON object per line): {exc}") from None
        finally:
            if source is not path:
                source.close()
    elif kind == "parquet":
        import pyarrow.parquet as pq

        info = TableInfo(str(path), "parquet")
        try:
            pf = pq.ParquetFile(path)
            for batch in pf.iter_batches(batch_size=chunksize or 1 << 30):
                if batch.num_rows:
                    yielded = True
                    yield batch.to_pandas(), info
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: not a readable Parquet file ({exc})") from None
    else:  # xlsx
        frame, name, choice = read_sheet(path, sheet, text_column)
        info = TableInfo(str(path), "xlsx", sheet=name, text_choice=choice)
        step = chunksize or max(len(frame), 1)
        for start in range(0, len(frame), step):
            yielded = True
            yield frame.iloc[start : start + step].reset_index(drop=True), info
    if not yielded and info.skipped_rows:
        raise DataError(
            f"{path}: every row held undecodable bytes and was skipped ({info.skipped_rows:,} rows, "
            f"lines {line_list(info)}); pass the file's encoding with --encoding"
        )
    if not yielded:
        raise DataError(f"{path} has a header but no data rows")


def is_plain_text(path: str | Path) -> bool:
    """A ``.txt`` (or ``.txt.gz``) whose first line has no tab: one comment a line, no header."""
    path = check_input(path)
    kind, gz = table_kind(path)
    if kind != "delimited" or not path.name.lower().removesuffix(".gz").endswith(".txt"):
        return False
    with open_binary(path, gz) as fh:
        return b"\t" not in fh.readline()


def text_column_of(frame: pd.DataFrame, info: TableInfo, wanted: str | None = None) -> TextChoice:
    """The text column of a table read by :func:`read_table` or :func:`iter_table` (its first chunk), chosen
    as :func:`sentiment.io.columns.choose_text_column` does: the one place every command picks it. For a
    workbook read without ``--sheet``, the choice made across its sheets (log :meth:`TextChoice.message`)."""
    if info.text_choice is not None and (wanted is None or info.text_choice.column == wanted):
        return info.text_choice
    return choose_text_column({info.sheet: frame}, info.path, wanted, TEXT_COLUMN_NAMES)


def read_text_lines(path: str | Path, encoding: str | None = None) -> list[str]:
    """Unlabeled texts: a table (its text column) or a plain ``.txt`` with one text per line."""
    path = check_input(path)
    if is_plain_text(path):  # one comment a line
        _, gz = table_kind(path)
        enc = detect_encoding(path, gz, encoding)
        with open_binary(path, gz) as fh:
            lines = io.TextIOWrapper(fh, encoding=enc).read().splitlines()
        return [line.strip() for line in lines if line.strip()]
    frame, _ = read_table(path, encoding=encoding)
    column = find_column(list(frame.columns), None, TEXT_COLUMN_NAMES, "text", str(path), frame)
    return [t for t in frame[column].tolist() if isinstance(t, str) and t.strip()]
