"""One demo run: prepare the traffic, start the deployment, replay the days through Kafka with a
refit at each day boundary, show it live, and always stop what was started.

Between two days the demo waits until every request of the day is answered, every trace is in
the trainer's store, the trainer's refit has finished and the router serves its outcome, so the
numbers of day ``d + 1`` are those of the model refit on days ``1..d``.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live

from tracer_stream.bus import Producer
from tracer_stream.config import mask_secrets
from tracer_stream.contracts.records import HistoryEvent
from tracer_stream.demo.deployment import DemoError, Deployment, ServiceOptions
from tracer_stream.demo.ledger import Ledger
from tracer_stream.demo.live import DayProgress, ViewContext, day_line, day_table
from tracer_stream.demo.refits import (
    RefitResult,
    refit,
    registry_events,
    served_certificates,
    wait_router_serves,
    wait_trainer_stored,
)
from tracer_stream.demo.results import DemoResult
from tracer_stream.demo.traffic import Collector, send_requests
from tracer_stream.demo.workload import (
    DEMO_TASK_NAME,
    Request,
    demo_task,
    generate_workload,
    load_dataset,
    task_for,
    write_replay_file,
)
from tracer_stream.tasks import Task

__all__ = ["DemoConfig", "prepare", "run_demo", "with_noisy_teacher"]


@dataclass(frozen=True)
class DemoConfig:
    """Every knob of ``tracer-stream demo`` (see ``docs/demo.md``)."""

    days: int = 5
    per_day: int = 1500
    alpha: float = 0.95
    delta: float = 0.05
    audit_rate: float = 0.02
    seed: int = 0
    embedder: str = "minilm-onnx"
    dataset: Path | None = None
    shuffle: bool = False
    task_name: str = DEMO_TASK_NAME
    state_dir: Path = Path(".tracer-stream") / "demo"
    report: Path | None = None
    kafka_port: int = 0
    redis_port: int = 0
    latency_ms: float = 20.0
    price_per_call: float = 0.002
    zoo: str = "default"
    teacher_noise: float = 0.0
    """Share of distinct texts whose teacher label is replaced by a random other label."""
    day_timeout_s: float = 600.0

    def settings(self) -> dict[str, Any]:
        """The configuration as the report shows it (secrets masked, paths as text)."""
        shown: dict[str, Any] = mask_secrets(asdict(self))
        return shown


def prepare(config: DemoConfig) -> tuple[Task, list[list[Request]]]:
    """The task and the requests of each day (the built-in workload or ``config.dataset``)."""
    if config.dataset is None:
        requests = generate_workload(config.days * config.per_day, seed=config.seed)
        task = demo_task(config.task_name, alpha=config.alpha, delta=config.delta,
                         audit_rate=config.audit_rate, embedder=config.embedder)
    else:
        requests = load_dataset(config.dataset)
        if config.shuffle:
            random.Random(config.seed).shuffle(requests)
        requests = requests[:config.days * config.per_day]
        task = task_for(requests, config.task_name, alpha=config.alpha, delta=config.delta,
                        audit_rate=config.audit_rate, embedder=config.embedder)
    if config.teacher_noise > 0:
        requests = with_noisy_teacher(requests, [spec.name for spec in task.labels],
                                      config.teacher_noise, random.Random(config.seed + 1))
    days = [requests[i:i + config.per_day] for i in range(0, len(requests), config.per_day)]
    return task, days


def with_noisy_teacher(requests: list[Request], labels: list[str], share: float,
                       rng: random.Random) -> list[Request]:
    """``requests`` with the teacher's label of about ``share`` of the distinct texts replaced
    by another label drawn at random (one answer per text, as the replay teacher gives); the
    true label is kept as ``gold``.

    >>> reqs = [Request("a", "x"), Request("b", "y"), Request("a", "x")]
    >>> noisy = with_noisy_teacher(reqs, ["x", "y", "z"], 1.0, random.Random(0))
    >>> [r.label != r.gold for r in noisy], noisy[0].label == noisy[2].label
    ([True, True, True], True)
    """
    answers: dict[str, str] = {}
    for r in requests:
        if r.text not in answers:
            others = [label for label in labels if label != r.label]
            answers[r.text] = rng.choice(others) if others and rng.random() < share else r.label
    return [replace(r, label=answers[r.text], gold=r.gold or r.label) for r in requests]


class _Clock:
    """Wall time per phase (startup, traffic, refits, shutdown)."""

    def __init__(self) -> None:
        self.phases: dict[str, float] = {}
        self._start = time.monotonic()

    def add(self, phase: str, since: float) -> None:
        self.phases[phase] = self.phases.get(phase, 0.0) + time.monotonic() - since

    @property
    def total(self) -> float:
        return time.monotonic() - self._start


def run_demo(config: DemoConfig, console: Console, stop: threading.Event,
             on_run_dir: Callable[[Path], None] = lambda _: None) -> tuple[DemoResult, Path]:
    """Run the demo; returns the result and the run directory. Raises ``KeyboardInterrupt``
    once ``stop`` is set (Ctrl-C) and :class:`DemoError` on failures — after stopping
    everything it started in both cases."""
    task, days = prepare(config)
    run_dir = (config.state_dir / datetime.now().strftime("run-%Y%m%d-%H%M%S")).absolute()
    run_dir.mkdir(parents=True, exist_ok=True)
    on_run_dir(run_dir)
    return _DemoRun(config, task, days, run_dir, console, stop).execute(), run_dir


class _DemoRun:
    """The state of one run, one method per phase."""

    def __init__(self, config: DemoConfig, task: Task, days: list[list[Request]], run_dir: Path,
                 console: Console, stop: threading.Event) -> None:
        self.config, self.task, self.days = config, task, days
        self.console, self.stop = console, stop
        self.clock = _Clock()
        teacher = write_replay_file([r for day in days for r in day], run_dir / "teacher.jsonl")
        self.deployment = Deployment(run_dir, ServiceOptions(
            replay_file=teacher, latency_ms=config.latency_ms,
            price_per_call_usd=config.price_per_call, zoo=config.zoo, seed=config.seed),
            kafka_port=config.kafka_port, redis_port=config.redis_port)
        self.ledger = Ledger()
        self.collector = Collector(self.deployment.stack.kafka, self.deployment.topics,
                                   self.ledger)
        self.ctx = ViewContext(task.name, task.alpha, task.delta, config.price_per_call, {})
        self.progress = DayProgress(len(days))
        self.producer: Producer | None = None
        self.live: Live | None = None
        self.current = 0
        self.refits: list[RefitResult] = []
        self.day_seconds: dict[int, float] = {}
        self.day_started_at: dict[int, float] = {}
        self.events: list[HistoryEvent] = []

    def execute(self) -> DemoResult:
        completed = False
        try:
            self._start()
            # Outside a terminal (CI logs, files) Live would print its frames again and again:
            # there each finished day is one plain line instead.
            view = (Live(console=self.console, refresh_per_second=4) if self.console.is_terminal
                    else nullcontext(None))
            with view as live:
                self.live = live
                for day in range(1, len(self.days) + 1):
                    self.current = day
                    self._replay_day()
                    if day < len(self.days):
                        self._refit()
                self.progress.status = ""
                self._show()
            completed = True
        finally:
            self._shutdown()
        return self._result(completed)

    def _start(self) -> None:
        since = time.monotonic()
        with self.console.status("starting the demo deployment…") as spinner:
            self.deployment.up(status=lambda s: spinner.update(s + "…"), stop=self.stop)
            self.deployment.registry.put_task(self.task)
            self.collector.start()
            if not self.collector.assigned.wait(30.0):
                raise DemoError("the demo's consumer got no partitions within 30s")
        self.clock.add("startup", since)
        self.console.print(f"[bold]deployment ready[/] in {self.clock.phases['startup']:.0f}s "
                           f"— logs in {self.deployment.run_dir / 'logs'}")
        self.producer = Producer(self.deployment.stack.kafka)

    def _show(self) -> None:
        stats = [self.ledger.day(d) for d in range(1, self.current + 1)]
        if stats:
            self.progress.update(stats[-1], len(self.days[self.current - 1]))
        if self.live is not None:
            self.live.update(self.progress.render(day_table(stats, self.ctx)))

    def _replay_day(self) -> None:
        """Send the day's requests, wait for every answer and every trace."""
        day, since = self.current, time.monotonic()
        self.day_started_at[day] = time.time()
        ids = [(f"d{day}-{i:05d}", r) for i, r in enumerate(self.days[day - 1])]
        for request_id, r in ids:
            self.ledger.add(request_id, day, r.label, r.gold)
        self.progress.status = f"day {day}: sending {len(ids)} requests"
        assert self.producer is not None
        send_requests(self.producer, self.deployment.topics, self.task.name,
                      [(rid, r.text) for rid, r in ids], day)
        self.progress.status = f"day {day}: waiting for the answers"
        self._wait(_settled(self.ledger, day, len(ids)), self.config.day_timeout_s,
                   f"the answers of day {day}")
        self._wait(_quiet(self.ledger), 60.0, "the last traces")
        self.day_seconds[day] = time.monotonic() - since
        self.clock.add("traffic", since)
        self.progress.finish_day(day)
        if not self.console.is_terminal:  # Live shows nothing until the end there
            self.console.print(day_line(self.ledger.day(day), self.ctx))

    def _refit(self) -> None:
        """The day boundary: the trainer refits on every trace so far; the router swaps."""
        since = time.monotonic()
        self.progress.status = f"end of day {self.current}: the trainer refits on every trace"
        self._show()
        wait_trainer_stored(self.deployment, self.task.name, self.ledger.traces_seen, self.stop)
        result = refit(self.deployment, self.task.name, self.current, self.stop)
        self.refits.append(result)
        if result.certificate is not None:
            self.ctx.certificates[result.certificate.version] = result.certificate
            self.progress.status = f"waiting for the router to serve {result.current}"
            self._show()
            wait_router_serves(self.deployment, self.task.name, result.certificate.version,
                               self.stop)
        self.clock.add("refits", since)

    def _wait(self, done: Callable[[], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        checked = 0.0
        while not done():
            if self.stop.is_set():
                raise KeyboardInterrupt
            if self.collector.error is not None:
                raise DemoError(f"the demo's consumer failed: {self.collector.error}")
            if time.monotonic() - checked > 1.0:
                self.deployment.check()
                checked = time.monotonic()
            if time.monotonic() > deadline:
                raise DemoError(f"timed out after {timeout_s:.0f}s waiting for {what}; see the "
                                f"logs in {self.deployment.run_dir / 'logs'}")
            self._show()
            time.sleep(0.2)
        self._show()

    def _shutdown(self) -> None:
        """Stop everything, whatever happened; read what the registry knows first."""
        since = time.monotonic()
        with self.console.status("stopping the services and the stack…"):
            try:
                if self.producer is not None:
                    self.producer.close()
                    self.producer = None  # destroyed now, not noisily after the broker stops
                self.collector.stop()
                served = {o.version for o in self.ledger.outcomes().values() if o.version}
                self.ctx.certificates.update(served_certificates(
                    self.deployment, self.task.name, served - set(self.ctx.certificates)))
                self.events = registry_events(self.deployment, self.task.name)
            finally:
                left = self.deployment.down()
        self.clock.add("shutdown", since)
        if left:
            self.console.print("[red]processes still running after the demo: "
                               f"{', '.join(str(p.pid) for p in left)}[/]")

    def _locate(self, event: HistoryEvent) -> dict[str, Any]:
        """The event with the day it happened in and how far into that day's traffic."""
        at = float(event.get("at", 0.0))
        days = [d for d, t in sorted(self.day_started_at.items()) if t <= at]
        if not days:
            return dict(event)
        answered, handled = self.ledger.answered_before(days[-1], at)
        return {**event, "day": days[-1], "day_answered_before": answered,
                "day_handled_before": handled}

    def _result(self, completed: bool) -> DemoResult:
        days = [self.ledger.day(d) for d in range(1, len(self.days) + 1)]
        served = {d.day for d in days if d.handled}
        return DemoResult(
            task=self.task.name, alpha=self.task.alpha, delta=self.task.delta,
            cost_per_call=self.config.price_per_call, settings=self.config.settings(),
            days=days, total=self.ledger.total(), refits=self.refits,
            certificates=dict(self.ctx.certificates),
            labels=self.ledger.per_label(served or None), wall_seconds=self.clock.total,
            phases=self.clock.phases, day_seconds=self.day_seconds,
            day_started_at=self.day_started_at, events=[self._locate(e) for e in self.events],
            versions=self.ledger.per_version(), completed=completed)


def _settled(ledger: Ledger, day: int, n: int) -> Callable[[], bool]:
    """True once all ``n`` requests of ``day`` are answered or dead-lettered."""
    return lambda: ledger.day(day).settled >= n


def _quiet(ledger: Ledger, quiet_s: float = 1.0) -> Callable[[], bool]:
    """True once no new trace arrived for ``quiet_s`` (audit calls end after the label)."""
    last, changed = -1, time.monotonic()

    def quiet() -> bool:
        nonlocal last, changed
        if ledger.traces_seen != last:
            last, changed = ledger.traces_seen, time.monotonic()
        return time.monotonic() - changed >= quiet_s

    return quiet
