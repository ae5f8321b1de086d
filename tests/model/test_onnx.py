"""The ONNX inference graph: parity with Keras on every network shape, bundles, no TensorFlow when scoring."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, SAMPLE, assert_user_error, run_cli

from sentiment import SentimentClassifier
from sentiment.config import Config
from sentiment.errors import BundleError, SentimentError
from sentiment.model.bundle import ONNX_FILE, add_onnx, read_meta, sha256_file
from sentiment.model.network import build_model
from sentiment.model.onnx_export import build_onnx_model, network_weights
from sentiment.model.runtime import onnx_predictor, predict_sequences, right_align
from sentiment.text.sequences import pad

TOLERANCE = 1e-5
VOCAB = 300


def random_network(units, bidirectional, dims, n_classes, mask=True, padding="post", seed=0):
    """A build_model network with random (not trained) weights, and its config."""
    cfg = Config().with_overrides(
        {
            "model.lstm_units": units,
            "model.bidirectional": bidirectional,
            "model.mask_padding": mask,
            "sequence.padding": padding,
            "sequence.maxlen": 24,
        }
    )
    rng = np.random.default_rng(seed)
    model = build_model(cfg, rng.normal(size=(VOCAB, dims)).astype(np.float32), n_classes)
    model.set_weights([rng.normal(scale=0.4, size=w.shape).astype(np.float32) for w in model.get_weights()])
    return model, cfg


def random_sequences(n, maxlen, seed=1):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, maxlen + 8, n)  # empty rows and rows to truncate included
    return [rng.integers(1, VOCAB, k).astype(np.int32) for k in lengths]


# every network shape the config allows: units per layer, bidirectional, dims, classes, masked, padding side
SHAPES = [
    ([8], False, 50, 2, True, "post"),
    ([8], True, 100, 2, True, "post"),
    ([8, 6], False, 100, 3, True, "post"),
    ([8, 6], True, 50, 3, True, "post"),
    ([8], True, 50, 2, False, "post"),
    ([6, 4], True, 100, 3, False, "pre"),
    ([8, 6], True, 100, 2, True, "pre"),
]


@pytest.mark.parametrize("units, bidirectional, dims, n_classes, mask, padding", SHAPES)
def test_random_weights_match_keras(units, bidirectional, dims, n_classes, mask, padding):
    model, cfg = random_network(units, bidirectional, dims, n_classes, mask, padding)
    graph = build_onnx_model(network_weights(model)).SerializeToString()
    sequences = random_sequences(60, cfg.sequence.maxlen)
    expected = predict_sequences(
        lambda ids: model(ids, training=False).numpy(), sequences, cfg, n_classes, batch_size=16
    )
    got = predict_sequences(onnx_predictor(graph, cfg, threads=1), sequences, cfg, n_classes, batch_size=16)
    assert got.shape == (60, n_classes)
    np.testing.assert_allclose(got, expected, atol=TOLERANCE, rtol=0)
    # the same rows padded to the full length in one batch (no length bucketing)
    full = pad(sequences, cfg.sequence.maxlen, padding, cfg.sequence.truncating)
    np.testing.assert_allclose(
        onnx_predictor(graph, cfg, threads=1)(full), model(full, training=False).numpy(), atol=TOLERANCE, rtol=0
    )


def test_right_align_moves_tokens_first():
    sequences = [np.array([3, 4, 5]), np.array([7]), np.array([], dtype=np.int32), np.array([1, 2, 3, 4])]
    assert np.array_equal(right_align(pad(sequences, 4, "pre")), pad(sequences, 4, "post"))


def test_unsupported_layer_is_refused():
    import keras

    inputs = keras.Input(shape=(None,), dtype="int32")
    x = keras.layers.Embedding(10, 4)(inputs)
    outputs = keras.layers.Dense(1, activation="sigmoid")(keras.layers.GlobalAveragePooling1D()(x))
    with pytest.raises(BundleError, match="GlobalAveragePooling1D"):
        network_weights(keras.Model(inputs, outputs))


@pytest.fixture(scope="module")
def sample_texts():
    import pandas as pd

    return pd.read_csv(SAMPLE)["document"].tolist()


@pytest.fixture(scope="module")
def keras_clf(tiny_model_dir):
    return SentimentClassifier.load(tiny_model_dir, runtime="keras")


def test_trained_bundle_matches_keras(tiny_model, keras_clf, sample_texts, tiny_model_dir):
    assert tiny_model.runtime_ == "onnx" and keras_clf.runtime_ == "keras"
    meta = read_meta(tiny_model_dir)
    assert meta["files"][ONNX_FILE] == sha256_file(tiny_model_dir / ONNX_FILE)
    assert meta["onnx"]["max_abs_diff_vs_keras"] <= TOLERANCE and meta["onnx"]["operator"] == "LSTM"
    ids = tiny_model.encode(sample_texts)
    onnx_proba = tiny_model.predict_ids(ids, batch_size=64)
    np.testing.assert_allclose(onnx_proba, keras_clf.predict_ids(ids, batch_size=64), atol=TOLERANCE, rtol=0)
    one_by_one = np.vstack([tiny_model.predict_ids([s]) for s in ids[:40]])
    np.testing.assert_allclose(one_by_one, onnx_proba[:40], atol=TOLERANCE, rtol=0)


def test_save_load_round_trip_is_identical(tiny_model, sample_texts, tmp_path):
    before = tiny_model.predict_proba(sample_texts[:50])
    path = tiny_model.save(tmp_path / "again")  # reads the Keras model lazily, writes model.onnx again
    again = SentimentClassifier.load(path)
    assert again.runtime_ == "onnx"
    assert np.array_equal(again.predict_proba(sample_texts[:50]), before)


def old_bundle(src, dst):
    """A copy of ``src`` as bundles were before model.onnx existed."""
    shutil.copytree(src, dst)
    (dst / ONNX_FILE).unlink()
    meta = json.loads((dst / "meta.json").read_text())
    del meta["files"][ONNX_FILE], meta["onnx"]
    (dst / "meta.json").write_text(json.dumps(meta))
    return dst


def test_bundle_without_onnx_uses_keras_and_export_adds_it(tiny_model_dir, keras_clf, sample_texts, tmp_path):
    old = old_bundle(tiny_model_dir, tmp_path / "old")
    clf = SentimentClassifier.load(old)
    assert clf.runtime_ == "keras"
    with pytest.raises(BundleError, match="export --model"):
        SentimentClassifier.load(old, runtime="onnx")
    with pytest.raises(BundleError, match="needs an ONNX graph"):
        SentimentClassifier.load(old, precision="int8")
    add_onnx(old)  # in place
    meta = read_meta(old)
    assert ONNX_FILE in meta["files"] and meta["onnx"]["max_abs_diff_vs_keras"] <= TOLERANCE
    assert meta["files"]["model.keras"] == sha256_file(tiny_model_dir / "model.keras")  # copied, not re-saved
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old"]  # no temporary directory left
    upgraded = SentimentClassifier.load(old)
    assert upgraded.runtime_ == "onnx"
    np.testing.assert_allclose(
        upgraded.predict_proba(sample_texts[:60]), keras_clf.predict_proba(sample_texts[:60]), atol=TOLERANCE, rtol=0
    )


def test_tampered_onnx_is_refused(tiny_model_dir, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(tiny_model_dir, bad)
    data = bytearray((bad / ONNX_FILE).read_bytes())
    data[-5] ^= 0xFF
    (bad / ONNX_FILE).write_bytes(bytes(data))
    with pytest.raises(BundleError, match="model.onnx was changed after the model was saved"):
        SentimentClassifier.load(bad)


def test_int8_stays_close(tiny_model, sample_texts, tiny_model_dir):
    int8 = SentimentClassifier.load(tiny_model_dir, precision="int8")
    assert int8.runtime_ == "onnx-int8"
    fp32, q = tiny_model.predict_proba(sample_texts), int8.predict_proba(sample_texts)
    np.testing.assert_allclose(q.sum(axis=1), 1.0, atol=1e-6)
    assert np.abs(q - fp32).max() < 0.1
    assert (q.argmax(axis=1) == fp32.argmax(axis=1)).mean() >= 0.97


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"runtime": "tensorrt"}, "runtime 'tensorrt' is not supported; use one of auto, onnx, keras"),
        ({"precision": "fp16"}, "precision 'fp16' is not supported; use one of auto, fp32, int8"),
        ({"runtime": "keras", "precision": "int8"}, "needs the ONNX runtime"),
    ],
)
def test_bad_runtime_options_are_refused(tiny_model_dir, kwargs, fragment):
    with pytest.raises(SentimentError, match=fragment):
        SentimentClassifier.load(tiny_model_dir, **kwargs)


def run_script(script: str, *args) -> subprocess.CompletedProcess:
    """``script`` in a fresh Python process (this checkout on its path), with ``args`` as its argv."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-c", script, *map(str, args)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


