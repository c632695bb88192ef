"""What the demo sent and what came back, and the numbers it shows.

The demo knows the teacher's label of every request it sends, so it measures the agreement of
the surrogate's answers with the teacher itself, independently of the services' own estimates.
Labels, traces and dead letters arrive at least once; the ledger keeps the first label and the
first trace of a request (a request causes at most one LLM call: deferred, audited, or both).

>>> ledger = Ledger()
>>> ledger.add("r1", 1, "refund"); ledger.add("r2", 1, "cancel")
>>> ledger.on_label({"request_id": "r1", "label": "refund", "source": "surrogate"})
>>> ledger.on_label({"request_id": "r2", "label": "cancel", "source": "llm"})
>>> stats = ledger.day(1)
>>> stats.answered, stats.handled, stats.coverage, stats.handled_agreement
(2, 1, 0.5, 1.0)
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from scipy.stats import beta

__all__ = ["DayStats", "LabelStats", "Ledger", "Outcome", "clopper_pearson"]


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact two-sided binomial interval for ``k`` successes in ``n`` trials.

    >>> [round(x, 3) for x in clopper_pearson(95, 100)]
    [0.887, 0.984]
    """
    if n == 0:
        return 0.0, 1.0
    tail = (1 - level) / 2
    low = 0.0 if k == 0 else float(beta.ppf(tail, k, n - k + 1))
    high = 1.0 if k == n else float(beta.ppf(1 - tail, k + 1, n - k))
    return low, high


@dataclass(slots=True)
class Outcome:
    """One request: the truth the demo knows, and what the deployment did with it."""

    day: int
    teacher: str
    gold: str | None = None
    source: str | None = None
    answer: str | None = None
    version: str | None = None
    dead_letter: str | None = None
    reason: str | None = None
    answered_at: float | None = None
    llm_calls: int = 0
    audits: int = 0
    cost_usd: float = 0.0

    @property
    def settled(self) -> bool:
        return self.source is not None or self.dead_letter is not None


@dataclass
class DayStats:
    """Counts of one day (or of any group of requests)."""

    day: int
    sent: int = 0
    answered: int = 0
    handled: int = 0
    handled_agree: int = 0
    deferred: int = 0
    fallback: int = 0
    dead_letters: int = 0
    llm_calls: int = 0
    audits: int = 0
    llm_cost_usd: float = 0.0
    agree: int = 0
    gold_n: int = 0
    gold_correct: int = 0
    versions: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    """Why the router deferred requests to the LLM (no_model, gate_closed, below_threshold...)."""

    @property
    def settled(self) -> int:
        return self.answered + self.dead_letters

    @property
    def coverage(self) -> float:
        return self.handled / self.answered if self.answered else 0.0

    @property
    def handled_agreement(self) -> float | None:
        return self.handled_agree / self.handled if self.handled else None

    @property
    def handled_interval(self) -> tuple[float, float]:
        return clopper_pearson(self.handled_agree, self.handled)

    @property
    def agreement(self) -> float | None:
        """Agreement of every answer (surrogate or LLM) with the teacher."""
        return self.agree / self.answered if self.answered else None

    @property
    def gold_accuracy(self) -> float | None:
        return self.gold_correct / self.gold_n if self.gold_n else None

    def saved_usd(self, cost_per_call: float) -> float:
        """What the handled requests would have cost at the LLM."""
        return self.handled * cost_per_call

    def add(self, o: Outcome) -> None:
        self.sent += 1
        self.llm_calls += o.llm_calls
        self.audits += o.audits
        self.llm_cost_usd += o.cost_usd
        if o.dead_letter is not None and o.source is None:
            self.dead_letters += 1
        if o.source is None:
            return
        self.answered += 1
        right = o.answer == o.teacher
        self.agree += right
        if o.source == "surrogate":
            self.handled += 1
            self.handled_agree += right
            self.versions[o.version or "?"] += 1
        elif o.source == "llm":
            self.deferred += 1
            self.reasons[o.reason or "unknown"] += 1
        else:
            self.fallback += 1
        if o.gold is not None:
            self.gold_n += 1
            self.gold_correct += o.answer == o.gold


