"""The learning core: surrogate zoo, acceptor, policy families, the parity gate, artefacts.

Pure library (no Kafka, no Redis, no embedders). See ``docs/learning-core.md``.

>>> from tracer_stream.learn import FitConfig, fit, EmbedderRef          # doctest: +SKIP
>>> art = fit(X, labels, embedder=ref, config=FitConfig(target_alpha=0.95))  # doctest: +SKIP
>>> art.route(X_new).accepted                                             # doctest: +SKIP
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .artefact import Artefact, RouteResult
    from .config import EmbedderRef, FitConfig
    from .fit import fit
    from .gate import GateResult, certify, n_min, spend_delta, threshold_grid
    from .monitor import LiveMonitor
    from .partition import calibration_partition

_HOMES = {
    "Artefact": "artefact", "RouteResult": "artefact", "EmbedderRef": "config",
    "FitConfig": "config", "fit": "fit", "GateResult": "gate", "certify": "gate",
    "n_min": "gate", "spend_delta": "gate", "threshold_grid": "gate", "LiveMonitor": "monitor",
    "calibration_partition": "partition",
}


def __getattr__(name: str) -> Any:
    """Import a name's module on first use, so that importing one corner of the learning core
    (say :mod:`.config`) does not import all of it (scipy, the fit machinery)."""
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)


__all__ = [
    "Artefact",
    "EmbedderRef",
    "FitConfig",
    "GateResult",
    "LiveMonitor",
    "RouteResult",
    "calibration_partition",
    "certify",
    "fit",
    "n_min",
    "spend_delta",
    "threshold_grid",
]
