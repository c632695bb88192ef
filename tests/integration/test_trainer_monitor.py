"""The trainer's watchers against the real broker and Redis, with traffic served the way a
router would serve it (the surrogate answers accepted requests; deferred and audited ones reach
the teacher and become traces): a deliberately bad model is shut off by the live monitor within
a bounded number of audited requests, and an injected shift is detected; either alarm starts a
calibration epoch and an audit boost, and the epoch's refit runs once it has the data."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np

from tests.integration.procs import MODEL_KEY, TRUSTED, wait_until
from tests.integration.test_trainer import TASK, MakeHarness, TrainerHarness
from tests.integration.test_trainer import make_harness as make_harness  # the fixture
from tests.unit.training.synth import EMBEDDER, serve, traffic
from tracer_stream.contracts import Trace
from tracer_stream.embed import load_embedder
from tracer_stream.learn import Artefact, EmbedderRef, FitConfig, fit
from tracer_stream.tasks.binding import binding_for

SHIFT = {"billing": "refund"}  # the teacher now files every billing question as a refund


def fit_offline(traces: list[Trace]) -> Artefact:
    ref = EmbedderRef.from_dict(load_embedder(EMBEDDER).identity.to_dict())
    X = np.array([t.embedding for t in traces], dtype=np.float32)
    return fit(X, [t.label for t in traces], embedder=ref, config=FitConfig(zoo="fast"),
               trace_ids=[t.request_id for t in traces])


def publish_first_version(h: TrainerHarness) -> Artefact:
    h.register()
    proc = h.start()
    h.send(traffic(1200, seed=11, noise=0.01))
    wait_until(lambda: h.registry.current(TASK) == "v1", 90, 0.5,
               what=f"v1 published\n{proc.output()[-3000:]}")
    # v1 may come out of the refit at 1,000 traces: let the rest be stored before counting
    wait_until(lambda: h.stored() == 1200, 60, 0.1, what="the first 1,200 traces stored")
    return Artefact.from_bytes(h.registry.blob(TASK, "v1"), TRUSTED)


def send_served(h: TrainerHarness, art: Artefact, version: str, requests: list[Trace],
                seed: int) -> list[Trace]:
    """Serve ``requests`` with ``art`` the way a router reading the registry would (audit rate
    max(0.2, the boost); everything deferred while the gate is closed), send the resulting
    traces, wait until stored."""
    boost = h.registry.audit_boost(TASK)
    traces = serve(art, requests, version=version, seed=seed,
                   audit_rate=max(0.2, boost["rate"] if boost else 0.0),
                   gate_open=h.registry.gate(TASK)["open"])
    expected = h.stored() + h.send(traces)
    wait_until(lambda: h.stored() == expected, 120, 0.1,
               what="served traces stored")
    return traces


def test_a_deliberately_bad_model_is_shut_off_by_the_live_monitor(
        make_harness: MakeHarness) -> None:
    h = make_harness(refit_min_new_traces="1000", drift_cooldown_s="1")
    publish_first_version(h)
    bad = fit_offline(list(traffic(1200, seed=12, remap=SHIFT)))
    assert bad.certified  # certified on wrong labels: it looks fine on paper
    definition = h.registry.get_task(TASK)
    assert definition is not None
    bad = bad.with_binding(binding_for(definition, embedder=bad.embedder.id, delta_k=bad.delta,
                                       traces={"n": 1200}))
    h.registry.add_version(TASK, bad.to_bytes(MODEL_KEY), bad.manifest)
    promoted = subprocess.run([sys.executable, "-m", "tracer_stream.cli.main", "model",
                               "promote", TASK, "v2"], env=h.env, capture_output=True,
                              text=True, timeout=60)
    assert promoted.returncode == 0, promoted.stderr
    audited_handled = 0
    for chunk in range(40):
        requests = list(traffic(50, seed=1000 + chunk, prefix=f"live{chunk}"))
        served = send_served(h, bad, "v2", requests, seed=chunk)
        audited_handled += sum(t.audit and t.gate_accepted for t in served)
        if not h.registry.gate(TASK)["open"]:
            break
    gate = h.registry.gate(TASK)
    assert not gate["open"], "the live monitor never closed the gate"
    at_alarm = int(re.search(r"(\d+) audited handled requests", gate["reason"]).group(1))  # type: ignore[union-attr]
    print(f"bad model v2 shut off after {at_alarm} audited handled requests "
          f"({audited_handled} sent, {50 * (chunk + 1)} requests): {gate['reason']}")
    assert at_alarm <= 100
    assert any(a.action == "close_gate" and a.version == "v2" for a in h.announcements())
    # the alarm (or a drift detector's, if one fired first) started a calibration epoch and
    # boosted the audits
    epoch = h.state.epoch(TASK)
    assert epoch["pending"] and epoch["start"] > 1200
    assert h.registry.audit_boost(TASK)["rate"] == 0.25  # type: ignore[index]
    # every request now reaches the teacher: its traces calibrate the epoch's refit, whose
    # certified candidate replaces v2 (the gate is closed) and reopens the gate
    for chunk in range(20):
        if h.registry.current(TASK) == "v3":
            break
        send_served(h, bad, "v2", list(traffic(50, seed=3000 + chunk, prefix=f"closed{chunk}")),
                    seed=300 + chunk)
    wait_until(lambda: h.registry.current(TASK) == "v3", 90, 0.5, what="v3 after the alarm")
    assert h.registry.gate(TASK)["open"]
    assert h.state.last_refit(TASK)["trigger"] == epoch["trigger"]
    assert h.registry.manifest(TASK, "v3")["trainer"]["calibration_epoch"]["start"] == (
        epoch["start"])
    assert not h.state.epoch(TASK)["pending"] and h.registry.audit_boost(TASK) is None
    actions = [(a.action, a.version) for a in h.announcements()]
    assert ("audit_boost", "v2") in actions
    assert ("promote", "v3") in actions and ("open_gate", "v3") in actions
    show = subprocess.run([sys.executable, "-m", "tracer_stream.cli.main", "model", "show",
                           TASK], env=h.env, capture_output=True, text=True, timeout=60)
    assert show.returncode == 0 and "v3  (current)" in show.stdout, show.stderr
    assert "audit boost  none" in show.stdout
    assert f"epoch from trace {epoch['start']}" in show.stdout and "settled" in show.stdout


def test_an_injected_shift_is_detected_and_triggers_an_early_refit(
        make_harness: MakeHarness) -> None:
    h = make_harness(refit_min_new_traces="1000", drift_cooldown_s="2")
    v1 = publish_first_version(h)
    send_served(h, v1, "v1", list(traffic(600, seed=20, prefix="calm")), seed=20)
    assert not [e for e in h.registry.history(TASK) if e["action"] == "drift"]
    shifted = 0
    for chunk in range(40):
        requests = list(traffic(50, seed=2000 + chunk, prefix=f"shift{chunk}", remap=SHIFT))
        send_served(h, v1, "v1", requests, seed=100 + chunk)
        shifted += len(requests)
        if h.state.epoch(TASK)["pending"]:
            break
    # the first alarm — a drift detector's or the live monitor's, whichever decides first —
    # started a calibration epoch and boosted the audits
    epoch = h.state.epoch(TASK)
    assert epoch["pending"] and epoch["start"] > 1200, "no alarm after the shift"
    assert epoch["trigger"].startswith("drift:") or epoch["trigger"] == "monitor"
    detectors = sorted({e["detector"] for e in h.registry.history(TASK)
                        if e["action"] == "drift"})
    print(f"shift detected after {shifted} shifted requests by {epoch['trigger']} "
          f"(drift detectors that fired: {detectors})")
    assert h.registry.audit_boost(TASK) is not None
    # traffic goes on, audited at the boosted rate; the epoch's refit runs once it holds
    # enough held-out traces for a gate test
    for chunk in range(40):
        if h.state.last_refit(TASK)["trigger"] == epoch["trigger"]:
            break
        requests = list(traffic(50, seed=4000 + chunk, prefix=f"after{chunk}", remap=SHIFT))
        send_served(h, v1, h.registry.current(TASK) or "v1", requests, seed=400 + chunk)
    wait_until(lambda: h.state.last_refit(TASK)["trigger"] == epoch["trigger"], 60, 0.5,
               what="the epoch's refit")
    last = h.state.last_refit(TASK)
    print(f"epoch from trace {epoch['start']} ({epoch['trigger']}); refit at trace "
          f"{last['seq']}: {last['outcome']}")
    assert last["outcome"] in ("promoted", "kept_current", "not_certified")
