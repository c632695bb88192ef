"""Routing library of the router service: per micro-batch, decode and dedupe the requests,
find each task's model, draw the audit flag, embed (with a Redis cache), run the surrogate and
its acceptor, and build the outputs — a surrogate label, an LLM request, or a dead letter.

The service (:mod:`tracer_stream_router`) only adds Kafka, signals and HTTP.
"""

from tracer_stream.routing.batch import BatchResult, BatchRouter, Limits
from tracer_stream.routing.cache import EmbeddingCache
from tracer_stream.routing.dedupe import Deduper
from tracer_stream.routing.embedders import EmbedderPool
from tracer_stream.routing.guard import RedisGuard
from tracer_stream.routing.loader import StateLoader, load_artefact
from tracer_stream.routing.metrics import RouterMetrics
from tracer_stream.routing.novelty_watch import NoveltyAlarm, NoveltyWatch
from tracer_stream.routing.outputs import Decision, RouterTopics
from tracer_stream.routing.refresher import ModelRefresher
from tracer_stream.routing.resolver import TaskResolver
from tracer_stream.routing.state import ModelHolder, Surrogate, TaskState

__all__ = [
    "BatchResult",
    "BatchRouter",
    "Decision",
    "Deduper",
    "EmbedderPool",
    "EmbeddingCache",
    "Limits",
    "ModelHolder",
    "ModelRefresher",
    "NoveltyAlarm",
    "NoveltyWatch",
    "RedisGuard",
    "RouterMetrics",
    "RouterTopics",
    "StateLoader",
    "Surrogate",
    "TaskResolver",
    "TaskState",
    "load_artefact",
]
