#!/usr/bin/env python
"""Are the explanations faithful? Deleting top-k tokens by attribution against deleting k random tokens.

    python benchmarks/explain_faithfulness.py                      # packaged model, data/sample/comments.csv
    python benchmarks/explain_faithfulness.py --model models/mine --data my.csv --k 1 3 5

For each comment with more than k tokens, the model scores it whole, without its k tokens with the largest
leave-one-token-out contribution, and without k tokens drawn at random (--repeats draws). The figure is the
mean fall of the predicted class's probability; the random deletion is the baseline, from the same run.
Also prints how fast explanations are (comments per second, one process).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="model bundle (default: the packaged model)")
    parser.add_argument("--data", default=str(ROOT / "data" / "sample" / "comments.csv"))
    parser.add_argument("--text-column", default=None)
    parser.add_argument("--k", type=int, nargs="+", default=[1, 3, 5])
    parser.add_argument("--repeats", type=int, default=10, help="random draws per comment")
    parser.add_argument("--json-out")
    args = parser.parse_args()

    from sentiment import SentimentClassifier
    from sentiment.analysis.explain import deletion_test
    from sentiment.io.readers import read_text_lines

    clf = SentimentClassifier.load(args.model)
    texts = read_text_lines(args.data)
    clf.explain(texts[:10])  # warm-up (graph tracing)
    started = time.perf_counter()
    explanations = clf.explain(texts)
    seconds = time.perf_counter() - started
    tokens = sum(len(e.tokens) for e in explanations)
    print(
        f"model: {args.model or 'default (packaged)'}; data: {args.data} ({len(texts):,} comments, {tokens:,} tokens)"
    )
    print(f"explanations: {len(texts) / seconds:,.0f} comments/s ({seconds:.1f} s, one process)\n")
    print(
        "| k | comments | mean drop, top-k deleted | mean drop, k random deleted (baseline) | ratio | "
        "comments where top-k > random |"
    )
    print("|---|---|---|---|---|---|")
    results = []
    for k in args.k:
        r = deletion_test(clf, texts, k=k, repeats=args.repeats, seed=0)
        results.append(r)
        print(
            f"| {k} | {r['texts']:,} | {r['top_k_drop_mean']:.3f} | {r['random_k_drop_mean']:.3f} | "
            f"{r['ratio']:.1f}x | {r['share_top_k_larger']:.1%} |"
        )
    if args.json_out:
        Path(args.json_out).write_text(
            json.dumps({"comments_per_second": len(texts) / seconds, "results": results}, indent=2)
        )


if __name__ == "__main__":
    main()
