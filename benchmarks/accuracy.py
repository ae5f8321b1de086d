#!/usr/bin/env python
"""Accuracy of the project's models against baselines, per domain, on seeded held-out splits.

    # per-domain figures (docs/domains.md): the packaged model and a run's model beside char TF-IDF + LR trained
    # on exactly the same labeled rows, on each domain's test split and on the hand-written sample by domain
    python benchmarks/accuracy.py --data movie=NSMC/train.tsv.gz --data shopping=DOMAINS/shopping.tsv.gz \
        --data steam=DOMAINS/steam.tsv.gz --test-size movie=20000 --test-size 0.2 --add-train movie=NSMC/extra.tsv.gz \
        --only tfidf --models packaged=default multi=runs/multi-domain/model
    python benchmarks/accuracy.py --data NSMC/train.tsv.gz            # one domain: every preset config (hours)
    python benchmarks/accuracy.py --data NSMC/train.tsv.gz --quick    # minutes: tiny subset

Each test split is carved by the pipeline's own `prepare` stage (seeded, stratified; per domain with several
`--data DOMAIN=FILE`), so they are the splits `sentiment pipeline` evaluates on with the same arguments; they are
never used for training, Word2Vec, early stopping or as unlabeled text. Then, in the same run:

  tfidf     baseline A: char_wb (2-4)-gram TF-IDF + LogisticRegression on the train split, C tuned on validation;
  tutorial  baseline B: Okt morphs(norm=True, stem=True), Keras Embedding from scratch, LSTM(128),
            fixed length 80 with pre-padding;
  CONFIG    each --configs file through SentimentClassifier (KoNLPy -> Word2Vec -> (Bi)LSTM), domains weighted
            as the config says;
  MODEL     each --models NAME=BUNDLE (``default`` = the packaged model), trained elsewhere, scored as it is.

Prints a table (accuracy, macro-F1, ROC AUC per domain and overall; training seconds; scoring rows/s) and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
PRESETS = [
    "configs/w2v50-len80-lstm.toml",
    "configs/w2v100-len80-bilstm.toml",
    "configs/w2v100-len128-bilstm.toml",
    "configs/w2v100-len128-bilstm-2layer.toml",
    "configs/default.toml",
]


def metrics(y: np.ndarray, p1: np.ndarray) -> dict:
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    pred = (p1 >= 0.5).astype(int)
    out = {
        "rows": int(len(y)),
        "accuracy": round(float(accuracy_score(y, pred)), 4),
        "macro_f1": round(float(f1_score(y, pred, average="macro")), 4),
    }
    if len(np.unique(y)) == 2:
        out["roc_auc"] = round(float(roc_auc_score(y, p1)), 4)
    return out


def figures(test: pd.DataFrame, p1: np.ndarray, sample: pd.DataFrame | None, p1_sample: np.ndarray | None) -> dict:
    """Overall and per-domain metrics on the test split, and per domain of the hand-written sample."""
    out = metrics(test["label"].to_numpy(), p1)
    if "domain" in test:
        out["by_domain"] = {
            name: metrics(test["label"].to_numpy()[rows], p1[rows])
            for name in sorted(test["domain"].unique())
            for rows in [(test["domain"] == name).to_numpy()]
        }
    if sample is not None and p1_sample is not None:
        out["sample"] = metrics(sample["label"].to_numpy(), p1_sample)
        if "domain" in sample:
            out["sample_by_domain"] = {
                name: metrics(sample["label"].to_numpy()[rows], p1_sample[rows])
                for name in sorted(sample["domain"].unique())
                for rows in [(sample["domain"] == name).to_numpy()]
            }
    return out


def timed_scores(score, frames: list[pd.DataFrame | None]) -> tuple[list[np.ndarray | None], float]:
    """``score(texts) -> P(1)`` on each frame; rows/s measured on the first."""
    out, rate = [], 0.0
    for k, frame in enumerate(frames):
        if frame is None:
            out.append(None)
            continue
        start = time.perf_counter()
        out.append(score(frame["text"].tolist()))
        if k == 0:
            rate = len(frame) / max(time.perf_counter() - start, 1e-9)
    return out, rate


def run_tfidf(train: pd.DataFrame, frames: list, seed: int) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    start = time.perf_counter()
    fit_part, valid = train_test_split(train, test_size=0.1, random_state=seed, stratify=train["label"])
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=2, sublinear_tf=True)
    x_fit = vec.fit_transform(fit_part["text"])
    x_valid = vec.transform(valid["text"])
    scores = {
        c: LogisticRegression(C=c, max_iter=2000).fit(x_fit, fit_part["label"]).score(x_valid, valid["label"])
        for c in (0.5, 1.0, 2.0, 4.0, 8.0)
    }
    best = max(scores, key=scores.get)
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=2, sublinear_tf=True)
    clf = LogisticRegression(C=best, max_iter=2000).fit(vec.fit_transform(train["text"]), train["label"])
    train_s = time.perf_counter() - start
    probas, rate = timed_scores(lambda texts: clf.predict_proba(vec.transform(texts))[:, 1], frames)
    return {
        "probas": probas,
        "train_seconds": round(train_s, 1),
        "rows_per_s": round(rate),
        "notes": f"C={best} (validation accuracy {scores[best]:.4f})",
    }


def run_tutorial(train: pd.DataFrame, frames: list, seed: int, epochs: int) -> dict:
    import keras

    from sentiment.config import NormalizeConfig, TokenizerConfig
    from sentiment.text.tokenizers import Tokenizer

    keras.utils.set_random_seed(seed)
    okt = Tokenizer(NormalizeConfig(enabled=False), TokenizerConfig(tagger="okt", norm=True, stem=True))
    start = time.perf_counter()
    train_tokens = okt.tokenize_many(train["text"].tolist(), workers=0)
    vocab = {t: i + 2 for i, t in enumerate(sorted({t for toks in train_tokens for t in toks}))}

    def encode(token_lists):
        return keras.utils.pad_sequences(
            [[vocab.get(t, 1) for t in toks] for toks in token_lists], maxlen=80, padding="pre", truncating="pre"
        )

    model = keras.Sequential(
        [
            keras.Input((80,), dtype="int32"),
            keras.layers.Embedding(len(vocab) + 2, 100),
            keras.layers.LSTM(128),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)
    model.fit(
        encode(train_tokens),
        train["label"].to_numpy(),
        validation_split=0.1,
        epochs=epochs,
        batch_size=128,
        callbacks=[stop],
        verbose=2,
    )
    train_s = time.perf_counter() - start
    probas, rate = timed_scores(
        lambda texts: model.predict(encode(okt.tokenize_many(texts, workers=1)), batch_size=512, verbose=0)[:, 0],
        frames,
    )
    return {
        "probas": probas,
        "train_seconds": round(train_s, 1),
        "rows_per_s": round(rate),
        "notes": f"vocabulary {len(vocab):,}",
    }


def classifier_row(clf, frames: list, train_s: float, notes: list[str]) -> dict:
    """Scores and notes of a fitted or loaded SentimentClassifier."""
    probas, rate = timed_scores(lambda texts: clf.predict_proba(texts)[:, 1], frames)
    distill = clf.training_.get("distill")
    if distill:
        notes.append(
            "teachers "
            + ", ".join(f"{t.get('network', t['kind'])} {t['validation_accuracy']:.4f}" for t in distill["teachers"])
            + f" (ensemble {distill['ensemble_validation_accuracy']:.4f} on validation)"
        )
    return {
        "probas": probas,
        "train_seconds": round(train_s, 1),
        "rows_per_s": round(rate),
        "notes": "; ".join(notes),
        "distill": distill,
    }


def run_config(path: str, train: pd.DataFrame, frames: list, overrides: list[str], extra_texts: list[str]) -> dict:
    from sentiment import SentimentClassifier
    from sentiment.config import Config

    cfg = Config.from_toml(ROOT / path if not Path(path).is_absolute() else path, overrides)
    start = time.perf_counter()
    clf = SentimentClassifier(config=cfg, workers=0, verbose=2).fit(
        train["text"].tolist(),
        train["label"].tolist(),
        extra_texts=extra_texts,
        domains=train["domain"].tolist() if "domain" in train else None,
    )
    train_s = time.perf_counter() - start
    notes = [f"{clf.training_['epochs_run']} epochs", f"vocabulary {len(clf.vocabulary_):,}"]
    if extra_texts:
        notes.append(f"{len(extra_texts):,} unlabeled texts")
    return classifier_row(clf, frames, train_s, notes)


def run_model(path: str, frames: list) -> dict:
    from sentiment import SentimentClassifier

    clf = SentimentClassifier.load(None if path == "default" else path, workers=0)
    return classifier_row(clf, frames, 0.0, [f"bundle {path}"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--data",
        action="append",
        required=True,
        metavar="[DOMAIN=]FILE",
        help="labeled NSMC-format file (e.g. train.tsv.gz); repeat as DOMAIN=FILE for several domains",
    )
    p.add_argument(
        "--test-size",
        action="append",
        metavar="[DOMAIN=]SIZE",
        help="test split per domain: a share or a row count (default 20000; e.g. movie=20000 and 0.2)",
    )
    p.add_argument("--test-rows", type=int, help="same as --test-size N (older spelling)")
    p.add_argument(
        "--sample",
        type=Path,
        default=ROOT / "data" / "sample" / "comments.csv",
        help="hand-written labeled sample also scored, by its domain column ('' to skip)",
    )
    p.add_argument("--quick", action="store_true", help="3,000 training and 1,000 test rows, 1-2 epochs")
    p.add_argument("--configs", nargs="+", default=PRESETS)
    p.add_argument(
        "--models",
        nargs="+",
        default=[],
        metavar="NAME=BUNDLE",
        help="trained bundles to score on the same splits ('default' = the packaged model)",
    )
    p.add_argument(
        "--extra-texts",
        nargs="+",
        default=[],
        metavar="[DOMAIN=]FILE",
        help="unlabeled texts for the configs (Word2Vec, distillation), e.g. extra.tsv.gz neutral.tsv.gz; "
        "texts equal to a test text are left out",
    )
    p.add_argument(
        "--add-train",
        nargs="+",
        default=[],
        metavar="[DOMAIN=]FILE",
        help="labeled files added to the train split of every model (the test split is unchanged)",
    )
    p.add_argument(
        "--only",
        nargs="+",
        choices=["tfidf", "tutorial", "configs", "models"],
        default=["tfidf", "tutorial", "configs"],
        help="what to train and score (--models are always scored; 'models' alone: only them)",
    )
    p.add_argument("--tutorial-epochs", type=int, default=3)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--json-out", type=Path, default=ROOT / "reports" / "benchmarks" / "accuracy.json")
    args = p.parse_args()

    from sentiment.apps import stages
    from sentiment.config import Config

    run_dir = Path(tempfile.mkdtemp(prefix="sentiment-accuracy-"))
    log = lambda m: print(m, file=sys.stderr)  # noqa: E731
    sizes = args.test_size or [str(args.test_rows or 20_000)]
    stages.prepare(
        args.data if len(args.data) > 1 or "=" in args.data[0] else args.data[0],
        run_dir,
        Config().with_overrides({"train.seed": args.seed}),
        test_size=sizes,
        add_train=args.add_train,
        log=log,
    )
    train = pd.read_parquet(run_dir / "prepared" / "train.parquet")
    test = pd.read_parquet(run_dir / "prepared" / "test.parquet")
    sample = None
    if str(args.sample) and args.sample.is_file():
        sample = pd.read_csv(args.sample).rename(columns={"document": "text"})
    overrides: list[str] = []
    extra_files = list(args.extra_texts)
    if args.quick:
        train = train.sample(n=min(3000, len(train)), random_state=args.seed)
        test = test.sample(n=min(1000, len(test)), random_state=args.seed)
        overrides = ["train.epochs=2", "word2vec.epochs=3", "distill.teacher_lstm_units=[32]"]
        args.tutorial_epochs = 1
    extra = stages.unlabeled_frame(extra_files, test["text"].tolist(), log)["text"].tolist() if extra_files else []
    if args.quick:
        extra = extra[:3000]
    print(f"train {len(train):,} rows, test {len(test):,} rows (seed {args.seed})", flush=True)

    frames = [test, sample]
    results: dict[str, dict] = {}
    if "tfidf" in args.only:
        results["baseline A: char TF-IDF + LR"] = run_tfidf(train, frames, args.seed)
    if "tutorial" in args.only:
        results["baseline B: tutorial Okt + LSTM(128)"] = run_tutorial(train, frames, args.seed, args.tutorial_epochs)
    if "configs" in args.only:
        for path in args.configs:
            results[Path(path).stem] = run_config(path, train, frames, overrides, extra)
    for entry in args.models:
        name, _, path = entry.partition("=")
        results[name] = run_model(path or name, frames)
    for row in results.values():
        test_p1, sample_p1 = row.pop("probas")
        row.update(figures(test, test_p1, sample, sample_p1))

    domains = sorted(test["domain"].unique()) if "domain" in test else []
    sample_domains = sorted(sample["domain"].unique()) if sample is not None and "domain" in sample else []
    head = [
        "model",
        "test: accuracy / macro-F1 / ROC AUC",
        *(f"{d}" for d in domains),
        *(f"sample {d}" for d in sample_domains),
        "train s",
        "score rows/s",
        "notes",
    ]
    print("\n| " + " | ".join(head) + " |\n" + "|---" * len(head) + "|")

    def cell(m: dict) -> str:
        return f"{m['accuracy']:.4f} / {m['macro_f1']:.4f} / {m.get('roc_auc', float('nan')):.4f}"

    for name, r in results.items():
        cells = [
            name,
            cell(r),
            *(cell(r["by_domain"][d]) for d in domains),
            *(cell(r["sample_by_domain"][d]) for d in sample_domains),
            f"{r['train_seconds']:,.0f}",
            f"{r['rows_per_s']:,}",
            r["notes"],
        ]
        print("| " + " | ".join(cells) + " |")
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(
        json.dumps(
            {
                "data": args.data,
                "test_size": sizes,
                "add_train": args.add_train,
                "extra_texts": args.extra_texts,
                "unlabeled_rows": len(extra),
                "train_rows": len(train),
                "test_rows": len(test),
                "test_rows_by_domain": test["domain"].value_counts().to_dict() if domains else {},
                "quick": args.quick,
                "seed": args.seed,
                "results": results,
            },
            indent=2,
        )
    )
    print(f"written {args.json_out}")


if __name__ == "__main__":
    main()
