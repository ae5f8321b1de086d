"""Scoring on Ray: many files, many cores, many machines.

``score_dataset`` adds the scoring columns to a :class:`ray.data.Dataset` (for
users' own Ray pipelines); ``score_path`` is ``sentiment score --engine ray``:
read every kind of table the single-process engine reads (CSV/TSV/txt and their
.gz, JSON Lines, Parquet, Excel; local, or any filesystem pyarrow knows, e.g.
``s3://``), score it, write a directory of Parquet (or CSV) files.

Reading: :func:`file_blocks` reads a file in blocks with
:func:`sentiment.io.readers.iter_table` (the reader of ``sentiment score``)
through an explicit pyarrow filesystem (:mod:`sentiment.io.remote_files`): the
same cells for the same file, and no path handed to Ray's or fsspec's path
resolution. On one node ``score_path`` reads them itself and hands the blocks to
a pool of actors (:mod:`sentiment.apps.actor_pool`); across nodes
:func:`read_files`, a Ray Data datasource of its own, reads each file in a read
task where the actors run.

No deadlock by construction: the scoring actors take one CPU each, up to every
CPU of the cluster, and write their own parts; reads and the progress board take
none, so they are always schedulable (Ray 2.60's own ``read_parquet`` starts a
file-listing task that needs a whole CPU whatever ``num_cpus`` says, and waits
for ever behind actors that hold them all). A watchdog (:class:`StallWatchdog`)
ends a job whose stages report no progress for ``stall_timeout`` seconds, naming
the stage.

Both score every batch with :func:`sentiment.apps.scoring.score_frame`, the step that
``score_file`` runs on each chunk, inside a pool of Ray actors (:class:`BatchScorer`);
each actor loads the model bundle once (checksums verified) and starts its tagger
once. Actors are replaced and their batches given out again when a worker dies. In ``score_path`` the
actors write their own part files (:class:`PartFiles`), each named by the input
position of its first row, so a retried batch replaces its own file: no row is
lost or written twice, and no write task, worker process or object-store copy of
the scored rows is needed. Users' pipelines can write in order with
:func:`parquet_parts_sink` (or :func:`csv_parts_sink`). Ray is imported lazily;
without it, ``require_ray`` says how to install it.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..errors import DataError, OutputExistsError, SentimentError
from ..io.columns import TEXT_COLUMN_NAMES, find_column
from ..io.decoding import BAD_ENCODING_ATTR
from ..io.remote_files import InputFiles, is_uri, iter_chunks, list_inputs, open_filesystem, peek
from ..model.bundle import bundle_int8_graph, default_model_path
from ..model.runtime import available_cores, in_background
from .actor_pool import map_on_actors
from .progress_board import ProgressBoard
from .progress_board import report as _report
from .scoring import STATUS_OK, ScoreSummary, label_names

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow.fs
    import ray.data

INSTALL_HINT = 'pip install "sentiment[ray]" (from a checkout: pip install ".[ray]"; or pip install "ray[data]")'
OUTPUT_FORMATS = ("parquet", "csv")
EXECUTORS = ("auto", "actors", "ray-data")  # score_path's: see its docstring
ROWS_PER_BATCH = 4096  # rows per actor call: large enough to amortise the call, small enough to stream
MAX_ROWS_PER_BLOCK = 16384  # score_path's default block: Ray's cost per block paid 4x less than at 4,096 rows
BLOCKS_PER_ACTOR = 8  # ... while every actor still gets this many blocks of an input (an even end of the job)
STALL_TIMEOUT = 300.0  # seconds without progress before a job is ended (actor start-up included)
BAD_ENCODING_COLUMN = "__sentiment_bad_encoding__"  # carries dataio's bad-row marks from a read task to an actor
# input kinds read into Arrow blocks (typed columns, text as strings): Ray Data sizes an Arrow block at no cost,
# a pandas block of text by sampling its cells, about half of a read task's CPU. JSON Lines and Excel cells
# may mix text and numbers in one column, which no Arrow type holds: their blocks stay pandas.
ARROW_KINDS = ("delimited", "parquet")
# score_path's read tasks give each row its place, (file index << ROW_BITS) + row in the file: the first row's
# names the part file the actor writes, so that part names sort in input order and a retried batch rewrites
# its own part
POSITION_COLUMN = "__sentiment_position__"
ROW_BITS = 40


def require_ray() -> Any:
    """The ``ray`` module with Ray Data, or a :class:`SentimentError` saying how to install it."""
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise SentimentError(
            f"--engine ray needs Ray Data, which is not installed ({exc}); install it with: {INSTALL_HINT}"
        ) from None
    return ray


class JobStalled(BaseException):
    """Raised by :class:`StallWatchdog` in the thread running a stalled job (a BaseException, so that no
    ``except Exception`` inside Ray swallows it; Ray Data's executor shuts down on it)."""


class StallWatchdog:
    """Ends a Ray job that makes no progress: a thread polls the :class:`ProgressBoard` every second and, when
    no counter has moved for ``timeout`` seconds, raises :class:`JobStalled` in the thread running the job
    (``message`` then names the stage that stopped). ``timeout`` 0 or None: never, and no board is started
    (``board`` is None: the stages report to nobody)."""

    STAGES = (("read", "reading the input"), ("scored", "scoring"), ("written", "writing the output"))

    def __init__(self, ray: Any, timeout: float | None, concurrency: int) -> None:
        self.ray, self.timeout, self.concurrency = ray, timeout, concurrency
        self.board = ray.remote(num_cpus=0)(ProgressBoard).remote() if timeout else None
        self.message: str | None = None
        self._lock = threading.Lock()
        self._active = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> StallWatchdog:
        if self.timeout:
            self._target = threading.get_ident()
            self._active = True
            self._thread = threading.Thread(target=self._watch, name="sentiment-ray-watchdog", daemon=True)
            self._thread.start()
        return self

    def disarm(self) -> None:
        """The job is over: the watchdog raises nothing from now on."""
        with self._lock:
            self._active = False
        self._stop.set()

    def __exit__(self, *exc: Any) -> None:
        self.disarm()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.board is not None:
            self.ray.kill(self.board)

    def _snapshot(self) -> dict[str, int] | None:
        try:
            return self.ray.get(self.board.snapshot.remote(), timeout=10)
        except Exception:  # GetTimeoutError, a lost actor: no news is no progress
            return None

    def _watch(self) -> None:
        last: dict[str, int] | None = {}
        moved = time.monotonic()
        while not self._stop.wait(1.0):
            counts = self._snapshot()
            if counts is not None and counts != last:
                last, moved = counts, time.monotonic()
            if time.monotonic() - moved < self.timeout:
                continue
            with self._lock:
                if not self._active:
                    return
                self.message = self._describe(last or {})
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self._target), ctypes.py_object(JobStalled))
                self._active = False
            return

    def _describe(self, counts: dict[str, int]) -> str:
        """Which stage stopped: the first one behind the stage before it."""
        done = (
            f"read {counts.get('read', 0):,}, scored {counts.get('scored', 0):,}, "
            f"written {counts.get('written', 0):,} rows"
        )
        if counts.get("ready", 0) == 0:
            cpus = int(self.ray.cluster_resources().get("CPU", 0))
            free = int(self.ray.available_resources().get("CPU", 0))
            stage = (
                f"starting the scoring actors (none of {self.concurrency} started; each needs 1 CPU, the "
                f"cluster has {cpus}, {free} free: free CPUs or lower --concurrency)"
            )
        elif counts.get("read", 0) == 0:
            stage = "reading the input"
        elif counts.get("scored", 0) < counts.get("read", 0):
            stage = "scoring"
        elif counts.get("written", 0) < counts.get("scored", 0):
            stage = "writing the output"
        else:
            stage = "reading the input"
        return (
            f"the Ray job made no progress for {self.timeout:g} s while {stage}; {done}. "
            f"Raise --stall-timeout if a stage is only slow"
        )


