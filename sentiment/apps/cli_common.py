"""What the ``sentiment`` subcommands share: logging, loading the model and the config from the arguments."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from ..config import Config
from ..errors import ConfigError, SentimentError


def log_stderr(msg: str) -> None:
    print(msg, file=sys.stderr)


def log_quiet(msg: str) -> None:
    return None


def logger(args: argparse.Namespace, *, quiet: bool = False) -> Callable[[str], None]:
    """Where a subcommand's progress lines go: stderr, or nowhere with ``-q`` (or when ``quiet``, e.g. ``--json``)."""
    return log_quiet if (quiet or args.quiet) else log_stderr


def load_classifier(args: argparse.Namespace):
    from ..classifier import SentimentClassifier

    if args.threads is not None and args.threads < 1:
        raise SentimentError(
            f"--threads {args.threads} is invalid; give a positive number of threads, or leave it "
            "out to use all available cores"
        )
    return SentimentClassifier.load(args.model, runtime=args.runtime, precision=args.precision, threads=args.threads)


def load_config(args: argparse.Namespace, extra: list[str]) -> Config:
    overrides = list(args.overrides) + extra_overrides(extra)
    cfg = Config.from_toml(args.config, overrides) if args.config else Config().with_overrides(overrides)
    files = getattr(args, "extra_texts", [])
    if files:
        cfg = cfg.with_overrides({"word2vec.extra_texts": [*cfg.word2vec.extra_texts, *map(str, files)]})
    return cfg


def extra_overrides(extra: list[str]) -> list[str]:
    """spaCy-style ``--section.key value`` / ``--section.key=value`` arguments."""
    out, i = [], 0
    while i < len(extra):
        item = extra[i]
        if not item.startswith("--") or "." not in item.split("=", 1)[0]:
            raise ConfigError(
                f"unrecognized argument {item!r}; config overrides look like --train.epochs 3 or --set train.epochs=3"
            )
        if "=" in item:
            out.append(item[2:])
            i += 1
        elif i + 1 < len(extra):
            out.append(f"{item[2:]}={extra[i + 1]}")
            i += 2
        else:
            raise ConfigError(f"override {item} needs a value, e.g. {item} 3")
    return out


def no_extra(extra: list[str], command: str) -> None:
    if extra:
        raise SentimentError(f"unrecognized argument(s) for '{command}': {' '.join(extra)}")
