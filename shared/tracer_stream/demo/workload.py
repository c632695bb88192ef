"""The demo's traffic: the project's own synthetic intent workload, or a user's labelled file.

:func:`generate_workload` draws ``n`` customer-support requests from 40 intents in five
domains (banking, cards, orders, travel, account) plus out-of-scope chatter:

- intent frequencies follow a Zipf-like law (rank ``r`` has weight ``1 / r**zipf_exponent``),
  so a few intents are common and the tail is rare, as in real traffic;
- each request is a template of its intent with its slots filled, wrapped and perturbed by
  :func:`tracer_stream.demo.noise.vary` (greetings, fillers, typos, casing);
- ``ambiguous_share`` of the requests are phrasings that genuinely fit two intents; the teacher
  picks one of the two by a hash of the exact text (deterministic, but not learnable);
- ``oos_share`` of the requests are out of scope (label ``out_of_scope``).

The same seed gives the same requests on every machine. The label of a request is what the
(replay) teacher answers for its text, so identical texts always carry identical labels.

>>> requests = generate_workload(5, seed=1)
>>> [(r.label, r.kind) for r in requests][:2]
[('update_details', 'ambiguous'), ('reset_password', 'intent')]
"""

from __future__ import annotations

import random
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from itertools import accumulate
from pathlib import Path
from typing import Literal

import orjson

from tracer_stream.demo.catalog import AMBIGUOUS, INTENTS, OUT_OF_SCOPE, OUT_OF_SCOPE_LABEL, SLOTS
from tracer_stream.demo.noise import vary
from tracer_stream.errors import ConfigError
from tracer_stream.offline.traces import file_error, read_traces
from tracer_stream.tasks import LabelSpec, Task

__all__ = [
    "DEMO_TASK_NAME",
    "Request",
    "demo_task",
    "generate_workload",
    "load_dataset",
    "task_for",
    "write_replay_file",
]

DEMO_TASK_NAME = "demo-intents"

Kind = Literal["intent", "ambiguous", "out_of_scope", "dataset"]
_SLOT = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True, slots=True)
class Request:
    """One request of the stream: its text, the teacher's label, and how it was made.

    ``gold`` is the ground truth when the data has one besides the teacher's label (the noisy
    teachers of the benchmarks); ``None`` means the teacher is taken as the ground truth.
    """

    text: str
    label: str
    kind: Kind = "intent"
    gold: str | None = None


def generate_workload(n: int, seed: int = 0, *, zipf_exponent: float = 1.0,
                      ambiguous_share: float = 0.12, oos_share: float = 0.07) -> list[Request]:
    """``n`` synthetic requests (see the module docstring); deterministic in ``seed``."""
    if n < 0 or not 0 <= ambiguous_share <= 1 or not 0 <= oos_share <= 1 - ambiguous_share:
        raise ValueError("need n >= 0 and shares within [0, 1] that sum to at most 1")
    rng = random.Random(seed)
    weights = list(accumulate(1.0 / (rank + 1) ** zipf_exponent for rank in range(len(INTENTS))))
    requests = []
    for _ in range(n):
        draw = rng.random()
        if draw < oos_share:
            text = vary(_fill(rng.choice(OUT_OF_SCOPE), rng), rng)
            requests.append(Request(text, OUT_OF_SCOPE_LABEL, "out_of_scope"))
        elif draw < oos_share + ambiguous_share:
            first, second, templates = rng.choice(AMBIGUOUS)
            text = vary(_fill(rng.choice(templates), rng), rng)
            label = (first, second)[zlib.crc32(text.encode()) % 2]
            requests.append(Request(text, label, "ambiguous"))
        else:
            intent = rng.choices(INTENTS, cum_weights=weights)[0]
            text = vary(_fill(rng.choice(intent.templates), rng), rng)
            requests.append(Request(text, intent.name, "intent"))
    return _consistent(requests)


def _fill(template: str, rng: random.Random) -> str:
    return _SLOT.sub(lambda m: rng.choice(SLOTS[m.group(1)]), template)


def _consistent(requests: Sequence[Request]) -> list[Request]:
    """Give every occurrence of a text the label of its last occurrence, as the replay teacher
    answers (a later line of its file wins)."""
    teacher = {r.text: r.label for r in requests}
    return [r if r.label == teacher[r.text] else replace(r, label=teacher[r.text])
            for r in requests]


def demo_task(name: str = DEMO_TASK_NAME, *, alpha: float = 0.95, delta: float = 0.05,
              audit_rate: float = 0.02, embedder: str = "minilm-onnx") -> Task:
    """The task definition of the synthetic workload: every intent with its description."""
    labels = [LabelSpec(name=i.name, description=i.description) for i in INTENTS]
    labels.append(LabelSpec(name=OUT_OF_SCOPE_LABEL,
                            description="anything not about banking, cards, orders, travel "
                                        "or the customer's account"))
    return Task(name=name, description="Customer support requests of a bank-and-shop app.",
                labels=tuple(labels), alpha=alpha, delta=delta, audit_rate=audit_rate,
                embedder=embedder)


def task_for(requests: Iterable[Request], name: str, *, alpha: float = 0.95,
             delta: float = 0.05, audit_rate: float = 0.02,
             embedder: str = "minilm-onnx") -> Task:
    """A task whose label space is every label of ``requests`` (for ``--dataset``)."""
    labels = sorted({r.label for r in requests})
    if len(labels) < 2:
        raise ConfigError("a dataset needs at least two distinct labels", labels=labels)
    return Task(name=name, description="Labelled traffic replayed by tracer-stream demo.",
                labels=tuple(LabelSpec(name=label) for label in labels), alpha=alpha,
                delta=delta, audit_rate=audit_rate, embedder=embedder)


def load_dataset(path: Path) -> list[Request]:
    """Requests of a labelled JSONL file (optionally gzip-compressed) in file order.

    Each line is ``{"text", "label"}`` or the reference implementation's
    ``{"input", "teacher"}``, optionally with ``"gold"`` (the ground truth when the teacher
    label is noisy); see :func:`~tracer_stream.offline.traces.read_traces`. Errors name the
    file and line.
    """
    traces = read_traces(path)
    for text, line in zip(traces.texts, traces.lines, strict=True):
        if not text.strip():
            raise file_error(traces.path, "the text is empty", line=line)
    return _consistent([Request(text, label, "dataset", gold) for text, label, gold
                        in zip(traces.texts, traces.labelled, traces.gold, strict=True)])


def write_replay_file(requests: Iterable[Request], path: Path) -> Path:
    """The replay teacher's answer file: one ``{"text", "label"}`` per distinct text."""
    teacher = {r.text: r.label for r in requests}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(orjson.dumps({"text": t, "label": lab}) + b"\n"
                              for t, lab in teacher.items()))
    return path
