"""The machine-readable reasons the router attaches to what it does not answer itself.

Defer reasons go on :class:`~tracer_stream.contracts.LLMRequest` (``reason``): the request is
answered by the LLM. Dead-letter reasons go on :class:`~tracer_stream.contracts.DeadLetter`:
the request cannot be answered at all. Besides these, the learning core's per-item reasons
(for example ``"low_score"`` or ``"novel_input"``) pass through unchanged.
"""

from __future__ import annotations

from typing import Final

from tracer_stream.tasks import binding

# defer: the LLM answers ----------------------------------------------------------------------
NO_MODEL: Final = "no_model"
"""The task has no current model version."""
GATE_CLOSED: Final = "gate_closed"
"""The task's gate is closed (live monitor alarm or operator)."""
REDIS_UNAVAILABLE: Final = "redis_unavailable"
"""The registry is unreachable and nothing usable is known about the task's model."""
REGISTRY_STALE: Final = "registry_stale"
"""The registry has been unreachable for too long to trust the last-known gate state."""
EMBEDDER_MISMATCH: Final = "embedder_mismatch"
"""The model was fitted on another embedder than the one the task uses here."""
EMBEDDER_ERROR: Final = "embedder_error"
"""The embedder could not be loaded or failed on this batch."""
MODEL_INVALID: Final = "model_invalid"
"""The current model's blob failed authentication or could not be loaded."""
UNCERTIFIED: Final = "uncertified"
"""The current model has no certificate at the task's α (it should never have been current)."""
ALPHA_NOT_ON_FRONTIER: Final = "alpha_not_on_frontier"
"""The task's α is not among the targets the current model was certified for."""
TASK_CHANGED: Final = binding.TASK_CHANGED
"""The task's labels, prompt or δ changed since the current model was certified: its gate is
closed until a model certified for the new definition is current."""
MODEL_BINDING_MISMATCH: Final = binding.MODEL_BINDING_MISMATCH
"""The current model was certified for another task (or carries no binding, or answers labels
the task does not have)."""
SURROGATE_ERROR: Final = "surrogate_error"
"""The surrogate raised while routing this batch."""
NOT_ACCEPTED: Final = "not_accepted"
"""The acceptor score was below the threshold (when the learning core gives no reason)."""
NOVEL_INPUT: Final = "novel_input"
"""The learning core's per-item reason for an input far from every label seen in training
(passed through; the router's novelty watch counts it)."""

# dead letter: nobody answers -----------------------------------------------------------------
MALFORMED_JSON: Final = "malformed_json"
SCHEMA_VIOLATION: Final = "schema_violation"
TOO_LARGE: Final = "too_large"
TEXT_TOO_LONG: Final = "text_too_long"
UNKNOWN_TASK: Final = "unknown_task"
# plus the reply-topic refusals of :mod:`tracer_stream.bus.reply_topics`
# (``unknown_reply_topic``, ``forbidden_reply_topic``)
