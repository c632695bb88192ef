"""The learning core: surrogate zoo, acceptor, policy families, the parity gate, artefacts.

Pure library (no Kafka, no Redis, no embedders). See ``docs/learning-core.md``.

>>> from tracer_stream.learn import FitConfig, fit, EmbedderRef          # doctest: +SKIP
>>> art = fit(X, labels, embedder=ref, config=FitConfig(target_alpha=0.95))  # doctest: +SKIP
>>> art.route(X_new).accepted                                             # doctest: +SKIP
"""

from ..signing import SigningKey, VerifyKeys
from .artefact import Artefact, RouteResult
from .config import EmbedderRef, FitConfig
from .fit import fit
from .gate import GateResult, certify, n_min, spend_delta, threshold_grid
from .monitor import LiveMonitor
from .partition import calibration_partition

__all__ = [
    "Artefact",
    "EmbedderRef",
    "FitConfig",
    "GateResult",
    "LiveMonitor",
    "RouteResult",
    "SigningKey",
    "VerifyKeys",
    "calibration_partition",
    "certify",
    "fit",
    "n_min",
    "spend_delta",
    "threshold_grid",
]
