"""The static int8 graph: close to fp32 on every network shape, batch-invariant, and loaded without ``import onnx``."""

import numpy as np
import pytest
from model.test_onnx import SHAPES, random_network, random_sequences, run_script

from sentiment.model.onnx_export import build_onnx_model, network_weights
from sentiment.model.onnx_int8 import WEIGHT_LEVELS, build_int8_graph, fold_input_table, quantize_columns
from sentiment.model.runtime import onnx_predictor, predict_sequences


@pytest.mark.parametrize("units, bidirectional, dims, n_classes, mask, padding", SHAPES)
def test_int8_tracks_fp32_and_ignores_the_batch(units, bidirectional, dims, n_classes, mask, padding):
    model, cfg = random_network(units, bidirectional, dims, n_classes, mask, padding)
    graph = build_onnx_model(network_weights(model)).SerializeToString()
    sequences = random_sequences(120, cfg.sequence.maxlen)
    fp32 = predict_sequences(onnx_predictor(graph, cfg, threads=1), sequences, cfg, n_classes, batch_size=16)
    int8 = onnx_predictor(graph, cfg, precision="int8", threads=2)
    got = predict_sequences(int8, sequences, cfg, n_classes, batch_size=16)
    assert np.abs(got - fp32).max() < 0.01  # measured: at most 0.0022 on these shapes
    assert (got.argmax(axis=1) == fp32.argmax(axis=1)).mean() >= 0.97
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-6)
    alone = np.vstack([predict_sequences(int8, [s], cfg, n_classes) for s in sequences])
    np.testing.assert_array_equal(alone, got)
    order = np.random.default_rng(0).permutation(len(sequences))
    shuffled = predict_sequences(int8, [sequences[i] for i in order], cfg, n_classes, batch_size=256)
    np.testing.assert_array_equal(shuffled, got[order])


def test_a_graph_built_once_is_used_in_place_by_every_predictor_of_its_model():
    """The folded tables are graph inputs fed from the built arrays (read-only ones too, as Ray's object store
    maps them): never copied into a session, the same probabilities; a graph built from another model is refused."""
    import hashlib

    from sentiment.errors import BundleError

    model, cfg = random_network(*SHAPES[0])
    graph = build_onnx_model(network_weights(model)).SerializeToString()
    built = build_int8_graph(graph)
    assert built.source == hashlib.sha256(graph).hexdigest()
    assert built.tables and all(t.dtype == np.float32 and t.flags.c_contiguous for t in built.tables.values())
    for table in built.tables.values():
        table.flags.writeable = False
    shared = onnx_predictor(graph, cfg, precision="int8", threads=1, int8=built)
    _, fed = shared._session.result()
    assert all(fed[name] is table for name, table in built.tables.items())  # the arrays themselves, not copies
    sequences = random_sequences(60, cfg.sequence.maxlen)
    own = predict_sequences(onnx_predictor(graph, cfg, precision="int8", threads=1), sequences, cfg, 2)
    np.testing.assert_array_equal(predict_sequences(shared, sequences, cfg, 2), own)

    other = build_onnx_model(network_weights(random_network(*SHAPES[1])[0])).SerializeToString()
    with pytest.raises(BundleError, match="built from another model.onnx"):
        onnx_predictor(other, cfg, precision="int8", threads=1, int8=built)


def test_quantize_columns_is_symmetric_per_column_and_7_bit():
    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(16, 5)).astype(np.float32) * np.array([1, 10, 0.01, 1, 0], np.float32)
    values, scale = quantize_columns(matrix)
    assert values.dtype == np.int8 and scale.shape == (5,) and scale.dtype == np.float32
    assert np.abs(values).max() <= WEIGHT_LEVELS  # uint8 x int8 pair sums stay inside int16
    assert (np.abs(values[:, :4]).max(axis=0) == WEIGHT_LEVELS).all()  # each column uses its whole range
    assert np.all(np.abs(values * scale - matrix) <= scale / 2 + 1e-7)
    assert (values[:, 4] == 0).all() and scale[4] == 1.0  # an all-zero column


def test_folded_table_is_embedding_times_kernel_plus_bias():
    rng = np.random.default_rng(1)
    embedding, kernel, bias = (rng.normal(size=s).astype(np.float32) for s in ((1000, 20), (32, 20), (32,)))
    table = fold_input_table(embedding, kernel, bias, rows=300)
    assert table.shape == (1000, 32) and table.dtype == np.float32
    np.testing.assert_allclose(table, embedding @ kernel.T + bias, rtol=1e-5, atol=1e-5)


