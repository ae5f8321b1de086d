"""Subcommands that use a model: ``score``, ``explain``, ``report``, ``audit``, ``label``, ``serve``.

Each parses nothing (``cli.build_parser`` does) and calls a package function."""

from __future__ import annotations

import argparse
import json
import os
import sys
from contextlib import nullcontext
from pathlib import Path

from ..errors import SentimentError
from .cli_common import load_classifier, logger, no_extra


# -- commands -------------------------------------------------------------------------
def cmd_score(args: argparse.Namespace, extra: list[str]) -> int:
    from ..io.locks import exclusive_lock
    from ..io.readers import check_input, table_kind
    from ..io.writers import check_output
    from .scoring import score_file

    no_extra(extra, "score")
    log = logger(args)
    if args.engine == "ray":
        return _score_on_ray(args, log)
    ray_only = [
        flag
        for flag, value in (
            ("--ray-address", args.ray_address),
            ("--concurrency", args.concurrency),
            ("--output-format", args.output_format),
            ("--stall-timeout", args.stall_timeout),
            ("--ray-executor", args.ray_executor),
        )
        if value is not None
    ]
    if ray_only:
        raise SentimentError(
            f"{', '.join(ray_only)} work(s) with --engine ray only; add --engine ray or leave "
            f"{'them' if len(ray_only) > 1 else 'it'} out"
        )
    table_kind(check_input(args.input))  # fail fast, before the model is loaded
    check_output(args.output, args.overwrite or args.resume)
    with exclusive_lock(args.output, "output") if args.output != "-" else nullcontext():  # fail before the model loads
        clf = load_classifier(args)
        log(f"model: {args.model or 'default (packaged)'} ({clf.runtime_})")
        summary = score_file.__wrapped__(  # score_file itself takes the lock held here
            args.input,
            args.output,
            clf,
            text_column=args.text_column,
            sep=args.sep,
            encoding=args.encoding,
            chunksize=args.chunk_size or 50_000,
            workers=args.workers,
            overwrite=args.overwrite,
            resume=args.resume,
            escape=not args.no_escape_formulas,
            output_encoding=args.output_encoding,
            column_prefix=args.column_prefix,
            batch_size=args.batch_size,
            threshold=args.threshold,
            show_progress=False if args.quiet else None,
            encoding_errors=args.encoding_errors,
            sheet=args.sheet,
            log=log,
        )
    for line in summary.lines():
        log(line)
    return 0


def _score_on_ray(args: argparse.Namespace, log) -> int:
    from .distributed import STALL_TIMEOUT, require_ray, score_path

    unsupported = [
        flag
        for flag, used in (
            ("--resume", args.resume),
            ("-o -", args.output == "-"),
            ("--output-encoding", args.output_encoding != "utf-8"),
        )
        if used
    ]
    if unsupported:
        raise SentimentError(
            f"{', '.join(unsupported)} cannot be used with --engine ray; it writes a directory "
            f"of UTF-8 part files (rerun a failed job with --overwrite)"
        )
    require_ray()
    if args.threads is not None and args.threads < 1:
        raise SentimentError(
            f"--threads {args.threads} is invalid; give a positive number of threads per actor, "
            f"or leave it out (1 per actor, which holds one CPU)"
        )
    summary = score_path(
        args.input,
        args.output,
        model=args.model,
        text_column=args.text_column,
        sep=args.sep,
        encoding=args.encoding,
        encoding_errors=args.encoding_errors,
        sheet=args.sheet,
        threshold=args.threshold,
        column_prefix=args.column_prefix,
        escape=not args.no_escape_formulas,
        overwrite=args.overwrite,
        output_format=args.output_format or "parquet",
        ray_address=args.ray_address,
        concurrency=args.concurrency,
        batch_size=args.chunk_size,
        model_batch_size=args.batch_size,
        runtime=args.runtime,
        precision=args.precision,
        threads=args.threads,
        stall_timeout=STALL_TIMEOUT if args.stall_timeout is None else args.stall_timeout,
        executor=args.ray_executor or "auto",
        log=log,
    )
    for line in summary.lines():
        log(line)
    return 0


def cmd_explain(args: argparse.Namespace, extra: list[str]) -> int:
    no_extra(extra, "explain")
    texts = args.texts
    if texts == ["-"]:
        texts = [line.rstrip("\n") for line in sys.stdin if line.strip()]
    if not texts:
        raise SentimentError(
            'explain: give at least one text, e.g. sentiment explain "배우 연기 최고", '
            "or - to read one text per line from stdin"
        )
    from ..analysis.explain import format_terminal, to_json
    from ..classifier import SentimentClassifier

    explanations = SentimentClassifier.load(args.model).explain(texts)
    if args.json or not sys.stdout.isatty():
        print(to_json(explanations))
    else:
        print(format_terminal(explanations, colour=not os.environ.get("NO_COLOR"), top=args.top))
    return 0


