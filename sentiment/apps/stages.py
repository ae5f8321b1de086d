"""Pipeline stages over a run directory, and one-shot training from a file.

Stages (each reads the previous one's output under ``RUN/`` and writes its own)::

    prepare   DATA  -> RUN/prepared/{train,test}.parquet   read, clean, deduplicate, split
    tokenize        -> RUN/tokens/{train,test,extra}.parquet
    word2vec        -> RUN/word2vec/{vectors.npy,tokens.json}
    train           -> RUN/model/      (a model bundle)
    evaluate        -> RUN/report/     (metrics.json, plots, mistakes)

Each stage writes ``RUN/stages/NAME.json`` with a key hashed from its inputs
(upstream keys, input files, the config sections it uses); a stage whose key is
unchanged is skipped unless ``force`` is set.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..config import Config
from ..errors import DataError, SentimentError
from ..io.locks import exclusive_lock, locked
from ..training.domains import UNLABELED, named_files

STAGES = ("prepare", "tokenize", "word2vec", "train", "evaluate")
Log = Callable[[str], None]


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr)


# -- stage bookkeeping -----------------------------------------------------------------
def file_digest(path: str | Path) -> str:
    from ..model.bundle import sha256_file

    return sha256_file(Path(path))


def _key(stage: str, parts: dict[str, Any]) -> str:
    text = json.dumps({"stage": stage, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _stamp_path(run_dir: Path, stage: str) -> Path:
    return run_dir / "stages" / f"{stage}.json"


def _read_key(run_dir: Path, stage: str) -> str:
    path = _stamp_path(run_dir, stage)
    if not path.is_file():
        raise DataError(
            f"{run_dir}: stage {stage!r} has not run yet; run it first (stages in order: {' -> '.join(STAGES)})"
        )
    return json.loads(path.read_text())["key"]


def _up_to_date(run_dir: Path, stage: str, key: str, outputs: Sequence[Path], force: bool) -> bool:
    path = _stamp_path(run_dir, stage)
    if force or not path.is_file() or not all(p.exists() for p in outputs):
        return False
    return json.loads(path.read_text()).get("key") == key


def _stamp(run_dir: Path, stage: str, key: str, info: dict[str, Any] | None = None) -> None:
    path = _stamp_path(run_dir, stage)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"key": key, **(info or {})}, indent=1))


def _section(cfg: Config, *names: str) -> dict[str, Any]:
    data = cfg.to_dict()
    return {name: data[name] for name in names}


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    from ..io.writers import atomic_target

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = atomic_target(path)
    try:
        frame.to_parquet(tmp, index=False)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# -- stages ------------------------------------------------------------------------------
def prepare(
    data: str | Path | Sequence[str | Path],
    run_dir: str | Path,
    cfg: Config,
    *,
    text_column: str | None = None,
    label_column: str | None = None,
    test_data: str | Path | None = None,
    test_size: float | int | Sequence[str] = 0.1,
    add_train: Sequence[str | Path] = (),
    sep: str | None = None,
    encoding: str | None = None,
    force: bool = False,
    log: Log = _stderr,
    sheet: str | int | None = None,
) -> bool:
    """Read, clean, deduplicate and split labeled data; returns False when skipped.

    ``sheet`` picks the sheet of workbook ``data`` files (a name or a number from 1).

    ``data`` is one file or several, each optionally named as a domain (``"shopping=reviews.tsv"``; see
    :mod:`sentiment.training.domains`). Each domain is split on its own (``test_size``: one value for all, or
    ``"NAME=SIZE"`` entries), and the splits carry a ``domain`` column when domains are named or several.
    ``add_train`` files (``[NAME=]PATH``, unnamed ones belong to the first domain) are labeled data added to the
    train split only (after the split), minus texts already in either split: more training data that never
    changes the test split.
    """
    from ..io.labeled import check_trainable
    from ..training.domains import parse_sizes

    run_dir = Path(run_dir)
    out = run_dir / "prepared"
    entries = [data] if isinstance(data, (str, Path)) else list(data)
    if not entries:
        raise SentimentError("prepare: no labeled data; pass --data FILE (or several --data NAME=FILE)")
    files = named_files(entries, None)
    named = len(files) > 1 or files[0][0] is not None
    if named:
        files = [(name or Path(path).name.split(".")[0], path) for name, path in files]
        dupes = sorted({n for n, _ in files if [m for m, _ in files].count(n) > 1})
        if dupes:
            raise SentimentError(
                f"prepare: domain name(s) {', '.join(dupes)} given twice; name each --data file differently (NAME=PATH)"
            )
        if test_data is not None:
            raise SentimentError(
                "prepare: --test-data works with one --data file; with several domains each "
                "domain's test split is carved from its own file (--test-size)"
            )
    sizes = parse_sizes(test_size)
    unknown = sorted(set(sizes) - {None} - {n for n, _ in files})
    if unknown:
        raise SentimentError(
            f"prepare: --test-size names unknown domain(s) {', '.join(unknown)}; domains: "
            f"{', '.join(str(n) for n, _ in files)}"
        )
    extra = named_files(add_train, files[0][0])
    key = _key(
        "prepare",
        {
            "data": [[n, file_digest(p)] for n, p in files],
            "test": test_data and file_digest(test_data),
            "add_train": [[n, file_digest(p)] for n, p in extra],
            "columns": [text_column, label_column],
            "test_size": {str(k): v for k, v in sizes.items()},
            "seed": cfg.train.seed,
            "sep": sep,
            "encoding": encoding,
            **({"sheet": sheet} if sheet is not None else {}),
        },
    )
    if _up_to_date(run_dir, "prepare", key, [out / "train.parquet", out / "test.parquet"], force):
        log("prepare: up to date, skipped")
        return False
    stats: dict[str, Any] = {}
    trains, tests, classes = [], [], None
    for name, path in files:
        frame, part_stats = _read_clean(path, text_column, label_column, sep, encoding, classes, log, sheet=sheet)
        check_trainable(_as_labeled(frame), path)
        classes = np.unique(frame["label"].to_numpy()) if classes is None else classes
        if test_data is not None:
            from ..io.labeled import load_labeled, match_labels

            test = load_labeled(test_data, text_column, label_column, sep=sep, encoding=encoding, log=log)
            test_labels = match_labels(test.labels, classes, test_data, f"the labels of {path}")
            train_frame, test_frame = frame, pd.DataFrame({"text": test.texts, "label": test_labels})
        else:
            train_frame, test_frame = _split(frame, sizes.get(name, sizes.get(None, 0.1)), cfg.train.seed, path)
        if named:
            train_frame, test_frame = train_frame.assign(domain=name), test_frame.assign(domain=name)
            stats.setdefault("domains", {})[name] = {
                "file": str(path),
                **part_stats,
                "train": len(train_frame),
                "test": len(test_frame),
            }
        else:
            stats.update(part_stats)
        trains.append(train_frame)
        tests.append(test_frame)
    test_frame = pd.concat(tests, ignore_index=True)
    train_frame = _without_test_texts(pd.concat(trains, ignore_index=True), test_frame, stats, log)
    if extra:
        train_frame = _add_training_rows(
            train_frame,
            test_frame,
            extra,
            text_column,
            label_column,
            stats,
            named=named,
            sep=sep,
            encoding=encoding,
            log=log,
        )
    stats.update(train=len(train_frame), test=len(test_frame))
    _write_parquet(train_frame.reset_index(drop=True), out / "train.parquet")
    _write_parquet(test_frame.reset_index(drop=True), out / "test.parquet")
    (out / "stats.json").write_text(json.dumps(stats, indent=1, default=int))
    _stamp(run_dir, "prepare", key, stats)
    by_domain = ""
    if named:
        by_domain = (
            " ("
            + ", ".join(
                f"{n}: {int((train_frame['domain'] == n).sum()):,} / {int((test_frame['domain'] == n).sum()):,}"
                for n, _ in files
            )
            + ")"
        )
    log(f"prepare: {stats['train']:,} train / {stats['test']:,} test rows{by_domain} -> {out}")
    return True


def _read_clean(
    path: str | Path,
    text_column: str | None,
    label_column: str | None,
    sep: str | None,
    encoding: str | None,
    classes: np.ndarray | None,
    log: Log,
    against: str = "the first data file's labels",
    sheet: str | int | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """One labeled file as a cleaned (text, label) frame; labels must match ``classes`` when given."""
    from ..io.labeled import load_labeled, match_labels

    labeled = load_labeled(path, text_column, label_column, sep=sep, encoding=encoding, sheet=sheet, log=log)
    labels = labeled.labels
    if classes is not None:
        labels = match_labels(labels, classes, path, against)
    frame, stats = _clean(pd.DataFrame({"text": labeled.texts, "label": labels}))
    return frame, {"read": len(labeled.texts), "dropped": labeled.dropped, **stats}


def _split(frame: pd.DataFrame, size: float | int, seed: int, path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A seeded split, stratified by label when every class has two rows."""
    from sklearn.model_selection import train_test_split

    if isinstance(size, int) and size >= len(frame):
        raise SentimentError(
            f"{path}: test size {size:,} is not below its {len(frame):,} usable rows; give a "
            f"smaller count or a share (e.g. 0.2)"
        )
    counts = frame["label"].value_counts()
    stratify = frame["label"] if counts.min() >= 2 else None
    return train_test_split(frame, test_size=size, random_state=seed, stratify=stratify)


