"""Opt-in tree ensembles (``zoo="full"``): random forest, extra trees, histogram boosting.

scikit-learn fits them; the fitted trees are then kept as plain arrays (children, split feature,
threshold, leaf values) and predicted by :class:`TreeArrays` here, so an artefact holds numbers
only, loading it can never run code (no pickle) and needs no scikit-learn. Splits follow
scikit-learn exactly: a row goes left when its feature value (as float64) is ``<=`` the
threshold, so the probabilities equal ``predict_proba`` of the fitted estimator
(``tests/unit/learn/test_trees.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ...errors import LearnError
from ...extras import needs_extra
from .base import Arrays, Surrogate, softmax

_LEAF = -1
_FIELDS = ("left", "right", "feature", "threshold", "roots", "leaf_index")


def _ensemble() -> Any:
    """scikit-learn's ensembles, imported only to fit: a loaded artefact predicts in numpy."""
    with needs_extra("trainer", "fitting the tree ensembles"):
        from sklearn import ensemble
    return ensemble


@dataclass(frozen=True)
class TreeArrays:
    """Many binary trees in one node table. Node ``i`` is a leaf when ``left[i] == -1``; then
    ``leaf_index[i]`` points into the caller's leaf values. ``roots[t]`` is tree ``t``'s root."""

    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    roots: np.ndarray
    leaf_index: np.ndarray

    @classmethod
    def concat(cls, trees: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]
               ) -> TreeArrays:
        """From per-tree ``(left, right, feature, threshold)`` with tree-local child indices
        and ``-1`` for a leaf's children."""
        parts: dict[str, list[np.ndarray]] = {f: [] for f in _FIELDS}
        offset = leaves = 0
        for left, right, feature, threshold in trees:
            leaf = left < 0
            parts["left"].append(np.where(leaf, _LEAF, left + offset))
            parts["right"].append(np.where(leaf, _LEAF, right + offset))
            parts["feature"].append(np.where(leaf, 0, feature))
            parts["threshold"].append(np.asarray(threshold, dtype=np.float64))
            parts["leaf_index"].append(np.where(leaf, np.cumsum(leaf) - 1 + leaves, _LEAF))
            parts["roots"].append(np.array([offset]))
            offset += len(left)
            leaves += int(leaf.sum())
        cat = {f: np.concatenate(v) for f, v in parts.items()}
        return cls(**{f: cat[f].astype(np.float64 if f == "threshold" else np.int32)
                      for f in _FIELDS})

    def leaves(self, X: np.ndarray) -> np.ndarray:
        """``(rows, trees)`` leaf-value indices reached by every row in every tree."""
        node = np.broadcast_to(self.roots, (len(X), len(self.roots))).copy()
        rows = np.arange(len(X))[:, None]
        while True:
            inner = self.left[node] != _LEAF
            if not inner.any():
                return self.leaf_index[node]
            go_left = X[rows, self.feature[node]].astype(np.float64) <= self.threshold[node]
            node = np.where(inner, np.where(go_left, self.left[node], self.right[node]), node)

    def arrays(self) -> Arrays:
        return {f"tree_{f}": getattr(self, f) for f in _FIELDS}

    @classmethod
    def from_arrays(cls, arrays: Arrays) -> TreeArrays:
        tables = cls(**{f: np.asarray(arrays[f"tree_{f}"]) for f in _FIELDS})
        tables._check()
        return tables

    def _check(self) -> None:
        """Refuse tables whose indices leave their arrays or point backwards (a malformed
        artefact): children come after their parent, so every walk ends within ``n`` steps."""
        n = len(self.left)
        same = all(len(a) == n for a in (self.right, self.feature, self.threshold,
                                          self.leaf_index))
        node = np.arange(n)
        inner = self.left != _LEAF
        inside = same and all(bool(((c[inner] > node[inner]) & (c[inner] < n)).all())
                              for c in (self.left, self.right))
        if not (inside and bool(((self.roots >= 0) & (self.roots < n)).all())
                and bool((self.feature >= 0).all())):
            raise LearnError("tree arrays of the artefact are inconsistent")


class _SklearnTrees(Surrogate):
    """Fits with scikit-learn, keeps :class:`TreeArrays` plus leaf values."""

    tables_: TreeArrays
    leaf_values_: np.ndarray

    def _make(self) -> Any:
        raise NotImplementedError

    def _arrays(self) -> Arrays:
        return {**self.tables_.arrays(), "leaf_values": self.leaf_values_, **self._extra()}

    def _load(self, arrays: Arrays) -> None:
        self.tables_ = TreeArrays.from_arrays(arrays)
        self.leaf_values_ = np.asarray(arrays["leaf_values"])
        if self.tables_.leaf_index.max(initial=0) >= len(self.leaf_values_):
            raise LearnError("tree leaf values of the artefact are inconsistent")
        self._load_extra(arrays)

    def _extra(self) -> Arrays:
        return {}

    def _load_extra(self, arrays: Arrays) -> None:
        return None


