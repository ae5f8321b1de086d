"""Reading and writing comment tables.

Formats by extension: CSV, TSV, NSMC ``.txt`` (tab-separated), ``.gz`` of
those, Excel ``.xlsx``, Parquet, JSONL. Text encodings are tried in a
documented order: the ``--encoding`` given, else UTF-8 (with or without BOM),
else CP949 (a superset of EUC-KR, used by Korean Excel and older tools).
Tables can be read whole or in chunks (streaming); outputs are written to a
temporary file in the target directory and renamed into place.
"""

from __future__ import annotations

import codecs
import gzip
import io
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pandas as pd

from .errors import DataError, OutputExistsError

ENCODINGS = ("utf-8-sig", "cp949")
TEXT_COLUMN_NAMES = ("document", "text", "comment", "comments", "review", "content", "contents", "sentence",
                     "body", "댓글", "내용", "리뷰", "본문", "문장", "텍스트")
LABEL_COLUMN_NAMES = ("label", "labels", "sentiment", "polarity", "target", "class", "y", "레이블", "라벨", "감성")
DELIMITED = {".csv": ",", ".tsv": "\t", ".txt": "\t"}
READABLE = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz", ".xlsx", ".parquet", ".jsonl", ".jsonl.gz")
WRITABLE = (".csv", ".tsv", ".csv.gz", ".tsv.gz", ".xlsx", ".parquet", ".jsonl")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class TableInfo:
    """What was detected while opening a table."""

    path: str
    kind: str  # csv/tsv (delimited), xlsx, parquet, jsonl
    encoding: str | None = None
    sep: str | None = None


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


def _open_binary(path: Path, gz: bool) -> IO[bytes]:
    return gzip.open(path, "rb") if gz else open(path, "rb")


def detect_encoding(path: Path, gz: bool, encoding: str | None = None) -> str:
    """The first encoding in (``encoding``,) or ENCODINGS that decodes the whole file."""
    candidates = (encoding,) if encoding else ENCODINGS
    for candidate in candidates:
        try:
            decoder = codecs.getincrementaldecoder(candidate)()
        except LookupError:
            raise DataError(f"unknown encoding {candidate!r}; try utf-8, utf-8-sig, cp949 or euc-kr") from None
        try:
            with _open_binary(path, gz) as fh:
                first = True
                for block in iter(lambda: fh.read(1 << 20), b""):
                    if first and b"\x00" in block[:8192]:
                        raise DataError(f"{path} looks like a binary file (NUL bytes), not a text table")
                    first = False
                    decoder.decode(block)
                decoder.decode(b"", final=True)
            return candidate
        except UnicodeDecodeError:
            continue
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise DataError(f"{path}: cannot read the file ({exc})") from None
    tried = ", ".join(candidates)
    raise DataError(f"{path}: not decodable as {tried}; pass the right one with --encoding (e.g. euc-kr, utf-16)")


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
                raise DataError(f"{path}: found a single column {header[:60]!r} with separator {sep!r}; the file "
                                f"looks separated by {name}: pass --sep {name}")
    return frame


def read_table(path: str | Path, *, sep: str | None = None, encoding: str | None = None) -> tuple[pd.DataFrame, TableInfo]:
    """Read a whole table; every column is read as-is (text columns as strings)."""
    frames = list(iter_table(path, sep=sep, encoding=encoding, chunksize=None))
    info = frames[0][1]
    frame = pd.concat([f for f, _ in frames], ignore_index=True) if len(frames) > 1 else frames[0][0]
    return frame, info