def _without_test_texts(
    train_frame: pd.DataFrame, test_frame: pd.DataFrame, stats: dict[str, Any], log: Log
) -> pd.DataFrame:
    """Training rows minus texts in any test split (domains can share texts) and texts seen twice."""
    in_test = train_frame["text"].isin(set(test_frame["text"]))
    twice = train_frame["text"].duplicated() & ~in_test
    if in_test.any() or twice.any():
        stats["dropped_across_domains"] = {"in_a_test_split": int(in_test.sum()), "duplicates": int(twice.sum())}
        log(
            f"prepare: {int(in_test.sum()):,} training text(s) equal to another domain's test text and "
            f"{int(twice.sum()):,} repeated across domains left out"
        )
    return train_frame[~(in_test | twice)]


def _clean(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Strip texts, drop texts seen with different labels, then duplicates."""
    frame = frame.assign(text=frame["text"].str.strip())
    conflicting = frame.groupby("text")["label"].transform("nunique") > 1
    frame = frame[~conflicting]
    deduplicated = frame.drop_duplicates("text").reset_index(drop=True)
    return deduplicated, {
        "dropped_conflicting_labels": int(conflicting.sum()),
        "dropped_duplicates": len(frame) - len(deduplicated),
    }


def _add_training_rows(
    train_frame: pd.DataFrame,
    test_frame: pd.DataFrame,
    files: Sequence[tuple[str | None, str | Path]],
    text_column: str | None,
    label_column: str | None,
    stats: dict[str, Any],
    *,
    named: bool,
    sep: str | None,
    encoding: str | None,
    log: Log,
) -> pd.DataFrame:
    """The train split plus the rows of ``files`` ((domain, path) pairs) whose texts are in neither split."""
    classes = np.unique(train_frame["label"].to_numpy())
    seen = set(train_frame["text"]) | set(test_frame["text"].str.strip())
    added = []
    for name, path in files:
        part, part_stats = _read_clean(
            path, text_column, label_column, sep, encoding, classes, log, "the training data's labels"
        )
        in_splits = part["text"].isin(seen)
        part = part[~in_splits]
        added.append(part.assign(domain=name) if named else part)
        seen.update(part["text"])
        stats.setdefault("added_train", []).append(
            {
                "file": str(path),
                **({"domain": name} if named else {}),
                **{k: v for k, v in part_stats.items() if k != "dropped"},
                "dropped_in_splits": int(in_splits.sum()),
                "added": int((~in_splits).sum()),
            }
        )
        log(
            f"prepare: {path}: {int((~in_splits).sum()):,} rows added to the train split "
            f"{f'of domain {name!r} ' if named else ''}({int(in_splits.sum()):,} already in a split)"
        )
    return pd.concat([train_frame, *added], ignore_index=True)


def _as_labeled(frame: pd.DataFrame):
    from ..io.labeled import LabeledData

    return LabeledData(frame["text"].tolist(), frame["label"].to_numpy(), "text", "label")


def tokenize(run_dir: str | Path, cfg: Config, *, workers: int = 0, force: bool = False, log: Log = _stderr) -> bool:
    """Tokenize the prepared splits and the config's extra texts into RUN/tokens/."""
    from ..text.tokenizers import Tokenizer, join_tokens

    run_dir = Path(run_dir)
    out = run_dir / "tokens"
    extra_files = list(cfg.word2vec.extra_texts)
    key = _key(
        "tokenize",
        {
            "up": _read_key(run_dir, "prepare"),
            "cfg": _section(cfg, "normalize", "tokenizer"),
            "extra": [[n, file_digest(p)] for n, p in named_files(extra_files, None)],
        },
    )
    names = ["train", "test"] + (["extra"] if extra_files else [])
    if _up_to_date(run_dir, "tokenize", key, [out / f"{n}.parquet" for n in names], force):
        log("tokenize: up to date, skipped")
        return False
    tokenizer = Tokenizer(cfg.normalize, cfg.tokenizer)
    for name in names:
        if name == "extra":
            test_texts = pd.read_parquet(run_dir / "prepared" / "test.parquet")["text"]
            frame = unlabeled_frame(extra_files, test_texts, log)
        else:
            frame = pd.read_parquet(run_dir / "prepared" / f"{name}.parquet")
        tokens = tokenizer.tokenize_many(frame["text"].tolist(), workers=workers, show_progress=None)
        frame["tokens"] = [join_tokens(t) for t in tokens]
        _write_parquet(frame, out / f"{name}.parquet")
        log(f"tokenize: {name}: {len(frame):,} texts, {sum(map(len, tokens)) / max(len(tokens), 1):.1f} tokens/text")
    _stamp(run_dir, "tokenize", key)
    return True


def unlabeled_frame(files: Sequence[str | Path], held_out: Sequence[str], log: Log) -> pd.DataFrame:
    """The texts of ``files`` (``[NAME=]PATH``) minus held-out texts; a ``domain`` column when any file is named."""
    from ..io.readers import read_text_lines

    named = named_files(files, None)
    texts, domains = [], []
    for name, path in named:
        part = read_text_lines(path)
        texts += part
        domains += [name or UNLABELED] * len(part)
    held = {t.strip() for t in held_out}
    keep = [i for i, t in enumerate(texts) if t.strip() not in held]
    if len(keep) < len(texts):
        log(f"extra texts: {len(texts) - len(keep):,} text(s) equal to a test text left out")
    frame = pd.DataFrame({"text": [texts[i] for i in keep]})
    if any(name for name, _ in named):
        frame["domain"] = [domains[i] for i in keep]
    return frame


def _tokens(run_dir: Path, name: str) -> tuple[list[list[str]], pd.DataFrame]:
    from ..text.tokenizers import split_tokens

    frame = pd.read_parquet(run_dir / "tokens" / f"{name}.parquet")
    return [split_tokens(t) for t in frame["tokens"].tolist()], frame


def word2vec(run_dir: str | Path, cfg: Config, *, workers: int = 1, force: bool = False, log: Log = _stderr) -> bool:
    """Train Word2Vec on the train split's tokens (plus extra texts) into RUN/word2vec/."""
    from ..text.embeddings import train_word2vec

    run_dir = Path(run_dir)
    out = run_dir / "word2vec"
    key = _key(
        "word2vec",
        {
            "up": _read_key(run_dir, "tokenize"),
            "cfg": _section(cfg, "word2vec"),
            "seed": cfg.train.seed,
            "workers": workers,
        },
    )
    if _up_to_date(run_dir, "word2vec", key, [out / "vectors.npy", out / "tokens.json"], force):
        log("word2vec: up to date, skipped")
        return False
    sentences, _ = _tokens(run_dir, "train")
    if (run_dir / "tokens" / "extra.parquet").exists() and cfg.word2vec.extra_texts:
        sentences += _tokens(run_dir, "extra")[0]
    kv = train_word2vec(sentences, cfg.word2vec, seed=cfg.train.seed, workers=workers)
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "vectors.npy", kv.vectors)
    (out / "tokens.json").write_text(json.dumps(kv.index_to_key, ensure_ascii=False), encoding="utf-8")
    _stamp(run_dir, "word2vec", key, {"vocabulary": len(kv.index_to_key), "sentences": len(sentences)})
    log(f"word2vec: {len(kv.index_to_key):,} tokens x {kv.vector_size} dims from {len(sentences):,} texts")
    return True