# -- the actor ---------------------------------------------------------------------
class BatchScorer:
    """A Ray Data callable class: one classifier per actor, every batch scored by ``score_frame``."""

    def __init__(
        self,
        model: str | None,
        column: str,
        prefix: str,
        threshold: float | None,
        escape: bool,
        batch_size: int,
        label_dtype: str | None,
        runtime: str = "auto",
        precision: str = "auto",
        threads: int | None = None,
        board: Any = None,
        parts: PartFiles | None = None,
        int8: Any = None,
    ) -> None:
        from ..classifier import SentimentClassifier

        # int8: the int8 graph the driver built (bundle_int8_graph), as an object-store reference (Ray Data hands
        # constructor arguments over as they are) or already resolved (Ray's own actors resolve them); either
        # way its tables are mapped from the object store, not copied: every actor of a node shares one copy
        ray = require_ray()
        int8_graph = ray.get(int8) if isinstance(int8, ray.ObjectRef) else int8
        # One inference thread by default: the actor holds one CPU, and the pool has an actor per CPU.
        self.clf = SentimentClassifier.load(
            model, runtime=runtime, precision=precision, threads=threads or 1, int8_graph=int8_graph
        )
        self.clf.predict_ids(self.clf.encode(["준비"]))  # start the tagger and the predictor once, not per batch
        self.column, self.prefix, self.threshold = column, prefix, threshold
        self.escape, self.batch_size, self.label_dtype = escape, batch_size, label_dtype
        # rows per score_frame call (a whole number of network batches, so the results are those of one call):
        # progress is reported after each, so a long batch still shows the job moving
        self.step = max(batch_size, (ROWS_PER_BATCH // batch_size) * batch_size)
        self.board, self.parts = board, parts
        _report(board, "ready")

    def ready(self) -> None:
        """Answered once the constructor has run (:func:`sentiment.apps.actor_pool.map_on_actors` waits for it)."""

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        from .scoring import score_frame

        batch = batch.reset_index(drop=True)
        positions = batch.pop(POSITION_COLUMN) if POSITION_COLUMN in batch.columns else None
        bad = None
        if BAD_ENCODING_COLUMN in batch.columns:
            bad = batch.pop(BAD_ENCODING_COLUMN).fillna(False).astype(bool).to_numpy()
        parts = []
        for start in range(0, max(len(batch), 1), self.step):
            part = batch.iloc[start : start + self.step]
            if bad is not None:
                part.attrs[BAD_ENCODING_ATTR] = list(bad[start : start + self.step].nonzero()[0])
            parts.append(
                score_frame(
                    part,
                    self.clf,
                    self.column,
                    prefix=self.prefix,
                    threshold=self.threshold,
                    escape=self.escape,
                    batch_size=self.batch_size,
                )
            )
            _report(self.board, "scored", len(part))
        out = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0].reset_index(drop=True)
        # The same Arrow types in every block, whatever its rows (escaped cells, no scorable row): the input
        # columns keep theirs, the status is a string, the label an integer or a string.
        for name in batch.columns:
            if out[name].dtype != batch[name].dtype:
                out[name] = out[name].astype(batch[name].dtype)
            if out[name].dtype == object and _mixed(out[name]):  # JSON Lines / Excel: text beside numbers
                out[name] = out[name].map(lambda v: v if v is None or isinstance(v, str) or pd.isna(v) else str(v))
        text = pd.ArrowDtype(pa_string())
        out[f"{self.prefix}status"] = out[f"{self.prefix}status"].astype(text)
        label = out[f"{self.prefix}pred_label"]
        out[f"{self.prefix}pred_label"] = (
            label.astype(self.label_dtype)
            if self.label_dtype
            else label.map(lambda v: None if v is None else str(v)).astype(text)
        )
        if self.parts is None or positions is None:
            return out
        if len(out):
            self.parts.write(out, int(positions.iloc[0]))
            _report(self.board, "written", len(out))
        return _tally(out, self.prefix)


def _tally(out: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """What an actor that wrote its part returns instead of the rows: the part's counts of each status and
    each predicted label (as written), one row per (kind, value)."""
    rows = [("status", str(k), int(n)) for k, n in out[f"{prefix}status"].value_counts().items()]
    rows += [("label", str(k), int(n)) for k, n in out[f"{prefix}pred_label"].dropna().value_counts().items()]
    return pd.DataFrame(rows, columns=["kind", "value", "n"]).astype({"kind": str, "value": str, "n": "int64"})


class PartFiles:
    """The part files of a ``score_path`` job, written by the scoring actors themselves: each batch's rows
    go to ``part-FFFFFF-RRRRRRRRRRRR.parquet`` (or ``.csv``) in ``path``, named by the file index and row of
    its first input row, so that sorted names are input order and a retried batch replaces its own part.
    Writing in the actor spares Ray Data a write task, a worker process and an object-store copy per block.
    On a local disk a part is written under a hidden name and renamed when complete (a worker killed while
    writing leaves no half part); an object store shows an object only once its upload has completed."""

    def __init__(self, path: str, filesystem: pyarrow.fs.FileSystem, fmt: str) -> None:
        self.path, self.filesystem, self.fmt = path, filesystem, fmt

    def name(self, position: int) -> str:
        return f"part-{position >> ROW_BITS:06d}-{position & ((1 << ROW_BITS) - 1):012d}.{self.fmt}"

    def write(self, frame: pd.DataFrame, position: int) -> None:
        import pyarrow as pa
        import pyarrow.fs as pafs

        table = pa.Table.from_pandas(frame, preserve_index=False)
        name = self.name(position)
        final = f"{self.path}/{name}"
        local = isinstance(self.filesystem, pafs.LocalFileSystem)
        target = f"{self.path}/.{name}.inprogress" if local else final
        with self.filesystem.open_output_stream(target) as fh:
            _write_arrow(table, fh, self.fmt)
        if local:
            self.filesystem.move(target, final)


def _write_arrow(table: Any, file: Any, fmt: str) -> None:
    """One Arrow table to an open file as Parquet or CSV, on one thread, rows in order."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, file)
    else:
        from pyarrow import csv

        csv.write_csv(table, file)


def _mixed(series: pd.Series) -> bool:
    """An object column holding text and other values (which no Arrow type holds together)."""
    kinds = {type(v) for v in series.dropna().tolist()}
    return len(kinds) > 1 and str in kinds


def pa_string() -> Any:
    import pyarrow as pa

    return pa.string()


def _label_dtype(labels: list[Any]) -> str | None:
    """``Int64`` (Parquet int64 with nulls, as ``score_file`` writes) for integer classes, else None (text)."""
    if all(isinstance(v, int) and not isinstance(v, bool) for v in labels):
        return "Int64"
    return None


def score_dataset(
    ds: ray.data.Dataset,
    model: str | Path | None = None,
    text_column: str | None = None,
    *,
    threshold: float | None = None,
    column_prefix: str = "",
    escape: bool = True,
    concurrency: int | None = None,
    batch_size: int = ROWS_PER_BATCH,
    model_batch_size: int = 256,
    runtime: str = "auto",
    precision: str = "auto",
    log: Callable[[str], None] = lambda msg: None,
) -> ray.data.Dataset:
    """``ds`` with the scoring columns added (lazily, like every Ray Data transform).

    ``model``: a bundle directory readable on every node (default: the packaged
    model). ``text_column``: guessed as by ``sentiment score`` when None.
    ``concurrency``: scoring actors, one CPU each (default: one per CPU of the
    cluster but one, which stays free for the stages of ``ds`` that need a CPU, such
    as Ray's own ``read_parquet``; with :func:`read_files`, whose reads need none,
    pass the number of CPUs). ``batch_size``: rows per actor call; ``model_batch_size``:
    rows per network call. ``runtime`` and ``precision`` as in ``SentimentClassifier.load``
    (auto = the bundle's recorded precision, int8 for the packaged model; in either precision each row's
    probabilities equal the single-process ones to 1e-6).
    Ray Data restarts a dead actor and retries its batches.
    Row order is kept only with
    ``ray.data.DataContext.get_current().execution_options.preserve_order = True``.
    """
    ray = require_ray()
    if concurrency is None:
        concurrency = max(1, int(ray.cluster_resources().get("CPU", 1)) - 1)
    schema = ds.schema()
    names = [str(n) for n in schema.names] if schema is not None else []
    sample = None
    if text_column is None and not any(n.lower().strip() in TEXT_COLUMN_NAMES for n in names):
        sample = ds.limit(200).to_pandas()  # to find the one text-like column
    scored, _, _ = _score(
        ds,
        names,
        sample,
        model,
        text_column,
        threshold=threshold,
        column_prefix=column_prefix,
        escape=escape,
        concurrency=concurrency,
        batch_size=batch_size,
        model_batch_size=model_batch_size,
        runtime=runtime,
        precision=precision,
        log=log,
    )
    return scored


def _score(
    ds: ray.data.Dataset,
    names: list[str],
    sample: pd.DataFrame | None,
    model: str | Path | None,
    text_column: str | None,
    *,
    concurrency: int,
    batch_size: int,
    log: Callable[[str], None],
    **options: Any,
) -> tuple[ray.data.Dataset, str, Any]:
    """:func:`score_dataset` with the input's column names (and a few rows when the text column is to be
    guessed from them) known; also returns the text column and the model's classes. ``options``: those of
    :func:`_scorer_kwargs`."""
    kwargs, column, classes = _scorer_kwargs(
        names, sample, model, text_column, concurrency=concurrency, log=log, **options
    )
    return _map_batches(ds, kwargs, concurrency, batch_size), column, classes


def _map_batches(ds: ray.data.Dataset, kwargs: dict[str, Any], concurrency: int, batch_size: int) -> ray.data.Dataset:
    """``ds`` scored by a pool of ``concurrency`` :class:`BatchScorer` actors (one CPU each) built with ``kwargs``."""
    ray = require_ray()
    return ds.map_batches(
        BatchScorer,
        batch_format="pandas",
        batch_size=batch_size,
        num_cpus=1,
        compute=ray.data.ActorPoolStrategy(size=concurrency),
        zero_copy_batch=False,
        fn_constructor_kwargs=kwargs,
    )


def _scorer_kwargs(
    names: list[str],
    sample: pd.DataFrame | None,
    model: str | Path | None,
    text_column: str | None,
    *,
    threshold: float | None,
    column_prefix: str,
    escape: bool,
    concurrency: int,
    model_batch_size: int,
    runtime: str = "auto",
    precision: str = "auto",
    threads: int | None = None,
    board: Any = None,
    parts: PartFiles | None = None,
    int8_graph: Callable[[], Any] | None = None,
    log: Callable[[str], None],
) -> tuple[dict[str, Any], str, Any]:
    """The checks before any actor starts (the bundle, the threshold, the text column, clashing column names)
    and what each :class:`BatchScorer` is constructed with; also returns the text column and the model's
    classes."""
    import numpy as np

    from ..model.bundle import read_meta
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
        raise DataError(
            f"the input already has column(s) {', '.join(map(repr, clash))}; "
            f"pass --column-prefix (e.g. 'pred_') to name the added columns differently"
        )
    if concurrency < 1:
        raise DataError(f"--concurrency {concurrency} is invalid; give the number of scoring actors (1 or more)")
    kwargs = {
        "model": str(model_path),
        "column": column,
        "prefix": column_prefix,
        "threshold": threshold,
        "escape": escape,
        "batch_size": model_batch_size,
        "label_dtype": _label_dtype(labels),
        "runtime": runtime,
        "precision": precision,
        "threads": threads or 1,
        "board": board,
        "parts": parts,
        "int8": _shared_int8_graph(ray, int8_graph or (lambda: bundle_int8_graph(model_path, runtime, precision))),
    }
    return kwargs, column, classes


def _shared_int8_graph(ray: Any, build: Callable[[], Any]) -> Any:
    """An object-store reference to the int8 graph ``build()`` gives (None when the model runs fp32 or Keras),
    which every actor maps instead of building its own: on the 2-core development machine each build took 0.2 to
    1.9 s of an actor's start (the spread was the kernel's, handing out 199 MB of new pages), and each actor kept
    its own 199 MB of tables. Through Ray Client (ray://) the tables would cross the network from this process:
    there each actor builds its own."""
    if ray.util.client.ray.is_connected():
        return None
    built = build()
    return ray.put(built) if built is not None else None


# -- files in: a datasource whose reads take no CPU -------------------------------------
def read_files(
    files: InputFiles | str,
    *,
    rows_per_block: int = ROWS_PER_BATCH,
    sep: str | None = None,
    encoding: str | None = None,
    encoding_errors: str = "strict",
    sheet: str | int | None = None,
    text_column: str | None = None,
    concurrency: int | None = None,
    board: Any = None,
    positions: bool = False,
) -> ray.data.Dataset:
    """A lazy Dataset of the rows of ``files`` (an :class:`InputFiles`, or a path, directory, glob or URI),
    read as ``sentiment score`` reads them: one read task per file, in file order, each yielding blocks of
    ``rows_per_block`` rows read by :func:`sentiment.io.readers.iter_table`. Read tasks take no CPU slot
    (``num_cpus=0``), so they run beside actors that hold every CPU; ``concurrency`` caps how many run at
    once (default: 2). Blocks are Arrow tables for delimited and Parquet files, pandas frames for JSON Lines
    and Excel (``ARROW_KINDS``). ``positions``: each row also gets ``POSITION_COLUMN``, its file index and row
    (what :class:`PartFiles` names a part by; ``score_path`` sets it)."""
    ray = require_ray()
    from ray.data.block import BlockMetadata
    from ray.data.datasource import Datasource, ReadTask

    if isinstance(files, str):
        files = list_inputs(files)
    options = {
        "sep": sep,
        "encoding": encoding,
        "encoding_errors": encoding_errors,
        "sheet": sheet,
        "text_column": text_column,
    }

    arrow = files.kind in ARROW_KINDS

    def read_one(index: int) -> Iterator[Any]:
        import pyarrow as pa

        for chunk in file_blocks(files, index, rows_per_block, options, board=board, positions=positions):
            yield pa.Table.from_pandas(chunk, preserve_index=False) if arrow else chunk

    class CommentFiles(Datasource):
        def get_name(self) -> str:
            return "ReadComments"

        def estimate_inmemory_data_size(self) -> int | None:
            return 2 * sum(files.sizes) or None

        def get_read_tasks(
            self, parallelism: int, per_task_row_limit: int | None = None, data_context: Any = None
        ) -> list[Any]:
            return [
                ReadTask(
                    lambda index=index: read_one(index),
                    BlockMetadata(num_rows=None, size_bytes=2 * size or None, input_files=[path], exec_stats=None),
                )
                for index, (path, size) in enumerate(
                    zip(files.paths, files.sizes or [0] * len(files.paths), strict=True)
                )
            ]

    return ray.data.read_datasource(
        CommentFiles(), num_cpus=0, concurrency=concurrency or 2, override_num_blocks=len(files.paths)
    )


def file_blocks(
    files: InputFiles,
    index: int,
    rows: int,
    options: dict[str, Any],
    *,
    board: Any = None,
    positions: bool = False,
) -> Iterator[pd.DataFrame]:
    """The rows of ``files.paths[index]`` in blocks of ``rows`` as the actors take them, read by
    :func:`sentiment.io.remote_files.iter_chunks` with ``options``: rows with undecodable bytes
    (``--encoding-errors replace``) marked in ``BAD_ENCODING_COLUMN``; with ``positions``, each row's place in
    ``POSITION_COLUMN``; each block's rows reported to ``board`` as read."""
    import numpy as np

    row = index << ROW_BITS
    for chunk in iter_chunks(files, files.paths[index], rows=rows, **options):
        bad = chunk.attrs.get(BAD_ENCODING_ATTR)
        if bad:
            mark = pd.Series(False, index=chunk.index)
            mark.iloc[list(bad)] = True
            chunk = chunk.assign(**{BAD_ENCODING_COLUMN: mark})
        if positions:
            chunk = chunk.assign(**{POSITION_COLUMN: np.arange(row, row + len(chunk), dtype=np.int64)})
            row += len(chunk)
        _report(board, "read", len(chunk))
        yield chunk


class _PartNames:
    """``part-000000.parquet``, ...: one file and one name per write task, in task order (so sorted names =
    input order when the order is kept), the same name when a task is retried."""

    def __init__(self, ext: str) -> None:
        self.ext = ext

    def get_filename_for_task(self, write_uuid: str, task_index: int) -> str:
        return f"part-{task_index:06d}.{self.ext}"

    def get_filename_for_block(self, block: Any, write_uuid: str, task_index: int, block_index: int) -> str:
        return self.get_filename_for_task(write_uuid, task_index)


def parquet_parts_sink(path: str, filesystem: pyarrow.fs.FileSystem | None = None, *, board: Any = None) -> Any:
    """A Ray Data datasink (for ``Dataset.write_datasink``) writing a new directory ``path`` of one Parquet
    file per write task, ``part-000000.parquet``, ... (:class:`_PartNames`), with
    ``pyarrow.parquet.write_table``, which writes the task's blocks and their rows in order.

    Not ``Dataset.write_parquet``: Ray 2.60 writes each task's blocks with ``pyarrow.dataset.write_dataset(...,
    use_threads=True)`` without ``preserve_order``, and pyarrow's threads may then write a block's record
    batches (one per ``map_batches`` call) in any order (apache/arrow#26818), so the rows inside a part file
    can come out shuffled by whole batches although Ray kept the order of the blocks."""
    return _parts_sink(path, filesystem, "parquet", board)


def csv_parts_sink(path: str, filesystem: pyarrow.fs.FileSystem | None = None, *, board: Any = None) -> Any:
    """As :func:`parquet_parts_sink`, with ``part-000000.csv``, ... written by ``pyarrow.csv.write_csv``."""
    return _parts_sink(path, filesystem, "csv", board)


def _parts_sink(path: str, filesystem: pyarrow.fs.FileSystem | None, fmt: str, board: Any) -> Any:
    import ray.data
    from ray.data.datasource import BlockBasedFileDatasink

    class Parts(BlockBasedFileDatasink):
        def write_block_to_file(self, block: Any, file: Any) -> None:
            table = block.to_arrow()
            _write_arrow(table, file, fmt)
            _report(board, "written", table.num_rows)

    # ERROR: the directory must not exist (nothing of another job is mixed in or deleted); a retried write
    # task still replaces its own part file, whose name is its task index
    return Parts(path, filesystem=filesystem, filename_provider=_PartNames(fmt), mode=ray.data.SaveMode.ERROR)


def _check_output_dir(fs: pyarrow.fs.FileSystem, path: str, display: str, overwrite: bool) -> None:
    import pyarrow.fs as pafs

    info = fs.get_file_info(path)
    if info.type == pafs.FileType.File:
        raise DataError(
            f"output {display} is a file; --engine ray writes a directory of part files, "
            f"e.g. -o {display.rsplit('.', 1)[0]}.scored/"
        )
    if info.type == pafs.FileType.Directory and not overwrite:
        raise OutputExistsError(f"output {display} already exists; pass --overwrite to replace it")
    parent = path.rstrip("/").rsplit("/", 1)[0]
    if not is_uri(display) and fs.get_file_info(parent).type != pafs.FileType.Directory:
        raise DataError(f"output folder {parent} does not exist")


@contextmanager
def _ray_session(address: str | None, num_cpus: int | None, log: Callable[[str], None]) -> Iterator[Any]:
    """Use a running Ray session, else start one (local, or joining ``address``) and shut it down at the end."""
    ray = require_ray()
    if ray.is_initialized():
        yield ray
        return
    # "local": a new Ray even when RAY_ADDRESS or a `ray start` on this machine would make ray.init() join it
    kwargs: dict[str, Any] = {
        "address": address or "local",
        "log_to_driver": False,
        "include_dashboard": False,
        "configure_logging": False,
    }
    if address is None:
        kwargs["num_cpus"] = num_cpus or available_cores()  # the cores this process may use (its affinity)
    root = Path(__file__).resolve().parents[2]
    pythonpath = None
    if root.name not in ("site-packages", "dist-packages"):  # a checkout: the workers import this copy too
        paths = [str(root), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
        pythonpath = os.pathsep.join(dict.fromkeys(paths))
        if address:
            kwargs["runtime_env"] = {"env_vars": {"PYTHONPATH": pythonpath}}
    try:
        with _environ("PYTHONPATH", None if address else pythonpath):
            ray.init(**kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise SentimentError(
            f"cannot start or join {where}: {exc}. Start one with `ray start --head` "
            f"and pass --ray-address auto (or ray://HOST:10001), or leave --ray-address out"
        ) from None
    cpus = int(ray.cluster_resources().get("CPU", 0))
    if address:
        log(f"ray: joined {address}, {cpus} CPU(s)")
    else:  # one machine: Ray's processes cost seconds to start that the default engine does not pay
        log(
            f"ray: local, {cpus} CPU(s) (on one machine, `sentiment score` without --engine ray also uses every "
            f"core and skips Ray's start-up; --engine ray pays off across machines: --ray-address)"
        )
    try:
        yield ray
    finally:
        ray.shutdown()


@contextmanager
def _environ(name: str, value: str | None) -> Iterator[None]:
    """``os.environ[name]`` set to ``value`` (when not None) for the ``with`` block, then restored.

    A local Ray's processes inherit the environment of the ``ray.init`` that starts them, so a checkout's
    path set here reaches every worker without a job ``runtime_env``: workers started with one cannot reuse
    the workers Ray starts ahead of the first job, and on two cores each new worker costs about a second."""
    if value is None:
        yield
        return
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


@contextmanager
def _quiet_ray_data() -> Iterator[None]:
    """Ray Data's INFO lines (execution plans, progress every few seconds) off the terminal; they stay in its
    log files under /tmp/ray/session_latest/logs/ray-data."""
    import logging
    import warnings

    logger = logging.getLogger("ray.data")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            # "... only received 1 input(s)": counted from the read tasks (one per file), not from the blocks
            # each yields, so it is wrong for a file of many blocks
            warnings.filterwarnings("ignore", message=r"The (maximum|minimum) number of concurrent")
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


@contextmanager
def _block_bytes(nbytes: int) -> Iterator[None]:
    """Ray Data's target block size set to ``nbytes`` for one job (restored after).

    A read task's output buffer merges the chunks it yields into blocks of up to
    ``target_max_block_size`` (128 MiB by default), so a file smaller than that
    became one block, scored by one actor call: one actor worked, the others
    waited, and the file's rows were written in one part at the end. With blocks of
    about half a chunk, the chunks of one file spread over every actor and are
    written as they are scored."""
    import ray.data

    context = ray.data.DataContext.get_current()
    before = context.target_max_block_size
    context.target_max_block_size = nbytes
    try:
        yield
    finally:
        context.target_max_block_size = before


def rows_per_block(files: InputFiles, sample: pd.DataFrame, actors: int) -> int:
    """``score_path``'s rows per block (and per actor call) when ``--chunk-size`` is not given.

    Each block costs Ray Data a fixed amount (a read-task output, an object-store put, a scheduling round, a
    write): on 640,000 comments and 2 actors, blocks of 4,096 rows took 106 s and of 16,384 rows 85 s (the actors'
    CPU per row unchanged; benchmarks/distributed.py). Big inputs therefore get blocks of
    ``MAX_ROWS_PER_BLOCK`` rows; a small one gets smaller blocks (down to ``ROWS_PER_BATCH``), so that each actor
    still gets about ``BLOCKS_PER_ACTOR`` of them and no actor waits while another scores the last big block.
    The input's rows are estimated from its files' sizes and the first rows' size as CSV (a compressed file
    counts fewer rows than it has: smaller blocks, never too few)."""
    per_row = max(len(sample.to_csv(index=False).encode()) / max(len(sample), 1), 1.0)
    rows = sum(files.sizes or []) / per_row
    target = int(rows // (max(actors, 1) * BLOCKS_PER_ACTOR))
    return max(ROWS_PER_BATCH, min(MAX_ROWS_PER_BLOCK, target))


def _chunk_bytes(sample: pd.DataFrame, rows: int) -> int:
    """Half the in-memory size of ``rows`` rows like ``sample``'s, within 16 KiB .. 128 MiB."""
    per_row = float(sample.memory_usage(index=False, deep=True).sum()) / max(len(sample), 1)
    return int(min(128 << 20, max(16 << 10, per_row * rows / 2)))


def score_path(
    input_spec: str,
    output: str,
    *,
    model: str | Path | None = None,
    text_column: str | None = None,
    sep: str | None = None,
    encoding: str | None = None,
    encoding_errors: str = "strict",
    sheet: str | int | None = None,
    threshold: float | None = None,
    column_prefix: str = "",
    escape: bool = True,
    overwrite: bool = False,
    output_format: str = "parquet",
    ray_address: str | None = None,
    concurrency: int | None = None,
    num_cpus: int | None = None,
    batch_size: int | None = None,
    model_batch_size: int = 256,
    runtime: str = "auto",
    precision: str = "auto",
    threads: int | None = None,
    stall_timeout: float | None = STALL_TIMEOUT,
    executor: str = "auto",
    log: Callable[[str], None] = lambda msg: print(msg, file=sys.stderr),
) -> ScoreSummary:
    """``sentiment score INPUT -o OUTDIR --engine ray``: score every row of the input files on Ray and write
    them, in input order, as ``OUTDIR/part-NNNNNN.parquet`` (or ``.csv``).

    ``executor``: ``actors`` (this process reads the files and hands their blocks to Ray actors:
    :mod:`sentiment.apps.actor_pool`), ``ray-data`` (Ray Data reads them in tasks where the actors run:
    :func:`read_files`), or ``auto``: ``actors`` on a one-node Ray (a local one, or a cluster of one node),
    ``ray-data`` across nodes and through Ray Client. Both run the same :class:`BatchScorer` and write the
    same parts.

    The parts are written into a hidden sibling directory that is renamed to
    ``output`` when the job has succeeded (on object stores, where a directory
    rename is a copy, the parts are copied then the temporary prefix deleted), so a
    failed job leaves nothing under ``output``. A job whose stages make no progress
    for ``stall_timeout`` seconds (None or 0: no limit) is ended with a
    :class:`SentimentError` naming the stage.
    """
    import pyarrow.fs as pafs

    if output_format not in OUTPUT_FORMATS:
        raise DataError(f"output format {output_format!r} is not supported; use one of {', '.join(OUTPUT_FORMATS)}")
    if (batch_size is not None and batch_size < 1) or model_batch_size < 1:
        raise DataError(f"--chunk-size {batch_size} / --batch-size {model_batch_size}: give positive numbers of rows")
    if stall_timeout is not None and stall_timeout < 0:
        raise DataError(f"--stall-timeout {stall_timeout:g} is invalid; give seconds (> 0), or 0 for no limit")
    if executor not in EXECUTORS:
        raise DataError(f"executor {executor!r} is not supported; use one of {', '.join(EXECUTORS)}")
    require_ray()
    started = time.perf_counter()
    files = list_inputs(input_spec)
    if concurrency is not None and concurrency < 1:
        raise DataError(f"--concurrency {concurrency} is invalid; give the number of scoring actors (1 or more)")
    out_fs, out_path = open_filesystem(output)
    out_path = out_path.rstrip("/")
    _check_output_dir(out_fs, out_path, output, overwrite)
    parent, name = out_path.rsplit("/", 1)
    tmp = f"{parent}/.{name}.tmp-{uuid.uuid4().hex[:8]}"
    read_options = {
        "sep": sep,
        "encoding": encoding,
        "encoding_errors": encoding_errors,
        "sheet": sheet,
        "text_column": text_column,
    }
    sample = peek(files, **read_options)  # the first file's columns (a bad file fails here, before Ray starts)
    log(f"input: {len(files.paths)} {files.kind} file(s)")
    if num_cpus is None and concurrency is not None:  # a local Ray with a CPU slot for every actor asked for
        num_cpus = max(available_cores(), concurrency)
    # the int8 graph every actor will share, built while Ray starts (that start mostly waits on its processes)
    model_path = Path(model) if model is not None else default_model_path()
    int8_graph = in_background(lambda: bundle_int8_graph(model_path, runtime, precision), "sentiment-int8-build")
    with _ray_session(ray_address, num_cpus, log) as ray:
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        if concurrency is None:
            concurrency = cpus  # reads, writes and progress reports need no CPU: every CPU can score
        elif concurrency > cpus:
            log(
                f"warning: --concurrency {concurrency} > {cpus} CPU(s) in the cluster: only {cpus} actor(s) can "
                f"run at once"
            )
        if batch_size is None:
            batch_size = rows_per_block(files, sample, concurrency)
        if executor == "auto":
            executor = "actors" if _one_node(ray) else "ray-data"
        log(f"scoring actors: {concurrency}, {batch_size:,} rows per block ({executor})")
        with (
            _ordered(),
            _block_bytes(_chunk_bytes(sample, batch_size)),
            _quiet_ray_data(),
            StallWatchdog(ray, stall_timeout, concurrency) as watchdog,
        ):
            kwargs, column, classes = _scorer_kwargs(
                [str(c) for c in sample.columns],
                sample,
                model,
                text_column,
                threshold=threshold,
                column_prefix=column_prefix,
                escape=escape,
                concurrency=concurrency,
                model_batch_size=model_batch_size,
                runtime=runtime,
                precision=precision,
                threads=threads,
                board=watchdog.board,
                parts=PartFiles(tmp, out_fs, output_format),
                int8_graph=int8_graph.result,
                log=log,
            )
            if executor == "actors":
                blocks = (
                    block
                    for index in range(len(files.paths))
                    for block in file_blocks(
                        files, index, batch_size, read_options, board=watchdog.board, positions=True
                    )
                )
                tallies: Iterator[pd.DataFrame] = map_on_actors(ray, blocks, BatchScorer, kwargs, concurrency)
            else:
                ds = read_files(
                    files,
                    rows_per_block=batch_size,
                    concurrency=max(2, min(concurrency, len(files.paths))),
                    board=watchdog.board,
                    positions=True,
                    **read_options,
                )
                scored = _map_batches(ds, kwargs, concurrency, batch_size)
                tallies = iter(scored.iter_batches(batch_size=None, batch_format="pandas"))
            statuses: Counter[str] = Counter()
            labels: Counter[str] = Counter()
            try:
                out_fs.create_dir(tmp)
                try:
                    # the actors write the parts; what comes back is each part's counts
                    for tally in tallies:
                        for kind, value, n in tally.itertuples(index=False):
                            (statuses if kind == "status" else labels)[value] += int(n)
                finally:
                    watchdog.disarm()
                    # ended early (an error, a stall): the actors stop now, not when the generator is collected
                    getattr(tallies, "close", lambda: None)()
            except BaseException as exc:
                if out_fs.get_file_info(tmp).type == pafs.FileType.Directory:
                    out_fs.delete_dir(tmp)
                if watchdog.message:
                    raise SentimentError(f"{watchdog.message}; nothing was written to {output}") from None
                if not isinstance(exc, Exception):  # KeyboardInterrupt
                    raise
                raise SentimentError(f"the Ray job failed, nothing was written to {output}: {_reason(exc)}") from None
    try:
        _replace_dir(out_fs, tmp, out_path)
    except OSError as exc:
        raise SentimentError(
            f"the parts were written to {tmp} but could not be moved to {output} "
            f"({str(exc).strip().splitlines()[0]}); move them yourself or rerun with --overwrite"
        ) from None
    names = label_names(classes, escape)
    return ScoreSummary(
        output=output,
        text_column=column,
        encoding=None,
        rows=sum(statuses.values()),
        scored=statuses.get(STATUS_OK, 0),
        status_counts=dict(statuses),
        label_counts={
            name: sum(n for shown, n in labels.items() if names.get(shown, shown) == name)
            for name in map(str, classes.tolist())
        },
        seconds=time.perf_counter() - started,
    )


def _one_node(ray: Any) -> bool:
    """Whether this Ray is one node that this process runs on (not Ray Client): there, this process can read
    the files for the actors (:mod:`sentiment.apps.actor_pool`) at no cost Ray Data would spare."""
    if ray.util.client.ray.is_connected():
        return False
    return sum(1 for node in ray.nodes() if node.get("Alive")) == 1


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


def _replace_dir(fs: pyarrow.fs.FileSystem, tmp: str, final: str) -> None:
    """Move the finished ``tmp`` directory to ``final``, replacing an existing one only after it is complete.

    On a local disk, renames. On object stores (``s3://``...), which have no directories to rename, the
    objects under the old ``final`` are deleted, those under ``tmp`` copied to ``final``, then ``tmp``
    deleted."""
    import pyarrow.fs as pafs

    exists = fs.get_file_info(final).type != pafs.FileType.NotFound
    if not isinstance(fs, pafs.LocalFileSystem):
        if exists:
            fs.delete_dir(final)
        pafs.copy_files(tmp, final, source_filesystem=fs, destination_filesystem=fs)
        fs.delete_dir(tmp)
        return
    old = None
    if exists:
        old = f"{tmp}.old"
        fs.move(final, old)
    fs.move(tmp, final)
    if old:
        fs.delete_dir(old)
