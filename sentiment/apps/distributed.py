"""Scoring on Ray Data: many files, many cores, many machines.

``score_dataset`` adds the scoring columns to a :class:`ray.data.Dataset` (for
users' own Ray pipelines); ``score_path`` is ``sentiment score --engine ray``:
read CSV/TSV/JSONL/Parquet files (local, or any filesystem pyarrow knows, e.g.
``s3://``), score them, write a directory of Parquet (or CSV) files.

Both score every batch with :func:`sentiment.apps.scoring.score_frame`, the step that
``score_file`` runs on each chunk, inside a pool of Ray actors; each actor loads
the model bundle once (checksums verified) and starts its tagger once. Actors
are restarted and their batches retried when a worker dies, and each output file
has a name fixed by its write task, so a retried task replaces its own file:
no row is lost or written twice. Parquet parts are written by
:func:`parquet_parts_sink`, which keeps the rows of a part in order. Ray is imported lazily; without it,
``require_ray`` says how to install it.
"""

from __future__ import annotations

import fnmatch
import os
import sys
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import pandas as pd

from ..io.columns import TEXT_COLUMN_NAMES, find_column
from ..io.readers import table_kind
from ..errors import DataError, OutputExistsError, SentimentError
from .scoring import STATUS_OK, ScoreSummary, label_names

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow.fs
    import ray.data

    from ..classifier import SentimentClassifier

INSTALL_HINT = 'pip install "sentiment[ray]" (from a checkout: pip install ".[ray]"; or pip install "ray[data]")'
OUTPUT_FORMATS = ("parquet", "csv")
ROWS_PER_BATCH = 4096  # rows per actor call: large enough to amortise the call, small enough to stream


