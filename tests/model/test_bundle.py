"""The model directory: contents, checksums, versions, safe loading."""

import json
import shutil

import pytest

from sentiment import SentimentClassifier
from sentiment.errors import BundleError
from sentiment.model.bundle import FORMAT_VERSION, read_meta, sha256_file


def copy(src, tmp_path, name="m"):
    dst = tmp_path / name
    shutil.copytree(src, dst)
    return dst


def test_bundle_is_self_describing(tiny_model_dir):
    names = {p.name for p in tiny_model_dir.iterdir()}
    assert {"config.toml", "vocab.json", "model.keras", "meta.json", "history.json"} <= names
    meta = json.loads((tiny_model_dir / "meta.json").read_text())
    assert meta["format_version"] == FORMAT_VERSION
    assert meta["labels"] == [0, 1]
    assert meta["tokenizer"]["tokenizer"]["tagger"] == "mecab"
    for package in ("keras", "gensim", "konlpy", "numpy", "python"):
        assert meta["versions"][package]
    assert any(k.startswith("tensorflow") for k in meta["versions"])
    assert meta["training"]["data_fingerprint"]["rows"] == meta["training"]["rows"]
    assert len(meta["training"]["data_fingerprint"]["sha256"]) == 64
    for name, digest in meta["files"].items():
        assert sha256_file(tiny_model_dir / name) == digest
    vocab = json.loads((tiny_model_dir / "vocab.json").read_text())
    assert vocab["tokens"][:2] == ["<pad>", "<unk>"] and meta["vocab_size"] == len(vocab["tokens"])
    assert not list(tiny_model_dir.glob("*.pkl")) and not list(tiny_model_dir.glob("*.pickle"))


def test_changed_file_is_refused(tiny_model_dir, tmp_path):
    bad = copy(tiny_model_dir, tmp_path)
    vocab = json.loads((bad / "vocab.json").read_text())
    vocab["tokens"].append("추가")
    (bad / "vocab.json").write_text(json.dumps(vocab))
    with pytest.raises(BundleError, match="vocab.json was changed after the model was saved"):
        SentimentClassifier.load(bad)


def test_newer_format_is_refused(tiny_model_dir, tmp_path):
    bad = copy(tiny_model_dir, tmp_path)
    meta = json.loads((bad / "meta.json").read_text())
    meta["format_version"] = FORMAT_VERSION + 1
    (bad / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="newer than this package supports"):
        read_meta(bad)


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda p: p.mkdir(), "meta.json is missing"),
        (lambda p: p.write_text("x"), "is a file, not a model directory"),
        (lambda p: None, "model directory not found"),
    ],
)
def test_not_a_bundle(tmp_path, make, fragment):
    target = tmp_path / "thing"
    make(target)
    with pytest.raises(BundleError, match=fragment):
        SentimentClassifier.load(target)


def test_missing_model_file(tiny_model_dir, tmp_path):
    bad = copy(tiny_model_dir, tmp_path)
    (bad / "model.keras").unlink()
    with pytest.raises(BundleError, match="model.keras is missing"):
        read_meta(bad)


def test_lambda_layer_model_is_refused(tiny_model_dir, tmp_path):
    """A bundle whose model was swapped for one with a Lambda layer (arbitrary code) does not load,
    even with checksums updated to match."""
    import keras

    bad = copy(tiny_model_dir, tmp_path)
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = keras.layers.Embedding(10, 4)(inputs)
    x = keras.layers.Lambda(lambda t: t * 2)(x)
    outputs = keras.layers.Dense(1, activation="sigmoid")(keras.layers.GlobalAveragePooling1D()(x))
    keras.Model(inputs, outputs).save(bad / "model.keras")
    meta = json.loads((bad / "meta.json").read_text())
    meta["files"]["model.keras"] = sha256_file(bad / "model.keras")
    (bad / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="cannot be loaded safely"):
        SentimentClassifier.load(bad, runtime="keras")
    clf = SentimentClassifier.load(bad)  # scores with model.onnx; the Keras model is read on first use only
    with pytest.raises(BundleError, match="cannot be loaded safely"):
        _ = clf.model_


def test_interrupted_save_leaves_old_bundle(tiny_model, tmp_path, monkeypatch):
    target = tiny_model.save(tmp_path / "m")
    before = sha256_file(target / "meta.json")

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("sentiment.text.vocab.Vocabulary.save", boom)
    with pytest.raises(RuntimeError):
        tiny_model.save(target)
    assert sha256_file(target / "meta.json") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
    SentimentClassifier.load(target)


def test_card_section_is_written_replaced_and_checksummed(tmp_path):
    from sentiment.model.bundle import default_model_path, set_card_section

    path = tmp_path / "model"
    shutil.copytree(default_model_path(), path)
    before = (path / "MODEL_CARD.md").read_text(encoding="utf-8")
    set_card_section(path, "Notes", "- first")
    set_card_section(path, "Notes", "- second\n\n| a |\n|---|")  # replaces the first
    card = (path / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert card.count("## Notes\n") == 1 and "- first" not in card
    assert card.index("## Notes\n") < card.index("## Precision")  # set_default_precision rewrites from there
    assert card.replace("## Notes\n- second\n\n| a |\n|---|\n\n", "") == before
    assert SentimentClassifier.load(path).predict(["정말 최고"]).tolist() == [1]  # checksums still match
