"""Fakes for routing unit tests: records, a surrogate, an embedder, a registry loader."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import pytest

from tracer_stream.embed import load_embedder
from tracer_stream.errors import EmbedderError
from tracer_stream.routing import (
    BatchRouter,
    EmbedderPool,
    Limits,
    ModelHolder,
    RedisGuard,
    RouterTopics,
    TaskResolver,
    TaskState,
)
from tracer_stream.tasks import Task

TOPICS = RouterTopics(labels="labels", llm_requests="llm", dead_letter="dlq")


@dataclass
class FakeRecord:
    payload: bytes | None
    offset_: int = 0
    partition_: int = 0
    topic_: str = "requests"
    key_: bytes | None = None

    def value(self) -> bytes | None:
        return self.payload

    def key(self) -> bytes | None:
        return self.key_

    def topic(self) -> str:
        return self.topic_

    def partition(self) -> int:
        return self.partition_

    def offset(self) -> int:
        return self.offset_


def request(request_id: str, text: str, task: str = "intents", **extra: Any) -> FakeRecord:
    doc = {"schema_version": 1, "request_id": request_id, "task": task, "text": text, **extra}
    return FakeRecord(orjson.dumps(doc))


@dataclass
class Outcome:
    labels: list[str]
    scores: np.ndarray
    accepted: np.ndarray
    reasons: list[str | None]


@dataclass
class FakeSurrogate:
    """Accepts texts whose embedding has a positive first coordinate... via ``accept`` list."""

    accept_words: tuple[str, ...] = ("card",)
    embedder_id: str = ""
    fail: bool = False
    certified: bool = True
    manifest: Mapping[str, Any] = field(default_factory=dict)
    labels: tuple[str, ...] = ("card", "other")
    seen_alpha: list[float | None] = field(default_factory=list)
    texts: dict[bytes, str] = field(default_factory=dict)

    def route(self, X: np.ndarray, alpha: float | None = None) -> Outcome:
        self.seen_alpha.append(alpha)
        if self.fail:
            raise RuntimeError("boom")
        texts = [self.texts.get(row.tobytes(), "") for row in X]
        accepted = np.array([any(w in t for w in self.accept_words) for t in texts])
        return Outcome(labels=["card" if a else "other" for a in accepted],
                       scores=np.where(accepted, 0.9, 0.2), accepted=accepted,
                       reasons=[None if a else "below_threshold" for a in accepted])

    def check_embedder(self, ref: Any) -> None:
        if self.embedder_id and ref.id != self.embedder_id:
            raise EmbedderError("mismatch")


class RecordingEmbedder:
    """The hash embedder, remembering which row came from which text (for FakeSurrogate)."""

    def __init__(self, surrogate: FakeSurrogate) -> None:
        self._inner = load_embedder("hash:32")
        self._surrogate = surrogate
        self.calls: list[list[str]] = []

    @property
    def identity(self) -> Any:
        return self._inner.identity

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        rows = self._inner.embed(texts)
        for text, row in zip(texts, rows, strict=True):
            self._surrogate.texts[row.tobytes()] = text
        return rows


class FakeLoader:
    """Stands in for StateLoader: a dict of task states; ``down`` raises like Redis would."""

    def __init__(self) -> None:
        self.states: dict[str, TaskState] = {}
        self.down = False

    def task_names(self) -> list[str]:
        self._check()
        return list(self.states)

    def load(self, name: str, previous: TaskState | None = None) -> TaskState | None:
        self._check()
        return self.states.get(name)

    def _check(self) -> None:
        import redis

        if self.down:
            raise redis.ConnectionError("down")


TASK = Task(name="intents", labels=["card", "other"], audit_rate=0.0,
            embedder="hash:32")


@dataclass
class Rig:
    router: BatchRouter
    holder: ModelHolder
    loader: FakeLoader
    surrogate: FakeSurrogate
    embedder: RecordingEmbedder
    guard: RedisGuard

    def serve(self, state: TaskState) -> None:
        self.loader.states[state.name] = state
        self.holder.put(state)


@pytest.fixture
def rig() -> Rig:
    surrogate = FakeSurrogate()
    embedder = RecordingEmbedder(surrogate)
    pool = EmbedderPool("hash:32", loader=lambda spec: embedder)
    holder, loader, guard = ModelHolder(), FakeLoader(), RedisGuard(pause_s=0.0)
    resolver = TaskResolver(holder, loader, guard)
    router = BatchRouter(topics=TOPICS, holder=holder, resolver=resolver, embedders=pool,
                         cache=None, deduper=None, guard=guard,
                         limits=Limits(max_message_bytes=4096, max_text_chars=100),
                         rng=random.Random(0))
    return Rig(router, holder, loader, surrogate, embedder, guard)


def serving(rig: Rig, *, task: Task = TASK, gate_open: bool = True) -> TaskState:
    state = TaskState(task=task, version="v1", model=rig.surrogate, gate_open=gate_open)
    rig.serve(state)
    return state
