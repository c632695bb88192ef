"""The surrogate zoo: every member implements :class:`~.base.Surrogate`.

``"fast"`` is the linear models, ``"default"`` adds a second regularisation strength and a small
MLP, ``"full"`` adds a wider MLP, the tree ensembles and the river online learner.
"""

from __future__ import annotations

from typing import Any

from ...errors import LearnError
from .base import Surrogate, full_proba
from .linear import LogisticRegression, SGDLogistic
from .mlp import MLP
from .online import RiverNaiveBayes
from .trees import ExtraTrees, HistGradientBoosting, RandomForest

__all__ = ["KINDS", "Surrogate", "build_zoo", "full_proba", "load_member", "member_specs"]

KINDS: dict[str, type[Surrogate]] = {
    cls.kind: cls
    for cls in (LogisticRegression, SGDLogistic, MLP, RiverNaiveBayes, RandomForest, ExtraTrees,
                HistGradientBoosting)
}

_FAST: list[tuple[str, dict[str, Any]]] = [("logreg", {"C": 10.0}), ("sgd", {})]
_DEFAULT = [*_FAST, ("logreg", {"C": 1.0}), ("mlp", {})]
_FULL = [*_DEFAULT, ("mlp", {"hidden": 512, "epochs": 10}), ("random_forest", {}),
         ("extra_trees", {}), ("hist_gradient_boosting", {}), ("river_nb", {})]
_ZOOS = {"fast": _FAST, "default": _DEFAULT, "full": _FULL}


def member_specs(zoo: str) -> list[tuple[str, dict[str, Any]]]:
    """(kind, parameters) of every member of a named zoo."""
    if zoo not in _ZOOS:
        raise LearnError("unknown zoo", zoo=zoo, known=sorted(_ZOOS))
    return list(_ZOOS[zoo])


def build_zoo(zoo: str, seed: int) -> list[Surrogate]:
    """Fresh, unfitted members of a named zoo."""
    return [KINDS[kind](seed=seed, **params) for kind, params in member_specs(zoo)]


def load_member(meta: dict[str, Any], arrays: dict[str, Any]) -> Surrogate:
    """Rebuild a member from :meth:`Surrogate.get_state` output."""
    kind = meta.get("kind")
    if kind not in KINDS:
        raise LearnError("unknown surrogate kind in artefact", kind=kind)
    return KINDS[kind].from_state(meta, arrays)
