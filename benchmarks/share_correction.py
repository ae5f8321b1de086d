#!/usr/bin/env python
"""Does `sentiment report --labeled` put the share positive near the truth, with an interval that covers it?

    python benchmarks/share_correction.py \\
        --data extra=../shared/data/nsmc-raw/extra.tsv.gz --data steam70=../shared/data/domains/steam.tsv.gz@0.7 \\
        --rows 20000 --labels 300 --seeds 200

Each scenario NAME=FILE[@SHARE] takes --rows labeled comments from FILE (seeded; with @SHARE resampled so that
that share of them is positive: an unfamiliar class mix), writes them as an unlabeled table and scores it with
the real `score_file` (the packaged model unless --model). Then, for each of --seeds seeds, --labels comments
are drawn uniformly at random as the audit sample, their true labels playing the annotator, and the share
positive is estimated from the scored file and those labels with `sentiment.analysis.shares.corrected_share` (what
the report uses: P(positive) recalibrated on the audit labels plus their rectifier). Printed per scenario:
the true share, the model's count, the corrected estimate (mean over seeds), mean and 95th-percentile absolute
error, the share of seeds within 3 points, the coverage of the 95% interval and its mean width; beside them,
on the same labels: the difference estimator on 0/1 decisions, adjusted classify-and-count (Forman 2008), and
the audit labels alone (Wilson interval). Errors and widths in points. Finally, for the first seed, the real command
`sentiment report SCORED --labeled LABELS --json` is run and must print the same estimate (--no-cli skips it).
With several scenarios, they are also put side by side as groups of one file, and each group's share is
corrected with the audit labels that fall into it (as `report --group-by` does).
Scored files are kept in --work-dir and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def parse_scenario(spec: str) -> tuple[str, Path, float | None]:
    """NAME=FILE[@SHARE] -> (name, path, positive share or None)."""
    name, sep, rest = spec.partition("=")
    if not sep:
        raise SystemExit(f"--data {spec!r}: write NAME=FILE or NAME=FILE@SHARE, e.g. steam70=steam.tsv.gz@0.7")
    path, _, share = rest.partition("@")
    return name, Path(path), float(share) if share else None


def draw_rows(path: Path, rows: int, share: float | None, seed: int) -> pd.DataFrame:
    """``rows`` labeled comments of ``path`` (text, label as 0/1), with ``share`` positive when given."""
    from sentiment.io.labeled import load_labeled

    data = load_labeled(path)
    frame = pd.DataFrame({"document": data.texts, "label": np.asarray(data.labels).astype(int)})
    rng = np.random.default_rng(seed)
    if share is None:
        return frame.iloc[np.sort(rng.choice(len(frame), min(rows, len(frame)), replace=False))].reset_index(drop=True)
    n_pos = round(rows * share)
    pos = rng.choice(np.flatnonzero(frame["label"] == 1), n_pos, replace=False)
    neg = rng.choice(np.flatnonzero(frame["label"] == 0), rows - n_pos, replace=False)
    return frame.iloc[rng.permutation(np.concatenate([pos, neg]))].reset_index(drop=True)


def scored_scenario(
    name: str, path: Path, share: float | None, rows: int, seed: int, work: Path, model: str | None
) -> tuple[Path, pd.DataFrame]:
    """The scored file of the scenario (made once) and the true labels in row order."""
    from sentiment.apps.scoring import score_file
    from sentiment.classifier import SentimentClassifier

    scored = work / f"{name}.scored.csv"
    truth = work / f"{name}.truth.csv"
    if not (scored.exists() and truth.exists()):
        frame = draw_rows(path, rows, share, seed)
        unlabeled = work / f"{name}.csv"
        frame[["document"]].to_csv(unlabeled, index=False)
        start = time.perf_counter()
        score_file(unlabeled, scored, SentimentClassifier.load(model), workers=1, log=lambda msg: None)
        print(f"{name}: scored {len(frame):,} comments in {time.perf_counter() - start:.0f} s", file=sys.stderr)
        frame.to_csv(truth, index=False)
    return scored, pd.read_csv(truth)


def adjusted_count(share: float, f: np.ndarray, y: np.ndarray) -> float:
    """Adjusted classify-and-count (Forman 2008): (model share - fpr) / (tpr - fpr), clipped to [0, 1]."""
    tpr = f[y].mean() if y.any() else 1.0
    fpr = f[~y].mean() if (~y).any() else 0.0
    if tpr - fpr <= 1e-9:
        return share
    return float(min(max((share - fpr) / (tpr - fpr), 0.0), 1.0))


def decisions_difference(decided: np.ndarray, audit: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """The plain difference estimator on 0/1 decisions (for comparison): estimate and interval width."""
    f, y = decided.astype(float), truth[audit].astype(float)
    residual = y - f[audit]
    se = np.sqrt(f.var() / len(f) + residual.var(ddof=1) / len(y))
    return float(f.mean() + residual.mean()), float(2 * 1.959964 * se)


def simulate(p: np.ndarray, decided: np.ndarray, truth: np.ndarray, labels: int, seeds: int) -> dict:
    from sentiment.analysis.report_stats import wilson
    from sentiment.analysis.shares import corrected_share

    true_share = float(truth.mean())
    est, low, high, acc, dec, dec_width, audit_only, audit_cover = [], [], [], [], [], [], [], []
    for seed in range(seeds):
        audit = np.random.default_rng(1000 + seed).choice(len(truth), labels, replace=False)
        e = corrected_share(p, decided, audit, truth[audit])
        est.append(e.estimate)
        low.append(e.low)
        high.append(e.high)
        acc.append(adjusted_count(float(decided.mean()), decided[audit], truth[audit]))
        d, w = decisions_difference(decided, audit, truth)
        dec.append(d)
        dec_width.append(w)
        k = int(truth[audit].sum())
        lo, hi = wilson(np.array([k]), np.array([labels]))
        audit_only.append((k / labels, hi[0] - lo[0]))
        audit_cover.append(lo[0] <= true_share <= hi[0])
    est, low, high, acc, dec = map(np.asarray, (est, low, high, acc, dec))
    err = np.abs(est - true_share)
    audit_share = np.array([a for a, _ in audit_only])
    return {
        "comments": len(truth),
        "labels": labels,
        "seeds": seeds,
        "true_share": true_share,
        "model_share": float(decided.mean()),
        "corrected_mean": float(est.mean()),
        "corrected_bias_points": 100 * float(est.mean() - true_share),
        "corrected_mae_points": 100 * float(err.mean()),
        "corrected_p95_error_points": 100 * float(np.quantile(err, 0.95)),
        "within_3_points": float((err <= 0.03).mean()),
        "coverage": float(((low <= true_share) & (true_share <= high)).mean()),
        "mean_width_points": 100 * float((high - low).mean()),
        "decisions_mae_points": 100 * float(np.abs(dec - true_share).mean()),
        "decisions_width_points": 100 * float(np.mean(dec_width)),
        "acc_mae_points": 100 * float(np.abs(acc - true_share).mean()),
        "acc_p95_error_points": 100 * float(np.quantile(np.abs(acc - true_share), 0.95)),
        "audit_only_mae_points": 100 * float(np.abs(audit_share - true_share).mean()),
        "audit_only_width_points": 100 * float(np.mean([w for _, w in audit_only])),
        "audit_only_coverage": float(np.mean(audit_cover)),
    }


def simulate_groups(
    p: np.ndarray, decided: np.ndarray, truth: np.ndarray, groups: np.ndarray, labels: int, seeds: int
) -> dict:
    """The scenarios side by side as groups of one file: each group's corrected share from the audit labels that
    fall into it (the calibration fitted on all of them), as `report --group-by` computes it."""
    from sentiment.analysis.shares import METHOD_PPI, group_shares

    out: dict[str, dict] = {}
    per: dict[str, list] = {str(g): [] for g in pd.unique(groups)}
    for seed in range(seeds):
        audit = np.random.default_rng(1000 + seed).choice(len(truth), labels, replace=False)
        table = group_shares(p, decided, groups, audit, truth[audit])
        for g, row in table.iterrows():
            per[str(g)].append((row["estimate"], row["low"], row["high"], row["labels"], row["method"] == METHOD_PPI))
    for g, values in per.items():
        true_share = float(truth[groups == g].mean())
        v = np.array([x[:4] for x in values], dtype=float)
        err = np.abs(v[:, 0] - true_share)
        out[g] = {
            "comments": int((groups == g).sum()),
            "true_share": true_share,
            "model_share": float(decided[groups == g].mean()),
            "mean_labels": float(v[:, 3].mean()),
            "corrected_share_of_draws": float(np.mean([x[4] for x in values])),
            "mae_points": 100 * float(err.mean()),
            "within_3_points": float((err <= 0.03).mean()),
            "coverage": float(((v[:, 1] <= true_share) & (true_share <= v[:, 2])).mean()),
            "mean_width_points": 100 * float((v[:, 2] - v[:, 1]).mean()),
        }
    return out


def cli_check(name: str, scored: Path, truth: pd.DataFrame, labels: int, work: Path, model: str | None) -> dict:
    """Run the real `sentiment report --labeled --json` for the first seed's audit sample."""
    audit = np.sort(np.random.default_rng(1000).choice(len(truth), labels, replace=False))
    labels_file = work / f"{name}.labels.csv"
    pd.DataFrame(
        {
            "document": truth["document"].to_numpy()[audit],
            "row": audit,
            "sample": "audit",
            "label": truth["label"].to_numpy()[audit],
        }
    ).to_csv(labels_file, index=False)
    command = [
        sys.executable,
        "-m",
        "sentiment",
        "report",
        str(scored),
        "-o",
        str(work / f"{name}.report.html"),
        "--labeled",
        str(labels_file),
        "--json",
        "--overwrite",
        "--sample",
        "2000",
        "--quiet",
    ]
    if model:
        command += ["--model", model]
    start = time.perf_counter()
    result = subprocess.run(
        command, capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    if result.returncode != 0:
        raise SystemExit(f"{name}: sentiment report failed:\n{result.stderr[-3000:]}")
    out = json.loads(result.stdout)
    s = pd.read_csv(scored, usecols=["prob_1", "pred_label"], dtype={"pred_label": str})
    from sentiment.analysis.shares import corrected_share

    direct = corrected_share(
        s["prob_1"].to_numpy(), (s["pred_label"] == "1").to_numpy(), audit, truth["label"].to_numpy()[audit] == 1
    )
    if abs(direct.estimate - out["share_positive"]["estimate"]) > 1e-9:
        raise SystemExit(
            f"{name}: the command printed {out['share_positive']['estimate']}, the estimator gives {direct.estimate}"
        )
    out["seconds"] = round(time.perf_counter() - start, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", action="append", required=True, metavar="NAME=FILE[@SHARE]")
    parser.add_argument("--rows", type=int, default=20_000, help="comments per scenario (default 20000)")
    parser.add_argument("--labels", type=int, default=300, help="audit labels per draw (default 300)")
    parser.add_argument("--seeds", type=int, default=200, help="audit draws per scenario (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the scenario's rows")
    parser.add_argument("--model", help="model bundle (default: the packaged model)")
    parser.add_argument("--work-dir", default="/tmp/share_correction", help="scored files (reused when present)")
    parser.add_argument("--no-cli", action="store_true", help="skip running `sentiment report --json` once")
    parser.add_argument("--json-out", help="write every figure as JSON here")
    args = parser.parse_args()
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    results, pooled = {}, []
    for spec in args.data:
        name, path, share = parse_scenario(spec)
        scored, truth = scored_scenario(name, path, share, args.rows, args.seed, work, args.model)
        frame = pd.read_csv(
            scored, usecols=["status", "pred_label", "prob_1"], dtype={"status": str, "pred_label": str}
        )
        if (frame["status"] != "ok").any():
            raise SystemExit(f"{name}: {int((frame['status'] != 'ok').sum())} rows were not scored")
        decided = (frame["pred_label"] == "1").to_numpy()
        row = simulate(frame["prob_1"].to_numpy(), decided, truth["label"].to_numpy() == 1, args.labels, args.seeds)
        pooled.append((name, frame["prob_1"].to_numpy(), decided, truth["label"].to_numpy() == 1))
        if not args.no_cli:
            row["cli"] = cli_check(name, scored, truth, args.labels, work, args.model)
        results[name] = row
    print(
        f"{args.labels} audit labels drawn uniformly at random, {args.seeds} draws per scenario; figures in points "
        "of share positive\n"
    )
    print(
        "| scenario | comments | true share | model's count | corrected (mean) | mean abs. error | 95th pct. error "
        "| within 3 points | 95% interval covers | mean width | on decisions: error / width | ACC error "
        "| labels alone: error / width |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        print(
            f"| {name} | {r['comments']:,} | {100 * r['true_share']:.1f}% | {100 * r['model_share']:.1f}% | "
            f"{100 * r['corrected_mean']:.1f}% | {r['corrected_mae_points']:.2f} | "
            f"{r['corrected_p95_error_points']:.2f} "
            f"| {100 * r['within_3_points']:.0f}% | {100 * r['coverage']:.1f}% | {r['mean_width_points']:.1f} | "
            f"{r['decisions_mae_points']:.2f} / {r['decisions_width_points']:.1f} | "
            f"{r['acc_mae_points']:.2f} | {r['audit_only_mae_points']:.2f} / {r['audit_only_width_points']:.1f} |"
        )
    groups = None
    if len(pooled) > 1:
        groups = simulate_groups(
            np.concatenate([x[1] for x in pooled]),
            np.concatenate([x[2] for x in pooled]),
            np.concatenate([x[3] for x in pooled]),
            np.concatenate([np.full(len(x[1]), x[0], dtype=object) for x in pooled]),
            args.labels,
            args.seeds,
        )
        print(
            f"\nThe scenarios as groups of one file ({sum(len(x[1]) for x in pooled):,} comments), {args.labels} audit "
            "labels drawn from all of them, each group corrected with its own (`report --group-by`):\n"
        )
        print(
            "| group | comments | true share | model's count | labels (mean) | mean abs. error | within 3 points | "
            "95% interval covers | mean width |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for g, r in groups.items():
            print(
                f"| {g} | {r['comments']:,} | {100 * r['true_share']:.1f}% | {100 * r['model_share']:.1f}% | "
                f"{r['mean_labels']:.0f} | {r['mae_points']:.2f} | {100 * r['within_3_points']:.0f}% | "
                f"{100 * r['coverage']:.1f}% | {r['mean_width_points']:.1f} |"
            )
    for name, r in results.items():
        if "cli" in r:
            s = r["cli"]["share_positive"]
            print(
                f"\n{name}, first draw through `sentiment report --labeled --json` ({r['cli']['seconds']} s): "
                f"estimate {100 * s['estimate']:.1f}% ({100 * s['low']:.1f}% - {100 * s['high']:.1f}%), "
                f"uncorrected {100 * s['uncorrected']:.1f}%, {s['labels']} labels, {s['method']}"
            )
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"scenarios": results, "groups": groups}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
