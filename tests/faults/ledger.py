"""The ledger of a fault scenario: every request sent against every outcome seen.

An outcome is a label (``RoutedLabel`` on the labels topic) or a dead letter. Delivery is
at-least-once on the wire, so the same outcome may arrive twice (a service crashed after
producing and before committing); the client dedupes those by request id, and the ledger
counts them as ``redelivered``. What must never happen:

* **lost** — a request with no outcome at all;
* **double** — a request with two *different* outcomes: a label and a dead letter, or two
  different labels.

A dead letter of an unreadable record carries no request id; it is matched to the request by
the Kafka key when the service kept it, else by the payload it carries.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass

from tracer_stream.bus import BatchConsumer
from tracer_stream.config import KafkaSettings, TopicSettings
from tracer_stream.contracts import DeadLetter, RoutedLabel, decode


@dataclass(frozen=True)
class Outcome:
    kind: str
    """``label`` or ``dead_letter``."""
    value: str
    """The label, or the dead letter's reason."""


class Ledger:
    """Reads the labels and dead-letter topics from the beginning (see the module docstring)."""

    def __init__(self, kafka: KafkaSettings, topics: TopicSettings,
                 sent: dict[str, bytes]) -> None:
        self.sent = sent
        self._by_payload = {payload: rid for rid, payload in sent.items()}
        self._labels, self._dead = topics.name("labels"), topics.name("dead_letter")
        self.outcomes: dict[str, list[Outcome]] = defaultdict(list)
        self.unmatched: list[DeadLetter] = []
        self._consumer = BatchConsumer(kafka, f"ledger-{uuid.uuid4().hex[:8]}",
                                       [self._labels, self._dead])

    def poll(self, seconds: float = 1.0) -> bool:
        """Read what arrived; always True (so it can sit inside a ``wait_until`` predicate)."""
        for record in self._consumer.poll_batch(5000, seconds):
            value = record.value() or b""
            if record.topic() == self._labels:
                label = decode(RoutedLabel, value)
                self.outcomes[label.request_id].append(Outcome("label", label.label))
                continue
            letter = decode(DeadLetter, value)
            key = record.key()
            request_id = letter.request_id or (key.decode() if key else None)
            if request_id is None and letter.payload is not None:
                request_id = self._by_payload.get(letter.payload.encode())
            if request_id is None:
                self.unmatched.append(letter)
            else:
                self.outcomes[request_id].append(Outcome("dead_letter", letter.reason))
        return True

    def missing(self) -> list[str]:
        return [rid for rid in self.sent if not self.outcomes.get(rid)]

    def double(self) -> list[str]:
        return [rid for rid in self.sent if len(set(self.outcomes.get(rid, []))) > 1]

    def summary(self) -> str:
        """``requests N, labelled L, dead-lettered D (by reason), lost 0, double 0``."""
        final = {rid: self.outcomes[rid][0] for rid in self.sent if self.outcomes.get(rid)}
        labelled = sum(o.kind == "label" for o in final.values())
        reasons = Counter(o.value for o in final.values() if o.kind == "dead_letter")
        by_reason = ", ".join(f"{r} {n}" for r, n in sorted(reasons.items()))
        redelivered = sum(len(self.outcomes[rid]) - 1 for rid in final)
        return (f"requests {len(self.sent)}, labelled {labelled}, dead-lettered "
                f"{sum(reasons.values())} ({by_reason or 'none'}), lost {len(self.missing())}, "
                f"double {len(self.double())}, redelivered {redelivered}")

    def close(self) -> None:
        self._consumer.close()