def require_ray() -> Any:
    """The ``ray`` module with Ray Data, or a :class:`SentimentError` saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise SentimentError(f"--engine ray needs Ray Data, which is not installed ({exc}); "
                             f"install it with: {INSTALL_HINT}") from None
    return ray


# -- the actor ---------------------------------------------------------------------
class BatchScorer:
    """A Ray Data callable class: one classifier per actor, every batch scored by ``score_frame``."""

    def __init__(self, model: str | None, column: str, prefix: str, threshold: float | None, escape: bool,
                 batch_size: int, label_dtype: str | None, runtime: str = "auto", precision: str = "auto") -> None:
        from ..classifier import SentimentClassifier

        # One inference thread: the actor holds one CPU, and the pool has an actor per CPU.
        self.clf = SentimentClassifier.load(model, runtime=runtime, precision=precision, threads=1)  # checksums
        self.clf.predict_ids(self.clf.encode(["준비"]))  # start the tagger and the predictor once, not per batch
        self.column, self.prefix, self.threshold = column, prefix, threshold
        self.escape, self.batch_size, self.label_dtype = escape, batch_size, label_dtype

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        from .scoring import score_frame

        out = score_frame(batch, self.clf, self.column, prefix=self.prefix, threshold=self.threshold,
                          escape=self.escape, batch_size=self.batch_size)
        # The same Arrow types in every block, whatever its rows (escaped cells, no scorable row): the input
        # columns keep theirs, the status is a string, the label an integer or a string.
        for name in batch.columns:
            if out[name].dtype != batch[name].dtype:
                out[name] = out[name].astype(batch[name].dtype)
        text = pd.ArrowDtype(pa_string())
        out[f"{self.prefix}status"] = out[f"{self.prefix}status"].astype(text)
        label = out[f"{self.prefix}pred_label"]
        out[f"{self.prefix}pred_label"] = label.astype(self.label_dtype) if self.label_dtype else \
            label.map(lambda v: None if v is None else str(v)).astype(text)
        return out


def pa_string() -> Any:
    import pyarrow as pa

    return pa.string()


def _label_dtype(labels: list[Any]) -> str | None:
    """``Int64`` (Parquet int64 with nulls, as ``score_file`` writes) for integer classes, else None (text)."""
    if all(isinstance(v, int) and not isinstance(v, bool) for v in labels):
        return "Int64"
    return None


def score_dataset(ds: "ray.data.Dataset", model: str | Path | None = None, text_column: str | None = None, *,
                  threshold: float | None = None, column_prefix: str = "", escape: bool = True,
                  concurrency: int | None = None, batch_size: int = ROWS_PER_BATCH, model_batch_size: int = 256,
                  runtime: str = "auto", precision: str = "auto",
                  log: Callable[[str], None] = lambda msg: None) -> "ray.data.Dataset":
    """``ds`` with the scoring columns added (lazily, like every Ray Data transform).

    ``model``: a bundle directory readable on every node (default: the packaged
    model). ``text_column``: guessed as by ``sentiment score`` when None.
    ``concurrency``: scoring actors, one CPU each (default: one per CPU of the
    cluster; read the input with ``num_cpus=0``, as ``score_path`` does, or leave a
    CPU free, else the reads wait for a CPU the actors hold). ``batch_size``: rows
    per actor call; ``model_batch_size``: rows per network call. ``runtime`` and
    ``precision`` as in ``SentimentClassifier.load`` (auto = fp32: each row's
    probabilities equal the single-process ones to 1e-6). Ray Data restarts
    a dead actor and retries its batches. Row order is kept only with
    ``ray.data.DataContext.get_current().execution_options.preserve_order = True``.
    """
    schema = ds.schema()
    names = [str(n) for n in schema.names] if schema is not None else []
    sample = None
    if text_column is None and not any(n.lower().strip() in TEXT_COLUMN_NAMES for n in names):
        sample = ds.limit(200).to_pandas()  # to find the one text-like column
    scored, _, _ = _score(ds, names, sample, model, text_column, threshold=threshold, column_prefix=column_prefix,
                          escape=escape, concurrency=concurrency, batch_size=batch_size,
                          model_batch_size=model_batch_size, runtime=runtime, precision=precision, log=log)
    return scored


def _score(ds: "ray.data.Dataset", names: list[str], sample: pd.DataFrame | None, model: str | Path | None,
           text_column: str | None, *, threshold: float | None, column_prefix: str, escape: bool,
           concurrency: int | None, batch_size: int, model_batch_size: int, runtime: str = "auto",
           precision: str = "auto", log: Callable[[str], None]) -> tuple["ray.data.Dataset", str, Any]:
    """:func:`score_dataset` with the input's column names (and a few rows when the text column is to be
    guessed from them) known; also returns the text column and the model's classes."""
    import numpy as np

    from ..model.bundle import read_meta
    from ..model.bundle import default_model_path
    from ..model.runtime import check_runtime
    from .scoring import check_threshold, output_columns

    check_runtime(runtime, precision)
    ray = require_ray()
    model_path = Path(model) if model is not None else default_model_path()
    labels = read_meta(model_path)["labels"]  # a bad bundle fails here, before any actor starts
    classes = np.asarray(labels)
    check_threshold(threshold, classes)
    column = find_column(names, text_column, TEXT_COLUMN_NAMES, "text", "the input", sample)
    if text_column is None:
        log(f"text column: {column!r} (choose another with --text-column)")
    clash = [c for c in output_columns(classes, column_prefix) if c in names]
    if clash:
        raise DataError(f"the input already has column(s) {', '.join(map(repr, clash))}; "
                        f"pass --column-prefix (e.g. 'pred_') to name the added columns differently")
    if concurrency is None:
        concurrency = max(1, int(ray.cluster_resources().get("CPU", 1)))
    if concurrency < 1:
        raise DataError(f"--concurrency {concurrency} is invalid; give the number of scoring actors (1 or more)")
    scored = ds.map_batches(BatchScorer, batch_format="pandas", batch_size=batch_size, num_cpus=1,
                            compute=ray.data.ActorPoolStrategy(size=concurrency), zero_copy_batch=False,
                            fn_constructor_kwargs={"model": str(model_path), "column": column,
                                                   "prefix": column_prefix, "threshold": threshold,
                                                   "escape": escape, "batch_size": model_batch_size,
                                                   "label_dtype": _label_dtype(labels), "runtime": runtime,
                                                   "precision": precision})
    return scored, column, classes


# -- files in, a directory of files out ----------------------------------------------
@dataclass
class InputFiles:
    """The files a scoring job reads: one kind, one filesystem, in sorted order."""

    paths: list[str]
    filesystem: "pyarrow.fs.FileSystem"
    kind: str  # delimited / jsonl / parquet
    sep: str | None = None
    display: str = ""


def _is_uri(path: str) -> bool:
    return "://" in path


