#!/usr/bin/env python
"""What `sentiment label` chooses, beside a random choice of the same size, on a labeled review set.

    python benchmarks/selection.py --data steam.tsv.gz --rows 20000 --n 300
    python benchmarks/selection.py --data reviews.csv --model models/mine --seeds 0 1 2 --json-out sel.json

The labels of ``--data`` are only used to describe the choices (they play no part in choosing). ``--rows``
rows drawn at random from ``--data`` are the unlabeled pool. For each seed, ``select_for_labeling`` chooses
``--n`` of them (an audit share of ``--audit-share``, the rest informative), and the same number is drawn
uniformly at random. Reported per choice:

* ``model_accuracy``: the model's accuracy on the chosen comments (lower: more of its mistakes get labeled);
* ``uncertain_share``: comments with P(positive) between 0.3 and 0.7;
* ``groups_covered``: of 50 k-means groups of the whole pool (character 2-4-gram TF-IDF, 64-d SVD), how many
  hold at least one chosen comment (variety);
* ``near_duplicate_pairs``: pairs of chosen comments with character-n-gram cosine >= 0.8;
* for the audit part: the share positive it estimates (95% Wilson interval) beside the pool's true share.

Selection time (scoring the pool excluded) is printed too.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from sentiment import SentimentClassifier
from sentiment.analysis.report_stats import wilson
from sentiment.io.labeled import load_labeled
from sentiment.training.selection import AUDIT, INFORMATIVE, NEAR_DUPLICATE, near_duplicate_vectors, select_rows


def describe(
    rows: np.ndarray, proba: np.ndarray, truth: np.ndarray, groups: np.ndarray, texts: list[str]
) -> dict[str, float]:
    vectors = near_duplicate_vectors([texts[r] for r in rows])
    sim = (vectors @ vectors.T).toarray()
    np.fill_diagonal(sim, 0)
    p = proba[rows]
    return {
        "comments": len(rows),
        "model_accuracy": round(float(((p >= 0.5) == truth[rows]).mean()), 4),
        "uncertain_share": round(float(((p > 0.3) & (p < 0.7)).mean()), 4),
        "groups_covered": len(set(groups[rows].tolist())),
        "near_duplicate_pairs": int((np.triu(sim) >= NEAR_DUPLICATE).sum()),
    }


def pool_groups(texts: list[str], k: int, seed: int) -> np.ndarray:
    from sklearn.cluster import MiniBatchKMeans
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    tfidf = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=2, dtype=np.float32
    ).fit_transform(texts)
    dense = normalize(TruncatedSVD(64, n_iter=2, random_state=seed).fit_transform(tfidf))
    return MiniBatchKMeans(k, random_state=seed, n_init=1, batch_size=4096).fit_predict(dense)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="labeled table (text and 0/1 label columns)")
    parser.add_argument("--model", help="model bundle (default: the packaged model)")
    parser.add_argument("--rows", type=int, default=20_000, help="pool size drawn from --data (default 20000)")
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--audit-share", type=float, default=0.3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--json-out")
    args = parser.parse_args()

    data = load_labeled(args.data)
    rng = np.random.default_rng(12345)
    pick = rng.choice(len(data.texts), size=min(args.rows, len(data.texts)), replace=False)
    texts = [data.texts[i] for i in pick]
    truth = np.asarray([int(v) for v in data.labels[pick]]) == 1
    clf = SentimentClassifier.load(args.model, workers=0)
    start = time.perf_counter()
    proba = clf.predict_proba(texts)
    scored = time.perf_counter() - start
    groups = pool_groups(texts, 50, 0)
    runs = []
    for seed in args.seeds:
        start = time.perf_counter()
        chosen = select_rows(texts, proba, args.n, audit_share=args.audit_share, seed=seed)
        took = time.perf_counter() - start
        audit = chosen.loc[chosen["sample"] == AUDIT, "row"].to_numpy()
        info = chosen.loc[chosen["sample"] == INFORMATIVE, "row"].to_numpy()
        random_rows = np.random.default_rng(seed).choice(len(texts), size=args.n, replace=False)
        k = int(truth[audit].sum())
        low, high = wilson(np.array([k]), np.array([len(audit)]))
        runs.append(
            {
                "seed": seed,
                "selection_seconds": round(took, 2),
                "tool": describe(chosen["row"].to_numpy(), proba[:, 1], truth, groups, texts),
                "tool_informative_part": describe(info, proba[:, 1], truth, groups, texts),
                "random": describe(random_rows, proba[:, 1], truth, groups, texts),
                "audit_share_positive": {
                    "estimate": round(k / len(audit), 4),
                    "low": round(float(low[0]), 4),
                    "high": round(float(high[0]), 4),
                },
            }
        )
    result = {
        "data": args.data,
        "pool": len(texts),
        "pool_share_positive": round(float(truth.mean()), 4),
        "pool_model_accuracy": round(float(((proba[:, 1] >= 0.5) == truth).mean()), 4),
        "scoring_seconds": round(scored, 1),
        "n": args.n,
        "audit_share": args.audit_share,
        "runs": runs,
    }
    print(json.dumps(result, indent=2, ensure_ascii=False))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
