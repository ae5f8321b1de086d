"""Reading and writing comment tables.

Formats by extension: CSV, TSV, NSMC ``.txt`` (tab-separated), ``.gz`` of
those, Excel ``.xlsx``, Parquet, JSONL. Text encodings are tried in a
documented order: the ``--encoding`` given, else UTF-8 (with or without BOM),
else CP949 (a superset of EUC-KR, used by Korean Excel and older tools).
Tables can be read whole or in chunks (streaming); outputs are written to a
temporary file in the target directory and renamed into place.

Undecodable bytes (a CP949 line in a UTF-8 export): by default (``strict``) the
file is refused, naming the first bad line and its bytes. ``encoding_errors=
"replace"`` reads them as U+FFFD and marks the rows that held them (see
:func:`bad_encoding_rows`); ``"skip-rows"`` leaves those rows out and counts them
(``TableInfo.skipped_rows``, ``TableInfo.bad_lines``). Both stream.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from .columns import TextChoice, choose_text_column
from .errors import DataError, OutputExistsError

ENCODINGS = ("utf-8-sig", "cp949")
TEXT_COLUMN_NAMES = ("document", "text", "comment", "comments", "review", "content", "contents", "sentence",
                     "body", "댓글", "내용", "리뷰", "본문", "문장", "텍스트")
LABEL_COLUMN_NAMES = ("label", "labels", "sentiment", "polarity", "target", "class", "y", "레이블", "라벨", "감성")
DELIMITED = {".csv": ",", ".tsv": "\t", ".txt": "\t"}
READABLE = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz", ".xlsx", ".parquet", ".jsonl", ".jsonl.gz")
WRITABLE = (".csv", ".tsv", ".csv.gz", ".tsv.gz", ".xlsx", ".parquet", ".jsonl")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
ENCODING_ERRORS = ("strict", "replace", "skip-rows")
BAD_BYTES = "\ufdd0"  # a noncharacter (reserved for internal use) standing for undecodable bytes while reading
_MARK_HANDLER = "sentiment-mark-bad-bytes"
BAD_ENCODING_ATTR = "bad_encoding_rows"
SURROGATES = re.compile("[\ud800-\udfff]")
MAX_LISTED_LINES = 1000


@dataclass
class TableInfo:
    """What was detected while opening a table."""

    path: str
    kind: str  # csv/tsv (delimited), xlsx, parquet, jsonl
    encoding: str | None = None
    sep: str | None = None
    encoding_errors: str = "strict"
    bad_lines: list[int] = field(default_factory=list)  # lines with undecodable bytes (the first 1000)
    bad_line_count: int = 0
    skipped_rows: int = 0  # rows left out for undecodable bytes (encoding_errors="skip-rows")
    sheet: str | None = None  # the workbook sheet read (xlsx)
    text_choice: TextChoice | None = None  # how the sheet was chosen (xlsx without --sheet)


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


def _check_encoding_errors(encoding_errors: str) -> None:
    if encoding_errors not in ENCODING_ERRORS:
        raise DataError(f"--encoding-errors {encoding_errors!r} is invalid; choose one of {', '.join(ENCODING_ERRORS)}")


def detect_encoding(path: Path, gz: bool, encoding: str | None = None, encoding_errors: str = "strict") -> str:
    """The first encoding in (``encoding``,) or ENCODINGS that decodes the whole file.

    A file that is UTF-8 but for a few lines (more non-ASCII lines decode as UTF-8 than not) is
    UTF-8 with bad lines, even if it happens to decode as CP949 (which would turn it into mojibake).

    When none does: with ``encoding_errors="strict"`` a :class:`DataError` naming
    the first bad line and its bytes; otherwise the candidate that decodes the
    longest stretch from the start (the bad lines are then replaced or skipped).
    """
    _check_encoding_errors(encoding_errors)
    candidates = (encoding,) if encoding else ENCODINGS
    reached: dict[str, int] = {}
    for candidate in candidates:
        try:
            decoder = codecs.getincrementaldecoder(candidate)()
        except LookupError:
            raise DataError(f"unknown encoding {candidate!r}; try utf-8, utf-8-sig, cp949 or euc-kr") from None
        consumed = 0
        try:
            with _open_binary(path, gz) as fh:
                first = True
                for block in iter(lambda: fh.read(1 << 20), b""):
                    if first and b"\x00" in block[:8192]:
                        raise DataError(f"{path} looks like a binary file (NUL bytes), not a text table")
                    first = False
                    decoder.decode(block)
                    consumed += len(block)
                decoder.decode(b"", final=True)
            return candidate
        except UnicodeDecodeError:
            reached[candidate] = consumed
            if not encoding and candidate == ENCODINGS[0] and _mostly_utf8(path, gz):
                break  # a UTF-8 file with a few bad lines: never read it all as CP949 mojibake
            continue
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise DataError(f"{path}: cannot read the file ({exc})") from None
    best = max(reached, key=lambda c: reached[c])  # the first one on ties
    if encoding_errors != "strict":
        return best
    where = _first_bad_bytes(path, gz, best)
    others = [c for c in reached if c != best]
    also = f"; it is not {' or '.join(others)} either" if others else ""
    raise DataError(f"{path}: {where} are not valid {best}{also}. Fix that line, pass the file's encoding with "
                    f"--encoding (e.g. euc-kr, utf-16), or (sentiment score) --encoding-errors replace (score the "
                    f"rest; rows with such bytes get status bad_encoding) or skip-rows (leave them out)")


def _mostly_utf8(path: Path, gz: bool) -> bool:
    """More lines with non-ASCII text that decode as UTF-8 than lines that do not (streams)."""
    good = bad = 0
    with _open_binary(path, gz) as fh:
        for line in fh:
            if not line.isascii():
                try:
                    line.decode("utf-8")
                    good += 1
                except UnicodeDecodeError:
                    bad += 1
                    if bad > 1000 and good < bad:  # a file in another encoding: no need to read on
                        return False
    return good > bad


def _first_bad_bytes(path: Path, gz: bool, encoding: str) -> str:
    """'line N: bytes b'...'' for the first undecodable bytes (streams; for the error message)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    with _open_binary(path, gz) as fh:
        if "a\n".encode(encoding).endswith(b"a\n"):  # ASCII-compatible: a bad sequence never spans lines
            for number, line in enumerate(fh, 1):
                try:
                    decoder.decode(line)
                except UnicodeDecodeError as exc:
                    start = max(exc.start - (len(exc.object) - len(line)), 0)
                    shown = line[start:start + 8].rstrip(b"\r\n")
                    return f"line {number:,}: bytes {shown!r}"
        offset = 0
        for block in iter(lambda: fh.read(1 << 20), b""):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                start = offset + exc.start - (len(exc.object) - len(block))
                return f"byte {start:,}: bytes {exc.object[exc.start:exc.start + 8]!r}"
            offset += len(block)
    return "the end of the file: an incomplete character; bytes"


