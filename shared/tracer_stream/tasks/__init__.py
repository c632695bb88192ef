"""Task definitions: what one classification task is, and how it is loaded from a file."""

from tracer_stream.tasks.model import LabelSpec, Task, load_task_file

__all__ = ["LabelSpec", "Task", "load_task_file"]