def _filesystem(path: str) -> tuple["pyarrow.fs.FileSystem", str]:
    import pyarrow.fs as pafs

    if not _is_uri(path):
        return pafs.LocalFileSystem(), str(Path(path).absolute())
    try:
        return pafs.FileSystem.from_uri(path)
    except Exception as exc:  # ArrowInvalid (unknown scheme), OSError (credentials, network)
        raise DataError(f"cannot open {path!r} ({exc}); give a local path or a URI pyarrow supports "
                        f"(file://, s3://, gs://, hdfs://, abfs://)") from None


def _readable(name: str) -> bool:
    try:
        kind, gz = table_kind(name)
    except DataError:
        return False
    return kind != "xlsx"


def list_inputs(spec: str) -> InputFiles:
    """A file, a directory (its readable files) or a glob (``data/*.csv``, ``s3://bucket/x/*.parquet``)."""
    import pyarrow.fs as pafs

    fs, root = _filesystem(spec)
    info = fs.get_file_info(root)
    if info.type == pafs.FileType.File:
        paths = [root]
    elif info.type == pafs.FileType.Directory:
        entries = fs.get_file_info(pafs.FileSelector(root, recursive=False))
        paths = sorted(e.path for e in entries if e.type == pafs.FileType.File and _readable(e.base_name)
                       and not e.base_name.startswith((".", "_")))
        if not paths:
            raise DataError(f"{spec} is a directory without readable files (.csv, .tsv, .txt, .jsonl, .parquet, "
                            f"optionally .gz)")
    elif any(ch in root for ch in "*?["):
        parent, pattern = root.rsplit("/", 1) if "/" in root else (".", root)
        if any(ch in parent for ch in "*?["):
            raise DataError(f"{spec}: only the last part of a path may be a pattern (e.g. dir/*.csv)")
        entries = fs.get_file_info(pafs.FileSelector(parent, allow_not_found=True))
        paths = sorted(e.path for e in entries if e.type == pafs.FileType.File
                       and fnmatch.fnmatch(e.base_name, pattern))
        if not paths:
            raise DataError(f"no file matches {spec}")
    else:
        raise DataError(f"input not found: {spec}")
    kinds = {}
    for path in paths:
        kind, _ = table_kind(path)
        if kind == "xlsx":
            raise DataError(f"{path}: Excel files are not read by --engine ray; convert to CSV or Parquet, "
                            f"or score it without --engine ray")
        name = path.lower().removesuffix(".gz")
        kinds.setdefault((kind, "," if name.endswith(".csv") else "\t" if kind == "delimited" else None), path)
    if len(kinds) > 1:
        found = ", ".join(sorted(Path(p).name for p in kinds.values()))
        raise DataError(f"{spec}: one job reads one kind of file; found several ({found}). "
                        f"Score each kind separately (e.g. a glob such as dir/*.csv)")
    (kind, sep), = kinds
    return InputFiles(paths, fs, kind, sep, spec)


def _open(files: InputFiles, path: str) -> Any:
    compression = "gzip" if path.lower().endswith(".gz") else None
    return files.filesystem.open_input_stream(path, compression=compression)


def _detect_encoding(files: InputFiles, encoding: str | None) -> str:
    """``encoding``, else UTF-8 when the first MiB of the first file decodes as UTF-8, else CP949."""
    import codecs

    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise DataError(f"unknown encoding {encoding!r}; try utf-8, cp949 or euc-kr") from None
        return encoding
    with _open(files, files.paths[0]) as fh:
        head = fh.read(1 << 20)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        return "cp949"


def _csv_header(files: InputFiles, encoding: str) -> list[str]:
    import io

    with _open(files, files.paths[0]) as fh:
        head = fh.read(1 << 16).decode(encoding, errors="replace").lstrip("\ufeff")
    quoting = 3 if files.sep == "\t" else 0
    try:
        frame = pd.read_csv(io.StringIO(head.split("\n", 1)[0] + "\n"), sep=files.sep, nrows=0, quoting=quoting)
    except pd.errors.EmptyDataError:
        raise DataError(f"{files.paths[0]} has no header") from None
    return [str(c) for c in frame.columns]


