"""Writing tables: output types, the spreadsheet formula guard, atomic writes (a temporary file renamed into place)."""

from __future__ import annotations

import csv
import gzip
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import DataError, OutputExistsError
from .excel import check_excel_cells

WRITABLE = (".csv", ".tsv", ".csv.gz", ".tsv.gz", ".xlsx", ".parquet", ".jsonl")

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def output_kind(path: str | Path) -> tuple[str, bool]:
    """('csv'|'tsv'|'xlsx'|'parquet'|'jsonl', gzipped) for an output path."""
    name = str(path).lower()
    gz = name.endswith(".gz")
    base = name[:-3] if gz else name
    for ext, kind in (
        (".csv", "csv"),
        (".tsv", "tsv"),
        (".txt", "tsv"),
        (".xlsx", "xlsx"),
        (".parquet", "parquet"),
        (".jsonl", "jsonl"),
    ):
        if base.endswith(ext) and not (gz and kind in ("xlsx", "parquet")):
            return kind, gz
    raise DataError(f"{path}: unsupported output type; writable types: {', '.join(WRITABLE)} (or - for stdout)")


def escape_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells starting with = + - @ (or tab/CR) with a quote (CWE-1236)."""
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if isinstance(series.dtype, pd.StringDtype):  # vectorized (pandas 3 reads text as such)
            mask = series.str.startswith(FORMULA_PREFIXES).fillna(False).astype(bool)
        elif series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
            mask = series.map(lambda v: isinstance(v, str) and v.startswith(FORMULA_PREFIXES)).astype(bool)
        else:
            continue
        if mask.any():
            out[column] = series.astype(object).where(~mask, "'" + series.astype(object).where(mask, ""))
    return out


def check_output(path: str | Path, overwrite: bool) -> None:
    """Fail early (before any work) if the output exists or its folder is missing."""
    if str(path) == "-":
        return
    path = Path(path)
    output_kind(path)
    check_output_file(path, overwrite, example="scored.csv")


def check_output_file(path: Path, overwrite: bool, example: str) -> None:
    """Refuse an output path that is a directory, exists (without ``overwrite``) or has no parent folder."""
    if path.is_dir():
        raise DataError(f"output {path} is a directory; give a file name such as {path / example}")
    if path.exists() and not overwrite:
        raise OutputExistsError(f"output {path} already exists; pass --overwrite to replace it")
    if not path.parent.exists():
        raise DataError(f"output folder {path.parent} does not exist")


def atomic_target(path: Path) -> Path:
    """A fresh temporary file name in the same directory (for an ``os.replace`` at the end), with the mode a
    new file gets under the user's umask (not mkstemp's 0600), which the renamed output keeps."""
    from .file_modes import usual_mode

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, usual_mode())
    return Path(tmp)


def write_table(frame: pd.DataFrame, path: str | Path, *, escape: bool = True, encoding: str = "utf-8") -> None:
    """Write a whole table atomically (or CSV to stdout for ``-``)."""
    if escape:
        frame = escape_formulas(frame)
    if str(path) == "-":
        import sys

        frame.to_csv(sys.stdout, index=False)
        return
    path = Path(path)
    kind, gz = output_kind(path)
    tmp = atomic_target(path)
    try:
        write_frame(frame, tmp, kind, gz, encoding, header=True, append=False)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _has_bare_cr(frame: pd.DataFrame) -> bool:
    """A text cell with a carriage return, which the csv module leaves unquoted with '\\n' line ends
    (every reader would split the row there): such frames are written with every cell quoted."""
    return any(
        bool(frame[c].str.contains("\r", regex=False).fillna(False).any())
        if isinstance(frame[c].dtype, pd.StringDtype)
        else frame[c].map(lambda v: isinstance(v, str) and "\r" in v).any()
        for c in frame.columns
        if frame[c].dtype == object or isinstance(frame[c].dtype, pd.StringDtype)
    )


def write_frame(
    frame: pd.DataFrame, path: Path, kind: str, gz: bool, encoding: str, header: bool, append: bool
) -> None:
    """Write (or append) one frame in the given output kind, without escaping or atomic rename."""
    if kind in ("csv", "tsv"):
        sep = "," if kind == "csv" else "\t"
        mode = "ab" if append else "wb"
        opener: Any = gzip.open if gz else open
        with opener(path, mode) as fh:
            text = frame.to_csv(
                sep=sep,
                index=False,
                header=header,
                lineterminator="\n",
                quoting=csv.QUOTE_ALL if _has_bare_cr(frame) else csv.QUOTE_MINIMAL,
            )
            fh.write(text.encode(encoding))
    elif kind == "jsonl":
        text = frame.to_json(orient="records", lines=True, force_ascii=False) if len(frame) else ""
        with open(path, "ab" if append else "wb") as fh:
            fh.write((text if not text or text.endswith("\n") else text + "\n").encode("utf-8"))
    elif kind == "parquet":
        frame.to_parquet(path, index=False)
    elif kind == "xlsx":
        check_excel_cells(frame, path)
        frame.to_excel(path, index=False, engine="openpyxl")
    else:
        raise ValueError(kind)
