"""Fixed-length padding/truncation and length-bucketed batches."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .vocab import PAD_ID


def truncate(ids: np.ndarray, maxlen: int, truncating: str) -> np.ndarray:
    """Cut to ``maxlen`` ids, dropping from the start ('pre') or the end ('post')."""
    if len(ids) <= maxlen:
        return ids
    return ids[-maxlen:] if truncating == "pre" else ids[:maxlen]


def pad(
    sequences: Sequence[np.ndarray],
    maxlen: int,
    padding: str = "post",
    truncating: str = "pre",
    length: int | None = None,
) -> np.ndarray:
    """Pad/truncate to a ``(n, length)`` int32 array; ``length`` defaults to ``maxlen``.

    Sequences are first truncated to ``maxlen``; ``length`` (at least the longest
    remaining sequence) lets a batch be padded only as far as it needs.
    """
    cut = [truncate(np.asarray(s, dtype=np.int32), maxlen, truncating) for s in sequences]
    width = maxlen if length is None else length
    if cut and width < max(len(s) for s in cut):
        raise ValueError(f"length {width} is shorter than the longest sequence")
    out = np.full((len(cut), width), PAD_ID, dtype=np.int32)
    for i, s in enumerate(cut):
        if len(s):
            if padding == "post":
                out[i, : len(s)] = s
            else:
                out[i, width - len(s) :] = s
    return out


def batch_width(lengths: np.ndarray, maxlen: int, multiple: int = 8) -> int:
    """Padded width for a batch: its longest sequence rounded up to ``multiple``, at most ``maxlen``."""
    longest = int(min(max(int(lengths.max()), 1), maxlen))
    return min(maxlen, -(-longest // multiple) * multiple)


def length_sorted_batches(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Index batches of similar lengths (stable sort), for scoring."""
    order = np.argsort(lengths, kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


BUCKET_WINDOW = 50  # batches per sorting window


def count_batches(n: int, batch_size: int, windowed: bool) -> int:
    """How many batches :func:`bucketed_batches` (windowed) or plain batching yields for ``n`` rows."""
    if not windowed:
        return -(-n // batch_size)
    window = batch_size * BUCKET_WINDOW
    full, rest = divmod(n, window)
    return full * BUCKET_WINDOW + -(-rest // batch_size)


def bucketed_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled training batches of similar lengths.

    Rows are shuffled, sorted by length within windows of 50 batches, cut into
    batches, and the batch order is shuffled: nearly as random as plain
    shuffling, with far less padding.
    """
    perm = rng.permutation(len(lengths))
    window = batch_size * BUCKET_WINDOW
    batches: list[np.ndarray] = []
    for start in range(0, len(perm), window):
        part = perm[start : start + window]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    rng.shuffle(batches)
    return batches
