"""Anytime-valid live monitor of handled agreement whose detection does not age.

On audited requests the live gate accepted, xₜ = 1[surrogate ≠ teacher]. The promise is
"parity holds": every conditional disagreement rate pₜ = P(xₜ = 1 | past) is ≤ ε = 1 − α.

**Test.** The wealth is a weighted average of K betting processes ∏ᵢ (1 + λₖ,ᵢ (xᵢ − ε))
(:data:`COMPONENTS`, weights summing to 1). Each bet λₖ,ᵢ ∈ [0, c/ε] (c = :data:`CAP` < 1) is
*predictable*: a function of x₁ … xᵢ₋₁ only — the shrunk plug-in (Kelly) bet of component k on
its last Wₖ flags, set to 0 while a gated component's suspicion before xᵢ is below its gate
(:func:`bets`). Under parity E[1 + λ(xᵢ − ε) | past] = 1 + λ(pᵢ − ε) ≤ 1, so every process,
and their average, is a non-negative supermartingale starting at 1, and Ville's inequality
bounds the chance that the average *ever* reaches 1/δ by δ: that is the alarm, valid however
long the version serves and however the rate moves inside the null.

**Why it does not age.** Fixed bets lose a little on every request while the model is better
than promised (the old monitor had wealth ≈ 1e-21 after 7,000 audited requests, so a change
then needed thousands of requests just to climb back). A plug-in bet is ≈ 0 while the recent
disagreement is below ε (the margin κ of each component shrinks the estimate by κ standard
errors), so the wealth stays near 1 and a change later is detected about as fast as at
deployment. The fast bets (short window, κ = 0) still lose on every false start, which adds
up over a long life; gated by the suspicion (a CUSUM that forgets good news,
:func:`suspicion_log_paths`) they bet only after a run of disagreements, so they keep their
wealth for the break that comes late. ``bench/b7_monitor.py`` measures the age profile and the
trade-off of the designs.

**Interval.** :attr:`LiveMonitor.confidence_interval` is an anytime-valid (1 − δ) confidence
sequence for the *running mean* of the conditional agreement rates of the audited requests so
far, valid when the rate changes (Robbins' normal mixture with Hoeffding's bound; see the
property). It is not an interval for the current rate.

>>> m = LiveMonitor(alpha=0.95, delta=0.05)
>>> for t in range(400):
...     m.update(disagree=(t % 5 == 0))         # 20% disagreement: parity is broken
>>> m.alarm, m.n, round(m.agreement, 2), m.wealth_at_alarm >= 20
(True, 400, 0.8, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..errors import LearnError

WINDOWS = (50, 200, 800)
"""Look-back windows (audited requests) of the plug-in bets."""
CAP = 0.5
"""Largest fraction of wealth a bet risks on an agreeing request (λε ≤ CAP)."""
_PRIOR = 10.0  # pseudo-observations at ε in every plug-in estimate
_STATE_FORMAT = 3


@dataclass(frozen=True)
class Bet:
    """One betting process of the monitor.

    ``window``: audited requests its plug-in estimate looks back on (one of :data:`WINDOWS`);
    ``kappa``: shrinkage of the estimate in standard errors under parity (larger bets later and
    loses less while the model is fine); ``gate``: it bets only while the log-suspicion before
    the request is ≥ ``gate`` (0: always); ``weight``: its share of the starting wealth.
    """

    window: int
    kappa: float
    gate: float = 0.0
    weight: float = 1.0


GATE = 2.0
"""log-suspicion the aggressive bets wait for (suspicion ≥ e² ≈ 7.4)."""
COMPONENTS = (Bet(50, 0.0, GATE, 0.1), Bet(50, 1.0, GATE, 0.1), Bet(200, 0.0, GATE, 0.3),
              Bet(200, 1.0, 0.0, 0.3), Bet(800, 0.0, 0.0, 0.1), Bet(800, 1.0, 0.0, 0.1))
"""The default processes: the short-window and κ = 0 bets react fast but lose a little on
every false start, so they bet only while the suspicion is high (a model that keeps its
promise rarely gets there, so they no longer age); the slow bets that catch moderate breaks
carry most of the weight (a fast break pays little for a small weight: it earns evidence fast)."""
UNGATED = tuple(Bet(w, k) for w in WINDOWS for k in (0.0, 1.0))
"""The earlier design (every bet always on, equal weights): ``bench/b7_monitor.py``'s baseline."""


