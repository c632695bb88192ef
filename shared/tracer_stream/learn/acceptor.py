"""The acceptor: a score for "the surrogate agrees with the teacher on this input".

Features are the surrogate's confidence signals (top probability, margin, entropy, their logit)
plus class-aware ones: cosine similarity to the predicted label's centroid, to the nearest other
centroid, and a one-hot of the predicted label (a per-label bias). A small logistic regression
maps them to P(agree); it is fitted on traces that neither trained the surrogate nor calibrate.
"""

from __future__ import annotations

import numpy as np

from .zoo.base import Arrays
from .zoo.linear import LogisticRegression

_EPS = 1e-6


def features(P: np.ndarray, S: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(dense features, predicted label) from full-width probabilities ``P`` and similarities ``S``.

    Parameters
    ----------
    P
        (n, n_labels) surrogate probabilities over the whole label space.
    S
        (n, n_labels) cosine similarities to the label centroids.
    """
    n, n_labels = P.shape
    rows = np.arange(n)
    pred = np.argmax(P, axis=1)
    top2 = np.partition(P, n_labels - 2, axis=1)[:, -2:] if n_labels > 1 else np.c_[P * 0, P]
    p1, p2 = top2[:, 1], top2[:, 0]
    clipped = np.clip(P, _EPS, 1.0)
    entropy = -(P * np.log(clipped)).sum(axis=1) / np.log(max(n_labels, 2))
    logit = np.log(np.clip(p1, _EPS, 1 - _EPS)) - np.log(np.clip(1 - p1, _EPS, 1.0))
    sim_pred = S[rows, pred]
    S_other = S.copy()
    S_other[rows, pred] = -np.inf
    sim_other = S_other.max(axis=1) if n_labels > 1 else np.zeros(n, dtype=S.dtype)
    dense = np.stack([p1, p1 - p2, entropy, logit, sim_pred, sim_other, sim_pred - sim_other],
                     axis=1).astype(np.float32)
    return dense, pred


class Acceptor:
    """Logistic regression on standardised confidence features plus a per-label one-hot.

    Parameters
    ----------
    n_labels
        Size of the label space (width of the one-hot block).
    C
        Inverse regularisation strength of the logistic regression.
    """

    def __init__(self, n_labels: int, C: float = 1.0) -> None:
        self.n_labels = n_labels
        self.C = C
        self.mean_ = np.zeros(0, dtype=np.float32)
        self.scale_ = np.ones(0, dtype=np.float32)
        self.model_: LogisticRegression | None = None
        self.constant_ = 1.0

    def _design(self, dense: np.ndarray, pred: np.ndarray) -> np.ndarray:
        onehot = np.zeros((len(pred), self.n_labels), dtype=np.float32)
        onehot[np.arange(len(pred)), pred] = 1.0
        return np.concatenate([(dense - self.mean_) / self.scale_, onehot], axis=1)

    def fit(self, dense: np.ndarray, pred: np.ndarray, agree: np.ndarray) -> Acceptor:
        """Fit on held-out rows: features, predicted labels and agreement with the teacher.

        With no rows, or rows that all agree (or all disagree), the score is a constant.
        """
        agree = np.asarray(agree, dtype=np.int64)
        if agree.size == 0 or agree.min() == agree.max():
            self.model_, self.constant_ = None, float(agree.mean()) if agree.size else 1.0
            return self
        self.mean_ = dense.mean(axis=0)
        self.scale_ = np.maximum(dense.std(axis=0), 1e-6).astype(np.float32)
        self.model_ = LogisticRegression(C=self.C, max_iter=200).fit(
            self._design(dense, pred), agree)
        return self

    def score(self, dense: np.ndarray, pred: np.ndarray) -> np.ndarray:
        """P(surrogate agrees with the teacher) per row."""
        if self.model_ is None:
            return np.full(len(pred), self.constant_, dtype=np.float64)
        return self.model_.predict_proba(self._design(dense, pred))[:, 1].astype(np.float64)

    def arrays(self) -> Arrays:
        out: Arrays = {"mean": self.mean_, "scale": self.scale_,
                       "constant": np.array([self.constant_]), "C": np.array([self.C]),
                       "n_labels": np.array([self.n_labels])}
        if self.model_ is not None:
            out["coef"], out["intercept"] = self.model_.coef_, self.model_.intercept_
        return out

    @classmethod
    def from_arrays(cls, arrays: Arrays) -> Acceptor:
        acc = cls(int(arrays["n_labels"][0]), float(arrays["C"][0]))
        acc.mean_ = np.asarray(arrays["mean"], dtype=np.float32)
        acc.scale_ = np.asarray(arrays["scale"], dtype=np.float32)
        acc.constant_ = float(arrays["constant"][0])
        if "coef" in arrays:
            acc.model_ = LogisticRegression.from_state(
                {"seed": 0, "params": {"C": acc.C, "max_iter": 200}},
                {"classes": np.array([0, 1]), "coef": arrays["coef"],
                 "intercept": arrays["intercept"]})
        return acc
