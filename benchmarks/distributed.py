#!/usr/bin/env python
"""Single-process scoring against ``--engine ray`` on the same rows, in one run.

    python benchmarks/distributed.py --rows 1800000                 # the issue's size (local Ray)
    python benchmarks/distributed.py --rows 200000 --ray-address auto   # a cluster started with `ray start --head`
    python benchmarks/distributed.py --rows 640000 --ray-executor ray-data   # Ray Data's executor on one node

Writes the comments of every NSMC *.tsv.gz under --data (repeated up to --rows) to a CSV with an ``id``
column, then scores it twice through the real command: ``sentiment score in.csv -o out.parquet`` and
``sentiment score in.csv -o outdir --engine ray``. Prints rows/s, the ratio (ray / single process), the peak
RSS summed over each command's process tree (sampled from /proc; a local Ray's raylet and workers are children
of the command, a cluster's processes are not, so with --ray-address only the driver is measured; the object
store's shared memory is counted in every process that maps it) and rows/s per scoring actor (one CPU each),
and checks that both outputs hold every id once. Writes JSON (--json-out).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import ROOT, comments_file, run_measured  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "nsmc-raw")
    p.add_argument("--rows", type=int, default=1_800_000, help="comments to score (repeated past the data's size)")
    p.add_argument("--model", help="bundle to score with (default: the packaged model)")
    p.add_argument("--ray-address", help="join this cluster (e.g. auto) instead of starting a local Ray")
    p.add_argument("--concurrency", type=int, help="scoring actors (default: one per CPU of the cluster)")
    p.add_argument(
        "--ray-executor",
        choices=("auto", "actors", "ray-data"),
        default="auto",
        help="--engine ray's executor (default auto: the actor pool on one node, Ray Data across nodes)",
    )
    p.add_argument("--json-out", type=Path, default=ROOT / "reports" / "benchmarks" / "distributed.json")
    args = p.parse_args()

    texts, src = comments_file(args.data, args.rows, "sentiment-dist-bench-")
    tmp = src.parent
    n = len(texts)
    print(f"{n:,} comments, {os.cpu_count()} cores, {tmp}")
    base = [sys.executable, "-m", "sentiment", "score", str(src), "-q"] + (
        ["--model", args.model] if args.model else []
    )
    result: dict = {"rows": n, "cpus": os.cpu_count(), "ray_address": args.ray_address or "local"}

    seconds, rss, _, _ = run_measured(base + ["-o", str(tmp / "single.parquet")])
    result["single_process"] = {
        "seconds": round(seconds, 1),
        "rows_per_s": round(n / seconds),
        "peak_rss_mb": round(rss / 2**20),
    }
    print(f"  single process: {n / seconds:,.0f} rows/s, {seconds:.1f} s, peak RSS {rss / 2**20:,.0f} MB", flush=True)

    ray_cmd = base + ["-o", str(tmp / "ray-out"), "--engine", "ray"]
    if args.ray_address:
        ray_cmd += ["--ray-address", args.ray_address]
    if args.concurrency:
        ray_cmd += ["--concurrency", str(args.concurrency)]
    ray_cmd += ["--ray-executor", args.ray_executor]
    result["ray_executor"] = args.ray_executor
    seconds, rss, _, _ = run_measured(ray_cmd)
    actors = args.concurrency or _cluster_cpus(args.ray_address)
    result["ray"] = {
        "seconds": round(seconds, 1),
        "rows_per_s": round(n / seconds),
        "peak_rss_mb": round(rss / 2**20),
        "actors": actors,
        "rows_per_s_per_actor_cpu": round(n / seconds / actors),
        "rss_measured": "driver only" if args.ray_address else "driver, raylet and workers",
    }
    print(
        f"  ray ({result['ray_address']}, {args.ray_executor} executor, {actors} actors): {n / seconds:,.0f} rows/s, "
        f"{seconds:.1f} s, peak RSS {rss / 2**20:,.0f} MB, {n / seconds / actors:,.0f} rows/s per actor CPU",
        flush=True,
    )

    single_frame = pd.read_parquet(tmp / "single.parquet", columns=["id", "prob_1"])
    parts = sorted((tmp / "ray-out").glob("part-*.parquet"))
    ray_frame = pd.concat([pd.read_parquet(f, columns=["id", "prob_1"]) for f in parts], ignore_index=True)
    single, ray_ids = single_frame["id"].astype(int).tolist(), ray_frame["id"].astype(int).tolist()
    result["same_rows_in_order"] = single == ray_ids == list(range(n))
    if result["same_rows_in_order"]:  # the same comment, the same probability (to the 6 decimals written)
        result["max_abs_prob_diff"] = float((single_frame["prob_1"] - ray_frame["prob_1"]).abs().max())
    result["ratio_ray_over_single"] = round(result["ray"]["rows_per_s"] / result["single_process"]["rows_per_s"], 2)
    print("\n| engine | rows | seconds | rows/s | peak RSS MB |\n|---|---|---|---|---|")
    for name in ("single_process", "ray"):
        r = result[name]
        print(f"| {name} | {n:,} | {r['seconds']} | {r['rows_per_s']:,} | {r['peak_rss_mb']:,} |")
    print(
        f"ratio ray / single process: {result['ratio_ray_over_single']} (target >= 0.8); "
        f"every row once, in order: {result['same_rows_in_order']}; largest probability difference: "
        f"{result.get('max_abs_prob_diff')}"
    )
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(result, indent=2))
    print(f"written {args.json_out}")
    if not result["same_rows_in_order"]:
        sys.exit("error: the outputs differ in their rows")


def _cluster_cpus(address: str | None) -> int:
    if not address:
        return os.cpu_count() or 1
    import ray

    ray.init(address=address, log_to_driver=False, configure_logging=False)
    try:
        return int(ray.cluster_resources().get("CPU", 1))
    finally:
        ray.shutdown()


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"benchmark wall time: {time.perf_counter() - start:.0f} s")