def cmd_report(args: argparse.Namespace, extra: list[str]) -> int:
    from ..analysis.report import check_report_options, read_scored, write_report

    no_extra(extra, "report")
    log = logger(args)
    check_report_options(Path(args.output), args.overwrite, args.top, args.sample, args.min_labels)
    data = read_scored(
        args.scored,
        text_column=args.text_column,
        group_by=args.group_by,
        time_column=args.time_column,
        column_prefix=args.column_prefix,
        positive=args.positive,
        sep=args.sep,
        encoding=args.encoding,
        time_reference=args.time_reference,
        log=log,
    )
    # (the columns are checked before TensorFlow is loaded)
    audit = None
    if args.labeled:
        import numpy as np

        from ..analysis.audit_sample import read_audit_labels

        audit = read_audit_labels(
            args.labeled,
            data.frame,
            np.asarray(data.labels),
            data.positive,
            text_column=args.labeled_text_column,
            label_column=args.label_column,
            scored_text_column=data.columns["text"],
        )
        log(f"labels: {audit.describe()}")
    from ..classifier import SentimentClassifier

    clf = SentimentClassifier.load(args.model)
    summary = write_report(
        data,
        clf,
        args.output,
        top=args.top,
        sample=args.sample,
        overwrite=args.overwrite,
        title=args.title,
        model_name=args.model or "default (packaged)",
        audit=audit,
        min_labels=args.min_labels,
        log=log,
    )
    for line in summary.lines():
        log(line)
    if args.json:
        print(json.dumps(summary.shares.as_json(), indent=2, ensure_ascii=False))
    return 0


def cmd_audit(args: argparse.Namespace, extra: list[str]) -> int:
    from ..io.labeled import load_labeled
    from ..io.readers import check_input, table_kind
    from ..io.writers import check_output, write_table
    from ..training.audit import require_cleanlab, summary_lines

    no_extra(extra, "audit")
    log = logger(args, quiet=args.json)
    if args.no_model and args.model:
        raise SentimentError("audit: give --model DIR or --no-model, not both")
    if args.top < 0:
        raise SentimentError(f"audit: --top {args.top} is invalid; give how many rows --json shows (0 or more)")
    require_cleanlab()  # fail fast, before the data is read and the model loads
    table_kind(check_input(args.data))
    check_output(args.output, args.overwrite)
    data = load_labeled(
        args.data, args.text_column, args.label_column, sep=args.sep, encoding=args.encoding, sheet=args.sheet, log=log
    )
    from ..classifier import audit_labels

    model = False if args.no_model else args.model
    table = audit_labels(
        data.texts,
        data.labels,
        model,
        folds=args.folds,
        seed=args.seed,
        workers=args.workers,
        where=str(args.data),
        log=log,
    )
    summary = table.attrs["summary"]
    table["row"] = data.rows[table["row"].to_numpy()]  # positions in the file, rows without text or label included
    write_table(table, args.output)
    summary.update(
        data=str(args.data),
        text_column=data.text_column,
        label_column=data.label_column,
        dropped=data.dropped,
        output=str(args.output),
        model=summary["model"] if not args.no_model else None,
    )
    if args.json:
        top = table.head(args.top)
        summary["top"] = json.loads(top.to_json(orient="records", force_ascii=False))
        print(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        for line in summary_lines(summary):
            print(line)
        log(f"audit: the flagged rows, most suspicious first, written to {args.output}")
    return 0


def cmd_label(args: argparse.Namespace, extra: list[str]) -> int:
    from .label import label_file

    no_extra(extra, "label")
    label_file(
        args.input,
        args.output,
        n=args.n,
        model=args.model,
        text_column=args.text_column,
        audit_share=args.audit_share,
        seed=args.seed,
        labels=args.labels,
        export=args.export,
        port=args.port,
        workers=args.workers,
        sep=args.sep,
        encoding=args.encoding,
        sheet=args.sheet,
        log=logger(args),
    )
    return 0


def cmd_serve(args: argparse.Namespace, extra: list[str]) -> int:
    no_extra(extra, "serve")
    api_key = None
    if args.api_key_env:
        api_key = os.environ.get(args.api_key_env, "")
        if not api_key.strip():
            raise SentimentError(
                f"--api-key-env {args.api_key_env}: the environment variable {args.api_key_env} "
                f"is not set or empty; export it with the key clients must send "
                f"(Authorization: Bearer <key>), or leave --api-key-env out"
            )
    try:
        import uvicorn  # noqa: F401  (run_server imports it)

        from . import serving
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in {"fastapi", "starlette", "pydantic", "uvicorn", "prometheus_client"}:
            raise
        raise SentimentError(
            f"serving needs FastAPI, uvicorn and prometheus-client (missing: {exc.name}); "
            f'install them with: pip install "sentiment[serve]"'
        ) from None
    serving.run_server(
        args.model,
        host=args.host,
        port=args.port,
        max_texts=args.max_texts,
        api_key=api_key,
        max_body_bytes=args.max_body_bytes,
        batch_wait_ms=args.batch_wait_ms,
        max_batch=args.max_batch,
        graceful_timeout=args.graceful_timeout,
        access_log=args.access_log,
        log_level="warning" if args.quiet else "info",
        log=logger(args),
        precision=args.precision,
    )
    return 0
