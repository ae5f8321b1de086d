"""Korean comment sentiment: KoNLPy tokens → Word2Vec → padded sequences → (Bi)LSTM.

``from sentiment import SentimentClassifier`` is the app-facing API; the
``sentiment`` command (``python -m sentiment``) exposes scoring, training,
evaluation and the pipeline stages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Config", "SentimentClassifier", "SentimentError", "__version__", "audit_labels"]

if TYPE_CHECKING:
    from .classifier import SentimentClassifier, audit_labels
    from .config import Config
    from .errors import SentimentError


def __getattr__(name: str) -> Any:
    """Import lazily so that ``import sentiment`` and the CLI's --help stay fast."""
    if name == "SentimentClassifier":
        from .classifier import SentimentClassifier

        return SentimentClassifier
    if name == "audit_labels":
        from .classifier import audit_labels

        return audit_labels
    if name == "Config":
        from .config import Config

        return Config
    if name == "SentimentError":
        from .errors import SentimentError

        return SentimentError
    raise AttributeError(f"module 'sentiment' has no attribute {name!r}")
