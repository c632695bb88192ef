"""Drift watch: quiet on stationary traffic, fires on injected shifts; ingest acts on alarms."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from tracer_stream.contracts import Trace, encode
from tracer_stream.contracts.dead_letters import Source
from tracer_stream.registry import Registry
from tracer_stream.tasks import Task
from tracer_stream.training import DriftWatch, LiveGuard, TraceSnapshot, TrainerState
from tracer_stream.training.alarms import AlarmResponse
from tracer_stream.training.ingest import Ingest

from .memredis import MemRedis
from .synth import LABELS, traffic
from .test_refit import RecordingAnnouncer

SHIFT = {"billing": "refund"}  # the teacher now calls every billing question a refund


def served(traces: list[Trace], *, surrogate: list[Trace], version: str = "v1",
           audit_every: int = 1, accept: float = 1.0, seed: int = 0) -> list[Trace]:
    """The traces as a serving model ``version`` saw them: its label is ``surrogate``'s."""
    rng = np.random.default_rng(seed)
    return [dataclasses.replace(t, model_version=version, surrogate_label=s.label,
                                audit=i % audit_every == 0,
                                gate_accepted=bool(rng.random() < accept),
                                accept_score=float(rng.uniform(0.6, 1.0)))
            for i, (t, s) in enumerate(zip(traces, surrogate, strict=True))]


def run(watch: DriftWatch, traces: list[Trace], version: str | None = "v1") -> list[tuple[int,
                                                                                          str]]:
    return [(i, name) for i, t in enumerate(traces) for name in watch.update(t, version)]


def test_stationary_traffic_raises_no_alarm() -> None:
    before = list(traffic(3000, seed=1))
    assert run(DriftWatch(), served(before, surrogate=before, audit_every=5)) == []


def test_remapped_labels_are_detected_soon_after_the_shift() -> None:
    before = list(traffic(1500, seed=2))
    after = list(traffic(1500, seed=3, start=1500, remap=SHIFT))
    surrogate = before + list(traffic(1500, seed=3, start=1500))  # the old concept
    fired = run(DriftWatch(), served(before + after, surrogate=surrogate, audit_every=5))
    assert fired, "no detector fired"
    first, _ = fired[0]
    assert 1500 <= first < 1500 + 300
    names = {name for _, name in fired}
    assert {"shadow_vs_surrogate", "audited_disagreement"} <= names


def test_acceptance_rate_change_is_detected_and_detectors_restart_per_version() -> None:
    stream = list(traffic(2000, seed=4))
    watch = DriftWatch()
    ok = served(stream[:1000], surrogate=stream[:1000], accept=0.9, seed=1)
    dropped = served(stream[1000:], surrogate=stream[1000:], accept=0.4, seed=2)
    fired = run(watch, ok + dropped)
    assert any(name == "acceptance_rate" and i >= 1000 for i, name in fired)
    # the same drop right after a version change is the new version's baseline, not drift
    fresh = DriftWatch()
    run(fresh, ok)
    assert not [n for _, n in run(fresh, [dataclasses.replace(t, model_version="v2")
                                          for t in dropped], "v2") if n == "acceptance_rate"]


def test_the_first_model_and_audit_boosts_are_not_drift() -> None:
    stream = list(traffic(4000, seed=7))
    cold = [dataclasses.replace(t, model_version=None) for t in stream[:1000]]
    # then a model serves: only the requests it defers reach the teacher — the hard ones, here
    # with an ambiguous teacher label (without the restart on this regime change, shadow_error
    # fires ~70 traces in) — plus audits of handled requests, at 2% and then at 25%
    rng = np.random.default_rng(8)
    later = []
    for i, t in enumerate(stream[1000:]):
        hard = rng.random() < 0.3
        audit = rng.random() < (0.02 if i < 1500 else 0.25)
        if hard:
            label = str(rng.choice(LABELS)) if rng.random() < 0.3 else t.label
            later.append(dataclasses.replace(
                t, label=label, model_version="v1", audit=audit, gate_accepted=False,
                surrogate_label=label, reason="below_threshold"))
        elif audit:
            later.append(dataclasses.replace(t, model_version="v1", audit=True,
                                             gate_accepted=True, surrogate_label=t.label))
    fired = run(DriftWatch(), cold + later)
    assert not [name for _, name in fired if name.startswith("shadow")]


