#!/usr/bin/env python
"""``sentiment score --engine ray`` on every input kind, against the single-process engine, in one run.

    python benchmarks/ray_inputs.py --rows 60000                       # the issue's matrix: every kind
    python benchmarks/ray_inputs.py --rows 60000 --kinds jsonl parquet --layouts file dir

Writes --rows NSMC comments (with an ``id`` column) once per input kind (CSV, TSV, .txt, their .gz, JSON
Lines and its .gz, Parquet, Excel) as one file and/or as a directory of --files files, scores the whole file
of each kind with the single-process engine (``sentiment score comments.KIND -o single.parquet --precision
fp32``), then each kind and layout through the real command (``sentiment score INPUT -o OUTDIR --engine ray
--precision fp32 --stall-timeout ...``) in a subprocess with a time limit (--limit seconds, the issue's 2
minutes by default). Checks that each output holds every id once, in order, with the statuses, labels and
probabilities (to their 6 decimals) of the single-process output. Prints seconds and rows/s per case and
writes JSON (--json-out). Exit status 1 when a case fails, is unequal or runs past the limit.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import ROOT, load_comments

WRITERS = {
    "csv": ("comments{}.csv", lambda f, p: f.to_csv(p, index=False)),
    "tsv": ("comments{}.tsv", lambda f, p: f.to_csv(p, sep="\t", index=False)),
    "txt": ("comments{}.txt", lambda f, p: f.to_csv(p, sep="\t", index=False)),
    "csv.gz": ("comments{}.csv.gz", lambda f, p: f.to_csv(p, index=False, compression="gzip")),
    "tsv.gz": ("comments{}.tsv.gz", lambda f, p: f.to_csv(p, sep="\t", index=False, compression="gzip")),
    "jsonl": ("comments{}.jsonl", lambda f, p: f.to_json(p, orient="records", lines=True, force_ascii=False)),
    "jsonl.gz": (
        "comments{}.jsonl.gz",
        lambda f, p: f.to_json(p, orient="records", lines=True, force_ascii=False, compression="gzip"),
    ),
    "parquet": ("comments{}.parquet", lambda f, p: f.to_parquet(p, index=False)),
    "xlsx": ("comments{}.xlsx", lambda f, p: f.to_excel(p, index=False, engine="openpyxl")),
}
COMPARED = ["status", "pred_label"]


def write_input(frame: pd.DataFrame, kind: str, layout: str, files: int, root: Path) -> Path:
    name, write = WRITERS[kind]
    if layout == "file":
        write(frame, root / name.format(""))
        return root / name.format("")
    folder = root / f"{kind}-dir"
    folder.mkdir()
    bounds = np.linspace(0, len(frame), files + 1).astype(int)
    for i in range(files):
        write(frame.iloc[bounds[i] : bounds[i + 1]].reset_index(drop=True), folder / name.format(f"-{i:02d}"))
    return folder


def compare(out: Path, expected: pd.DataFrame) -> str | None:
    """None when ``out`` (a directory of parts) equals ``expected`` on the id order and the scoring columns."""
    parts = sorted(p for p in out.iterdir() if p.name.startswith("part-"))
    got = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
    if got["id"].astype(int).tolist() != expected["id"].astype(int).tolist():
        return f"ids differ ({len(got):,} rows, expected {len(expected):,})"
    for column in COMPARED:
        a = got[column].astype(object).where(got[column].notna(), None).map(lambda v: None if v is None else str(v))
        b = (
            expected[column]
            .astype(object)
            .where(expected[column].notna(), None)
            .map(lambda v: None if v is None else str(v))
        )
        if a.tolist() != b.tolist():
            return f"column {column} differs in {int((a != b).sum()):,} rows"
    probs = [c for c in expected.columns if c.startswith("prob_")]
    diff = np.nanmax(np.abs(got[probs].to_numpy(float) - expected[probs].to_numpy(float)))
    if diff > 1.01e-6:
        return f"probabilities differ by up to {diff:.2e}"
    return None


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "nsmc-raw")
    p.add_argument("--rows", type=int, default=60_000)
    p.add_argument("--files", type=int, default=3, help="files in the directory layout (default 3)")
    p.add_argument("--kinds", nargs="+", choices=list(WRITERS), default=list(WRITERS))
    p.add_argument("--layouts", nargs="+", choices=("file", "dir"), default=["dir"])
    p.add_argument("--model", help="bundle to score with (default: the packaged model)")
    p.add_argument("--limit", type=float, default=120.0, help="seconds allowed per case (default 120)")
    p.add_argument("--json-out", type=Path, default=ROOT / "reports" / "benchmarks" / "ray_inputs.json")
    args = p.parse_args()

    import tempfile

    texts = load_comments(args.data, args.rows)
    frame = pd.DataFrame({"id": range(len(texts)), "document": texts})
    tmp = Path(tempfile.mkdtemp(prefix="sentiment-ray-inputs-"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    model = ["--model", args.model] if args.model else []
    print(f"{len(frame):,} comments, {os.cpu_count()} cores, {tmp}", flush=True)
    result: dict = {"rows": len(frame), "cpus": os.cpu_count(), "limit_s": args.limit, "cases": []}
    try:
        failed = False
        for kind in args.kinds:
            whole = write_input(frame, kind, "file", 1, tmp)
            started = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "sentiment",
                    "score",
                    str(whole),
                    "-o",
                    str(tmp / "single.parquet"),
                    "--precision",
                    "fp32",
                    "--overwrite",
                    "-q",
                    *model,
                ],
                env=env,
                check=True,
            )
            single = time.perf_counter() - started
            expected = pd.read_parquet(tmp / "single.parquet")
            print(f"  single process {kind:9} file: {single:6.1f} s, {len(frame) / single:6,.0f} rows/s", flush=True)
            for layout in args.layouts:
                src = whole if layout == "file" else write_input(frame, kind, layout, args.files, tmp)
                out = tmp / f"out-{kind}-{layout}"
                cmd = [
                    sys.executable,
                    "-m",
                    "sentiment",
                    "score",
                    str(src),
                    "-o",
                    str(out),
                    "--engine",
                    "ray",
                    "--precision",
                    "fp32",
                    "--stall-timeout",
                    str(int(args.limit)),
                    "-q",
                    *model,
                ]
                started = time.perf_counter()
                try:
                    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.limit)
                    seconds = time.perf_counter() - started
                    problem = (
                        f"exit {run.returncode}: {run.stderr.strip().splitlines()[-1:]}"
                        if run.returncode
                        else compare(out, expected)
                    )
                except subprocess.TimeoutExpired:
                    seconds, problem = time.perf_counter() - started, f"did not finish in {args.limit:g} s"
                case = {
                    "kind": kind,
                    "layout": layout,
                    "seconds": round(seconds, 1),
                    "rows_per_s": round(len(frame) / seconds),
                    "single_process_seconds": round(single, 1),
                    "equal": problem is None,
                    "problem": problem,
                }
                result["cases"].append(case)
                failed |= problem is not None
                print(
                    f"  ray            {kind:9} {layout:4}: {seconds:6.1f} s, {len(frame) / seconds:6,.0f} rows/s, "
                    f"{'equal to single process' if problem is None else 'FAILED: ' + problem}",
                    flush=True,
                )
                shutil.rmtree(out, ignore_errors=True)
                if src.is_dir():
                    shutil.rmtree(src, ignore_errors=True)
            whole.unlink()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json_out}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
