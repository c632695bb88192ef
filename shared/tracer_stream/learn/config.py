"""What a fit is told: the embedder identity its inputs come from and the fitting options."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..errors import LearnError

ZOOS = ("fast", "default", "full")
FAMILIES = ("global", "l2d", "rsb")


@dataclass(frozen=True)
class EmbedderRef:
    """Identity of the embedder that produced a model's inputs.

    A model refuses embeddings whose identity differs (:meth:`Artefact.check_embedder`).
    """

    name: str
    dim: int
    normalized: bool
    fingerprint: str

    @property
    def id(self) -> str:
        """Short identity, ``name/dim/fingerprint[:12]`` (also the embedding-cache namespace)."""
        return f"{self.name}/{self.dim}/{self.fingerprint[:12]}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EmbedderRef:
        return cls(
            name=str(data["name"]),
            dim=int(data["dim"]),
            normalized=bool(data["normalized"]),
            fingerprint=str(data["fingerprint"]),
        )


@dataclass
class FitConfig:
    """Options of :func:`tracer_stream.learn.fit`.

    Parameters
    ----------
    alphas
        Agreement targets of the frontier; every one gets its own certificate.
    delta
        Risk level of every certificate. The trainer passes the δₖ of its δ-spending schedule
        here (see ``docs/learning-core.md``).
    target_alpha
        The α the policy routes with by default; added to the frontier if missing.
    calibration_fraction
        Share of traces held out for calibration when no partition is given.
    max_train
        Training traces at most (a class-mix-preserving subsample; calibration is never capped).
    zoo
        ``"fast"``, ``"default"`` or ``"full"`` (adds trees and the river online learner).
    families
        Policy families to consider: ``"global"``, ``"l2d"``, ``"rsb"``.
    seed
        Seed of every random choice of the fit.
    n_jobs
        Zoo members fitted in parallel threads (0: one per CPU core). Each thread runs
        single-threaded BLAS, which is much faster than threaded BLAS on small matrices.
    refit
        Refit the chosen surrogates on training + validation traces before calibrating
        (acceptors stay as fitted on validation; calibration checks the deployed pair).
    per_label
        Certify each predicted label separately at δ / L (stricter).
    novelty
        Defer inputs far from every class centroid (reason ``"novel_input"``).
    novelty_quantile
        Quantile of held-out nearest-centroid distances above which an input is novel.
    grid_size
        Points of the threshold grid (quantiles of validation acceptor scores).
    acceptor_folds
        K of the out-of-fold scheme: the non-calibration traces are split into K folds (by
        label); every member is fitted on K − 1 folds and predicts the held-out one, the
        acceptor and every validation-side choice use these out-of-fold rows (all of the
        non-calibration traces), and the chosen members are then fitted on all of them (the
        refit is implied). 1: a single 70/30 train/validation split, with ``refit`` deciding
        whether the chosen members are refitted on both. Costs K fits per zoo member.
    """

    alphas: tuple[float, ...] = (0.90, 0.95, 0.98)
    delta: float = 0.05
    target_alpha: float = 0.95
    calibration_fraction: float = 0.3
    max_train: int = 20000
    zoo: str = "default"
    families: tuple[str, ...] = ("global", "l2d", "rsb")
    seed: int = 0
    n_jobs: int = 0
    refit: bool = True
    per_label: bool = False
    novelty: bool = True
    novelty_quantile: float = 0.995
    grid_size: int = 200
    acceptor_folds: int = 5

    def __post_init__(self) -> None:
        self.alphas = tuple(float(a) for a in self.alphas)
        self.families = tuple(self.families)
        for a in (*self.alphas, self.target_alpha):
            if not 0.0 < a < 1.0:
                raise LearnError("alpha must be in (0, 1)", alpha=a)
        if not 0.0 < self.delta < 1.0:
            raise LearnError("delta must be in (0, 1)", delta=self.delta)
        if not 0.0 < self.calibration_fraction < 1.0:
            raise LearnError("calibration_fraction must be in (0, 1)",
                             calibration_fraction=self.calibration_fraction)
        if self.zoo not in ZOOS:
            raise LearnError("unknown zoo", zoo=self.zoo, known=ZOOS)
        unknown = [f for f in self.families if f not in FAMILIES]
        if unknown or not self.families:
            raise LearnError("unknown or empty families", families=self.families)
        if self.acceptor_folds < 1:
            raise LearnError("acceptor_folds must be at least 1", folds=self.acceptor_folds)
        if not 0.5 < self.novelty_quantile < 1.0:
            raise LearnError("novelty_quantile must be in (0.5, 1)", q=self.novelty_quantile)

    @property
    def frontier_alphas(self) -> tuple[float, ...]:
        """Sorted, de-duplicated α values including the target."""
        return tuple(sorted({*self.alphas, self.target_alpha}))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["alphas"] = list(self.alphas)
        out["families"] = list(self.families)
        return out