def test_ingest_stores_once_and_turns_alarms_into_epochs_and_boosts(tmp_path: Path) -> None:
    registry = Registry(MemRedis())  # type: ignore[arg-type]
    registry.put_task(Task(name="intents", labels=LABELS))
    registry.add_version("intents", b"blob", {"alpha": 0.95})
    registry.set_current("intents", "v1")
    state = TrainerState(registry.client)
    announcer = RecordingAnnouncer()
    guard = LiveGuard(registry, state, announcer)  # type: ignore[arg-type]
    alarms = AlarmResponse(registry, state, announcer, audit_rate=0.3,  # type: ignore[arg-type]
                           ttl_s=600)
    ingest = Ingest(TraceSnapshot(tmp_path), guard, registry, state, alarms, max_bytes=1 << 20,
                    drift_cooldown_s=3600, calibration_fraction=0.3)
    before = list(traffic(1500, seed=5))
    after = list(traffic(1000, seed=6, start=1500, remap=SHIFT))
    surrogate = before + list(traffic(1000, seed=6, start=1500))
    raws = [encode(t) for t in served(before + after, surrogate=surrogate, audit_every=5)]
    reports = [ingest.process(raws[i:i + 250] + raws[max(0, i - 50):i])  # with re-deliveries
               for i in range(0, len(raws), 250)]
    assert sum(r.stored["intents"] for r in reports) == 2500
    assert sum(r.duplicates for r in reports) == 50 * (len(reports) - 1)
    report = ingest.process([b"{not json", raws[0]], [Source("t.traces", 2, 40),
                                                      Source("t.traces", 2, 41)])
    assert report.rejected == {"malformed_json": 1}
    [letter] = report.dead_letters
    assert (letter.stage, letter.reason, letter.payload) == ("trainer", "malformed_json",
                                                             "{not json")
    assert (letter.source_topic, letter.source_partition, letter.source_offset) == (
        "t.traces", 2, 40)
    fired = [d for r in reports for d in r.drift]
    epoch = state.epoch("intents")
    assert fired and epoch["pending"] and epoch["start"] > 1500
    assert epoch["trigger"] in {"monitor", *(f"drift:{d}" for _, d in fired)}
    assert registry.audit_boost("intents")["rate"] == 0.3  # type: ignore[index]
    assert ("intents", "v1", "audit_boost") in announcer.sent
    assert [e["action"] for e in registry.history("intents")].count("calibration_epoch") == 1
    drift_events = [e for e in registry.history("intents") if e["action"] == "drift"]
    assert len(drift_events) == len({d for _, d in fired})  # once per detector per cooldown
    live = reports[-1].watches["intents"]
    assert live["alarm"] and live["audited"] < 500  # the monitor's test stops at its alarm


def test_a_relabelling_of_accepted_inputs_reaches_the_shadow_learner() -> None:
    """The teacher changes its mind only on inputs the surrogate accepts: the deferred stream
    (what the shadow detectors watch) stays the same, the audits of handled requests show it."""
    before = list(traffic(2000, seed=9))
    after = list(traffic(2000, seed=10, start=2000, remap=SHIFT))
    old = before + list(traffic(2000, seed=10, start=2000))
    rng = np.random.default_rng(11)
    stream: list[Trace] = []
    changed_at = 0
    for i, (new, was) in enumerate(zip(before + after, old, strict=True)):
        changed_at = len(stream) if i == len(before) else changed_at
        if rng.random() < 0.5:  # deferred for its content: the teacher's old answer
            stream.append(dataclasses.replace(was, model_version="v1", audit=False,
                                              gate_accepted=False, surrogate_label=was.label,
                                              reason="below_threshold"))
        elif rng.random() < 0.2:  # handled and audited: the teacher's current answer
            stream.append(dataclasses.replace(new, model_version="v1", audit=True,
                                              gate_accepted=True, surrogate_label=was.label))
    fired = run(DriftWatch(), stream)
    handled = [i for i, name in fired if name == "shadow_error_handled"]
    assert handled and changed_at <= handled[0] < changed_at + 1500  # ~250 audits later
    assert not [n for i, n in fired if n.startswith("shadow") and i < changed_at]
