from pathlib import Path

import pytest

from sentiment.config import Config, describe_keys
from sentiment.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
PRESETS = sorted((ROOT / "configs").glob("*.toml"))


def test_required_presets_exist():
    names = {p.stem for p in PRESETS}
    assert {
        "w2v50-len80-lstm",
        "w2v100-len80-bilstm",
        "w2v100-len128-bilstm",
        "w2v100-len128-bilstm-2layer",
        "default",
        "tiny",
    } <= names


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.stem)
def test_presets_load_and_round_trip(path, tmp_path):
    cfg = Config.from_toml(path)
    out = tmp_path / "c.toml"
    out.write_text(cfg.to_toml())
    assert Config.from_toml(out) == cfg


def test_preset_values():
    two = Config.from_toml(ROOT / "configs" / "w2v100-len128-bilstm-2layer.toml")
    assert (two.word2vec.vector_size, two.sequence.maxlen, two.model.lstm_units, two.model.bidirectional) == (
        100,
        128,
        [128, 64],
        True,
    )
    uni = Config.from_toml(ROOT / "configs" / "w2v50-len80-lstm.toml")
    assert (uni.word2vec.vector_size, uni.sequence.maxlen, uni.model.bidirectional) == (50, 80, False)


def test_overrides_are_typed():
    cfg = Config().with_overrides(
        [
            "train.epochs=7",
            "model.lstm_units=[64, 32]",
            "tokenizer.tagger=okt",
            "train.learning_rate=0.01",
            "model.bidirectional=false",
        ]
    )
    assert cfg.train.epochs == 7 and cfg.model.lstm_units == [64, 32] and cfg.tokenizer.tagger == "okt"
    assert cfg.train.learning_rate == 0.01 and cfg.model.bidirectional is False


@pytest.mark.parametrize(
    "override, fragments",
    [
        ("train.epochz=3", ["train.epochz", "valid keys in [train]", "epochs"]),
        ("trian.epochs=3", ["unknown section 'trian'", "valid sections"]),
        ("train.epochs=0", ["train.epochs = 0", "[1, 1000]"]),
        ("train.validation_split=0.9", ["train.validation_split", "[0.0, 0.5]"]),
        ("tokenizer.tagger=nltk", ["tokenizer.tagger = 'nltk'", "'mecab'", "'okt'"]),
        ("sequence.padding=left", ["sequence.padding", "'pre', 'post'"]),
        ("model.lstm_units=[]", ["model.lstm_units", "non-empty list"]),
        ("train.epochs=three", ["train.epochs = 'three'", "an integer"]),
        ("epochs", ["section.key=value"]),
    ],
)
def test_bad_overrides_name_key_and_valid_values(override, fragments):
    with pytest.raises(ConfigError) as info:
        Config().with_overrides([override])
    for fragment in fragments:
        assert fragment in str(info.value)


def test_bad_file_reports_path(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[model]\nlstm_unit = [3]\n")
    with pytest.raises(ConfigError, match="bad.toml: unknown key.*model.lstm_unit"):
        Config.from_toml(bad)
    bad.write_text("[model\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Config.from_toml(bad)
    with pytest.raises(ConfigError, match="not found"):
        Config.from_toml(tmp_path / "missing.toml")


def test_every_key_is_documented():
    rows = describe_keys()
    assert len(rows) > 30
    assert all(doc for _, _, doc in rows)


def test_extra_labels_preset_is_the_default_recipe_with_balanced_weights():
    default = Config.from_toml(ROOT / "configs" / "default.toml").to_dict()
    extra = Config.from_toml(ROOT / "configs" / "extra-labels.toml").to_dict()
    changed = {
        (section, key)
        for section in default
        for key in default[section]
        if default[section][key] != extra[section][key]
    }
    assert changed == {
        ("train", "class_weight"),
        ("train", "epochs"),
        ("distill", "teachers"),
        ("train", "average_epochs"),
        ("distill", "char_ngram_share"),
    }
    assert extra["train"]["average_epochs"] == 0 and extra["distill"]["char_ngram_share"] == "equal"
    assert extra["train"]["class_weight"] == "balanced"
