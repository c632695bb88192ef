"""Choosing a policy (surrogate × family) per α on the VALIDATION split, never on calibration.

Every candidate is scored by the coverage the gate is expected to certify on a calibration set of
the real size (:func:`~.forecast.predicted_coverage`), using acceptor scores that were
cross-fitted on the validation rows (honest). Because calibration is never looked at, the
certificate of the chosen candidate needs no multiplicity correction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .forecast import predicted_coverage
from .gate import NEG_INF, threshold_grid

# a more complex family must beat a simpler one by this much expected coverage to be chosen
_COMPLEXITY_MARGIN = {"global": 0.0, "l2d": 0.002, "rsb": 0.01}


@dataclass
class ValidationView:
    """One member on the validation rows: predictions, honest scores (NaN = novel), errors."""

    pred: np.ndarray
    score: np.ndarray
    errors: np.ndarray


@dataclass
class Candidate:
    """A chosen policy shape with its expected coverage and, for RSB, stage 1's threshold."""

    family: str
    members: tuple[str, ...]
    expected_coverage: float
    stage1_threshold: float | None = None

    def describe(self) -> dict[str, object]:
        return {"family": self.family, "members": list(self.members),
                "expected_coverage": self.expected_coverage}


def choose(
    views: dict[str, ValidationView], *, families: tuple[str, ...], alpha: float, delta: float,
    n_cal: int, grid_size: int,
) -> tuple[Candidate, list[Candidate]]:
    """Best candidate at (α, δ) and every candidate considered (for the manifest)."""
    grids = {name: threshold_grid(v.score, grid_size) for name, v in views.items()}
    all_cands: list[Candidate] = []
    for name, v in views.items():
        if "global" in families:
            cov, _ = predicted_coverage(np.where(np.isnan(v.score), np.nan, 0.0), v.errors,
                                        np.array([NEG_INF]), alpha=alpha, delta=delta,
                                        n_cal=n_cal)
            all_cands.append(Candidate("global", (name,), cov))
        if "l2d" in families:
            cov, _ = predicted_coverage(v.score, v.errors, grids[name], alpha=alpha,
                                        delta=delta, n_cal=n_cal)
            all_cands.append(Candidate("l2d", (name,), cov))
        if "rsb" in families and len(views) > 1:
            all_cands.extend(_rsb(name, views, alpha=alpha, delta=delta, n_cal=n_cal,
                                  grid_size=grid_size, grids=grids))
    if not all_cands:  # e.g. only "rsb" asked for with a one-member zoo
        return choose(views, families=("l2d",), alpha=alpha, delta=delta, n_cal=n_cal,
                      grid_size=grid_size)
    best = max(all_cands, key=lambda c: c.expected_coverage - _COMPLEXITY_MARGIN[c.family])
    return best, all_cands


def _rsb(first: str, views: dict[str, ValidationView], *, alpha: float, delta: float,
         n_cal: int, grid_size: int, grids: dict[str, np.ndarray]) -> list[Candidate]:
    """RSB candidates with ``first`` as stage 1: δ/2 per stage, stage 2 on stage 1's residual."""
    v1 = views[first]
    cov1, thr1 = predicted_coverage(v1.score, v1.errors, grids[first], alpha=alpha,
                                    delta=delta / 2, n_cal=n_cal)
    with np.errstate(invalid="ignore"):
        residual = ~(v1.score >= thr1) if thr1 is not None else np.ones(len(v1.score), bool)
    share = float(residual.mean()) if residual.size else 0.0
    out = []
    for second, v2 in views.items():
        if second == first or share == 0:
            continue
        s2, e2 = v2.score[residual], v2.errors[residual]
        cov2, _ = predicted_coverage(s2, e2, threshold_grid(s2, grid_size), alpha=alpha,
                                     delta=delta / 2, n_cal=round(n_cal * share))
        out.append(Candidate("rsb", (first, second), cov1 + cov2 * share, thr1))
    return out
