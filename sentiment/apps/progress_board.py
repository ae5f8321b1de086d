"""The progress board of a Ray job: counters its stages add to, in an actor process that imports nothing heavy."""

from __future__ import annotations

from typing import Any


class ProgressBoard:
    """Counters the stages of a job add to (rows read, actors ready, rows scored, rows written), polled by
    ``sentiment.apps.distributed.StallWatchdog``. Run as a Ray actor with ``num_cpus=0``, so it starts whatever
    the scoring actors hold. Its module imports nothing but the standard library: the board's worker process
    starts while the scoring actors load their model, on the same cores."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + int(n)

    def snapshot(self) -> dict[str, int]:
        return dict(self.counts)


def report(board: Any, key: str, n: int = 1) -> None:
    """Add ``n`` to ``key`` on ``board`` (an actor handle of :class:`ProgressBoard`, or None: no board)."""
    if board is not None:
        board.add.remote(key, n)  # fire and forget: progress reports never wait
