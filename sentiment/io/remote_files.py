"""Input tables on any filesystem pyarrow opens (local, ``s3://``, ``gs://``, ``hdfs://``, ``abfs://``), read
exactly as ``sentiment score`` reads a local file.

:func:`list_inputs` turns a file, a directory or a glob into the sorted files of
one kind; :func:`iter_chunks` yields a file's rows in chunks through
:func:`sentiment.io.readers.iter_table`, the reader of the single-process engine
(a remote CSV/TSV/JSON Lines/Excel file is copied to a local temporary file
first; remote Parquet is streamed). Every filesystem is an explicit
``pyarrow.fs.FileSystem`` object, so no path is resolved by fsspec or Ray.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import tempfile
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlparse

import pandas as pd

from ..errors import DataError
from .readers import READABLE, iter_table, table_kind

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow.fs

PYARROW_SCHEMES = ("file", "s3", "gs", "gcs", "hdfs", "viewfs", "abfs", "abfss")
KIND_NAMES = {"delimited": "CSV/TSV", "jsonl": "JSON Lines", "parquet": "Parquet", "xlsx": "Excel"}


@dataclass
class InputFiles:
    """The files a scoring job reads: one kind, one filesystem, in sorted order."""

    paths: list[str]
    filesystem: pyarrow.fs.FileSystem
    kind: str  # delimited / jsonl / parquet / xlsx
    display: str = ""
    sizes: list[int] = field(default_factory=list)  # bytes, as listed

    def shown(self, path: str) -> str:
        """``path`` as the user wrote it (with its scheme) for messages."""
        scheme = urlparse(self.display).scheme if is_uri(self.display) else ""
        return f"{scheme}://{path}" if scheme and scheme != "file" else path


def is_uri(path: str) -> bool:
    return "://" in str(path)


def _s3_options(uri: str) -> dict[str, Any]:
    """S3FileSystem settings from the URI's query (``?endpoint_override=host:port&scheme=http``) and the usual
    AWS variables, given explicitly so that the filesystem object carries them to every Ray worker."""
    env = os.environ
    opts: dict[str, Any] = {}
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    if endpoint:
        parsed = urlparse(endpoint)
        opts["endpoint_override"] = parsed.netloc or parsed.path
        if parsed.scheme:
            opts["scheme"] = parsed.scheme
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        opts["access_key"], opts["secret_key"] = env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
        if env.get("AWS_SESSION_TOKEN"):
            opts["session_token"] = env["AWS_SESSION_TOKEN"]
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if region:
        opts["region"] = region
    for key, values in parse_qs(urlparse(uri).query).items():
        if key in ("endpoint_override", "scheme", "region"):
            opts[key] = values[-1]
    return opts


def open_filesystem(path: str) -> tuple[pyarrow.fs.FileSystem, str]:
    """``(filesystem, path inside it)`` for a local path or a URI; a scheme pyarrow cannot open (or was built
    without) is a :class:`DataError` saying what to do."""
    import pyarrow.fs as pafs

    if not is_uri(path):
        return pafs.LocalFileSystem(), str(Path(path).absolute())
    scheme = urlparse(path).scheme.lower()
    if scheme in ("http", "https"):
        raise DataError(
            f"cannot read {path!r}: --engine ray reads local paths and filesystems pyarrow opens "
            f"({', '.join(s + '://' for s in PYARROW_SCHEMES)}); download the file first, or score "
            f"it without --engine ray"
        )
    if scheme not in PYARROW_SCHEMES:
        raise DataError(
            f"cannot open {path!r}: unknown scheme {scheme + '://'!r}; give a local path or one of "
            f"{', '.join(s + '://' for s in PYARROW_SCHEMES)}"
        )
    try:
        if scheme == "s3":
            parsed = urlparse(path)
            return pafs.S3FileSystem(**_s3_options(path)), f"{parsed.netloc}{parsed.path}".rstrip("/") or parsed.netloc
        fs, inner = pafs.FileSystem.from_uri(path)
        return fs, inner
    except ImportError as exc:
        raise DataError(f'cannot open {path!r}: {exc}; install the ray extra: pip install "sentiment[ray]"') from None
    except NotImplementedError as exc:  # ArrowNotImplementedError: this pyarrow build lacks the filesystem
        raise DataError(
            f"cannot open {path!r}: {str(exc).strip()}; install a pyarrow build with it "
            f"(pip install -U pyarrow, the PyPI wheels include S3, GCS and Azure)"
        ) from None
    except (ValueError, OSError) as exc:  # ArrowInvalid (a bad URI), OSError (credentials, network)
        raise DataError(
            f"cannot open {path!r} ({str(exc).strip().splitlines()[0]}); check the URI and the "
            f"credentials (for s3://: AWS_* variables, AWS_ENDPOINT_URL for another S3 server)"
        ) from None


def _readable(name: str) -> bool:
    try:
        table_kind(name)
    except DataError:
        return False
    return not name.startswith((".", "_"))


def _file_info(fs: pyarrow.fs.FileSystem, path: str, spec: str) -> Any:
    try:
        return fs.get_file_info(path)
    except OSError as exc:
        raise DataError(
            f"cannot read {spec} ({str(exc).strip().splitlines()[0]}); check the path and the credentials"
        ) from None


def list_inputs(spec: str) -> InputFiles:
    """A file, a directory (its readable files, not those named ``.*`` or ``_*``) or a glob in the last part
    (``data/*.csv``, ``s3://bucket/x/*.parquet``): the files, sorted by name, all of one kind."""
    import pyarrow.fs as pafs

    fs, root = open_filesystem(spec)
    info = _file_info(fs, root, spec)
    if info.type == pafs.FileType.File:
        entries = [info]
    elif info.type == pafs.FileType.Directory:
        entries = [
            e
            for e in fs.get_file_info(pafs.FileSelector(root, recursive=False))
            if e.type == pafs.FileType.File and _readable(e.base_name)
        ]
        if not entries:
            raise DataError(f"{spec} is a directory without readable files ({', '.join(READABLE)})")
    elif any(ch in root for ch in "*?["):
        parent, pattern = root.rsplit("/", 1) if "/" in root else (".", root)
        if any(ch in parent for ch in "*?["):
            raise DataError(f"{spec}: only the last part of a path may be a pattern (e.g. dir/*.csv)")
        entries = [
            e
            for e in fs.get_file_info(pafs.FileSelector(parent, allow_not_found=True))
            if e.type == pafs.FileType.File and fnmatch.fnmatch(e.base_name, pattern)
        ]
        if not entries:
            raise DataError(f"no file matches {spec}")
    else:
        raise DataError(f"input not found: {spec}")
    entries.sort(key=lambda e: e.path)
    kinds: dict[str, str] = {}
    for entry in entries:
        kind, _ = table_kind(entry.path)
        kinds.setdefault(kind, entry.base_name)
    if len(kinds) > 1:
        found = ", ".join(f"{KIND_NAMES[k]} ({name})" for k, name in sorted(kinds.items()))
        raise DataError(
            f"{spec}: one job reads one kind of file; found {found}. Score each kind separately "
            f"(e.g. with a glob such as dir/*.csv)"
        )
    (kind,) = kinds
    empty = [e.path for e in entries if e.size == 0]
    if empty:
        raise DataError(
            f"{empty[0]} is empty (0 bytes)" + (f", and {len(empty) - 1} more file(s)" if len(empty) > 1 else "")
        )
    return InputFiles([e.path for e in entries], fs, kind, spec, [int(e.size or 0) for e in entries])


@contextmanager
def local_copy(fs: pyarrow.fs.FileSystem, path: str) -> Iterator[Path]:
    """``path`` on the local disk: itself on a local filesystem, else a temporary copy with the same name."""
    import pyarrow.fs as pafs

    if isinstance(fs, pafs.LocalFileSystem):
        yield Path(path)
        return
    folder = tempfile.mkdtemp(prefix="sentiment-input-")
    try:
        target = Path(folder) / path.rsplit("/", 1)[-1]
        with fs.open_input_stream(path, compression=None) as src, open(target, "wb") as dst:  # bytes as stored
            shutil.copyfileobj(src, dst, 1 << 20)
        yield target
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def iter_chunks(
    files: InputFiles,
    path: str,
    *,
    rows: int,
    sep: str | None = None,
    encoding: str | None = None,
    encoding_errors: str = "strict",
    sheet: str | int | None = None,
    text_column: str | None = None,
) -> Generator[pd.DataFrame, None, None]:
    """The rows of one input file in chunks of ``rows``, read by :func:`sentiment.io.readers.iter_table` (the
    single-process reader, so the same cells, types, encoding detection and errors); messages name the file
    as the user gave it, not a temporary copy."""
    import pyarrow.fs as pafs

    if files.kind == "parquet" and not isinstance(files.filesystem, pafs.LocalFileSystem):
        import pyarrow.parquet as pq

        try:
            with files.filesystem.open_input_file(path) as fh:
                yielded = False
                for batch in pq.ParquetFile(fh).iter_batches(batch_size=rows):
                    if batch.num_rows:
                        yielded = True
                        yield batch.to_pandas()
        except (OSError, ValueError) as exc:
            raise DataError(f"{files.shown(path)}: not a readable Parquet file ({exc})") from None
        if not yielded:
            raise DataError(f"{files.shown(path)} has a header but no data rows")
        return
    with local_copy(files.filesystem, path) as local:
        try:
            for chunk, _ in iter_table(
                local,
                sep=sep,
                encoding=encoding,
                chunksize=rows,
                encoding_errors=encoding_errors,
                sheet=sheet,
                text_column=text_column,
            ):
                yield chunk
        except DataError as exc:
            if str(local) == path:
                raise
            raise DataError(str(exc).replace(str(local), files.shown(path))) from None


def peek(files: InputFiles, rows: int = 200, **read_options: Any) -> pd.DataFrame:
    """The first rows of the first file, read as the job reads them: the column names, and the rows that tell
    the text column when it has no known name."""
    chunks = iter_chunks(files, files.paths[0], rows=rows, **read_options)
    try:
        return next(chunks)
    finally:
        chunks.close()  # removes a temporary copy
