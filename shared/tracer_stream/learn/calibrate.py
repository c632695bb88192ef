"""Turning a chosen candidate into a certified (or closed) policy on the calibration split.

Grids come from validation scores (fixed before calibration); each stage's walk is
:func:`~.gate.certify`. Global is the single test at λ = −∞, L2D one walk at δ, RSB one walk per
stage at δ/2 with stage 2 calibrated on the calibration items stage 1 did not accept. Per-label
mode runs one walk per predicted label at δ / L.
"""

from __future__ import annotations

import math

import numpy as np

from .forecast import start_share
from .gate import NEG_INF, GateResult, certify, threshold_grid
from .policy import NEVER, Policy, Signals, Stage
from .selection import Candidate, ValidationView


def calibrate(
    cand: Candidate, *, cal: dict[str, Signals], y_cal: np.ndarray,
    val_scores: dict[str, np.ndarray], views: dict[str, ValidationView], alpha: float,
    delta: float, grid_size: int,
    n_labels: int, predictable: dict[str, int], per_label: bool = False,
    residual: np.ndarray | None = None,
) -> Policy:
    """Certify ``cand`` at (α, δ).

    Parameters
    ----------
    cal
        Signals of every member on the calibration rows (scores NaN for novel rows).
    y_cal
        Teacher label ids of the calibration rows (ids the surrogate never saw always disagree).
    val_scores
        Deployed acceptor scores of every member on the validation rows (the grids).
    views
        Honest (cross-fitted) validation scores and disagreements (where each walk starts).
        Grids and starting points are fixed before calibration is looked at.
    n_labels
        Size of the label space.
    predictable
        Labels each member was trained on (L of the per-label δ / L, fixed before calibration).
    residual
        Validation rows stage 1 is expected to defer (RSB's stage-2 grid).
    """
    first = cand.members[0]
    sig1 = cal[first]
    err1 = sig1.pred != y_cal
    stages: list[Stage]
    if per_label:
        stages = [_per_label_stage(first, sig1, err1, val_scores[first], views[first], alpha,
                                   delta, max(predictable[first], 1), n_labels, grid_size)]
    else:
        d1 = delta / 2 if cand.family == "rsb" else delta
        if cand.family == "global":
            grid, start = np.array([NEG_INF]), 0
        else:
            grid, share = _walk_grid(val_scores[first], views[first], None, alpha, d1,
                                     len(y_cal), grid_size)
            start = round(share * len(y_cal))
        gate1 = certify(sig1.score, err1, grid, alpha=alpha, delta=d1, min_accepted=start)
        stages = [_stage(first, gate1, len(grid))]
    if cand.family == "rsb":
        second = cand.members[1]
        rest = ~stages[0].accepts(sig1)
        sig2 = cal[second]
        keep = np.ones(len(val_scores[second]), bool) if residual is None else residual
        # the expected stage-2 calibration size, from validation (fixed before calibration)
        n2 = round(len(y_cal) * keep.mean())
        grid2, share2 = _walk_grid(val_scores[second], views[second], keep, alpha, delta / 2,
                                   n2, grid_size)
        # the start counts items of the stage-2 set itself (whose size stage 1 decided)
        gate2 = certify(sig2.score[rest], (sig2.pred != y_cal)[rest], grid2, alpha=alpha,
                        delta=delta / 2, n_cal=len(y_cal),
                        min_accepted=round(share2 * int(rest.sum())))
        stages.append(_stage(second, gate2, len(grid2)))
    certified = any(s.gate.certified for s in stages)
    policy = Policy(
        alpha=alpha, delta=delta, family=cand.family, stages=stages, certified=certified,
        reason=None if certified else stages[0].gate.reason,
        traces_needed=0 if certified else stages[0].gate.traces_needed,
        calibration={}, validation=cand.describe(),
    )
    policy.calibration = summary(policy, cal, y_cal)
    return policy