def deployment_delta(delta: float, k: int) -> float:
    """δₖ = δ(1/√k − 1/√(k + 1)) for the k-th live monitor of a task (k ≥ 1): the δₖ
    telescope to Σ δₖ = δ, and decay like δ/(2k^1.5), more slowly than the gate's δ·6/(π²k²)
    (:func:`tracer_stream.learn.spend_delta`), so later deployments keep more of the budget.

    >>> round(deployment_delta(0.05, 1), 4), round(deployment_delta(0.05, 10), 6)
    (0.0146, 0.000736)
    >>> round(sum(deployment_delta(0.05, k) for k in range(1, 10_000)), 4)  # δ(1 − 1/100)
    0.0495
    """
    if k < 1:
        raise LearnError("deployments are counted from 1", k=k)
    return delta * (1.0 / math.sqrt(k) - 1.0 / math.sqrt(k + 1))


def bets(recent: np.ndarray, flags: np.ndarray, eps: float,
         components: Sequence[Bet] = COMPONENTS, log_suspicion: np.ndarray | float = 0.0
         ) -> np.ndarray:
    """Bet λ of every component on every flag, from the flags before it only.

    ``recent``: (R, H) the last H ≤ max(WINDOWS) flags before ``flags`` (R, T), per stream;
    ``log_suspicion``: the log-suspicion (R,) before ``flags``. Returns (K, R, T).

    >>> bets(np.zeros((1, 0)), np.ones((1, 3)), 0.05).shape
    (6, 1, 3)
    """
    z = np.concatenate([recent, flags], axis=1).astype(float)
    cs = np.concatenate([np.zeros((z.shape[0], 1)), np.cumsum(z, axis=1)], axis=1)
    now = recent.shape[1] + np.arange(flags.shape[1])  # index in z of each flag
    start_s = np.broadcast_to(np.asarray(log_suspicion, dtype=float), (flags.shape[0],))
    before = np.c_[start_s, suspicion_log_paths(flags, 1.0 - eps, start_s)[:, :-1]]
    sd_scale = np.sqrt(eps * (1.0 - eps))
    out = []
    for c in components:
        start = np.maximum(now - c.window, 0)
        n = (now - start) + _PRIOR
        mean = (cs[:, now] - cs[:, start] + eps * _PRIOR) / n
        shrunk = mean - c.kappa * sd_scale / np.sqrt(n)
        lam = np.clip((shrunk - eps) / (eps * (1.0 - eps)), 0.0, CAP / eps)
        out.append(lam * (before >= c.gate))
    return np.stack(out)


def advance(log_wealth: np.ndarray, recent: np.ndarray, flags: np.ndarray, eps: float,
            components: Sequence[Bet] = COMPONENTS, log_suspicion: np.ndarray | float = 0.0
            ) -> np.ndarray:
    """log-wealth of every component after each of ``flags`` (R, T), from ``log_wealth``
    (K, R) with the flags ``recent`` (R, H) and the log-suspicion ``log_suspicion`` (R,)
    before them: (K, R, T).

    >>> advance(np.zeros((6, 1)), np.zeros((1, 0)), np.zeros((1, 4)), 0.05)[:, 0, -1].tolist()
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    """
    lam = bets(recent, flags, eps, components, log_suspicion)
    steps = np.log1p(lam * (np.asarray(flags, dtype=float)[None] - eps))
    return log_wealth[:, :, None] + np.cumsum(steps, axis=2)


def log_wealth_paths(flags: np.ndarray, alpha: float, components: Sequence[Bet] = COMPONENTS
                     ) -> np.ndarray:
    """log of the monitor's wealth after each flag of fresh streams ``flags`` (R, T): the
    vectorised form of :meth:`LiveMonitor.update_many`, for simulations.

    >>> float(log_wealth_paths(np.zeros((1, 5)), 0.95)[0, -1])
    0.0
    """
    start = np.zeros((len(components), flags.shape[0]))
    return log_mix(advance(start, np.zeros((flags.shape[0], 0)), flags, 1.0 - alpha,
                           components), components)


def suspicion_log_paths(flags: np.ndarray, alpha: float, start: np.ndarray | float = 0.0
                        ) -> np.ndarray:
    """log of the suspicion after each flag of ``flags`` (R, T), from log-suspicion ``start``.

    The suspicion is a CUSUM: Cₜ = max(0, Cₜ₋₁ + log(1 + λ(xₜ − ε))) with the Kelly bet
    λ = 1/(1 − ε) against a disagreement of 2ε (a disagreement roughly doubles it, an agreement
    shrinks it by a factor 1 − ε/(1 − ε)). Unlike the wealth it forgets old good news, so it
    reacts within a few dozen audits; it only steers the audit rate, never the alarm.

    >>> np.round(np.exp(suspicion_log_paths(np.array([[1, 0, 0, 1]]), 0.95)), 3).tolist()
    [[2.0, 1.895, 1.795, 3.59]]
    """
    eps = 1.0 - alpha
    steps = np.log1p((np.asarray(flags, dtype=float) - eps) / (1.0 - eps))
    cum = np.cumsum(steps, axis=-1)
    floor = np.minimum(-np.expand_dims(np.asarray(start, dtype=float), -1),
                       np.minimum.accumulate(cum, axis=-1))
    return cum - floor


