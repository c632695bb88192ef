"""What a model's certificate is about: the binding the trainer writes into the signed manifest
and every service checks against the task as registered now.

A certificate says "on traffic like the calibration traces, this surrogate agrees with *this*
teacher at least α of the time". It says nothing about another task, another label set, or the
same task after its prompt or labels changed (the teacher now answers differently). So the
manifest carries ``binding``::

    {"task": "intents", "labels_sha256": "…", "definition_sha256": "…",
     "embedder": "minilm-onnx/384/…", "alpha": 0.95, "delta": 0.05, "delta_k": 0.0304,
     "traces": {"n": 1200, "first_seq": 1, "last_seq": 1200, "calibration_from_seq": 1}}

and :func:`mismatch` refuses a model whose binding does not fit the task.

>>> from tracer_stream.tasks import Task
>>> task = Task(name="t", labels=["a", "b"])
>>> b = binding_for(task, embedder="hash/8/x", delta_k=0.03, traces={"n": 10})
>>> mismatch(b, task) is None
True
>>> mismatch(b, Task(name="t", labels=["a", "c"]))
('task_changed', 'the model was certified for another label set')
>>> mismatch(b, Task(name="u", labels=["a", "b"]))[0]
'model_binding_mismatch'
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, Final

import orjson

from tracer_stream.contracts.reasons import DeferReason
from tracer_stream.tasks.model import Task

TASK_CHANGED: Final = DeferReason.TASK_CHANGED.value
"""The task's labels, prompt or δ changed since the model was certified (defer reason)."""
MODEL_BINDING_MISMATCH: Final = DeferReason.MODEL_BINDING_MISMATCH.value
"""The model was certified for another task, or carries no binding (defer reason)."""


def labels_sha256(labels: Sequence[str]) -> str:
    """SHA-256 of the ordered label names (the artefact's column order)."""
    return _sha256(list(labels))


def definition_sha256(task: Task) -> str:
    """SHA-256 of everything that shapes the teacher's answer: name, description, labels with
    descriptions and examples, prompt template. (α, δ, audit rate and embedder do not.)"""
    return _sha256({"name": task.name, "description": task.description,
                    "labels": [label.model_dump(mode="json") for label in task.labels],
                    "prompt_template": task.prompt_template})


def binding_for(task: Task, *, embedder: str, delta_k: float,
                traces: Mapping[str, Any]) -> dict[str, Any]:
    """The binding of a model fitted for ``task`` (``traces``: what identifies the traces
    used, e.g. their count and first/last store sequence numbers)."""
    return {"task": task.name, "labels_sha256": labels_sha256(task.label_names),
            "definition_sha256": definition_sha256(task), "embedder": embedder,
            "alpha": task.alpha, "delta": task.delta, "delta_k": delta_k,
            "traces": dict(traces)}


def mismatch(binding: Mapping[str, Any] | None, task: Task,
             labels: Sequence[str] | None = None) -> tuple[str, str] | None:
    """``None`` when a model with ``binding`` (answering ``labels``) may serve ``task``; else
    ``(reason, detail)``: :data:`MODEL_BINDING_MISMATCH` for a model of another task, without a
    binding, or answering a label the task does not have; :data:`TASK_CHANGED` when the task
    was redefined since the model was certified."""
    if not binding:
        return MODEL_BINDING_MISMATCH, "the model carries no task binding"
    if binding.get("task") != task.name:
        return MODEL_BINDING_MISMATCH, (f"the model was certified for task "
                                        f"{binding.get('task')!r}, not {task.name!r}")
    if binding.get("labels_sha256") != labels_sha256(task.label_names):
        return TASK_CHANGED, "the model was certified for another label set"
    if binding.get("definition_sha256") != definition_sha256(task):
        return TASK_CHANGED, "the prompt or label descriptions changed since the model was " \
                             "certified"
    foreign = sorted(set(labels or ()) - set(task.label_names))
    if foreign:
        return MODEL_BINDING_MISMATCH, f"the model answers labels the task does not have: " \
                                       f"{foreign[:5]}"
    if float(binding.get("delta", 1.0)) > task.delta:
        return TASK_CHANGED, (f"the task asks for delta {task.delta}, the model was certified "
                              f"for delta {binding.get('delta')}")
    return None


def _sha256(value: Any) -> str:
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()
