#!/usr/bin/env python
"""Scoring and tokenization throughput, peak memory, training speed.

    python benchmarks/throughput.py --data ../shared/data/nsmc-raw --rows 200000
    python benchmarks/throughput.py --data ../shared/data/nsmc-raw --rows 1800000 --skip-tutorial

    python benchmarks/throughput.py --rows 200000 --taggers mecab --skip-tutorial --train-rows 0 \
        --model /tmp/default_onnx --runtimes onnx keras onnx-int8

Measures, in one run on the same comments:
  * tokenization reviews/s of each tagger, 1 process and all cores (on a subset);
  * end to end (file in -> file out) scoring through the real `sentiment score` command, once per
    --runtimes entry (onnx, keras, onnx-int8, onnx-1thread: ONNX Runtime with one thread);
  * the parts of a scoring run, in this process: start-up (a fresh process importing the CLI and loading the
    model, per runtime), MeCab tokenization with all cores, inference of the encoded rows per runtime,
    CSV read + write;
  * cold start: a fresh process that imports sentiment, loads the model and predicts one comment (wall,
    median of --cold-runs, per runtime);
  * the same for two reference scorers: the tutorial pipeline (Okt norm+stem, fixed length 80,
    LSTM(128), model.predict) and char TF-IDF + logistic regression;
  * training seconds per epoch of the default recipe (on --train-rows reviews);
  * peak RSS of each scoring run, summed over the process and its children (sampled from /proc).
Prints a table with ratios and writes JSON (--json-out).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def load_comments(data_dir: Path, rows: int) -> list[str]:
    """Comments from every *.tsv.gz in data_dir, repeated if more rows are asked for."""
    texts: list[str] = []
    for path in sorted(data_dir.glob("*.tsv.gz")):
        frame = pd.read_csv(path, sep="\t", quoting=3, dtype=str, keep_default_na=False)
        texts.extend(frame["document"].tolist())
    if not texts:
        sys.exit(f"error: no *.tsv.gz with a 'document' column in {data_dir}")
    reps = -(-rows // len(texts))
    return (texts * reps)[:rows]


def comments_file(data_dir: Path, rows: int, prefix: str) -> tuple[list[str], Path]:
    """:func:`load_comments` written to ``comments.csv`` (columns id, document) in a new temporary folder."""
    texts = load_comments(data_dir, rows)
    src = Path(tempfile.mkdtemp(prefix=prefix)) / "comments.csv"
    pd.DataFrame({"id": range(len(texts)), "document": texts}).to_csv(src, index=False)
    return texts, src


class RssSampler:
    """Peak summed RSS of a process tree, sampled every 200 ms from /proc.

    Each sample lists /proc and reads every process of the tree, so the sampler's own CPU grows with the
    tree: every 50 ms it took about 7% of a core beside a local Ray's ten processes (on two cores, time taken
    from the engine measured, more from Ray's tree than from a single process); every 200 ms, about 2%."""

    INTERVAL = 0.2

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _tree(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
        out, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            out.append(pid)
            todo.extend(children.get(pid, []))
        return out

    def _rss(self) -> int:
        total = 0
        for pid in self._tree():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            except OSError:
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(self.INTERVAL)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def run_measured(cmd: list[str]) -> tuple[float, int, list[float] | None, float]:
    """Wall seconds, peak tree RSS (bytes), the child's own SCORE_SECONDS figures (if any) and the CPU seconds
    (user + system) of a subprocess and all its descendants.

    CPU seconds depend far less than wall seconds on what else the machine runs at the time.
    """
    import resource

    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    with RssSampler(proc.pid) as sampler:
        _, err = proc.communicate()
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"error: {' '.join(cmd)} failed:\n{err[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    scored = [[float(v) for v in line.split()[1:]] for line in err.splitlines() if line.startswith("SCORE_SECONDS ")]
    return seconds, sampler.peak, scored[0] if scored else None, cpu


# -- reference scorers, run as `python throughput.py _tutorial|_tfidf ...` in a child process ----------
def tutorial_scorer(src: str, dst: str, train_rows: int) -> None:
    """Okt morphs(norm, stem) -> ids -> pre-pad to 80 -> Embedding(128) + LSTM(128) -> model.predict.

    The network is briefly trained (1 epoch on train_rows) so that its output is meaningful; speed does not
    depend on the weights.
    """
    import keras
    from konlpy.tag import Okt

    from sentiment.text.tokenizers import find_jvm

    okt = Okt(jvmpath=find_jvm())
    train = pd.read_csv(src).iloc[:train_rows]
    vocab: dict[str, int] = {}
    for text in train["document"].fillna("").astype(str):
        for t in okt.morphs(text, norm=True, stem=True):
            vocab.setdefault(t, len(vocab) + 2)
    model = keras.Sequential(
        [
            keras.Input((80,)),
            keras.layers.Embedding(len(vocab) + 2, 128),
            keras.layers.LSTM(128),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile("adam", "binary_crossentropy")
    x = np.random.default_rng(0).integers(0, len(vocab) + 2, (len(train), 80))
    model.fit(x, np.random.default_rng(1).integers(0, 2, len(train)), epochs=1, batch_size=128, verbose=0)

    start = time.perf_counter()  # scoring: read, tokenize, pad, predict, write
    frame = pd.read_csv(src)
    ids = [
        [vocab.get(t, 1) for t in okt.morphs(text, norm=True, stem=True)]
        for text in frame["document"].fillna("").astype(str)
    ]
    frame["prob_1"] = model.predict(
        keras.utils.pad_sequences(ids, maxlen=80, padding="pre"), batch_size=512, verbose=0
    )[:, 0]
    frame.to_csv(dst, index=False)
    print(f"SCORE_SECONDS {time.perf_counter() - start:.3f}", file=sys.stderr)


def tfidf_scorer(src: str, dst: str, train_src: str) -> None:
    """Char (2-4)-gram TF-IDF + logistic regression, fitted on train_src, scoring src end to end."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    train = pd.read_csv(train_src, sep="\t", quoting=3, dtype=str, keep_default_na=False)
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=2, sublinear_tf=True, max_features=500_000)
    clf = LogisticRegression(C=2.0, max_iter=1000).fit(vec.fit_transform(train["document"]), train["label"].astype(int))
    start, cpu = time.perf_counter(), time.process_time()
    frame = pd.read_csv(src)
    frame["prob_1"] = clf.predict_proba(vec.transform(frame["document"].fillna("").astype(str)))[:, 1]
    frame.to_csv(dst, index=False)
    print(f"SCORE_SECONDS {time.perf_counter() - start:.3f} {time.process_time() - cpu:.3f}", file=sys.stderr)


RUNTIME_OPTIONS = {
    "onnx": ["--runtime", "onnx", "--precision", "fp32"],
    "keras": ["--runtime", "keras"],
    "onnx-int8": ["--runtime", "onnx", "--precision", "int8"],
    "onnx-1thread": ["--runtime", "onnx", "--precision", "fp32", "--threads", "1"],
}


def load_options(variant: str) -> dict:
    """SentimentClassifier.load keyword arguments of a --runtimes entry."""
    return {
        "onnx": {"runtime": "onnx", "precision": "fp32"},
        "keras": {"runtime": "keras"},
        "onnx-int8": {"runtime": "onnx", "precision": "int8"},
        "onnx-1thread": {"runtime": "onnx", "precision": "fp32", "threads": 1},
    }[variant]


COLD_START = """
import sys, time
start = time.perf_counter()
from sentiment import SentimentClassifier
imported = time.perf_counter()
clf = SentimentClassifier.load(None if sys.argv[1] == "-" else sys.argv[1], **eval(sys.argv[2]))
loaded = time.perf_counter()
clf.predict_proba(["배우 연기 정말 최고"])
done = time.perf_counter()
print(f"COLD {imported - start:.3f} {loaded - imported:.3f} {done - loaded:.3f}", file=sys.stderr)
"""


def cold_start(model: str | None, variant: str, runs: int) -> dict:
    """Median wall seconds of a fresh interpreter that imports sentiment, loads the model, predicts one comment."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    walls, parts = [], []
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", COLD_START, model or "-", repr(load_options(variant))],
            env=env,
            capture_output=True,
            text=True,
        )
        walls.append(time.perf_counter() - start)
        if out.returncode != 0:
            sys.exit(f"error: cold start ({variant}) failed:\n{out.stderr[-3000:]}")
        line = [x for x in out.stderr.splitlines() if x.startswith("COLD ")][0]
        parts.append([float(v) for v in line.split()[1:]])
    median = np.median(np.array(parts), axis=0)
    return {
        "wall_seconds": round(float(np.median(walls)), 2),
        "import_seconds": round(float(median[0]), 2),
        "load_seconds": round(float(median[1]), 2),
        "predict_one_seconds": round(float(median[2]), 3),
        "runs": runs,
    }


def scoring_parts(texts: list[str], src: Path, tmp: Path, model: str | None, variants: list[str]) -> dict:
    """The parts of a scoring run measured one at a time: tokenization (all cores), inference per runtime, CSV I/O."""
    import resource

    from sentiment.classifier import SentimentClassifier
    from sentiment.text.tokenizers import Tokenizer, resolve_workers

    def tree_cpu() -> float:  # this process and its finished children (the tokenizer pool is joined when done)
        own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

    parts: dict = {"rows": len(texts)}
    start, cpu = time.perf_counter(), tree_cpu()
    frame = pd.read_csv(src)
    frame.to_csv(tmp / "io.csv", index=False)
    seconds = time.perf_counter() - start
    parts["csv_read_write"] = {
        "seconds": round(seconds, 2),
        "rows_per_s": round(len(texts) / seconds),
        "cpu_seconds": round(tree_cpu() - cpu, 2),
    }
    first = SentimentClassifier.load(model, **load_options(variants[0]))
    tokenizer = Tokenizer(first.config_.normalize, first.config_.tokenizer)
    workers = resolve_workers(0)
    start, cpu = time.perf_counter(), tree_cpu()
    ids = [
        ids
        for _, batch in tokenizer.iter_batches([(None, texts)], workers=workers, vocab=first.vocabulary_)
        for ids in batch
    ]
    seconds = time.perf_counter() - start
    parts["tokenize"] = {
        "workers": workers,
        "seconds": round(seconds, 2),
        "rows_per_s": round(len(texts) / seconds),
        "cpu_seconds": round(tree_cpu() - cpu, 2),
    }
    print(
        f"  parts: CSV read+write {parts['csv_read_write']['seconds']} s, "
        f"tokenize ({workers} processes) {seconds:.1f} s",
        flush=True,
    )
    reference = None
    for variant in variants:
        clf = SentimentClassifier.load(model, **load_options(variant))
        clf.predict_ids(ids[:2048])  # warm up (graph tracing, thread pools)
        start, cpu = time.perf_counter(), tree_cpu()
        proba = clf.predict_ids(ids)
        seconds, cpu = time.perf_counter() - start, tree_cpu() - cpu
        row = {"seconds": round(seconds, 2), "rows_per_s": round(len(texts) / seconds), "cpu_seconds": round(cpu, 2)}
        if reference is None:
            reference = proba
        else:
            row[f"max_abs_diff_vs_{variants[0]}"] = float(np.abs(proba - reference).max())
            row[f"label_flips_vs_{variants[0]}"] = int((proba.argmax(1) != reference.argmax(1)).sum())
        parts[f"inference_{variant}"] = row
        print(f"  parts: inference {variant}: {seconds:.1f} s, {row['rows_per_s']:,} rows/s", flush=True)
    return parts


def tokenizer_rates(texts: list[str], taggers: list[str], n: int) -> list[dict]:
    from sentiment.config import NormalizeConfig, TokenizerConfig
    from sentiment.text.tokenizers import Tokenizer, resolve_workers

    rows = []
    for tagger in taggers:
        tok = Tokenizer(NormalizeConfig(), TokenizerConfig(tagger=tagger))
        sample = texts[: n if tagger == "mecab" else max(n // 10, 500)]
        tok(sample[0])  # start the tagger (and JVM) before timing
        for workers in (1, resolve_workers(0)):
            start = time.perf_counter()
            tok.tokenize_many(sample, workers=workers)
            seconds = time.perf_counter() - start
            rows.append(
                {
                    "tagger": tagger,
                    "workers": workers,
                    "texts": len(sample),
                    "reviews_per_s": round(len(sample) / seconds),
                }
            )
            print(f"  tokenize {tagger:8} workers={workers}: {len(sample) / seconds:,.0f} reviews/s", flush=True)
    return rows


def train_epoch_seconds(data_dir: Path, rows: int) -> dict:
    from sentiment.classifier import SentimentClassifier
    from sentiment.config import Config

    frame = pd.read_csv(data_dir / "train.tsv.gz", sep="\t", quoting=3, dtype=str, keep_default_na=False)
    frame = frame.sample(n=min(rows, len(frame)), random_state=0)
    # One epoch of the default network; its teachers and language-model pretraining are timed by accuracy.py.
    # Two epochs: the first also traces the training graph for each batch width, the second is the steady state.
    cfg = Config.from_toml(
        ROOT / "configs" / "default.toml",
        [
            "train.epochs=2",
            "train.validation_split=0.0",
            "distill.teachers=0",
            "distill.char_ngram_teacher=false",
            "pretrain.epochs=0",
        ],
    )
    clf = SentimentClassifier(config=cfg, workers=0).fit(
        frame["document"].tolist(), frame["label"].astype(int).tolist()
    )
    first, second = clf.history_["epoch_seconds"]
    return {
        "rows": len(frame),
        "first_epoch_seconds": round(first, 1),
        "epoch_seconds": round(second, 1),
        "epoch_seconds_per_135k": round(second * 135_000 / len(frame), 1),
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_tutorial":
        return tutorial_scorer(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    if len(sys.argv) > 1 and sys.argv[1] == "_tfidf":
        return tfidf_scorer(sys.argv[2], sys.argv[3], sys.argv[4])
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "nsmc-raw")
    p.add_argument("--rows", type=int, default=200_000, help="comments to score (repeated past the data's size)")
    p.add_argument("--model", help="bundle to score with (default: the packaged model)")
    p.add_argument(
        "--tokenize-rows", type=int, default=20_000, help="texts per tokenizer measurement (Java taggers: 1/10)"
    )
    p.add_argument("--taggers", nargs="+", default=["mecab", "okt", "komoran"])
    p.add_argument("--tutorial-rows", type=int, default=10_000, help="rows for the slow tutorial scorer")
    p.add_argument("--train-rows", type=int, default=30_000, help="rows for the training-speed measurement (0: skip)")
    p.add_argument("--skip-tutorial", action="store_true")
    p.add_argument(
        "--runtimes",
        nargs="+",
        default=["onnx", "keras"],
        choices=sorted(RUNTIME_OPTIONS),
        help="`sentiment score` runs, one per inference back end (the model needs model.onnx for onnx*)",
    )
    p.add_argument("--cold-runs", type=int, default=3, help="fresh-process cold starts per runtime (0: skip)")
    p.add_argument("--skip-parts", action="store_true", help="do not time tokenization/inference/I/O separately")
    p.add_argument("--json-out", type=Path, default=ROOT / "reports" / "benchmarks" / "throughput.json")
    args = p.parse_args()

    texts, src = comments_file(args.data, args.rows, "sentiment-bench-")
    tmp = src.parent
    result: dict = {"rows": len(texts), "cpus": os.cpu_count()}
    print(f"{len(texts):,} comments, {os.cpu_count()} cores")

    result["tokenizers"] = tokenizer_rates(texts, args.taggers, args.tokenize_rows)

    for variant in args.runtimes:
        cmd = [
            sys.executable,
            "-m",
            "sentiment",
            "score",
            str(src),
            "-o",
            str(tmp / f"scored-{variant}.csv"),
            "-q",
            *RUNTIME_OPTIONS[variant],
        ]
        if args.model:
            cmd += ["--model", args.model]
        seconds, rss, _, cpu = run_measured(cmd)
        result[f"project_{variant}"] = {
            "rows": len(texts),
            "seconds": round(seconds, 1),
            "rows_per_s": round(len(texts) / seconds),
            "peak_rss_mb": round(rss / 2**20),
            "cpu_seconds": round(cpu, 1),
        }
        print(
            f"  project score ({variant}): {len(texts) / seconds:,.0f} rows/s, {seconds:.1f} s, "
            f"CPU {cpu:.1f} s, peak RSS {rss / 2**20:,.0f} MB",
            flush=True,
        )

    seconds, rss, scored, cpu = run_measured(
        [sys.executable, __file__, "_tfidf", str(src), str(tmp / "tfidf.csv"), str(args.data / "train.tsv.gz")]
    )
    result["tfidf_lr"] = {
        "rows": len(texts),
        "score_seconds": round(scored[0], 1),
        "rows_per_s": round(len(texts) / scored[0]),
        "cpu_seconds": round(scored[1], 1),
        "wall_seconds_with_fit": round(seconds, 1),
        "cpu_seconds_with_fit": round(cpu, 1),
        "peak_rss_mb": round(rss / 2**20),
    }
    print(f"  tfidf+lr score: {len(texts) / scored[0]:,.0f} rows/s, CPU {scored[1]:.1f} s", flush=True)

    if not args.skip_tutorial:
        small = tmp / "small.csv"
        pd.DataFrame({"id": range(args.tutorial_rows), "document": texts[: args.tutorial_rows]}).to_csv(
            small, index=False
        )
        seconds, rss, scored, _ = run_measured(
            [
                sys.executable,
                __file__,
                "_tutorial",
                str(small),
                str(tmp / "tut.csv"),
                str(min(5000, args.tutorial_rows)),
            ]
        )
        result["tutorial"] = {
            "rows": args.tutorial_rows,
            "score_seconds": round(scored[0], 1),
            "rows_per_s": round(args.tutorial_rows / scored[0]),
            "wall_seconds_with_fit": round(seconds, 1),
            "peak_rss_mb": round(rss / 2**20),
        }
        print(f"  tutorial score: {args.tutorial_rows / scored[0]:,.0f} rows/s")
    if args.cold_runs:
        result["cold_start"] = {
            variant: cold_start(args.model, variant, args.cold_runs)
            for variant in dict.fromkeys(v.replace("-1thread", "") for v in args.runtimes)
        }
        for variant, row in result["cold_start"].items():
            print(f"  cold start ({variant}): {row}", flush=True)
    if not args.skip_parts:
        result["parts"] = scoring_parts(texts, src, tmp, args.model, args.runtimes)
    if args.train_rows:
        result["training"] = train_epoch_seconds(args.data, args.train_rows)
        print(f"  training: {result['training']}")

    tfidf = result["tfidf_lr"]["rows_per_s"]
    result["ratios"] = {
        f"{name}_over_tfidf": round(result[name]["rows_per_s"] / tfidf, 2)
        for name in result
        if name.startswith("project_")
    }
    if "tutorial" in result:
        for name in [n for n in result if n.startswith("project_")]:
            result["ratios"][f"{name}_over_tutorial"] = round(
                result[name]["rows_per_s"] / result["tutorial"]["rows_per_s"], 1
            )
    print(
        "\n| scorer (file in, file out) | rows | rows/s | x TF-IDF | CPU s | peak RSS MB |\n|---|---|---|---|---|---|"
    )
    for name in [n for n in result if n.startswith("project_")] + ["tfidf_lr", "tutorial"]:
        if name in result:
            r = result[name]
            print(
                f"| {name} | {r['rows']:,} | {r['rows_per_s']:,} | {r['rows_per_s'] / tfidf:.2f} | "
                f"{r.get('cpu_seconds', '-')} | {r['peak_rss_mb']:,} |"
            )
    if "parts" in result:
        print("\n| part of `sentiment score` | seconds | rows/s | CPU s |\n|---|---|---|---|")
        for name, row in result["parts"].items():
            if isinstance(row, dict):
                print(f"| {name} | {row['seconds']} | {row['rows_per_s']:,} | {row.get('cpu_seconds', '-')} |")
    if "cold_start" in result:
        print("\n| cold start (fresh process) | wall s | import s | load s | predict one s |\n|---|---|---|---|---|")
        for name, row in result["cold_start"].items():
            print(
                f"| {name} | {row['wall_seconds']} | {row['import_seconds']} | {row['load_seconds']} | "
                f"{row['predict_one_seconds']} |"
            )
    print(f"ratios: {result['ratios']}")
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    print(f"written {args.json_out}")


if __name__ == "__main__":
    main()
