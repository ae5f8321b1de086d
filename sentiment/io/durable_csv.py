"""A CSV file rewritten whole, durably, many times (the labeling page's LABELS): cells, the write, leftovers.

Each write goes to a temporary file in the same folder, is fsynced, renamed over the file (atomic on POSIX and
Windows) and the folder is fsynced, so after a crash, ``kill -9`` or power cut the file holds either the old or
the new content, never a mix, and a write that returned is on disk.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from .writers import atomic_target


def csv_cell(value: str) -> str:
    """One CSV field as the csv module writes it (quoted when it holds a comma, a quote or a line break)."""
    if any(ch in value for ch in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def csv_text(columns: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A whole CSV file (``\\n`` line ends, UTF-8 when encoded) from string cells."""
    lines = [",".join(csv_cell(str(c)) for c in columns)]
    lines += [",".join(csv_cell(v) for v in row) for row in rows]
    return "\n".join(lines) + "\n"


def write_durably(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: temporary file in the same folder, fsync, rename, fsync of the folder."""
    tmp = atomic_target(path)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def remove_stale_temporaries(path: Path) -> None:
    """Temporary files a killed writer left beside ``path`` (call while holding its lock)."""
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        tmp.unlink(missing_ok=True)


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # folders cannot be opened on some systems (Windows): the rename is as durable as it gets
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
