"""The outcome of a demo run, as shown in the summary and the report and saved as JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tracer_stream.demo.ledger import DayStats, LabelStats, clopper_pearson
from tracer_stream.demo.refits import Certificate, RefitResult

__all__ = ["DemoResult"]


def _day_dict(stats: DayStats, cost_per_call: float) -> dict[str, Any]:
    low, high = stats.handled_interval
    return {
        "day": stats.day, "requests": stats.sent, "answered": stats.answered,
        "handled": stats.handled, "coverage": stats.coverage, "deferred": stats.deferred,
        "fallback": stats.fallback, "dead_letters": stats.dead_letters,
        "llm_calls": stats.llm_calls, "audits": stats.audits,
        "handled_audited": stats.handled_audited, "llm_calls_avoided": stats.llm_calls_avoided,
        "llm_cost_usd": round(stats.llm_cost_usd, 6),
        "saved_usd": round(stats.saved_usd(cost_per_call), 6),
        "handled_agreement": stats.handled_agreement,
        "handled_agreement_ci95": [low, high] if stats.handled else None,
        "agreement_all_answers": stats.agreement, "gold_accuracy": stats.gold_accuracy,
        "versions": dict(stats.versions), "deferral_reasons": dict(stats.reasons),
    }


@dataclass
class DemoResult:
    """Everything a finished (or interrupted) run measured."""

    task: str
    alpha: float
    delta: float
    cost_per_call: float
    settings: dict[str, Any]
    days: list[DayStats]
    total: DayStats
    refits: list[RefitResult] = field(default_factory=list)
    certificates: dict[str, Certificate] = field(default_factory=dict)
    labels: list[LabelStats] = field(default_factory=list)
    wall_seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    day_seconds: dict[int, float] = field(default_factory=dict)
    day_started_at: dict[int, float] = field(default_factory=dict)
    versions: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Per version served: (handled, handled in agreement with the teacher)."""
    events: list[dict[str, Any]] = field(default_factory=list)
    """The task's registry history (promotions, gate closures, drift alarms), oldest first, each
    with the ``day`` it happened in and the requests of that day answered (``day_answered_before``)
    and handled by the surrogate (``day_handled_before``) until then."""
    completed: bool = True

    @property
    def handled_ok(self) -> bool:
        """Handled agreement ≥ α on every day the surrogate answered."""
        return all((d.handled_agreement or 0.0) >= self.alpha for d in self.days if d.handled)

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task, "alpha": self.alpha, "delta": self.delta,
            "cost_per_call_usd": self.cost_per_call, "settings": self.settings,
            "completed": self.completed, "wall_seconds": round(self.wall_seconds, 2),
            "phases_seconds": {k: round(v, 2) for k, v in self.phases.items()},
            "days": [{**_day_dict(d, self.cost_per_call),
                      "seconds": round(self.day_seconds.get(d.day, 0.0), 2)} for d in self.days],
            "total": _day_dict(self.total, self.cost_per_call),
            "handled_agreement_at_least_alpha_every_day": self.handled_ok,
            "refits": [r.to_dict() for r in self.refits],
            "events": self.events,
            "certificates": {v: c.to_dict() for v, c in self.certificates.items()},
            "versions": {v: {"handled": n, "handled_agreement": k / n if n else None,
                             "handled_agreement_ci95": list(clopper_pearson(k, n))}
                         for v, (n, k) in self.versions.items()},
            "labels": [{"label": s.label, "requests": s.requests, "handled": s.handled,
                        "coverage": s.coverage, "handled_agree": s.handled_agree}
                       for s in self.labels],
        }

    def write_json(self, path: Path) -> Path:
        path.write_bytes(orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2))
        return path
