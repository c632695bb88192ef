"""RSB (two stages, δ/2 each, stage 2 calibrated on what stage 1 did not accept): in a world
with two surrogates whose disagreement curves are known, the combined handled disagreement of
the certified policy exceeds ε in at most a δ share of calibration draws."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom

from tracer_stream.learn.calibrate import calibrate
from tracer_stream.learn.policy import Signals
from tracer_stream.learn.selection import ValidationView, choose

pytestmark = [pytest.mark.unit, pytest.mark.slow]

ALPHA, DELTA, N_CAL, N_VAL, DRAWS = 0.90, 0.05, 1000, 1000, 300
_fine = np.linspace(0.0, 1.0, 4001)
CURVES = {"a": lambda s: 0.35 * (1.0 - s) ** 2, "b": lambda s: 0.3 * (1.0 - s) ** 1.5}


def _draw(n: int, rng: np.random.Generator) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    scores = {m: rng.random(n) for m in CURVES}
    errors = {m: rng.random(n) < CURVES[m](scores[m]) for m in CURVES}
    return scores, errors


def _true_risk(first: str, second: str, lam1: float, lam2: float) -> float:
    """Handled disagreement with independent uniform scores (exact up to the fine grid)."""
    r1, r2 = CURVES[first](_fine), CURVES[second](_fine)
    in1, in2 = _fine >= lam1, _fine >= lam2
    p1, p2 = in1.mean(), in2.mean()
    bad = (r1 * in1).mean() + (1 - p1) * (r2 * in2).mean()
    handled = p1 + (1 - p1) * p2
    return bad / handled if handled else 0.0


def test_rsb_violation_rate_is_at_most_delta():
    rng = np.random.default_rng(11)
    bad = deployed = used_two = 0
    for _ in range(DRAWS):
        vs, ve = _draw(N_VAL, rng)
        views = {m: ValidationView(np.zeros(N_VAL, int), vs[m], ve[m]) for m in CURVES}
        cand, _ = choose(views, families=("rsb",), alpha=ALPHA, delta=DELTA, n_cal=N_CAL,
                         grid_size=100)
        cs, ce = _draw(N_CAL, rng)
        cal = {m: Signals(pred=ce[m].astype(int), score=cs[m]) for m in CURVES}
        residual = None
        if cand.stage1_threshold is not None:
            residual = ~(vs[cand.members[0]] >= cand.stage1_threshold)
        pol = calibrate(cand, cal=cal, y_cal=np.zeros(N_CAL, int), val_scores=vs, views=views,
                        alpha=ALPHA, delta=DELTA, grid_size=100, n_labels=2,
                        predictable={"a": 2, "b": 2}, residual=residual)
        if not pol.certified:
            continue
        deployed += 1
        s1, s2 = pol.stages
        used_two += s2.gate.certified
        risk = _true_risk(s1.member, s2.member, s1.threshold, s2.threshold)
        bad += risk > 1.0 - ALPHA
    assert deployed > DRAWS // 2 and used_two > DRAWS // 4
    assert bad <= binom.ppf(0.999, DRAWS, DELTA), f"{bad}/{deployed} violations"
