"""Opt-in tree ensembles (``zoo="full"``): random forest, extra trees, histogram boosting.

Their fitted state is a scikit-learn object, stored pickled inside the artefact; an artefact
is only ever unpickled after its HMAC signature has verified (see ``serialize.py``).
"""

from __future__ import annotations

import pickle
from typing import Any, ClassVar

import numpy as np
from sklearn.ensemble import (
    ExtraTreesClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)

from .base import Arrays, Surrogate


class _SklearnTrees(Surrogate):
    needs_pickle = True
    model_: Any

    def _make(self) -> Any:
        raise NotImplementedError

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        self.model_ = self._make().fit(X, y)

    def _proba(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.model_.predict_proba(X), dtype=np.float32)

    def _arrays(self) -> Arrays:
        return {"pickle": np.frombuffer(pickle.dumps(self.model_), dtype=np.uint8)}

    def _load(self, arrays: Arrays) -> None:
        # only reached from Artefact.from_bytes after the signature verified
        self.model_ = pickle.loads(np.asarray(arrays["pickle"], dtype=np.uint8).tobytes())


class RandomForest(_SklearnTrees):
    """scikit-learn random forest (``n_estimators`` trees, sqrt features per split)."""

    kind = "random_forest"
    unit_test_params: ClassVar[dict[str, Any]] = {"n_estimators": 10}

    def __init__(self, seed: int = 0, n_estimators: int = 100) -> None:
        super().__init__(seed=seed, n_estimators=n_estimators)

    def _make(self) -> Any:
        return RandomForestClassifier(n_estimators=int(self.params["n_estimators"]),
                                      random_state=self.seed, n_jobs=-1)


class ExtraTrees(_SklearnTrees):
    """scikit-learn extremely randomised trees."""

    kind = "extra_trees"
    unit_test_params: ClassVar[dict[str, Any]] = {"n_estimators": 10}

    def __init__(self, seed: int = 0, n_estimators: int = 100) -> None:
        super().__init__(seed=seed, n_estimators=n_estimators)

    def _make(self) -> Any:
        return ExtraTreesClassifier(n_estimators=int(self.params["n_estimators"]),
                                    random_state=self.seed, n_jobs=-1)


class HistGradientBoosting(_SklearnTrees):
    """scikit-learn histogram gradient boosting (one tree per class per iteration, so few
    iterations: 77 labels × 10 iterations is already 770 trees)."""

    kind = "hist_gradient_boosting"
    unit_test_params: ClassVar[dict[str, Any]] = {"max_iter": 5}

    def __init__(self, seed: int = 0, max_iter: int = 10, max_leaf_nodes: int = 15,
                 learning_rate: float = 0.3) -> None:
        super().__init__(seed=seed, max_iter=max_iter, max_leaf_nodes=max_leaf_nodes,
                         learning_rate=learning_rate)

    def _make(self) -> Any:
        return HistGradientBoostingClassifier(
            max_iter=int(self.params["max_iter"]),
            max_leaf_nodes=int(self.params["max_leaf_nodes"]),
            learning_rate=float(self.params["learning_rate"]), early_stopping=False,
            random_state=self.seed)