def load_vectors(run_dir: Path):
    """KeyedVectors rebuilt from the word2vec stage's plain files (no pickle)."""
    from gensim.models import KeyedVectors

    vectors = np.load(run_dir / "word2vec" / "vectors.npy")
    keys = json.loads((run_dir / "word2vec" / "tokens.json").read_text(encoding="utf-8"))
    kv = KeyedVectors(vector_size=vectors.shape[1])
    kv.add_vectors(keys, vectors)
    return kv


def train(run_dir: str | Path, cfg: Config, *, force: bool = False, verbose: int = 0, log: Log = _stderr) -> bool:
    """Train the LSTM on the tokenized train split with the stage's vectors; writes RUN/model/.

    Distillation teachers are kept in RUN/teachers/ and reused while their data and settings are unchanged;
    ``force`` retrains them too.
    """
    from ..classifier import SentimentClassifier, data_fingerprint

    run_dir = Path(run_dir)
    out = run_dir / "model"
    with exclusive_lock(out, "model directory", create_folder=True):  # one writer of RUN/model
        key = _key(
            "train",
            {
                "up": [_read_key(run_dir, "tokenize"), _read_key(run_dir, "word2vec")],
                "cfg": _section(cfg, "sequence", "model", "train", "pretrain", "distill"),
            },
        )
        if _up_to_date(run_dir, "train", key, [out / "meta.json"], force):
            log("train: up to date, skipped")
            return False
        if force:
            shutil.rmtree(run_dir / "teachers", ignore_errors=True)
        tokens, frame = _tokens(run_dir, "train")
        labels = frame["label"].to_numpy()
        extra_tokens, extra_frame = _tokens(run_dir, "extra") if cfg.word2vec.extra_texts else ([], pd.DataFrame())
        texts = frame["text"].tolist()
        used = cfg.distill.enabled or cfg.pretrain.epochs or cfg.distill.domain_teachers
        domains = frame["domain"].astype(str).tolist() if "domain" in frame else None
        extra_domains = extra_frame["domain"].astype(str).tolist() if "domain" in extra_frame else None
        clf = SentimentClassifier(config=cfg, verbose=verbose)
        clf.fit_tokens(
            tokens,
            labels,
            cfg=cfg,
            keyed_vectors=load_vectors(run_dir),
            extra_tokens=extra_tokens if used else [],
            texts=texts,
            extra_texts=extra_frame["text"].tolist() if len(extra_frame) else [],
            domains=domains,
            extra_domains=extra_domains,
            fingerprint=data_fingerprint(texts, labels),
            teacher_cache=run_dir / "teachers",
            log=log,
        )
        clf.training_["extra_texts"] = len(extra_tokens)
        clf.save(out)
        _stamp(run_dir, "train", key, {"history": clf.history_})
        accuracy = clf.training_["metrics"].get("validation", {}).get("accuracy", float("nan"))
        log(
            f"train: {clf.training_['epochs_run']} epoch(s) in {clf.training_['seconds']:.0f} s; "
            f"validation accuracy {accuracy:.4f} -> {out}"
        )
        return True


