"""The refit job, run in a separate (spawned) process so that the CPU-heavy fit never stalls the
faust event loop (consumer heartbeats, timers, probes).

The worker process keeps one :class:`~tracer_stream.training.refit.Refitter` (and its loaded
embedders) across refits, and exits when the trainer process is gone.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from tracer_stream.config import TrainerSettings
from tracer_stream.registry import Registry
from tracer_stream.training.publish import Announcer
from tracer_stream.training.refit import RefitOutcome, Refitter
from tracer_stream.training.state import TrainerState

_refitter: Refitter | None = None


def build_refitter(settings: TrainerSettings) -> Refitter:
    """A refitter wired to the settings' Redis, Kafka and store directory."""
    registry = Registry.from_settings(settings.redis)
    return Refitter(settings, registry, TrainerState(registry.client, settings.redis.key_prefix),
                    Announcer(settings.kafka, settings.topics), settings.state_dir / "traces")


def init_worker(parent_pid: int, log_level: int) -> None:
    """Process-pool initializer: logging, and exit once the parent process has died."""
    logging.basicConfig(level=log_level,
                        format="%(asctime)s %(levelname)s %(name)s[refit]: %(message)s")

    def watch_parent() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch_parent, daemon=True, name="parent-watch").start()


def _worker_refitter(settings: TrainerSettings) -> Refitter:
    global _refitter
    if _refitter is None:
        _refitter = build_refitter(settings)
    return _refitter


def warm_up(settings: TrainerSettings) -> None:
    """Import the learning core and build the refitter ahead of the first refit."""
    _worker_refitter(settings)


def run_refit(settings: TrainerSettings, task: str, trigger: str) -> RefitOutcome:
    """Entry point executed in the worker process."""
    return _worker_refitter(settings).refit(task, trigger)