class _Forest(_SklearnTrees):
    """Bagged trees: the probability is the mean of the trees' leaf class distributions."""

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        model = self._make().fit(X, y)
        trees = [e.tree_ for e in model.estimators_]
        self.tables_ = TreeArrays.concat([(t.children_left, t.children_right, t.feature,
                                           t.threshold) for t in trees])
        values = [t.value[t.children_left < 0, 0, :] for t in trees]
        dist = np.concatenate(values)
        self.leaf_values_ = (dist / dist.sum(axis=1, keepdims=True)).astype(np.float32)

    def _proba(self, X: np.ndarray) -> np.ndarray:
        leaf = self.tables_.leaves(X)
        out = np.zeros((len(X), self.leaf_values_.shape[1]), dtype=np.float64)
        for t in range(leaf.shape[1]):
            out += self.leaf_values_[leaf[:, t]]
        return (out / leaf.shape[1]).astype(np.float32)


class RandomForest(_Forest):
    """scikit-learn random forest (``n_estimators`` trees, sqrt features per split)."""

    kind = "random_forest"
    unit_test_params: ClassVar[dict[str, Any]] = {"n_estimators": 10}

    def __init__(self, seed: int = 0, n_estimators: int = 100) -> None:
        super().__init__(seed=seed, n_estimators=n_estimators)

    def _make(self) -> Any:
        return _ensemble().RandomForestClassifier(
            n_estimators=int(self.params["n_estimators"]), random_state=self.seed, n_jobs=-1)


class ExtraTrees(_Forest):
    """scikit-learn extremely randomised trees."""

    kind = "extra_trees"
    unit_test_params: ClassVar[dict[str, Any]] = {"n_estimators": 10}

    def __init__(self, seed: int = 0, n_estimators: int = 100) -> None:
        super().__init__(seed=seed, n_estimators=n_estimators)

    def _make(self) -> Any:
        return _ensemble().ExtraTreesClassifier(
            n_estimators=int(self.params["n_estimators"]), random_state=self.seed, n_jobs=-1)


class HistGradientBoosting(_SklearnTrees):
    """scikit-learn histogram gradient boosting (one tree per class per iteration, so few
    iterations: 77 labels × 10 iterations is already 770 trees). Raw score = baseline + the
    leaf values of each class's trees; softmax (sigmoid for two classes)."""

    kind = "hist_gradient_boosting"
    unit_test_params: ClassVar[dict[str, Any]] = {"max_iter": 5}
    columns_: np.ndarray
    baseline_: np.ndarray

    def __init__(self, seed: int = 0, max_iter: int = 10, max_leaf_nodes: int = 15,
                 learning_rate: float = 0.3) -> None:
        super().__init__(seed=seed, max_iter=max_iter, max_leaf_nodes=max_leaf_nodes,
                         learning_rate=learning_rate)

    def _make(self) -> Any:
        return _ensemble().HistGradientBoostingClassifier(
            max_iter=int(self.params["max_iter"]),
            max_leaf_nodes=int(self.params["max_leaf_nodes"]),
            learning_rate=float(self.params["learning_rate"]), early_stopping=False,
            random_state=self.seed)

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        model = self._make().fit(X, y)
        trees, columns, values = [], [], []
        for per_iteration in model._predictors:
            for column, predictor in enumerate(per_iteration):
                nodes = predictor.nodes
                leaf = nodes["is_leaf"].astype(bool)
                left = np.where(leaf, _LEAF, nodes["left"].astype(np.int64))
                trees.append((left, nodes["right"].astype(np.int64), nodes["feature_idx"],
                              nodes["num_threshold"]))
                columns.append(column)
                values.append(nodes["value"][leaf])
        self.tables_ = TreeArrays.concat(trees)
        self.columns_ = np.asarray(columns, dtype=np.int32)
        self.leaf_values_ = np.concatenate(values).astype(np.float64)
        self.baseline_ = np.asarray(model._baseline_prediction, dtype=np.float64).ravel()

    def _extra(self) -> Arrays:
        return {"columns": self.columns_, "baseline": self.baseline_}

    def _load_extra(self, arrays: Arrays) -> None:
        self.columns_ = np.asarray(arrays["columns"], dtype=np.int32)
        self.baseline_ = np.asarray(arrays["baseline"], dtype=np.float64)
        if (len(self.columns_) != len(self.tables_.roots)
                or not ((self.columns_ >= 0) & (self.columns_ < len(self.baseline_))).all()):
            raise LearnError("boosting columns of the artefact are inconsistent")

    def _proba(self, X: np.ndarray) -> np.ndarray:
        contributions = self.leaf_values_[self.tables_.leaves(X)]
        onehot = np.eye(len(self.baseline_))[self.columns_]
        raw = self.baseline_ + contributions @ onehot
        if len(self.baseline_) == 1:  # binary: one tree per iteration, sigmoid link
            p = 1.0 / (1.0 + np.exp(-raw[:, 0]))
            return np.column_stack([1.0 - p, p]).astype(np.float32)
        return softmax(raw).astype(np.float32)
