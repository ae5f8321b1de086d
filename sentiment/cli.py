"""The ``sentiment`` command (also ``python -m sentiment`` and the scripts in ``scripts/``).

Subcommands are thin wrappers around package functions. User errors are
printed as ``error: ...`` without a traceback and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from .config import Config, describe_keys
from .errors import ConfigError, SentimentError


def _log(msg: str) -> None:
    print(msg, file=sys.stderr)


def _quiet_log(msg: str) -> None:
    return None


# -- shared options -----------------------------------------------------------------
def _add_config_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", help="TOML config (presets in configs/); defaults if omitted")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override one config key, e.g. --set train.epochs=3 (repeatable; "
                        "--train.epochs 3 works too)")


def _add_read_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sep", help="column separator for delimited text (default: ',' for .csv, tab for .tsv/.txt)")
    p.add_argument("--encoding", help="input encoding (default: try utf-8/utf-8-sig, then cp949)")
    p.add_argument("--sheet", help="Excel input: the sheet, by name or number (1 = first); default: the first "
                                   "sheet with a text column (reported)")


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars or log messages")


def _add_extra_texts(p: argparse.ArgumentParser) -> None:
    p.add_argument("--extra-texts", action="append", default=[], metavar="FILE",
                   help="unlabeled texts (one per line, or a table) for Word2Vec and, with distillation on, "
                        "for the teachers to label; added to word2vec.extra_texts (repeatable)")


def _load_config(args: argparse.Namespace, extra: list[str]) -> Config:
    overrides = list(args.overrides) + _extra_overrides(extra)
    cfg = Config.from_toml(args.config, overrides) if args.config else Config().with_overrides(overrides)
    files = getattr(args, "extra_texts", [])
    if files:
        cfg = cfg.with_overrides({"word2vec.extra_texts": [*cfg.word2vec.extra_texts, *map(str, files)]})
    return cfg


def _extra_overrides(extra: list[str]) -> list[str]:
    """spaCy-style ``--section.key value`` / ``--section.key=value`` arguments."""
    out, i = [], 0
    while i < len(extra):
        item = extra[i]
        if not item.startswith("--") or "." not in item.split("=", 1)[0]:
            raise ConfigError(f"unrecognized argument {item!r}; config overrides look like --train.epochs 3 "
                              f"or --set train.epochs=3")
        if "=" in item:
            out.append(item[2:])
            i += 1
        elif i + 1 < len(extra):
            out.append(f"{item[2:]}={extra[i + 1]}")
            i += 2
        else:
            raise ConfigError(f"override {item} needs a value, e.g. {item} 3")
    return out


def _no_extra(extra: list[str], command: str) -> None:
    if extra:
        raise SentimentError(f"unrecognized argument(s) for '{command}': {' '.join(extra)}")


# -- commands -------------------------------------------------------------------------
def cmd_score(args: argparse.Namespace, extra: list[str]) -> int:
    from .classifier import SentimentClassifier
    from .dataio import check_input, check_output, table_kind
    from .locks import exclusive_lock
    from .scoring import score_file

    _no_extra(extra, "score")
    log = _quiet_log if args.quiet else _log
    table_kind(check_input(args.input))  # fail fast, before TensorFlow is loaded
    check_output(args.output, args.overwrite or args.resume)
    with exclusive_lock(args.output, "output") if args.output != "-" else nullcontext():  # fail before TF loads
        clf = SentimentClassifier.load(args.model)
        log(f"model: {args.model or 'default (packaged)'}")
        summary = score_file.__wrapped__(  # score_file itself takes the lock held here
            args.input, args.output, clf, text_column=args.text_column, sep=args.sep, encoding=args.encoding,
            chunksize=args.chunk_size, workers=args.workers, overwrite=args.overwrite, resume=args.resume,
            escape=not args.no_escape_formulas, output_encoding=args.output_encoding,
            column_prefix=args.column_prefix, batch_size=args.batch_size, threshold=args.threshold,
            show_progress=False if args.quiet else None, encoding_errors=args.encoding_errors, sheet=args.sheet,
            log=log)
    for line in summary.lines():
        log(line)
    return 0


def cmd_train(args: argparse.Namespace, extra: list[str]) -> int:
    from . import stages

    cfg = _load_config(args, extra)
    log = _quiet_log if args.quiet else _log
    verbose = 0 if args.quiet else (2 if not sys.stderr.isatty() else 1)
    if args.run_dir:
        if args.data or args.out:
            raise SentimentError("train: give either --run-dir (train stage) or --data with --out, not both")
        stages.train(args.run_dir, cfg, force=args.force, verbose=verbose, log=log)
        return 0
    if not args.data or not args.out:
        raise SentimentError("train: --data FILE and --out DIR are required (or --run-dir RUN for the stage)")
    stages.train_from_file(args.data, args.out, cfg, text_column=args.text_column, label_column=args.label_column,
                           sep=args.sep, encoding=args.encoding, sheet=args.sheet,
                           test_data=args.test_data, workers=args.workers, verbose=verbose,
                           overwrite=args.overwrite, use_cache=not args.no_cache, log=log)
    return 0


def cmd_evaluate(args: argparse.Namespace, extra: list[str]) -> int:
    from .classifier import SentimentClassifier
    from .evaluation import evaluate_texts, format_metrics, write_report
    from .labeled import load_labeled, match_labels
    from . import stages

    _no_extra(extra, "evaluate")
    log = _quiet_log if (args.quiet or args.json) else _log
    if args.run_dir:
        metrics = stages.evaluate(args.run_dir, force=True, log=log)
        if args.json:
            print(json.dumps(metrics, indent=2, ensure_ascii=False))
        return 0
    if not args.data:
        raise SentimentError("evaluate: --data FILE is required (or --run-dir RUN)")
    clf = SentimentClassifier.load(args.model)
    data = load_labeled(args.data, args.text_column, args.label_column, sep=args.sep, encoding=args.encoding,
                        sheet=args.sheet, log=log)
    labels = match_labels(data.labels, clf.classes_, args.data)
    from .token_cache import tokenize_with_cache

    tokens = tokenize_with_cache(clf.tokenizer_, data.texts, "evaluate", workers=args.workers,
                                 use_cache=not args.no_cache, show_progress=False if args.quiet else None, log=log)
    metrics, proba = evaluate_texts(clf, data.texts, labels, tokens=tokens)
    metrics["data"] = str(args.data)
    metrics["model"] = str(args.model or "default")
    metrics["dropped"] = data.dropped
    model_name = Path(args.model).name if args.model else "default"
    report = Path(args.report_dir or Path("reports") / f"{model_name}-{Path(args.data).name.split('.')[0]}")
    write_report(report, metrics, data.texts, labels, proba, clf.classes_, clf.history_)
    if args.json:
        print(json.dumps(metrics, indent=2, ensure_ascii=False))
    else:
        print(format_metrics(metrics))
    log(f"report written to {report}")
    return 0


def cmd_info(args: argparse.Namespace, extra: list[str]) -> int:
    from .bundle import read_meta
    from .classifier import default_model_path

    _no_extra(extra, "info")
    path = Path(args.model) if args.model else default_model_path()
    meta = read_meta(path)
    if args.json:
        print(json.dumps(meta, indent=2, ensure_ascii=False))
        return 0
    card = path / "MODEL_CARD.md"
    training = meta.get("training", {})
    tok = meta.get("tokenizer", {}).get("tokenizer", {})
    lines = [f"model: {path}", f"labels: {meta.get('labels')}", f"vocabulary: {meta.get('vocab_size'):,} tokens",
             f"maxlen: {meta.get('maxlen')}",
             f"tokenizer: {tok.get('tagger')} (pos tags: {tok.get('with_pos')}, okt norm/stem: "
             f"{tok.get('norm')}/{tok.get('stem')})",
             f"training rows: {training.get('rows')} ({training.get('class_counts')}), "
             f"epochs: {training.get('epochs_run')}, seconds: {training.get('seconds')}",
             f"data fingerprint: {training.get('data_fingerprint', {}).get('sha256')}",
             f"metrics: {json.dumps(training.get('metrics', {}))}",
             "versions: " + ", ".join(f"{k} {v}" for k, v in meta.get("versions", {}).items()),
             "", "config:", (path / "config.toml").read_text(encoding="utf-8")]
    if card.is_file():
        lines += ["model card:", card.read_text(encoding="utf-8")]
    print("\n".join(lines))
    return 0


def cmd_config(args: argparse.Namespace, extra: list[str]) -> int:
    cfg = _load_config(args, extra)
    if args.keys:
        for key, default, doc in describe_keys():
            print(f"{key:32} {default:14} {doc}")
    else:
        print(cfg.to_toml())
    return 0


def cmd_prepare(args: argparse.Namespace, extra: list[str]) -> int:
    from . import stages

    cfg = _load_config(args, extra)
    stages.prepare(args.data, args.run_dir, cfg, text_column=args.text_column, label_column=args.label_column,
                   test_data=args.test_data, test_size=args.test_size, add_train=args.add_train, sep=args.sep,
                   encoding=args.encoding, sheet=args.sheet, force=args.force, log=_quiet_log if args.quiet else _log)
    return 0


def cmd_tokenize(args: argparse.Namespace, extra: list[str]) -> int:
    from . import stages

    stages.tokenize(args.run_dir, _load_config(args, extra), workers=args.workers, force=args.force,
                    log=_quiet_log if args.quiet else _log)
    return 0


def cmd_word2vec(args: argparse.Namespace, extra: list[str]) -> int:
    from . import stages

    stages.word2vec(args.run_dir, _load_config(args, extra), force=args.force, log=_quiet_log if args.quiet else _log)
    return 0


def cmd_pipeline(args: argparse.Namespace, extra: list[str]) -> int:
    from . import stages

    cfg = _load_config(args, extra)
    stages.run_pipeline(args.data, args.run_dir, cfg, stages=args.stages or stages.STAGES, workers=args.workers,
                        force=args.force, verbose=0 if args.quiet else 2, log=_quiet_log if args.quiet else _log,
                        text_column=args.text_column, label_column=args.label_column, test_data=args.test_data,
                        test_size=args.test_size, add_train=args.add_train, sep=args.sep, encoding=args.encoding,
                        sheet=args.sheet)
    return 0


def _fraction_or_count(text: str) -> float | int:
    value = float(text)
    if 0 < value < 1:
        return value
    if value >= 1 and value == int(value):
        return int(value)
    raise argparse.ArgumentTypeError(f"{text!r} is neither a share in (0, 1) nor a whole number of rows")


def cmd_export(args: argparse.Namespace, extra: list[str]) -> int:
    from . import stages

    _no_extra(extra, "export")
    stages.export_model(args.run_dir, args.out, overwrite=args.overwrite, command=args.rebuild_command,
                        log=_quiet_log if args.quiet else _log)
    return 0


# -- parser -----------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sentiment", description="Korean comment sentiment: KoNLPy tokens, "
                                     "Word2Vec, (Bi)LSTM. Score files, train, evaluate.")
    from . import __version__

    parser.add_argument("--version", action="version", version=f"sentiment {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("score", help="add predicted labels and probabilities to a comment file")
    p.add_argument("input", help="CSV/TSV/.txt (optionally .gz), .xlsx, .parquet or .jsonl")
    p.add_argument("-o", "--output", required=True, help="output file (type from extension) or - for CSV on stdout")
    p.add_argument("--model", "-m", help="model bundle directory (default: the packaged model)")
    p.add_argument("--text-column", help="column with the comments (default: guessed, and reported)")
    _add_read_options(p)
    p.add_argument("--workers", type=int, default=0, help="tokenizer processes (0 = all cores; default 0)")
    p.add_argument("--chunk-size", type=int, default=50_000, help="rows read, scored and written per chunk")
    p.add_argument("--batch-size", type=int, default=1024, help="rows per model batch")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run from its last finished chunk")
    p.add_argument("--no-escape-formulas", action="store_true",
                   help="do not prefix cells starting with = + - @ with ' (formula-injection guard, on by default)")
    p.add_argument("--output-encoding", default="utf-8", help="utf-8 (default) or utf-8-sig (BOM, for Excel)")
    p.add_argument("--column-prefix", default="", help="prefix for the added columns (status, label, prob_*)")
    p.add_argument("--encoding-errors", choices=("strict", "replace", "skip-rows"), default="strict",
                   help="undecodable bytes in the input: strict (default: an error naming the line), replace "
                        "(keep the row, text with U+FFFD, status bad_encoding, no prediction) or skip-rows "
                        "(leave the row out; counted and listed in the summary)")
    p.add_argument("--threshold", type=float, help="two-class models: predict the second class (1 = positive) when "
                                                   "its probability is at least this (default: the likelier class)")
    _add_common(p)
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("train", help="train a model bundle from a labeled file (or the train stage of a run)")
    p.add_argument("--data", help="labeled table")
    p.add_argument("--out", "-o", help="output model directory")
    p.add_argument("--run-dir", help="run the train stage on RUN (after prepare/tokenize/word2vec)")
    p.add_argument("--text-column")
    p.add_argument("--label-column")
    p.add_argument("--test-data", help="labeled table to evaluate on; metrics are stored in the bundle")
    _add_extra_texts(p)
    p.add_argument("--workers", type=int, default=0, help="tokenizer processes (0 = all cores)")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--force", action="store_true", help="with --run-dir: retrain even if up to date (distillation teachers too)")
    p.add_argument("--no-cache", action="store_true",
                   help="do not read or write the token cache ($SENTIMENT_CACHE_DIR or ~/.cache/sentiment)")
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
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.add_argument("--workers", type=int, default=1, help="tokenizer processes (0 = all cores)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the token cache")
    _add_read_options(p)
    _add_common(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("info", help="print a model's card: config, tokenizer, labels, metrics, versions")
    p.add_argument("model", nargs="?", help="model bundle (default: the packaged model)")
    p.add_argument("--json", action="store_true", help="print meta.json")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("config", help="print the resolved config as TOML (or --keys: every key with its meaning)")
    p.add_argument("--keys", action="store_true")
    _add_config_options(p)
    p.set_defaults(func=cmd_config)

    def stage_parser(name: str, help_text: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_text)
        sp.add_argument("--run-dir", required=True, help="run directory shared by the stages")
        sp.add_argument("--force", action="store_true",
                        help="run even if the inputs did not change (train: distillation teachers too)")
        _add_config_options(sp)
        _add_common(sp)
        return sp

    def data_options(sp: argparse.ArgumentParser, required: bool) -> None:
        sp.add_argument("--data", required=required, help="labeled table")
        sp.add_argument("--text-column")
        sp.add_argument("--label-column")
        sp.add_argument("--test-data", help="use this labeled table as the test split instead of carving one")
        sp.add_argument("--test-size", type=_fraction_or_count, default=0.1,
                        help="held out for testing: a share (0.1) or a row count (20000); default 0.1")
        sp.add_argument("--add-train", action="append", default=[], metavar="FILE",
                        help="more labeled data for the train split only (texts in either split are left out; "
                             "repeatable)")
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

    p = sub.add_parser("export", help="copy a run's model with its test metrics and a model card into a bundle")
    p.add_argument("--run-dir", required=True)
    p.add_argument("--out", "-o", required=True, help="bundle directory to write")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--rebuild-command", help="the command(s) that rebuild this model, for the model card")
    _add_common(p)
    p.set_defaults(func=cmd_export)
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
    sys.stderr = os.fdopen(saved, "w", buffering=1, encoding=sys.stderr.encoding or "utf-8",
                           errors="backslashreplace")


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if getattr(args, "quiet", False):
        _silence_native_stderr()
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
