"""The int8 inference graph: statically quantized, so a comment's probability never depends on its batch.

Built when a model is loaded with ``precision="int8"``, from the bundle's fp32 ``model.onnx`` (see
:mod:`sentiment.model.onnx_export`); nothing is written to the bundle and nothing needs TensorFlow.

Why it is batch-invariant: ONNX Runtime's dynamic quantization scales each batch's activations by that batch's
largest value, so a comment's probability moved with its neighbours. Here every scale is fixed when the graph is
built. The recurrent input of an LSTM is its hidden state ``h = o * tanh(c)``, which lies in (-1, 1) whatever the
comment, so it is quantized with the fixed scale 1/127 (uint8, zero point 128) with no calibration data at all;
weights are quantized per output column. The rows of a batch never meet: each one's integer products are exact,
and the fp32 steps around them are row by row (tested: alone, in any batch and in any order, to 0.0).

The graph, per (Bi)LSTM layer::

    layer 1:   x_t = P[token_t]            P = embedding @ W.T + b, one table per gate (directions stacked),
                                           computed at load (the embedding and input kernel folded: no input
                                           product at run time), read inside the step below
    layer n>1: x_t = int8(h_prev_t) @ int8(W) + b     (the previous layer's states, in (-1, 1) too)
    Scan over the steps, every direction at once, each gate k in (i, o, f, g) its own tensor:
        gate_k = int8(h) @ int8(R_k) + x_t,k -> i, o, f = sigmoid, g = tanh; c = f*c + i*g; h = o*tanh(c)
        (h is carried between steps as its uint8 code)
    each row's h after its own last token (forward; backward = the row's tokens reversed, padding excluded)
    -> Dense (fp32) -> sigmoid | softmax

One tensor per gate, not one (batch, 4u) product split four ways: no copies for the split, and each step reads
its rows of the tables while its products are still in cache (about 15% less inference CPU than the split form on
the packaged model, the same integers and probabilities).

Weights use 7 bits (|q| <= 63): a uint8 x int8 pair sum then stays inside 16 bits, so CPUs without VNNI
(``vpmaddubsw``) cannot saturate and every x86 CPU computes the same integers. The folded tables are fp32 and
take ``vocabulary x 4 x units x directions`` floats (199 MB for the packaged model). They are inputs of the graph
beside the ids, fed with every run from the arrays built here: ONNX Runtime copies an initializer into the session
(another 199 MB, written page by page when the session is made), never an input, and processes that map the same
arrays share them (the Ray engine builds them once and its actors read them from the object store).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BundleError

H_SCALE = np.float32(1.0 / 127.0)  # hidden states lie in (-1, 1): 127 steps each side of the zero point
H_ZERO = np.uint8(128)
WEIGHT_LEVELS = 63  # 7-bit weights: uint8 x int8 pair sums stay within int16 on every x86 CPU
SCHEME = "static-int8: hidden states at scale 1/127, per-column 7-bit weights, folded input tables"


@dataclass
class Int8Graph:
    """A serialized int8 graph, the folded input tables it takes as inputs beside the comments' ids (name ->
    array, fed with every run and never copied: processes that map the same arrays, such as Ray actors reading
    them from the object store, share one copy), and the SHA-256 of the fp32 graph it was built from."""

    graph: bytes
    tables: dict[str, np.ndarray]
    source: str


def onnx_proto() -> Any:
    """ONNX's generated protobuf classes (``ModelProto``, ``TensorProto``, ...).

    ``import onnx`` takes about 0.6 s here (it imports ml_dtypes), more than the rest of loading a model; the
    classes live in a generated module that needs only protobuf. It is loaded under its own name, so that a later
    ``import onnx`` in the process finds it in ``sys.modules`` and shares it."""
    import importlib.util
    import sys

    name = "onnx.onnx_ml_pb2"
    if name in sys.modules:
        return sys.modules[name]
    package = importlib.util.find_spec("onnx")
    if package is None or package.origin is None:
        raise BundleError("precision 'int8' needs the onnx package; install it with `pip install onnx`")
    spec = importlib.util.spec_from_file_location(name, Path(package.origin).parent / "onnx_ml_pb2.py")
    if spec is None or spec.loader is None:
        raise BundleError("precision 'int8' could not find onnx's protobuf classes; reinstall onnx")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


_ELEMENT_TYPES = {"float32": 1, "uint8": 2, "int8": 3, "int32": 6, "int64": 7, "bool": 9}
_NUMPY_TYPES = {code: np.dtype(name) for name, code in _ELEMENT_TYPES.items()}


def _tensor(pb: Any, name: str, value: np.ndarray) -> Any:
    value = np.asarray(value)
    tensor = pb.TensorProto(name=name, data_type=_ELEMENT_TYPES[value.dtype.name], dims=list(value.shape))
    tensor.raw_data = np.ascontiguousarray(value).tobytes()
    return tensor


def _array(tensor: Any) -> np.ndarray:
    """The values of an initializer (raw bytes, as ONNX's exporters write them, or typed fields)."""
    dtype = _NUMPY_TYPES.get(tensor.data_type)
    if dtype is None:
        raise BundleError(f"model.onnx: initializer {tensor.name!r} has an element type this loader does not read")
    if tensor.raw_data:
        values = np.frombuffer(tensor.raw_data, dtype=dtype)
    else:
        field = {1: tensor.float_data, 6: tensor.int32_data, 7: tensor.int64_data}.get(tensor.data_type, [])
        values = np.asarray(list(field), dtype=dtype)
    return values.reshape(list(tensor.dims))


def _node(pb: Any, op: str, inputs: list[str], outputs: list[str], domain: str = "", **attrs: Any) -> Any:
    node = pb.NodeProto(op_type=op, input=inputs, output=outputs, domain=domain)
    for key, value in attrs.items():
        attr = node.attribute.add(name=key)
        if isinstance(value, int):
            attr.type, attr.i = pb.AttributeProto.INT, value
        elif isinstance(value, list):
            attr.type = pb.AttributeProto.INTS
            attr.ints.extend(value)
        elif isinstance(value, pb.GraphProto):
            attr.type = pb.AttributeProto.GRAPH
            attr.g.CopyFrom(value)
        else:
            attr.type = pb.AttributeProto.TENSOR
            attr.t.CopyFrom(value)
    return node


def _value_info(pb: Any, name: str, element: str, shape: list[int | str | None]) -> Any:
    info = pb.ValueInfoProto(name=name)
    info.type.tensor_type.elem_type = _ELEMENT_TYPES[element]
    dims = info.type.tensor_type.shape
    for size in shape:
        dim = dims.dim.add()
        if isinstance(size, int):
            dim.dim_value = size
        elif isinstance(size, str):
            dim.dim_param = size
    return info


def quantize_columns(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(int8 values, fp32 scale per column)`` of a ``(rows, columns)`` matrix, symmetric, 7 bits."""
    peak = np.abs(matrix).max(axis=0)
    scale = np.where(peak > 0, peak / WEIGHT_LEVELS, 1.0).astype(np.float32)
    values = np.clip(np.rint(matrix / scale), -WEIGHT_LEVELS, WEIGHT_LEVELS).astype(np.int8)
    return values, scale


def fold_input_table(
    embedding: np.ndarray, kernel: np.ndarray, bias: np.ndarray, rows: int = 4096, out: np.ndarray | None = None
) -> np.ndarray:
    """``embedding @ kernel.T + bias`` (vocabulary, kernel rows) fp32, in blocks of ``rows`` into one preallocated
    array (``out``), with one BLAS thread: waking BLAS's thread pool in a fresh process took 0.2 to 0.4 s per table
    here, one thread a steady 0.14 s for the packaged model's eight 48,547 x 128 tables (4 gates x 2 directions)."""
    from threadpoolctl import threadpool_limits

    kernel_t = np.ascontiguousarray(kernel.T, dtype=np.float32)
    if out is None:
        out = np.empty((embedding.shape[0], kernel.shape[0]), dtype=np.float32)
    with threadpool_limits(1, user_api="blas"):
        for start in range(0, embedding.shape[0], rows):
            block = out[start : start + rows]
            np.matmul(embedding[start : start + rows], kernel_t, out=block)
            block += bias
    return out


@dataclass
class _Layer:
    W: np.ndarray  # (dirs, 4u, input), ONNX gate order i, o, f, c
    R: np.ndarray  # (dirs, 4u, u)
    B: np.ndarray  # (dirs, 8u): Wb then Rb
    units: int

    @property
    def dirs(self) -> int:
        return int(self.W.shape[0])

    def bias(self, d: int) -> np.ndarray:
        return (self.B[d, : 4 * self.units] + self.B[d, 4 * self.units :]).astype(np.float32)

    def gate(self, k: int) -> slice:
        """Gate ``k``'s rows of W, R and the bias (ONNX order i, o, f, c)."""
        return slice(k * self.units, (k + 1) * self.units)


@dataclass
class Fp32Network:
    """What the int8 graph is built from: the fp32 graph's initializers, its LSTM layers in order, whether it
    masks padding, and its output activation."""

    tensors: dict[str, np.ndarray]
    layers: list[_Layer]
    masked: bool
    activation: str
    digest: str  # SHA-256 of the fp32 graph


def read_fp32_graph(graph: bytes) -> Fp32Network:
    """The network in a graph from ``build_onnx_model``; :class:`BundleError` for any other graph."""
    pb = onnx_proto()
    model = pb.ModelProto.FromString(graph)
    tensors = {t.name: _array(t) for t in model.graph.initializer}
    props = {p.key: p.value for p in model.metadata_props}
    layers = []
    for node in model.graph.node:
        if node.op_type == "LSTM":
            units = next(a.i for a in node.attribute if a.name == "hidden_size")
            layers.append(_Layer(tensors[node.input[1]], tensors[node.input[2]], tensors[node.input[3]], int(units)))
    activation = model.graph.node[-1].op_type.lower() if model.graph.node else ""
    if not layers or "embedding" not in tensors or "dense_W" not in tensors or activation not in ("sigmoid", "softmax"):
        raise BundleError(
            "this model.onnx was not written by sentiment's exporter (Embedding -> LSTM -> Dense); "
            "use --precision fp32, or re-export it with `sentiment export --model MODEL --in-place`"
        )
    digest = hashlib.sha256(graph).hexdigest()
    return Fp32Network(tensors, layers, props.get("masked", "true") == "true", activation, digest)


class _GraphBuilder:
    """Nodes and initializers of one ONNX graph (the main graph or a Scan body)."""

    def __init__(self, pb: Any) -> None:
        self.pb = pb
        self.nodes: list[Any] = []
        self.inits: list[Any] = []

    def const(self, name: str, value: Any) -> str:
        self.inits.append(_tensor(self.pb, name, np.asarray(value)))
        return name

    def node(self, op: str, inputs: list[str], outputs: list[str], **kw: Any) -> None:
        self.nodes.append(_node(self.pb, op, inputs, outputs, **kw))

    def graph(self, name: str, inputs: list[Any], outputs: list[Any]) -> Any:
        return self.pb.GraphProto(name=name, node=self.nodes, initializer=self.inits, input=inputs, output=outputs)


def build_int8_graph(graph: bytes | Fp32Network) -> Int8Graph:
    """The static int8 graph of an fp32 ``model.onnx`` (same input and output as the fp32 graph).

    Every direction of a layer runs in one ``Scan`` (states ``(directions, batch, units)``). A row's steps are
    its non-padding ids: the backward direction reads them reversed within the row (``ReverseSequence``), so
    both directions start at the row's first step, and the row's state is read after its own last step; steps
    past a row's end are computed and ignored (no per-step masking)."""
    net = graph if isinstance(graph, Fp32Network) else read_fp32_graph(graph)
    tensors, layers, masked, activation = net.tensors, net.layers, net.masked, net.activation
    pb = onnx_proto()
    g = _GraphBuilder(pb)
    tables: dict[str, np.ndarray] = {}
    for name, value in (("axis0", [0]), ("axis1", [1]), ("one", 1), ("zero", 0)):
        g.const(name, np.array(value, np.int64))
    g.node("Transpose", ["token_ids"], ["ids_t"], perm=[1, 0])  # (length, batch)
    # a row's steps: its non-padding ids (every step, for a network that does not mask padding)
    g.node("Greater", ["ids_t", g.const("pad_below", np.array(0 if masked else -1, np.int32))], ["real"])
    g.node("Cast", ["real"], ["real64"], to=pb.TensorProto.INT64)
    g.node("ReduceSum", ["real64", "axis0"], ["lengths"], keepdims=0)  # (batch,)
    g.node("ReverseSequence", ["ids_t", "lengths"], ["ids_r"], batch_axis=1, time_axis=0)
    g.node("Sub", ["lengths", "one"], ["last_step0"])
    g.node("Max", ["last_step0", "zero"], ["last_step"])  # the step after which a row's state is read
    g.node("Reshape", ["last_step", g.const("step_shape", np.array([1, 1, -1, 1], np.int64))], ["last_index"])
    g.node("Greater", ["lengths", "zero"], ["nonempty"])
    g.node("Cast", ["nonempty"], ["nonempty_f"], to=pb.TensorProto.FLOAT)
    g.node("Reshape", ["nonempty_f", g.const("keep_shape", np.array([1, -1, 1], np.int64))], ["keep"])
    g.node("Shape", ["token_ids"], ["ids_shape"])
    g.node("Slice", ["ids_shape", "axis0", "axis1"], ["batch"])
    if len(layers) > 1:
        g.const("h_scale", np.array(H_SCALE))
        g.const("h_zero", np.array(H_ZERO))
    zero_state = _tensor(pb, "zero_state", np.zeros(1, np.float32))
    vocab = tensors["embedding"].shape[0]
    seq = ""  # the previous layer's states (length, batch, directions * units), in time order
    for n, layer in enumerate(layers):
        p, last, dirs, u = f"l{n + 1}", n == len(layers) - 1, layer.dirs, layer.units
        shape = [g.const(f"{p}_dirs", np.array([dirs], np.int64)), "batch", g.const(f"{p}_u", np.array([u], np.int64))]
        g.node("Concat", shape, [f"{p}_shape"], axis=0)
        g.node("ConstantOfShape", [f"{p}_shape"], [f"{p}_zeros"], value=zero_state)
        if n == 0:  # folded tables per gate, directions stacked: the backward direction's ids are offset by vocab
            for k in range(4):
                table, gate = f"{p}_P{k}", layer.gate(k)
                tables[table] = np.empty((dirs * vocab, u), dtype=np.float32)
                for d in range(dirs):
                    block = tables[table][d * vocab : (d + 1) * vocab]
                    fold_input_table(tensors["embedding"], layer.W[d][gate], layer.bias(d)[gate], out=block)
            g.node("Unsqueeze", ["ids_t", "axis1"], [f"{p}_ids0"])
            if dirs == 2:
                g.node("Add", ["ids_r", g.const(f"{p}_offset", np.array(vocab, np.int32))], [f"{p}_ids_b"])
                g.node("Unsqueeze", [f"{p}_ids_b", "axis1"], [f"{p}_ids1"])
                g.node("Concat", [f"{p}_ids0", f"{p}_ids1"], [f"{p}_ids"], axis=1)
            else:
                g.node("Identity", [f"{p}_ids0"], [f"{p}_ids"])
            scan_in = [f"{p}_ids"]  # (length, dirs, batch)
        else:  # the previous layer's states, quantized like any hidden state; one product per gate and direction
            g.node("ReverseSequence", [seq, "lengths"], [f"{seq}_r"], batch_axis=1, time_axis=0)
            for d in range(dirs):
                g.node("QuantizeLinear", [seq if d == 0 else f"{seq}_r", "h_scale", "h_zero"], [f"{p}_q{d}"])
            scan_in = []
            for k in range(4):
                xs, gate = [], layer.gate(k)
                for d in range(dirs):
                    Wq, Ws = quantize_columns(layer.W[d][gate].T)
                    weights = [g.const(f"{p}_Wq{d}{k}", Wq), "h_scale", g.const(f"{p}_Ws{d}{k}", Ws), "h_zero", ""]
                    bias = g.const(f"{p}_b{d}{k}", layer.bias(d)[gate])
                    out = f"{p}_x{d}{k}"
                    g.node("MatMulIntegerToFloat", [f"{p}_q{d}", *weights, bias], [out + "_"], domain="com.microsoft")
                    g.node("Unsqueeze", [out + "_", "axis1"], [out])
                    xs.append(out)
                g.node("Concat" if dirs == 2 else "Identity", xs, [f"{p}_x{k}"], **({"axis": 1} if dirs == 2 else {}))
                scan_in.append(f"{p}_x{k}")  # (length, dirs, batch, u)
        g.node("ConstantOfShape", [f"{p}_shape"], [f"{p}_hq0"], value=_tensor(pb, "zero_h", np.array([H_ZERO])))
        body = _step_graph(pb, layer, tables=[f"{p}_P{k}" for k in range(4)] if n == 0 else None)
        outs = [f"{p}_h_end", f"{p}_c_end", f"{p}_Y"]  # Y: (length, dirs, batch, u), every step's h
        g.node("Scan", [f"{p}_hq0", f"{p}_zeros", *scan_in], outs, num_scan_inputs=len(scan_in), body=body)
        if not last:  # -> (length, batch, dirs * u) in time order: the backward states reversed back
            parts = []
            for d in range(dirs):
                g.node("Gather", [f"{p}_Y", g.const(f"{p}_d{d}", np.array(d, np.int64))], [f"{p}_Y{d}"], axis=1)
                if d == 1:
                    g.node("ReverseSequence", [f"{p}_Y1", "lengths"], [f"{p}_Y1_fwd"], batch_axis=1, time_axis=0)
                parts.append(f"{p}_Y{d}" if d == 0 else f"{p}_Y1_fwd")
            seq = f"{p}_seq"
            g.node("Concat", parts, [seq], axis=2)
        else:  # each row's state after its last step -> (batch, dirs * u): forward then backward, as Keras
            g.node("Shape", [f"{p}_Y"], [f"{p}_Y_shape"])
            g.node("Slice", [f"{p}_Y_shape", "axis1", g.const("four", np.array([4], np.int64))], [f"{p}_Y_rest"])
            g.node("Concat", ["axis1", f"{p}_Y_rest"], [f"{p}_index_shape"], axis=0)
            g.node("Expand", ["last_index", f"{p}_index_shape"], [f"{p}_index"])
            g.node("GatherElements", [f"{p}_Y", f"{p}_index"], [f"{p}_h1"], axis=0)  # (1, dirs, batch, u)
            g.node("Squeeze", [f"{p}_h1", "axis0"], [f"{p}_h"])
            g.node("Mul", [f"{p}_h", "keep"], [f"{p}_h_kept"])  # a row without tokens: zero state
            g.node("Transpose", [f"{p}_h_kept"], [f"{p}_h_t"], perm=[1, 0, 2])
            g.node("Reshape", [f"{p}_h_t", g.const("flat", np.array([0, -1], np.int64))], ["features"])
    g.node("MatMul", ["features", g.const("dense_W", tensors["dense_W"])], ["logits0"])
    g.node("Add", ["logits0", g.const("dense_b", tensors["dense_b"])], ["logits"])
    if activation == "sigmoid":
        g.node("Sigmoid", ["logits"], ["probabilities"])
    else:
        g.node("Softmax", ["logits"], ["probabilities"], axis=-1)
    n_out = int(tensors["dense_W"].shape[1])
    main = g.graph(
        "sentiment_lstm_int8",
        [
            _value_info(pb, "token_ids", "int32", ["batch", "length"]),
            *(_value_info(pb, name, "float32", list(table.shape)) for name, table in tables.items()),
        ],
        [_value_info(pb, "probabilities", "float32", ["batch", n_out])],
    )
    model = pb.ModelProto(ir_version=8, producer_name="sentiment.model.onnx_int8", graph=main)
    model.opset_import.add(domain="", version=17)
    model.opset_import.add(domain="com.microsoft", version=1)
    model.metadata_props.add(key="scheme", value=SCHEME)
    return Int8Graph(model.SerializeToString(), tables, net.digest)


def _step_graph(pb: Any, layer: _Layer, tables: list[str] | None) -> Any:
    """The Scan body of one layer: one step of every direction at once, each gate its own tensor (no splits).

    In: the quantized h (uint8) and c ``(dirs, batch, u)``, and the step's ids ``(dirs, batch)`` (layer 1: its
    inputs are rows of the folded tables, gathered here while the rest of the step still has them in cache) or
    its inputs per gate ``(dirs, batch, u)``; out: the next quantized h and c, and h as the step's output."""
    u, dirs = layer.units, layer.dirs
    g = _GraphBuilder(pb)
    hs, hz = g.const("hs", np.array(H_SCALE)), g.const("hz", np.array(H_ZERO))
    gates = []
    for k, act in enumerate(("Sigmoid", "Sigmoid", "Sigmoid", "Tanh")):  # ONNX gate order i, o, f, c
        quantized = [quantize_columns(layer.R[d][layer.gate(k)].T) for d in range(dirs)]  # (u, u) each
        Rq = np.stack([q for q, _ in quantized])
        Rs = np.stack([s for _, s in quantized])[:, None, :]  # (dirs, 1, u): per column, per direction
        weights = [g.const(f"Rq{k}", Rq), hs, g.const(f"Rs{k}", Rs), hz]
        g.node("MatMulIntegerToFloat", ["hq", *weights], [f"r{k}"], domain="com.microsoft")
        if tables:
            g.node("Gather", [tables[k], "ids"], [f"x{k}"], axis=0)
        g.node("Add", [f"r{k}", f"x{k}"], [f"g{k}"])
        g.node(act, [f"g{k}"], [f"a{k}"])
        gates.append(f"a{k}")
    i, o, f, cand = gates
    g.node("Mul", [f, "c"], ["fc"])
    g.node("Mul", [i, cand], ["ic"])
    g.node("Add", ["fc", "ic"], ["c_next"])
    g.node("Tanh", ["c_next"], ["tc"])
    g.node("Mul", [o, "tc"], ["h_step"])
    g.node("QuantizeLinear", ["h_step", hs, hz], ["hq_next"])
    state = [_value_info(pb, "hq", "uint8", [dirs, None, u]), _value_info(pb, "c", "float32", [dirs, None, u])]
    if tables:
        step_in = [_value_info(pb, "ids", "int32", [dirs, None])]
    else:
        step_in = [_value_info(pb, f"x{k}", "float32", [dirs, None, u]) for k in range(4)]
    out = [_value_info(pb, "hq_next", "uint8", [dirs, None, u])]
    out += [_value_info(pb, name, "float32", [dirs, None, u]) for name in ("c_next", "h_step")]
    return g.graph("lstm_step", state + step_in, out)
