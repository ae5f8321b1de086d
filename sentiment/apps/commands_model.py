"""Subcommands that make or inspect a model: ``train``, ``evaluate``, ``info``, ``config``, the pipeline stages,
``export``, ``adapt``.

Each parses nothing (``cli.build_parser`` does) and calls a package function."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..config import describe_keys, keys_markdown
from ..errors import SentimentError
from .cli_common import extra_overrides, load_classifier, load_config, logger, no_extra


def cmd_train(args: argparse.Namespace, extra: list[str]) -> int:
    from . import stages

    cfg = load_config(args, extra)
    if args.from_scratch:
        cfg = cfg.with_overrides({"train.init_from": "none"})
    log = logger(args)
    verbose = 0 if args.quiet else (2 if not sys.stderr.isatty() else 1)
    if args.run_dir:
        if args.data or args.out:
            raise SentimentError("train: give either --run-dir (train stage) or --data with --out, not both")
        stages.train(args.run_dir, cfg, force=args.force, verbose=verbose, log=log)
        return 0
    if not args.data or not args.out:
        raise SentimentError("train: --data FILE and --out DIR are required (or --run-dir RUN for the stage)")
    stages.train_from_file(
        args.data,
        args.out,
        cfg,
        text_column=args.text_column,
        label_column=args.label_column,
        sep=args.sep,
        encoding=args.encoding,
        sheet=args.sheet,
        test_data=args.test_data,
        workers=args.workers,
        verbose=verbose,
        overwrite=args.overwrite,
        use_cache=not args.no_cache,
        log=log,
        positive_label=args.positive_label,
        positive_from=args.positive_from,
        command="sentiment " + " ".join(sys.argv[1:]) if sys.argv[1:2] == ["train"] else None,
    )
    return 0


def cmd_evaluate(args: argparse.Namespace, extra: list[str]) -> int:
    from ..analysis.evaluation import evaluate_texts, format_metrics, write_report
    from ..io.labeled import class_indices, load_labeled, match_labels
    from . import stages

    no_extra(extra, "evaluate")
    log = logger(args, quiet=args.json)
    if args.run_dir:
        metrics = stages.evaluate(args.run_dir, force=True, log=log)
        if args.json:
            print(json.dumps(metrics, indent=2, ensure_ascii=False))
        return 0
    if not args.data:
        raise SentimentError("evaluate: --data FILE is required (or --run-dir RUN)")
    clf = load_classifier(args)
    data = load_labeled(
        args.data, args.text_column, args.label_column, sep=args.sep, encoding=args.encoding, sheet=args.sheet, log=log
    )
    from ..analysis.audit_sample import audit_rows

    data, evaluated_on = audit_rows(data, args.all_rows)
    if evaluated_on:
        log(f"evaluating on {evaluated_on}")
    labels = match_labels(
        data.labels, clf.classes_, args.data, positive_label=args.positive_label, positive_from=args.positive_from
    )
    from ..text.token_cache import tokenize_with_cache

    tokens = tokenize_with_cache(
        clf.tokenizer_,
        data.texts,
        "evaluate",
        workers=args.workers,
        use_cache=not args.no_cache,
        show_progress=False if args.quiet else None,
        log=log,
    )
    metrics, proba = evaluate_texts(clf, data.texts, labels, tokens=tokens)
    if args.bootstrap < 100:
        raise SentimentError(
            f"--bootstrap {args.bootstrap} is too few resamples for a 95% interval; give at least 100 (default 1000)"
        )
    from ..analysis.intervals import metric_intervals

    metrics["intervals"] = metric_intervals(
        class_indices(labels, clf.classes_),
        proba,
        n_boot=args.bootstrap,
        seed=args.seed,
        pred=class_indices(clf.decide(proba), clf.classes_),
    )
    if evaluated_on:
        metrics["evaluated_on"] = evaluated_on
    if args.group_by:
        from ..io.columns import find_column
        from ..training.domains import metrics_by_group

        column = find_column(list(data.frame.columns), args.group_by, (), "group", str(args.data))
        metrics["group_by"] = column
        metrics["by_group"] = metrics_by_group(
            labels,
            proba,
            clf.classes_,
            data.frame[column].tolist(),
            pred=class_indices(clf.decide(proba), clf.classes_),
        )
    metrics["data"] = str(args.data)
    metrics["model"] = str(args.model or "default")
    metrics["runtime"] = clf.runtime_
    metrics["dropped"] = data.dropped
    model_name = Path(args.model).name if args.model else "default"
    report = Path(args.report_dir or Path("reports") / f"{model_name}-{Path(args.data).name.split('.')[0]}")
    write_report(report, metrics, data.texts, labels, proba, clf.classes_, clf.history_)
    if args.json:
        print(json.dumps(metrics, indent=2, ensure_ascii=False))
    else:
        print(format_metrics(metrics))
        if args.group_by:
            from ..training.domains import format_groups

            print(f"\nby {metrics['group_by']}:\n" + format_groups(metrics["by_group"], metrics["group_by"]))
    log(f"report written to {report}")
    return 0


def _decision_line(meta: dict, path: Path) -> str:
    """The bundle's fitted decision rule in words (``sentiment info``)."""
    from ..model.decision import DecisionRule

    if meta.get("decision") is None:
        return "the likelier class (no fitted rule)"
    labels = meta.get("labels") or []
    return DecisionRule.from_dict(meta["decision"], labels, str(path / "meta.json")).describe(labels)


