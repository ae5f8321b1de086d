"""The one typed configuration of the pipeline.

A :class:`Config` is made of small dataclass sections (``normalize``,
``tokenizer``, ``word2vec``, ``sequence``, ``model``, ``train``, ``pretrain``, ``distill``). It is loaded
from TOML, overridden from the command line with ``section.key=value`` pairs,
validated (unknown keys, wrong types and out-of-range values are refused with a
message that names the key and the valid values) and saved as ``config.toml``
inside every model bundle.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

from .errors import ConfigError

TAGGERS = ("mecab", "okt", "komoran", "hannanum", "kkma")
OPTIMIZERS = ("adam", "adamw", "adamax", "nadam", "rmsprop", "sgd", "adagrad")
SIDES = ("pre", "post")


def _spec(
    default: Any = dataclasses.MISSING,
    *,
    factory: Any = None,
    min: float | None = None,
    max: float | None = None,
    choices: tuple[Any, ...] | None = None,
    doc: str = "",
) -> Any:
    """A dataclass field carrying its validation rules and a short description."""
    meta = {"min": min, "max": max, "choices": choices, "doc": doc}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class NormalizeConfig:
    """Light Korean text normalization applied before tagging."""

    enabled: bool = _spec(True, doc="apply normalization at all")
    strip_urls: bool = _spec(True, doc="remove http(s)/www links")
    strip_html: bool = _spec(True, doc="remove HTML tags and unescape entities")
    lowercase: bool = _spec(True, doc="lowercase Latin letters")
    max_repeat: int = _spec(2, min=1, max=100, doc="cut runs of one character (ㅋㅋㅋㅋ, !!!!) to this length")
    max_chars: int = _spec(2000, min=10, max=1_000_000, doc="truncate longer texts before tagging")


@dataclass
class TokenizerConfig:
    """Which KoNLPy tagger to use and which tokens to keep."""

    tagger: str = _spec("mecab", choices=TAGGERS, doc="KoNLPy tagger")
    norm: bool = _spec(True, doc="Okt only: normalize spelling")
    stem: bool = _spec(True, doc="Okt only: reduce predicates to their stem")
    with_pos: bool = _spec(False, doc="emit 'morpheme/POS' instead of bare morphemes")
    pos_filter: list[str] = _spec(
        factory=list, doc="keep only tokens whose POS tag starts with one of these (empty: keep all)"
    )
    stopwords: list[str] = _spec(factory=list, doc="morphemes to drop")


@dataclass
class Word2VecConfig:
    """gensim Word2Vec training."""

    vector_size: int = _spec(100, min=2, max=1000, doc="embedding dimensions (50 or 100 in the presets)")
    sg: bool = _spec(True, doc="skip-gram (true) or CBOW (false)")
    window: int = _spec(5, min=1, max=50, doc="context window")
    min_count: int = _spec(2, min=1, max=10_000, doc="ignore rarer tokens (they map to <unk>)")
    epochs: int = _spec(5, min=1, max=200, doc="passes over the corpus")
    max_vocab: int = _spec(60_000, min=10, max=10_000_000, doc="keep at most this many most frequent tokens")
    extra_texts: list[str] = _spec(
        factory=list,
        doc="unlabeled text files (one text per line or a table) for Word2Vec, "
        "language-model pretraining and distillation",
    )


@dataclass
class SequenceConfig:
    """Fixed-length integer sequences."""

    maxlen: int = _spec(80, min=1, max=10_000, doc="pad or truncate to this many tokens")
    padding: str = _spec("post", choices=SIDES, doc="where padding goes ('post' keeps the cuDNN kernel eligible)")
    truncating: str = _spec("pre", choices=SIDES, doc="which end is cut from long sequences")


@dataclass
class ModelConfig:
    """The many-to-one (Bi)LSTM classifier."""

    lstm_units: list[int] = _spec(factory=lambda: [128], doc="units of each stacked LSTM layer, first to last")
    bidirectional: bool = _spec(True, doc="wrap every LSTM layer in Bidirectional")
    embedding_trainable: bool = _spec(True, doc="fine-tune the Word2Vec embeddings")
    embedding_dropout: float = _spec(0.2, min=0.0, max=0.9, doc="dropout on the embedded sequence")
    dropout: float = _spec(0.3, min=0.0, max=0.9, doc="dropout between LSTM layers and before the output")
    mask_padding: bool = _spec(True, doc="mask padded positions (needed for length-bucketed batches)")


@dataclass
class TrainConfig:
    """Optimisation and data handling during training."""

    optimizer: str = _spec("adam", choices=OPTIMIZERS, doc="Keras optimizer")
    learning_rate: float = _spec(1e-3, min=1e-6, max=10.0, doc="learning rate")
    batch_size: int = _spec(128, min=1, max=65_536, doc="batch size")
    epochs: int = _spec(4, min=1, max=1000, doc="maximum epochs")
    patience: int = _spec(
        1, min=0, max=100, doc="EarlyStopping patience (epochs without a better train.monitor; best weights restored)"
    )
    monitor: str = _spec("loss", choices=("loss", "accuracy"), doc="what early stopping watches on the validation rows")
    monitor_domains: bool = _spec(
        False,
        doc="with several labeled domains: early stopping watches the mean of each domain's validation "
        "train.monitor, so every domain counts once (off: the pooled validation rows, where the largest "
        "domain decides)",
    )
    lr_schedule: str = _spec(
        "constant",
        choices=("constant", "cosine"),
        doc="learning rate over the run: constant, or cosine decay to 0 at train.epochs",
    )
    average_epochs: int = _spec(
        0,
        min=0,
        max=100,
        doc="keep the mean of the weights after the last N epochs when it "
        "does at least as well on the validation rows as the best "
        "epoch (0: the best epoch's weights)",
    )
    validation_split: float = _spec(0.1, min=0.0, max=0.5, doc="share of the training rows held out for early stopping")
    sparse_updates: bool = _spec(
        True, doc="adam only: update just the embedding rows each batch uses (lazy Adam; faster on CPU)"
    )
    class_weight: str = _spec(
        "none",
        choices=("none", "balanced", "balanced_by_domain"),
        doc="weight classes by inverse frequency: over all rows ('balanced') or within each domain "
        "('balanced_by_domain': one domain's class mix does not tilt another's; the same as 'balanced' with one "
        "domain)",
    )
    domain_max_rows: int = _spec(
        0,
        min=0,
        max=1_000_000_000,
        doc="with several domains: use at most this many labeled rows of each domain, a seeded sample (0: all)",
    )
    init_from: str = _spec(
        "auto",
        doc="start from a trained bundle's network instead of a new one: a bundle "
        "directory or 'default' (the packaged model); its vocabulary grows with the "
        "data's frequent new morphemes as in [adapt]. 'auto': the packaged model when "
        "the task is the same (two classes read as negative/positive) and the "
        "config's tokenizer and network match it, else a new network; 'none' (or "
        "''): always a new network (--from-scratch)",
    )
    domain_balance: float = _spec(
        1.0,
        min=0.0,
        max=1.0,
        doc="with several domains (a domain column): each "
        "domain's total weight is proportional to its rows "
        "to this power (1: as the rows come, 0.5: square "
        "root, 0: every domain the same)",
    )
    label_noise: str = _spec(
        "keep",
        choices=("keep", "drop", "downweight", "soft"),
        doc="what to do with training rows whose label the audit (out-of-fold char n-grams + cleanlab, "
        "as `sentiment audit --no-model`) doubts: 'keep', 'drop' them, 'downweight' them "
        "(train.label_noise_weight) or 'soft': every row learns (1 - train.label_soft_share) x its label + "
        "the share x its out-of-fold probabilities (needs the audit extra)",
    )
    label_noise_weight: float = _spec(
        0.25, min=0.0, max=1.0, doc="train.label_noise = 'downweight': the weight of a flagged row"
    )
    label_soft_share: float = _spec(
        0.5, min=0.0, max=1.0, doc="train.label_noise = 'soft': the out-of-fold probabilities' share of a target"
    )
    bucket_by_length: bool = _spec(True, doc="batch similar lengths together and pad per batch (needs mask_padding)")
    seed: int = _spec(42, min=0, max=2**31 - 1, doc="seed for splits, Word2Vec and Keras")


@dataclass
class PretrainConfig:
    """Language-model pretraining of the embedding and first LSTM layer on the training and extra texts."""

    epochs: int = _spec(0, min=0, max=100, doc="passes of next/previous-token prediction before training (0: off)")
    sampled: int = _spec(512, min=1, max=100_000, doc="sampled-softmax candidates per step")
    learning_rate: float = _spec(1e-3, min=1e-6, max=10.0, doc="Adam learning rate of the pretraining")


@dataclass
class DistillConfig:
    """Distillation: teachers trained on the labeled rows label ``word2vec.extra_texts`` for the student."""

    teachers: int = _spec(
        0,
        min=0,
        max=20,
        doc="(Bi)LSTM teachers, seeds seed+1, seed+2, ... (0 and no char-n-gram teacher: no distillation)",
    )
    teacher_lstm_units: list[int] = _spec(factory=lambda: [128], doc="LSTM units of each teacher layer")
    teacher_models: list[str] = _spec(
        factory=list,
        doc="trained bundles (directories, or 'default': the packaged model) that teach as they are: "
        "their probabilities on the unlabeled texts join the teachers' mean (same tokenizer and labels)",
    )
    char_ngram_teacher: bool = _spec(False, doc="add a char n-gram TF-IDF + logistic-regression teacher")
    char_ngram_c: float = _spec(4.0, min=1e-4, max=1e4, doc="inverse regularization C of that teacher")
    char_ngram_range: list[int] = _spec(
        factory=lambda: [2, 4], doc="[min, max] character n-gram length of that teacher"
    )
    morpheme_ngrams: int = _spec(
        0, min=0, max=5, doc="also give that teacher token (morpheme) 1..N-gram TF-IDF features (0: characters only)"
    )
    naive_bayes: bool = _spec(
        False, doc="scale that teacher's features by naive-Bayes log-count ratios (NB-LR; two classes only)"
    )
    char_ngram_share: str = _spec(
        "equal",
        choices=("equal", "validation"),
        doc="that teacher's share of the teachers' mean: 'equal' (one teacher among "
        "all) or 'validation' (the share with the lowest log-loss on the validation "
        "rows, 0.05-0.95)",
    )
    student_init: str = _spec(
        "none",
        choices=("none", "best_teacher"),
        doc="the student's starting weights: 'none' (Word2Vec embedding, random LSTM) or "
        "'best_teacher' (the LSTM teacher with the best validation accuracy; needs "
        "teacher_lstm_units = model.lstm_units)",
    )
    domain_teachers: bool = _spec(
        False,
        doc="with several domains and train.init_from: fine-tune a copy of the start network on each "
        "domain alone, then train on every domain with those domain teachers' probabilities as targets "
        "(mixed into the labels by distill.labeled_share; a domain's unlabeled texts learn its teacher's)",
    )
    domain_teacher_epochs: int = _spec(
        0,
        min=0,
        max=100,
        doc="distill.domain_teachers: each domain teacher's maximum epochs (early stopping on its domain's "
        "validation rows; 0: finetune.epochs)",
    )
    domain_ngram_teachers: bool = _spec(
        False,
        doc="with distill.domain_teachers: each domain's teacher also averages in a char 1-5-gram NB-LR fitted "
        "on that domain's training rows (out-of-fold on those rows, distill.domain_ngram_folds folds; fitted "
        "on all of them for its unlabeled texts), with the share (0-0.95) of lowest log-loss on that "
        "domain's validation rows",
    )
    domain_ngram_folds: int = _spec(
        4, min=2, max=20, doc="distill.domain_ngram_teachers: folds of the out-of-fold n-gram probabilities"
    )
    labeled_share: float = _spec(
        0.5,
        min=0.0,
        max=1.0,
        doc="with distill.domain_teachers or distill.teacher_models: the teachers' share of a labeled "
        "row's target (the rest is its label)",
    )
    student_epochs: int = _spec(0, min=0, max=100, doc="the student's train.epochs (0: train.epochs, as the teachers)")
    students: int = _spec(
        1,
        min=1,
        max=10,
        doc="students trained from the best teacher's weights (seeds seed, "
        "seed+1000, ...); the mean of their weights (a model soup) is kept "
        "when it does at least as well on the validation rows as the best "
        "of them (needs student_init = 'best_teacher')",
    )

    @property
    def enabled(self) -> bool:
        return self.teachers > 0 or self.char_ngram_teacher or bool(self.teacher_models)


@dataclass
class AdaptConfig:
    """``sentiment adapt``: fitting a trained model to a new kind of comment from unlabeled texts."""

    min_texts: int = _spec(200, min=10, max=10_000_000, doc="refuse fewer unlabeled texts than this")
    new_token_min_count: int = _spec(
        3,
        min=1,
        max=10_000,
        doc="morphemes at least this frequent in the new texts and unknown to the model join its vocabulary",
    )
    max_new_tokens: int = _spec(
        20_000, min=0, max=1_000_000, doc="at most this many new morphemes (most frequent first)"
    )
    ngram_teacher: bool = _spec(
        True,
        doc="co-training: an n-gram model (char + morpheme TF-IDF, logistic "
        "regression) trained on the model's confident pseudo-labels relabels the "
        "texts together with the model",
    )
    confidence: float = _spec(
        0.5,
        min=0.05,
        max=1.0,
        doc="share of each predicted class kept as pseudo-labels, the "
        "most confident first (classes kept in adapt.class_mix)",
    )
    class_mix: str = _spec(
        "labels",
        choices=("labels", "estimate", "balanced"),
        doc="class mix of the pseudo-labels (the model's probabilities are reweighted to it): "
        "'labels' (the share among 30+ audit labels, else equal classes; the EM estimate "
        "from the texts is reported but not used), 'estimate' (the same, but without "
        "enough labels the EM estimate on the model's probabilities, Saerens et al. 2002) "
        "or 'balanced' (always equal classes)",
    )
    decision: str = _spec(
        "labels",
        choices=("labels", "estimate", "none"),
        doc="the decision rule recorded in the adapted bundle (two classes): 'labels' (with "
        "--labeled: the threshold at which the predicted share on the texts matches 30+ "
        "audit labels, else the one maximizing macro-F1 on the held-out rows), 'estimate' "
        "(also without labels: the threshold matching the estimated class mix) or 'none' "
        "(the likelier class)",
    )
    holdout_share: float = _spec(
        0.3,
        min=0.0,
        max=0.9,
        doc="share of the labeled rows (audit rows first) held out "
        "of training to measure the source and adapted models "
        "(before/after figures with 95% intervals)",
    )
    epochs: int = _spec(2, min=1, max=50, doc="fine-tuning epochs")
    learning_rate: float = _spec(
        3e-4, min=1e-6, max=1.0, doc="fine-tuning learning rate (lower than training: keeps what the model knew)"
    )
    anchor_weight: float = _spec(
        1.0,
        min=0.0,
        max=100.0,
        doc="weight of the original model's own probabilities in the targets (guards against forgetting)",
    )
    labeled_weight: float = _spec(
        3.0, min=0.0, max=1000.0, doc="weight of each user-labeled row against a pseudo-labeled one"
    )


@dataclass
class FinetuneConfig:
    """Training that starts from a trained model (``train.init_from``): the small-data schedule."""

    learning_rate: float = _spec(
        1e-3, min=1e-6, max=1.0, doc="learning rate (measured against 3e-4 on 300-10,000 rows: docs/training.md)"
    )
    epochs: int = _spec(8, min=1, max=1000, doc="maximum epochs (early stopping on the validation rows picks the best)")
    patience: int = _spec(
        2,
        min=0,
        max=100,
        doc="epochs without a better validation train.monitor before stopping (the best epoch's weights are kept)",
    )
    freeze: str = _spec(
        "none",
        choices=("none", "embedding", "encoder"),
        doc="layers kept as they are: none, embedding (new morphemes keep their mapped vectors), "
        "or encoder (embedding and (Bi)LSTM: only the output layer learns)",
    )
    anchor_weight: float = _spec(
        0.0,
        min=0.0,
        max=100.0,
        doc="weight of the starting model's own probabilities "
        "mixed into each row's target (a soft anchor against "
        "forgetting; 0: the labels alone)",
    )
    fit_threshold: bool = _spec(
        True,
        doc="two classes whose mix is off 50/50 (minority share below 40%): fit the "
        "decision threshold on the validation rows (macro-F1) as the bundle's "
        "decision rule (new networks too; --threshold overrides it)",
    )


SECTIONS: dict[str, type] = {
    "normalize": NormalizeConfig,
    "tokenizer": TokenizerConfig,
    "word2vec": Word2VecConfig,
    "sequence": SequenceConfig,
    "model": ModelConfig,
    "train": TrainConfig,
    "pretrain": PretrainConfig,
    "distill": DistillConfig,
    "adapt": AdaptConfig,
    "finetune": FinetuneConfig,
}


@dataclass
class Config:
    """The whole pipeline configuration."""

    normalize: NormalizeConfig = field(default_factory=NormalizeConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    word2vec: Word2VecConfig = field(default_factory=Word2VecConfig)
    sequence: SequenceConfig = field(default_factory=SequenceConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    adapt: AdaptConfig = field(default_factory=AdaptConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)

    # -- construction ---------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> Config:
        """Build and validate a config from nested dicts; missing keys take defaults."""
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: expected a table of sections, got {type(data).__name__}")
        unknown = sorted(set(data) - set(SECTIONS))
        if unknown:
            raise ConfigError(
                f"{source}: unknown section(s) {', '.join(map(repr, unknown))}; valid sections: {', '.join(SECTIONS)}"
            )
        sections = {}
        for name, section_cls in SECTIONS.items():
            values = data.get(name, {})
            if not isinstance(values, dict):
                raise ConfigError(f"{source}: [{name}] must be a table of keys, got {values!r}")
            sections[name] = _build_section(section_cls, name, values, source)
        return cls(**sections)

    @classmethod
    def from_toml(cls, path: str | Path, overrides: list[str] | None = None) -> Config:
        """Load a TOML file, apply ``section.key=value`` overrides and validate."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}. Presets are in the configs/ folder.")
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from None
        return cls.from_dict(apply_overrides(data, overrides or []), source=str(path))

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Plain nested dicts (lists copied), suitable for JSON or TOML."""
        return dataclasses.asdict(self)

    def to_toml(self) -> str:
        """Serialise as TOML text that :meth:`from_toml` reads back identically."""
        lines: list[str] = []
        for name, values in self.to_dict().items():
            lines.append(f"[{name}]")
            lines.extend(f"{key} = {_toml_value(value)}" for key, value in values.items())
            lines.append("")
        return "\n".join(lines)

    def with_overrides(self, overrides: list[str] | dict[str, Any]) -> Config:
        """A validated copy with ``section.key`` overrides applied."""
        return Config.from_dict(apply_overrides(self.to_dict(), overrides), source="overrides")


def _build_section(section_cls: type, name: str, values: dict[str, Any], source: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(section_cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(
            f"{source}: unknown key(s) {', '.join(f'{name}.{k}' for k in unknown)}; "
            f"valid keys in [{name}]: {', '.join(fields)}"
        )
    hints = get_type_hints(section_cls)
    checked = {
        key: _check_value(f"{name}.{key}", values[key], hints[key], fields[key].metadata, source) for key in values
    }
    return section_cls(**checked)


def _check_value(key: str, value: Any, hint: Any, meta: Any, source: str) -> Any:
    """Type- and range-check one value; ints are accepted where floats are expected."""

    def fail(expected: str) -> ConfigError:
        return ConfigError(f"{source}: {key} = {value!r} is invalid; expected {expected}")

    if hint is bool:
        if not isinstance(value, bool):
            raise fail("true or false")
    elif hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail("an integer")
    elif hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise fail("a number")
        value = float(value)
    elif hint is str:
        if not isinstance(value, str):
            raise fail("a string")
    elif hint == list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise fail('a list of strings, e.g. ["a", "b"]')
        value = list(value)
    elif hint == list[int]:
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
        ):
            raise fail("a non-empty list of positive integers, e.g. [128] or [128, 64]")
        value = list(value)
    choices, lo, hi = meta.get("choices"), meta.get("min"), meta.get("max")
    if choices is not None and value not in choices:
        raise fail("one of " + ", ".join(map(repr, choices)))
    if lo is not None and value < lo or hi is not None and value > hi:
        raise fail(f"a value in [{lo}, {hi}]")
    return value


def parse_override(item: str) -> tuple[str, Any]:
    """Parse ``section.key=value``; the value is read as TOML, else as a bare string."""
    if "=" not in item:
        raise ConfigError(f"override {item!r} must look like section.key=value, e.g. train.epochs=3")
    key, raw = item.split("=", 1)
    key, raw = key.strip(), raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


def apply_overrides(data: dict[str, Any], overrides: list[str] | dict[str, Any]) -> dict[str, Any]:
    """Return a copy of nested ``data`` with dotted-key overrides applied."""
    merged = {name: dict(values) if isinstance(values, dict) else values for name, values in data.items()}
    items = overrides.items() if isinstance(overrides, dict) else map(parse_override, overrides)
    for key, value in items:
        section, _, name = key.partition(".")
        if not name or "." in name:
            raise ConfigError(
                f"override key {key!r} must be section.key, e.g. train.epochs; sections: {', '.join(SECTIONS)}"
            )
        if section not in SECTIONS:
            raise ConfigError(f"override {key!r}: unknown section {section!r}; valid sections: {', '.join(SECTIONS)}")
        merged.setdefault(section, {})[name] = value
    return merged


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
        return f'"{escaped}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def _key_fields() -> Iterator[tuple[str, dataclasses.Field[Any], Any]]:
    """(section name, dataclass field, default value) for every config key, in order."""
    for name, section_cls in SECTIONS.items():
        default = section_cls()
        for f in dataclasses.fields(section_cls):
            yield name, f, getattr(default, f.name)


def describe_keys() -> list[tuple[str, str, str]]:
    """(key, default, description) for every config key, for docs and ``--help``."""
    return [(f"{name}.{f.name}", _toml_value(value), f.metadata.get("doc", "")) for name, f, value in _key_fields()]


def _valid_values(f: dataclasses.Field[Any], value: Any) -> str:
    meta = f.metadata
    if meta.get("choices"):
        return ", ".join(f"`{_toml_value(c)}`" for c in meta["choices"])
    low, high = meta.get("min"), meta.get("max")
    if low is not None and high is not None:
        return f"{low!r} to {high!r}"
    if low is not None or high is not None:
        return f"≥ {low!r}" if low is not None else f"≤ {high!r}"
    if isinstance(value, bool):
        return "`true`, `false`"
    return "list" if isinstance(value, list) else ""


def keys_markdown() -> str:
    """Every config key as Markdown, one table per section (``sentiment config --keys --markdown``; the table
    of docs/configuration.md)."""
    out: list[str] = []
    for name, fields in itertools.groupby(_key_fields(), key=lambda item: item[0]):
        doc = " ".join((SECTIONS[name].__doc__ or "").split())
        out += [f"### `[{name}]`", "", doc, "", "| key | default | valid values | meaning |", "|---|---|---|---|"]
        for _, f, value in fields:
            meaning = f.metadata.get("doc", "").replace("|", "\\|")
            out.append(f"| `{name}.{f.name}` | `{_toml_value(value)}` | {_valid_values(f, value)} | {meaning} |")
        out.append("")
    return "\n".join(out)
