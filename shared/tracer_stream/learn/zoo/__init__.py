"""The surrogate zoo: every member implements :class:`~.base.Surrogate`.

``"fast"`` is the linear models, ``"default"`` adds a second regularisation strength and a small
MLP, ``"full"`` adds a wider MLP, the tree ensembles and the river online learner.

A member's module is imported only when a member of that kind is built or loaded, so a router
serving a linear model never imports river or the tree ensembles:

>>> surrogate_class("logreg").__name__
'LogisticRegression'
"""

from __future__ import annotations

import importlib
from typing import Any

from ...errors import LearnError
from .base import Surrogate, full_proba

__all__ = ["KINDS", "Surrogate", "build_zoo", "full_proba", "load_member", "member_specs",
           "surrogate_class"]

_MODULES: dict[str, tuple[str, str]] = {
    "logreg": ("linear", "LogisticRegression"),
    "sgd": ("linear", "SGDLogistic"),
    "mlp": ("mlp", "MLP"),
    "river_nb": ("online", "RiverNaiveBayes"),
    "random_forest": ("trees", "RandomForest"),
    "extra_trees": ("trees", "ExtraTrees"),
    "hist_gradient_boosting": ("trees", "HistGradientBoosting"),
}
KINDS: tuple[str, ...] = tuple(_MODULES)
"""Every surrogate kind the zoo knows."""


def surrogate_class(kind: str) -> type[Surrogate]:
    """The class of a surrogate kind (its module is imported now)."""
    if kind not in _MODULES:
        raise LearnError("unknown surrogate kind", kind=kind, known=list(KINDS))
    module, name = _MODULES[kind]
    cls: type[Surrogate] = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    return cls

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
    return [surrogate_class(kind)(seed=seed, **params) for kind, params in member_specs(zoo)]


def load_member(meta: dict[str, Any], arrays: dict[str, Any]) -> Surrogate:
    """Rebuild a member from :meth:`Surrogate.get_state` output."""
    kind = meta.get("kind")
    if not isinstance(kind, str) or kind not in _MODULES:
        raise LearnError("unknown surrogate kind in artefact", kind=kind)
    return surrogate_class(kind).from_state(meta, arrays)
