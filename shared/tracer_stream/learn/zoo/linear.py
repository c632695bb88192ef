"""Linear members: multinomial logistic regression (L-BFGS) and SGD on the same log loss."""

from __future__ import annotations

import numpy as np

from .base import Arrays, Surrogate, softmax
from .lbfgs import minimize


class _Linear(Surrogate):
    """Shared state and prediction of linear softmax models: p = softmax(X W + b)."""

    coef_: np.ndarray
    intercept_: np.ndarray

    def _proba(self, X: np.ndarray) -> np.ndarray:
        return softmax(X @ self.coef_ + self.intercept_)

    def _arrays(self) -> Arrays:
        return {"coef": self.coef_, "intercept": self.intercept_}

    def _load(self, arrays: Arrays) -> None:
        self.coef_ = np.asarray(arrays["coef"], dtype=np.float32)
        self.intercept_ = np.asarray(arrays["intercept"], dtype=np.float32)


class LogisticRegression(_Linear):
    """Multinomial logistic regression, mean log loss + ‖W‖² / (2·C·n) (scikit-learn's C).

    Parameters
    ----------
    C
        Inverse regularisation strength.
    max_iter
        L-BFGS iterations at most.
    """

    kind = "logreg"

    def __init__(self, seed: int = 0, C: float = 10.0, max_iter: int = 100) -> None:
        super().__init__(seed=seed, C=C, max_iter=max_iter)

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        n, d = X.shape
        k = int(y.max()) + 1
        onehot = np.zeros((n, k), dtype=np.float32)
        onehot[np.arange(n), y] = 1.0
        reg = 1.0 / (float(self.params["C"]) * n)

        def loss_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
            W = theta[: d * k].reshape(d, k).astype(np.float32)
            z = X @ W
            z += theta[d * k:].astype(np.float32)
            z -= z.max(axis=1, keepdims=True)
            picked = float(np.sum(z * onehot, dtype=np.float64))
            np.exp(z, out=z)
            norm = z.sum(axis=1, keepdims=True)
            loss = (float(np.sum(np.log(norm), dtype=np.float64)) - picked) / n
            z /= norm
            z -= onehot
            z /= n
            gW = (X.T @ z).astype(np.float64)
            gW += reg * theta[: d * k].reshape(d, k)
            loss += 0.5 * reg * float(theta[: d * k] @ theta[: d * k])
            return loss, np.concatenate([gW.ravel(), z.sum(axis=0, dtype=np.float64)])

        theta0 = np.zeros(d * k + k)
        theta = minimize(loss_grad, theta0, max_iter=int(self.params["max_iter"]))
        self.coef_ = theta[: d * k].reshape(d, k).astype(np.float32)
        self.intercept_ = theta[d * k:].astype(np.float32)


class SGDLogistic(_Linear):
    """Multinomial log loss trained by mini-batch SGD with momentum and a decaying step.

    Parameters
    ----------
    epochs
        Passes over the data.
    lr
        Initial step size (decays as 1 / (1 + epoch)).
    l2
        Weight decay.
    batch
        Mini-batch size.
    """

    kind = "sgd"

    def __init__(self, seed: int = 0, epochs: int = 8, lr: float = 4.0, l2: float = 1e-5,
                 batch: int = 256) -> None:
        super().__init__(seed=seed, epochs=epochs, lr=lr, l2=l2, batch=batch)

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        n, d = X.shape
        k = int(y.max()) + 1
        rng = np.random.default_rng(self.seed)
        W = np.zeros((d, k), dtype=np.float32)
        b = np.zeros(k, dtype=np.float32)
        vW, vb = np.zeros_like(W), np.zeros_like(b)
        batch, l2 = int(self.params["batch"]), np.float32(self.params["l2"])
        for epoch in range(int(self.params["epochs"])):
            step = np.float32(float(self.params["lr"]) / (1.0 + epoch))
            order = rng.permutation(n)
            for start in range(0, n, batch):
                idx = order[start:start + batch]
                P = softmax(X[idx] @ W + b)
                P[np.arange(len(idx)), y[idx]] -= 1.0
                P /= len(idx)
                vW = 0.9 * vW + X[idx].T @ P + l2 * W
                vb = 0.9 * vb + P.sum(axis=0)
                W -= step * vW
                b -= step * vb
        self.coef_, self.intercept_ = W, b
