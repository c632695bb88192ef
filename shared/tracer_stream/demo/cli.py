"""The body of ``tracer-stream demo``: arguments → :class:`DemoConfig`, Ctrl-C handling, the
final summary, the JSON results and the HTML report."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from rich.console import Console

from tracer_stream.demo.live import ViewContext, day_table, headline
from tracer_stream.demo.report import write_report
from tracer_stream.demo.results import DemoResult
from tracer_stream.demo.run import DemoConfig, run_demo
from tracer_stream.errors import ConfigError

__all__ = ["config_from_args", "make_console", "run_from_args", "stop_on_signals", "summarize"]


def config_from_args(args: argparse.Namespace) -> DemoConfig:
    if args.days < 1 or args.per_day < 1:
        raise ConfigError("--days and --per-day must be at least 1")
    if not 0.0 <= args.audit_rate <= 1.0:
        raise ConfigError("--audit-rate must be within [0, 1]")
    if not 0.0 <= args.teacher_noise <= 1.0:
        raise ConfigError("--teacher-noise must be within [0, 1]")
    return DemoConfig(
        days=args.days, per_day=args.per_day, alpha=args.alpha, delta=args.delta,
        audit_rate=args.audit_rate, seed=args.seed, embedder=args.embedder,
        dataset=args.dataset, shuffle=args.shuffle, task_name=args.task_name,
        state_dir=args.state_dir, report=args.report, kafka_port=args.kafka_port,
        redis_port=args.redis_port, latency_ms=args.latency_ms,
        price_per_call=args.price_per_call, zoo=args.zoo, teacher_noise=args.teacher_noise)


def make_console() -> Console:
    """A console; outside a terminal (logs, CI) one wide enough for the tables."""
    console = Console()
    return console if console.is_terminal else Console(width=max(console.width, 120))


@contextmanager
def stop_on_signals(console: Console) -> Iterator[threading.Event]:
    """SIGINT/SIGTERM set the returned event; later signals are ignored so that the cleanup
    that follows the first one always runs to its end."""
    stop = threading.Event()

    def handler(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            console.print("[yellow]still stopping the demo's processes…[/]")
            return
        stop.set()
        if console.is_terminal:
            console.print()  # the terminal echoed ^C where the cursor was: start a fresh line
        console.print(f"[yellow]{signal.Signals(signum).name}: stopping the demo…[/]")

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_from_args(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per probe otherwise
    console = make_console()
    with stop_on_signals(console) as stop:
        try:
            result, run_dir = run_demo(
                config, console, stop,
                on_run_dir=lambda d: console.print(f"demo run directory: {d}"))
        except KeyboardInterrupt:
            console.print("[yellow]interrupted: every process the demo started is stopped[/]")
            console.file.flush()
            return 130
    report = write_report(result, config.report or run_dir / "report.html")
    results = result.write_json(run_dir / "results.json")
    summarize(result, console)
    console.print(f"report:  {report.absolute()}")
    console.print(f"results: {results.absolute()}")
    return 0


def summarize(result: DemoResult, console: Console) -> None:
    """The final table and the one-line verdict."""
    ctx = ViewContext(result.task, result.alpha, result.delta, result.cost_per_call,
                      result.certificates)
    console.print()
    console.print(day_table(result.days, ctx, total=result.total, title="Summary"))
    console.print(headline(result.days, result.total, ctx, result.refits))
    phases = ", ".join(f"{k} {v:.0f}s" for k, v in result.phases.items())
    console.print(f"run time {result.wall_seconds:.0f}s ({phases})")