RAMP = 3.0
"""Exponent of the audit-rate ramp: the rate is ρ × evidence^RAMP (rounded down to a power of
two), so one disagreement above the CUSUM's floor (evidence 2) already multiplies it by 8."""


def suspicion_audit_rate(evidence: float, base: float, cap: float, ramp: float = RAMP
                         ) -> float:
    """Audit rate for a task whose monitor reports ``evidence`` (the larger of its wealth and
    its CUSUM suspicion): the base rate ρ times evidence^``ramp`` rounded down to a power of
    two, between ρ and ``cap`` (up to 1: every handled request audited).

    The rate is chosen from past audits only, before a request is seen, so audited requests
    stay a sample of traffic and the monitor's test stays valid. The cost while the model keeps
    its promise: an audit at rate r takes 1/r requests, so audits per request are at most ρ
    over the share of audits made at the base rate, however high the cap — a boost costs
    requests only while it lasts, and it lasts only while the evidence stays ≥ 2 (under the
    promise the wealth has E[W] ≤ 1, and for independent audits the CUSUM is ≥ 2 at a given
    audit with probability ≤ 1/2; both drift back down). ``bench/b7_monitor.py`` measures it.

    >>> [suspicion_audit_rate(s, 0.02, 1.0) for s in (0.3, 1.9, 2.0, 3.0, 4.0, float("inf"))]
    [0.02, 0.02, 0.16, 0.32, 1.0, 1.0]
    >>> suspicion_audit_rate(3.0, 0.02, 0.25, ramp=1.0)
    0.04
    """
    if not evidence >= 2.0 or base <= 0.0:  # no evidence, or a task that audits nothing
        return base
    top = math.log2(max(cap / base, 1.0)) + 1.0  # doublings past the cap
    level = 2.0 ** math.floor(min(ramp * math.log2(evidence), top))
    return max(base, min(cap, base * level))


