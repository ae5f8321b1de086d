"""On-disk cache of distillation teachers, so a rerun of the train stage reuses them.

Each teacher is stored as ``teacher-N.npz`` (``teacher-ngram.npz`` for the
n-gram teacher): its probabilities on the transfer set and the validation
rows, its report and, for LSTM teachers, its weights, next to a key: a digest
of everything the teacher depends on (its effective config, the library
versions and the data it saw). A file whose key differs is
retrained and overwritten; files are written whole (temporary file, then
rename), so an interrupted run never leaves a half-written teacher behind.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

Teacher = tuple[np.ndarray, np.ndarray, dict[str, Any], list[np.ndarray] | None]


def digest_arrays(arrays: Iterable[np.ndarray], sha: Any = None) -> Any:
    """Feed the lengths and bytes of ``arrays`` to a sha256 (returned for chaining)."""
    sha = sha or hashlib.sha256()
    arrays = [np.ascontiguousarray(a) for a in arrays]
    sha.update(np.array([len(a) for a in arrays], dtype=np.int64).tobytes())
    for a in arrays:
        sha.update(str(a.dtype).encode())
        sha.update(a.tobytes())
    return sha


def digest_texts(texts: Iterable[Sequence[str] | str], sha: Any = None) -> Any:
    """Feed texts (or token lists) to a sha256, separated so that boundaries count."""
    sha = sha or hashlib.sha256()
    for text in texts:
        sha.update(("\x1f".join(text) if not isinstance(text, str) else text).encode("utf-8"))
        sha.update(b"\x1e")
    return sha


def teacher_key(kind: str, settings: dict[str, Any], data: str) -> str:
    """The cache key of one teacher: its kind, settings, library versions and data digest."""
    from ..model.bundle import package_versions

    blob = json.dumps(
        {"kind": kind, "settings": settings, "versions": package_versions(), "data": data}, sort_keys=True, default=str
    )
    return hashlib.sha256(blob.encode()).hexdigest()


class TeacherCache:
    """Teachers stored under ``directory`` (created on first save)."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def _path(self, name: int | str) -> Path:
        return self.directory / f"teacher-{name}.npz"

    def load(self, index: int | str, key: str) -> Teacher | None:
        """Teacher ``index`` when it was stored under ``key``; None when missing, stale or unreadable."""
        path = self._path(index)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["key"]) != key:
                    return None
                report = json.loads(str(data["report"]))
                n_weights = int(data["n_weights"])
                weights = [data[f"weight_{i}"] for i in range(n_weights)] if n_weights >= 0 else None
                return data["transfer"], data["valid"], report, weights
        except (OSError, KeyError, ValueError):
            return None

    def save(self, index: int | str, key: str, teacher: Teacher) -> Path:
        """Store teacher ``index`` under ``key`` atomically."""
        transfer, valid, report, weights = teacher
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._path(index)
        tmp = path.with_name(f".{path.name}.tmp.npz")
        arrays = {f"weight_{i}": w for i, w in enumerate(weights or [])}
        np.savez(
            tmp,
            key=np.array(key),
            report=np.array(json.dumps(report)),
            transfer=transfer,
            valid=valid,
            n_weights=np.array(-1 if weights is None else len(weights)),
            **arrays,
        )
        os.replace(tmp, path)
        return path
