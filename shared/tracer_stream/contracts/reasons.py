"""The reasons every service writes on what it does not answer itself: one vocabulary.

Three kinds of outcome carry a reason, and each kind has one enum here (plus the closed gate):

* :class:`DeferReason` — the router sends the request to the LLM instead of answering it (the
  ``reason`` of an :class:`~tracer_stream.contracts.LLMRequest` and of the trace the answer
  becomes). Some are decided for the whole task before the text is looked at
  (:data:`WHOLE_TASK`); the others are per item.
* :class:`DeadLetterReason` — nobody answers the request: the ``reason`` of a
  :class:`~tracer_stream.contracts.DeadLetter`. A dead letter is the request's one outcome.
* :class:`RefusalReason` — why a message could not be read at all (the codec's
  :class:`~tracer_stream.errors.ContractError` reasons); these also end up as dead letters.
* :class:`GateReason` — why a fit's gate certified nothing (no request carries it: it is on
  the model's certificate and on the trainer's rejected refits).

The members are ``str`` subclasses, so they compare equal to the strings on the wire and
serialise as those strings:

>>> DeferReason.GATE_CLOSED == "gate_closed"
True
>>> DeferReason.GATE_CLOSED in WHOLE_TASK, DeferReason.NOVEL_INPUT in WHOLE_TASK
(True, False)
>>> DeadLetterReason("too_large") is DeadLetterReason.TOO_LARGE
True

``docs/reasons.md`` lists every reason with what a client should do about it; a test checks
that table against these enums.
"""

from __future__ import annotations

from enum import StrEnum


class DeferReason(StrEnum):
    """Why the router sent a request to the LLM."""

    NO_MODEL = "no_model"
    """The task has no current model version."""
    GATE_CLOSED = "gate_closed"
    """The task's gate is closed (live monitor alarm or operator)."""
    REDIS_UNAVAILABLE = "redis_unavailable"
    """The registry is unreachable and nothing usable is known about the task's model."""
    REGISTRY_STALE = "registry_stale"
    """The registry has been unreachable for too long to trust the last-known gate state."""
    EMBEDDER_MISMATCH = "embedder_mismatch"
    """The model was fitted on another embedder than the one the task uses here."""
    EMBEDDER_ERROR = "embedder_error"
    """The embedder could not be loaded or failed on this batch."""
    MODEL_INVALID = "model_invalid"
    """The current model's blob failed authentication or could not be loaded."""
    UNCERTIFIED = "uncertified"
    """The current model has no certificate at the task's α (it should never have been current)."""
    ALPHA_NOT_ON_FRONTIER = "alpha_not_on_frontier"
    """The task's α is not among the targets the current model was certified for."""
    SURROGATE_ERROR = "surrogate_error"
    """The surrogate raised while routing this batch."""
    NOT_ACCEPTED = "not_accepted"
    """The acceptor score was below the threshold (when the learning core gives no reason)."""
    BELOW_THRESHOLD = "below_threshold"
    """The learning core's per-item reason: the acceptor score is below the certified
    threshold."""
    LABEL_NOT_CERTIFIED = "label_not_certified"
    """The learning core's per-item reason in per-label mode: the predicted label has no
    certificate of its own."""
    TASK_CHANGED = "task_changed"
    """The task's labels or prompt changed since the current model was certified: its gate
    stays closed until a model certified on the new definition is current."""
    MODEL_BINDING_MISMATCH = "model_binding_mismatch"
    """The current model is not bound to this task (another task's, no binding, or labels the
    task does not have)."""
    NOVEL_INPUT = "novel_input"
    """The learning core's per-item reason for an input far from every label seen in training
    (the router's novelty watch counts it)."""


WHOLE_TASK: frozenset[DeferReason] = frozenset({
    DeferReason.GATE_CLOSED, DeferReason.NO_MODEL, DeferReason.UNCERTIFIED,
    DeferReason.ALPHA_NOT_ON_FRONTIER, DeferReason.MODEL_INVALID, DeferReason.EMBEDDER_MISMATCH,
    DeferReason.REDIS_UNAVAILABLE, DeferReason.REGISTRY_STALE, DeferReason.TASK_CHANGED,
    DeferReason.MODEL_BINDING_MISMATCH})