class LiveMonitor:
    """Betting test of "handled agreement ≥ α" with an anytime-valid confidence sequence.

    Parameters
    ----------
    alpha
        Agreement the deployed certificate promises.
    delta
        Risk level: under parity the alarm ever fires with probability ≤ δ.
    components
        The betting processes (:data:`COMPONENTS`); any choice keeps the guarantee.
    """

    def __init__(self, alpha: float = 0.95, delta: float = 0.05, *,
                 components: Sequence[Bet] = COMPONENTS) -> None:
        if not (0.0 < alpha < 1.0 and 0.0 < delta < 1.0):
            raise LearnError("LiveMonitor needs alpha and delta in (0, 1)", alpha=alpha,
                             delta=delta)
        self.alpha = alpha
        self.delta = delta
        if not components or any(c.weight <= 0 or c.window not in WINDOWS
                                 for c in components):
            raise LearnError("LiveMonitor needs bets with positive weights on its windows",
                             windows=WINDOWS)
        self.components = tuple(components)
        self._eps = 1.0 - alpha
        self._log_wealth = np.zeros(len(self.components))
        self._recent = np.zeros(0, dtype=np.int8)
        self._log_suspicion = 0.0
        self._alarm = False
        self.wealth_at_alarm: float | None = None
        """The wealth at the request where it first reached 1/δ."""
        self.alarm_n: int | None = None
        """How many audited requests the alarm took."""
        self.n = 0
        self.disagreements = 0

    def update(self, disagree: bool) -> None:
        """Add one audited, handled request: ``disagree`` = surrogate ≠ teacher."""
        self.update_many([disagree])

    def update_many(self, disagree: Sequence[bool], *, stop_at_alarm: bool = False) -> int:
        """Add several requests in order (one vectorised step); with ``stop_at_alarm``, stop
        right after the one at which the alarm fires. Returns how many were added."""
        flags = np.asarray(disagree, dtype=float).reshape(-1)
        if flags.size == 0:
            return 0
        log_w = advance(self._log_wealth[:, None], self._recent[None, :], flags[None, :],
                        self._eps, self.components, np.array([self._log_suspicion]))[:, 0, :]
        mixed = log_mix(log_w, self.components)
        hits = np.flatnonzero(mixed >= np.log(1.0 / self.delta))
        used = int(hits[0]) + 1 if stop_at_alarm and hits.size else flags.size
        if hits.size and not self._alarm:
            self._alarm = True
            self.wealth_at_alarm = _exp(float(mixed[hits[0]]))
            self.alarm_n = self.n + int(hits[0]) + 1
        self._log_wealth = log_w[:, used - 1].copy()
        self._log_suspicion = float(suspicion_log_paths(flags[:used], self.alpha,
                                                        self._log_suspicion)[-1])
        self._recent = np.concatenate([self._recent, flags[:used].astype(np.int8)]
                                      )[-max(WINDOWS):]
        self.n += used
        self.disagreements += int(flags[:used].sum())
        return used

    @property
    def wealth(self) -> float:
        """Current evidence against parity (weighted average of the betting processes)."""
        return _exp(float(log_mix(self._log_wealth, self.components)))

    @property
    def suspicion(self) -> float:
        """The CUSUM suspicion (:func:`suspicion_log_paths`): steers the audit rate and wakes
        the gated bets, never raises the alarm itself."""
        return float(np.exp(self._log_suspicion))

    @property
    def alarm(self) -> bool:
        """True once the wealth has reached 1/δ (sticky): close the gate and refit."""
        return self._alarm

    @property
    def agreement(self) -> float:
        """Point estimate of handled agreement (NaN before the first update)."""
        return 1.0 - self.disagreements / self.n if self.n else float("nan")

    def recent_agreement(self, last: int = WINDOWS[0]) -> float:
        """Agreement over the ``last`` audited requests (NaN before the first update)."""
        recent = self._recent[-last:]
        return 1.0 - float(recent.mean()) if recent.size else float("nan")

    @property
    def confidence_interval(self) -> tuple[float, float]:
        """Anytime-valid (1 − δ) confidence sequence for the running mean of the conditional
        agreement rates so far (a constant rate is a special case).

        Sₜ = Σ(xᵢ − pᵢ) has increments in an interval of length 1, so exp(λSₜ − λ²t/8) is a
        supermartingale for every λ (Hoeffding); its mixture over λ ~ N(0, 1/ρ) reaches 1/δ
        exactly when |Sₜ| ≥ √(2(t/4 + ρ) log(√((t/4 + ρ)/ρ)/δ)), so with probability ≥ 1 − δ
        that never happens and the interval below always covers the running mean.

        >>> m = LiveMonitor(); m.update_many([False] * 1000)
        1000
        >>> [round(v, 3) for v in m.confidence_interval]
        [0.952, 1.0]
        """
        if not self.n:
            return (0.0, 1.0)
        v = self.n / 4.0 + _RHO
        half = float(np.sqrt(2.0 * v * np.log(np.sqrt(v / _RHO) / self.delta))) / self.n
        return (max(0.0, self.agreement - half), min(1.0, self.agreement + half))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state for persistence."""
        return {
            "format": _STATE_FORMAT, "alpha": self.alpha, "delta": self.delta,
            "components": [asdict(c) for c in self.components], "n": self.n,
            "disagreements": self.disagreements,
            "alarm": self._alarm, "wealth_at_alarm": self.wealth_at_alarm,
            "alarm_n": self.alarm_n, "log_wealth": self._log_wealth.tolist(),
            "log_suspicion": self._log_suspicion,
            "recent": "".join("1" if x else "0" for x in self._recent),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LiveMonitor:
        """The monitor saved by :meth:`to_dict` (LearnError for another format)."""
        if data.get("format") != _STATE_FORMAT:
            raise LearnError("saved live monitor has an older format", format=data.get("format"))
        m = cls(alpha=float(data["alpha"]), delta=float(data["delta"]),
                components=[Bet(**c) for c in data["components"]])
        m.n = int(data["n"])
        m.disagreements = int(data["disagreements"])
        m._alarm = bool(data["alarm"])
        m.wealth_at_alarm = data.get("wealth_at_alarm")
        m.alarm_n = data.get("alarm_n")
        m._log_wealth = np.asarray(data["log_wealth"], dtype=float)
        m._log_suspicion = float(data["log_suspicion"])
        m._recent = np.array([c == "1" for c in data["recent"]], dtype=np.int8)
        return m


_RHO = 25.0  # mixture precision of the confidence sequence: tightest near t ≈ 100–1,000


def _exp(log_value: float) -> float:
    """exp, capped at e^700 (far above any 1/δ) to stay finite."""
    return math.exp(min(log_value, 700.0))


def log_mix(log_w: np.ndarray, components: Sequence[Bet] = COMPONENTS) -> np.ndarray:
    """log of the weighted mean over axis 0 (one row per component) of exp(log_w), stably."""
    w = np.array([c.weight for c in components], dtype=float)
    w = (w / w.sum()).reshape((-1,) + (1,) * (log_w.ndim - 1))
    top = log_w.max(axis=0)
    return top + np.log((np.exp(log_w - top) * w).sum(axis=0))