def test_graph_from_a_foreign_model_is_refused():
    from sentiment.errors import BundleError
    from sentiment.model.onnx_int8 import onnx_proto

    pb = onnx_proto()
    model = pb.ModelProto(ir_version=8, graph=pb.GraphProto(name="other"))
    with pytest.raises(BundleError, match="not written by sentiment's exporter"):
        build_int8_graph(model.SerializeToString())


def test_int8_build_runs_beside_the_caller_and_its_failure_reaches_the_first_prediction(monkeypatch):
    """The graph is checked at load (a foreign graph is refused at once); the build and its session run on a
    thread of their own, and what stops them is raised by the first prediction, not lost."""
    import threading

    from sentiment.errors import BundleError
    from sentiment.model import onnx_int8
    from sentiment.model.onnx_int8 import onnx_proto

    model, cfg = random_network(*SHAPES[0])
    graph = build_onnx_model(network_weights(model)).SerializeToString()
    foreign = onnx_proto().ModelProto(ir_version=8, graph=onnx_proto().GraphProto(name="other"))
    with pytest.raises(BundleError, match="not written by sentiment's exporter"):
        onnx_predictor(foreign.SerializeToString(), cfg, precision="int8")

    entered, release, names = threading.Event(), threading.Event(), []
    built = onnx_int8.build_int8_graph

    def held_build(network):
        names.append(threading.current_thread().name)
        entered.set()
        assert release.wait(30), "the test did not release the build"
        return built(network)

    monkeypatch.setattr(onnx_int8, "build_int8_graph", held_build)
    predictor = onnx_predictor(graph, cfg, precision="int8", threads=1)  # returns while the build is held
    assert entered.wait(30) and names == ["sentiment-int8-build"]
    release.set()
    sequences = random_sequences(20, cfg.sequence.maxlen)
    expected = predict_sequences(onnx_predictor(graph, cfg, precision="int8", threads=1), sequences, cfg, 2)
    np.testing.assert_array_equal(predict_sequences(predictor, sequences, cfg, 2), expected)

    def failing_build(network):
        raise MemoryError("no room for the tables")

    monkeypatch.setattr(onnx_int8, "build_int8_graph", failing_build)
    broken = onnx_predictor(graph, cfg, precision="int8", threads=1)  # nothing raised yet
    with pytest.raises(MemoryError, match="no room for the tables"):
        predict_sequences(broken, sequences, cfg, 2)


NO_ONNX_SCRIPT = """
import sys
from sentiment import SentimentClassifier
clf = SentimentClassifier.load(sys.argv[1], precision="int8")
proba = clf.predict_proba(["배우 연기 정말 최고", "시간 아깝다"])
heavy = sorted(m for m in ("onnx", "ml_dtypes", "tensorflow", "keras") if m in sys.modules)
import onnx  # imported afterwards, it shares the protobuf classes the int8 graph was built with
assert onnx.ModelProto is sys.modules["onnx.onnx_ml_pb2"].ModelProto
print(clf.runtime_, proba.shape, heavy)
"""


def test_int8_loads_without_importing_onnx_or_tensorflow(tiny_model_dir):
    result = run_script(NO_ONNX_SCRIPT, tiny_model_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "onnx-int8 (2, 2) []" in result.stdout


def test_a_bundles_int8_graph_is_built_once_and_handed_to_its_loads(tiny_model_dir):
    """``bundle_int8_graph`` builds what ``load`` would build (nothing when the load runs fp32 or Keras); a load
    given it scores as one that builds its own, and a load in another precision refuses it."""
    from sentiment import SentimentClassifier
    from sentiment.errors import SentimentError
    from sentiment.model.bundle import bundle_int8_graph

    assert bundle_int8_graph(tiny_model_dir, precision="fp32") is None
    assert bundle_int8_graph(tiny_model_dir, runtime="keras", precision="auto") is None
    built = bundle_int8_graph(tiny_model_dir, precision="int8")
    assert built is not None
    texts = ["정말 재미있어요", "최악의 영화", "", "그냥 그랬다 ㅋㅋ"]
    given = SentimentClassifier.load(tiny_model_dir, precision="int8", int8_graph=built)
    own = SentimentClassifier.load(tiny_model_dir, precision="int8")
    np.testing.assert_array_equal(given.predict_proba(texts), own.predict_proba(texts))
    with pytest.raises(SentimentError, match="int8_graph is for a model run in int8"):
        SentimentClassifier.load(tiny_model_dir, precision="fp32", int8_graph=built)
