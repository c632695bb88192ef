"""Synthetic, separable classification traffic for the trainer's tests (fits take seconds with
the ``hash:256`` embedder)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator

import numpy as np

from tracer_stream.contracts import Trace
from tracer_stream.embed import load_embedder
from tracer_stream.learn import Artefact

LABELS = ("billing", "shipping", "refund", "login")
_VOCAB = {
    "billing": [
        "invoice", "charge", "payment", "card", "bill", "statement", "fee", "amount", "due",
        "paid",
    ],
    "shipping": [
        "parcel", "delivery", "courier", "package", "tracking", "shipped", "arrive", "box",
        "address", "late",
    ],
    "refund": [
        "refund", "money", "back", "return", "reimburse", "cancel", "credit", "chargeback",
        "repay", "returned",
    ],
    "login": [
        "password", "login", "account", "locked", "reset", "username", "signin", "email", "code",
        "access",
    ],
}
_FILLER = ["please", "help", "my", "the", "a", "with", "about", "today", "hello", "thanks"]
EMBEDDER = "hash:256"


def texts(label: str, n: int, rng: np.random.Generator) -> list[str]:
    """``n`` texts of ``label``: four class words and two filler words, shuffled."""
    out = []
    for _ in range(n):
        words = list(rng.choice(_VOCAB[label], 4)) + list(rng.choice(_FILLER, 2))
        rng.shuffle(words)
        out.append(" ".join(words))
    return out


def traffic(n: int, *, seed: int, start: int = 0, prefix: str = "req", task: str = "intents",
            audit_rate: float = 0.0, model_version: str | None = None,
            remap: dict[str, str] | None = None, noise: float = 0.0,
            embed: bool = True) -> Iterator[Trace]:
    """``n`` teacher-labelled traces with ids ``{prefix}-{start + i}``.

    ``remap`` changes the teacher's label of some classes (an injected shift); ``noise`` is the
    share of labels replaced by a random one; traces carry their ``hash:256`` embedding unless
    ``embed`` is false.
    """
    rng = np.random.default_rng(seed)
    embedder = load_embedder(EMBEDDER)
    true = rng.choice(LABELS, n)
    batch = [texts(str(label), 1, rng)[0] for label in true]
    X = embedder.embed(batch) if embed else None
    for i, label in enumerate(true):
        teacher = (remap or {}).get(str(label), str(label))
        if rng.random() < noise:
            teacher = str(rng.choice(LABELS))
        yield Trace(
            request_id=f"{prefix}-{start + i}", task=task, text=batch[i], label=teacher,
            audit=bool(rng.random() < audit_rate), gate_accepted=False,
            model_version=model_version,
            embedding=X[i].tolist() if X is not None else None,
            embedder_id=embedder.identity.id if X is not None else None)


def serve(art: Artefact, requests: list[Trace], *, version: str, audit_rate: float,
          seed: int, gate_open: bool = True) -> list[Trace]:
    """The traces a router serving ``art`` as ``version`` (and the LLM worker) would emit for
    ``requests`` (each carries the teacher's label): deferred and audited requests make traces,
    accepted unaudited ones are answered by the surrogate and make none. With the gate closed
    every request is deferred (``gate_closed``)."""
    rng = np.random.default_rng(seed)
    routed = art.route(np.array([t.embedding for t in requests], dtype=np.float32))
    out = []
    for i, t in enumerate(requests):
        audit = bool(rng.random() < audit_rate)
        accepted = bool(routed.accepted[i]) and gate_open
        if accepted and not audit:
            continue
        score = float(routed.scores[i])
        reason = None if accepted else (
            "gate_closed" if not gate_open else routed.reasons[i] or "below_threshold")
        out.append(dataclasses.replace(
            t, model_version=version, surrogate_label=routed.labels[i], audit=audit,
            gate_accepted=accepted, accept_score=None if math.isnan(score) else score,
            reason=reason))
    return out
