"""The zoo sweep: every member fitted once per fold, judged on the rows it did not see.

With K folds over the non-calibration rows, each member is fitted on K − 1 folds and predicts
the held-out one, so every non-calibration row gets an out-of-fold prediction (the "validation"
rows are all of them); with one fold it is the plain train/validation split. Members are fitted
in parallel threads, each with single-threaded BLAS (numpy releases the GIL in its kernels;
threaded BLAS on small matrices mostly spins). Per member, the acceptor is fitted on the
out-of-fold rows twice over: cross-fitted in two halves for honest selection scores, and on all
of them for deployment.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .acceptor import Acceptor, features
from .artefact import Member
from .selection import ValidationView
from .zoo import Surrogate, full_proba

_HONEST_FOLDS = 5


@dataclass
class SweepResult:
    """One fitted member: deployable parts, honest validation view, deployed validation scores."""

    member: Member
    view: ValidationView
    val_scores: np.ndarray


@dataclass
class Fold:
    """Row indices (into ``SweepData.X``) a member is fitted on and the rows it then predicts."""

    train: np.ndarray
    heldout: np.ndarray


@dataclass
class SweepData:
    """The rows a sweep sees: all rows and integer labels, the folds, and for the concatenated
    held-out rows (the validation view, in fold order) their similarities to the centroids of
    their fold's training rows and their novelty flags."""

    X: np.ndarray
    y: np.ndarray
    folds: list[Fold]
    S_val: np.ndarray
    novel_val: np.ndarray
    n_labels: int

    @property
    def val_rows(self) -> np.ndarray:
        return np.concatenate([f.heldout for f in self.folds])


def sweep(zoo: list[Surrogate], data: SweepData, *, seed: int, n_jobs: int,
          report: Callable[[str, float], None]) -> dict[str, SweepResult]:
    """Fit every member (in parallel threads) and return results keyed by member name."""
    workers = max(1, min(n_jobs or (os.cpu_count() or 1), len(zoo)))
    done: list[str] = []

    def one(i: int, model: Surrogate) -> SweepResult:
        result = _fit_member(model, data, np.random.default_rng([seed, i]))
        done.append(model.name)
        report(f"fitted {model.name}", len(done) / (len(zoo) + 1))
        return result

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(one, range(len(zoo)), zoo))
    return {model.name: res for model, res in zip(zoo, results, strict=True)}


def _fit_member(model: Surrogate, data: SweepData, rng: np.random.Generator) -> SweepResult:
    """Out-of-fold predictions of ``model`` on every held-out row, the acceptor on them. The
    member returned is the first fold's model (fit() refits the chosen ones on all rows)."""
    parts = []
    for i, fold in enumerate(data.folds):
        m = model if i == 0 else type(model)(seed=model.seed, **model.params)
        m.fit(data.X[fold.train], data.y[fold.train])
        parts.append(full_proba(m, data.X[fold.heldout], data.n_labels))
    dense, pred = features(np.concatenate(parts), data.S_val)
    agree = pred == data.y[data.val_rows]
    honest = _cross_fitted_scores(dense, pred, agree, data.n_labels, rng)
    acceptor = Acceptor(data.n_labels).fit(dense, pred, agree)
    novel = data.novel_val
    return SweepResult(
        member=Member(model, acceptor),
        view=ValidationView(pred, np.where(novel, np.nan, honest), ~agree),
        val_scores=np.where(novel, np.nan, acceptor.score(dense, pred)),
    )


def _cross_fitted_scores(dense: np.ndarray, pred: np.ndarray, agree: np.ndarray,
                         n_labels: int, rng: np.random.Generator, k: int = _HONEST_FOLDS
                         ) -> np.ndarray:
    """Acceptor scores of every validation row from an acceptor that did not see it (``k``
    folds, so each is fitted on (k − 1)/k of the rows, close to the deployed acceptor)."""
    fold = rng.integers(0, k, len(pred))
    if len(np.unique(fold)) < 2:
        return Acceptor(n_labels).fit(dense, pred, agree).score(dense, pred)
    out = np.empty(len(pred))
    for f in np.unique(fold):
        part = fold == f
        acc = Acceptor(n_labels).fit(dense[~part], pred[~part], agree[~part])
        out[part] = acc.score(dense[part], pred[part])
    return out
