"""``tracer-stream status [--task T]``: a task's state for an operator without Grafana.

Per task: the current version and its certificate, the gate (open or closed, and why), the
last refit and its outcome, the traces the trainer had then and how many more the gate expects
to need, the live monitor; from Kafka, the coverage and the audited agreement of the last hour
(labels and traces topics) and each service's consumer lag. ``--no-kafka`` reads Redis only.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tracer_stream.config import KafkaSettings, TopicSettings
    from tracer_stream.registry import Registry


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "status", help="each task's model, gate, refits, traces, last-hour coverage and lag",
        description=__doc__.split("\n\n")[1].replace("\n", " ") if __doc__ else None)
    parser.add_argument("--task", help="only this task (default: every registered task)")
    parser.add_argument("--window", type=float, default=3600.0, metavar="SECONDS",
                        help="how far back the coverage and agreement look (default 3600)")
    parser.add_argument("--no-kafka", action="store_true",
                        help="read Redis only: no last-hour figures, no lag")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from tracer_stream.cli._reach import open_registry, require_broker, require_task
    from tracer_stream.config import KafkaSettings, TopicSettings

    registry = open_registry()
    try:
        if args.task:
            require_task(registry, args.task)
            names = [args.task]
        else:
            names = [t.name for t in registry.list_tasks()]
        kafka, topics = KafkaSettings(), TopicSettings()
        if not args.no_kafka:
            require_broker(kafka)
        if not names:
            print("no tasks registered (tracer-stream task apply FILE)")
        window = None if args.no_kafka else _window(kafka, topics, set(names), args.window)
        for name in names:
            for line in _task_lines(registry, name, window, args.window):
                print(line)
            print()
        if not args.no_kafka:
            _print_lag(kafka, topics)
    finally:
        registry.close()
    return 0


def _task_lines(registry: Registry, name: str, window: dict[str, Counter[str]] | None,
                window_s: float) -> list[str]:
    from tracer_stream.config import RedisSettings
    from tracer_stream.training.state import TrainerState

    state = TrainerState(registry.client, RedisSettings().key_prefix)
    current = registry.current(name)
    gate = registry.gate(name)
    lines = [f"task {name}"]
    if current is None:
        lines.append("  model        none certified yet: every request goes to the LLM")
    else:
        m = registry.manifest(name, current)
        lines.append(f"  model        {current}: certified at alpha={m.get('alpha')} "
                     f"delta={_num(m.get('delta'), '.3g')}, calibration coverage "
                     f"{_num(m.get('coverage'), '.1%')} agreement "
                     f"{_num(m.get('agreement'), '.4f')} on {m.get('n_cal')} traces")
    lines.append(f"  gate         {'open' if gate['open'] else 'CLOSED'}"
                 f"{': ' + gate['reason'] if gate.get('reason') else ''}")
    last = state.last_refit(name)
    if not last["at"]:
        lines.append("  last refit   none yet")
    else:
        lines.append(f"  last refit   {_ago(last['at'])} ({last['trigger']}): {last['outcome']}"
                     f"{_last_reason(registry, name)}")
        lines.append(f"  traces       {last['seq']:,} stored at the last refit"
                     f"{_needed(registry, name)}")
    if window is not None:
        c = window.get(name, Counter())
        answered = c["surrogate"] + c["llm"] + c["fallback"]
        coverage = f"{c['surrogate'] / answered:.1%}" if answered else "–"
        agreement = (f"{c['audit_agree'] / c['audited']:.3f} on {c['audited']} audits"
                     if c["audited"] else "no audited answer")
        lines.append(f"  {'last ' + _span(window_s):12} {answered:,} answers on the labels topic, "
                     f"surrogate coverage {coverage}; surrogate vs LLM: {agreement}")
    return lines


def _last_reason(registry: Registry, name: str) -> str:
    """The reason of the task's latest refit event, when the registry recorded one."""
    for event in registry.history(name, limit=10):
        if event.get("action") in ("refit_rejected", "candidate_kept_back", "promote"):
            return f" — {event.get('reason', '')}"
    return ""


def _needed(registry: Registry, name: str) -> str:
    from tracer_stream.report import needed_text

    for event in registry.history(name, limit=10):
        if event.get("action") == "refit_rejected":
            needed = event.get("traces_needed")
            return "; " + needed_text(None if needed is None else int(needed),
                                      event.get("reason"))
        if event.get("action") == "promote":
            return ""
    return ""


def _window(kafka: KafkaSettings, topics: TopicSettings, names: set[str],
            window_s: float) -> dict[str, Counter[str]]:
    """Per task: answers by source on the labels topic, and audited surrogate answers (and how
    many the LLM agreed with) on the traces topic, over the last ``window_s`` seconds."""
    from tracer_stream.cli._kafka_view import recent_messages
    from tracer_stream.errors import BusError

    counts: dict[str, Counter[str]] = {n: Counter() for n in names}
    try:
        for label in recent_messages(kafka, topics.name("labels"), window_s):
            if label.get("task") in counts:
                counts[str(label["task"])][str(label.get("source"))] += 1
        for trace in recent_messages(kafka, topics.name("traces"), window_s):
            c = counts.get(str(trace.get("task")))
            if c is not None and trace.get("audit") and trace.get("surrogate_label") is not None:
                c["audited"] += 1
                c["audit_agree"] += trace["surrogate_label"] == trace.get("label")
    except BusError:  # topics not created yet: nothing to count
        pass
    return counts


def _print_lag(kafka: KafkaSettings, topics: TopicSettings) -> None:
    from tracer_stream.cli._kafka_view import group_lag
    from tracer_stream.config import RouterSettings, TrainerSettings, WorkerSettings

    print("consumer lag (records not yet committed)")
    for service, group, kind in (("router", RouterSettings().group_id, "requests"),
                                 ("worker", WorkerSettings().group_id, "llm_requests"),
                                 ("trainer", TrainerSettings().group_id, "traces")):
        topic = topics.name(kind)
        lag = group_lag(kafka, group, topic)
        shown = "no committed offset" if lag is None else f"{lag:,}"
        print(f"  {service:8} {group:16} {topic:28} {shown}")


def _num(value: Any, fmt: str) -> str:
    return "–" if value is None else format(float(value), fmt)


def _span(seconds: float) -> str:
    """``1h``, ``30m``, ``45s``.

    >>> _span(3600), _span(1800), _span(45)
    ('1h', '30m', '45s')
    """
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:.0f}h"
    return f"{seconds / 60:.0f}m" if seconds >= 60 else f"{seconds:.0f}s"


def _ago(at: float) -> str:
    return f"{_span(max(0.0, round(time.time() - at)))} ago"
