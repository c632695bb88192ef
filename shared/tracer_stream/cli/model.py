"""``tracer-stream model list|show|promote|rollback TASK [VERSION]``: a task's model versions.

* ``list TASK`` — every version: certified, α, δ, coverage on calibration, which is current.
* ``show TASK [VERSION]`` — one version (default: current): certificate, data, how it compared
  with its parent, per-label coverage deltas, and for the current version the gate state and the
  live monitor (audited agreement, its confidence sequence, the wealth and its alarm level),
  the audit boost after an alarm and the calibration epoch.
  ``--json`` prints everything, including the report.
* ``report TASK [VERSION] [--html FILE] [--json FILE]`` — the interpretability report the trainer
  stored for the version (computed on its calibration traces), as a self-contained HTML page
  and/or JSON (``-`` for standard output).
* ``promote TASK VERSION`` / ``rollback TASK [VERSION]`` — make a version current and announce it
  on the models topic (rollback defaults to the version served before the current one). Either
  reopens a closed gate: the version is served afresh and monitored from zero.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tracer_stream.contracts.records import GateRecord
    from tracer_stream.registry import Registry


_TASK = "registered task name"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("model", help="list, show, promote or roll back model versions")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="every version of TASK")
    listing.add_argument("task", help=_TASK)
    show = actions.add_parser("show", help="one version of TASK (default: current)")
    show.add_argument("task", help=_TASK)
    show.add_argument("version", nargs="?", help="version (default: the current one)")
    show.add_argument("--json", action="store_true", help="everything, as JSON")
    report = actions.add_parser("report", help="the stored report of a version, as HTML/JSON")
    report.add_argument("task", help=_TASK)
    report.add_argument("version", nargs="?", help="version (default: the current one)")
    report.add_argument("--html", metavar="FILE", help="write the HTML page here")
    report.add_argument("--json", metavar="FILE", help="write the JSON document here ('-': stdout)")
    promote = actions.add_parser("promote", help="make VERSION current")
    promote.add_argument("task", help=_TASK)
    promote.add_argument("version", help="the version to serve")
    promote.add_argument("--force", action="store_true", help="even if it is not certified")
    rollback = actions.add_parser("rollback", help="go back to VERSION (default: the previous)")
    rollback.add_argument("task", help=_TASK)
    rollback.add_argument("version", nargs="?",
                          help="version to go back to (default: the one served before)")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from tracer_stream.cli._reach import open_registry

    registry = open_registry()
    try:
        if args.action == "list":
            return _list(registry, args.task)
        if args.action == "show":
            return _show(registry, args.task, args.version, as_json=args.json)
        if args.action == "report":
            return _report(registry, args.task, args.version, html=args.html,
                           json_path=args.json)
        return _switch(registry, args)
    finally:
        registry.close()


def _list(registry: Registry, task: str) -> int:
    versions = registry.versions(task)
    if not versions:
        print(f"no versions of {task}")
        return 0
    current = registry.current(task)
    print(f"  {'version':8} {'certified':>9} {'alpha':>6} {'delta':>9} {'coverage':>8} "
          f"{'n_cal':>6}  created")
    for version in versions:
        m = registry.manifest(task, version)
        mark = "*" if version == current else " "
        print(f"{mark} {version:8} {m.get('certified')!s:>9} {m.get('alpha', '-')!s:>6} "
              f"{_num(m.get('delta'), '.2e'):>9} {_num(m.get('coverage'), '.3f'):>8} "
              f"{m.get('n_cal', '-')!s:>6}  {m.get('created_at', '')}")
    return 0


def _show(registry: Registry, task: str, version: str | None, *, as_json: bool) -> int:
    import orjson

    from tracer_stream.config import RedisSettings
    from tracer_stream.errors import LearnError, RegistryError
    from tracer_stream.training.live_guard import Watch
    from tracer_stream.training.state import TrainerState

    current = registry.current(task)
    version = version or current
    if version is None:
        raise RegistryError("task has no current version; name one", task=task)
    manifest = registry.manifest(task, version)
    live = None
    alarm: dict[str, Any] | None = None
    if version == current:
        state = TrainerState(registry.client, RedisSettings().key_prefix)
        raw = state.load_monitor(task)
        try:
            watch = Watch.from_json(raw) if raw else None
        except LearnError:  # saved by an older trainer; it starts afresh on its next batch
            watch = None
        live = watch.summary() if watch is not None and watch.version == version else None
        alarm = {"audit_boost": registry.audit_boost(task),
                 "calibration_epoch": state.epoch(task)}
    gate = registry.gate(task) if version == current else None
    if as_json:
        print(orjson.dumps({"manifest": manifest, "current": version == current, "gate": gate,
                            "live_monitor": live, "after_alarm": alarm,
                            "report": registry.report(task, version)},
                           option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY).decode())
        return 0
    for line in _describe(version, manifest, current, gate, live) + _after_alarm(alarm):
        print(line)
    return 0


def _report(registry: Registry, task: str, version: str | None, *, html: str | None,
            json_path: str | None) -> int:
    from pathlib import Path

    from tracer_stream.errors import ConfigError, RegistryError
    from tracer_stream.report import render_html, render_json

    if html is None and json_path is None:
        raise ConfigError("say where the report goes: --html FILE and/or --json FILE")
    version = version or registry.current(task)
    if version is None:
        raise RegistryError(f"task {task!r} has no current version; name one", task=task)
    doc = registry.report(task, version)
    if doc is None:
        raise RegistryError(f"no report stored for {task} {version}", task=task,
                            version=version)
    if json_path == "-":
        print(render_json(doc))
    elif json_path is not None:
        Path(json_path).write_text(render_json(doc), encoding="utf-8")
        print(f"wrote {json_path}")
    if html is not None:
        Path(html).write_text(render_html(doc), encoding="utf-8")
        print(f"wrote {html}")
    return 0


def _after_alarm(alarm: dict[str, Any] | None) -> list[str]:
    """The audit boost and the calibration epoch (for the current version)."""
    if alarm is None:
        return []
    boost, epoch = alarm["audit_boost"], alarm["calibration_epoch"]
    lines = ["audit boost  " + ("none" if boost is None else
                                f"rate>={boost['rate']:g} until {boost['expires_at']:.0f} "
                                f"({boost['reason']})")]
    if epoch["at"]:
        lines.append(f"calibration  epoch from trace {epoch['start']} after {epoch['trigger']} "
                     f"({'pending' if epoch['pending'] else 'settled'}, "
                     f"{epoch['n_cal']} held-out traces since)")
    else:
        lines.append("calibration  every held-out trace (no alarm yet)")
    return lines


def _describe(version: str, m: dict[str, Any], current: str | None, gate: GateRecord | None,
              live: dict[str, Any] | None) -> list[str]:
    trainer = m.get("trainer", {})
    lines = [
        f"{m.get('task')} {version}{'  (current)' if version == current else ''}",
        f"certificate  alpha={m.get('alpha')} delta={_num(m.get('delta'), '.3g')} "
        f"certified={m.get('certified')} family={m.get('family')} surrogate={m.get('surrogate')}",
        f"calibration  n_cal={m.get('n_cal')} accepted={m.get('n_accepted')} "
        f"disagreements={m.get('disagreements')} coverage={_num(m.get('coverage'), '.3f')} "
        f"agreement={_num(m.get('agreement'), '.4f')}",
        f"data         traces={m.get('n_traces')} train={m.get('n_train')} "
        f"embedder={m.get('embedder', {}).get('id')} parent={m.get('parent_version')}",
    ]
    if trainer:
        lines.append(f"refit        trigger={trainer.get('trigger')} "
                     f"gate_test={trainer.get('gate_test')} "
                     f"delta_k={_num(trainer.get('delta_k'), '.3g')} "
                     f"decision: {trainer.get('comparison', {}).get('reason')}")
    deltas = m.get("coverage_deltas") or {}
    if deltas:
        lines.append("per label    n  coverage  parent  delta")
        for label, d in deltas.items():
            lines.append(f"  {label:24} {d['n']:>5} {_num(d['coverage'], '.3f'):>8} "
                         f"{_num(d['parent_coverage'], '.3f'):>7} {_num(d['delta'], '+.3f'):>6}")
    if gate is not None:
        lines.append(f"gate         {'open' if gate['open'] else 'CLOSED'} {gate['reason']}")
    if gate is not None and live is None:
        lines.append("live monitor no audited handled request of this version yet")
    if live is not None:
        lo, hi = live["confidence_sequence"]
        lines.append(f"live monitor #{live['k']} audited={live['audited']} "
                     f"agreement={_num(live['agreement'], '.4f')} "
                     f"[{lo:.4f}, {hi:.4f}] (1-delta={1 - live['delta']:.4g} confidence "
                     f"sequence for the mean since the deployment, valid if the rate changed) "
                     f"wealth={live['wealth']:.3g} (alarm at {live['alarm_at_wealth']:.1f})"
                     f"{' ALARM' if live['alarm'] else ''}")
    return lines


def _switch(registry: Registry, args: argparse.Namespace) -> int:
    from tracer_stream.config import KafkaSettings, TopicSettings
    from tracer_stream.errors import RegistryError
    from tracer_stream.training.publish import Announcer, make_current

    task, version = args.task, args.version
    if args.action == "rollback" and version is None:
        version = _previous(registry, task)
    manifest = registry.manifest(task, version)  # raises for an unknown version
    if args.action == "promote" and not manifest.get("certified") and not args.force:
        raise RegistryError("version is not certified (use --force to serve it anyway)",
                            task=task, version=version)
    announcer = Announcer(KafkaSettings(), TopicSettings())
    try:
        announced = make_current(registry, announcer, task, version, action=args.action,
                                 reason=f"tracer-stream model {args.action}")
    finally:
        announcer.close()
    print(f"{task}: {version} is current ({args.action}, "
          + ("announced)" if announced else "NOT announced: routers pick it up from the "
             "registry at their next refresh)"))
    return 0


def _previous(registry: Registry, task: str) -> str:
    """The version that was current before the current one."""
    from tracer_stream.errors import RegistryError

    current = registry.current(task)
    for event in registry.history(task, limit=1000):
        if event.get("action") in ("promote", "rollback") and event.get("version") == current:
            if event.get("previous"):
                return str(event["previous"])
            break
    raise RegistryError("no previous version to roll back to", task=task, current=current)


def _num(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)
