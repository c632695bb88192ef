"""The surrogate contract every zoo member implements.

Labels are integers (indices into the artefact's label list). A member only knows the labels it
was trained on: ``classes_`` lists them in column order of :meth:`Surrogate.predict_proba`, and
:func:`full_proba` scatters those columns into the full label space, so a member trained on a
subset (a cross-fitting fold, RSB's residual traffic) can never predict a label it has not seen.
State is numeric: :meth:`Surrogate.get_state` returns JSON-able parameters and named arrays.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Self

import numpy as np

from ...errors import LearnError

Arrays = dict[str, np.ndarray]


class Surrogate(ABC):
    """A probabilistic classifier over integer labels with a numeric state (no pickle).

    Subclasses set ``kind`` and implement ``_fit``, ``_proba``, ``_arrays`` and ``_load``.
    """

    kind: ClassVar[str]
    #: cheap parameters for the contract tests (as river's ``_unit_test_params``)
    unit_test_params: ClassVar[dict[str, Any]] = {}

    def __init__(self, seed: int = 0, **params: Any) -> None:
        self.seed = seed
        self.params = params
        self.classes_ = np.zeros(0, dtype=np.int64)

    @property
    def name(self) -> str:
        """Kind plus parameters, e.g. ``logreg(C=10)``."""
        args = ",".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        return f"{self.kind}({args})"

    def fit(self, X: np.ndarray, y: np.ndarray) -> Self:
        """Fit on float32 rows ``X`` and integer labels ``y``."""
        y = np.asarray(y, dtype=np.int64)
        if X.ndim != 2 or len(X) != len(y) or len(y) == 0:
            raise LearnError("fit needs a non-empty 2-D X with one label per row",
                             shape=X.shape, n_labels=len(y))
        self.classes_, y_local = np.unique(y, return_inverse=True)
        if len(self.classes_) > 1:
            self._fit(np.ascontiguousarray(X, dtype=np.float32), y_local)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probabilities, one column per entry of ``classes_``."""
        X = np.ascontiguousarray(X, dtype=np.float32)
        if len(self.classes_) == 1:
            return np.ones((len(X), 1), dtype=np.float32)
        return self._proba(X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Most probable label per row (global integer ids)."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def get_state(self) -> tuple[dict[str, Any], Arrays]:
        """(JSON-able description, named numeric arrays) from which :func:`load` rebuilds it."""
        meta = {"kind": self.kind, "seed": self.seed, "params": self.params}
        arrays = {"classes": self.classes_, **(self._arrays() if len(self.classes_) > 1 else {})}
        return meta, arrays

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: Arrays) -> Self:
        model = cls(seed=int(meta["seed"]), **meta["params"])
        model.classes_ = np.asarray(arrays["classes"], dtype=np.int64)
        if len(model.classes_) > 1:
            model._load(arrays)
        return model

    @abstractmethod
    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        """Fit on local labels 0..len(classes_)-1 (at least two classes)."""

    @abstractmethod
    def _proba(self, X: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def _arrays(self) -> Arrays: ...

    @abstractmethod
    def _load(self, arrays: Arrays) -> None: ...


def full_proba(model: Surrogate, X: np.ndarray, n_labels: int) -> np.ndarray:
    """``model``'s probabilities scattered into all ``n_labels`` columns (unseen labels get 0)."""
    local = model.predict_proba(X)
    out = np.zeros((len(local), n_labels), dtype=np.float32)
    out[:, model.classes_] = local
    return out


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax, in place on a float array."""
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z
