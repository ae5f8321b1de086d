"""Excel workbooks: choosing and reading a sheet, and the cells an .xlsx file cannot hold."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..errors import DataError
from .columns import TEXT_COLUMN_NAMES, TextChoice, choose_text_column


def read_sheet(
    path: Path, sheet: str | int | None, text_column: str | None
) -> tuple[pd.DataFrame, str, TextChoice | None]:
    """The sheet named or numbered (from 1), else the one whose column looks most like comments (see
    :func:`sentiment.io.columns.choose_text_column`; with ``text_column``, among the sheets that have it)."""
    try:
        book = pd.ExcelFile(path, engine="openpyxl")
    except Exception as exc:  # zipfile.BadZipFile, openpyxl errors
        raise DataError(f"{path}: not a readable Excel .xlsx file ({type(exc).__name__}: {exc})") from None
    with book:
        names = [str(n) for n in book.sheet_names]
        listing = "; ".join(f"{i} {n!r}" for i, n in enumerate(names, 1))
        if sheet is not None:
            text = str(sheet)
            if text in names:
                return _parse_sheet(book, path, text), text, None
            if text.strip().isdigit() and 1 <= int(text) <= len(names):
                return _parse_sheet(book, path, names[int(text) - 1]), names[int(text) - 1], None
            raise DataError(
                f"{path}: no sheet {text!r}; sheets: {listing} (--sheet takes a name or a number counting from 1)"
            )
        frames: dict[str | None, pd.DataFrame] = {name: _parse_sheet(book, path, name) for name in names}
    if len(names) == 1:
        return frames[names[0]], names[0], None  # its columns are checked (and listed) by the caller
    choice = choose_text_column(frames, str(path), text_column, TEXT_COLUMN_NAMES)
    return frames[str(choice.sheet)], str(choice.sheet), choice


def _parse_sheet(book: pd.ExcelFile, path: Path, name: str) -> pd.DataFrame:
    try:
        frame = book.parse(name, dtype=object)
    except Exception as exc:  # openpyxl errors on a damaged sheet
        raise DataError(f"{path}: sheet {name!r} is not readable ({type(exc).__name__}: {exc})") from None
    frame.columns = [str(c) for c in frame.columns]
    return frame


EXCEL_MAX_CHARS = 32_767  # the most characters an Excel cell holds (openpyxl would cut the rest silently)

EXCEL_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # control characters an .xlsx cell cannot store


def check_excel_cells(frame: pd.DataFrame, path: str | Path) -> None:
    """Raise :class:`DataError` for a text cell (or column name) that an .xlsx file cannot hold as it is."""
    for column in frame.columns:
        for value in [str(column), *frame[column].tolist()]:
            if not isinstance(value, str):
                continue
            if len(value) > EXCEL_MAX_CHARS:
                problem = f"has {len(value):,} characters; an Excel cell holds at most {EXCEL_MAX_CHARS:,}"
            elif (bad := EXCEL_ILLEGAL.search(value)) is not None:
                problem = f"holds the control character U+{ord(bad.group()):04X}, which Excel cells cannot store"
            else:
                continue
            raise DataError(
                f"output {path}: the cell in column {column!r} ({value[:30]!r}...) {problem}; write "
                f".csv, .jsonl or .parquet instead, which keep every character"
            )
