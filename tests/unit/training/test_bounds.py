"""The refit's bounds: a per-label cap on training rows, a uniform reservoir of calibration rows."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from tracer_stream.config import TrainerSettings
from tracer_stream.signing import SigningKey
from tracer_stream.training.bounds import bound_rows

from .synth import LABELS, traffic
from .test_refit import make_world

pytestmark = pytest.mark.unit


def _skewed(n: int, seed: int) -> tuple[list[str], list[str], np.ndarray]:
    """Labels 80% "a" (then b, c, d), ids, and a calibration flag on about a third of rows."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(["a", "b", "c", "d"], size=n, p=[0.8, 0.1, 0.07, 0.03]).tolist()
    ids = [f"req-{seed}-{i}" for i in range(n)]
    return labels, ids, rng.random(n) < 0.33


def test_the_cap_bounds_each_labels_training_rows_and_never_touches_calibration() -> None:
    labels, ids, cal = _skewed(3000, seed=1)
    rows = np.arange(3000)
    kept = bound_rows(rows, cal, labels, ids, label_cap=100)
    train = Counter(labels[i] for i in kept if not cal[i])
    before = Counter(labels[i] for i in rows if not cal[i])
    assert train == {k: min(100, v) for k, v in before.items()}
    assert before["d"] < 100 < before["c"]  # a rare label keeps every row
    assert np.array_equal(kept[cal[kept]], rows[cal])  # every calibration row kept
    assert np.all(np.diff(kept) > 0)


def test_the_reservoir_is_uniform_over_calibration_whatever_the_labels() -> None:
    labels, ids, cal = _skewed(3000, seed=2)
    rows = np.arange(3000)
    kept = bound_rows(rows, cal, labels, ids, reservoir=300)
    kept_cal = kept[cal[kept]]
    assert len(kept_cal) == 300
    assert np.array_equal(kept[~cal[kept]], rows[~cal])  # training rows untouched
    # never label-capped: the dominant label stays dominant, near its share of calibration
    share_before = np.mean([labels[i] == "a" for i in rows[cal]])
    share_after = np.mean([labels[i] == "a" for i in kept_cal])
    assert abs(share_after - share_before) < 0.1  # ~4 standard errors at n = 300
    # the choice looks at ids only: other labels on the same ids, the same rows
    shuffled = list(np.random.default_rng(3).permutation(labels))
    assert np.array_equal(bound_rows(rows, cal, shuffled, ids, reservoir=300), kept)


def test_bounds_are_deterministic_for_a_salt_and_change_with_it() -> None:
    labels, ids, cal = _skewed(2000, seed=4)
    rows = np.flatnonzero(np.arange(2000) % 3 != 0)  # a subset of the table, as in a refit
    one = bound_rows(rows, cal[rows], labels, ids, label_cap=40, reservoir=200)
    two = bound_rows(rows, cal[rows], labels, ids, label_cap=40, reservoir=200)
    other = bound_rows(rows, cal[rows], labels, ids, label_cap=40, reservoir=200, salt="x")
    assert np.array_equal(one, two) and not np.array_equal(one, other)
    assert set(one) <= set(rows) and len(other) == len(one)


def test_no_bound_keeps_every_row_and_a_negative_one_is_refused() -> None:
    labels, ids, cal = _skewed(100, seed=5)
    rows = np.arange(100)
    assert np.array_equal(bound_rows(rows, cal, labels, ids), rows)
    with pytest.raises(ValueError):
        bound_rows(rows, cal, labels, ids, label_cap=-1)
    for name in ("refit_label_cap", "refit_calibration_reservoir"):
        with pytest.raises(ValidationError):
            TrainerSettings(**{name: -1})


def test_a_bounded_refit_fits_the_capped_rows_and_calibrates_on_the_reservoir(
        tmp_path: Path) -> None:
    world = make_world(tmp_path)
    world["refitter"].settings = TrainerSettings(
        zoo="fast", state_dir=tmp_path, model_signing_key=SigningKey.generate().seed_b64,
        refit_label_cap=60, refit_calibration_reservoir=150)
    world["store"].append(list(traffic(1500, seed=6, noise=0.01)))
    out = world["refitter"].refit("intents", "manual")
    assert out.n_traces == 1500 and out.n_calibration == 150 and out.k == 1
    assert out.outcome == "promoted", out.reason
    manifest = world["registry"].manifest("intents", out.version)
    bounds = manifest["trainer"]["bounds"]
    assert bounds["kept_rows"] == 150 + 60 * len(LABELS) < bounds["usable_rows"]
    assert manifest["n_cal"] == 150


def test_a_reservoir_below_the_gates_minimum_skips_the_refit_and_says_why(
        tmp_path: Path) -> None:
    world = make_world(tmp_path)
    world["refitter"].settings = TrainerSettings(
        zoo="fast", state_dir=tmp_path, model_signing_key=SigningKey.generate().seed_b64,
        refit_calibration_reservoir=20)
    world["store"].append(list(traffic(600, seed=7, noise=0.01)))
    out = world["refitter"].refit("intents", "manual")
    assert out.outcome == "too_few_traces" and out.n_calibration == 20
    assert "calibration reservoir (20) is smaller" in out.reason
    assert world["state"].gate_tests("intents") == 0  # nothing spent
