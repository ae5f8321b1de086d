"""Checks of the texts and labels handed to the API, and the fingerprint that identifies training data."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ..errors import DataError


def check_texts(texts: Iterable[Any]) -> list[str]:
    """A list of str; anything else is refused with the position of the first bad value."""
    if isinstance(texts, str):
        raise DataError("expected a list of texts, got a single string; wrap it in a list: [text]")
    out = list(texts)
    for i, text in enumerate(out):
        if not isinstance(text, str):
            raise DataError(
                f"text #{i} is {text!r} ({type(text).__name__}), not a string; convert or drop missing values first"
            )
    return out


def check_labels(labels: Iterable[Any], n: int) -> np.ndarray:
    """Labels as an array; missing labels are refused."""
    arr = np.asarray(list(labels))
    if len(arr) != n:
        raise DataError(f"{n} texts but {len(arr)} labels")
    for i, value in enumerate(arr.tolist()):
        if value is None or (isinstance(value, float) and np.isnan(value)):
            raise DataError(f"label #{i} is missing; drop rows without a label first")
    if arr.dtype.kind == "f" and np.all(arr == np.round(arr)):
        arr = arr.astype(np.int64)
    return arr


def data_fingerprint(texts: Sequence[str], labels: np.ndarray) -> dict[str, Any]:
    """sha256 over texts and labels, with row count: identifies the training data."""
    digest = hashlib.sha256()
    for text, label in zip(texts, labels.tolist()):
        digest.update(text.encode("utf-8", "surrogatepass"))
        digest.update(b"\x1f")
        digest.update(str(label).encode("utf-8"))
        digest.update(b"\x1e")
    return {"sha256": digest.hexdigest(), "rows": len(texts)}
