#!/usr/bin/env python
"""Learning curve on a domain the base model never saw: how many labeled rows does each recipe need?

    # docs/training.md: Steam reviews, a base model trained without them (movie + shopping), 300 ... 10,000 rows
    nice -n 10 python benchmarks/learning_curve.py --data /work/shared/data/domains/steam.tsv.gz \
        --base /work/runs/no-steam/model --sizes 300 1000 3000 10000 --test-rows 4000 --json-out lc.json

One seeded held-out test split of ``--data`` (``--test-rows``, stratified) is kept aside; the training rows of
each size are the first N of one seeded shuffle of the rest (the sizes are nested), so every recipe sees exactly
the same rows and is scored on the same test rows. Recipes (``--methods``):

  tfidf    char_wb (2-4)-gram TF-IDF + logistic regression, C tuned on a tenth of the rows (as benchmarks/accuracy.py)
  scratch  `sentiment train --from-scratch`: the default config, a new Word2Vec + BiLSTM on the rows alone
  base     `sentiment train --set train.init_from=BASE`: the base's network and vocabulary, fine-tuned with the
           [finetune] schedule (what `train` does by default from the packaged model)
  adapt    `sentiment adapt --model BASE --texts ROWS --labeled ROWS`: the base adapted to the rows' texts
           (pseudo-labels) with the rows' labels weighed in

``--set section.key=value`` overrides the config of ``scratch`` and ``base`` (the fine-tuning sweeps of
docs/training.md used ``--methods base --set finetune.anchor_weight=0`` and so on). Prints a Markdown table
(macro-F1, and training seconds) and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
METHODS = ("tfidf", "scratch", "base", "adapt")


def macro_f1(y: np.ndarray, p1: np.ndarray) -> dict:
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    pred = (p1 >= 0.5).astype(int)
    return {
        "macro_f1": round(float(f1_score(y, pred, average="macro")), 4),
        "accuracy": round(float(accuracy_score(y, pred)), 4),
        "roc_auc": round(float(roc_auc_score(y, p1)), 4),
    }


def run_tfidf(texts: list[str], y: np.ndarray, test_texts: list[str], seed: int) -> tuple[np.ndarray, str]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    idx_fit, idx_valid = train_test_split(np.arange(len(y)), test_size=0.1, random_state=seed, stratify=y)
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=2, sublinear_tf=True)
    x = vec.fit_transform([texts[i] for i in idx_fit])
    xv = vec.transform([texts[i] for i in idx_valid])
    scores = {
        c: LogisticRegression(C=c, max_iter=2000).fit(x, y[idx_fit]).score(xv, y[idx_valid])
        for c in (0.5, 1.0, 2.0, 4.0, 8.0)
    }
    best = max(scores, key=scores.get)
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=2, sublinear_tf=True)
    clf = LogisticRegression(C=best, max_iter=2000).fit(vec.fit_transform(texts), y)
    return clf.predict_proba(vec.transform(test_texts))[:, 1], f"C={best}"


def run_network(cfg, tokens: list[list[str]], y: np.ndarray, test_tokens: list[list[str]]) -> tuple[np.ndarray, str]:
    from sentiment import SentimentClassifier

    clf = SentimentClassifier(config=cfg).fit_tokens(tokens, y, cfg=cfg)
    proba = clf.predict_ids(clf.vocabulary_.encode_many(test_tokens))
    t = clf.training_
    note = f"{t['epochs_run']} epochs" + (f", {t['init_from']['new_tokens']} new tokens" if "init_from" in t else "")
    return proba[:, list(clf.classes_).index(1)], note


def run_adapt(base, cfg, texts: list[str], y: np.ndarray, test_tokens: list[list[str]]) -> tuple[np.ndarray, str]:
    adapted = base.adapt(texts, labeled=(texts, y), config=cfg)
    proba = adapted.predict_ids(adapted.vocabulary_.encode_many(test_tokens))
    report = adapted.training_["adaptation"]
    return proba[:, list(adapted.classes_).index(1)], f"{report['pseudo_labeled']} pseudo-labels"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="labeled table of the new domain (text + 0/1 label)")
    parser.add_argument("--base", required=True, help="a bundle that never saw this domain (default = packaged)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[300, 1000, 3000, 10000])
    parser.add_argument("--test-rows", type=int, default=4000)
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--json-out", help="write the figures here")
    args = parser.parse_args()

    from sklearn.model_selection import train_test_split

    from sentiment import SentimentClassifier
    from sentiment.config import Config
    from sentiment.io.labeled import load_labeled
    from sentiment.text.tokenizers import Tokenizer

    data = load_labeled(args.data)
    frame = pd.DataFrame({"text": data.texts, "label": data.labels.astype(int)}).drop_duplicates("text")
    pool, test = train_test_split(frame, test_size=args.test_rows, random_state=args.seed, stratify=frame["label"])
    pool = pool.sample(frac=1.0, random_state=args.seed).reset_index(drop=True)
    sizes = [n for n in args.sizes if n <= len(pool)]
    if len(sizes) < len(args.sizes):
        print(f"sizes above the {len(pool):,} training rows left out", file=sys.stderr)
    base = SentimentClassifier.load(None if args.base == "default" else args.base, runtime="keras")
    tokenizer = Tokenizer(base.config_.normalize, base.config_.tokenizer)
    started = time.perf_counter()
    need = pool.iloc[: max(sizes)]
    pool_tokens = tokenizer.tokenize_many(need["text"].tolist(), workers=1, show_progress=False)
    test_tokens = tokenizer.tokenize_many(test["text"].tolist(), workers=1, show_progress=False)
    print(f"tokenized {len(need) + len(test):,} texts in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    y_test = test["label"].to_numpy()
    base_p1 = base.predict_ids(base.vocabulary_.encode_many(test_tokens))[:, list(base.classes_).index(1)]
    results: dict = {"base (no training)": {"all": macro_f1(y_test, base_p1)}}
    cfg_scratch = Config().with_overrides([*args.overrides, "train.init_from=none"])
    cfg_base = Config().with_overrides([*args.overrides, f"train.init_from={args.base}"])
    for n in sizes:
        rows = pool.iloc[:n]
        texts, y, tokens = rows["text"].tolist(), rows["label"].to_numpy(), pool_tokens[:n]
        for method in args.methods:
            start = time.perf_counter()
            if method == "tfidf":
                p1, note = run_tfidf(texts, y, test["text"].tolist(), args.seed)
            elif method == "scratch":
                p1, note = run_network(cfg_scratch, tokens, y, test_tokens)
            elif method == "base":
                p1, note = run_network(cfg_base, tokens, y, test_tokens)
            else:
                p1, note = run_adapt(
                    base,
                    base.config_.with_overrides([o for o in args.overrides if o.startswith("adapt.")]),
                    texts,
                    y,
                    test_tokens,
                )
            seconds = round(time.perf_counter() - start, 1)
            row = {**macro_f1(y_test, p1), "seconds": seconds, "notes": note}
            results.setdefault(method, {})[str(n)] = row
            print(
                f"{method} n={n}: macro-F1 {row['macro_f1']:.4f} ({seconds:.0f} s; {note})", file=sys.stderr, flush=True
            )
    names = {
        "tfidf": "char TF-IDF + LR",
        "scratch": "from scratch (`--from-scratch`)",
        "base": "from the base (`train` default)",
        "adapt": "`adapt --labeled` (base)",
    }
    print(
        f"\n{args.data}: test {len(test):,} rows; base {args.base} alone: macro-F1 "
        f"{results['base (no training)']['all']['macro_f1']:.4f}\n"
    )
    print("| labeled rows | " + " | ".join(names[m] for m in args.methods) + " |")
    print("|---|" + "---|" * len(args.methods))
    for n in sizes:
        print(
            f"| {n:,} | "
            + " | ".join(
                f"{results[m][str(n)]['macro_f1']:.4f} ({results[m][str(n)]['seconds']:.0f} s)" for m in args.methods
            )
            + " |"
        )
    if args.json_out:
        Path(args.json_out).write_text(
            json.dumps(
                {
                    "data": args.data,
                    "base": args.base,
                    "test_rows": len(test),
                    "seed": args.seed,
                    "overrides": args.overrides,
                    "results": results,
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
