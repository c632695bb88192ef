"""The router's Prometheus metrics (``tracer_stream_router_*``).

Task labels are bounded: names the router does not serve (unknown tasks, undecodable
records) are counted under ``task="_unknown"`` so that client input cannot grow the series.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from tracer_stream.obs.redis_metrics import RedisHealth
from tracer_stream.routing.batch import BatchResult
from tracer_stream.routing.state import TaskState

UNKNOWN_TASK = "_unknown"
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class RouterMetrics:
    """Counters, histograms and gauges of one router process."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        p = "tracer_stream_router_"
        self.requests = Counter(f"{p}requests", "Records consumed, by task and outcome "
                                "(handled, deferred, dead_letter, duplicate)",
                                ["task", "outcome"], registry=registry)
        self.deferred = Counter(f"{p}deferred", "Requests deferred to the LLM, by reason",
                                ["task", "reason"], registry=registry)
        self.audits = Counter(f"{p}audit_draws", "Requests drawn for the audit stream",
                              ["task"], registry=registry)
        self.dead_letters = Counter(f"{p}dead_letters", "Records dead-lettered, by reason",
                                    ["reason"], registry=registry)
        self.batch_size = Histogram(f"{p}batch_size", "Records per micro-batch",
                                    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
                                    registry=registry)
        self.latency = Histogram(f"{p}latency_seconds", "From receipt of the batch to the "
                                 "acknowledgement of the request's outputs, by path",
                                 ["path"], buckets=_LATENCY_BUCKETS, registry=registry)
        self.cache_hits = Counter(f"{p}embedding_cache_hits", "Embeddings read from the cache",
                                  registry=registry)
        self.cache_misses = Counter(f"{p}embedding_cache_misses",
                                    "Embeddings computed (not in the cache)", registry=registry)
        self.model_info = Gauge(f"{p}model_info", "1 for the model version served per task",
                                ["task", "version"], registry=registry)
        self.gate_open = Gauge(f"{p}gate_open", "1 when the task's gate is open",
                               ["task"], registry=registry)
        self.audit_rate = Gauge(f"{p}audit_rate", "Probability of the audit draw per task: "
                                "max(the task's rate, the trainer's boost after an alarm)",
                                ["task"], registry=registry)
        self.novelty_alarms = Counter(f"{p}novelty_alarms", "Novelty-rate alarms raised "
                                      "(at most one per task and served version per router)",
                                      ["task"], registry=registry)
        self.novel_rate = Gauge(f"{p}novel_rate", "Fraction of the requests the served version "
                                "scored itself that it deferred as novel_input, since it "
                                "began serving (the novelty watch's rate)", ["task"],
                                registry=registry)
        self.redis = RedisHealth("tracer_stream_router", registry)
        """``redis_errors_total{operation}`` and ``redis_up`` (fed by the :class:`RedisGuard`)."""
        self._versions: dict[str, str] = {}

    def observe_batch(self, result: BatchResult, served: Mapping[str, TaskState],
                      latency_s: float, size: int) -> None:
        """Count one delivered batch."""
        self.batch_size.observe(size)
        self.cache_hits.inc(result.cache_hits)
        self.cache_misses.inc(result.cache_misses)
        for d in result.decisions:
            task = d.task if d.task in served else UNKNOWN_TASK
            self.requests.labels(task, d.outcome).inc()
            if d.outcome == "deferred":
                self.deferred.labels(task, d.reason or "").inc()
            elif d.outcome == "dead_letter":
                self.dead_letters.labels(d.reason or "").inc()
            if d.audit:
                self.audits.labels(task).inc()
            if d.outcome in ("handled", "deferred"):
                self.latency.labels(d.outcome).observe(latency_s)

    def observe_novelty(self, rates: Mapping[str, float], alarms: int = 0,
                        task: str | None = None) -> None:
        """Publish the watched novel rates; count ``alarms`` raised for ``task``."""
        for name, rate in rates.items():
            if rate == rate:  # NaN before the first scored request
                self.novel_rate.labels(name).set(rate)
        if task is not None and alarms:
            self.novelty_alarms.labels(task).inc(alarms)

    def observe_models(self, states: Mapping[str, TaskState]) -> None:
        """Publish the version, gate state and audit rate served per task."""
        for name, state in states.items():
            version = state.version if state.model is not None else "none"
            old = self._versions.get(name)
            if old is not None and old != version:
                self.model_info.remove(name, old)
            self._versions[name] = str(version)
            self.model_info.labels(name, str(version)).set(1)
            self.gate_open.labels(name).set(1 if state.gate_open else 0)
            self.audit_rate.labels(name).set(state.audit_rate)