def evaluate(run_dir: str | Path, *, force: bool = False, log: Log = _stderr) -> dict[str, Any] | None:
    """Evaluate RUN/model on the prepared test split; writes RUN/report/."""
    from ..analysis.evaluation import evaluate_texts, format_metrics, write_report
    from ..classifier import SentimentClassifier

    run_dir = Path(run_dir)
    out = run_dir / "report"
    key = _key("evaluate", {"up": [_read_key(run_dir, "train"), _read_key(run_dir, "prepare")]})
    if _up_to_date(run_dir, "evaluate", key, [out / "metrics.json"], force):
        log("evaluate: up to date, skipped")
        return None
    clf = SentimentClassifier.load(run_dir / "model")
    test = pd.read_parquet(run_dir / "prepared" / "test.parquet")
    texts, labels = test["text"].tolist(), test["label"].to_numpy()
    metrics, proba = evaluate_texts(clf, texts, labels)
    if "domain" in test:
        from ..training.domains import format_groups, metrics_by_group

        metrics["by_domain"] = metrics_by_group(labels, proba, clf.classes_, test["domain"].tolist())
    write_report(out, metrics, texts, labels, proba, clf.classes_, clf.history_)
    _stamp(run_dir, "evaluate", key, {"accuracy": metrics["accuracy"]})
    log(format_metrics(metrics))
    if "by_domain" in metrics:
        log(format_groups(metrics["by_domain"], "domain"))
    log(f"evaluate: report -> {out}")
    return metrics


