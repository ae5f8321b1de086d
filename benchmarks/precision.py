#!/usr/bin/env python
"""Accuracy and macro-F1 of a model in fp32 and in the static int8 graph, per labeled file.

    python benchmarks/precision.py --model DIR \\
        --data ../shared/data/nsmc-raw/train.tsv.gz:nsmc ../shared/data/domains/shopping.tsv.gz:shopping \\
               ../shared/data/domains/steam.tsv.gz:steam --rows 20000

Each file (FILE or FILE:NAME) is read with the project's labeled-data reader, sampled to --rows rows
(seeded; 0 = all), tokenized once, and scored by the same bundle's ONNX graph in fp32 and int8
(`SentimentClassifier.load(..., precision=...)`, int8 = sentiment.model.onnx_int8). Prints accuracy and
macro-F1 of both, their difference in points, how many predicted labels changed and the largest probability
change, how far each precision moves a comment's probability when the same rows are scored in reverse order
(in other batches: both must move nothing), and whether int8 stays within --max-loss points of accuracy and of
macro-F1 on every file. --record writes the figures into the bundle with int8 as its default precision when
int8 stays within --max-loss on every file and is batch-invariant there, else fp32. Writes JSON.
The model needs model.onnx (`sentiment export --model OLD --out NEW` adds it).
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


def parse_data(spec: str) -> tuple[Path, str]:
    """FILE[:NAME] -> (path, name); the name defaults to the file name without extensions."""
    path, _, name = spec.partition(":") if ":" in spec and not Path(spec).exists() else (spec, "", "")
    return Path(path), name or Path(path).name.split(".")[0]


def compare(model: str | None, path: Path, rows: int, seed: int, workers: int) -> dict:
    from sentiment.analysis.evaluation import compute_metrics
    from sentiment.classifier import SentimentClassifier
    from sentiment.io.labeled import load_labeled, match_labels

    fp32 = SentimentClassifier.load(model, runtime="onnx", precision="fp32")
    int8 = SentimentClassifier.load(model, runtime="onnx", precision="int8")
    data = load_labeled(path, log=lambda msg: None)
    index = np.arange(len(data.texts))
    if rows and rows < len(index):
        index = np.sort(np.random.default_rng(seed).choice(index, rows, replace=False))
    texts = [data.texts[i] for i in index]
    labels = match_labels(data.labels[index], fp32.classes_, str(path))
    start = time.perf_counter()
    ids = [
        i
        for _, batch in fp32.tokenizer_.iter_batches([(None, texts)], workers=workers, vocab=fp32.vocabulary_)
        for i in batch
    ]
    tokenize_seconds = time.perf_counter() - start
    out = {"file": str(path), "rows": len(texts), "seed": seed, "tokenize_seconds": round(tokenize_seconds, 1)}
    proba = {}
    for name, clf in (("fp32", fp32), ("int8", int8)):
        start = time.perf_counter()
        proba[name] = clf.predict_ids(ids)
        seconds = time.perf_counter() - start
        m = compute_metrics(labels, proba[name], clf.classes_)
        out[name] = {
            "accuracy": m["accuracy"],
            "macro_f1": m["macro_f1"],
            "inference_rows_per_s": round(len(ids) / seconds),
        }
        reverse = clf.predict_ids(ids[::-1])[::-1]  # the same rows in other batches
        out[name]["max_abs_change_reversed_order"] = float(np.abs(reverse - proba[name]).max()) if len(ids) else 0.0
    out["accuracy_change_points"] = round(100 * (out["int8"]["accuracy"] - out["fp32"]["accuracy"]), 3)
    out["macro_f1_change_points"] = round(100 * (out["int8"]["macro_f1"] - out["fp32"]["macro_f1"]), 3)
    out["label_changes"] = int((proba["fp32"].argmax(1) != proba["int8"].argmax(1)).sum())
    out["max_abs_probability_change"] = round(float(np.abs(proba["fp32"] - proba["int8"]).max()), 4)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="bundle with model.onnx (default: the packaged model)")
    p.add_argument("--data", nargs="+", required=True, metavar="FILE[:NAME]", help="labeled tables")
    p.add_argument("--rows", type=int, default=20_000, help="rows sampled per file (0 = all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=0, help="tokenizer processes (0 = all cores)")
    p.add_argument("--max-loss", type=float, default=0.1, help="points int8 may lose on every file to be the default")
    p.add_argument("--json-out", type=Path, default=ROOT / "reports" / "benchmarks" / "precision.json")
    p.add_argument(
        "--record",
        action="store_true",
        help="write the figures into the bundle (meta.json and the model card) with int8 as its default "
        "precision when it stays within --max-loss on every file, else fp32",
    )
    args = p.parse_args()

    results = {}
    for spec in args.data:
        path, name = parse_data(spec)
        results[name] = compare(args.model, path, args.rows, args.seed, args.workers)
        print(f"  {name}: {results[name]}", flush=True)
    ok = all(
        r["accuracy_change_points"] >= -args.max_loss and r["macro_f1_change_points"] >= -args.max_loss
        for r in results.values()
    )
    invariant = all(r["int8"]["max_abs_change_reversed_order"] <= 1e-6 for r in results.values())
    print(
        "\n| data | rows | accuracy fp32 | accuracy int8 | change (points) | macro-F1 fp32 | macro-F1 int8 | "
        "change (points) | labels changed | max |dp| | int8 max |dp|, reversed order |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|"
    )
    for name, r in results.items():
        print(
            f"| {name} | {r['rows']:,} | {r['fp32']['accuracy']:.4f} | {r['int8']['accuracy']:.4f} | "
            f"{r['accuracy_change_points']:+.2f} | {r['fp32']['macro_f1']:.4f} | {r['int8']['macro_f1']:.4f} | "
            f"{r['macro_f1_change_points']:+.2f} | {r['label_changes']:,} | {r['max_abs_probability_change']:.3f} | "
            f"{r['int8']['max_abs_change_reversed_order']:.4f} |"
        )
    default = "int8" if ok and invariant else "fp32"
    print(
        f"int8 within {args.max_loss} points on every file: {'yes' if ok else 'no'}; the same probability in "
        f"any batch: {'yes' if invariant else 'no'}; default precision: {default}"
    )
    from sentiment.model.onnx_int8 import SCHEME

    report = {
        "model": args.model or "default",
        "max_loss_points": args.max_loss,
        "int8_within_max_loss": ok,
        "int8_batch_invariant": invariant,
        "int8_scheme": SCHEME,
        "default_precision": default,
        "results": results,
    }
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(report, indent=2))
    print(f"written {args.json_out}")
    if args.record:
        from sentiment.model.bundle import default_model_path, set_default_precision

        bundle = Path(args.model) if args.model else default_model_path()
        set_default_precision(bundle, default, report)
        print(f"recorded default precision {default} and the figures in {bundle}")


if __name__ == "__main__":
    main()
