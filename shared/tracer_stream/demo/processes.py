"""The demo's service subprocesses, and proof that none of them outlives the demo.

Each service runs as ``python -m tracer_stream.cli.main <service>`` (what the
``tracer-stream`` script runs) in its own session, so that a Ctrl-C in the terminal reaches only
the demo, which then stops the services in order. On Linux the kernel also sends a child SIGTERM
when the demo dies without cleaning up (``PR_SET_PDEATHSIG``).

:meth:`ServiceProcess.stop` remembers every descendant (the trainer's refit worker, for
example) before it signals the service, and kills whatever of that tree is still alive after the
grace period: :func:`survivors` reports any that could not be stopped.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["CLI", "ProcessRef", "ServiceProcess", "descendants", "survivors"]

_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class ProcessRef:
    """A pid together with its start time, so that a recycled pid is never mistaken for it."""

    pid: int
    started: str

    @classmethod
    def of(cls, pid: int) -> ProcessRef | None:
        started = _start_time(pid)
        return None if started is None else cls(pid, started)

    def alive(self) -> bool:
        return _start_time(self.pid) == self.started and not _is_zombie(self.pid)


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return raw.rsplit(")", 1)[-1].split()  # fields after "pid (comm)": state, ppid, ...


def _start_time(pid: int) -> str | None:
    fields = _stat_fields(pid)
    return None if fields is None or len(fields) < 20 else fields[19]


def _is_zombie(pid: int) -> bool:
    fields = _stat_fields(pid)
    return fields is None or fields[0] in ("Z", "X")


def descendants(pid: int) -> list[ProcessRef]:
    """Every live descendant of ``pid`` (children, grandchildren, ...)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None and len(fields) > 1:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        ref = ProcessRef.of(child)
        if ref is not None:
            found.append(ref)
        todo.extend(children.get(child, []))
    return found


def survivors(refs: list[ProcessRef]) -> list[ProcessRef]:
    return [ref for ref in refs if ref.alive()]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    # without prctl (not Linux) the demo's own cleanup still stops the service
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


CLI = (sys.executable, "-m", "tracer_stream.cli.main")
"""How the demo runs ``tracer-stream`` (the console script does the same)."""


@dataclass
class ServiceProcess:
    """One ``tracer-stream <args>`` subprocess (``command`` + ``args``) logging to ``log``."""

    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    command: tuple[str, ...] = CLI
    proc: subprocess.Popen[bytes] | None = None
    tree: list[ProcessRef] = field(default_factory=list)

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as handle:
            self.proc = subprocess.Popen(
                [*self.command, *self.args], env=self.env,
                stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        ref = ProcessRef.of(self.proc.pid)
        self.tree = [ref] if ref is not None else []

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def remember_tree(self) -> None:
        """Add the service's current descendants to the tree :meth:`stop` must clean up."""
        if self.alive() and self.proc is not None:
            self.tree = list({*self.tree, *descendants(self.proc.pid)})

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout_s: float = 20.0) -> list[ProcessRef]:
        """SIGTERM the service, SIGKILL its tree after ``timeout_s``; returns what survived."""
        if self.proc is None:
            return []
        if self.alive():
            self.remember_tree()
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        deadline = time.monotonic() + 5.0  # children notice their parent is gone
        while survivors(self.tree) and time.monotonic() < deadline:
            time.sleep(0.1)
        for ref in survivors(self.tree):
            with contextlib.suppress(ProcessLookupError):
                os.kill(ref.pid, signal.SIGKILL)
        time.sleep(0.1)
        return survivors(self.tree)
