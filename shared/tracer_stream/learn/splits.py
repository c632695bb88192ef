"""Class-mix-preserving subsamples and splits (never class-capped)."""

from __future__ import annotations

import numpy as np


def stratified_subsample(y: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``size`` rows drawn so each label keeps its share (largest remainders)."""
    if size >= len(y):
        return np.arange(len(y))
    labels, counts = np.unique(y, return_counts=True)
    quota = counts * size / len(y)
    take = np.floor(quota).astype(int)
    short = size - int(take.sum())
    take[np.argsort(-(quota - take), kind="stable")[:short]] += 1
    chosen = [rng.permutation(np.flatnonzero(y == lab))[:t] for lab, t in zip(labels, take,
                                                                             strict=True)]
    return np.sort(np.concatenate(chosen))


def stratified_split(y: np.ndarray, fraction: float, rng: np.random.Generator
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(first, second) index arrays; about ``fraction`` of each label goes to the second.

    A label with a single row always goes to the first part (the training side).
    """
    second: list[np.ndarray] = []
    for lab in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == lab))
        n_second = round(fraction * len(rows)) if len(rows) > 1 else 0
        second.append(rows[:n_second])
    mask = np.zeros(len(y), dtype=bool)
    mask[np.concatenate(second)] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


def stratified_folds(y: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Fold id (0..k−1) per row; each label's rows are spread evenly over the folds, starting
    at a random fold per label so small labels do not all land in fold 0."""
    fold = np.empty(len(y), dtype=np.int64)
    for lab in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == lab))
        fold[rows] = (int(rng.integers(k)) + np.arange(len(rows))) % k
    return fold