def run_pipeline(
    data: str | Path,
    run_dir: str | Path,
    cfg: Config,
    *,
    stages: Sequence[str] = STAGES,
    workers: int = 0,
    force: bool = False,
    verbose: int = 0,
    log: Log = _stderr,
    **prepare_args: Any,
) -> None:
    """Run the named stages in order, skipping those whose inputs did not change."""
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise SentimentError(f"unknown stage(s) {', '.join(unknown)}; valid stages: {', '.join(STAGES)}")
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.toml").write_text(cfg.to_toml(), encoding="utf-8")
    for stage in STAGES:
        if stage not in stages:
            continue
        if stage == "prepare":
            prepare(data, run_dir, cfg, force=force, log=log, **prepare_args)
        elif stage == "tokenize":
            tokenize(run_dir, cfg, workers=workers, force=force, log=log)
        elif stage == "word2vec":
            word2vec(run_dir, cfg, force=force, log=log)
        elif stage == "train":
            train(run_dir, cfg, force=force, verbose=verbose, log=log)
        else:
            evaluate(run_dir, force=force, log=log)


@locked("output", "model directory", create_folder=True)
def train_from_file(
    data: str | Path,
    output: str | Path,
    cfg: Config,
    *,
    text_column: str | None = None,
    label_column: str | None = None,
    sep: str | None = None,
    encoding: str | None = None,
    extra_texts: Sequence[str | Path] = (),
    test_data: str | Path | None = None,
    workers: int = 0,
    verbose: int = 0,
    overwrite: bool = False,
    use_cache: bool = True,
    log: Log = _stderr,
    sheet: str | int | None = None,
    positive_label: Any = None,
    positive_from: float | None = None,
    command: str | None = None,
):
    """Read a labeled table, train a model and save its bundle (optionally with test metrics) and model card.

    Tokens are cached (see :mod:`sentiment.text.token_cache`) unless ``use_cache`` is False. Two label values read
    as negative/positive (``positive_label``/``positive_from`` when their names are not known ones) start from the
    packaged model unless ``train.init_from`` says otherwise; predictions keep the file's label names.
    """
    from ..analysis.evaluation import evaluate_texts, headline
    from ..classifier import SentimentClassifier, data_fingerprint
    from ..io.labeled import binary_mapping, check_trainable, load_labeled, match_labels
    from ..model.modelcard import render_model_card
    from ..text.token_cache import tokenize_with_cache
    from ..text.tokenizers import Tokenizer

    output = Path(output)
    if output.exists() and not overwrite:
        raise SentimentError(f"{output} already exists; pass --overwrite to replace it")
    labeled = load_labeled(data, text_column, label_column, sep=sep, encoding=encoding, sheet=sheet, log=log)
    check_trainable(labeled, data)
    if cfg.train.init_from == "auto" or positive_label is not None or positive_from is not None:
        binary_mapping(
            labeled.labels, positive_label=positive_label, positive_from=positive_from, where=str(data)
        )  # unknown names fail here, naming the file, before tokenizing
    test = (
        load_labeled(
            test_data,
            labeled.text_column if text_column is None else text_column,
            labeled.label_column if label_column is None else label_column,
            sep=sep,
            encoding=encoding,
            log=log,
        )
        if test_data
        else None
    )
    files = [*cfg.word2vec.extra_texts, *map(str, extra_texts)]
    extra = unlabeled_frame(files, test.texts if test is not None else [], log)["text"].tolist()
    if extra:
        log(f"word2vec: {len(extra):,} extra unlabeled texts from {len(files)} file(s)")
    tokenizer = Tokenizer(cfg.normalize, cfg.tokenizer)

    def tokenize(texts: list[str], what: str) -> list[list[str]]:
        return tokenize_with_cache(tokenizer, texts, what, workers=workers, use_cache=use_cache, log=log)

    clf = SentimentClassifier(config=cfg, workers=workers, verbose=verbose)
    clf.fit_tokens(
        tokenize(labeled.texts, "train"),
        labeled.labels,
        cfg=cfg,
        extra_tokens=tokenize(extra, "extra texts") if extra else [],
        texts=labeled.texts,
        extra_texts=extra,
        fingerprint=data_fingerprint(labeled.texts, labeled.labels),
        positive_label=positive_label,
        positive_from=positive_from,
        log=log,
    )
    clf.training_["data"] = {
        "file": str(data),
        "text_column": labeled.text_column,
        "label_column": labeled.label_column,
        "rows_read": len(labeled.texts) + sum(labeled.dropped.values()),
        "dropped": labeled.dropped,
    }
    metrics, test_metrics = {}, None
    if test is not None:
        test_labels = match_labels(
            test.labels, clf.classes_, test_data, positive_label=positive_label, positive_from=positive_from
        )
        test_metrics, _ = evaluate_texts(clf, test.texts, test_labels, tokens=tokenize(test.texts, "test"))
        metrics["test"] = headline(test_metrics)
        log(f"test accuracy {test_metrics['accuracy']:.4f}, macro-F1 {test_metrics['macro_f1']:.4f}")
    card = render_model_card(
        output.name,
        clf.config_,
        {"training": {**clf.training_, "metrics": metrics}, "vocab_size": len(clf.vocabulary_)},
        test_metrics,
        None,
        command or f"sentiment train --data {data} --out {output}",
    )
    clf.save(output, metrics=metrics, model_card=card)
    log(f"saved model bundle -> {output}")
    return clf


