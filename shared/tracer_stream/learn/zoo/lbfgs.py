"""A small L-BFGS minimiser in numpy.

scipy's L-BFGS-B spends most of its time in multi-threaded BLAS calls on vectors (over 10 ms
per iteration on two busy cores); the two-loop recursion below uses plain numpy reductions and
leaves the BLAS threads to the objective's matrix products.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import numpy as np

Objective = Callable[[np.ndarray], tuple[float, np.ndarray]]


def minimize(fun_grad: Objective, x0: np.ndarray, *, max_iter: int = 100, memory: int = 10,
             gtol: float = 1e-6, ftol: float = 1e-9) -> np.ndarray:
    """Minimise a smooth function given (value, gradient); Armijo backtracking line search.

    Stops after ``max_iter`` iterations, when the largest gradient entry is below ``gtol`` or
    when an iteration improves the value by less than ``ftol`` relative.
    """
    x = np.asarray(x0, dtype=np.float64).copy()
    f, g = fun_grad(x)
    pairs: deque[tuple[np.ndarray, np.ndarray, float]] = deque(maxlen=memory)
    for it in range(max_iter):
        if np.max(np.abs(g)) < gtol:
            break
        d = _direction(g, pairs)
        slope = _dot(g, d)
        if slope >= 0:
            d, slope = -g, -_dot(g, g)
        step = 1.0 if it else min(1.0, 1.0 / max(_dot(g, g) ** 0.5, 1e-12))
        for _ in range(30):
            f_new, g_new = fun_grad(x + step * d)
            if f_new <= f + 1e-4 * step * slope:
                break
            step *= 0.5
        else:
            break
        s, y = step * d, g_new - g
        sy = _dot(s, y)
        if sy > 1e-12:
            pairs.append((s, y, 1.0 / sy))
        x += s
        improved = f - f_new
        f, g = f_new, g_new
        if improved <= ftol * max(abs(f), 1.0):
            break
    return x


def _direction(g: np.ndarray, pairs: deque[tuple[np.ndarray, np.ndarray, float]]
               ) -> np.ndarray:
    """−H·g by the two-loop recursion."""
    q = -g.copy()
    alphas = []
    for s, y, rho in reversed(pairs):
        a = rho * _dot(s, q)
        q -= a * y
        alphas.append(a)
    if pairs:
        s, y, _ = pairs[-1]
        q *= _dot(s, y) / _dot(y, y)
    for (s, y, rho), a in zip(pairs, reversed(alphas), strict=True):
        b = rho * _dot(y, q)
        q += (a - b) * s
    return q


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """Inner product without a (multi-threaded) BLAS call."""
    return float(np.multiply(a, b).sum())
