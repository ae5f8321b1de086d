"""The Keras (Bi)LSTM as an ONNX graph built on ONNX's native ``LSTM`` operator.

The graph is assembled from the Keras weights with ``onnx.helper`` (no
tf2onnx, no tracing)::

    token_ids (batch, length) int32, right-padded with 0
      -> Gather(embedding)                                  (length, batch, dims)
      -> LSTM [, LSTM ...]   one native op per layer, forward or bidirectional,
                             sequence_lens = non-zero ids per row when masked
      -> last valid output  (Y_h: forward = after the last real token,
                             backward = after position 0, as Keras' Bidirectional)
      -> MatMul + Add -> Sigmoid (2 classes, one column) | Softmax (n classes)
      -> probabilities (batch, 1 | n_classes)

Weight layout: Keras keeps one ``kernel`` (input, 4u), ``recurrent_kernel``
(u, 4u) and ``bias`` (4u) per LSTM with gates in the order i, f, c, o; ONNX
wants ``W`` (dirs, 4u, input), ``R`` (dirs, 4u, u) with gates i, o, f, c and
two biases ``Wb``, ``Rb`` that are added, so the Keras bias goes into ``Wb``
and ``Rb`` is zero. Dropout layers are the identity at inference and are
left out.

Only :func:`build_onnx_model` needs ``onnx``; building the graph imports no
TensorFlow (the Keras model is only asked for its layers and weights), the
parity check in :func:`export_checked` runs the Keras model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import BundleError

INPUT = "token_ids"
OUTPUT = "probabilities"
OPSET = 17
PRODUCER = "sentiment.model.onnx_export"


@dataclass
class LstmWeights:
    """One (Bi)LSTM layer in Keras layout: (kernel, recurrent_kernel, bias) per direction, forward first."""

    directions: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
    units: int


@dataclass
class NetworkWeights:
    """What the inference graph needs from a Keras model of :func:`sentiment.model.network.build_model`."""

    embedding: np.ndarray
    lstms: list[LstmWeights]
    dense_kernel: np.ndarray
    dense_bias: np.ndarray
    masked: bool
    activation: str  # "sigmoid" | "softmax"


def network_weights(model) -> NetworkWeights:
    """Read the weights of a ``build_model`` network layer by layer; anything unexpected is refused."""
    embedding = None
    masked = False
    lstms: list[LstmWeights] = []
    dense = None
    names = []
    for layer in model.layers:
        kind = type(layer).__name__
        names.append(f"{layer.name}:{kind}")
        if kind in ("InputLayer", "Dropout"):  # dropout is the identity at inference
            continue
        if kind == "Embedding":
            embedding = np.asarray(layer.get_weights()[0], dtype=np.float32)
            masked = bool(layer.mask_zero)
        elif kind == "LSTM":
            lstms.append(LstmWeights([_lstm_direction(layer)], layer.units))
        elif kind == "Bidirectional":
            if layer.merge_mode != "concat":
                raise BundleError(
                    f"layer {layer.name}: Bidirectional merge_mode {layer.merge_mode!r} cannot be "
                    "exported; only 'concat' (the one build_model uses) is supported"
                )
            lstms.append(
                LstmWeights(
                    [_lstm_direction(layer.forward_layer), _lstm_direction(layer.backward_layer)],
                    layer.forward_layer.units,
                )
            )
        elif kind == "Dense":
            dense = layer
        else:
            raise BundleError(
                f"layer {layer.name} ({kind}) has no ONNX export; the network must be "
                "Embedding -> (Bi)LSTM layers -> Dense, as sentiment.model.network.build_model builds it"
            )
    if embedding is None or not lstms or dense is None:
        raise BundleError(
            f"cannot export this network to ONNX: expected Embedding, LSTM and Dense layers, found {', '.join(names)}"
        )
    activation = dense.activation.__name__
    if activation not in ("sigmoid", "softmax"):
        raise BundleError(f"output layer activation {activation!r} cannot be exported; expected sigmoid or softmax")
    kernel, bias = (np.asarray(w, dtype=np.float32) for w in dense.get_weights())
    return NetworkWeights(embedding, lstms, kernel, bias, masked, activation)


def _lstm_direction(layer) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(kernel, recurrent_kernel, bias) of a Keras LSTM with the settings build_model uses; others are refused."""
    settings = {
        "activation": getattr(layer.activation, "__name__", layer.activation),
        "recurrent_activation": getattr(layer.recurrent_activation, "__name__", layer.recurrent_activation),
        "use_bias": layer.use_bias,
        "return_state": layer.return_state,
        "stateful": layer.stateful,
    }
    expected = {
        "activation": "tanh",
        "recurrent_activation": "sigmoid",
        "use_bias": True,
        "return_state": False,
        "stateful": False,
    }
    if settings != expected:
        bad = {k: v for k, v in settings.items() if expected[k] != v}
        raise BundleError(
            f"LSTM layer {layer.name} uses {bad}; the ONNX export supports Keras' default LSTM ({expected})"
        )
    kernel, recurrent, bias = (np.asarray(w, dtype=np.float32) for w in layer.get_weights())
    return kernel, recurrent, bias


