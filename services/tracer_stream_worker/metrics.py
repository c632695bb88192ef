"""Prometheus metrics of the worker (``tracer_stream_worker_*``), in their own registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector

from tracer_stream.contracts import DeadLetter, Outbound
from tracer_stream.labelling import Labelled
from tracer_stream.obs.redis_metrics import RedisHealth

_NS = "tracer_stream_worker"
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0)
_WAIT_BUCKETS = (0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


class WorkerMetrics:
    """Counters are labelled by task only for tasks that exist (bounded cardinality)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)
        self.consumed = Counter(f"{_NS}_consumed", "LLM requests consumed", registry=r)
        self.llm_calls = Counter(
            f"{_NS}_llm_calls", "Requests the teacher handled, by outcome "
            "(ok, corrected, unparseable_answer, llm_failure)", ["task", "outcome"], registry=r)
        self.api_calls = Counter(f"{_NS}_llm_api_calls",
                                 "Successful API calls (corrective retries included)", ["task"],
                                 registry=r)
        self.retries = Counter(f"{_NS}_llm_retries", "Failed API calls that were retried",
                               ["task"], registry=r)
        self.latency = Histogram(f"{_NS}_llm_latency_seconds",
                                 "Duration of the LLM call itself (retries and correction "
                                 "included, slot wait excluded)", ["task"],
                                 buckets=_LATENCY_BUCKETS, registry=r)
        self.slot_wait = Histogram(f"{_NS}_slot_wait_seconds",
                                   "Time a request waited for an LLM call slot", ["task"],
                                   buckets=_WAIT_BUCKETS, registry=r)
        self.tokens = Counter(f"{_NS}_llm_tokens", "Tokens used", ["task", "kind"], registry=r)
        self.cost = Counter(f"{_NS}_llm_cost_usd", "Cost of the teacher calls in USD", ["task"],
                            registry=r)
        self.dead_letters = Counter(f"{_NS}_dead_letters", "Dead letters produced, by reason",
                                    ["reason"], registry=r)
        self.produced = Counter(f"{_NS}_produced", "Messages produced, by kind",
                                ["kind"], registry=r)
        self.in_flight = Gauge(f"{_NS}_in_flight", "LLM calls in flight right now", registry=r)
        self.pending = Gauge(f"{_NS}_pending",
                             "Requests consumed and not yet answered (in flight or waiting)",
                             registry=r)
        self.paused = Gauge(f"{_NS}_paused", "1 while consumption is paused (backpressure)",
                            registry=r)
        self.skipped = Counter(f"{_NS}_skipped_answered",
                               "Redelivered requests skipped because they were already answered",
                               registry=r)
        self.redis = RedisHealth(_NS, r)
        """``redis_errors_total{operation}`` and ``redis_up``: the outcome log, task reads."""
        self.revoked = Counter(f"{_NS}_revoked_cancelled",
                               "Requests cancelled unanswered because their partition was "
                               "revoked or lost (the new owner answers them)", registry=r)

    def labelled(self, task: str, result: Labelled) -> None:
        self.llm_calls.labels(task, result.outcome).inc()
        if result.call_s is not None:
            self.latency.labels(task).observe(result.call_s)
            self.slot_wait.labels(task).observe(result.slot_wait_s)
        usage = result.usage
        if usage is not None:
            self.api_calls.labels(task).inc(usage.calls)
            self.retries.labels(task).inc(usage.retries)
            self.tokens.labels(task, "input").inc(usage.input_tokens)
            self.tokens.labels(task, "output").inc(usage.output_tokens)
            self.cost.labels(task).inc(usage.cost_usd)

    def published(self, outputs: list[Outbound]) -> None:
        for out in outputs:
            self.produced.labels(out.kind).inc()
            if isinstance(out.message, DeadLetter):
                self.dead_letters.labels(out.message.reason).inc()


__all__ = ["WorkerMetrics"]