def peek(files: InputFiles, encoding: str | None = None, rows: int = 200) -> pd.DataFrame:
    """The first rows of the first file, read as :func:`read_inputs` reads them (without Ray): the column names,
    and the rows that tell the text column when it has no known name."""
    import pyarrow as pa

    if files.kind == "parquet":
        import pyarrow.parquet as pq

        with files.filesystem.open_input_file(files.paths[0]) as fh:
            batch = next(pq.ParquetFile(fh).iter_batches(batch_size=rows), None)
            return batch.to_pandas() if batch is not None else pq.read_schema(fh).empty_table().to_pandas()
    with _open(files, files.paths[0]) as fh:
        head = fh.read(1 << 20)
    lines = head.split(b"\n")
    text = b"\n".join(lines[:-1] if len(lines) > 1 else lines)
    if files.kind == "jsonl":
        from pyarrow import json

        return json.read_json(pa.BufferReader(text)).slice(0, rows).to_pandas()
    from pyarrow import csv

    options = _csv_options(files, encoding)
    return csv.read_csv(pa.BufferReader(text), **options).slice(0, rows).to_pandas()


def _csv_options(files: InputFiles, encoding: str | None) -> dict[str, Any]:
    """pyarrow CSV options that read what ``sentiment score`` reads: every cell as text, empty cells missing,
    no quoting in tab-separated files."""
    import pyarrow as pa
    from pyarrow import csv

    enc = _detect_encoding(files, encoding)
    names = _csv_header(files, enc)
    return {"read_options": csv.ReadOptions(encoding=enc, block_size=4 << 20),
            "parse_options": csv.ParseOptions(delimiter=files.sep, quote_char=False if files.sep == "\t" else '"',
                                              newlines_in_values=files.sep != "\t"),
            "convert_options": csv.ConvertOptions(column_types={n: pa.string() for n in names}, null_values=[""],
                                                  strings_can_be_null=True)}


def read_inputs(files: InputFiles, *, encoding: str | None = None) -> "ray.data.Dataset":
    """A lazy Dataset over ``files`` that reads what ``sentiment score`` reads: CSV/TSV cells as text (empty
    cells missing, no quoting in TSV), JSON Lines and Parquet with their own types."""
    require_ray()
    import ray.data

    # Reading takes no CPU slot: the scoring actors hold one each, and a read waiting for a free slot would wait
    # for ever; parsing is cheap beside tokenizing.
    common = {"filesystem": files.filesystem, "file_extensions": None, "num_cpus": 0}
    if files.kind == "parquet":
        return ray.data.read_parquet(files.paths, filesystem=files.filesystem, num_cpus=0)
    if files.kind == "jsonl":
        return ray.data.read_json(files.paths, lines=True, **common)
    return ray.data.read_csv(files.paths, **common, **_csv_options(files, encoding))


class _PartNames:
    """``part-000000.parquet``, ...: one file and one name per write task, in task order (so sorted names =
    input order when the order is kept), the same name when a task is retried."""

    def __init__(self, ext: str) -> None:
        self.ext = ext

    def get_filename_for_task(self, write_uuid: str, task_index: int) -> str:
        return f"part-{task_index:06d}.{self.ext}"

    def get_filename_for_block(self, block: Any, write_uuid: str, task_index: int, block_index: int) -> str:
        return self.get_filename_for_task(write_uuid, task_index)


def parquet_parts_sink(path: str, filesystem: "pyarrow.fs.FileSystem | None" = None) -> Any:
    """A Ray Data datasink (for ``Dataset.write_datasink``) writing a new directory ``path`` of one Parquet
    file per write task, ``part-000000.parquet``, ... (:class:`_PartNames`), with
    ``pyarrow.parquet.write_table``, which writes the task's blocks and their rows in order.

    Not ``Dataset.write_parquet``: Ray 2.60 writes each task's blocks with ``pyarrow.dataset.write_dataset(...,
    use_threads=True)`` without ``preserve_order``, and pyarrow's threads may then write a block's record
    batches (one per ``map_batches`` call) in any order (apache/arrow#26818), so the rows inside a part file
    can come out shuffled by whole batches although Ray kept the order of the blocks."""
    import pyarrow.parquet as pq
    import ray.data
    from ray.data.datasource import BlockBasedFileDatasink

    class ParquetParts(BlockBasedFileDatasink):
        def write_block_to_file(self, block: Any, file: Any) -> None:
            pq.write_table(block.to_arrow(), file)  # one thread, rows in order

    # ERROR: the directory must not exist (nothing of another job is mixed in or deleted); a retried write
    # task still replaces its own part file, whose name is its task index
    return ParquetParts(path, filesystem=filesystem, filename_provider=_PartNames("parquet"),
                        mode=ray.data.SaveMode.ERROR)