def keras_to_onnx_gates(matrix: np.ndarray, units: int) -> np.ndarray:
    """Reorder the last axis of Keras gate blocks (i, f, c, o) into ONNX's (i, o, f, c)."""
    i, f, c, o = (matrix[..., k * units : (k + 1) * units] for k in range(4))
    return np.concatenate([i, o, f, c], axis=-1)


def _onnx_lstm_tensors(layer: LstmWeights) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ONNX W (dirs, 4u, in), R (dirs, 4u, u), B (dirs, 8u) of one layer."""
    u = layer.units
    W = np.stack([keras_to_onnx_gates(k, u).T for k, _, _ in layer.directions])
    R = np.stack([keras_to_onnx_gates(r, u).T for _, r, _ in layer.directions])
    B = np.stack(
        [np.concatenate([keras_to_onnx_gates(b, u), np.zeros(4 * u, np.float32)]) for _, _, b in layer.directions]
    )
    return (
        np.ascontiguousarray(W, dtype=np.float32),
        np.ascontiguousarray(R, dtype=np.float32),
        np.ascontiguousarray(B, dtype=np.float32),
    )


def build_onnx_model(weights: NetworkWeights):
    """The inference graph as an ``onnx.ModelProto`` (checked with ``onnx.checker``)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes: list[Any] = []
    inits = [numpy_helper.from_array(weights.embedding, "embedding")]

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(value, name))
        return name

    nodes.append(helper.make_node("Transpose", [INPUT], ["ids_t"], perm=[1, 0]))  # (length, batch)
    nodes.append(helper.make_node("Gather", ["embedding", "ids_t"], ["x0"], axis=0))  # (length, batch, dims)
    seq_lens = ""
    if weights.masked:  # real tokens per row; ids are right-padded, so they are the first seq_lens positions
        nodes.append(helper.make_node("Greater", [INPUT, const("zero", np.array(0, np.int32))], ["is_token"]))
        nodes.append(helper.make_node("Cast", ["is_token"], ["is_token32"], to=TensorProto.INT32))
        nodes.append(
            helper.make_node(
                "ReduceSum", ["is_token32", const("axis1", np.array([1], np.int64))], ["seq_lens"], keepdims=0
            )
        )
        seq_lens = "seq_lens"
    x = "x0"
    last = len(weights.lstms) - 1
    for n, layer in enumerate(weights.lstms):
        W, R, B = _onnx_lstm_tensors(layer)
        dirs = len(layer.directions)
        p = f"lstm{n + 1}"
        nodes.append(
            helper.make_node(
                "LSTM",
                [x, const(f"{p}_W", W), const(f"{p}_R", R), const(f"{p}_B", B), seq_lens],
                [f"{p}_Y" if n < last else "", f"{p}_Y_h" if n == last else ""],
                name=p,
                hidden_size=layer.units,
                direction="bidirectional" if dirs == 2 else "forward",
            )
        )
        if n < last:  # Y (length, dirs, batch, u) -> (length, batch, dirs * u): forward then backward, as Keras concat
            nodes.append(helper.make_node("Transpose", [f"{p}_Y"], [f"{p}_Yt"], perm=[0, 2, 1, 3]))
            nodes.append(
                helper.make_node(
                    "Reshape", [f"{p}_Yt", const(f"{p}_shape", np.array([0, 0, -1], np.int64))], [f"{p}_out"]
                )
            )
            x = f"{p}_out"
        else:  # Y_h (dirs, batch, u) -> (batch, dirs * u)
            nodes.append(helper.make_node("Transpose", [f"{p}_Y_h"], [f"{p}_Ht"], perm=[1, 0, 2]))
            nodes.append(
                helper.make_node("Reshape", [f"{p}_Ht", const(f"{p}_shape", np.array([0, -1], np.int64))], ["features"])
            )
    nodes.append(helper.make_node("MatMul", ["features", const("dense_W", weights.dense_kernel)], ["logits0"]))
    nodes.append(helper.make_node("Add", ["logits0", const("dense_b", weights.dense_bias)], ["logits"]))
    if weights.activation == "sigmoid":
        nodes.append(helper.make_node("Sigmoid", ["logits"], [OUTPUT]))
    else:
        nodes.append(helper.make_node("Softmax", ["logits"], [OUTPUT], axis=-1))
    n_out = weights.dense_kernel.shape[1]
    graph = helper.make_graph(
        nodes,
        "sentiment_lstm",
        [helper.make_tensor_value_info(INPUT, TensorProto.INT32, ["batch", "length"])],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch", n_out])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name=PRODUCER)
    model.ir_version = 8  # readable by every onnxruntime >= 1.14
    helper.set_model_props(model, {"masked": str(weights.masked).lower(), "input_padding": "post"})
    onnx.checker.check_model(model)
    return model


PARITY_TOLERANCE = 1e-4  # refuse to write a graph further than this from Keras (measured: about 1e-7)


def export_checked(model, config, rows: int = 64, seed: int = 0) -> tuple[bytes, dict[str, Any]]:
    """The ONNX graph of ``model`` and its ``meta.json`` entry, after comparing it with Keras.

    ``rows`` random id sequences (lengths 0 to ``sequence.maxlen``, padded as
    the config says) are scored by both; a graph whose probabilities differ by
    more than :data:`PARITY_TOLERANCE` is refused.
    """
    import onnxruntime

    from .network import keras_predictor
    from .runtime import onnx_predictor, predict_sequences

    weights = network_weights(model)
    graph = build_onnx_model(weights).SerializeToString()
    rng = np.random.default_rng(seed)
    vocab_size, maxlen = weights.embedding.shape[0], config.sequence.maxlen
    lengths = rng.integers(0, maxlen + 1, rows)
    lengths[:2] = (maxlen, 1)
    sequences = [rng.integers(1, max(vocab_size, 2), n).astype(np.int32) for n in lengths]
    n_classes = max(2, weights.dense_kernel.shape[1])
    keras_proba = predict_sequences(keras_predictor(model), sequences, config, n_classes, batch_size=16)
    onnx_proba = predict_sequences(
        onnx_predictor(graph, config, threads=1), sequences, config, n_classes, batch_size=16
    )
    diff = float(np.abs(keras_proba - onnx_proba).max())
    if not diff <= PARITY_TOLERANCE:
        raise BundleError(
            f"the ONNX graph's probabilities differ from Keras' by {diff:.2e} (more than "
            f"{PARITY_TOLERANCE:g}) on {rows} random sequences; not writing model.onnx. "
            "Please report this with the model's config.toml"
        )
    info = {
        "file": "model.onnx",
        "opset": OPSET,
        "operator": "LSTM",
        "masked": weights.masked,
        "input": f"{INPUT} int32 (batch, length), right-padded with 0",
        "output": OUTPUT,
        "parity_rows": rows,
        "max_abs_diff_vs_keras": diff,
        "onnxruntime": onnxruntime.__version__,
    }
    return graph, info
