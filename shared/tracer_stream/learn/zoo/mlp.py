"""A small multi-layer perceptron (one ReLU hidden layer, softmax output) trained with Adam."""

from __future__ import annotations

import numpy as np

from .base import Arrays, Surrogate, softmax


class MLP(Surrogate):
    """One hidden ReLU layer, mini-batch Adam on the mean log loss plus weight decay.

    Parameters
    ----------
    hidden
        Width of the hidden layer.
    epochs
        Passes over the data.
    lr
        Adam step size.
    l2
        Weight decay on both weight matrices.
    batch
        Mini-batch size.
    """

    kind = "mlp"

    def __init__(self, seed: int = 0, hidden: int = 256, epochs: int = 6, lr: float = 4e-3,
                 l2: float = 1e-4, batch: int = 256) -> None:
        super().__init__(seed=seed, hidden=hidden, epochs=epochs, lr=lr, l2=l2, batch=batch)

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        n, d = X.shape
        k = int(y.max()) + 1
        h = int(self.params["hidden"])
        rng = np.random.default_rng(self.seed)
        params = [
            (rng.standard_normal((d, h)) * np.sqrt(2.0 / d)).astype(np.float32),
            np.zeros(h, dtype=np.float32),
            (rng.standard_normal((h, k)) * np.sqrt(1.0 / h)).astype(np.float32),
            np.zeros(k, dtype=np.float32),
        ]
        m = [np.zeros_like(p) for p in params]
        v = [np.zeros_like(p) for p in params]
        lr, l2 = float(self.params["lr"]), float(self.params["l2"])
        batch = int(self.params["batch"])
        t = 0
        for _ in range(int(self.params["epochs"])):
            order = rng.permutation(n)
            for start in range(0, n, batch):
                idx = order[start:start + batch]
                grads = self._grads(params, X[idx], y[idx], l2)
                t += 1
                for p, g, mi, vi in zip(params, grads, m, v, strict=True):
                    mi *= 0.9
                    mi += 0.1 * g
                    vi *= 0.999
                    vi += 0.001 * g * g
                    step = lr * np.sqrt(1 - 0.999**t) / (1 - 0.9**t)
                    p -= (step * mi / (np.sqrt(vi) + 1e-8)).astype(np.float32)
        self.w1_, self.b1_, self.w2_, self.b2_ = params

    @staticmethod
    def _grads(params: list[np.ndarray], X: np.ndarray, y: np.ndarray,
               l2: float) -> list[np.ndarray]:
        w1, b1, w2, b2 = params
        hidden = np.maximum(X @ w1 + b1, 0.0)
        P = softmax(hidden @ w2 + b2)
        P[np.arange(len(y)), y] -= 1.0
        P /= len(y)
        g_hidden = (P @ w2.T) * (hidden > 0)
        return [X.T @ g_hidden + l2 * w1, g_hidden.sum(axis=0),
                hidden.T @ P + l2 * w2, P.sum(axis=0)]

    def _proba(self, X: np.ndarray) -> np.ndarray:
        return softmax(np.maximum(X @ self.w1_ + self.b1_, 0.0) @ self.w2_ + self.b2_)

    def _arrays(self) -> Arrays:
        return {"w1": self.w1_, "b1": self.b1_, "w2": self.w2_, "b2": self.b2_}

    def _load(self, arrays: Arrays) -> None:
        self.w1_, self.b1_, self.w2_, self.b2_ = (
            np.asarray(arrays[name], dtype=np.float32) for name in ("w1", "b1", "w2", "b2"))
