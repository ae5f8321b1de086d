"""scikit-learn's estimator interface without importing scikit-learn when the package is imported.

Importing ``sklearn.base`` costs about as much as the rest of loading the
model and scoring a comment with ONNX Runtime together (it pulls in SciPy and
pandas), so :class:`EstimatorAPI` implements the contract by duck typing:
``get_params``/``set_params`` from ``__init__``'s signature (what ``clone``,
``GridSearchCV`` and ``Pipeline`` use), ``score`` (accuracy), the classifier
tags and the parameter ``repr``; scikit-learn is imported only inside them.
"""

from __future__ import annotations

import inspect
from typing import Any


class EstimatorAPI:
    """Base class of a scikit-learn classifier whose hyperparameters are ``__init__``'s keyword arguments."""

    _estimator_type = "classifier"

    @classmethod
    def _get_param_names(cls) -> list[str]:
        params = inspect.signature(cls.__init__).parameters.values()
        return sorted(p.name for p in params if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL))

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The hyperparameters as passed to ``__init__`` (scikit-learn's ``BaseEstimator.get_params``)."""
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params: Any) -> EstimatorAPI:
        """Set hyperparameters; an unknown name raises ``ValueError`` listing the valid ones."""
        valid = self._get_param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"Invalid parameter {name!r} for estimator {type(self).__name__}. Valid parameters are: {valid!r}."
                )
            setattr(self, name, value)
        return self

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy of ``predict(X)`` against ``y`` (scikit-learn's ``ClassifierMixin.score``)."""
        from sklearn.metrics import accuracy_score

        return float(accuracy_score(y, self.predict(X), sample_weight=sample_weight))  # type: ignore[attr-defined]

    def __sklearn_tags__(self):
        from sklearn.base import BaseEstimator
        from sklearn.utils import ClassifierTags

        tags = BaseEstimator.__sklearn_tags__(self)
        tags.estimator_type = "classifier"
        tags.classifier_tags = ClassifierTags()
        tags.target_tags.required = True
        return tags

    def __repr__(self) -> str:
        changed = {name: value for name, value in self.get_params().items() if value is not _default(type(self), name)}
        args = ", ".join(f"{name}={value!r}" for name, value in changed.items())
        return f"{type(self).__name__}({args})"


def _default(cls: type, name: str) -> Any:
    return inspect.signature(cls).parameters[name].default
