"""Inference back ends and the batching that feeds them; nothing here imports TensorFlow.

A predictor maps padded ids ``(batch, length)`` int32 to the network's output
(``(batch, 1)`` sigmoid for two classes, ``(batch, n)`` softmax otherwise):

* :class:`OnnxPredictor` runs a bundle's ``model.onnx`` (native LSTM operator,
  see :mod:`sentiment.model.onnx_export`) in ONNX Runtime, in fp32 or as the
  statically quantized int8 graph of :mod:`sentiment.model.onnx_int8`;
* :func:`sentiment.model.network.keras_predictor` runs the Keras model (imports TensorFlow; not here).

:func:`predict_sequences` sorts rows by length, pads each batch only as far as
it needs, and returns class probabilities in input order, for either back end.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from ..config import Config
from ..errors import BundleError, SentimentError
from ..text.sequences import batch_width, length_sorted_batches, pad

if TYPE_CHECKING:  # pragma: no cover
    from .onnx_int8 import Int8Graph

RUNTIMES = ("auto", "onnx", "keras")
PRECISIONS = ("auto", "fp32", "int8")
# Both precisions are batch-invariant: a comment's probability depends on the comment and the model alone, never
# on the rows scored beside it (fp32 exactly as Keras computes it, to about 1e-7; int8 with scales fixed when the
# graph is built, see sentiment.model.onnx_int8). Earlier versions' int8 was ONNX Runtime's dynamic quantization,
# whose scales came from each batch; a bundle that recorded that int8 as its default loads in fp32 (auto).
BATCH_INVARIANT_PRECISIONS = ("fp32", "int8")
Predictor = Callable[[np.ndarray], np.ndarray]
# Rows per network call: smaller batches keep the LSTM's per-step state in cache (256 took about 10% less CPU
# than 1024 with one thread on the packaged model; docs/runtime.md). Any size gives the same probabilities.
DEFAULT_BATCH_SIZE = 256


def check_runtime(runtime: str, precision: str) -> None:
    """Raise :class:`SentimentError` for an unknown runtime or precision, or int8 without ONNX."""
    if runtime not in RUNTIMES:
        raise SentimentError(f"runtime {runtime!r} is not supported; use one of {', '.join(RUNTIMES)}")
    if precision not in PRECISIONS:
        raise SentimentError(f"precision {precision!r} is not supported; use one of {', '.join(PRECISIONS)}")
    if precision == "int8" and runtime == "keras":
        raise SentimentError(
            "precision 'int8' needs the ONNX runtime; use --runtime onnx (or auto) with "
            "--precision int8, or --precision fp32 with --runtime keras"
        )


def resolve_precision(precision: str, onnx_meta: dict[str, Any] | None = None) -> str:
    """The precision to run: ``precision`` itself unless "auto", which is the default the bundle recorded
    (``meta.json``'s ``onnx`` entry, written by ``benchmarks/precision.py --record``) when it is fp32, or int8
    recorded for this version's static scheme; anything else (an int8 recorded by earlier versions, which was
    batch-dependent, or nothing) gives fp32."""
    if precision != "auto":
        return precision
    from .onnx_int8 import SCHEME

    meta = onnx_meta or {}
    recorded = meta.get("default_precision")
    if recorded == "int8" and meta.get("int8_scheme") != SCHEME:
        return "fp32"
    return recorded if recorded in BATCH_INVARIANT_PRECISIONS else "fp32"


def available_cores() -> int:
    """CPU cores this process may run on (the affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def right_align(ids: np.ndarray) -> np.ndarray:
    """Move each row's non-zero ids to the front (pre-padded rows become post-padded)."""
    lengths = np.count_nonzero(ids, axis=1)
    width = ids.shape[1]
    shift = width - lengths  # a pre-padded row starts at column width - length
    cols = (np.arange(width)[None, :] + shift[:, None]) % width
    out = np.take_along_axis(ids, cols, axis=1)
    out[np.arange(width)[None, :] >= lengths[:, None]] = 0
    return out


class OnnxPredictor:
    """ONNX Runtime session over an exported graph.

    ``threads`` (default: the cores available) sets ONNX Runtime's intra-op
    pool; its threads do not spin while idle, so tokenizer processes running
    beside it keep their cores. ``precision="int8"`` runs the statically
    quantized graph that :mod:`sentiment.model.onnx_int8` builds from the fp32
    one at load time (batch-invariant, like fp32); the bundle is only read.

    The int8 graph is checked here (a graph sentiment's exporter did not write is refused at once) and then
    built, with its session, on a thread of its own: the caller goes on meanwhile (``sentiment score`` starts its
    tokenizer processes and reads the first chunk), and the first prediction waits for it. On the 2-core
    development machine the build took 0.4 to 1.2 s, during which one core was otherwise idle. ``int8``: that
    graph built already, from this ``graph`` (checked by its digest), e.g. once for every Ray actor; its tables
    are used in place, never copied.
    """

    def __init__(
        self,
        graph: bytes,
        *,
        precision: str = "fp32",
        threads: int | None = None,
        pre_padded: bool = False,
        int8: Int8Graph | None = None,
    ) -> None:
        import onnxruntime as ort

        check_runtime("onnx", precision)
        threads = threads or available_cores()
        options = ort.SessionOptions()
        # fp32's fused LSTM splits each batch over the threads; the int8 graph's small per-step operators do not
        # (two threads took 37% more CPU for no gain), so there each thread runs whole batches of its own
        options.intra_op_num_threads = threads if precision == "fp32" else 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3

        def session_of(built: bytes, tables: dict[str, np.ndarray]) -> tuple[Any, dict[str, np.ndarray]]:
            session = ort.InferenceSession(built, sess_options=options, providers=["CPUExecutionProvider"])
            return session, tables

        if precision == "int8":
            from .onnx_int8 import build_int8_graph, read_fp32_graph

            if int8 is not None:
                if int8.source != hashlib.sha256(graph).hexdigest():
                    raise BundleError(
                        "the int8 graph given was built from another model.onnx than this bundle's; build it "
                        "from this bundle (sentiment.model.onnx_int8.build_int8_graph), or leave it out"
                    )
                self._session = completed(session_of(int8.graph, int8.tables))
            else:
                network = read_fp32_graph(graph)  # a foreign graph fails here, not at the first prediction

                def int8_session() -> tuple[Any, dict[str, np.ndarray]]:
                    built = build_int8_graph(network)
                    return session_of(built.graph, built.tables)

                self._session = in_background(int8_session, "sentiment-int8-build")
            self.input_name = "token_ids"  # the int8 graph's input (build_int8_graph), as in the fp32 graph
        else:
            self._session = completed(session_of(graph, {}))
            self.input_name = self.session.get_inputs()[0].name
        self.precision = precision
        self.pre_padded = pre_padded
        self.concurrent_batches = 1 if precision == "fp32" else threads
        self._pool: ThreadPoolExecutor | None = None

    @property
    def session(self) -> Any:
        """The ONNX Runtime session (waits for an int8 build still running; raises what stopped it)."""
        return self._session.result()[0]

    def map_batches(self, work: Callable[[np.ndarray], Any], batches: Sequence[np.ndarray]) -> Iterator[Any]:
        """``work`` over ``batches`` in order, up to ``concurrent_batches`` at a time (ONNX Runtime's ``run`` is
        thread-safe and releases the GIL); a batch's output never depends on the others."""
        if self.concurrent_batches <= 1 or len(batches) <= 1:
            return map(work, batches)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.concurrent_batches, thread_name_prefix="sentiment-onnx")
        return self._pool.map(work, batches)

    def __call__(self, ids: np.ndarray) -> np.ndarray:
        ids = np.ascontiguousarray(ids, dtype=np.int32)
        if self.pre_padded:  # the graph's sequence_lens mask needs the real tokens first
            ids = right_align(ids)
        session, tables = self._session.result()
        return session.run(None, {self.input_name: ids, **tables})[0]


