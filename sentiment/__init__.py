"""Korean comment sentiment: KoNLPy tokens → Word2Vec → padded sequences → (Bi)LSTM.

``from sentiment import SentimentClassifier`` is the app-facing API; the
``sentiment`` command (``python -m sentiment``) exposes scoring, training,
evaluation and the pipeline stages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .versions import __version__

__all__ = [
    "Config",
    "SentimentClassifier",
    "SentimentError",
    "__version__",
    "audit_labels",
    "create_app",
    "score_dataset",
    "score_file",
]

# The package face: name -> module that holds it, imported on first use so that `import sentiment` and the
# CLI's --help stay fast (docs/architecture.md lists where everything lives).
_FACE = {
    "SentimentClassifier": "sentiment.classifier",
    "audit_labels": "sentiment.classifier",
    "Config": "sentiment.config",
    "SentimentError": "sentiment.errors",
    "score_file": "sentiment.apps.scoring",
    "score_dataset": "sentiment.apps.distributed",
    "create_app": "sentiment.apps.serving",
}

if TYPE_CHECKING:
    from .apps.distributed import score_dataset
    from .apps.scoring import score_file
    from .apps.serving import create_app
    from .classifier import SentimentClassifier, audit_labels
    from .config import Config
    from .errors import SentimentError


def __getattr__(name: str) -> Any:
    """Import lazily (see ``_FACE``)."""
    if name in _FACE:
        from importlib import import_module

        return getattr(import_module(_FACE[name]), name)
    raise AttributeError(f"module 'sentiment' has no attribute {name!r}")