@locked("output", "model directory", create_folder=True)
def export_model(
    run_dir: str | Path, output: str | Path, *, overwrite: bool = False, command: str | None = None, log: Log = _stderr
) -> Path:
    """Copy RUN/model to ``output`` with the test-split metrics and a model card added."""
    from ..analysis.evaluation import headline
    from ..classifier import SentimentClassifier
    from ..model.modelcard import render_model_card

    run_dir, output = Path(run_dir), Path(output)
    if output.exists() and not overwrite:
        raise SentimentError(f"{output} already exists; pass --overwrite to replace it")
    clf = SentimentClassifier.load(run_dir / "model")
    report = run_dir / "report" / "metrics.json"
    metrics = json.loads(report.read_text()) if report.is_file() else None
    stats_path = run_dir / "prepared" / "stats.json"
    stats = json.loads(stats_path.read_text()) if stats_path.is_file() else None
    test = headline(metrics) if metrics else {}
    if metrics and "by_domain" in metrics:
        test["by_domain"] = {name: headline(m) for name, m in metrics["by_domain"].items()}
    card = render_model_card(
        output.name,
        clf.config_,
        clf.meta_,
        metrics,
        stats,
        command or f"sentiment export --run-dir {run_dir} --out {output}",
    )
    clf.save(output, metrics={"test": test} if test else None, model_card=card)
    log(f"exported {run_dir / 'model'} -> {output}")
    return output


def add_onnx_graph(
    model: str | Path, output: str | Path | None = None, *, overwrite: bool = False, log: Log = _stderr
) -> Path:
    """Add ``model.onnx`` to an existing bundle, in place (``output=None``) or as a copy at ``output``."""
    from ..model.bundle import ONNX_FILE, add_onnx

    target = add_onnx(model, output, overwrite=overwrite)
    meta = json.loads((target / "meta.json").read_text(encoding="utf-8"))
    log(
        f"wrote {target / ONNX_FILE} (max |p_onnx - p_keras| = {meta['onnx']['max_abs_diff_vs_keras']:.1e} "
        f"on {meta['onnx']['parity_rows']} random sequences)"
    )
    return target
