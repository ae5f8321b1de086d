"""Text encodings of delimited and JSON Lines files: detection (UTF-8, else CP949), undecodable bytes.

Undecodable bytes (a CP949 line in a UTF-8 export): by default (``strict``) the file is refused, naming the first
bad line and its bytes. ``encoding_errors="replace"`` reads them as U+FFFD and marks the rows that held them (see
:func:`bad_encoding_rows`); ``"skip-rows"`` leaves those rows out and counts them (``TableInfo.skipped_rows``,
``TableInfo.bad_lines``). Both stream.
"""

from __future__ import annotations

import codecs
import gzip
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import DataError

if TYPE_CHECKING:
    from .columns import TextChoice

ENCODINGS = ("utf-8-sig", "cp949")

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
    text_choice: TextChoice | None = None  # how the sheet and text column were chosen (xlsx without --sheet)


def open_binary(path: Path, gz: bool) -> IO[bytes]:
    return gzip.open(path, "rb") if gz else open(path, "rb")  # type: ignore[return-value]


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
            with open_binary(path, gz) as fh:
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
    raise DataError(
        f"{path}: {where} are not valid {best}{also}. Fix that line, pass the file's encoding with "
        f"--encoding (e.g. euc-kr, utf-16), or (sentiment score) --encoding-errors replace (score the "
        f"rest; rows with such bytes get status bad_encoding) or skip-rows (leave them out)"
    )


def _mostly_utf8(path: Path, gz: bool) -> bool:
    """More lines with non-ASCII text that decode as UTF-8 than lines that do not (streams)."""
    good = bad = 0
    with open_binary(path, gz) as fh:
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
    with open_binary(path, gz) as fh:
        if "a\n".encode(encoding).endswith(b"a\n"):  # ASCII-compatible: a bad sequence never spans lines
            for number, line in enumerate(fh, 1):
                try:
                    decoder.decode(line)
                except UnicodeDecodeError as exc:
                    start = max(exc.start - (len(exc.object) - len(line)), 0)
                    shown = line[start : start + 8].rstrip(b"\r\n")
                    return f"line {number:,}: bytes {shown!r}"
        offset = 0
        for block in iter(lambda: fh.read(1 << 20), b""):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                start = offset + exc.start - (len(exc.object) - len(block))
                return f"byte {start:,}: bytes {exc.object[exc.start : exc.start + 8]!r}"
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


def decoded(path: Path, gz: bool, info: TableInfo) -> Any:
    """What pandas reads: the path itself (strict), or a UTF-8 stream marking undecodable bytes."""
    if info.encoding_errors == "strict":
        return path
    return io.BufferedReader(_MarkingReader(open_binary(path, gz), info.encoding or "utf-8", info), 1 << 20)


def handle_bad_bytes(chunk: pd.DataFrame, info: TableInfo) -> pd.DataFrame:
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
                chunk[column] = values.astype(object).where(
                    ~marked,
                    values.astype(object).map(lambda v: v.replace(BAD_BYTES, "\ufffd") if isinstance(v, str) else v),
                )
    if info.encoding_errors == "skip-rows":
        info.skipped_rows += int(bad.sum())
        return chunk[~bad].reset_index(drop=True)
    chunk.attrs[BAD_ENCODING_ATTR] = tuple(np.flatnonzero(bad).tolist())
    return chunk


def mark_surrogates(chunk: pd.DataFrame, info: TableInfo, first_row: int) -> pd.DataFrame:
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
                raise DataError(
                    f"{info.path}: line {line:,}: {values.iloc[row][:40]!r} holds a lone surrogate "
                    f"(an escape such as \\udfff that is no character); fix that line, or use "
                    f"(sentiment score) --encoding-errors replace or skip-rows"
                )
            info.bad_line_count += 1
            if len(info.bad_lines) < MAX_LISTED_LINES:
                info.bad_lines.append(line)
        if marked.any():
            chunk[column] = values.astype(object).map(
                lambda v: SURROGATES.sub(BAD_BYTES, v) if isinstance(v, str) else v
            )
    return chunk


def bad_encoding_rows(chunk: pd.DataFrame) -> np.ndarray:
    """Boolean mask of the rows of a chunk read with ``encoding_errors="replace"`` that held undecodable bytes."""
    mask = np.zeros(len(chunk), dtype=bool)
    mask[list(chunk.attrs.get(BAD_ENCODING_ATTR, ()))] = True
    return mask


def line_list(info: TableInfo, limit: int = 20) -> str:
    """The lines with undecodable bytes, e.g. '5, 734,219' (the first ``limit``, then 'and N more')."""
    listed = ", ".join(f"{n:,}" for n in info.bad_lines[:limit])
    more = info.bad_line_count - min(limit, len(info.bad_lines))
    return listed + (f" and {more:,} more" if more > 0 else "")
