#!/usr/bin/env python
"""Time `sentiment report` on a large scored file (target: 1,000,000 rows in under 2 minutes).

    python benchmarks/report.py                     # 1,000,000 rows
    python benchmarks/report.py --rows 200000 --keep /tmp/bench

The scored file is SYNTHETIC: texts drawn from the hand-written sample
(data/sample/comments.csv), P(positive) drawn from a Beta(0.4, 0.4) mixture,
pred_label from it, 2% unscored rows (empty/missing), 40 groups with
Zipf-like volumes, timestamps spread over 18 months. It has the columns of
`sentiment score`'s output. The run goes through the real command
(`python -m sentiment report ... --group-by domain --time-column created_at`)
in a subprocess, with the packaged model. Printed beside it, from the same run:
reading the same CSV whole with pandas (the C parser, as `read_table` does), a floor
for any report that looks at every row.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 120.0


def synthesize(rows: int, path: Path, seed: int = 0) -> None:
    """A scored CSV of ``rows`` rows built from the sample texts with random probabilities, groups and dates."""
    rng = np.random.default_rng(seed)
    texts = pd.read_csv(ROOT / "data" / "sample" / "comments.csv")["document"].to_numpy()
    p = rng.beta(0.4, 0.4, rows).round(6)
    status = rng.choice(["ok", "empty", "missing"], size=rows, p=[0.98, 0.01, 0.01])
    weights = 1.0 / np.arange(1, 41)
    groups = np.array([f"상품{i:02d}" for i in range(1, 41)])[rng.choice(40, size=rows, p=weights / weights.sum())]
    start = pd.Timestamp("2024-01-01").value // 10**9
    seconds = rng.integers(0, 548 * 86400, rows) + start
    frame = pd.DataFrame(
        {
            "id": np.arange(rows),
            "document": texts[rng.integers(0, len(texts), rows)],
            "domain": groups,
            "created_at": pd.to_datetime(seconds, unit="s").strftime("%Y-%m-%d %H:%M:%S"),
            "status": status,
            "pred_label": (p >= 0.5).astype(int).astype(str),
            "prob_0": (1 - p).round(6),
            "prob_1": p,
        }
    )
    unscored = status != "ok"
    frame.loc[unscored, ["pred_label", "prob_0", "prob_1"]] = np.nan
    frame.loc[status == "empty", "document"] = ""
    frame.loc[status == "missing", "document"] = np.nan
    frame.to_csv(path, index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", help="directory to write the scored file and report into (kept)")
    parser.add_argument("--json-out", help="write the figures as JSON")
    args = parser.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="report-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    scored, report = work / "scored.csv", work / "report.html"
    started = time.perf_counter()
    synthesize(args.rows, scored)
    print(
        f"synthetic scored file: {args.rows:,} rows, {scored.stat().st_size / 1e6:.0f} MB "
        f"({time.perf_counter() - started:.1f} s to write)"
    )

    started = time.perf_counter()
    pd.read_csv(scored, dtype=str, keep_default_na=False, engine="c")
    read_seconds = time.perf_counter() - started

    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [
        sys.executable,
        "-m",
        "sentiment",
        "report",
        str(scored),
        "-o",
        str(report),
        "--overwrite",
        "--group-by",
        "domain",
        "--time-column",
        "created_at",
    ]
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"sentiment report failed:\n{result.stderr[-3000:]}")
    steps = [line for line in result.stderr.splitlines() if line.startswith(("elapsed", "rows:"))]
    figures = {
        "rows": args.rows,
        "report_seconds": round(seconds, 1),
        "target_seconds": TARGET_SECONDS,
        "pandas_read_all_columns_seconds": round(read_seconds, 1),
        "report_bytes": report.stat().st_size,
        "steps": steps,
    }
    print(
        f"| what | seconds |\n|---|---|\n| `sentiment report` end to end (process start, model load, "
        f"every section) | {seconds:.1f} |\n| baseline: pandas read_csv of the whole file (C parser, all columns "
        f"as text) | {read_seconds:.1f} |\n| target | {TARGET_SECONDS:.0f} |"
    )
    for line in steps:
        print(line)
    print(
        f"report: {report} ({report.stat().st_size / 1e3:.0f} KB); "
        f"{'within' if seconds < TARGET_SECONDS else 'OVER'} the {TARGET_SECONDS:.0f} s target"
    )
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
