"""``tracer-stream task apply FILE | list | show NAME``: register and inspect tasks in Redis."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tracer_stream.registry import Registry


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("task", help="register, list and show classification tasks")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    apply = actions.add_parser("apply", help="validate a YAML/JSON task file and store its tasks")
    apply.add_argument("file", type=Path,
                       help="YAML/JSON file with one task or a list of tasks (docs/router.md)")
    apply.add_argument("--dry-run", action="store_true", help="validate only, store nothing")
    actions.add_parser("list", help="every registered task, one a line")
    show = actions.add_parser("show", help="one task as JSON, with its model and gate state")
    show.add_argument("name", help="registered task name")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from tracer_stream.cli._reach import open_registry
    from tracer_stream.tasks import load_task_file

    if args.action == "apply":
        tasks = load_task_file(args.file)  # raises ConfigError naming the file and field
        if args.dry_run:
            for task in tasks:
                print(f"valid    {task.name}  ({len(task.labels)} labels)")
            return 0
    registry = open_registry()
    try:
        if args.action == "apply":
            for task in tasks:
                state = "updated" if registry.get_task(task.name) is not None else "created"
                registry.put_task(task)
                print(f"{state:8} {task.name}  ({len(task.labels)} labels, alpha={task.alpha}, "
                      f"delta={task.delta}, audit_rate={task.audit_rate}, "
                      f"embedder={task.embedder})")
            return 0
        if args.action == "list":
            return _list(registry)
        return _show(registry, args.name)
    finally:
        registry.close()


def _list(registry: Registry) -> int:
    tasks = registry.list_tasks()
    if not tasks:
        print("no tasks registered (tracer-stream task apply FILE)")
        return 0
    print(f"{'task':24} {'labels':>6} {'alpha':>6} {'audit':>6} {'model':>8}  gate")
    for task in tasks:
        gate = registry.gate(task.name)
        current = registry.current(task.name) or "-"
        print(f"{task.name:24} {len(task.labels):>6} {task.alpha:>6} {task.audit_rate:>6} "
              f"{current:>8}  {'open' if gate['open'] else 'closed: ' + gate['reason']}")
    return 0


def _show(registry: Registry, name: str) -> int:
    import orjson

    from tracer_stream.cli._reach import require_task

    require_task(registry, name)
    task = registry.get_task(name)
    assert task is not None
    document = {**task.model_dump(mode="json"), "model": {
        "current": registry.current(name), "versions": registry.versions(name),
        "gate": registry.gate(name)}}
    print(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())
    return 0
