"""Anytime-valid live monitor of handled agreement (``gate.md``, "Live monitor").

On audited requests the live gate accepted, xₜ = 1[surrogate ≠ teacher]. Under "parity holds"
(mean disagreement ≤ ε = 1 − α) each fixed-bet wealth ∏(1 + β(xᵢ − ε)), β ∈ [0, 1/ε), is a
non-negative supermartingale, and so is their average. Ville's inequality bounds the chance that
the average ever reaches 1/δ by δ: that is the alarm. The confidence sequence for the agreement
uses the same construction two-sided, for every candidate disagreement rate on a grid, and keeps
the running intersection.

>>> m = LiveMonitor(alpha=0.95, delta=0.05)
>>> for t in range(400):
...     m.update(disagree=(t % 5 == 0))         # 20% disagreement: parity is broken
>>> m.alarm, m.n, round(m.agreement, 2)
(True, 400, 0.8)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import LearnError

_BET_FRACTIONS = np.array([0.02, 0.05, 0.1, 0.25, 0.5])  # β·ε: fraction of wealth risked when x = 0
_GRID = np.linspace(0.00125, 0.99875, 400)  # candidate disagreement rates for the CS
# log-wealth increments of the confidence-sequence bets, for x = 0 and x = 1: up-bets
# β = c/m (≤ 1/m), down-bets β = c/(1 − m) (≤ 1/(1 − m)), for every candidate rate m
_UP = [np.log1p(_BET_FRACTIONS[None, :] / _GRID[:, None] * (x - _GRID[:, None])) for x in (0, 1)]
_DOWN = [np.log1p(-_BET_FRACTIONS[None, :] / (1.0 - _GRID[:, None]) * (x - _GRID[:, None]))
         for x in (0, 1)]


class LiveMonitor:
    """Betting test of "handled agreement ≥ α" with an anytime-valid confidence sequence.

    Parameters
    ----------
    alpha
        Agreement the deployed certificate promises.
    delta
        Risk level: under parity the alarm ever fires with probability ≤ δ.
    """

    def __init__(self, alpha: float = 0.95, delta: float = 0.05, *,
                 confidence_sequence: bool = True) -> None:
        if not (0.0 < alpha < 1.0 and 0.0 < delta < 1.0):
            raise LearnError("LiveMonitor needs alpha and delta in (0, 1)", alpha=alpha,
                             delta=delta)
        self.alpha = alpha
        self.delta = delta
        self._eps = 1.0 - alpha
        self._bets = _BET_FRACTIONS / self._eps
        self._log_wealth = np.zeros(_BET_FRACTIONS.size)
        # two-sided wealth per candidate rate m: up-bets β ≤ 1/m, down-bets β ≤ 1/(1 − m)
        self._log_up = np.zeros((_GRID.size, _BET_FRACTIONS.size))
        self._log_down = np.zeros((_GRID.size, _BET_FRACTIONS.size))
        self._excluded = np.zeros(_GRID.size, dtype=bool)
        self._alarm = False
        self._cs = confidence_sequence
        self.n = 0
        self.disagreements = 0

    def update(self, disagree: bool) -> None:
        """Add one audited, handled request: ``disagree`` = surrogate ≠ teacher."""
        x = 1 if disagree else 0
        self.n += 1
        self.disagreements += int(disagree)
        self._log_wealth += np.log1p(self._bets * (x - self._eps))
        if self.wealth >= 1.0 / self.delta:
            self._alarm = True
        if not self._cs:
            return
        self._log_up += _UP[x]
        self._log_down += _DOWN[x]
        hedged = 0.5 * (_mean_exp(self._log_up) + _mean_exp(self._log_down))
        self._excluded |= hedged >= 1.0 / self.delta

    def update_many(self, disagree: Sequence[bool], *, stop_at_alarm: bool = False) -> int:
        """Add several requests in order; with ``stop_at_alarm``, stop right after the one at
        which the alarm fires. Returns how many were added. Without a confidence sequence
        this is one vectorised step (what a per-request watch on a hot path needs)."""
        flags = np.asarray(disagree, dtype=float)
        if self._cs:
            for i, x in enumerate(flags):
                self.update(bool(x))
                if stop_at_alarm and self._alarm:
                    return i + 1
            return len(flags)
        if flags.size == 0:
            return 0
        log_w = self._log_wealth[None, :] + np.cumsum(
            np.log1p(self._bets[None, :] * (flags[:, None] - self._eps)), axis=0)
        hits = np.flatnonzero(_mean_exp(log_w) >= 1.0 / self.delta)
        used = int(hits[0]) + 1 if stop_at_alarm and hits.size else len(flags)
        self._log_wealth = log_w[used - 1].copy()
        self._alarm = self._alarm or bool(hits.size and hits[0] < used)
        self.n += used
        self.disagreements += int(flags[:used].sum())
        return used

    @property
    def wealth(self) -> float:
        """Current evidence against parity (average of the fixed-bet wealth processes)."""
        return float(_mean_exp(self._log_wealth[None, :])[0])

    @property
    def alarm(self) -> bool:
        """True once the wealth has reached 1/δ (sticky): close the gate and refit."""
        return self._alarm

    @property
    def agreement(self) -> float:
        """Point estimate of handled agreement (NaN before the first update)."""
        return 1.0 - self.disagreements / self.n if self.n else float("nan")

    @property
    def confidence_interval(self) -> tuple[float, float]:
        """Anytime-valid (1 − δ) confidence sequence for the handled agreement ((0, 1) for a
        monitor built without one)."""
        if not self._cs:
            return (0.0, 1.0)
        kept = _GRID[~self._excluded]
        if kept.size == 0:  # only possible with probability ≤ δ; report the point estimate
            return (self.agreement, self.agreement)
        step = float(_GRID[1] - _GRID[0])
        lo_rate = max(0.0, float(kept.min()) - step)
        hi_rate = min(1.0, float(kept.max()) + step)
        return (1.0 - hi_rate, 1.0 - lo_rate)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state for persistence."""
        return {
            "alpha": self.alpha, "delta": self.delta, "n": self.n,
            "confidence_sequence": self._cs,
            "disagreements": self.disagreements, "alarm": self._alarm,
            "log_wealth": self._log_wealth.tolist(),
            "log_up": self._log_up.tolist(), "log_down": self._log_down.tolist(),
            "excluded": np.flatnonzero(self._excluded).tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LiveMonitor:
        m = cls(alpha=float(data["alpha"]), delta=float(data["delta"]),
                confidence_sequence=bool(data.get("confidence_sequence", True)))
        m.n = int(data["n"])
        m.disagreements = int(data["disagreements"])
        m._alarm = bool(data["alarm"])
        m._log_wealth = np.asarray(data["log_wealth"], dtype=float)
        m._log_up = np.asarray(data["log_up"], dtype=float).reshape(m._log_up.shape)
        m._log_down = np.asarray(data["log_down"], dtype=float).reshape(m._log_down.shape)
        m._excluded[np.asarray(data["excluded"], dtype=int)] = True
        return m


def _mean_exp(log_w: np.ndarray) -> np.ndarray:
    """Row-wise mean of exp(log_w); capped at e^700 (far above any 1/δ) to avoid overflow."""
    return np.exp(np.minimum(log_w, 700.0)).mean(axis=1)