def _mark_bad_bytes(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return BAD_BYTES, exc.end


class _MarkingReader(io.RawIOBase):
    """Re-encode a binary stream as UTF-8, turning undecodable bytes into :data:`BAD_BYTES` and noting their
    lines. (A binary stream, not a text one: pandas re-encodes text streams with a quadratic overflow buffer.)"""

    def __init__(self, raw: IO[bytes], encoding: str, info: TableInfo) -> None:
        try:
            codecs.lookup_error(_MARK_HANDLER)
        except LookupError:
            codecs.register_error(_MARK_HANDLER, _mark_bad_bytes)
        self._raw = raw
        self._decoder = codecs.getincrementaldecoder(encoding)(errors=_MARK_HANDLER)
        self._info = info
        self._buffer = memoryview(b"")
        self._lines = 0  # newlines decoded so far
        self._eof = False

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._raw.close()
        super().close()

    def _fill(self) -> None:
        block = self._raw.read(1 << 20)
        if block:
            block += self._raw.readline()  # end at a line break (ASCII-compatible encodings)
        self._eof = not block
        text = self._decoder.decode(block, final=self._eof)
        position = text.find(BAD_BYTES)
        last = None
        while position >= 0:
            line = self._lines + text.count("\n", 0, position) + 1
            if line != last:
                self._info.bad_line_count += 1
                if len(self._info.bad_lines) < MAX_LISTED_LINES:
                    self._info.bad_lines.append(line)
                last = line
            position = text.find(BAD_BYTES, position + 1)
        self._lines += text.count("\n")
        self._buffer = memoryview(text.encode("utf-8"))

    def readinto(self, target: Any) -> int:
        while not len(self._buffer) and not self._eof:
            self._fill()
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size


def _decoded(path: Path, gz: bool, info: TableInfo) -> Any:
    """What pandas reads: the path itself (strict), or a UTF-8 stream marking undecodable bytes."""
    if info.encoding_errors == "strict":
        return path
    return io.BufferedReader(_MarkingReader(_open_binary(path, gz), info.encoding or "utf-8", info), 1 << 20)


def _handle_bad_bytes(chunk: pd.DataFrame, info: TableInfo) -> pd.DataFrame:
    """Replace the marks of undecodable bytes by U+FFFD and flag (replace) or drop (skip-rows) their rows."""
    if not info.bad_line_count:
        return chunk
    chunk.columns = [str(c).replace(BAD_BYTES, "\ufffd") for c in chunk.columns]
    bad = np.zeros(len(chunk), dtype=bool)
    for column in chunk.columns:
        values = chunk[column]
        if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
            if isinstance(values.dtype, pd.StringDtype):  # vectorized
                marked = values.str.contains(BAD_BYTES, regex=False).fillna(False).to_numpy(dtype=bool)
            else:
                marked = values.map(lambda v: isinstance(v, str) and BAD_BYTES in v).to_numpy(dtype=bool)
            if marked.any():
                bad |= marked
                chunk[column] = values.astype(object).where(~marked, values.astype(object).map(
                    lambda v: v.replace(BAD_BYTES, "\ufffd") if isinstance(v, str) else v))
    if info.encoding_errors == "skip-rows":
        info.skipped_rows += int(bad.sum())
        return chunk[~bad].reset_index(drop=True)
    chunk.attrs[BAD_ENCODING_ATTR] = tuple(np.flatnonzero(bad).tolist())
    return chunk


def _mark_surrogates(chunk: pd.DataFrame, info: TableInfo, first_row: int) -> pd.DataFrame:
    """JSON can escape lone surrogates (``"\\udfff"``), which are no characters and cannot be written out:
    an error naming the line (strict), else treated like undecodable bytes."""
    chunk.columns = [SURROGATES.sub("\ufffd", str(c)) for c in chunk.columns]
    for column in chunk.columns:
        values = chunk[column]
        if not (values.dtype == object or isinstance(values.dtype, pd.StringDtype)):
            continue
        marked = values.map(lambda v: isinstance(v, str) and SURROGATES.search(v) is not None).to_numpy(dtype=bool)
        for row in np.flatnonzero(marked):
            line = first_row + int(row) + 1
            if info.encoding_errors == "strict":
                raise DataError(f"{info.path}: line {line:,}: {values.iloc[row][:40]!r} holds a lone surrogate "
                                f"(an escape such as \\udfff that is no character); fix that line, or use "
                                f"(sentiment score) --encoding-errors replace or skip-rows")
            info.bad_line_count += 1
            if len(info.bad_lines) < MAX_LISTED_LINES:
                info.bad_lines.append(line)
        if marked.any():
            chunk[column] = values.astype(object).map(lambda v: SURROGATES.sub(BAD_BYTES, v) if isinstance(v, str)
                                                      else v)
    return chunk


def bad_encoding_rows(chunk: pd.DataFrame) -> np.ndarray:
    """Boolean mask of the rows of a chunk read with ``encoding_errors="replace"`` that held undecodable bytes."""
    mask = np.zeros(len(chunk), dtype=bool)
    mask[list(chunk.attrs.get(BAD_ENCODING_ATTR, ()))] = True
    return mask


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


def read_table(path: str | Path, *, sep: str | None = None, encoding: str | None = None,
               encoding_errors: str = "strict", sheet: str | int | None = None, text_column: str | None = None
               ) -> tuple[pd.DataFrame, TableInfo]:
    """Read a whole table; every column is read as-is (text columns as strings)."""
    frames = list(iter_table(path, sep=sep, encoding=encoding, encoding_errors=encoding_errors, sheet=sheet,
                             text_column=text_column, chunksize=None))
    info = frames[0][1]
    frame = pd.concat([f for f, _ in frames], ignore_index=True) if len(frames) > 1 else frames[0][0]
    return frame, info


def iter_table(path: str | Path, *, sep: str | None = None, encoding: str | None = None,
               chunksize: int | None = 50_000, encoding_errors: str = "strict", sheet: str | int | None = None,
               text_column: str | None = None) -> Iterator[tuple[pd.DataFrame, TableInfo]]:
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
        source = _decoded(path, gz, info)
        try:
            reader = pd.read_csv(source, sep=sep, encoding=enc if source is path else "utf-8", dtype=str,
                                 keep_default_na=False, na_values=[""], quoting=3 if sep == "\t" else 0,
                                 chunksize=chunksize, compression="gzip" if gz and source is path else None,
                                 on_bad_lines="error", engine="c")
            chunks = [reader] if chunksize is None else reader
            for chunk in chunks:
                chunk = _check_columns(_handle_bad_bytes(chunk, info), path, sep)
                if len(chunk):
                    yielded = True
                    yield chunk, info
        except pd.errors.EmptyDataError:
            raise DataError(f"{path} has no header and no rows") from None
        except pd.errors.ParserError as exc:
            raise DataError(f"{path}: cannot parse as {info.kind.upper()} with separator {sep!r} "
                            f"({str(exc).strip()}); check the separator (--sep) or quoting") from None
        finally:
            if source is not path:
                source.close()
    elif kind == "jsonl":
        enc = detect_encoding(path, gz, encoding, encoding_errors)
        info = TableInfo(str(path), "jsonl", enc, encoding_errors=encoding_errors)
        source = _decoded(path, gz, info)
        try:
            reader = pd.read_json(source, lines=True, encoding=enc if source is path else "utf-8", dtype=False,
                                  chunksize=chunksize or 10**12,
                                  compression="gzip" if gz and source is path else None)
            with reader:
                rows = 0
                for chunk in reader:
                    rows += len(chunk)
                    chunk = _handle_bad_bytes(_mark_surrogates(chunk, info, rows - len(chunk)), info)
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
        frame, name, choice = _read_sheet(path, sheet, text_column)
        info = TableInfo(str(path), "xlsx", sheet=name, text_choice=choice)
        step = chunksize or max(len(frame), 1)
        for start in range(0, len(frame), step):
            yielded = True
            yield frame.iloc[start: start + step].reset_index(drop=True), info
    if not yielded and info.skipped_rows:
        raise DataError(f"{path}: every row held undecodable bytes and was skipped ({info.skipped_rows:,} rows, "
                        f"lines {line_list(info)}); pass the file's encoding with --encoding")
    if not yielded:
        raise DataError(f"{path} has a header but no data rows")


def _read_sheet(path: Path, sheet: str | int | None, text_column: str | None
                ) -> tuple[pd.DataFrame, str, TextChoice | None]:
    """The sheet named or numbered (from 1), else the one whose column looks most like comments (see
    :func:`sentiment.columns.choose_text_column`; with ``text_column``, among the sheets that have it)."""
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
            raise DataError(f"{path}: no sheet {text!r}; sheets: {listing} (--sheet takes a name or a number "
                            f"counting from 1)")
        frames = {name: _parse_sheet(book, path, name) for name in names}
    if len(names) == 1:
        return frames[names[0]], names[0], None  # its columns are checked (and listed) by the caller
    choice = choose_text_column(frames, str(path), text_column, TEXT_COLUMN_NAMES)
    return frames[choice.sheet], str(choice.sheet), choice


def text_column_of(frame: pd.DataFrame, info: TableInfo, wanted: str | None = None) -> TextChoice:
    """The text column of a table read by :func:`read_table` or :func:`iter_table` (its first chunk), chosen
    as :func:`sentiment.columns.choose_text_column` does; the one place every command picks it. For a
    workbook, the choice made across its sheets (log :meth:`TextChoice.message`)."""
    if info.text_choice is not None and (wanted is None or info.text_choice.column == wanted):
        return info.text_choice
    return choose_text_column({info.sheet: frame}, info.path, wanted, TEXT_COLUMN_NAMES)


def _parse_sheet(book: pd.ExcelFile, path: Path, name: str) -> pd.DataFrame:
    try:
        frame = book.parse(name, dtype=object)
    except Exception as exc:  # openpyxl errors on a damaged sheet
        raise DataError(f"{path}: sheet {name!r} is not readable ({type(exc).__name__}: {exc})") from None
    frame.columns = [str(c) for c in frame.columns]
    return frame


def line_list(info: TableInfo, limit: int = 20) -> str:
    """The lines with undecodable bytes, e.g. '5, 734,219' (the first ``limit``, then 'and N more')."""
    listed = ", ".join(f"{n:,}" for n in info.bad_lines[:limit])
    more = info.bad_line_count - min(limit, len(info.bad_lines))
    return listed + (f" and {more:,} more" if more > 0 else "")


def find_column(columns: list[str], wanted: str | None, candidates: tuple[str, ...], what: str,
                path: str, frame: pd.DataFrame | None = None) -> str:
    """Resolve a column: the one named, else (text with ``frame``) the most comment-like one (see
    :func:`sentiment.columns.choose_text_column`), else a known name, else the only text column."""
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
    raise DataError(f"{path}: cannot tell which column holds the {what}; columns found: "
                    f"{', '.join(map(repr, names))}. Name it with {option}.")


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


def _has_bare_cr(frame: pd.DataFrame) -> bool:
    """A text cell with a carriage return, which the csv module leaves unquoted with '\\n' line ends
    (every reader would split the row there): such frames are written with every cell quoted."""
    return any(frame[c].map(lambda v: isinstance(v, str) and "\r" in v).any() for c in frame.columns
               if frame[c].dtype == object or isinstance(frame[c].dtype, pd.StringDtype))


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
            raise DataError(f"output {path}: the cell in column {column!r} ({value[:30]!r}...) {problem}; write "
                            f".csv, .jsonl or .parquet instead, which keep every character")


def write_frame(frame: pd.DataFrame, path: Path, kind: str, gz: bool, encoding: str, header: bool,
                append: bool) -> None:
    """Write (or append) one frame in the given output kind, without escaping or atomic rename."""
    if kind in ("csv", "tsv"):
        sep = "," if kind == "csv" else "\t"
        mode = "ab" if append else "wb"
        opener: Any = gzip.open if gz else open
        with opener(path, mode) as fh:
            text = frame.to_csv(sep=sep, index=False, header=header, lineterminator="\n",
                                quoting=csv.QUOTE_ALL if _has_bare_cr(frame) else csv.QUOTE_MINIMAL)
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