"""Defer reasons decided for the whole task before the request's text is looked at: the LLM
answers such requests whatever they say, so their traces are an unbiased sample of traffic."""


class RefusalReason(StrEnum):
    """Why a message could not be read (the codec's reasons)."""

    MALFORMED_JSON = "malformed_json"
    """Not JSON, not UTF-8, empty, or not an object."""
    SCHEMA_VIOLATION = "schema_violation"
    """Valid JSON that breaks the message's JSON Schema (the ``field`` says where)."""
    TOO_LARGE = "too_large"
    """Larger than ``TRACER_STREAM_LIMITS_MAX_MESSAGE_BYTES``."""
    UNKNOWN_KIND = "unknown_kind"
    """No schema for that message kind (a programming error, never a client's)."""


class DeadLetterReason(StrEnum):
    """Why a request (or trace) got a dead letter instead of a label."""

    MALFORMED_JSON = RefusalReason.MALFORMED_JSON.value
    """The record is not a readable JSON object."""
    SCHEMA_VIOLATION = RefusalReason.SCHEMA_VIOLATION.value
    """The record breaks its JSON Schema."""
    TOO_LARGE = RefusalReason.TOO_LARGE.value
    """The record, or the message the service would have to produce for it, is too large."""
    TEXT_TOO_LONG = "text_too_long"
    """The request's text is longer than ``TRACER_STREAM_LIMITS_MAX_TEXT_CHARS``."""
    UNKNOWN_TASK = "unknown_task"
    """The request names a task that is not registered."""
    REDIS_UNAVAILABLE = "redis_unavailable"
    """The request names a task the router has never seen while the registry is unreachable:
    nobody can tell whether the task exists."""
    INVALID_TASK = "invalid_task"
    """The task is registered but cannot be used (its prompt does not render)."""
    REPLY_TOPIC_NOT_ALLOWED = "reply_topic_not_allowed"
    """The request's ``reply_topic`` does not start with an allowed reply prefix
    (``TRACER_STREAM_TOPICS_REPLY_PREFIXES``), or is one of the deployment's own topics."""
    UNKNOWN_REPLY_TOPIC = "unknown_reply_topic"
    """The request's (allowed) ``reply_topic`` does not exist."""
    REPLY_UNDELIVERABLE = "reply_undeliverable"
    """Producing the label to the allowed ``reply_topic`` failed (deleted meanwhile, an ACL
    denies writing); the dead letter's payload is the label."""
    UNPARSEABLE_ANSWER = "unparseable_answer"
    """The LLM answered, twice, with something that is not one of the task's labels."""
    LLM_FAILURE = "llm_failure"
    """The LLM gave no usable label (the detail starts with the teacher's reason in brackets,
    e.g. ``[rate_limited]``)."""


class GateReason(StrEnum):
    """Why a fit's gate certified nothing at an α (``reason`` of the certificate, the model
    manifest's frontier entries and a rejected refit's registry event). The first three come
    with a forecast of the traces still needed; the forecast's own reasons say why it gives
    no number (``learn/forecast.py``)."""

    NO_CALIBRATION_DATA = "no_calibration_data"
    """There were no calibration traces."""
    TOO_FEW_ACCEPTED = "too_few_accepted"
    """No threshold accepts the ``n_min`` calibration traces an exact test needs."""
    INSUFFICIENT_EVIDENCE = "insufficient_evidence"
    """The walk's test failed: the evidence is not yet strong enough at 1 − δ."""
    AGREEMENT_BELOW_TARGET = "agreement_below_target"
    """No threshold's disagreement is credibly below 1 − α: more traces will not help."""
    TOO_EARLY_TO_TELL = "too_early_to_tell"
    """Too few traces to tell whether more traces would open the gate."""
    BEYOND_HORIZON = "beyond_horizon"
    """The gate is expected to open only after more than 100 times the current traces."""
    EVIDENCE_TOO_THIN = "evidence_too_thin"
    """More traces are expected to open the gate, but how many is too uncertain to say."""
    NO_LABEL_CERTIFIED = "no_label_certified"
    """Per-label mode: no label could be certified on its own."""


__all__ = ["WHOLE_TASK", "DeadLetterReason", "DeferReason", "GateReason", "RefusalReason"]
