"""``fit``: one zoo sweep, acceptors, novelty index, selection on validation, the gate per α.

Data flow (see ``docs/learning-core.md``)::

    traces ─┬─ calibration (hash of trace id, or given) ──────────────── certify every α
            └─ rest ─ class-mix subsample ─ K folds: each member fitted on K − 1 folds predicts
                                            the held-out one → out-of-fold rows V (all of rest)
                                            ── acceptors (cross-fitted for honest selection
                                            scores), novelty threshold, threshold grids,
                                            choice of member × family per α; the chosen
                                            members refitted on all of rest
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from ..errors import EmbedderError, LearnError
from .artefact import Artefact, Member
from .calibrate import calibrate
from .config import EmbedderRef, FitConfig
from .novelty import CentroidIndex
from .partition import calibration_partition
from .selection import choose
from .splits import stratified_folds, stratified_split, stratified_subsample
from .sweep import Fold, SweepData, SweepResult, sweep
from .zoo import build_zoo

Progress = Callable[[str, float], None]
_VALIDATION_SHARE = 0.3


def fit(
    X: np.ndarray,
    y: Sequence[str],
    *,
    embedder: EmbedderRef,
    config: FitConfig | None = None,
    is_calibration: np.ndarray | None = None,
    trace_ids: Sequence[str] | None = None,
    parent_version: str | None = None,
    progress: Progress | None = None,
) -> Artefact:
    """Fit a certified routing model from traces.

    Parameters
    ----------
    X
        (n, d) float32 embeddings from ``embedder``.
    y
        Teacher label of every trace.
    embedder
        Identity of the embedder (checked against ``X``'s width; recorded in the artefact).
    config
        Fitting options; ``config.delta`` is the δ of this fit's certificates (pass δₖ here
        when spending δ over refits).
    is_calibration
        Which traces calibrate. Default: :func:`calibration_partition` of ``trace_ids``, or a
        seeded random ``config.calibration_fraction`` split when no ids are given.
    trace_ids
        Ids of the traces (data window, partition).
    parent_version
        Version this model is meant to replace (recorded in the manifest).
    progress
        Called with (stage name, fraction done).
    """
    cfg = config or FitConfig()
    report = progress or (lambda stage, frac: None)
    X = np.ascontiguousarray(X, dtype=np.float32)
    y_arr = np.asarray([str(v) for v in y])
    _check_inputs(X, y_arr, embedder, is_calibration, trace_ids)
    labels = sorted(set(y_arr.tolist()))
    y_int = np.searchsorted(np.asarray(labels), y_arr)
    rng = np.random.default_rng(cfg.seed)

    cal_mask = _calibration_mask(len(y_int), cfg, is_calibration, trace_ids, rng)
    cal_idx, rest = np.flatnonzero(cal_mask), np.flatnonzero(~cal_mask)
    if len(cal_idx) == 0 or len(rest) < 4:
        raise LearnError("fit needs calibration traces and at least 4 training traces",
                         n_cal=len(cal_idx), n_rest=len(rest))
    rest = rest[stratified_subsample(y_int[rest], cfg.max_train, rng)]
    n_labels = len(labels)
    folds = _folds(rest, y_int, cfg, rng)
    va = np.concatenate([f.heldout for f in folds])
    # the rows the deployed members and the centroid index are fitted on
    tr = rest if len(folds) > 1 else folds[0].train

    # similarities and nearest-centroid distances of each held-out row from its own fold's
    # centroids (it is out of sample there, as calibration and live rows are for the index)
    S_parts, dist_parts = [], []
    for f in folds:
        S_f, d_f = CentroidIndex.build(X[f.train], y_int[f.train], n_labels).project(X[f.heldout])
        S_parts.append(S_f)
        dist_parts.append(d_f)
    S_va, dist_va = np.concatenate(S_parts), np.concatenate(dist_parts)
    index = CentroidIndex.build(X[tr], y_int[tr], n_labels)
    if cfg.novelty and len(va):
        index.threshold = float(np.quantile(dist_va, cfg.novelty_quantile))
    novel_va = index.novel_from_distance(dist_va)

    zoo = build_zoo(cfg.zoo, cfg.seed)
    with threadpool_limits(1):
        swept = sweep(zoo, SweepData(X, y_int, folds, S_va, novel_va, n_labels),
                      seed=cfg.seed, n_jobs=cfg.n_jobs, report=report)
        return _certify(swept, X, y_int, labels, cal_idx, tr, va, index, cfg, embedder,
                        trace_ids, parent_version, report)


def _folds(rest: np.ndarray, y_int: np.ndarray, cfg: FitConfig, rng: np.random.Generator
           ) -> list[Fold]:
    """``acceptor_folds`` folds over the non-calibration rows (every row held out once), or with
    one fold the plain split: 70% train, 30% validation."""
    k = min(cfg.acceptor_folds, len(rest))
    if k >= 2:
        fold_id = stratified_folds(y_int[rest], k, rng)
        out = [Fold(rest[fold_id != f], rest[fold_id == f]) for f in range(k)]
        return [f for f in out if len(f.heldout) and len(f.train)]
    tr_pos, va_pos = stratified_split(y_int[rest], _VALIDATION_SHARE, rng)
    return [Fold(rest[tr_pos], rest[va_pos])]


def _certify(swept: dict[str, SweepResult], X: np.ndarray, y_int: np.ndarray,
             labels: list[str], cal_idx: np.ndarray, tr: np.ndarray, va: np.ndarray,
             index: CentroidIndex, cfg: FitConfig, embedder: EmbedderRef,
             trace_ids: Sequence[str] | None, parent_version: str | None,
             report: Progress) -> Artefact:
    """Choose on validation, optionally refit the chosen members on train + validation, and
    certify on calibration, for every α of the frontier."""
    n_labels = len(labels)
    views = {name: r.view for name, r in swept.items()}
    families = tuple(f for f in cfg.families if not (cfg.per_label and f == "rsb")) or ("l2d",)
    choices = {}
    candidates: dict[str, list[dict[str, object]]] = {}
    for alpha in cfg.frontier_alphas:
        best, considered = choose(views, families=families, alpha=alpha, delta=cfg.delta,
                                  n_cal=len(cal_idx), grid_size=cfg.grid_size)
        choices[alpha] = best
        candidates[str(alpha)] = [c.describe() for c in considered]
    used = sorted({name for c in choices.values() for name in c.members})
    refit = cfg.refit or cfg.acceptor_folds > 1  # with folds there is no single fitted model
    report("refit" if refit else "calibrate", len(swept) / (len(swept) + 1))
    members = {name: swept[name].member for name in used}
    if refit:
        rows = np.union1d(tr, va)
        members = _refit(members, X[rows], y_int[rows], cfg.n_jobs)
    S_cal = index.similarities(X[cal_idx])
    novel_cal = index.is_novel(X[cal_idx])
    cal_signals = {name: m.signals(X[cal_idx], S_cal, novel_cal, n_labels)
                   for name, m in members.items()}
    frontier = {}
    for alpha, best in choices.items():
        residual = None
        if best.family == "rsb" and best.stage1_threshold is not None:
            with np.errstate(invalid="ignore"):
                residual = ~(views[best.members[0]].score >= best.stage1_threshold)
        frontier[alpha] = calibrate(
            best, cal=cal_signals, y_cal=y_int[cal_idx],
            val_scores={name: swept[name].val_scores for name in used}, views=views,
            alpha=alpha, delta=cfg.delta, grid_size=cfg.grid_size, n_labels=n_labels,
            predictable={n: len(m.model.classes_) for n, m in members.items()},
            per_label=cfg.per_label, residual=residual,
        )
    manifest = _manifest(cfg, embedder, labels, y_int, cal_idx, tr, va, trace_ids,
                         parent_version, novel_cal, index, candidates)
    report("done", 1.0)
    return Artefact(labels=labels, members=members, index=index, frontier=frontier,
                    target_alpha=cfg.target_alpha, embedder=embedder, novelty=cfg.novelty,
                    manifest=manifest)


def _refit(members: dict[str, Member], X: np.ndarray, y: np.ndarray, n_jobs: int
           ) -> dict[str, Member]:
    """The chosen members refitted (same kind, parameters, seed) on more rows; the acceptors
    stay as fitted on validation (calibration checks the pair as deployed)."""
    def one(member: Member) -> Member:
        model = member.model
        return Member(type(model)(seed=model.seed, **model.params).fit(X, y), member.acceptor)

    workers = max(1, min(n_jobs or (os.cpu_count() or 1), len(members)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return dict(zip(members, pool.map(one, members.values()), strict=True))


def _check_inputs(X: np.ndarray, y: np.ndarray, embedder: EmbedderRef,
                  is_calibration: np.ndarray | None, trace_ids: Sequence[str] | None) -> None:
    if X.ndim != 2 or len(X) != len(y):
        raise LearnError("X must be (n, d) with one label per row", shape=X.shape, n=len(y))
    if X.shape[1] != embedder.dim:
        raise EmbedderError("embedding width does not match the embedder", embedder=embedder.id,
                            width=X.shape[1])
    if not np.all(np.isfinite(X)):
        raise LearnError("X contains NaN or infinite values")
    if is_calibration is not None and len(is_calibration) != len(y):
        raise LearnError("is_calibration must have one flag per trace", n=len(is_calibration))
    if trace_ids is not None and len(trace_ids) != len(y):
        raise LearnError("trace_ids must have one id per trace", n=len(trace_ids))


def _calibration_mask(n: int, cfg: FitConfig, given: np.ndarray | None,
                      trace_ids: Sequence[str] | None, rng: np.random.Generator) -> np.ndarray:
    if given is not None:
        return np.asarray(given, dtype=bool)
    if trace_ids is not None:
        return calibration_partition(trace_ids, cfg.calibration_fraction)
    return rng.random(n) < cfg.calibration_fraction


def _manifest(cfg: FitConfig, embedder: EmbedderRef, labels: list[str], y_int: np.ndarray,
              cal_idx: np.ndarray, tr: np.ndarray, va: np.ndarray,
              trace_ids: Sequence[str] | None, parent_version: str | None,
              novel_cal: np.ndarray, index: CentroidIndex,
              candidates: dict[str, list[dict[str, object]]]) -> dict[str, Any]:
    ids = [str(t) for t in trace_ids] if trace_ids is not None else None
    digest = hashlib.blake2b(digest_size=16)
    for i in range(len(y_int)):
        digest.update(f"{ids[i] if ids else i}\t{labels[y_int[i]]}\n".encode())
    window: dict[str, Any] = {"count": len(y_int), "hash": digest.hexdigest()}
    if ids:
        window.update(first_id=ids[0], last_id=ids[-1],
                      calibration_ids_hash=hashlib.blake2b(
                          "\n".join(ids[i] for i in cal_idx).encode(), digest_size=16
                      ).hexdigest())
    return {
        "version": None,
        "parent_version": parent_version,
        "created_at": datetime.now(UTC).isoformat(),
        "embedder": embedder.to_dict() | {"id": embedder.id},
        "n_traces": len(y_int),
        "n_train": len(tr),
        "n_validation": len(va),
        "refit_on_validation": cfg.refit or cfg.acceptor_folds > 1,
        "acceptor_folds": cfg.acceptor_folds,
        "n_cal": len(cal_idx),
        "data_window": window,
        "labels": labels,
        "config": cfg.to_dict(),
        "grid_rule": (f"{cfg.grid_size} quantiles of validation acceptor scores, strict to "
                      "lenient, then -inf; the walk starts at the first threshold accepting "
                      "min_accepted calibration items (a share predicted on validation); "
                      "fixed before calibration disagreements are looked at"),
        "novelty": {"enabled": cfg.novelty, "quantile": cfg.novelty_quantile,
                    "threshold": index.threshold if cfg.novelty else None,
                    "calibration_novel": int(novel_cal.sum())},
        "selection": {"split": "validation", "candidates": candidates},
    }
