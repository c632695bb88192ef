"""One micro-batch through the router: decode → dedupe → resolve tasks → audit draw → embed
(cached) → surrogate + acceptor per task → outputs. No I/O to Kafka here: the service
produces :attr:`BatchResult.outputs`, waits for the acknowledgements, then marks
:attr:`BatchResult.answered` as seen and commits.

Every record yields outputs or a dead letter, except duplicates of an answered request.
"""

from __future__ import annotations

import logging
import math
import random
import re
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import orjson

from tracer_stream.bus.reply_topics import ReplyTopics
from tracer_stream.contracts import ClassificationRequest, LLMRequest, Outbound, decode, encode
from tracer_stream.contracts.reasons import DeadLetterReason, DeferReason
from tracer_stream.errors import ContractError
from tracer_stream.routing.cache import EmbeddingCache
from tracer_stream.routing.dedupe import Deduper, Position, RequestKey
from tracer_stream.routing.embedders import EmbedderPool
from tracer_stream.routing.embedding import embed_with_cache
from tracer_stream.routing.guard import RedisGuard
from tracer_stream.routing.novelty_watch import NoveltyAlarm, NoveltyWatch
from tracer_stream.routing.outputs import Decision, Pending, RouterTopics, emit
from tracer_stream.routing.records import Record, letter_for
from tracer_stream.routing.resolver import Missing, TaskResolver
from tracer_stream.routing.state import ModelHolder, TaskState

log = logging.getLogger(__name__)


@dataclass
class BatchResult:
    outputs: list[Outbound] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    answered: list[RequestKey] = field(default_factory=list)
    """Requests to mark as seen once ``outputs`` are acknowledged."""
    dead_lettered: list[tuple[RequestKey, Position]] = field(default_factory=list)
    """Requests the router dead-lettered, with their record's position (see
    :mod:`~tracer_stream.routing.dedupe`)."""
    cache_hits: int = 0
    cache_misses: int = 0
    alarms: list[NoveltyAlarm] = field(default_factory=list)
    """Novelty-rate alarms raised by this batch (for the service to write to the registry)."""


@dataclass(frozen=True)
class _Slot:
    """What one record produced."""

    outputs: list[Outbound]
    decision: Decision
    answered: RequestKey | None
    dead_lettered: tuple[RequestKey, Position] | None = None


_Item = tuple[int, Record, Pending]
"""A decoded request with its record's index in the batch."""


@dataclass
class Limits:
    max_message_bytes: int = 256 * 1024
    max_text_chars: int = 8192
    registry_max_staleness_s: float = 60.0
    """After this long without Redis, last-known gate states are no longer trusted."""


