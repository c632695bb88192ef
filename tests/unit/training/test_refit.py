"""Refit decisions on synthetic traffic: publish, skip, reject, keep the last good version."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tracer_stream.config import TrainerSettings
from tracer_stream.contracts import Trace
from tracer_stream.embed import load_embedder
from tracer_stream.learn import spend_delta
from tracer_stream.registry import Registry
from tracer_stream.signing import SigningKey
from tracer_stream.tasks import Task
from tracer_stream.training import TraceSnapshot, TraceTable, TrainerState
from tracer_stream.training.refit import Refitter

from .memredis import MemRedis
from .synth import EMBEDDER, LABELS, traffic


class RecordingAnnouncer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str | None, str]] = []

    def announce(self, task: str, version: str | None, action: str, reason: str) -> bool:
        self.sent.append((task, version, action))
        return True


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Any]:
    return make_world(tmp_path)


def make_world(tmp_path: Path) -> dict[str, Any]:
    """A registry with the task, trainer state, announcer, refitter and store."""
    registry = Registry(MemRedis())  # type: ignore[arg-type]
    registry.put_task(Task(name="intents", labels=LABELS, embedder=EMBEDDER))
    state = TrainerState(registry.client)
    announcer = RecordingAnnouncer()
    settings = TrainerSettings(zoo="fast", state_dir=tmp_path,
                               model_signing_key=SigningKey.generate().seed_b64)
    refitter = Refitter(settings, registry, state, announcer,  # type: ignore[arg-type]
                        tmp_path / "traces")
    return {"registry": registry, "state": state, "announcer": announcer,
            "refitter": refitter, "store": TraceSnapshot(tmp_path / "traces")}


def _add(world: dict[str, Any], traces: list[Trace]) -> None:
    world["store"].append(traces)


def test_first_certified_refit_is_published(world: dict[str, Any]) -> None:
    _add(world, list(traffic(1200, seed=1, noise=0.01)))
    out = world["refitter"].refit("intents", "new_traces")
    registry: Registry = world["registry"]
    assert out.outcome == "promoted" and out.version == "v1" and out.k == 1
    assert registry.current("intents") == "v1"
    assert world["announcer"].sent == [("intents", "v1", "promote")]
    manifest = registry.manifest("intents", "v1")
    assert manifest["certified"] and manifest["delta"] == pytest.approx(spend_delta(0.05, 1))
    assert manifest["trainer"]["gate_test"] == 1 and manifest["trainer"]["trigger"] == "new_traces"
    assert set(manifest["coverage_deltas"]) == set(LABELS)
    assert all(d["parent_coverage"] is None for d in manifest["coverage_deltas"].values())
    report = registry.report("intents", "v1")
    assert report is not None and report["schema"] == "tracer-stream.report/1"
    assert report["source"] == "calibration traces of intents v1"
    assert {row["label"] for row in report["labels"]} <= set(LABELS)
    assert report["heldout"]["n"] == manifest["n_cal"]
    assert world["state"].last_refit("intents")["seq"] == 1200


def test_too_few_calibration_traces_spend_no_delta(world: dict[str, Any]) -> None:
    _add(world, list(traffic(60, seed=2)))
    out = world["refitter"].refit("intents", "interval")
    assert out.outcome == "too_few_traces" and "needs >=" in out.reason
    assert world["state"].gate_tests("intents") == 0
    assert world["registry"].current("intents") is None


def test_failed_gate_keeps_the_last_good_version(world: dict[str, Any]) -> None:
    _add(world, list(traffic(1200, seed=3, noise=0.01)))
    assert world["refitter"].refit("intents", "new_traces").outcome == "promoted"
    _add(world, list(traffic(3000, seed=4, noise=1.0, prefix="noisy")))
    out = world["refitter"].refit("intents", "new_traces")
    registry: Registry = world["registry"]
    assert out.outcome == "not_certified" and out.k == 2
    assert out.delta_k == pytest.approx(spend_delta(0.05, 2))
    assert registry.current("intents") == "v1" and registry.versions("intents") == ["v1"]
    event = registry.history("intents")[0]
    assert event["action"] == "refit_rejected" and event["reason"] == out.reason
    assert event["gate_test"] == 2


def test_second_version_records_coverage_deltas_against_its_parent(world: dict[str, Any]
                                                                   ) -> None:
    _add(world, list(traffic(1200, seed=5, noise=0.01)))
    world["refitter"].refit("intents", "new_traces")
    _add(world, list(traffic(1200, seed=6, noise=0.01, prefix="more")))
    out = world["refitter"].refit("intents", "manual")
    registry: Registry = world["registry"]
    assert out.outcome in ("promoted", "kept_current") and out.version == "v2"
    manifest = registry.manifest("intents", "v2")
    assert manifest["parent_version"] == "v1"
    comparison = manifest["trainer"]["comparison"]
    assert comparison["current"]["n"] == comparison["candidate"]["n"] == out.n_calibration
    for d in manifest["coverage_deltas"].values():
        assert d["delta"] == pytest.approx(d["coverage"] - d["parent_coverage"])
    if out.outcome == "kept_current":
        assert registry.current("intents") == "v1"
        assert registry.history("intents")[0]["action"] == "candidate_kept_back"


def test_served_deferred_traces_train_but_never_calibrate(world: dict[str, Any]) -> None:
    _add(world, list(traffic(1200, seed=7, model_version="v9", audit_rate=0.1)))
    table = TraceTable.load(world["store"].root, "intents")
    out = world["refitter"].refit("intents", "manual")
    assert 0 < out.n_calibration <= int(table.audit.sum())


def test_stored_embeddings_are_reused_and_missing_ones_recomputed(world: dict[str, Any]
                                                                 ) -> None:
    with_emb = list(traffic(40, seed=8))
    without = list(traffic(40, seed=9, prefix="plain", embed=False))
    _add(world, with_emb + without)
    table = TraceTable.load(world["store"].root, "intents")
    calls: list[int] = []
    refitter = world["refitter"]
    real = load_embedder(EMBEDDER)

    class Counting:
        identity = real.identity

        def embed(self, texts: list[str]) -> np.ndarray:
            calls.append(len(texts))
            return real.embed(texts)

    refitter._embedders[EMBEDDER] = Counting()
    task = world["registry"].get_task("intents")
    X, ref = refitter._embeddings(task, table, np.arange(len(table)))
    assert calls == [40] and ref.id == real.identity.id
    assert np.allclose(X, real.embed(table.texts), atol=1e-6)
    rows = np.array([3, 39, 40, 77])  # two stored, two computed: only the kept rows
    X, _ = refitter._embeddings(task, table, rows)
    assert calls == [40, 2]
    assert np.allclose(X, real.embed([table.texts[i] for i in rows]), atol=1e-6)


def test_unknown_task_and_concurrent_refits_are_refused(world: dict[str, Any]) -> None:
    assert world["refitter"].refit("nope", "manual").outcome == "no_task"
    assert world["state"].lock("intents")
    assert world["refitter"].refit("intents", "manual").outcome == "busy"


def test_a_redefined_task_restarts_calibration_and_binds_the_new_definition(
        world: dict[str, Any]) -> None:
    """Traces labelled under the old labels or prompt never calibrate a model of the new
    definition, and every published model is bound to the definition it was fitted for."""
    from tracer_stream.signing import VerifyKeys
    from tracer_stream.tasks.binding import definition_sha256, mismatch

    registry: Registry = world["registry"]
    _add(world, list(traffic(1200, seed=8, noise=0.01)))
    assert world["refitter"].refit("intents", "new_traces").outcome == "promoted"
    old = registry.get_task("intents")
    assert old is not None
    binding = registry.manifest("intents", "v1")["binding"]
    assert mismatch(binding, old) is None and binding["traces"]["n"] == 1200
    assert binding["traces"]["first_seq"] == 1 and binding["traces"]["last_seq"] == 1200
    renamed = old.model_copy(update={"labels": tuple(
        label.model_copy(update={"name": "payments"}) if label.name == "billing" else label
        for label in old.labels)})
    registry.put_task(renamed)
    assert mismatch(binding, renamed) == ("task_changed",
                                          "the model was certified for another label set")
    out = world["refitter"].refit("intents", "manual")
    assert out.outcome == "too_few_traces" and out.n_calibration == 0
    epoch = world["state"].epoch("intents")
    assert epoch["trigger"] == "task_changed" and epoch["start"] == 1201
    _add(world, list(traffic(1500, seed=9, noise=0.01, start=1200, prefix="new",
                             remap={"billing": "payments"})))
    out = world["refitter"].refit("intents", "manual")
    assert out.outcome == "promoted", out.reason
    new = registry.manifest("intents", out.version)
    assert new["binding"]["definition_sha256"] == definition_sha256(renamed)
    assert new["binding"]["traces"]["calibration_from_seq"] == 1201
    assert "billing" not in new["labels"]  # traces of the removed label did not train
    blob = registry.blob("intents", out.version)
    from tracer_stream.learn import Artefact

    keys: VerifyKeys = world["refitter"].settings.verify_keys()
    assert mismatch(Artefact.from_bytes(blob, keys).manifest["binding"], renamed) is None
