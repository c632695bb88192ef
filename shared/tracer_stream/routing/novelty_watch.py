"""The router's watch on the rate of novel inputs (an early shift alarm).

The learning core calibrates its novelty test so that a fraction 1 − q of in-distribution inputs
is novel (q = ``novelty.quantile`` in the model manifest, default 0.995). When the traffic
shifts away from what the served version was trained on, far more inputs are deferred as
``novel_input`` — and the router sees every request, long before the trainer's detectors (which
see only the deferred and audited traces) or the audit-based live monitor can tell.

Per task and served version, every request the surrogate actually scored with a certified
policy and an open gate is one draw x = 1[deferred as ``novel_input``]. The watch tests the null
"novel rate ≤ b" with b = max(factor·(1 − q), floor) by the anytime-valid betting test of
:class:`tracer_stream.learn.LiveMonitor` (mean of x ≤ ε, here ε = b, i.e. ``alpha = 1 − b``):
under the null the alarm ever fires with probability ≤ δ, however long the version serves.
The alarm fires at most once per task and version in a router process; the service writes it to
the registry (:meth:`tracer_stream.registry.Registry.raise_alarm`) for the trainer to act on.

It is an operational trigger, not part of the guarantee (``docs/gate.md``): a false alarm costs LLM
calls (the trainer closes the gate and recalibrates), never validity.

>>> watch = NoveltyWatch(delta=0.01, rate_floor=0.03)
>>> watch.bound({"novelty": {"enabled": True, "quantile": 0.995}})
0.03
>>> alarms = [watch.observe("t", "v1", 0.03, [i % 10 == 0 for i in range(j, j + 50)])
...           for j in range(0, 600, 50)]             # 10% novel against b = 3%
>>> [a.scored for a in alarms if a is not None]       # one alarm for the version
[131]
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tracer_stream.learn import LiveMonitor

DETECTOR = "novel_rate"
SOURCE = "router"


@dataclass(frozen=True)
class NoveltyAlarm:
    """One alarm: the novel rate of ``task``'s version ``version`` exceeds ``bound``."""

    task: str
    version: str
    bound: float
    scored: int
    novel: int
    wealth: float
    at: float

    @property
    def rate(self) -> float:
        return self.novel / self.scored if self.scored else 0.0

    @property
    def detail(self) -> str:
        return (f"{self.novel} of {self.scored} scored requests novel ({self.rate:.1%}), "
                f"above the bound {self.bound:.1%} (wealth {self.wealth:.0f})")

    def statistics(self) -> dict[str, Any]:
        """The test's numbers at the alarm (recorded with it in the registry)."""
        return {"bound": self.bound, "scored": self.scored, "novel": self.novel,
                "rate": self.rate, "wealth": self.wealth}


@dataclass
class _Watch:
    version: str
    bound: float
    monitor: LiveMonitor
    alarmed: bool = False
    scored: int = 0
    novel: int = 0


class NoveltyWatch:
    """Per task, the betting test of "novel rate ≤ b" for the version it serves.

    Parameters
    ----------
    delta
        Risk level of the test: under the null the alarm ever fires with probability ≤ δ.
        0 disables the watch.
    rate_floor
        Least bound b (the novelty calibration itself is estimated: its realised rate on
        in-distribution traffic can be several times 1 − q).
    rate_factor
        b = max(rate_factor · (1 − q), rate_floor).
    """

    def __init__(self, *, delta: float = 0.01, rate_floor: float = 0.03,
                 rate_factor: float = 3.0) -> None:
        self.delta = delta
        self.rate_floor = rate_floor
        self.rate_factor = rate_factor
        self._watches: dict[str, _Watch] = {}

    @property
    def enabled(self) -> bool:
        return self.delta > 0

    def bound(self, manifest: Mapping[str, Any]) -> float | None:
        """b for a model manifest, or None when its novelty test is off (nothing to watch)."""
        novelty = manifest.get("novelty")
        if not self.enabled or not isinstance(novelty, Mapping) or not novelty.get("enabled"):
            return None
        try:
            q = float(novelty.get("quantile", 0.995))
        except (TypeError, ValueError):
            return None
        if not 0.0 < q < 1.0:
            return None
        b = max(self.rate_factor * (1.0 - q), self.rate_floor)
        return b if b < 1.0 else None

    def observe(self, task: str, version: str, bound: float, novel: Sequence[bool]
                ) -> NoveltyAlarm | None:
        """Add the scored requests of one batch; the alarm when it fires now (once per task and
        version), else None."""
        watch = self._watches.get(task)
        if watch is None or watch.version != version or watch.bound != bound:
            watch = _Watch(version, bound, LiveMonitor(alpha=1.0 - bound, delta=self.delta))
            self._watches[task] = watch
        watch.scored += len(novel)
        watch.novel += sum(bool(x) for x in novel)
        if watch.alarmed:  # the test stops at its alarm; the counts go on for the gauge
            return None
        m = watch.monitor
        m.update_many(novel, stop_at_alarm=True)
        if not m.alarm:
            return None
        watch.alarmed = True
        return NoveltyAlarm(task=task, version=version, bound=bound, scored=m.n,
                            novel=m.disagreements, wealth=m.wealth, at=time.time())

    def rates(self) -> dict[str, float]:
        """Watched novel rate per task (since its version's watch began; NaN before any)."""
        return {task: (w.novel / w.scored if w.scored else math.nan)
                for task, w in self._watches.items()}

    def summary(self, task: str) -> dict[str, Any] | None:
        w = self._watches.get(task)
        if w is None:
            return None
        m = w.monitor
        return {"version": w.version, "bound": w.bound, "delta": self.delta, "scored": m.n,
                "novel": m.disagreements, "wealth": m.wealth, "alarm": w.alarmed}