def _walk_grid(scores: np.ndarray, view: ValidationView, rows: np.ndarray | None, alpha: float,
               delta: float, n_cal: int, grid_size: int) -> tuple[np.ndarray, float]:
    """(grid, start share): the quantile grid of the deployed validation scores, and the
    acceptance share at which the walk starts, predicted on the honest validation scores for
    ``n_cal`` items (:func:`~.forecast.start_share`).

    Callers hand the start to the gate as a count of accepted calibration items
    (``round(share · n)``), not as a threshold: the refitted surrogate is more confident than
    the one that scored validation, so a validation threshold accepts more calibration items
    than its validation share says. Neither looks at calibration disagreements."""
    keep = np.ones(len(scores), dtype=bool) if rows is None else rows
    honest, errors = view.score[keep], view.errors[keep]
    begin = start_share(honest, errors, threshold_grid(honest, grid_size), alpha=alpha,
                        delta=delta, n_cal=n_cal)
    return threshold_grid(scores[keep], grid_size), begin


def _stage(member: str, gate: GateResult, grid_size: int) -> Stage:
    thr = gate.threshold if gate.threshold is not None else NEVER
    return Stage(member=member, threshold=thr, gate=gate, grid_size=grid_size)


def _per_label_stage(member: str, sig: Signals, err: np.ndarray, val_scores: np.ndarray,
                     view: ValidationView, alpha: float, delta: float, n_tests: int,
                     n_labels: int, grid_size: int) -> Stage:
    """One walk per predicted label at δ / L (L = ``n_tests``, the labels the member can
    predict, fixed before calibration), each with its own validation grid and start; the
    stage gate pools them."""
    labels = np.unique(sig.pred)
    per_delta = delta / n_tests
    thresholds = np.full(n_labels, NEVER)
    needed: list[int] = []
    for lab in labels:
        rows = sig.pred == lab
        val_rows = view.pred == lab
        grid, share = (_walk_grid(val_scores, view, val_rows, alpha, per_delta,
                                  int(rows.size * val_rows.mean()), grid_size)
                       if val_rows.any() else (np.array([NEG_INF]), 0.0))
        # the start counts this label's calibration rows (predictions only, no teacher labels)
        gate = certify(sig.score[rows], err[rows], grid, alpha=alpha, delta=per_delta,
                       min_accepted=round(share * int(rows.sum())))
        if gate.threshold is not None:
            thresholds[lab] = gate.threshold
        elif gate.traces_needed is not None:
            # traces of this label needed, scaled to all traffic by the label's share
            needed.append(math.ceil(gate.traces_needed * len(rows) / rows.sum()))
    gate = _pooled_gate(sig, err, thresholds, alpha, delta, needed)
    return Stage(member=member, threshold=NEVER, gate=gate, grid_size=grid_size,
                 label_thresholds=thresholds)


def _pooled_gate(sig: Signals, err: np.ndarray, thresholds: np.ndarray, alpha: float,
                 delta: float, needed: list[int]) -> GateResult:
    with np.errstate(invalid="ignore"):
        acc = np.asarray(sig.score >= thresholds[sig.pred], dtype=bool)
    n_acc, k = int(acc.sum()), int(err[acc].sum())
    certified = bool(np.isfinite(thresholds).any())
    return GateResult(
        alpha=alpha, delta=delta, certified=certified, threshold=None, n_cal=len(err),
        n_accepted=n_acc, disagreements=k, coverage=n_acc / max(len(err), 1),
        agreement=1.0 - k / n_acc if n_acc else None, p_value=None, n_min=0, n_tested=0,
        reason=None if certified else "no_label_certified",
        traces_needed=0 if certified else (min(needed) if needed else None),
    )


def summary(policy: Policy, cal: dict[str, Signals], y_cal: np.ndarray) -> dict[str, object]:
    """What the policy does on the calibration rows: counts, coverage, empirical agreement."""
    labels, accepted, _ = policy.decide(cal)
    n_acc = int(accepted.sum())
    k = int((labels[accepted] != y_cal[accepted]).sum())
    return {
        "n_cal": len(y_cal), "n_accepted": n_acc, "disagreements": k,
        "coverage": n_acc / len(y_cal) if len(y_cal) else 0.0,
        "agreement": 1.0 - k / n_acc if n_acc else None,
    }
