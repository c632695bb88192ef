"""``tracer-stream demo``: the built-in synthetic workload, the orchestration of a local
deployment (embedded stack + router + LLM worker + trainer as real processes), the live view
and the HTML report. See ``docs/demo.md``."""

from tracer_stream.demo.workload import (
    DEMO_TASK_NAME,
    Request,
    demo_task,
    generate_workload,
    load_dataset,
    task_for,
    write_replay_file,
)

__all__ = [
    "DEMO_TASK_NAME",
    "Request",
    "demo_task",
    "generate_workload",
    "load_dataset",
    "task_for",
    "write_replay_file",
]
