"""The ``sentiment`` command (also ``python -m sentiment`` and the scripts in ``scripts/``).

Subcommands are thin wrappers around package functions. User errors are
printed as ``error: ...`` without a traceback and exit with status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from ..errors import SentimentError
from .commands_model import (
    cmd_adapt,
    cmd_config,
    cmd_evaluate,
    cmd_export,
    cmd_info,
    cmd_pipeline,
    cmd_prepare,
    cmd_tokenize,
    cmd_train,
    cmd_word2vec,
)
from .commands_use import cmd_audit, cmd_explain, cmd_label, cmd_report, cmd_score, cmd_serve


# -- shared options -----------------------------------------------------------------
def _add_config_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", help="TOML config (presets in configs/); defaults if omitted")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override one config key, e.g. --set train.epochs=3 (repeatable; --train.epochs 3 works too)",
    )


def _add_read_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sep", help="column separator for delimited text (default: ',' for .csv, tab for .tsv/.txt)")
    p.add_argument("--encoding", help="input encoding (default: try utf-8/utf-8-sig, then cp949)")
    p.add_argument(
        "--sheet",
        help="Excel input: the sheet, by name or number (1 = first); default: the sheet "
        "whose column looks most like comments (reported, with the runner-up)",
    )


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars or log messages")
    p.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="also show TensorFlow's native log lines (hidden by default; TF_CPP_MIN_LOG_LEVEL=0)",
    )


def _add_precision_option(p: argparse.ArgumentParser, help_text: str) -> None:
    p.add_argument("--precision", choices=("auto", "fp32", "int8"), default="auto", help=help_text)


def _add_runtime_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--runtime",
        choices=("auto", "onnx", "keras"),
        default="auto",
        help="inference back end: auto (default) = ONNX Runtime when the model has model.onnx, else "
        "Keras; keras = TensorFlow (slower start-up, for comparison)",
    )
    _add_precision_option(
        p,
        "auto (default) = the model's recorded default (fp32 when none); fp32: full precision; int8: "
        "statically quantized (ONNX only; about half the inference CPU, probabilities within about 0.01 of "
        "fp32). Either gives a comment the same probability on every path (alone, in any batch, chunk size, "
        "engine). See docs/runtime.md",
    )
    p.add_argument("--threads", type=int, help="ONNX Runtime threads (default: all available cores)")


def _add_extra_texts(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--extra-texts",
        action="append",
        default=[],
        metavar="[DOMAIN=]FILE",
        help="unlabeled texts (one per line, or a table) for Word2Vec and, with distillation on, "
        "for the teachers to label; added to word2vec.extra_texts (repeatable)",
    )


def _add_label_options(p: argparse.ArgumentParser, train: bool = False) -> None:
    p.add_argument(
        "--positive-label",
        metavar="VALUE",
        help="the label value meaning positive, when the two values are not names the tool knows "
        "(known: 1/0, True/False, 긍정/부정, pos/neg, positive/negative, 좋음/나쁨, 추천/비추천, ...)",
    )
    p.add_argument(
        "--positive-from",
        type=float,
        metavar="N",
        help="numeric ratings (stars): N and above are positive, below N negative (e.g. 4)",
    )
    if train:
        p.add_argument(
            "--from-scratch",
            action="store_true",
            help="train a new network instead of starting from the packaged model (same as --set train.init_from=none)",
        )


def _add_explain_parser(sub: Any) -> None:
    p = sub.add_parser("explain", help="which morphemes made the model predict what it did (per text)")
    p.add_argument("texts", nargs="*", help="texts to explain (- reads one text per line from stdin)")
    p.add_argument("--model", "-m", help="model bundle directory (default: the packaged model)")
    p.add_argument("--json", action="store_true", help="print JSON (the default when stdout is not a terminal)")
    p.add_argument("--top", type=int, default=5, help="strongest morphemes listed per text in the terminal view")
    p.set_defaults(func=cmd_explain)


def _add_label_parser(sub: Any) -> None:
    p = sub.add_parser(
        "label",
        help="choose comments worth labeling and label them in a local page (or --export a table to fill in)",
        description="Chooses --n comments of INPUT (an audit part drawn at random + an informative "
        "part the model is unsure about, varied, without near-duplicates) and either "
        "serves a labeling page on 127.0.0.1 that saves every decision in LABELS at "
        "once, or (--export) writes them to LABELS with an empty label column. Running "
        "the same command again continues where it stopped. See docs/labeling.md.",
    )
    p.add_argument("input", help="the comments (CSV/TSV/.txt(.gz), .xlsx, .parquet, .jsonl)")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="LABELS",
        help="labels file: .csv (the page saves here), or .xlsx with --export",
    )
    p.add_argument("--n", type=int, default=300, help="comments to choose (default 300)")
    p.add_argument(
        "--audit-share",
        type=float,
        default=0.3,
        help="share of them drawn uniformly at random, for unbiased figures (default 0.3)",
    )
    p.add_argument("--model", "-m", help="the model whose uncertainty guides the choice (default: the packaged model)")
    p.add_argument("--text-column", help="column with the comments (default: guessed, and reported)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the selection (default 0)")
    p.add_argument(
        "--labels",
        default="1,0",
        metavar="POS,NEG",
        help="what the page writes for positive and negative, e.g. 긍정,부정 (default 1,0)",
    )
    p.add_argument("--export", action="store_true", help="write LABELS with an empty label column and exit (no page)")
    p.add_argument(
        "--port", type=int, default=8765, help="the page's port on 127.0.0.1 (default 8765; 0 = any free port)"
    )
    p.add_argument("--workers", type=int, default=0, help="tokenizer processes for scoring INPUT (0 = all cores)")
    _add_read_options(p)
    _add_common(p)
    p.set_defaults(func=cmd_label)


def _add_report_parser(sub: Any) -> None:
    p = sub.add_parser(
        "report",
        help="one self-contained HTML page (plots, groups, time, drivers, examples) "
        "about a file scored by `sentiment score`",
    )
    p.add_argument("scored", help="output of `sentiment score` (CSV/TSV/.gz, Parquet, JSONL, .xlsx)")
    p.add_argument("-o", "--output", required=True, help="HTML file to write, e.g. report.html")
    p.add_argument("--group-by", metavar="COL", help="compare groups of this column (product, app, channel...)")
    p.add_argument(
        "--time-column",
        metavar="COL",
        help="dates/times (2019-12-21, 2019.12.21, 2019년 12월 21일 오후 "
        "3:05, 3일 전, Excel serial, epoch...): sentiment per day, "
        "week or month",
    )
    p.add_argument(
        "--time-reference",
        metavar="TIME",
        help="the time relative dates (3일 전, 어제) count back from (default: the file's modification time)",
    )
    p.add_argument("--text-column", metavar="COL", help="column with the comments (default: guessed)")
    p.add_argument(
        "--top", type=int, default=15, metavar="N", help="rows per ranking (groups, morphemes, comments; default 15)"
    )
    p.add_argument("--model", "-m", help="the model the file was scored with (default: the packaged model)")
    p.add_argument("--column-prefix", help="the --column-prefix the file was scored with (default: detected)")
    p.add_argument("--positive", metavar="LABEL", help="the positive label (default: the last prob_* column)")
    p.add_argument(
        "--sample",
        type=int,
        default=20_000,
        metavar="N",
        help="comments tokenized for the morpheme statistics and examples (default 20000)",
    )
    p.add_argument("--title", help="page title (default: from the file name)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing report")
    p.add_argument(
        "--labeled",
        metavar="LABELS",
        help="labeled comments (the file of `sentiment label`): its audit "
        "rows correct the share positive, overall and per group",
    )
    p.add_argument(
        "--labeled-text-column",
        metavar="COL",
        help="text column of LABELS (default: the scored file's text column if LABELS has it, else guessed)",
    )
    p.add_argument("--label-column", metavar="COL", help="label column of LABELS (default: guessed, e.g. label)")
    p.add_argument(
        "--min-labels",
        type=int,
        default=30,
        metavar="N",
        help="audit labels a share (overall or a group's) needs to be corrected (default 30)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="also print the share positive, overall and per group, as JSON on stdout (fractions)",
    )
    _add_read_options(p)
    _add_common(p)
    p.set_defaults(func=cmd_report)


# -- parser -----------------------------------------------------------------------------
class _VersionAction(argparse.Action):
    """``--version``: computed only when asked for (package metadata; TensorFlow is not imported)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> None:
        from ..versions import version_report

        print(version_report())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sentiment",
        description="Korean comment sentiment: KoNLPy tokens, Word2Vec, (Bi)LSTM. Score files, train, evaluate.",
    )
    parser.add_argument(
        "--version",
        action=_VersionAction,
        help="print the versions of this package, Python, TensorFlow, Keras, KoNLPy, the MeCab "
        "dictionary, ... and exit",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("score", help="add predicted labels and probabilities to a comment file")
    p.add_argument(
        "input",
        help="CSV/TSV/.txt (optionally .gz), .xlsx, .parquet or .jsonl; with --engine ray also "
        "a directory, a glob (dir/*.csv) or a URI (s3://bucket/comments/)",
    )
    p.add_argument(
        "-o",
        "--output",
        required=True,
        help="output file (type from extension) or - for CSV on stdout; with --engine ray a directory of part files",
    )
    p.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: this process and its tokenizer workers (default); ray: Ray actors on a local "
        'Ray or a cluster (needs the ray extra: pip install "sentiment[ray]")',
    )
    p.add_argument(
        "--ray-executor",
        choices=("auto", "actors", "ray-data"),
        help="--engine ray: actors (this process reads, Ray actors score), ray-data (Ray Data reads where the "
        "actors run), or auto (default): actors on a one-node Ray, ray-data across nodes",
    )
    p.add_argument(
        "--ray-address",
        help="--engine ray: join this cluster (auto, or ray://HOST:10001) instead of starting a local Ray",
    )
    p.add_argument(
        "--concurrency",
        type=int,
        help="--engine ray: scoring actors, one CPU each (default: one per CPU of the cluster)",
    )
    p.add_argument(
        "--output-format", choices=("parquet", "csv"), help="--engine ray: part file format (default parquet)"
    )
    p.add_argument(
        "--stall-timeout",
        type=float,
        metavar="SECONDS",
        help="--engine ray: end the job (exit 2) when no stage (read, score, write) makes progress for "
        "this long (default 300; 0 = wait for ever)",
    )
    p.add_argument("--model", "-m", help="model bundle directory (default: the packaged model)")
    p.add_argument("--text-column", help="column with the comments (default: guessed, and reported)")
    _add_read_options(p)
    p.add_argument("--workers", type=int, default=0, help="tokenizer processes (0 = all cores; default 0)")
    p.add_argument(
        "--chunk-size",
        type=int,
        help="rows read, scored and written per chunk (default 50000; --engine ray: rows per block and actor call, "
        "default 4096 to 16384 by the input's size)",
    )
    p.add_argument("--batch-size", type=int, default=256, help="rows per model batch (default 256)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run from its last finished chunk")
    p.add_argument(
        "--no-escape-formulas",
        action="store_true",
        help="do not prefix cells starting with = + - @ with ' (formula-injection guard, on by default)",
    )
    p.add_argument("--output-encoding", default="utf-8", help="utf-8 (default) or utf-8-sig (BOM, for Excel)")
    p.add_argument("--column-prefix", default="", help="prefix for the added columns (status, label, prob_*)")
    p.add_argument(
        "--encoding-errors",
        choices=("strict", "replace", "skip-rows"),
        default="strict",
        help="undecodable bytes in the input: strict (default: an error naming the line), replace "
        "(keep the row, text with U+FFFD, status bad_encoding, no prediction) or skip-rows "
        "(leave the row out; counted and listed in the summary)",
    )
    p.add_argument(
        "--threshold",
        type=float,
        help="two-class models: predict the second class (1 = positive) when "
        "its probability is at least this (default: the model's fitted decision rule, "
        "e.g. from `adapt --labeled`, else the likelier class)",
    )
    _add_runtime_options(p)
    _add_common(p)
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("train", help="train a model bundle from a labeled file (or the train stage of a run)")
    p.add_argument("--data", help="labeled table")
    p.add_argument("--out", "-o", help="output model directory")
    p.add_argument("--run-dir", help="run the train stage on RUN (after prepare/tokenize/word2vec)")
    p.add_argument("--text-column")
    p.add_argument("--label-column")
    p.add_argument("--test-data", help="labeled table to evaluate on; metrics are stored in the bundle")
    _add_label_options(p, train=True)
    _add_extra_texts(p)
    p.add_argument("--workers", type=int, default=0, help="tokenizer processes (0 = all cores)")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument(
        "--force", action="store_true", help="with --run-dir: retrain even if up to date (distillation teachers too)"
    )
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="do not read or write the token cache ($SENTIMENT_CACHE_DIR or ~/.cache/sentiment)",
    )
    _add_read_options(p)
    _add_config_options(p)
    _add_common(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="accuracy, macro-F1, per-class scores, ROC AUC, confusion matrix")
    p.add_argument("--model", "-m", help="model bundle (default: the packaged model)")
    p.add_argument("--data", help="labeled table")
    p.add_argument("--run-dir", help="evaluate RUN/model on RUN's test split instead")
    p.add_argument("--text-column")
    p.add_argument("--label-column")
    p.add_argument("--report-dir", help="where to write the report (default: reports/MODEL-DATA)")
    p.add_argument(
        "--group-by",
        metavar="COLUMN",
        help="also report accuracy, macro-F1 and ROC AUC for each value of this column (domain, product, source, ...)",
    )
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.add_argument(
        "--all-rows",
        action="store_true",
        help="a LABELS file of `sentiment label`: evaluate every "
        "labeled row, not only its audit sample (the informative rows are not a random sample)",
    )
    p.add_argument(
        "--bootstrap",
        type=int,
        default=1000,
        metavar="N",
        help="resamples for the 95%% intervals of macro-F1 and ROC AUC (default 1000)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default 0)")
    _add_label_options(p)
    p.add_argument("--workers", type=int, default=1, help="tokenizer processes (0 = all cores)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the token cache")
    _add_read_options(p)
    _add_runtime_options(p)
    _add_common(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("info", help="print a model's card: config, tokenizer, labels, metrics, versions")
    p.add_argument("model", nargs="?", help="model bundle (default: the packaged model)")
    p.add_argument("--json", action="store_true", help="print meta.json")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("config", help="print the resolved config as TOML (or --keys: every key with its meaning)")
    p.add_argument("--keys", action="store_true", help="list every key with its default and meaning")
    p.add_argument("--markdown", action="store_true", help="with --keys: as Markdown tables (docs/configuration.md)")
    _add_config_options(p)
    p.set_defaults(func=cmd_config)

    def stage_parser(name: str, help_text: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_text)
        sp.add_argument("--run-dir", required=True, help="run directory shared by the stages")
        sp.add_argument(
            "--force",
            action="store_true",
            help="run even if the inputs did not change (train: distillation teachers too)",
        )
        _add_config_options(sp)
        _add_common(sp)
        return sp

    def data_options(sp: argparse.ArgumentParser, required: bool) -> None:
        sp.add_argument(
            "--data",
            required=required,
            action="append",
            metavar="[DOMAIN=]FILE",
            help="labeled table; repeat with DOMAIN=FILE for several domains (each gets its own test "
            "split, a domain column and per-domain figures)",
        )
        sp.add_argument("--text-column")
        sp.add_argument("--label-column")
        sp.add_argument("--test-data", help="use this labeled table as the test split instead of carving one")
        sp.add_argument(
            "--test-size",
            action="append",
            metavar="[DOMAIN=]SIZE",
            help="held out for testing: a share (0.1) or a row count (20000), for every domain or "
            "for one (movie=20000); default 0.1",
        )
        sp.add_argument(
            "--add-train",
            action="append",
            default=[],
            metavar="[DOMAIN=]FILE",
            help="more labeled data for the train split only (texts in either split are left out; "
            "unnamed files join the first domain; repeatable)",
        )
        _add_read_options(sp)

    p = stage_parser("prepare", "stage 1: read, clean, deduplicate and split labeled data")
    data_options(p, required=True)
    p.set_defaults(func=cmd_prepare)
    p = stage_parser("tokenize", "stage 2: tokenize the prepared splits with KoNLPy")
    p.add_argument("--workers", type=int, default=0)
    _add_extra_texts(p)
    p.set_defaults(func=cmd_tokenize)
    p = stage_parser("word2vec", "stage 3: train Word2Vec on the train split (+ extra texts)")
    _add_extra_texts(p)
    p.set_defaults(func=cmd_word2vec)
    p = stage_parser("pipeline", "run prepare, tokenize, word2vec, train, evaluate (skipping unchanged stages)")
    data_options(p, required=True)
    _add_extra_texts(p)
    p.add_argument("--stages", nargs="+", help="only these stages")
    p.add_argument("--workers", type=int, default=0)
    p.set_defaults(func=cmd_pipeline)

    p = sub.add_parser(
        "adapt",
        help="fit a model to your own unlabeled comments (new vocabulary, pseudo-labels, "
        "fine-tuning) and save it as a new bundle",
    )
    p.add_argument("--model", "-m", help="the model to adapt (default: the packaged model)")
    p.add_argument("--texts", required=True, help="unlabeled comments of the new kind: a table or one comment a line")
    p.add_argument("--out", "-o", required=True, help="the adapted bundle's directory")
    p.add_argument("--text-column", help="column with the comments (default: guessed, and reported)")
    p.add_argument(
        "--labeled",
        help="optional: a few labeled comments of the new kind (table with text and label; "
        "its columns are detected on their own, or named with --labeled-text-column "
        "and --labeled-label-column)",
    )
    p.add_argument("--labeled-text-column", metavar="COL", help="the --labeled file's text column (default: guessed)")
    p.add_argument(
        "--labeled-label-column",
        "--label-column",
        dest="labeled_label_column",
        metavar="COL",
        help="the --labeled (and --eval-data) file's label column (default: guessed)",
    )
    _add_label_options(p)
    p.add_argument("--eval-data", help="optional labeled table: evaluate the source and the adapted model on it")
    p.add_argument("--workers", type=int, default=0, help="tokenizer processes (0 = all cores)")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--json", action="store_true", help="print the adaptation report as JSON")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="adapt.KEY=VALUE",
        help="override an [adapt] setting, e.g. --set adapt.epochs=3 (repeatable)",
    )
    _add_read_options(p)
    _add_common(p)
    p.set_defaults(func=cmd_adapt)

    p = sub.add_parser(
        "audit",
        help="find the rows whose label is likely wrong (out-of-fold probabilities + "
        'confident learning; pip install "sentiment[audit]")',
        description="Ranks the rows of a labeled table whose given label is most likely wrong: a "
        "char n-gram model fitted on the other folds of every row, mixed with a trained "
        "model's probabilities, and cleanlab's confident learning. See docs/audit.md.",
    )
    p.add_argument("--data", required=True, help="labeled table (CSV/TSV/.gz, .xlsx, .parquet, .jsonl)")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        help="file for the flagged rows, most suspicious first (.csv, .tsv, .xlsx, .parquet, .jsonl): "
        "row, text, given_label, suggested_label, score, p_given, p_suggested",
    )
    p.add_argument("--text-column", help="column with the texts (default: guessed, and reported)")
    p.add_argument("--label-column", help="column with the labels (default: guessed)")
    p.add_argument(
        "--model",
        "-m",
        help="model whose probabilities join the n-gram models' (default: the packaged "
        "model; its labels must include the data's)",
    )
    p.add_argument(
        "--no-model",
        action="store_true",
        help="the per-fold n-gram models alone: for labels no model knows, or a model's own training data",
    )
    p.add_argument("--folds", type=int, default=5, help="folds of the out-of-fold n-gram models (default 5)")
    p.add_argument("--seed", type=int, default=0, help="seed of the fold split (default 0)")
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        help="processes fitting the folds at once (0 = one per core, at most --folds; default 0)",
    )
    p.add_argument("--json", action="store_true", help="print the summary (and the --top rows) as JSON")
    p.add_argument("--top", type=int, default=10, help="with --json: the most suspicious rows included (default 10)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    _add_read_options(p)
    _add_common(p)
    p.set_defaults(func=cmd_audit)

    _add_explain_parser(sub)
    _add_report_parser(sub)
    _add_label_parser(sub)

    p = sub.add_parser(
        "export",
        help="copy a run's model with its test metrics and a model card into a bundle, "
        "or add the ONNX graph to an existing bundle",
    )
    p.add_argument("--run-dir", help="run directory whose model to export")
    p.add_argument("--model", "-m", help="existing bundle to add model.onnx to (an older bundle without it)")
    p.add_argument("--out", "-o", help="bundle directory to write")
    p.add_argument("--in-place", action="store_true", help="with --model: rewrite that bundle (atomically)")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--rebuild-command", help="the command(s) that rebuild this model, for the model card")
    _add_common(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "serve",
        help='serve the model over HTTP (FastAPI + uvicorn; pip install "sentiment[serve]")',
        description="POST /v1/predict, GET /v1/model, /healthz, /readyz, /metrics; OpenAPI at /docs. "
        "Stops gracefully on SIGTERM or Ctrl+C.",
    )
    p.add_argument("--model", "-m", help="model bundle directory (default: the packaged model)")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1, this machine only; 0.0.0.0 for every interface)",
    )
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 = any free port)")
    p.add_argument("--max-texts", type=int, default=1000, help="most texts in one request (more: 413; default 1000)")
    p.add_argument(
        "--max-body-bytes",
        type=int,
        default=8 * 1024 * 1024,
        help="largest request body in bytes (larger: 413; default 8 MiB)",
    )
    p.add_argument(
        "--api-key-env",
        metavar="VAR",
        help="require 'Authorization: Bearer KEY' on /v1/ endpoints, KEY read from the environment variable VAR",
    )
    p.add_argument(
        "--batch-wait-ms",
        type=float,
        default=2.0,
        help="how long a request waits for others to share its model call (default 2 ms)",
    )
    p.add_argument("--max-batch", type=int, default=1024, help="most texts in one model call (default 1024)")
    _add_precision_option(
        p,
        "auto (default) = the model's recorded default (fp32 when none); either precision gives a text the "
        "same probabilities whatever other requests share its model call. See docs/runtime.md",
    )
    p.add_argument(
        "--graceful-timeout",
        type=float,
        default=30.0,
        help="on SIGTERM, seconds to let requests in flight finish (default 30)",
    )
    p.add_argument("--access-log", action="store_true", help="log every request (off by default; see /metrics)")
    _add_common(p)
    p.set_defaults(func=cmd_serve)
    return parser


def _silence_native_stderr() -> None:
    """Send what native libraries write to file descriptor 2 (TensorFlow's C++ log lines, which
    TF_CPP_MIN_LOG_LEVEL no longer hides before absl logging is initialised) to /dev/null, keeping
    Python's ``sys.stderr`` (our messages, errors, tracebacks) on the real stderr."""
    try:
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    sys.stderr.flush()
    os.dup2(devnull, 2)
    os.close(devnull)
    sys.stderr = os.fdopen(saved, "w", buffering=1, encoding=sys.stderr.encoding or "utf-8", errors="backslashreplace")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if getattr(args, "quiet", False):
        _silence_native_stderr()
    elif getattr(args, "verbose", False):
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"  # sentiment/model/tf_import.py hides them otherwise
    try:
        return args.func(args, extra)
    except SentimentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `sentiment score ... -o - | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def main_entry() -> None:
    """Console-script entry point."""
    raise SystemExit(main())
