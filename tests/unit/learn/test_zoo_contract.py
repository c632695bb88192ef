"""One contract suite run against every member of the surrogate zoo."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tracer_stream.learn.zoo import full_proba, load_member, member_specs, surrogate_class

pytestmark = pytest.mark.unit

MEMBERS = member_specs("full")
IDS = [f"{kind}-{i}" for i, (kind, _) in enumerate(MEMBERS)]


def _blobs(labels: list[int], n_per: int = 40, d: int = 16, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(labels) + 1, d)) * 3.0
    X = np.concatenate([centres[c] + rng.normal(size=(n_per, d)) for c in labels])
    y = np.repeat(labels, n_per)
    return X.astype(np.float32), y


def _member(index: int, seed: int = 0):
    kind, params = MEMBERS[index]
    cls = surrogate_class(kind)
    return cls(seed=seed, **{**params, **cls.unit_test_params})


@pytest.fixture(scope="module")
def data():
    return _blobs([1, 3, 4, 6])


@pytest.mark.parametrize("index", range(len(MEMBERS)), ids=IDS)
def test_shapes_and_label_mapping(index, data):
    X, y = data
    model = _member(index).fit(X, y)
    assert model.classes_.tolist() == [1, 3, 4, 6]
    proba = model.predict_proba(X)
    assert proba.shape == (len(X), 4)
    assert np.all(np.isfinite(proba))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-4)
    full = full_proba(model, X, n_labels=8)
    assert full.shape == (len(X), 8)
    assert np.all(full[:, [0, 2, 5, 7]] == 0)
    # columns follow classes_: the arg-max column maps back to the training label
    assert (model.predict(X) == y).mean() > 0.9
    assert set(np.unique(model.predict(X))) <= {1, 3, 4, 6}


@pytest.mark.parametrize("index", range(len(MEMBERS)), ids=IDS)
def test_seed_determinism(index, data):
    X, y = data
    a = _member(index, seed=7).fit(X, y).predict_proba(X)
    b = _member(index, seed=7).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("index", range(len(MEMBERS)), ids=IDS)
def test_save_load_round_trip(index, data):
    X, y = data
    model = _member(index).fit(X, y)
    meta, arrays = model.get_state()
    meta = json.loads(json.dumps(meta))
    clone = load_member(meta, {k: np.array(v) for k, v in arrays.items()})
    assert clone.name == model.name
    np.testing.assert_array_equal(clone.classes_, model.classes_)
    np.testing.assert_allclose(clone.predict_proba(X), model.predict_proba(X), rtol=1e-6)


@pytest.mark.parametrize("index", range(len(MEMBERS)), ids=IDS)
def test_single_class_training(index):
    X, y = _blobs([2], n_per=10)
    model = _member(index).fit(X, y)
    assert model.predict(X[:3]).tolist() == [2, 2, 2]
