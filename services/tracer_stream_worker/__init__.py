"""The LLM worker service: thin wiring of the bus, the task registry and the teacher."""

from tracer_stream_worker.service import WorkerService, run

__all__ = ["WorkerService", "run"]