NO_TF_SCRIPT = """
import sys
from sentiment import SentimentClassifier
from sentiment.apps.cli import main
clf = SentimentClassifier.load(sys.argv[1])
proba = clf.predict_proba(["배우 연기 정말 최고", "시간 아깝다"])
assert main(["score", sys.argv[2], "-o", sys.argv[3], "--model", sys.argv[1], "-q"]) == 0
for precision in ("fp32", "int8"):
    SentimentClassifier.load(sys.argv[1], precision=precision).predict(["재밌다"])
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "tf_keras"))
print(proba.shape, loaded)
assert not loaded, loaded
"""


def test_scoring_never_imports_tensorflow(tiny_model_dir, tmp_path):
    """A fresh process loads the bundle, predicts and runs `sentiment score` without importing TensorFlow/Keras."""
    src = tmp_path / "in.csv"
    src.write_text("document\n정말 재밌어요\n최악의 영화\n\n", encoding="utf-8")
    result = run_script(NO_TF_SCRIPT, tiny_model_dir, src, tmp_path / "o.csv")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "(2, 2) []" in result.stdout
    assert (tmp_path / "o.csv").read_text(encoding="utf-8").count(
        "\n"
    ) == 3  # header, 2 rows (the blank line is no row)


def test_cli_runtime_options(tiny_model_dir, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("document\n정말 재밌어요\n최악의 영화\n", encoding="utf-8")
    result = run_cli(
        "score",
        str(src),
        "-o",
        str(tmp_path / "o.csv"),
        "--model",
        str(tiny_model_dir),
        "--precision",
        "int8",
        "--threads",
        "1",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "(onnx-int8)" in result.stderr
    assert_user_error(
        run_cli(
            "score",
            str(src),
            "-o",
            str(tmp_path / "k.csv"),
            "--model",
            str(tiny_model_dir),
            "--runtime",
            "keras",
            "--precision",
            "int8",
        ),
        "needs the ONNX runtime",
    )


@pytest.mark.slow
def test_cli_export_adds_onnx_to_old_bundle(tiny_model_dir, tmp_path):
    old = old_bundle(tiny_model_dir, tmp_path / "old")
    result = run_cli("export", "--model", str(old), "--out", str(tmp_path / "new"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "max |p_onnx - p_keras|" in result.stderr
    assert ONNX_FILE not in {p.name for p in old.iterdir()}  # the source is left alone
    assert read_meta(tmp_path / "new")["files"][ONNX_FILE] == sha256_file(tiny_model_dir / ONNX_FILE)
    assert_user_error(run_cli("export", "--model", str(old)), "--in-place")


def test_recorded_default_precision_is_what_auto_loads(tiny_model_dir, tmp_path):
    """A bundle records its precision figures (benchmarks/precision.py --record) and the default
    precision='auto' loads: fp32 when nothing is recorded, the recorded int8 when it was recorded."""
    import shutil

    from sentiment import SentimentClassifier
    from sentiment.model.bundle import read_meta, set_default_precision

    path = tmp_path / "bundle"
    shutil.copytree(tiny_model_dir, path)
    assert SentimentClassifier.load(path).runtime_ == "onnx"  # nothing recorded: fp32
    figures = {
        "max_loss_points": 0.1,
        "results": {
            "sample": {
                "rows": 10,
                "fp32": {"accuracy": 0.9, "macro_f1": 0.9},
                "int8": {"accuracy": 0.9, "macro_f1": 0.9},
                "label_changes": 0,
            }
        },
    }
    set_default_precision(path, "int8", figures)
    meta = read_meta(path)  # checksums still hold
    assert meta["onnx"]["default_precision"] == "int8" and meta["onnx"]["precision_evaluation"] == figures
    assert "## Precision" in (path / "MODEL_CARD.md").read_text() if (path / "MODEL_CARD.md").is_file() else True
    assert SentimentClassifier.load(path).runtime_ == "onnx-int8"
    assert SentimentClassifier.load(path, precision="fp32").runtime_ == "onnx"
    assert SentimentClassifier.load(path, runtime="keras").runtime_ == "keras"  # auto: fp32 on Keras
