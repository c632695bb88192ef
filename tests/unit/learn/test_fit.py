"""fit → Artefact: the public API other services code against."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tracer_stream.errors import EmbedderError, LearnError
from tracer_stream.learn import (
    Artefact,
    EmbedderRef,
    FitConfig,
    RouteResult,
    SigningKey,
    VerifyKeys,
    calibration_partition,
    fit,
)
from tracer_stream.learn.forecast import FORECAST_REASONS

from .conftest import DIM, REF, make_traces

pytestmark = pytest.mark.unit

MANIFEST_KEYS = {
    "alpha", "delta", "threshold", "grid_rule", "n_cal", "n_accepted", "disagreements",
    "certified", "coverage", "agreement", "family", "surrogate", "embedder", "data_window",
    "parent_version", "reason", "traces_needed", "version", "created_at", "n_traces", "frontier",
}


def test_manifest_records_what_gate_md_lists(artefact: Artefact):
    m = artefact.manifest
    assert set(m) >= MANIFEST_KEYS
    json.dumps(m)  # JSON-able
    assert m["alpha"] == 0.95 and m["delta"] == 0.05 and m["parent_version"] == "v0"
    assert m["embedder"]["id"] == REF.id and m["embedder"]["dim"] == DIM
    assert m["data_window"]["count"] == 4000 and m["data_window"]["first_id"] == "req-0"
    assert [f["alpha"] for f in m["frontier"]] == [0.9, 0.95, 0.98]
    assert m["selection"]["split"] == "validation"


def test_certified_on_learnable_traces(artefact: Artefact):
    assert artefact.certified and artefact.alpha == 0.95 and artefact.delta == 0.05
    assert artefact.threshold is not None
    pol = artefact.policy()
    cal = pol.calibration
    assert cal["n_cal"] == artefact.manifest["n_cal"]
    assert cal["agreement"] >= 0.95 and 0 < cal["coverage"] <= 1
    assert len(artefact.labels) == 10


def test_calibration_partition_follows_trace_ids(artefact: Artefact):
    ids = [f"req-{i}" for i in range(4000)]
    assert artefact.manifest["n_cal"] == int(calibration_partition(ids).sum())


def test_route_shapes_and_reasons(artefact: Artefact, heldout):
    X, _ = heldout
    res = artefact.route(X[:64])
    assert isinstance(res, RouteResult)
    assert len(res.labels) == len(res.reasons) == len(res.accepted) == len(res.scores) == 64
    assert all(lab in artefact.labels for lab in res.labels)
    for acc, reason in zip(res.accepted, res.reasons, strict=True):
        assert (reason is None) == bool(acc)
        assert reason in (None, "below_threshold", "novel_input")


def test_frontier_is_monotone_and_held_out_agreement_holds(artefact: Artefact, heldout):
    X, y = heldout
    coverages = []
    for alpha in (0.90, 0.95, 0.98):
        ev = artefact.evaluate(X, y, alpha=alpha)
        assert ev["n"] == len(y)
        assert ev["agreement"] >= alpha - 0.02  # i.i.d. held-out sample of 1,500
        coverages.append(ev["coverage"])
    assert coverages[0] >= coverages[1] >= coverages[2]
    with pytest.raises(LearnError):
        artefact.route(X[:2], alpha=0.5)


def test_novel_inputs_are_deferred(artefact: Artefact, heldout):
    X, _ = heldout
    far = X[:8] + 100.0 * np.random.default_rng(0).normal(size=(8, DIM)).astype(np.float32)
    res = artefact.route(far)
    assert not res.accepted.any()
    assert set(res.reasons) == {"novel_input"}
    assert np.isnan(res.scores).all()


def test_embedder_identity_is_enforced(artefact: Artefact, heldout):
    artefact.check_embedder(REF)
    other = EmbedderRef(name="other", dim=DIM, normalized=False, fingerprint="ffff")
    with pytest.raises(EmbedderError):
        artefact.check_embedder(other)
    with pytest.raises(EmbedderError):
        artefact.route(np.zeros((2, DIM + 1), dtype=np.float32))


def test_gate_closed_with_reason_and_traces_needed():
    X, y = make_traces(300, spread=2.5, seed=3)  # ~75% agreement, few traces
    art = fit(X, y, embedder=REF, config=FitConfig(zoo="fast", alphas=(0.98,),
                                                    target_alpha=0.98, families=("global",)))
    assert not art.certified and art.threshold is None
    m = art.manifest
    assert m["reason"] in ("insufficient_evidence", "too_few_accepted", *FORECAST_REASONS)
    res = art.route(X[:5])
    assert set(res.reasons) == {"gate_closed"} and not res.accepted.any()


def test_too_few_calibration_traces_say_how_many_more_or_why_not():
    X, y = make_traces(200, spread=1.2, seed=4)
    art = fit(X, y, embedder=REF, config=FitConfig(zoo="fast", calibration_fraction=0.1))
    m = art.manifest
    if art.certified:
        assert m["traces_needed"] == 0
    elif m["traces_needed"] is None:
        assert m["reason"] in FORECAST_REASONS
    else:
        assert m["traces_needed"] > 0 and m["reason"] in ("too_few_accepted",
                                                          "insufficient_evidence")


def test_given_partition_and_unseen_calibration_label_counts_as_disagreement(traces):
    X, y = traces
    y = list(y)
    is_cal = np.zeros(len(y), dtype=bool)
    is_cal[:1200] = True
    for i in range(30):
        y[i] = "only_in_calibration"
    art = fit(X, y, embedder=REF, config=FitConfig(zoo="fast"), is_calibration=is_cal)
    assert art.manifest["n_cal"] == 1200 and "only_in_calibration" in art.labels
    assert "only_in_calibration" not in art.route(X[:200]).labels
    for alpha, pol in art.frontier.items():
        # the surrogate never predicts the unseen label: each accepted one is a disagreement
        accepted_unseen = int(art.route(X[:30], alpha).accepted.sum())
        assert pol.calibration["disagreements"] >= accepted_unseen


def test_fit_is_deterministic_under_a_seed(traces):
    X, y = traces
    a = fit(X, y, embedder=REF, config=FitConfig(zoo="fast", seed=5))
    b = fit(X, y, embedder=REF, config=FitConfig(zoo="fast", seed=5))
    ra, rb = a.route(X[:300]), b.route(X[:300])
    assert ra.labels == rb.labels and np.array_equal(ra.accepted, rb.accepted)
    assert a.manifest["threshold"] == b.manifest["threshold"]


def test_per_label_mode_certifies_each_label_separately():
    X, y = make_traces(4000, spread=1.5, seed=8)
    art = fit(X, y, embedder=REF, config=FitConfig(zoo="fast", per_label=True, alphas=(0.9,),
                                                    target_alpha=0.9))
    pol = art.policy()
    assert pol.certified and pol.family in ("l2d", "global")
    thresholds = pol.stages[0].label_thresholds
    assert thresholds is not None and len(thresholds) == len(art.labels)
    res = art.route(make_traces(500, spread=1.5, seed=9)[0])
    assert set(res.reasons) <= {None, "below_threshold", "novel_input", "label_not_certified"}
    assert res.accepted.any()


def test_bad_inputs_raise():
    X, y = make_traces(100)
    with pytest.raises(EmbedderError):
        fit(X[:, :5], y, embedder=REF)
    with pytest.raises(LearnError):
        fit(X, y[:50], embedder=REF)
    bad = X.copy()
    bad[0, 0] = math.nan
    with pytest.raises(LearnError):
        fit(bad, y, embedder=REF)
    with pytest.raises(LearnError):
        FitConfig(zoo="huge")


def test_progress_is_reported(traces):
    X, y = traces
    seen: list[tuple[str, float]] = []
    fit(X[:1500], y[:1500], embedder=REF, config=FitConfig(zoo="fast"),
        progress=lambda stage, frac: seen.append((stage, frac)))
    assert seen[-1] == ("done", 1.0)
    assert all(0.0 <= f <= 1.0 for _, f in seen)


def test_rsb_family_has_two_stages_and_round_trips(traces, heldout):
    X, y = traces
    art = fit(X, y, embedder=REF, config=FitConfig(zoo="fast", families=("rsb",)))
    pol = art.policy()
    assert pol.family == "rsb" and len(pol.stages) == 2
    assert pol.stages[0].member != pol.stages[1].member
    assert {s.member for s in pol.stages} <= set(art.members)
    assert pol.stages[0].gate.delta == pol.stages[1].gate.delta == 0.025
    res = art.route(heldout[0])
    key = SigningKey.generate()
    clone = Artefact.from_bytes(art.to_bytes(key), VerifyKeys.parse(key.public_b64))
    assert clone.route(heldout[0]).labels == res.labels


def test_tiny_task_with_singleton_labels_closes_the_gate():
    X, _ = make_traces(12)
    y = [f"only_{i}" for i in range(12)]
    art = fit(X, y, embedder=REF, config=FitConfig(zoo="fast"))
    # every calibration label is unseen in training, so every calibration trace disagrees
    assert not art.certified and art.manifest["reason"] == "agreement_below_target"
    assert set(art.route(X).reasons) == {"gate_closed"}


def test_single_split_mode_still_certifies(traces, heldout):
    X, y = traces
    art = fit(X, y, embedder=REF, config=FitConfig(zoo="fast", acceptor_folds=1, refit=False))
    assert art.certified and art.manifest["acceptor_folds"] == 1
    assert not art.manifest["refit_on_validation"]
    # out-of-fold mode: every non-calibration trace is a validation row, the refit is implied
    default = fit(X, y, embedder=REF, config=FitConfig(zoo="fast"))
    m = default.manifest
    assert m["n_validation"] == m["n_train"] == m["n_traces"] - m["n_cal"]
    assert m["refit_on_validation"] and m["acceptor_folds"] == 5
    Xh, yh = heldout
    assert default.evaluate(Xh, yh)["agreement"] >= 0.95


def test_stratified_folds_spread_every_label():
    from tracer_stream.learn.splits import stratified_folds

    y = np.repeat(np.arange(4), [50, 7, 3, 1])
    fold = stratified_folds(y, 5, np.random.default_rng(0))
    assert set(fold.tolist()) == set(range(5))
    for lab in range(4):
        counts = np.bincount(fold[y == lab], minlength=5)
        assert counts.max() - counts.min() <= 1
