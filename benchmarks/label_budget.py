#!/usr/bin/env python
"""What a few hundred labels buy on a kind of comment the model never saw: simulated labeling.

    # a base model that never saw Steam (/work/runs/no-steam/COMMAND.txt), adapted to Steam reviews
    nice -n 10 python benchmarks/label_budget.py --base /work/runs/no-steam/model \
        --data steam=DOMAINS/steam.tsv.gz --budgets 0 100 300 1000 --unlabeled 8000 --json-out label_budget.json

The domain file's true labels play the annotator. Its rows are split once (seeded, stratified) into a **test**
part (``--test-rows``), never selected, labeled or used as unlabeled text, and a **pool**; ``--unlabeled`` texts
are drawn from the pool: the comments a user has. For each budget n (labels) and each way of choosing them:

  random          n of those texts drawn uniformly;
  tool            ``SentimentClassifier.select_for_labeling(texts, n)`` (what ``sentiment label`` chooses: an
                  audit part at random and an informative part);

the chosen texts get their true labels, and each method is scored on the test part:

  threshold alone         the base model with a threshold chosen from the n labels as adapt chooses it
                          (sentiment.model.decision.threshold_from_labels: the predicted share on the texts matched
                          to the audit labels' share when 30+ were drawn at random, else macro-F1 on the labels);
  adapt --labeled         ``base.adapt(texts, labeled=...)`` with the unlabeled texts (the default recipe: the
                          labels train the model and a held-out part fits its decision rule);
  adapt, labels only      the same with only the labeled texts as texts (no unlabeled comments);
  char TF-IDF + LR        char_wb (2-4)-grams, logistic regression, C chosen by 3-fold CV on the n labels.

With 0 labels: the base model, ``adapt`` on the unlabeled texts (the default: equal classes), and ``adapt`` with
the class mix estimated by EM (``adapt.class_mix = "estimate"``), deciding by the likelier class or by the
threshold that matches that mix (``adapt.decision = "estimate"``). Figures: macro-F1 and the
share error (predicted share positive minus the true share on the test part, in points). ``--positive-share``
resamples the domain to another class mix first (e.g. 0.7, like the issue's 68%-positive game reviews).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--base", required=True, help="base model bundle (one that never saw the domain)")
    p.add_argument("--data", required=True, help="NAME=FILE: the domain's labeled table (text and label columns)")
    p.add_argument("--text-column", default=None)
    p.add_argument("--label-column", default=None)
    p.add_argument("--budgets", type=int, nargs="+", default=[0, 100, 300, 1000], help="label budgets")
    p.add_argument("--strategies", nargs="+", default=["random", "tool"], choices=("random", "tool"))
    p.add_argument(
        "--unlabeled",
        type=int,
        default=8000,
        help="unlabeled texts drawn from the pool (the user's comments; labels are chosen among them)",
    )
    p.add_argument("--test-rows", type=int, default=5000, help="rows held out for testing")
    p.add_argument("--positive-share", type=float, default=None, help="resample the domain to this share positive")
    p.add_argument("--no-labels-only", action="store_true", help="skip 'adapt, labels only'")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="adapt.KEY=VALUE",
        help="adapt settings for every adaptation (repeatable)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json-out", default=None)
    return p.parse_args(argv)


def load_domain(
    spec: str, text_column: str | None, label_column: str | None, positive_share: float | None, seed: int
) -> tuple[str, list[str], np.ndarray]:
    from sentiment.io.labeled import load_labeled

    name, _, path = spec.rpartition("=")
    name = name or Path(path).name.split(".")[0]
    data = load_labeled(path, text_column, label_column)
    y = np.asarray(data.labels).astype(int)
    texts = np.asarray(data.texts, dtype=object)
    if positive_share is not None:  # keep every row of the class that limits the mix, sample the other
        rng = np.random.default_rng(seed)
        pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
        n_pos = min(len(pos), int(len(neg) * positive_share / (1 - positive_share)))
        n_neg = min(len(neg), int(round(n_pos * (1 - positive_share) / positive_share)))
        keep = np.sort(np.concatenate([rng.choice(pos, n_pos, replace=False), rng.choice(neg, n_neg, replace=False)]))
        texts, y = texts[keep], y[keep]
    return name, texts.tolist(), y


def split(y: np.ndarray, test_rows: int, unlabeled: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(test rows, the user's texts) as index arrays: a stratified test part, the texts drawn from the rest."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    pool, test = train_test_split(idx, test_size=min(test_rows, len(y) // 2), stratify=y, random_state=seed)
    rng = np.random.default_rng(seed)
    users = np.sort(rng.choice(pool, min(unlabeled, len(pool)), replace=False))
    return np.sort(test), users


def figures(y: np.ndarray, pred: np.ndarray) -> dict:
    from sklearn.metrics import f1_score

    return {
        "macro_f1": round(float(f1_score(y, pred, average="macro")), 4),
        "share_error_points": round(100 * float(pred.mean() - y.mean()), 2),
    }


def tfidf_lr(texts: list[str], y: np.ndarray, seed: int):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline

    pipe = make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=1),
        LogisticRegression(max_iter=2000, class_weight="balanced"),
    )
    folds = min(3, int(np.bincount(y, minlength=2).min()))
    if folds < 2:
        return pipe.fit(texts, y)
    grid = GridSearchCV(
        pipe,
        {"logisticregression__C": [0.3, 1.0, 3.0, 10.0]},
        scoring="f1_macro",
        cv=StratifiedKFold(folds, shuffle=True, random_state=seed),
    )
    return grid.fit(texts, y).best_estimator_


def choose(base, strategy: str, texts: list[str], n: int, seed: int) -> tuple[np.ndarray, list[str]]:
    """(positions in ``texts``, sample kind per chosen row)."""
    if strategy == "random":
        rng = np.random.default_rng(seed + n)
        return np.sort(rng.choice(len(texts), n, replace=False)), ["audit"] * n
    if not hasattr(base, "select_for_labeling"):
        raise SystemExit(
            "--strategies tool needs SentimentClassifier.select_for_labeling (sentiment label); "
            "this version has none: pass --strategies random"
        )
    chosen = base.select_for_labeling(texts, n, seed=seed)
    return chosen["row"].to_numpy(), chosen["sample"].astype(str).tolist()


def run(args: argparse.Namespace) -> dict:
    from sentiment import SentimentClassifier
    from sentiment.model.decision import threshold_from_labels

    started = time.perf_counter()
    name, texts, y = load_domain(args.data, args.text_column, args.label_column, args.positive_share, args.seed)
    test, users = split(y, args.test_rows, args.unlabeled, args.seed)
    test_texts, y_test = [texts[i] for i in test], y[test]
    user_texts, y_user = [texts[i] for i in users], y[users]
    base = SentimentClassifier.load(args.base)
    tuned = base.config_.with_overrides(["adapt.min_texts=10", *args.overrides])
    print(
        f"{name}: {len(texts):,} rows ({y.mean():.1%} positive); test {len(test):,}, the user's texts {len(users):,}",
        file=sys.stderr,
    )
    base_test = base.predict_proba(test_texts)
    base_user = base.predict_proba(user_texts)
    results: list[dict] = []

    def record(budget: int, strategy: str, method: str, pred: np.ndarray, seconds: float, **extra) -> None:
        row = {
            "labels": budget,
            "selection": strategy,
            "method": method,
            **figures(y_test, pred),
            "seconds": round(seconds, 1),
            **extra,
        }
        results.append(row)
        print(
            f"{budget:>5} {strategy:<7} {method:<34} macro-F1 {row['macro_f1']:.4f}  share error "
            f"{row['share_error_points']:+.1f}  ({seconds:.0f} s)",
            file=sys.stderr,
            flush=True,
        )

    def adapt(texts_: list[str], labeled=None, sample=None, **cfg) -> tuple[object, float]:
        t0 = time.perf_counter()
        adapted = base.adapt(texts_, labeled=labeled, sample=sample, config=tuned.with_overrides(cfg))
        return adapted, time.perf_counter() - t0

    for budget in args.budgets:
        if budget == 0:
            record(0, "-", "base model", (base_test[:, 1] >= 0.5).astype(int), 0.0)
            adapted, seconds = adapt(user_texts)
            record(
                0,
                "-",
                "adapt (default: equal classes)",
                adapted.predict(test_texts).astype(int),
                seconds,
                class_mix=adapted.training_["adaptation"]["class_mix"],
            )
            adapted, seconds = adapt(user_texts, **{"adapt.class_mix": "estimate", "adapt.decision": "estimate"})
            p_test = adapted.predict_proba(test_texts)
            record(0, "-", "adapt, EM class mix", p_test.argmax(axis=1), seconds)
            record(0, "-", "adapt, EM class mix + its threshold", adapted.predict(test_texts).astype(int), seconds)
            continue
        for strategy in args.strategies:
            t0 = time.perf_counter()
            rows, sample = choose(base, strategy, user_texts, budget, args.seed)
            select_seconds = time.perf_counter() - t0
            lab_texts, lab_y = [user_texts[i] for i in rows], y_user[rows]
            audit_y = lab_y[np.asarray(sample) == "audit"]
            threshold, _ = threshold_from_labels(base_user[:, 1], audit_y, base_user[rows, 1], lab_y)
            record(
                budget,
                strategy,
                "threshold alone",
                (base_test[:, 1] >= threshold).astype(int),
                select_seconds,
                threshold=round(threshold, 3),
            )
            adapted, seconds = adapt(user_texts, (lab_texts, lab_y.tolist()), sample)
            record(
                budget,
                strategy,
                "adapt --labeled",
                adapted.predict(test_texts).astype(int),
                seconds,
                threshold=getattr(adapted.decision_, "threshold", None),
            )
            if not args.no_labels_only:
                adapted, seconds = adapt(lab_texts, (lab_texts, lab_y.tolist()), sample)
                record(
                    budget, strategy, "adapt, labels only (no texts)", adapted.predict(test_texts).astype(int), seconds
                )
            t0 = time.perf_counter()
            model = tfidf_lr(lab_texts, lab_y, args.seed)
            record(
                budget,
                strategy,
                "char TF-IDF + LR on the labels",
                model.predict(test_texts).astype(int),
                time.perf_counter() - t0,
            )
    return {
        "domain": name,
        "data": args.data,
        "base": args.base,
        "rows": len(texts),
        "positive_share": round(float(y.mean()), 4),
        "test_rows": len(test),
        "unlabeled_texts": len(users),
        "budgets": args.budgets,
        "strategies": args.strategies,
        "overrides": args.overrides,
        "seed": args.seed,
        "results": results,
        "seconds": round(time.perf_counter() - started, 1),
    }


def markdown(report: dict) -> str:
    lines = [
        f"{report['domain']}: test {report['test_rows']:,} rows ({report['positive_share']:.1%} positive), "
        f"{report['unlabeled_texts']:,} unlabeled texts; macro-F1 / share error (points)",
        "",
        "| labels | selection | method | macro-F1 | share error | seconds |",
        "|---|---|---|---|---|---|",
    ]
    for r in report["results"]:
        lines.append(
            f"| {r['labels']} | {r['selection']} | {r['method']} | {r['macro_f1']:.4f} | "
            f"{r['share_error_points']:+.1f} | {r['seconds']:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = run(args)
    print(markdown(report))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
