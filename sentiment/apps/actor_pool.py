"""Blocks of rows from this process to a pool of Ray actors, without Ray Data: ``score_path``'s loop on one node.

On one machine, Ray Data's orchestration was most of what ``--engine ray`` paid beyond the single-process
engine. Per-process CPU of one 640,000-comment run on the 2-core development machine: the two actors 66.8 CPU s
(the whole single-process run: 67), and around them a worker process for the read task (3.1), three actors of
Ray Data's own (statistics, autoscaling coordinator, actor locations: 3.4, each a worker process started while
the job starts, on the cores that score), the driver with Ray Data's executor loop (5.5): 84 CPU s in all,
78 with this pool. Here this process reads, as the single-process engine does, on a thread, and hands each
block to the least busy actor, at most ``IN_FLIGHT`` at a time each, so that no actor waits for its next block;
what each call returns (a block's counts) comes back here. Across machines Ray Data reads the files where the
actors run: ``score_path`` uses it there.

An actor whose worker dies is replaced and the calls it held are given to the actors again, so a call must be
safe to repeat: ``BatchScorer`` writes its part under the name of its first row. The pool replaces actors
itself rather than through Ray's ``max_restarts``: Ray restarts an actor from its constructor arguments and
warns on the terminal when one of them is in the object store (the shared int8 graph is). The loop wakes at
least every ``POLL_SECONDS``, so an exception raised in its thread from another one (``StallWatchdog``) lands
promptly.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

IN_FLIGHT = 2  # calls queued on an actor at once: one running, the next one already there
POLL_SECONDS = 0.5
RESTARTS_PER_ACTOR = 3  # actor replacements a job may need, per actor, before it fails


class _End:
    """The reader's last item: its input ended (``error`` None) or raised ``error``."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


class _Reader:
    """Runs the ``items`` iterator on a thread into a bounded queue: reading overlaps the dispatch, and a read
    that blocks (a stalled remote file) never blocks the job's thread."""

    def __init__(self, items: Iterable[Any], size: int) -> None:
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, size))
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(items,), name="sentiment-ray-reader", daemon=True)
        self.thread.start()

    def _run(self, items: Iterable[Any]) -> None:
        try:
            for item in items:
                if not self._put(item):
                    return
        except BaseException as exc:  # handed to the job's thread, which raises it
            self._put(_End(exc))
            return
        self._put(_End())

    def _put(self, item: Any) -> bool:
        while not self.stopped.is_set():
            try:
                self.queue.put(item, timeout=POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def get(self) -> Any:
        """The next item, or None when none came within ``POLL_SECONDS``."""
        try:
            return self.queue.get(timeout=POLL_SECONDS)
        except queue.Empty:
            return None

    def stop(self) -> None:
        self.stopped.set()


def map_on_actors(
    ray: Any,
    items: Iterable[Any],
    actor_class: type,
    kwargs: dict[str, Any],
    concurrency: int,
) -> Iterator[Any]:
    """``actor(item)`` for every item of ``items`` on ``concurrency`` actors of
    ``actor_class(**kwargs)`` (one CPU each), yielding the results as they come (not in input order).

    ``actor_class`` must have a ``ready()`` method: an actor gets items once it answers it, so actors that
    cannot start (more than the cluster's CPUs) hold none back. ``items`` is iterated on a thread of its own.
    An actor whose process dies is replaced and the items it held are given out again, up to
    ``RESTARTS_PER_ACTOR`` times the actors in all. Raised here: an item's exception, a constructor's, the
    items iterator's, an actor death past that budget. The actors are killed when the iteration ends, however
    it ends."""
    from ray.exceptions import RayActorError

    remote = ray.remote(num_cpus=1)(actor_class)
    actors: list[Any] = [None] * concurrency
    starting: dict[Any, int] = {}  # ready() call -> actor index
    load: dict[int, int] = {}  # actor index (answered ready) -> calls in flight
    running: dict[Any, tuple[int, Any, Any]] = {}  # call -> (actor index, its actor, its item)
    again: deque[Any] = deque()  # items of dead actors, given out before new ones
    restarts = RESTARTS_PER_ACTOR * concurrency

    def start(index: int) -> None:
        actors[index] = remote.remote(**kwargs)
        starting[actors[index].ready.remote()] = index

    def replace(index: int, death: BaseException) -> None:
        """A new actor in place of the dead one at ``index``, while the job's budget lasts."""
        nonlocal restarts
        if restarts == 0:
            raise death
        restarts -= 1
        load.pop(index, None)
        start(index)

    for index in range(concurrency):
        start(index)
    reader = _Reader(items, size=concurrency * IN_FLIGHT)
    ended = False
    try:
        while not ended or running or again:
            free = min((i for i in load if load[i] < IN_FLIGHT), key=load.__getitem__, default=None)
            if free is not None and (again or not ended):
                item = again.popleft() if again else reader.get()  # None: reading is behind
                if isinstance(item, _End):
                    if item.error is not None:
                        raise item.error
                    ended = True
                elif item is not None:
                    running[actors[free].__call__.remote(item)] = (free, actors[free], item)
                    load[free] += 1
                    continue
            waiting = [*starting, *running]
            if not waiting:
                continue
            idle = free is not None and not ended  # an actor waits for a block: do not sit in ray.wait
            done, _ = ray.wait(waiting, num_returns=1, timeout=0 if idle else POLL_SECONDS)
            for ref in done:
                if ref in starting:
                    index = starting.pop(ref)
                    try:
                        ray.get(ref)
                    except RayActorError as exc:
                        if exc.actor_init_failed:
                            raise
                        replace(index, exc)  # its process died while it started
                        continue
                    load[index] = 0
                    continue
                index, actor, item = running.pop(ref)
                try:
                    result = ray.get(ref)
                except RayActorError as exc:
                    if exc.actor_init_failed:
                        raise
                    again.append(item)
                    if actors[index] is actor:  # the first of its calls to say so
                        replace(index, exc)
                    continue
                load[index] -= 1
                yield result
    finally:
        reader.stop()
        for actor in actors:
            ray.kill(actor)
