"""``tracer-stream demo`` end to end, shortened: its own stack and services as real processes,
two simulated days, a refit in between; then Ctrl-C in the middle of a run. Both must leave no
process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from tracer_stream.demo.processes import ProcessRef, descendants, survivors

pytestmark = pytest.mark.slow

ALPHA = 0.90  # the fast hash embedder certifies 1,500 traces reliably at 0.90, not at 0.95


class DemoProcess:
    """``tracer-stream demo ARGS`` with its output in a file; remembers every descendant it
    ever had, so that the test can prove that none survives it."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.log = log
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRACER_STREAM_")}
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tracer_stream.cli.main", "demo", *args],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**env, "PYTHONUNBUFFERED": "1"})
        self.seen: set[ProcessRef] = set()

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def watch(self, timeout_s: float, until: str | None = None) -> int | None:
        """Record descendants until the demo exits (its code) or ``until`` is printed."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.seen.update(descendants(self.proc.pid))
            code = self.proc.poll()
            if code is not None:
                return code
            if until is not None and until in self.output():
                return None
            time.sleep(0.2)
        self.proc.kill()
        raise AssertionError(f"demo still running after {timeout_s}s:\n{self.output()[-3000:]}")

    def leftovers(self) -> list[ProcessRef]:
        deadline = time.monotonic() + 10.0
        while survivors(list(self.seen)) and time.monotonic() < deadline:
            time.sleep(0.2)
        return survivors(list(self.seen))


def test_short_demo_runs_end_to_end_and_stops_everything(tmp_path: Path) -> None:
    demo = DemoProcess(["--days", "2", "--per-day", "1500", "--embedder", "hash:256",
                        "--alpha", str(ALPHA), "--latency-ms", "5",
                        "--state-dir", str(tmp_path)], tmp_path / "demo.log")
    code = demo.watch(timeout_s=240)
    out = demo.output()
    assert code == 0, out[-4000:]
    assert len(demo.seen) >= 5, "stack and services should have been child processes"
    assert not demo.leftovers(), f"processes left behind: {demo.leftovers()}"

    assert "Summary" in out and "report:" in out
    # Not a terminal: one plain line per day, no progress bars or redrawn tables.
    assert out.count("day 1: 1500 requests") == 1 and "━" not in out, out[-3000:]
    results_path = Path(out.split("results:")[1].split()[0])
    results = orjson.loads(results_path.read_bytes())
    day1, day2 = results["days"]
    assert results["completed"] is True
    assert day1["requests"] == day2["requests"] == 1500
    assert day1["answered"] == day2["answered"] == 1500
    assert day1["handled"] == 0  # no model before the first refit
    assert day2["handled"] > 0 and day2["coverage"] > 0.1, day2
    assert day2["handled_agreement"] >= ALPHA, day2
    assert results["refits"][0]["outcome"] == "promoted"

    report = Path(out.split("report:")[1].split()[0])
    html = report.read_text()
    assert html.count("<svg") == 4 and "Coverage per label" in html
    assert "<script" not in html and "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")


def test_noisy_teacher_summary_says_nothing_was_certified(tmp_path: Path) -> None:
    """Half of the teacher's answers at random: the gate never opens, and the headline says
    so plainly, with the gate's reason, instead of a green success line."""
    demo = DemoProcess(["--days", "2", "--per-day", "600", "--embedder", "hash:256",
                        "--alpha", str(ALPHA), "--latency-ms", "5", "--teacher-noise", "0.5",
                        "--zoo", "fast", "--state-dir", str(tmp_path)], tmp_path / "demo.log")
    code = demo.watch(timeout_s=240)
    out = demo.output()
    assert code == 0, out[-4000:]
    assert not demo.leftovers(), f"processes left behind: {demo.leftovers()}"
    results = orjson.loads(Path(out.split("results:")[1].split()[0]).read_bytes())
    assert results["total"]["handled"] == 0 and results["total"]["llm_calls_avoided"] == 0
    assert results["refits"][0]["outcome"] == "not_certified", results["refits"]
    assert "Nothing was certified" in out
    assert "The gate refused every candidate" in out
    assert "LLM calls avoided," not in out


def test_ctrl_c_stops_every_process_the_demo_started(tmp_path: Path) -> None:
    demo = DemoProcess(["--days", "3", "--per-day", "1500", "--embedder", "hash:256",
                        "--latency-ms", "200", "--state-dir", str(tmp_path)],
                       tmp_path / "demo.log")
    assert demo.watch(timeout_s=120, until="deployment ready") is None, demo.output()
    time.sleep(2.0)  # in the middle of day 1
    demo.seen.update(descendants(demo.proc.pid))
    demo.proc.send_signal(signal.SIGINT)
    code = demo.watch(timeout_s=90)
    assert code == 130, demo.output()[-3000:]
    assert "interrupted" in demo.output()
    assert demo.output().endswith("stopped\n"), repr(demo.output()[-200:])  # the line is ended
    assert len(demo.seen) >= 5
    assert not demo.leftovers(), f"processes left behind: {demo.leftovers()}"