@dataclass
class LabelStats:
    """Coverage and handled agreement of one teacher label."""

    label: str
    requests: int = 0
    handled: int = 0
    handled_agree: int = 0

    @property
    def coverage(self) -> float:
        return self.handled / self.requests if self.requests else 0.0


class Ledger:
    """Thread-safe record of every request; the collector thread writes, the view reads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._outcomes: dict[str, Outcome] = {}
        self.traces_seen = 0

    def add(self, request_id: str, day: int, teacher: str, gold: str | None = None) -> None:
        with self._lock:
            self._outcomes[request_id] = Outcome(day, teacher, gold)

    def on_label(self, label: dict[str, Any]) -> None:
        with self._lock:
            o = self._outcomes.get(str(label.get("request_id")))
            if o is not None and o.source is None:
                o.source, o.answer = str(label["source"]), str(label["label"])
                o.version = label.get("model_version")
                o.reason = label.get("reason")
                o.answered_at = float(label.get("created_at") or time.time())

    def on_trace(self, trace: dict[str, Any]) -> None:
        with self._lock:
            o = self._outcomes.get(str(trace.get("request_id")))
            if o is None or o.llm_calls:  # one LLM call per request; the rest are redeliveries
                return
            self.traces_seen += 1
            o.llm_calls += 1
            o.audits += bool(trace.get("audit"))
            o.cost_usd += float(trace.get("cost_usd") or 0.0)

    def on_dead_letter(self, letter: dict[str, Any]) -> None:
        with self._lock:
            o = self._outcomes.get(str(letter.get("request_id")))
            if o is not None and o.dead_letter is None:
                o.dead_letter = str(letter.get("reason", "unknown"))

    def day(self, day: int) -> DayStats:
        with self._lock:
            stats = DayStats(day)
            for o in self._outcomes.values():
                if o.day == day:
                    stats.add(o)
            return stats

    def total(self) -> DayStats:
        with self._lock:
            stats = DayStats(0)
            for o in self._outcomes.values():
                stats.add(o)
            return stats

    def per_label(self, days: set[int] | None = None) -> list[LabelStats]:
        """Per teacher label over ``days`` (all days by default), most frequent first."""
        with self._lock:
            table: dict[str, LabelStats] = {}
            for o in self._outcomes.values():
                if o.source is None or (days is not None and o.day not in days):
                    continue
                row = table.setdefault(o.teacher, LabelStats(o.teacher))
                row.requests += 1
                if o.source == "surrogate":
                    row.handled += 1
                    row.handled_agree += o.answer == o.teacher
        return sorted(table.values(), key=lambda r: (-r.requests, r.label))

    def answered_before(self, day: int, at: float) -> tuple[int, int]:
        """``(answered, handled)`` requests of ``day`` whose label was created before ``at``."""
        with self._lock:
            done = [o for o in self._outcomes.values()
                    if o.day == day and o.answered_at is not None and o.answered_at < at]
        return len(done), sum(o.source == "surrogate" for o in done)

    def per_version(self) -> dict[str, tuple[int, int]]:
        """``version → (handled, handled in agreement with the teacher)`` over the run."""
        with self._lock:
            table: dict[str, tuple[int, int]] = {}
            for o in self._outcomes.values():
                if o.source == "surrogate":
                    n, k = table.get(o.version or "?", (0, 0))
                    table[o.version or "?"] = (n + 1, k + (o.answer == o.teacher))
        return dict(sorted(table.items(), key=lambda kv: (len(kv[0]), kv[0])))

    def outcomes(self) -> dict[str, Outcome]:
        with self._lock:
            return dict(self._outcomes)
