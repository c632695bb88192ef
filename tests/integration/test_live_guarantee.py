"""The live guarantee end to end, with the real trainer service, broker and Redis (traffic served
the way a router and the LLM worker would serve it, :func:`tests.unit.training.synth.serve`):
the teacher flips a label mid-stream; the live monitor closes the gate, a version certified on
post-change traces is promoted, and the agreement it keeps on the requests it handles is ≥ α.
A stationary run of the same length raises no alarm."""

from __future__ import annotations

import numpy as np
import pytest

from tests.integration.procs import TRUSTED
from tests.integration.test_trainer import TASK, MakeHarness, TrainerHarness
from tests.integration.test_trainer import make_harness as make_harness  # the fixture
from tests.integration.test_trainer_monitor import SHIFT, publish_first_version, send_served
from tests.unit.training.synth import traffic
from tracer_stream.contracts import Trace
from tracer_stream.learn import Artefact

pytestmark = pytest.mark.slow

CHUNK = 50
CHUNKS = 40          # 2,000 requests after v1 in either run
FLIP_AT = 6          # the teacher flips billing → refund from this chunk on
ALPHA = 0.95


def run(h: TrainerHarness, *, flip: bool) -> dict[str, object]:
    """Serve CHUNKS chunks with whatever the registry says; record what happened."""
    models: dict[str, Artefact] = {}
    seen: dict[str, object] = {"closed_at": None, "closed": None, "flip_seq": None,
                               "promoted": None}
    handled = {"n": 0, "agree": 0}
    for chunk in range(CHUNKS):
        flipped = flip and chunk >= FLIP_AT
        if flipped and seen["flip_seq"] is None:
            seen["flip_seq"] = h.stored()
        requests = list(traffic(CHUNK, seed=5000 + chunk, prefix=f"c{chunk}",
                                remap=SHIFT if flipped else None))
        version = h.registry.current(TASK) or "v1"
        art = models.setdefault(version, Artefact.from_bytes(h.registry.blob(TASK, version),
                                                             TRUSTED))
        gate_open = bool(h.registry.gate(TASK)["open"])
        if seen["promoted"] is not None and gate_open:
            _count_handled(art, requests, handled)
        send_served(h, art, version, requests, seed=chunk)
        if not h.registry.gate(TASK)["open"] and seen["closed_at"] is None:
            seen["closed_at"], seen["closed"] = chunk, version
        current = h.registry.current(TASK)
        if seen["closed"] not in (None, current) and seen["promoted"] is None:
            seen["promoted"] = current  # the first version after the closure
    seen["handled"] = handled
    return seen


def _count_handled(art: Artefact, requests: list[Trace], handled: dict[str, int]) -> None:
    """Agreement with the teacher on every request ``art`` answers (audited or not)."""
    routed = art.route(np.array([t.embedding for t in requests], dtype=np.float32))
    for i, t in enumerate(requests):
        if routed.accepted[i]:
            handled["n"] += 1
            handled["agree"] += routed.labels[i] == t.label


def test_a_flipped_label_closes_the_gate_and_a_post_change_version_keeps_alpha(
        make_harness: MakeHarness) -> None:
    h = make_harness(refit_min_new_traces="1000", drift_cooldown_s="1")
    publish_first_version(h)
    seen = run(h, flip=True)
    closed_at, promoted = seen["closed_at"], seen["promoted"]
    assert isinstance(closed_at, int) and closed_at >= FLIP_AT, f"gate never closed: {seen}"
    close = next(e for e in h.registry.history(TASK, 500) if e["action"] == "close_gate")
    assert close["reason"].startswith("live monitor #") and "at the crossing" in close["reason"]
    assert isinstance(promoted, str), f"no version promoted after the alarm: {seen}"
    epoch = h.registry.manifest(TASK, promoted)["trainer"]["calibration_epoch"]
    assert isinstance(seen["flip_seq"], int) and epoch["start"] > seen["flip_seq"]
    handled = seen["handled"]
    assert isinstance(handled, dict) and handled["n"] >= 300, handled
    agreement = handled["agree"] / handled["n"]
    print(f"gate closed in chunk {closed_at} (flip at {FLIP_AT}); {promoted} calibrated from "
          f"trace {epoch['start']} (flip at trace {seen['flip_seq']}); handled agreement "
          f"{agreement:.4f} over {handled['n']} requests")
    assert agreement >= ALPHA
    assert h.registry.gate(TASK)["open"]


def test_a_stationary_run_of_the_same_length_raises_no_alarm(make_harness: MakeHarness
                                                             ) -> None:
    h = make_harness(refit_min_new_traces="1000", drift_cooldown_s="1")
    publish_first_version(h)
    seen = run(h, flip=False)
    assert seen["closed_at"] is None
    assert h.registry.gate(TASK)["open"] and not h.state.epoch(TASK)["pending"]
    actions = {e["action"] for e in h.registry.history(TASK, 500)}
    assert not actions & {"close_gate", "drift", "calibration_epoch", "router_alarm"}
    watch = h.watch()
    assert watch is not None and not watch.monitor.alarm
    assert watch.monitor.n > 100  # the monitor of the current deployment did watch
