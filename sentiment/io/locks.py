"""One writer per output: an exclusive lock held for the whole life of a run.

A run that writes an output file (``score``) or a model directory (``train``,
``export``) first takes ``fcntl.flock`` on a lock file beside it,
``.NAME.lock`` in the same folder, and keeps it until it ends. A second run on
the same target fails at once with :class:`LockedError`, naming the process that
holds it (pid, host, command and start time, which the holder writes into the
lock file), and touches none of the first run's files (its parts folder, its
temporary files).

The lock belongs to the open file, so it dies with its process: a run killed
with ``kill -9`` leaves a stale ``.NAME.lock`` file that locks nothing, and the
next run (``--resume`` or a new one) takes it over. A clean exit removes the
file while still holding the lock. The unlink race (a second run opens the file
just before the first one removes it, then locks the removed file) is closed by
checking, after locking, that the path still names the locked file, and retrying
otherwise.

Limits: ``flock`` is advisory (only cooperating runs are kept out), may not work
across hosts on some network file systems (NFS before Linux 2.6.12, some SMB
mounts), and the descriptor is not inherited across ``exec`` (the tokenizer's
worker processes are spawned, so they never hold it). Within one process a
second lock on the same target also fails: one writer per target, whoever it is.
"""

from __future__ import annotations

import fcntl
import functools
import inspect
import json
import os
import shlex
import socket
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from ..errors import DataError, SentimentError

F = TypeVar("F", bound=Callable[..., Any])


class LockedError(SentimentError):
    """Another run is writing the same output file or model directory."""


def lock_path(target: str | Path) -> Path:
    """The lock file of ``target``: ``.NAME.lock`` in the same folder."""
    target = Path(target)
    return target.parent / f".{target.name}.lock"


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        return f"pid {info['pid']} on {info['host']}, started {info['started']}: {info['command'][:200]}"
    except (OSError, ValueError, KeyError, TypeError):
        return "a process that has not written its details yet"


def _open_locked(path: Path, target: Path, what: str) -> int:
    """Open and lock ``path``; a descriptor whose lock covers the file now at ``path``."""
    for _ in range(100):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except FileNotFoundError:
            raise DataError(f"{what} folder {target.parent} does not exist") from None
        except OSError as exc:
            raise LockedError(
                f"cannot create the lock file {path} for {what} {target} ({exc.strerror}); "
                f"check that the folder is writable"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LockedError(
                f"{what} {target} is being written by another run ({_holder(path)}); wait for it "
                f"to finish or write elsewhere. Nothing was changed. (lock file: {path})"
            ) from None
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # the holder removed the file between our open and our lock: lock the new one
    raise LockedError(f"cannot lock {what} {target}: {path} keeps being replaced")


@contextmanager
def exclusive_lock(target: str | Path, what: str = "output", create_folder: bool = False) -> Iterator[Path]:
    """Hold the lock of ``target`` (an output file or a model directory) for the ``with`` block.

    ``what`` names the target in the error (``"output"``, ``"model directory"``); ``create_folder``
    creates the folder that holds ``target`` (else a missing one is a :class:`DataError`).
    Raises :class:`LockedError` at once if another run holds it.
    """
    target = Path(target)
    if create_folder:
        target.parent.mkdir(parents=True, exist_ok=True)
    path = lock_path(target)
    fd = _open_locked(path, target, what)
    try:
        details = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "command": shlex.join(sys.orig_argv),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(details).encode("utf-8"), 0)
        yield path
    finally:
        try:  # remove the file while we still hold the lock, and only if it is still ours
            if os.path.samestat(os.fstat(fd), os.stat(path)):
                os.unlink(path)
        except OSError:
            pass
        os.close(fd)


def locked(param: str, what: str, create_folder: bool = False) -> Callable[[F], F]:
    """Decorator: run the function holding :func:`exclusive_lock` on its argument ``param`` (``-``: no lock)."""

    def decorate(func: F) -> F:
        signature = inspect.signature(func)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            target = signature.bind(*args, **kwargs).arguments[param]
            if str(target) == "-":
                return func(*args, **kwargs)
            with exclusive_lock(target, what, create_folder):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
