"""Refits in a separate (spawned) process, so the CPU-heavy fit never stalls the trainer's event
loop (consumer heartbeats, timers, probes).

The worker process keeps one :class:`~tracer_stream.training.refit.Refitter` (and its loaded
embedders) across refits. It dies with the trainer: on Linux the kernel kills it when its parent
dies (``prctl(PR_SET_PDEATHSIG, SIGKILL)``), elsewhere a thread checks every second that the
parent is alive. Each refit carries the trainer's generation
(:mod:`tracer_stream.training.fencing`), so even a refit that got past both cannot promote.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from tracer_stream.config import TrainerSettings
from tracer_stream.registry import Registry
from tracer_stream.training.publish import Announcer
from tracer_stream.training.refit import RefitOutcome, Refitter
from tracer_stream.training.state import TrainerState

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1

_refitter: Refitter | None = None


def build_refitter(settings: TrainerSettings) -> Refitter:
    """A refitter wired to the settings' Redis, Kafka and snapshot directory."""
    registry = Registry.from_settings(settings.redis)
    return Refitter(settings, registry, TrainerState(registry.client, settings.redis.key_prefix),
                    Announcer(settings.kafka, settings.topics), settings.state_dir / "traces")


def die_with_parent(parent_pid: int) -> None:
    """Exit as soon as the process ``parent_pid`` (our parent) is gone."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before the line above
        os._exit(1)

    def watch_parent() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch_parent, daemon=True, name="parent-watch").start()


def init_worker(parent_pid: int, log_level: int) -> None:
    """Process-pool initializer: logging, and die with the parent."""
    logging.basicConfig(level=log_level,
                        format="%(asctime)s %(levelname)s %(name)s[refit]: %(message)s")
    die_with_parent(parent_pid)


def _worker_refitter(settings: TrainerSettings) -> Refitter:
    global _refitter
    if _refitter is None:
        _refitter = build_refitter(settings)
    return _refitter


def warm_up(settings: TrainerSettings) -> None:
    """Import the learning core and build the refitter ahead of the first refit."""
    _worker_refitter(settings)


def run_refit(settings: TrainerSettings, task: str, trigger: str,
              generation: int | None) -> RefitOutcome:
    """Entry point executed in the worker process."""
    return _worker_refitter(settings).refit(task, trigger, generation)


class RefitPool:
    """A one-process pool for refits, warmed up at once and replaced when its process died."""

    def __init__(self, settings: TrainerSettings) -> None:
        self.settings = settings
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        pool = ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("spawn"),
            initializer=init_worker,
            initargs=(os.getpid(), logging.getLogger().getEffectiveLevel()))
        pool.submit(warm_up, self.settings)
        return pool

    async def run(self, task: str, trigger: str, generation: int | None) -> RefitOutcome:
        """One refit in the worker process; its failure (a dead worker, an error the refit
        did not handle) is a ``failed`` outcome."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, run_refit, self.settings, task,
                                              trigger, generation)
        except BrokenProcessPool as exc:  # the worker died (OOM kill...): start a new one
            log.error("refit worker died during the refit of %s: %s", task, exc)
            self._pool = self._new_pool()
            return RefitOutcome(task, trigger, "failed", f"refit worker died: {exc}")
        except Exception as exc:  # e.g. Redis unreachable mid-refit; the next check retries
            log.error("refit of %s failed: %s", task, exc)
            return RefitOutcome(task, trigger, "failed", f"{type(exc).__name__}: {exc}")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
