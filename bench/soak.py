"""Soak — the delivery contract under mixed faults for a bounded while.

One deployment of the fault suite (``tests/faults/harness.py``: its own broker and Redis, the
router, the LLM worker and the trainer as processes, a fake OpenAI-compatible LLM) takes a
steady stream of requests for ``--minutes``; every ``--fault-every`` seconds one fault, drawn
in turn from the list below, hits it. At the end the ledger of labels and dead letters is read
against every request sent (``tests/faults/ledger.py``): none lost, none with two different
outcomes.

Faults: SIGKILL and restart of the router, the worker or the trainer; Redis and the broker
paused (SIGSTOP) for 10 s; Redis restarted; the LLM rate-limiting, failing (503), hanging past
the timeout or answering garbage for 10 s; a burst of poison records.

    nice -n 10 python bench/soak.py [--minutes 10] [--rate 20] [--fault-every 45]

Prints the ledger line and the faults injected, writes bench/results/soak.json. Loopback only,
bounded in time, and it stops everything it started.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import threading
import time
from pathlib import Path

from _common import REPO, machine, write_json

sys.path.insert(0, str(REPO))

from tests.faults.harness import FaultDeployment, deployment

FAULTS = ["kill router", "pause redis", "llm rate_limited", "kill worker", "pause broker",
          "llm server_error", "kill trainer", "poison", "llm hang", "restart redis",
          "llm garbage"]


def inject(dep: FaultDeployment, fault: str) -> None:
    """Apply one fault and undo it (a restart, SIGCONT, the LLM back to normal)."""
    kind, _, what = fault.partition(" ")
    if kind == "kill":
        dep.kill(what)
        time.sleep(2.0)
        dep.start(what)
    elif kind == "pause":
        dep.pause(what, 10.0)
    elif kind == "restart":
        dep.restart_redis()
    elif kind == "llm":
        dep.mode = what
        time.sleep(10.0)
        dep.mode = "ok"
    else:
        for i, payload in enumerate([b"{oops", b"", b"[1]", b'{"schema_version": 1}']):
            dep.send_raw(f"poison-{time.monotonic_ns()}-{i}", payload)
        dep.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second")
    parser.add_argument("--fault-every", type=float, default=45.0, help="seconds")
    args = parser.parse_args()
    injected: list[dict[str, float | str]] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as root, deployment(Path(root),
                                                           with_trainer=True) as dep:
        dep.start_all()
        stop = threading.Event()

        def traffic() -> None:
            while not stop.is_set():
                dep.send(max(1, int(args.rate)), prefix="soak")
                stop.wait(1.0)

        sender = threading.Thread(target=traffic, name="traffic", daemon=True)
        sender.start()
        faults = itertools.cycle(FAULTS)
        end = started + args.minutes * 60
        while time.monotonic() + args.fault_every < end:
            time.sleep(args.fault_every)
            fault = next(faults)
            at = round(time.monotonic() - started, 1)
            print(f"{at:7.1f} s  {fault}", flush=True)
            inject(dep, fault)
            injected.append({"at_s": at, "fault": fault})
        stop.set()
        sender.join()
        ledger = dep.settle(300.0)
        line = ledger.summary()
        result = {"machine": machine(), "args": vars(args), "faults": injected,
                  "ledger": line, "lost": len(ledger.missing()),
                  "double": len(ledger.double()), "unmatched": len(ledger.unmatched),
                  "wall_s": round(time.monotonic() - started, 1)}
        ledger.close()
    print(line)
    write_json("soak.json", result)
    return 0 if result["lost"] == result["double"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