def iter_table(path: str | Path, *, sep: str | None = None, encoding: str | None = None,
               chunksize: int | None = 50_000) -> Iterator[tuple[pd.DataFrame, TableInfo]]:
    """Yield ``(chunk, info)`` pairs; ``chunksize=None`` yields the whole table once.

    Raises :class:`DataError` for missing/empty/binary files, undecodable text,
    a table with no rows, and a likely wrong separator.
    """
    path = check_input(path)
    kind, gz = table_kind(path)
    yielded = False
    if kind == "delimited":
        enc = detect_encoding(path, gz, encoding)
        sep = sep or _default_sep(path)
        info = TableInfo(str(path), "tsv" if sep == "\t" else "csv", enc, sep)
        try:
            reader = pd.read_csv(path, sep=sep, encoding=enc, dtype=str, keep_default_na=False, na_values=[""],
                                 quoting=3 if sep == "\t" else 0, chunksize=chunksize,
                                 compression="gzip" if gz else None, on_bad_lines="error", engine="c")
            chunks = [reader] if chunksize is None else reader
            for chunk in chunks:
                chunk = _check_columns(chunk, path, sep)
                if len(chunk):
                    yielded = True
                    yield chunk, info
        except pd.errors.EmptyDataError:
            raise DataError(f"{path} has no header and no rows") from None
        except pd.errors.ParserError as exc:
            raise DataError(f"{path}: cannot parse as {info.kind.upper()} with separator {sep!r} "
                            f"({str(exc).strip()}); check the separator (--sep) or quoting") from None
    elif kind == "jsonl":
        enc = detect_encoding(path, gz, encoding)
        info = TableInfo(str(path), "jsonl", enc)
        try:
            reader = pd.read_json(path, lines=True, encoding=enc, dtype=False, chunksize=chunksize or 10**12,
                                  compression="gzip" if gz else None)
            with reader:
                for chunk in reader:
                    if len(chunk):
                        yielded = True
                        yield chunk, info
        except ValueError as exc:
            raise DataError(f"{path}: not valid JSON Lines (one JSON object per line): {exc}") from None
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
        info = TableInfo(str(path), "xlsx")
        try:
            frame = pd.read_excel(path, dtype=object, engine="openpyxl")
        except Exception as exc:  # zipfile.BadZipFile, openpyxl errors
            raise DataError(f"{path}: not a readable Excel .xlsx file ({type(exc).__name__}: {exc})") from None
        frame.columns = [str(c) for c in frame.columns]
        step = chunksize or max(len(frame), 1)
        for start in range(0, len(frame), step):
            yielded = True
            yield frame.iloc[start: start + step].reset_index(drop=True), info
    if not yielded:
        raise DataError(f"{path} has a header but no data rows")


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


def read_text_lines(path: str | Path, encoding: str | None = None) -> list[str]:
    """Unlabeled texts: a table (its text column) or a plain ``.txt`` with one text per line."""
    path = check_input(path)
    kind, gz = table_kind(path)
    if kind == "delimited" and path.name.lower().removesuffix(".gz").endswith(".txt"):
        enc = detect_encoding(path, gz, encoding)
        with _open_binary(path, gz) as fh:
            first = io.TextIOWrapper(fh, encoding=enc).readline()
        if "\t" not in first:  # plain text, one comment a line
            with _open_binary(path, gz) as fh:
                lines = io.TextIOWrapper(fh, encoding=enc).read().splitlines()
            return [line.strip() for line in lines if line.strip()]
    frame, _ = read_table(path, encoding=encoding)
    column = find_column(list(frame.columns), None, TEXT_COLUMN_NAMES, "text", str(path), frame)
    return [t for t in frame[column].tolist() if isinstance(t, str) and t.strip()]


# -- writing ------------------------------------------------------------------------
def output_kind(path: str | Path) -> tuple[str, bool]:
    """('csv'|'tsv'|'xlsx'|'parquet'|'jsonl', gzipped) for an output path."""
    name = str(path).lower()
    gz = name.endswith(".gz")
    base = name[:-3] if gz else name
    for ext, kind in ((".csv", "csv"), (".tsv", "tsv"), (".txt", "tsv"), (".xlsx", "xlsx"),
                      (".parquet", "parquet"), (".jsonl", "jsonl")):
        if base.endswith(ext) and not (gz and kind in ("xlsx", "parquet")):
            return kind, gz
    raise DataError(f"{path}: unsupported output type; writable types: {', '.join(WRITABLE)} (or - for stdout)")


def escape_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells starting with = + - @ (or tab/CR) with a quote (CWE-1236)."""
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if series.dtype == object or pd.api.types.is_string_dtype(series.dtype):  # Arrow-backed strings too
            mask = series.map(lambda v: isinstance(v, str) and v.startswith(FORMULA_PREFIXES)).astype(bool)
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
    from .permissions import usual_mode

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


def write_frame(frame: pd.DataFrame, path: Path, kind: str, gz: bool, encoding: str, header: bool,
                append: bool) -> None:
    """Write (or append) one frame in the given output kind, without escaping or atomic rename."""
    if kind in ("csv", "tsv"):
        sep = "," if kind == "csv" else "\t"
        mode = "ab" if append else "wb"
        opener: Any = gzip.open if gz else open
        with opener(path, mode) as fh:
            text = frame.to_csv(sep=sep, index=False, header=header, lineterminator="\n")
            fh.write(text.encode(encoding))
    elif kind == "jsonl":
        text = frame.to_json(orient="records", lines=True, force_ascii=False) if len(frame) else ""
        with open(path, "ab" if append else "wb") as fh:
            fh.write((text if not text or text.endswith("\n") else text + "\n").encode("utf-8"))
    elif kind == "parquet":
        frame.to_parquet(path, index=False)
    elif kind == "xlsx":
        frame.to_excel(path, index=False, engine="openpyxl")
    else:
        raise ValueError(kind)
