#!/usr/bin/env python
"""How many injected label flips `sentiment audit` finds, beside ranking by the model's disagreement.

    python benchmarks/label_audit.py --data runs/audit-split/prepared/test.parquet --domain movie \\
        --rows 12000 --flip-share 0.03 --json-out reports/label_audit.json

Reads a labeled table with the project's reader (--domain keeps the rows of one value of its `domain`
column), samples --rows rows (seeded), flips the labels of --flip-share of them to another class (seeded)
and audits the result three ways:

- the audit as `sentiment audit` runs it: per-fold char n-gram models mixed with the model (--model, default
  the packaged one), then confident learning (cleanlab);
- the audit with the n-gram models alone (`--no-model`);
- the baseline: the rows where the model's probability of the given label is lowest, as many as the
  audit flagged.

For each: rows flagged, their share, recall of the flips (the share of flipped rows flagged) and seconds
(the audit's include loading the model and tokenizing; beside them the CPU seconds of this process, as the
machine may be shared: the folds are fitted in this process unless --workers says otherwise, so that this
figure holds all the work). Rows flagged that were not flipped are not all
mistakes: real corpora hold label errors of their own. Use rows the model was not trained on (a held-out
test split), or its probabilities are in-sample. Prints a Markdown table; --json-out writes the figures.
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


def inject_flips(labels: np.ndarray, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels with ``share`` of the rows moved to another class (chosen at random), and those rows' positions."""
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    flips = np.sort(rng.choice(len(labels), round(share * len(labels)), replace=False))
    noisy = labels.copy()
    for i in flips.tolist():
        others = classes[classes != labels[i]]
        noisy[i] = others[rng.integers(len(others))]
    return noisy, flips


def scores(flagged: np.ndarray, flips: np.ndarray, rows: int, started: tuple[float, float]) -> dict:
    """Rows flagged, their share, the flips among them, and the wall and CPU seconds since ``started``."""
    found = np.intersect1d(flagged, flips)
    return {
        "flagged": len(flagged),
        "flagged_share": round(len(flagged) / rows, 4),
        "flips_found": len(found),
        "recall": round(len(found) / max(len(flips), 1), 4),
        "seconds": round(time.perf_counter() - started[0], 1),
        "cpu_seconds": round(time.process_time() - started[1], 1),
    }


def clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def run(args: argparse.Namespace) -> dict:
    from sentiment.classifier import SentimentClassifier, audit_labels
    from sentiment.io.labeled import load_labeled

    data = load_labeled(args.data)
    index = np.arange(len(data.texts))
    if args.domain:
        if "domain" not in data.frame.columns:
            raise SystemExit(f"{args.data} has no domain column; leave --domain out")
        index = index[(data.frame["domain"] == args.domain).to_numpy()]
    if args.rows and args.rows < len(index):
        index = np.sort(np.random.default_rng(args.seed).choice(index, args.rows, replace=False))
    texts = [data.texts[i] for i in index]
    labels, flips = inject_flips(data.labels[index], args.flip_share, args.seed)
    out = {
        "data": str(args.data),
        "domain": args.domain,
        "rows": len(texts),
        "flip_share": args.flip_share,
        "flips": len(flips),
        "seed": args.seed,
        "folds": args.folds,
        "workers": args.workers,
        "model": args.model or "default (packaged)",
        "results": {},
    }

    if args.save_noisy:
        import pandas as pd

        flipped = np.zeros(len(texts), dtype=bool)
        flipped[flips] = True
        pd.DataFrame({"text": texts, "label": labels, "flipped": flipped}).to_csv(args.save_noisy, index=False)
    started = clock()
    table = audit_labels(texts, labels, args.model, folds=args.folds, seed=args.seed, workers=args.workers)
    audit = scores(table["row"].to_numpy(), flips, len(texts), started)
    audit["ngram_share"] = table.attrs["summary"]["ngram_share"]
    audit["label_pairs"] = table.attrs["summary"]["label_pairs"]
    out["results"]["audit (model + n-gram, cleanlab)"] = audit

    started = clock()
    table = audit_labels(texts, labels, False, folds=args.folds, seed=args.seed, workers=args.workers)
    out["results"]["audit, n-gram models alone (--no-model)"] = scores(
        table["row"].to_numpy(), flips, len(texts), started
    )

    started = clock()
    clf = SentimentClassifier.load(args.model)
    proba = clf.predict_proba(texts)
    column = {str(c): i for i, c in enumerate(clf.classes_.tolist())}
    given = proba[np.arange(len(texts)), [column[str(v)] for v in labels.tolist()]]
    budget = audit["flagged"]
    baseline = np.argsort(given, kind="stable")[:budget]
    out["results"]["baseline: lowest model probability of the given label, same budget"] = scores(
        baseline, flips, len(texts), started
    )
    clean = np.asarray([column[str(v)] for v in data.labels[index].tolist()])
    out["model_accuracy_on_clean_labels"] = round(float((proba.argmax(axis=1) == clean).mean()), 4)
    return out


def markdown(out: dict) -> str:
    lines = [
        f"{out['rows']:,} rows of {out['data']}{' (' + out['domain'] + ')' if out['domain'] else ''}, "
        f"{out['flips']} labels flipped ({out['flip_share']:.0%}, seed {out['seed']}); model "
        f"{out['model']} (accuracy on the clean labels {out['model_accuracy_on_clean_labels']})",
        "",
        "| method | rows flagged | share flagged | flips found | recall of the flips | seconds (CPU seconds) |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in out["results"].items():
        lines.append(
            f"| {name} | {r['flagged']:,} | {r['flagged_share']:.1%} | {r['flips_found']} | "
            f"{r['recall']:.1%} | {r['seconds']} ({r['cpu_seconds']}) |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="labeled table (text and label columns)")
    parser.add_argument("--domain", help="keep the rows whose domain column has this value")
    parser.add_argument("--rows", type=int, default=12_000, help="rows sampled (0 = all; default 12000)")
    parser.add_argument("--flip-share", type=float, default=0.03, help="share of labels flipped (default 0.03)")
    parser.add_argument("--model", help="model bundle (default: the packaged model)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes fitting the folds (default 1: this one, so that the CPU seconds hold all the work)",
    )
    parser.add_argument("--json-out", help="write the figures here")
    parser.add_argument(
        "--save-noisy",
        metavar="CSV",
        help="also write the sampled rows with the flipped labels (text, label, flipped) for `sentiment audit`",
    )
    args = parser.parse_args()
    out = run(args)
    print(markdown(out))
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
