"""Prometheus metrics of the trainer (``tracer_stream_trainer_*``)."""

from __future__ import annotations

import math
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from tracer_stream.contracts.records import AuditBoostRecord
from tracer_stream.obs.redis_metrics import RedisHealth
from tracer_stream.registry import Registry
from tracer_stream.training.ingest import IngestReport
from tracer_stream.training.live_guard import LiveGuard
from tracer_stream.training.refit import RefitOutcome
from tracer_stream.training.state import TrainerState


class TrainerMetrics:
    """Every metric the trainer exports, registered in ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        def counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
            return Counter(f"tracer_stream_trainer_{name}", doc, labels, registry=registry)

        def gauge(name: str, doc: str) -> Gauge:
            return Gauge(f"tracer_stream_trainer_{name}", doc, ("task",), registry=registry)

        self.received = counter("traces_received", "Trace messages consumed")
        self.stored = counter("traces_stored", "New traces committed to the store", ("task",))
        self.duplicates = counter("traces_duplicate",
                                  "Re-delivered traces the store already had (dropped)")
        self.rejected = counter("traces_rejected", "Trace messages that failed their contract",
                                ("reason",))
        self.store_size = gauge("store_traces", "Traces in the store")
        self.refits = counter("refits", "Refits by outcome", ("task", "outcome"))
        self.fit_seconds = Histogram(
            "tracer_stream_trainer_fit_seconds", "Seconds spent in the learning core's fit",
            ("task",), registry=registry,
            buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, math.inf))
        self.certified = counter("certified_versions", "Certified candidates stored as versions",
                                 ("task",))
        self.delta_k = gauge("delta_spent", "δₖ of the task's latest gate test")
        self.gate_open = gauge("gate_open", "1 while the task's gate is open")
        self.gate_closures = counter("gate_closures", "Gates closed by the live monitor",
                                     ("task",))
        self.live_audited = gauge("live_audited", "Audited handled requests of the current version")
        self.live_agreement = gauge("live_agreement", "Live audited agreement (point estimate)")
        self.live_lower = gauge("live_agreement_lower",
                                "Lower end of the confidence sequence for the running "
                                "mean of live agreement since the deployment")
        self.live_upper = gauge("live_agreement_upper",
                                "Upper end of the confidence sequence for the running "
                                "mean of live agreement since the deployment")
        self.live_wealth = gauge("live_wealth", "Live monitor wealth (alarm at 1/δₖ)")
        self.live_suspicion = gauge("live_suspicion",
                                    "Live monitor CUSUM suspicion (steers the audit boost)")
        self.drift = counter("drift_alarms", "Drift detector alarms", ("task", "detector"))
        self.audit_boost = gauge("audit_boost",
                                 "Audit rate the routers apply at least after an alarm or "
                                 "while the live monitor is suspicious (0: none)")
        self.epoch_start = gauge("calibration_epoch_start",
                                 "First store seq of the task's calibration epoch (1: no alarm)")
        self.epoch_pending = gauge("calibration_epoch_pending",
                                   "1 while no version calibrated in the epoch serves")
        self.epoch_calibration = gauge("calibration_epoch_traces",
                                       "Held-out traces stored in the calibration epoch")
        self.shadow = gauge("shadow_agreement",
                            "Agreement of the shadow learner with the deployed surrogate")
        self.redis = RedisHealth("tracer_stream_trainer", registry)
        """``redis_errors_total{operation}`` (each failure then backs off) and ``redis_up``."""

    def observe_redis(self, operation: str, ok: bool) -> None:
        self.redis.observe(operation, ok)

    def observe_ingest(self, report: IngestReport) -> None:
        self.received.inc(report.received)
        self.duplicates.inc(report.duplicates)
        for task, n in report.stored.items():
            self.stored.labels(task).inc(n)
        for reason, n in report.rejected.items():
            self.rejected.labels(reason).inc(n)
        for task in report.gate_closed:
            self.gate_closures.labels(task).inc()
            self.gate_open.labels(task).set(0)
        for task, detector in report.drift:
            self.drift.labels(task, detector).inc()
        for task, summary in report.watches.items():
            self.observe_watch(task, summary)
        for task, value in report.shadow_agreement.items():
            self.shadow.labels(task).set(value)

    def observe_watch(self, task: str, summary: dict[str, Any]) -> None:
        self.live_audited.labels(task).set(summary["audited"])
        self.live_wealth.labels(task).set(summary["wealth"])
        self.live_suspicion.labels(task).set(summary["suspicion"])
        if summary["audited"]:
            self.live_agreement.labels(task).set(summary["agreement"])
            self.live_lower.labels(task).set(summary["confidence_sequence"][0])
            self.live_upper.labels(task).set(summary["confidence_sequence"][1])

    def observe_epoch(self, task: str, epoch: dict[str, Any],
                      boost: AuditBoostRecord | None) -> None:
        self.audit_boost.labels(task).set(float(boost["rate"]) if boost else 0.0)
        self.epoch_start.labels(task).set(epoch["start"])
        self.epoch_pending.labels(task).set(int(epoch["pending"]))
        self.epoch_calibration.labels(task).set(epoch["n_cal"])

    def observe_task(self, task: str, registry: Registry, state: TrainerState,
                     guard: LiveGuard | None = None) -> None:
        """The task's epoch and boost gauges (Redis reads); with ``guard`` also its gate and
        live-monitor gauges."""
        self.observe_epoch(task, state.epoch(task), registry.audit_boost(task))
        if guard is None:
            return
        self.gate_open.labels(task).set(int(registry.gate(task)["open"]))
        watch = guard.watch(task)
        if watch is not None:
            self.observe_watch(task, watch.summary())

    def observe_refit(self, outcome: RefitOutcome) -> None:
        self.refits.labels(outcome.task, outcome.outcome).inc()
        if outcome.fit_seconds:
            self.fit_seconds.labels(outcome.task).observe(outcome.fit_seconds)
        if outcome.version is not None:
            self.certified.labels(outcome.task).inc()
        if outcome.delta_k is not None:
            self.delta_k.labels(outcome.task).set(outcome.delta_k)
