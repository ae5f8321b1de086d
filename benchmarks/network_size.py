#!/usr/bin/env python
"""Inference cost of smaller (Bi)LSTM students beside the packaged model, on the same encoded comments.

    python benchmarks/network_size.py --data ../shared/data/nsmc-raw/train.tsv.gz --rows 20000 --units 128 64 32

The comments are tokenized and encoded once with the packaged model's tokenizer and vocabulary. Each
``--units`` entry is an ONNX graph built by the project's exporter (``sentiment.onnx_export.build_onnx_model``)
with the packaged model's shape (vocabulary, embedding size, bidirectional, masked) and that many LSTM units,
filled with random weights: the figure is the cost of the network, not its accuracy (a student would have
to be trained and checked on every domain's test split first). The packaged model itself is timed too.
CPU seconds (user + system of this process) of ONNX Runtime fp32 with --threads threads, --repeats runs,
the best kept. Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def random_graph(vocab: int, dims: int, units: int, seed: int) -> bytes:
    from sentiment.model.onnx_export import LstmWeights, NetworkWeights, build_onnx_model

    rng = np.random.default_rng(seed)

    def w(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.1).astype(np.float32)

    directions = [(w(dims, 4 * units), w(units, 4 * units), w(4 * units)) for _ in range(2)]
    weights = NetworkWeights(
        embedding=w(vocab, dims),
        lstms=[LstmWeights(directions, units)],
        dense_kernel=w(2 * units, 1),
        dense_bias=w(1),
        masked=True,
        activation="sigmoid",
    )
    return build_onnx_model(weights).SerializeToString()


def time_inference(clf, predictor, ids: list[np.ndarray], repeats: int) -> tuple[float, float]:
    """(best CPU seconds, best wall seconds) of predicting ``ids`` with ``predictor`` in place of the model's."""
    from sentiment.model.runtime import predict_sequences

    predict_sequences(predictor, ids[:512], clf.config_, 2)  # warm-up
    best_cpu = best_wall = float("inf")
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), cpu_seconds()
        predict_sequences(predictor, ids, clf.config_, 2)
        best_cpu, best_wall = min(best_cpu, cpu_seconds() - cpu), min(best_wall, time.perf_counter() - wall)
    return best_cpu, best_wall


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--data",
        type=Path,
        default=ROOT.parent / "shared" / "data" / "nsmc-raw" / "train.tsv.gz",
        help="a table with a 'document' column (TSV or CSV)",
    )
    p.add_argument("--rows", type=int, default=20_000)
    p.add_argument("--units", type=int, nargs="+", default=[128, 64, 32])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json-out", type=Path, default=ROOT / "reports" / "benchmarks" / "network_size.json")
    args = p.parse_args()

    from sentiment import SentimentClassifier
    from sentiment.model.runtime import OnnxPredictor

    sep = "\t" if ".tsv" in args.data.name else ","
    texts = pd.read_csv(args.data, sep=sep, nrows=args.rows, quoting=3, dtype=str, keep_default_na=False)[
        "document"
    ].tolist()
    clf = SentimentClassifier.load(precision="fp32", threads=args.threads)
    ids = clf.encode(texts)
    tokens = sum(min(len(i), clf.config_.sequence.maxlen) for i in ids)
    vocab, dims = len(clf.vocabulary_), clf.config_.word2vec.vector_size
    rows = {}
    cpu, wall = time_inference(clf, clf._predict_fn, ids, args.repeats)
    rows["packaged model (BiLSTM(128), trained)"] = {
        "units": clf.config_.model.lstm_units[0],
        "cpu_s": cpu,
        "wall_s": wall,
    }
    for units in args.units:
        predictor = OnnxPredictor(random_graph(vocab, dims, units, seed=units), threads=args.threads)
        cpu, wall = time_inference(clf, predictor, ids, args.repeats)
        rows[f"BiLSTM({units}), random weights"] = {"units": units, "cpu_s": cpu, "wall_s": wall}
    base = next(iter(rows.values()))["cpu_s"]
    print(
        f"{len(ids):,} comments ({tokens:,} tokens), ONNX Runtime fp32, {args.threads} thread(s), best of "
        f"{args.repeats}\n\n| network | CPU s | µs per comment | x packaged |\n|---|---|---|---|"
    )
    for name, r in rows.items():
        r["us_per_row"] = 1e6 * r["cpu_s"] / len(ids)
        r["speedup"] = base / r["cpu_s"]
        print(f"| {name} | {r['cpu_s']:.2f} | {r['us_per_row']:.0f} | {r['speedup']:.2f} |")
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(
        json.dumps({"rows": len(ids), "tokens": tokens, "threads": args.threads, "results": rows}, indent=2)
    )
    print(f"written {args.json_out}")


if __name__ == "__main__":
    main()
