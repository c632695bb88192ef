"""The hot path stays light: importing a service imports only what it needs.

Each check runs in a fresh interpreter, since this test session has imported everything.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

HEAVY = ("river", "sklearn.ensemble", "torch", "sentence_transformers", "transformers",
         "onnxruntime", "faust")


def _imported(module: str) -> set[str]:
    code = (f"import sys, json, {module}; "
            f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("module", ["tracer_stream_router.app", "tracer_stream_worker"])
def test_the_router_and_the_worker_import_no_heavy_learning_or_model_library(module):
    assert _imported(module) == set()


def test_loading_a_linear_surrogate_does_not_import_the_tree_ensembles_or_river():
    code = ("import sys, numpy as np; from tracer_stream.learn.zoo import surrogate_class; "
            "m = surrogate_class('logreg')(seed=0); "
            "X = np.random.default_rng(0).normal(size=(40, 4)).astype('float32'); "
            "m.fit(X, np.arange(40) % 2); "
            "print(sorted(k for k in ('river', 'sklearn.ensemble') if k in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "[]"
