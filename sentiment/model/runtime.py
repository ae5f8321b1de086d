"""Inference back ends and the batching that feeds them; nothing here imports TensorFlow.

A predictor maps padded ids ``(batch, length)`` int32 to the network's output
(``(batch, 1)`` sigmoid for two classes, ``(batch, n)`` softmax otherwise):

* :class:`OnnxPredictor` runs a bundle's ``model.onnx`` (native LSTM operator,
  see :mod:`sentiment.model.onnx_export`) in ONNX Runtime, in fp32 or with dynamic
  int8 quantization;
* :func:`sentiment.model.network.keras_predictor` runs the Keras model (imports TensorFlow; not here).

:func:`predict_sequences` sorts rows by length, pads each batch only as far as
it needs, and returns class probabilities in input order, for either back end.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..config import Config
from ..errors import SentimentError
from ..text.sequences import batch_width, length_sorted_batches, pad

RUNTIMES = ("auto", "onnx", "keras")
PRECISIONS = ("auto", "fp32", "int8")
# Precisions whose probabilities depend on the comment and the model alone, never on the rows scored beside it.
# ONNX Runtime's dynamic int8 (DynamicQuantizeLSTM, MatMulInteger) computes activation scales from the whole
# batch, so a comment's int8 probability moves with its neighbours, its chunk and its engine; "auto" never
# picks it (docs/runtime.md).
BATCH_INVARIANT_PRECISIONS = ("fp32",)
INT8_NOTE = (
    "precision int8 is batch-dependent: activation scales are computed per batch, so the same comment can "
    "get a different probability (up to about 0.1) alone, in another batch, chunk size or engine; use "
    "--precision fp32 (the default) where the same comment must always get the same probability"
)
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


def resolve_precision(precision: str, recorded: str | None = None) -> str:
    """The precision to run: ``precision`` itself unless "auto", which is the bundle's ``recorded`` default when
    that is batch-invariant, else fp32 (a recorded int8, from earlier versions, is ignored)."""
    if precision != "auto":
        return precision
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
    beside it keep their cores. ``precision="int8"`` quantizes weights
    dynamically (``onnxruntime.quantization.quantize_dynamic``) in a temporary
    directory at load time; the bundle is only read.
    """

    def __init__(
        self, graph: bytes, *, precision: str = "fp32", threads: int | None = None, pre_padded: bool = False
    ) -> None:
        import onnxruntime as ort

        check_runtime("onnx", precision)
        if precision == "int8":
            graph = quantize_int8(graph)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or available_cores()
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        self.session = ort.InferenceSession(graph, sess_options=options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.precision = precision
        self.pre_padded = pre_padded

    def __call__(self, ids: np.ndarray) -> np.ndarray:
        ids = np.ascontiguousarray(ids, dtype=np.int32)
        if self.pre_padded:  # the graph's sequence_lens mask needs the real tokens first
            ids = right_align(ids)
        return self.session.run(None, {self.input_name: ids})[0]


def onnx_predictor(graph: bytes, cfg: Config, *, precision: str = "fp32", threads: int | None = None) -> OnnxPredictor:
    """An :class:`OnnxPredictor` fed ids padded as ``cfg`` says (pre-padded masked rows are realigned)."""
    pre_padded = cfg.model.mask_padding and cfg.sequence.padding == "pre"
    return OnnxPredictor(graph, precision=precision, threads=threads, pre_padded=pre_padded)


def quantize_int8(graph: bytes) -> bytes:
    """The graph with int8 weights (dynamic quantization of LSTM, MatMul and Gather)."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    quiet = logging.getLogger()
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # the quantizer logs every tensor it cannot type-infer
    try:
        with tempfile.TemporaryDirectory(prefix="sentiment-int8-") as tmp:
            src, dst = Path(tmp) / "model.onnx", Path(tmp) / "model.int8.onnx"
            src.write_bytes(graph)
            quantize_dynamic(src, dst, weight_type=QuantType.QInt8)
            return dst.read_bytes()
    finally:
        quiet.setLevel(level)


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
    for idx in batches:
        width = batch_width(lengths[idx], maxlen) if bucket else maxlen
        out = predict(pad([sequences[int(i)] for i in idx], maxlen, seq_cfg.padding, seq_cfg.truncating, width))
        if n_classes == 2:
            p = out[:, 0]
            proba[idx, 0], proba[idx, 1] = 1.0 - p, p
        else:
            proba[idx] = out
    return proba
