"""Prometheus metrics of the worker (``tracer_stream_worker_*``), in their own registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector

from tracer_stream.llm import Answer, TeacherError

_NS = "tracer_stream_worker"
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0)


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
                                 "Time to a label, retries and correction included", ["task"],
                                 buckets=_LATENCY_BUCKETS, registry=r)
        self.tokens = Counter(f"{_NS}_llm_tokens", "Tokens used", ["task", "kind"], registry=r)
        self.cost = Counter(f"{_NS}_llm_cost_usd", "Cost of the teacher calls in USD", ["task"],
                            registry=r)
        self.dead_letters = Counter(f"{_NS}_dead_letters", "Dead letters produced, by reason",
                                    ["reason"], registry=r)
        self.produced = Counter(f"{_NS}_produced", "Messages produced, by kind",
                                ["kind"], registry=r)
        self.in_flight = Gauge(f"{_NS}_in_flight", "Requests being labelled right now",
                               registry=r)

    def answered(self, task: str, answer: Answer) -> None:
        self.llm_calls.labels(task, "corrected" if answer.corrected else "ok").inc()
        self.latency.labels(task).observe(answer.latency_ms / 1000.0)
        self._usage(task, answer.usage.calls, answer.usage.retries, answer.usage.input_tokens,
                    answer.usage.output_tokens, answer.usage.cost_usd)

    def failed(self, task: str, error: TeacherError, outcome: str) -> None:
        self.llm_calls.labels(task, outcome).inc()
        self.latency.labels(task).observe(error.latency_ms / 1000.0)
        usage = error.usage
        self._usage(task, usage.calls, usage.retries, usage.input_tokens, usage.output_tokens,
                    usage.cost_usd)

    def _usage(self, task: str, calls: int, retries: int, input_tokens: int,
               output_tokens: int, cost_usd: float) -> None:
        self.api_calls.labels(task).inc(calls)
        self.retries.labels(task).inc(retries)
        self.tokens.labels(task, "input").inc(input_tokens)
        self.tokens.labels(task, "output").inc(output_tokens)
        self.cost.labels(task).inc(cost_usd)


__all__ = ["WorkerMetrics"]
