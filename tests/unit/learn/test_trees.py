"""Tree ensembles kept as arrays: the same probabilities as the fitted scikit-learn estimator,
a lossless numeric round trip, and malformed node tables refused."""

from __future__ import annotations

import numpy as np
import pytest

from tracer_stream.errors import LearnError
from tracer_stream.learn.zoo.trees import ExtraTrees, HistGradientBoosting, RandomForest

pytestmark = pytest.mark.unit

KINDS = (RandomForest, ExtraTrees, HistGradientBoosting)


def data(n_labels: int, n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_labels, n)
    X = (rng.normal(size=(n, 12)) + y[:, None] * 0.4).astype(np.float32)
    return X, y


@pytest.mark.parametrize("n_labels", [2, 5])
@pytest.mark.parametrize("cls", KINDS)
def test_probabilities_equal_scikit_learn(cls, n_labels: int) -> None:
    X, y = data(n_labels)
    ours = cls(seed=3, **cls.unit_test_params).fit(X, y)
    reference = ours._make().fit(X, y)  # same estimator, same seed, same data
    X_new = data(n_labels, n=120, seed=1)[0]
    np.testing.assert_allclose(ours.predict_proba(X_new), reference.predict_proba(X_new),
                               atol=1e-6)


@pytest.mark.parametrize("cls", KINDS)
def test_state_is_numeric_and_round_trips(cls) -> None:
    X, y = data(4)
    model = cls(seed=1, **cls.unit_test_params).fit(X, y)
    meta, arrays = model.get_state()
    assert all(a.dtype.kind in "iuf" for a in arrays.values())
    clone = cls.from_state(meta, arrays)
    np.testing.assert_array_equal(clone.predict_proba(X), model.predict_proba(X))


def test_a_child_pointing_backwards_is_refused() -> None:
    """A cycle would make prediction loop forever: such tables never load."""
    X, y = data(3)
    meta, arrays = RandomForest(seed=0, n_estimators=2).fit(X, y).get_state()
    left = arrays["tree_left"].copy()
    inner = np.flatnonzero(left >= 0)
    left[inner[-1]] = 0
    with pytest.raises(LearnError, match="inconsistent"):
        RandomForest.from_state(meta, {**arrays, "tree_left": left})


def test_leaf_index_outside_the_values_is_refused() -> None:
    X, y = data(3)
    meta, arrays = ExtraTrees(seed=0, n_estimators=2).fit(X, y).get_state()
    with pytest.raises(LearnError, match="inconsistent"):
        ExtraTrees.from_state(meta, {**arrays, "leaf_values": arrays["leaf_values"][:1]})