def in_background(make: Callable[[], Any], name: str) -> Future[Any]:
    """``make()`` on a new (non-daemon) thread; its result, or what it raised, comes from the future."""
    future: Future[Any] = Future()

    def run() -> None:
        try:
            future.set_result(make())
        except BaseException as exc:  # handed to whoever asks for the result
            future.set_exception(exc)

    threading.Thread(target=run, name=name).start()
    return future


def completed(value: Any) -> Future[Any]:
    """A future that already holds ``value``."""
    future: Future[Any] = Future()
    future.set_result(value)
    return future


def onnx_predictor(
    graph: bytes,
    cfg: Config,
    *,
    precision: str = "fp32",
    threads: int | None = None,
    int8: Int8Graph | None = None,
) -> OnnxPredictor:
    """An :class:`OnnxPredictor` fed ids padded as ``cfg`` says (pre-padded masked rows are realigned)."""
    pre_padded = cfg.model.mask_padding and cfg.sequence.padding == "pre"
    return OnnxPredictor(graph, precision=precision, threads=threads, pre_padded=pre_padded, int8=int8)


def predict_sequences(
    predict: Predictor,
    sequences: Sequence[np.ndarray],
    cfg: Config,
    n_classes: int,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> np.ndarray:
    """Class probabilities ``(n, n_classes)`` in input order.

    With masking, rows are sorted by length and each batch is padded only to its
    longest row; the result equals full ``maxlen`` padding (tested).
    """
    n = len(sequences)
    proba = np.zeros((n, n_classes), dtype=np.float32)
    if n == 0:
        return proba
    maxlen, seq_cfg = cfg.sequence.maxlen, cfg.sequence
    lengths = np.fromiter((min(len(s), maxlen) for s in sequences), dtype=np.int64, count=n)
    bucket = cfg.model.mask_padding
    batches = (
        length_sorted_batches(lengths, batch_size)
        if bucket
        else [np.arange(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]
    )

    def run(idx: np.ndarray) -> np.ndarray:
        width = batch_width(lengths[idx], maxlen) if bucket else maxlen
        return predict(pad([sequences[int(i)] for i in idx], maxlen, seq_cfg.padding, seq_cfg.truncating, width))

    map_batches = getattr(predict, "map_batches", None)
    outputs = map_batches(run, batches) if map_batches is not None else map(run, batches)
    for idx, out in zip(batches, outputs):
        if n_classes == 2:
            p = out[:, 0]
            proba[idx, 0], proba[idx, 1] = 1.0 - p, p
        else:
            proba[idx] = out
    return proba