class BatchRouter:
    """Routes micro-batches of raw request records (see the module docstring)."""

    def __init__(self, *, topics: RouterTopics, holder: ModelHolder, resolver: TaskResolver,
                 embedders: EmbedderPool, cache: EmbeddingCache | None, deduper: Deduper | None,
                 guard: RedisGuard, limits: Limits | None = None,
                 rng: random.Random | None = None,
                 reply_topics: ReplyTopics | None = None,
                 novelty_watch: NoveltyWatch | None = None) -> None:
        self.topics = topics
        self.holder = holder
        self.resolver = resolver
        self.embedders = embedders
        self.cache = cache
        self.deduper = deduper
        self.guard = guard
        self.limits = limits or Limits()
        self.rng = rng or random.Random()
        self.reply_topics = reply_topics
        self.novelty_watch = novelty_watch

    def route(self, records: Sequence[Record]) -> BatchResult:
        """Decide every record of one batch (see the module docstring)."""
        slots: list[_Slot | None] = [None] * len(records)
        snapshot = self.holder.snapshot()  # one model set for the whole batch
        items = self._decode(records, time.time(), slots)
        items = self._dedupe(items, slots)
        items = self._resolve(items, snapshot, slots)
        for _i, _record, p in items:
            if p.state is not None:
                p.audit = self.rng.random() < p.state.audit_rate  # before the gate decides
        pending = [p for _i, _record, p in items]
        hits, misses = self._embed(pending)
        alarms = self._score(pending)
        for i, record, p in items:
            outputs, decision = emit(p, self.topics)
            slots[i] = self._within_size(record, p, outputs, decision)
        result = BatchResult(cache_hits=hits, cache_misses=misses, alarms=alarms)
        for slot in slots:
            assert slot is not None, "every record is decided"
            result.outputs.extend(slot.outputs)
            result.decisions.append(slot.decision)
            if slot.answered is not None:
                result.answered.append(slot.answered)
            if slot.dead_lettered is not None:
                result.dead_lettered.append(slot.dead_lettered)
        return result

    def _within_size(self, record: Record, p: Pending, outputs: list[Outbound],
                     decision: Decision) -> _Slot:
        """The slot of ``outputs``, each kept under the message size limit the next service
        enforces: an LLM request over it goes without its embedding (the trainer re-embeds);
        if it is still too large, the request is dead-lettered here, with its id and task,
        unless the surrogate already answered it (then only the audit copy is dropped)."""
        key = (p.request.task, p.request.request_id)
        kept: list[Outbound] = []
        for out in outputs:
            if not isinstance(out.message, LLMRequest) or self._fits(out.message):
                kept.append(out)
                continue
            slim = replace(out.message, embedding=None, embedder_id=None)
            if self._fits(slim):
                kept.append(Outbound(out.topic, slim, out.key))
            elif out.message.answer_requester:
                return self._reject(record, DeadLetterReason.TOO_LARGE,
                                    f"the LLM request would be over the "
                                    f"{self.limits.max_message_bytes}-byte message limit",
                                    request=p.request)
            else:
                log.warning("audit copy of %s dropped: over the message size limit", key)
        return _Slot(kept, decision, key)

    def _fits(self, message: LLMRequest) -> bool:
        return len(encode(message)) <= self.limits.max_message_bytes

    def _reject(self, record: Record, reason: str, detail: str, *, field: str | None = None,
                request: ClassificationRequest | None = None,
                ids: tuple[str | None, str | None] = (None, None)) -> _Slot:
        request_id, task = (request.request_id, request.task) if request is not None else ids
        letter = letter_for(record, reason, detail, field=field, request_id=request_id,
                             task=task)
        partition, offset = record.partition(), record.offset()
        final = None
        if request is not None and partition is not None and offset is not None:
            final = ((request.task, request.request_id), (partition, offset))
        return _Slot([Outbound(self.topics.dead_letter, letter, request_id)],
                     Decision(task, "dead_letter", reason), None, final)

    def _decode(self, records: Sequence[Record], received_at: float,
                slots: list[_Slot | None]) -> list[_Item]:
        items = []
        for i, record in enumerate(records):
            value = record.value()
            if value is None:
                slots[i] = self._reject(record, DeadLetterReason.MALFORMED_JSON,
                                        "a tombstone (null value) is not a request",
                                        ids=_ids_of_invalid(None, record.key()))
                continue
            try:
                request = decode(ClassificationRequest, value,
                                 max_bytes=self.limits.max_message_bytes)
            except ContractError as exc:
                detail = "an empty message is not a request" if not value else exc.message
                slots[i] = self._reject(record, exc.reason, detail, field=exc.field,
                                        ids=_ids_of_invalid(value, record.key()))
                continue
            if len(request.text) > self.limits.max_text_chars:
                slots[i] = self._reject(
                    record, DeadLetterReason.TEXT_TOO_LONG,
                    f"text has {len(request.text)} characters, "
                    f"the limit is {self.limits.max_text_chars}", field="text", request=request)
                continue
            if self.reply_topics is not None and (
                    refused := self.reply_topics.refusal(request.reply_topic)):
                slots[i] = self._reject(record, *refused, field="reply_topic", request=request)
                continue
            items.append((i, record, Pending(request, received_at)))
        return items

    def _dedupe(self, items: list[_Item], slots: list[_Slot | None]) -> list[_Item]:
        keys = [(p.request.task, p.request.request_id) for _i, _r, p in items]
        positions = [(r.partition() or 0, r.offset() or 0) for _i, r, _p in items]
        seen = (self.deduper.seen(keys, positions) if self.deduper is not None
                else [False] * len(keys))
        first: set[RequestKey] = set()
        kept = []
        for item, key, answered in zip(items, keys, seen, strict=True):
            if answered or key in first:
                slots[item[0]] = _Slot([], Decision(key[0], "duplicate"), None)
                continue
            first.add(key)
            kept.append(item)
        return kept

    def _resolve(self, items: list[_Item], snapshot: Mapping[str, TaskState],
                 slots: list[_Slot | None]) -> list[_Item]:
        states = self.resolver.resolve({p.request.task for _i, _r, p in items}, snapshot)
        stale = self.guard.seconds_since_ok() > self.limits.registry_max_staleness_s
        kept = []
        for i, record, p in items:
            state, name = states[p.request.task], p.request.task
            if state is Missing.UNKNOWN:
                slots[i] = self._reject(record, DeadLetterReason.UNKNOWN_TASK,
                                        f"no task named {name!r} is registered "
                                        "(tracer-stream task apply FILE)",
                                        field="task", request=p.request)
                continue
            if state is Missing.UNREACHABLE_UNSEEN:
                slots[i] = self._reject(record, DeadLetterReason.REDIS_UNAVAILABLE,
                                        f"task {name!r} was never seen and the registry is "
                                        "unreachable", field="task", request=p.request)
                continue
            if isinstance(state, TaskState):
                p.state = state
                if state.model is None:
                    p.defer_with(state.unavailable or DeferReason.NO_MODEL)
            else:
                p.defer_with(DeferReason.REDIS_UNAVAILABLE)
            if stale:
                p.defer_with(DeferReason.REGISTRY_STALE)
            kept.append((i, record, p))
        return kept

    def _embed(self, pending: list[Pending]) -> tuple[int, int]:
        """Embed every pending text with its task's embedder; returns cache hits, misses."""
        hits = misses = 0
        groups: dict[str, list[Pending]] = defaultdict(list)
        for p in pending:
            if p.state is not None:  # nothing known about the task: no embedder to use
                groups[p.state.task.embedder].append(p)
        for spec, members in groups.items():
            embedder = self.embedders.get(spec)
            if embedder is None:
                for p in members:
                    p.defer_with(DeferReason.EMBEDDER_ERROR)
                continue
            batch = embed_with_cache(embedder, self.cache, [p.request.text for p in members])
            hits, misses = hits + batch.hits, misses + batch.misses
            if batch.rows is None:
                for p in members:
                    p.defer_with(DeferReason.EMBEDDER_ERROR)
                continue
            embed_ms = batch.seconds * 1000.0
            for p, row in zip(members, batch.rows, strict=True):
                p.row = row
                p.embedder_id = embedder.identity.id
                p.timings["embed_ms"] = embed_ms
        return hits, misses

    def _score(self, pending: list[Pending]) -> list[NoveltyAlarm]:
        alarms = []
        groups: dict[str, list[Pending]] = defaultdict(list)
        for p in pending:
            if p.state is not None and p.state.model is not None and p.row is not None:
                groups[p.state.name].append(p)
        for members in groups.values():
            state = members[0].state
            assert state is not None and state.model is not None
            start = time.perf_counter()
            try:
                X = np.stack([p.row for p in members if p.row is not None])
                out = state.model.route(X, alpha=state.task.alpha)
                labels, scores = list(out.labels), np.asarray(out.scores, dtype=float)
                accepted, item_reasons = np.asarray(out.accepted, bool), list(out.reasons)
                if not len(labels) == len(scores) == len(accepted) == len(item_reasons) == len(
                        members):
                    raise ValueError(f"route returned {len(labels)} results for {len(members)}")
            except Exception as exc:  # any surrogate failure defers, never drops
                log.error("surrogate of task %s version %s failed: %s", state.name,
                          state.version, exc)
                for p in members:
                    p.defer_with(DeferReason.SURROGATE_ERROR)
                continue
            route_ms = (time.perf_counter() - start) * 1000.0
            for i, p in enumerate(members):
                score = float(scores[i])
                p.label, p.score = str(labels[i]), score if math.isfinite(score) else None
                p.accepted, p.item_reason = bool(accepted[i]), item_reasons[i]
                p.timings["route_ms"] = route_ms
                if not state.gate_open:
                    p.defer_with(DeferReason.GATE_CLOSED)
            if (alarm := self._watch_novelty(state, members)) is not None:
                alarms.append(alarm)
        return alarms

    def _watch_novelty(self, state: TaskState, members: list[Pending]) -> NoveltyAlarm | None:
        """Feed the novelty watch with the requests this version decided itself: scored with
        a certified policy, gate open, no other reason to defer (:mod:`~tracer_stream.routing.
        novelty_watch`)."""
        watch = self.novelty_watch
        if watch is None or not watch.enabled or not state.gate_open or state.version is None:
            return None
        assert state.model is not None
        bound = watch.bound(state.model.manifest)
        if bound is None:
            return None
        novel = [p.item_reason == DeferReason.NOVEL_INPUT for p in members
                 if p.defer is None and p.item_reason != DeferReason.GATE_CLOSED]
        if not novel:
            return None
        return watch.observe(state.name, state.version, bound, novel)


