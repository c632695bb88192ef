"""The router's novelty-rate watch: its bound, its power, its false-alarm rate, and how a batch
feeds it."""

from __future__ import annotations

import random

import numpy as np
import pytest

from tracer_stream.routing import NoveltyWatch, TaskState

from .conftest import TASK, FakeSurrogate, Outcome, Rig, request

NOVELTY = {"novelty": {"enabled": True, "quantile": 0.995}}


def _simulate(watch: NoveltyWatch, rng: random.Random, rate: float, requests: int,
              batch: int = 50) -> int | None:
    """Feed ``requests`` Bernoulli(rate) draws in batches; the scored count at the alarm."""
    for _ in range(0, requests, batch):
        alarm = watch.observe("t", "v1", 0.03, [rng.random() < rate for _ in range(batch)])
        if alarm is not None:
            return alarm.scored
    return None


def test_bound_follows_the_novelty_quantile_with_a_floor() -> None:
    watch = NoveltyWatch(delta=0.01, rate_floor=0.03)
    assert watch.bound(NOVELTY) == 0.03  # 3 × 0.005 < floor
    assert watch.bound({"novelty": {"enabled": True, "quantile": 0.98}}) == pytest.approx(0.06)
    assert watch.bound({"novelty": {"enabled": False, "quantile": 0.995}}) is None
    assert watch.bound({}) is None  # no novelty test: nothing to watch
    assert NoveltyWatch(delta=0.0).bound(NOVELTY) is None  # disabled


def test_alarms_quickly_when_a_tenth_of_the_traffic_is_novel() -> None:
    rng = random.Random(7)
    at = [_simulate(NoveltyWatch(delta=0.01, rate_floor=0.03), rng, 0.10, 2000)
          for _ in range(20)]
    assert all(n is not None and n <= 1000 for n in at), at


def test_false_alarm_rate_at_the_bound_stays_within_delta() -> None:
    # δ = 0.1 so that the check can fail: a test whose false-alarm rate were 0.15 would give
    # ~30 alarms in 200 runs (P(≤ 20) ≈ 3%); this one measured ~4.5% (~9 expected)
    rng = random.Random(11)
    alarms = sum(_simulate(NoveltyWatch(delta=0.1, rate_floor=0.03), rng, 0.03, 150)
                 is not None for _ in range(200))
    assert alarms <= 0.1 * 200, alarms


def test_one_alarm_per_version_and_a_fresh_test_for_the_next() -> None:
    watch = NoveltyWatch(delta=0.01, rate_floor=0.03)
    first = watch.observe("t", "v1", 0.03, [True] * 20)
    assert first is not None and first.version == "v1" and first.novel == first.scored
    assert watch.observe("t", "v1", 0.03, [True] * 20) is None  # once per version
    assert watch.rates()["t"] == 1.0  # the gauge keeps counting
    assert watch.observe("t", "v2", 0.03, [False] * 20) is None  # a new version starts afresh
    summary = watch.summary("t")
    assert summary is not None
    assert (summary["version"], summary["scored"], summary["novel"], summary["alarm"]) == (
        "v2", 20, 0, False)


class NovelSurrogate(FakeSurrogate):
    """Answers "card" texts, defers "weird" ones as novel_input and the rest as below_threshold."""

    def route(self, X: np.ndarray, alpha: float | None = None) -> Outcome:
        out = super().route(X, alpha)
        texts = [self.texts.get(row.tobytes(), "") for row in X]
        out.reasons = [None if a else "novel_input" if "weird" in t else "below_threshold"
                       for a, t in zip(out.accepted, texts, strict=True)]
        return out


def _novel_rig(rig: Rig, *, gate_open: bool = True, version: str = "v1") -> NovelSurrogate:
    surrogate = NovelSurrogate(manifest=NOVELTY, texts=rig.surrogate.texts)
    rig.embedder._surrogate = surrogate
    rig.serve(TaskState(task=TASK, version=version, model=surrogate, gate_open=gate_open))
    rig.router.novelty_watch = NoveltyWatch(delta=0.01, rate_floor=0.03)
    return surrogate


def _batch(start: int, n: int = 40) -> list:  # type: ignore[type-arg]
    # one in five novel: 20% against the bound of 3%
    return [request(f"r{i}", "weird thing" if i % 5 == 0 else
                    ("card lost" if i % 2 else "hello")) for i in range(start, start + n)]


def test_batches_feed_the_watch_and_raise_one_alarm(rig: Rig) -> None:
    _novel_rig(rig)
    alarms = []
    for b in range(10):
        alarms.extend(rig.router.route(_batch(b * 40)).alarms)
    assert len(alarms) == 1
    alarm = alarms[0]
    assert alarm.task == TASK.name and alarm.version == "v1" and alarm.bound == 0.03
    assert 0 < alarm.scored <= 400 and alarm.novel > 0.03 * alarm.scored
    watch = rig.router.novelty_watch
    assert watch is not None and watch.rates()[TASK.name] == 0.2  # every scored request counts


def test_a_closed_gate_feeds_nothing(rig: Rig) -> None:
    _novel_rig(rig, gate_open=False)
    for b in range(5):
        assert rig.router.route(_batch(b * 40)).alarms == []
    watch = rig.router.novelty_watch
    assert watch is not None and watch.rates() == {}  # gate_closed requests do not count


def test_no_watch_without_a_novelty_test(rig: Rig) -> None:
    surrogate = _novel_rig(rig)
    surrogate.manifest = {}
    for b in range(5):
        assert rig.router.route(_batch(b * 40)).alarms == []

