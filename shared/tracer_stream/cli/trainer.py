"""``tracer-stream trainer [run]``: run the trainer service (settings from
TRACER_STREAM_TRAINER_*).

``tracer-stream trainer refit TASK``: refit a task now. When a trainer is running (its heartbeat
key is in Redis) the request is handed to it (it refits at its next check, within
``refit_check_interval_s``); otherwise, or with ``--direct``, the refit runs in this process
against the trace snapshot under ``$TRACER_STREAM_STATE_DIR/traces`` — so run it where that
volume is mounted. ``--wait`` waits for the running trainer's outcome.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tracer_stream.config import TrainerSettings


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("trainer", help="run the trainer, or refit a task now")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.add_parser("run", help="run the trainer service (the default)")
    refit = actions.add_parser("refit", help="refit TASK now (via the running trainer if any)")
    refit.add_argument("task", help="registered task name")
    refit.add_argument("--direct", action="store_true",
                       help="refit in this process even if a trainer is running")
    refit.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                       help="wait up to SECONDS for the running trainer's outcome")
    parser.add_argument("--http-port", type=int, default=None,
                        help="port of /healthz, /readyz, /metrics (0: any free port)")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from tracer_stream.config import TrainerSettings

    settings = TrainerSettings()
    if args.http_port is not None:
        settings = settings.model_copy(update={"http_port": args.http_port})
    if args.action == "refit":
        return _refit(settings, args.task, direct=args.direct, wait_s=args.wait)
    from tracer_stream_trainer.app import run

    return run(settings)


def _refit(settings: TrainerSettings, task: str, *, direct: bool, wait_s: float) -> int:
    import time

    from tracer_stream.cli._reach import open_registry

    registry = open_registry()  # before the training imports (seconds): fail fast
    from tracer_stream.training.state import TrainerState

    state = TrainerState(registry.client, settings.redis.key_prefix)
    try:
        if direct or not state.trainer_alive():
            from tracer_stream.training.jobs import build_refitter

            print(f"no running trainer: refitting {task} here" if not direct
                  else f"refitting {task} here")
            outcome = build_refitter(settings).refit(task, "manual")
            print(f"{outcome.outcome}: {outcome.version or '-'}  {outcome.reason}")
            return 0 if outcome.outcome not in ("failed", "busy", "no_task") else 1
        before = state.last_refit(task)["at"]
        state.request_refit(task, "manual")
        print(f"refit of {task} requested from the running trainer")
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            last = state.last_refit(task)
            if last["at"] > before and last["trigger"] == "manual":  # not one running already
                history = registry.history(task, limit=1)
                reason = history[0].get("reason", "") if history else ""
                print(f"{last['outcome']}: {registry.current(task) or '-'}  {reason}")
                return 0 if last["outcome"] != "failed" else 1
            time.sleep(0.5)
        return 0 if wait_s <= 0 else 3
    finally:
        registry.close()
