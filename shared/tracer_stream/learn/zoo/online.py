"""The river online learner member: a Gaussian naive Bayes fed one trace at a time.

Training goes through river's own ``learn_one`` (the same learner the trainer can keep updating
between refits); prediction reads its per-class means and deviations into arrays and runs in
numpy, so routing never loops over rows in Python (and a router loads it without river).
"""

from __future__ import annotations

import numpy as np

from ...extras import needs_extra
from .base import Arrays, Surrogate, softmax

_MIN_STD = 1e-3


class RiverNaiveBayes(Surrogate):
    """river ``GaussianNB`` trained online; ``temperature`` softens its very peaked posteriors.

    Parameters
    ----------
    temperature
        Joint log-likelihoods are divided by it before the softmax.
    """

    kind = "river_nb"

    def __init__(self, seed: int = 0, temperature: float = 20.0) -> None:
        super().__init__(seed=seed, temperature=temperature)

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        with needs_extra("trainer", "fitting the river learner"):  # loading needs no river
            from river import naive_bayes
        learner = naive_bayes.GaussianNB()
        order = np.random.default_rng(self.seed).permutation(len(y))
        for i in order:
            learner.learn_one(dict(enumerate(X[i].tolist())), int(y[i]))
        k, d = int(y.max()) + 1, X.shape[1]
        self.mu_ = np.zeros((k, d), dtype=np.float32)
        self.std_ = np.ones((k, d), dtype=np.float32)
        for c, per_feature in learner.gaussians.items():
            for f, gaussian in per_feature.items():
                self.mu_[c, f] = gaussian.mu
                self.std_[c, f] = max(float(gaussian.sigma or 0.0), _MIN_STD)
        counts = np.array([learner.class_counts.get(c, 0) for c in range(k)], dtype=np.float32)
        self.log_prior_ = np.log(np.maximum(counts, 1.0) / counts.sum()).astype(np.float32)

    def _proba(self, X: np.ndarray) -> np.ndarray:
        inv_var = 1.0 / self.std_**2
        # Σ_f log N(x_f; μ_cf, σ_cf) without the constant, expanded into matrix products
        quad = (X**2) @ inv_var.T - 2.0 * X @ (self.mu_ * inv_var).T
        quad += (self.mu_**2 * inv_var).sum(axis=1)
        joint = self.log_prior_ - 0.5 * quad - np.log(self.std_).sum(axis=1)
        return softmax(joint / float(self.params["temperature"]))

    def _arrays(self) -> Arrays:
        return {"mu": self.mu_, "std": self.std_, "log_prior": self.log_prior_}

    def _load(self, arrays: Arrays) -> None:
        self.mu_ = np.asarray(arrays["mu"], dtype=np.float32)
        self.std_ = np.asarray(arrays["std"], dtype=np.float32)
        self.log_prior_ = np.asarray(arrays["log_prior"], dtype=np.float32)