def cmd_info(args: argparse.Namespace, extra: list[str]) -> int:
    from ..model.bundle import default_model_path, read_meta

    no_extra(extra, "info")
    path = Path(args.model) if args.model else default_model_path()
    meta = read_meta(path)
    if args.json:
        print(json.dumps(meta, indent=2, ensure_ascii=False))
        return 0
    card = path / "MODEL_CARD.md"
    training = meta.get("training", {})
    tok = meta.get("tokenizer", {}).get("tokenizer", {})
    lines = [
        f"model: {path}",
        f"labels: {meta.get('labels')}",
        f"vocabulary: {meta.get('vocab_size'):,} tokens",
        f"maxlen: {meta.get('maxlen')}",
        f"tokenizer: {tok.get('tagger')} (pos tags: {tok.get('with_pos')}, okt norm/stem: "
        f"{tok.get('norm')}/{tok.get('stem')})",
        f"training rows: {training.get('rows')} ({training.get('class_counts')}), "
        f"epochs: {training.get('epochs_run')}, seconds: {training.get('seconds')}",
        f"data fingerprint: {training.get('data_fingerprint', {}).get('sha256')}",
        f"metrics: {json.dumps(training.get('metrics', {}))}",
        "inference: "
        + (
            f"ONNX Runtime (model.onnx, max |p - p_keras| {meta['onnx']['max_abs_diff_vs_keras']:.1e})"
            if "onnx" in meta
            else f"Keras only (add model.onnx with `sentiment export --model {path} --in-place`)"
        ),
        "versions: " + ", ".join(f"{k} {v}" for k, v in meta.get("versions", {}).items()),
        "decision: " + _decision_line(meta, path),
        "",
        "config:",
        (path / "config.toml").read_text(encoding="utf-8"),
    ]
    by_domain = training.get("metrics", {}).get("test", {}).get("by_domain")
    if by_domain:
        from ..training.domains import format_groups

        lines[9:9] = ["test split by domain:", format_groups(by_domain, "domain")]
    if card.is_file():
        lines += ["model card:", card.read_text(encoding="utf-8")]
    print("\n".join(lines))
    return 0


def cmd_config(args: argparse.Namespace, extra: list[str]) -> int:
    cfg = load_config(args, extra)
    if args.keys and args.markdown:
        print(keys_markdown(), end="")
    elif args.keys:
        for key, default, doc in describe_keys():
            print(f"{key:32} {default:14} {doc}")
    else:
        print(cfg.to_toml())
    return 0


def cmd_prepare(args: argparse.Namespace, extra: list[str]) -> int:
    from . import stages

    cfg = load_config(args, extra)
    stages.prepare(
        args.data,
        args.run_dir,
        cfg,
        text_column=args.text_column,
        label_column=args.label_column,
        test_data=args.test_data,
        test_size=args.test_size or 0.1,
        add_train=args.add_train,
        sep=args.sep,
        encoding=args.encoding,
        sheet=args.sheet,
        force=args.force,
        log=logger(args),
    )
    return 0


def cmd_tokenize(args: argparse.Namespace, extra: list[str]) -> int:
    from . import stages

    stages.tokenize(
        args.run_dir,
        load_config(args, extra),
        workers=args.workers,
        force=args.force,
        log=logger(args),
    )
    return 0


def cmd_word2vec(args: argparse.Namespace, extra: list[str]) -> int:
    from . import stages

    stages.word2vec(args.run_dir, load_config(args, extra), force=args.force, log=logger(args))
    return 0


def cmd_pipeline(args: argparse.Namespace, extra: list[str]) -> int:
    from . import stages

    cfg = load_config(args, extra)
    stages.run_pipeline(
        args.data,
        args.run_dir,
        cfg,
        stages=args.stages or stages.STAGES,
        workers=args.workers,
        force=args.force,
        verbose=0 if args.quiet else 2,
        log=logger(args),
        text_column=args.text_column,
        label_column=args.label_column,
        test_data=args.test_data,
        test_size=args.test_size or 0.1,
        add_train=args.add_train,
        sep=args.sep,
        encoding=args.encoding,
        sheet=args.sheet,
    )
    return 0


def cmd_export(args: argparse.Namespace, extra: list[str]) -> int:
    from . import stages

    no_extra(extra, "export")
    log = logger(args)
    if bool(args.run_dir) == bool(args.model):
        raise SentimentError(
            "export: give either --run-dir RUN (a run's model, with its test metrics and a model "
            "card) or --model BUNDLE (add model.onnx to an existing bundle)"
        )
    if args.run_dir:
        if not args.out or args.in_place:
            raise SentimentError("export --run-dir RUN needs --out DIR (and takes no --in-place)")
        stages.export_model(args.run_dir, args.out, overwrite=args.overwrite, command=args.rebuild_command, log=log)
        return 0
    if bool(args.out) == bool(args.in_place):
        raise SentimentError(
            "export --model BUNDLE needs either --out NEW_DIR (a copy with model.onnx) or "
            "--in-place (add model.onnx to BUNDLE itself)"
        )
    stages.add_onnx_graph(args.model, None if args.in_place else args.out, overwrite=args.overwrite, log=log)
    return 0


def cmd_adapt(args: argparse.Namespace, extra: list[str]) -> int:
    from ..training.adaptation import adaptation_summary
    from .adapt import adapt_bundle

    log = logger(args)
    _, report = adapt_bundle(
        args.model,
        args.texts,
        args.out,
        list(args.overrides) + extra_overrides(extra),
        text_column=args.text_column,
        labeled_file=args.labeled,
        labeled_text_column=args.labeled_text_column,
        label_column=args.labeled_label_column,
        positive_label=args.positive_label,
        positive_from=args.positive_from,
        eval_file=args.eval_data,
        sep=args.sep,
        encoding=args.encoding,
        sheet=args.sheet,
        workers=args.workers,
        overwrite=args.overwrite,
        verbose=0 if args.quiet or args.json else 2 if not sys.stderr.isatty() else 1,
        log=log,
    )
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print(adaptation_summary(report))
    return 0
