"""Stopping a service stops its whole process tree, and a recycled pid is never mistaken for
one of ours."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from tracer_stream.demo.processes import ProcessRef, ServiceProcess, descendants, survivors

# a "service" that starts a grandchild ignoring SIGTERM, then waits
_TREE = (
    "import signal, subprocess, sys, time\n"
    "subprocess.Popen([sys.executable, '-c', 'import signal, time; "
    "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)'])\n"
    "time.sleep(600)\n"
)


def test_stop_kills_the_service_and_its_descendants(tmp_path: Path) -> None:
    service = ServiceProcess("fake", ["-c", _TREE], dict(os.environ), tmp_path / "fake.log",
                             command=(sys.executable,))
    service.start()
    assert service.pid is not None and service.alive()
    deadline = time.monotonic() + 10
    while not descendants(service.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    tree = [*service.tree, *descendants(service.pid)]
    assert len(tree) == 2
    assert service.stop(timeout_s=5.0) == []
    assert survivors(tree) == []
    assert not service.alive()


def test_a_process_ref_is_bound_to_its_start_time() -> None:
    me = ProcessRef.of(os.getpid())
    assert me is not None and me.alive()
    assert not ProcessRef(me.pid, "0").alive()
    assert ProcessRef.of(2**22 + 12345) is None
