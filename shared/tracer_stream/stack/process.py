"""Start, find and stop one background server process through a pid file.

A pid file records the pid and the executable, so ``stop`` only ever signals the process this
module started (a reused pid belonging to another program is left alone).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tracer_stream.errors import StackError

# Popen objects of the servers this process started, so they are reaped (no zombies, no
# "subprocess still running" warnings) when stopped from the same process.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class ManagedProcess:
    """A named server process with its pid file and log under ``state_dir``."""

    name: str
    state_dir: Path

    @property
    def pid_file(self) -> Path:
        return self.state_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.state_dir / f"{self.name}.log"

    def start(self, argv: list[str]) -> int:
        """Start ``argv`` detached from this process group; return its pid."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, cwd=self.state_dir,
            )
        _CHILDREN[proc.pid] = proc
        self.pid_file.write_text(json.dumps({"pid": proc.pid, "exe": argv[0]}))
        return proc.pid

    def running_pid(self) -> int | None:
        """The pid if our process is alive, else ``None`` (a stale pid file is removed)."""
        try:
            record = json.loads(self.pid_file.read_text())
        except (FileNotFoundError, ValueError):
            return None
        pid = int(record["pid"])
        if _is_our_process(pid, str(record["exe"])):
            return pid
        self.pid_file.unlink(missing_ok=True)
        return None

    def stop(self, timeout_s: float = 10.0) -> bool:
        """SIGTERM, then SIGKILL after ``timeout_s``. True if a process was stopped."""
        pid = self.running_pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.02)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
            _wait_gone(pid, 5.0)
        self.pid_file.unlink(missing_ok=True)
        return True


def _alive(pid: int) -> bool:
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is None:
            return True
        del _CHILDREN[pid]
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def _wait_gone(pid: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while _alive(pid):
        if time.monotonic() > deadline:
            raise StackError(f"process {pid} did not exit after SIGKILL", pid=pid)
        time.sleep(0.02)


def _is_our_process(pid: int, exe: str) -> bool:
    if not _alive(pid):
        return False
    try:
        running = os.path.realpath(os.readlink(f"/proc/{pid}/exe"))
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    return running == os.path.realpath(exe)
