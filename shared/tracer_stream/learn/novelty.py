"""Class-centroid index: similarity features for the acceptor and the novel-input test.

Built once per fit from training embeddings (one mean per label the surrogate saw). The
acceptor reads cosine similarities to the (unit-length) centroids; the novelty test reads the
Euclidean distance to the nearest mean, with a threshold at a high quantile of held-out
nearest-mean distances. A request costs two (rows × labels) matrix products, independent of
the training set size.
"""

from __future__ import annotations

import numpy as np

from .zoo.base import Arrays


class CentroidIndex:
    """Label means, their unit-length directions and a calibrated novelty threshold.

    Parameters
    ----------
    means
        (n_labels, d) mean training embedding per label; unseen labels have a zero row.
    seen
        Which labels have a mean.
    threshold
        Nearest-mean Euclidean distance above which an input is novel (``inf``: never).
    """

    def __init__(self, means: np.ndarray, seen: np.ndarray, threshold: float) -> None:
        self.means = np.asarray(means, dtype=np.float32)
        self.seen = np.asarray(seen, dtype=bool)
        self.threshold = float(threshold)
        self._sq_norms = np.einsum("ij,ij->i", self.means, self.means)
        self._inv_norms = np.where(self.seen, 1.0 / np.maximum(np.sqrt(self._sq_norms), 1e-12),
                                   0.0).astype(np.float32)

    @classmethod
    def build(cls, X: np.ndarray, y: np.ndarray, n_labels: int) -> CentroidIndex:
        """Centroids of the training rows ``X`` with integer labels ``y``."""
        onehot = np.zeros((len(y), n_labels), dtype=np.float32)
        onehot[np.arange(len(y)), y] = 1.0
        counts = np.bincount(y, minlength=n_labels)
        return cls((onehot.T @ X) / np.maximum(counts, 1)[:, None], counts > 0, np.inf)

    def project(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(cosine similarity to each label centroid, −1 for unseen labels; Euclidean distance
        to the nearest label mean) for each row, from one matrix product."""
        G = X @ self.means.T
        sq_x = np.einsum("ij,ij->i", X, X)
        sq = sq_x[:, None] - 2.0 * G + self._sq_norms
        sq[:, ~self.seen] = np.inf
        dist = np.sqrt(np.maximum(sq.min(axis=1), 0.0))
        S = G * self._inv_norms / np.maximum(np.sqrt(sq_x), 1e-12)[:, None]
        S[:, ~self.seen] = -1.0
        return S, dist

    def similarities(self, X: np.ndarray) -> np.ndarray:
        """Cosine similarity of each row to each label centroid (−1 for unseen labels)."""
        return self.project(X)[0]

    def distance(self, X: np.ndarray) -> np.ndarray:
        """Euclidean distance of each row to the nearest label mean."""
        return self.project(X)[1]

    def calibrate(self, X_heldout: np.ndarray, quantile: float) -> None:
        """Set the novelty threshold to a quantile of held-out nearest-mean distances."""
        self.threshold = float(np.quantile(self.distance(X_heldout), quantile))

    def is_novel(self, X: np.ndarray) -> np.ndarray:
        return self.distance(X) > self.threshold

    def novel_from_distance(self, dist: np.ndarray) -> np.ndarray:
        return dist > self.threshold

    def arrays(self) -> Arrays:
        return {"means": self.means, "seen": self.seen, "threshold": np.array([self.threshold])}

    @classmethod
    def from_arrays(cls, arrays: Arrays) -> CentroidIndex:
        return cls(arrays["means"], arrays["seen"], float(arrays["threshold"][0]))