_FULL_PARSE_BYTES = 1024 * 1024
"""Up to this size an unreadable request is parsed whole to find its ids; beyond, only its
beginning is searched."""
_PREFIX_BYTES = 64 * 1024
_ID_FIELD = re.compile(rb'"(request_id|task)"\s*:\s*"((?:[^"\\]|\\.){1,256})"')


def _ids_of_invalid(raw: bytes | None, key: bytes | str | None
                    ) -> tuple[str | None, str | None]:
    """``request_id`` and ``task`` of a record that failed validation, so that its dead letter
    can still be matched to the request: from the JSON object when it parses, from the readable
    beginning of a larger one, else the request id from the Kafka key (clients key requests by
    request id).

    >>> _ids_of_invalid(b'{"request_id": "r1", "task": 7}', b"k")
    ('r1', None)
    >>> _ids_of_invalid(b'{"task": "t", "request_id": "r2", "text": "' + b"x" * 2_000_000, None)
    ('r2', 't')
    >>> _ids_of_invalid(None, b"r3"), _ids_of_invalid(b"", "r4")
    (('r3', None), ('r4', None))
    """
    rid = task = None
    if raw and len(raw) <= _FULL_PARSE_BYTES:
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError:
            document = None
        if isinstance(document, dict):
            rid, task = (_plausible(document.get(k)) for k in ("request_id", "task"))
    elif raw:
        found: dict[bytes, str | None] = {}
        for match in _ID_FIELD.finditer(raw[:_PREFIX_BYTES]):
            try:
                value = orjson.loads(b'"' + match.group(2) + b'"')
            except orjson.JSONDecodeError:
                continue
            found.setdefault(match.group(1), _plausible(value))
        rid, task = found.get(b"request_id"), found.get(b"task")
    if rid is None and key:
        rid = _plausible(key.decode("utf-8", errors="replace") if isinstance(key, bytes)
                         else key)
    return rid, task


def _plausible(value: object) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= 256 else None