def _check_output_dir(fs: "pyarrow.fs.FileSystem", path: str, display: str, overwrite: bool) -> None:
    import pyarrow.fs as pafs

    info = fs.get_file_info(path)
    if info.type == pafs.FileType.File:
        raise DataError(f"output {display} is a file; --engine ray writes a directory of part files, "
                        f"e.g. -o {display.rsplit('.', 1)[0]}.scored/")
    if info.type == pafs.FileType.Directory and not overwrite:
        raise OutputExistsError(f"output {display} already exists; pass --overwrite to replace it")
    parent = path.rstrip("/").rsplit("/", 1)[0]
    if not _is_uri(display) and fs.get_file_info(parent).type != pafs.FileType.Directory:
        raise DataError(f"output folder {parent} does not exist")


@contextmanager
def _ray_session(address: str | None, num_cpus: int | None, log: Callable[[str], None]) -> Iterator[Any]:
    """Use a running Ray session, else start one (local, or joining ``address``) and shut it down at the end."""
    ray = require_ray()
    if ray.is_initialized():
        yield ray
        return
    # "local": a new Ray even when RAY_ADDRESS or a `ray start` on this machine would make ray.init() join it
    kwargs: dict[str, Any] = {"address": address or "local", "log_to_driver": False, "include_dashboard": False,
                              "configure_logging": False}
    if address is None:
        kwargs["num_cpus"] = num_cpus or os.cpu_count() or 1
    root = Path(__file__).resolve().parents[2]
    if root.name not in ("site-packages", "dist-packages"):  # a checkout: the workers import this copy too
        paths = [str(root), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
        kwargs["runtime_env"] = {"env_vars": {"PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}}
    try:
        ray.init(**kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise SentimentError(f"cannot start or join {where}: {exc}. Start one with `ray start --head` "
                             f"and pass --ray-address auto (or ray://HOST:10001), or leave --ray-address out") from None
    log(f"ray: {'joined ' + address if address else 'local'}, {int(ray.cluster_resources().get('CPU', 0))} CPU(s)")
    try:
        yield ray
    finally:
        ray.shutdown()


@contextmanager
def _quiet_ray_data() -> Iterator[None]:
    """Ray Data's INFO lines (execution plans, progress every few seconds) off the terminal; they stay in its
    log files under /tmp/ray/session_latest/logs/ray-data."""
    import logging

    logger = logging.getLogger("ray.data")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


@contextmanager
def _ordered() -> Iterator[None]:
    """Keep the order of blocks (and so of rows) through the job, restoring the previous setting after."""
    import ray.data

    options = ray.data.DataContext.get_current().execution_options
    before = options.preserve_order
    options.preserve_order = True
    try:
        yield
    finally:
        options.preserve_order = before


def score_path(input_spec: str, output: str, *, model: str | Path | None = None, text_column: str | None = None,
               sep: str | None = None, encoding: str | None = None, threshold: float | None = None,
               column_prefix: str = "",
               escape: bool = True, overwrite: bool = False, output_format: str = "parquet",
               ray_address: str | None = None, concurrency: int | None = None, num_cpus: int | None = None,
               batch_size: int = ROWS_PER_BATCH, model_batch_size: int = 256, runtime: str = "auto",
               precision: str = "auto",
               log: Callable[[str], None] = lambda msg: print(msg, file=sys.stderr)) -> ScoreSummary:
    """``sentiment score INPUT -o OUTDIR --engine ray``: score every row of the input files on Ray and write
    them, in input order, as ``OUTDIR/part-NNNNNN.parquet`` (or ``.csv``).

    The parts are written into a hidden sibling directory that is renamed to
    ``output`` when the job has succeeded (on object stores, where a directory
    rename is a copy, the parts are copied then the temporary prefix deleted), so a
    failed job leaves nothing under ``output``.
    """
    import pyarrow.fs as pafs

    if output_format not in OUTPUT_FORMATS:
        raise DataError(f"output format {output_format!r} is not supported; use one of {', '.join(OUTPUT_FORMATS)}")
    require_ray()
    started = time.perf_counter()
    files = list_inputs(input_spec)
    if sep is not None and files.kind == "delimited":
        files.sep = sep
    if concurrency is not None and concurrency < 1:
        raise DataError(f"--concurrency {concurrency} is invalid; give the number of scoring actors (1 or more)")
    out_fs, out_path = _filesystem(output)
    out_path = out_path.rstrip("/")
    _check_output_dir(out_fs, out_path, output, overwrite)
    parent, name = out_path.rsplit("/", 1)
    tmp = f"{parent}/.{name}.tmp-{uuid.uuid4().hex[:8]}"
    log(f"input: {len(files.paths)} {files.kind} file(s)")
    if num_cpus is None and concurrency is not None:  # a local Ray with a CPU slot for every actor asked for
        num_cpus = max(os.cpu_count() or 1, concurrency)
    with _ray_session(ray_address, num_cpus, log) as ray:
        if concurrency is None:
            concurrency = max(1, int(ray.cluster_resources().get("CPU", 1)))
        log(f"scoring actors: {concurrency}")
        with _ordered(), _quiet_ray_data():
            sample = peek(files, encoding)
            scored, column, classes = _score(
                read_inputs(files, encoding=encoding), [str(c) for c in sample.columns], sample, model, text_column,
                threshold=threshold, column_prefix=column_prefix, escape=escape, concurrency=concurrency,
                batch_size=batch_size, model_batch_size=model_batch_size, runtime=runtime, precision=precision,
                log=log)
            try:
                no_cpu = {"num_cpus": 0}  # writes take no CPU slot, as reads
                if output_format == "parquet":
                    scored.write_datasink(parquet_parts_sink(tmp, out_fs), ray_remote_args=no_cpu)
                else:  # Ray's CSV datasink writes each task's rows in order with pyarrow.csv
                    scored.write_csv(tmp, filesystem=out_fs, filename_provider=_PartNames(output_format),
                                     mode=ray.data.SaveMode.OVERWRITE, ray_remote_args=no_cpu)
                statuses, labels = _count(out_fs, tmp, output_format, column_prefix)
            except BaseException as exc:
                if out_fs.get_file_info(tmp).type == pafs.FileType.Directory:
                    out_fs.delete_dir(tmp)
                if not isinstance(exc, Exception):  # KeyboardInterrupt
                    raise
                raise SentimentError(f"the Ray job failed, nothing was written to {output}: {_reason(exc)}") from None
    _replace_dir(out_fs, tmp, out_path)
    names = label_names(classes, escape)
    return ScoreSummary(output=output, text_column=column, encoding=None, rows=sum(statuses.values()),
                        scored=statuses.get(STATUS_OK, 0), status_counts=dict(statuses),
                        label_counts={name: sum(n for shown, n in labels.items() if names.get(shown, shown) == name)
                                      for name in map(str, classes.tolist())},
                        seconds=time.perf_counter() - started)


def _reason(exc: BaseException) -> str:
    """One line on why a Ray job failed: our own error when a task or actor raised one (Ray wraps it, or only
    quotes its traceback when an actor died in its constructor), else the first error that says something."""
    import re

    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and seen not in chain and len(chain) < 8:
        chain.append(seen)
        seen = getattr(seen, "cause", None) or seen.__cause__
    for item in chain:
        if isinstance(item, SentimentError) and type(item).__module__ == SentimentError.__module__:
            return str(item).splitlines()[0][:500]
    for item in chain:
        quoted = re.findall(r"sentiment\.errors\.\w+: (.+)", str(item))
        if quoted:
            return quoted[-1][:500]
    for item in chain:
        lines = [line for line in str(item).splitlines() if line.strip()]
        if lines:
            return f"{type(item).__name__}: {lines[-1]}"[:500]
    return type(exc).__name__


def _count(fs: "pyarrow.fs.FileSystem", path: str, fmt: str, prefix: str) -> tuple[Counter[str], Counter[str]]:
    """Statuses and predicted labels (as written) of the part files, streamed two columns at a time."""
    import pyarrow.compute as pc
    import pyarrow.dataset as pads

    parts = pads.dataset(path, filesystem=fs, format=fmt)
    statuses: Counter[str] = Counter()
    labels: Counter[str] = Counter()
    for batch in parts.to_batches(columns=[f"{prefix}status", f"{prefix}pred_label"]):
        for counter, column in ((statuses, batch.column(0)), (labels, batch.column(1).drop_null())):
            for item in pc.value_counts(column).to_pylist():
                counter[str(item["values"])] += item["counts"]
    return statuses, labels


def _replace_dir(fs: "pyarrow.fs.FileSystem", tmp: str, final: str) -> None:
    """Move the finished ``tmp`` directory to ``final``, replacing an existing one only after it is complete."""
    import pyarrow.fs as pafs

    old = None
    if fs.get_file_info(final).type != pafs.FileType.NotFound:
        old = f"{tmp}.old"
        fs.move(final, old)
    fs.move(tmp, final)
    if old:
        fs.delete_dir(old)
