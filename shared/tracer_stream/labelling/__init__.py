"""The LLM worker's rules, testable without Kafka.

- :mod:`~tracer_stream.labelling.intake`: a consumed record becomes a :class:`Job` for the
  LLM, a dead letter, or nothing (already answered);
- :mod:`~tracer_stream.labelling.recovery`: ``request_id`` and ``task`` of unreadable records;
- :mod:`~tracer_stream.labelling.labeller`: a job through the LLM under the call-slot bounds,
  into a label and a trace or a dead letter (:mod:`~tracer_stream.labelling.outputs`);
- :mod:`~tracer_stream.labelling.slots`: global and per-task bounds on calls in flight;
- :mod:`~tracer_stream.labelling.inflight`: unfinished records, commit points, backpressure;
- :mod:`~tracer_stream.labelling.outcomes`: answered requests, so a redelivery is skipped;
- :mod:`~tracer_stream.labelling.tasks`: the task cache.

The service shell ``tracer_stream_worker`` wires these to Kafka, Redis and the teacher.
"""

from tracer_stream.labelling.inflight import Backpressure, InFlight, Partition
from tracer_stream.labelling.intake import ALREADY_ANSWERED, Intake, Job, Prepared
from tracer_stream.labelling.labeller import Labelled, Labeller, ask_teacher
from tracer_stream.labelling.outcomes import OutcomeLog
from tracer_stream.labelling.outputs import Origin, answered, dead_letter, llm_failure
from tracer_stream.labelling.recovery import Identity, identify
from tracer_stream.labelling.slots import CallSlots
from tracer_stream.labelling.tasks import RegistryUnavailable, TaskCache, TaskSource

__all__ = [
    "ALREADY_ANSWERED",
    "Backpressure",
    "CallSlots",
    "Identity",
    "InFlight",
    "Intake",
    "Job",
    "Labelled",
    "Labeller",
    "Origin",
    "OutcomeLog",
    "Partition",
    "Prepared",
    "RegistryUnavailable",
    "TaskCache",
    "TaskSource",
    "answered",
    "ask_teacher",
    "dead_letter",
    "identify",
    "llm_failure",
]
