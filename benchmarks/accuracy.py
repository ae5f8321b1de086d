#!/usr/bin/env python
"""Accuracy of the project's configurations against two baselines, on one held-out split.

    python benchmarks/accuracy.py --data ../shared/data/nsmc-raw/train.tsv.gz            # full (hours on 2 cores)
    python benchmarks/accuracy.py --data ../shared/data/nsmc-raw/train.tsv.gz --quick    # minutes: tiny subset
    python benchmarks/accuracy.py --data ... --only tfidf --configs configs/default.toml

The test split is carved by the pipeline's own `prepare` stage (seeded, stratified, 20,000 rows by default),
so it is the split the packaged default model was evaluated on; it is never used for training, Word2Vec or
early stopping. Then, in the same run:

  tfidf     baseline A: char_wb (2-4)-gram TF-IDF + LogisticRegression, C tuned on a validation split;
  tutorial  baseline B: Okt morphs(norm=True, stem=True), Keras Embedding from scratch, LSTM(128),
            fixed length 80 with pre-padding;
  CONFIG    each --configs file through SentimentClassifier (KoNLPy -> Word2Vec -> (Bi)LSTM).

Prints a table (accuracy, macro-F1, ROC AUC, training seconds, scoring rows/s) and writes JSON.
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
PRESETS = ["configs/w2v50-len80-lstm.toml", "configs/w2v100-len80-bilstm.toml", "configs/w2v100-len128-bilstm.toml",
           "configs/w2v100-len128-bilstm-2layer.toml", "configs/default.toml"]


def metrics(y: np.ndarray, p1: np.ndarray) -> dict:
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    pred = (p1 >= 0.5).astype(int)
    return {"accuracy": round(float(accuracy_score(y, pred)), 4), "macro_f1": round(float(f1_score(y, pred, average="macro")), 4),
            "roc_auc": round(float(roc_auc_score(y, p1)), 4)}


def run_tfidf(train: pd.DataFrame, test: pd.DataFrame, seed: int) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    start = time.perf_counter()
    fit_part, valid = train_test_split(train, test_size=0.1, random_state=seed, stratify=train["label"])
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=2, sublinear_tf=True)
    x_fit = vec.fit_transform(fit_part["text"])
    x_valid = vec.transform(valid["text"])
    scores = {c: LogisticRegression(C=c, max_iter=2000).fit(x_fit, fit_part["label"]).score(x_valid, valid["label"])
              for c in (0.5, 1.0, 2.0, 4.0, 8.0)}
    best = max(scores, key=scores.get)
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=2, sublinear_tf=True)
    clf = LogisticRegression(C=best, max_iter=2000).fit(vec.fit_transform(train["text"]), train["label"])
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    p1 = clf.predict_proba(vec.transform(test["text"]))[:, 1]
    score_s = time.perf_counter() - start
    return {**metrics(test["label"].to_numpy(), p1), "train_seconds": round(train_s, 1),
            "rows_per_s": round(len(test) / score_s), "notes": f"C={best} (validation accuracy {scores[best]:.4f})"}


def run_tutorial(train: pd.DataFrame, test: pd.DataFrame, seed: int, epochs: int) -> dict:
    import keras

    from sentiment.config import NormalizeConfig, TokenizerConfig
    from sentiment.tokenizers import Tokenizer

    keras.utils.set_random_seed(seed)
    okt = Tokenizer(NormalizeConfig(enabled=False), TokenizerConfig(tagger="okt", norm=True, stem=True))
    start = time.perf_counter()
    train_tokens = okt.tokenize_many(train["text"].tolist(), workers=0)
    vocab = {t: i + 2 for i, t in enumerate(sorted({t for toks in train_tokens for t in toks}))}

    def encode(token_lists):
        return keras.utils.pad_sequences([[vocab.get(t, 1) for t in toks] for toks in token_lists], maxlen=80,
                                         padding="pre", truncating="pre")

    model = keras.Sequential([keras.Input((80,), dtype="int32"), keras.layers.Embedding(len(vocab) + 2, 100),
                              keras.layers.LSTM(128), keras.layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)
    model.fit(encode(train_tokens), train["label"].to_numpy(), validation_split=0.1, epochs=epochs, batch_size=128,
              callbacks=[stop], verbose=2)
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    p1 = model.predict(encode(okt.tokenize_many(test["text"].tolist(), workers=1)), batch_size=512, verbose=0)[:, 0]
    score_s = time.perf_counter() - start
    return {**metrics(test["label"].to_numpy(), p1), "train_seconds": round(train_s, 1),
            "rows_per_s": round(len(test) / score_s), "notes": f"vocabulary {len(vocab):,}"}


def run_config(path: str, train: pd.DataFrame, test: pd.DataFrame, overrides: list[str],
               extra_texts: list[str]) -> dict:
    from sentiment import SentimentClassifier
    from sentiment.config import Config

    cfg = Config.from_toml(ROOT / path if not Path(path).is_absolute() else path, overrides)
    start = time.perf_counter()
    clf = SentimentClassifier(config=cfg, workers=0, verbose=2).fit(train["text"].tolist(), train["label"].tolist(),
                                                                    extra_texts=extra_texts)
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    p1 = clf.predict_proba(test["text"].tolist())[:, 1]
    score_s = time.perf_counter() - start
    notes = [f"{clf.training_['epochs_run']} epochs", f"vocabulary {len(clf.vocabulary_):,}"]
    if extra_texts:
        notes.append(f"{len(extra_texts):,} unlabeled texts")
    distill = clf.training_.get("distill")
    if distill:
        notes.append("teachers " + ", ".join(f"{t.get('network', t['kind'])} {t['validation_accuracy']:.4f}"
                                             for t in distill["teachers"])
                     + f" (ensemble {distill['ensemble_validation_accuracy']:.4f} on validation)")
    return {**metrics(test["label"].to_numpy(), p1), "train_seconds": round(train_s, 1),
            "rows_per_s": round(len(test) / score_s), "notes": "; ".join(notes), "distill": distill}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="labeled NSMC-format file (e.g. train.tsv.gz)")
    p.add_argument("--test-rows", type=int, default=20_000)
    p.add_argument("--quick", action="store_true", help="3,000 training and 1,000 test rows, 1-2 epochs")
    p.add_argument("--configs", nargs="+", default=PRESETS)
    p.add_argument("--extra-texts", nargs="+", type=Path, default=[], metavar="FILE",
                   help="unlabeled texts for the configs (Word2Vec, distillation), e.g. extra.tsv.gz neutral.tsv.gz; "
                        "texts equal to a test text are left out")
    p.add_argument("--add-train", nargs="+", type=Path, default=[], metavar="FILE",
                   help="labeled files added to the train split of every model (the test split is unchanged)")
    p.add_argument("--only", nargs="+", choices=["tfidf", "tutorial", "configs"], default=["tfidf", "tutorial", "configs"])
    p.add_argument("--tutorial-epochs", type=int, default=3)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--json-out", type=Path, default=ROOT / "reports" / "benchmarks" / "accuracy.json")
    args = p.parse_args()

    from sentiment import stages
    from sentiment.config import Config
    from sentiment.dataio import read_text_lines

    run_dir = Path(tempfile.mkdtemp(prefix="sentiment-accuracy-"))
    log = lambda m: print(m, file=sys.stderr)  # noqa: E731
    stages.prepare(args.data, run_dir, Config().with_overrides({"train.seed": args.seed}),
                   test_size=args.test_rows, add_train=args.add_train, log=log)
    train = pd.read_parquet(run_dir / "prepared" / "train.parquet")
    test = pd.read_parquet(run_dir / "prepared" / "test.parquet")
    extra = [t for path in args.extra_texts for t in read_text_lines(path)]
    overrides: list[str] = []
    if args.quick:
        train = train.sample(n=min(3000, len(train)), random_state=args.seed)
        test = test.sample(n=min(1000, len(test)), random_state=args.seed)
        extra = extra[:3000]
        overrides = ["train.epochs=2", "word2vec.epochs=3", "distill.teacher_lstm_units=[32]"]
        args.tutorial_epochs = 1
    extra = stages.without_texts(extra, test["text"].tolist(), "extra texts", log)
    print(f"train {len(train):,} rows, test {len(test):,} rows (seed {args.seed})", flush=True)

    results: dict[str, dict] = {}
    if "tfidf" in args.only:
        results["baseline A: char TF-IDF + LR"] = run_tfidf(train, test, args.seed)
    if "tutorial" in args.only:
        results["baseline B: tutorial Okt + LSTM(128)"] = run_tutorial(train, test, args.seed, args.tutorial_epochs)
    if "configs" in args.only:
        for path in args.configs:
            results[Path(path).stem] = run_config(path, train, test, overrides, extra)
            print(Path(path).stem, results[Path(path).stem], flush=True)

    print(f"\n| model | accuracy | macro-F1 | ROC AUC | train s | score rows/s | notes |\n|---|---|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} | {r['roc_auc']:.4f} | {r['train_seconds']:,.0f} | "
              f"{r['rows_per_s']:,} | {r['notes']} |")
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps({"data": str(args.data), "add_train": list(map(str, args.add_train)),
                                         "extra_texts": list(map(str, args.extra_texts)), "unlabeled_rows": len(extra),
                                         "train_rows": len(train), "test_rows": len(test), "quick": args.quick,
                                         "seed": args.seed, "results": results}, indent=2))
    print(f"written {args.json_out}")


if __name__ == "__main__":
    main()
