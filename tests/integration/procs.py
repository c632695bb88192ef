"""Run tracer-stream services as real subprocesses in integration tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tracer_stream.signing import SIGNING_KEY_ENV, VERIFY_KEYS_ENV, SigningKey, VerifyKeys

MODEL_KEY = SigningKey.generate()
"""This test session's model signing key (the trainer's): made per session, never stored."""
TRUSTED = VerifyKeys.parse(MODEL_KEY.public_b64)
"""What every service of the session trusts: the public half of :data:`MODEL_KEY`."""
SIGNER_ENV = {SIGNING_KEY_ENV: MODEL_KEY.seed_b64}
"""Extra environment of a process that signs models (a trainer)."""
VERIFIER_ENV = {VERIFY_KEYS_ENV: MODEL_KEY.public_b64}
"""Extra environment of every service (routers, workers, trainers)."""


class ServiceProcess:
    """``tracer-stream <args>`` in a subprocess with its output in ``log``."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args = args
        self.log = log
        self._log_handle = log.open("ab")
        self._terminated = False
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tracer_stream.cli.main", *args], env=env,
            stdout=self._log_handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout_s: float = 20.0) -> int:
        """SIGTERM and wait; SIGKILL if it does not exit. Returns the exit code."""
        self.terminate()
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self._log_handle.close()
        return int(self.proc.returncode)

    def terminate(self) -> None:
        """SIGTERM (once) without waiting: several processes then stop side by side."""
        if self.alive() and not self._terminated:
            self.proc.send_signal(signal.SIGTERM)
            self._terminated = True

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        self.proc.kill()
        self.proc.wait(5)
        self._log_handle.close()


def wait_until(predicate: Callable[[], bool], timeout_s: float, interval_s: float = 0.1,
               what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def env_with(base: dict[str, str], **extra: str) -> dict[str, str]:
    return {**base, **extra, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1",
            "PATH": os.environ.get("PATH", "")}
