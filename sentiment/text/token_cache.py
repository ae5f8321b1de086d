"""A token cache: retraining or re-evaluating with the same tokenizer settings skips re-tokenizing.

Token lists are stored per (tokenizer spec, list of texts) as a Parquet file under the cache directory
(``$SENTIMENT_CACHE_DIR``, else ``~/.cache/sentiment``): one file per data set, written atomically,
holding plain strings only.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from .tokenizers import Tokenizer, join_tokens, split_tokens

CACHE_VERSION = 1


def cache_dir() -> Path:
    return Path(os.environ.get("SENTIMENT_CACHE_DIR") or Path.home() / ".cache" / "sentiment") / "tokens"


def cache_key(tokenizer: Tokenizer, texts: Sequence[str]) -> str:
    digest = hashlib.sha256(json.dumps({"v": CACHE_VERSION, "spec": tokenizer.spec}, sort_keys=True).encode())
    for text in texts:
        digest.update(text.encode("utf-8", "surrogatepass"))
        digest.update(b"\x1e")
    return digest.hexdigest()


def cached_tokenize(
    tokenizer: Tokenizer,
    texts: Sequence[str],
    workers: int = 1,
    directory: Path | None = None,
    show_progress: bool | None = False,
) -> tuple[list[list[str]], bool]:
    """Token lists for ``texts`` and whether they came from the cache."""
    directory = directory or cache_dir()
    path = directory / f"{cache_key(tokenizer, texts)}.parquet"
    if path.is_file():
        try:
            frame = pd.read_parquet(path)
            if len(frame) == len(texts):
                return [split_tokens(t) for t in frame["tokens"].tolist()], True
        except (OSError, ValueError, KeyError):
            pass  # unreadable cache entry: tokenize again and replace it
    tokens = tokenizer.tokenize_many(list(texts), workers=workers, show_progress=show_progress)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        pd.DataFrame({"tokens": [join_tokens(t) for t in tokens]}).to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home must not stop training
    return tokens, False


def tokenize_with_cache(
    tokenizer: Tokenizer,
    texts: Sequence[str],
    what: str,
    *,
    workers: int = 1,
    use_cache: bool = True,
    show_progress: bool | None = None,
    log: Callable[[str], None] = lambda msg: None,
) -> list[list[str]]:
    """Token lists through the cache (or straight from the tokenizer), logging a cache hit as ``what``."""
    if not use_cache:
        return tokenizer.tokenize_many(list(texts), workers=workers, show_progress=show_progress)
    tokens, hit = cached_tokenize(tokenizer, texts, workers=workers, show_progress=show_progress)
    if hit:
        log(f"{what}: tokens from the cache ({len(texts):,} texts)")
    return tokens
