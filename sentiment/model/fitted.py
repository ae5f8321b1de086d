"""What analyses and recipes need of a fitted classifier: a Protocol the estimator satisfies, so that the lower
layers describe it without importing it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from ..config import Config
from ..text.tokenizers import Tokenizer
from ..text.vocab import Vocabulary


class FittedClassifier(Protocol):
    """A fitted :class:`~sentiment.SentimentClassifier` as seen from below it."""

    config_: Config
    classes_: np.ndarray
    vocabulary_: Vocabulary
    tokenizer_: Tokenizer

    def predict_proba(self, X: Any) -> np.ndarray: ...

    def predict_ids(self, ids: Sequence[np.ndarray]) -> np.ndarray: ...

    def decide(self, proba: np.ndarray, threshold: float | None = None) -> np.ndarray:
        """Labels for probabilities, by the bundle's decision rule (:mod:`sentiment.model.decision`)."""
        ...
